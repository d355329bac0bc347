// Package bytemap is a hash map from byte-string keys to byte-string values
// that keeps its entries in large byte chunks rather than in one or two Go
// allocations each. Neither the chunks nor the index hold pointers, so the
// garbage collector has nothing to scan in a map of millions of entries
// (with a map[string]string it marks every key and value at every cycle),
// and an entry costs its bytes plus about 26 (index slot, record header)
// instead of two allocation headers, two string headers and a map slot.
//
// ripple keeps its copies of the source tables in one (internal/pipeline):
// every row, binary-encoded, under its replica identity key.
//
// The index maps a 64-bit hash of the key (hash/maphash) to the record's
// place; the few keys whose hash another key has too live in a small Go map
// beside it. A Set that keeps the value's length overwrites it in place;
// otherwise the old record is marked dead and a new one appended. Once dead
// records outweigh live ones the live ones are copied into new chunks.
//
// A Map is not safe for concurrent use. Slices it returns alias its
// storage: they are valid until the next Set, Delete or Clear. Storage is
// never reused: a record overwritten with a value of another length, or
// deleted, is left as it was, and compaction copies into new chunks.
package bytemap

import (
	"encoding/binary"
	"hash/maphash"
)

// Map is a hash map of byte strings. The zero value is not ready: use New.
type Map struct {
	seed   maphash.Seed
	hash   func(string) uint64 // maphash of the seed; tests make it collide
	index  map[uint64]uint64   // hash of the key → record ref, or collided
	coll   map[string]uint64   // key → record ref, for keys whose hash collides
	chunks [][]byte
	n      int
	// live is the bytes of live records; used the bytes of every chunk up
	// to its length (live and dead records); capacity the chunks' sizes.
	live, used, capacity int64
}

const (
	// chunkSize is the size of a chunk once the map has a few (a record
	// larger than it gets a chunk of its own); the first is minChunk.
	chunkSize = 1 << 20
	minChunk  = 256
	// collided marks an index entry whose hash several keys share: look
	// the key up in coll.
	collided = 1 << 63
	// record flags
	flagLive = 0
	flagDead = 1
	// indexEntryBytes estimates an index entry: a 16-byte slot of the
	// swiss table with its control byte, at the load it grows to.
	indexEntryBytes = 24
)

// New returns an empty Map.
func New() *Map {
	m := &Map{seed: maphash.MakeSeed(), index: map[uint64]uint64{}}
	m.hash = func(k string) uint64 { return maphash.String(m.seed, k) }
	return m
}

// Len is the number of entries.
func (m *Map) Len() int { return m.n }

// Bytes estimates the memory the map holds: its chunks (live and dead
// records) and its index.
func (m *Map) Bytes() int64 {
	// A colliding key costs an index marker and a coll entry (its string
	// and slot) on top: rare enough to be counted as one more slot.
	return m.capacity + int64(len(m.index)+len(m.coll))*indexEntryBytes
}

// record layout: flag byte | uvarint(len(key)) | key | uvarint(len(value)) | value.
func recordSize[K ~string | ~[]byte](k K, v []byte) int {
	return 1 + uvarintLen(uint64(len(k))) + len(k) + uvarintLen(uint64(len(v))) + len(v)
}

func uvarintLen(x uint64) int {
	n := 1
	for x >= 0x80 {
		x >>= 7
		n++
	}
	return n
}

// read returns the key and value of the record at ref, and its size.
func (m *Map) read(ref uint64) (k, v []byte, size int) {
	c := m.chunks[ref>>32]
	off := int(uint32(ref))
	b := c[off+1:]
	kl, n := binary.Uvarint(b)
	b = b[n:]
	k, b = b[:kl:kl], b[kl:]
	vl, n2 := binary.Uvarint(b)
	v = b[n2 : n2+int(vl) : n2+int(vl)]
	return k, v, 1 + n + int(kl) + n2 + int(vl)
}

// add appends a live record and returns its ref.
func add[K ~string | ~[]byte](m *Map, k K, v []byte) uint64 {
	size := recordSize(k, v)
	last := len(m.chunks) - 1
	if last < 0 || cap(m.chunks[last])-len(m.chunks[last]) < size {
		if last >= 0 {
			// The rest of the full chunk is never used.
			m.used += int64(cap(m.chunks[last]) - len(m.chunks[last]))
		}
		// Chunks grow from minChunk to chunkSize, so that a small map
		// stays small.
		next := minChunk
		if last >= 0 {
			next = min(2*cap(m.chunks[last]), chunkSize)
		}
		m.chunks = append(m.chunks, make([]byte, 0, max(next, size)))
		m.capacity += int64(cap(m.chunks[len(m.chunks)-1]))
		last++
	}
	c := m.chunks[last]
	off := len(c)
	c = append(c, flagLive)
	c = binary.AppendUvarint(c, uint64(len(k)))
	c = append(c, k...)
	c = binary.AppendUvarint(c, uint64(len(v)))
	c = append(c, v...)
	m.chunks[last] = c
	m.live += int64(size)
	m.used += int64(size)
	return uint64(last)<<32 | uint64(off)
}

