package dataflow_test

import (
	"fmt"
	"math/rand"
	"sort"
	"testing"

	"github.com/rippledb/ripple/dataflow"
	"github.com/rippledb/ripple/internal/row"
)

// refCompare is the reference order of the ordered operators: the sort
// keys, then the rows' exact encoding among peers.
func refCompare(keys []dataflow.SortKey, a, b row.Row) int {
	for _, k := range keys {
		x, y := a[k.Col], b[k.Col]
		if x.IsNull() || y.IsNull() {
			if x.IsNull() && y.IsNull() {
				continue
			}
			if x.IsNull() == k.NullsFirst {
				return -1
			}
			return 1
		}
		c := row.Compare(x, y)
		if k.Desc {
			c = -c
		}
		if c != 0 {
			return c
		}
	}
	return 0
}

// refPartitions expands the multiset m into its rows grouped by the group
// columns, each group sorted by keys (peers by exact encoding).
func refPartitions(m multiset, group []int, keys []dataflow.SortKey) map[string][]row.Row {
	parts := map[string][]row.Row{}
	for _, u := range m {
		k := u.Row.Key(group)
		for range int(u.W) {
			parts[k] = append(parts[k], u.Row)
		}
	}
	for _, rows := range parts {
		sort.SliceStable(rows, func(i, j int) bool {
			if c := refCompare(keys, rows[i], rows[j]); c != 0 {
				return c < 0
			}
			return string(row.AppendBinary(nil, rows[i])) < string(row.AppendBinary(nil, rows[j]))
		})
	}
	return parts
}

func refTopK(m multiset, group []int, keys []dataflow.SortKey, offset, limit int) multiset {
	out := multiset{}
	for _, rows := range refPartitions(m, group, keys) {
		for i, r := range rows {
			if i >= offset && (limit < 0 || i < offset+limit) {
				out.add(row.Update{Row: r, W: 1})
			}
		}
	}
	return out
}

func TestTopKExample(t *testing.T) {
	g := dataflow.New()
	a := g.Input(tblA, schemaA)
	// SELECT * FROM a ORDER BY v DESC, k LIMIT 2 OFFSET 1 (NULLs first under DESC)
	g.Output("t", g.TopK(a, nil, []dataflow.SortKey{{Col: 1, Desc: true, NullsFirst: true}, {Col: 0}}, 1, 2, ""))
	steps := []struct {
		in   dataflow.Batch
		want string
	}{
		{B(U(1, 1, 10), U(1, 2, 20), U(1, 3, 30)), "+1 (1,10); +1 (2,20)"},
		{B(U(1, 4, nil)), "-1 (1,10); +1 (3,30)"},
		{B(U(-1, 3, 30), U(1, 3, 15)), "+1 (3,15); -1 (3,30)"},
		{B(U(1, 5, 5)), ""},
		{B(U(-1, 4, nil), U(-1, 2, 20)), "+1 (1,10); -1 (2,20); -1 (3,15); +1 (5,5)"},
	}
	for i, s := range steps {
		res, err := g.Step(map[row.TableName]dataflow.Batch{tblA: s.in})
		if err != nil {
			t.Fatal(err)
		}
		got := res["t"]
		dataflow.SortBatch(got)
		if f := fmtBatch(got); f != s.want {
			t.Errorf("step %d: got %s, want %s", i, f, s.want)
		}
	}
}

// TestTopKDifferential steps TopK variants with random changes (ties and
// duplicate rows included) and compares the accumulated output with the
// window computed from scratch after every step.
func TestTopKDifferential(t *testing.T) {
	variants := []topKVariant{
		{nil, []dataflow.SortKey{{Col: 1}}, 0, 3},
		{nil, []dataflow.SortKey{{Col: 1, Desc: true, NullsFirst: true}, {Col: 0}}, 2, 4},
		{[]int{0}, []dataflow.SortKey{{Col: 1, NullsFirst: true}}, 0, 2},
		{[]int{0}, []dataflow.SortKey{{Col: 1, Desc: true}}, 1, 1},
		{nil, []dataflow.SortKey{{Col: 0, Desc: true}}, 3, -1},
		{[]int{1}, []dataflow.SortKey{{Col: 0}}, 0, 0},
	}
	// In memory, in the spill store from the start, and moved there
	// mid-run: a spilled TopK reads its windows in the store's key order,
	// which must be the tree's order, ties included.
	for _, sp := range spillModes {
		for seed := int64(1); seed <= 20; seed++ {
			t.Run(fmt.Sprintf("%s/seed=%d", sp.name, seed), func(t *testing.T) {
				runTopKDifferential(t, seed, sp, variants)
			})
		}
	}
}

type topKVariant struct {
	group         []int
	keys          []dataflow.SortKey
	offset, limit int
}

func runTopKDifferential(t *testing.T, seed int64, sp spillMode, variants []topKVariant) {
	rng := rand.New(rand.NewSource(seed))
	g := dataflow.New()
	a := g.Input(tblA, schemaA)
	for i, v := range variants {
		g.Output(fmt.Sprint(i), g.TopK(a, v.group, v.keys, int64(v.offset), int64(v.limit), ""))
	}
	defer setSpill(t, g, sp)()
	table := multiset{}
	got := make([]multiset, len(variants))
	for i := range got {
		got[i] = multiset{}
	}
	mk := func() row.Row {
		v := any(rng.Intn(6))
		if rng.Intn(5) == 0 {
			v = nil
		}
		return R(rng.Intn(4), v)
	}
	for step := 0; step < 150; step++ {
		delta := randomDelta(rng, table, mk)
		res, err := g.Step(map[row.TableName]dataflow.Batch{tblA: delta})
		if err != nil {
			t.Fatalf("seed %d step %d: %v", seed, step, err)
		}
		for i, v := range variants {
			got[i].addBatch(res[fmt.Sprint(i)])
			want := refTopK(table, v.group, v.keys, v.offset, v.limit)
			if d := diffMismatch(got[i], want); d != "" {
				t.Fatalf("seed %d step %d variant %d: %s", seed, step, i, d)
			}
		}
	}
}
