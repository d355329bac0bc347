package pipeline

import (
	"encoding/binary"
	"fmt"

	"github.com/rippledb/ripple/cdc"
	"github.com/rippledb/ripple/internal/bytemap"
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
// whole rows: keyed by the whole row, with the multiplicity in the entry.
//
// A table is first held in memory. With durable state, once the
// tables outgrow the engine's table memory budget, the largest move to
// disk (spill): their rows are then read from the state store when a
// change needs them (pebble's block cache keeps the hot ones), and rows
// holds only what changed since the last checkpoint, a deleted row as an
// entry with n == 0.
type tableState struct {
	name row.TableName
	id   string // the table's name in the state store
	key  []int  // replica identity columns; nil = whole-row multiset
	// rows holds the entries (entry.append) by key, in chunks the garbage
	// collector need not scan (a copy of a large table is millions of
	// rows).
	rows *bytemap.Map
	buf  []byte             // reused for encoding rows
	ebuf []byte             // reused for encoding entries
	disk *state.TableReader // set once spilled
	// stg is the writer of the next checkpoint once it holds this table's
	// changes of a large transaction moved out of rows (stage): rows then
	// holds the changes since, and lookups go rows, stg, disk.
	stg *state.Writer

	// With durable state, dirty holds the keys changed since the last
	// checkpoint and truncated says the table was emptied since then
	// (track is off during the initial load, which writes rows directly).
	track     bool
	dirty     map[string]struct{}
	truncated bool
	// dirtyBytes estimates the memory dirty takes (dirtyEntry per key),
	// which counts toward the table memory budget: a transaction updating
	// most rows of a large table in memory grows it until its checkpoint.
	dirtyBytes int64

	// count is the number of rows (multiplicities added up).
	count int64
}

// bytes is the memory rows holds (for a spilled table: the changes since
// the last checkpoint) and the set of changed keys, for the state-size
// metrics and the table memory budget.
func (t *tableState) bytes() int64 { return t.rows.Bytes() + t.dirtyBytes }

// dirtyEntry is what one key of dirty takes besides the key's bytes: the
// map's slot (a string header) with its load factor and growth, and the
// key's allocation. Measured with Go 1.26: a million 8-byte keys take
// 72 MB.
const dirtyEntry = 64

// markDirty records that k changed since the last checkpoint.
func (t *tableState) markDirty(k string) {
	if !t.track || t.disk != nil {
		return
	}
	if _, ok := t.dirty[k]; !ok {
		t.dirty[k] = struct{}{}
		t.dirtyBytes += int64(len(k)) + dirtyEntry
	}
}

// clearDirty forgets the changed keys. A map that grew large is dropped
// rather than cleared, since a cleared map keeps its size.
func (t *tableState) clearDirty() {
	if len(t.dirty) > 1024 {
		t.dirty = map[string]struct{}{}
	} else {
		clear(t.dirty)
	}
	t.dirtyBytes = 0
}

// entry is one row of the table in its binary encoding (row.AppendBinary):
// a few bytes per column rather than a 40-byte Datum each, in one
// allocation. It is decoded when an UPDATE, DELETE or TRUNCATE needs it.
type entry struct {
	enc string
	n   row.Weight // multiplicity (always 1 for keyed tables)
}

// entries are stored as varint(n) | enc.
func (e entry) append(b []byte) []byte {
	return append(binary.AppendVarint(b, int64(e.n)), e.enc...)
}

// lookup returns k's entry in rows (its enc a copy).
func (t *tableState) lookup(k string) (entry, bool) {
	v, ok := t.rows.Get(k)
	if !ok {
		return entry{}, false
	}
	return decodeEntry(v), true
}

func decodeEntry(v []byte) entry {
	n, sz := binary.Varint(v)
	return entry{enc: string(v[sz:]), n: row.Weight(n)}
}

func (t *tableState) set(k string, e entry) {
	t.ebuf = e.append(t.ebuf[:0])
	t.rows.Set(k, t.ebuf)
}

// each calls fn with every entry of rows.
func (t *tableState) each(fn func(k string, e entry) error) error {
	var err error
	t.rows.Range(func(k, v []byte) bool {
		err = fn(string(k), decodeEntry(v))
		return err == nil
	})
	return err
}

func (e entry) row() (row.Row, error) {
	r, rest, err := row.DecodeBinaryString(e.enc)
	if err != nil || rest != "" {
		return nil, fmt.Errorf("undecodable row in ripple's copy of the table (%v)", err)
	}
	return r, nil
}

func newTableState(name row.TableName, key []int) *tableState {
	return &tableState{name: name, id: name.String(), key: key, rows: bytemap.New(), dirty: map[string]struct{}{}}
}

func (t *tableState) encode(r row.Row) string {
	t.buf = row.AppendBinary(t.buf[:0], r)
	return string(t.buf)
}

func (t *tableState) keyOf(r row.Row) string {
	if t.key == nil {
		return r.EncodeExact()
	}
	return r.Key(t.key)
}

// get finds the row stored under k.
func (t *tableState) get(k string) (entry, bool, error) {
	if e, ok := t.lookup(k); ok {
		return e, e.n > 0, nil
	}
	if t.stg != nil {
		enc, n, ok, err := t.stg.StagedRow(t.id, k)
		if err != nil {
			return entry{}, false, fmt.Errorf("table %s: %w", t.name, err)
		}
		if ok {
			return entry{enc: enc, n: row.Weight(n)}, n > 0, nil
		}
	}
	if t.disk == nil || t.truncated {
		return entry{}, false, nil
	}
	enc, n, ok, err := t.disk.Get(k)
	if err != nil {
		return entry{}, false, fmt.Errorf("table %s: %w", t.name, err)
	}
	return entry{enc: enc, n: row.Weight(n)}, ok, nil
}

func (t *tableState) insert(r row.Row) error {
	k := t.keyOf(r)
	t.markDirty(k)
	e, ok, err := t.get(k)
	if err != nil {
		return err
	}
	if ok {
		if t.key != nil {
			return fmt.Errorf("table %s: insert of a row whose replica identity key is already present: %v", t.name, r)
		}
		e.n++
		t.set(k, e)
		t.count++
		return nil
	}
	t.buf = row.AppendBinary(t.buf[:0], r)
	t.count++
	// A spilled table's rows hold its changes since the last checkpoint.
	t.ebuf = append(binary.AppendVarint(t.ebuf[:0], 1), t.buf...)
	t.rows.Set(k, t.ebuf)
	return nil
}

func (t *tableState) remove(k string) (row.Row, error) {
	t.markDirty(k)
	e, ok, err := t.get(k)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("table %s: row to update or delete is not in ripple's copy of the table (key %q); the table may have been changed while replication was not running", t.name, k)
	}
	r, err := e.row()
	if err != nil {
		return nil, fmt.Errorf("table %s: %w", t.name, err)
	}
	e.n--
	t.count--
	switch {
	case e.n > 0:
		t.set(k, e)
	case t.disk != nil:
		t.set(k, entry{}) // deleted since the last checkpoint
	default:
		t.rows.Delete(k)
	}
	return r, nil
}

