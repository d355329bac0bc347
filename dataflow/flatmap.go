package dataflow

import "github.com/rippledb/ripple/internal/row"

// FlatMap computes zero or more rows from each input row (a set-returning
// function in FROM, such as generate_series or unnest, called for every
// row of the items before it). fn must be a pure function of its row: the
// same row always expands to the same rows, in any order. Each output row
// carries its input row's weight, so a delta expands exactly like the rows
// it changes (the operator is linear: F(a + b) = F(a) + F(b)). It keeps no
// state.
//
// fn owns the rows it returns; an error fails the operator (and the views
// that read it) for good, like any runtime error of a step.
func (g *Graph) FlatMap(in *Node, fn func(row.Row) ([]row.Row, error), schema row.Schema, label string) *Node {
	return g.add(&Node{inputs: []*Node{in}, schema: schema, kind: "FlatMap", label: label, op: flatMapOp{fn}})
}

type flatMapOp struct {
	fn func(row.Row) ([]row.Row, error)
}

func (o flatMapOp) step(ins []Batch) (Batch, error) {
	out := make(Batch, 0, len(ins[0]))
	for _, u := range ins[0] {
		rs, err := o.fn(u.Row)
		if err != nil {
			return nil, err
		}
		for _, r := range rs {
			out = append(out, row.Update{Row: r, W: u.W})
		}
	}
	return out, nil
}