// kill marks the record at ref dead.
func (m *Map) kill(ref uint64) {
	_, _, size := m.read(ref)
	m.chunks[ref>>32][uint32(ref)] = flagDead
	m.live -= int64(size)
}

// find returns the ref of k's record.
func (m *Map) find(k string) (h, ref uint64, ok bool) {
	h = m.hash(k)
	ref, ok = m.index[h]
	if !ok {
		return h, 0, false
	}
	if ref&collided != 0 {
		ref, ok = m.coll[k]
		return h, ref, ok
	}
	if rk, _, _ := m.read(ref); string(rk) != k {
		return h, 0, false
	}
	return h, ref, true
}

// Get returns the value stored under k. The slice aliases the map's
// storage: it is valid until the next Set, Delete or Clear. Writing to it
// changes the stored value in place (its length cannot change): a
// fixed-size counter is updated so.
func (m *Map) Get(k string) ([]byte, bool) {
	_, ref, ok := m.find(k)
	if !ok {
		return nil, false
	}
	_, v, _ := m.read(ref)
	return v, true
}

// Set stores v under k. v may alias a slice the map returned.
func (m *Map) Set(k string, v []byte) {
	h, ref, ok := m.find(k)
	if ok {
		if _, old, _ := m.read(ref); len(old) == len(v) {
			copy(old[:len(v):len(v)], v)
			return
		}
		nref := add(m, k, v) // before kill: v may alias the old record
		m.kill(ref)
		m.put(h, k, nref)
		m.maybeCompact()
		return
	}
	nref := add(m, k, v)
	m.n++
	cur, taken := m.index[h]
	switch {
	case !taken:
		m.index[h] = nref
	case cur&collided != 0:
		m.coll[k] = nref
	default:
		// Another key has this hash: both move to coll.
		other, _, _ := m.read(cur)
		if m.coll == nil {
			m.coll = map[string]uint64{}
		}
		m.coll[string(other)] = cur
		m.coll[k] = nref
		m.index[h] = collided
	}
}

// put points the entry of existing key k (hash h) at ref.
func (m *Map) put(h uint64, k string, ref uint64) {
	if m.index[h]&collided != 0 {
		m.coll[k] = ref
	} else {
		m.index[h] = ref
	}
}

// Delete removes k's entry and reports whether there was one.
func (m *Map) Delete(k string) bool {
	h, ref, ok := m.find(k)
	if !ok {
		return false
	}
	m.kill(ref)
	m.n--
	if m.index[h]&collided != 0 {
		delete(m.coll, k) // the index keeps its marker
	} else {
		delete(m.index, h)
	}
	m.maybeCompact()
	return true
}

// Clear removes every entry, releasing the storage.
func (m *Map) Clear() {
	if len(m.index) > 4096 {
		m.index = map[uint64]uint64{} // a cleared Go map keeps its size
	} else {
		clear(m.index)
	}
	m.coll, m.chunks = nil, nil
	m.n, m.live, m.used, m.capacity = 0, 0, 0, 0
}

// Range calls fn with every entry, in storage order, until fn returns
// false. fn must not change the map; the slices are valid during the call.
func (m *Map) Range(fn func(k, v []byte) bool) {
	for ci, c := range m.chunks {
		for off := 0; off < len(c); {
			ref := uint64(ci)<<32 | uint64(off)
			k, v, size := m.read(ref)
			if c[off] == flagLive && !fn(k, v) {
				return
			}
			off += size
		}
	}
}

// maybeCompact copies the live records into new chunks once the dead ones
// (and the unused ends of chunks) outweigh them.
func (m *Map) maybeCompact() {
	if dead := m.used - m.live; dead < chunkSize || dead < m.live {
		return
	}
	m.compact()
}

func (m *Map) compact() {
	old := m.chunks
	m.chunks, m.live, m.used, m.capacity = nil, 0, 0, 0
	move := func(ref uint64) uint64 {
		c := old[ref>>32]
		b := c[uint32(ref)+1:]
		kl, n := binary.Uvarint(b)
		k := b[n : n+int(kl)]
		b = b[n+int(kl):]
		vl, n2 := binary.Uvarint(b)
		return add(m, k, b[n2:n2+int(vl)])
	}
	for h, ref := range m.index {
		if ref&collided == 0 {
			m.index[h] = move(ref)
		}
	}
	for k, ref := range m.coll {
		m.coll[k] = move(ref)
	}
}