// load adds a row of the initial snapshot and returns its key and entry,
// which the caller writes to the state store. A spilled keyed table keeps
// none of them in memory: the snapshot of a keyed table has no duplicate
// keys. A spilled keyless table counts a duplicate from the rows loaded
// since the store's last flush (held in rows until loadFlushed) and the
// stored ones.
func (t *tableState) load(r row.Row) (string, entry, error) {
	if t.disk != nil && t.key != nil {
		t.count++
		return t.keyOf(r), entry{enc: t.encode(r), n: 1}, nil
	}
	if err := t.insert(r); err != nil {
		return "", entry{}, err
	}
	k := t.keyOf(r)
	e, _ := t.lookup(k)
	return k, e, nil
}

// loadFlushed is called once the initial load's rows so far are in the
// state store: a spilled table forgets the ones it held (see load).
func (t *tableState) loadFlushed() {
	if t.disk != nil {
		t.rows.Clear()
	}
}

// spill moves the table to disk. Every row must be in the state store and
// nothing changed since (right after a checkpoint or a flushed snapshot
// chunk, or while restoring).
func (t *tableState) spill(store *state.Store) bool {
	if t.disk != nil || store == nil {
		return false
	}
	t.disk = store.Table(t.id)
	t.rows.Clear()
	t.clearDirty()
	return true
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
		retract := func(e entry) error {
			if e.n == 0 {
				return nil
			}
			r, err := e.row()
			if err != nil {
				return fmt.Errorf("table %s: %w", t.name, err)
			}
			out = append(out, row.Update{Row: r, W: -e.n})
			return nil
		}
		if err := t.each(func(_ string, e entry) error { return retract(e) }); err != nil {
			return out, err
		}
		if t.stg != nil {
			err := t.stg.ScanStaged(t.id, func(k, enc string, n int64) error {
				if _, changed := t.rows.Get(k); changed {
					return nil
				}
				return retract(entry{enc: enc, n: row.Weight(n)})
			})
			if err != nil {
				return out, fmt.Errorf("table %s: %w", t.name, err)
			}
		}
		if t.disk != nil && !t.truncated {
			err := t.disk.Scan(func(k, enc string, n int64) error {
				if _, changed := t.rows.Get(k); changed {
					return nil
				}
				if t.stg != nil {
					_, _, staged, err := t.stg.StagedRow(t.id, k)
					if err != nil || staged {
						return err
					}
				}
				return retract(entry{enc: enc, n: row.Weight(n)})
			})
			if err != nil {
				return out, fmt.Errorf("table %s: %w", t.name, err)
			}
		}
		t.rows.Clear()
		t.count = 0
		if t.stg != nil {
			// The staged rows go too, and the truncation is in the
			// writer already.
			if err := t.stg.DeleteTable(t.id); err != nil {
				return out, err
			}
			if err := t.stg.Stage(); err != nil {
				return out, err
			}
		}
		if t.track {
			t.truncated = true
			t.clearDirty()
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
	t.count += int64(n)
	t.track = true
	if t.disk != nil {
		return
	}
	t.buf = row.AppendBinary(t.buf[:0], r)
	t.ebuf = append(binary.AppendVarint(t.ebuf[:0], int64(n)), t.buf...)
	t.rows.Set(k, t.ebuf)
}

// stage moves the table's changes since the last checkpoint to w, the
// next checkpoint's writer, and has w stage them (see state.Writer): a
// large transaction's changes then stop taking memory. A table in memory
// moves to disk with it. It reports whether it freed anything.
func (t *tableState) stage(w *state.Writer, store *state.Store) (bool, error) {
	if t.rows.Len() == 0 && t.disk != nil {
		return false, nil
	}
	if t.truncated && t.stg == nil {
		if err := w.DeleteTable(t.id); err != nil {
			return false, err
		}
	}
	if err := t.writeChanges(w); err != nil {
		return false, err
	}
	if t.disk == nil {
		t.disk = store.Table(t.id)
		t.clearDirty()
	}
	if err := w.Stage(); err != nil {
		return false, err
	}
	t.rows.Clear()
	t.stg = w
	return true, nil
}

// flushDirty writes what changed since the last checkpoint to w and starts
// tracking changes from here.
func (t *tableState) flushDirty(w *state.Writer) error {
	if t.truncated && t.stg == nil {
		if err := w.DeleteTable(t.id); err != nil {
			return err
		}
	}
	t.truncated = false
	t.stg = nil
	if err := t.writeChanges(w); err != nil {
		return err
	}
	if t.disk != nil {
		t.rows.Clear() // the writer's batch is committed before the next lookup
	} else {
		t.clearDirty()
	}
	t.track = true
	return nil
}

// writeChanges writes the table's changes since the last checkpoint to w:
// a table in memory its changed keys' rows, a spilled one its rows.
func (t *tableState) writeChanges(w *state.Writer) error {
	if t.disk != nil {
		return t.each(func(k string, e entry) error {
			if e.n > 0 {
				return w.PutEncoded(t.id, k, e.enc, int64(e.n))
			}
			return w.Delete(t.id, k)
		})
	}
	for k := range t.dirty {
		var err error
		if e, ok := t.lookup(k); ok {
			err = w.PutEncoded(t.id, k, e.enc, int64(e.n))
		} else {
			err = w.Delete(t.id, k)
		}
		if err != nil {
			return err
		}
	}
	return nil
}
