package status

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func fullState() State {
	return State{
		Term: 7, Vote: 3, Commit: 100, PersistedIndex: 90,
		FirstIndex: 11, FirstPos: 4096, FirstPrevTerm: 2,
		Epoch: 5, Installing: true, TruncatedFrom: 77, TruncEpoch: 4,
		Props: map[string][]byte{"a": []byte("x"), "b": nil, "c": []byte("zz")},
	}
}

func TestCloneIsDeep(t *testing.T) {
	s := fullState()
	c := s.Clone()
	require.True(t, s.Equal(c))
	c.Props["a"][0] = 'y'
	c.Props["new"] = []byte("1")
	require.Equal(t, []byte("x"), s.Props["a"])
	require.NotContains(t, s.Props, "new")

	require.Nil(t, State{}.Clone().Props, "a nil Props stays nil")
}

func TestEqual(t *testing.T) {
	base := fullState()
	tests := []struct {
		name   string
		change func(*State)
		equal  bool
	}{
		{"same", func(*State) {}, true},
		{"term", func(s *State) { s.Term++ }, false},
		{"vote", func(s *State) { s.Vote++ }, false},
		{"commit", func(s *State) { s.Commit++ }, false},
		{"persisted", func(s *State) { s.PersistedIndex++ }, false},
		{"first index", func(s *State) { s.FirstIndex++ }, false},
		{"first pos", func(s *State) { s.FirstPos++ }, false},
		{"first prev term", func(s *State) { s.FirstPrevTerm++ }, false},
		{"epoch", func(s *State) { s.Epoch++ }, false},
		{"installing", func(s *State) { s.Installing = !s.Installing }, false},
		{"value", func(s *State) { s.Props["a"] = []byte("y") }, false},
		{"extra key", func(s *State) { s.Props["d"] = nil }, false},
		{"other key", func(s *State) { delete(s.Props, "c"); s.Props["d"] = []byte("zz") }, false},
		{"nil vs empty value", func(s *State) { s.Props["b"] = []byte{} }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := base.Clone()
			tt.change(&o)
			require.Equal(t, tt.equal, base.Equal(o))
			require.Equal(t, tt.equal, o.Equal(base))
		})
	}
	require.True(t, State{}.Equal(State{Props: map[string][]byte{}}), "nil and empty Props")
}
