package status

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"testing"

	"github.com/klauspost/crc32"
	"github.com/stretchr/testify/require"
)

// rawSlot frames an arbitrary body, with any version, as a writer would.
func rawSlot(version uint32, seq uint64, body []byte) []byte {
	b := []byte(slotMagic)
	b = binary.LittleEndian.AppendUint32(b, version)
	b = binary.LittleEndian.AppendUint64(b, seq)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(body)))
	b = append(b, body...)
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, crc32.MakeTable(crc32.Castagnoli)))
}

func mustSlot(t testing.TB, seq uint64, s State) []byte {
	t.Helper()
	b, err := appendSlot(nil, seq, s)
	require.NoError(t, err)
	return b
}

// image lays out two slot frames (nil: a zeroed slot) as a status file.
func image(slot0, slot1 []byte) []byte {
	img := make([]byte, fileSize)
	copy(img, slot0)
	copy(img[SlotSize:], slot1)
	return img
}

func TestAppendSlotLayout(t *testing.T) {
	s := fullState()
	body, err := Encode(nil, s)
	require.NoError(t, err)
	fr, err := appendSlot([]byte("pre"), 42, s)
	require.NoError(t, err)
	require.Equal(t, "pre", string(fr[:3]))
	fr = fr[3:]
	require.Equal(t, rawSlot(slotVersion, 42, body), fr, "header, body and CRC laid out as documented")
	require.Len(t, fr, slotHeaderSize+len(body)+slotTrailerSize)

	got, reason := parseSlot(fr)
	require.Empty(t, reason)
	require.Equal(t, uint64(42), got.seq)
	require.Equal(t, uint32(slotVersion), got.version)
	require.Equal(t, body, got.body)

	big, err := appendSlot(nil, 1, State{Props: propsOfSize(maxBodySize)})
	require.NoError(t, err)
	require.Len(t, big, SlotSize, "the largest state fills the slot exactly")

	out, err := appendSlot([]byte("keep"), 1, State{Props: propsOfSize(maxBodySize + 1)})
	require.ErrorIs(t, err, ErrTooLarge)
	require.Equal(t, "keep", string(out))
}

func TestParseSlotRejects(t *testing.T) {
	good := mustSlot(t, 3, fullState())
	flip := func(i int) []byte {
		b := bytes.Clone(good)
		b[i] ^= 0x01
		return b
	}
	tests := []struct {
		name string
		b    []byte
		want string
	}{
		{"empty", nil, "only 0 bytes"},
		{"short", good[:slotHeaderSize+slotTrailerSize-1], "only 23 bytes"},
		{"zeros", make([]byte, SlotSize), "bad magic"},
		{"magic", flip(0), "bad magic"},
		{"version", flip(4), "CRC mismatch"},
		{"seq", flip(8), "CRC mismatch"},
		{"length overruns", func() []byte {
			b := bytes.Clone(good)
			binary.LittleEndian.PutUint32(b[16:], uint32(len(b)))
			return b
		}(), "overruns"},
		{"length too short", flip(16), "CRC mismatch"},
		{"body", flip(slotHeaderSize + 3), "CRC mismatch"},
		{"crc", flip(len(good) - 1), "CRC mismatch"},
		{"truncated", good[:len(good)-1], "overruns"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, reason := parseSlot(tt.b)
			require.Contains(t, reason, tt.want)
		})
	}
}

