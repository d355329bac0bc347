package sink

import (
	"context"
	"strings"
	"testing"

	"github.com/rippledb/ripple/internal/pgcluster"
	"github.com/rippledb/ripple/internal/pgtest"
	"github.com/rippledb/ripple/internal/row"
)

// TestPostgresLoadParts loads two views in parts (several writes per view,
// the views interleaved, one view never written): another session waits
// for the load's lock until the commit and then sees all of the new; an abort, or a
// failing write followed by a commit, leaves the old contents and progress;
// and a view whose columns changed is created anew with its index.
func TestPostgresLoadParts(t *testing.T) {
	c := pgtest.Start(t, pgcluster.Options{})
	db := sinkDB(t, c)
	ctx := context.Background()
	a := View{Name: row.TableName{Schema: "s", Name: "a"}, Columns: row.Schema{{Name: "id", Type: row.Int8}, {Name: "t", Type: row.Text}}, Key: []int{0}}
	b := View{Name: row.TableName{Schema: "public", Name: "b"}, Columns: row.Schema{{Name: "x", Type: row.Int8}}}
	e := View{Name: row.TableName{Schema: "public", Name: "e"}, Columns: row.Schema{{Name: "x", Type: row.Int8}}}
	rows := func(from, to int64, w row.Weight, cols int) []row.Update {
		var us []row.Update
		for i := from; i < to; i++ {
			r := row.Row{row.NewInt(i)}
			if cols == 2 {
				r = append(r, row.NewText(strings.Repeat("v", int(i%7))))
			}
			us = append(us, row.Update{Row: r, W: w})
		}
		return us
	}
	s, _ := openSink(t, c, db, a, b, e)
	oldA, oldB, oldE := rows(0, 10, 1, 2), rows(0, 3, 2, 1), rows(5, 6, 1, 1)
	if err := s.Load(ctx, 10, map[row.TableName][]row.Update{a.Name: oldA, b.Name: oldB, e.Name: oldE}); err != nil {
		t.Fatal(err)
	}
	rc := reader(t, c, db)
	same := func(when string, lsn row.LSN, wa, wb, we []row.Update) {
		t.Helper()
		checkTable(t, rc, a, wa)
		checkTable(t, rc, b, wb)
		checkTable(t, rc, e, we)
		if got := progressOf(t, s); got != lsn {
			t.Fatalf("%s: progress %s, want %s", when, got, lsn)
		}
	}
	begin := func(lsn row.LSN) LoadParts {
		t.Helper()
		lp, err := s.BeginLoad(ctx, lsn)
		if err != nil {
			t.Fatal(err)
		}
		return lp
	}

	// Aborted after some parts.
	lp := begin(20)
	if err := lp.Write(ctx, a.Name, rows(100, 200, 1, 2)); err != nil {
		t.Fatal(err)
	}
	lp.Abort()
	same("after an abort", 10, oldA, oldB, oldE)

	// A failing write (a retraction) ends the load; the commit fails.
	lp = begin(20)
	if err := lp.Write(ctx, a.Name, rows(100, 200, 1, 2)); err != nil {
		t.Fatal(err)
	}
	if err := lp.Write(ctx, b.Name, rows(0, 1, -1, 1)); err == nil || !strings.Contains(err.Error(), "insertions only") {
		t.Fatalf("write of a retraction: %v, want an error", err)
	}
	if err := lp.Commit(ctx); err == nil {
		t.Fatal("commit after a failed write succeeded")
	}
	same("after a failed write", 10, oldA, oldB, oldE)

	// Interleaved parts; nothing visible before the commit.
	lp = begin(30)
	for i := int64(0); i < 5; i++ {
		if err := lp.Write(ctx, a.Name, rows(1000*i, 1000*i+700, 1, 2)); err != nil {
			t.Fatal(err)
		}
		if err := lp.Write(ctx, b.Name, rows(i, i+1, row.Weight(i+1), 1)); err != nil {
			t.Fatal(err)
		}
	}
	// Readers wait for the load's lock (TRUNCATE) rather than see a part.
	if _, err := rc.Exec(ctx, "SET lock_timeout = '200ms'"); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := rc.QueryRow(ctx, "SELECT count(*) FROM s.a").Scan(&n); err == nil || !strings.Contains(err.Error(), "lock timeout") {
		t.Fatalf("a reader during the load: %d rows, %v; want it to wait for the load's lock", n, err)
	}
	if _, err := rc.Exec(ctx, "RESET lock_timeout"); err != nil {
		t.Fatal(err)
	}
	if err := lp.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	var wantA, wantB []row.Update
	for i := int64(0); i < 5; i++ {
		wantA = append(wantA, rows(1000*i, 1000*i+700, 1, 2)...)
		wantB = append(wantB, rows(i, i+1, row.Weight(i+1), 1)...)
	}
	same("after the commit", 30, wantA, wantB, nil)

	// The key column's type changed: the table is created anew, with its
	// key index built at the commit.
	s.Close()
	a2 := a
	a2.Columns = row.Schema{{Name: "id", Type: row.Int4}, {Name: "t", Type: row.Text}}
	s, _ = openSink(t, c, db, a2, b, e)
	lp = begin(40)
	for i := int64(0); i < 3; i++ {
		if err := lp.Write(ctx, a2.Name, rows(10*i, 10*i+5, 1, 2)); err != nil {
			t.Fatal(err)
		}
	}
	if err := lp.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := rc.QueryRow(ctx, `SELECT count(*) FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid
		JOIN pg_namespace ns ON ns.oid = c.relnamespace WHERE ns.nspname = 's' AND c.relname = 'a'`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("indexes on the re-created s.a: %d, %v; want 1", n, err)
	}
	var typ string
	if err := rc.QueryRow(ctx, `SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 's.a'::regclass AND attname = 'id'`).Scan(&typ); err != nil || typ != "integer" {
		t.Fatalf("s.a.id is %q (%v), want integer", typ, err)
	}
	var wantA2 []row.Update
	for i := int64(0); i < 3; i++ {
		wantA2 = append(wantA2, rows(10*i, 10*i+5, 1, 2)...)
	}
	checkTable(t, rc, a2, wantA2)
	checkTable(t, rc, b, nil)
}
