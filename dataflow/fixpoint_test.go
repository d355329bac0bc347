package dataflow_test

import (
	"fmt"
	"math/rand"
	"strings"
	"testing"

	"github.com/rippledb/ripple/dataflow"
	"github.com/rippledb/ripple/internal/row"
)

// closureGraph maintains WITH RECURSIVE r(anc, des) AS (SELECT parent,
// child FROM edges UNION [ALL] SELECT r.anc, e.child FROM r JOIN edges e
// ON e.parent = r.des).
func closureGraph(distinct bool) (*dataflow.Graph, row.TableName) {
	edges := row.TableName{Schema: "public", Name: "edges"}
	rec := row.TableName{Name: "#recursive r"}
	schema := row.Schema{{Name: "anc", Type: row.Int4}, {Name: "des", Type: row.Int4}}
	inner := dataflow.New()
	ri := inner.Input(rec, schema)
	ei := inner.Input(edges, schema)
	j := inner.Join(ri, ei, []int{1}, []int{0}, "e.parent = r.des")
	term := inner.Map(j, func(r row.Row) (row.Row, error) { return row.Row{r[0], r[3]}, nil }, schema, "r.anc, e.child")
	inner.Output("term", term)
	g := dataflow.New()
	in := g.Input(edges, schema)
	fp := g.Fixpoint([]*dataflow.Node{in, in}, inner, rec, []row.TableName{edges}, distinct, "r")
	g.Output("r", fp)
	return g, edges
}

// refClosure is the closure of the edge multiset from scratch: under UNION
// the reachable pairs, under UNION ALL the number of paths of each pair
// (the edges must form a DAG).
func refClosure(edges map[[2]int64]int64, distinct bool) map[[2]int64]int64 {
	out := map[[2]int64]int64{}
	frontier := map[[2]int64]int64{}
	for e, n := range edges {
		if n != 0 {
			frontier[e] += n
		}
	}
	for len(frontier) > 0 {
		next := map[[2]int64]int64{}
		for p, n := range frontier {
			if n == 0 || (distinct && out[p] > 0) {
				continue
			}
			if distinct {
				n = 1
			}
			out[p] += n
			for e, m := range edges {
				if e[0] == p[1] && m != 0 {
					next[[2]int64{p[0], e[1]}] += n * m
				}
			}
		}
		frontier = next
	}
	return out
}

func TestFixpointClosure(t *testing.T) {
	for _, distinct := range []bool{true, false} {
		name := "union all"
		if distinct {
			name = "union"
		}
		for _, nodes := range []int{7, 12} {
			for _, sp := range spillModes {
				t.Run(fmt.Sprintf("%s/%d nodes/%s", name, nodes, sp.name), func(t *testing.T) { closureRun(t, distinct, nodes, sp) })
			}
		}
	}
}

// closureRun steps a transitive closure through 400 random batches of edge
// insertions and deletions (cycles included under UNION, where deletions
// take DRed's delete-and-rederive path) and checks r after every step.
func closureRun(t *testing.T, distinct bool, nodes int, sp spillMode) {
	{
		{
			r := rand.New(rand.NewSource(int64(7 * nodes)))
			g, edges := closureGraph(distinct)
			defer setSpill(t, g, sp)()
			have := map[[2]int64]int64{}
			got := map[[2]int64]int64{}
			for step := range 400 {
				var b dataflow.Batch
				for range 1 + r.Intn(3) {
					a, c := int64(r.Intn(nodes)), int64(r.Intn(nodes))
					if !distinct && a >= c { // UNION ALL: a DAG
						a, c = min(a, c), max(a, c)+1
					}
					e := [2]int64{a, c}
					w := int64(1)
					if have[e] > 0 && r.Intn(2) == 0 {
						w = -1
					}
					have[e] += w
					b = append(b, row.Update{Row: row.Row{row.NewInt(a), row.NewInt(c)}, W: row.Weight(w)})
				}
				out, err := g.Step(map[row.TableName]dataflow.Batch{edges: b})
				if err != nil {
					t.Fatal(err)
				}
				for _, u := range out["r"] {
					got[[2]int64{u.Row[0].Int(), u.Row[1].Int()}] += int64(u.W)
				}
				want := refClosure(have, distinct)
				for k, n := range got {
					if n != want[k] {
						t.Fatalf("step %d: pair %v: got %d, want %d", step, k, n, want[k])
					}
				}
				for k, n := range want {
					if got[k] != n {
						t.Fatalf("step %d: pair %v: got %d, want %d", step, k, got[k], n)
					}
				}
			}
		}
	}
}

func TestFixpointCycleUnionAll(t *testing.T) {
	g, edges := closureGraph(false)
	b := dataflow.Batch{
		{Row: row.Row{row.NewInt(1), row.NewInt(2)}, W: 1},
		{Row: row.Row{row.NewInt(2), row.NewInt(1)}, W: 1},
	}
	_, err := g.Step(map[row.TableName]dataflow.Batch{edges: b})
	if err == nil || !strings.Contains(err.Error(), "did not reach a fixed point") {
		t.Fatalf("err = %v, want a fixed point error", err)
	}
}

// BenchmarkFixpointStep: the ancestor closure of a tree of 10k nodes
// (fanout 4, ~60k pairs); each step adds or removes one leaf edge. The
// baseline "scratch" is what a non-incremental engine pays per change:
// the closure computed from all edges. Under UNION a step that deletes
// recomputes the closure (about the baseline's cost); run it with
// -benchtime 500x to measure inserts only. Measured on this machine:
// union-all 12 µs/step, union (inserts) 21 µs/step, scratch 143 ms.
func BenchmarkFixpointStep(b *testing.B) {
	const nodes = 10_000
	edge := func(child int) row.Row { return row.Row{row.NewInt(int64((child - 1) / 4)), row.NewInt(int64(child))} }
	for _, distinct := range []bool{false, true} {
		name := "union-all"
		if distinct {
			name = "union"
		}
		b.Run(name, func(b *testing.B) {
			g, edges := closureGraph(distinct)
			loadTable(b, g, edges, nodes-1, func(i int) row.Row { return edge(i + 1) })
			stepSingleRows(b, g, edges, func(j int) row.Row { return edge(nodes + (j*97)%nodes) })
		})
	}
	b.Run("scratch", func(b *testing.B) {
		for range b.N {
			g, edges := closureGraph(true)
			loadTable(b, g, edges, nodes-1, func(i int) row.Row { return edge(i + 1) })
		}
	})
}
