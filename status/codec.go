package status

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
)

// ErrCorrupt is returned by Decode for any body Encode would not produce, and
// by Open when a non-empty status file has no valid slot, or when its newest
// slot carries an unknown format version or an undecodable body.
var ErrCorrupt = errors.New("status: corrupt")

// ErrTooLarge is returned by Encode and Save when the encoded state would not
// fit in a slot (maxBodySize bytes of body).
var ErrTooLarge = errors.New("status: state too large for a slot")

// Body encoding, version 1. Frozen: changing it needs a new slotVersion.
const (
	bodyFixedSize = 7*8 + 4 + 1 + 8 + 4 + 4 // seven u64/i64, epoch, flags, truncatedFrom, truncEpoch, nProps
	propFixedSize = 2 + 4                   // keyLen, valLen

	flagInstalling = 1 << 0
	knownFlags     = flagInstalling
)

// A key that fits in a body fits in its u16 length field.
const _ = uint16(maxBodySize)

// encodedSize returns the body size of s, or ErrTooLarge.
func encodedSize(s State) (int, error) {
	n := bodyFixedSize
	for k, v := range s.Props {
		n += propFixedSize + len(k) + len(v)
		// Checked inside the loop so that n cannot overflow on huge values.
		if n > maxBodySize {
			return 0, fmt.Errorf("%w: more than %d bytes", ErrTooLarge, maxBodySize)
		}
	}
	return n, nil
}

// Encode appends the encoded body of s to dst (the slot framing is added by
// File.Save). It returns dst unchanged and ErrTooLarge if the body would not
// fit in a slot. Equal states (see State.Equal) encode to equal bytes.
func Encode(dst []byte, s State) ([]byte, error) {
	size, err := encodedSize(s)
	if err != nil {
		return dst, err
	}
	dst = slices.Grow(dst, size)
	dst = binary.LittleEndian.AppendUint64(dst, s.Term)
	dst = binary.LittleEndian.AppendUint64(dst, s.Vote)
	dst = binary.LittleEndian.AppendUint64(dst, s.Commit)
	dst = binary.LittleEndian.AppendUint64(dst, s.PersistedIndex)
	dst = binary.LittleEndian.AppendUint64(dst, s.FirstIndex)
	dst = binary.LittleEndian.AppendUint64(dst, uint64(s.FirstPos))
	dst = binary.LittleEndian.AppendUint64(dst, s.FirstPrevTerm)
	dst = binary.LittleEndian.AppendUint32(dst, s.Epoch)
	var flags byte
	if s.Installing {
		flags |= flagInstalling
	}
	dst = append(dst, flags)
	dst = binary.LittleEndian.AppendUint64(dst, s.TruncatedFrom)
	dst = binary.LittleEndian.AppendUint32(dst, s.TruncEpoch)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(s.Props)))
	if len(s.Props) == 0 {
		return dst, nil
	}
	// Sorted so that the encoding does not depend on map iteration order.
	keys := make([]string, 0, len(s.Props))
	for k := range s.Props {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		v := s.Props[k]
		dst = binary.LittleEndian.AppendUint16(dst, uint16(len(k)))
		dst = append(dst, k...)
		dst = binary.LittleEndian.AppendUint32(dst, uint32(len(v)))
		dst = append(dst, v...)
	}
	return dst, nil
}

// Decode decodes a body produced by Encode. Any other input, including one
// longer than a slot can hold, gives an error wrapping ErrCorrupt; Decode
// never panics and allocates only after checking each length against the
// bytes left. The result shares no memory with b. Props is nil when there are
// no properties.
func Decode(b []byte) (State, error) {
	var s State
	if len(b) > maxBodySize {
		return s, fmt.Errorf("%w: body of %d bytes (max %d)", ErrCorrupt, len(b), maxBodySize)
	}
	if len(b) < bodyFixedSize {
		return s, fmt.Errorf("%w: body of %d bytes (min %d)", ErrCorrupt, len(b), bodyFixedSize)
	}
	le := binary.LittleEndian
	s.Term = le.Uint64(b[0:])
	s.Vote = le.Uint64(b[8:])
	s.Commit = le.Uint64(b[16:])
	s.PersistedIndex = le.Uint64(b[24:])
	s.FirstIndex = le.Uint64(b[32:])
	s.FirstPos = int64(le.Uint64(b[40:]))
	s.FirstPrevTerm = le.Uint64(b[48:])
	s.Epoch = le.Uint32(b[56:])
	flags := b[60]
	if flags&^knownFlags != 0 {
		return State{}, fmt.Errorf("%w: unknown flags %#x at body offset 60", ErrCorrupt, flags)
	}
	s.Installing = flags&flagInstalling != 0
	s.TruncatedFrom = le.Uint64(b[61:])
	s.TruncEpoch = le.Uint32(b[69:])
	n := le.Uint32(b[73:])
	off := bodyFixedSize
	if n == 0 {
		if off != len(b) {
			return State{}, fmt.Errorf("%w: %d trailing bytes at body offset %d", ErrCorrupt, len(b)-off, off)
		}
		return s, nil
	}
	if uint64(n) > uint64(len(b)-off)/propFixedSize {
		return State{}, fmt.Errorf("%w: %d properties cannot fit in %d bytes", ErrCorrupt, n, len(b)-off)
	}
	s.Props = make(map[string][]byte, n)
	prev := ""
	for i := range n {
		if len(b)-off < 2 {
			return State{}, fmt.Errorf("%w: property %d: truncated key length at body offset %d", ErrCorrupt, i, off)
		}
		kl := int(le.Uint16(b[off:]))
		off += 2
		if kl > len(b)-off {
			return State{}, fmt.Errorf("%w: property %d: key of %d bytes overruns body at offset %d", ErrCorrupt, i, kl, off)
		}
		k := string(b[off : off+kl])
		off += kl
		if i > 0 && k <= prev {
			return State{}, fmt.Errorf("%w: property %d: key %q not after %q", ErrCorrupt, i, k, prev)
		}
		prev = k
		if len(b)-off < 4 {
			return State{}, fmt.Errorf("%w: property %q: truncated value length at body offset %d", ErrCorrupt, k, off)
		}
		vl := le.Uint32(b[off:])
		off += 4
		if uint64(vl) > uint64(len(b)-off) {
			return State{}, fmt.Errorf("%w: property %q: value of %d bytes overruns body at offset %d", ErrCorrupt, k, vl, off)
		}
		s.Props[k] = append([]byte{}, b[off:off+int(vl)]...)
		off += int(vl)
	}
	if off != len(b) {
		return State{}, fmt.Errorf("%w: %d trailing bytes at body offset %d", ErrCorrupt, len(b)-off, off)
	}
	return s, nil
}
