package dataflow_test

import (
	"testing"

	"github.com/rippledb/ripple/dataflow"
	"github.com/rippledb/ripple/internal/row"
)

// opStep is one Step of an operator test: the changes of A and B (nil:
// table left out of the step) and the expected change of output "out",
// rendered by fmtBatch ("" for no change).
type opStep struct {
	a, b dataflow.Batch
	want string
}

type opCase struct {
	name  string
	build func(g *dataflow.Graph, a, b *dataflow.Node) *dataflow.Node
	steps []opStep
}

// runOpCases builds each case's graph over inputs A and B, steps it and
// compares every step's output change; it also accumulates the output and
// checks it never holds a negative multiplicity.
func runOpCases(t *testing.T, cases []opCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := dataflow.New()
			a, b := g.Input(tblA, schemaA), g.Input(tblB, schemaB)
			g.Output("out", tc.build(g, a, b))
			acc := multiset{}
			for i, s := range tc.steps {
				in := map[row.TableName]dataflow.Batch{}
				if s.a != nil {
					in[tblA] = s.a
				}
				if s.b != nil {
					in[tblB] = s.b
				}
				res, err := g.Step(in)
				if err != nil {
					t.Fatalf("step %d: %v", i, err)
				}
				for name := range res {
					if name != "out" {
						t.Errorf("step %d: unexpected output %q", i, name)
					}
				}
				if got := fmtBatch(res["out"]); got != s.want {
					t.Errorf("step %d:\n got: %s\nwant: %s", i, got, s.want)
				}
				checkConsolidated(t, "out", res["out"])
				acc.addBatch(res["out"])
				if neg := acc.negatives(); len(neg) > 0 {
					t.Errorf("step %d: accumulated output has negative multiplicities: %v", i, neg)
				}
			}
		})
	}
}

func TestFilter(t *testing.T) {
	vGT2 := func(g *dataflow.Graph, a, _ *dataflow.Node) *dataflow.Node {
		return g.Filter(a, colGT(1, 2), "v > 2")
	}
	runOpCases(t, []opCase{
		{name: "keeps matching rows, NULL drops", build: vGT2, steps: []opStep{
			{a: B(U(1, 1, 3), U(1, 2, 2), U(1, 3, nil), U(1, 4, 9)), want: "+1 (1,3); +1 (4,9)"},
		}},
		{name: "deletes propagate", build: vGT2, steps: []opStep{
			{a: B(U(2, 1, 5), U(1, 2, 1)), want: "+2 (1,5)"},
			{a: B(U(-1, 1, 5), U(-1, 2, 1)), want: "-1 (1,5)"},
			{a: B(U(-1, 1, 5)), want: "-1 (1,5)"},
		}},
		{name: "duplicates in a batch are consolidated", build: vGT2, steps: []opStep{
			{a: B(U(1, 1, 5), U(1, 1, 5), U(1, 2, 6), U(-1, 2, 6)), want: "+2 (1,5)"},
		}},
		{name: "unrelated input gives no change", build: vGT2, steps: []opStep{
			{a: B(U(1, 1, 5)), want: "+1 (1,5)"},
			{b: B(U(1, 1, 5)), want: ""},
			{want: ""},
		}},
		{name: "update across the predicate", build: vGT2, steps: []opStep{
			{a: B(U(1, 1, 1)), want: ""},
			{a: B(U(-1, 1, 1), U(1, 1, 3)), want: "+1 (1,3)"},
			{a: B(U(-1, 1, 3), U(1, 1, nil)), want: "-1 (1,3)"},
		}},
	})
}

