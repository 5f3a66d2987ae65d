package logqueue

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/klauspost/crc32"
)

// The wire format of one item. FROZEN: files written by any version must
// stay readable, so nothing in this block may change meaning. See the
// package comment for the diagram.
const (
	// ItemHeaderSize is the fixed header in front of every item and the
	// whole size of an end-of-file marker.
	ItemHeaderSize = 56
	// ItemTrailerSize is the payload CRC after header‖data.
	ItemTrailerSize = 4
	// EndMarkerSize is the size of an end-of-file marker.
	EndMarkerSize = ItemHeaderSize

	offHdrCRC    = 0
	offTotLen    = 4
	offKind      = 8
	offType      = 9
	offDurLag    = 10 // 2 bytes: index minus the durable index at encoding; 0 unknown
	offEpoch     = 12
	offIndex     = 16
	offTerm      = 24
	offPrevTerm  = 32
	offTimestamp = 40
	offHdrLen    = 48
	offDataLen   = 52
)

// Kind tells what starts at a position. Zero is "unwritten" so that
// preallocated zeros read as the clean end of the log.
type Kind uint8

const (
	// KindUnwritten: 56 zero bytes, the clean end of what was written.
	KindUnwritten Kind = 0
	// KindItem: an item (header, optional header and data, payload CRC).
	KindItem Kind = 1
	// KindEndMarker: the rest of the file is unused; go on at the next file.
	KindEndMarker Kind = 2
)

