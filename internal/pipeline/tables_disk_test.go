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
// Each form runs for a keyed table and for a keyless one (a multiset of
// whole rows with many duplicates, changed by full old rows).
func TestTableStateOnDisk(t *testing.T) {
	for _, keyless := range []bool{false, true} {
		name := ""
		if keyless {
			name = "keyless-"
		}
		t.Run(name+"spill", func(t *testing.T) { testTableStateOnDisk(t, false, false, keyless) })
		t.Run(name+"stage", func(t *testing.T) { testTableStateOnDisk(t, true, false, keyless) })
		t.Run(name+"stage-untruncated", func(t *testing.T) { testTableStateOnDisk(t, true, true, keyless) })
	}
}

// bagRow is a row of a keyless table with its multiplicity.
type bagRow struct {
	r row.Row
	n int
}

func testTableStateOnDisk(t *testing.T, staged, untruncated, keyless bool) {
	store, err := state.Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	rng := rand.New(rand.NewPCG(7, 9))
	key := []int{0}
	if keyless {
		key = nil
	}
	mem := newTableState(tn, key)
	disk := newTableState(tn, key)
	disk.track = true
	live := map[int64]row.Row{}
	// The keyless form's rows, by their encoding, from a small domain so
	// that duplicates are common.
	bag := map[string]*bagRow{}
	bagAdd := func(r row.Row, d int) {
		k := r.EncodeExact()
		if bag[k] == nil {
			bag[k] = &bagRow{r: r}
		}
		if bag[k].n += d; bag[k].n == 0 {
			delete(bag, k)
		}
	}
	mkBag := func() row.Row {
		note := row.Null
		if rng.IntN(2) > 0 {
			note = row.NewText(strings.Repeat("x", rng.IntN(3)))
		}
		return row.Row{row.NewInt(rng.Int64N(15)), row.NewInt(rng.Int64N(3)), note}
	}
	pickBag := func() row.Row {
		ks := make([]string, 0, len(bag))
		for k := range bag {
			ks = append(ks, k)
		}
		sort.Strings(ks)
		return bag[ks[rng.IntN(len(ks))]].r
	}
	liveCount := func() int64 {
		if !keyless {
			return int64(len(live))
		}
		var n int64
		for _, b := range bag {
			n += int64(b.n)
		}
		return n
	}
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
		case keyless && op < 1 && !beforeMove:
			c = cdc.Change{Op: cdc.OpTruncate}
			clear(bag)
		case keyless && (op < 45 || len(bag) == 0):
			c = cdc.Change{Op: cdc.OpInsert, New: mkBag()}
			bagAdd(c.New, 1)
		case keyless && op < 80:
			c = cdc.Change{Op: cdc.OpUpdate, OldKind: cdc.OldFull, Old: pickBag(), New: mkBag()}
			bagAdd(c.Old, -1)
			bagAdd(c.New, 1)
		case keyless:
			c = cdc.Change{Op: cdc.OpDelete, OldKind: cdc.OldFull, Old: pickBag()}
			bagAdd(c.Old, -1)
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
					t.Fatal("the table did not spill")
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
	if disk.count != mem.count || mem.count != liveCount() {
		t.Fatalf("row counts: disk %d, memory %d, workload %d", disk.count, mem.count, liveCount())
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

// TestKeylessLoadOnDisk loads a keyless table's snapshot with duplicate
// rows, moving the table to disk after the first flushed chunk as the
// engine does (snapshotRow): a duplicate of a row in the same chunk and of
// one already stored must both be counted.
func TestKeylessLoadOnDisk(t *testing.T) {
	store, err := state.Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	ts := newTableState(tn, nil)
	w := store.NewLoadWriter()
	want := map[string]int{}
	for i := range 3000 {
		r := row.Row{row.NewInt(int64(i % 40)), row.NewText(strings.Repeat("y", i%3))}
		k, e, err := ts.load(r)
		if err != nil {
			t.Fatal(err)
		}
		if err := w.PutEncoded(ts.id, k, e.enc, int64(e.n)); err != nil {
			t.Fatal(err)
		}
		want[fmt.Sprintf("%v", r)]++
		if i%500 == 499 {
			if err := w.Flush(); err != nil {
				t.Fatal(err)
			}
			ts.loadFlushed()
			if i == 499 && !ts.spill(store) {
				t.Fatal("the keyless table did not move to disk")
			}
			if ts.rows.Len() != 0 {
				t.Fatalf("after a flush the table on disk holds %d rows in memory", ts.rows.Len())
			}
		}
	}
	if err := ts.flushDirty(w); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(&state.Checkpoint{LSN: 1}, false); err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	err = store.Scan(ts.id, func(_ string, r row.Row, n int64) error {
		got[fmt.Sprintf("%v", r)] += int(n)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) || ts.count != 3000 {
		t.Fatalf("stored %v (count %d), want %v", got, ts.count, want)
	}
}
