package dataflow_test

import (
	"fmt"
	"math/rand"
	"strings"
	"testing"
	"time"

	"github.com/rippledb/ripple/dataflow"
	"github.com/rippledb/ripple/internal/row"
)

// The differential test steps a graph with random changes of A(k, v) and
// B(k, w) and, after every step, compares each accumulated output with the
// same query evaluated from scratch, in plain Go, over the current tables.

// diffGraph builds the views under test.
func diffGraph() *dataflow.Graph {
	g := dataflow.New()
	a, b := g.Input(tblA, schemaA), g.Input(tblB, schemaB)

	// fm: SELECT k, k+v FROM a WHERE v > 2
	g.Output("fm", g.Map(g.Filter(a, colGT(1, 2), "v > 2"), kPlusV, intSchema("k", "kv"), "k, k+v"))

	// j: SELECT * FROM a JOIN b ON a.k = b.k
	j := g.Join(a, b, []int{0}, []int{0}, "a.k = b.k")
	g.Output("j", j)

	// r: SELECT a.k, count(*), sum(a.v) FROM a JOIN b ON a.k = b.k GROUP BY a.k
	g.Output("r", g.Reduce(j, []int{0}, []dataflow.Aggregate{countAgg{-1}, sumAgg{1}}, false,
		intSchema("k", "count", "sum"), "GROUP BY a.k"))

	// rr, gr: r and g once more, over aggregates whose states cannot be
	// written out (so the Reduce keeps its input rows, as for min/max).
	g.Output("rr", g.Reduce(j, []int{0}, []dataflow.Aggregate{rowsAgg{countAgg{-1}}, rowsAgg{sumAgg{1}}}, false,
		intSchema("k", "count", "sum"), "GROUP BY a.k"))
	g.Output("gr", g.Reduce(a, nil, []dataflow.Aggregate{rowsAgg{countAgg{-1}}, rowsAgg{sumAgg{1}}}, true,
		intSchema("count", "sum"), ""))

	// d: SELECT DISTINCT v FROM a
	g.Output("d", g.Distinct(g.Map(a, project(1), intSchema("v"), "v"), "DISTINCT"))

	// u: SELECT * FROM a WHERE k % 2 = 0 UNION ALL SELECT * FROM a WHERE v IS NULL
	g.Output("u", g.Union([]*dataflow.Node{
		g.Filter(a, colEven(0), "k % 2 = 0"),
		g.Filter(a, colIsNull(1), "v IS NULL"),
	}, nil, "UNION ALL"))

	// jv: SELECT * FROM a JOIN b ON a.v = b.w (NULL v never matches)
	g.Output("jv", g.Join(a, b, []int{1}, []int{1}, "a.v = b.w"))

	// g: SELECT count(*), sum(v) FROM a (one row, even over an empty a)
	g.Output("g", g.Reduce(a, nil, []dataflow.Aggregate{countAgg{-1}, sumAgg{1}}, true,
		intSchema("count", "sum"), ""))

	// dj: SELECT DISTINCT a.k, b.w FROM a JOIN b ON a.k = b.k, fed by the
	// join shared with j and r.
	g.Output("dj", g.Distinct(g.Map(j, project(0, 3), intSchema("k", "w"), "a.k, b.w"), "DISTINCT"))
	return g
}

