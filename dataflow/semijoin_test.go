package dataflow_test

import (
	"fmt"
	"math/rand"
	"testing"
	"time"

	"github.com/rippledb/ripple/dataflow"
	"github.com/rippledb/ripple/internal/row"
)

func TestSemiJoin(t *testing.T) {
	g := dataflow.New()
	a, b := g.Input(tblA, schemaA), g.Input(tblB, schemaB)
	g.Output("semi", g.SemiJoin(a, b, []int{1}, []int{1}, dataflow.Semi, ""))
	g.Output("anti", g.SemiJoin(a, b, []int{1}, []int{1}, dataflow.Anti, ""))
	g.Output("notin", g.SemiJoin(a, b, []int{1}, []int{1}, dataflow.AntiNullAware, ""))
	names := g.Outputs()
	steps := []struct {
		in   map[row.TableName]dataflow.Batch
		want map[string]string
	}{
		{ // B empty: NOT IN keeps every row, NULL included.
			in:   map[row.TableName]dataflow.Batch{tblA: B(U(2, 1, 10), U(1, 2, nil), U(1, 3, 20))},
			want: map[string]string{"anti": "+2 (1,10); +1 (2,NULL); +1 (3,20)", "notin": "+2 (1,10); +1 (2,NULL); +1 (3,20)"},
		},
		{ // B gets 10: the 10s move to semi; NOT IN drops the NULL too.
			in:   map[row.TableName]dataflow.Batch{tblB: B(U(1, 7, 10))},
			want: map[string]string{"semi": "+2 (1,10)", "anti": "-2 (1,10)", "notin": "-2 (1,10); -1 (2,NULL)"},
		},
		{ // B gets a NULL: NOT IN is never true.
			in:   map[row.TableName]dataflow.Batch{tblB: B(U(1, 8, nil))},
			want: map[string]string{"notin": "-1 (3,20)"},
		},
		{ // Both in one step: the NULL goes, a 20 comes, a new A row.
			in: map[row.TableName]dataflow.Batch{tblB: B(U(-1, 8, nil), U(1, 9, 20)), tblA: B(U(1, 4, 30), U(-1, 1, 10))},
			want: map[string]string{"semi": "-1 (1,10); +1 (3,20)", "anti": "-1 (3,20); +1 (4,30)",
				"notin": "+1 (4,30)"},
		},
	}
	for i, s := range steps {
		res, err := g.Step(s.in)
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		got := fmtOutputs(res, names)
		for _, n := range names {
			if got[n] != s.want[n] {
				t.Errorf("step %d %s: got %q, want %q", i, n, got[n], s.want[n])
			}
		}
	}
}

func TestSemiJoinDifferential(t *testing.T) {
	steps := 1500
	if testing.Short() {
		steps = 300
	}
	for _, s := range []int64{1, time.Now().UnixNano()} {
		for _, sp := range spillModes {
			t.Run(fmt.Sprintf("seed=%d/%s", s, sp.name), func(t *testing.T) { runSemiDifferential(t, s, steps, sp) })
		}
	}
}

