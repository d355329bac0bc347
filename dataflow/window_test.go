package dataflow_test

import (
	"fmt"
	"math/rand"
	"testing"

	"github.com/rippledb/ripple/dataflow"
	"github.com/rippledb/ripple/internal/row"
)

// refFrame is the frame of row i computed naively: positions [s, e].
func refFrame(f dataflow.Frame, keys []dataflow.SortKey, rows []row.Row, i int) (int, int) {
	pos := func(b dataflow.FrameBound, start bool) int {
		switch b.Kind {
		case dataflow.UnboundedPreceding:
			return 0
		case dataflow.UnboundedFollowing:
			return len(rows) - 1
		case dataflow.Preceding:
			return i - int(b.N)
		case dataflow.Following:
			return i + int(b.N)
		}
		if f.Rows {
			return i
		}
		j := i
		if start {
			for j > 0 && refCompare(keys, rows[j-1], rows[i]) == 0 {
				j--
			}
		} else {
			for j < len(rows)-1 && refCompare(keys, rows[j+1], rows[i]) == 0 {
				j++
			}
		}
		return j
	}
	return max(pos(f.Start, true), 0), min(pos(f.End, false), len(rows)-1)
}

// refWindow evaluates funcs over every partition from scratch.
func refWindow(t *testing.T, m multiset, part []int, keys []dataflow.SortKey, funcs []dataflow.WindowFunc) multiset {
	out := multiset{}
	for _, rows := range refPartitions(m, part, keys) {
		for i, r := range rows {
			nr := append(row.Row(nil), r...)
			for _, f := range funcs {
				var d row.Datum
				switch f.Kind {
				case dataflow.RowNumber:
					d = row.NewInt(int64(i + 1))
				case dataflow.Rank:
					rank := 1
					for j := 0; j < i; j++ {
						if refCompare(keys, rows[j], r) < 0 {
							rank++
						}
					}
					d = row.NewInt(int64(rank))
				case dataflow.DenseRank:
					seen := map[string]bool{}
					for j := 0; j < i; j++ {
						if refCompare(keys, rows[j], r) < 0 {
							seen[fmt.Sprint(keyVals(keys, rows[j]))] = true
						}
					}
					d = row.NewInt(int64(len(seen) + 1))
				case dataflow.Lag, dataflow.Lead:
					j := i - int(f.Offset)
					if f.Kind == dataflow.Lead {
						j = i + int(f.Offset)
					}
					switch {
					case j >= 0 && j < len(rows):
						d = rows[j][f.Arg]
					case f.Default >= 0:
						d = r[f.Default]
					}
				case dataflow.FirstValue, dataflow.LastValue:
					s, e := refFrame(f.Frame, keys, rows, i)
					if s <= e {
						if f.Kind == dataflow.FirstValue {
							d = rows[s][f.Arg]
						} else {
							d = rows[e][f.Arg]
						}
					}
				case dataflow.WindowAggregate:
					st := f.Agg.New()
					s, e := refFrame(f.Frame, keys, rows, i)
					for j := s; j <= e; j++ {
						if err := st.Add(rows[j], 1); err != nil {
							t.Fatal(err)
						}
					}
					var err error
					if d, err = st.Result(); err != nil {
						t.Fatal(err)
					}
				}
				nr = append(nr, d)
			}
			out.add(row.Update{Row: nr, W: 1})
		}
	}
	return out
}

func keyVals(keys []dataflow.SortKey, r row.Row) []string {
	var out []string
	for _, k := range keys {
		out = append(out, r[k.Col].String())
	}
	return out
}

func TestWindowExample(t *testing.T) {
	g := dataflow.New()
	a := g.Input(tblA, schemaA)
	// SELECT k, v, rank() OVER (ORDER BY v), sum(v) OVER (ORDER BY v) FROM a
	funcs := []dataflow.WindowFunc{
		{Kind: dataflow.Rank, Label: "rank()"},
		{Kind: dataflow.WindowAggregate, Agg: sumAgg{1}, Frame: dataflow.DefaultFrame, Label: "sum(v)"},
	}
	g.Output("w", g.Window(a, nil, []dataflow.SortKey{{Col: 1}}, funcs, intSchema("k", "v", "rank", "sum"), ""))
	steps := []struct {
		in   dataflow.Batch
		want string
	}{
		{B(U(1, 1, 10), U(1, 2, 10), U(1, 3, 20)), "+1 (1,10,1,20); +1 (2,10,1,20); +1 (3,20,3,40)"},
		{B(U(1, 4, 5)), "-1 (1,10,1,20); +1 (1,10,2,25); -1 (2,10,1,20); +1 (2,10,2,25); -1 (3,20,3,40); +1 (3,20,4,45); +1 (4,5,1,5)"},
		{B(U(-1, 3, 20)), "-1 (3,20,4,45)"},
	}
	for i, s := range steps {
		res, err := g.Step(map[row.TableName]dataflow.Batch{tblA: s.in})
		if err != nil {
			t.Fatal(err)
		}
		got := res["w"]
		dataflow.SortBatch(got)
		if f := fmtBatch(got); f != s.want {
			t.Errorf("step %d: got %s, want %s", i, f, s.want)
		}
	}
}