func TestMap(t *testing.T) {
	projK := func(g *dataflow.Graph, a, _ *dataflow.Node) *dataflow.Node {
		return g.Map(a, project(0), intSchema("k"), "k")
	}
	sum := func(g *dataflow.Graph, a, _ *dataflow.Node) *dataflow.Node {
		return g.Map(a, kPlusV, intSchema("k", "kv"), "k, k+v")
	}
	runOpCases(t, []opCase{
		{name: "projection merges rows", build: projK, steps: []opStep{
			{a: B(U(1, 1, 2), U(1, 1, 3), U(1, 2, nil)), want: "+2 (1); +1 (2)"},
			{a: B(U(-1, 1, 2)), want: "-1 (1)"},
		}},
		{name: "update that maps to the same row is no change", build: projK, steps: []opStep{
			{a: B(U(1, 1, 2)), want: "+1 (1)"},
			{a: B(U(-1, 1, 2), U(1, 1, 3)), want: ""},
		}},
		{name: "computed column", build: sum, steps: []opStep{
			{a: B(U(1, 1, 2), U(1, 5, nil)), want: "+1 (1,3); +1 (5,NULL)"},
			{a: B(U(-1, 1, 2), U(1, 1, 3)), want: "-1 (1,3); +1 (1,4)"},
			{a: B(U(-1, 5, nil), U(2, 2, 1)), want: "+2 (2,3); -1 (5,NULL)"},
		}},
	})
}

func TestUnion(t *testing.T) {
	twoFilters := func(g *dataflow.Graph, a, _ *dataflow.Node) *dataflow.Node {
		even := g.Filter(a, colEven(0), "k % 2 = 0")
		null := g.Filter(a, colIsNull(1), "v IS NULL")
		return g.Union([]*dataflow.Node{even, null}, nil, "UNION ALL")
	}
	aAndB := func(g *dataflow.Graph, a, b *dataflow.Node) *dataflow.Node {
		return g.Union([]*dataflow.Node{a, b}, intSchema("k", "x"), "UNION ALL")
	}
	selfUnion := func(g *dataflow.Graph, a, _ *dataflow.Node) *dataflow.Node {
		return g.Union([]*dataflow.Node{a, a, a}, nil, "UNION ALL")
	}
	runOpCases(t, []opCase{
		{name: "row in both branches counts twice", build: twoFilters, steps: []opStep{
			{a: B(U(1, 2, nil), U(1, 2, 1), U(1, 1, nil), U(1, 1, 1)), want: "+1 (1,NULL); +1 (2,1); +2 (2,NULL)"},
			{a: B(U(-1, 2, nil)), want: "-2 (2,NULL)"},
		}},
		{name: "inputs from two tables", build: aAndB, steps: []opStep{
			{a: B(U(1, 1, 1)), b: B(U(1, 1, 1), U(1, 3, 3)), want: "+2 (1,1); +1 (3,3)"},
			{b: B(U(-1, 3, 3)), want: "-1 (3,3)"},
		}},
		{name: "retraction on one side, insert on the other", build: aAndB, steps: []opStep{
			{a: B(U(1, 1, 1)), want: "+1 (1,1)"},
			{a: B(U(-1, 1, 1)), b: B(U(1, 1, 1)), want: ""},
			{b: B(U(-1, 1, 1)), want: "-1 (1,1)"},
		}},
		{name: "same input three times", build: selfUnion, steps: []opStep{
			{a: B(U(1, 1, 1)), want: "+3 (1,1)"},
			{a: B(U(-1, 1, 1)), want: "-3 (1,1)"},
		}},
	})
}

