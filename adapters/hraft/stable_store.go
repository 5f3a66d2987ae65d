package hraft

import (
	"encoding/binary"
	"fmt"
)

// stablePrefix keeps raft's keys apart from the adapter's own properties.
const stablePrefix = "s:"

// Set implements raft.StableStore; it returns once the value is durable.
// An empty value deletes the key (raftlog properties cannot hold one).
func (s *Store) Set(key, val []byte) error {
	if err := s.log.SetProperty(stablePrefix+string(key), val); err != nil {
		return fmt.Errorf("hraft: set %q: %w", key, err)
	}
	return nil
}

// Get implements raft.StableStore: (nil, nil) for an absent key.
func (s *Store) Get(key []byte) ([]byte, error) {
	v, _ := s.log.Property(stablePrefix + string(key))
	return v, nil
}

// SetUint64 implements raft.StableStore, as 8 bytes big-endian.
func (s *Store) SetUint64(key []byte, val uint64) error {
	return s.Set(key, binary.BigEndian.AppendUint64(nil, val))
}

// GetUint64 implements raft.StableStore: (0, nil) for an absent key.
func (s *Store) GetUint64(key []byte) (uint64, error) {
	v, _ := s.log.Property(stablePrefix + string(key))
	if v == nil {
		return 0, nil
	}
	if len(v) != 8 {
		return 0, fmt.Errorf("hraft: key %q holds %d bytes, not a uint64", key, len(v))
	}
	return binary.BigEndian.Uint64(v), nil
}
