package dataflow_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/rippledb/ripple/dataflow"
	"github.com/rippledb/ripple/internal/row"
)

func TestExplain(t *testing.T) {
	g := dataflow.New()
	a, b := g.Input(tblA, schemaA), g.Input(tblB, schemaB)
	f := g.Filter(a, colGT(1, 2), "v > 2")
	j := g.Join(f, b, []int{0}, []int{0}, "a.k = b.k")
	r := g.Reduce(j, []int{0}, []dataflow.Aggregate{countAgg{-1}, sumAgg{1}}, false,
		intSchema("k", "count", "sum"), "GROUP BY k")
	m := g.Map(f, kPlusV, intSchema("k", "kv"), "k, k+v")
	u := g.Union([]*dataflow.Node{r, m}, intSchema("x", "y", "z"), "UNION ALL")
	g.Output("v", u)
	g.Output("d", g.Distinct(a, "DISTINCT"))

	want := `v (x bigint, y bigint, z bigint)
└─ #6 Union UNION ALL
   ├─ #4 Reduce GROUP BY k
   │     state: per group: row count, aggregate state (count(*), sum($1)), last output row
   │  └─ #3 Join a.k = b.k
   │        state: both inputs arranged by join key
   │     ├─ #2 Filter v > 2
   │     │  └─ #0 Input public.a (k integer, v integer)
   │     └─ #1 Input public.b (k integer, w integer)
   └─ #5 Map k, k+v
      └─ #2 Filter (shared, see above)
`
	if got := g.Explain("v"); got != want {
		t.Errorf("Explain(v):\n%s\nwant:\n%s", got, want)
	}

	wantD := `d (k integer, v integer)
└─ #7 Distinct DISTINCT
      state: multiplicity of each distinct row
   └─ #0 Input public.a (k integer, v integer)
`
	if got := g.Explain("d"); got != wantD {
		t.Errorf("Explain(d):\n%s\nwant:\n%s", got, wantD)
	}
	if got := g.Explain("missing"); got != "" {
		t.Errorf("Explain(missing) = %q, want empty", got)
	}

	// Every node appears exactly once in full; the shared one once more by id.
	out := g.Explain("v")
	for _, n := range []*dataflow.Node{a, b, f, j, r, m, u} {
		if c := strings.Count(out, "#"+itoa(int(n.ID()))+" "+n.Kind()+" "+n.Label()); c != 1 {
			t.Errorf("node #%d %s printed %d times in full", n.ID(), n.Kind(), c)
		}
	}
}

func itoa(i int) string { return row.NewInt(int64(i)).String() }

func TestGraphAccessors(t *testing.T) {
	g := dataflow.New()
	a := g.Input(tblA, schemaA)
	if again := g.Input(tblA, schemaA); again != a {
		t.Errorf("Input twice returned a new node")
	}
	b := g.Input(tblB, schemaB)
	f := g.Filter(a, colGT(1, 0), "v > 0")
	j := g.Join(a, b, []int{0}, []int{0}, "k")
	g.Output("second", j)
	g.Output("first", f)
	g.Output("second", f) // re-registering keeps the position

	if got, want := g.Inputs(), []row.TableName{tblA, tblB}; !reflect.DeepEqual(got, want) {
		t.Errorf("Inputs() = %v, want %v", got, want)
	}
	if s, ok := g.InputSchema(tblB); !ok || !reflect.DeepEqual(s, schemaB) {
		t.Errorf("InputSchema(b) = %v, %v", s, ok)
	}
	if _, ok := g.InputSchema(row.TableName{Schema: "public", Name: "zzz"}); ok {
		t.Errorf("InputSchema of unknown table reported ok")
	}
	if got, want := g.Outputs(), []string{"second", "first"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Outputs() = %v, want %v", got, want)
	}
	if g.OutputNode("second") != f {
		t.Errorf("OutputNode(second) is not the re-registered node")
	}
	if g.OutputNode("none") != nil {
		t.Errorf("OutputNode(none) is not nil")
	}
	if got := j.Schema(); len(got) != 4 || got[2].Name != "k" || got[3].Name != "w" {
		t.Errorf("join schema = %v", got)
	}
	if ins := j.Inputs(); len(ins) != 2 || ins[0] != a || ins[1] != b {
		t.Errorf("join inputs = %v", ins)
	}
	for i, n := range []*dataflow.Node{a, b, f, j} {
		if int(n.ID()) != i {
			t.Errorf("node %s has id %d, want %d (creation order)", n.Kind(), n.ID(), i)
		}
	}
	if f.StateDesc() != "" || j.StateDesc() == "" {
		t.Errorf("StateDesc: filter %q, join %q", f.StateDesc(), j.StateDesc())
	}
}

