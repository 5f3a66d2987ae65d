package vfs

import (
	"maps"
	"math/rand/v2"
	"slices"
)

// pageSize is the unit of write-back that CrashWithLoss models: the kernel
// writes dirty page-cache pages back one 4 KiB page at a time and in no
// particular order, so after a power loss each page is independently old,
// new or, if the device tore the write, a mix of the two.
const pageSize = 4096

type page = [pageSize]byte

// pageImage is the content of a file as sparse pages, so that a 1 GiB
// preallocated log file costs memory only for the pages written. A missing
// page reads as zeros.
//
// Invariant: every byte at or beyond size in a present page is zero, so that
// growing the size (Allocate, a write past the end) exposes zeros without
// touching pages.
type pageImage struct {
	size  int64
	pages map[int64]*page
}

func newPageImage() pageImage {
	return pageImage{pages: make(map[int64]*page)}
}

// clone shares the page arrays: callers only ever share pages that nobody
// writes in place any more (see memNode.dirty).
func (im *pageImage) clone() pageImage {
	pages := maps.Clone(im.pages)
	if pages == nil {
		pages = make(map[int64]*page)
	}
	return pageImage{size: im.size, pages: pages}
}

// readAt copies what the image holds at off into p and returns the count,
// which is short only at the end of the image.
func (im *pageImage) readAt(p []byte, off int64) int {
	if off >= im.size {
		return 0
	}
	n := int(min(int64(len(p)), im.size-off))
	p = p[:n]
	for len(p) > 0 {
		idx, in := off/pageSize, int(off%pageSize)
		c := min(len(p), pageSize-in)
		if pg := im.pages[idx]; pg != nil {
			copy(p[:c], pg[in:])
		} else {
			clear(p[:c])
		}
		p = p[c:]
		off += int64(c)
	}
	return n
}

// bytes returns the whole image as one slice; for tests and small files.
func (im *pageImage) bytes() []byte {
	b := make([]byte, im.size)
	im.readAt(b, 0)
	return b
}

// pageCount is the number of pages needed to hold size bytes.
func pageCount(size int64) int64 { return (size + pageSize - 1) / pageSize }

// memNode is one file of a MemFS: what the page cache holds (cur) and what
// the last fdatasync made durable (synced).
//
// Sharing rule: a page array is written in place only while its index is in
// dirty, which means it was copied or allocated after the last sync and so is
// referenced by cur alone. Every other page may also be referenced by synced
// or by a crash clone and is copied before it is written. As a consequence,
// for every index not in dirty, cur and synced hold the same page pointer:
// dirty is exactly the set of pages that may differ.
type memNode struct {
	cur    pageImage
	synced pageImage
	dirty  map[int64]struct{}
}

func newMemNode() *memNode {
	return &memNode{cur: newPageImage(), synced: newPageImage(), dirty: make(map[int64]struct{})}
}

// writablePage returns page idx of cur, made private to cur first.
func (n *memNode) writablePage(idx int64) *page {
	old := n.cur.pages[idx]
	if _, ok := n.dirty[idx]; ok && old != nil {
		return old
	}
	pg := new(page)
	if old != nil {
		*pg = *old
	}
	n.cur.pages[idx] = pg
	n.dirty[idx] = struct{}{}
	return pg
}

func (n *memNode) writeAt(p []byte, off int64) {
	if len(p) == 0 {
		// pwrite of nothing does not extend the file.
		return
	}
	end := off + int64(len(p))
	for len(p) > 0 {
		idx, in := off/pageSize, int(off%pageSize)
		c := copy(n.writablePage(idx)[in:], p)
		p = p[c:]
		off += int64(c)
	}
	n.cur.size = max(n.cur.size, end)
}

func (n *memNode) truncate(size int64) {
	if size < n.cur.size {
		if in := size % pageSize; in != 0 && n.cur.pages[size/pageSize] != nil {
			clear(n.writablePage(size / pageSize)[in:])
		}
		first := pageCount(size)
		for idx := range n.cur.pages {
			if idx >= first {
				delete(n.cur.pages, idx)
				n.dirty[idx] = struct{}{}
			}
		}
	}
	n.cur.size = size
}

// sync is fdatasync: everything in cur becomes durable. It costs one map
// update per page changed since the previous sync.
func (n *memNode) sync() {
	for idx := range n.dirty {
		if pg, ok := n.cur.pages[idx]; ok {
			n.synced.pages[idx] = pg
		} else {
			delete(n.synced.pages, idx)
		}
	}
	n.synced.size = n.cur.size
	clear(n.dirty)
}

// crashClone returns the file as found after a power loss. With rng nil that
// is exactly the synced image. With rng, each page that may differ between
// cur and synced comes back old, new or torn (a prefix of the new page over
// the rest of the old one), and the size comes back as either the synced or
// the current one, all chosen by rng in a deterministic order so that a seed
// reproduces the outcome.
func (n *memNode) crashClone(rng *rand.Rand) *memNode {
	img := n.synced.clone()
	if rng != nil {
		img = n.lossyImage(rng)
	}
	return &memNode{cur: img, synced: img.clone(), dirty: make(map[int64]struct{})}
}

// Page choices of lossyImage.
const (
	keepOld = iota
	keepNew
	keepTorn
	numKeeps
)

func (n *memNode) lossyImage(rng *rand.Rand) pageImage {
	out := n.synced.clone()
	if n.cur.size != n.synced.size && rng.IntN(2) == 1 {
		out.size = n.cur.size
	}
	for _, idx := range slices.Sorted(maps.Keys(n.dirty)) {
		newPg, oldPg := n.cur.pages[idx], n.synced.pages[idx]
		var pg *page
		switch rng.IntN(numKeeps) {
		case keepOld:
			continue
		case keepNew:
			if newPg != nil {
				// Copied because newPg is dirty in n and may still be
				// written in place there.
				pg = new(page)
				*pg = *newPg
			}
		case keepTorn:
			cut := 1 + rng.IntN(pageSize-1)
			pg = new(page)
			if newPg != nil {
				copy(pg[:cut], newPg[:cut])
			}
			if oldPg != nil {
				copy(pg[cut:], oldPg[cut:])
			}
		}
		if pg == nil {
			delete(out.pages, idx)
		} else {
			out.pages[idx] = pg
		}
	}
	// Restore the zero-beyond-size invariant: a new page may carry bytes past
	// the synced size, an old one bytes past a shrunk current size.
	first := pageCount(out.size)
	for idx := range out.pages {
		if idx >= first {
			delete(out.pages, idx)
		}
	}
	if in := out.size % pageSize; in != 0 {
		if old := out.pages[out.size/pageSize]; old != nil {
			pg := new(page)
			copy(pg[:in], old[:in])
			out.pages[out.size/pageSize] = pg
		}
	}
	return out
}
