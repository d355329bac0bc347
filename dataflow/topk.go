package dataflow

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/google/btree"

	"github.com/rippledb/ripple/internal/row"
)

// SortKey is one key of an ORDER BY over input column Col: descending when
// Desc, NULLs before every value when NullsFirst (PostgreSQL's defaults
// are NullsFirst == Desc). Values compare with row.Compare, so text keys
// order bytewise: the planner admits them only under the C collation.
type SortKey struct {
	Col        int
	Desc       bool
	NullsFirst bool
}

func (k SortKey) String() string {
	s := fmt.Sprintf("$%d", k.Col)
	if k.Desc {
		s += " DESC"
	}
	if k.NullsFirst != k.Desc {
		if k.NullsFirst {
			s += " NULLS FIRST"
		} else {
			s += " NULLS LAST"
		}
	}
	return s
}

func sortKeysString(keys []SortKey) string {
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k.String()
	}
	return strings.Join(parts, ", ")
}

// compareSortKeys orders rows a and b by keys; 0 means they are peers.
func compareSortKeys(keys []SortKey, a, b row.Row) int {
	for _, k := range keys {
		x, y := a[k.Col], b[k.Col]
		xn, yn := x.IsNull(), y.IsNull()
		switch {
		case xn && yn:
			continue
		case xn:
			if k.NullsFirst {
				return -1
			}
			return 1
		case yn:
			if k.NullsFirst {
				return 1
			}
			return -1
		}
		c := row.Compare(x, y)
		if k.Desc {
			c = -c
		}
		if c != 0 {
			return c
		}
	}
	return 0
}

// sortedEntry is one distinct row of a sortedRows with its multiplicity.
type sortedEntry struct {
	row row.Row
	enc string // row.AppendBinary: the tie-break among peers and the row's identity
	w   row.Weight
}

// sortedRows is an ordered multiset of rows: by the sort keys, then by the
// rows' binary encoding, so that peers have a fixed (if arbitrary) order and
// every step sees the same order for the same contents. It is the order of
// the order keys a spilled TopK stores its rows under.
type sortedRows struct {
	keys []SortKey
	tree *btree.BTreeG[*sortedEntry]
	size row.Weight // total multiplicity
	neg  []*sortedEntry
	// bytes estimates the memory of the entries, for the operator budget.
	bytes int64
}

// sortedEntryBytes estimates an entry's memory: the entry and its tree
// slot, the row's datums and the encoding (which holds the row's strings).
func sortedEntryBytes(e *sortedEntry) int64 {
	return 96 + 40*int64(len(e.row)) + 2*int64(len(e.enc))
}

func newSortedRows(keys []SortKey) *sortedRows {
	return &sortedRows{keys: keys, tree: btree.NewG(16, func(a, b *sortedEntry) bool { return compareEntries(keys, a, b) < 0 })}
}

// compareEntries orders entries as a sortedRows does: by the sort keys,
// then by the rows' binary encoding.
func compareEntries(keys []SortKey, a, b *sortedEntry) int {
	if c := compareSortKeys(keys, a.row, b.row); c != 0 {
		return c
	}
	return strings.Compare(a.enc, b.enc)
}

// sortEntries orders es as a sortedRows orders its entries, filling in
// their encodings.
func sortEntries(keys []SortKey, es []sortedEntry) {
	for i := range es {
		if es[i].enc == "" {
			es[i].enc = string(row.AppendBinary(nil, es[i].row))
		}
	}
	slices.SortFunc(es, func(a, b sortedEntry) int { return compareEntries(keys, &a, &b) })
}

// add adds w copies of r (w < 0 retracts). Within a step an entry may dip
// below zero; settle reports one that stays there.
func (s *sortedRows) add(r row.Row, w row.Weight) {
	s.addEnc(r, string(row.AppendBinary(nil, r)), w)
}

// addEnc is add of r given with its binary encoding.
func (s *sortedRows) addEnc(r row.Row, enc string, w row.Weight) {
	probe := &sortedEntry{row: r, enc: enc}
	s.size += w
	if e, ok := s.tree.Get(probe); ok {
		e.w += w
		if e.w < 0 {
			s.neg = append(s.neg, e)
		}
		if e.w == 0 {
			s.tree.Delete(e)
			s.bytes -= sortedEntryBytes(e)
		}
		return
	}
	probe.w = w
	if w < 0 {
		s.neg = append(s.neg, probe)
	}
	s.tree.ReplaceOrInsert(probe)
	s.bytes += sortedEntryBytes(probe)
}

func (s *sortedRows) settle() error {
	neg := s.neg
	s.neg = nil
	for _, e := range neg {
		if e.w < 0 {
			return fmt.Errorf("negative multiplicity %d for row %v", e.w, e.row)
		}
	}
	return nil
}

