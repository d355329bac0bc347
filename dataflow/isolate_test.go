package dataflow_test

import (
	"errors"
	"testing"

	"github.com/rippledb/ripple/dataflow"
	"github.com/rippledb/ripple/internal/row"
)

var errDivZero = errors.New("division by zero")

// TestStepIsolatesFailedView: a runtime error fails the output that reads
// the failing operator, for good, while an output that does not depend on
// it keeps receiving changes.
func TestStepIsolatesFailedView(t *testing.T) {
	g := dataflow.New()
	in := g.Input(tblA, schemaA)
	ratio := g.Map(in, func(r row.Row) (row.Row, error) {
		if r[1].Int() == 0 {
			return nil, errDivZero
		}
		return R(r[0].Int(), 100/r[1].Int()), nil
	}, schemaA, "k, 100 / v")
	g.Output("ratio", ratio)
	g.Output("ident", g.Filter(in, func(row.Row) (bool, error) { return true, nil }, "true"))

	out, err := g.Step(map[row.TableName]dataflow.Batch{tblA: B(U(1, 1, 4))})
	if err != nil || fmtBatch(out["ratio"]) != "+1 (1,25)" || fmtBatch(out["ident"]) != "+1 (1,4)" {
		t.Fatalf("step 1: %v %v", out, err)
	}
	out, err = g.Step(map[row.TableName]dataflow.Batch{tblA: B(U(1, 2, 0), U(1, 3, 5))})
	var se *dataflow.StepError
	if !errors.As(err, &se) || len(se.Views) != 1 || se.Views[0].View != "ratio" || !errors.Is(err, errDivZero) {
		t.Fatalf("step 2: want a StepError for ratio, got %v", err)
	}
	if _, ok := out["ratio"]; ok {
		t.Errorf("step 2: the failed view got changes: %s", fmtBatch(out["ratio"]))
	}
	if got := fmtBatch(out["ident"]); got != "+1 (2,0); +1 (3,5)" {
		t.Errorf("step 2: ident = %s", got)
	}
	// Later steps: the failure is not reported again, the failed view gets
	// nothing, the other goes on.
	out, err = g.Step(map[row.TableName]dataflow.Batch{tblA: B(U(1, 4, 2))})
	if err != nil {
		t.Fatalf("step 3: %v", err)
	}
	if _, ok := out["ratio"]; ok || fmtBatch(out["ident"]) != "+1 (4,2)" {
		t.Errorf("step 3: %v", out)
	}
	if !errors.Is(g.Failed("ratio"), errDivZero) || g.Failed("ident") != nil {
		t.Errorf("Failed: ratio %v, ident %v", g.Failed("ratio"), g.Failed("ident"))
	}
}
