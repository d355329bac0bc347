package pipeline

import (
	"fmt"
	"math/rand"
	"slices"
	"testing"

	"github.com/rippledb/ripple/dataflow"
	"github.com/rippledb/ripple/internal/row"
	"github.com/rippledb/ripple/internal/state"
)

// TestGathererOnDisk gathers the same random steps (insertions, and
// retractions cancelling earlier steps' rows, as an aggregate's output does
// chunk after chunk) in memory and with a spill store and a small budget:
// both must finish with the same consolidated changes per view, read in
// chunks or whole, the failed view left out, and drop must leave nothing in
// the store. A third gatherer, with a spill store but room enough, must
// give the same from memory.
func TestGathererOnDisk(t *testing.T) {
	sp, err := state.OpenSpill(t.TempDir(), 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	rng := rand.New(rand.NewSource(1))
	mem := newGatherer()
	budget := int64(64 << 10)
	disk := newGatherer().spillTo(sp, func() int64 { return budget })
	roomy := newGatherer().spillTo(sp, func() int64 { return 1 << 40 }) // never moves
	views := []string{"public.ident", "public.agg", "public.failed", "public.empty"}
	live := map[string][]row.Row{}
	for step := 0; step < 200; step++ {
		out := map[string]dataflow.Batch{}
		for _, v := range views[:3] {
			var b dataflow.Batch
			for range 50 {
				r := row.Row{row.NewInt(rng.Int63n(500)), row.NewText(fmt.Sprintf("s%d", rng.Intn(3))), row.Null}
				b = append(b, row.Update{Row: r, W: row.Weight(1 + rng.Intn(2))})
				live[v] = append(live[v], r)
			}
			for range 20 { // retract a row of an earlier step
				if len(live[v]) == 0 {
					break
				}
				i := rng.Intn(len(live[v]))
				b = append(b, row.Update{Row: live[v][i], W: -1})
			}
			out[v] = b
		}
		if step == 150 {
			budget = 1 << 30 // room again: the changes stay on disk once there
		}
		if err := mem.add(out); err != nil {
			t.Fatal(err)
		}
		if err := disk.add(out); err != nil {
			t.Fatal(err)
		}
		if err := roomy.add(out); err != nil {
			t.Fatal(err)
		}
	}
	if len(roomy.disk) != 0 {
		t.Fatal("a gatherer within its budget moved to disk")
	}
	if len(disk.disk) == 0 || disk.moved == 0 {
		t.Fatal("the gatherer never moved its changes to disk")
	}
	failed := map[string]state.FailedView{"public.failed": {}}
	want := mem.result(failed)
	if err := disk.finish(failed); err != nil {
		t.Fatal(err)
	}
	if err := roomy.finish(failed); err != nil {
		t.Fatal(err)
	}
	text := func(b dataflow.Batch) []string {
		var out []string
		for _, u := range b {
			out = append(out, fmt.Sprintf("%d×%v", u.W, u.Row))
		}
		slices.Sort(out)
		return out
	}
	for _, g := range []*gatherer{disk, roomy} {
		for _, v := range views {
			exp := text(want[v])
			var chunks dataflow.Batch
			n := 0
			if err := g.each(v, 97, func(b dataflow.Batch) error {
				if len(b) > 97 || len(b) == 0 {
					t.Fatalf("view %s: a chunk of %d rows", v, len(b))
				}
				n++
				chunks = append(chunks, b...)
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			whole, err := g.batch(v)
			if err != nil {
				t.Fatal(err)
			}
			for _, got := range [][]string{text(chunks), text(whole)} {
				if !slices.Equal(got, exp) {
					t.Fatalf("view %s: gathered on disk %d changes, in memory %d\n got %.400v\nwant %.400v", v, len(got), len(exp), got, exp)
				}
			}
			if v == "public.failed" && len(chunks) != 0 {
				t.Fatal("the failed view's changes were returned")
			}
			if v == "public.ident" && (len(exp) < 1000 || n < 10) {
				t.Fatalf("view %s: %d changes in %d chunks; the test needs many", v, len(exp), n)
			}
		}
	}
	if err := disk.drop(); err != nil {
		t.Fatal(err)
	}
	left := 0
	if err := sp.Scan(gatherID[:], func(_, _ []byte) error { left++; return nil }); err != nil {
		t.Fatal(err)
	}
	if left != 0 {
		t.Fatalf("%d entries left in the spill store after drop", left)
	}
}
