package main

import (
	"context"
	"fmt"

	"github.com/raftlog/raftlog"
)

// raftlogEngine is raftlog with default Options: 1 GiB zero-filled log
// files, every Append future completes after pwritev + fdatasync, appends
// in flight share fdatasyncs.
type raftlogEngine struct {
	name string          // "" is "raftlog"; variants with other options say so
	opts raftlog.Options // zero: the defaults; tests shrink the files
	log  *raftlog.Log
	es   []raftlog.Entry // reused per call: Append copies the bytes it keeps
}

func (e *raftlogEngine) Name() string {
	if e.name == "" {
		return "raftlog"
	}
	return e.name
}

func (e *raftlogEngine) Open(dir string) error {
	l, err := raftlog.Open(dir, e.opts)
	if err != nil {
		return fmt.Errorf("raftlog open: %w", err)
	}
	e.log = l
	return nil
}

// entries points the reused entry slice at the batch's bytes.
func (e *raftlogEngine) entries(b *batch) []raftlog.Entry {
	if cap(e.es) < b.n {
		e.es = make([]raftlog.Entry, b.n)
	}
	es := e.es[:b.n]
	for i := range es {
		es[i] = raftlog.Entry{Index: b.index(i), Term: 1, Data: b.entry(i)}
	}
	return es
}

func (e *raftlogEngine) Append(b *batch) error {
	// AppendWait: written and synced on this goroutine when nothing else
	// is in flight, as the synchronous engines do.
	if _, err := e.log.AppendWait(context.Background(), e.entries(b)); err != nil {
		return fmt.Errorf("raftlog append %d: %w", b.first, err)
	}
	return nil
}

func (e *raftlogEngine) Submit(b *batch) (func() error, error) {
	f := e.log.Append(e.entries(b))
	first := b.first
	return func() error {
		if _, err := f.Wait(context.Background()); err != nil {
			return fmt.Errorf("raftlog append %d: %w", first, err)
		}
		return nil
	}, nil
}

func (e *raftlogEngine) Read(index uint64) ([]byte, error) {
	ent, err := e.log.Entry(index)
	if err != nil {
		return nil, fmt.Errorf("raftlog read %d: %w", index, err)
	}
	return ent.Data, nil
}

func (e *raftlogEngine) Close() error {
	if err := e.log.Close(); err != nil {
		return fmt.Errorf("raftlog close: %w", err)
	}
	return nil
}
