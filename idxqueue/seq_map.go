package idxqueue

import "math/bits"

// LongLongSeqMap maps consecutive uint64 keys to int64 values. It is a ring
// buffer indexed by (key − FirstKey), never a Go map: a Put writes one slot
// and allocates nothing unless the ring has to grow, and RemoveHead and
// TruncateTail move an index instead of touching the values.
//
// It is not safe for concurrent use; the Queue guards it with its mutex.
//
// On an empty map FirstKey and LastKey return 0 and the next Put may use any
// key; otherwise the keys held are exactly [FirstKey, LastKey] with
// LastKey − FirstKey + 1 == Len.
type LongLongSeqMap struct {
	buf      []int64 // len(buf) is a power of two
	mask     uint64  // len(buf) − 1
	head     uint64  // slot of FirstKey in buf
	n        uint64  // keys held
	firstKey uint64
	maxCap   int
}

// NewLongLongSeqMap returns an empty map with room for initialCap values that
// grows by doubling up to maxCap. Both are rounded up to powers of two (at
// least 1), and initialCap is capped at maxCap.
func NewLongLongSeqMap(initialCap, maxCap int) *LongLongSeqMap {
	maxCap = ceilPow2(maxCap)
	initialCap = min(ceilPow2(initialCap), maxCap)
	return &LongLongSeqMap{
		buf:    make([]int64, initialCap),
		mask:   uint64(initialCap - 1),
		maxCap: maxCap,
	}
}

// ceilPow2 returns the smallest power of two ≥ max(n, 1).
func ceilPow2(n int) int {
	if n <= 1 {
		return 1
	}
	return 1 << bits.Len(uint(n-1))
}

// isPow2 reports whether n is a positive power of two.
func isPow2(n int) bool { return n > 0 && n&(n-1) == 0 }

// Put stores v under key. key must be LastKey()+1 unless the map is empty
// (ErrNotConsecutive otherwise); ErrFull if the map holds MaxCap keys.
func (m *LongLongSeqMap) Put(key uint64, v int64) error {
	if m.n > 0 && key != m.firstKey+m.n {
		return ErrNotConsecutive
	}
	if m.n == uint64(len(m.buf)) {
		if len(m.buf) >= m.maxCap {
			return ErrFull
		}
		m.grow()
	}
	if m.n == 0 {
		m.firstKey = key
		m.head = 0
	}
	m.buf[(m.head+m.n)&m.mask] = v
	m.n++
	return nil
}

// grow doubles the ring, unwrapping it so that FirstKey sits in slot 0.
func (m *LongLongSeqMap) grow() {
	nb := make([]int64, 2*len(m.buf))
	k := copy(nb, m.buf[m.head:])
	copy(nb[k:], m.buf[:m.head])
	m.buf = nb
	m.mask = uint64(len(nb) - 1)
	m.head = 0
}

// Get returns the value stored under key, if the map holds key.
func (m *LongLongSeqMap) Get(key uint64) (int64, bool) {
	off := key - m.firstKey // wraps to a huge value when key < firstKey
	if key < m.firstKey || off >= m.n {
		return 0, false
	}
	return m.buf[(m.head+off)&m.mask], true
}

// copyRange writes the values of keys [from, from+len(dst)) into dst. The
// caller guarantees that the map holds all of them.
func (m *LongLongSeqMap) copyRange(dst []int64, from uint64) {
	if len(dst) == 0 {
		return
	}
	off := from - m.firstKey
	if from < m.firstKey || off+uint64(len(dst)) > m.n {
		panicf("idxqueue: copyRange [%d, %d) outside held keys [%d, %d]",
			from, from+uint64(len(dst)), m.firstKey, m.firstKey+m.n-1)
	}
	start := (m.head + off) & m.mask
	k := copy(dst, m.buf[start:])
	copy(dst[k:], m.buf)
}

// FirstKey returns the smallest key held, or 0 if the map is empty.
func (m *LongLongSeqMap) FirstKey() uint64 {
	if m.n == 0 {
		return 0
	}
	return m.firstKey
}

// LastKey returns the largest key held, or 0 if the map is empty.
func (m *LongLongSeqMap) LastKey() uint64 {
	if m.n == 0 {
		return 0
	}
	return m.firstKey + m.n - 1
}

// Len returns the number of keys held.
func (m *LongLongSeqMap) Len() int { return int(m.n) }

// Cap returns the number of keys the map can hold before it has to grow.
func (m *LongLongSeqMap) Cap() int { return len(m.buf) }

// MaxCap returns the number of keys the map can hold at most.
func (m *LongLongSeqMap) MaxCap() int { return m.maxCap }

// RemoveHead removes every key ≤ upTo.
func (m *LongLongSeqMap) RemoveHead(upTo uint64) {
	if m.n == 0 || upTo < m.firstKey {
		return
	}
	k := upTo - m.firstKey + 1
	if k >= m.n {
		m.clear()
		return
	}
	m.head = (m.head + k) & m.mask
	m.firstKey += k
	m.n -= k
}

// TruncateTail removes every key ≥ from.
func (m *LongLongSeqMap) TruncateTail(from uint64) {
	if m.n == 0 || from > m.firstKey+m.n-1 {
		return
	}
	if from <= m.firstKey {
		m.clear()
		return
	}
	m.n = from - m.firstKey
}

func (m *LongLongSeqMap) clear() {
	m.n, m.head, m.firstKey = 0, 0, 0
}