func TestDistinct(t *testing.T) {
	distinctV := func(g *dataflow.Graph, a, _ *dataflow.Node) *dataflow.Node {
		return g.Distinct(g.Map(a, project(1), intSchema("v"), "v"), "DISTINCT")
	}
	distinctA := func(g *dataflow.Graph, a, _ *dataflow.Node) *dataflow.Node {
		return g.Distinct(a, "DISTINCT")
	}
	runOpCases(t, []opCase{
		{name: "multiplicity 1→2→1→0", build: distinctV, steps: []opStep{
			{a: B(U(1, 1, 5)), want: "+1 (5)"},
			{a: B(U(1, 2, 5)), want: ""},
			{a: B(U(-1, 1, 5)), want: ""},
			{a: B(U(-1, 2, 5)), want: "-1 (5)"},
		}},
		{name: "weighted update 2→1→0", build: distinctA, steps: []opStep{
			{a: B(U(2, 1, 5)), want: "+1 (1,5)"},
			{a: B(U(-1, 1, 5)), want: ""},
			{a: B(U(-1, 1, 5)), want: "-1 (1,5)"},
			{a: B(U(1, 1, 5)), want: "+1 (1,5)"},
		}},
		{name: "NULL is one value", build: distinctV, steps: []opStep{
			{a: B(U(1, 1, nil), U(1, 2, nil), U(1, 3, 1)), want: "+1 (1); +1 (NULL)"},
			{a: B(U(-1, 1, nil)), want: ""},
			{a: B(U(-1, 2, nil)), want: "-1 (NULL)"},
		}},
		{name: "appears and disappears in one step", build: distinctA, steps: []opStep{
			{a: B(U(1, 1, 7), U(-1, 1, 7)), want: ""},
			{a: B(U(1, 1, 7)), want: "+1 (1,7)"},
		}},
		{name: "last copy replaced in one step", build: distinctV, steps: []opStep{
			{a: B(U(1, 1, 5)), want: "+1 (5)"},
			{a: B(U(-1, 1, 5), U(1, 3, 5)), want: ""},
			{a: B(U(-1, 3, 5), U(1, 3, 6)), want: "-1 (5); +1 (6)"},
		}},
	})
}

