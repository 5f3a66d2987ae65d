package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/raftlog/raftlog/logqueue"
	"github.com/raftlog/raftlog/status"
)

// forge rewrites the item at pos as a valid item (both CRCs right for that
// position, same size) whose meta change made.
func forge(t *testing.T, dir string, pos int64, change func(*logqueue.ItemMeta)) {
	t.Helper()
	v, err := openView(dir)
	require.NoError(t, err)
	m, hdr, data, err := v.lq.ReadItem(pos)
	v.close()
	require.NoError(t, err)
	change(&m)
	b := make([]byte, logqueue.EncodedSize(len(hdr), len(data)))
	logqueue.EncodeItem(b, pos, &m, hdr, data)
	patchLog(t, dir, pos, b)
}

func TestVerifyClean(t *testing.T) {
	dir := t.TempDir()
	writeLog(t, dir, testEntries, testEntries)
	pos, _ := positions(t, dir)
	require.Len(t, pos, testEntries)

	code, out, errOut := runCmd("verify", dir)
	require.Equal(t, exitOK, code, out+errOut)
	require.Contains(t, out, fmt.Sprintf("%d valid [1, %d]", testEntries, testEntries))
	require.Contains(t, out, fmt.Sprintf("%d positions match", testEntries))
	require.Contains(t, out, "end          ")
	require.Contains(t, out, "unwritten space")
	require.Regexp(t, `(?m)^OK$`, out)
	require.NotContains(t, out, "CORRUPT")
	require.Empty(t, recoveryVerdict(t, dir))
}

func TestVerifyEmptyLog(t *testing.T) {
	dir := t.TempDir()
	writeLog(t, dir, 0, 0)
	code, out, errOut := runCmd("verify", dir)
	require.Equal(t, exitOK, code, out+errOut)
	require.Contains(t, out, "0 valid [1, 0]")
}

// TestVerifyTornTail writes bytes after the last entry that are not a valid
// item, as a write cut by a crash leaves them: a copy of the last item's
// bytes, which cannot validate at another position.
func TestVerifyTornTail(t *testing.T) {
	dir := t.TempDir()
	writeLog(t, dir, testEntries, testEntries)
	pos, _ := positions(t, dir)
	last := pos[testEntries]
	size := int(pos[testEntries] - pos[testEntries-1]) // entries are about equal in size
	end := last + int64(size)
	if end&(testLogFileSize-1)+int64(size) > testLogFileSize {
		t.Skip("the last entry ends too close to the end of its file for this layout")
	}
	patchLog(t, dir, end, readLog(t, dir, last, size))

	code, out, errOut := runCmd("verify", dir)
	require.Equal(t, exitOK, code, out+errOut)
	require.Contains(t, out, "torn tail    "+location(end)+": header CRC")
	require.Contains(t, out, "no item header past the end")
	require.Contains(t, out, fmt.Sprintf("OK (torn tail after index %d", testEntries))
	require.Empty(t, recoveryVerdict(t, dir))

	// The first part of the next item, its header whole: what Open zeroes
	// runs to the end the header gives.
	data := bytes.Repeat([]byte{5}, size)
	next := make([]byte, logqueue.EncodedSize(0, len(data)))
	logqueue.EncodeItem(next, end, &logqueue.ItemMeta{Index: testEntries + 1, Term: 99, Epoch: 1}, nil, data)
	patchLog(t, dir, end, next[:len(next)/2])
	code, out, errOut = runCmd("verify", dir)
	require.Equal(t, exitOK, code, out+errOut)
	require.Contains(t, out, "torn tail    "+location(end)+": payload CRC")
	require.Contains(t, out, fmt.Sprintf("items of unacknowledged writes up to %020d.log offset %d: Open zeroes them",
		end&^(testLogFileSize-1), end&(testLogFileSize-1)+int64(len(next))))
	require.Empty(t, recoveryVerdict(t, dir))
}

