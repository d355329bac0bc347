package sink

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/rippledb/ripple/internal/pgcluster"
	"github.com/rippledb/ripple/internal/pgtest"
	"github.com/rippledb/ripple/internal/row"
)

// TestPostgresApplyStepsFailureStopsLaterSteps sends several steps in one
// pipelined batch with one of them failing in the sink, in each place a
// step can fail: the server-side retraction check, a plain SQL error (a
// CHECK constraint the sink table got), and its COMMIT (a deferred
// constraint). The steps before it must be committed, nothing of it or of
// any later step, the count and the error must say so, and the connection
// must go on.
func TestPostgresApplyStepsFailureStopsLaterSteps(t *testing.T) {
	c := pgtest.Start(t, pgcluster.Options{})
	ctx := context.Background()
	a := View{Name: row.TableName{Schema: "public", Name: "a"}, Columns: row.Schema{{Name: "x", Type: row.Int4}}}
	ins := func(lsn row.LSN, x int64) Step {
		return Step{LSN: lsn, Deltas: []Delta{{View: a.Name, Rows: []row.Update{{Row: row.Row{row.NewInt(x)}, W: 1}}}}}
	}
	held := func(xs ...int64) []row.Update {
		var us []row.Update
		for _, x := range xs {
			us = append(us, row.Update{Row: row.Row{row.NewInt(x)}, W: 1})
		}
		return us
	}
	for _, tc := range []struct {
		name   string
		setup  string // SQL run in the sink before the steps
		failAt Step   // the third of five steps
		want   error  // errors.Is target; nil: only the message is checked
		msg    string
	}{
		{name: "retraction of a row not held",
			failAt: Step{LSN: 13, Deltas: []Delta{{View: a.Name, Rows: []row.Update{{Row: row.Row{row.NewInt(99)}, W: -1}}}}},
			want:   ErrOutOfSync, msg: "retract 1× row ('99'): found only 0 matching row(s)"},
		{name: "SQL error", setup: "ALTER TABLE public.a ADD CONSTRAINT not_13 CHECK (x <> 13)",
			failAt: ins(13, 13), msg: "not_13"},
		{name: "error at COMMIT", setup: "ALTER TABLE public.a ADD CONSTRAINT uniq UNIQUE (x) DEFERRABLE INITIALLY DEFERRED",
			failAt: Step{LSN: 13, Deltas: []Delta{{View: a.Name, Rows: []row.Update{{Row: row.Row{row.NewInt(1)}, W: 1}}}}},
			msg:    "commit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db := sinkDB(t, c)
			s, _ := openSink(t, c, db, a)
			if err := s.Load(ctx, 10, map[row.TableName][]row.Update{a.Name: held(1)}); err != nil {
				t.Fatal(err)
			}
			if tc.setup != "" {
				pgtest.Exec(t, c, db, tc.setup)
			}
			steps := []Step{ins(11, 11), ins(12, 12), tc.failAt, ins(14, 14), ins(15, 15)}
			n, err := s.ApplySteps(ctx, steps)
			t.Log(err)
			if err == nil {
				t.Fatalf("ApplySteps = %d, nil; want an error at step 0/D", n)
			}
			if n != 2 {
				t.Errorf("ApplySteps committed %d steps, want 2", n)
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("error %v is not %v", err, tc.want)
			}
			if msg := err.Error(); !strings.Contains(msg, "sink main") || !strings.Contains(msg, "step 0/D") || !strings.Contains(msg, tc.msg) {
				t.Errorf("error %q does not name the sink, step 0/D and %q", msg, tc.msg)
			}
			rc := reader(t, c, db)
			checkTable(t, rc, a, held(1, 11, 12))
			if got := progressOf(t, s); got != 12 {
				t.Fatalf("progress after the failed batch = %s, want 0/C", got)
			}
			// The connection is outside any transaction and goes on; the
			// steps after the failed one were not applied, so they apply.
			if n, err := s.ApplySteps(ctx, steps[3:]); err != nil || n != 2 {
				t.Fatalf("ApplySteps after the failure = %d, %v", n, err)
			}
			checkTable(t, rc, a, held(1, 11, 12, 14, 15))
			if got := progressOf(t, s); got != 15 {
				t.Fatalf("progress = %s, want 0/F", got)
			}
		})
	}
}

