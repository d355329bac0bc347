package dataflow

import (
	"fmt"
	"strings"

	"github.com/rippledb/ripple/internal/row"
)

// MaxFixpointIterations bounds the rounds one Step of a Fixpoint may take
// before it fails: a recursion whose data has a cycle under UNION ALL
// never ends (in PostgreSQL neither).
const MaxFixpointIterations = 10000

// Fixpoint maintains a recursive query (WITH RECURSIVE r AS (base UNION
// [ALL] term)): r is the least fixed point of r = base ∪ term(r, tables).
//
// inner is a graph computing the recursive term: it reads the table
// recursive (r itself) and the tables listed in tables, and registers its
// result as output "term". in[0] is the base query's node in the outer
// graph; in[1:] are the outer nodes whose rows are inner's tables, in the
// order of tables. The Fixpoint owns inner: nothing else may step it.
//
// Every Step iterates semi-naively inside the one logical time: the
// changes of the tables and of the base go into inner together, then each
// round feeds inner the change of r that the previous round produced,
// until a round changes nothing.
//
//   - UNION ALL (distinct false): r is a multiset, r = base + term(r).
//     Feeding deltas through the incremental inner graph maintains it
//     exactly (derivation counting), inserts and deletes alike, as long
//     as the data has no cycle (then there are infinitely many
//     derivations, and the step fails after MaxFixpointIterations).
//   - UNION (distinct true): r is a set; the operator counts each row's
//     derivations and r holds the rows with a positive count. Counting
//     is exact for inserts even over cycles, but a cycle can keep a
//     deleted row supported by itself, so a step that retracts anything
//     from the base or the tables recomputes r from the base instead
//     (cost proportional to r, not to the change).
//
// State: inner's state (arrangements of r and the tables), the base rows
// and, per row of r, its derivation count.
func (g *Graph) Fixpoint(in []*Node, inner *Graph, recursive row.TableName, tables []row.TableName, distinct bool, label string) *Node {
	kind := "UNION ALL"
	if distinct {
		kind = "UNION"
	}
	var b strings.Builder
	for _, line := range strings.Split(strings.TrimRight(inner.Explain("term"), "\n"), "\n") {
		b.WriteString("\n  " + line)
	}
	// The term's own operators show under the state (the label stays one
	// line: errors quote it).
	return g.add(&Node{inputs: in, schema: in[0].schema, kind: "Fixpoint", label: label + " (" + kind + ")",
		state: "the base rows, per row its derivation count, and the recursive term's state:" + b.String(),
		op: &fixpointOp{inner: inner, recursive: recursive, tables: tables, distinct: distinct,
			base: map[string]*counted{}, count: map[string]*counted{}}})
}

type fixpointOp struct {
	inner     *Graph
	recursive row.TableName
	tables    []row.TableName
	distinct  bool
	base      map[string]*counted // the base's rows (UNION: for a recomputation)
	count     map[string]*counted // r's rows with their derivation counts
}

// addCounts adds b to m and returns the rows whose presence (count > 0
// under UNION) or multiplicity (UNION ALL) changed, as a delta of r.
func (o *fixpointOp) addCounts(m map[string]*counted, b Batch) Batch {
	var out Batch
	for _, u := range b {
		k := u.Row.Encode()
		c, ok := m[k]
		if !ok {
			c = &counted{row: u.Row}
			m[k] = c
		}
		before := c.w
		c.w += u.W
		if o.distinct {
			switch {
			case before <= 0 && c.w > 0:
				out = append(out, row.Update{Row: c.row, W: 1})
			case before > 0 && c.w <= 0:
				out = append(out, row.Update{Row: c.row, W: -1})
			}
		} else {
			out = append(out, u)
		}
		if c.w == 0 {
			delete(m, k)
		}
	}
	return out.Consolidate()
}

func (o *fixpointOp) step(ins []Batch) (Batch, error) {
	retracts := false
	inputs := map[row.TableName]Batch{}
	for i, t := range o.tables {
		if len(ins[i+1]) > 0 {
			inputs[t] = append(inputs[t], ins[i+1]...)
		}
		for _, u := range ins[i+1] {
			retracts = retracts || u.W < 0
		}
	}
	for _, u := range ins[0] {
		retracts = retracts || u.W < 0
	}
	if o.distinct {
		o.addBase(ins[0])
		if retracts {
			return o.recompute(inputs)
		}
	}
	delta := o.addCounts(o.count, ins[0])
	return o.iterate(inputs, delta, nil)
}

func (o *fixpointOp) addBase(b Batch) {
	for _, u := range b {
		k := u.Row.Encode()
		c, ok := o.base[k]
		if !ok {
			c = &counted{row: u.Row}
			o.base[k] = c
		}
		c.w += u.W
		if c.w == 0 {
			delete(o.base, k)
		}
	}
}

// iterate runs rounds from the change delta of r (and the tables' changes
// in inputs, for the first round) until r stops changing; out collects
// r's change.
func (o *fixpointOp) iterate(inputs map[row.TableName]Batch, delta, out Batch) (Batch, error) {
	for round := 0; ; round++ {
		out = append(out, delta...)
		if len(delta) == 0 && len(inputs) == 0 && o.inner.primed {
			return out.Consolidate(), nil
		}
		if round >= MaxFixpointIterations {
			return nil, fmt.Errorf("WITH RECURSIVE %s did not reach a fixed point after %d iterations (does the data have a cycle under UNION ALL?)", o.recursive.Name, round)
		}
		if len(delta) > 0 {
			inputs[o.recursive] = delta
		}
		res, err := o.inner.Step(inputs)
		if err != nil {
			return nil, err
		}
		inputs = map[row.TableName]Batch{}
		delta = o.addCounts(o.count, res["term"])
	}
}

// recompute rebuilds r under UNION from the base: it empties inner's copy
// of r (with the tables' changes), then derives r again by insertions
// only, and returns the difference to the old r.
func (o *fixpointOp) recompute(inputs map[row.TableName]Batch) (Batch, error) {
	var old Batch
	for _, c := range o.count {
		if c.w > 0 {
			old = append(old, row.Update{Row: c.row, W: 1})
		}
	}
	var clear Batch
	for _, u := range old {
		clear = append(clear, row.Update{Row: u.Row, W: -1})
	}
	if len(clear) > 0 {
		inputs[o.recursive] = clear
	}
	if _, err := o.inner.Step(inputs); err != nil {
		return nil, err
	}
	o.count = map[string]*counted{}
	var base Batch
	for _, c := range o.base {
		base = append(base, row.Update{Row: c.row, W: c.w})
	}
	delta := o.addCounts(o.count, base)
	out, err := o.iterate(map[row.TableName]Batch{}, delta, nil)
	if err != nil {
		return nil, err
	}
	return append(out, clear...).Consolidate(), nil
}
