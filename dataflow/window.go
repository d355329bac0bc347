package dataflow

import (
	"fmt"
	"strings"

	"github.com/rippledb/ripple/internal/row"
)

// WindowKind is what a window function computes.
type WindowKind uint8

// The window functions (PostgreSQL's names).
const (
	RowNumber WindowKind = iota
	Rank
	DenseRank
	Lag
	Lead
	FirstValue
	LastValue
	WindowAggregate // an aggregate over the frame: WindowFunc.Agg
)

// BoundKind is the kind of one end of a window frame.
type BoundKind uint8

// Frame bounds.
const (
	UnboundedPreceding BoundKind = iota
	Preceding                    // N rows before (ROWS frames only)
	CurrentRow                   // the current row; in RANGE mode its last/first peer
	Following                    // N rows after (ROWS frames only)
	UnboundedFollowing
)

// FrameBound is one end of a frame.
type FrameBound struct {
	Kind BoundKind
	N    int64
}

// Frame is a window frame. The zero value is RANGE BETWEEN UNBOUNDED
// PRECEDING AND CURRENT ROW with the end's peers included: PostgreSQL's
// default frame. Without ORDER BY every row of a partition is a peer of
// every other, so it spans the whole partition.
type Frame struct {
	Rows       bool // ROWS mode; else RANGE (bounds in peer groups)
	Start, End FrameBound
}

// DefaultFrame is RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW.
var DefaultFrame = Frame{Start: FrameBound{Kind: UnboundedPreceding}, End: FrameBound{Kind: CurrentRow}}

// WindowFunc is one window function of a Window operator. Arguments are
// input columns (the planner computes argument expressions beforehand).
type WindowFunc struct {
	Kind WindowKind
	// Arg is the input column of the argument (Lag, Lead, FirstValue,
	// LastValue); aggregates read their own arguments from the row.
	Arg int
	// Offset is lag/lead's row offset (>= 0).
	Offset int64
	// Default is the input column of lag/lead's default, -1 for NULL.
	Default int
	Agg     Aggregate
	Frame   Frame
	Label   string // for explain, e.g. "row_number()"
}

// Window computes window functions over partitions of its input (rows
// equal on the columns partition, SQL equality) ordered by order: every
// input row comes out followed by one column per function (SQL's
// f(...) OVER (PARTITION BY ... ORDER BY ...)). Peers under order are
// ranked alike by Rank and DenseRank and share a RANGE frame's end; for
// the other functions their relative order is the rows' encoding, which
// the planner makes irrelevant by requiring a unique key in order.
//
// State: per partition, its rows, in an arrangement by partition key that
// counts toward the graph's operator memory and moves to its spill store
// like a join's. A step reads each touched partition's rows, orders them,
// computes the functions over the rows before and after the step and
// emits the difference: it costs the touched partitions' sizes, not the
// input's, and holds only those partitions decoded.
func (g *Graph) Window(in *Node, partition []int, order []SortKey, funcs []WindowFunc, schema row.Schema, label string) *Node {
	names := make([]string, len(funcs))
	for i, f := range funcs {
		names[i] = f.Label
	}
	if label == "" {
		label = strings.Join(names, ", ")
	}
	return g.add(&Node{inputs: []*Node{in}, schema: schema, kind: "Window", label: label,
		state: "per partition: its rows (ordered when the partition is touched)",
		op:    &windowOp{partition: partition, order: order, funcs: funcs, rows: g.newArrangement()}})
}

type windowOp struct {
	partition []int
	order     []SortKey
	funcs     []WindowFunc
	rows      *arrangement // by partition key
}

func (o *windowOp) step(ins []Batch) (Batch, error) {
	keys, by := groupDeltas(ins[0], o.partition)
	var out Batch
	for _, k := range keys {
		// The partition is read once: its rows after the step are those
		// before with the changes applied.
		before, err := o.rows.entries(k)
		if err != nil {
			return nil, err
		}
		after, err := applyEntries(before, by[k])
		if err != nil {
			return nil, err
		}
		for _, u := range by[k] {
			o.rows.add(k, u.Row, u.W)
		}
		last, err := o.compute(o.ordered(before))
		if err != nil {
			return nil, err
		}
		next, err := o.compute(o.ordered(after))
		if err != nil {
			return nil, err
		}
		out = append(out, diffUpdates(last, next)...)
	}
	if err := o.rows.settle(); err != nil {
		return nil, err
	}
	return out, nil
}

// applyEntries is the multiset es (distinct rows, as an arrangement lists
// them) with the changes d applied; a row left with a negative
// multiplicity is an error.
func applyEntries(es []sortedEntry, d Batch) ([]sortedEntry, error) {
	at := make(map[string]int, len(es)+len(d))
	out := make([]sortedEntry, len(es), len(es)+len(d))
	copy(out, es)
	for i, e := range out {
		at[e.enc] = i
	}
	for _, u := range d {
		enc := string(row.AppendBinary(nil, u.Row))
		if i, ok := at[enc]; ok {
			out[i].w += u.W
			continue
		}
		at[enc] = len(out)
		out = append(out, sortedEntry{row: u.Row, enc: enc, w: u.W})
	}
	for _, e := range out {
		if e.w < 0 {
			return nil, negativeRowError(e.w, e.row)
		}
	}
	return out, nil
}