func TestJoin(t *testing.T) {
	onK := func(g *dataflow.Graph, a, b *dataflow.Node) *dataflow.Node {
		return g.Join(a, b, []int{0}, []int{0}, "a.k = b.k")
	}
	onVW := func(g *dataflow.Graph, a, b *dataflow.Node) *dataflow.Node {
		return g.Join(a, b, []int{1}, []int{1}, "a.v = b.w")
	}
	onKV := func(g *dataflow.Graph, a, b *dataflow.Node) *dataflow.Node {
		return g.Join(a, b, []int{0, 1}, []int{0, 1}, "a.k = b.k AND a.v = b.w")
	}
	self := func(g *dataflow.Graph, a, _ *dataflow.Node) *dataflow.Node {
		return g.Join(a, a, []int{0}, []int{0}, "a1.k = a2.k")
	}
	runOpCases(t, []opCase{
		{name: "both sides in the first step", build: onK, steps: []opStep{
			{a: B(U(1, 1, 10), U(1, 2, 20)), b: B(U(1, 1, 100), U(1, 3, 300)), want: "+1 (1,10,1,100)"},
			{b: B(U(1, 2, 200)), want: "+1 (2,20,2,200)"},
			{a: B(U(1, 3, 30)), want: "+1 (3,30,3,300)"},
		}},
		{name: "NULL keys never match", build: onVW, steps: []opStep{
			{a: B(U(1, 1, nil)), b: B(U(1, 2, nil)), want: ""},
			{a: B(U(1, 3, nil)), want: ""},
			{b: B(U(1, 4, nil)), want: ""},
			{a: B(U(1, 1, 5)), b: B(U(1, 2, 5)), want: "+1 (1,5,2,5)"},
			{a: B(U(-1, 1, nil)), b: B(U(-1, 2, nil)), want: ""},
		}},
		{name: "NULL in one column of a composite key", build: onKV, steps: []opStep{
			{a: B(U(1, 1, nil), U(1, 1, 2)), b: B(U(1, 1, nil), U(1, 1, 2)), want: "+1 (1,2,1,2)"},
			{a: B(U(1, nil, 2)), b: B(U(1, nil, 2)), want: ""},
		}},
		{name: "NULL key in the key column itself", build: onK, steps: []opStep{
			{a: B(U(1, nil, 1)), b: B(U(1, nil, 2)), want: ""},
			{a: B(U(-1, nil, 1)), b: B(U(-1, nil, 2)), want: ""},
		}},
		{name: "both sides updated in one step", build: onK, steps: []opStep{
			{a: B(U(1, 1, 10)), b: B(U(1, 1, 100)), want: "+1 (1,10,1,100)"},
			{a: B(U(-1, 1, 10), U(1, 1, 11)), b: B(U(-1, 1, 100), U(1, 1, 101)), want: "-1 (1,10,1,100); +1 (1,11,1,101)"},
		}},
		{name: "insert one side, delete the other in one step", build: onK, steps: []opStep{
			{a: B(U(1, 1, 10)), b: B(U(1, 1, 100)), want: "+1 (1,10,1,100)"},
			{a: B(U(1, 1, 11)), b: B(U(-1, 1, 100)), want: "-1 (1,10,1,100)"},
			{b: B(U(1, 1, 100)), want: "+1 (1,10,1,100); +1 (1,11,1,100)"},
		}},
		{name: "delete both sides in one step", build: onK, steps: []opStep{
			{a: B(U(1, 1, 10)), b: B(U(1, 1, 100)), want: "+1 (1,10,1,100)"},
			{a: B(U(-1, 1, 10)), b: B(U(-1, 1, 100)), want: "-1 (1,10,1,100)"},
		}},
		{name: "multiplicities multiply", build: onK, steps: []opStep{
			{a: B(U(2, 1, 10)), b: B(U(3, 1, 100)), want: "+6 (1,10,1,100)"},
			{a: B(U(-1, 1, 10)), want: "-3 (1,10,1,100)"},
			{b: B(U(-2, 1, 100)), want: "-2 (1,10,1,100)"},
		}},
		{name: "self join", build: self, steps: []opStep{
			{a: B(U(1, 1, 1)), want: "+1 (1,1,1,1)"},
			{a: B(U(1, 1, 2)), want: "+1 (1,1,1,2); +1 (1,2,1,1); +1 (1,2,1,2)"},
			{a: B(U(-1, 1, 1)), want: "-1 (1,1,1,1); -1 (1,1,1,2); -1 (1,2,1,1)"},
		}},
		{name: "row inserted and deleted in one step", build: onK, steps: []opStep{
			{a: B(U(1, 1, 10), U(-1, 1, 10)), b: B(U(1, 1, 100)), want: ""},
			{a: B(U(1, 1, 10)), want: "+1 (1,10,1,100)"},
		}},
		{name: "unordered delta: retraction before its insertion", build: onK, steps: []opStep{
			// A Z-set delta is a multiset: the order of its updates must
			// not matter as long as the net multiplicity stays >= 0.
			{a: B(U(-1, 1, 10), U(1, 1, 10)), b: B(U(-1, 1, 100), U(1, 1, 100)), want: ""},
			{a: B(U(1, 1, 10)), b: B(U(1, 1, 100)), want: "+1 (1,10,1,100)"},
			{a: B(U(-1, 1, 11), U(1, 1, 11)), b: B(U(-1, 1, 101), U(1, 1, 101)), want: ""},
		}},
	})
}