func TestLoadImagePicksNewest(t *testing.T) {
	a := State{Term: 1}
	b := State{Term: 2}
	corrupt := func(fr []byte) []byte {
		fr = bytes.Clone(fr)
		fr[slotHeaderSize] ^= 0xff
		return fr
	}
	tests := []struct {
		name      string
		img       []byte
		wantSlot  int
		wantSeq   uint64
		wantState State
	}{
		{"only slot 0", image(mustSlot(t, 1, a), nil), 0, 1, a},
		{"only slot 1", image(nil, mustSlot(t, 5, b)), 1, 5, b},
		{"slot 1 newer", image(mustSlot(t, 1, a), mustSlot(t, 2, b)), 1, 2, b},
		{"slot 0 newer", image(mustSlot(t, 3, b), mustSlot(t, 2, a)), 0, 3, b},
		{"newer slot 1 corrupt", image(mustSlot(t, 1, a), corrupt(mustSlot(t, 2, b))), 0, 1, a},
		{"newer slot 0 corrupt", image(corrupt(mustSlot(t, 3, b)), mustSlot(t, 2, a)), 1, 2, a},
		{"image ends inside slot 1", image(mustSlot(t, 7, a), nil)[:SlotSize+10], 0, 7, a},
		{"image ends after slot 0 frame", mustSlot(t, 7, a), 0, 7, a},
		{"older slot unknown version", image(rawSlot(9, 1, []byte("x")), mustSlot(t, 2, b)), 1, 2, b},
		{"older slot undecodable", image(mustSlot(t, 4, a), rawSlot(slotVersion, 3, []byte("x"))), 0, 4, a},
		{"extra bytes after slot 1 ignored", append(image(nil, mustSlot(t, 2, b)), 1, 2, 3), 1, 2, b},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := loadImage(tt.img)
			require.NoError(t, err)
			require.Equal(t, tt.wantSlot, l.slot)
			require.Equal(t, tt.wantSeq, l.seq)
			require.True(t, tt.wantState.Equal(l.state), "got %+v", l.state)
		})
	}
}

func TestLoadImageCorrupt(t *testing.T) {
	a := mustSlot(t, 1, State{Term: 1})
	garbage := bytes.Repeat([]byte{0xa5}, fileSize)
	tests := []struct {
		name string
		img  []byte
		want string
	}{
		{"empty", nil, "no valid slot"},
		{"zeros", make([]byte, fileSize), "slot 0 at offset 0: bad magic; slot 1 at offset 16384: bad magic"},
		{"garbage", garbage, "no valid slot"},
		{"both CRCs bad", func() []byte {
			img := image(a, a)
			img[slotHeaderSize] ^= 1
			img[SlotSize+slotHeaderSize] ^= 1
			return img
		}(), "slot 0 at offset 0: CRC mismatch"},
		{"newest has unknown version", image(a, rawSlot(2, 2, []byte("future"))), "slot 1 at offset 16384: unsupported format version 2"},
		{"newest body undecodable", image(rawSlot(slotVersion, 9, []byte("short")), a), "slot 0 at offset 0: status: corrupt: body of 5 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := loadImage(tt.img)
			require.ErrorIs(t, err, ErrCorrupt)
			require.ErrorContains(t, err, tt.want)
		})
	}
}

// saveSteps replays what File.Save does to an image, returning the image
// after each step and the frame written by it.
type saveStep struct {
	before, after []byte
	frame         []byte
	off           int
	old, new      State
}

func saveSteps(t testing.TB, states []State) []saveStep {
	cur := image(mustSlot(t, 1, initialState()), nil)
	slot, seq, old := 0, uint64(1), initialState()
	var steps []saveStep
	for _, s := range states {
		seq++
		slot = 1 - slot
		fr := mustSlot(t, seq, s)
		next := bytes.Clone(cur)
		copy(next[slot*SlotSize:], fr)
		steps = append(steps, saveStep{before: cur, after: next, frame: fr, off: slot * SlotSize, old: old, new: s})
		cur, old = next, s
	}
	return steps
}

func crashStates() []State {
	return []State{
		{Term: 1, FirstIndex: 1},
		{Term: 1, Vote: 1, FirstIndex: 1, Commit: 3},
		{Term: 2, Vote: 1, FirstIndex: 1, Commit: 9, Props: propsOfSize(maxBodySize)},
		{Term: 2, Vote: 1, FirstIndex: 1, Commit: 10, Props: propsOfSize(maxBodySize)}, // same length, one field differs
		{Term: 3, Vote: 2, FirstIndex: 5, FirstPos: 4096, Installing: true},
		{Term: 3, Vote: 2, FirstIndex: 5, FirstPos: 4096, Props: map[string][]byte{"k": []byte("v")}},
	}
}