// TestVerifyDamage damages one entry and checks which logs verify calls
// corrupt: those where the entry was acknowledged, as the commit index, the
// persisted index or a later entry's DurableLag prove.
func TestVerifyDamage(t *testing.T) {
	const mid = testEntries / 2
	tests := []struct {
		name string
		// damaged is the entry whose payload gets a flipped bit.
		damaged uint64
		// commit and persisted are written to the status file afterwards.
		commit, persisted uint64
		corrupt           bool
		why               string
	}{
		{"middle, below the commit index", mid, testEntries, testEntries, true, "below the commit index"},
		{"middle, below the persisted index", mid, 0, testEntries, true, "below the persisted index"},
		{"middle, proven by a later entry", mid, 0, mid - 5, true, "had been acknowledged durable"},
		{"last, above commit and persisted", testEntries, testEntries - 1, testEntries - 5, false, ""},
		{"last, at the commit index", testEntries, testEntries, testEntries - 5, true, "below the commit index"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeLog(t, dir, testEntries, testEntries)
			pos, _ := positions(t, dir)
			at := pos[tt.damaged]
			b := readLog(t, dir, at+100, 1) // inside the data
			patchLog(t, dir, at+100, []byte{b[0] ^ 0x10})
			setStatus(t, dir, tt.commit, tt.persisted)

			code, out, errOut := runCmd("verify", dir)
			if tt.corrupt {
				require.Equal(t, location(at), recoveryVerdict(t, dir), "recovery disagrees")
			} else {
				require.Empty(t, recoveryVerdict(t, dir), "recovery disagrees")
			}
			if !tt.corrupt {
				require.Equal(t, exitOK, code, out+errOut)
				require.Contains(t, out, "torn tail    "+location(at)+": payload CRC")
				return
			}
			require.Equal(t, exitFail, code, out+errOut)
			require.Contains(t, out, "CORRUPT      "+location(at)+": payload CRC")
			require.Contains(t, out, tt.why)
			require.Contains(t, out, fmt.Sprintf("[1, %d]", tt.damaged-1))
		})
	}
}

func TestVerifyCorruptFiles(t *testing.T) {
	tests := []struct {
		name string
		// damage returns what verify must print. Recovery must find the
		// same place, unless notRecovery: it does not read the index files
		// in a full scan, and a file it cannot open stops it earlier.
		damage      func(t *testing.T, dir string, pos map[uint64]int64) (want string)
		notRecovery bool
	}{
		{"index file slot", func(t *testing.T, dir string, pos map[uint64]int64) string {
			// Index 37 is slot 5 of the index file of 32..47.
			patchFile(t, filepath.Join(dir, fmt.Sprintf("%020d.idx", 32)), 5*8, []byte{1, 2, 3})
			return fmt.Sprintf("%020d.idx offset 40: index 37 points at", 32)
		}, true},
		{"missing index file", func(t *testing.T, dir string, pos map[uint64]int64) string {
			require.NoError(t, os.Remove(filepath.Join(dir, fmt.Sprintf("%020d.idx", 64))))
			return fmt.Sprintf("%020d.idx offset 0: ", 64)
		}, true},
		{"missing log file in the middle", func(t *testing.T, dir string, pos map[uint64]int64) string {
			start := pos[testEntries/2] &^ (testLogFileSize - 1)
			require.NoError(t, os.Remove(filepath.Join(dir, fmt.Sprintf("%020d.log", start))))
			return fmt.Sprintf("%020d.log offset 0: log file %020d.log is missing", start, start)
		}, false},
		{"log file of the wrong size (the queue refuses to open)", func(t *testing.T, dir string, pos map[uint64]int64) string {
			name := filepath.Join(dir, fmt.Sprintf("%020d.log", testLogFileSize))
			require.NoError(t, os.Truncate(name, 1000))
			return fmt.Sprintf("%020d.log: size 1000", testLogFileSize)
		}, true},
		{"status file", func(t *testing.T, dir string, pos map[uint64]int64) string {
			require.NoError(t, os.WriteFile(filepath.Join(dir, "status"), make([]byte, 100), 0o644))
			return "no valid slot"
		}, true},
		{"valid item breaking the chain", func(t *testing.T, dir string, pos map[uint64]int64) string {
			forge(t, dir, pos[testEntries/2], func(m *logqueue.ItemMeta) { m.PrevTerm += 7 })
			return location(pos[testEntries/2]) + ": index 100 has prevTerm"
		}, false},
		{"valid item with a term going down", func(t *testing.T, dir string, pos map[uint64]int64) string {
			forge(t, dir, pos[testEntries/2], func(m *logqueue.ItemMeta) { m.Term, m.PrevTerm = 0, 4 })
			return location(pos[testEntries/2]) + ": index 100 has term 0, below the term 4"
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeLog(t, dir, testEntries, testEntries)
			pos, v := positions(t, dir)
			v.close()
			want := tt.damage(t, dir, pos)
			code, out, errOut := runCmd("verify", dir)
			require.Equal(t, exitFail, code, out+errOut)
			require.Contains(t, out, "CORRUPT")
			require.Contains(t, out, want)
			if !tt.notRecovery {
				require.NotEmpty(t, recoveryVerdict(t, dir), "recovery disagrees")
				require.Contains(t, want, recoveryVerdict(t, dir))
			}
		})
	}
}

