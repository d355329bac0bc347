package sink

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"

	"github.com/rippledb/ripple/internal/row"
)

func TestMemory(t *testing.T) {
	ctx := context.Background()
	v := View{Name: row.TableName{Schema: "s", Name: "v"}, Columns: row.Schema{{Name: "a", Type: row.Int4}, {Name: "b", Type: row.Text}}}
	r := func(a int64, b string) row.Row {
		if b == "" {
			return row.Row{row.NewInt(a), row.Null}
		}
		return row.Row{row.NewInt(a), row.NewText(b)}
	}
	type step struct {
		lsn     row.LSN
		rows    []row.Update
		wantErr error
	}
	for _, tc := range []struct {
		name      string
		load      []row.Update
		steps     []step
		want      []row.Update
		wantSteps int
		progress  row.LSN
	}{
		{
			name:      "retract 1 of 3 duplicates",
			load:      []row.Update{{Row: r(1, "x"), W: 3}},
			steps:     []step{{lsn: 11, rows: []row.Update{{Row: r(1, "x"), W: -1}}}},
			want:      []row.Update{{Row: r(1, "x"), W: 2}},
			wantSteps: 1, progress: 11,
		},
		{
			name: "steps at or below progress are skipped",
			load: []row.Update{{Row: r(1, "x"), W: 1}},
			steps: []step{
				{lsn: 10, rows: []row.Update{{Row: r(2, "y"), W: 1}}},
				{lsn: 3, rows: []row.Update{{Row: r(2, "y"), W: 1}}},
				{lsn: 12, rows: []row.Update{{Row: r(3, ""), W: 1}}},
				{lsn: 12, rows: []row.Update{{Row: r(3, ""), W: 1}}},
			},
			want:      []row.Update{{Row: r(1, "x"), W: 1}, {Row: r(3, ""), W: 1}},
			wantSteps: 1, progress: 12,
		},
		{
			name: "retraction of a row not held fails and changes nothing",
			load: []row.Update{{Row: r(1, "x"), W: 1}, {Row: r(2, ""), W: 1}},
			steps: []step{
				{lsn: 11, rows: []row.Update{{Row: r(5, "new"), W: 1}, {Row: r(1, "x"), W: -1}, {Row: r(2, "z"), W: -1}}, wantErr: ErrOutOfSync},
				{lsn: 12, rows: []row.Update{{Row: r(1, "x"), W: -2}}, wantErr: ErrOutOfSync},
				{lsn: 13, rows: []row.Update{{Row: r(2, ""), W: -1}}},
			},
			want:      []row.Update{{Row: r(1, "x"), W: 1}},
			wantSteps: 1, progress: 13,
		},
		{
			name: "update in one step",
			load: []row.Update{{Row: r(1, "x"), W: 1}},
			steps: []step{
				{lsn: 11, rows: []row.Update{{Row: r(1, "y"), W: 1}, {Row: r(1, "x"), W: -1}}},
			},
			want:      []row.Update{{Row: r(1, "y"), W: 1}},
			wantSteps: 1, progress: 11,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := NewMemory("mem")
			if lsn, err := m.Open(ctx, "p", []View{v}); err != nil || lsn != 0 {
				t.Fatalf("open = %s, %v", lsn, err)
			}
			if err := m.Load(ctx, 10, map[row.TableName][]row.Update{v.Name: tc.load}); err != nil {
				t.Fatal(err)
			}
			for _, s := range tc.steps {
				err := m.Apply(ctx, Step{LSN: s.lsn, Deltas: []Delta{{View: v.Name, Rows: s.rows}}})
				if !errors.Is(err, s.wantErr) || (err != nil) != (s.wantErr != nil) {
					t.Fatalf("apply %s = %v, want %v", s.lsn, err, s.wantErr)
				}
			}
			if got := m.Rows(v.Name); !updatesEqual(got, tc.want) {
				t.Fatalf("rows = %v, want %v", got, tc.want)
			}
			if m.Steps() != tc.wantSteps {
				t.Fatalf("steps = %d, want %d", m.Steps(), tc.wantSteps)
			}
			if lsn, _ := m.Progress(ctx); lsn != tc.progress {
				t.Fatalf("progress = %s, want %s", lsn, tc.progress)
			}
			// Contents and progress survive a restart.
			m.Close()
			if lsn, err := m.Open(ctx, "p", []View{v}); err != nil || lsn != tc.progress {
				t.Fatalf("reopen = %s, %v", lsn, err)
			}
			if got := m.Rows(v.Name); !updatesEqual(got, tc.want) {
				t.Fatalf("rows after reopen = %v, want %v", got, tc.want)
			}
		})
	}
}

