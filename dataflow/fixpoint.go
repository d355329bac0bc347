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
//     derivations from the rows of r and r holds the rows with a positive
//     count. Counting is exact for inserts even over cycles, but a cycle
//     can keep a deleted row supported by itself, so a step that loses a
//     derivation of a row of r runs DRed (delete and rederive): every row
//     that lost a derivation, and transitively every row derived from
//     those, is taken out of r; then the ones still derivable from what
//     is left (and from the step's insertions) are put back, semi-naively.
//     Cost is proportional to the rows the change reaches, not to r.
//
// State: inner's state (arrangements of r and the tables) and, per row of
// r, its derivation count.
func (g *Graph) Fixpoint(in []*Node, inner *Graph, recursive row.TableName, tables []row.TableName, distinct bool, label string) *Node {
	kind := "UNION ALL"
	if distinct {
		kind = "UNION"
	}
	var b strings.Builder
	for _, line := range strings.Split(strings.TrimRight(inner.Explain("term"), "\n"), "\n") {
		b.WriteString("\n  " + line)
	}
	// The term's arrangements move to the spill store under this graph's
	// budget, as this graph's own (ids included).
	g.spill.arrs = append(g.spill.arrs, inner.spill.arrs...)
	g.spill.children = append(append(g.spill.children, &inner.spill), inner.spill.children...)
	inner.spill.arrs, inner.spill.children = nil, nil
	for _, c := range g.spill.children { // SetSpill may have come first
		c.store, c.budget = g.spill.store, g.spill.budget
	}
	// The term's own operators show under the state (the label stays one
	// line: errors quote it).
	return g.add(&Node{inputs: in, schema: in[0].schema, kind: "Fixpoint", label: label + " (" + kind + ")",
		state: "per row its derivation count, and the recursive term's state:" + b.String(),
		op: &fixpointOp{inner: inner, recursive: recursive, tables: tables, distinct: distinct,
			count: g.newArrangement()}})
}

type fixpointOp struct {
	inner     *Graph
	recursive row.TableName
	tables    []row.TableName
	distinct  bool
	// count holds r's rows, one per row.Encode key (the first row of
	// the key stands for it), with their derivation counts (UNION) or
	// multiplicities (UNION ALL). It is an arrangement of the graph's, so
	// it counts toward the operator memory and moves to the spill store.
	count *arrangement
	enc   []byte
}

// bump adds w to the count of r's key and returns the key, the row that
// stands for it (its binary encoding) and its count before.
func (o *fixpointOp) bump(r row.Row, w row.Weight) (k, rep string, before row.Weight, err error) {
	k = r.Encode()
	rep, before, ok, err := o.count.first(k)
	if err != nil {
		return "", "", 0, err
	}
	if !ok {
		o.enc = row.AppendBinary(o.enc[:0], r)
		rep = string(o.enc)
	}
	o.count.addEnc(k, rep, w)
	return k, rep, before, nil
}

// addCounts adds b to the counts and returns the rows whose presence
// (count > 0 under UNION) or multiplicity (UNION ALL) changed, as a delta
// of r.
func (o *fixpointOp) addCounts(b Batch) (Batch, error) {
	var out Batch
	for _, u := range b {
		_, rep, before, err := o.bump(u.Row, u.W)
		if err != nil {
			return nil, err
		}
		if !o.distinct {
			out = append(out, u)
			continue
		}
		after := before + u.W
		var w row.Weight
		switch {
		case before <= 0 && after > 0:
			w = 1
		case before > 0 && after <= 0:
			w = -1
		default:
			continue
		}
		r, err := decodeRow(rep)
		if err != nil {
			return nil, fmt.Errorf("WITH RECURSIVE %s: %w", o.recursive.Name, err)
		}
		out = append(out, row.Update{Row: r, W: w})
	}
	return out.Consolidate(), nil
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
	var out Batch
	var err error
	if o.distinct && retracts {
		out, err = o.dred(ins[0], inputs)
	} else {
		var delta Batch
		if delta, err = o.addCounts(ins[0]); err == nil {
			out, err = o.iterate(inputs, delta, nil)
		}
	}
	if err != nil {
		return nil, err
	}
	// Counts may pass below zero within a step, not across steps.
	if err := o.count.settle(); err != nil {
		return nil, fmt.Errorf("WITH RECURSIVE %s: %w", o.recursive.Name, err)
	}
	return out, nil
}

