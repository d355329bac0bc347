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
// records outweigh live ones, each Set or Delete that makes a dead record
// also empties the chunk with the most dead bytes, moving its live records
// to the end, until they are down to half the live ones: the work of a
// call is bounded by one chunk, so no call stalls on copying the whole
// map, and the copying is amortized over the records that died.
//
// A Map is not safe for concurrent use. Slices it returns alias its
// storage: they are valid until the next Set, Delete or Clear. Storage is
// never reused: a record overwritten with a value of another length, or
// deleted, is left as it was, and compaction copies into other chunks.
package bytemap

import (
	"encoding/binary"
	"hash/maphash"
)

// Map is a hash map of byte strings. The zero value is not ready: use New.
type Map struct {
	seed  maphash.Seed
	weak  bool              // tests: a hash that makes most keys collide
	index map[uint64]uint64 // hash of the key → record ref, or collided
	coll  map[string]uint64 // key → record ref, for keys whose hash collides
	// chunks hold the records; a compacted chunk is nil until a new one
	// takes its place (free). cur is the chunk records are appended to (-1:
	// none yet); dead counts each chunk's dead bytes (the unused end of a
	// chunk no longer appended to included).
	chunks [][]byte
	dead   []int64
	free   []int
	cur    int
	n      int
	// live is the bytes of live records, deadBytes of dead ones, capacity
	// the chunks' sizes; lastCap the size of the last chunk allocated.
	live, deadBytes, capacity int64
	lastCap                   int
	compacting                bool // see maybeCompact
	compacted                 int  // chunks compacted, for tests
	moved                     int64
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
	m := &Map{seed: maphash.MakeSeed(), index: map[uint64]uint64{}, cur: -1}
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
	if m.cur < 0 || cap(m.chunks[m.cur])-len(m.chunks[m.cur]) < size {
		m.newChunk(size)
	}
	c := m.chunks[m.cur]
	off := len(c)
	c = append(c, flagLive)
	c = binary.AppendUvarint(c, uint64(len(k)))
	c = append(c, k...)
	c = binary.AppendUvarint(c, uint64(len(v)))
	c = append(c, v...)
	m.chunks[m.cur] = c
	m.live += int64(size)
	return uint64(m.cur)<<32 | uint64(off)
}

// newChunk starts a chunk with room for size bytes at least. Chunks grow
// from minChunk to chunkSize, so that a small map stays small.
func (m *Map) newChunk(size int) {
	if m.cur >= 0 {
		// The rest of the full chunk is never used.
		waste := int64(cap(m.chunks[m.cur]) - len(m.chunks[m.cur]))
		m.dead[m.cur] += waste
		m.deadBytes += waste
	}
	next := minChunk
	if m.lastCap > 0 {
		next = min(2*m.lastCap, chunkSize)
	}
	// Not beyond what the live records need, so that a small map whose
	// records keep being replaced does not end with large chunks.
	for next > minChunk && int64(next)/2 >= m.live {
		next /= 2
	}
	m.lastCap = next
	c := make([]byte, 0, max(next, size))
	m.capacity += int64(cap(c))
	if n := len(m.free); n > 0 {
		m.cur = m.free[n-1]
		m.free = m.free[:n-1]
		m.chunks[m.cur], m.dead[m.cur] = c, 0
		return
	}
	m.chunks = append(m.chunks, c)
	m.dead = append(m.dead, 0)
	m.cur = len(m.chunks) - 1
}

// kill marks the record at ref dead.
func (m *Map) kill(ref uint64) {
	_, _, size := m.read(ref)
	ci := ref >> 32
	m.chunks[ci][uint32(ref)] = flagDead
	m.live -= int64(size)
	m.dead[ci] += int64(size)
	m.deadBytes += int64(size)
}

func (m *Map) hashString(k string) uint64 {
	if m.weak {
		return uint64(len(k) % 5)
	}
	return maphash.String(m.seed, k)
}

// hashBytes is hashString of string(k), without the conversion.
func (m *Map) hashBytes(k []byte) uint64 {
	if m.weak {
		return uint64(len(k) % 5)
	}
	return maphash.Bytes(m.seed, k)
}

// find returns the ref of the record of k, whose hash is h.
func find[K ~string | ~[]byte](m *Map, h uint64, k K) (ref uint64, ok bool) {
	ref, ok = m.index[h]
	if !ok {
		return 0, false
	}
	if ref&collided != 0 {
		ref, ok = m.coll[string(k)]
		return ref, ok
	}
	if rk, _, _ := m.read(ref); string(rk) != string(k) {
		return 0, false
	}
	return ref, true
}

