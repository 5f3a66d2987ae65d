package etcdraft_test

import (
	"flag"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
)

var clusterEntries = flag.Int("cluster.entries", 1000, "entries proposed in each phase of TestClusterAsync")

// proposeN proposes n new commands through the current leader, retrying
// the ones raft drops (no leader for a moment).
func (c *cluster) proposeN(t *testing.T, next *int, n int) {
	leaders := map[uint64]int{}
	defer func() { t.Logf("proposed %d through leaders %v", n, leaders) }()
	for i := 0; i < n; {
		l := c.leader(t)
		leaders[l.id]++
		if l.propose(fmt.Appendf(nil, "cmd-%06d", *next)) {
			*next++
			i++
		}
	}
}

// converge waits until every running node has applied everything the
// leader holds, then checks that they applied the same commands, proposed
// ones all included, and hold the same committed log.
func (c *cluster) converge(t *testing.T, proposed int) {
	t.Helper()
	l := c.leader(t)
	// Proposals accepted by the leader may still be on their way to its
	// storage: wait until it applied all of them, then for the others.
	l.waitFor(t, 20*time.Second, fmt.Sprintf("%d commands", proposed), func(n *node) bool { return len(n.commands) >= proposed })
	target, _ := l.state()
	var running []*node
	for _, id := range c.ids {
		if n := c.node(id); n != nil {
			running = append(running, n)
			n.waitFor(t, 20*time.Second, fmt.Sprintf("applied index %d", target), func(n *node) bool { return n.applied >= target })
		}
	}
	_, want := l.state()
	require.Equal(t, proposed, len(want), "commands applied on leader %d", l.id)
	for i, cmd := range want {
		require.Equal(t, fmt.Sprintf("cmd-%06d", i), string(cmd))
	}
	for _, n := range running {
		_, got := n.state()
		require.Equal(t, digest(want), digest(got), "node %d applied different commands than leader %d", n.id, l.id)
	}
	// The applied (so committed) logs are identical where every node
	// still holds them (compaction drops a prefix).
	commit, first := uint64(math.MaxUint64), uint64(1)
	for _, n := range running {
		applied, _ := n.state()
		commit = min(commit, applied)
		fi, err := n.storage.FirstIndex()
		require.NoError(t, err)
		first = max(first, fi)
	}
	require.GreaterOrEqual(t, commit, target)
	require.Less(t, first, commit, "no common log left to compare")
	ref, err := l.storage.Entries(first, commit+1, math.MaxUint64)
	require.NoError(t, err)
	for _, n := range running {
		got, err := n.storage.Entries(first, commit+1, math.MaxUint64)
		require.NoError(t, err)
		require.Len(t, got, len(ref))
		for i := range ref {
			if ref[i].GetTerm() != got[i].GetTerm() || string(ref[i].GetData()) != string(got[i].GetData()) {
				t.Fatalf("node %d entry %d differs from leader %d", n.id, ref[i].GetIndex(), l.id)
			}
		}
	}
	t.Logf("converged: %d commands, committed log [%d, %d] identical on %d nodes", proposed, first, commit, len(running))
}

