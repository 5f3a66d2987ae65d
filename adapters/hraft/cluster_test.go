package hraft

import (
	"encoding/binary"
	"fmt"
	"io"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	"github.com/stretchr/testify/require"
)

// counterFSM folds every command into an order-dependent hash, so two FSMs
// agree only if they applied the same commands in the same order.
type counterFSM struct {
	mu   sync.Mutex
	n, h uint64
}

func (f *counterFSM) Apply(l *raft.Log) any {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.n++
	f.h = (f.h ^ binary.BigEndian.Uint64(l.Data)) * 1099511628211
	return nil
}

func (f *counterFSM) state() [2]uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return [2]uint64{f.n, f.h}
}

func (f *counterFSM) Snapshot() (raft.FSMSnapshot, error) {
	s := f.state()
	return fsmSnapshot(s), nil
}

func (f *counterFSM) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	var b [16]byte
	if _, err := io.ReadFull(rc, b[:]); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.n, f.h = binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])
	return nil
}

type fsmSnapshot [2]uint64

func (s fsmSnapshot) Persist(sink raft.SnapshotSink) error {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], s[0])
	binary.BigEndian.PutUint64(b[8:], s[1])
	if _, err := sink.Write(b[:]); err != nil {
		_ = sink.Cancel()
		return err
	}
	return sink.Close()
}

func (fsmSnapshot) Release() {}

type node struct {
	id    raft.ServerID
	dir   string
	store *Store
	snaps *raft.FileSnapshotStore
	trans *raft.InmemTransport
	fsm   *counterFSM
	raft  *raft.Raft
}

type cluster struct {
	t     *testing.T
	nodes []*node
}

func clusterConfig(id raft.ServerID) *raft.Config {
	c := raft.DefaultConfig()
	c.LocalID = id
	// Short enough for a quick test, long enough that a busy 2-core CI
	// machine under -race does not lose the leader in the middle of a
	// batch (at 50 ms it did, about one run in three).
	c.HeartbeatTimeout = 250 * time.Millisecond
	c.ElectionTimeout = 250 * time.Millisecond
	c.LeaderLeaseTimeout = 200 * time.Millisecond
	c.CommitTimeout = 5 * time.Millisecond
	// Snapshots are taken by the test only (raft.Snapshot), so the node
	// that falls behind can only catch up by installing one.
	c.SnapshotThreshold = 1 << 30
	c.SnapshotInterval = time.Hour
	c.TrailingLogs = 16
	c.Logger = hclog.New(&hclog.LoggerOptions{Level: hclog.Off})
	return c
}

// start opens node i from its directory (creating it the first time).
func (c *cluster) start(i int) {
	t := c.t
	n := c.nodes[i]
	var err error
	n.store, err = Open(filepath.Join(n.dir, "log"), testOptions)
	require.NoError(t, err)
	n.snaps, err = raft.NewFileSnapshotStore(n.dir, 2, io.Discard)
	require.NoError(t, err)
	_, n.trans = raft.NewInmemTransport(raft.ServerAddress(n.id))
	n.fsm = &counterFSM{}
	n.raft, err = raft.NewRaft(clusterConfig(n.id), n.fsm, n.store, n.store, n.snaps, n.trans)
	require.NoError(t, err)
	c.connect(i)
}

func (c *cluster) connect(i int) {
	n := c.nodes[i]
	for j, o := range c.nodes {
		if j == i || o.raft == nil {
			continue
		}
		n.trans.Connect(o.trans.LocalAddr(), o.trans)
		o.trans.Connect(n.trans.LocalAddr(), n.trans)
	}
}

func (c *cluster) disconnect(i int) {
	n := c.nodes[i]
	n.trans.DisconnectAll()
	for j, o := range c.nodes {
		if j != i && o.raft != nil {
			o.trans.Disconnect(n.trans.LocalAddr())
		}
	}
}

