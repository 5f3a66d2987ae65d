// Package status keeps the small crash-safe status file of a raftlog
// directory: the Raft hard state (term, vote, commit), the index up to which
// index files are trusted, where the log starts (first index, its position
// and the term before it), an epoch, the snapshot-install flag and user
// properties.
//
// # Goroutines
//
// The package starts no goroutines. A File may be used by any number of
// goroutines: Save calls are serialized by a mutex (each one is a write plus
// an fdatasync of at most one slot), and State reads the last saved state
// through an atomic pointer, so it never waits for the disk.
//
// # File layout
//
// The file dir/"status" is exactly 2*SlotSize bytes: two fixed-size slots that
// Save writes in turn. All integers are little-endian.
//
//	offset 0                  16384 (SlotSize)            32768
//	+---------------------------+---------------------------+
//	|          slot 0           |          slot 1           |
//	+---------------------------+---------------------------+
//
//	slot (bytes after the CRC, up to the end of the slot, are not read):
//	+--------+---------+-------+---------+-----------------+--------+
//	| magic  | version |  seq  | bodyLen |      body       | crc32c |
//	| "RLST" |  u32=1  |  u64  |   u32   |  bodyLen bytes  |  u32   |
//	|  4 B   |   4 B   |  8 B  |   4 B   |  <= 16360 B     |  4 B   |
//	+--------+---------+-------+---------+-----------------+--------+
//	crc32c (Castagnoli) covers magic through the end of body.
//
//	body (the output of Encode): 77 fixed bytes, then the properties
//	+------+------+--------+-----------+----------+----------+-----------+
//	| term | vote | commit | persisted | firstIdx | firstPos | firstPrev |
//	|      |      |        |   Index   |          |          |   Term    |
//	| u64  | u64  |  u64   |    u64    |   u64    |   i64    |    u64    |
//	| 8 B  | 8 B  |  8 B   |    8 B    |   8 B    |   8 B    |    8 B    |
//	+------+------+--------+-----------+----------+----------+-----------+
//	+-------+-------+-----------+--------+--------+--------------------+
//	| epoch | flags | truncated | trunc  | nProps | nProps times:      |
//	|       |       |   From    | Epoch  |        | keyLen u16, key,   |
//	|  u32  |  u8   |    u64    |  u32   |  u32   | valLen u32, value  |
//	|  4 B  |  1 B  |    8 B    |  4 B   |  4 B   | keys ascending     |
//	+-------+-------+-----------+--------+--------+--------------------+
//	flags: bit 0 = Installing; the other bits are zero.
//
// Encoding is canonical: the properties are sorted by key and Decode refuses
// anything Encode would not produce (unsorted or duplicate keys, unknown flag
// bits, trailing bytes), so equal states encode to equal bytes.
//
// # Crash invariant
//
// At every instant at least one slot holds a complete state whose CRC
// matches, and the slot with the higher sequence number is the last Save that
// returned nil (or a later one whose write reached the disk before a crash).
// Save only ever writes the slot that does not hold the newest state, with
// the next sequence number, and returns after fdatasync; a crash in the middle
// can therefore damage only the older copy, and Open falls back to the newer
// one. The file is created whole (both slots, slot 0 valid) under
// dir/"status.tmp", synced, renamed and the directory synced, so dir/"status"
// either does not exist or is complete; the one exception, a rename made
// durable before the data, leaves a 0-byte file that Open treats as missing.
// A non-empty file with no valid slot is never reset: Open fails with
// ErrCorrupt. Because the file never changes size after creation, the
// fdatasync of a Save has no metadata to flush.
package status
