package status

import (
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/klauspost/crc32"
)

// Slot framing. Frozen: these are the bytes on disk.
const (
	// SlotSize is the size of each of the two slots of the status file.
	SlotSize = 16 << 10

	slotMagic       = "RLST"
	slotVersion     = 1
	slotHeaderSize  = 4 + 4 + 8 + 4 // magic, version, seq, bodyLen
	slotTrailerSize = 4             // crc32c
	maxBodySize     = SlotSize - slotHeaderSize - slotTrailerSize
	fileSize        = 2 * SlotSize
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// appendSlot appends the slot frame of s with sequence number seq. The body
// is encoded in place after room left for the header, so a reused dst makes
// a Save allocation-free apart from Encode's key sort. On error dst is
// returned unchanged.
func appendSlot(dst []byte, seq uint64, s State) ([]byte, error) {
	start := len(dst)
	dst = slices.Grow(dst, slotHeaderSize)[:start+slotHeaderSize]
	out, err := Encode(dst, s)
	if err != nil {
		return dst[:start], err
	}
	h := out[start:]
	copy(h, slotMagic)
	binary.LittleEndian.PutUint32(h[4:], slotVersion)
	binary.LittleEndian.PutUint64(h[8:], seq)
	binary.LittleEndian.PutUint32(h[16:], uint32(len(out)-start-slotHeaderSize))
	return binary.LittleEndian.AppendUint32(out, crc32.Checksum(out[start:], crcTable)), nil
}

// frame is one slot as read from the file.
type frame struct {
	seq     uint64
	version uint32
	body    []byte // aliases the slot image
}

// parseSlot checks the framing of one slot image (which may be short or
// empty if the file is). It reports why the slot is not usable, or "" if its
// magic, length and CRC are good. The version is not checked here: a slot
// whose CRC matches was written whole, so an unknown version is not damage
// and must not be skipped silently.
func parseSlot(b []byte) (frame, string) {
	if len(b) < slotHeaderSize+slotTrailerSize {
		return frame{}, fmt.Sprintf("only %d bytes", len(b))
	}
	if string(b[:4]) != slotMagic {
		return frame{}, "bad magic"
	}
	le := binary.LittleEndian
	f := frame{version: le.Uint32(b[4:]), seq: le.Uint64(b[8:])}
	n := le.Uint32(b[16:])
	if uint64(n) > uint64(len(b)-slotHeaderSize-slotTrailerSize) {
		return frame{}, fmt.Sprintf("body length %d overruns the slot", n)
	}
	end := slotHeaderSize + int(n)
	if got, want := crc32.Checksum(b[:end], crcTable), le.Uint32(b[end:]); got != want {
		return frame{}, fmt.Sprintf("CRC mismatch (%#08x, want %#08x)", got, want)
	}
	f.body = b[slotHeaderSize:end]
	return f, ""
}

// loaded is the outcome of loadImage.
type loaded struct {
	state State
	slot  int    // slot holding state
	seq   uint64 // its sequence number
}

// loadImage picks the newest valid slot of a status file image (the first
// 2*SlotSize bytes of the file, or fewer if the file is shorter) and decodes
// it. It fails with ErrCorrupt if neither slot is valid, or if the newest one
// has an unknown version or a body that does not decode: falling back to the
// older slot there would silently roll the Raft state back.
func loadImage(img []byte) (loaded, error) {
	var (
		frames  [2]frame
		reasons [2]string
	)
	for i := range 2 {
		lo, hi := min(i*SlotSize, len(img)), min((i+1)*SlotSize, len(img))
		frames[i], reasons[i] = parseSlot(img[lo:hi])
	}
	best := -1
	for i := range 2 {
		if reasons[i] == "" && (best < 0 || frames[i].seq > frames[best].seq) {
			best = i
		}
	}
	if best < 0 {
		return loaded{}, fmt.Errorf("%w: no valid slot (slot 0 at offset 0: %s; slot 1 at offset %d: %s)",
			ErrCorrupt, reasons[0], SlotSize, reasons[1])
	}
	fr := frames[best]
	if fr.version != slotVersion {
		return loaded{}, fmt.Errorf("%w: slot %d at offset %d: unsupported format version %d (want %d)",
			ErrCorrupt, best, best*SlotSize, fr.version, slotVersion)
	}
	s, err := Decode(fr.body)
	if err != nil {
		return loaded{}, fmt.Errorf("slot %d at offset %d: %w", best, best*SlotSize, err)
	}
	return loaded{state: s, slot: best, seq: fr.seq}, nil
}
