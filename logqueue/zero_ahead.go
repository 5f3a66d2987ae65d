package logqueue

import (
	"cmp"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/raftlog/raftlog/chainwriter"

	"github.com/raftlog/raftlog/vfs"
)

// zeroAhead is the ZeroAhead preallocation: a goroutine that writes zeros
// over the fallocated space just ahead of the writer and syncs them, so
// that by the time the writer gets there every block is written and the
// writer's fdatasync flushes data only, no unwritten-extent conversion.
//
// It must never write over an item. The rule that guarantees it: the
// zeroer starts a chunk only if, under mu, the chunk begins at or above the
// queue's write position; Add raises the write position before the bytes
// are submitted, and the write goroutine, before each write, waits under mu
// until no chunk overlapping it is being zeroed. Either the zeroer looked
// at the write position after Add raised it past the chunk (and skipped
// the chunk), or it marked the chunk busy before the writer looked (and the
// writer waits for the zeros to land first, then writes over them).
//
// Zeroing is an optimisation only: its own file handles keep its write
// and sync errors away from the writer's descriptors (Linux reports a
// writeback error once per open file), and any error just stops it.
type zeroAhead struct {
	q    *Queue
	lead int64 // how far ahead of the write position to keep zeroed
	// maxSyncBytes is the pause threshold (zeroMaxSyncBytes by default).
	maxSyncBytes int64
	chunk        int64 // bytes per pwrite of zeros
	syncEvery    int64 // bytes of zeros between two fdatasyncs

	mu   sync.Mutex
	cond sync.Cond
	// busyStart, busyEnd is the chunk being written, as log positions;
	// busyEnd == 0 when none is.
	busyStart, busyEnd int64
	// zeroedTo is the end of the zeros written so far (log position).
	zeroedTo int64
	// ahead is set once zeroedTo has been lead/4 past the write position.
	ahead bool

	// kickAt is the write position past which Flush wakes the zeroer.
	kickAt atomic.Int64
	kick   chan struct{}
	stop   chan struct{}
	done   chan struct{}

	// The writer's force rounds, counted by syncCounter, and the zeroer's
	// last look at them (zeroer goroutine only): when the writer's
	// fdatasyncs are large, converting unwritten extents is a small part
	// of their cost and writing every byte twice is not, so it pauses.
	rounds, roundBytes     atomic.Int64
	sampleAt               time.Time
	sampleRounds, sampleBy int64
	paused                 bool

	// Written by the zeroer goroutine only.
	handles map[int64]vfs.File    // by file start
	stopped atomic.Pointer[error] // the error it gave up on
	written atomic.Int64          // bytes of zeros written, for tests and metrics
	skipped atomic.Int64          // bytes left alone as written before, for tests
	sample  []byte                // inUse's buffer
}

const (
	defaultZeroLead      = 16 << 20
	defaultZeroChunk     = 1 << 20
	defaultZeroSyncEvery = 4 << 20
	// zeroMaxSyncBytes is the average size of the writer's fdatasyncs
	// above which zeroing ahead stops paying on the disks measured
	// (PERFORMANCE.md): the zeroer's writes and syncs compete with the
	// writer's, and the writer's fdatasync also writes back any zeros not
	// yet synced, which at 192 KiB per sync (batch-wait 1024×128 B) gave
	// 1.05–1.17 M entries/s with a p99 of 12–14 ms against 1.49–1.78 M and
	// 1.4 ms with the zeroer paused. Below 128 KiB the metadata writes it
	// saves (the extent conversion) are the larger part of each sync.
	zeroMaxSyncBytes = 128 << 10
	// zeroSampleEvery is how often the zeroer looks at the writer's syncs.
	zeroSampleEvery = 20 * time.Millisecond
)

func newZeroAhead(q *Queue, from int64) *zeroAhead {
	z := &zeroAhead{
		q:            q,
		lead:         q.opts.ZeroAheadLead,
		maxSyncBytes: cmp.Or(q.opts.zeroMaxSyncBytes, zeroMaxSyncBytes),
		chunk:        min(int64(defaultZeroChunk), q.opts.ZeroAheadLead/4),
		syncEvery:    min(int64(defaultZeroSyncEvery), q.opts.ZeroAheadLead/2),
		zeroedTo:     from,
		kick:         make(chan struct{}, 1),
		stop:         make(chan struct{}),
		done:         make(chan struct{}),
		handles:      make(map[int64]vfs.File),
		sample:       make([]byte, usedSample),
	}
	z.cond.L = &z.mu
	go z.run()
	return z
}

