package logqueue

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/klauspost/crc32"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func encode(pos int64, m ItemMeta, header, data []byte) []byte {
	b := make([]byte, EncodedSize(len(header), len(data)))
	EncodeItem(b, pos, &m, header, data)
	return b
}

func TestSeedCRCMatchesUpdate(t *testing.T) {
	positions := []int64{0, 1, 56, 1 << 16, 1<<40 + 12345, -1, math.MaxInt64, math.MinInt64}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 1000 {
		positions = append(positions, int64(rng.Uint64()))
	}
	for _, pos := range positions {
		var le [8]byte
		binary.LittleEndian.PutUint64(le[:], uint64(pos))
		assert.Equal(t, crc32.Update(0, crcTable, le[:]), seedCRC(pos), "pos %d", pos)
	}
}

func BenchmarkSeedCRC(b *testing.B) {
	var sink uint32
	for i := range b.N {
		sink ^= seedCRC(int64(i) * 188)
	}
	_ = sink
}

func TestItemRoundTrip(t *testing.T) {
	full := ItemMeta{
		Index: 0x0102030405060708, Term: 0x1112131415161718, PrevTerm: 0x2122232425262728,
		Timestamp: -0x3132333435363738, Type: 0xa5, Epoch: 0xdeadbeef, DurableLag: 0xbeef,
	}
	tests := []struct {
		name         string
		header, data []byte
	}{
		{"header and data", []byte("hdr"), []byte("some data bytes")},
		{"empty header", nil, []byte("data")},
		{"empty data", []byte("header"), nil},
		{"both empty", nil, nil},
		{"large", make([]byte, 1000), make([]byte, 70000)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			const pos = 123456
			m := full
			b := encode(pos, m, tt.header, tt.data)
			require.Len(t, b, int(EncodedSize(len(tt.header), len(tt.data))))

			kind, got, tot, err := DecodeHeader(b, pos, int64(len(b)))
			require.NoError(t, err)
			assert.Equal(t, KindItem, kind)
			assert.Equal(t, int64(len(b)), tot)
			want := full
			want.HeaderLen, want.DataLen = uint32(len(tt.header)), uint32(len(tt.data))
			assert.Equal(t, want, got)

			h, d, err := VerifyPayload(b, pos, &got)
			require.NoError(t, err)
			if len(tt.header) == 0 {
				assert.Nil(t, h)
			} else {
				assert.Equal(t, tt.header, h)
			}
			if len(tt.data) == 0 {
				assert.Nil(t, d)
			} else {
				assert.Equal(t, tt.data, d)
			}
		})
	}
}

func TestEncodeItemSetsLengths(t *testing.T) {
	m := ItemMeta{HeaderLen: 99, DataLen: 99}
	b := make([]byte, EncodedSize(2, 3))
	n := EncodeItem(b, 0, &m, []byte("ab"), []byte("cde"))
	assert.Equal(t, len(b), n)
	assert.Equal(t, uint32(2), m.HeaderLen)
	assert.Equal(t, uint32(3), m.DataLen)
}

func TestEndMarker(t *testing.T) {
	const pos = 65536 - 100
	b := make([]byte, EndMarkerSize)
	require.Equal(t, EndMarkerSize, EncodeEndMarker(b, pos, 42, 7))
	kind, m, tot, err := DecodeHeader(b, pos, 100)
	require.NoError(t, err)
	assert.Equal(t, KindEndMarker, kind)
	assert.Equal(t, int64(EndMarkerSize), tot)
	assert.Equal(t, ItemMeta{Index: 42, Epoch: 7}, m)

	_, _, _, err = DecodeHeader(b, pos+1, 100)
	assert.ErrorIs(t, err, ErrInvalidItem, "marker moved to another position")
}

func TestDecodeUnwritten(t *testing.T) {
	kind, _, tot, err := DecodeHeader(make([]byte, ItemHeaderSize), 0, 1<<16)
	require.NoError(t, err)
	assert.Equal(t, KindUnwritten, kind)
	assert.Zero(t, tot)

	b := make([]byte, ItemHeaderSize)
	b[30] = 1
	_, _, _, err = DecodeHeader(b, 0, 1<<16)
	assert.ErrorIs(t, err, ErrInvalidItem, "non-zero header with kind 0")
	assert.ErrorContains(t, err, "kind 0")
}

// reseal recomputes the header CRC after a test edits a header field, so
// that the check under test, not the CRC, is what fails.
func reseal(b []byte, pos int64) {
	binary.LittleEndian.PutUint32(b[offHdrCRC:], headerCRC(b, pos))
}

