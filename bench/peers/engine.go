package main

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// engine is one log engine driven through its public API. Every adapter is
// configured durable: Append returns only after the batch is on stable
// storage (the engine's own fsync or fdatasync has returned).
//
// Calls are not concurrent: the workloads hold one lock around Append and
// Submit, because every engine here needs indexes handed to it in order
// and most need external synchronisation for that anyway (pebble's
// LogWriter says so; raft-wal and tidwall/wal reject out-of-order indexes).
// Read may run alone, after the writes.
type engine interface {
	// Name is the label in tables and JSON.
	Name() string
	// Open creates a new, empty log in dir (which exists and is empty).
	Open(dir string) error
	// Append stores the batch's entries and returns once they are durable.
	Append(b *batch) error
	// Read returns the data of the entry at index, or errNoRandomRead.
	Read(index uint64) ([]byte, error)
	// Close releases the log; data appended before stays durable.
	Close() error
}

// submitter is an engine that can take an append without waiting for it,
// and whose appends in flight share syncs (group commit). Submit returns
// once the batch's bytes may be reused; wait returns once the batch, and
// every batch submitted before it, is durable. Submitted batches complete
// in submission order, so one goroutine may wait on them in that order.
type submitter interface {
	Submit(b *batch) (wait func() error, err error)
}

// scanner is an engine without random reads whose closed log can still be
// read back in full, so the tests can prove what it stored.
type scanner interface {
	// Scan reopens the log in dir after Close and calls fn for every entry
	// in order.
	Scan(dir string, fn func(index uint64, data []byte) error) error
}

// errNoRandomRead is the Read result of engines that have no way to read
// one entry by index (etcd's WAL can only be replayed whole; pebble's
// record.LogWriter is a write-ahead log with a sequential reader).
var errNoRandomRead = errors.New("no random read by index")

// batch is B entries of S bytes each, held in one buffer. Every entry
// starts with its index (little endian, truncated to S bytes when S < 8)
// and continues with the fixed pattern byte(j), so a read can prove which
// entry it got without making the payload hard to produce.
type batch struct {
	first uint64 // index of entry 0
	n     int    // entries
	size  int    // bytes per entry
	data  []byte // n*size bytes
}

// newBatch returns a batch of n entries of size bytes, not yet numbered.
func newBatch(n, size int) *batch {
	b := &batch{n: n, size: size, data: make([]byte, n*size)}
	for i := range n {
		e := b.entry(i)
		for j := range e {
			e[j] = byte(j)
		}
	}
	return b
}

// entry returns the bytes of entry i.
func (b *batch) entry(i int) []byte { return b.data[i*b.size : (i+1)*b.size] }

// index returns the index of entry i.
func (b *batch) index(i int) uint64 { return b.first + uint64(i) }

// number gives the batch the indexes first, first+1, … and stamps them
// into the entries.
func (b *batch) number(first uint64) {
	b.first = first
	var stamp [8]byte
	for i := range b.n {
		binary.LittleEndian.PutUint64(stamp[:], first+uint64(i))
		copy(b.entry(i), stamp[:])
	}
}

// checkEntry reports whether data is the entry a batch of entries of size
// bytes holds at index.
func checkEntry(index uint64, size int, data []byte) error {
	if len(data) != size {
		return fmt.Errorf("entry %d: %d bytes, want %d", index, len(data), size)
	}
	var stamp [8]byte
	binary.LittleEndian.PutUint64(stamp[:], index)
	n := min(8, size) // entries shorter than 8 bytes hold a truncated stamp
	for j := range n {
		if data[j] != stamp[j] {
			return fmt.Errorf("entry %d: holds the stamp of another entry (% x)", index, data[:n])
		}
	}
	for j := 8; j < size; j++ {
		if data[j] != byte(j) {
			return fmt.Errorf("entry %d: byte %d is %#x, want %#x", index, j, data[j], byte(j))
		}
	}
	return nil
}

// checkStamp is the cheap part of checkEntry, used on the timed read path:
// the entry carries the index asked for.
func checkStamp(index uint64, data []byte) error {
	if len(data) >= 8 && binary.LittleEndian.Uint64(data) != index {
		return fmt.Errorf("read %d: got the entry stamped %d", index, binary.LittleEndian.Uint64(data))
	}
	return nil
}

// engineFactories lists every engine in table order: raftlog first, raw
// last, the peers between.
var engineFactories = []func() engine{
	func() engine { return &raftlogEngine{} },
	func() engine { return &etcdEngine{} },
	func() engine { return &raftWALEngine{} },
	func() engine { return &boltEngine{} },
	func() engine { return &pebbleEngine{} },
	func() engine { return &tidwallEngine{} },
	func() engine { return &rawEngine{} },
}