// awaitClear blocks while a chunk overlapping [pos, pos+n) is being zeroed.
// The write goroutine calls it before every write.
func (z *zeroAhead) awaitClear(pos, n int64) {
	z.mu.Lock()
	for z.busyEnd != 0 && z.busyStart < pos+n && pos < z.busyEnd {
		z.cond.Wait()
	}
	z.mu.Unlock()
}

// flushed wakes the zeroer once the write position passes kickAt. It runs
// on the Add/Flush goroutine.
func (z *zeroAhead) flushed(wp int64) {
	if wp >= z.kickAt.Load() {
		z.wake()
	}
}

// wake makes the zeroer look again at what there is to do.
func (z *zeroAhead) wake() {
	select {
	case z.kick <- struct{}{}:
	default:
	}
}

// close stops the zeroer and waits for it.
func (z *zeroAhead) close() {
	close(z.stop)
	<-z.done
}

func (z *zeroAhead) run() {
	defer close(z.done)
	defer z.closeHandles()
	var unsynced int64
	var syncFile vfs.File // the handle with zeros not yet synced
	var syncStart int64   // the start of its file
	for {
		select {
		case <-z.stop:
			return
		default:
		}
		pos, end, lf, ahead := z.claim()
		if lf == nil {
			if syncFile != nil {
				if z.fail(syncFile.Sync()) {
					return
				}
				syncFile, unsynced = nil, 0
			}
			select {
			case <-z.stop:
				return
			case <-z.kick:
			}
			continue
		}
		var err error
		if syncFile != nil && syncStart != lf.start {
			// Moving to the next file: the zeros left behind are synced
			// before handle closes that file's descriptor.
			err = syncFile.Sync()
			syncFile, unsynced = nil, 0
		}
		var h vfs.File
		if err == nil {
			h, err = z.handle(lf)
		}
		used := false
		if err == nil && lf.origin == foundAtOpen {
			used, err = z.inUse(h, pos-lf.start)
		}
		if err == nil && !used {
			_, err = h.WriteAt(zeros[:end-pos], pos-lf.start)
		}
		z.release(end)
		if z.fail(err) {
			return
		}
		if used {
			z.skipped.Add(end - pos)
			continue
		}
		z.written.Add(end - pos)
		syncFile, syncStart = h, lf.start
		unsynced += end - pos
		// Until the zeros are well ahead the writer is close behind them,
		// and its fdatasync would write back any zeros not yet synced
		// (fdatasync covers the whole file): sync each chunk then.
		if unsynced >= z.syncEvery || !ahead {
			if z.fail(h.Sync()) {
				return
			}
			syncFile, unsynced = nil, 0
		}
	}
}

// usedSample is how many bytes at the start of a chunk inUse reads.
const usedSample = 4 << 10

// inUse reports whether the chunk at off of h's file was written before:
// its first usedSample bytes are not all zero. The zeroer asks it of files
// it knows nothing about, those found by Open: one recycled (recycle.go)
// in an earlier run was written whole in its first life and needs no
// zeros, and the writer's data never sits above the write position (the
// chunk is claimed above it). A chunk that holds zeros by chance is zeroed
// again, which costs time and nothing else.
func (z *zeroAhead) inUse(h vfs.File, off int64) (bool, error) {
	n := min(usedSample, z.q.opts.FileSize-off)
	if _, err := h.ReadAt(z.sample[:n], off); err != nil {
		return false, err
	}
	first, _ := dirtyRange(z.sample[:n])
	return first >= 0, nil
}

