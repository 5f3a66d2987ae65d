package etcdraft_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"log"
	"log/slog"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/raftlog/raftlog"
	"github.com/raftlog/raftlog/adapters/etcdraft"
	"github.com/stretchr/testify/require"
	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// mailbox is a node's inbox: peers and its own storage thread put messages
// in, the node's goroutine takes them all at once. It never blocks a
// sender, so the storage thread can never wait on the raft goroutine
// (which may itself wait on the storage thread's input).
type mailbox struct {
	mu     sync.Mutex
	msgs   []*pb.Message
	signal chan struct{}
}

func newMailbox() *mailbox { return &mailbox{signal: make(chan struct{}, 1)} }

func (mb *mailbox) put(m *pb.Message) {
	mb.mu.Lock()
	mb.msgs = append(mb.msgs, m)
	mb.mu.Unlock()
	select {
	case mb.signal <- struct{}{}:
	default:
	}
}

func (mb *mailbox) take() []*pb.Message {
	mb.mu.Lock()
	defer mb.mu.Unlock()
	ms := mb.msgs
	mb.msgs = nil
	return ms
}

// proposal is a command for the node goroutine; err reports whether raft
// accepted it (it may still be lost if leadership changes).
type proposal struct {
	data []byte
	err  chan error
}

// node is one in-process raft member: a RawNode in AsyncStorageWrites mode
// driven by one goroutine, an etcdraft.Storage and its RunAsync append
// thread, and a state machine (the ordered list of applied commands).
type node struct {
	id      uint64
	dir     string
	c       *cluster
	storage *etcdraft.Storage
	mb      *mailbox
	props   chan proposal
	snapReq chan chan snapResult
	cancel  context.CancelFunc
	done    sync.WaitGroup
	errs    chan error

	mu       sync.Mutex
	lead     uint64
	applied  uint64   // index of the last applied entry
	commands [][]byte // applied normal entries with data, in order
	cs       *pb.ConfState
	// restored is the index of the snapshot the state machine was loaded
	// from at start (0: none); installed counts snapshots received from a
	// leader and applied to the state machine.
	restored  uint64
	installed int
	changed   chan struct{}
}

// snapResult is what a node's application did when asked to snapshot and
// compact: the snapshot it created (its index is the compaction point).
type snapResult struct {
	snap *pb.Snapshot
	err  error
}

type cluster struct {
	t     testing.TB
	mu    sync.Mutex
	nodes map[uint64]*node // the running nodes
	dirs  map[uint64]string
	ids   []uint64
	// msgSnaps counts MsgSnap messages delivered to each node.
	msgSnaps map[uint64]*atomic.Int64
}

var quietLog = slog.New(slog.NewTextHandler(io.Discard, nil))

func newCluster(t testing.TB, n int) *cluster {
	c := &cluster{t: t, nodes: map[uint64]*node{}, dirs: map[uint64]string{}, msgSnaps: map[uint64]*atomic.Int64{}}
	root := t.TempDir()
	for i := 1; i <= n; i++ {
		id := uint64(i)
		c.ids = append(c.ids, id)
		c.msgSnaps[id] = &atomic.Int64{}
		c.dirs[id] = filepath.Join(root, "n", string(rune('0'+i)))
	}
	for _, id := range c.ids {
		c.start(id, true)
	}
	t.Cleanup(func() {
		for _, id := range c.ids {
			c.stop(id)
		}
	})
	return c
}

func (c *cluster) deliver(m *pb.Message) {
	c.mu.Lock()
	n := c.nodes[m.GetTo()]
	c.mu.Unlock()
	if n != nil { // a stopped node's messages are lost, as on a network
		if m.GetType() == pb.MessageType_MsgSnap {
			c.msgSnaps[m.GetTo()].Add(1)
		}
		n.mb.put(m)
	}
}

func (c *cluster) node(id uint64) *node {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nodes[id]
}

