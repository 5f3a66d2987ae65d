package main

import (
	"fmt"

	"github.com/tidwall/wal"
)

// tidwallEngine is tidwall/wal with DefaultOptions (NoSync false: the
// segment file is fsynced after every WriteBatch; 20 MB segments, binary
// format, NoCopy false so Read returns a copy like the other engines).
// One lock covers write and fsync: no group commit.
type tidwallEngine struct {
	l *wal.Log
	b wal.Batch
}

func (e *tidwallEngine) Name() string { return "tidwall-wal" }

func (e *tidwallEngine) Open(dir string) error {
	opts := *wal.DefaultOptions
	opts.NoSync = false
	l, err := wal.Open(dir, &opts)
	if err != nil {
		return fmt.Errorf("tidwall wal open: %w", err)
	}
	e.l = l
	return nil
}

func (e *tidwallEngine) Append(b *batch) error {
	// Batch.Write copies the data, and WriteBatch clears the batch.
	for i := range b.n {
		e.b.Write(b.index(i), b.entry(i))
	}
	if err := e.l.WriteBatch(&e.b); err != nil {
		e.b.Clear()
		return fmt.Errorf("tidwall wal write %d: %w", b.first, err)
	}
	return nil
}

func (e *tidwallEngine) Read(index uint64) ([]byte, error) {
	data, err := e.l.Read(index)
	if err != nil {
		return nil, fmt.Errorf("tidwall wal read %d: %w", index, err)
	}
	return data, nil
}

func (e *tidwallEngine) Close() error {
	if err := e.l.Close(); err != nil {
		return fmt.Errorf("tidwall wal close: %w", err)
	}
	return nil
}
