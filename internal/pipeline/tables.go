package pipeline

import (
	"fmt"

	"github.com/rippledb/ripple/cdc"
	"github.com/rippledb/ripple/internal/row"
	"github.com/rippledb/ripple/internal/state"
)

// tableState is ripple's own arrangement of one replicated table: every
// current row, keyed by the replica identity. pgoutput does not send the
// old row of an UPDATE or DELETE under REPLICA IDENTITY DEFAULT/INDEX (only
// its key, or nothing when the key did not change), nor unchanged TOAST
// values (see shared/PGOUTPUT-NOTES.md); both come from here. It also makes
// TRUNCATE a retraction of every row.
//
// Tables without a usable key (REPLICA IDENTITY FULL, or no identity at all,
// where PostgreSQL refuses UPDATE and DELETE) are kept as a multiset of
// whole rows.
type tableState struct {
	name row.TableName
	id   string // the table's name in the state store
	key  []int  // replica identity columns; nil = whole-row multiset
	rows map[string]*entry

	// With durable state, dirty holds the keys changed since the last
	// checkpoint and truncated says the table was emptied since then
	// (track is off during the initial load, which writes rows directly).
	track     bool
	dirty     map[string]struct{}
	truncated bool

	// count is the number of rows (multiplicities added up) and bytes an
	// estimate of the memory rows holds, for the state-size metrics.
	count, bytes int64
}

// entryOverhead estimates a map entry and its *entry beyond the row and
// the key's bytes.
const entryOverhead = 64

func entrySize(k string, r row.Row) int64 { return int64(len(k) + r.Size() + entryOverhead) }

type entry struct {
	row row.Row
	n   row.Weight // multiplicity (always 1 for keyed tables)
}

func newTableState(name row.TableName, key []int) *tableState {
	return &tableState{name: name, id: name.String(), key: key, rows: map[string]*entry{}, dirty: map[string]struct{}{}}
}

func (t *tableState) keyOf(r row.Row) string {
	if t.key == nil {
		return r.EncodeExact()
	}
	return r.Key(t.key)
}

func (t *tableState) insert(r row.Row) error {
	k := t.keyOf(r)
	if t.track {
		t.dirty[k] = struct{}{}
	}
	if e, ok := t.rows[k]; ok {
		if t.key != nil {
			return fmt.Errorf("table %s: insert of a row whose replica identity key is already present: %v", t.name, r)
		}
		e.n++
		t.count++
		return nil
	}
	t.rows[k] = &entry{row: r, n: 1}
	t.count++
	t.bytes += entrySize(k, r)
	return nil
}

func (t *tableState) remove(k string) (row.Row, error) {
	e, ok := t.rows[k]
	if t.track {
		t.dirty[k] = struct{}{}
	}
	if !ok {
		return nil, fmt.Errorf("table %s: row to update or delete is not in ripple's copy of the table (key %q); the table may have been changed while replication was not running", t.name, k)
	}
	e.n--
	t.count--
	if e.n == 0 {
		delete(t.rows, k)
		t.bytes -= entrySize(k, e.row)
	}
	return e.row, nil
}

// apply turns one change into Z-set updates of the table, in full rows,
// and updates the arrangement.
func (t *tableState) apply(c cdc.Change, out []row.Update) ([]row.Update, error) {
	switch c.Op {
	case cdc.OpInsert:
		r := t.fillUnchanged(c.New, c.Unchanged, nil)
		if err := t.insert(r); err != nil {
			return out, err
		}
		return append(out, row.Update{Row: r, W: 1}), nil
	case cdc.OpUpdate, cdc.OpDelete:
		old, err := t.removeOld(c)
		if err != nil {
			return out, err
		}
		out = append(out, row.Update{Row: old, W: -1})
		if c.Op == cdc.OpDelete {
			return out, nil
		}
		r := t.fillUnchanged(c.New, c.Unchanged, old)
		if err := t.insert(r); err != nil {
			return out, err
		}
		return append(out, row.Update{Row: r, W: 1}), nil
	case cdc.OpTruncate:
		for _, e := range t.rows {
			out = append(out, row.Update{Row: e.row, W: -e.n})
		}
		t.rows = map[string]*entry{}
		t.count, t.bytes = 0, 0
		if t.track {
			t.truncated = true
			clear(t.dirty)
		}
		return out, nil
	}
	return out, fmt.Errorf("table %s: unknown change %v", t.name, c.Op)
}

// removeOld finds and removes the old row of an UPDATE or DELETE.
func (t *tableState) removeOld(c cdc.Change) (row.Row, error) {
	switch {
	case c.OldKind == cdc.OldFull && t.key == nil:
		return t.remove(c.Old.EncodeExact())
	case c.OldKind == cdc.OldFull:
		return t.remove(c.Old.Key(t.key))
	case t.key == nil:
		return nil, fmt.Errorf("table %s: %s without the old row and without a replica identity key; set REPLICA IDENTITY FULL or add a primary key", t.name, c.Op)
	case c.OldKind == cdc.OldKey:
		return t.remove(c.Old.Key(t.key))
	default: // OldNone: the key did not change, so the new row carries it
		return t.remove(c.New.Key(t.key))
	}
}

// fillUnchanged replaces unchanged-TOAST placeholders with the old values.
func (t *tableState) fillUnchanged(r row.Row, unchanged []bool, old row.Row) row.Row {
	if unchanged == nil {
		return r
	}
	out := append(row.Row(nil), r...)
	for i, u := range unchanged {
		if u && old != nil && i < len(old) {
			out[i] = old[i]
		}
	}
	return out
}

// restore puts a row read back from the state store.
func (t *tableState) restore(k string, r row.Row, n row.Weight) {
	t.rows[k] = &entry{row: r, n: n}
	t.count += int64(n)
	t.bytes += entrySize(k, r)
	t.track = true
}

// flushDirty writes what changed since the last checkpoint to w and starts
// tracking changes from here.
func (t *tableState) flushDirty(w *state.Writer) error {
	if t.truncated {
		if err := w.DeleteTable(t.id); err != nil {
			return err
		}
		t.truncated = false
	}
	for k := range t.dirty {
		var err error
		if e, ok := t.rows[k]; ok {
			err = w.Put(t.id, k, e.row, int64(e.n))
		} else {
			err = w.Delete(t.id, k)
		}
		if err != nil {
			return err
		}
	}
	clear(t.dirty)
	t.track = true
	return nil
}
