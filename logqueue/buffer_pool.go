package logqueue

import (
	"sync"
	"sync/atomic"
)

// chunk is one encode buffer. Items are encoded into it back to back by the
// Add goroutine; consecutive Flushes submit disjoint ranges of it, so one
// chunk may be shared by several write tasks at once.
//
// refs counts the holders: one for the Add goroutine while the chunk is its
// current one, plus one per piece (a range of the chunk inside a pending or
// in-flight write task). The chunk goes back to the pool when the last
// holder lets go, which is when it is full (retired by Add) and every task
// using it has been written. Add starts its current chunk over (used = 0)
// only when it is the one holder left. So no byte is rewritten while a
// piece covers it, and readers copying from in-flight pieces and the write
// goroutine never see a byte change under them.
type chunk struct {
	buf    []byte
	used   int // bytes handed out; owned by the Add goroutine
	refs   atomic.Int32
	pooled bool // false for a one-off buffer of an oversized item
}

// bufferPool is a bounded free list of chunks of one size.
type bufferPool struct {
	size    int
	maxFree int
	mu      sync.Mutex
	free    []*chunk
}

// maxFreeBytes bounds the memory the pool keeps idle. It is generous because
// the chunks in flight swing with the writer's queue depth: a free list
// smaller than the swing drops chunks on the way down only to allocate them
// again on the way up.
const maxFreeBytes = 32 << 20

func newBufferPool(size int) *bufferPool {
	maxFree := max(4, maxFreeBytes/size)
	return &bufferPool{size: size, maxFree: maxFree, free: make([]*chunk, 0, maxFree)}
}

// get returns a chunk with one reference (the caller's).
func (p *bufferPool) get() *chunk {
	p.mu.Lock()
	var c *chunk
	if n := len(p.free); n > 0 {
		c = p.free[n-1]
		p.free[n-1] = nil
		p.free = p.free[:n-1]
	}
	p.mu.Unlock()
	if c == nil {
		c = &chunk{buf: make([]byte, p.size), pooled: true}
	}
	c.used = 0
	c.refs.Store(1)
	return c
}

// oneOff returns an unpooled chunk of exactly size bytes with one reference.
func (p *bufferPool) oneOff(size int) *chunk {
	c := &chunk{buf: make([]byte, size)}
	c.refs.Store(1)
	return c
}

func (p *bufferPool) retain(c *chunk) { c.refs.Add(1) }

// release drops one reference; the last one returns the chunk to the pool.
func (p *bufferPool) release(c *chunk) {
	switch n := c.refs.Add(-1); {
	case n > 0:
		return
	case n < 0:
		panicf("chunk released more often than retained")
	}
	if !c.pooled {
		return
	}
	p.mu.Lock()
	if len(p.free) < p.maxFree {
		p.free = append(p.free, c)
	}
	p.mu.Unlock()
}
