package dataflow_test

import (
	"math/rand"
	"strings"
	"testing"

	"github.com/rippledb/ripple/dataflow"
	"github.com/rippledb/ripple/internal/row"
)

// The temporal filter tests use A(k, v) with v as a timestamp in the
// logical time's unit and bounds built like the planner builds them for
// `v > now() - lag` (valid until v + lag) and `v <= now() + lead` (valid
// from v - lead).

// sliding is `v > now() - lag`: valid during (-inf, v+lag).
func sliding(lag int64) dataflow.Validity {
	return func(r row.Row) (dataflow.Time, dataflow.Time, error) {
		if r[1].IsNull() {
			return dataflow.MaxTime, dataflow.MinTime, nil
		}
		return dataflow.MinTime, dataflow.Time(r[1].Int() + lag), nil
	}
}

// future is `v <= now() + lead`: valid during [v-lead, +inf).
func future(lead int64) dataflow.Validity {
	return func(r row.Row) (dataflow.Time, dataflow.Time, error) {
		if r[1].IsNull() {
			return dataflow.MaxTime, dataflow.MinTime, nil
		}
		return dataflow.Time(r[1].Int() - lead), dataflow.MaxTime, nil
	}
}

// window is `v <= now() AND v > now() - width`: valid during [v, v+width).
func window(width int64) dataflow.Validity {
	return func(r row.Row) (dataflow.Time, dataflow.Time, error) {
		if r[1].IsNull() {
			return dataflow.MaxTime, dataflow.MinTime, nil
		}
		return dataflow.Time(r[1].Int()), dataflow.Time(r[1].Int() + width), nil
	}
}

type tstep struct {
	at   dataflow.Time
	a    dataflow.Batch
	want string
}

func runTemporal(t *testing.T, valid dataflow.Validity, steps []tstep) *dataflow.Graph {
	t.Helper()
	g := dataflow.New()
	a := g.Input(tblA, schemaA)
	g.Output("v", g.TemporalFilter(a, valid, "test"))
	for i, s := range steps {
		in := map[row.TableName]dataflow.Batch{}
		if s.a != nil {
			in[tblA] = s.a
		}
		res, err := g.StepAt(s.at, in)
		if err != nil {
			t.Fatalf("step %d at %d: %v", i, s.at, err)
		}
		if got := fmtBatch(res["v"]); got != s.want {
			t.Errorf("step %d at %d: got %q, want %q", i, s.at, got, s.want)
		}
	}
	return g
}

