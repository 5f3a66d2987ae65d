package etcdraft

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	pb "go.etcd.io/raft/v3/raftpb"
)

func TestTailCache(t *testing.T) {
	indexes := func(es []*pb.Entry) []uint64 {
		var out []uint64
		for _, e := range es {
			out = append(out, e.GetIndex())
		}
		return out
	}
	c := tailCache{max: 8}
	c.add(mkEnts(1, 5, 1))
	es, ok := c.get(2, 5)
	require.True(t, ok)
	assert.Equal(t, []uint64{2, 3, 4}, indexes(es))
	_, ok = c.get(2, 6)
	assert.False(t, ok, "beyond the cache")

	c.add(mkEnts(3, 6, 2)) // overwrite from 3
	es, ok = c.get(1, 6)
	require.True(t, ok)
	assert.Equal(t, []uint64{1, 1, 2, 2, 2}, []uint64{es[0].GetTerm(), es[1].GetTerm(), es[2].GetTerm(), es[3].GetTerm(), es[4].GetTerm()})

	c.add(mkEnts(6, 12, 2)) // past max: the older half goes
	_, ok = c.get(1, 12)
	assert.False(t, ok)
	es, ok = c.get(8, 12)
	require.True(t, ok)
	assert.Equal(t, []uint64{8, 9, 10, 11}, indexes(es))

	c.add(mkEnts(20, 22, 3)) // not contiguous: starts over
	_, ok = c.get(10, 11)
	assert.False(t, ok)
	_, ok = c.get(20, 22)
	assert.True(t, ok)
	c.reset()
	_, ok = c.get(20, 22)
	assert.False(t, ok)
}

// Entries served from the cache and from the log are the same, including
// after a truncation and with raft's maxSize rule.
func TestEntriesCacheMatchesLog(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	require.NoError(t, s.Append(mkEnts(1, 101, 1)))
	require.NoError(t, s.Append(mkEnts(60, 80, 2)))
	cached, err := s.Entries(1, 80, 500)
	require.NoError(t, err)
	require.NoError(t, s.Close())
	s = open(t, dir) // a new Storage: empty cache, reads from the log
	defer func() { require.NoError(t, s.Close()) }()
	fromLog, err := s.Entries(1, 80, 500)
	require.NoError(t, err)
	require.Equal(t, len(fromLog), len(cached))
	for i := range cached {
		assert.Equal(t, cached[i].GetTerm(), fromLog[i].GetTerm())
		assert.Equal(t, cached[i].GetData(), fromLog[i].GetData())
	}
}