func TestStepRejectsUnknownTable(t *testing.T) {
	g := dataflow.New()
	a := g.Input(tblA, schemaA)
	g.Output("count", g.Reduce(a, nil, []dataflow.Aggregate{countAgg{-1}}, true, intSchema("count"), ""))
	g.Output("a", a)

	unknown := row.TableName{Schema: "public", Name: "nope"}
	res, err := g.Step(map[row.TableName]dataflow.Batch{tblA: B(U(1, 1, 1)), unknown: B(U(1, 1, 1))})
	if err == nil {
		t.Fatalf("Step with unknown table succeeded: %v", res)
	}
	if !strings.Contains(err.Error(), "nope") {
		t.Errorf("error %q does not name the table", err)
	}
	// Even an empty batch for an unknown table is rejected.
	if _, err := g.Step(map[row.TableName]dataflow.Batch{unknown: nil}); err == nil {
		t.Errorf("Step with unknown table and empty batch succeeded")
	}

	// The rejection touches no state: the next Step is still the first one.
	res, err = g.Step(nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := fmtBatch(res["count"]); got != "+1 (0)" {
		t.Errorf("first step after rejection: count = %q, want +1 (0)", got)
	}
	res, err = g.Step(map[row.TableName]dataflow.Batch{tblA: B(U(1, 1, 1))})
	if err != nil {
		t.Fatal(err)
	}
	got := fmtOutputs(res, g.Outputs())
	want := map[string]string{"count": "-1 (0); +1 (1)", "a": "+1 (1,1)"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("after rejection: %v, want %v", got, want)
	}
}

func TestStepOmitsUnchangedOutputs(t *testing.T) {
	g := dataflow.New()
	a, b := g.Input(tblA, schemaA), g.Input(tblB, schemaB)
	g.Output("a", a)
	g.Output("b", b)
	g.Output("same", g.Map(a, project(0), intSchema("k"), "k"))

	res, err := g.Step(map[row.TableName]dataflow.Batch{tblA: B(U(1, 1, 1)), tblB: nil})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := fmtOutputs(res, g.Outputs()), map[string]string{"a": "+1 (1,1)", "same": "+1 (1)"}; !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	// An update that nets to nothing at an output omits that output.
	res, err = g.Step(map[row.TableName]dataflow.Batch{tblA: B(U(-1, 1, 1), U(1, 1, 2))})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := fmtOutputs(res, g.Outputs()), map[string]string{"a": "-1 (1,1); +1 (1,2)"}; !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	res, err = g.Step(map[row.TableName]dataflow.Batch{tblA: B(U(1, 5, 5), U(-1, 5, 5))})
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 0 {
		t.Errorf("net-zero step produced %v", fmtOutputs(res, g.Outputs()))
	}
}

func TestStepDoesNotModifyItsInput(t *testing.T) {
	g := dataflow.New()
	a := g.Input(tblA, schemaA)
	g.Output("a", a)
	g.Output("d", g.Distinct(a, ""))
	in := B(U(1, 1, 1), U(1, 1, 1), U(-1, 1, 1), U(0, 2, 2))
	keep := append(dataflow.Batch(nil), in...)
	res, err := g.Step(map[row.TableName]dataflow.Batch{tblA: in})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(in, keep) {
		t.Errorf("Step modified its input batch: %v", in)
	}
	if got := fmtBatch(res["a"]); got != "+1 (1,1)" {
		t.Errorf("a = %q", got)
	}
	// Mutating the result must not affect the graph either.
	res["a"][0].W = 99
	res, err = g.Step(map[row.TableName]dataflow.Batch{tblA: B(U(-1, 1, 1))})
	if err != nil {
		t.Fatal(err)
	}
	if got := fmtOutputs(res, g.Outputs()); got["a"] != "-1 (1,1)" || got["d"] != "-1 (1,1)" {
		t.Errorf("got %v", got)
	}
}

func TestStepOperatorError(t *testing.T) {
	boom := errors.New("boom")
	g := dataflow.New()
	a := g.Input(tblA, schemaA)
	g.Output("f", g.Filter(a, func(r row.Row) (bool, error) {
		if r[1].IsNull() {
			return false, boom
		}
		return true, nil
	}, "v checked"))
	_, err := g.Step(map[row.TableName]dataflow.Batch{tblA: B(U(1, 1, nil))})
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want wrapping boom", err)
	}
	if !strings.Contains(err.Error(), "v checked") {
		t.Errorf("error %q does not name the operator", err)
	}

	g = dataflow.New()
	a = g.Input(tblA, schemaA)
	g.Output("m", g.Map(a, func(row.Row) (row.Row, error) { return nil, boom }, intSchema("x"), "x"))
	if _, err := g.Step(map[row.TableName]dataflow.Batch{tblA: B(U(1, 1, 1))}); !errors.Is(err, boom) {
		t.Errorf("map: err = %v, want wrapping boom", err)
	}
}