// window returns the rows at positions [offset, offset+limit) of the
// ordered multiset (limit < 0: to the end), with their multiplicities.
// It costs the number of distinct rows up to the window's end.
func (s *sortedRows) window(offset, limit int64) []row.Update {
	var out []row.Update
	if limit == 0 {
		return nil
	}
	c := positions{skip: offset, take: limit}
	s.tree.Ascend(func(e *sortedEntry) bool {
		n, more := c.next(e.w)
		if n > 0 {
			out = append(out, row.Update{Row: e.row, W: n})
		}
		return more
	})
	return out
}

// positions walks the rows of an ordered multiset to the window
// [skip, skip+take) (take < 0: to the end).
type positions struct{ skip, take int64 }

// next takes an entry of multiplicity w: n of its copies are in the
// window; more is false once the window is complete.
func (c *positions) next(w row.Weight) (n row.Weight, more bool) {
	m := int64(w)
	if c.skip >= m {
		c.skip -= m
		return 0, true
	}
	m -= c.skip
	c.skip = 0
	if c.take >= 0 {
		m = min(m, c.take)
		c.take -= m
		return row.Weight(m), c.take > 0
	}
	return row.Weight(m), true
}

// expand lists the rows in order, each repeated by its multiplicity.
func (s *sortedRows) expand() []row.Row {
	out := make([]row.Row, 0, int(s.size))
	s.tree.Ascend(func(e *sortedEntry) bool {
		for range int(e.w) {
			out = append(out, e.row)
		}
		return true
	})
	return out
}

// diffUpdates returns the change from the multiset old to the multiset
// new: retractions of old rows that are gone, insertions of new ones.
func diffUpdates(old, new []row.Update) Batch {
	if len(old) == 0 && len(new) == 0 {
		return nil
	}
	w := make(map[string]row.Weight, len(old)+len(new))
	type keyed struct {
		k string
		r row.Row
	}
	var order []keyed
	note := func(u row.Update, sign row.Weight) {
		k := u.Row.EncodeExact()
		if _, ok := w[k]; !ok {
			order = append(order, keyed{k, u.Row})
		}
		w[k] += sign * u.W
	}
	for _, u := range old {
		note(u, -1)
	}
	for _, u := range new {
		note(u, 1)
	}
	var out Batch
	for _, o := range order {
		if d := w[o.k]; d != 0 {
			out = append(out, row.Update{Row: o.r, W: d})
		}
	}
	return out
}

// TopK keeps, per group of rows equal on the columns group (SQL equality,
// NULLs together; no columns: one group), the rows at positions
// [offset, offset+limit) of the group ordered by order (SQL ORDER BY ...
// LIMIT limit OFFSET offset; limit < 0: no limit). Among peers under order
// the operator picks by the rows' encoding: the planner only builds a TopK
// whose order includes a unique key, where there are no peers.
//
// State: per group, its rows in an ordered tree; they count toward the
// graph's operator memory. A step costs, per touched group, log(group
// size) per changed row plus offset+limit. Once the graph moves the state
// to its spill store, every row lives there under its group and an order
// key (row.AppendOrderKey), so that a group's rows are in ORDER BY order
// in the store: a step then reads the first offset+limit rows of each
// touched group before and after its changes, and holds nothing in memory.
func (g *Graph) TopK(in *Node, group []int, order []SortKey, offset, limit int64, label string) *Node {
	if label == "" {
		label = fmt.Sprintf("ORDER BY %s", sortKeysString(order))
		if limit >= 0 {
			label += fmt.Sprintf(" LIMIT %d", limit)
		}
		if offset > 0 {
			label += fmt.Sprintf(" OFFSET %d", offset)
		}
	}
	state := "rows in ORDER BY order"
	if len(group) > 0 {
		state = "per group: rows in ORDER BY order"
	}
	op := &topKOp{group: group, order: order, offset: offset, limit: limit, groups: map[string]*sortedRows{}, state: g.newArrangement()}
	op.state.moved, op.state.rowEnc = op.writeOut, rowEnc
	return g.add(&Node{inputs: []*Node{in}, schema: in.schema, kind: "TopK", label: label, state: state, op: op})
}

type topKOp struct {
	group         []int
	order         []SortKey
	offset, limit int64
	groups        map[string]*sortedRows
	// state stands for the groups in the graph's operator memory: while
	// they are in memory it holds nothing and its bytes are their
	// estimated size (mem); once the graph moves it to the spill store, it
	// holds every row under its group key and the key diskKey makes.
	state *arrangement
	mem   int64
}

// groupDeltas splits a batch by the key of cols, keeping first-seen order.
func groupDeltas(b Batch, cols []int) ([]string, map[string]Batch) {
	var keys []string
	by := map[string]Batch{}
	for _, u := range b {
		k := u.Row.Key(cols)
		if _, ok := by[k]; !ok {
			keys = append(keys, k)
		}
		by[k] = append(by[k], u)
	}
	return keys, by
}

