package pipeline

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"testing"

	"github.com/rippledb/ripple/cdc"
	"github.com/rippledb/ripple/internal/row"
	"github.com/rippledb/ripple/internal/state"
)

// TestTableStateOnDisk runs one random stream of changes through a table
// copy held in memory and through one that moves to disk (a real pebble
// store, checkpointed every few changes), and requires the same Z-set
// updates from both, change by change, and the same rows at the end. In
// the staged form the changes between two checkpoints are also moved to
// the next checkpoint's writer at random points (as a large transaction's
// are, see engine.stageOver), the first time while the table is still in
// memory, which moves it to disk. In the untruncated form nothing truncates
// the table before that first move and checkpoints come often until then,
// so the table moves with checkpointed deletions and updates behind it.
func TestTableStateOnDisk(t *testing.T) {
	t.Run("spill", func(t *testing.T) { testTableStateOnDisk(t, false, false) })
	t.Run("stage", func(t *testing.T) { testTableStateOnDisk(t, true, false) })
	t.Run("stage-untruncated", func(t *testing.T) { testTableStateOnDisk(t, true, true) })
}

func testTableStateOnDisk(t *testing.T, staged, untruncated bool) {
	store, err := state.Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	rng := rand.New(rand.NewPCG(7, 9))
	mem := newTableState(tn, []int{0})
	disk := newTableState(tn, []int{0})
	disk.track = true
	live := map[int64]row.Row{}
	mk := func(id int64) row.Row {
		note := row.Null
		if rng.IntN(3) > 0 {
			note = row.NewText(strings.Repeat("x", rng.IntN(20)))
		}
		return row.Row{row.NewInt(id), row.NewInt(rng.Int64N(100)), note}
	}
	var pending *state.Writer // the next checkpoint's, once something is staged
	stages := 0
	checkpoint := func(i int) {
		w := pending
		if pending = nil; w == nil {
			w = store.NewWriter()
		}
		if err := disk.flushDirty(w); err != nil {
			t.Fatal(err)
		}
		if err := w.Commit(&state.Checkpoint{LSN: row.LSN(i + 1)}, false); err != nil {
			t.Fatal(err)
		}
	}
	spilledAt, checkpoints := -1, 0
	for i := range 4000 {
		var c cdc.Change
		ids := make([]int64, 0, len(live))
		for id := range live {
			ids = append(ids, id)
		}
		sort.Slice(ids, func(a, b int) bool { return ids[a] < ids[b] })
		beforeMove := untruncated && spilledAt < 0
		switch op := rng.IntN(100); {
		case op < 1 && !beforeMove:
			c = cdc.Change{Op: cdc.OpTruncate}
			clear(live)
		case op < 45 || len(ids) == 0:
			id := rng.Int64N(200)
			if _, ok := live[id]; ok {
				continue
			}
			c = cdc.Change{Op: cdc.OpInsert, New: mk(id)}
			live[id] = c.New
		case op < 80:
			id := ids[rng.IntN(len(ids))]
			nw := mk(id)
			switch rng.IntN(3) {
			case 0: // key unchanged: pgoutput sends no old row
				c = cdc.Change{Op: cdc.OpUpdate, OldKind: cdc.OldNone, New: nw}
			case 1:
				c = cdc.Change{Op: cdc.OpUpdate, OldKind: cdc.OldFull, Old: live[id], New: nw}
			default: // the key changes
				nid := rng.Int64N(400)
				if _, ok := live[nid]; ok {
					continue
				}
				nw[0] = row.NewInt(nid)
				c = cdc.Change{Op: cdc.OpUpdate, OldKind: cdc.OldKey, Old: row.Row{row.NewInt(id), row.Null, row.Null}, New: nw}
				delete(live, id)
				id = nid
			}
			live[id] = nw
		default:
			id := ids[rng.IntN(len(ids))]
			c = cdc.Change{Op: cdc.OpDelete, OldKind: cdc.OldKey, Old: row.Row{row.NewInt(id), row.Null, row.Null}}
			delete(live, id)
		}
		mo, err := mem.apply(c, nil)
		if err != nil {
			t.Fatalf("change %d in memory: %v", i, err)
		}
		do, err := disk.apply(c, nil)
		if err != nil {
			t.Fatalf("change %d on disk: %v", i, err)
		}
		var overlay int64
		_ = disk.each(func(k string, e entry) error {
			overlay += int64(len(k) + len(e.enc))
			return nil
		})
		if disk.bytes() < overlay || disk.count != mem.count {
			t.Fatalf("change %d: on disk %d rows, %d bytes in memory; recount %d rows, at least %d bytes", i, disk.count, disk.bytes(), mem.count, overlay)
		}
		if updates(mo) != updates(do) {
			t.Fatalf("change %d (%v, spilled at %d): on disk\n%s\nin memory\n%s", i, c.Op, spilledAt, updates(do), updates(mo))
		}
		if staged && i > 300 && rng.IntN(7) == 0 {
			if pending == nil {
				pending = store.NewWriter()
			}
			ok, err := disk.stage(pending, store)
			if err != nil {
				t.Fatalf("change %d: stage: %v", i, err)
			}
			if ok {
				stages++
				if spilledAt < 0 {
					spilledAt = i
					if untruncated && (disk.truncated || checkpoints < 20) {
						t.Fatalf("first move at change %d: truncated %v, after %d checkpoints", i, disk.truncated, checkpoints)
					}
				}
			}
			if disk.disk == nil || disk.rows.Len() != 0 {
				t.Fatalf("change %d: staged table still in memory (%d rows)", i, disk.rows.Len())
			}
		}
		if every := checkpointEvery(staged && !beforeMove); rng.IntN(every) == 0 {
			checkpoint(i)
			checkpoints++
			if !staged && spilledAt < 0 && i > 500 {
				if !disk.spill(store) {
					t.Fatal("a keyed table did not spill")
				}
				spilledAt = i
			}
		}
	}
	checkpoint(4000)
	if staged && stages < 50 {
		t.Fatalf("only %d stages", stages)
	}
	if spilledAt < 0 || disk.disk == nil || disk.rows.Len() != 0 || disk.bytes() != 0 {
		t.Fatalf("table not on disk (spilled at %d) or holding %d rows in memory", spilledAt, disk.rows.Len())
	}
	var stored []string
	err = store.Scan(tn.String(), func(_ string, r row.Row, n int64) error {
		stored = append(stored, fmt.Sprintf("%d×%v", n, r))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(stored)
	if got, want := strings.Join(stored, "; "), contents(mem); got != want {
		t.Fatalf("stored rows differ from the in-memory copy\n got %.300s\nwant %.300s", got, want)
	}
	if disk.count != mem.count || mem.count != int64(len(live)) {
		t.Fatalf("row counts: disk %d, memory %d, workload %d", disk.count, mem.count, len(live))
	}
	if staged {
		return
	}
	// A keyless table never moves to disk: it needs its duplicates counted.
	if newTableState(tn, nil).spill(store) {
		t.Fatal("a keyless table spilled")
	}
}

// checkpointEvery is how seldom the test checkpoints: the staged form lets the
// changes of many steps pile up between checkpoints, as in a large
// transaction.
func checkpointEvery(staged bool) int {
	if staged {
		return 40
	}
	return 5
}