// claim picks the next chunk to zero and marks it busy, or returns a nil
// file when there is nothing to do now (far enough ahead, or the next file
// is not allocated yet); then kickAt says when to look again. ahead says
// whether the zeros have once been lead/4 ahead of the writer.
func (z *zeroAhead) claim() (pos, end int64, lf *logFile, ahead bool) {
	z.mu.Lock()
	defer z.mu.Unlock()
	wp := z.q.writePos.Load()
	// Once the zeros have been a quarter of the lead ahead, a writer that
	// comes closer than that is about to overtake them (or TruncateTail's
	// rewrite is below them): zeroing right in front of it would only make
	// it wait, so start again well ahead, on a chunk boundary. Until then
	// (a new log, or one just opened) the zeroer starts at the write
	// position and restarts ahead only once the writer has passed it:
	// otherwise the first lead/2 bytes after every open would never be
	// zeroed, and a short run (a Raft node writing a few megabytes) would
	// never reach zeroed space.
	margin := int64(0)
	if z.ahead {
		margin = z.lead / 4
	}
	if z.zeroedTo < wp+margin {
		z.zeroedTo = (wp + z.lead/2 + z.chunk - 1) / z.chunk * z.chunk
	}
	if z.zeroedTo >= wp+z.lead/4 {
		z.ahead = true
	}
	if z.pausedForLargeSyncs() {
		z.kickAt.Store(wp + z.lead/4)
		return 0, 0, nil, z.ahead
	}
	for {
		if z.zeroedTo >= wp+z.lead {
			z.kickAt.Store(z.zeroedTo - z.lead + z.lead/4)
			return 0, 0, nil, z.ahead
		}
		pos = z.zeroedTo
		lf = z.q.fileFor(pos)
		if lf == nil {
			// The next file is still being allocated; its allocation wakes
			// the zeroer.
			z.kickAt.Store(wp + z.chunk)
			return 0, 0, nil, z.ahead
		}
		if lf.origin != recycled {
			break
		}
		// A recycled file's blocks were all written in its first life
		// (recycle.go): there is nothing to zero in it.
		fileEnd := lf.start + z.q.opts.FileSize
		z.skipped.Add(fileEnd - pos)
		z.zeroedTo = fileEnd
	}
	end = min(pos+z.chunk, lf.start+z.q.opts.FileSize)
	z.busyStart, z.busyEnd = pos, end
	return pos, end, lf, z.ahead
}

// pausedForLargeSyncs reports whether the writer's recent fdatasyncs were
// large enough on average that zeroing should wait, looking again every
// zeroSampleEvery.
func (z *zeroAhead) pausedForLargeSyncs() bool {
	now := time.Now()
	if now.Sub(z.sampleAt) < zeroSampleEvery {
		return z.paused
	}
	rounds, bytes := z.rounds.Load(), z.roundBytes.Load()
	if n := rounds - z.sampleRounds; n > 0 {
		z.paused = (bytes-z.sampleBy)/n > z.maxSyncBytes
	}
	z.sampleAt, z.sampleRounds, z.sampleBy = now, rounds, bytes
	return z.paused
}

// syncCounter is the chainwriter Observer under ZeroAhead: it counts the
// force rounds for the zeroer and passes everything on.
type syncCounter struct {
	z    *zeroAhead
	next chainwriter.Observer
}

func (c syncCounter) Wrote(bytes int, nanos int64) {
	if c.next != nil {
		c.next.Wrote(bytes, nanos)
	}
}

func (c syncCounter) Forced(files int, bytes int64, nanos int64) {
	c.z.roundBytes.Add(bytes)
	c.z.rounds.Add(1)
	if c.next != nil {
		c.next.Forced(files, bytes, nanos)
	}
}

func (z *zeroAhead) release(end int64) {
	z.mu.Lock()
	z.busyStart, z.busyEnd = 0, 0
	z.zeroedTo = end
	z.cond.Broadcast()
	z.mu.Unlock()
}

// handle returns the zeroer's own descriptor for lf, closing those of files
// it has left behind.
func (z *zeroAhead) handle(lf *logFile) (vfs.File, error) {
	if h, ok := z.handles[lf.start]; ok {
		return h, nil
	}
	for start, h := range z.handles {
		if start < lf.start {
			_ = h.Close()
			delete(z.handles, start)
		}
	}
	h, err := z.q.opts.FS.Open(filepath.Join(z.q.opts.Dir, lf.name))
	if err != nil {
		return nil, err
	}
	z.handles[lf.start] = h
	return h, nil
}

func (z *zeroAhead) closeHandles() {
	for start, h := range z.handles {
		_ = h.Close()
		delete(z.handles, start)
	}
}

// fail reports whether err stops the zeroer. Nothing depends on the zeros:
// the writer's own writes and syncs are what make data durable.
func (z *zeroAhead) fail(err error) bool {
	if err == nil {
		return false
	}
	z.stopped.Store(&err)
	return true
}

// zeroGuardFile is a log file as the write goroutine sees it under
// ZeroAhead: every write first waits until no zeros are being written over
// its range.
type zeroGuardFile struct {
	vfs.File
	start int64
	z     *zeroAhead
}

func (g *zeroGuardFile) WriteAt(b []byte, off int64) (int, error) {
	g.z.awaitClear(g.start+off, int64(len(b)))
	return g.File.WriteAt(b, off)
}

func (g *zeroGuardFile) WritevAt(bufs [][]byte, off int64) (int, error) {
	var n int64
	for _, b := range bufs {
		n += int64(len(b))
	}
	g.z.awaitClear(g.start+off, n)
	return g.File.WritevAt(bufs, off)
}