func (o *topKOp) step(ins []Batch) (Batch, error) {
	if o.state.disk != nil {
		return o.diskStep(ins)
	}
	defer func() { o.state.bytes = o.mem }() // also when the step fails
	keys, by := groupDeltas(ins[0], o.group)
	var out Batch
	for _, k := range keys {
		s, ok := o.groups[k]
		if !ok {
			s = newSortedRows(o.order)
			o.groups[k] = s
		}
		before := s.bytes
		old := s.window(o.offset, o.limit)
		for _, u := range by[k] {
			s.add(u.Row, u.W)
		}
		o.mem += s.bytes - before
		if err := s.settle(); err != nil {
			return nil, err
		}
		out = append(out, diffUpdates(old, s.window(o.offset, o.limit))...)
		if s.tree.Len() == 0 {
			delete(o.groups, k)
		}
	}
	return out, nil
}

// writeOut writes every group to the spill store once the graph has moved
// the state there, and drops them from memory.
//
// Only positive entries are written: a step that failed (its view failed,
// the others go on) may have left a negative one, which is not state
// (and must not fail the graph when the state moves).
func (o *topKOp) writeOut() error {
	for k, s := range o.groups {
		s.tree.Ascend(func(e *sortedEntry) bool {
			if e.w > 0 {
				o.diskKey(e.row, e.enc)
				o.state.addBuf(k, e.w)
			}
			return o.state.err == nil
		})
	}
	o.groups, o.mem = map[string]*sortedRows{}, 0
	return o.state.settle()
}

// rowEnc is the row encoding within a stored entry (diskKey's tail).
func rowEnc(stored string) string {
	if len(stored) < 4 {
		return stored
	}
	n := int(binary.BigEndian.Uint32([]byte(stored[len(stored)-4:])))
	if n > len(stored)-4 {
		return stored
	}
	return stored[n : len(stored)-4]
}

// diskKey sets state.buf to the stored form of row r (binary encoding enc)
// within its group: its order key, then enc (the tie-break among peers,
// as in a sortedRows), then the order key's length (4 bytes, big-endian),
// so that the row can be decoded back without parsing the order key.
func (o *topKOp) diskKey(r row.Row, enc string) {
	b := o.state.buf[:0]
	for _, k := range o.order {
		b = row.AppendOrderKey(b, r[k.Col], k.Desc, k.NullsFirst)
	}
	n := len(b)
	b = append(b, enc...)
	o.state.buf = binary.BigEndian.AppendUint32(b, uint32(n))
}

func (o *topKOp) diskStep(ins []Batch) (Batch, error) {
	keys, by := groupDeltas(ins[0], o.group)
	var out Batch
	for _, k := range keys {
		old, err := o.diskWindow(k)
		if err != nil {
			return nil, err
		}
		for _, u := range by[k] {
			o.diskKey(u.Row, string(row.AppendBinary(nil, u.Row)))
			o.state.addBuf(k, u.W)
		}
		next, err := o.diskWindow(k)
		if err != nil {
			return nil, err
		}
		out = append(out, diffUpdates(old, next)...)
	}
	if err := o.state.settle(); err != nil {
		return nil, err
	}
	return out, nil
}

// errStopScan ends a scan of the spill store early.
var errStopScan = errors.New("stop scan")

// diskWindow reads the rows at positions [offset, offset+limit) of group k
// from the spill store, in order, with their multiplicities; it reads no
// further than the window's end.
func (o *topKOp) diskWindow(k string) ([]row.Update, error) {
	if o.limit == 0 || o.state.err != nil {
		return nil, o.state.err
	}
	d := o.state.disk
	prefix := d.bucketPrefix(k)
	n := len(prefix)
	c := positions{skip: o.offset, take: o.limit}
	var out []row.Update
	err := d.store.Scan(prefix, func(key, v []byte) error {
		w, err := diskWeight(v)
		if err != nil || w <= 0 {
			return err // 0: deleted at settle; < 0: reported there
		}
		tail := key[n:]
		if len(tail) < 4 || int(binary.BigEndian.Uint32(tail[len(tail)-4:])) > len(tail)-4 {
			return fmt.Errorf("undecodable top-k entry %x", key)
		}
		m, more := c.next(w)
		if m > 0 {
			r, err := decodeRow(string(tail[binary.BigEndian.Uint32(tail[len(tail)-4:]) : len(tail)-4]))
			if err != nil {
				return err
			}
			out = append(out, row.Update{Row: r, W: m})
		}
		if !more {
			return errStopScan
		}
		return nil
	})
	if err != nil && !errors.Is(err, errStopScan) {
		return nil, &SpillError{err}
	}
	return out, nil
}
