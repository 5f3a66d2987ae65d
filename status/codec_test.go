package status

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// propsOfSize returns one property whose encoding makes the body exactly n
// bytes long.
func propsOfSize(n int) map[string][]byte {
	return map[string][]byte{"k": bytes.Repeat([]byte{0xab}, n-bodyFixedSize-propFixedSize-1)}
}

func TestEncodeDecodeRoundTrip(t *testing.T) {
	many := map[string][]byte{}
	for i := range 50 {
		many[fmt.Sprintf("key-%03d", i)] = []byte(strings.Repeat("v", i))
	}
	tests := []struct {
		name string
		s    State
	}{
		{"zero", State{}},
		{"initial", initialState()},
		{"all fields", fullState()},
		{"max values", State{
			Term: ^uint64(0), Vote: ^uint64(0), Commit: ^uint64(0), PersistedIndex: ^uint64(0),
			FirstIndex: ^uint64(0), FirstPos: -1 << 63, FirstPrevTerm: ^uint64(0), Epoch: ^uint32(0),
		}},
		{"negative pos", State{FirstPos: -5}},
		{"nil props", State{Term: 1}},
		{"empty props", State{Term: 1, Props: map[string][]byte{}}},
		{"empty key and value", State{Props: map[string][]byte{"": {}}}},
		{"binary key", State{Props: map[string][]byte{"\x00\xff": {0, 1, 2}}}},
		{"several props", State{Props: many}},
		{"largest body", State{Props: propsOfSize(maxBodySize)}},
		{"longest key", State{Props: map[string][]byte{strings.Repeat("k", maxBodySize-bodyFixedSize-propFixedSize): nil}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := Encode([]byte("prefix"), tt.s)
			require.NoError(t, err)
			require.Equal(t, "prefix", string(b[:6]), "Encode appends")
			body := b[6:]
			size, err := encodedSize(tt.s)
			require.NoError(t, err)
			require.Len(t, body, size)

			got, err := Decode(body)
			require.NoError(t, err)
			require.True(t, tt.s.Equal(got), "got %+v", got)
			if len(tt.s.Props) == 0 {
				require.Nil(t, got.Props)
			}
			// The decoded state owns its memory.
			for i := range body {
				body[i] ^= 0xff
			}
			require.True(t, tt.s.Equal(got))
		})
	}
}

func TestEncodeIsCanonical(t *testing.T) {
	a := map[string][]byte{}
	b := map[string][]byte{}
	for i := range 100 {
		a[fmt.Sprint(i)] = []byte{byte(i)}
		b[fmt.Sprint(99-i)] = []byte{byte(99 - i)}
	}
	ea, err := Encode(nil, State{Props: a})
	require.NoError(t, err)
	for range 5 { // map iteration order differs from run to run
		eb, err := Encode(nil, State{Props: b})
		require.NoError(t, err)
		require.Equal(t, ea, eb)
	}
	e1, err := Encode(nil, State{Props: map[string][]byte{"x": nil}})
	require.NoError(t, err)
	e2, err := Encode(nil, State{Props: map[string][]byte{"x": {}}})
	require.NoError(t, err)
	require.Equal(t, e1, e2)
}

func TestEncodeTooLarge(t *testing.T) {
	tests := []struct {
		name string
		s    State
	}{
		{"one byte over", State{Props: propsOfSize(maxBodySize + 1)}},
		{"huge value", State{Props: map[string][]byte{"k": make([]byte, 1<<20)}}},
		{"key over u16", State{Props: map[string][]byte{strings.Repeat("k", 1<<16): nil}}},
		{"many small", func() State {
			p := map[string][]byte{}
			for i := range 3000 {
				p[fmt.Sprint(i)] = nil
			}
			return State{Props: p}
		}()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dst := []byte("keep")
			out, err := Encode(dst, tt.s)
			require.ErrorIs(t, err, ErrTooLarge)
			require.Equal(t, "keep", string(out))
		})
	}
}

// rawBody builds a body by hand: the fixed part of State{} with nProps n,
// then the given bytes.
func rawBody(n uint32, rest ...[]byte) []byte {
	b := make([]byte, bodyFixedSize)
	binary.LittleEndian.PutUint32(b[73:], n)
	for _, r := range rest {
		b = append(b, r...)
	}
	return b
}

func TestDecodeRejects(t *testing.T) {
	valid, err := Encode(nil, State{Term: 1, Props: map[string][]byte{"a": []byte("1"), "b": []byte("2")}})
	require.NoError(t, err)
	mut := func(f func(b []byte)) []byte { b := bytes.Clone(valid); f(b); return b }
	const p = bodyFixedSize // first property
	u16 := func(v uint16) []byte { return binary.LittleEndian.AppendUint16(nil, v) }
	u32 := func(v uint32) []byte { return binary.LittleEndian.AppendUint32(nil, v) }
	tests := []struct {
		name string
		b    []byte
		want string
	}{
		{"nil", nil, "min 77"},
		{"short", valid[:bodyFixedSize-1], "min 77"},
		{"too long", make([]byte, maxBodySize+1), "max 16360"},
		{"unknown flag", mut(func(b []byte) { b[60] |= 2 }), "unknown flags"},
		{"trailing byte", append(bytes.Clone(valid), 0), "trailing"},
		{"trailing without props", rawBody(0, []byte{0}), "trailing"},
		{"count too big", mut(func(b []byte) { binary.LittleEndian.PutUint32(b[73:], 1<<31) }), "cannot fit"},
		{"count one too many", mut(func(b []byte) { binary.LittleEndian.PutUint32(b[73:], 3) }), "cannot fit"},
		{"count one too few", mut(func(b []byte) { binary.LittleEndian.PutUint32(b[73:], 1) }), "trailing"},
		{"key overruns", mut(func(b []byte) { binary.LittleEndian.PutUint16(b[p:], 0xffff) }), "key of 65535 bytes overruns"},
		{"value overruns", mut(func(b []byte) { binary.LittleEndian.PutUint32(b[p+3:], 0xffffffff) }), "value of 4294967295 bytes overruns"},
		{"truncated key length", rawBody(2, u16(1), []byte("a"), u32(10), make([]byte, 10), []byte{0}), "truncated key length"},
		{"truncated value length", rawBody(2, u16(0), u32(0), u16(3), []byte("abc"), []byte{0}), "truncated value length"},
		{"unsorted keys", mut(func(b []byte) { b[p+2], b[p+3+4+1+2] = 'b', 'a' }), `key "a" not after "b"`},
		{"duplicate keys", mut(func(b []byte) { b[p+3+4+1+2] = 'a' }), `key "a" not after "a"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decode(tt.b)
			require.ErrorIs(t, err, ErrCorrupt)
			require.ErrorContains(t, err, tt.want)
		})
	}
}

func FuzzDecode(f *testing.F) {
	for _, s := range []State{{}, initialState(), fullState(), {Props: propsOfSize(300)}} {
		b, err := Encode(nil, s)
		require.NoError(f, err)
		f.Add(b)
	}
	f.Add([]byte{})
	f.Add(make([]byte, bodyFixedSize))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := Decode(b)
		if err != nil {
			require.ErrorIs(t, err, ErrCorrupt)
			return
		}
		again, err := Encode(nil, s)
		require.NoError(t, err)
		// Decoding is canonical, so re-encoding gives back the very bytes.
		require.Equal(t, b, again)
		s2, err := Decode(again)
		require.NoError(t, err)
		require.True(t, s.Equal(s2))
	})
}
