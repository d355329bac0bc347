package dataflow_test

import (
	"encoding/binary"
	"fmt"
	"strings"
	"testing"

	"github.com/rippledb/ripple/dataflow"
	"github.com/rippledb/ripple/internal/row"
)

// Test fixtures shared by the dataflow tests: int-only rows, a count and a
// sum aggregate, and batch rendering for readable comparisons.

var (
	tblA = row.TableName{Schema: "public", Name: "a"}
	tblB = row.TableName{Schema: "public", Name: "b"}

	// A(k int, v int nullable), B(k int, w int).
	schemaA = row.Schema{{Name: "k", Type: row.Int4}, {Name: "v", Type: row.Int4}}
	schemaB = row.Schema{{Name: "k", Type: row.Int4}, {Name: "w", Type: row.Int4}}
)

// R builds a row of ints; nil is NULL.
func R(vals ...any) row.Row {
	r := make(row.Row, len(vals))
	for i, v := range vals {
		switch v := v.(type) {
		case nil:
			r[i] = row.Null
		case int:
			r[i] = row.NewInt(int64(v))
		case int64:
			r[i] = row.NewInt(v)
		case row.Datum:
			r[i] = v
		default:
			panic(fmt.Sprintf("R: unsupported %T", v))
		}
	}
	return r
}

// U builds an update of weight w.
func U(w row.Weight, vals ...any) row.Update { return row.Update{Row: R(vals...), W: w} }

// B builds a batch.
func B(us ...row.Update) dataflow.Batch { return dataflow.Batch(us) }

// fmtRow renders a row as (1,NULL,3).
func fmtRow(r row.Row) string {
	parts := make([]string, len(r))
	for i, d := range r {
		parts[i] = d.String()
	}
	return "(" + strings.Join(parts, ",") + ")"
}

// fmtBatch renders a batch sorted, as "+1 (1,2); -2 (3,NULL)"; "" when empty.
func fmtBatch(b dataflow.Batch) string {
	b = append(dataflow.Batch(nil), b...)
	dataflow.SortBatch(b)
	parts := make([]string, len(b))
	for i, u := range b {
		parts[i] = fmt.Sprintf("%+d %s", u.W, fmtRow(u.Row))
	}
	return strings.Join(parts, "; ")
}

// fmtOutputs renders every output of a Step result, "name: batch | ...",
// sorted by name.
func fmtOutputs(res map[string]dataflow.Batch, names []string) map[string]string {
	out := map[string]string{}
	for _, n := range names {
		if b, ok := res[n]; ok {
			out[n] = fmtBatch(b)
		}
	}
	return out
}

// ints reads an int datum, reporting NULL.
func ints(d row.Datum) (int64, bool) {
	if d.IsNull() {
		return 0, false
	}
	return d.Int(), true
}

// countAgg is count(*) when col < 0, else count(col) (non-NULL values).
type countAgg struct{ col int }

func (a countAgg) New() dataflow.AggState { return &countState{col: a.col} }
func (a countAgg) String() string {
	if a.col < 0 {
		return "count(*)"
	}
	return fmt.Sprintf("count($%d)", a.col)
}

type countState struct {
	col int
	n   int64
}

func (s *countState) Add(r row.Row, w row.Weight) error {
	if s.col >= 0 && r[s.col].IsNull() {
		return nil
	}
	s.n += int64(w)
	return nil
}

func (s *countState) Result() (row.Datum, error) { return row.NewInt(s.n), nil }

func (s *countState) AppendState(buf []byte) []byte { return binary.AppendVarint(buf, s.n) }
func (s *countState) LoadState(b []byte) error {
	var n int
	s.n, n = binary.Varint(b)
	if n != len(b) {
		return fmt.Errorf("count state %x", b)
	}
	return nil
}

// sumAgg is sum(col) over ints: NULLs are skipped; NULL over no values.
type sumAgg struct{ col int }

func (a sumAgg) New() dataflow.AggState { return &sumState{col: a.col} }
func (a sumAgg) String() string         { return fmt.Sprintf("sum($%d)", a.col) }

type sumState struct {
	col      int
	sum, cnt int64
}

func (s *sumState) Add(r row.Row, w row.Weight) error {
	v, ok := ints(r[s.col])
	if !ok {
		return nil
	}
	s.sum += v * int64(w)
	s.cnt += int64(w)
	if s.cnt < 0 {
		return fmt.Errorf("sum: negative value count %d", s.cnt)
	}
	return nil
}

