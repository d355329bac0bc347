package dataflow

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/rippledb/ripple/internal/row"
)

// Spill is the scratch store the arrangements of a graph move to once they
// outgrow its operator memory budget (SetSpill): an ordered key-value
// store, usually on disk with a cache of its hot blocks in memory. Writes
// need not be durable: after a crash the graph is rebuilt from the
// engine's stored table copies, never read back from the spill store.
// Values and keys passed to Get's result or Scan's fn are valid only until
// the next call on the store.
//
// Keys are id (4 bytes, big-endian) | uvarint(n) | n bytes of the join or
// group key | the row's encoding, so one arrangement's rows of one key
// (a bucket) are one prefix; a store may keep its filters by bucket. Values
// are varint multiplicities.
type Spill interface {
	Get(key []byte) (value []byte, ok bool, err error)
	Set(key, value []byte) error
	Delete(key []byte) error
	// Add adds w to the multiplicity under key (none is 0), without
	// reading it where the store can. An entry may then hold 0 until it
	// is deleted.
	Add(key []byte, w int64) error
	// Scan calls fn for every key with the prefix, in key order. fn must
	// not write to the store.
	Scan(prefix []byte, fn func(key, value []byte) error) error
}

// SpillError is an error of the spill store (an I/O error, a full disk) or
// an undecodable entry in it. Unlike an operator's runtime error it fails
// the whole graph, not one view: the step cannot be completed for any view
// that reads the arrangement, and the engine must be rebuilt.
type SpillError struct{ Err error }

func (e *SpillError) Error() string { return "operator state on disk: " + e.Err.Error() }
func (e *SpillError) Unwrap() error { return e.Err }

// spillCtl is a graph's operator memory budget and spill store.
type spillCtl struct {
	store  Spill
	budget int64 // 0: every arrangement on disk from the start
	// arrs are the graph's arrangements that can move to the store, in
	// creation order; an arrangement's id (its key prefix in the store) is
	// its position.
	arrs []*arrangement
	// children are the spill controls of the inner graphs of this graph's
	// Fixpoints: their arrangements are in arrs (so the budget and the ids
	// are the outer graph's), and they get the store and budget SetSpill
	// is given, which their operators read.
	children []*spillCtl
}

// newArrangement returns an arrangement the graph may move to its spill
// store; operators whose state is an arrangement get it from here.
func (g *Graph) newArrangement() *arrangement {
	a := newArrangement()
	g.spill.arrs = append(g.spill.arrs, a)
	if g.spill.store != nil && g.spill.budget <= 0 {
		a.moveToDisk(g.spill.store, uint32(len(g.spill.arrs)-1)) // empty: cannot fail
	}
	return a
}

// SetSpill gives the graph a spill store and an operator memory budget in
// bytes: after each step, while the arrangements held in memory (of joins,
// semi- and anti-joins, NOT IN, DISTINCT, aggregates)
// exceed budget, the largest moves to the store (an aggregate's groups
// count as one, see Reduce; so do a top-k's groups, see TopK; a window's
// partitions are an arrangement). A budget of 0 or less keeps every
// arrangement in the store from the start. Call it before the first step.
// An aggregate whose groups (or input rows) are in the store keeps a
// bounded cache of its groups; so do the inputs of an outer join with ON
// conditions beyond its key equalities, see OuterJoin. The arrangements of
// a Fixpoint's inner graph (the recursive term's joins and aggregates) are
// the outer graph's; its per-row derivation counts stay in memory.
func (g *Graph) SetSpill(s Spill, budget int64) error {
	if g.primed {
		return errors.New("dataflow: SetSpill after the first step")
	}
	g.spill.store, g.spill.budget = s, budget
	for _, c := range g.spill.children {
		c.store, c.budget = s, budget
	}
	if budget <= 0 {
		for i, a := range g.spill.arrs {
			if err := a.moveToDisk(s, uint32(i)); err != nil {
				return err
			}
		}
	}
	return nil
}

// OperatorMemory reports the estimated memory of the arrangements held in
// memory, how many arrangements there are and how many live in the spill
// store.
func (g *Graph) OperatorMemory() (bytes int64, arrangements, spilled int) {
	for _, a := range g.spill.arrs {
		bytes += a.bytes
		if a.disk != nil {
			spilled++
		}
	}
	return bytes, len(g.spill.arrs), spilled
}

// spillOver moves the largest in-memory arrangements to the spill store
// while their memory exceeds the budget. Between steps every arrangement is
// settled, so what moves is a consistent state.
func (g *Graph) spillOver() error {
	c := &g.spill
	if c.store == nil {
		return nil
	}
	for {
		var total int64
		big := -1
		for i, a := range c.arrs {
			total += a.bytes
			if a.disk == nil && a.bytes > 0 && (big < 0 || a.bytes > c.arrs[big].bytes) {
				big = i
			}
		}
		if big < 0 || total <= c.budget {
			return nil
		}
		if err := c.arrs[big].moveToDisk(c.store, uint32(big)); err != nil {
			return err
		}
	}
}

