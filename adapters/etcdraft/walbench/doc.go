// Package walbench compares raftlog (through adapters/etcdraft) with etcd's
// WAL as the durable store under go.etcd.io/raft/v3. It is its own module so
// that etcd's server dependencies stay out of the adapter's go.mod.
//
// BenchmarkSingleNodeProposals is a single-node raft group in synchronous
// Ready mode: each round proposes a batch of commands, persists the Ready
// (entries and HardState, one fdatasync per Ready for both stores), applies
// the committed entries, and advances. BenchmarkSingleNodeAsync is the same
// group with AsyncStorageWrites. The figure is proposals applied per second.
//
//	go test -run XXX -bench SingleNodeProposals -benchtime 40000x .
//	go test -run XXX -bench SingleNodeAsync -benchtime 50000x .
package walbench
