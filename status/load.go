package status

import (
	"fmt"
	"io/fs"
	"path/filepath"

	"github.com/raftlog/raftlog/vfs"
)

// Load returns the newest valid state of dir/"status" without creating,
// repairing or removing anything, and without the directory lock: it is for
// inspection tools that read a directory while its owner may be running.
//
// A missing file, and a 0-byte one (which Open treats as missing: see the
// package comment), give an error wrapping fs.ErrNotExist; a file with no
// valid slot gives ErrCorrupt. A leftover "status.tmp" is ignored. Reading
// while the owner saves is safe: Save writes only the slot that does not hold
// the newest state, so a slot torn by the concurrent write fails its CRC and
// the other, complete one is taken.
func Load(fsys vfs.FS, dir string) (State, error) {
	name := filepath.Join(dir, fileName)
	f, err := fsys.OpenReadOnly(name)
	if err != nil {
		return State{}, fmt.Errorf("status: open %s: %w", name, err)
	}
	l, empty, err := load(f, name)
	cerr := f.Close()
	if err != nil {
		return State{}, err
	}
	if empty {
		return State{}, fmt.Errorf("status: %s is empty (created but never written): %w", name, fs.ErrNotExist)
	}
	if cerr != nil {
		return State{}, fmt.Errorf("status: close %s: %w", name, cerr)
	}
	return l.state, nil
}