// Get returns the value stored under k. The slice aliases the map's
// storage: it is valid until the next Set, Delete or Clear. Writing to it
// changes the stored value in place (its length cannot change): a
// fixed-size counter is updated so.
func (m *Map) Get(k string) ([]byte, bool) { return get(m, m.hashString(k), k) }

// GetBytes is Get of string(k), without the conversion.
func (m *Map) GetBytes(k []byte) ([]byte, bool) { return get(m, m.hashBytes(k), k) }

func get[K ~string | ~[]byte](m *Map, h uint64, k K) ([]byte, bool) {
	ref, ok := find(m, h, k)
	if !ok {
		return nil, false
	}
	_, v, _ := m.read(ref)
	return v, true
}

// Set stores v under k. v may alias a slice the map returned.
func (m *Map) Set(k string, v []byte) { set(m, m.hashString(k), k, v) }

// SetBytes is Set of string(k), without the conversion.
func (m *Map) SetBytes(k []byte, v []byte) { set(m, m.hashBytes(k), k, v) }

func set[K ~string | ~[]byte](m *Map, h uint64, k K, v []byte) {
	ref, ok := find(m, h, k)
	if ok {
		if _, old, _ := m.read(ref); len(old) == len(v) {
			copy(old[:len(v):len(v)], v)
			return
		}
		nref := add(m, k, v) // before kill: v may alias the old record
		m.kill(ref)
		if m.index[h]&collided != 0 {
			m.coll[string(k)] = nref
		} else {
			m.index[h] = nref
		}
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
		m.coll[string(k)] = nref
	default:
		// Another key has this hash: both move to coll.
		other, _, _ := m.read(cur)
		if m.coll == nil {
			m.coll = map[string]uint64{}
		}
		m.coll[string(other)] = cur
		m.coll[string(k)] = nref
		m.index[h] = collided
	}
}

// Delete removes k's entry and reports whether there was one.
func (m *Map) Delete(k string) bool { return del(m, m.hashString(k), k) }

// DeleteBytes is Delete of string(k), without the conversion.
func (m *Map) DeleteBytes(k []byte) bool { return del(m, m.hashBytes(k), k) }

func del[K ~string | ~[]byte](m *Map, h uint64, k K) bool {
	ref, ok := find(m, h, k)
	if !ok {
		return false
	}
	m.kill(ref)
	m.n--
	if m.index[h]&collided != 0 {
		delete(m.coll, string(k)) // the index keeps its marker
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
	m.coll, m.chunks, m.dead, m.free, m.cur = nil, nil, nil, nil, -1
	m.n, m.live, m.deadBytes, m.capacity, m.lastCap, m.compacting = 0, 0, 0, 0, 0, false
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

// maybeCompact empties the chunk with the most dead bytes while
// compacting: from when the dead bytes pass the smallest chunk and
// outweigh the live ones until they are down to half the live ones, so
// that the copying (one chunk per call) is paid for by the records that
// died since the last time, not by every call near the threshold.
func (m *Map) maybeCompact() {
	if !m.compacting {
		if m.deadBytes < minChunk || m.deadBytes < m.live {
			return
		}
		m.compacting = true
	}
	worst := -1
	for ci, c := range m.chunks {
		if c != nil && ci != m.cur && (worst < 0 || m.dead[ci] > m.dead[worst]) {
			worst = ci
		}
	}
	if worst < 0 || m.dead[worst] == 0 || m.deadBytes <= m.live/2 {
		m.compacting = false
		return
	}
	m.compactChunk(worst)
}

// compactChunk moves the live records of chunk ci to the end and frees it.
func (m *Map) compactChunk(ci int) {
	c := m.chunks[ci]
	var moved int64
	for off := 0; off < len(c); {
		ref := uint64(ci)<<32 | uint64(off)
		k, v, size := m.read(ref)
		if c[off] == flagLive {
			nref := add(m, k, v)
			moved += int64(size)
			if h := m.hashBytes(k); m.index[h]&collided != 0 {
				m.coll[string(k)] = nref
			} else {
				m.index[h] = nref
			}
		}
		off += size
	}
	m.live -= moved // add counted them again
	m.moved += moved
	m.deadBytes -= m.dead[ci]
	m.capacity -= int64(cap(c))
	m.chunks[ci], m.dead[ci] = nil, 0
	m.free = append(m.free, ci)
	m.compacted++
}
