package main

import (
	"fmt"

	"github.com/hashicorp/raft"
	wal "github.com/hashicorp/raft-wal"
)

// raftWALEngine is hashicorp/raft-wal with its defaults: 64 MiB segments
// preallocated with fallocate, a bolt meta store, and StoreLogs that
// writes the batch and fsyncs the segment before it returns. StoreLogs
// holds the WAL's write lock across write and fsync: no group commit.
type raftWALEngine struct {
	w    *wal.WAL
	logs []raft.Log
	ptrs []*raft.Log
}

func (e *raftWALEngine) Name() string { return "raft-wal" }

func (e *raftWALEngine) Open(dir string) error {
	w, err := wal.Open(dir)
	if err != nil {
		return fmt.Errorf("raft-wal open: %w", err)
	}
	e.w = w
	return nil
}

// raftLogs fills the reused raft.Log slice from the batch; Data aliases
// the batch, which StoreLogs encodes before it returns.
func raftLogs(b *batch, logs *[]raft.Log, ptrs *[]*raft.Log) []*raft.Log {
	if cap(*ptrs) < b.n {
		*logs = make([]raft.Log, b.n)
		*ptrs = make([]*raft.Log, b.n)
		for i := range *ptrs {
			(*ptrs)[i] = &(*logs)[i]
		}
	}
	ps := (*ptrs)[:b.n]
	for i, l := range ps {
		*l = raft.Log{Index: b.index(i), Term: 1, Type: raft.LogCommand, Data: b.entry(i)}
	}
	return ps
}

func (e *raftWALEngine) Append(b *batch) error {
	if err := e.w.StoreLogs(raftLogs(b, &e.logs, &e.ptrs)); err != nil {
		return fmt.Errorf("raft-wal store %d: %w", b.first, err)
	}
	return nil
}

func (e *raftWALEngine) Read(index uint64) ([]byte, error) {
	var l raft.Log
	if err := e.w.GetLog(index, &l); err != nil {
		return nil, fmt.Errorf("raft-wal get %d: %w", index, err)
	}
	return l.Data, nil
}

func (e *raftWALEngine) Close() error {
	if err := e.w.Close(); err != nil {
		return fmt.Errorf("raft-wal close: %w", err)
	}
	return nil
}
