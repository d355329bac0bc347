package dataflow

import (
	"encoding/binary"
	"fmt"

	"github.com/rippledb/ripple/internal/bytemap"
	"github.com/rippledb/ripple/internal/row"
)

// arrangement indexes rows by a key: key → distinct row → multiplicity.
// Within a step a multiplicity may dip below zero (a delta's retraction
// listed before the insertion it cancels); settle checks none stays there.
//
// Rows are held in their binary encoding (row.AppendBinary), which is both
// their identity (Identical rows encode alike) and their storage, and all
// of it lives in byte chunks without pointers (internal/bytemap), so that
// the garbage collector has nothing to scan in an arrangement of millions
// of rows and a row costs its bytes and a few more, not three allocations.
// A small bucket (up to smallRows rows) is one blob under its key in
// small, searched linearly: a sequence of uvarint(len(enc)) | enc |
// 8-byte multiplicity. A larger one is a map of its own in big, from
// encoding to multiplicity. Multiplicities are fixed-size so that they
// change in place. Lookups decode the rows they return into memory of
// their own.
//
// An arrangement of a graph with a spill store (Graph.SetSpill) can move
// there (see spill.go): it then holds no rows in memory, and every add,
// lookup and scan goes to the store.
type arrangement struct {
	small *bytemap.Map
	big   map[string]*bytemap.Map
	neg   []arrRef // entries that went negative since the last settle
	buf   []byte
	blob  []byte // scratch for rewriting a small bucket
	// bytes estimates the memory the buckets hold, for the graph's
	// operator memory budget; bigBytes is the big buckets' part.
	bytes, bigBytes int64
	// disk is set once the arrangement lives in the spill store; err is
	// the first error the store returned, reported by settle.
	disk *diskArr
	err  error
	// small is the rows a bucket holds as a blob (smallBucket unless set):
	// an arrangement read mostly by whole buckets can afford a longer
	// linear search.
	smallMax int
	// moved, when set, is called once the arrangement has moved to the
	// spill store (its owner writes out what it kept aside for that
	// moment, in the same step).
	moved func() error
	// rowEnc, when set, extracts the row's encoding from what the
	// arrangement stores for it (a top-k stores an order key before it),
	// for error messages.
	rowEnc func(stored string) string
}

// smallBucket is the number of rows a bucket holds as a blob before it
// gets a map of its own.
const smallBucket = 16

// bigOverhead estimates a big bucket's Go objects: its map slot, its
// bytemap.Map and that map's index.
const bigOverhead = 256

type arrRef struct{ key, enc string }

func (a *arrangement) smallRows() int {
	if a.smallMax > 0 {
		return a.smallMax
	}
	return smallBucket
}

func newArrangement() *arrangement {
	return &arrangement{small: bytemap.New(), big: map[string]*bytemap.Map{}}
}

// blobRow is one row of a small bucket's blob: its encoding and where its
// multiplicity is, and the offset after it.
type blobRow struct {
	enc       []byte
	wAt, next int
}

// nextBlobRow parses the row of blob at off.
func nextBlobRow(blob []byte, off int) (blobRow, error) {
	l, n := binary.Uvarint(blob[off:])
	if n <= 0 || uint64(len(blob)-off-n) < l+8 {
		return blobRow{}, fmt.Errorf("arrangement: corrupt bucket at offset %d", off)
	}
	at := off + n + int(l)
	return blobRow{enc: blob[off+n : at : at], wAt: at, next: at + 8}, nil
}

func getWeight(b []byte) row.Weight    { return row.Weight(binary.LittleEndian.Uint64(b)) }
func putWeight(b []byte, w row.Weight) { binary.LittleEndian.PutUint64(b, uint64(w)) }

// eachBlobRow calls fn with the rows of a small bucket's blob.
func eachBlobRow(blob []byte, fn func(enc []byte, w row.Weight) error) error {
	for off := 0; off < len(blob); {
		r, err := nextBlobRow(blob, off)
		if err != nil {
			return err
		}
		if err := fn(r.enc, getWeight(blob[r.wAt:])); err != nil {
			return err
		}
		off = r.next
	}
	return nil
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
	var nw row.Weight
	if m, ok := a.big[key]; ok {
		nw = a.addBig(key, m, w)
	} else {
		nw = a.addSmall(key, w)
	}
	if nw < 0 {
		a.neg = append(a.neg, arrRef{key, string(a.buf)})
	}
	a.bytes = a.small.Bytes() + a.bigBytes + int64(len(a.big))*bigOverhead
}

