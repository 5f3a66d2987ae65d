package chainwriter

import (
	"errors"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/raftlog/raftlog/vfs"
)

var errInjected = errors.New("injected I/O error")

// fakeFile is an in-memory vfs.File that counts WritevAt and Sync calls,
// keeps a copy of its contents as of the last successful Sync (what would
// survive a crash), and can fail or hold up either call.
type fakeFile struct {
	name string

	// Set before the file is used; read by the writer's goroutines.
	syncEntered chan string   // if set, Sync sends the name here on entry
	syncGate    chan struct{} // if set, Sync waits for a receive (or close)

	mu        sync.Mutex
	data      []byte
	durable   []byte
	writes    int
	iovCounts []int
	syncs     int
	writeErr  error // returned by every later WritevAt
	syncErr   error // returned by every later Sync
	shortBy   int   // later WritevAt calls write this many bytes too few
}

var _ vfs.File = (*fakeFile)(nil)

func newFakeFile(name string) *fakeFile { return &fakeFile{name: name} }

func (f *fakeFile) WritevAt(bufs [][]byte, off int64) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.writes++
	f.iovCounts = append(f.iovCounts, len(bufs))
	if f.writeErr != nil {
		return 0, f.writeErr
	}
	n := 0
	for _, b := range bufs {
		n += len(b)
	}
	n -= f.shortBy
	n = max(n, 0)
	end := int(off) + n
	if end > len(f.data) {
		f.data = append(f.data, make([]byte, end-len(f.data))...)
	}
	p := int(off)
	left := n
	for _, b := range bufs {
		c := copy(f.data[p:p+min(len(b), left)], b)
		p += c
		left -= c
	}
	return n, nil
}

func (f *fakeFile) Sync() error {
	if f.syncEntered != nil {
		f.syncEntered <- f.name
	}
	if f.syncGate != nil {
		<-f.syncGate
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.syncs++
	if f.syncErr != nil {
		return f.syncErr
	}
	f.durable = append(f.durable[:0], f.data...)
	return nil
}

func (f *fakeFile) ReadAt(p []byte, off int64) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return copy(p, f.data[off:]), nil
}

func (f *fakeFile) WriteAt(p []byte, off int64) (int, error) {
	return f.WritevAt([][]byte{p}, off)
}

func (f *fakeFile) Truncate(size int64) error      { return errors.ErrUnsupported }
func (f *fakeFile) Allocate(off, size int64) error { return errors.ErrUnsupported }
func (f *fakeFile) Name() string                   { return f.name }
func (f *fakeFile) Close() error                   { return nil }
func (f *fakeFile) Size() (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return int64(len(f.data)), nil
}
func (f *fakeFile) setWriteErr(err error) { f.mu.Lock(); f.writeErr = err; f.mu.Unlock() }
func (f *fakeFile) setSyncErr(err error)  { f.mu.Lock(); f.syncErr = err; f.mu.Unlock() }
func (f *fakeFile) counts() (writes, syncs int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.writes, f.syncs
}
func (f *fakeFile) durableCopy() []byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]byte(nil), f.durable...)
}
func (f *fakeFile) contents() []byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]byte(nil), f.data...)
}
func (f *fakeFile) iovs() []int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]int(nil), f.iovCounts...)
}

// recorder collects the callbacks of a Writer.
type recorder struct {
	mu      sync.Mutex
	forced  []uint64
	errs    []error
	forcedC chan uint64 // every OnForced tag, if set
	errC    chan error  // every OnError, if set
}

func (r *recorder) options(o Options) Options {
	o.OnForced = func(tag uint64) {
		r.mu.Lock()
		r.forced = append(r.forced, tag)
		r.mu.Unlock()
		if r.forcedC != nil {
			r.forcedC <- tag
		}
	}
	o.OnError = func(err error) {
		r.mu.Lock()
		r.errs = append(r.errs, err)
		r.mu.Unlock()
		if r.errC != nil {
			r.errC <- err
		}
	}
	return o
}

func (r *recorder) forcedTags() []uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]uint64(nil), r.forced...)
}

func (r *recorder) errors() []error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]error(nil), r.errs...)
}

// waitTag receives from c until it sees a tag >= want, failing the test
// after 10 s rather than hanging it.
func waitTag(t *testing.T, c <-chan uint64, want uint64) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case tag, ok := <-c:
			if !ok {
				t.Fatalf("channel closed before tag %d", want)
			}
			if tag >= want {
				return
			}
		case <-timeout:
			t.Fatalf("no tag %d within 10 s", want)
		}
	}
}

// checkNoLeak fails the test if goroutines started during it are still
// running at cleanup. Close waits for the writer's goroutines, but one that
// has closed its exit channel may be counted for a moment longer, hence the
// bounded poll.
func checkNoLeak(t *testing.T) {
	t.Helper()
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(5 * time.Second)
		for runtime.NumGoroutine() > before {
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<16)
				n := runtime.Stack(buf, true)
				t.Fatalf("goroutines leaked: %d > %d\n%s", runtime.NumGoroutine(), before, buf[:n])
			}
			runtime.Gosched()
		}
	})
}

// pattern returns n bytes that depend on seed, so misplaced bytes show.
func pattern(seed, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(seed*131 + i*7 + 1)
	}
	return b
}
