package etcdraft

import (
	"sync"

	pb "go.etcd.io/raft/v3/raftpb"
)

// tailCache holds the most recently appended entries, as raft handed them
// over, so that raft's reads of what it just appended (committed entries to
// apply, entries to replicate) do not go to raftlog, whose Entries costs one
// positional read per entry. raft never mutates entries it has handed out,
// so holding them is safe (MemoryStorage does the same).
//
// The cache is a contiguous run [first, first+len(ents)); an append that
// does not continue it, a truncation, or a snapshot install resets or cuts
// it. It is bounded: past max entries the older half is dropped.
type tailCache struct {
	mu    sync.Mutex
	first uint64
	ents  []*pb.Entry
	max   int
}

// add records entries appended (after any truncation at ents[0]).
func (c *tailCache) add(ents []*pb.Entry) {
	if len(ents) == 0 || c.max <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	i0 := ents[0].GetIndex()
	end := c.first + uint64(len(c.ents))
	switch {
	case len(c.ents) > 0 && i0 >= c.first && i0 <= end:
		c.ents = append(c.ents[:i0-c.first], ents...) // get hands out copies, so the array may be reused
	default:
		c.first, c.ents = i0, append([]*pb.Entry(nil), ents...)
	}
	if len(c.ents) > c.max {
		drop := len(c.ents) - c.max/2
		c.ents = append([]*pb.Entry(nil), c.ents[drop:]...)
		c.first += uint64(drop)
	}
}

// reset empties the cache (snapshot install).
func (c *tailCache) reset() {
	c.mu.Lock()
	c.ents = nil
	c.mu.Unlock()
}

// get returns a copy of [lo, hi) if the cache holds all of it.
func (c *tailCache) get(lo, hi uint64) ([]*pb.Entry, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.ents) == 0 || lo < c.first || hi > c.first+uint64(len(c.ents)) {
		return nil, false
	}
	return append([]*pb.Entry(nil), c.ents[lo-c.first:hi-c.first]...), true
}