func (k Kind) String() string {
	switch k {
	case KindUnwritten:
		return "unwritten"
	case KindItem:
		return "item"
	case KindEndMarker:
		return "end marker"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// ItemMeta is the fixed part of an item.
type ItemMeta struct {
	Index, Term, PrevTerm uint64
	Timestamp             int64
	Type                  uint8
	// Epoch is the writer's epoch (set by Queue.Add from StartWriting): it
	// lets recovery tell items written after a restart from older ones.
	Epoch uint32
	// HeaderLen and DataLen are the payload lengths; EncodeItem sets them
	// from the slices it is given.
	HeaderLen, DataLen uint32
	// DurableLag is Index minus the highest index the writer knew to be
	// durable (fdatasync'd and acknowledged) when it encoded this item, or 0
	// when that distance did not fit in 16 bits. A valid item X therefore
	// proves that every index up to X.Index-X.DurableLag was acknowledged
	// before X was written: recovery uses it to tell a torn tail (the bad
	// item was never acknowledged) from corruption of acknowledged data.
	DurableLag uint16
}

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// seedTables are the slicing-by-8 tables of CRC32C: seedTables[k][b] is the
// CRC register contribution of byte b followed by k zero bytes.
var seedTables = func() (t [8][256]uint32) {
	for i := range 256 {
		t[0][i] = crcTable[i]
	}
	for k := 1; k < 8; k++ {
		for i := range 256 {
			prev := t[k-1][i]
			t[k][i] = prev>>8 ^ t[0][byte(prev)]
		}
	}
	return t
}()

// seedCRC returns crc32.Update(0, crcTable, le64(pos)). It is computed from
// slicing-by-8 tables, eight independent lookups, instead of through
// crc32.Update because a slice handed to crc32.Update escapes (it calls
// through a function variable), which would cost a heap allocation per
// item; and instead of a byte-by-byte loop because that chain of eight
// dependent lookups showed in the append profile (it runs twice per item).
func seedCRC(pos int64) uint32 {
	v := uint64(pos) ^ 0xffffffff // the register starts at ^0
	lo, hi := uint32(v), uint32(v>>32)
	crc := seedTables[7][byte(lo)] ^ seedTables[6][byte(lo>>8)] ^
		seedTables[5][byte(lo>>16)] ^ seedTables[4][byte(lo>>24)] ^
		seedTables[3][byte(hi)] ^ seedTables[2][byte(hi>>8)] ^
		seedTables[1][byte(hi>>16)] ^ seedTables[0][byte(hi>>24)]
	return ^crc
}

// EncodedSize returns the bytes an item with these payload lengths takes.
func EncodedSize(headerLen, dataLen int) int64 {
	return ItemHeaderSize + int64(headerLen) + int64(dataLen) + ItemTrailerSize
}

// EncodeItem writes the item at log position pos into dst, which must hold
// at least EncodedSize(len(header), len(data)) bytes, and returns the bytes
// written. It sets m.HeaderLen and m.DataLen. The payload CRC is computed
// over dst right after each copy, while the bytes are still in cache.
func EncodeItem(dst []byte, pos int64, m *ItemMeta, header, data []byte) int {
	m.HeaderLen = uint32(len(header))
	m.DataLen = uint32(len(data))
	tot := EncodedSize(len(header), len(data))
	if tot > math.MaxUint32 || int64(len(dst)) < tot {
		panicf("EncodeItem: item of %d bytes does not fit a %d byte buffer or the length field", tot, len(dst))
	}
	dst = dst[:tot]
	putHeader(dst, pos, KindItem, uint32(tot), m)

	crc := seedCRC(pos)
	n := ItemHeaderSize
	n += copy(dst[n:], header)
	n += copy(dst[n:], data)
	crc = crc32.Update(crc, crcTable, dst[ItemHeaderSize:n])
	binary.LittleEndian.PutUint32(dst[n:], crc)
	return n + ItemTrailerSize
}

// EncodeEndMarker writes an end-of-file marker at log position pos into dst
// (at least EndMarkerSize bytes) and returns EndMarkerSize. nextIndex is the
// index of the item that goes to the next file.
func EncodeEndMarker(dst []byte, pos int64, nextIndex uint64, epoch uint32) int {
	m := ItemMeta{Index: nextIndex, Epoch: epoch}
	putHeader(dst[:EndMarkerSize], pos, KindEndMarker, EndMarkerSize, &m)
	return EndMarkerSize
}

func putHeader(b []byte, pos int64, kind Kind, totLen uint32, m *ItemMeta) {
	le := binary.LittleEndian
	le.PutUint32(b[offTotLen:], totLen)
	b[offKind] = byte(kind)
	b[offType] = m.Type
	le.PutUint16(b[offDurLag:], m.DurableLag)
	le.PutUint32(b[offEpoch:], m.Epoch)
	le.PutUint64(b[offIndex:], m.Index)
	le.PutUint64(b[offTerm:], m.Term)
	le.PutUint64(b[offPrevTerm:], m.PrevTerm)
	le.PutUint64(b[offTimestamp:], uint64(m.Timestamp))
	le.PutUint32(b[offHdrLen:], m.HeaderLen)
	le.PutUint32(b[offDataLen:], m.DataLen)
	le.PutUint32(b[offHdrCRC:], headerCRC(b, pos))
}

func headerCRC(b []byte, pos int64) uint32 {
	return crc32.Update(seedCRC(pos), crcTable, b[offTotLen:ItemHeaderSize])
}

// DecodeHeader decodes the 56 bytes at the start of b, found at log position
// pos with room bytes left in the file from pos. It returns KindUnwritten
// with a nil error when all 56 bytes are zero, and otherwise checks, before
// anything is allocated, the header CRC, the kind and the
// lengths: totLen ≤ room and, for an item, totLen == 56+hdrLen+dataLen+4; an
// end marker is exactly 56 bytes with only index and epoch set. Any failure
// is ErrInvalidItem, wrapped with what is wrong. totLen is the bytes the
// item or marker takes.
func DecodeHeader(b []byte, pos int64, room int64) (kind Kind, m ItemMeta, totLen int64, err error) {
	if len(b) < ItemHeaderSize || room < ItemHeaderSize {
		return 0, m, 0, fmt.Errorf("%w: %d bytes (%d left in the file) cannot hold a %d byte header",
			ErrInvalidItem, min(int64(len(b)), room), room, ItemHeaderSize)
	}
	b = b[:ItemHeaderSize]
	le := binary.LittleEndian
	kind = Kind(b[offKind])
	if kind == KindUnwritten {
		if allZero(b) {
			return KindUnwritten, m, 0, nil
		}
		return 0, m, 0, fmt.Errorf("%w: non-zero header with kind 0", ErrInvalidItem)
	}
	if got, want := le.Uint32(b[offHdrCRC:]), headerCRC(b, pos); got != want {
		return 0, m, 0, fmt.Errorf("%w: header CRC %#08x, want %#08x", ErrInvalidItem, got, want)
	}
	if kind != KindItem && kind != KindEndMarker {
		return 0, m, 0, fmt.Errorf("%w: unknown kind %d", ErrInvalidItem, kind)
	}
	m = ItemMeta{
		Type:       b[offType],
		Epoch:      le.Uint32(b[offEpoch:]),
		Index:      le.Uint64(b[offIndex:]),
		Term:       le.Uint64(b[offTerm:]),
		PrevTerm:   le.Uint64(b[offPrevTerm:]),
		Timestamp:  int64(le.Uint64(b[offTimestamp:])),
		HeaderLen:  le.Uint32(b[offHdrLen:]),
		DataLen:    le.Uint32(b[offDataLen:]),
		DurableLag: le.Uint16(b[offDurLag:]),
	}
	totLen = int64(le.Uint32(b[offTotLen:]))
	if totLen > room {
		return 0, ItemMeta{}, 0, fmt.Errorf("%w: length %d exceeds the %d bytes left in the file",
			ErrInvalidItem, totLen, room)
	}
	if kind == KindEndMarker {
		// The marker is canonical (only index and epoch set) so that it
		// re-encodes to the same bytes; anything else is not ours.
		if totLen != EndMarkerSize || m.Type != 0 || m.Term != 0 || m.PrevTerm != 0 ||
			m.Timestamp != 0 || m.HeaderLen != 0 || m.DataLen != 0 || m.DurableLag != 0 {
			return 0, ItemMeta{}, 0, fmt.Errorf("%w: malformed end marker (length %d)", ErrInvalidItem, totLen)
		}
		return kind, m, totLen, nil
	}
	if want := EncodedSize(int(m.HeaderLen), int(m.DataLen)); totLen != want {
		return 0, ItemMeta{}, 0, fmt.Errorf("%w: length %d, but header %d + data %d make %d",
			ErrInvalidItem, totLen, m.HeaderLen, m.DataLen, want)
	}
	return kind, m, totLen, nil
}

// VerifyPayload checks the payload CRC of the item in b (the whole item,
// exactly EncodedSize bytes, at log position pos, whose header decoded to
// m) and returns its header and data, aliasing b; each is nil when empty.
// A mismatch is ErrInvalidItem.
func VerifyPayload(b []byte, pos int64, m *ItemMeta) (header, data []byte, err error) {
	tot := EncodedSize(int(m.HeaderLen), int(m.DataLen))
	if int64(len(b)) != tot {
		return nil, nil, fmt.Errorf("%w: %d bytes given for an item of %d", ErrInvalidItem, len(b), tot)
	}
	end := tot - ItemTrailerSize
	got := binary.LittleEndian.Uint32(b[end:])
	if want := crc32.Update(seedCRC(pos), crcTable, b[ItemHeaderSize:end]); got != want {
		return nil, nil, fmt.Errorf("%w: payload CRC %#08x, want %#08x", ErrInvalidItem, got, want)
	}
	hEnd := ItemHeaderSize + int64(m.HeaderLen)
	if m.HeaderLen > 0 {
		header = b[ItemHeaderSize:hEnd:hEnd]
	}
	if m.DataLen > 0 {
		data = b[hEnd:end:end]
	}
	return header, data, nil
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
