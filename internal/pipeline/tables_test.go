package pipeline

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/rippledb/ripple/cdc"
	"github.com/rippledb/ripple/internal/row"
)

// r builds a row of ints and texts: ints as int64 or int, texts as string,
// nil as NULL.
func r(vals ...any) row.Row {
	out := make(row.Row, len(vals))
	for i, v := range vals {
		switch v := v.(type) {
		case int:
			out[i] = row.NewInt(int64(v))
		case string:
			out[i] = row.NewText(v)
		case nil:
		default:
			panic(fmt.Sprintf("r: %T", v))
		}
	}
	return out
}

// updates renders Z-set updates sorted, for comparison.
func updates(us []row.Update) string {
	var out []string
	for _, u := range us {
		out = append(out, fmt.Sprintf("%+d %v", u.W, u.Row))
	}
	sort.Strings(out)
	return strings.Join(out, "; ")
}

// contents renders every row the table holds with its multiplicity.
func contents(t *tableState) string {
	var out []string
	err := t.each(func(_ string, e entry) error {
		r, err := e.row()
		if err != nil {
			return err
		}
		out = append(out, fmt.Sprintf("%d×%v", e.n, r))
		return nil
	})
	if err != nil {
		return err.Error()
	}
	sort.Strings(out)
	return strings.Join(out, "; ")
}

var tn = row.TableName{Schema: "public", Name: "t"}