// Deleting rows that are not there is an invalid delta: every stateful
// operator reports it rather than keeping a negative multiplicity.
func TestStepRejectsNegativeMultiplicity(t *testing.T) {
	builds := map[string]func(g *dataflow.Graph, a, b *dataflow.Node) *dataflow.Node{
		"join left": func(g *dataflow.Graph, a, b *dataflow.Node) *dataflow.Node {
			return g.Join(a, b, []int{0}, []int{0}, "")
		},
		"join right": func(g *dataflow.Graph, a, b *dataflow.Node) *dataflow.Node {
			return g.Join(b, a, []int{0}, []int{0}, "")
		},
		"distinct": func(g *dataflow.Graph, a, _ *dataflow.Node) *dataflow.Node { return g.Distinct(a, "") },
		"reduce": func(g *dataflow.Graph, a, _ *dataflow.Node) *dataflow.Node {
			return g.Reduce(a, []int{0}, []dataflow.Aggregate{countAgg{-1}}, false, intSchema("k", "n"), "")
		},
	}
	deltas := map[string]dataflow.Batch{
		"delete absent row":           B(U(-1, 1, 1)),
		"delete twice":                B(U(1, 1, 1), U(-2, 1, 1)),
		"net negative, insert first":  B(U(1, 1, 1), U(-1, 1, 1), U(-1, 1, 1)),
		"net negative, retract first": B(U(-1, 1, 1), U(-1, 1, 1), U(1, 1, 1)),
	}
	for bn, build := range builds {
		for dn, delta := range deltas {
			for _, spilled := range []bool{false, true} {
				name := bn + "/" + dn
				if spilled {
					name += "/spilled"
				}
				t.Run(name, func(t *testing.T) {
					g := dataflow.New()
					a, b := g.Input(tblA, schemaA), g.Input(tblB, schemaB)
					g.Output("out", build(g, a, b))
					if spilled {
						if err := g.SetSpill(dataflow.NewMemSpill(), 0); err != nil {
							t.Fatal(err)
						}
					}
					if _, err := g.Step(map[row.TableName]dataflow.Batch{tblB: B(U(1, 1, 1))}); err != nil {
						t.Fatal(err)
					}
					if _, err := g.Step(map[row.TableName]dataflow.Batch{tblA: delta}); err == nil {
						t.Errorf("negative multiplicity accepted")
					} else if !strings.Contains(err.Error(), "negative") {
						t.Errorf("error %q does not say negative", err)
					}
				})
			}
		}
	}
}