func updatesEqual(a, b []row.Update) bool {
	return slices.EqualFunc(a, b, func(x, y row.Update) bool { return x.W == y.W && row.RowsIdentical(x.Row, y.Row) })
}

func TestMemoryRowsOrderAndUnknownView(t *testing.T) {
	ctx := context.Background()
	v := View{Name: row.TableName{Schema: "s", Name: "v"}, Columns: row.Schema{{Name: "a", Type: row.Int4}}}
	m := NewMemory("mem")
	if _, err := m.Open(ctx, "p", []View{v}); err != nil {
		t.Fatal(err)
	}
	load := []row.Update{{Row: row.Row{row.Null}, W: 1}, {Row: row.Row{row.NewInt(3)}, W: 2}, {Row: row.Row{row.NewInt(-1)}, W: 1}}
	if err := m.Load(ctx, 1, map[row.TableName][]row.Update{v.Name: load}); err != nil {
		t.Fatal(err)
	}
	want := []row.Update{load[2], load[1], load[0]}
	if got := m.Rows(v.Name); !updatesEqual(got, want) {
		t.Fatalf("rows = %v, want %v", got, want)
	}
	other := row.TableName{Schema: "s", Name: "nope"}
	if err := m.Apply(ctx, Step{LSN: 2, Deltas: []Delta{{View: other, Rows: load}}}); err == nil {
		t.Fatal("apply to an unknown view succeeded")
	}
	if err := m.Load(ctx, 2, map[row.TableName][]row.Update{v.Name: {{Row: row.Row{row.NewInt(1)}, W: -1}}}); err == nil {
		t.Fatal("load with a retraction succeeded")
	}
	if err := m.Apply(ctx, Step{LSN: 2, Deltas: []Delta{{View: v.Name, Rows: []row.Update{{Row: row.Row{row.NewInt(1), row.NewInt(2)}, W: 1}}}}}); err == nil {
		t.Fatal("apply of a row of the wrong width succeeded")
	}
}

// TestMemoryConcurrentReads reads a Memory while steps are applied (run
// with -race).
func TestMemoryConcurrentReads(t *testing.T) {
	ctx := context.Background()
	v := View{Name: row.TableName{Schema: "s", Name: "v"}, Columns: row.Schema{{Name: "a", Type: row.Int8}}}
	m := NewMemory("mem")
	if _, err := m.Open(ctx, "p", []View{v}); err != nil {
		t.Fatal(err)
	}
	if err := m.Load(ctx, 1, nil); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	done := make(chan struct{})
	wg.Go(func() {
		for {
			select {
			case <-done:
				return
			default:
			}
			before := m.Steps()
			var n row.Weight
			for _, u := range m.Rows(v.Name) {
				n += u.W
			}
			// Each step adds one row; steps may run between the calls.
			if after := m.Steps(); int(n) < before || int(n) > after {
				t.Errorf("%d rows, but %d..%d steps", n, before, after)
				return
			}
		}
	})
	for i := range 500 {
		if err := m.Apply(ctx, Step{LSN: row.LSN(i + 2), Deltas: []Delta{{View: v.Name, Rows: []row.Update{{Row: row.Row{row.NewInt(int64(i % 7))}, W: 1}}}}}); err != nil {
			t.Fatal(err)
		}
	}
	close(done)
	wg.Wait()
	if m.Steps() != 500 {
		t.Fatalf("steps = %d", m.Steps())
	}
}