// TestTornSlotWrite crashes every Save of a sequence after each possible
// number of bytes of its slot write: the file must always load, as the state
// before or after that Save.
func TestTornSlotWrite(t *testing.T) {
	for i, st := range saveSteps(t, crashStates()) {
		sawOld := false
		for k := 0; k <= len(st.frame); k++ {
			img := bytes.Clone(st.before)
			copy(img[st.off:], st.frame[:k])
			l, err := loadImage(img)
			require.NoError(t, err, "step %d, torn after %d bytes", i, k)
			switch {
			case l.state.Equal(st.new):
				require.Equal(t, st.off, l.slot*SlotSize)
			case l.state.Equal(st.old):
				sawOld = true
				require.Less(t, k, len(st.frame), "step %d: the whole frame was written", i)
			default:
				t.Fatalf("step %d, torn after %d bytes: loaded %+v, neither old nor new", i, k, l.state)
			}
		}
		require.True(t, sawOld, "step %d never loaded the old state", i)
	}
}

// TestTornSectors writes a random subset of the 512-byte sectors of each
// slot write, as a disk that reorders sector writes might, with a random
// garbage sector now and then.
func TestTornSectors(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	const sector = 512
	for i, st := range saveSteps(t, crashStates()) {
		for range 200 {
			img := bytes.Clone(st.before)
			for s := 0; s < len(st.frame); s += sector {
				e := min(s+sector, len(st.frame))
				switch rng.IntN(5) {
				case 0, 1:
					copy(img[st.off+s:], st.frame[s:e])
				case 2:
					for j := s; j < e; j++ {
						img[st.off+j] = byte(rng.Uint32())
					}
				}
			}
			l, err := loadImage(img)
			require.NoError(t, err, "seed %d step %d", seed, i)
			require.True(t, l.state.Equal(st.old) || l.state.Equal(st.new), "seed %d step %d: loaded %+v", seed, i, l.state)
		}
	}
}

// fixCRC recomputes the CRC of the frame at the start of slot, if its length
// field leaves room for one, so the fuzzer gets past the CRC check.
func fixCRC(slot []byte) {
	if len(slot) < slotHeaderSize+slotTrailerSize {
		return
	}
	n := binary.LittleEndian.Uint32(slot[16:])
	if uint64(n) > uint64(len(slot)-slotHeaderSize-slotTrailerSize) {
		return
	}
	end := slotHeaderSize + int(n)
	binary.LittleEndian.PutUint32(slot[end:], crc32.Checksum(slot[:end], crcTable))
}

func FuzzLoadSlots(f *testing.F) {
	steps := saveSteps(f, crashStates()[:2])
	f.Add(steps[0].after[:SlotSize], steps[0].after[SlotSize:], false, false)
	f.Add(steps[1].after[:200], steps[1].after[SlotSize:SlotSize+200], false, false)
	f.Add([]byte{}, []byte{}, false, false)
	f.Add(rawSlot(slotVersion, 1, []byte("short")), rawSlot(2, 0, nil), true, true)
	f.Add(mustSlot(f, 1, fullState()), mustSlot(f, 1, State{Term: 9}), false, false)
	f.Fuzz(func(t *testing.T, slot0, slot1 []byte, fix0, fix1 bool) {
		// slot0 is padded to a full slot unless slot1 is empty, so short
		// files are explored too.
		slot0 = bytes.Clone(slot0[:min(len(slot0), SlotSize)])
		slot1 = bytes.Clone(slot1[:min(len(slot1), SlotSize)])
		if fix0 {
			fixCRC(slot0)
		}
		if fix1 {
			fixCRC(slot1)
		}
		img := slot0
		if len(slot1) > 0 {
			img = append(append(slot0, make([]byte, SlotSize-len(slot0))...), slot1...)
		}
		l, err := loadImage(img)
		if err != nil {
			require.ErrorIs(t, err, ErrCorrupt)
			return
		}
		// The chosen slot is valid, the newest valid one, and holds state.
		lo := l.slot * SlotSize
		fr, reason := parseSlot(img[lo:min(lo+SlotSize, len(img))])
		require.Empty(t, reason)
		require.Equal(t, l.seq, fr.seq)
		other := 1 - l.slot
		if olo := other * SlotSize; olo < len(img) {
			if ofr, reason := parseSlot(img[olo:min(olo+SlotSize, len(img))]); reason == "" {
				require.GreaterOrEqual(t, l.seq, ofr.seq)
			}
		}
		again, err := appendSlot(nil, l.seq, l.state)
		require.NoError(t, err)
		require.Equal(t, img[lo:lo+len(again)], again)
	})
}
