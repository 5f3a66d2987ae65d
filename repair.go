package raftlog

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/raftlog/raftlog/idxqueue"
	"github.com/raftlog/raftlog/logqueue"
	"github.com/raftlog/raftlog/pipeline"
	"github.com/raftlog/raftlog/restore"
	"github.com/raftlog/raftlog/status"
	"github.com/raftlog/raftlog/vfs"
)

// RepairReport says what Repair found and removed.
type RepairReport struct {
	// Corrupt is false when the log validated to its end and nothing was
	// removed (a torn tail is left for Open to cut, as after any crash).
	Corrupt bool
	// File and Offset locate the first item that failed validation; Reason
	// says why.
	File   string
	Offset int64
	Reason string
	// LastIndex is the last index kept.
	LastIndex uint64
	// CommitLowered is the commit index the status file held when the cut
	// went below it (0 when it did not): entries the cluster may consider
	// committed are gone from this node and must come back from a peer or a
	// snapshot.
	CommitLowered uint64
	// RemovedBytes counts the log bytes removed from the cut onward, and
	// SideDir is the directory (inside dir) that holds a copy of them: the
	// damaged file's bytes from the cut as "<file>.from-<offset>", and every
	// later log file whole.
	RemovedBytes int64
	SideDir      string
}

// Repair is the operator's way out of ErrCorrupt. It validates the whole log
// in dir from its first index, and if it finds corruption it cuts the log at
// the first bad item: the bytes from there to the end of that file are saved
// to a side directory and zeroed, later log files are moved into the side
// directory, and the status file is made to agree (persisted and commit
// index no higher than the last index kept). Nothing is deleted. The
// directory must not be open elsewhere (ErrLocked).
func Repair(dir string, opts Options) (RepairReport, error) {
	var rep RepairReport
	opts, err := opts.withDefaults()
	if err != nil {
		return rep, err
	}
	fs := opts.fs
	lock, err := fs.Lock(dir)
	if err != nil {
		if errors.Is(err, vfs.ErrLocked) {
			return rep, fmt.Errorf("%w: %w", ErrLocked, err)
		}
		return rep, fmt.Errorf("raftlog: lock %s: %w", dir, err)
	}
	defer lock.Close()

	stFile, st, _, err := status.Open(fs, dir)
	if err != nil {
		return rep, classify(err)
	}
	defer stFile.Close()
	ce, last, err := findCorruption(dir, opts, st)
	if err != nil {
		return rep, err
	}
	if ce == nil {
		rep.LastIndex = last
		return rep, nil
	}
	rep = RepairReport{Corrupt: true, File: ce.File, Offset: ce.Offset, Reason: ce.Reason, LastIndex: ce.Index - 1}

	rep.SideDir = filepath.Join(dir, "repair-"+time.Now().UTC().Format("20060102T150405.000Z"))
	if err := fs.MkdirAll(rep.SideDir); err != nil {
		return rep, err
	}
	removed, err := cutLogAt(fs, dir, rep.SideDir, ce.Pos, opts.LogFileSize)
	rep.RemovedBytes = removed
	if err != nil {
		return rep, err
	}

	if st.PersistedIndex > rep.LastIndex {
		st.PersistedIndex = rep.LastIndex
	}
	if st.Commit > rep.LastIndex {
		rep.CommitLowered = st.Commit
		st.Commit = rep.LastIndex
	}
	if err := stFile.Save(st); err != nil {
		return rep, fmt.Errorf("raftlog: repair: save status: %w", err)
	}
	return rep, nil
}

