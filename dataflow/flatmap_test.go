package dataflow_test

import (
	"errors"
	"testing"

	"github.com/rippledb/ripple/dataflow"
	"github.com/rippledb/ripple/internal/row"
)

// series expands (k, v) into (k, v, i) for i in 1..v; v = 0 is an error,
// NULL or a negative v expands to nothing.
func series(r row.Row) ([]row.Row, error) {
	if r[1].IsNull() {
		return nil, nil
	}
	if r[1].Int() == 0 {
		return nil, errors.New("step size cannot equal zero")
	}
	var out []row.Row
	for i := int64(1); i <= r[1].Int(); i++ {
		out = append(out, row.Row{r[0], r[1], row.NewInt(i)})
	}
	return out, nil
}

func TestFlatMap(t *testing.T) {
	build := func(g *dataflow.Graph, a, _ *dataflow.Node) *dataflow.Node {
		return g.FlatMap(a, series, intSchema("k", "v", "i"), "generate_series(1, v)")
	}
	runOpCases(t, []opCase{
		{name: "each row expands, NULL and negative give none", build: build, steps: []opStep{
			{a: B(U(1, 1, 2), U(1, 2, nil), U(1, 3, -1)), want: "+1 (1,2,1); +1 (1,2,2)"},
		}},
		{name: "weights and retractions carry over", build: build, steps: []opStep{
			{a: B(U(2, 1, 2)), want: "+2 (1,2,1); +2 (1,2,2)"},
			{a: B(U(-1, 1, 2), U(1, 1, 1)), want: "+1 (1,1,1); -1 (1,2,1); -1 (1,2,2)"},
			{a: B(U(-1, 1, 2), U(-1, 1, 1)), want: "-1 (1,1,1); -1 (1,2,1); -1 (1,2,2)"},
		}},
		{name: "an update that expands to the same rows is no change", build: build, steps: []opStep{
			{a: B(U(1, 1, 1)), want: "+1 (1,1,1)"},
			{a: B(U(-1, 1, 1), U(1, 1, 1)), want: ""},
		}},
	})
}

func TestFlatMapErrorFailsView(t *testing.T) {
	g := dataflow.New()
	in := g.Input(tblA, schemaA)
	g.Output("s", g.FlatMap(in, series, intSchema("k", "v", "i"), "generate_series(1, v)"))
	if _, err := g.Step(map[row.TableName]dataflow.Batch{tblA: B(U(1, 1, 1))}); err != nil {
		t.Fatal(err)
	}
	_, err := g.Step(map[row.TableName]dataflow.Batch{tblA: B(U(1, 2, 0))})
	var se *dataflow.StepError
	if !errors.As(err, &se) || len(se.Views) != 1 || se.Views[0].View != "s" {
		t.Fatalf("want a StepError for s, got %v", err)
	}
}
