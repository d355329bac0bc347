package dataflow

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/rippledb/ripple/internal/row"
)

// Filter keeps the rows for which pred returns true (SQL WHERE: NULL and
// false both drop the row). It keeps no state.
func (g *Graph) Filter(in *Node, pred func(row.Row) (bool, error), label string) *Node {
	return g.add(&Node{inputs: []*Node{in}, schema: in.schema, kind: "Filter", label: label, op: filterOp{pred}})
}

type filterOp struct{ pred func(row.Row) (bool, error) }

func (o filterOp) step(ins []Batch) (Batch, error) {
	var out Batch
	for _, u := range ins[0] {
		ok, err := o.pred(u.Row)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, u)
		}
	}
	return out, nil
}

// Map computes a new row from each input row (SQL projection). fn must be
// a pure function of its row: the same row always maps to the same output,
// which is what makes mapping a delta correct. It keeps no state.
func (g *Graph) Map(in *Node, fn func(row.Row) (row.Row, error), schema row.Schema, label string) *Node {
	return g.add(&Node{inputs: []*Node{in}, schema: schema, kind: "Map", label: label, op: mapOp{fn}})
}

type mapOp struct {
	fn func(row.Row) (row.Row, error)
}

func (o mapOp) step(ins []Batch) (Batch, error) {
	out := make(Batch, 0, len(ins[0]))
	for _, u := range ins[0] {
		r, err := o.fn(u.Row)
		if err != nil {
			return nil, err
		}
		out = append(out, row.Update{Row: r, W: u.W})
	}
	return out, nil
}

// Union concatenates its inputs (SQL UNION ALL). All inputs must have the
// same number of columns; the output takes the first input's schema unless
// schema is non-nil.
func (g *Graph) Union(ins []*Node, schema row.Schema, label string) *Node {
	if schema == nil {
		schema = ins[0].schema
	}
	return g.add(&Node{inputs: ins, schema: schema, kind: "Union", label: label, op: unionOp{}})
}

type unionOp struct{}

func (unionOp) step(ins []Batch) (Batch, error) {
	var out Batch
	for _, b := range ins {
		out = append(out, b...)
	}
	return out, nil
}

// Join is the inner equi-join of left and right on left[lkey[i]] =
// right[rkey[i]] for every i; output rows are the left row followed by the
// right row. Rows with a NULL in any key column never match (SQL equality).
// Key columns must have the same kind on both sides (the planner casts).
//
// State: both inputs arranged by their key. A step costs the size of the
// change times the number of matching rows on the other side:
// Δ(L⋈R) = ΔL⋈R + (L+ΔL)⋈ΔR.
func (g *Graph) Join(left, right *Node, lkey, rkey []int, label string) *Node {
	if len(lkey) != len(rkey) {
		panic("dataflow: join key arity mismatch")
	}
	schema := append(append(row.Schema{}, left.schema...), right.schema...)
	op := &joinOp{lkey: lkey, rkey: rkey, left: g.newArrangement(), right: g.newArrangement()}
	return g.add(&Node{inputs: []*Node{left, right}, schema: schema, kind: "Join", label: label,
		state: "both inputs arranged by join key", op: op})
}

type joinOp struct {
	lkey, rkey  []int
	left, right *arrangement
}

func hasNull(r row.Row, cols []int) bool {
	for _, c := range cols {
		if r[c].IsNull() {
			return true
		}
	}
	return false
}

func concat(a, b row.Row) row.Row {
	r := make(row.Row, 0, len(a)+len(b))
	return append(append(r, a...), b...)
}

func (o *joinOp) step(ins []Batch) (Batch, error) {
	var out Batch
	dl, dr := ins[0], ins[1]
	for _, u := range dl {
		if hasNull(u.Row, o.lkey) {
			continue
		}
		err := o.right.each(u.Row.Key(o.lkey), func(r row.Row, w row.Weight) {
			out = append(out, row.Update{Row: concat(u.Row, r), W: u.W * w})
		})
		if err != nil {
			return nil, err
		}
	}
	for _, u := range dl {
		if !hasNull(u.Row, o.lkey) {
			o.left.add(u.Row.Key(o.lkey), u.Row, u.W)
		}
	}
	for _, u := range dr {
		if hasNull(u.Row, o.rkey) {
			continue
		}
		err := o.left.each(u.Row.Key(o.rkey), func(l row.Row, w row.Weight) {
			out = append(out, row.Update{Row: concat(l, u.Row), W: u.W * w})
		})
		if err != nil {
			return nil, err
		}
		o.right.add(u.Row.Key(o.rkey), u.Row, u.W)
	}
	// A delta is a multiset: a retraction may come before the insertion it
	// cancels, so multiplicities are only checked once the whole delta is in.
	if err := o.left.settle(); err != nil {
		return nil, err
	}
	if err := o.right.settle(); err != nil {
		return nil, err
	}
	return out, nil
}

