package etcdraft

import (
	"github.com/raftlog/raftlog"
	pb "go.etcd.io/raft/v3/raftpb"
)

// toLog converts raft entries to raftlog entries. The byte slices are shared:
// raftlog copies them during Append.
func toLog(ents []*pb.Entry) []raftlog.Entry {
	out := make([]raftlog.Entry, len(ents))
	for i, e := range ents {
		out[i] = raftlog.Entry{
			Index: e.GetIndex(),
			Term:  e.GetTerm(),
			Type:  uint8(e.GetType()),
			Data:  e.GetData(),
		}
	}
	return out
}

// toRaft converts one raftlog entry. An empty payload becomes nil and
// EntryNormal an unset Type, as in the entries raft builds for proposals, so
// that an entry read back has the encoded size (raft's maxSize unit) it had
// when raft made it.
func toRaft(e raftlog.Entry) *pb.Entry {
	out := &pb.Entry{Index: new(e.Index), Term: new(e.Term)}
	if len(e.Data) > 0 {
		out.Data = e.Data
	}
	if t := pb.EntryType(e.Type); t != pb.EntryType_EntryNormal {
		out.Type = t.Enum()
	}
	return out
}
