// Command example is the README's minimal program: one hashicorp/raft node
// whose log and stable store are an hraft.Store.
package main

import (
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/hashicorp/raft"
	"github.com/raftlog/raftlog"
	"github.com/raftlog/raftlog/adapters/hraft"
)

// counter is the application state machine.
type counter struct{ n int }

func (c *counter) Apply(*raft.Log) any                 { c.n++; return c.n }
func (c *counter) Snapshot() (raft.FSMSnapshot, error) { return snap(c.n), nil }
func (c *counter) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	_, err := fmt.Fscan(rc, &c.n)
	return err
}

type snap int

func (s snap) Persist(sink raft.SnapshotSink) error {
	if _, err := fmt.Fprint(sink, int(s)); err != nil {
		sink.Cancel()
		return err
	}
	return sink.Close()
}
func (snap) Release() {}

func main() {
	dir, err := os.MkdirTemp("", "hraft-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	// One raftlog directory is both the log store and the stable store.
	store, err := hraft.Open(filepath.Join(dir, "log"), raftlog.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	snaps, err := raft.NewFileSnapshotStore(dir, 2, os.Stderr)
	if err != nil {
		log.Fatal(err)
	}
	addr, trans := raft.NewInmemTransport("")

	conf := raft.DefaultConfig()
	conf.LocalID = "node1"
	r, err := raft.NewRaft(conf, &counter{}, store, store, snaps, trans)
	if err != nil {
		log.Fatal(err)
	}
	defer r.Shutdown()
	err = r.BootstrapCluster(raft.Configuration{Servers: []raft.Server{{ID: conf.LocalID, Address: addr}}}).Error()
	if err != nil {
		log.Fatal(err)
	}
	for r.State() != raft.Leader {
		<-r.LeaderCh()
	}
	for i := 0; i < 3; i++ {
		f := r.Apply([]byte("incr"), time.Second)
		if err := f.Error(); err != nil {
			log.Fatal(err)
		}
		fmt.Println("applied, counter =", f.Response())
	}
	last, _ := store.LastIndex()
	fmt.Println("log last index:", last)
}