// TestVerifyFollowsGrowingLog replays what verify meets beside a running
// owner: the walk stops at space that is still unwritten, and by the time
// it looks past it, the owner has written that entry and acknowledged
// later ones, whose DurableLag then seems to prove that an acknowledged
// entry is missing. verify must resume the walk and find the entry.
func TestVerifyFollowsGrowingLog(t *testing.T) {
	for _, grows := range []bool{true, false} {
		t.Run(fmt.Sprintf("grows=%v", grows), func(t *testing.T) {
			dir := t.TempDir()
			writeLog(t, dir, testEntries, 0)
			setStatus(t, dir, 0, 50)
			pos, v := positions(t, dir)
			v.close()
			size := int(pos[151] - pos[150])
			saved := readLog(t, dir, pos[150], size)
			patchLog(t, dir, pos[150], make([]byte, size)) // not written yet

			v, err := openView(dir)
			require.NoError(t, err)
			defer v.close()
			hooks := 0
			v.lookAheadHook = func() {
				if hooks++; hooks == 1 && grows {
					patchLog(t, dir, pos[150], saved) // the owner writes it
				}
			}
			r := verify(v)
			require.NoError(t, r.ioErr)
			if grows {
				require.Empty(t, r.corruptAt, r.corruptWhy)
				require.Equal(t, uint64(testEntries), r.lastIndex)
				require.Equal(t, uint64(testEntries), r.entries)
				require.Equal(t, 2, hooks)
				return
			}
			require.Equal(t, location(pos[150])+": unwritten space", r.corruptAt)
			require.Contains(t, r.corruptWhy, "index 150 is missing or damaged, but index 151 at "+location(pos[151]))
			require.Equal(t, uint64(149), r.lastIndex)
		})
	}
}

// TestVerifyStopsAtTruncatedItems leaves the items a tail truncation cut
// off in place, as a crash right after the truncation does: the status file
// records the truncation, and the items it cut off are stale, not entries.
func TestVerifyStopsAtTruncatedItems(t *testing.T) {
	dir := t.TempDir()
	writeLog(t, dir, testEntries, 0)
	pos, v := positions(t, dir)
	epoch := v.st.Epoch
	v.close()
	editStatus(t, dir, func(st *status.State) {
		st.Commit, st.PersistedIndex = 140, 140
		st.TruncatedFrom, st.Epoch = 150, epoch+1
		st.TruncEpoch = st.Epoch
	})

	code, out, errOut := runCmd("verify", dir)
	require.Equal(t, exitOK, code, out+errOut)
	require.Contains(t, out, "149 valid [1, 149]")
	require.Contains(t, out, "end          "+location(pos[150])+fmt.Sprintf(": a stale item (index 150, epoch %d)", epoch))

	code, out, errOut = runCmd("dump", "-data", "none", "-from", "145", dir)
	require.Equal(t, exitOK, code, errOut)
	require.Empty(t, errOut)
	require.Len(t, lines(out), 5)

	code, out, _ = runCmd("info", dir)
	require.Equal(t, exitOK, code)
	require.Contains(t, out, "last entry   index 149,")
	require.Contains(t, out, fmt.Sprintf("last tail truncation from index 150 (epoch %d)", epoch+1))
}
