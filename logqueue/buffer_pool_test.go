package logqueue

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBufferPoolRecycles(t *testing.T) {
	p := newBufferPool(1024)
	c := p.get()
	assert.Len(t, c.buf, 1024)
	p.retain(c) // a piece in flight
	c.used = 100
	p.release(c) // retired by Add
	assert.Empty(t, p.free, "still in use by the piece")
	p.release(c) // written
	assert.Len(t, p.free, 1)
	c2 := p.get()
	assert.Same(t, c, c2)
	assert.Zero(t, c2.used)
	assert.Equal(t, int32(1), c2.refs.Load())
}

func TestBufferPoolOneOffNotPooled(t *testing.T) {
	p := newBufferPool(1024)
	c := p.oneOff(5000)
	assert.Len(t, c.buf, 5000)
	p.release(c)
	assert.Empty(t, p.free)
}

func TestBufferPoolBounded(t *testing.T) {
	p := newBufferPool(maxFreeBytes / 8)
	require.Equal(t, 8, p.maxFree)
	var cs []*chunk
	for i := 0; i < p.maxFree+5; i++ {
		cs = append(cs, p.get())
	}
	for _, c := range cs {
		p.release(c)
	}
	assert.Len(t, p.free, p.maxFree)
}

func TestBufferPoolOverRelease(t *testing.T) {
	p := newBufferPool(64)
	c := p.get()
	p.release(c)
	assert.Panics(t, func() { p.release(c) })
}

// TestChunkStartsOverWhenIdle checks when Add starts its current chunk
// over: only once no pending or in-flight piece covers any of it. A chunk
// started over too early would have the next items encoded over bytes a
// write is still to carry, which the read-back of every item would catch.
func TestChunkStartsOverWhenIdle(t *testing.T) {
	const dataLen = 100
	size := int(EncodedSize(0, dataLen))
	tests := []struct {
		name string
		// before leaves the first item written, in flight or pending.
		before func(t *testing.T, q *Queue, gate *gateFS, tags *forcedTags)
		// wantUsed is the chunk's bytes in use after the second item.
		wantUsed int
	}{
		{"written", func(t *testing.T, q *Queue, _ *gateFS, tags *forcedTags) {
			require.NoError(t, q.Flush(1))
			tags.wait(t, 1)
		}, size},
		{"in flight", func(t *testing.T, q *Queue, gate *gateFS, _ *forcedTags) {
			gate.shut.Store(true)
			require.NoError(t, q.Flush(1))
			<-gate.entered
		}, 2 * size},
		{"pending", func(*testing.T, *Queue, *gateFS, *forcedTags) {}, 2 * size},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q, gate, tags := openGatedQueue(t, 1)
			first := addItem(t, q, 1, 0, dataLen)
			tt.before(t, q, gate, tags)
			second := addItem(t, q, 2, 0, dataLen)
			assert.Equal(t, tt.wantUsed, q.chunk.used)
			gate.open()
			require.NoError(t, q.Flush(2))
			tags.wait(t, 2)
			first.meta.Epoch, second.meta.Epoch = 1, 1
			checkRead(t, q, []item{first, second})
		})
	}
}