func TestTemporalFilter(t *testing.T) {
	cases := []struct {
		name  string
		valid dataflow.Validity
		steps []tstep
	}{
		{"inserts: only rows valid now, NULL never", sliding(10), []tstep{
			{at: 100, a: B(U(1, 1, 95), U(1, 2, 89), U(1, 3, 90), U(1, 4, nil), U(2, 5, 120)), want: "+1 (1,95); +2 (5,120)"},
		}},
		{"rows expire as time passes, with no input", sliding(10), []tstep{
			{at: 100, a: B(U(1, 1, 95), U(1, 2, 98), U(1, 3, 120)), want: "+1 (1,95); +1 (2,98); +1 (3,120)"},
			{at: 104, want: ""},
			{at: 105, want: "-1 (1,95)"},
			{at: 105, want: ""},
			{at: 200, want: "-1 (2,98); -1 (3,120)"},
			{at: 1000, want: ""},
		}},
		{"deletes of valid and expired rows", sliding(10), []tstep{
			{at: 100, a: B(U(1, 1, 95), U(1, 2, 98)), want: "+1 (1,95); +1 (2,98)"},
			{at: 106, a: B(U(-1, 1, 95), U(-1, 2, 98)), want: "-1 (1,95); -1 (2,98)"},
			{at: 200, want: ""},
		}},
		{"updates crossing the boundary", sliding(10), []tstep{
			{at: 100, a: B(U(1, 1, 95)), want: "+1 (1,95)"},
			// moved out of the window
			{at: 101, a: B(U(-1, 1, 95), U(1, 1, 50)), want: "-1 (1,95)"},
			// moved back in
			{at: 102, a: B(U(-1, 1, 50), U(1, 1, 99)), want: "+1 (1,99)"},
			// retraction listed before the insertion it cancels
			{at: 103, a: B(U(-1, 1, 99), U(1, 1, 99)), want: ""},
			{at: 108, want: ""},
			{at: 109, want: "-1 (1,99)"},
			{at: 200, want: ""},
		}},
		{"duplicates expire together", sliding(10), []tstep{
			{at: 100, a: B(U(3, 1, 95)), want: "+3 (1,95)"},
			{at: 101, a: B(U(-1, 1, 95)), want: "-1 (1,95)"},
			{at: 105, want: "-2 (1,95)"},
		}},
		{"rows become valid in the future", future(5), []tstep{
			{at: 100, a: B(U(1, 1, 104), U(1, 2, 105), U(1, 3, 106), U(1, 4, 200), U(1, 5, nil)), want: "+1 (1,104); +1 (2,105)"},
			{at: 101, want: "+1 (3,106)"},
			{at: 150, a: B(U(-1, 4, 200)), want: ""},
			{at: 1000, want: ""},
		}},
		{"a row that becomes valid and expires between two steps is never seen", window(5), []tstep{
			{at: 100, a: B(U(1, 1, 110), U(1, 2, 100), U(1, 3, 120)), want: "+1 (2,100)"},
			{at: 112, want: "+1 (1,110); -1 (2,100)"},
			{at: 130, want: "-1 (1,110)"},
		}},
		{"many rows expire in one tick", sliding(1), []tstep{
			{at: 0, a: manyRows(500, 0), want: manyWant(500, 0, "+1")},
			{at: 1, want: manyWant(500, 0, "-1")},
			{at: 2, want: ""},
		}},
		{"ticks with no change", sliding(1000), []tstep{
			{at: 10, a: B(U(1, 1, 10)), want: "+1 (1,10)"},
			{at: 11, want: ""},
			{at: 12, want: ""},
			{at: 12, want: ""},
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { runTemporal(t, c.valid, c.steps) })
	}
}

func manyRows(n int, ts int) dataflow.Batch {
	var b dataflow.Batch
	for i := 0; i < n; i++ {
		b = append(b, U(1, i, ts))
	}
	return b
}

func manyWant(n int, ts int, sign string) string {
	b := manyRows(n, ts)
	dataflow.SortBatch(b)
	parts := make([]string, n)
	for i, u := range b {
		parts[i] = sign + " " + fmtRow(u.Row)
	}
	return strings.Join(parts, "; ")
}

func TestTemporalFilterRefusesTimeGoingBack(t *testing.T) {
	g := runTemporal(t, sliding(10), []tstep{{at: 100, a: B(U(1, 1, 95)), want: "+1 (1,95)"}})
	if _, err := g.StepAt(99, nil); err == nil || !strings.Contains(err.Error(), "before the previous step") {
		t.Fatalf("step back in time: err = %v", err)
	}
}

func TestTemporalFilterNegativeMultiplicity(t *testing.T) {
	g := dataflow.New()
	a := g.Input(tblA, schemaA)
	g.Output("v", g.TemporalFilter(a, sliding(10), "test"))
	_, err := g.StepAt(100, map[row.TableName]dataflow.Batch{tblA: B(U(-1, 1, 99))})
	if err == nil || !strings.Contains(err.Error(), "negative multiplicity") {
		t.Fatalf("retraction of a row never inserted: err = %v", err)
	}
}

// TestTemporalFilterRandom compares the operator, stepped through random
// deltas at random increasing times, with filtering the accumulated input
// from scratch at every step, for each kind of bound.
func TestTemporalFilterRandom(t *testing.T) {
	kinds := map[string]struct {
		valid dataflow.Validity
		in    func(v, now int64) bool
	}{
		"sliding": {sliding(20), func(v, now int64) bool { return v > now-20 }},
		"future":  {future(15), func(v, now int64) bool { return v <= now+15 }},
		"window":  {window(30), func(v, now int64) bool { return v <= now && v > now-30 }},
	}
	for name, k := range kinds {
		t.Run(name, func(t *testing.T) {
			rng := rand.New(rand.NewSource(1))
			for trial := 0; trial < 30; trial++ {
				g := dataflow.New()
				a := g.Input(tblA, schemaA)
				g.Output("v", g.TemporalFilter(a, k.valid, "test"))
				held := map[[2]int64]int64{} // (k, v) -> multiplicity; v == -1 is NULL
				acc := map[string]int64{}    // accumulated output
				now := int64(0)
				for step := 0; step < 40; step++ {
					now += int64(rng.Intn(12))
					var b dataflow.Batch
					for i := rng.Intn(6); i > 0; i-- {
						key := [2]int64{int64(rng.Intn(8)), now - 40 + int64(rng.Intn(80))}
						if rng.Intn(10) == 0 {
							key[1] = -1
						}
						w := int64(1)
						if held[key] > 0 && rng.Intn(2) == 0 {
							w = -1
						}
						held[key] += w
						var v any = int(key[1])
						if key[1] == -1 {
							v = nil
						}
						b = append(b, U(row.Weight(w), int(key[0]), v))
					}
					res, err := g.StepAt(dataflow.Time(now), map[row.TableName]dataflow.Batch{tblA: b})
					if err != nil {
						t.Fatal(err)
					}
					for _, u := range res["v"] {
						acc[fmtRow(u.Row)] += int64(u.W)
					}
					want := map[string]int64{}
					for key, n := range held {
						if n != 0 && key[1] != -1 && k.in(key[1], now) {
							want[fmtRow(R(int(key[0]), int(key[1])))] = n
						}
					}
					for r, n := range acc {
						if n == 0 {
							delete(acc, r)
						}
					}
					if !equalCounts(acc, want) {
						t.Fatalf("trial %d step %d at %d: output %v, want %v", trial, step, now, acc, want)
					}
				}
			}
		})
	}
}

func equalCounts(a, b map[string]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
