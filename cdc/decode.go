package cdc

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/rippledb/ripple/internal/row"
)

// This file is the pure half of the stream: pgoutput protocol version 1
// bytes → messages (decodeMessage) → Txns (assembler). It does no I/O, so it
// can be unit-tested and fuzzed without a server.
//
// The byte decoder is written here rather than taken from pglogrepl.Parse:
// pglogrepl indexes its input without checking lengths and allocates a
// column buffer of the length the wire claims before checking that the bytes
// are there, so a short or corrupt message panics or asks for 4 GiB. Every
// read below is bounds-checked.
// Format: https://www.postgresql.org/docs/15/protocol-logicalrep-message-formats.html

// ErrMalformed is wrapped by every error about bytes that are not valid
// pgoutput protocol version 1.
var ErrMalformed = errors.New("cdc: malformed pgoutput message")

// message is one decoded pgoutput message: one of the msg* types below.
type message interface{ kind() byte }

type msgBegin struct {
	FinalLSN   row.LSN // LSN of the commit record
	CommitTime time.Time
	XID        uint32
}

type msgCommit struct {
	Flags      uint8
	CommitLSN  row.LSN
	EndLSN     row.LSN
	CommitTime time.Time
}

type msgOrigin struct {
	CommitLSN row.LSN
	Name      string
}

type msgRelationColumn struct {
	Key  bool // flag 1: part of the replica identity
	Name string
	Type row.Type
}

type msgRelation struct {
	ID        RelationID
	Namespace string
	Name      string
	Identity  ReplicaIdentity
	Columns   []msgRelationColumn
}

type msgType struct {
	OID       row.OID
	Namespace string
	Name      string
}

// tupleCol is one column of a TupleData: Kind is 'n' NULL, 'u' unchanged
// TOAST, 't' text or 'b' binary; Data aliases the input buffer.
type tupleCol struct {
	Kind byte
	Data []byte
}

type msgInsert struct {
	Rel RelationID
	New []tupleCol
}

type msgUpdate struct {
	Rel     RelationID
	OldKind byte // 0, 'K' or 'O'
	Old     []tupleCol
	New     []tupleCol
}

type msgDelete struct {
	Rel     RelationID
	OldKind byte // 'K' or 'O'
	Old     []tupleCol
}

type msgTruncate struct {
	Options uint8
	Rels    []RelationID
}

type msgLogical struct {
	Transactional bool
	LSN           row.LSN
	Prefix        string
	Content       []byte
}

func (msgBegin) kind() byte    { return 'B' }
func (msgCommit) kind() byte   { return 'C' }
func (msgOrigin) kind() byte   { return 'O' }
func (msgRelation) kind() byte { return 'R' }
func (msgType) kind() byte     { return 'Y' }
func (msgInsert) kind() byte   { return 'I' }
func (msgUpdate) kind() byte   { return 'U' }
func (msgDelete) kind() byte   { return 'D' }
func (msgTruncate) kind() byte { return 'T' }
func (msgLogical) kind() byte  { return 'M' }

// reader reads big-endian fields from a byte slice, remembering the first
// short read; after an error every read returns a zero value.
type reader struct {
	b   []byte
	err error
}

func (r *reader) fail(what string) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: truncated %s", ErrMalformed, what)
	}
	r.b = nil
}