func TestReduce(t *testing.T) {
	byK := func(g *dataflow.Graph, a, _ *dataflow.Node) *dataflow.Node {
		return g.Reduce(a, []int{0}, []dataflow.Aggregate{countAgg{-1}, sumAgg{1}}, false,
			intSchema("k", "count", "sum"), "GROUP BY k")
	}
	byKNonNull := func(g *dataflow.Graph, a, _ *dataflow.Node) *dataflow.Node {
		return g.Reduce(a, []int{0}, []dataflow.Aggregate{countAgg{1}, sumAgg{1}}, false,
			intSchema("k", "count_v", "sum"), "GROUP BY k")
	}
	global := func(g *dataflow.Graph, a, _ *dataflow.Node) *dataflow.Node {
		return g.Reduce(a, nil, []dataflow.Aggregate{countAgg{-1}, sumAgg{1}}, true,
			intSchema("count", "sum"), "")
	}
	runOpCases(t, []opCase{
		{name: "group appears, changes, disappears", build: byK, steps: []opStep{
			{want: ""},
			{a: B(U(1, 1, 5)), want: "+1 (1,1,5)"},
			{a: B(U(1, 1, 7), U(1, 2, 1)), want: "-1 (1,1,5); +1 (1,2,12); +1 (2,1,1)"},
			{a: B(U(1, 1, nil)), want: "-1 (1,2,12); +1 (1,3,12)"},
			{a: B(U(-1, 1, 5), U(-1, 1, 7)), want: "+1 (1,1,NULL); -1 (1,3,12)"},
			{a: B(U(-1, 1, nil)), want: "-1 (1,1,NULL)"},
			{a: B(U(1, 1, 3)), want: "+1 (1,1,3)"},
		}},
		{name: "unchanged result emits nothing", build: byKNonNull, steps: []opStep{
			{a: B(U(1, 1, 5)), want: "+1 (1,1,5)"},
			{a: B(U(1, 1, nil)), want: ""},
			{a: B(U(-1, 1, 5)), want: "+1 (1,0,NULL); -1 (1,1,5)"},
			{a: B(U(-1, 1, nil)), want: "-1 (1,0,NULL)"},
		}},
		{name: "NULL group key is one group", build: byK, steps: []opStep{
			{a: B(U(1, nil, 1), U(1, nil, 2)), want: "+1 (NULL,2,3)"},
			{a: B(U(-1, nil, 1)), want: "+1 (NULL,1,2); -1 (NULL,2,3)"},
		}},
		{name: "group appears and disappears in one step", build: byK, steps: []opStep{
			{a: B(U(1, 1, 5), U(-1, 1, 5)), want: ""},
			{a: B(U(1, 1, 5)), want: "+1 (1,1,5)"},
			{a: B(U(-1, 1, 5), U(1, 1, 5)), want: ""},
		}},
		{name: "weights", build: byK, steps: []opStep{
			{a: B(U(3, 1, 2)), want: "+1 (1,3,6)"},
			{a: B(U(-2, 1, 2)), want: "+1 (1,1,2); -1 (1,3,6)"},
		}},
		{name: "global: row over empty input on the first step", build: global, steps: []opStep{
			{want: "+1 (0,NULL)"},
			{want: ""},
			{b: B(U(1, 1, 1)), want: ""},
			{a: B(U(1, 1, 5)), want: "-1 (0,NULL); +1 (1,5)"},
			{a: B(U(1, 2, nil)), want: "-1 (1,5); +1 (2,5)"},
			{a: B(U(-1, 1, 5), U(-1, 2, nil)), want: "+1 (0,NULL); -1 (2,5)"},
			{a: B(U(1, 3, 3), U(-1, 3, 3)), want: ""},
		}},
		{name: "global: first step with input", build: global, steps: []opStep{
			{a: B(U(1, 1, 5)), want: "+1 (1,5)"},
			{a: B(U(-1, 1, 5)), want: "+1 (0,NULL); -1 (1,5)"},
		}},
		{name: "global: first step touching only another table", build: global, steps: []opStep{
			{b: B(U(1, 1, 1)), want: "+1 (0,NULL)"},
		}},
	})
}

// TestDistinctSQLEquality: DISTINCT treats values equal under SQL equality
// as one (numeric 1.0 and 1.00), emits the first one seen, and keeps the
// value while any equal copy remains — in memory and with its state in a
// spill store.
func TestDistinctSQLEquality(t *testing.T) {
	tbl := row.TableName{Schema: "public", Name: "n"}
	sch := row.Schema{{Name: "v", Type: row.Type{OID: row.OIDNumeric}}}
	num := func(w row.Weight, s string) row.Update { return row.Update{Row: row.Row{row.NewNumeric(s)}, W: w} }
	for _, onDisk := range []bool{false, true} {
		g := dataflow.New()
		g.Output("d", g.Distinct(g.Input(tbl, sch), "DISTINCT"))
		if onDisk {
			if err := g.SetSpill(dataflow.NewMemSpill(), 0); err != nil {
				t.Fatal(err)
			}
		}
		steps := []struct {
			in   dataflow.Batch
			want string
		}{
			{dataflow.Batch{num(1, "1.0"), num(1, "1.00"), num(1, "2")}, "+1 (1.0); +1 (2)"},
			{dataflow.Batch{num(-1, "1.0")}, ""},  // 1.00 is still there
			{dataflow.Batch{num(1, "1.000")}, ""}, // equal to what is there
			{dataflow.Batch{num(-1, "1.00"), num(-1, "1.000")}, "-1 (1.0)"},
			{dataflow.Batch{num(1, "1.00")}, "+1 (1.00)"},
			// Its last copy replaced by an equal one in one step: the
			// row emitted stays the representative.
			{dataflow.Batch{num(-1, "1.00"), num(1, "1.000")}, ""},
			{dataflow.Batch{num(-1, "1.000")}, "-1 (1.00)"},
		}
		for i, s := range steps {
			out, err := g.Step(map[row.TableName]dataflow.Batch{tbl: s.in})
			if err != nil {
				t.Fatalf("on disk %v, step %d: %v", onDisk, i, err)
			}
			if got := fmtBatch(out["d"]); got != s.want {
				t.Errorf("on disk %v, step %d: got %s, want %s", onDisk, i, got, s.want)
			}
		}
	}
}

