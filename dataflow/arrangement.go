package dataflow

import (
	"encoding/binary"
	"fmt"

	"github.com/rippledb/ripple/internal/row"
)

// arrangement indexes rows by a key: key → distinct row → multiplicity.
// Within a step a multiplicity may dip below zero (a delta's retraction
// listed before the insertion it cancels); settle checks none stays there.
//
// Rows are held in their binary encoding (row.AppendBinary), which is both
// their identity (Identical rows encode alike) and their storage: a few
// bytes per column instead of a 40-byte Datum, and one allocation per row.
// Lookups decode the rows they return; the decoded rows share the stored
// bytes. A key's rows are a slice, searched linearly while small and
// through an index once the bucket grows past smallBucket rows.
//
// An arrangement of a graph with a spill store (Graph.SetSpill) can move
// there (see spill.go): it then holds no rows in memory, and every add,
// lookup and scan goes to the store.
type arrangement struct {
	buckets map[string]bucket
	neg     []arrRef // entries that went negative since the last settle
	buf     []byte
	// bytes estimates the memory the buckets hold, for the graph's
	// operator memory budget.
	bytes int64
	// disk is set once the arrangement lives in the spill store; err is
	// the first error the store returned, reported by settle.
	disk *diskArr
	err  error
	// small is the rows a bucket holds before it is indexed (smallBucket
	// unless set): an arrangement read mostly by whole buckets can afford
	// a longer linear search for less memory.
	small int
}

// smallBucket is the number of rows a bucket holds before it is indexed.
const smallBucket = 8

type arrRow struct {
	enc string // row.AppendBinary of the row
	w   row.Weight
}

type bucket struct {
	rows []arrRow
	idx  map[string]int32 // enc → position in rows; nil while small
}

type arrRef struct{ key, enc string }

func (a *arrangement) smallRows() int {
	if a.small > 0 {
		return a.small
	}
	return smallBucket
}

func newArrangement() *arrangement { return &arrangement{buckets: map[string]bucket{}} }

// Memory estimates beyond the bytes of keys and encoded rows: a bucket's
// map slot and slice header, and a row's slot in its bucket with the
// string's allocation header (and its index slot, once indexed).
const (
	bucketOverhead = 64
	rowOverhead    = 40
)

// find returns the position of the row encoded as enc, or -1.
func (b *bucket) find(enc []byte) int {
	if b.idx != nil {
		if i, ok := b.idx[string(enc)]; ok {
			return int(i)
		}
		return -1
	}
	for i := range b.rows {
		if b.rows[i].enc == string(enc) {
			return i
		}
	}
	return -1
}

func (b *bucket) push(e arrRow, small int) {
	b.rows = append(b.rows, e)
	switch {
	case b.idx != nil:
		b.idx[e.enc] = int32(len(b.rows) - 1)
	case len(b.rows) > small:
		b.idx = make(map[string]int32, len(b.rows))
		for i, r := range b.rows {
			b.idx[r.enc] = int32(i)
		}
	}
}

// remove drops the row at i, moving the last row into its place.
func (b *bucket) remove(i, small int) {
	last := len(b.rows) - 1
	if b.idx != nil {
		delete(b.idx, b.rows[i].enc)
		if i != last {
			b.idx[b.rows[last].enc] = int32(i)
		}
	}
	b.rows[i] = b.rows[last]
	b.rows[last] = arrRow{}
	b.rows = b.rows[:last]
	if b.idx != nil && len(b.rows) <= small/2 {
		b.idx = nil
	}
	if cap(b.rows) > 2*smallBucket && len(b.rows) < cap(b.rows)/4 {
		b.rows = append([]arrRow(nil), b.rows...)
	}
}

func (a *arrangement) add(key string, r row.Row, w row.Weight) {
	if w == 0 {
		return
	}
	a.buf = row.AppendBinary(a.buf[:0], r)
	a.addBuf(key, w)
}