func runSemiDifferential(t *testing.T, seed int64, steps int, sp spillMode) {
	rng := rand.New(rand.NewSource(seed))
	g := dataflow.New()
	a, b := g.Input(tblA, schemaA), g.Input(tblB, schemaB)
	kinds := []dataflow.SemiKind{dataflow.Semi, dataflow.Anti, dataflow.AntiNullAware}
	for _, k := range kinds {
		g.Output("v "+k.String(), g.SemiJoin(a, b, []int{1}, []int{1}, k, ""))
		if k == dataflow.AntiNullAware {
			continue // NOT IN's rule is for one key column
		}
		g.Output("kv "+k.String(), g.SemiJoin(a, b, []int{0, 1}, []int{0, 1}, k, ""))
		g.Output("empty "+k.String(), g.SemiJoin(a, b, nil, nil, k, ""))
	}
	defer setSpill(t, g, sp)()
	tables := map[row.TableName]multiset{tblA: {}, tblB: {}}
	acc := map[string]multiset{}
	for _, n := range g.Outputs() {
		acc[n] = multiset{}
	}
	val := func(n int) any {
		if rng.Intn(6) == 0 {
			return nil
		}
		return rng.Intn(n)
	}
	mk := func() row.Row { return R(val(3), val(4)) }
	for step := range steps {
		in := map[row.TableName]dataflow.Batch{}
		switch rng.Intn(3) {
		case 0:
			in[tblA] = randomDelta(rng, tables[tblA], mk)
		case 1:
			in[tblB] = randomDelta(rng, tables[tblB], mk)
		default:
			in[tblA] = randomDelta(rng, tables[tblA], mk)
			in[tblB] = randomDelta(rng, tables[tblB], mk)
		}
		res, err := g.Step(in)
		if err != nil {
			t.Fatalf("seed %d step %d: %v", seed, step, err)
		}
		want := semiOracle(tables[tblA], tables[tblB], kinds)
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

// semiOracle evaluates the outputs of runSemiDifferential from scratch,
// with SQL's three-valued logic spelled out: EXISTS / NOT EXISTS over the
// equalities, and NOT IN as "every comparison is true".
func semiOracle(a, b multiset, kinds []dataflow.SemiKind) map[string]multiset {
	out := map[string]multiset{}
	as, bs := a.batch(), b.batch()
	for _, k := range kinds {
		for _, mode := range []string{"v", "kv", "empty"} {
			if k == dataflow.AntiNullAware && mode != "v" {
				continue
			}
			cols := map[string][]int{"v": {1}, "kv": {0, 1}, "empty": nil}[mode]
			res := multiset{}
			for _, x := range as {
				exists := false  // some y equals x on every column (all comparisons true)
				allFalse := true // for NOT IN: every y differs (x <> y true for all)
				for _, y := range bs {
					eq := true
					for _, c := range cols {
						xv, xok := ints(x.Row[c])
						yv, yok := ints(y.Row[c])
						eq = eq && xok && yok && xv == yv
						if !xok || !yok || xv == yv {
							allFalse = false
						}
					}
					if len(cols) == 0 {
						allFalse = false
					}
					exists = exists || eq
				}
				keep := exists
				switch k {
				case dataflow.Anti:
					keep = !exists
				case dataflow.AntiNullAware:
					keep = allFalse
				}
				if keep {
					res.add(x)
				}
			}
			out[mode+" "+k.String()] = res
		}
	}
	return out
}

// TestNotInDifferential checks correlated NOT IN (group = column k,
// operand = column v of A against w of B) against a from-scratch
// evaluation of a.v NOT IN (SELECT b.w FROM b WHERE b.k = a.k).
func TestNotInDifferential(t *testing.T) {
	steps := 1500
	if testing.Short() {
		steps = 300
	}
	for _, seed := range []int64{1, time.Now().UnixNano()} {
		for _, sp := range spillModes {
			t.Run(fmt.Sprintf("seed=%d/%s", seed, sp.name), func(t *testing.T) {
				rng := rand.New(rand.NewSource(seed))
				g := dataflow.New()
				a, b := g.Input(tblA, schemaA), g.Input(tblB, schemaB)
				g.Output("notin", g.NotIn(a, b, []int{0, 1}, []int{0, 1}, 1, ""))
				defer setSpill(t, g, sp)()
				tables := map[row.TableName]multiset{tblA: {}, tblB: {}}
				acc := multiset{}
				val := func(n int) any {
					if rng.Intn(6) == 0 {
						return nil
					}
					return rng.Intn(n)
				}
				mk := func() row.Row { return R(val(3), val(4)) }
				for step := range steps {
					in := map[row.TableName]dataflow.Batch{}
					switch rng.Intn(3) {
					case 0:
						in[tblA] = randomDelta(rng, tables[tblA], mk)
					case 1:
						in[tblB] = randomDelta(rng, tables[tblB], mk)
					default:
						in[tblA] = randomDelta(rng, tables[tblA], mk)
						in[tblB] = randomDelta(rng, tables[tblB], mk)
					}
					res, err := g.Step(in)
					if err != nil {
						t.Fatalf("seed %d step %d: %v", seed, step, err)
					}
					checkConsolidated(t, "notin", res["notin"])
					acc.addBatch(res["notin"])
					want := multiset{}
					for _, x := range tables[tblA].batch() {
						keep := true // every comparison with the group's rows is true
						for _, y := range tables[tblB].batch() {
							xk, xok := ints(x.Row[0])
							yk, yok := ints(y.Row[0])
							if !xok || !yok || xk != yk {
								continue // not in the correlated subquery's result
							}
							xv, xvok := ints(x.Row[1])
							yv, yvok := ints(y.Row[1])
							if !xvok || !yvok || xv == yv {
								keep = false
							}
						}
						if keep {
							want.add(x)
						}
					}
					if d := diffMismatch(acc, want); d != "" {
						t.Fatalf("seed %d step %d: differs from the oracle:%s\nlast input: A %s | B %s",
							seed, step, d, fmtBatch(in[tblA]), fmtBatch(in[tblB]))
					}
				}
			})
		}
	}
}