// TestReduceEvictedGroupKeepsItsRow: with its groups (or its rows) on disk
// and a one-group cache, a group evicted and touched again retracts
// exactly the row it emitted — the key as first seen (numeric 1.0), not
// the SQL-equal key of the row that touches it (1.00). Both kinds of
// Reduce: one whose aggregate state is written out, one that rebuilds it
// from its rows.
func TestReduceEvictedGroupKeepsItsRow(t *testing.T) {
	old := dataflow.ReduceCacheGroups
	dataflow.ReduceCacheGroups = 1
	defer func() { dataflow.ReduceCacheGroups = old }()
	tbl := row.TableName{Schema: "public", Name: "n"}
	sch := row.Schema{{Name: "g", Type: row.Type{OID: row.OIDNumeric}}}
	num := func(w row.Weight, s string) row.Update { return row.Update{Row: row.Row{row.NewNumeric(s)}, W: w} }
	for _, agg := range []dataflow.Aggregate{countAgg{-1}, rowsAgg{countAgg{-1}}} {
		g := dataflow.New()
		g.Output("r", g.Reduce(g.Input(tbl, sch), []int{0}, []dataflow.Aggregate{agg}, false,
			row.Schema{sch[0], {Name: "count", Type: row.Int8}}, "GROUP BY g"))
		if err := g.SetSpill(dataflow.NewMemSpill(), 0); err != nil {
			t.Fatal(err)
		}
		steps := []struct {
			in   dataflow.Batch
			want string
		}{
			{dataflow.Batch{num(1, "1.0"), num(1, "2"), num(1, "3")}, "+1 (1.0,1); +1 (2,1); +1 (3,1)"},
			{dataflow.Batch{num(1, "2")}, "-1 (2,1); +1 (2,2)"}, // evicts the others
			{dataflow.Batch{num(1, "1.00")}, "-1 (1.0,1); +1 (1.0,2)"},
			{dataflow.Batch{num(1, "3"), num(1, "2")}, "-1 (2,2); +1 (2,3); -1 (3,1); +1 (3,2)"},
			{dataflow.Batch{num(-1, "1.0"), num(-1, "1.00")}, "-1 (1.0,2)"},
		}
		for i, s := range steps {
			out, err := g.Step(map[row.TableName]dataflow.Batch{tbl: s.in})
			if err != nil {
				t.Fatalf("%T, step %d: %v", agg, i, err)
			}
			if got := fmtBatch(out["r"]); got != s.want {
				t.Errorf("%T, step %d: got %s, want %s", agg, i, got, s.want)
			}
		}
		if _, _, evicted := dataflow.ReduceCache(g); evicted == 0 {
			t.Errorf("%T: no group was evicted", agg)
		}
	}
}