// ordered is the rows of es in window order, each repeated by its
// multiplicity (es is reordered); peers are ordered by their encoding, so
// that every reading of the same rows gives the same order.
func (o *windowOp) ordered(es []sortedEntry) []row.Row {
	sortEntries(o.order, es)
	n := 0
	for _, e := range es {
		n += int(e.w)
	}
	rows := make([]row.Row, 0, n)
	for _, e := range es {
		for range int(e.w) {
			rows = append(rows, e.row)
		}
	}
	return rows
}

// compute evaluates every function over one partition's rows in order.
func (o *windowOp) compute(rows []row.Row) ([]row.Update, error) {
	n := len(rows)
	if n == 0 {
		return nil, nil
	}
	// peerStart[i], peerEnd[i]: the first and last position of row i's
	// peer group; group[i]: the group's number from 0.
	peerStart, peerEnd, group := make([]int, n), make([]int, n), make([]int, n)
	for i := range rows {
		if i > 0 && compareSortKeys(o.order, rows[i-1], rows[i]) == 0 {
			peerStart[i], group[i] = peerStart[i-1], group[i-1]
		} else {
			peerStart[i] = i
			if i > 0 {
				group[i] = group[i-1] + 1
			}
		}
	}
	for i := n - 1; i >= 0; i-- {
		if i < n-1 && peerStart[i+1] == peerStart[i] {
			peerEnd[i] = peerEnd[i+1]
		} else {
			peerEnd[i] = i
		}
	}
	res := make([][]row.Datum, len(o.funcs))
	for fi, f := range o.funcs {
		vals := make([]row.Datum, n)
		switch f.Kind {
		case RowNumber:
			for i := range vals {
				vals[i] = row.NewInt(int64(i + 1))
			}
		case Rank:
			for i := range vals {
				vals[i] = row.NewInt(int64(peerStart[i] + 1))
			}
		case DenseRank:
			for i := range vals {
				vals[i] = row.NewInt(int64(group[i] + 1))
			}
		case Lag, Lead:
			for i := range vals {
				j := int64(i) - f.Offset
				if f.Kind == Lead {
					j = int64(i) + f.Offset
				}
				switch {
				case j >= 0 && j < int64(n):
					vals[i] = rows[j][f.Arg]
				case f.Default >= 0:
					vals[i] = rows[i][f.Default]
				default:
					vals[i] = row.Null
				}
			}
		case FirstValue, LastValue:
			for i := range vals {
				s, e := f.Frame.bounds(i, n, peerStart, peerEnd)
				switch {
				case s > e:
					vals[i] = row.Null
				case f.Kind == FirstValue:
					vals[i] = rows[s][f.Arg]
				default:
					vals[i] = rows[e][f.Arg]
				}
			}
		case WindowAggregate:
			if err := f.aggregate(rows, vals, peerStart, peerEnd); err != nil {
				return nil, err
			}
		default:
			return nil, fmt.Errorf("unknown window function kind %d", f.Kind)
		}
		res[fi] = vals
	}
	out := make([]row.Update, n)
	for i, r := range rows {
		nr := make(row.Row, 0, len(r)+len(o.funcs))
		nr = append(nr, r...)
		for fi := range o.funcs {
			nr = append(nr, res[fi][i])
		}
		out[i] = row.Update{Row: nr, W: 1}
	}
	return out, nil
}

// bounds is the frame of row i as positions [s, e] (empty when s > e).
// Both ends only move forward as i grows.
func (f Frame) bounds(i, n int, peerStart, peerEnd []int) (int, int) {
	pos := func(b FrameBound, start bool) int {
		switch b.Kind {
		case UnboundedPreceding:
			return 0
		case UnboundedFollowing:
			return n - 1
		case Preceding:
			return i - int(min(b.N, int64(n)))
		case Following:
			return i + int(min(b.N, int64(n)))
		}
		if f.Rows {
			return i
		}
		if start {
			return peerStart[i]
		}
		return peerEnd[i]
	}
	s, e := pos(f.Start, true), pos(f.End, false)
	return max(s, 0), min(e, n-1)
}

// aggregate computes an aggregate over each row's frame with one sliding
// state: rows enter at the frame's end and leave (retracted) at its start.
func (f WindowFunc) aggregate(rows []row.Row, vals []row.Datum, peerStart, peerEnd []int) error {
	st := f.Agg.New()
	lo, hi := 0, -1 // the state holds rows[lo..hi], nothing when hi < lo
	for i := range rows {
		s, e := f.Frame.bounds(i, len(rows), peerStart, peerEnd)
		for lo < s && lo <= hi {
			if err := st.Add(rows[lo], -1); err != nil {
				return err
			}
			lo++
		}
		if hi < lo {
			lo, hi = s, s-1
		}
		for hi < e {
			hi++
			if err := st.Add(rows[hi], 1); err != nil {
				return err
			}
		}
		d, err := st.Result()
		if err != nil {
			return err
		}
		vals[i] = d
	}
	return nil
}
