package dataflow_test

import (
	"errors"
	"fmt"
	"math/rand"
	"strings"
	"testing"
	"time"

	"github.com/rippledb/ripple/dataflow"
	"github.com/rippledb/ripple/internal/row"
)

// vLTw is the extra ON predicate a.v < b.w over a joined (k, v, k, w) row.
func vLTw(r row.Row) (bool, error) {
	v, ok1 := ints(r[1])
	w, ok2 := ints(r[3])
	return ok1 && ok2 && v < w, nil
}

func TestOuterJoin(t *testing.T) {
	join := func(kind dataflow.JoinKind, pred func(row.Row) (bool, error)) func(g *dataflow.Graph, a, b *dataflow.Node) *dataflow.Node {
		return func(g *dataflow.Graph, a, b *dataflow.Node) *dataflow.Node {
			return g.OuterJoin(a, b, []int{0}, []int{0}, pred, kind, "a.k = b.k")
		}
	}
	runOpCases(t, []opCase{
		{name: "left: unmatched rows are NULL-extended", build: join(dataflow.LeftJoin, nil), steps: []opStep{
			{a: B(U(1, 1, 10), U(2, 2, 20)), want: "+1 (1,10,NULL,NULL); +2 (2,20,NULL,NULL)"},
			{b: B(U(1, 1, 5)), want: "+1 (1,10,1,5); -1 (1,10,NULL,NULL)"},
			{b: B(U(1, 1, 6)), want: "+1 (1,10,1,6)"},
			{b: B(U(-1, 1, 5)), want: "-1 (1,10,1,5)"},
			{b: B(U(-1, 1, 6)), want: "-1 (1,10,1,6); +1 (1,10,NULL,NULL)"},
			{a: B(U(-2, 2, 20)), want: "-2 (2,20,NULL,NULL)"},
		}},
		{name: "left: NULL key never matches but is kept", build: join(dataflow.LeftJoin, nil), steps: []opStep{
			{a: B(U(1, nil, 1)), b: B(U(1, nil, 2)), want: "+1 (NULL,1,NULL,NULL)"},
			{a: B(U(-1, nil, 1)), want: "-1 (NULL,1,NULL,NULL)"},
		}},
		{name: "left: ON predicate decides matching", build: join(dataflow.LeftJoin, vLTw), steps: []opStep{
			{a: B(U(1, 1, 5), U(1, 1, 9)), b: B(U(1, 1, 7)), want: "+1 (1,5,1,7); +1 (1,9,NULL,NULL)"},
			{b: B(U(-1, 1, 7), U(1, 1, 10)), want: "-1 (1,5,1,7); +1 (1,5,1,10); +1 (1,9,1,10); -1 (1,9,NULL,NULL)"},
			{a: B(U(-1, 1, 5), U(1, 1, 11)), want: "-1 (1,5,1,10); +1 (1,11,NULL,NULL)"},
		}},
		{name: "right", build: join(dataflow.RightJoin, nil), steps: []opStep{
			{a: B(U(1, 1, 10)), b: B(U(1, 1, 5), U(1, 2, 6)), want: "+1 (1,10,1,5); +1 (NULL,NULL,2,6)"},
			{a: B(U(1, 2, 3)), want: "+1 (2,3,2,6); -1 (NULL,NULL,2,6)"},
		}},
		{name: "full, both sides in one step", build: join(dataflow.FullJoin, nil), steps: []opStep{
			{a: B(U(1, 1, 10), U(1, 3, nil)), b: B(U(1, 1, 5), U(1, 2, 6)), want: "+1 (1,10,1,5); +1 (3,NULL,NULL,NULL); +1 (NULL,NULL,2,6)"},
			{a: B(U(-1, 1, 10), U(1, 2, 1)), b: B(U(-1, 1, 5)), want: "-1 (1,10,1,5); +1 (2,1,2,6); -1 (NULL,NULL,2,6)"},
		}},
		{name: "full cross join with predicate", build: func(g *dataflow.Graph, a, b *dataflow.Node) *dataflow.Node {
			return g.OuterJoin(a, b, nil, nil, vLTw, dataflow.FullJoin, "a.v < b.w")
		}, steps: []opStep{
			{a: B(U(1, 1, 1)), b: B(U(1, 2, 0)), want: "+1 (1,1,NULL,NULL); +1 (NULL,NULL,2,0)"},
			{b: B(U(1, 3, 5)), want: "+1 (1,1,3,5); -1 (1,1,NULL,NULL)"},
		}},
	})
}