// TestReduceEncodableStateKeepsNoRows: with a spill store, a Reduce whose
// aggregate states can be written out holds memory per group, not per
// input row; one over states that cannot keeps every input row.
func TestReduceEncodableStateKeepsNoRows(t *testing.T) {
	var sizes []int64
	for _, aggs := range [][]dataflow.Aggregate{{countAgg{-1}, sumAgg{1}}, {rowsAgg{countAgg{-1}}, rowsAgg{sumAgg{1}}}} {
		g := dataflow.New()
		g.Output("r", g.Reduce(g.Input(tblA, schemaA), []int{0}, aggs, false, intSchema("k", "count", "sum"), "GROUP BY k"))
		if err := g.SetSpill(dataflow.NewMemSpill(), 1<<40); err != nil {
			t.Fatal(err)
		}
		var in dataflow.Batch
		for i := range 5000 {
			in = append(in, row.Update{Row: R(i%5, i), W: 1})
		}
		if _, err := g.Step(map[row.TableName]dataflow.Batch{tblA: in}); err != nil {
			t.Fatal(err)
		}
		bytes, _, spilled := g.OperatorMemory()
		if spilled != 0 {
			t.Fatalf("%T: %d arrangements spilled under a huge budget", aggs[0], spilled)
		}
		sizes = append(sizes, bytes)
	}
	if sizes[0] <= 0 || sizes[0] > 5*1024 {
		t.Errorf("5 groups with encodable states: %d bytes of operator memory, want a few hundred per group", sizes[0])
	}
	if sizes[1] < 5000*40 {
		t.Errorf("5000 input rows kept for states that cannot be written out: only %d bytes", sizes[1])
	}
}

// TestReduceWritesGroupsOutWhenMoved: the step whose groups outgrow the
// operator memory writes them out itself, down to the cache, instead of
// leaving them all in memory for the next step to write out (a stall of
// seconds in the first change after a large initial load). The next
// step then touches only its own groups, and the output stays right.
func TestReduceWritesGroupsOutWhenMoved(t *testing.T) {
	old := dataflow.ReduceCacheGroups
	dataflow.ReduceCacheGroups = 64
	defer func() { dataflow.ReduceCacheGroups = old }()
	// Both kinds of Reduce: one whose groups are written out, one whose
	// input rows are (its groups rebuilt from them).
	for _, aggs := range [][]dataflow.Aggregate{{countAgg{-1}, sumAgg{1}}, {rowsAgg{countAgg{-1}}, rowsAgg{sumAgg{1}}}} {
		g := dataflow.New()
		g.Output("r", g.Reduce(g.Input(tblA, schemaA), []int{0}, aggs, false, intSchema("k", "count", "sum"), "GROUP BY k"))
		if err := g.SetSpill(dataflow.NewMemSpill(), 64<<10); err != nil {
			t.Fatal(err)
		}
		var in dataflow.Batch
		for i := range 5000 {
			in = append(in, row.Update{Row: R(i%1000, i), W: 1})
		}
		if _, err := g.Step(map[row.TableName]dataflow.Batch{tblA: in}); err != nil {
			t.Fatal(err)
		}
		if _, _, spilled := g.OperatorMemory(); spilled == 0 {
			t.Fatalf("%T: 1000 groups under a 64kB budget: nothing spilled", aggs[0])
		}
		_, most, evicted := dataflow.ReduceCache(g)
		if most > dataflow.ReduceCacheGroups || evicted < 1000-dataflow.ReduceCacheGroups {
			t.Fatalf("%T: right after the step that moved its state to the store a Reduce holds %d groups (evicted %d), want at most %d",
				aggs[0], most, evicted, dataflow.ReduceCacheGroups)
		}
		out, err := g.Step(map[row.TableName]dataflow.Batch{tblA: {{Row: R(7, 5), W: 1}, {Row: R(999, 999), W: -1}}})
		if err != nil {
			t.Fatal(err)
		}
		// Group 7 held 7, 1007, ..., 4007; group 999 held 999, ..., 4999.
		if got, want := fmtBatch(out["r"]), "-1 (7,5,10035); +1 (7,6,10040); +1 (999,4,13996); -1 (999,5,14995)"; got != want {
			t.Errorf("%T, after the move: got %s, want %s", aggs[0], got, want)
		}
	}
}
