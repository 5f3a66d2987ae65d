package etcdraft_test

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"unsafe"

	"github.com/cockroachdb/datadriven"
	"github.com/raftlog/raftlog"
	"github.com/raftlog/raftlog/adapters/etcdraft"
	"github.com/stretchr/testify/require"
	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
	"go.etcd.io/raft/v3/rafttest"
)

// raft's interaction scenarios (go.etcd.io/raft/v3/testdata, run by raft's
// own TestInteraction) over this Storage instead of MemoryStorage.
//
// rafttest.InteractionEnv creates a MemoryStorage per node, but it exposes
// both places a storage is used: InteractionOpts.OnConfig may replace
// raft.Config.Storage (what raft reads), and Node.Storage (what the env
// writes to: SetHardState, Append, ApplySnapshot, Compact, and what it
// prints the log from) is an exported field. interactionStorage takes both
// places, so every read and write of the scenarios goes to a Storage on disk,
// and the expected output in raft's files, which was produced with
// MemoryStorage, must come out byte for byte.
//
// One adaptation: the env persists a Ready or MsgStorageAppend as
// SetHardState, then ApplySnapshot or Append, which its own comment calls
// not necessarily safe. This Storage refuses it when the HardState's commit
// index covers entries the Append is about to overwrite (raftlog never
// truncates below a persisted commit index; probe_and_replicate.txt does
// that). interactionStorage therefore holds the HardState back and writes the
// three with SaveReady, in the order raft requires: snapshot, entries,
// HardState. That is also the adapter's real synchronous write path. On a
// node with AsyncStorageWrites (async_storage_writes*.txt) the same three go
// through RunAsync as one MsgStorageAppend instead, and the write counts as
// done when RunAsync releases that message's response.

// setRandomizedElectionTimeout does what raft's test-only
// raft.SetRandomizedElectionTimeout (raft_test.go) does, for the scenarios
// that set it (forget_leader.txt, prevote_checkquorum.txt): it sets the
// unexported field RawNode.raft.randomizedElectionTimeout. Reaching it takes
// reflect and unsafe; if a raft version renames the fields, the test fails
// here rather than silently skipping those scenarios.
func setRandomizedElectionTimeout(rn *raft.RawNode, v int) {
	r := reflect.ValueOf(rn).Elem().FieldByName("raft")
	if !r.IsValid() || r.Kind() != reflect.Pointer {
		panic("raft.RawNode has no field raft *raft")
	}
	f := r.Elem().FieldByName("randomizedElectionTimeout")
	if !f.IsValid() || f.Kind() != reflect.Int {
		panic("raft's raft struct has no field randomizedElectionTimeout int")
	}
	reflect.NewAt(f.Type(), unsafe.Pointer(f.UnsafeAddr())).Elem().SetInt(int64(v))
}

// interactionStorage is a node's Storage in an InteractionEnv.
//
// The env answers raft's Snapshot calls with the newest state of its
// "appender" state machine (Node.History), as if the application had just
// taken a snapshot. Here that is done the way an application does it with
// this Storage: CreateSnapshot at that state's index, then Snapshot.
type interactionStorage struct {
	*etcdraft.Storage
	history func() *pb.Snapshot
	hs      *pb.HardState // from SetHardState, written with the next Append or ApplySnapshot

	// For AsyncStorageWrites nodes: RunAsync's input and what it released.
	appends chan *pb.Message
	acks    chan *pb.Message
	failed  chan error
}

func (s *interactionStorage) SetHardState(hs *pb.HardState) error {
	s.hs = hs
	return nil
}

func (s *interactionStorage) Append(ents []*pb.Entry) error {
	return s.save(nil, ents)
}

func (s *interactionStorage) ApplySnapshot(snap *pb.Snapshot) error {
	return s.save(snap, nil)
}

