package pipeline

import (
	"encoding/binary"
	"fmt"
	"testing"

	"github.com/rippledb/ripple/dataflow"
	"github.com/rippledb/ripple/internal/row"
	"github.com/rippledb/ripple/internal/state"
)

// BenchmarkJoinStep steps a join of two 100,000-row tables with changes of
// 1,000 rows of one side that move rows to another join key, with the
// arrangements in memory (the baseline) and in the operator spill store on
// disk; ns/op is per changed row.
func BenchmarkJoinStep(b *testing.B) {
	ta := row.TableName{Schema: "public", Name: "a"}
	tb := row.TableName{Schema: "public", Name: "b"}
	sch := row.Schema{{Name: "id", Type: row.Int8}, {Name: "k", Type: row.Int8}, {Name: "pad", Type: row.Text}}
	const n, batch = 100000, 1000
	mk := func(id, k int64) row.Row {
		return row.Row{row.NewInt(id), row.NewInt(k), row.NewText(fmt.Sprintf("pad-%08d", id))}
	}
	for _, mode := range []string{"memory", "spilled"} {
		b.Run(mode, func(b *testing.B) {
			g := dataflow.New()
			g.Output("j", g.Join(g.Input(ta, sch), g.Input(tb, sch), []int{1}, []int{1}, "a.k = b.k"))
			if mode == "spilled" {
				sp, err := state.OpenSpill(b.TempDir(), 0, nil)
				if err != nil {
					b.Fatal(err)
				}
				defer sp.Close()
				if err := g.SetSpill(sp, 0); err != nil {
					b.Fatal(err)
				}
			}
			var la, lb dataflow.Batch
			for i := int64(0); i < n; i++ {
				la = append(la, row.Update{Row: mk(i, i%20000), W: 1})
				lb = append(lb, row.Update{Row: mk(i, i%20000), W: 1})
			}
			if _, err := g.Step(map[row.TableName]dataflow.Batch{ta: la, tb: lb}); err != nil {
				b.Fatal(err)
			}
			keys := make([]int64, n)
			for i := range keys {
				keys[i] = int64(i) % 20000
			}
			b.ResetTimer()
			for it := 0; it < b.N; it++ {
				var d dataflow.Batch
				for j := 0; j < batch/2; j++ {
					id := int64((it*batch/2 + j) % n)
					nk := (keys[id] + 7) % 20000
					d = append(d, row.Update{Row: mk(id, keys[id]), W: -1}, row.Update{Row: mk(id, nk), W: 1})
					keys[id] = nk
				}
				if _, err := g.Step(map[row.TableName]dataflow.Batch{ta: d}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*batch), "ns/change")
		})
	}
}

// benchCount is count(*) for BenchmarkAggregateStep.
type benchCount struct{ n int64 }

func (c *benchCount) Add(_ row.Row, w row.Weight) error { c.n += int64(w); return nil }
func (c *benchCount) Result() (row.Datum, error)        { return row.NewInt(c.n), nil }

// benchCountAgg is count(*); with enc, its state can be written out (as
// ripple's own count), else the Reduce keeps its input rows (as for min).
type benchCountAgg struct{ enc bool }

func (a benchCountAgg) New() dataflow.AggState {
	if a.enc {
		return &benchCountEnc{}
	}
	return &benchCount{}
}
func (benchCountAgg) String() string { return "count(*)" }

type benchCountEnc struct{ benchCount }

func (c *benchCountEnc) AppendState(buf []byte) []byte { return binary.AppendVarint(buf, c.n) }
func (c *benchCountEnc) LoadState(b []byte) error {
	var k int
	if c.n, k = binary.Varint(b); k != len(b) {
		return fmt.Errorf("count state %x", b)
	}
	return nil
}

// BenchmarkAggregateStep steps SELECT k, count(*) FROM a GROUP BY k over
// 100,000 rows in 20,000 groups with changes of 1,000 rows that move rows
// to another group: without a spill store (the baseline: no input
// arrangement), with one but under budget (the input rows arranged in
// memory, as ripple runs with a state_dir), with the input rows on disk
// and every group cached, and on disk with a 1,000-group cache (most
// touched groups rebuilt from their rows on disk). Each twice: "groups"
// with a count whose state is written out (no input rows kept: the groups
// themselves move to disk and are read back), "rows" with one whose state
// is not. ns/change is per changed row.
func BenchmarkAggregateStep(b *testing.B) {
	modes := []struct {
		name   string
		store  bool
		budget int64
		cache  int
	}{{"no-store", false, 0, 0}, {"store-in-memory", true, 1 << 30, 0}, {"spilled", true, 0, 0}, {"spilled-cache-1000", true, 0, 1000}}
	for _, mode := range modes {
		for _, enc := range []bool{true, false} {
			name := mode.name + "/rows"
			if enc {
				name = mode.name + "/groups"
			}
			b.Run(name, func(b *testing.B) {
				benchAggregate(b, mode.store, mode.budget, mode.cache, enc)
			})
		}
	}
}