// TestPostgresApplyStepsSkipsApplied checks that steps at or below the
// recorded progress are skipped inside a pipelined batch too, including
// when another writer moved the progress after Open: the progress record
// aborts that step's transaction in the server, and the steps above the
// progress still apply, once.
func TestPostgresApplyStepsSkipsApplied(t *testing.T) {
	c := pgtest.Start(t, pgcluster.Options{})
	ctx := context.Background()
	a := View{Name: row.TableName{Schema: "public", Name: "a"}, Columns: row.Schema{{Name: "x", Type: row.Int4}}}
	ins := func(lsn row.LSN) Step {
		return Step{LSN: lsn, Deltas: []Delta{{View: a.Name, Rows: []row.Update{{Row: row.Row{row.NewInt(int64(lsn))}, W: 1}}}}}
	}
	db := sinkDB(t, c)
	s, _ := openSink(t, c, db, a)
	if err := s.Load(ctx, 10, nil); err != nil {
		t.Fatal(err)
	}
	// Another writer of the same progress row got to 0/14 (20).
	pgtest.Exec(t, c, db, `UPDATE ripple.progress SET lsn = '0/14' WHERE pipeline = $1`, testPipeline)
	n, err := s.ApplySteps(ctx, []Step{ins(5), ins(11), ins(20), ins(21), ins(22)})
	if err != nil || n != 5 {
		t.Fatalf("ApplySteps = %d, %v; want 5, nil", n, err)
	}
	rc := reader(t, c, db)
	want := []row.Update{{Row: row.Row{row.NewInt(21)}, W: 1}, {Row: row.Row{row.NewInt(22)}, W: 1}}
	checkTable(t, rc, a, want)
	if got := progressOf(t, s); got != 22 {
		t.Fatalf("progress = %s, want 0/16", got)
	}
	// Applying the same steps again (a restart re-delivers them) changes
	// nothing.
	if n, err := s.ApplySteps(ctx, []Step{ins(21), ins(22)}); err != nil || n != 2 {
		t.Fatalf("ApplySteps again = %d, %v; want 2, nil", n, err)
	}
	checkTable(t, rc, a, want)
}

// TestPostgresApplyStepsWithCopy mixes steps whose insertions are large
// enough for COPY (which ends a pipelined batch) with small ones; all are
// applied, each with its own progress.
func TestPostgresApplyStepsWithCopy(t *testing.T) {
	c := pgtest.Start(t, pgcluster.Options{})
	ctx := context.Background()
	a := View{Name: row.TableName{Schema: "public", Name: "a"}, Columns: row.Schema{{Name: "x", Type: row.Int4}}}
	db := sinkDB(t, c)
	s, _ := openSink(t, c, db, a)
	if err := s.Load(ctx, 1, nil); err != nil {
		t.Fatal(err)
	}
	var steps []Step
	var want []row.Update
	next := int64(0)
	for i, size := range []int{1, maxBatchedInsertParams + 1, 2, 3, maxBatchedInsertParams + 5, 1} {
		var us []row.Update
		for k := 0; k < size; k++ {
			next++
			us = append(us, row.Update{Row: row.Row{row.NewInt(next)}, W: 1})
		}
		want = append(want, us...)
		steps = append(steps, Step{LSN: row.LSN(10 + i), Deltas: []Delta{{View: a.Name, Rows: us}}})
	}
	if n, err := s.ApplySteps(ctx, steps); err != nil || n != len(steps) {
		t.Fatalf("ApplySteps = %d, %v", n, err)
	}
	checkTable(t, reader(t, c, db), a, want)
	if got := progressOf(t, s); got != steps[len(steps)-1].LSN {
		t.Fatalf("progress = %s, want %s", got, steps[len(steps)-1].LSN)
	}
}
