package dataflow

import (
	"errors"
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
