package pipeline

import (
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strings"
	"testing"

	"github.com/rippledb/ripple/cdc"
	"github.com/rippledb/ripple/internal/row"
	"github.com/rippledb/ripple/internal/state"
)

// TestStageOver runs the engine's budget keeping in the middle of a large
// transaction (engine.stageOver) over three table copies in memory: a big
// keyed one, a small keyed one and a keyless one, all within table_memory
// after a checkpoint. The transaction then updates every row of the big
// table in place, so its rows take no more memory but its set of changed
// keys grows past the budget: stageOver must stage that table (moving it to
// disk) and only that one, and the checkpoint that ends the transaction
// must store what it changed, staged and not.
func TestStageOver(t *testing.T) {
	store, err := state.Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	big := newTableState(row.TableName{Schema: "public", Name: "big"}, []int{0})
	small := newTableState(row.TableName{Schema: "public", Name: "small"}, []int{0})
	keyless := newTableState(row.TableName{Schema: "public", Name: "keyless"}, nil)
	e := &engine{
		store:   store,
		tables:  map[row.TableName]*tableState{big.name: big, small.name: small, keyless.name: keyless},
		sinkLSN: map[string]row.LSN{},
		failed:  map[string]state.FailedView{},
		log:     slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	const n = 20000
	want := map[int64]string{}
	put := func(ts *tableState, c cdc.Change) {
		t.Helper()
		if _, err := ts.apply(c, nil); err != nil {
			t.Fatal(err)
		}
	}
	for _, ts := range e.tables {
		ts.track = true
	}
	for i := range int64(n) {
		v := fmt.Sprintf("v%06d", i)
		put(big, cdc.Change{Op: cdc.OpInsert, New: row.Row{row.NewInt(i), row.NewText(v)}})
		want[i] = v
	}
	for i := range int64(10) {
		put(small, cdc.Change{Op: cdc.OpInsert, New: row.Row{row.NewInt(i), row.NewText("s")}})
		put(keyless, cdc.Change{Op: cdc.OpInsert, New: row.Row{row.NewInt(i % 3), row.NewText("k")}})
	}
	e.tableMemory = 1 << 40 // no spilling at this checkpoint
	if err := e.checkpoint("fp", "slot", 1, 1, false); err != nil {
		t.Fatal(err)
	}
	if big.bytes() != big.rows.Bytes() || len(big.dirty) != 0 {
		t.Fatalf("after the checkpoint: %d bytes, %d changed keys", big.bytes(), len(big.dirty))
	}
	// Room for the copies and a tenth of the big one's keys changing.
	e.tableMemory = big.bytes() + small.bytes() + keyless.bytes() + n/10*(dirtyEntry+8)
	rowsBefore := big.rows.Bytes()

	// The large transaction: every row of big updated to a value of the
	// same size, one part at a time, with stageOver between parts.
	stagedAt := -1
	for i := range int64(n) {
		v := fmt.Sprintf("w%06d", i)
		put(big, cdc.Change{Op: cdc.OpUpdate, OldKind: cdc.OldNone, New: row.Row{row.NewInt(i), row.NewText(v)}})
		want[i] = v
		if i%500 != 499 {
			continue
		}
		if err := e.stageOver(); err != nil {
			t.Fatal(err)
		}
		if big.stg != nil && stagedAt < 0 {
			stagedAt = int(i)
			if big.disk == nil || big.rows.Len() != 0 || big.bytes() != 0 {
				t.Fatalf("staged big table: on disk %v, %d rows and %d bytes in memory", big.disk != nil, big.rows.Len(), big.bytes())
			}
		}
		if stagedAt < 0 && big.rows.Bytes() > rowsBefore+rowsBefore/10 {
			t.Fatalf("updates in place grew the rows from %d to %d bytes", rowsBefore, big.rows.Bytes())
		}
	}
	if stagedAt < 0 {
		t.Fatalf("the big table's %d changed keys (%d bytes) were never staged against a budget of %d bytes",
			len(big.dirty), big.bytes(), e.tableMemory)
	}
	if stagedAt >= n/2 {
		t.Fatalf("staged only after %d changed keys", stagedAt+1)
	}
	if small.stg != nil || small.disk != nil || keyless.stg != nil || keyless.disk != nil {
		t.Fatal("a table that did not need to move was staged or moved to disk")
	}
	// A few rows deleted after the staging, and the rows read back through
	// the layers (rows, staged, stored).
	for i := int64(0); i < n; i += 997 {
		put(big, cdc.Change{Op: cdc.OpDelete, OldKind: cdc.OldKey, Old: row.Row{row.NewInt(i), row.Null}})
		delete(want, i)
	}
	for i := int64(1); i < n; i += 1009 {
		en, ok, err := big.get(row.Row{row.NewInt(i)}.Key([]int{0}))
		if err != nil || ok != (want[i] != "") {
			t.Fatalf("row %d: present %v, %v", i, ok, err)
		}
		if r, _ := en.row(); ok && r[1].String() != want[i] {
			t.Fatalf("row %d: %v, want %s", i, r, want[i])
		}
	}
	if err := e.checkpoint("fp", "slot", 2, 2, false); err != nil {
		t.Fatal(err)
	}
	var got []string
	err = store.Scan(big.id, func(_ string, r row.Row, n int64) error {
		got = append(got, fmt.Sprintf("%d×%v", n, r))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var exp []string
	for i, v := range want {
		exp = append(exp, fmt.Sprintf("1×%v", row.Row{row.NewInt(i), row.NewText(v)}))
	}
	sort.Strings(got)
	sort.Strings(exp)
	if g, w := strings.Join(got, "; "), strings.Join(exp, "; "); g != w {
		t.Fatalf("stored rows of big after the checkpoint (%d, want %d)\n got %.300s\nwant %.300s", len(got), len(exp), g, w)
	}
	if big.count != int64(len(want)) {
		t.Fatalf("big counts %d rows, want %d", big.count, len(want))
	}
}