func TestDecodeHeaderRejects(t *testing.T) {
	const pos = 4096
	good := encode(pos, ItemMeta{Index: 5, Term: 2}, []byte("h"), []byte("data"))
	tests := []struct {
		name   string
		edit   func(b []byte)
		room   int64
		substr string
	}{
		{"kind 3", func(b []byte) { b[offKind] = 3; reseal(b, pos) }, 0, "unknown kind"},
		{"totLen != parts", func(b []byte) {
			binary.LittleEndian.PutUint32(b[offTotLen:], uint32(len(good)+1))
			reseal(b, pos)
		}, 1 << 20, "make"},
		{"hdrLen too big", func(b []byte) {
			binary.LittleEndian.PutUint32(b[offHdrLen:], 0xffffffff)
			reseal(b, pos)
		}, 1 << 20, "make"},
		{"totLen > room", func(b []byte) {}, int64(len(good)) - 1, "exceeds"},
		{"room < header", func(b []byte) {}, ItemHeaderSize - 1, "cannot hold"},
		{"end marker with payload", func(b []byte) { b[offKind] = byte(KindEndMarker); reseal(b, pos) }, 0, "end marker"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := append([]byte(nil), good...)
			tt.edit(b)
			room := tt.room
			if room == 0 {
				room = int64(len(b))
			}
			_, _, _, err := DecodeHeader(b, pos, room)
			require.ErrorIs(t, err, ErrInvalidItem)
			assert.ErrorContains(t, err, tt.substr)
		})
	}
}

// TestBadCRCAtEachByte flips every byte of an item in turn: a flip in the
// header must fail DecodeHeader, one in the payload or trailer must fail
// VerifyPayload.
func TestBadCRCAtEachByte(t *testing.T) {
	const pos = 777
	good := encode(pos, ItemMeta{Index: 9, Term: 3, PrevTerm: 2, Timestamp: 11, Type: 4, Epoch: 1},
		[]byte("head"), []byte("payload!"))
	for i := range good {
		b := append([]byte(nil), good...)
		b[i] ^= 0x40
		kind, m, _, err := DecodeHeader(b, pos, int64(len(b)))
		if i < ItemHeaderSize {
			assert.ErrorIs(t, err, ErrInvalidItem, "flip at header byte %d", i)
			continue
		}
		require.NoError(t, err, "flip at payload byte %d", i)
		require.Equal(t, KindItem, kind)
		_, _, err = VerifyPayload(b, pos, &m)
		assert.ErrorIs(t, err, ErrInvalidItem, "flip at payload byte %d", i)
	}
}

func TestPositionSeeding(t *testing.T) {
	const pos = 1 << 20
	b := encode(pos, ItemMeta{Index: 1, Term: 1}, nil, []byte("x"))
	for _, other := range []int64{0, pos - 1, pos + 1, pos + 1<<16} {
		_, _, _, err := DecodeHeader(b, other, int64(len(b)))
		assert.ErrorIs(t, err, ErrInvalidItem, "item copied to %d", other)
	}
	// A header re-sealed for the new position (as a torn rewrite might
	// leave it) still has a payload seeded with the old one.
	_, m, _, err := DecodeHeader(b, pos, int64(len(b)))
	require.NoError(t, err)
	_, _, err = VerifyPayload(b, pos+8, &m)
	assert.ErrorIs(t, err, ErrInvalidItem)
}

func TestVerifyPayloadLength(t *testing.T) {
	b := encode(0, ItemMeta{}, nil, []byte("abc"))
	_, m, _, err := DecodeHeader(b, 0, int64(len(b)))
	require.NoError(t, err)
	_, _, err = VerifyPayload(b[:len(b)-1], 0, &m)
	assert.ErrorIs(t, err, ErrInvalidItem)
}

func TestKindString(t *testing.T) {
	assert.Equal(t, "item", KindItem.String())
	assert.Equal(t, "end marker", KindEndMarker.String())
	assert.Equal(t, "unwritten", KindUnwritten.String())
	assert.Equal(t, "kind(9)", Kind(9).String())
}