func (s *sumState) AppendState(buf []byte) []byte {
	return binary.AppendVarint(binary.AppendVarint(buf, s.sum), s.cnt)
}

func (s *sumState) LoadState(b []byte) error {
	var n, m int
	s.sum, n = binary.Varint(b)
	if n > 0 {
		s.cnt, m = binary.Varint(b[n:])
	}
	if n <= 0 || m <= 0 || n+m != len(b) {
		return fmt.Errorf("sum state %x", b)
	}
	return nil
}

// rowsAgg hides the encodability of an aggregate's state, so that a Reduce
// over it keeps its input rows (as for min/max).
type rowsAgg struct{ dataflow.Aggregate }

func (a rowsAgg) New() dataflow.AggState { return plainState{a.Aggregate.New()} }

type plainState struct{ s dataflow.AggState }

func (p plainState) Add(r row.Row, w row.Weight) error { return p.s.Add(r, w) }
func (p plainState) Result() (row.Datum, error)        { return p.s.Result() }

func (s *sumState) Result() (row.Datum, error) {
	if s.cnt == 0 {
		return row.Null, nil
	}
	return row.NewInt(s.sum), nil
}

// multiset is an accumulated Z-set keyed by row encoding.
type multiset map[string]row.Update

func (m multiset) add(u row.Update) {
	k := u.Row.Encode()
	e, ok := m[k]
	if !ok {
		e = row.Update{Row: u.Row}
	}
	e.W += u.W
	if e.W == 0 {
		delete(m, k)
		return
	}
	m[k] = e
}

func (m multiset) addBatch(b dataflow.Batch) {
	for _, u := range b {
		m.add(u)
	}
}

func (m multiset) batch() dataflow.Batch {
	b := make(dataflow.Batch, 0, len(m))
	for _, u := range m {
		b = append(b, u)
	}
	dataflow.SortBatch(b)
	return b
}

// negatives lists the rows with negative multiplicity.
func (m multiset) negatives() []string {
	var out []string
	for _, u := range m {
		if u.W < 0 {
			out = append(out, fmt.Sprintf("%+d %s", u.W, fmtRow(u.Row)))
		}
	}
	return out
}

// checkConsolidated fails if b has a zero weight or two equal rows: Step
// promises consolidated output.
func checkConsolidated(t *testing.T, name string, b dataflow.Batch) {
	t.Helper()
	seen := map[string]bool{}
	for _, u := range b {
		if u.W == 0 {
			t.Errorf("output %s: zero weight for %s", name, fmtRow(u.Row))
		}
		k := u.Row.Encode()
		if seen[k] {
			t.Errorf("output %s: row %s appears twice", name, fmtRow(u.Row))
		}
		seen[k] = true
	}
}

// Expressions used by the tests, as the planner would supply them.

func colGT(col int, n int64) func(row.Row) (bool, error) {
	return func(r row.Row) (bool, error) {
		v, ok := ints(r[col])
		return ok && v > n, nil
	}
}

func colIsNull(col int) func(row.Row) (bool, error) {
	return func(r row.Row) (bool, error) { return r[col].IsNull(), nil }
}

func colEven(col int) func(row.Row) (bool, error) {
	return func(r row.Row) (bool, error) {
		v, ok := ints(r[col])
		return ok && v%2 == 0, nil
	}
}

// project returns a Map function keeping cols.
func project(cols ...int) func(row.Row) (row.Row, error) {
	return func(r row.Row) (row.Row, error) {
		out := make(row.Row, len(cols))
		for i, c := range cols {
			out[i] = r[c]
		}
		return out, nil
	}
}

// kPlusV maps (k, v) to (k, k+v), NULL when v is NULL.
func kPlusV(r row.Row) (row.Row, error) {
	k, _ := ints(r[0])
	v, ok := ints(r[1])
	if !ok {
		return row.Row{r[0], row.Null}, nil
	}
	return row.Row{r[0], row.NewInt(k + v)}, nil
}

func intSchema(names ...string) row.Schema {
	s := make(row.Schema, len(names))
	for i, n := range names {
		s[i] = row.Column{Name: n, Type: row.Int8}
	}
	return s
}
