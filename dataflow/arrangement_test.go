package dataflow

import (
	"math/rand/v2"
	"testing"

	"github.com/rippledb/ripple/internal/row"
)

// TestArrangementModel drives an arrangement with random additions and
// retractions, across the small (scanned) and indexed bucket forms, and
// compares every bucket with a plain map after each settle.
func TestArrangementModel(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	a := newArrangement()
	model := map[string]map[string]row.Weight{} // key → exact row encoding → weight
	for step := range 3000 {
		// Keys 0..3 collect many rows (indexed buckets), keys 4..40 few.
		k := rng.IntN(41)
		if step%3 == 0 {
			k = rng.IntN(4)
		}
		key := row.Row{row.NewInt(int64(k))}.Key([]int{0})
		var r row.Row
		if rng.IntN(4) == 0 {
			r = row.Row{row.NewInt(int64(k)), row.Null, row.NewNumeric("1.50")}
		} else {
			r = row.Row{row.NewInt(int64(k)), row.NewText(string(rune('a' + rng.IntN(30)))), row.NewNumeric("1.5")}
		}
		w := row.Weight(1)
		if m := model[key][r.EncodeExact()]; m > 0 && rng.IntN(2) == 0 {
			w = -row.Weight(1 + rng.IntN(int(m)))
		}
		a.add(key, r, w)
		if model[key] == nil {
			model[key] = map[string]row.Weight{}
		}
		model[key][r.EncodeExact()] += w
		if model[key][r.EncodeExact()] == 0 {
			delete(model[key], r.EncodeExact())
		}
		if err := a.settle(); err != nil {
			t.Fatalf("step %d: %v", step, err)
		}
	}
	seen := 0
	for key, want := range model {
		got := map[string]row.Weight{}
		if err := a.each(key, func(r row.Row, w row.Weight) { got[r.EncodeExact()] += w }); err != nil {
			t.Fatal(err)
		}
		if len(got) != len(want) {
			t.Fatalf("key %q: %d rows, want %d", key, len(got), len(want))
		}
		for r, w := range want {
			if got[r] != w {
				t.Fatalf("key %q row %s: weight %d, want %d", key, r, got[r], w)
			}
		}
		if len(want) > 0 {
			seen++
		}
		if b := a.buckets[key]; len(want) > smallBucket && b.idx == nil {
			t.Fatalf("key %q: %d rows and no index", key, len(want))
		}
	}
	if seen != len(a.buckets) {
		t.Fatalf("arrangement holds %d keys, model %d", len(a.buckets), seen)
	}
	// A retraction left uncancelled is reported by settle.
	a.add("x", row.Row{row.NewInt(1)}, -1)
	if err := a.settle(); err == nil {
		t.Fatal("settle accepted a negative multiplicity")
	}
}
