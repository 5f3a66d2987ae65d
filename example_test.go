package raftlog_test

import (
	"context"
	"errors"
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

func ExampleLog_TruncateTail() {
	dir, _ := os.MkdirTemp("", "raftlog-example-")
	defer os.RemoveAll(dir)
	log, _ := raftlog.Open(dir, raftlog.Options{LogFileSize: 1 << 20})
	defer log.Close()
	ctx := context.Background()
	var es []raftlog.Entry
	for i := uint64(1); i <= 5; i++ {
		es = append(es, raftlog.Entry{Index: i, Term: 1})
	}
	log.Append(es).Wait(ctx)

	// A new leader's log differs from index 4 on: drop 4 and 5, append its.
	last, _ := log.TruncateTail(4).Wait(ctx)
	fmt.Println("after truncation:", last)
	log.Append([]raftlog.Entry{{Index: 4, Term: 2, Data: []byte("new")}}).Wait(ctx)
	e, _ := log.Entry(4)
	fmt.Printf("entry 4: term %d %s\n", e.Term, e.Data)
	// Output:
	// after truncation: 3
	// entry 4: term 2 new
}

func ExampleLog_FindMatch() {
	dir, _ := os.MkdirTemp("", "raftlog-example-")
	defer os.RemoveAll(dir)
	log, _ := raftlog.Open(dir, raftlog.Options{LogFileSize: 1 << 20})
	defer log.Close()
	var es []raftlog.Entry
	for i, term := range []uint64{1, 1, 2, 2, 3} {
		es = append(es, raftlog.Entry{Index: uint64(i + 1), Term: term})
	}
	log.Append(es).Wait(context.Background())

	// A leader at (term 2, index 5): where does this log agree with it?
	t, i, ok, _ := log.FindMatch(2, 5)
	fmt.Println(t, i, ok)
	// Output:
	// 2 4 true
}

func ExampleLog_NewIterator() {
	dir, _ := os.MkdirTemp("", "raftlog-example-")
	defer os.RemoveAll(dir)
	log, _ := raftlog.Open(dir, raftlog.Options{LogFileSize: 1 << 20})
	defer log.Close()
	var es []raftlog.Entry
	for i := uint64(1); i <= 10; i++ {
		es = append(es, raftlog.Entry{Index: i, Term: 1, Data: []byte{byte(i)}})
	}
	log.Append(es).Wait(context.Background())

	it := log.NewIterator(3, raftlog.IterOptions{})
	defer it.Close()
	for {
		batch, err := it.Next(4, 0)
		if err != nil || len(batch) == 0 {
			break
		}
		fmt.Println(batch[0].Index, "to", batch[len(batch)-1].Index)
	}
	// Output:
	// 3 to 6
	// 7 to 10
}

func ExampleLog_CompactTo() {
	dir, _ := os.MkdirTemp("", "raftlog-example-")
	defer os.RemoveAll(dir)
	log, _ := raftlog.Open(dir, raftlog.Options{LogFileSize: 1 << 20})
	defer log.Close()
	var es []raftlog.Entry
	for i := uint64(1); i <= 10; i++ {
		es = append(es, raftlog.Entry{Index: i, Term: 1})
	}
	log.Append(es).Wait(context.Background())

	// Entries up to 6 are applied and in a snapshot.
	first, _ := log.CompactTo(7).Wait(context.Background())
	_, err := log.Entry(6)
	fmt.Println(first, log.FirstIndex(), errors.Is(err, raftlog.ErrCompacted))
	// Output:
	// 7 7 true
}