// Distinct turns its input multiset into a set (SQL DISTINCT): a row is in
// the output while its multiplicity in the input is positive. Rows are
// distinct by SQL equality (row.Encode: interval '1 day' equals '24
// hours'); the row emitted for equal rows is the first one seen.
// State: per distinct row, its representative and multiplicity, in an
// arrangement keyed by the row's SQL-equality encoding (one row per key),
// so it can move to the spill store.
func (g *Graph) Distinct(in *Node, label string) *Node {
	return g.add(&Node{inputs: []*Node{in}, schema: in.schema, kind: "Distinct", label: label,
		state: "multiplicity of each distinct row", op: &distinctOp{counts: g.newArrangement()}})
}

type counted struct {
	row row.Row
	w   row.Weight
}

type distinctOp struct {
	counts *arrangement
	seen   map[string]int // scratch of step: the keys touched → index in touched
	enc    []byte
}

func (o *distinctOp) step(ins []Batch) (Batch, error) {
	type change struct {
		key    string
		rep    string // the representative's binary encoding
		before row.Weight
	}
	var touched []change
	if o.seen == nil {
		o.seen = map[string]int{}
	}
	clear(o.seen)
	for _, u := range ins[0] {
		k := u.Row.Encode()
		i, seen := o.seen[k]
		if !seen {
			// The key's representative for the whole step: the row held,
			// or this one for a new key — also when this step's own
			// retractions drop the entry before an insertion re-adds it.
			rep, before, ok, err := o.counts.first(k)
			if err != nil {
				return nil, err
			}
			if !ok {
				o.enc = row.AppendBinary(o.enc[:0], u.Row)
				rep = string(o.enc)
			}
			i = len(touched)
			o.seen[k] = i
			touched = append(touched, change{k, rep, before})
		}
		o.counts.addEnc(k, touched[i].rep, u.W)
	}
	if err := o.counts.settle(); err != nil {
		return nil, err
	}
	var out Batch
	emit := func(enc string, w row.Weight) error {
		r, err := decodeRow(enc)
		if err != nil {
			return fmt.Errorf("distinct: %w", err)
		}
		out = append(out, row.Update{Row: r, W: w})
		return nil
	}
	for _, t := range touched {
		_, after, _, err := o.counts.first(t.key)
		if err != nil {
			return nil, err
		}
		switch {
		case t.before == 0 && after > 0:
			err = emit(t.rep, 1)
		case t.before > 0 && after == 0:
			err = emit(t.rep, -1)
		}
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Aggregate is one aggregate function of a Reduce (count, sum, min, ...),
// supplied by the planner, which owns SQL semantics.
type Aggregate interface {
	// New returns the state of a new, empty group.
	New() AggState
	// String names the aggregate for explain, e.g. "sum(amount)".
	String() string
}

// AggState is the running state of one aggregate over one group.
type AggState interface {
	// Add folds w copies of input row r into the state; w < 0 retracts
	// rows that were added before.
	Add(r row.Row, w row.Weight) error
	// Result is the aggregate's value over the rows currently held.
	Result() (row.Datum, error)
}

// EncodableState is an AggState that can be written out and read back: a
// running count or sum, say, unlike min/max over a multiset of values.
type EncodableState interface {
	AggState
	// AppendState appends the state's encoding to buf.
	AppendState(buf []byte) []byte
	// LoadState sets a state fresh from its Aggregate's New to the state
	// AppendState encoded as b.
	LoadState(b []byte) error
}

// Reduce groups its input by the columns group and computes aggs over each
// group (SQL GROUP BY). Output rows are the group columns followed by one
// column per aggregate. A group exists while it has rows; when global is
// true (aggregates without GROUP BY, group must be empty) the one output
// row exists even over an empty input.
//
// State: per group, its multiplicity, each aggregate's state and the row
// last emitted. A step costs the number of changed rows plus the number of
// touched groups. When every aggregate's state is encodable
// (EncodableState), that is all: the groups count toward the graph's
// operator memory, and once they move to its spill store the groups in
// memory are a cache of at most ReduceCacheGroups groups, the others
// written out whole and read back when next touched. Otherwise, in a
// graph with a spill store the input rows are also kept in an arrangement
// by group; once it has moved to the store, the groups' states are a cache
// of at most ReduceCacheGroups groups, and a group evicted from it is
// computed again from its rows when next touched (an aggregate's state is
// a function of its group's multiset of rows).
func (g *Graph) Reduce(in *Node, group []int, aggs []Aggregate, global bool, schema row.Schema, label string) *Node {
	names := make([]string, len(aggs))
	encodable := true
	for i, a := range aggs {
		names[i] = a.String()
		if _, ok := a.New().(EncodableState); !ok {
			encodable = false
		}
	}
	state := "per group: row count, aggregate state (" + strings.Join(names, ", ") + "), last output row"
	op := &reduceOp{group: group, aggs: aggs, global: global, groups: map[string]*groupState{}, spill: &g.spill}
	if encodable {
		op.saved = g.newArrangement()
		// The groups are written out when the graph moves them to the
		// store (at the end of the step that grew them past the budget,
		// often the initial load), not at the next step, which would
		// otherwise pay for all of them at once.
		op.saved.moved = op.bound
	} else {
		state += "; with a state store, also the input rows by group"
		// The input rows are read only a whole group at a time (to
		// rebuild an evicted group): their buckets stay unindexed longer.
		op.rows = g.newArrangement()
		op.rows.smallMax = reduceSmallBucket
		op.rows.moved = op.trim // as for saved above
		op.lasts = g.newArrangement()
	}
	return g.add(&Node{inputs: []*Node{in}, schema: schema, kind: "Reduce", label: label, state: state, op: op})
}

// reduceSmallBucket is the rows of a group a Reduce's input arrangement
// searches linearly before it indexes them.
const reduceSmallBucket = 48

// ReduceCacheGroups bounds the groups a Reduce holds in memory once its
// groups (or its input arrangement) live in the spill store.
var ReduceCacheGroups = 1 << 16

type groupState struct {
	key    row.Row
	count  row.Weight
	states []AggState
	last   row.Row // nil when no row is emitted for the group
}

type reduceOp struct {
	group  []int
	aggs   []Aggregate
	global bool
	groups map[string]*groupState
	spill  *spillCtl
	seen   map[string]bool // scratch of step
	// evicted counts the groups dropped from the cache, for tests.
	evicted int

	// With encodable aggregate states: saved holds the groups evicted
	// from memory, one entry per group key whose "row" is the group's
	// encoding (encodeGroup). While saved is in memory it holds nothing,
	// and its bytes are the estimated memory of groups, so the graph's
	// budget sees them and moves them out when they are the largest.
	saved *arrangement
	stbuf []byte // scratch of encodeGroup
	// memBytes is groupBytes summed over groups.
	memBytes int64

	// Otherwise: rows are the input rows by group key, kept only when the
	// graph has a spill store (spill.store), so that evicted groups can
	// be rebuilt; lasts are the last output rows of the evicted groups
	// (that have one), by group key.
	rows  *arrangement
	lasts *arrangement
}

// groupBytes estimates the memory of a group with key k held in groups:
// its map slot and key, the groupState with its key and last row, and the
// aggregate states.
func (o *reduceOp) groupBytes(k string) int64 {
	return int64(len(k)) + 112 + int64(len(o.group))*2*datumBytes + int64(len(o.aggs))*aggStateBytes
}

// Per datum of a row and per aggregate state, for groupBytes.
const (
	datumBytes    = 40
	aggStateBytes = 80
)

// encodeGroup appends gs's encoding to buf: its count, key, last row and
// each aggregate's state.
func (o *reduceOp) encodeGroup(buf []byte, gs *groupState) []byte {
	buf = binary.AppendVarint(buf, int64(gs.count))
	buf = row.AppendBinary(buf, gs.key)
	if gs.last == nil {
		buf = append(buf, 0)
	} else {
		buf = row.AppendBinary(append(buf, 1), gs.last)
	}
	for _, s := range gs.states {
		o.stbuf = s.(EncodableState).AppendState(o.stbuf[:0])
		buf = append(binary.AppendUvarint(buf, uint64(len(o.stbuf))), o.stbuf...)
	}
	return buf
}

// decodeGroup is the group encodeGroup wrote as enc.
func (o *reduceOp) decodeGroup(enc string) (*groupState, error) {
	bad := func(what string, err error) (*groupState, error) {
		return nil, &SpillError{fmt.Errorf("undecodable aggregate group (%s: %v)", what, err)}
	}
	b := []byte(enc)
	count, n := binary.Varint(b)
	if n <= 0 {
		return bad("count", errBadEntry)
	}
	key, b, err := row.DecodeBinary(b[n:])
	if err != nil || len(b) == 0 {
		return bad("key", err)
	}
	gs := o.newGroup(key)
	gs.count = row.Weight(count)
	hasLast := b[0]
	b = b[1:]
	if hasLast == 1 {
		if gs.last, b, err = row.DecodeBinary(b); err != nil {
			return bad("last row", err)
		}
	}
	for i, s := range gs.states {
		l, n := binary.Uvarint(b)
		if n <= 0 || uint64(len(b)-n) < l {
			return bad(o.aggs[i].String(), errBadEntry)
		}
		if err := s.(EncodableState).LoadState(b[n : n+int(l)]); err != nil {
			return bad(o.aggs[i].String(), err)
		}
		b = b[n+int(l):]
	}
	if len(b) != 0 {
		return bad("trailing bytes", errBadEntry)
	}
	return gs, nil
}

var errBadEntry = errors.New("malformed entry")

func (o *reduceOp) newGroup(key row.Row) *groupState {
	gs := &groupState{key: key, states: make([]AggState, len(o.aggs))}
	for i, a := range o.aggs {
		gs.states[i] = a.New()
	}
	return gs
}

// result is the group's output row, nil when it has none.
func (o *reduceOp) result(gs *groupState) (row.Row, error) {
	if gs.count <= 0 && !o.global {
		return nil, nil
	}
	next := make(row.Row, 0, len(gs.key)+len(gs.states))
	next = append(next, gs.key...)
	for _, s := range gs.states {
		d, err := s.Result()
		if err != nil {
			return nil, err
		}
		next = append(next, d)
	}
	return next, nil
}

// group returns the state of the group with key k (its columns taken from
// r), reading an evicted group back or rebuilding it from the input
// arrangement.
func (o *reduceOp) groupOf(k string, r row.Row) (*groupState, error) {
	if gs, ok := o.groups[k]; ok {
		return gs, nil
	}
	if o.saved != nil && o.saved.disk != nil {
		enc, _, held, err := o.saved.first(k)
		if err != nil {
			return nil, err
		}
		if held {
			gs, err := o.decodeGroup(enc)
			if err != nil {
				return nil, err
			}
			o.saved.addEnc(k, enc, -1)
			o.groups[k], o.memBytes = gs, o.memBytes+o.groupBytes(k)
			return gs, nil
		}
	}
	key := make(row.Row, len(o.group))
	for i, c := range o.group {
		key[i] = r[c]
	}
	gs := o.newGroup(key)
	if o.rows != nil && o.rows.disk != nil {
		// An evicted group: its last output row was kept aside (it is
		// what the sinks hold, and its key columns are the group's first
		// row's, which SQL-equal keys need not share), its state is
		// computed again from its rows.
		enc, _, held, err := o.lasts.first(k)
		if err != nil {
			return nil, err
		}
		if held {
			last, rest, err := row.DecodeBinaryString(enc)
			if err != nil || rest != "" {
				return nil, &SpillError{fmt.Errorf("undecodable row of an evicted group (%v)", err)}
			}
			o.lasts.addEnc(k, enc, -1)
			gs.last, gs.key = last, last[:len(o.group):len(o.group)]
		}
		if e := o.rows.each(k, func(r row.Row, w row.Weight) {
			gs.count += w
			for _, s := range gs.states {
				if err == nil {
					err = s.Add(r, w)
				}
			}
		}); e != nil {
			return nil, e
		}
		if err != nil {
			return nil, err
		}
	}
	o.groups[k] = gs
	if o.saved != nil {
		o.memBytes += o.groupBytes(k)
	}
	return gs, nil
}

func (o *reduceOp) step(ins []Batch) (Batch, error) {
	var touched []string
	if o.seen == nil {
		o.seen = map[string]bool{}
	}
	clear(o.seen)
	seen := o.seen
	keep := o.rows != nil && o.spill.store != nil
	if o.global {
		gs, err := o.groupOf("", nil)
		if err != nil {
			return nil, err
		}
		if gs.last == nil { // the one row exists even over an empty input
			touched, seen[""] = append(touched, ""), true
		}
	}
	for _, u := range ins[0] {
		k := u.Row.Key(o.group)
		gs, err := o.groupOf(k, u.Row)
		if err != nil {
			return nil, err
		}
		if !seen[k] {
			seen[k] = true
			touched = append(touched, k)
		}
		if keep {
			o.rows.add(k, u.Row, u.W)
		}
		gs.count += u.W
		for _, s := range gs.states {
			if err := s.Add(u.Row, u.W); err != nil {
				return nil, err
			}
		}
	}
	if keep {
		if err := o.rows.settle(); err != nil {
			return nil, err
		}
		if err := o.lasts.settle(); err != nil {
			return nil, err
		}
	}
	if o.saved != nil && o.saved.disk != nil {
		if err := o.saved.settle(); err != nil {
			return nil, err
		}
	}
	var out Batch
	for _, k := range touched {
		gs := o.groups[k]
		if gs.count < 0 {
			return nil, fmt.Errorf("negative row count %d for group %v", gs.count, gs.key)
		}
		next, err := o.result(gs)
		if err != nil {
			return nil, err
		}
		if gs.last != nil && next != nil && row.RowsIdentical(gs.last, next) {
			continue
		}
		if gs.last != nil {
			out = append(out, row.Update{Row: gs.last, W: -1})
		}
		if next != nil {
			out = append(out, row.Update{Row: next, W: 1})
		}
		gs.last = next
		if gs.count == 0 && !o.global {
			delete(o.groups, k)
			if o.saved != nil {
				o.memBytes -= o.groupBytes(k)
			}
		}
	}
	if o.saved != nil {
		return out, o.bound()
	}
	return out, o.trim()
}

// trim keeps the groups of a Reduce that rebuilds them from its input rows
// bounded once those rows live in the spill store: at most
// ReduceCacheGroups stay (any groups go; they are rebuilt from their rows
// when touched again, their last output rows kept aside in lasts).
func (o *reduceOp) trim() error {
	if o.rows.disk == nil || len(o.groups) <= ReduceCacheGroups {
		return nil
	}
	for k, gs := range o.groups {
		if len(o.groups) <= ReduceCacheGroups/2 {
			break
		}
		if gs.last != nil {
			o.lasts.add(k, gs.last, 1)
		}
		delete(o.groups, k)
		o.evicted++
	}
	return o.lasts.settle()
}

// bound keeps the memory of a Reduce with encodable states in check after
// a step: while its groups are in memory, their estimated size is its
// share of the operator memory (saved.bytes); once they have moved to the
// spill store, at most ReduceCacheGroups stay in memory, the others are
// written out whole (any groups go; they are read back when touched).
func (o *reduceOp) bound() error {
	if o.saved.disk == nil {
		o.saved.bytes = o.memBytes
		return nil
	}
	if len(o.groups) <= ReduceCacheGroups {
		return nil
	}
	for k, gs := range o.groups {
		if len(o.groups) <= ReduceCacheGroups/2 {
			break
		}
		o.saved.buf = o.encodeGroup(o.saved.buf[:0], gs)
		o.saved.addBuf(k, 1)
		delete(o.groups, k)
		o.memBytes -= o.groupBytes(k)
		o.evicted++
	}
	return o.saved.settle()
}

// SortBatch orders a batch deterministically (by row, then weight), for
// tests and golden output.
func SortBatch(b Batch) {
	sort.SliceStable(b, func(i, j int) bool {
		if c := row.CompareRows(b[i].Row, b[j].Row); c != 0 {
			return c < 0
		}
		return b[i].W < b[j].W
	})
}
