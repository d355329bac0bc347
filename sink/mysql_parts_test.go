package sink

import (
	"context"
	"errors"
	"math"
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

// TestMySQLLoadParts loads a view in parts: another connection sees the
// old rows until the commit (MVCC), then all the new ones and the
// progress; an aborted load, or one with a part that cannot be stored (a
// NaN float), leaves the old rows and progress.
func TestMySQLLoadParts(t *testing.T) {
	dsn := mysqltest.Start(t)
	ctx := context.Background()
	v := View{Name: row.TableName{Schema: "public", Name: "lv"}, Columns: row.Schema{{Name: "a", Type: row.Int4}, {Name: "f", Type: row.Float8}}}
	s, _ := openMySQL(t, dsn, v)
	var _ PartsLoader = s
	r := func(a int64, f float64) row.Update {
		return row.Update{Row: row.Row{row.NewInt(a), row.NewFloat(f)}, W: 1}
	}
	old := []row.Update{r(1, 0.5), r(2, 1.5)}
	if err := s.Load(ctx, 100, map[row.TableName][]row.Update{v.Name: old}); err != nil {
		t.Fatal(err)
	}
	db := mysqltest.Open(t, dsn)
	count := func() int {
		t.Helper()
		var n int
		if err := db.QueryRowContext(ctx, "SELECT count(*) FROM public.lv").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	begin := func(lsn row.LSN) LoadParts {
		t.Helper()
		lp, err := s.BeginLoad(ctx, lsn)
		if err != nil {
			t.Fatal(err)
		}
		return lp
	}
	// Aborted.
	lp := begin(110)
	if err := lp.Write(ctx, v.Name, []row.Update{r(7, 7)}); err != nil {
		t.Fatal(err)
	}
	lp.Abort()
	checkDump(t, s, v, old)
	// A part that cannot be stored ends the load; the commit fails.
	lp = begin(110)
	if err := lp.Write(ctx, v.Name, []row.Update{r(7, 7)}); err != nil {
		t.Fatal(err)
	}
	if err := lp.Write(ctx, v.Name, []row.Update{r(8, math.NaN())}); !errors.Is(err, ErrUnstorable) {
		t.Fatalf("write of a NaN: %v, want ErrUnstorable", err)
	}
	if err := lp.Commit(ctx); err == nil {
		t.Fatal("commit after a refused part succeeded")
	}
	checkDump(t, s, v, old)
	if got := myProgress(t, s); got != 100 {
		t.Fatalf("progress after a refused load %s, want 0/64", got)
	}
	// Three parts, committed.
	lp = begin(120)
	var want []row.Update
	for i := range int64(3) {
		part := []row.Update{r(10*i, float64(i)), r(10*i+1, float64(i)+0.25)}
		if err := lp.Write(ctx, v.Name, part); err != nil {
			t.Fatal(err)
		}
		want = append(want, part...)
		if n := count(); n != len(old) {
			t.Fatalf("another connection sees %d rows during the load, want the %d old ones", n, len(old))
		}
	}
	if err := lp.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	checkDump(t, s, v, want)
	if got := myProgress(t, s); got != 120 {
		t.Fatalf("progress %s, want 0/78", got)
	}
}
