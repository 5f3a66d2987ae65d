package etcdrafttest_test

import (
	"testing"

	"github.com/raftlog/raftlog/adapters/etcdraft/etcdrafttest"
	"go.etcd.io/raft/v3"
)

// TestMemoryStorage runs the checks against raft's own reference Storage:
// what passes here is what raft itself expects, not an invention of ours.
func TestMemoryStorage(t *testing.T) {
	etcdrafttest.Run(t, func(t *testing.T) etcdrafttest.Store { return raft.NewMemoryStorage() })
}