// start opens the node's directory and runs it; fresh nodes bootstrap the
// membership, restarted ones recover everything from the directory.
func (c *cluster) start(id uint64, fresh bool) *node {
	t := c.t
	s, err := etcdraft.Open(c.dirs[id], etcdraft.Options{Log: raftlog.Options{
		LogFileSize: 1 << 22, IdxItemsPerFile: 1 << 12, Logger: quietLog}})
	require.NoError(t, err)
	// The state machine starts from the storage's snapshot (if any); raft
	// hands back the committed entries after it.
	snap, err := s.Snapshot()
	require.NoError(t, err)
	_, cs, err := s.InitialState()
	require.NoError(t, err)
	rn, err := raft.NewRawNode(&raft.Config{
		ID: id, ElectionTick: 40, HeartbeatTick: 2, Storage: s,
		MaxSizePerMsg: 1 << 20, MaxInflightMsgs: 256, MaxCommittedSizePerReady: 4 << 20,
		AsyncStorageWrites: true, CheckQuorum: true, PreVote: true,
		Logger: &raft.DefaultLogger{Logger: log.New(io.Discard, "", 0)},
	})
	require.NoError(t, err)
	if fresh {
		var peers []raft.Peer
		for _, p := range c.ids {
			peers = append(peers, raft.Peer{ID: p})
		}
		require.NoError(t, rn.Bootstrap(peers))
	}
	ctx, cancel := context.WithCancel(context.Background())
	n := &node{id: id, dir: c.dirs[id], c: c, storage: s, mb: newMailbox(), props: make(chan proposal),
		snapReq: make(chan chan snapResult), cancel: cancel, errs: make(chan error, 2),
		changed: make(chan struct{}), cs: cs}
	if !raft.IsEmptySnap(snap) {
		n.restoreLocked(snap)
		n.restored = n.applied
	}
	appendCh := make(chan *pb.Message, 64)
	n.done.Add(2)
	go func() {
		defer n.done.Done()
		if err := s.RunAsync(ctx, appendCh, n.route); err != nil {
			n.errs <- err
		}
	}()
	go func() {
		defer n.done.Done()
		if err := n.run(ctx, rn, appendCh); err != nil {
			n.errs <- err
		}
	}()
	c.mu.Lock()
	c.nodes[id] = n
	c.mu.Unlock()
	return n
}

// stop stops the node's goroutines and closes its storage, as a process
// exit would (writes not yet durable may be lost; raftlog recovers what
// was acknowledged).
func (c *cluster) stop(id uint64) {
	c.mu.Lock()
	n := c.nodes[id]
	delete(c.nodes, id)
	c.mu.Unlock()
	if n == nil {
		return
	}
	n.cancel()
	n.done.Wait()
	close(n.errs)
	for err := range n.errs {
		c.t.Errorf("node %d: %v", id, err)
	}
	require.NoError(c.t, n.storage.Close())
}

// route sends a storage response: to this node's own raft (stepped back in)
// or to a peer.
func (n *node) route(m *pb.Message) {
	if m.GetTo() == n.id {
		n.mb.put(m)
		return
	}
	n.c.deliver(m)
}

func (n *node) run(ctx context.Context, rn *raft.RawNode, appendCh chan<- *pb.Message) error {
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
			rn.Tick()
		case <-n.mb.signal:
			for _, m := range n.mb.take() {
				if err := rn.Step(m); err != nil && !errors.Is(err, raft.ErrStepPeerNotFound) {
					return err
				}
			}
		case p := <-n.props:
			p.err <- rn.Propose(p.data)
		case req := <-n.snapReq:
			req <- n.snapshotAndCompact()
		}
		for rn.HasReady() {
			rd := rn.Ready()
			if rd.SoftState != nil {
				n.mu.Lock()
				n.lead = rd.SoftState.Lead
				n.notifyLocked()
				n.mu.Unlock()
			}
			for _, m := range rd.Messages {
				switch m.GetTo() {
				case raft.LocalAppendThread:
					if sn := m.GetSnapshot(); sn != nil && !raft.IsEmptySnap(sn) {
						// A snapshot from the leader: the state machine
						// becomes the snapshot's; RunAsync persists it
						// (ApplySnapshot) before its response is stepped
						// back, and only then are entries after it applied.
						n.mu.Lock()
						n.restoreLocked(sn)
						n.installed++
						n.notifyLocked()
						n.mu.Unlock()
					}
					select {
					case appendCh <- m:
					case <-ctx.Done():
						return nil
					}
				case raft.LocalApplyThread:
					// The state machine is in memory, so it is applied here,
					// on the raft goroutine, where ApplyConfChange must run.
					n.apply(rn, m.GetEntries())
					for _, r := range m.GetResponses() {
						if err := rn.Step(r); err != nil {
							return err
						}
					}
				default:
					n.c.deliver(m)
				}
			}
		}
	}
}

