package pipeline

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"

	"github.com/rippledb/ripple/cdc"
	"github.com/rippledb/ripple/internal/row"
	"github.com/rippledb/ripple/internal/state"
	"github.com/rippledb/ripple/planner"
	"github.com/rippledb/ripple/sink"
)

// TestRestoreKeylessOverBudget restores a keyless table whose stored
// entries carry multiplicities (one row once, every other row twice) into
// an engine whose table_memory holds a fraction of it. The budget must be
// kept while the table is read back, so the table ends on disk with its
// rows counted and the view rebuilt from all of them. Checking the budget
// by the running row count instead of by entries read never checks it
// here: that count stays odd after the first row.
func TestRestoreKeylessOverBudget(t *testing.T) {
	ctx := context.Background()
	cat, err := planner.StaticCatalog("CREATE TABLE public.k (a int, b text);")
	if err != nil {
		t.Fatal(err)
	}
	defs, err := planner.ParseViews("views.sql", "CREATE VIEW v AS SELECT a, b FROM k;")
	if err != nil {
		t.Fatal(err)
	}
	newTestEngine := func() *engine {
		t.Helper()
		plan, err := planner.Build(ctx, defs, cat)
		if err != nil {
			t.Fatal(err)
		}
		e, err := newEngine(plan, []Target{{Sink: sink.NewMemory("mem"), Views: []row.TableName{{Schema: "public", Name: "v"}}}})
		if err != nil {
			t.Fatal(err)
		}
		e.log = slog.New(slog.NewTextHandler(io.Discard, nil))
		return e
	}
	name := row.TableName{Schema: "public", Name: "k"}
	store, err := state.Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()

	e := newTestEngine()
	e.store = store
	e.tableMemory = 1 << 40
	ts := e.tables[name]
	if ts.key != nil {
		t.Fatalf("table k has key %v; the test needs a keyless table", ts.key)
	}
	ts.track = true
	const n = 20000
	for i := range int64(n) {
		c := cdc.Change{Op: cdc.OpInsert, New: row.Row{row.NewInt(i), row.NewText(fmt.Sprintf("row %06d", i))}}
		for range min(i+1, 2) {
			if _, err := ts.apply(c, nil); err != nil {
				t.Fatal(err)
			}
		}
	}
	full := ts.bytes()
	if err := e.checkpoint("fp", "slot", 1, 1, true); err != nil {
		t.Fatal(err)
	}
	cp, err := store.Checkpoint()
	if err != nil || cp == nil {
		t.Fatalf("checkpoint: %v, %v", cp, err)
	}

	r := newTestEngine()
	r.tableMemory = full / 4
	if err := r.restore(store, cp); err != nil {
		t.Fatal(err)
	}
	rt := r.tables[name]
	if rt.disk == nil {
		t.Fatalf("table k (%d bytes in memory before the checkpoint) stayed in memory while it was restored against table_memory %d; %d bytes in memory",
			full, r.tableMemory, rt.bytes())
	}
	if rt.bytes() > r.tableMemory {
		t.Fatalf("after the restore the copy of k takes %d bytes in memory, table_memory %d", rt.bytes(), r.tableMemory)
	}
	if want := int64(2*n - 1); rt.count != want || r.viewRows["public.v"] != want {
		t.Fatalf("restored %d rows of k and %d of view v, want %d", rt.count, r.viewRows["public.v"], want)
	}
	en, ok, err := rt.get(rt.keyOf(row.Row{row.NewInt(7), row.NewText("row 000007")}))
	if err != nil || !ok {
		t.Fatalf("row 7 after the restore: present %v, %v", ok, err)
	}
	if en.n != 2 {
		t.Fatalf("row 7 after the restore has multiplicity %d, want 2", en.n)
	}
}
