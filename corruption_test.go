package raftlog

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/raftlog/raftlog/logqueue"
	"github.com/raftlog/raftlog/status"
	"github.com/raftlog/raftlog/vfs"
)

// The corrupted log: [1, corrN1] at term 1 written and closed (so the index
// files and the status file's persisted index cover them), then
// [corrN1+1, corrN2] at term 2 appended, the hard state's commit set to
// corrCommit, and the machine crashed: those items are the tail Open scans.
const (
	corrDir     = "/db"
	corrN1      = 200
	corrN2      = 400
	corrCommit  = 300
	corrMaxData = 1500
	corrFile    = 64 << 10
)

// The damaged items: all three have data, and valid items follow each.
const (
	corrBelowPersisted  = 100 // read through the index files, not scanned by Open
	corrTailCommitted   = 250 // scanned, below the commit index
	corrTailUncommitted = 350 // scanned, above the commit index
)

func corrTerm(i uint64) uint64 {
	if i <= corrN1 {
		return 1
	}
	return 2
}

// itemLoc is where an item or end marker sits.
type itemLoc struct {
	file string // base name
	off  int64  // offset in the file
	pos  int64  // log position
	size int64
	meta logqueue.ItemMeta
}

// corrLog is the corrupted log's pristine image and a map of its items.
type corrLog struct {
	base    *vfs.MemFS
	items   map[uint64]itemLoc
	markers []itemLoc
	files   []string // log files, in position order
	lastEnd int64    // log position just after item corrN2
}

func corrOptions(fs vfs.FS) Options { return memOptions(fs) }