// TestClusterAsync runs three nodes in AsyncStorageWrites mode over a
// loopback transport, each on its own raftlog directory. It restarts a
// follower and then the leader from their directories while the others keep
// committing, then brings a follower that lags behind a compaction up to
// date with a snapshot and restarts it from that snapshot, and checks after
// each phase that every node applied the same commands and holds the same
// committed log.
func TestClusterAsync(t *testing.T) {
	if testing.Short() {
		t.Skip("cluster test")
	}
	per := *clusterEntries
	c := newCluster(t, 3)
	next := 0

	c.proposeN(t, &next, per)
	c.converge(t, next)

	// A follower goes down, misses entries, and comes back from its
	// directory: it replays its own log and catches up from the leader.
	l := c.leader(t)
	f := c.ids[0]
	if f == l.id {
		f = c.ids[1]
	}
	applied, _ := c.node(f).state()
	c.stop(f)
	c.proposeN(t, &next, per)
	c.converge(t, next)
	rf := c.start(f, false)
	// What it applied was durable in its own log (async mode applies only
	// locally durable entries) and comes back from its directory.
	last, err := rf.storage.LastIndex()
	require.NoError(t, err)
	require.GreaterOrEqual(t, last, applied, "restarted node %d lost entries it had applied", f)
	c.proposeN(t, &next, per)
	c.converge(t, next)

	// The leader goes down: another is elected, commits more, and the old
	// leader rejoins from its directory.
	old := c.leader(t).id
	c.stop(old)
	nl := c.leader(t)
	assert.NotEqual(t, old, nl.id)
	c.proposeN(t, &next, per)
	c.converge(t, next)
	c.start(old, false)
	c.proposeN(t, &next, per)
	c.converge(t, next)

	// A follower lags behind a compaction: it goes down, the others commit
	// more, and their applications snapshot and compact, so the entries it
	// needs are gone from every log. When it is back, raft must send it the
	// snapshot (MsgSnap); it persists it through RunAsync (ApplySnapshot),
	// loads it into its state machine and catches up from the log after it.
	l = c.leader(t)
	f = c.ids[0]
	if f == l.id {
		f = c.ids[1]
	}
	c.stop(f)
	c.proposeN(t, &next, per)
	c.converge(t, next)
	var snap *pb.Snapshot
	for _, id := range c.ids {
		if n := c.node(id); n != nil {
			s := n.snapshot(t)
			if n == l {
				snap = s
			}
			fi, err := n.storage.FirstIndex()
			require.NoError(t, err)
			require.Equal(t, s.GetMetadata().GetIndex()+1, fi, "node %d compacted", id)
		}
	}
	require.NotNil(t, snap)
	idx, term := snap.GetMetadata().GetIndex(), snap.GetMetadata().GetTerm()
	lagging := c.start(f, false)
	last, err = lagging.storage.LastIndex()
	require.NoError(t, err)
	require.Less(t, last, idx, "node %d would not need a snapshot", f)
	c.proposeN(t, &next, per)
	c.converge(t, next)
	require.Positive(t, c.msgSnaps[f].Load(), "no MsgSnap sent to node %d", f)
	lagging.mu.Lock()
	installed := lagging.installed
	lagging.mu.Unlock()
	require.Positive(t, installed, "node %d applied no snapshot to its state machine", f)
	checkSnapshot := func(n *node) {
		t.Helper()
		got, err := n.storage.Snapshot()
		require.NoError(t, err)
		require.Equal(t, idx, got.GetMetadata().GetIndex())
		require.Equal(t, term, got.GetMetadata().GetTerm())
		require.ElementsMatch(t, c.ids, got.GetMetadata().GetConfState().GetVoters())
		require.Equal(t, snap.GetData(), got.GetData())
		fi, err := n.storage.FirstIndex()
		require.NoError(t, err)
		require.Equal(t, idx+1, fi, "node %d: the log continues after the snapshot", n.id)
		pt, err := n.storage.Term(idx)
		require.NoError(t, err)
		require.Equal(t, term, pt)
		_, err = n.storage.Entries(idx, idx+1, math.MaxUint64)
		require.ErrorIs(t, err, raft.ErrCompacted)
	}
	checkSnapshot(lagging)

	// Restarted from its directory, it loads the snapshot into its state
	// machine and replays only the log after it.
	c.stop(f)
	restarted := c.start(f, false)
	require.Equal(t, idx, restarted.restored, "node %d did not start from the snapshot", f)
	checkSnapshot(restarted)
	c.proposeN(t, &next, per)
	c.converge(t, next)
	checkSnapshot(restarted)
	require.Equal(t, 8*per, next)
}
