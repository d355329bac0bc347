package planner

import (
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/rippledb/ripple/dataflow"
	"github.com/rippledb/ripple/internal/row"
)

// TestIncrementalEqualsScratch steps every golden file's plan with many
// small random changes (deletes, key-preserving updates, inserts, several
// tables at once, retractions listed before insertions) and checks after
// every step that each view's accumulated output equals a fresh plan's
// output over the current tables: incremental maintenance never drifts from
// evaluation from scratch. (TestGoldenViewsAgainstPostgres checks the
// from-scratch answers themselves.)
func TestIncrementalEqualsScratch(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(goldenDir, "*.sql"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden files: %v", err)
	}
	steps := 150
	if testing.Short() {
		steps = 40
	}
	for i, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".sql")
		t.Run(name, func(t *testing.T) {
			sql, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			incrementalVsScratch(t, string(sql), int64(i), steps)
		})
	}
}

func incrementalVsScratch(t *testing.T, sql string, seed int64, steps int) {
	p, err := plan("incremental.sql", sql)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewSource(seed))
	nextID = map[row.TableName]int64{}
	live := map[row.TableName][]row.Row{}
	acc := exactCollector{}
	for step := range steps {
		in := map[row.TableName]dataflow.Batch{}
		for _, tbl := range p.Tables {
			if rng.Intn(3) == 0 {
				continue
			}
			var dels, ins dataflow.Batch
			var keep []row.Row
			for _, r := range live[tbl.Name] {
				switch rng.Intn(12) {
				case 0:
					dels = append(dels, row.Update{Row: r, W: -1})
				case 1:
					dels = append(dels, row.Update{Row: r, W: -1})
					nr := randomRow(rng, tbl, r)
					ins = append(ins, row.Update{Row: nr, W: 1})
					keep = append(keep, nr)
				default:
					keep = append(keep, r)
				}
			}
			for range rng.Intn(4) {
				nr := randomRow(rng, tbl, nil)
				ins = append(ins, row.Update{Row: nr, W: 1})
				keep = append(keep, nr)
			}
			live[tbl.Name] = keep
			b := append(dels, ins...)
			if rng.Intn(2) == 0 {
				b = append(ins, dels...)
			}
			in[tbl.Name] = b
		}
		out, err := p.Graph.Step(in)
		if err != nil {
			t.Fatalf("step %d: %v", step, err)
		}
		acc.apply(out)

		fresh, err := plan("incremental.sql", sql)
		if err != nil {
			t.Fatal(err)
		}
		all := map[row.TableName]dataflow.Batch{}
		for name, rows := range live {
			for _, r := range rows {
				all[name] = append(all[name], row.Update{Row: r, W: 1})
			}
		}
		fout, err := fresh.Graph.Step(all)
		if err != nil {
			t.Fatalf("step %d: from scratch: %v", step, err)
		}
		want := exactCollector{}
		want.apply(fout)
		for _, v := range p.Views {
			n := v.Def.Name.String()
			if got, w := acc.rows(t, n), want.rows(t, n); !slices.Equal(got, w) {
				t.Fatalf("step %d: view %s: incremental differs from scratch\n got: %q\nwant: %q\ninput: %s", step, n, got, w, fmt.Sprint(in))
			}
		}
	}
}

// exactCollector accumulates output rows by their exact representation
// (numeric 1.0 and 1.00 apart), as a sink stores them.
type exactCollector map[string]map[string]*accRow

func (c exactCollector) apply(out map[string]dataflow.Batch) {
	for view, b := range out {
		if c[view] == nil {
			c[view] = map[string]*accRow{}
		}
		for _, u := range b {
			k := u.Row.EncodeExact()
			a := c[view][k]
			if a == nil {
				a = &accRow{row: u.Row}
				c[view][k] = a
			}
			a.w += u.W
			if a.w == 0 {
				delete(c[view], k)
			}
		}
	}
}

// rows renders the view's rows as sorted text, one entry per copy.
func (c exactCollector) rows(t *testing.T, view string) []string {
	t.Helper()
	var out []string
	for _, a := range c[view] {
		if a.w < 0 {
			t.Fatalf("view %s: negative multiplicity %d for %v", view, a.w, a.row)
		}
		parts := make([]string, len(a.row))
		for i, d := range a.row {
			parts[i] = "NULL"
			if !d.IsNull() {
				parts[i] = row.FormatText(d)
			}
		}
		for range a.w {
			out = append(out, strings.Join(parts, "|"))
		}
	}
	slices.Sort(out)
	return out
}