// oracle evaluates every view of diffGraph over the tables a and b.
func oracle(a, b multiset) map[string]multiset {
	out := map[string]multiset{}
	for _, n := range []string{"fm", "j", "r", "rr", "d", "u", "jv", "g", "gr", "dj"} {
		out[n] = multiset{}
	}
	as, bs := a.batch(), b.batch()
	type agg struct {
		key      row.Datum
		count    int64
		sum, cnt int64
	}
	groups := map[int64]*agg{}
	var gcount, gsum, gcnt int64
	for _, x := range as {
		k, _ := ints(x.Row[0])
		v, vok := ints(x.Row[1])
		m := x.W
		if vok && v > 2 {
			out["fm"].add(row.Update{Row: R(k, k+v), W: m})
		}
		out["d"].add(row.Update{Row: R(x.Row[1]), W: 1})
		if k%2 == 0 {
			out["u"].add(x)
		}
		if !vok {
			out["u"].add(x)
		}
		gcount += int64(m)
		if vok {
			gsum += v * int64(m)
			gcnt += int64(m)
		}
		for _, y := range bs {
			bk, _ := ints(y.Row[0])
			w, wok := ints(y.Row[1])
			if k == bk {
				out["j"].add(row.Update{Row: R(k, x.Row[1], bk, w), W: m * y.W})
				out["dj"].add(row.Update{Row: R(k, w), W: 1})
				gr := groups[k]
				if gr == nil {
					gr = &agg{key: x.Row[0]}
					groups[k] = gr
				}
				gr.count += int64(m * y.W)
				if vok {
					gr.sum += v * int64(m*y.W)
					gr.cnt += int64(m * y.W)
				}
			}
			if vok && wok && v == w {
				out["jv"].add(row.Update{Row: R(k, v, bk, w), W: m * y.W})
			}
		}
	}
	for _, gr := range groups {
		sum := row.Null
		if gr.cnt > 0 {
			sum = row.NewInt(gr.sum)
		}
		out["r"].add(row.Update{Row: R(gr.key, gr.count, sum), W: 1})
		out["rr"].add(row.Update{Row: R(gr.key, gr.count, sum), W: 1})
	}
	gs := row.Null
	if gcnt > 0 {
		gs = row.NewInt(gsum)
	}
	out["g"].add(row.Update{Row: R(gcount, gs), W: 1})
	out["gr"].add(row.Update{Row: R(gcount, gs), W: 1})
	// Distinct views: clamp the multiplicities to 1.
	for _, n := range []string{"d", "dj"} {
		for k, u := range out[n] {
			u.W = 1
			out[n][k] = u
		}
	}
	return out
}

// diffMismatch describes how got differs from want, or "" when equal.
func diffMismatch(got, want multiset) string {
	var b strings.Builder
	for k, w := range want {
		g, ok := got[k]
		if !ok || g.W != w.W || !row.RowsIdentical(g.Row, w.Row) {
			fmt.Fprintf(&b, "\n  want %+d %s, got %+d", w.W, fmtRow(w.Row), g.W)
		}
	}
	for k, g := range got {
		if _, ok := want[k]; !ok {
			fmt.Fprintf(&b, "\n  unexpected %+d %s", g.W, fmtRow(g.Row))
		}
	}
	return b.String()
}

// randomDelta generates one step's changes of table t (updated in place):
// inserts of random rows, duplicates included, and deletes of rows
// currently present — possibly ones inserted earlier in the same step.
func randomDelta(rng *rand.Rand, t multiset, mk func() row.Row) dataflow.Batch {
	var delta dataflow.Batch
	n := rng.Intn(5)
	if rng.Intn(10) == 0 {
		n = 10 + rng.Intn(20) // occasionally a bulk change
	}
	for range n {
		size := 0
		for _, u := range t {
			size += int(u.W)
		}
		del := size > 0 && rng.Intn(60) < 25+size/2
		switch {
		case del:
			// Pick a present row, weighted by multiplicity.
			rows := t.batch()
			i := rng.Intn(size)
			var pick row.Update
			for _, u := range rows {
				if i < int(u.W) {
					pick = u
					break
				}
				i -= int(u.W)
			}
			w := row.Weight(1)
			if pick.W > 1 && rng.Intn(4) == 0 {
				w = pick.W // all copies at once
			}
			u := row.Update{Row: pick.Row, W: -w}
			t.add(u)
			delta = append(delta, u)
		case size > 0 && rng.Intn(6) == 0:
			// Duplicate an existing row.
			rows := t.batch()
			u := row.Update{Row: rows[rng.Intn(len(rows))].Row, W: 1}
			t.add(u)
			delta = append(delta, u)
		default:
			w := row.Weight(1)
			if rng.Intn(8) == 0 {
				w = 2
			}
			u := row.Update{Row: mk(), W: w}
			t.add(u)
			delta = append(delta, u)
		}
	}
	return delta
}

func TestDifferential(t *testing.T) {
	seed := time.Now().UnixNano()
	steps := 2000
	if testing.Short() {
		steps = 300
	}
	// A fixed seed for a stable baseline, and a fresh one each run; a
	// failure names its seed (in the subtest name and the message).
	for _, s := range []int64{1, seed} {
		for _, sp := range spillModes {
			t.Run(fmt.Sprintf("seed=%d/%s", s, sp.name), func(t *testing.T) {
				runDifferential(t, s, steps, sp)
			})
		}
	}
}