func (n *node) apply(rn *raft.RawNode, ents []*pb.Entry) {
	for _, e := range ents {
		switch e.GetType() {
		case pb.EntryType_EntryConfChange:
			var cc pb.ConfChange
			if err := proto.Unmarshal(e.GetData(), &cc); err != nil {
				panic(err)
			}
			cs := rn.ApplyConfChange(&cc)
			n.mu.Lock()
			n.cs = cs
			n.mu.Unlock()
		case pb.EntryType_EntryNormal:
			if len(e.GetData()) > 0 {
				n.mu.Lock()
				n.commands = append(n.commands, e.GetData())
				n.mu.Unlock()
			}
		}
	}
	if len(ents) > 0 {
		n.mu.Lock()
		n.applied = ents[len(ents)-1].GetIndex()
		n.notifyLocked()
		n.mu.Unlock()
	}
}

// restoreLocked replaces the state machine with a snapshot's.
func (n *node) restoreLocked(snap *pb.Snapshot) {
	n.commands = decodeCommands(snap.GetData())
	n.applied = snap.GetMetadata().GetIndex()
	n.cs = snap.GetMetadata().GetConfState()
}

// snapshotAndCompact is the application's log maintenance, run on the raft
// goroutine so that the state machine stands still: snapshot the applied
// state (Storage.CreateSnapshot), then compact the log up to it
// (Storage.Compact), after which raft can only bring a follower that needs
// earlier entries up to date with a MsgSnap.
func (n *node) snapshotAndCompact() snapResult {
	n.mu.Lock()
	applied, data, cs := n.applied, encodeCommands(n.commands), n.cs
	n.mu.Unlock()
	snap, err := n.storage.CreateSnapshot(applied, cs, data)
	if err != nil {
		return snapResult{err: err}
	}
	if err := n.storage.Compact(applied); err != nil {
		return snapResult{err: err}
	}
	return snapResult{snap: snap}
}

// snapshot asks the node's application to snapshot and compact.
func (n *node) snapshot(t testing.TB) *pb.Snapshot {
	t.Helper()
	req := make(chan snapResult, 1)
	select {
	case n.snapReq <- req:
	case err := <-n.errs:
		t.Fatalf("node %d: %v", n.id, err)
	}
	r := <-req
	require.NoError(t, r.err, "node %d: snapshot", n.id)
	return r.snap
}

// The state machine's snapshot format: commands separated by newlines
// (commands never contain one).
func encodeCommands(cmds [][]byte) []byte {
	var b []byte
	for _, c := range cmds {
		b = append(append(b, c...), '\n')
	}
	return b
}

func decodeCommands(data []byte) [][]byte {
	var cmds [][]byte
	for _, c := range strings.SplitAfter(string(data), "\n") {
		if c != "" {
			cmds = append(cmds, []byte(strings.TrimSuffix(c, "\n")))
		}
	}
	return cmds
}

func (n *node) notifyLocked() {
	close(n.changed)
	n.changed = make(chan struct{})
}

// waitFor blocks until cond holds on the node's state, or fails the test
// after timeout.
func (n *node) waitFor(t testing.TB, timeout time.Duration, what string, cond func(n *node) bool) {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		n.mu.Lock()
		ok, ch := cond(n), n.changed
		n.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-ch:
		case err := <-n.errs:
			t.Fatalf("node %d: %v", n.id, err)
		case <-deadline.C:
			t.Fatalf("node %d: timed out waiting for %s", n.id, what)
		}
	}
}

// leader waits until a running node sees itself as leader and returns it.
func (c *cluster) leader(t testing.TB) *node {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		cases := []reflect.SelectCase{{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(deadline)}}
		for _, id := range c.ids {
			n := c.node(id)
			if n == nil {
				continue
			}
			n.mu.Lock()
			lead, ch := n.lead, n.changed
			n.mu.Unlock()
			if lead == n.id {
				return n
			}
			cases = append(cases, reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(ch)})
		}
		if i, _, _ := reflect.Select(cases); i == 0 {
			t.Fatal("no leader within 10 s")
		}
	}
}

// propose proposes data on n; false means raft dropped the proposal.
func (n *node) propose(data []byte) bool {
	p := proposal{data: data, err: make(chan error, 1)}
	n.props <- p
	return <-p.err == nil
}

func (n *node) state() (uint64, [][]byte) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.applied, append([][]byte(nil), n.commands...)
}

func digest(cmds [][]byte) [32]byte {
	h := sha256.New()
	for _, c := range cmds {
		h.Write(c)
		h.Write([]byte{0})
	}
	return [32]byte(h.Sum(nil))
}
