package etcdraft

import (
	"errors"

	"github.com/raftlog/raftlog"
	"go.etcd.io/raft/v3"
)

// ErrSnapshotCorrupt: the data file of the current snapshot is missing or
// fails its checksum.
var ErrSnapshotCorrupt = errors.New("etcdraft: snapshot data corrupt")

// raftErr translates raftlog's read errors into the values raft compares
// with ==. raft treats any other Storage error as fatal, so the rest keep
// their detail.
func raftErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, raftlog.ErrCompacted):
		return raft.ErrCompacted
	case errors.Is(err, raftlog.ErrUnavailable):
		return raft.ErrUnavailable
	}
	return err
}
