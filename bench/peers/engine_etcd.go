package main

import (
	"fmt"
	"path/filepath"

	"go.etcd.io/etcd/server/v3/storage/wal"
	"go.etcd.io/etcd/server/v3/storage/wal/walpb"
	"go.etcd.io/raft/v3/raftpb"
	"go.uber.org/zap"
)

// etcdEngine is etcd's WAL as etcd's raft node uses it: wal.Create, then
// one w.Save(hardState, entries) per Ready. Save fdatasyncs whenever
// entries are given (raft.MustSync is true for any entsnum != 0), under
// the WAL's mutex, so concurrent callers serialize: no group commit.
// Segments are etcd's default 64 MB, preallocated with fallocate by its
// file pipeline. There is no random read: a WAL is replayed whole with
// ReadAll.
type etcdEngine struct {
	w    *wal.WAL
	hs   raftpb.HardState // empty: the entries alone force the sync
	term uint64
	idx  []uint64 // backing store of the entries' Index pointers
	ents []raftpb.Entry
	ptrs []*raftpb.Entry
}

func (e *etcdEngine) Name() string { return "etcd-wal" }

// walDir is a subdirectory because wal.Create builds its directory under
// a temporary name and renames it into place.
func walDir(dir string) string { return filepath.Join(dir, "wal") }

func (e *etcdEngine) Open(dir string) error {
	w, err := wal.Create(zap.NewNop(), walDir(dir), nil)
	if err != nil {
		return fmt.Errorf("etcd wal create: %w", err)
	}
	e.w = w
	e.term = 1
	return nil
}

// entries fills the reused protobuf entries from the batch. Data aliases
// the batch: Save encodes before it returns.
func (e *etcdEngine) entries(b *batch) []*raftpb.Entry {
	if cap(e.ptrs) < b.n {
		e.idx = make([]uint64, b.n)
		e.ents = make([]raftpb.Entry, b.n)
		e.ptrs = make([]*raftpb.Entry, b.n)
		for i := range e.ptrs {
			e.ptrs[i] = &e.ents[i]
		}
	}
	for i := range b.n {
		e.idx[i] = b.index(i)
		ent := e.ptrs[i]
		ent.Index = &e.idx[i]
		ent.Term = &e.term
		ent.Data = b.entry(i)
	}
	return e.ptrs[:b.n]
}

func (e *etcdEngine) Append(b *batch) error {
	if err := e.w.Save(&e.hs, e.entries(b)); err != nil {
		return fmt.Errorf("etcd wal save %d: %w", b.first, err)
	}
	return nil
}

func (e *etcdEngine) Read(uint64) ([]byte, error) { return nil, errNoRandomRead }

func (e *etcdEngine) Close() error {
	if err := e.w.Close(); err != nil {
		return fmt.Errorf("etcd wal close: %w", err)
	}
	return nil
}

// Scan replays the WAL the way etcd does at start-up.
func (e *etcdEngine) Scan(dir string, fn func(uint64, []byte) error) error {
	w, err := wal.Open(zap.NewNop(), walDir(dir), &walpb.Snapshot{})
	if err != nil {
		return fmt.Errorf("etcd wal open: %w", err)
	}
	defer w.Close()
	_, _, ents, err := w.ReadAll()
	if err != nil {
		return fmt.Errorf("etcd wal read all: %w", err)
	}
	for _, ent := range ents {
		if err := fn(ent.GetIndex(), ent.GetData()); err != nil {
			return err
		}
	}
	return nil
}
