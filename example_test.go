package raftlog_test

import (
	"context"
	"fmt"
	"os"

	"github.com/raftlog/raftlog"
)

func Example() {
	dir, _ := os.MkdirTemp("", "raftlog-example-")
	defer os.RemoveAll(dir)

	log, err := raftlog.Open(dir, raftlog.Options{LogFileSize: 1 << 20})
	if err != nil {
		panic(err)
	}
	// Submit two batches without waiting; they share fdatasyncs.
	f1 := log.Append([]raftlog.Entry{{Index: 1, Term: 1, Data: []byte("x=1")}, {Index: 2, Term: 1, Data: []byte("y=2")}})
	f2 := log.Append([]raftlog.Entry{{Index: 3, Term: 2, Data: []byte("x=3")}})
	// Readable at once, durable when the future completes.
	e, _ := log.Entry(3)
	fmt.Printf("entry 3: term %d %q\n", e.Term, e.Data)
	if _, err := f1.Wait(context.Background()); err != nil {
		panic(err)
	}
	last, err := f2.Wait(context.Background())
	fmt.Println("durable through", last, err)
	hs, err := log.SetHardState(raftlog.HardState{Term: 2, Vote: 1, Commit: 3}).Wait(context.Background())
	fmt.Println("hard state", hs, err)
	if err := log.Close(); err != nil {
		panic(err)
	}

	log, _ = raftlog.Open(dir, raftlog.Options{LogFileSize: 1 << 20})
	defer log.Close()
	es, _ := log.Entries(1, 4, 0)
	for _, e := range es {
		fmt.Printf("%d/%d %s\n", e.Index, e.Term, e.Data)
	}
	fmt.Println(log.HardState())
	// Output:
	// entry 3: term 2 "x=3"
	// durable through 3 <nil>
	// hard state {2 1 3} <nil>
	// 1/1 x=1
	// 2/1 y=2
	// 3/2 x=3
	// {2 1 3}
}