// stop shuts node i down and closes its store, as a killed process would
// leave it (everything raft was told is stored is durable).
func (c *cluster) stop(i int) {
	n := c.nodes[i]
	c.disconnect(i)
	require.NoError(c.t, n.raft.Shutdown().Error())
	require.NoError(c.t, n.store.Close())
	n.raft = nil
}

func (c *cluster) leader() int {
	c.t.Helper()
	var li int
	require.Eventually(c.t, func() bool {
		for i, n := range c.nodes {
			if n.raft != nil && n.raft.State() == raft.Leader {
				li = i
				return true
			}
		}
		return false
	}, 10*time.Second, 5*time.Millisecond, "no leader")
	return li
}

// apply submits count commands numbered from first at the leader,
// pipelined, and waits for them to commit.
func (c *cluster) apply(first, count int) {
	c.t.Helper()
	r := c.nodes[c.leader()].raft
	futs := make([]raft.ApplyFuture, 0, count)
	for i := first; i < first+count; i++ {
		futs = append(futs, r.Apply(binary.BigEndian.AppendUint64(nil, uint64(i)), 5*time.Second))
	}
	for _, f := range futs {
		require.NoError(c.t, f.Error())
	}
}

// TestCluster runs three raft nodes, each on a Store in its own directory,
// through a leader kill, a restart from disk and a snapshot install, and
// checks that every FSM applied the same commands in the same order.
func TestCluster(t *testing.T) {
	c := &cluster{t: t}
	var servers []raft.Server
	for i := range 3 {
		id := raft.ServerID(fmt.Sprintf("n%d", i))
		c.nodes = append(c.nodes, &node{id: id, dir: t.TempDir()})
		servers = append(servers, raft.Server{ID: id, Address: raft.ServerAddress(id)})
	}
	for i := range c.nodes {
		c.start(i)
	}
	t.Cleanup(func() {
		for i, n := range c.nodes {
			if n.raft != nil {
				c.stop(i)
			}
		}
	})
	require.NoError(t, c.nodes[0].raft.BootstrapCluster(raft.Configuration{Servers: servers}).Error())

	total := 0
	c.apply(total, 1000)
	total += 1000

	// Kill the leader; the other two elect a new one and go on.
	killed := c.leader()
	c.stop(killed)
	c.apply(total, 1000)
	total += 1000

	// Restart it from its directory: it must come back with its log and
	// catch up.
	c.start(killed)
	back, err := c.nodes[killed].store.LastIndex()
	require.NoError(t, err)
	require.GreaterOrEqual(t, back, uint64(1000), "restarted node lost its log")
	c.apply(total, 500)
	total += 500

	// Cut a follower off, move on and compact every other log past it, so
	// it can only catch up by installing a snapshot.
	lag := (c.leader() + 1) % 3
	var lagLast uint64
	lagLast, err = c.nodes[lag].store.LastIndex()
	require.NoError(t, err)
	c.disconnect(lag)
	c.apply(total, 1000)
	total += 1000
	for i, n := range c.nodes {
		if i != lag {
			require.NoError(t, n.raft.Snapshot().Error())
			first, err := n.store.FirstIndex()
			require.NoError(t, err)
			require.Greater(t, first, lagLast+1, "node %d did not compact past the lagging node", i)
		}
	}
	c.connect(lag)

	want := [2]uint64{}
	require.Eventually(t, func() bool {
		want = c.nodes[c.leader()].fsm.state()
		if want[0] != uint64(total) {
			return false
		}
		for _, n := range c.nodes {
			if n.fsm.state() != want {
				return false
			}
		}
		return true
	}, 20*time.Second, 10*time.Millisecond, "FSMs did not converge")

	snaps, err := c.nodes[lag].snaps.List()
	require.NoError(t, err)
	require.NotEmpty(t, snaps, "the lagging node installed no snapshot")
	require.Greater(t, snaps[0].Index, lagLast, "snapshot on the lagging node")
	t.Logf("%d commands, every FSM at %v; lagging node installed snapshot at %d (its log had ended at %d)",
		total, want, snaps[0].Index, lagLast)
}
