package etcdraft

import (
	"context"
	"fmt"

	pb "go.etcd.io/raft/v3/raftpb"
)

// asyncQueueSize bounds the MsgStorageAppend messages whose writes are
// submitted but not yet durable. When it is full RunAsync stops taking
// messages, which holds raft's Ready loop back through the input channel.
const asyncQueueSize = 1024

// inflight is one MsgStorageAppend whose writes are submitted: the
// operations to wait for and the responses they release.
type inflight struct {
	waits []waiter
	resps []*pb.Message
}

// RunAsync is the local append thread of a node with
// raft.Config.AsyncStorageWrites. It reads MsgStorageAppend messages from in,
// in order, and for each submits the snapshot install, the entries (with
// overwrite semantics) and the HardState to the log without waiting for the
// disk, so consecutive messages share fdatasyncs. A second goroutine waits
// for each message's writes in order and only then passes its Responses to
// send (responses to this node must be stepped back into it, others go to
// their peers). Responses are therefore delivered in message order and never
// before the writes they acknowledge are durable.
//
// It returns nil when ctx is done or in is closed, after the helper goroutine
// has exited; responses whose writes were not yet durable then are dropped
// (raft does not need them: the node is stopping). It returns the first
// write error, after which the log has failed and raft must not be given
// further responses; the application stops the node and reopens the
// Storage. A message of another type is an error too.
func (s *Storage) RunAsync(ctx context.Context, in <-chan *pb.Message, send func(*pb.Message)) error {
	q := make(chan inflight, asyncQueueSize)
	failed := make(chan error, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		var err error
		for p := range q {
			if err != nil {
				continue // drain so that the reader never blocks
			}
			if err = waitAll(ctx, p.waits); err != nil {
				if ctx.Err() == nil {
					failed <- err
				}
				continue
			}
			for _, r := range p.resps {
				send(r)
			}
		}
	}()

	err := s.readAppends(ctx, in, q, failed)
	close(q)
	<-done
	if err == nil {
		select {
		case err = <-failed:
		default:
		}
	}
	return err
}

func (s *Storage) readAppends(ctx context.Context, in <-chan *pb.Message, q chan<- inflight, failed <-chan error) error {
	for {
		var m *pb.Message
		select {
		case <-ctx.Done():
			return nil
		case err := <-failed:
			return err
		case msg, ok := <-in:
			if !ok {
				return nil
			}
			m = msg
		}
		if m.GetType() != pb.MessageType_MsgStorageAppend {
			return fmt.Errorf("etcdraft: RunAsync got a %v message, want MsgStorageAppend", m.GetType())
		}
		hs := &pb.HardState{Term: m.Term, Vote: m.Vote, Commit: m.Commit}
		ws, err := s.submit(m.GetSnapshot(), m.GetEntries(), hs)
		if err != nil {
			return err
		}
		select {
		case q <- inflight{waits: ws, resps: m.GetResponses()}:
		case <-ctx.Done():
			return nil
		case err := <-failed:
			return err
		}
	}
}