func buildCorrLog(t *testing.T) *corrLog {
	t.Helper()
	mem := vfs.NewMem()
	l := openLog(t, corrDir, corrOptions(mem))
	appendRange(t, l, 1, corrN1, 1, corrMaxData, 7)
	require.NoError(t, l.Close())
	l = openLog(t, corrDir, corrOptions(mem))
	// One batch at a time, each acknowledged before the next is written:
	// then every damaged item has valid items after it that were written
	// once it was acknowledged, which is what tells corruption from a torn
	// write (pages of unsynced writes reach the disk in any order, so a bad
	// item followed by valid ones is, by itself, what a crash leaves too).
	for i := uint64(corrN1 + 1); i <= corrN2; i += 7 {
		appendRange(t, l, i, min(i+6, corrN2), 2, corrMaxData, 7)
	}
	_, err := wait(l.SetHardState(HardState{Term: 2, Vote: 1, Commit: corrCommit}))
	require.NoError(t, err)
	c := &corrLog{base: mem.Crash(), items: make(map[uint64]itemLoc)}
	require.NoError(t, l.Close())

	// The premise of the cases: what the status file says.
	_, st, _, err := status.Open(c.base.Crash(), corrDir)
	require.NoError(t, err)
	require.Equal(t, uint64(corrN1), st.PersistedIndex, "the index files must cover exactly phase 1")
	require.Equal(t, uint64(corrCommit), st.Commit)

	names, err := c.base.List(corrDir)
	require.NoError(t, err)
	for _, name := range names {
		start, ok := logStart(name)
		if !ok || strings.HasSuffix(name, ".tmp") {
			continue
		}
		c.files = append(c.files, name)
		b := readMemFile(t, c.base, filepath.Join(corrDir, name))
		require.Len(t, b, corrFile)
		for off := int64(0); corrFile-off >= logqueue.ItemHeaderSize; {
			kind, m, tot, err := logqueue.DecodeHeader(b[off:], start+off, corrFile-off)
			require.NoError(t, err, "%s at offset %d", name, off)
			loc := itemLoc{file: name, off: off, pos: start + off, size: tot, meta: m}
			if kind == logqueue.KindUnwritten {
				break
			}
			if kind == logqueue.KindEndMarker {
				c.markers = append(c.markers, loc)
				break
			}
			// The test's own CRC code must agree with the writer's, or the
			// "CRC recomputed" cases would test nothing.
			hdr := slices.Clone(b[off : off+logqueue.ItemHeaderSize])
			fixHeaderCRC(hdr, loc.pos)
			require.Equal(t, b[off:off+4], hdr[:4], "header CRC of %s at %d", name, off)
			c.items[m.Index] = loc
			c.lastEnd = max(c.lastEnd, loc.pos+tot)
			off += tot
		}
	}
	require.Len(t, c.items, corrN2)
	return c
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// fixHeaderCRC recomputes the header CRC of the 56-byte header h found at
// log position pos, the way the package comment of logqueue specifies it.
func fixHeaderCRC(h []byte, pos int64) {
	var seed [8]byte
	binary.LittleEndian.PutUint64(seed[:], uint64(pos))
	crc := crc32.Update(crc32.Update(0, castagnoli, seed[:]), castagnoli, h[4:logqueue.ItemHeaderSize])
	binary.LittleEndian.PutUint32(h[0:4], crc)
}

// badSpot is where Open must report the corruption and the first index a
// repair cannot keep.
type badSpot struct {
	file  string
	off   int64
	index uint64
	// keepsPrev: the item before index was changed but still validates, so
	// a repair that cuts here keeps it as it now reads.
	keepsPrev bool
}

func spotOf(loc itemLoc) badSpot { return badSpot{file: loc.file, off: loc.off, index: loc.meta.Index} }

// damage changes the pristine image fs and returns where the damage is; a
// few cases accept one of two spots (first the damaged item, then the one
// where the chain visibly breaks).
type damage func(t *testing.T, fs *vfs.MemFS, c *corrLog) []badSpot

// flipField flips mask in byte at of the item at index, and recomputes the
// header CRC if fix is set, so that the checks behind the CRC are reached.
func flipField(index uint64, at func(size int64) int64, mask byte, fix bool) damage {
	return func(t *testing.T, fs *vfs.MemFS, c *corrLog) []badSpot {
		loc := c.items[index]
		path := filepath.Join(corrDir, loc.file)
		b := readMemFile(t, fs, path)
		item := b[loc.off : loc.off+loc.size]
		item[at(loc.size)] ^= mask
		if fix {
			fixHeaderCRC(item, loc.pos)
		}
		writeMemFile(t, fs, path, item, loc.off)
		return []badSpot{spotOf(loc)}
	}
}

func constOff(off int64) func(int64) int64 { return func(int64) int64 { return off } }

// fieldCases flips a bit in every field of the item at index.
func fieldCases(index uint64) map[string]damage {
	at := func(off int64) func(int64) int64 { return constOff(off) }
	cases := map[string]damage{
		"header CRC":    flipField(index, at(0), 0x01, false),
		"length":        flipField(index, at(4), 0x01, false),
		"kind":          flipField(index, at(8), 0x02, false),
		"type":          flipField(index, at(9), 0x01, false),
		"reserved":      flipField(index, at(10), 0x01, false),
		"epoch":         flipField(index, at(12), 0x01, false),
		"index":         flipField(index, at(16), 0x01, false),
		"term":          flipField(index, at(24), 0x01, false),
		"prevTerm":      flipField(index, at(32), 0x01, false),
		"timestamp":     flipField(index, at(40), 0x01, false),
		"header length": flipField(index, at(48), 0x01, false),
		"data length":   flipField(index, at(52), 0x01, false),
		"payload":       flipField(index, func(size int64) int64 { return logqueue.ItemHeaderSize + (size-60)/2 }, 0x10, false),
		"payload CRC":   flipField(index, func(size int64) int64 { return size - 2 }, 0x01, false),

		// Behind a valid header CRC: the length and chain checks.
		"length, CRC recomputed":                flipField(index, at(4), 0x01, true),
		"data length, CRC recomputed":           flipField(index, at(52), 0x01, true),
		"kind item→end marker, CRC recomputed":  flipField(index, at(8), 0x03, true),
		"index (a gap), CRC recomputed":         flipField(index, at(16), 0x01, true),
		"prevTerm, CRC recomputed":              flipField(index, at(32), 0x01, true),
		"epoch from the future, CRC recomputed": flipField(index, at(15), 0x40, true),
		"term jumps up, CRC recomputed": func(t *testing.T, fs *vfs.MemFS, c *corrLog) []badSpot {
			// The item itself is well formed; the next one's prevTerm no
			// longer matches and its term goes down.
			flipField(index, at(29), 0x01, true)(t, fs, c)
			next := spotOf(c.items[index+1])
			next.keepsPrev = true
			return []badSpot{spotOf(c.items[index]), next}
		},
		"header length past the file, CRC recomputed": func(t *testing.T, fs *vfs.MemFS, c *corrLog) []badSpot {
			loc := c.items[index]
			path := filepath.Join(corrDir, loc.file)
			h := readMemFile(t, fs, path)[loc.off : loc.off+logqueue.ItemHeaderSize]
			binary.LittleEndian.PutUint32(h[4:], uint32(corrFile-loc.off+8))
			fixHeaderCRC(h, loc.pos)
			writeMemFile(t, fs, path, h, loc.off)
			return []badSpot{spotOf(loc)}
		},
		"zeroed item": func(t *testing.T, fs *vfs.MemFS, c *corrLog) []badSpot {
			loc := c.items[index]
			writeMemFile(t, fs, filepath.Join(corrDir, loc.file), make([]byte, loc.size), loc.off)
			return []badSpot{spotOf(loc)}
		},
	}
	return cases
}

// missingEndMarker zeroes the end marker of a full file in the scanned
// tail: the scan sees the clean end of the log although later files hold
// items.
func missingEndMarker(t *testing.T, fs *vfs.MemFS, c *corrLog) []badSpot {
	tailStart := c.items[corrN1+1].pos
	for _, m := range c.markers {
		if m.pos > tailStart && m.pos < c.items[corrCommit].pos {
			writeMemFile(t, fs, filepath.Join(corrDir, m.file), make([]byte, logqueue.EndMarkerSize), m.off)
			return []badSpot{{file: m.file, off: m.off, index: m.meta.Index}}
		}
	}
	t.Fatalf("no end marker between index %d and the commit index: change the sizes", corrN1+1)
	return nil
}

type corrCase struct {
	name   string
	damage damage
}

// refusedCases are the damages Open must refuse: everything in the scanned
// tail, below and above the commit index.
func refusedCases() []corrCase {
	var out []corrCase
	for _, target := range []struct {
		name  string
		index uint64
	}{
		{"tail below commit", corrTailCommitted},
		{"tail above commit", corrTailUncommitted},
	} {
		cases := fieldCases(target.index)
		for _, name := range sortedKeys(cases) {
			out = append(out, corrCase{fmt.Sprintf("%s/%s (index %d)", target.name, name, target.index), cases[name]})
		}
	}
	return append(out, corrCase{"missing end marker", missingEndMarker})
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// requireRefused checks that Open of fs fails with ErrCorrupt naming one of
// spots, and changes no file.
func requireRefused(t *testing.T, fs *vfs.MemFS, spots []badSpot) {
	t.Helper()
	before := memFiles(t, fs, corrDir)
	l, err := Open(corrDir, corrOptions(fs))
	if err == nil {
		last := l.LastIndex()
		_ = l.Close()
		require.Failf(t, "Open accepted a corrupt log", "last index %d (acknowledged and committed: %d); the damage is at %s offset %d",
			last, corrN2, spots[0].file, spots[0].off)
	}
	require.ErrorIs(t, err, ErrCorrupt)
	named := slices.ContainsFunc(spots, func(s badSpot) bool {
		return strings.Contains(err.Error(), s.file) && strings.Contains(err.Error(), fmt.Sprintf("offset %d", s.off))
	})
	require.True(t, named, "the error does not name %s offset %d: %v", spots[0].file, spots[0].off, err)
	require.Equal(t, before, memFiles(t, fs, corrDir), "a refused Open changed the directory")
}

// TestCorruptionRefused damages a middle item in the scanned tail, in each
// of its fields, and checks that Open refuses the log with ErrCorrupt
// naming the file and offset, without touching a byte; never a wrong entry,
// never a silent cut of acknowledged entries.
func TestCorruptionRefused(t *testing.T) {
	c := buildCorrLog(t)
	for _, tc := range refusedCases() {
		t.Run(tc.name, func(t *testing.T) {
			fs := c.base.Crash()
			spots := tc.damage(t, fs, c)
			requireRefused(t, fs, spots)
		})
	}
}

// TestCorruptionBelowPersisted damages an item that Open does not scan
// (start-up cost follows the unpersisted tail): Open may refuse the log, or
// open it and refuse that one read; it must never return a wrong entry or
// drop another.
func TestCorruptionBelowPersisted(t *testing.T) {
	c := buildCorrLog(t)
	cases := fieldCases(corrBelowPersisted)
	// A term raised behind a valid CRC leaves a well-formed item that only
	// the next item's prevTerm contradicts; a positional read cannot see
	// that, and Open does not scan below the persisted index.
	delete(cases, "term jumps up, CRC recomputed")
	for _, name := range sortedKeys(cases) {
		t.Run(name, func(t *testing.T) {
			fs := c.base.Crash()
			spots := cases[name](t, fs, c)
			before := memFiles(t, fs, corrDir)
			l, err := Open(corrDir, corrOptions(fs))
			if err != nil {
				require.ErrorIs(t, err, ErrCorrupt)
				require.Equal(t, before, memFiles(t, fs, corrDir), "a refused Open changed the directory")
				return
			}
			defer l.Close()
			require.Equal(t, uint64(corrN2), l.LastIndex())
			bad := map[uint64]bool{}
			for _, s := range spots {
				bad[s.index] = true
			}
			for i := uint64(1); i <= corrN2; i++ {
				e, err := l.Entry(i)
				if bad[i] && err != nil {
					require.ErrorIs(t, err, ErrCorrupt, "index %d", i)
					require.Contains(t, err.Error(), spots[0].file)
					continue
				}
				require.NoError(t, err, "index %d", i)
				requireEntry(t, e, i, corrTerm(i), corrMaxData)
			}
		})
	}
}

func requireEntry(t *testing.T, e Entry, i, term uint64, maxSize int) {
	t.Helper()
	want := entryFor(i, term, maxSize)
	require.Equal(t, want.Index, e.Index, "index %d", i)
	require.Equal(t, want.Term, e.Term, "term of %d", i)
	require.Equal(t, want.Type, e.Type, "type of %d", i)
	require.Equal(t, want.Timestamp, e.Timestamp, "timestamp of %d", i)
	require.True(t, bytes.Equal(want.Header, e.Header), "header of %d", i)
	require.True(t, bytes.Equal(want.Data, e.Data), "data of %d", i)
}

// TestCorruptIndexFile damages index-file slots. The issue allows either
// answer, ErrCorrupt naming the index file or a transparent rebuild from the
// log, but never a wrong entry.
func TestCorruptIndexFile(t *testing.T) {
	c := buildCorrLog(t)
	slot := func(i uint64) (string, int64) {
		return fmt.Sprintf("%020d.idx", i-i%8), int64(i%8) * 8
	}
	cases := []struct {
		name  string
		index uint64
		value func(old int64) int64
	}{
		{"persisted index, bit flip", corrN1, func(old int64) int64 { return old ^ 0x40 }},
		{"persisted index, points at its neighbour", corrN1, func(int64) int64 { return c.items[corrN1-1].pos }},
		{"middle, bit flip", corrBelowPersisted, func(old int64) int64 { return old ^ 0x40 }},
		{"middle, points at its neighbour", corrBelowPersisted, func(int64) int64 { return c.items[corrBelowPersisted+1].pos }},
		{"middle, points past the last file", corrBelowPersisted, func(int64) int64 { return 1 << 40 }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fs := c.base.Crash()
			name, off := slot(tc.index)
			path := filepath.Join(corrDir, name)
			b := readMemFile(t, fs, path)
			old := int64(binary.LittleEndian.Uint64(b[off:]))
			require.Equal(t, c.items[tc.index].pos, old, "the slot of %d", tc.index)
			binary.LittleEndian.PutUint64(b[off:], uint64(tc.value(old)))
			writeMemFile(t, fs, path, b[off:off+8], off)

			before := memFiles(t, fs, corrDir)
			l, err := Open(corrDir, corrOptions(fs))
			if err != nil {
				require.ErrorIs(t, err, ErrCorrupt)
				require.Contains(t, err.Error(), name, "the error does not name the index file")
				require.Equal(t, before, memFiles(t, fs, corrDir), "a refused Open changed the directory")
				t.Logf("refused: %v", err)
				return
			}
			defer l.Close()
			require.Equal(t, uint64(corrN2), l.LastIndex(), "a damaged index slot cut the log")
			rebuilt := true
			for i := uint64(1); i <= corrN2; i++ {
				e, err := l.Entry(i)
				if i == tc.index && err != nil {
					require.ErrorIs(t, err, ErrCorrupt)
					rebuilt = false
					continue
				}
				require.NoError(t, err, "index %d", i)
				requireEntry(t, e, i, corrTerm(i), corrMaxData)
			}
			t.Logf("opened; read of the damaged slot: rebuilt=%v", rebuilt)
		})
	}
}

// TestCorruptionAfterOpen flips bytes of items while the log is open: the
// reads that meet them fail with ErrCorrupt, the others still work.
func TestCorruptionAfterOpen(t *testing.T) {
	c := buildCorrLog(t)
	fs := c.base.Crash()
	l := openLog(t, corrDir, corrOptions(fs))
	defer l.Close()
	damaged := map[uint64]damage{
		corrBelowPersisted:  flipField(corrBelowPersisted, func(size int64) int64 { return size - 10 }, 0x01, false),
		corrTailCommitted:   flipField(corrTailCommitted, constOff(24), 0x01, false),
		corrTailUncommitted: flipField(corrTailUncommitted, constOff(4), 0x01, true),
	}
	for _, i := range []uint64{corrBelowPersisted, corrTailCommitted, corrTailUncommitted} {
		spots := damaged[i](t, fs, c)
		_, err := l.Entry(i)
		require.ErrorIs(t, err, ErrCorrupt, "index %d", i)
		require.Contains(t, err.Error(), spots[0].file)
		_, err = l.Entries(i-1, i+2, 0)
		require.ErrorIs(t, err, ErrCorrupt, "entries around %d", i)
		// Term may answer from memory without reading the bytes; then it
		// must give the term that was written, never the damaged one.
		if term, err := l.Term(i); err != nil {
			require.ErrorIs(t, err, ErrCorrupt, "term of %d", i)
		} else {
			require.Equal(t, corrTerm(i), term, "term of %d", i)
		}
		e, err := l.Entry(i - 1)
		require.NoError(t, err)
		requireEntry(t, e, i-1, corrTerm(i-1), corrMaxData)
		e, err = l.Entry(i + 1)
		require.NoError(t, err)
		requireEntry(t, e, i+1, corrTerm(i+1), corrMaxData)
	}
}

// TestRepairCorruptions repairs every refused corruption: afterwards Open works, the
// log ends just before the first bad item, the side file holds exactly the
// bytes removed, and appends go on.
func TestRepairCorruptions(t *testing.T) {
	c := buildCorrLog(t)
	cases := refusedCases()
	below := fieldCases(corrBelowPersisted)
	for _, name := range []string{"payload", "zeroed item"} {
		cases = append(cases, corrCase{"below persisted/" + name, below[name]})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fs := c.base.Crash()
			spots := tc.damage(t, fs, c)
			damaged := memFiles(t, fs, corrDir)

			rep, err := Repair(corrDir, corrOptions(fs))
			require.NoError(t, err)
			require.True(t, rep.Corrupt)
			k := slices.IndexFunc(spots, func(s badSpot) bool {
				return filepath.Base(rep.File) == s.file && rep.Offset == s.off
			})
			require.GreaterOrEqual(t, k, 0, "Repair reports %s offset %d (%s), want %s offset %d",
				rep.File, rep.Offset, rep.Reason, spots[0].file, spots[0].off)
			spot := spots[k]
			require.Equal(t, spot.index-1, rep.LastIndex)

			// The side directory holds the removed bytes: the damaged file's
			// from the cut to its last non-zero byte (nothing non-zero left
			// behind), and every later log file whole.
			require.NotEmpty(t, rep.SideDir)
			side := rep.SideDir
			if !strings.HasPrefix(side, corrDir) {
				side = filepath.Join(corrDir, side)
			}
			from := readMemFile(t, fs, filepath.Join(side, fmt.Sprintf("%s.from-%d", spot.file, spot.off)))
			orig := damaged[spot.file][spot.off:]
			require.LessOrEqual(t, len(from), len(orig))
			require.True(t, bytes.Equal(orig[:len(from)], from), "the side copy of %s is not its bytes from offset %d", spot.file, spot.off)
			require.True(t, allZero(orig[len(from):]), "non-zero bytes of %s after the cut are not in the side copy", spot.file)
			removed := int64(len(from))
			start, _ := logStart(spot.file)
			for _, name := range c.files {
				if s, _ := logStart(name); s <= start {
					continue
				}
				moved := readMemFile(t, fs, filepath.Join(side, name))
				require.True(t, bytes.Equal(damaged[name], moved), "the side copy of %s differs", name)
				ok, err := fs.Exists(filepath.Join(corrDir, name))
				require.NoError(t, err)
				require.False(t, ok, "%s is still in the log after the cut", name)
				removed += int64(len(moved))
			}
			require.Equal(t, removed, rep.RemovedBytes)
			// The zeros at the end of the cut file (slack after its end
			// marker) hold nothing and are not counted as removed.
			slack := int64(len(orig) - len(from))
			require.GreaterOrEqual(t, removed+slack, c.lastEnd-(start+spot.off), "fewer bytes removed than the log held after the cut")

			l, err := Open(corrDir, corrOptions(fs))
			require.NoError(t, err, "Open after Repair")
			require.Equal(t, rep.LastIndex, l.LastIndex())
			for i := uint64(1); i <= rep.LastIndex; i++ {
				e, err := l.Entry(i)
				require.NoError(t, err, "index %d", i)
				if spot.keepsPrev && i == rep.LastIndex {
					continue
				}
				requireEntry(t, e, i, corrTerm(i), corrMaxData)
			}
			_, err = l.Entry(rep.LastIndex + 1)
			require.ErrorIs(t, err, ErrUnavailable)
			next, term := rep.LastIndex+1, max(3, l.LastTerm())
			appendRange(t, l, next, next+10, term, corrMaxData, 3)
			require.NoError(t, l.Close())
			l = openLog(t, corrDir, corrOptions(fs))
			defer l.Close()
			require.Equal(t, next+10, l.LastIndex())
			checkEntry(t, l, next+10, term, corrMaxData)
		})
	}
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