func TestTableState(t *testing.T) {
	ins := func(nw row.Row) cdc.Change { return cdc.Change{Op: cdc.OpInsert, New: nw} }
	type step struct {
		c       cdc.Change
		want    string // updates produced
		wantErr string // substring of the error
	}
	tests := []struct {
		name  string
		key   []int
		steps []step
		held  string // the table's contents at the end
	}{
		{
			name: "keyed update without old tuple takes the old row by the new row's key",
			key:  []int{0},
			steps: []step{
				{c: ins(r(1, "a", "x")), want: updates([]row.Update{{Row: r(1, "a", "x"), W: 1}})},
				{c: cdc.Change{Op: cdc.OpUpdate, OldKind: cdc.OldNone, New: r(1, "b", "x")},
					want: updates([]row.Update{{Row: r(1, "a", "x"), W: -1}, {Row: r(1, "b", "x"), W: 1}})},
			},
			held: "1×[1 b x]",
		},
		{
			name: "keyed update changing the key sends the old key",
			key:  []int{0},
			steps: []step{
				{c: ins(r(1, "a", "x")), want: updates([]row.Update{{Row: r(1, "a", "x"), W: 1}})},
				{c: cdc.Change{Op: cdc.OpUpdate, OldKind: cdc.OldKey, Old: r(1, nil, nil), New: r(2, "a", "x")},
					want: updates([]row.Update{{Row: r(1, "a", "x"), W: -1}, {Row: r(2, "a", "x"), W: 1}})},
				{c: cdc.Change{Op: cdc.OpDelete, OldKind: cdc.OldKey, Old: r(2, nil, nil)},
					want: updates([]row.Update{{Row: r(2, "a", "x"), W: -1}})},
			},
			held: "",
		},
		{
			name: "keyed table with the full old row",
			key:  []int{0},
			steps: []step{
				{c: ins(r(1, "a", "x"))},
				{c: cdc.Change{Op: cdc.OpUpdate, OldKind: cdc.OldFull, Old: r(1, "a", "x"), New: r(1, "c", "x")},
					want: updates([]row.Update{{Row: r(1, "a", "x"), W: -1}, {Row: r(1, "c", "x"), W: 1}})},
			},
			held: "1×[1 c x]",
		},
		{
			name: "unchanged TOAST values come from the old row",
			key:  []int{0},
			steps: []step{
				{c: ins(r(1, "a", "big toasted value"))},
				{c: cdc.Change{Op: cdc.OpUpdate, OldKind: cdc.OldNone, New: r(1, "b", nil), Unchanged: []bool{false, false, true}},
					want: updates([]row.Update{{Row: r(1, "a", "big toasted value"), W: -1}, {Row: r(1, "b", "big toasted value"), W: 1}})},
			},
			held: "1×[1 b big toasted value]",
		},
		{
			name: "keyed insert of a present key is an error",
			key:  []int{0},
			steps: []step{
				{c: ins(r(1, "a", "x"))},
				{c: ins(r(1, "b", "y")), wantErr: "already present"},
			},
			held: "1×[1 a x]",
		},
		{
			name: "old row missing from the arrangement is an error",
			key:  []int{0},
			steps: []step{
				{c: cdc.Change{Op: cdc.OpDelete, OldKind: cdc.OldKey, Old: r(9, nil, nil)}, wantErr: "not in ripple's copy"},
				{c: cdc.Change{Op: cdc.OpUpdate, OldKind: cdc.OldNone, New: r(9, "a", "x")}, wantErr: "not in ripple's copy"},
			},
		},
		{
			name: "keyless table keeps duplicates and removes one per full old row",
			steps: []step{
				{c: ins(r(1, "a", "x"))},
				{c: ins(r(1, "a", "x"))},
				{c: ins(r(2, "b", "y"))},
				{c: cdc.Change{Op: cdc.OpUpdate, OldKind: cdc.OldFull, Old: r(1, "a", "x"), New: r(1, "a", "z")},
					want: updates([]row.Update{{Row: r(1, "a", "x"), W: -1}, {Row: r(1, "a", "z"), W: 1}})},
			},
			held: "1×[1 a x]; 1×[1 a z]; 1×[2 b y]",
		},
		{
			name: "keyless update with an unchanged TOAST value under REPLICA IDENTITY FULL",
			steps: []step{
				{c: ins(r(1, "a", "big"))},
				{c: cdc.Change{Op: cdc.OpUpdate, OldKind: cdc.OldFull, Old: r(1, "a", "big"), New: r(1, "b", nil), Unchanged: []bool{false, false, true}},
					want: updates([]row.Update{{Row: r(1, "a", "big"), W: -1}, {Row: r(1, "b", "big"), W: 1}})},
			},
			held: "1×[1 b big]",
		},
		{
			name: "keyless update without the old row is an error",
			steps: []step{
				{c: ins(r(1, "a", "x"))},
				{c: cdc.Change{Op: cdc.OpUpdate, OldKind: cdc.OldNone, New: r(1, "b", "x")}, wantErr: "REPLICA IDENTITY FULL"},
				{c: cdc.Change{Op: cdc.OpDelete, OldKind: cdc.OldFull, Old: r(1, "a", "y")}, wantErr: "not in ripple's copy"},
			},
			held: "1×[1 a x]",
		},
		{
			name: "truncate retracts every row with its multiplicity",
			steps: []step{
				{c: ins(r(1, "a", "x"))},
				{c: ins(r(1, "a", "x"))},
				{c: ins(r(1, "a", "x"))},
				{c: ins(r(2, "b", nil))},
				{c: cdc.Change{Op: cdc.OpTruncate},
					want: updates([]row.Update{{Row: r(1, "a", "x"), W: -3}, {Row: r(2, "b", nil), W: -1}})},
				{c: ins(r(3, "c", "z")), want: updates([]row.Update{{Row: r(3, "c", "z"), W: 1}})},
			},
			held: "1×[3 c z]",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ts := newTableState(tn, tc.key)
			for i, s := range tc.steps {
				out, err := ts.apply(s.c, nil)
				if s.wantErr != "" {
					if err == nil || !strings.Contains(err.Error(), s.wantErr) {
						t.Fatalf("step %d (%v): error %v, want one containing %q", i, s.c.Op, err, s.wantErr)
					}
					if !strings.Contains(err.Error(), "public.t") {
						t.Errorf("step %d: error does not name the table: %v", i, err)
					}
					continue
				}
				if err != nil {
					t.Fatalf("step %d (%v): %v", i, s.c.Op, err)
				}
				if s.want != "" && updates(out) != s.want {
					t.Errorf("step %d (%v): updates\n got %s\nwant %s", i, s.c.Op, updates(out), s.want)
				}
			}
			if got := contents(ts); got != tc.held {
				t.Errorf("table holds %q, want %q", got, tc.held)
			}
			checkSize(t, ts)
		})
	}
}

// checkSize compares the incrementally kept row count and byte estimate
// with a recount.
func checkSize(t *testing.T, ts *tableState) {
	t.Helper()
	var count, bytes int64
	_ = ts.each(func(k string, e entry) error {
		count += int64(e.n)
		bytes += int64(len(k) + len(e.enc))
		return nil
	})
	if ts.count != count || ts.bytes() < bytes || (bytes == 0) != (ts.rows.Len() == 0) {
		t.Errorf("size: count %d bytes %d, recount %d and at least %d", ts.count, ts.bytes(), count, bytes)
	}
}

func TestTableStateAppendsToBatch(t *testing.T) {
	ts := newTableState(tn, []int{0})
	var out []row.Update
	var err error
	for i := 1; i <= 3; i++ {
		if out, err = ts.apply(cdc.Change{Op: cdc.OpInsert, New: r(i, "v", "w")}, out); err != nil {
			t.Fatal(err)
		}
	}
	if len(out) != 3 {
		t.Fatalf("got %d updates, want 3 appended", len(out))
	}
	if _, err := ts.apply(cdc.Change{Op: cdc.Op(99)}, nil); err == nil {
		t.Error("unknown op: no error")
	}
	if ts.count != 3 || ts.bytes() <= 0 {
		t.Errorf("count %d bytes %d", ts.count, ts.bytes())
	}
}