func TestSetOp(t *testing.T) {
	setop := func(kind dataflow.SetOpKind) func(g *dataflow.Graph, a, b *dataflow.Node) *dataflow.Node {
		return func(g *dataflow.Graph, a, b *dataflow.Node) *dataflow.Node { return g.SetOp(a, b, kind, kind.String()) }
	}
	runOpCases(t, []opCase{
		{name: "intersect", build: setop(dataflow.Intersect), steps: []opStep{
			{a: B(U(2, 1, 1), U(1, 2, nil)), b: B(U(1, 1, 1), U(3, 2, nil)), want: "+1 (1,1); +1 (2,NULL)"},
			{b: B(U(-1, 1, 1)), want: "-1 (1,1)"},
		}},
		{name: "intersect all", build: setop(dataflow.IntersectAll), steps: []opStep{
			{a: B(U(3, 1, 1)), b: B(U(2, 1, 1)), want: "+2 (1,1)"},
			{a: B(U(-2, 1, 1)), want: "-1 (1,1)"},
		}},
		{name: "except", build: setop(dataflow.Except), steps: []opStep{
			{a: B(U(3, 1, 1), U(1, 2, nil)), b: B(U(1, 2, nil)), want: "+1 (1,1)"},
			{b: B(U(-1, 2, nil)), want: "+1 (2,NULL)"},
		}},
		{name: "except all", build: setop(dataflow.ExceptAll), steps: []opStep{
			{a: B(U(3, 1, 1)), b: B(U(1, 1, 1)), want: "+2 (1,1)"},
			{b: B(U(4, 1, 1)), want: "-2 (1,1)"},
			{a: B(U(2, 1, 1)), want: ""},
			{a: B(U(1, 1, 1)), want: "+1 (1,1)"},
		}},
	})
}

// TestOuterDifferential steps outer joins and set operations with random
// changes and compares each accumulated output with a from-scratch
// evaluation after every step.
func TestOuterDifferential(t *testing.T) {
	steps := 1500
	if testing.Short() {
		steps = 300
	}
	for _, s := range []int64{1, time.Now().UnixNano()} {
		for _, sp := range spillModes {
			t.Run(fmt.Sprintf("seed=%d/%s", s, sp.name), func(t *testing.T) { runOuterDifferential(t, s, steps, sp) })
		}
	}
}

// runOuterDifferential: the outer joins on keys alone keep their state in
// arrangements, which sp puts in memory or in a spill store.
func runOuterDifferential(t *testing.T, seed int64, steps int, sp spillMode) {
	rng := rand.New(rand.NewSource(seed))
	g := dataflow.New()
	defer setSpill(t, g, sp)()
	a, b := g.Input(tblA, schemaA), g.Input(tblB, schemaB)
	kinds := []dataflow.JoinKind{dataflow.InnerJoin, dataflow.LeftJoin, dataflow.RightJoin, dataflow.FullJoin}
	for _, k := range kinds {
		g.Output("key "+k.String(), g.OuterJoin(a, b, []int{0}, []int{0}, nil, k, ""))
		g.Output("pred "+k.String(), g.OuterJoin(a, b, []int{0}, []int{0}, vLTw, k, ""))
		g.Output("cross "+k.String(), g.OuterJoin(a, b, nil, nil, vLTw, k, ""))
	}
	sets := []dataflow.SetOpKind{dataflow.Intersect, dataflow.IntersectAll, dataflow.Except, dataflow.ExceptAll}
	for _, k := range sets {
		g.Output(k.String(), g.SetOp(a, b, k, ""))
	}
	tables := map[row.TableName]multiset{tblA: {}, tblB: {}}
	acc := map[string]multiset{}
	for _, n := range g.Outputs() {
		acc[n] = multiset{}
	}
	val := func(n int) any {
		if rng.Intn(5) == 0 {
			return nil
		}
		return rng.Intn(n)
	}
	mkA := func() row.Row { return R(val(5), val(5)) }
	mkB := func() row.Row { return R(val(5), val(5)) }
	for step := range steps {
		in := map[row.TableName]dataflow.Batch{}
		switch rng.Intn(4) {
		case 0:
			in[tblA] = randomDelta(rng, tables[tblA], mkA)
		case 1:
			in[tblB] = randomDelta(rng, tables[tblB], mkB)
		default:
			in[tblA] = randomDelta(rng, tables[tblA], mkA)
			in[tblB] = randomDelta(rng, tables[tblB], mkB)
		}
		res, err := g.Step(in)
		if err != nil {
			t.Fatalf("seed %d step %d: %v", seed, step, err)
		}
		want := outerOracle(tables[tblA], tables[tblB], kinds, sets)
		for _, n := range g.Outputs() {
			checkConsolidated(t, n, res[n])
			acc[n].addBatch(res[n])
			if d := diffMismatch(acc[n], want[n]); d != "" {
				t.Fatalf("seed %d step %d: output %s differs from the oracle:%s\nlast input: A %s | B %s",
					seed, step, n, d, fmtBatch(in[tblA]), fmtBatch(in[tblB]))
			}
		}
	}
}

