package etcdraft

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"strings"

	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// snapProperty is the log property that holds the current snapshot's
// metadata (a marshalled raftpb.SnapshotMetadata).
const snapProperty = "etcdraft.snapshot"

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func snapName(term, index uint64) string {
	return fmt.Sprintf("%016x-%016x.snap", term, index)
}

// loadSnapshot reads the current snapshot at Open, finishes an interrupted
// install and removes orphaned data files.
func (s *Storage) loadSnapshot() error {
	if err := os.MkdirAll(s.snapDir, 0o755); err != nil {
		return fmt.Errorf("etcdraft: %w", err)
	}
	s.snap = pb.EnsureSnapshot(nil)
	raw, ok := s.log.Property(snapProperty)
	if ok {
		md := &pb.SnapshotMetadata{}
		if err := proto.Unmarshal(raw, md); err != nil {
			return fmt.Errorf("%w: metadata: %w", ErrSnapshotCorrupt, err)
		}
		data, err := s.readData(md.GetTerm(), md.GetIndex())
		if err != nil {
			return err
		}
		s.snap = &pb.Snapshot{Metadata: md, Data: data}
		s.snap = pb.EnsureSnapshot(s.snap)
		idx, term := md.GetIndex(), md.GetTerm()
		// A snapshot at an index the log does not hold with its term
		// came from a leader and its install was cut short: finish it.
		if idx >= s.log.FirstIndex() {
			if t, err := s.log.Term(idx); err != nil || t != term {
				if _, err := s.log.InstallSnapshot(idx, term).Wait(context.Background()); err != nil {
					return fmt.Errorf("etcdraft: finish install of snapshot %d/%d: %w", idx, term, err)
				}
			}
		}
	}
	return s.removeOtherData()
}

func (s *Storage) readData(term, index uint64) ([]byte, error) {
	b, err := os.ReadFile(filepath.Join(s.snapDir, snapName(term, index)))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSnapshotCorrupt, err)
	}
	if len(b) < 4 || crc32.Checksum(b[:len(b)-4], castagnoli) != binary.LittleEndian.Uint32(b[len(b)-4:]) {
		return nil, fmt.Errorf("%w: bad checksum in %s", ErrSnapshotCorrupt, snapName(term, index))
	}
	if len(b) == 4 {
		return nil, nil
	}
	return b[:len(b)-4], nil
}