func benchAggregate(b *testing.B, store bool, budget int64, cache int, enc bool) {
	ta := row.TableName{Schema: "public", Name: "a"}
	sch := row.Schema{{Name: "id", Type: row.Int8}, {Name: "k", Type: row.Int8}, {Name: "pad", Type: row.Text}}
	const n, batch, groups = 100000, 1000, 20000
	mk := func(id, k int64) row.Row {
		return row.Row{row.NewInt(id), row.NewInt(k), row.NewText(fmt.Sprintf("pad-%08d", id))}
	}
	if cache > 0 {
		old := dataflow.ReduceCacheGroups
		dataflow.ReduceCacheGroups = cache
		defer func() { dataflow.ReduceCacheGroups = old }()
	}
	g := dataflow.New()
	g.Output("r", g.Reduce(g.Input(ta, sch), []int{1}, []dataflow.Aggregate{benchCountAgg{enc}}, false,
		row.Schema{{Name: "k", Type: row.Int8}, {Name: "n", Type: row.Int8}}, "GROUP BY k"))
	if store {
		sp, err := state.OpenSpill(b.TempDir(), 0, nil)
		if err != nil {
			b.Fatal(err)
		}
		defer sp.Close()
		if err := g.SetSpill(sp, budget); err != nil {
			b.Fatal(err)
		}
	}
	var la dataflow.Batch
	for i := int64(0); i < n; i++ {
		la = append(la, row.Update{Row: mk(i, i%groups), W: 1})
	}
	if _, err := g.Step(map[row.TableName]dataflow.Batch{ta: la}); err != nil {
		b.Fatal(err)
	}
	keys := make([]int64, n)
	for i := range keys {
		keys[i] = int64(i) % groups
	}
	b.ResetTimer()
	for it := 0; it < b.N; it++ {
		var d dataflow.Batch
		for j := 0; j < batch/2; j++ {
			id := int64((it*batch/2 + j) % n)
			nk := (keys[id] + 7) % groups
			d = append(d, row.Update{Row: mk(id, keys[id]), W: -1}, row.Update{Row: mk(id, nk), W: 1})
			keys[id] = nk
		}
		if _, err := g.Step(map[row.TableName]dataflow.Batch{ta: d}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*batch), "ns/change")
	mem, _, _ := g.OperatorMemory()
	b.ReportMetric(float64(mem)/n, "opmem-B/row")
}

// BenchmarkJoinStepLarge steps a join of two 1,000,000-row tables on a
// key with four rows a side (as orders and lineitem on orderkey), with
// refreshes shaped like TPC-H's: each step inserts 250 new keys' rows and
// deletes 250 old keys' rows on both sides. With the arrangements in
// memory (the baseline) and on disk, where the state (about 200 MB) is
// larger than the spill store's default block cache, with that cache and
// with a larger one. ns/change is per changed row.
func BenchmarkJoinStepLarge(b *testing.B) {
	ta := row.TableName{Schema: "public", Name: "a"}
	tb := row.TableName{Schema: "public", Name: "b"}
	sch := row.Schema{{Name: "id", Type: row.Int8}, {Name: "k", Type: row.Int8}, {Name: "pad", Type: row.Text}}
	const n, perKey, keysPerStep = 1000000, 4, 250
	mk := func(id int64) row.Row {
		return row.Row{row.NewInt(id), row.NewInt(id / perKey), row.NewText(fmt.Sprintf("%060d", id*7919))}
	}
	modes := []struct {
		name  string
		spill bool
		cache int64
	}{{"memory", false, 0}, {"spilled-64MiB", true, 64 << 20}, {"spilled-512MiB", true, 512 << 20}}
	for _, mode := range modes {
		b.Run(mode.name, func(b *testing.B) {
			g := dataflow.New()
			g.Output("j", g.Join(g.Input(ta, sch), g.Input(tb, sch), []int{1}, []int{1}, "a.k = b.k"))
			if mode.spill {
				sp, err := state.OpenSpill(b.TempDir(), mode.cache, nil)
				if err != nil {
					b.Fatal(err)
				}
				defer sp.Close()
				if err := g.SetSpill(sp, 0); err != nil {
					b.Fatal(err)
				}
			}
			var load dataflow.Batch
			for i := int64(0); i < n; i++ {
				load = append(load, row.Update{Row: mk(i), W: 1})
			}
			if _, err := g.Step(map[row.TableName]dataflow.Batch{ta: load, tb: load}); err != nil {
				b.Fatal(err)
			}
			load = nil
			// Keys live in [lo, hi): each step deletes keys from a
			// pseudo-random walk over the live ones and adds keys at hi.
			lo, hi := int64(0), int64(n/perKey)
			deleted := map[int64]bool{}
			next := uint64(12345)
			b.ResetTimer()
			for it := 0; it < b.N; it++ {
				var d dataflow.Batch
				for j := 0; j < keysPerStep; j++ {
					for {
						next = next*6364136223846793005 + 1442695040888963407
						k := lo + int64(next>>33)%(hi-lo)
						if !deleted[k] {
							deleted[k] = true
							for r := int64(0); r < perKey; r++ {
								d = append(d, row.Update{Row: mk(k*perKey + r), W: -1})
							}
							break
						}
					}
					for r := int64(0); r < perKey; r++ {
						d = append(d, row.Update{Row: mk(hi*perKey + r), W: 1})
					}
					hi++
				}
				if _, err := g.Step(map[row.TableName]dataflow.Batch{ta: d, tb: d}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*keysPerStep*perKey*2*2), "ns/change")
		})
	}
}