// spillMode is where a graph's arrangements live in a differential test:
// in memory, in a spill store from the start, or moved there mid-run once
// they outgrow a small budget.
type spillMode struct {
	name   string
	store  bool
	budget int64
}

var spillModes = []spillMode{{"memory", false, 0}, {"spilled", true, 0}, {"moved", true, 256}}

// setSpill applies sp to g and returns a check, run after the last step,
// that the arrangements are where sp says.
func setSpill(t *testing.T, g *dataflow.Graph, sp spillMode) func() {
	t.Helper()
	cache := dataflow.ReduceCacheGroups
	if sp.store {
		if err := g.SetSpill(dataflow.NewMemSpill(), sp.budget); err != nil {
			t.Fatal(err)
		}
		// A tiny group cache, so that aggregates rebuild evicted groups
		// from their rows on disk.
		dataflow.ReduceCacheGroups = 3
	}
	return func() {
		t.Helper()
		dataflow.ReduceCacheGroups = cache
		if n, most, evicted := dataflow.ReduceCache(g); n > 0 && sp.store && sp.budget == 0 && (most > 3 || evicted == 0) {
			t.Fatalf("with the aggregates' rows on disk a Reduce holds up to %d groups and evicted %d, want at most 3 and some", most, evicted)
		}
		bytes, n, spilled := g.OperatorMemory()
		switch {
		case n == 0:
			t.Fatal("the graph has no arrangements to spill")
		case !sp.store && spilled > 0:
			t.Fatalf("%d arrangements spilled without a store", spilled)
		case sp.store && sp.budget == 0 && (spilled != n || bytes != 0):
			t.Fatalf("%d of %d arrangements spilled (%d bytes in memory), want all", spilled, n, bytes)
		case sp.store && sp.budget > 0 && (spilled == 0 || bytes > sp.budget):
			t.Fatalf("%d of %d arrangements spilled, %d bytes in memory over a budget of %d", spilled, n, bytes, sp.budget)
		}
	}
}

func runDifferential(t *testing.T, seed int64, steps int, sp spillMode) {
	rng := rand.New(rand.NewSource(seed))
	g := diffGraph()
	defer setSpill(t, g, sp)()
	names := g.Outputs()
	tables := map[row.TableName]multiset{tblA: {}, tblB: {}}
	acc := map[string]multiset{}
	for _, n := range names {
		acc[n] = multiset{}
	}
	mkA := func() row.Row {
		v := row.NewInt(int64(rng.Intn(6)))
		if rng.Intn(5) == 0 {
			v = row.Null
		}
		return R(rng.Intn(8), v)
	}
	mkB := func() row.Row { return R(rng.Intn(8), rng.Intn(6)) }

	for step := range steps {
		in := map[row.TableName]dataflow.Batch{}
		switch rng.Intn(10) {
		case 0: // nothing changes
			if rng.Intn(2) == 0 {
				in[tblA] = nil
			}
		case 1, 2, 3:
			in[tblA] = randomDelta(rng, tables[tblA], mkA)
		case 4, 5:
			in[tblB] = randomDelta(rng, tables[tblB], mkB)
		default:
			in[tblA] = randomDelta(rng, tables[tblA], mkA)
			in[tblB] = randomDelta(rng, tables[tblB], mkB)
		}
		res, err := g.Step(in)
		if err != nil {
			t.Fatalf("seed %d step %d: %v", seed, step, err)
		}
		want := oracle(tables[tblA], tables[tblB])
		failed := false
		for _, n := range names {
			checkConsolidated(t, n, res[n])
			acc[n].addBatch(res[n])
			if neg := acc[n].negatives(); len(neg) > 0 {
				t.Errorf("seed %d step %d: output %s has negative multiplicities: %v", seed, step, n, neg)
				failed = true
			}
			if d := diffMismatch(acc[n], want[n]); d != "" {
				t.Errorf("seed %d step %d: output %s differs from the oracle:%s\nlast input: A %s | B %s",
					seed, step, n, d, fmtBatch(in[tblA]), fmtBatch(in[tblB]))
				failed = true
			}
		}
		if failed {
			t.Logf("reproduce with runDifferential(t, %d, %d)", seed, step+1)
			t.FailNow()
		}
	}
}