func FuzzDecodeHeader(f *testing.F) {
	f.Add(make([]byte, ItemHeaderSize), int64(0), int64(1<<16))
	f.Add(encode(100, ItemMeta{Index: 3, Term: 1}, []byte("h"), []byte("d")), int64(100), int64(1<<16))
	marker := make([]byte, EndMarkerSize)
	EncodeEndMarker(marker, 500, 8, 1)
	f.Add(marker, int64(500), int64(56))
	f.Fuzz(func(t *testing.T, b []byte, pos, room int64) {
		kind, m, tot, err := DecodeHeader(b, pos, room)
		if err != nil {
			require.ErrorIs(t, err, ErrInvalidItem)
			return
		}
		switch kind {
		case KindUnwritten:
			require.True(t, allZero(b[:ItemHeaderSize]))
		case KindEndMarker:
			require.Equal(t, int64(EndMarkerSize), tot)
			re := make([]byte, EndMarkerSize)
			EncodeEndMarker(re, pos, m.Index, m.Epoch)
			require.Equal(t, b[:EndMarkerSize], re)
		case KindItem:
			require.LessOrEqual(t, tot, room)
			require.Equal(t, EncodedSize(int(m.HeaderLen), int(m.DataLen)), tot)
		default:
			t.Fatalf("kind %v with no error", kind)
		}
	})
}

func FuzzDecodeItem(f *testing.F) {
	f.Add(encode(0, ItemMeta{Index: 1, Term: 1}, nil, nil), int64(0))
	f.Add(encode(64, ItemMeta{Index: 2, Term: 1, PrevTerm: 1, Type: 3}, []byte("hh"), []byte("data")), int64(64))
	f.Add(encode(1<<20, ItemMeta{Index: 7, Timestamp: -5, Epoch: 2}, []byte("h"), nil), int64(1<<20))
	f.Fuzz(func(t *testing.T, b []byte, pos int64) {
		if len(b) < ItemHeaderSize {
			return
		}
		kind, m, tot, err := DecodeHeader(b, pos, int64(len(b)))
		if err != nil || kind != KindItem {
			return
		}
		item := b[:tot]
		h, d, err := VerifyPayload(item, pos, &m)
		if err != nil {
			require.ErrorIs(t, err, ErrInvalidItem)
			return
		}
		in := m
		re := make([]byte, tot)
		require.Equal(t, int(tot), EncodeItem(re, pos, &in, h, d))
		require.Equal(t, m, in)
		require.Equal(t, item, re, "a decoded item must re-encode to the same bytes")
	})
}

// FuzzItemRoundTrip encodes items built from arbitrary fields and payloads
// and checks that they decode to the same, at their position only.
func FuzzItemRoundTrip(f *testing.F) {
	f.Add(int64(0), uint64(1), uint64(1), uint64(0), int64(0), uint8(0), uint32(0), []byte(nil), 0)
	f.Add(int64(1<<30), uint64(1<<60), uint64(7), uint64(6), int64(-1), uint8(255), uint32(9), []byte("headerdata"), 6)
	f.Fuzz(func(t *testing.T, pos int64, index, term, prevTerm uint64, ts int64, typ uint8, epoch uint32, payload []byte, split int) {
		if split < 0 || split > len(payload) {
			split = len(payload) / 2
		}
		header, data := payload[:split], payload[split:]
		m := ItemMeta{Index: index, Term: term, PrevTerm: prevTerm, Timestamp: ts, Type: typ, Epoch: epoch}
		b := make([]byte, EncodedSize(len(header), len(data)))
		require.Equal(t, len(b), EncodeItem(b, pos, &m, header, data))
		kind, got, tot, err := DecodeHeader(b, pos, int64(len(b)))
		require.NoError(t, err)
		require.Equal(t, KindItem, kind)
		require.Equal(t, int64(len(b)), tot)
		require.Equal(t, m, got)
		h, d, err := VerifyPayload(b, pos, &got)
		require.NoError(t, err)
		require.Equal(t, nilIfEmpty(header), h)
		require.Equal(t, nilIfEmpty(data), d)
		_, _, _, err = DecodeHeader(b, pos^1, int64(len(b)))
		require.ErrorIs(t, err, ErrInvalidItem)
	})
}

func BenchmarkEncodeItem(b *testing.B) {
	for _, size := range []int{128, 1024} {
		b.Run(fmt.Sprintf("data=%d", size), func(b *testing.B) {
			data := fill(size, 3)
			dst := make([]byte, EncodedSize(0, size))
			m := ItemMeta{Index: 1, Term: 1, PrevTerm: 1, Timestamp: 1}
			b.SetBytes(int64(size))
			pos := int64(0)
			for b.Loop() {
				EncodeItem(dst, pos, &m, nil, data)
				pos += int64(len(dst))
				m.Index++
			}
		})
	}
}