// writeData makes the data file durable: write a temporary file, fsync it,
// rename it into place and fsync the directory.
func (s *Storage) writeData(term, index uint64, data []byte) error {
	name := filepath.Join(s.snapDir, snapName(term, index))
	tmp := name + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("etcdraft: snapshot data: %w", err)
	}
	buf := binary.LittleEndian.AppendUint32(append([]byte(nil), data...), crc32.Checksum(data, castagnoli))
	_, err = f.Write(buf)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, name)
	}
	if err == nil {
		err = syncDir(s.snapDir)
	}
	if err != nil {
		return fmt.Errorf("etcdraft: snapshot data %s: %w", name, err)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// removeOtherData deletes every data file but the current snapshot's. A
// failure is reported but harmless: the files are only garbage.
func (s *Storage) removeOtherData() error {
	keep := snapName(s.snap.GetMetadata().GetTerm(), s.snap.GetMetadata().GetIndex())
	des, err := os.ReadDir(s.snapDir)
	if err != nil {
		return fmt.Errorf("etcdraft: %w", err)
	}
	var errs []error
	for _, de := range des {
		if n := de.Name(); n != keep && (strings.HasSuffix(n, ".snap") || strings.HasSuffix(n, ".snap.tmp")) {
			errs = append(errs, os.Remove(filepath.Join(s.snapDir, n)))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("etcdraft: remove old snapshots: %w", err)
	}
	return nil
}

// setCurrent makes snap the current snapshot: data file, then the metadata
// property. The caller holds snapMu.
func (s *Storage) setCurrent(snap *pb.Snapshot) error {
	md := snap.GetMetadata()
	if err := s.writeData(md.GetTerm(), md.GetIndex(), snap.GetData()); err != nil {
		return err
	}
	raw, err := proto.Marshal(md)
	if err != nil {
		return fmt.Errorf("etcdraft: snapshot metadata: %w", err)
	}
	if err := s.log.SetProperty(snapProperty, raw); err != nil {
		return fmt.Errorf("etcdraft: snapshot metadata: %w", err)
	}
	s.snap = proto.Clone(snap).(*pb.Snapshot)
	return nil
}

// ApplySnapshot replaces the log with snap, as a follower does with a
// snapshot from the leader (MemoryStorage.ApplySnapshot): afterwards
// FirstIndex is its index+1 and the log holds no entries. It returns
// raft.ErrSnapOutOfDate for a snapshot not newer than the current one. A
// snapshot at index 0 only records its ConfState (bootstrap).
func (s *Storage) ApplySnapshot(snap *pb.Snapshot) error {
	snap = pb.EnsureSnapshot(snap)
	s.snapMu.Lock()
	defer s.snapMu.Unlock()
	cur, idx := s.snap.GetMetadata().GetIndex(), snap.GetMetadata().GetIndex()
	if cur != 0 && cur >= idx {
		return raft.ErrSnapOutOfDate
	}
	if err := s.setCurrent(snap); err != nil {
		return err
	}
	s.tail.reset()
	if idx > 0 {
		if _, err := s.log.InstallSnapshot(idx, snap.GetMetadata().GetTerm()).Wait(context.Background()); err != nil {
			return fmt.Errorf("etcdraft: install snapshot %d: %w", idx, err)
		}
	}
	return s.removeOtherData()
}

// CreateSnapshot records a snapshot of the application's state at index i
// (applied), which Snapshot returns from then on; cs nil keeps the current
// ConfState. It does not compact: call Compact for that. It returns
// raft.ErrSnapOutOfDate when i is not above the current snapshot's index.
func (s *Storage) CreateSnapshot(i uint64, cs *pb.ConfState, data []byte) (*pb.Snapshot, error) {
	s.snapMu.Lock()
	defer s.snapMu.Unlock()
	if i <= s.snap.GetMetadata().GetIndex() {
		return nil, raft.ErrSnapOutOfDate
	}
	if last := s.log.LastIndex(); i > last {
		return nil, fmt.Errorf("etcdraft: snapshot at %d above the last index %d: %w", i, last, raft.ErrUnavailable)
	}
	term, err := s.Term(i)
	if err != nil {
		return nil, err
	}
	if cs == nil {
		cs = s.snap.GetMetadata().GetConfState()
	}
	snap := &pb.Snapshot{
		Metadata: &pb.SnapshotMetadata{Index: new(i), Term: new(term), ConfState: proto.Clone(cs).(*pb.ConfState)},
		Data:     data,
	}
	if err := s.setCurrent(snap); err != nil {
		return nil, err
	}
	if err := s.removeOtherData(); err != nil {
		return nil, err
	}
	return proto.Clone(snap).(*pb.Snapshot), nil
}

// Compact discards the entries before compactIndex, which stays as the
// point whose term is kept (MemoryStorage.Compact): FirstIndex becomes
// compactIndex+1. It returns raft.ErrCompacted when compactIndex is already
// compacted. Compact only what the application has applied and covered by
// a snapshot.
func (s *Storage) Compact(compactIndex uint64) error {
	if compactIndex < s.log.FirstIndex() {
		return raft.ErrCompacted
	}
	if last := s.log.LastIndex(); compactIndex > last {
		return fmt.Errorf("etcdraft: compact %d above the last index %d: %w", compactIndex, last, raft.ErrUnavailable)
	}
	if _, err := s.log.CompactTo(compactIndex + 1).Wait(context.Background()); err != nil {
		return fmt.Errorf("etcdraft: compact %d: %w", compactIndex, err)
	}
	return nil
}
