package raftlog

import (
	"maps"

	"github.com/raftlog/raftlog/status"
)

// SetProperty durably stores a small user value under key in the status
// file (a Raft library's stable store: current term, vote, configuration
// markers). It returns once the status file is synced. Properties share the
// status file's 16 KiB slot with the log's own state, so they are for small
// values; an oversized set is refused and changes nothing. An empty value
// deletes the key.
func (l *Log) SetProperty(key string, value []byte) error {
	if l.closed.Load() {
		return ErrClosed
	}
	if err := l.pending.failure(); err != nil {
		return err
	}
	return l.updateStatus(func(st *status.State) {
		props := maps.Clone(st.Props)
		if len(value) == 0 {
			delete(props, key)
		} else {
			if props == nil {
				props = map[string][]byte{}
			}
			props[key] = append([]byte(nil), value...)
		}
		st.Props = props
	})
}

// Property returns the value stored under key, and whether there is one.
// The slice is the caller's.
func (l *Log) Property(key string) ([]byte, bool) {
	l.stMu.Lock()
	defer l.stMu.Unlock()
	v, ok := l.st.Props[key]
	if !ok {
		return nil, false
	}
	return append([]byte(nil), v...), true
}