// addEnc is add of a row given by its binary encoding.
func (a *arrangement) addEnc(key string, enc string, w row.Weight) {
	if w == 0 {
		return
	}
	a.buf = append(a.buf[:0], enc...)
	a.addBuf(key, w)
}

// addBuf adds w to the row encoded in a.buf under key.
func (a *arrangement) addBuf(key string, w row.Weight) {
	if a.disk != nil {
		a.diskAdd(key, w)
		return
	}
	b, ok := a.buckets[key]
	if !ok {
		a.bytes += int64(len(key)) + bucketOverhead
	}
	i := b.find(a.buf)
	if i < 0 {
		enc := string(a.buf)
		b.push(arrRow{enc: enc, w: w}, a.smallRows())
		a.buckets[key] = b
		a.bytes += int64(len(enc)) + rowOverhead
		if w < 0 {
			a.neg = append(a.neg, arrRef{key, enc})
		}
		return
	}
	e := &b.rows[i] // shares the stored bucket's array
	e.w += w
	switch {
	case e.w < 0:
		a.neg = append(a.neg, arrRef{key, e.enc})
	case e.w == 0:
		a.bytes -= int64(len(e.enc)) + rowOverhead
		b.remove(i, a.smallRows())
		if len(b.rows) == 0 {
			delete(a.buckets, key)
			a.bytes -= int64(len(key)) + bucketOverhead
		} else {
			a.buckets[key] = b
		}
	}
}

// first returns the encoding and multiplicity of one row under key, for
// arrangements that hold at most one row per key; ok is false when the key
// holds none.
func (a *arrangement) first(key string) (enc string, w row.Weight, ok bool, err error) {
	if a.disk != nil {
		prefix := a.disk.bucketPrefix(key)
		n := len(prefix)
		err = a.disk.store.Scan(prefix, func(k, v []byte) error {
			if ok {
				return nil
			}
			x, err := diskWeight(v)
			if err != nil || x == 0 {
				return err
			}
			enc, w, ok = string(k[n:]), x, true // copied: k is the store's
			return nil
		})
		if err != nil {
			return "", 0, false, &SpillError{err}
		}
		return enc, w, ok, nil
	}
	b, found := a.buckets[key]
	if !found || len(b.rows) == 0 {
		return "", 0, false, nil
	}
	return b.rows[0].enc, b.rows[0].w, true, nil
}

// settle reports an entry left with a negative multiplicity by the
// updates added since the last settle.
func (a *arrangement) settle() error {
	if a.err != nil {
		return a.err
	}
	neg := a.neg
	a.neg = a.neg[:0]
	if a.disk != nil {
		return a.diskSettle(neg)
	}
	for _, ref := range neg {
		b := a.buckets[ref.key]
		if i := b.find([]byte(ref.enc)); i >= 0 && b.rows[i].w < 0 {
			r, _, err := row.DecodeBinaryString(ref.enc)
			if err != nil {
				return fmt.Errorf("negative multiplicity %d for a row: %w", b.rows[i].w, err)
			}
			return fmt.Errorf("negative multiplicity %d for row %v", b.rows[i].w, r)
		}
	}
	return nil
}

// each calls fn with every row under key and its multiplicity.
func (a *arrangement) each(key string, fn func(row.Row, row.Weight)) error {
	if a.disk != nil {
		return a.diskEach(key, fn)
	}
	b, ok := a.buckets[key]
	if !ok {
		return nil
	}
	for _, e := range b.rows {
		r, rest, err := row.DecodeBinaryString(e.enc)
		if err != nil || rest != "" {
			return fmt.Errorf("arrangement: undecodable row (%v)", err)
		}
		fn(r, e.w)
	}
	return nil
}

// eachKey calls fn with every key that holds rows.
func (a *arrangement) eachKey(fn func(key string)) error {
	if a.disk != nil {
		return a.diskEachKey(fn)
	}
	for k := range a.buckets {
		fn(k)
	}
	return nil
}

// weightBytes encodes a multiplicity as the spill store's value.
func weightBytes(buf []byte, w row.Weight) []byte { return binary.AppendVarint(buf, int64(w)) }
