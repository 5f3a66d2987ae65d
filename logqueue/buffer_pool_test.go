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
