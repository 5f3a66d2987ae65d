package main

import (
	"fmt"
	"path/filepath"

	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
)

// boltEngine is hashicorp/raft-boltdb v2 (on go.etcd.io/bbolt) with
// NoSync false and bbolt's default options: every StoreLogs is one
// read-write transaction whose commit fdatasyncs the data and then the
// meta page. bbolt allows one writer at a time: no group commit.
type boltEngine struct {
	s    *raftboltdb.BoltStore
	logs []raft.Log
	ptrs []*raft.Log
}

func (e *boltEngine) Name() string { return "raft-boltdb" }

func (e *boltEngine) Open(dir string) error {
	s, err := raftboltdb.New(raftboltdb.Options{Path: filepath.Join(dir, "raft.db"), NoSync: false})
	if err != nil {
		return fmt.Errorf("raft-boltdb open: %w", err)
	}
	e.s = s
	return nil
}

func (e *boltEngine) Append(b *batch) error {
	if err := e.s.StoreLogs(raftLogs(b, &e.logs, &e.ptrs)); err != nil {
		return fmt.Errorf("raft-boltdb store %d: %w", b.first, err)
	}
	return nil
}

func (e *boltEngine) Read(index uint64) ([]byte, error) {
	var l raft.Log
	if err := e.s.GetLog(index, &l); err != nil {
		return nil, fmt.Errorf("raft-boltdb get %d: %w", index, err)
	}
	return l.Data, nil
}

func (e *boltEngine) Close() error {
	if err := e.s.Close(); err != nil {
		return fmt.Errorf("raft-boltdb close: %w", err)
	}
	return nil
}
