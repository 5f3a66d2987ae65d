package main

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"sync"

	"github.com/cockroachdb/pebble/record"
	"github.com/cockroachdb/pebble/vfs"
)

// pebbleEngine is pebble's WAL writer, record.LogWriter, set up the way
// pebble's DB sets up a new WAL (v1.1.5 open.go): vfs.Default file wrapped
// by vfs.NewSyncingFile with PreallocateSize 110% of the default 4 MiB
// memtable (fallocate KEEP_SIZE ahead of the writer) and WALBytesPerSync 0;
// Sync on that file is fdatasync. Each entry is one record. The last
// record of a call is written with SyncRecord and a WaitGroup, so the
// LogWriter's flush goroutine writes and fdatasyncs every record queued
// before it and releases all waiters of that sync at once: group commit.
// Pebble's own commit pipeline takes a slot of a SyncConcurrency-sized
// semaphore before each synced record; so does this adapter.
type pebbleEngine struct {
	w   *record.LogWriter
	sem chan struct{} // LogWriterConfig.QueueSemChan: bounds the sync queue
}

// pebbleLogNum is the file number written into every chunk header, as
// pebble tags records with their WAL's number to reject recycled bytes.
const pebbleLogNum = 1

// pebblePrealloc is pebble's walPreallocateSize for the default MemTableSize.
const pebblePrealloc = (4 << 20) + (4<<20)/10

func pebbleFile(dir string) string { return filepath.Join(dir, "000001.log") }

func (e *pebbleEngine) Name() string { return "pebble-record" }

func (e *pebbleEngine) Open(dir string) error {
	f, err := vfs.Default.Create(pebbleFile(dir))
	if err != nil {
		return fmt.Errorf("pebble create wal: %w", err)
	}
	// Pebble syncs the directory after creating a WAL file, before using it.
	d, err := vfs.Default.OpenDir(dir)
	if err != nil {
		_ = f.Close()
		return fmt.Errorf("pebble open dir: %w", err)
	}
	err = d.Sync()
	_ = d.Close()
	if err != nil {
		_ = f.Close()
		return fmt.Errorf("pebble sync dir: %w", err)
	}
	sf := vfs.NewSyncingFile(f, vfs.SyncingFileOptions{PreallocateSize: pebblePrealloc})
	e.sem = make(chan struct{}, record.SyncConcurrency)
	e.w = record.NewLogWriter(sf, pebbleLogNum, record.LogWriterConfig{QueueSemChan: e.sem})
	return nil
}

// pebbleWait is one synced record's WaitGroup and error slot.
type pebbleWait struct {
	wg  sync.WaitGroup
	err error
}

func (e *pebbleEngine) Submit(b *batch) (func() error, error) {
	for i := range b.n - 1 {
		if _, err := e.w.SyncRecord(b.entry(i), nil, nil); err != nil {
			return nil, fmt.Errorf("pebble write record %d: %w", b.index(i), err)
		}
	}
	pw := &pebbleWait{}
	pw.wg.Add(1)
	e.sem <- struct{}{} // released by the flush loop when it pops the waiter
	if _, err := e.w.SyncRecord(b.entry(b.n-1), &pw.wg, &pw.err); err != nil {
		<-e.sem
		return nil, fmt.Errorf("pebble sync record %d: %w", b.index(b.n-1), err)
	}
	first := b.first
	return func() error {
		pw.wg.Wait()
		if pw.err != nil {
			return fmt.Errorf("pebble sync %d: %w", first, pw.err)
		}
		return nil
	}, nil
}

func (e *pebbleEngine) Append(b *batch) error {
	wait, err := e.Submit(b)
	if err != nil {
		return err
	}
	return wait()
}

func (e *pebbleEngine) Read(uint64) ([]byte, error) { return nil, errNoRandomRead }

func (e *pebbleEngine) Close() error {
	if err := e.w.Close(); err != nil {
		return fmt.Errorf("pebble close wal: %w", err)
	}
	return nil
}

// Scan reads the WAL back with pebble's record.Reader; entry i is record i.
func (e *pebbleEngine) Scan(dir string, fn func(uint64, []byte) error) error {
	f, err := vfs.Default.Open(pebbleFile(dir))
	if err != nil {
		return fmt.Errorf("pebble open wal: %w", err)
	}
	defer f.Close()
	r := record.NewReader(f, pebbleLogNum)
	for index := uint64(1); ; index++ {
		rr, err := r.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("pebble read record %d: %w", index, err)
		}
		data, err := io.ReadAll(rr)
		if err != nil {
			return fmt.Errorf("pebble read record %d: %w", index, err)
		}
		if err := fn(index, data); err != nil {
			return err
		}
	}
}
