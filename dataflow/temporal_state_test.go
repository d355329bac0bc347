package dataflow

import (
	"testing"

	"github.com/rippledb/ripple/internal/row"
)

// TestTemporalFilterForgets checks that the operator keeps only rows
// whose validity can still change: rows valid for good and rows that
// expired leave the state.
func TestTemporalFilterForgets(t *testing.T) {
	tbl := row.TableName{Schema: "public", Name: "a"}
	g := New()
	in := g.Input(tbl, row.Schema{{Name: "v", Type: row.Int4}})
	// valid during [v, v+10)
	n := g.TemporalFilter(in, func(r row.Row) (Time, Time, error) {
		return Time(r[0].Int()), Time(r[0].Int() + 10), nil
	}, "test")
	op := n.op.(*temporalOp)
	g.Output("v", n)
	var b Batch
	for v := int64(0); v < 100; v++ {
		b = append(b, row.Update{Row: row.Row{row.NewInt(v)}, W: 1})
	}
	step := func(at Time, b Batch, wantRows int) {
		t.Helper()
		if _, err := g.StepAt(at, map[row.TableName]Batch{tbl: b}); err != nil {
			t.Fatal(err)
		}
		if len(op.rows) != wantRows || op.events.Len() != wantRows {
			t.Fatalf("at %d: %d rows and %d events kept, want %d", at, len(op.rows), op.events.Len(), wantRows)
		}
	}
	step(50, b, 59)   // 0..40 expired before 50 (never kept); 41..99 kept
	step(60, nil, 49) // 41..50 expired
	step(200, nil, 0)

	// Valid from now on forever: not kept at all.
	g2 := New()
	in2 := g2.Input(tbl, row.Schema{{Name: "v", Type: row.Int4}})
	n2 := g2.TemporalFilter(in2, func(r row.Row) (Time, Time, error) { return Time(r[0].Int()), MaxTime, nil }, "test")
	g2.Output("v", n2)
	if _, err := g2.StepAt(50, map[row.TableName]Batch{tbl: b}); err != nil {
		t.Fatal(err)
	}
	if op2 := n2.op.(*temporalOp); len(op2.rows) != 49 {
		t.Fatalf("%d rows kept, want 49 (those valid only from 51 on)", len(op2.rows))
	}
}
