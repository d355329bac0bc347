package dataflow_test

import (
	"fmt"
	"testing"

	"github.com/rippledb/ripple/dataflow"
	"github.com/rippledb/ripple/internal/row"
)

// Benchmarks of single-row updates against operators holding 100k rows of
// state. They report ns/op (one Step per op); they assert nothing about
// timing.

const benchRows = 100_000

// loadTable fills table t of g with n rows made by mk, in chunks.
func loadTable(b *testing.B, g *dataflow.Graph, t row.TableName, n int, mk func(i int) row.Row) {
	b.Helper()
	const chunk = 10_000
	for lo := 0; lo < n; lo += chunk {
		batch := make(dataflow.Batch, 0, chunk)
		for i := lo; i < min(lo+chunk, n); i++ {
			batch = append(batch, row.Update{Row: mk(i), W: 1})
		}
		if _, err := g.Step(map[row.TableName]dataflow.Batch{t: batch}); err != nil {
			b.Fatal(err)
		}
	}
}

// stepSingleRows steps g b.N times with one-row changes of table t: rows
// mk(0..1023) are inserted in turn, then deleted in turn, and so on, so the
// state stays within 1024 rows of its loaded size.
func stepSingleRows(b *testing.B, g *dataflow.Graph, t row.TableName, mk func(j int) row.Row) {
	b.Helper()
	const ring = 1024
	ins, del := make([]dataflow.Batch, ring), make([]dataflow.Batch, ring)
	for j := range ring {
		r := mk(j)
		ins[j] = dataflow.Batch{{Row: r, W: 1}}
		del[j] = dataflow.Batch{{Row: r, W: -1}}
	}
	in := map[row.TableName]dataflow.Batch{}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		j := i % ring
		if (i/ring)%2 == 0 {
			in[t] = ins[j]
		} else {
			in[t] = del[j]
		}
		if _, err := g.Step(in); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkJoinStep: A ⋈ B on k with 100k rows on each side; each key has
// fanout rows on each side, so a one-row change of A emits fanout rows.
func BenchmarkJoinStep(b *testing.B) {
	for _, fanout := range []int{1, 10} {
		b.Run(fmt.Sprintf("fanout=%d", fanout), func(b *testing.B) {
			keys := benchRows / fanout
			g := dataflow.New()
			a, bb := g.Input(tblA, schemaA), g.Input(tblB, schemaB)
			g.Output("j", g.Join(a, bb, []int{0}, []int{0}, "a.k = b.k"))
			loadTable(b, g, tblA, benchRows, func(i int) row.Row { return R(i%keys, i) })
			loadTable(b, g, tblB, benchRows, func(i int) row.Row { return R(i%keys, i) })
			stepSingleRows(b, g, tblA, func(j int) row.Row { return R((j*97)%keys, -1-j) })
		})
	}
}

// BenchmarkReduceStep: SELECT k, count(*), sum(v) FROM a GROUP BY k over
// 100k rows in 10k groups; each step changes one row of one group.
func BenchmarkReduceStep(b *testing.B) {
	const groups = 10_000
	g := dataflow.New()
	a := g.Input(tblA, schemaA)
	g.Output("r", g.Reduce(a, []int{0}, []dataflow.Aggregate{countAgg{-1}, sumAgg{1}}, false,
		intSchema("k", "count", "sum"), "GROUP BY k"))
	loadTable(b, g, tblA, benchRows, func(i int) row.Row { return R(i%groups, i) })
	stepSingleRows(b, g, tblA, func(j int) row.Row { return R((j*97)%groups, -1-j) })
}

// BenchmarkDistinctStep: SELECT DISTINCT k FROM a over 100k rows with 10k
// distinct values.
func BenchmarkDistinctStep(b *testing.B) {
	const distinct = 10_000
	g := dataflow.New()
	a := g.Input(tblA, schemaA)
	g.Output("d", g.Distinct(g.Map(a, project(0), intSchema("k"), "k"), "DISTINCT"))
	loadTable(b, g, tblA, benchRows, func(i int) row.Row { return R(i%distinct, i) })
	stepSingleRows(b, g, tblA, func(j int) row.Row { return R((j*97)%(2*distinct), -1-j) })
}
