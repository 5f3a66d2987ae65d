package vfs

import "io"

// WriteGuard wraps an FS for code that promises not to change it (the
// read-only modes of the queues and the status file, the inspection CLI):
// every call that could change the file system — Create, Open for writing,
// Remove, Rename, MkdirAll, SyncDir, Lock — is reported to onWrite and then
// passed through. Files opened with OpenReadOnly refuse writes on their own.
type WriteGuard struct {
	FS
	onWrite func(call, name string)
}

// NewWriteGuard returns inner guarded by onWrite (a test's t.Errorf, say).
func NewWriteGuard(inner FS, onWrite func(call, name string)) *WriteGuard {
	return &WriteGuard{FS: inner, onWrite: onWrite}
}

// Create implements FS.
func (g *WriteGuard) Create(name string) (File, error) {
	g.onWrite("Create", name)
	return g.FS.Create(name)
}

// Open implements FS.
func (g *WriteGuard) Open(name string) (File, error) {
	g.onWrite("Open for writing", name)
	return g.FS.Open(name)
}

// Remove implements FS.
func (g *WriteGuard) Remove(name string) error {
	g.onWrite("Remove", name)
	return g.FS.Remove(name)
}

// Rename implements FS.
func (g *WriteGuard) Rename(oldname, newname string) error {
	g.onWrite("Rename", oldname+" -> "+newname)
	return g.FS.Rename(oldname, newname)
}

// MkdirAll implements FS.
func (g *WriteGuard) MkdirAll(dir string) error {
	g.onWrite("MkdirAll", dir)
	return g.FS.MkdirAll(dir)
}

// SyncDir implements FS.
func (g *WriteGuard) SyncDir(dir string) error {
	g.onWrite("SyncDir", dir)
	return g.FS.SyncDir(dir)
}

// Lock implements FS.
func (g *WriteGuard) Lock(dir string) (io.Closer, error) {
	g.onWrite("Lock", dir)
	return g.FS.Lock(dir)
}