func (r *reader) bytes(n int, what string) []byte {
	if r.err != nil || n < 0 || len(r.b) < n {
		r.fail(what)
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

func (r *reader) u8(what string) uint8 {
	b := r.bytes(1, what)
	if b == nil {
		return 0
	}
	return b[0]
}

func (r *reader) u16(what string) uint16 {
	b := r.bytes(2, what)
	if b == nil {
		return 0
	}
	return binary.BigEndian.Uint16(b)
}

func (r *reader) u32(what string) uint32 {
	b := r.bytes(4, what)
	if b == nil {
		return 0
	}
	return binary.BigEndian.Uint32(b)
}

func (r *reader) u64(what string) uint64 {
	b := r.bytes(8, what)
	if b == nil {
		return 0
	}
	return binary.BigEndian.Uint64(b)
}

// done checks that a message had all its fields and no more.
func (r *reader) done(kind byte) error {
	if r.err != nil {
		return r.err
	}
	if len(r.b) != 0 {
		return fmt.Errorf("%w: %d trailing bytes after %q message", ErrMalformed, len(r.b), kind)
	}
	return nil
}

func (r *reader) lsn(what string) row.LSN { return row.LSN(r.u64(what)) }

// pgEpoch is 2000-01-01 00:00:00 UTC, the origin of PostgreSQL timestamps.
var pgEpoch = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

func (r *reader) time(what string) time.Time {
	us := int64(r.u64(what))
	if r.err != nil {
		return time.Time{}
	}
	return pgEpoch.Add(time.Duration(us) * time.Microsecond)
}

// cstring reads a NUL-terminated string.
func (r *reader) cstring(what string) string {
	if r.err != nil {
		return ""
	}
	for i, c := range r.b {
		if c == 0 {
			s := string(r.b[:i])
			r.b = r.b[i+1:]
			return s
		}
	}
	r.fail(what + " (no NUL terminator)")
	return ""
}

func (r *reader) tuple(what string) []tupleCol {
	n := int(r.u16(what + " column count"))
	if r.err != nil {
		return nil
	}
	// Each column takes at least one byte: do not trust n for allocation
	// beyond what the input can hold.
	cols := make([]tupleCol, 0, min(n, len(r.b)))
	for i := 0; i < n && r.err == nil; i++ {
		c := tupleCol{Kind: r.u8(what)}
		switch c.Kind {
		case 'n', 'u':
		case 't', 'b':
			l := r.u32(what + " column length")
			if uint64(l) > uint64(len(r.b)) {
				r.fail(fmt.Sprintf("%s column %d (length %d)", what, i, l))
				break
			}
			c.Data = r.bytes(int(l), what)
		default:
			if r.err == nil {
				r.err = fmt.Errorf("%w: %s column %d has unknown kind %q", ErrMalformed, what, i, c.Kind)
			}
		}
		cols = append(cols, c)
	}
	return cols
}

// decodeMessage decodes one pgoutput (protocol version 1) message: the
// payload of an XLogData. Streaming (v2) messages are the spool's
// (spool.go), which hands the messages of a streamed transaction back here
// in their version 1 form; two-phase (v3) messages are rejected.
func decodeMessage(b []byte) (message, error) {
	if len(b) == 0 {
		return nil, fmt.Errorf("%w: empty message", ErrMalformed)
	}
	r := &reader{b: b[1:]}
	var m message
	switch b[0] {
	case 'B':
		m = msgBegin{FinalLSN: r.lsn("begin"), CommitTime: r.time("begin"), XID: r.u32("begin")}
	case 'C':
		m = msgCommit{Flags: r.u8("commit"), CommitLSN: r.lsn("commit"), EndLSN: r.lsn("commit"), CommitTime: r.time("commit")}
	case 'O':
		m = msgOrigin{CommitLSN: r.lsn("origin"), Name: r.cstring("origin name")}
	case 'R':
		m = decodeRelation(r)
	case 'Y':
		m = msgType{OID: row.OID(r.u32("type")), Namespace: r.cstring("type namespace"), Name: r.cstring("type name")}
	case 'I':
		ins := msgInsert{Rel: RelationID(r.u32("insert"))}
		if k := r.u8("insert"); r.err == nil && k != 'N' {
			return nil, fmt.Errorf("%w: insert tuple marker %q, want 'N'", ErrMalformed, k)
		}
		ins.New = r.tuple("insert")
		m = ins
	case 'U':
		u, err := decodeUpdate(r)
		if err != nil {
			return nil, err
		}
		m = u
	case 'D':
		d := msgDelete{Rel: RelationID(r.u32("delete")), OldKind: r.u8("delete")}
		if r.err == nil && d.OldKind != 'K' && d.OldKind != 'O' {
			return nil, fmt.Errorf("%w: delete tuple marker %q, want 'K' or 'O'", ErrMalformed, d.OldKind)
		}
		d.Old = r.tuple("delete")
		m = d
	case 'T':
		n := r.u32("truncate")
		t := msgTruncate{Options: r.u8("truncate")}
		if uint64(n)*4 > uint64(len(r.b)) {
			r.fail("truncate relation list")
		}
		for i := uint32(0); i < n && r.err == nil; i++ {
			t.Rels = append(t.Rels, RelationID(r.u32("truncate")))
		}
		m = t
	case 'M':
		lm := msgLogical{Transactional: r.u8("message") == 1, LSN: r.lsn("message"), Prefix: r.cstring("message prefix")}
		lm.Content = r.bytes(int(r.u32("message content")), "message content")
		m = lm
	default:
		return nil, fmt.Errorf("%w: unsupported message type %q (ripple speaks proto_version 1)", ErrMalformed, b[0])
	}
	if err := r.done(b[0]); err != nil {
		return nil, err
	}
	return m, nil
}

func decodeRelation(r *reader) msgRelation {
	rel := msgRelation{
		ID:        RelationID(r.u32("relation")),
		Namespace: r.cstring("relation namespace"),
		Name:      r.cstring("relation name"),
		Identity:  ReplicaIdentity(r.u8("relation")),
	}
	n := int(r.u16("relation"))
	if r.err != nil {
		return rel
	}
	rel.Columns = make([]msgRelationColumn, 0, min(n, len(r.b)))
	for i := 0; i < n && r.err == nil; i++ {
		flags := r.u8("relation column")
		c := msgRelationColumn{Key: flags&1 != 0, Name: r.cstring("relation column name")}
		c.Type = row.Type{OID: row.OID(r.u32("relation column")), Mod: int32(r.u32("relation column"))}
		rel.Columns = append(rel.Columns, c)
	}
	return rel
}

func decodeUpdate(r *reader) (msgUpdate, error) {
	u := msgUpdate{Rel: RelationID(r.u32("update"))}
	k := r.u8("update")
	if r.err != nil {
		return u, r.err
	}
	if k == 'K' || k == 'O' {
		u.OldKind = k
		u.Old = r.tuple("update old")
		k = r.u8("update")
		if r.err != nil {
			return u, r.err
		}
	}
	if k != 'N' {
		return u, fmt.Errorf("%w: update tuple marker %q, want 'K', 'O' or 'N'", ErrMalformed, k)
	}
	u.New = r.tuple("update new")
	return u, r.err
}

// newRelation builds the immutable Relation a Relation message describes.
func newRelation(m msgRelation) *Relation {
	rel := &Relation{
		ID:       m.ID,
		Name:     row.TableName{Schema: m.Namespace, Name: m.Name},
		Columns:  make(row.Schema, len(m.Columns)),
		Identity: m.Identity,
	}
	for i, c := range m.Columns {
		rel.Columns[i] = row.Column{Name: c.Name, Type: c.Type}
		if c.Key {
			rel.KeyCols = append(rel.KeyCols, i)
		}
	}
	return rel
}

// parseValue decodes the text of one value of type t. Values of types ripple
// does not support (t.Supported() is false: arrays, ranges, money, ...)
// are kept opaque as row.NewText of their text form, so they can be carried
// and written out but not computed on.
func parseValue(t row.Type, s string) (row.Datum, error) {
	if !t.Supported() {
		return row.NewText(s), nil
	}
	return row.ParseText(t, s)
}

// decodeTuple turns tuple columns into a row typed by rel. unchanged is nil
// unless some column is 'u' (unchanged TOAST), in which case it flags those
// columns, whose Datums are NULL placeholders.
func decodeTuple(rel *Relation, cols []tupleCol) (r row.Row, unchanged []bool, err error) {
	if len(cols) != len(rel.Columns) {
		return nil, nil, fmt.Errorf("%w: tuple of %s has %d columns, relation has %d",
			ErrMalformed, rel.Name, len(cols), len(rel.Columns))
	}
	r = make(row.Row, len(cols))
	for i, c := range cols {
		switch c.Kind {
		case 'n':
		case 'u':
			if unchanged == nil {
				unchanged = make([]bool, len(cols))
			}
			unchanged[i] = true
		case 't':
			col := rel.Columns[i]
			d, err := parseValue(col.Type, string(c.Data))
			if err != nil {
				return nil, nil, fmt.Errorf("decode column %s of %s: %w", row.QuoteIdent(col.Name), rel.Name, err)
			}
			r[i] = d
		default: // 'b': never sent unless binary mode is requested, and ripple does not.
			return nil, nil, fmt.Errorf("%w: column %s of %s has format %q", ErrMalformed, rel.Columns[i].Name, rel.Name, c.Kind)
		}
	}
	return r, unchanged, nil
}

// assembler turns a message sequence into committed transactions. It owns
// the relation cache. The zero value is not ready: use newAssembler.
type assembler struct {
	// base maps a domain's OID to its base type (nil: no domains).
	base func(row.OID) (row.Type, bool)
	rels map[RelationID]*Relation
	cur  *Txn // the transaction between Begin and Commit; nil between transactions
	// partChanges > 0 delivers a transaction in parts of that many
	// changes (see Txn), except the ones whole names.
	partChanges int
	whole       func(row.LSN) bool
	curWhole    bool
}

func newAssembler() *assembler { return &assembler{rels: make(map[RelationID]*Relation)} }

// inTxn reports whether a transaction is half assembled.
func (a *assembler) inTxn() bool { return a.cur != nil }

// apply feeds one message. It returns the transaction a Commit completes
// (with its changes; possibly none) and nil otherwise.
func (a *assembler) apply(m message) (*Txn, error) {
	switch m := m.(type) {
	case msgBegin:
		if a.cur != nil {
			return nil, fmt.Errorf("%w: begin of xid %d inside xid %d", ErrMalformed, m.XID, a.cur.XID)
		}
		a.cur = &Txn{XID: m.XID, CommitLSN: m.FinalLSN, CommitTime: m.CommitTime}
		a.curWhole = a.whole != nil && a.whole(m.FinalLSN)
	case msgCommit:
		if a.cur == nil {
			return nil, fmt.Errorf("%w: commit at %s outside a transaction", ErrMalformed, m.CommitLSN)
		}
		t := a.cur
		a.cur = nil
		t.CommitLSN, t.EndLSN, t.CommitTime = m.CommitLSN, m.EndLSN, m.CommitTime
		t.Received = time.Now()
		return t, nil
	case msgRelation:
		// A new *Relation each time: Changes already assembled keep the
		// shape they were decoded with.
		rel := newRelation(m)
		if a.base != nil {
			for i := range rel.Columns {
				if t, ok := a.base(rel.Columns[i].Type.OID); ok {
					rel.Columns[i].Type = t
				}
			}
		}
		a.rels[m.ID] = rel
	case msgType, msgOrigin, msgLogical:
		// Type: ripple keeps values of unknown types as text, so it needs no
		// type names. Origin and logical messages carry nothing for views.
	case msgInsert:
		return part(a, a.insert, m)
	case msgUpdate:
		return part(a, a.update, m)
	case msgDelete:
		return part(a, a.delete, m)
	case msgTruncate:
		return part(a, a.truncate, m)
	default:
		return nil, fmt.Errorf("%w: unexpected message %T", ErrMalformed, m)
	}
	return nil, nil
}

// part adds the change of message m with add, first cutting the changes
// assembled so far off as a part of the transaction (see Txn) when they
// reached partChanges: the last part is never empty.
func part[M message](a *assembler, add func(M) error, m M) (*Txn, error) {
	var p *Txn
	if a.cur != nil && a.partChanges > 0 && !a.curWhole && len(a.cur.Changes) >= a.partChanges {
		cut := *a.cur
		cut.More = true
		a.cur.Changes = make([]Change, 0, a.partChanges)
		a.cur.Part++
		p = &cut
	}
	if err := add(m); err != nil {
		return nil, err
	}
	return p, nil
}

func (a *assembler) relation(id RelationID, what string) (*Relation, error) {
	if a.cur == nil {
		return nil, fmt.Errorf("%w: %s outside a transaction", ErrMalformed, what)
	}
	rel, ok := a.rels[id]
	if !ok {
		return nil, fmt.Errorf("%w: %s for relation %d before its Relation message", ErrMalformed, what, id)
	}
	return rel, nil
}

func (a *assembler) insert(m msgInsert) error {
	rel, err := a.relation(m.Rel, "insert")
	if err != nil {
		return err
	}
	n, unch, err := decodeTuple(rel, m.New)
	if err != nil {
		return fmt.Errorf("decode insert into %s: %w", rel.Name, err)
	}
	a.cur.Changes = append(a.cur.Changes, Change{Op: OpInsert, Rel: rel, New: n, Unchanged: unch})
	return nil
}

func oldKind(k byte) OldKind {
	switch k {
	case 'K':
		return OldKey
	case 'O':
		return OldFull
	}
	return OldNone
}

func (a *assembler) update(m msgUpdate) error {
	rel, err := a.relation(m.Rel, "update")
	if err != nil {
		return err
	}
	c := Change{Op: OpUpdate, Rel: rel, OldKind: oldKind(m.OldKind)}
	if c.OldKind != OldNone {
		if c.Old, err = decodeOld(rel, m.Old); err != nil {
			return fmt.Errorf("decode update of %s (old): %w", rel.Name, err)
		}
	}
	if c.New, c.Unchanged, err = decodeTuple(rel, m.New); err != nil {
		return fmt.Errorf("decode update of %s: %w", rel.Name, err)
	}
	a.cur.Changes = append(a.cur.Changes, c)
	return nil
}

// decodeOld decodes a 'K' or 'O' tuple. PostgreSQL detoasts the old tuple
// before logging it (ExtractReplicaIdentity), so it never holds 'u'; if it
// did, the row would have a hole nobody could fill, so that is an error.
func decodeOld(rel *Relation, cols []tupleCol) (row.Row, error) {
	r, unch, err := decodeTuple(rel, cols)
	if err == nil && unch != nil {
		err = fmt.Errorf("%w: old tuple of %s has an unchanged-TOAST column", ErrMalformed, rel.Name)
	}
	return r, err
}

func (a *assembler) delete(m msgDelete) error {
	rel, err := a.relation(m.Rel, "delete")
	if err != nil {
		return err
	}
	c := Change{Op: OpDelete, Rel: rel, OldKind: oldKind(m.OldKind)}
	if c.Old, err = decodeOld(rel, m.Old); err != nil {
		return fmt.Errorf("decode delete from %s: %w", rel.Name, err)
	}
	a.cur.Changes = append(a.cur.Changes, c)
	return nil
}

func (a *assembler) truncate(m msgTruncate) error {
	for _, id := range m.Rels {
		rel, err := a.relation(id, "truncate")
		if err != nil {
			return err
		}
		a.cur.Changes = append(a.cur.Changes, Change{Op: OpTruncate, Rel: rel})
	}
	return nil
}