// addBig adds w to the row in a.buf of big bucket m and returns its new
// multiplicity.
func (a *arrangement) addBig(key string, m *bytemap.Map, w row.Weight) row.Weight {
	before := m.Bytes()
	v, ok := m.GetBytes(a.buf)
	if ok {
		w += getWeight(v)
		if w != 0 {
			putWeight(v, w) // in place: the length stays
			return w
		}
		m.DeleteBytes(a.buf)
		a.bigBytes += m.Bytes() - before
		if m.Len() <= a.smallRows()/2 {
			a.toSmall(key, m)
		}
		return 0
	}
	var wb [8]byte
	putWeight(wb[:], w)
	m.SetBytes(a.buf, wb[:])
	a.bigBytes += m.Bytes() - before
	return w
}

// addSmall adds w to the row in a.buf of the small bucket under key (or a
// new one) and returns its new multiplicity.
func (a *arrangement) addSmall(key string, w row.Weight) row.Weight {
	blob, _ := a.small.Get(key)
	rows := 0
	for off := 0; off < len(blob); rows++ {
		r, err := nextBlobRow(blob, off)
		if err != nil {
			a.err = err
			return 0
		}
		if string(r.enc) == string(a.buf) {
			nw := getWeight(blob[r.wAt:]) + w
			if nw != 0 {
				putWeight(blob[r.wAt:], nw) // in place: the length stays
				return nw
			}
			if off == 0 && r.next == len(blob) {
				a.small.Delete(key)
				return 0
			}
			a.blob = append(append(a.blob[:0], blob[:off]...), blob[r.next:]...)
			a.small.Set(key, a.blob)
			return 0
		}
		off = r.next
	}
	if rows >= a.smallRows() {
		a.toBig(key, blob, w)
		return w
	}
	a.blob = append(a.blob[:0], blob...)
	a.blob = binary.AppendUvarint(a.blob, uint64(len(a.buf)))
	a.blob = append(a.blob, a.buf...)
	a.blob = binary.LittleEndian.AppendUint64(a.blob, uint64(w))
	a.small.Set(key, a.blob)
	return w
}

// toBig moves the rows of a full small bucket, and the row in a.buf with
// multiplicity w, to a big bucket.
func (a *arrangement) toBig(key string, blob []byte, w row.Weight) {
	m := bytemap.New()
	_ = eachBlobRow(blob, func(enc []byte, w row.Weight) error {
		var wb [8]byte
		putWeight(wb[:], w)
		m.SetBytes(enc, wb[:])
		return nil
	})
	var wb [8]byte
	putWeight(wb[:], w)
	m.SetBytes(a.buf, wb[:])
	a.small.Delete(key)
	a.big[key] = m
	a.bigBytes += m.Bytes()
}

// toSmall moves the rows of a big bucket that shrank back to a blob.
func (a *arrangement) toSmall(key string, m *bytemap.Map) {
	a.blob = a.blob[:0]
	m.Range(func(enc, v []byte) bool {
		a.blob = binary.AppendUvarint(a.blob, uint64(len(enc)))
		a.blob = append(a.blob, enc...)
		a.blob = append(a.blob, v...)
		return true
	})
	a.bigBytes -= m.Bytes()
	delete(a.big, key)
	if len(a.blob) > 0 {
		a.small.Set(key, a.blob)
	}
}

