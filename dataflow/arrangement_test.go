package dataflow

import (
	"math/rand/v2"
	"strings"
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
		if _, big := a.big[key]; len(want) > smallBucket && !big {
			t.Fatalf("key %q: %d rows and not a bucket of its own", key, len(want))
		}
	}
	if n := a.small.Len() + len(a.big); seen != n {
		t.Fatalf("arrangement holds %d keys, model %d", n, seen)
	}
	if a.bytes <= 0 || a.bytes != a.small.Bytes()+a.bigBytes+int64(len(a.big))*bigOverhead {
		t.Fatalf("memory estimate %d out of step", a.bytes)
	}
	// A retraction left uncancelled is reported by settle.
	a.add("x", row.Row{row.NewInt(1)}, -1)
	if err := a.settle(); err == nil {
		t.Fatal("settle accepted a negative multiplicity")
	}
}

// TestArrangementBucketForms grows one bucket past the blob size (it gets
// a map of its own) and shrinks it back (a blob again) and to nothing,
// checking its rows, the other bucket beside it and the memory estimate at
// every step.
func TestArrangementBucketForms(t *testing.T) {
	a := newArrangement()
	mk := func(i int) row.Row { return row.Row{row.NewInt(int64(i)), row.NewText(strings.Repeat("x", i%7))} }
	a.add("other", mk(999), 2)
	check := func(n int, when string) {
		t.Helper()
		got := map[string]row.Weight{}
		if err := a.each("k", func(r row.Row, w row.Weight) { got[r.EncodeExact()] += w }); err != nil {
			t.Fatal(err)
		}
		if len(got) != n {
			t.Fatalf("%s: %d rows, want %d", when, len(got), n)
		}
		for i := 0; i < n; i++ {
			if w := got[mk(i).EncodeExact()]; w != row.Weight(i%3+1) {
				t.Fatalf("%s: row %d has weight %d, want %d", when, i, w, i%3+1)
			}
		}
		if enc, w, ok, err := a.first("other"); err != nil || !ok || w != 2 || enc == "" {
			t.Fatalf("%s: the other bucket: %q %d %v %v", when, enc, w, ok, err)
		}
		if err := a.settle(); err != nil {
			t.Fatal(err)
		}
		if a.bytes != a.small.Bytes()+a.bigBytes+int64(len(a.big))*bigOverhead {
			t.Fatalf("%s: memory estimate %d out of step", when, a.bytes)
		}
		_, big := a.big["k"]
		if big != (n > smallBucket) && !(big && n > smallBucket/2) {
			t.Fatalf("%s: %d rows, a bucket of its own: %v", when, n, big)
		}
	}
	const n = 5 * smallBucket
	for i := 0; i < n; i++ {
		// In two parts, the second raising an existing row's weight.
		w := row.Weight(i%3 + 1)
		a.add("k", mk(i), 1)
		if w > 1 {
			a.add("k", mk(i), w-1)
		}
		check(i+1, "growing")
	}
	for i := n - 1; i >= 0; i-- {
		a.add("k", mk(i), -row.Weight(i%3+1))
		check(i, "shrinking")
	}
	if _, ok := a.big["k"]; ok {
		t.Fatal("empty bucket still has a map")
	}
	if _, ok := a.small.Get("k"); ok {
		t.Fatal("empty bucket still has a blob")
	}
}

// TestArrangementAddAllocs: changing the multiplicity of a row already in
// a bucket, small or big, allocates nothing.
func TestArrangementAddAllocs(t *testing.T) {
	a := newArrangement()
	mk := func(i int) row.Row {
		return row.Row{row.NewInt(int64(i)), row.NewText(strings.Repeat("some text of a row ", 4))}
	}
	for i := 0; i < 4*smallBucket; i++ {
		a.add("big", mk(i), 1)
	}
	a.add("small", mk(1), 1)
	for _, key := range []string{"big", "small"} {
		r := mk(1)
		if n := testing.AllocsPerRun(100, func() { a.add(key, r, 1) }); n != 0 {
			t.Errorf("bucket %s: %.1f allocations per add", key, n)
		}
	}
}