// findCorruption validates the whole log read-only and returns the first
// corruption, or nil and the last valid index.
func findCorruption(dir string, opts Options, st status.State) (*restore.CorruptionError, uint64, error) {
	exec, err := pipeline.NewExecutor(1)
	if err != nil {
		return nil, 0, err
	}
	defer exec.Close()
	lq, err := logqueue.Open(logqueue.Options{FS: opts.fs, Dir: dir, FileSize: opts.LogFileSize, Executor: exec})
	if err != nil {
		return nil, 0, classify(err)
	}
	defer lq.Close()
	iq, err := idxqueue.Open(idxqueue.Options{FS: opts.fs, Dir: dir, ItemsPerFile: opts.IdxItemsPerFile})
	if err != nil {
		return nil, 0, classify(err)
	}
	defer iq.Close()
	res, err := restore.Run(st, lq, iq, restore.Options{FullScan: true, ReadOnly: true})
	var ce *restore.CorruptionError
	switch {
	case err == nil:
		return nil, res.LastIndex, nil
	case errors.As(err, &ce):
		return ce, 0, nil
	}
	return nil, 0, err
}

// cutLogAt removes the log from position pos on: the bytes of pos's file from
// pos to its last non-zero byte are copied to sideDir and zeroed, and every
// later log file is moved into sideDir. It returns the bytes removed.
func cutLogAt(fs vfs.FS, dir, sideDir string, pos, fileSize int64) (int64, error) {
	var removed int64
	names, err := fs.List(dir)
	if err != nil {
		return 0, err
	}
	start := pos - pos%fileSize
	for _, name := range names {
		var fileStart int64
		if !strings.HasSuffix(name, ".log") {
			continue
		}
		if _, err := fmt.Sscanf(name, "%020d.log", &fileStart); err != nil {
			continue
		}
		switch {
		case fileStart == start:
			n, err := saveAndZero(fs, filepath.Join(dir, name), filepath.Join(sideDir, fmt.Sprintf("%s.from-%d", name, pos-start)), pos-start)
			removed += n
			if err != nil {
				return removed, err
			}
		case fileStart > start:
			size, err := fileSizeOf(fs, filepath.Join(dir, name))
			if err != nil {
				return removed, err
			}
			if err := fs.Rename(filepath.Join(dir, name), filepath.Join(sideDir, name)); err != nil {
				return removed, err
			}
			removed += size
		}
	}
	if err := fs.SyncDir(sideDir); err != nil {
		return removed, err
	}
	return removed, fs.SyncDir(dir)
}

// saveAndZero copies name's bytes from off to its last non-zero byte into a
// new file side, makes the copy durable (data and directory entries), and
// only then zeroes those bytes in name. It works in blocks, whatever the
// file size.
func saveAndZero(fs vfs.FS, name, side string, off int64) (int64, error) {
	f, err := fs.Open(name)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	size, err := f.Size()
	if err != nil {
		return 0, err
	}
	buf := make([]byte, 1<<20)
	block := func(at int64) ([]byte, error) {
		b := buf[:min(int64(len(buf)), size-at)]
		_, err := f.ReadAt(b, at)
		return b, err
	}
	end := off // one past the last non-zero byte
	for at := off; at < size; at += int64(len(buf)) {
		b, err := block(at)
		if err != nil {
			return 0, err
		}
		for i := len(b) - 1; i >= 0; i-- {
			if b[i] != 0 {
				end = at + int64(i) + 1
				break
			}
		}
	}

	sf, err := fs.Create(side)
	if err != nil {
		return 0, err
	}
	for at := off; at < end && err == nil; at += int64(len(buf)) {
		var b []byte
		if b, err = block(at); err == nil {
			_, err = sf.WriteAt(b[:min(int64(len(b)), end-at)], at-off)
		}
	}
	if err == nil {
		err = sf.Sync()
	}
	if cerr := sf.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = fs.SyncDir(filepath.Dir(side))
	}
	if err == nil {
		err = fs.SyncDir(filepath.Dir(name))
	}
	if err != nil {
		return 0, fmt.Errorf("raftlog: repair: save %s: %w", side, err)
	}

	clear(buf)
	for at := off; at < end; at += int64(len(buf)) {
		if _, err := f.WriteAt(buf[:min(int64(len(buf)), end-at)], at); err != nil {
			return 0, err
		}
	}
	return end - off, f.Sync()
}

func fileSizeOf(fs vfs.FS, name string) (int64, error) {
	f, err := fs.OpenReadOnly(name)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	return f.Size()
}