// diskArr is where a spilled arrangement's entries live: key
// id | uvarint(len(key)) | key | row encoding → varint multiplicity, so a
// key's rows are one prefix of the store and its entries are in key order.
type diskArr struct {
	store Spill
	id    [4]byte
	kbuf  []byte
	vbuf  []byte
}

// moveToDisk writes every entry to the store and drops the buckets.
func (a *arrangement) moveToDisk(s Spill, id uint32) error {
	d := &diskArr{store: s}
	binary.BigEndian.PutUint32(d.id[:], id)
	err := a.eachRow(func(key string, enc []byte, w row.Weight) error {
		if err := s.Set(append(d.bucketPrefix(key), enc...), weightBytes(d.vbuf[:0], w)); err != nil {
			return &SpillError{err}
		}
		return nil
	})
	if err != nil {
		return err
	}
	a.small, a.big, a.bytes, a.bigBytes, a.disk = nil, nil, 0, 0, d
	if a.moved != nil {
		return a.moved()
	}
	return nil
}

func (d *diskArr) bucketPrefix(key string) []byte {
	d.kbuf = append(d.kbuf[:0], d.id[:]...)
	d.kbuf = binary.AppendUvarint(d.kbuf, uint64(len(key)))
	return append(d.kbuf, key...)
}

func (d *diskArr) rowKey(key string, enc []byte) []byte {
	return append(d.bucketPrefix(key), enc...)
}

// diskAdd adds w to the entry of the row encoded in a.buf under key. An
// insertion is a blind write (Spill.Add); a retraction reads the entry, to
// delete it when it comes to 0 and to note one that goes negative. An
// insertion may cancel a retraction earlier in the step: settle deletes
// the entries that went negative and are 0 again.
func (a *arrangement) diskAdd(key string, w row.Weight) {
	if a.err != nil {
		return
	}
	d := a.disk
	k := d.rowKey(key, a.buf)
	if w > 0 {
		if err := d.store.Add(k, int64(w)); err != nil {
			a.err = &SpillError{err}
		}
		return
	}
	old, err := d.weight(k)
	if err == nil {
		switch nw := old + w; {
		case nw == 0:
			err = d.store.Delete(k)
		default:
			d.vbuf = weightBytes(d.vbuf[:0], nw)
			err = d.store.Set(k, d.vbuf)
			if nw < 0 {
				a.neg = append(a.neg, arrRef{key, string(a.buf)})
			}
		}
	}
	if err != nil {
		a.err = &SpillError{err}
	}
}

// weight is the multiplicity stored under k, 0 if none.
func (d *diskArr) weight(k []byte) (row.Weight, error) {
	v, ok, err := d.store.Get(k)
	if err != nil || !ok {
		return 0, err
	}
	return diskWeight(v)
}

// diskSettle reports an entry still negative and deletes those back at 0.
func (a *arrangement) diskSettle(neg []arrRef) error {
	for _, ref := range neg {
		k := append(a.disk.bucketPrefix(ref.key), ref.enc...)
		w, err := a.disk.weight(k)
		if err != nil {
			return &SpillError{err}
		}
		switch {
		case w < 0:
			return a.negative(w, ref.enc)
		case w == 0:
			if err := a.disk.store.Delete(k); err != nil {
				return &SpillError{err}
			}
		}
	}
	return nil
}

// negative is the error for a row left with multiplicity w, stored as
// enc.
func (a *arrangement) negative(w row.Weight, enc string) error {
	if a.rowEnc != nil {
		enc = a.rowEnc(enc)
	}
	return negativeError(w, enc)
}

// diskWeight decodes a stored multiplicity for a read. Within a step one
// may be negative (a retraction ahead of its insertion), and is returned
// as the in-memory form returns it; settle reports one left so.
func diskWeight(v []byte) (row.Weight, error) {
	w, m := binary.Varint(v)
	if m <= 0 {
		return 0, fmt.Errorf("undecodable multiplicity %x", v)
	}
	return row.Weight(w), nil
}

func (a *arrangement) diskEach(key string, fn func(row.Row, string, row.Weight)) error {
	prefix := a.disk.bucketPrefix(key)
	n := len(prefix)
	err := a.disk.store.Scan(prefix, func(k, v []byte) error {
		w, err := diskWeight(v)
		if err != nil || w == 0 {
			return err
		}
		enc := string(k[n:]) // copied: k is the store's
		r, err := decodeRow(enc)
		if err != nil {
			return err
		}
		fn(r, enc, row.Weight(w))
		return nil
	})
	if err != nil {
		return &SpillError{err}
	}
	return nil
}

// diskEachKey lists the keys first, so that fn may look rows up.
func (a *arrangement) diskEachKey(fn func(key string)) error {
	var keys []string
	err := a.disk.store.Scan(a.disk.id[:], func(k, _ []byte) error {
		l, m := binary.Uvarint(k[4:])
		if m <= 0 || uint64(len(k)-4-m) < l {
			return fmt.Errorf("undecodable key %x", k)
		}
		key := k[4+m : 4+m+int(l)]
		if len(keys) == 0 || keys[len(keys)-1] != string(key) {
			keys = append(keys, string(key))
		}
		return nil
	})
	if err != nil {
		return &SpillError{err}
	}
	for _, k := range keys {
		fn(k)
	}
	return nil
}