// TestWindowDifferential steps Window variants with random changes (ties
// and duplicates included) and compares the accumulated output with every
// partition evaluated from scratch after every step.
func TestWindowDifferential(t *testing.T) {
	rowsFrame := func(s, e dataflow.FrameBound) dataflow.Frame { return dataflow.Frame{Rows: true, Start: s, End: e} }
	up, cur, uf := dataflow.FrameBound{Kind: dataflow.UnboundedPreceding}, dataflow.FrameBound{Kind: dataflow.CurrentRow}, dataflow.FrameBound{Kind: dataflow.UnboundedFollowing}
	prec := func(n int64) dataflow.FrameBound { return dataflow.FrameBound{Kind: dataflow.Preceding, N: n} }
	foll := func(n int64) dataflow.FrameBound { return dataflow.FrameBound{Kind: dataflow.Following, N: n} }
	funcs := []dataflow.WindowFunc{
		{Kind: dataflow.RowNumber},
		{Kind: dataflow.Rank},
		{Kind: dataflow.DenseRank},
		{Kind: dataflow.Lag, Arg: 1, Offset: 1, Default: -1},
		{Kind: dataflow.Lead, Arg: 1, Offset: 2, Default: 0},
		{Kind: dataflow.FirstValue, Arg: 1, Frame: dataflow.DefaultFrame},
		{Kind: dataflow.LastValue, Arg: 1, Frame: dataflow.DefaultFrame},
		{Kind: dataflow.LastValue, Arg: 1, Frame: rowsFrame(prec(1), foll(1))},
		{Kind: dataflow.WindowAggregate, Agg: sumAgg{1}, Frame: dataflow.DefaultFrame},
		{Kind: dataflow.WindowAggregate, Agg: countAgg{-1}, Frame: dataflow.Frame{Start: cur, End: uf}},
		{Kind: dataflow.WindowAggregate, Agg: sumAgg{1}, Frame: rowsFrame(prec(2), cur)},
		{Kind: dataflow.WindowAggregate, Agg: sumAgg{1}, Frame: rowsFrame(foll(1), foll(3))},
		{Kind: dataflow.WindowAggregate, Agg: countAgg{1}, Frame: rowsFrame(prec(3), prec(1))},
		{Kind: dataflow.WindowAggregate, Agg: sumAgg{1}, Frame: rowsFrame(up, uf)},
		{Kind: dataflow.WindowAggregate, Agg: countAgg{-1}, Frame: rowsFrame(foll(2), prec(1))},
	}
	variants := []windowVariant{
		{[]int{0}, []dataflow.SortKey{{Col: 1}}},
		{nil, []dataflow.SortKey{{Col: 1, Desc: true, NullsFirst: true}, {Col: 0}}},
		{[]int{0}, nil},
		{[]int{1}, []dataflow.SortKey{{Col: 0, NullsFirst: true}}},
	}
	schema := intSchema("k", "v")
	for range funcs {
		schema = append(schema, row.Column{Name: "f", Type: row.Int8})
	}
	for _, sp := range spillModes {
		for seed := int64(1); seed <= 15; seed++ {
			t.Run(fmt.Sprintf("%s/seed=%d", sp.name, seed), func(t *testing.T) {
				runWindowDifferential(t, seed, sp, variants, funcs, schema)
			})
		}
	}
}

func runWindowDifferential(t *testing.T, seed int64, sp spillMode, variants []windowVariant, funcs []dataflow.WindowFunc, schema row.Schema) {
	rng := rand.New(rand.NewSource(seed))
	g := dataflow.New()
	a := g.Input(tblA, schemaA)
	for i, v := range variants {
		g.Output(fmt.Sprint(i), g.Window(a, v.part, v.keys, funcs, schema, ""))
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
	for step := 0; step < 120; step++ {
		delta := randomDelta(rng, table, mk)
		res, err := g.Step(map[row.TableName]dataflow.Batch{tblA: delta})
		if err != nil {
			t.Fatalf("seed %d step %d: %v", seed, step, err)
		}
		for i, v := range variants {
			got[i].addBatch(res[fmt.Sprint(i)])
			want := refWindow(t, table, v.part, v.keys, funcs)
			if d := diffMismatch(got[i], want); d != "" {
				t.Fatalf("seed %d step %d variant %d: %s", seed, step, i, d)
			}
		}
	}
}

type windowVariant struct {
	part []int
	keys []dataflow.SortKey
}

// TestWindowTouchesOnlyChangedPartitions checks that a change recomputes
// only its own partition: the output holds nothing from the others.
func TestWindowTouchesOnlyChangedPartitions(t *testing.T) {
	g := dataflow.New()
	a := g.Input(tblA, schemaA)
	funcs := []dataflow.WindowFunc{{Kind: dataflow.RowNumber, Label: "row_number()"}}
	g.Output("w", g.Window(a, []int{0}, []dataflow.SortKey{{Col: 1}}, funcs, intSchema("k", "v", "rn"), ""))
	g.Output("t", g.TopK(a, []int{0}, []dataflow.SortKey{{Col: 1}}, 0, 2, ""))
	var init dataflow.Batch
	for k := 0; k < 1000; k++ {
		for v := 0; v < 5; v++ {
			init = append(init, U(1, k, v*10))
		}
	}
	if _, err := g.Step(map[row.TableName]dataflow.Batch{tblA: init}); err != nil {
		t.Fatal(err)
	}
	res, err := g.Step(map[row.TableName]dataflow.Batch{tblA: B(U(1, 7, 15))})
	if err != nil {
		t.Fatal(err)
	}
	w, tk := res["w"], res["t"]
	dataflow.SortBatch(w)
	dataflow.SortBatch(tk)
	if got, want := fmtBatch(w), "+1 (7,15,3); -1 (7,20,3); +1 (7,20,4); -1 (7,30,4); +1 (7,30,5); -1 (7,40,5); +1 (7,40,6)"; got != want {
		t.Errorf("window: got %s, want %s", got, want)
	}
	if got := fmtBatch(tk); got != "" {
		t.Errorf("topk: got %s, want no change", got)
	}
}