// outerOracle evaluates the outputs of runOuterDifferential from scratch.
func outerOracle(a, b multiset, kinds []dataflow.JoinKind, sets []dataflow.SetOpKind) map[string]multiset {
	out := map[string]multiset{}
	as, bs := a.batch(), b.batch()
	for _, k := range kinds {
		for _, mode := range []string{"key", "pred", "cross"} {
			res := multiset{}
			matchedB := make([]bool, len(bs))
			for _, x := range as {
				matched := false
				for j, y := range bs {
					c := append(append(row.Row{}, x.Row...), y.Row...)
					ok := true
					if mode != "cross" {
						xk, xok := ints(x.Row[0])
						yk, yok := ints(y.Row[0])
						ok = xok && yok && xk == yk
					}
					if mode != "key" {
						p, _ := vLTw(c)
						ok = ok && p
					}
					if ok {
						matched, matchedB[j] = true, true
						res.add(row.Update{Row: c, W: x.W * y.W})
					}
				}
				if !matched && (k == dataflow.LeftJoin || k == dataflow.FullJoin) {
					res.add(row.Update{Row: R(x.Row[0], x.Row[1], nil, nil), W: x.W})
				}
			}
			for j, y := range bs {
				if !matchedB[j] && (k == dataflow.RightJoin || k == dataflow.FullJoin) {
					res.add(row.Update{Row: R(nil, nil, y.Row[0], y.Row[1]), W: y.W})
				}
			}
			out[mode+" "+k.String()] = res
		}
	}
	for _, k := range sets {
		res := multiset{}
		for _, x := range as {
			n := row.Weight(0)
			if y, ok := b[x.Row.Encode()]; ok {
				n = y.W
			}
			var w row.Weight
			switch k {
			case dataflow.Intersect:
				if n > 0 {
					w = 1
				}
			case dataflow.IntersectAll:
				w = min(x.W, n)
			case dataflow.Except:
				if n == 0 {
					w = 1
				}
			case dataflow.ExceptAll:
				w = max(x.W-n, 0)
			}
			if w > 0 {
				res.add(row.Update{Row: x.Row, W: w})
			}
		}
		out[k.String()] = res
	}
	return out
}

// TestFailedViewStateMoves: a view whose step fails (a retraction of a
// row it never had) fails alone, also when the graph then moves that
// view's operator state to the spill store at the end of the step (the
// failed step's leftovers are not written out as state). Both operators
// whose state moves through a hook: a top-k and an outer join with an ON
// predicate. And a spilled top-k names the row in that error.
func TestFailedViewStateMoves(t *testing.T) {
	ops := map[string]func(g *dataflow.Graph, a, b *dataflow.Node) *dataflow.Node{
		"top-k": func(g *dataflow.Graph, a, _ *dataflow.Node) *dataflow.Node {
			return g.TopK(a, nil, []dataflow.SortKey{{Col: 1}}, 0, 2, "")
		},
		"outer join": func(g *dataflow.Graph, a, b *dataflow.Node) *dataflow.Node {
			return g.OuterJoin(a, b, []int{0}, []int{0}, vLTw, dataflow.LeftJoin, "")
		},
	}
	for name, op := range ops {
		build := func() *dataflow.Graph {
			g := dataflow.New()
			a, b := g.Input(tblA, schemaA), g.Input(tblB, schemaB)
			g.Output("v", op(g, a, b))
			g.Output("d", g.Distinct(b, "DISTINCT"))
			return g
		}
		var load dataflow.Batch
		for i := range 50 {
			load = append(load, U(1, i, i))
		}
		first := map[row.TableName]dataflow.Batch{tblA: load, tblB: B(U(1, 1, 1))}
		probe := build()
		if _, err := probe.Step(first); err != nil {
			t.Fatal(err)
		}
		used, _, _ := probe.OperatorMemory()
		g := build()
		if err := g.SetSpill(dataflow.NewMemSpill(), used+10); err != nil {
			t.Fatal(err)
		}
		if _, err := g.Step(first); err != nil {
			t.Fatal(err)
		}
		if _, _, spilled := g.OperatorMemory(); spilled != 0 {
			t.Fatalf("%s: %d arrangements spilled under the budget", name, spilled)
		}
		// The view fails; the other one grows past the budget, which moves
		// the failed view's state.
		_, err := g.Step(map[row.TableName]dataflow.Batch{tblA: B(U(-1, 999, 999)), tblB: B(U(1, 2, 2), U(1, 3, 3))})
		var se *dataflow.StepError
		if !errors.As(err, &se) {
			t.Fatalf("%s: want a view's StepError, got %T %v", name, err, err)
		}
		if _, _, spilled := g.OperatorMemory(); spilled == 0 {
			t.Fatalf("%s: nothing moved to the spill store", name)
		}
		res, err := g.Step(map[row.TableName]dataflow.Batch{tblB: B(U(1, 4, 4))})
		if err != nil || len(res["d"]) != 1 {
			t.Fatalf("%s: the other view after the move: %v %v", name, res["d"], err)
		}
	}

	g := dataflow.New()
	g.Output("top", g.TopK(g.Input(tblA, schemaA), nil, []dataflow.SortKey{{Col: 1}}, 0, 2, ""))
	if err := g.SetSpill(dataflow.NewMemSpill(), 0); err != nil {
		t.Fatal(err)
	}
	_, err := g.Step(map[row.TableName]dataflow.Batch{tblA: B(U(-1, 7, 8))})
	if err == nil || !strings.Contains(err.Error(), "negative multiplicity -1 for row [7 8]") {
		t.Errorf("a spilled top-k's negative row: %v", err)
	}
}
