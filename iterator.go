package raftlog

import (
	"errors"
	"fmt"

	"github.com/raftlog/raftlog/logqueue"
)

// IterOptions configure an Iterator.
type IterOptions struct {
	// ReadAhead is the size of each read from a log file. Default 1 MiB.
	ReadAhead int
	// ReuseBuffers makes what Next returns valid only until the next call
	// of Next: that call reads into the blocks the entries of the previous
	// one pointed into, instead of new ones, and returns its entries in
	// the same []Entry. It suits a caller that is done with each batch
	// (has encoded or sent it) before asking for the next, as a
	// replication loop is, and saves zeroing a fresh block and collecting
	// it for every ReadAhead bytes read.
	ReuseBuffers bool
}

// Iterator reads the log sequentially from an index, for replication and
// catch-up: it reads ahead in large blocks (entries not yet written come from
// memory), checks every CRC and that each item carries the index expected,
// and keeps working while appends, truncation and compaction go on. An
// Iterator belongs to one goroutine; Close it when done, since it keeps the
// log file it is in from being deleted.
//
// The entries' byte slices are the caller's (unless ReuseBuffers). They are
// not copied: they point into the read-ahead block they were read in, which
// the Iterator never writes again (it reads every block into a new buffer),
// so entries returned together share a block and one entry kept alive keeps
// its block (at most ReadAhead bytes) alive.
type Iterator struct {
	l      *Log
	next   uint64
	opts   IterOptions
	rd     *logqueue.Reader
	closed bool
	blocks blockPool // under ReuseBuffers
	out    []Entry   // the last call's result, under ReuseBuffers
}

// blockPool recycles an Iterator's read-ahead blocks under ReuseBuffers.
// used holds the blocks allocated since the last recycle (the entries
// handed out point into them); free the ones no entry may still use.
type blockPool struct {
	used, free [][]byte
	made       int // blocks allocated rather than reused
	reused     int // blocks taken from free
}

// maxFreeBlocks bounds what an idle Iterator keeps: one Next call with a
// byte limit spans a few blocks.
const maxFreeBlocks = 8

func (p *blockPool) alloc(n int) []byte {
	for i := len(p.free) - 1; i >= 0; i-- {
		if b := p.free[i]; cap(b) >= n {
			p.free = append(p.free[:i], p.free[i+1:]...)
			p.used = append(p.used, b[:n])
			p.reused++
			return b[:n]
		}
	}
	b := make([]byte, n)
	p.made++
	p.used = append(p.used, b)
	return b
}

// recycle frees every block in use except live, the one the reader is
// still reading from: the items after the last one handed out are in it.
func (p *blockPool) recycle(live []byte) {
	var keep [][]byte
	for _, b := range p.used {
		if len(live) > 0 && &b[0] == &live[0] {
			keep = append(keep, b)
			continue
		}
		p.free = append(p.free, b)
		if len(p.free) > maxFreeBlocks {
			// Drop the smallest: blocks sized for one large item or cut
			// short by a file's end fit fewer later reads.
			i := 0
			for j := range p.free {
				if cap(p.free[j]) < cap(p.free[i]) {
					i = j
				}
			}
			p.free = append(p.free[:i], p.free[i+1:]...)
		}
	}
	p.used = append(p.used[:0], keep...)
}

// NewIterator returns an iterator whose first entry is from.
func (l *Log) NewIterator(from uint64, opts IterOptions) *Iterator {
	if opts.ReadAhead <= 0 {
		opts.ReadAhead = 1 << 20
	}
	return &Iterator{l: l, next: from, opts: opts}
}

// Next returns the next entries: at most maxEntries (≤ 0: no limit) and, past
// the first, no more than maxBytes of encoded size (≤ 0: no limit). It
// returns at least one entry when one exists after the previous call, and
// none (with a nil error) when the iterator has caught up with LastIndex.
// Entries below FirstIndex give ErrCompacted.
func (it *Iterator) Next(maxEntries, maxBytes int) ([]Entry, error) {
	if it.closed {
		return nil, ErrClosed
	}
	l := it.l
	if l.closed.Load() {
		return nil, ErrClosed
	}
	if it.opts.ReuseBuffers {
		var live []byte
		if it.rd != nil {
			live = it.rd.Block()
		}
		it.blocks.recycle(live)
	}
	var out []Entry
	if it.opts.ReuseBuffers {
		out = it.out[:0]
		defer func() { it.out = out[:0] }()
	}
	var total int64
	for maxEntries <= 0 || len(out) < maxEntries {
		if err := l.checkRead(it.next, it.next); err != nil {
			if errors.Is(err, ErrUnavailable) {
				break // caught up
			}
			return out, err
		}
		if out == nil {
			// Sized once for what is there: growing it by appends would copy
			// it about log2(n) times.
			n := l.lastIndex.Load() - it.next + 1
			if maxEntries > 0 {
				n = min(n, uint64(maxEntries))
			}
			out = make([]Entry, 0, min(n, 1024))
		}
		e, size, err := it.read()
		if err != nil {
			return out, err
		}
		if maxBytes > 0 && len(out) > 0 && total+size > int64(maxBytes) {
			// Keep it for the next call.
			it.rd.SeekTo(it.rd.Pos() - size)
			break
		}
		total += size
		out = append(out, e)
		it.next++
	}
	return out, nil
}

// read reads the entry it.next, seeking through the index when the reader is
// not positioned (the first call, or after truncation or compaction moved
// things under it).
func (it *Iterator) read() (Entry, int64, error) {
	for attempt := 0; ; attempt++ {
		if it.rd == nil {
			pos, err := it.l.iq.Position(it.next)
			if err != nil {
				return Entry{}, 0, it.l.readError(it.next, err)
			}
			it.rd = it.l.lq.NewReader(pos, it.opts.ReadAhead)
			it.rd.Retain() // the entries' slices are handed out as they are
			if it.opts.ReuseBuffers {
				it.rd.SetAlloc(it.blocks.alloc)
			}
		}
		m, hdr, data, _, err := it.rd.Next()
		if err == nil && m.Index == it.next {
			size := logqueue.EncodedSize(len(hdr), len(data))
			return entryOf(&m, hdr, data), size, nil
		}
		// The reader was positioned on something else: seek once through
		// the index before calling it corrupt.
		it.rd.Close()
		it.rd = nil
		if attempt > 0 {
			if err == nil {
				err = fmt.Errorf("%w: expected index %d, found %d", ErrCorrupt, it.next, m.Index)
			}
			return Entry{}, 0, it.l.readError(it.next, err)
		}
	}
}

// Close releases the iterator. Next returns ErrClosed afterwards.
func (it *Iterator) Close() {
	if it.rd != nil {
		it.rd.Close()
		it.rd = nil
	}
	it.blocks = blockPool{}
	it.closed = true
}
