package dataflow

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/rippledb/ripple/internal/row"
)

// memSpill is a Spill held in memory, in key order, for tests of the
// spilled forms (the pipeline's tests use the real store on disk).
type memSpill struct {
	keys []string // sorted
	vals map[string][]byte
}

// newMemSpill returns an empty memSpill.
func newMemSpill() *memSpill { return &memSpill{vals: map[string][]byte{}} }

// Get implements Spill.
func (m *memSpill) Get(k []byte) ([]byte, bool, error) {
	v, ok := m.vals[string(k)]
	return v, ok, nil
}

// Set implements Spill.
func (m *memSpill) Set(k, v []byte) error {
	if _, ok := m.vals[string(k)]; !ok {
		i := sort.SearchStrings(m.keys, string(k))
		m.keys = append(m.keys, "")
		copy(m.keys[i+1:], m.keys[i:])
		m.keys[i] = string(k)
	}
	m.vals[string(k)] = append([]byte(nil), v...)
	return nil
}

// Delete implements Spill.
func (m *memSpill) Delete(k []byte) error {
	if _, ok := m.vals[string(k)]; !ok {
		return nil
	}
	delete(m.vals, string(k))
	i := sort.SearchStrings(m.keys, string(k))
	m.keys = append(m.keys[:i], m.keys[i+1:]...)
	return nil
}

// Add implements Spill as the store on disk does: the sum is kept even
// when it is 0, until the entry is deleted.
func (m *memSpill) Add(k []byte, w int64) error {
	var old int64
	if v, ok := m.vals[string(k)]; ok {
		var n int
		if old, n = binary.Varint(v); n <= 0 {
			return fmt.Errorf("undecodable multiplicity %x", v)
		}
	}
	return m.Set(k, binary.AppendVarint(nil, old+w))
}

// Scan implements Spill.
func (m *memSpill) Scan(prefix []byte, fn func(k, v []byte) error) error {
	for i := sort.SearchStrings(m.keys, string(prefix)); i < len(m.keys); i++ {
		k := m.keys[i]
		if len(k) < len(prefix) || k[:len(prefix)] != string(prefix) {
			return nil
		}
		if err := fn([]byte(k), m.vals[k]); err != nil {
			return err
		}
	}
	return nil
}

// Len is the number of entries held.
func (m *memSpill) Len() int { return len(m.keys) }

// failingSpill fails every write once armed.
type failingSpill struct {
	*memSpill
	fail bool
}

func (f *failingSpill) Set(k, v []byte) error {
	if f.fail {
		return errors.New("no space left on device")
	}
	return f.memSpill.Set(k, v)
}

func (f *failingSpill) Delete(k []byte) error {
	if f.fail {
		return errors.New("no space left on device")
	}
	return f.memSpill.Delete(k)
}

func (f *failingSpill) Add(k []byte, w int64) error {
	if f.fail {
		return errors.New("no space left on device")
	}
	return f.memSpill.Add(k, w)
}

// TestSpillErrorStopsGraph: an error of the spill store is not a view's
// runtime error: Step returns it for the whole graph (no *StepError, no
// view marked failed) and refuses every later step.
func TestSpillErrorStopsGraph(t *testing.T) {
	g := New()
	a := g.Input(row.TableName{Schema: "public", Name: "a"}, row.Schema{{Name: "k", Type: row.Int8}})
	b := g.Input(row.TableName{Schema: "public", Name: "b"}, row.Schema{{Name: "k", Type: row.Int8}})
	g.Output("j", g.Join(a, b, []int{0}, []int{0}, "a.k = b.k"))
	g.Output("a", a)
	fs := &failingSpill{memSpill: newMemSpill()}
	if err := g.SetSpill(fs, 0); err != nil {
		t.Fatal(err)
	}
	ins := func(k int64) map[row.TableName]Batch {
		return map[row.TableName]Batch{{Schema: "public", Name: "a"}: {{Row: row.Row{row.NewInt(k)}, W: 1}}}
	}
	if _, err := g.Step(ins(1)); err != nil {
		t.Fatal(err)
	}
	if fs.Len() != 1 {
		t.Fatalf("spill store holds %d entries, want the one row of a", fs.Len())
	}
	fs.fail = true
	_, err := g.Step(ins(2))
	var se *SpillError
	var ve *StepError
	if !errors.As(err, &se) || errors.As(err, &ve) || !strings.Contains(err.Error(), "no space left") {
		t.Fatalf("step with a failing spill store: %v, want a *SpillError for the graph", err)
	}
	if g.Failed("j") != nil || g.Failed("a") != nil {
		t.Fatal("a spill error failed a view")
	}
	fs.fail = false
	if _, err := g.Step(ins(3)); !errors.As(err, &se) {
		t.Fatalf("step after a spill error: %v, want the same error", err)
	}
}

// TestSpilledCancelledRetraction: a retraction of a row not yet there,
// cancelled by its insertion later in the same step, leaves no entry in
// the store (the insertion is a blind add onto the negative entry; settle
// deletes it once it is 0).
func TestSpilledCancelledRetraction(t *testing.T) {
	ta := row.TableName{Schema: "public", Name: "a"}
	tb := row.TableName{Schema: "public", Name: "b"}
	sch := row.Schema{{Name: "k", Type: row.Int8}}
	g := New()
	g.Output("j", g.Join(g.Input(ta, sch), g.Input(tb, sch), []int{0}, []int{0}, "a.k = b.k"))
	m := newMemSpill()
	if err := g.SetSpill(m, 0); err != nil {
		t.Fatal(err)
	}
	r := row.Row{row.NewInt(1)}
	out, err := g.Step(map[row.TableName]Batch{ta: {{Row: r, W: -1}, {Row: r, W: 1}}, tb: {{Row: r, W: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	if n := m.Len(); n != 1 {
		t.Fatalf("the store holds %d entries, want b's one row", n)
	}
	if got := out["j"].Consolidate(); len(got) != 0 {
		t.Fatalf("join output %v, want none", got)
	}
}
