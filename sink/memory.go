package sink

import (
	"context"
	"fmt"
	"io"
	"slices"
	"sync"

	"github.com/rippledb/ripple/internal/row"
)

// Memory is an in-memory sink for tests of the stages above the sink. It
// keeps the Sink contract — atomic steps, steps at or below the progress
// skipped, a retraction of a row it does not hold refused without changing
// anything — and lets a test read what it holds while a pipeline applies.
//
// It is stricter than Postgres in one way: a retraction matches whole rows
// (column by column with row.Equal), even for views with a key, so that an
// engine that retracts a row with the right key but wrong values is caught.
//
// Its contents survive Close and a later Open, like a database's would, so
// a test can restart a pipeline against the same Memory.
type Memory struct {
	name string

	mu struct {
		sync.Mutex
		pipeline string
		views    map[row.TableName]View
		tables   map[row.TableName]map[string]*row.Update // by row.Encode
		progress row.LSN
		steps    int
		open     bool
	}
}

// NewMemory returns an empty in-memory sink called name.
func NewMemory(name string) *Memory {
	m := &Memory{name: name}
	m.mu.tables = make(map[row.TableName]map[string]*row.Update)
	return m
}

var _ Sink = (*Memory)(nil)

// Name implements Sink.
func (m *Memory) Name() string { return m.name }

// Open implements Sink. A view whose table exists with other columns is
// emptied by the next Load, as Postgres re-creates it.
func (m *Memory) Open(_ context.Context, pipeline string, views []View) (row.LSN, error) {
	if err := validateViews(m.name, views); err != nil {
		return 0, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.mu.pipeline != "" && m.mu.pipeline != pipeline {
		return 0, fmt.Errorf("sink %s: open: holds pipeline %q, not %q", m.name, m.mu.pipeline, pipeline)
	}
	m.mu.pipeline = pipeline
	m.mu.views = make(map[row.TableName]View, len(views))
	for _, v := range views {
		m.mu.views[v.Name] = v
	}
	m.mu.open = true
	return m.mu.progress, nil
}

// Load implements Sink.
func (m *Memory) Load(_ context.Context, lsn row.LSN, rows map[row.TableName][]row.Update) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.mu.open {
		return fmt.Errorf("sink %s: load: sink is not open", m.name)
	}
	for name, us := range rows {
		v, ok := m.mu.views[name]
		if !ok {
			return fmt.Errorf("sink %s: load: view %s is not one of the sink's views", m.name, name)
		}
		if err := checkLoadRows(m.name, v, us); err != nil {
			return err
		}
	}
	tables := make(map[row.TableName]map[string]*row.Update, len(m.mu.views))
	for name := range m.mu.views {
		t := make(map[string]*row.Update)
		for _, u := range rows[name] {
			add(t, u.Row, u.W)
		}
		tables[name] = t
	}
	m.mu.tables = tables
	m.mu.progress = lsn
	return nil
}

// Apply implements Sink.
func (m *Memory) Apply(_ context.Context, step Step) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.mu.open {
		return fmt.Errorf("sink %s: apply: sink is not open", m.name)
	}
	if step.Applied(m.mu.progress) {
		return nil
	}
	// Check everything first, so a failing step changes nothing (I2).
	pending := make(map[row.TableName]map[string]row.Weight)
	for _, d := range step.Deltas {
		v, ok := m.mu.views[d.View]
		if !ok {
			return fmt.Errorf("sink %s: apply step %s: view %s is not one of the sink's views", m.name, step.LSN, d.View)
		}
		if err := checkDelta(m.name, v, d); err != nil {
			return fmt.Errorf("apply step %s: %w", step.LSN, err)
		}
		t := m.mu.tables[d.View]
		if pending[d.View] == nil {
			pending[d.View] = make(map[string]row.Weight)
		}
		for _, u := range d.Rows {
			if u.W >= 0 {
				continue
			}
			k := u.Row.Encode()
			var have row.Weight
			if e, ok := t[k]; ok {
				have = e.W
			}
			have += pending[d.View][k]
			if have < -u.W {
				return fmt.Errorf("sink %s: apply step %s to view %s: retract %d× row %s: found only %d matching row(s): %w",
					m.name, step.LSN, d.View, -u.W, formatRow(u.Row), have, ErrOutOfSync)
			}
			pending[d.View][k] += u.W
		}
		for _, u := range d.Rows {
			if u.W > 0 {
				pending[d.View][u.Row.Encode()] += u.W
			}
		}
	}
	for _, d := range step.Deltas {
		t := m.mu.tables[d.View]
		if t == nil {
			t = make(map[string]*row.Update)
			m.mu.tables[d.View] = t
		}
		for _, u := range d.Rows {
			add(t, u.Row, u.W)
		}
	}
	m.mu.progress = step.LSN
	m.mu.steps++
	return nil
}

// add adds w copies of r to t (w may be negative).
func add(t map[string]*row.Update, r row.Row, w row.Weight) {
	if w == 0 {
		return
	}
	k := r.Encode()
	e, ok := t[k]
	if !ok {
		t[k] = &row.Update{Row: r, W: w}
		return
	}
	e.W += w
	if e.W == 0 {
		delete(t, k)
	}
}

// Progress implements Sink.
func (m *Memory) Progress(context.Context) (row.LSN, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.mu.progress, nil
}

// Close implements Sink. The contents stay for a later Open.
func (m *Memory) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.mu.open = false
	return nil
}

// Rows returns the contents of view as a consolidated multiset: each
// distinct row once with its count, ordered by row.CompareRows. The result
// is a copy the caller may keep.
func (m *Memory) Rows(view row.TableName) []row.Update {
	m.mu.Lock()
	defer m.mu.Unlock()
	t := m.mu.tables[view]
	out := make([]row.Update, 0, len(t))
	for _, e := range t {
		out = append(out, *e)
	}
	slices.SortFunc(out, func(a, b row.Update) int { return row.CompareRows(a.Row, b.Row) })
	return out
}

// Dump implements Dumper.
func (m *Memory) Dump(_ context.Context, view row.TableName, w io.Writer) error {
	var buf []byte
	for _, u := range m.Rows(view) {
		for i := row.Weight(0); i < u.W; i++ {
			buf = appendCopyRow(buf, u.Row)
		}
	}
	_, err := w.Write(buf)
	return err
}

// Steps returns how many steps were applied (skipped steps and loads not
// counted).
func (m *Memory) Steps() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.mu.steps
}
