// Command example runs a single-node etcd raft group whose log lives in a
// raftlog directory: it proposes commands, persists each Ready with
// SaveReady, applies what is committed, and on a second run recovers the
// log and replays it.
//
//	go run ./example -dir /tmp/raftdemo
package main

import (
	"flag"
	"fmt"
	"log"

	"github.com/raftlog/raftlog/adapters/etcdraft"
	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

func main() {
	dir := flag.String("dir", "raftdemo", "storage directory")
	flag.Parse()

	storage, err := etcdraft.Open(*dir, etcdraft.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer storage.Close()

	rn, err := raft.NewRawNode(&raft.Config{
		ID: 1, ElectionTick: 10, HeartbeatTick: 1,
		Storage: storage, MaxSizePerMsg: 1 << 20, MaxInflightMsgs: 256,
	})
	if err != nil {
		log.Fatal(err)
	}
	if last, _ := storage.LastIndex(); last == 0 {
		// A new group: the first node's membership is the first entry.
		if err := rn.Bootstrap([]raft.Peer{{ID: 1}}); err != nil {
			log.Fatal(err)
		}
	}

	applied := 0
	handle := func() {
		for rn.HasReady() {
			rd := rn.Ready()
			// Durable before messages go out and before Advance.
			if err := storage.SaveReady(rd); err != nil {
				log.Fatal(err)
			}
			// (A multi-node program sends rd.Messages to its peers here.)
			for _, e := range rd.CommittedEntries {
				switch e.GetType() {
				case pb.EntryType_EntryConfChange:
					var cc pb.ConfChange
					if err := proto.Unmarshal(e.GetData(), &cc); err != nil {
						log.Fatal(err)
					}
					rn.ApplyConfChange(&cc)
				case pb.EntryType_EntryNormal:
					if len(e.GetData()) > 0 {
						applied++ // apply e.Data to the state machine
					}
				}
			}
			rn.Advance(rd)
		}
	}
	handle() // apply the membership (or replay the log after a restart)
	fmt.Printf("recovered %d commands\n", applied)
	if err := rn.Campaign(); err != nil {
		log.Fatal(err)
	}
	handle()

	for i := range 100 {
		if err := rn.Propose(fmt.Appendf(nil, "set k%d", i)); err != nil {
			log.Fatal(err)
		}
		handle()
	}
	first, _ := storage.FirstIndex()
	last, _ := storage.LastIndex()
	fmt.Printf("applied %d commands; log holds [%d, %d]\n", applied, first, last)
}
