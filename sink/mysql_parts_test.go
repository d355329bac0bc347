package sink

import (
	"context"
	"testing"

	"github.com/rippledb/ripple/internal/mysqltest"
	"github.com/rippledb/ripple/internal/row"
)

// TestMySQLParts writes a step in parts: nothing is visible to another
// connection before the commit, everything and the progress after it; an
// aborted step leaves nothing; a step at or below the progress is skipped
// (nil Parts); a part that cannot be applied (retracting a missing row)
// fails its Write and the abort leaves the sink as it was.
func TestMySQLParts(t *testing.T) {
	dsn := mysqltest.Start(t)
	ctx := context.Background()
	v := View{Name: row.TableName{Schema: "public", Name: "v"}, Columns: row.Schema{{Name: "a", Type: row.Int4}, {Name: "b", Type: row.Text}}}
	s, _ := openMySQL(t, dsn, v)
	r := func(a int64, b string) row.Row { return row.Row{row.NewInt(a), row.NewText(b)} }
	base := []row.Update{{Row: r(1, "x"), W: 1}, {Row: r(2, "y"), W: 1}}
	if err := s.Load(ctx, 100, map[row.TableName][]row.Update{v.Name: base}); err != nil {
		t.Fatal(err)
	}
	var _ PartsApplier = s
	p, err := s.BeginParts(ctx, Step{LSN: 110})
	if err != nil || p == nil {
		t.Fatalf("begin: %v, %v", p, err)
	}
	if err := p.Write(ctx, []Delta{{View: v.Name, Rows: []row.Update{{Row: r(1, "x"), W: -1}, {Row: r(3, "z"), W: 1}}}}); err != nil {
		t.Fatal(err)
	}
	if err := p.Write(ctx, []Delta{{View: v.Name, Rows: []row.Update{{Row: r(3, "z"), W: 1}, {Row: r(4, "w"), W: 1}}}}); err != nil {
		t.Fatal(err)
	}
	db := mysqltest.Open(t, dsn)
	var n int
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM public.v").Scan(&n); err != nil || n != 2 {
		t.Fatalf("before the commit another session sees %d rows (%v), want the 2 loaded", n, err)
	}
	if err := p.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	want := []row.Update{{Row: r(2, "y"), W: 1}, {Row: r(3, "z"), W: 2}, {Row: r(4, "w"), W: 1}}
	checkDump(t, s, v, want)
	if got := myProgress(t, s); got != 110 {
		t.Fatalf("progress %s, want 0/6E", got)
	}

	// Applied before: skipped.
	if p, err := s.BeginParts(ctx, Step{LSN: 110}); err != nil || p != nil {
		t.Fatalf("a step at the progress: %v, %v", p, err)
	}
	// Aborted: nothing stays.
	p, err = s.BeginParts(ctx, Step{LSN: 120})
	if err != nil || p == nil {
		t.Fatalf("begin: %v, %v", p, err)
	}
	if err := p.Write(ctx, []Delta{{View: v.Name, Rows: []row.Update{{Row: r(2, "y"), W: -1}}}}); err != nil {
		t.Fatal(err)
	}
	p.Abort()
	checkDump(t, s, v, want)
	// A failing part: the retraction of a row the sink does not hold.
	p, err = s.BeginParts(ctx, Step{LSN: 130})
	if err != nil || p == nil {
		t.Fatalf("begin: %v, %v", p, err)
	}
	if err := p.Write(ctx, []Delta{{View: v.Name, Rows: []row.Update{{Row: r(5, "q"), W: 1}}}}); err != nil {
		t.Fatal(err)
	}
	if err := p.Write(ctx, []Delta{{View: v.Name, Rows: []row.Update{{Row: r(9, "none"), W: -1}}}}); err == nil {
		t.Fatal("retracting a missing row did not fail")
	}
	if err := p.Commit(ctx); err == nil {
		t.Fatal("a commit after a failed part succeeded")
	}
	p.Abort()
	checkDump(t, s, v, want)
	if got := myProgress(t, s); got != 110 {
		t.Fatalf("progress %s after the aborted steps, want 0/6E", got)
	}
	// The sink still takes whole steps after parts.
	if err := s.Apply(ctx, Step{LSN: 140, Deltas: []Delta{{View: v.Name, Rows: []row.Update{{Row: r(4, "w"), W: -1}}}}}); err != nil {
		t.Fatal(err)
	}
	checkDump(t, s, v, want[:2])
}