func (s *interactionStorage) save(snap *pb.Snapshot, ents []*pb.Entry) error {
	hs := s.hs
	s.hs = nil
	if s.appends == nil {
		return s.SaveReady(raft.Ready{HardState: hs, Entries: ents, Snapshot: snap, MustSync: true})
	}
	resp := &pb.Message{Type: pb.MessageType_MsgStorageAppendResp.Enum()}
	m := &pb.Message{Type: pb.MessageType_MsgStorageAppend.Enum(), Entries: ents, Snapshot: snap,
		Responses: []*pb.Message{resp}}
	if hs != nil {
		m.Term, m.Vote, m.Commit = hs.Term, hs.Vote, hs.Commit
	}
	s.appends <- m
	select {
	case got := <-s.acks:
		if got != resp {
			return errors.New("RunAsync released another response")
		}
		return nil
	case err := <-s.failed:
		return fmt.Errorf("RunAsync: %w", err)
	}
}

// runAsync starts RunAsync for s until the test ends.
func (s *interactionStorage) runAsync(t *testing.T) {
	s.appends, s.acks, s.failed = make(chan *pb.Message), make(chan *pb.Message, 1), make(chan error, 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := s.RunAsync(ctx, s.appends, func(m *pb.Message) { s.acks <- m }); err != nil {
			s.failed <- err
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
}

func (s *interactionStorage) Snapshot() (*pb.Snapshot, error) {
	h := s.history()
	cur, err := s.Storage.Snapshot()
	if err != nil || h.GetMetadata().GetIndex() > cur.GetMetadata().GetIndex() {
		if _, err := s.CreateSnapshot(h.GetMetadata().GetIndex(), h.GetMetadata().GetConfState(), h.GetData()); err != nil {
			return nil, err
		}
	}
	return s.Storage.Snapshot()
}

// raftTestdata returns the directory of raft's interaction scenarios in the
// module cache (the version this module requires).
func raftTestdata(t *testing.T) string {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "go.etcd.io/raft/v3").Output()
	require.NoError(t, err, "locate go.etcd.io/raft/v3")
	return filepath.Join(strings.TrimSpace(string(out)), "testdata")
}

func TestInteraction(t *testing.T) {
	dir := raftTestdata(t)
	datadriven.Walk(t, dir, func(t *testing.T, path string) {
		var env *rafttest.InteractionEnv
		var content []byte // the bootstrap snapshot's data of an add-nodes
		env = rafttest.NewInteractionEnv(&rafttest.InteractionOpts{
			OnConfig: func(cfg *raft.Config) {
				cfg.Storage = newInteractionStorage(t, env, cfg, content)
			},
			SetRandomizedElectionTimeout: setRandomizedElectionTimeout,
		})
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			if d.Cmd != "add-nodes" {
				return env.Handle(t, *d)
			}
			content = nil
			for _, arg := range d.CmdArgs {
				if arg.Key == "content" && len(arg.Vals) > 0 {
					content = []byte(arg.Vals[0])
				}
			}
			n := len(env.Nodes)
			out := env.Handle(t, *d)
			for i := n; i < len(env.Nodes); i++ {
				env.Nodes[i].Storage = env.Nodes[i].Config.Storage.(*interactionStorage)
			}
			return out
		})
	})
}

// newInteractionStorage opens a Storage for the node cfg describes and gives
// it the state the env gave its MemoryStorage (cfg.Storage) before calling
// OnConfig: empty, or the bootstrap snapshot.
func newInteractionStorage(t *testing.T, env *rafttest.InteractionEnv, cfg *raft.Config, content []byte) *interactionStorage {
	mem := cfg.Storage
	s, err := etcdraft.Open(t.TempDir(), etcdraft.Options{Log: raftlog.Options{
		LogFileSize: 1 << 20, IdxItemsPerFile: 1 << 10, Logger: quietLog}})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	fi, err := mem.FirstIndex()
	require.NoError(t, err)
	if fi > 1 {
		term, err := mem.Term(fi - 1)
		require.NoError(t, err)
		_, cs, err := mem.InitialState()
		require.NoError(t, err)
		require.NoError(t, s.ApplySnapshot(&pb.Snapshot{
			Metadata: &pb.SnapshotMetadata{Index: new(fi - 1), Term: new(term), ConfState: cs},
			Data:     content,
		}))
	}
	id := cfg.ID
	is := &interactionStorage{Storage: s, history: func() *pb.Snapshot {
		h := env.Nodes[id-1].History
		return h[len(h)-1]
	}}
	if cfg.AsyncStorageWrites {
		is.runAsync(t)
	}
	return is
}