// splitSigns splits b, consolidated (a row inserted and retracted in one
// batch is neither), into its retractions and its insertions.
func splitSigns(b Batch) (neg, pos Batch) {
	for _, u := range b.Consolidate() {
		if u.W < 0 {
			neg = append(neg, u)
		} else if u.W > 0 {
			pos = append(pos, u)
		}
	}
	return neg, pos
}

// dred is a UNION step that may lose derivations (see Fixpoint). inner's
// copy of r is kept equal to the rows marked present; counts are the
// derivations of each row from the base and from inner's copy of r.
func (o *fixpointOp) dred(base Batch, inputs map[row.TableName]Batch) (Batch, error) {
	type touched struct {
		row       row.Row
		was, pres bool // in r before the step; in r (and inner's copy) now
	}
	seen := map[string]*touched{}
	var frontier, cand []string // rows to take out of r; rows that may come (back) in
	mark := func(b Batch) error {
		for _, u := range b {
			k, rep, before, err := o.bump(u.Row, u.W)
			if err != nil {
				return err
			}
			t, ok := seen[k]
			if !ok {
				r, err := decodeRow(rep)
				if err != nil {
					return fmt.Errorf("WITH RECURSIVE %s: %w", o.recursive.Name, err)
				}
				t = &touched{row: r, was: before > 0, pres: before > 0}
				seen[k] = t
			}
			switch {
			case u.W < 0 && t.pres:
				frontier = append(frontier, k) // lost a derivation: over-delete
			case u.W > 0:
				cand = append(cand, k)
			}
		}
		return nil
	}
	// The retractions go first, and their over-deletion completes before
	// the insertions come in: a row losing a derivation and gaining one
	// in the same inner step would see no change, though its new
	// derivation may rest on rows the retraction takes away (a cycle
	// holding itself up).
	negBase, posBase := splitSigns(base)
	negIn := map[row.TableName]Batch{}
	posIn := map[row.TableName]Batch{}
	for t, b := range inputs {
		neg, pos := splitSigns(b)
		if len(neg) > 0 {
			negIn[t] = neg
		}
		if len(pos) > 0 {
			posIn[t] = pos
		}
	}
	if err := mark(negBase); err != nil {
		return nil, err
	}
	res, err := o.inner.Step(negIn)
	if err != nil {
		return nil, err
	}
	if err := mark(res["term"]); err != nil {
		return nil, err
	}
	inserted := false
	for round := 0; ; round++ {
		if round >= MaxFixpointIterations {
			return nil, fmt.Errorf("WITH RECURSIVE %s did not reach a fixed point after %d iterations", o.recursive.Name, round)
		}
		if len(frontier) == 0 && !inserted {
			inserted = true
			if err := mark(posBase); err != nil {
				return nil, err
			}
			res, err := o.inner.Step(posIn)
			if err != nil {
				return nil, err
			}
			if err := mark(res["term"]); err != nil {
				return nil, err
			}
			continue
		}
		if len(frontier) == 0 && len(cand) == 0 {
			break
		}
		// Delete: take every row that lost a derivation out of r, and
		// then the rows that lose one by that, until none does.
		var step Batch
		if len(frontier) > 0 {
			for _, k := range frontier {
				if t := seen[k]; t.pres {
					t.pres = false
					step = append(step, row.Update{Row: t.row, W: -1})
					cand = append(cand, k) // may still be derivable
				}
			}
			frontier = frontier[:0]
		} else {
			// Rederive and insert: put in r every row derivable from
			// what is in r now.
			for _, k := range cand {
				t := seen[k]
				if t.pres {
					continue
				}
				_, w, ok, err := o.count.first(k)
				if err != nil {
					return nil, err
				}
				if ok && w > 0 {
					t.pres = true
					step = append(step, row.Update{Row: t.row, W: 1})
				}
			}
			cand = cand[:0]
		}
		if len(step) == 0 {
			continue
		}
		res, err := o.inner.Step(map[row.TableName]Batch{o.recursive: step})
		if err != nil {
			return nil, err
		}
		if err := mark(res["term"]); err != nil {
			return nil, err
		}
	}
	var out Batch
	for _, t := range seen {
		switch {
		case t.was && !t.pres:
			out = append(out, row.Update{Row: t.row, W: -1})
		case !t.was && t.pres:
			out = append(out, row.Update{Row: t.row, W: 1})
		}
	}
	return out, nil
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
		if delta, err = o.addCounts(res["term"]); err != nil {
			return nil, err
		}
	}
}