// weightOf returns the multiplicity of the row encoded as enc under key.
func (a *arrangement) weightOf(key string, enc []byte) (row.Weight, error) {
	if m, ok := a.big[key]; ok {
		if v, ok := m.GetBytes(enc); ok {
			return getWeight(v), nil
		}
		return 0, nil
	}
	blob, _ := a.small.Get(key)
	var w row.Weight
	err := eachBlobRow(blob, func(e []byte, x row.Weight) error {
		if string(e) == string(enc) {
			w = x
		}
		return nil
	})
	return w, err
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
	if m, found := a.big[key]; found {
		m.Range(func(e, v []byte) bool {
			enc, w, ok = string(e), getWeight(v), true
			return false
		})
		return enc, w, ok, nil
	}
	blob, found := a.small.Get(key)
	if !found || len(blob) == 0 {
		return "", 0, false, nil
	}
	r, err := nextBlobRow(blob, 0)
	if err != nil {
		return "", 0, false, err
	}
	return string(r.enc), getWeight(blob[r.wAt:]), true, nil
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
		w, err := a.weightOf(ref.key, []byte(ref.enc))
		if err != nil {
			return err
		}
		if w < 0 {
			return negativeError(w, ref.enc)
		}
	}
	return nil
}

// negativeError reports a row, given by its binary encoding, left with a
// negative multiplicity w.
func negativeError(w row.Weight, enc string) error {
	r, err := decodeRow(enc)
	if err != nil {
		return fmt.Errorf("negative multiplicity %d for a row: %w", w, err)
	}
	return negativeRowError(w, r)
}

func negativeRowError(w row.Weight, r row.Row) error {
	return fmt.Errorf("negative multiplicity %d for row %v", w, r)
}

// decodeRow decodes a whole row.AppendBinary encoding; the row shares
// enc's memory.
func decodeRow(enc string) (row.Row, error) {
	r, rest, err := row.DecodeBinaryString(enc)
	if err == nil && rest != "" {
		err = fmt.Errorf("%d bytes after the row", len(rest))
	}
	if err != nil {
		return nil, fmt.Errorf("undecodable row (%v)", err)
	}
	return r, nil
}

// each calls fn with every row under key and its multiplicity. fn may not
// change the arrangement.
func (a *arrangement) each(key string, fn func(row.Row, row.Weight)) error {
	return a.eachEnc(key, func(r row.Row, _ string, w row.Weight) { fn(r, w) })
}

// eachEnc is each that also gives each row's binary encoding (which the
// row shares).
func (a *arrangement) eachEnc(key string, fn func(row.Row, string, row.Weight)) error {
	if a.disk != nil {
		return a.diskEach(key, fn)
	}
	emit := func(enc []byte, w row.Weight) error {
		s := string(enc) // copied out of the chunks
		r, err := decodeRow(s)
		if err != nil {
			return fmt.Errorf("arrangement: %w", err)
		}
		fn(r, s, w)
		return nil
	}
	if m, ok := a.big[key]; ok {
		var err error
		m.Range(func(enc, v []byte) bool {
			err = emit(enc, getWeight(v))
			return err == nil
		})
		return err
	}
	blob, _ := a.small.Get(key)
	return eachBlobRow(blob, emit)
}

// entries lists the rows of key with their multiplicities and encodings.
func (a *arrangement) entries(key string) ([]sortedEntry, error) {
	var es []sortedEntry
	err := a.eachEnc(key, func(r row.Row, enc string, w row.Weight) {
		es = append(es, sortedEntry{row: r, enc: enc, w: w})
	})
	return es, err
}

// eachKey calls fn with every key that holds rows; fn may look rows up
// and change the arrangement.
func (a *arrangement) eachKey(fn func(key string)) error {
	if a.disk != nil {
		return a.diskEachKey(fn)
	}
	keys := make([]string, 0, a.small.Len()+len(a.big))
	a.small.Range(func(k, _ []byte) bool {
		keys = append(keys, string(k))
		return true
	})
	for k := range a.big {
		keys = append(keys, k)
	}
	for _, k := range keys {
		fn(k)
	}
	return nil
}

// eachRow calls fn with every row of the arrangement in memory, by key.
func (a *arrangement) eachRow(fn func(key string, enc []byte, w row.Weight) error) error {
	var err error
	a.small.Range(func(k, blob []byte) bool {
		key := string(k)
		err = eachBlobRow(blob, func(enc []byte, w row.Weight) error { return fn(key, enc, w) })
		return err == nil
	})
	if err != nil {
		return err
	}
	for key, m := range a.big {
		m.Range(func(enc, v []byte) bool {
			err = fn(key, enc, getWeight(v))
			return err == nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// weightBytes encodes a multiplicity as the spill store's value.
func weightBytes(buf []byte, w row.Weight) []byte { return binary.AppendVarint(buf, int64(w)) }