// BenchmarkOrderedStep steps a top-k (ORDER BY k DESC, id LIMIT 25 OFFSET
// 5), a keyed top-1 (DISTINCT ON (k) ... ORDER BY k, id DESC) and a window
// (row_number() OVER (PARTITION BY k ORDER BY id)) over a 100,000-row table
// with 20,000 keys, with changes of 1,000 rows that move rows to another key,
// with their state in memory (the baseline) and in the operator spill store
// on disk; ns/op is per changed row.
func BenchmarkOrderedStep(b *testing.B) {
	ta := row.TableName{Schema: "public", Name: "a"}
	sch := row.Schema{{Name: "id", Type: row.Int8}, {Name: "k", Type: row.Int8}, {Name: "pad", Type: row.Text}}
	const n, batch = 100000, 1000
	mk := func(id, k int64) row.Row {
		return row.Row{row.NewInt(id), row.NewInt(k), row.NewText(fmt.Sprintf("pad-%08d", id))}
	}
	ops := map[string]func(g *dataflow.Graph, in *dataflow.Node) *dataflow.Node{
		"topk": func(g *dataflow.Graph, in *dataflow.Node) *dataflow.Node {
			return g.TopK(in, nil, []dataflow.SortKey{{Col: 1, Desc: true, NullsFirst: true}, {Col: 0}}, 5, 25, "")
		},
		"top1": func(g *dataflow.Graph, in *dataflow.Node) *dataflow.Node {
			return g.TopK(in, []int{1}, []dataflow.SortKey{{Col: 0, Desc: true, NullsFirst: true}}, 0, 1, "")
		},
		"window": func(g *dataflow.Graph, in *dataflow.Node) *dataflow.Node {
			return g.Window(in, []int{1}, []dataflow.SortKey{{Col: 0}}, []dataflow.WindowFunc{{Kind: dataflow.RowNumber, Label: "row_number()"}},
				append(sch[:3:3], row.Column{Name: "rn", Type: row.Int8}), "")
		},
	}
	for _, op := range []string{"topk", "top1", "window"} {
		for _, mode := range []string{"memory", "spilled"} {
			b.Run(op+"/"+mode, func(b *testing.B) {
				g := dataflow.New()
				g.Output("v", ops[op](g, g.Input(ta, sch)))
				if mode == "spilled" {
					sp, err := state.OpenSpill(b.TempDir(), 0, nil)
					if err != nil {
						b.Fatal(err)
					}
					defer sp.Close()
					if err := g.SetSpill(sp, 0); err != nil {
						b.Fatal(err)
					}
				}
				var load dataflow.Batch
				keys := make([]int64, n)
				for i := int64(0); i < n; i++ {
					keys[i] = i % 20000
					load = append(load, row.Update{Row: mk(i, keys[i]), W: 1})
				}
				if _, err := g.Step(map[row.TableName]dataflow.Batch{ta: load}); err != nil {
					b.Fatal(err)
				}
				b.ResetTimer()
				for it := 0; it < b.N; it++ {
					var d dataflow.Batch
					for j := 0; j < batch/2; j++ {
						id := int64((it*batch/2*7 + j*7) % n)
						nk := (keys[id] + 7) % 20000
						d = append(d, row.Update{Row: mk(id, keys[id]), W: -1}, row.Update{Row: mk(id, nk), W: 1})
						keys[id] = nk
					}
					if _, err := g.Step(map[row.TableName]dataflow.Batch{ta: d}); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*batch), "ns/change")
			})
		}
	}
}
