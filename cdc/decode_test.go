package cdc

import (
	"encoding/binary"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/rippledb/ripple/internal/row"
)

// wire builds pgoutput messages for tests.
type wire []byte

func msg(kind byte) wire { return wire{kind} }

func (w wire) u8(v byte) wire       { return append(w, v) }
func (w wire) u16(v uint16) wire    { return binary.BigEndian.AppendUint16(w, v) }
func (w wire) u32(v uint32) wire    { return binary.BigEndian.AppendUint32(w, v) }
func (w wire) u64(v uint64) wire    { return binary.BigEndian.AppendUint64(w, v) }
func (w wire) str(s string) wire    { return append(append(w, s...), 0) }
func (w wire) raw(b ...byte) wire   { return append(w, b...) }
func (w wire) text(s string) wire   { return w.u8('t').u32(uint32(len(s))).raw([]byte(s)...) }
func (w wire) tuple(n int) wire     { return w.u16(uint16(n)) }
func (w wire) null() wire           { return w.u8('n') }
func (w wire) unchangedToast() wire { return w.u8('u') }

func beginMsg(final row.LSN, xid uint32) wire {
	return msg('B').u64(uint64(final)).u64(0).u32(xid)
}

func commitMsg(commit, end row.LSN) wire {
	return msg('C').u8(0).u64(uint64(commit)).u64(uint64(end)).u64(uint64(86400 * 1_000_000))
}

// relMsg: columns as name, type oid, key flag.
type relCol struct {
	name string
	oid  row.OID
	key  bool
}

func relMsg(id uint32, nsp, name string, ident byte, cols ...relCol) wire {
	w := msg('R').u32(id).str(nsp).str(name).u8(ident).u16(uint16(len(cols)))
	for _, c := range cols {
		var f byte
		if c.key {
			f = 1
		}
		w = w.u8(f).str(c.name).u32(uint32(c.oid)).u32(0xffffffff)
	}
	return w
}

func mustDecode(t *testing.T, b []byte) message {
	t.Helper()
	m, err := decodeMessage(b)
	if err != nil {
		t.Fatalf("decode %q: %v", b, err)
	}
	return m
}

func TestDecodeMessageKinds(t *testing.T) {
	rel := relMsg(16384, "public", "t", 'd', relCol{"id", row.OIDInt4, true}, relCol{"v", row.OIDText, false})
	tests := []struct {
		name string
		in   wire
		want message
	}{
		{"begin", beginMsg(0x10, 7), msgBegin{FinalLSN: 0x10, CommitTime: pgEpoch, XID: 7}},
		{"commit", commitMsg(0x10, 0x20), msgCommit{CommitLSN: 0x10, EndLSN: 0x20, CommitTime: pgEpoch.Add(24 * time.Hour)}},
		{"origin", msg('O').u64(5).str("up"), msgOrigin{CommitLSN: 5, Name: "up"}},
		{"type", msg('Y').u32(18313).str("public").str("mood"), msgType{OID: 18313, Namespace: "public", Name: "mood"}},
		{"truncate", msg('T').u32(2).u8(2).u32(1).u32(2), msgTruncate{Options: 2, Rels: []RelationID{1, 2}}},
		{"message", msg('M').u8(1).u64(9).str("pfx").u32(2).raw('h', 'i'), msgLogical{Transactional: true, LSN: 9, Prefix: "pfx", Content: []byte("hi")}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := mustDecode(t, tc.in)
			if !equalMsg(got, tc.want) {
				t.Fatalf("got %#v, want %#v", got, tc.want)
			}
		})
	}
	t.Run("relation", func(t *testing.T) {
		m := mustDecode(t, rel).(msgRelation)
		r := newRelation(m)
		if r.ID != 16384 || r.Name != (row.TableName{Schema: "public", Name: "t"}) || r.Identity != 'd' ||
			len(r.Columns) != 2 || r.Columns[1].Name != "v" || r.Columns[1].Type != row.Text || len(r.KeyCols) != 1 || r.KeyCols[0] != 0 {
			t.Fatalf("relation = %+v", r)
		}
	})
	t.Run("insert", func(t *testing.T) {
		m := mustDecode(t, msg('I').u32(16384).u8('N').tuple(2).text("1").null()).(msgInsert)
		if m.Rel != 16384 || len(m.New) != 2 || string(m.New[0].Data) != "1" || m.New[1].Kind != 'n' {
			t.Fatalf("insert = %+v", m)
		}
	})
	t.Run("update", func(t *testing.T) {
		m := mustDecode(t, msg('U').u32(1).u8('K').tuple(2).text("2").null().u8('N').tuple(2).text("3").unchangedToast()).(msgUpdate)
		if m.OldKind != 'K' || len(m.Old) != 2 || len(m.New) != 2 || m.New[1].Kind != 'u' {
			t.Fatalf("update = %+v", m)
		}
		m = mustDecode(t, msg('U').u32(1).u8('N').tuple(1).text("3")).(msgUpdate)
		if m.OldKind != 0 || m.Old != nil || len(m.New) != 1 {
			t.Fatalf("update = %+v", m)
		}
	})
	t.Run("delete", func(t *testing.T) {
		m := mustDecode(t, msg('D').u32(1).u8('O').tuple(1).text("3")).(msgDelete)
		if m.OldKind != 'O' || len(m.Old) != 1 {
			t.Fatalf("delete = %+v", m)
		}
	})
}

func equalMsg(a, b message) bool {
	switch a := a.(type) {
	case msgTruncate:
		b, ok := b.(msgTruncate)
		if !ok || a.Options != b.Options || len(a.Rels) != len(b.Rels) {
			return false
		}
		for i := range a.Rels {
			if a.Rels[i] != b.Rels[i] {
				return false
			}
		}
		return true
	case msgLogical:
		b, ok := b.(msgLogical)
		return ok && a.Transactional == b.Transactional && a.LSN == b.LSN && a.Prefix == b.Prefix && string(a.Content) == string(b.Content)
	case msgBegin:
		b, ok := b.(msgBegin)
		return ok && a.FinalLSN == b.FinalLSN && a.XID == b.XID && a.CommitTime.Equal(b.CommitTime)
	case msgCommit:
		b, ok := b.(msgCommit)
		return ok && a.CommitLSN == b.CommitLSN && a.EndLSN == b.EndLSN && a.CommitTime.Equal(b.CommitTime)
	}
	return a == b
}

func TestDecodeMalformed(t *testing.T) {
	tests := []struct {
		name string
		in   wire
	}{
		{"empty", wire{}},
		{"short begin", msg('B').u32(1)},
		{"trailing bytes", beginMsg(1, 1).u8(0)},
		{"unknown type", msg('S')},
		{"insert bad marker", msg('I').u32(1).u8('X').tuple(0)},
		{"column length past end", msg('I').u32(1).u8('N').tuple(1).u8('t').u32(0xffffffff)},
		{"column count past end", msg('I').u32(1).u8('N').tuple(60000)},
		{"unknown column kind", msg('I').u32(1).u8('N').tuple(1).u8('z')},
		{"string without NUL", msg('O').u64(1).raw('a')},
		{"truncate count past end", msg('T').u32(0xffffffff).u8(0)},
		{"update bad marker", msg('U').u32(1).u8('Q')},
		{"delete with N", msg('D').u32(1).u8('N').tuple(0)},
		{"message content past end", msg('M').u8(0).u64(0).str("p").u32(100)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := decodeMessage(tc.in)
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("decode = %#v, %v; want ErrMalformed", m, err)
			}
		})
	}
}

// feed decodes and applies messages, returning the committed transactions.
func feed(t *testing.T, msgs ...wire) []*Txn {
	t.Helper()
	a := newAssembler()
	var out []*Txn
	for _, b := range msgs {
		txn, err := a.apply(mustDecode(t, b))
		if err != nil {
			t.Fatalf("apply %q: %v", b, err)
		}
		if txn != nil {
			out = append(out, txn)
		}
	}
	return out
}

func TestAssembler(t *testing.T) {
	rel := relMsg(1, "public", "t", 'd', relCol{"id", row.OIDInt4, true}, relCol{"v", row.OIDText, false})
	txns := feed(t,
		beginMsg(0x100, 5), rel,
		msg('I').u32(1).u8('N').tuple(2).text("1").text("a"),
		msg('U').u32(1).u8('N').tuple(2).text("1").unchangedToast(),
		msg('U').u32(1).u8('K').tuple(2).text("1").null().u8('N').tuple(2).text("2").text("b"),
		msg('D').u32(1).u8('K').tuple(2).text("2").null(),
		msg('T').u32(1).u8(0).u32(1),
		msg('M').u8(1).u64(0).str("p").u32(0),
		commitMsg(0x100, 0x108),
	)
	if len(txns) != 1 {
		t.Fatalf("got %d txns", len(txns))
	}
	tx := txns[0]
	if tx.XID != 5 || tx.CommitLSN != 0x100 || tx.EndLSN != 0x108 || len(tx.Changes) != 5 {
		t.Fatalf("txn = %+v", tx)
	}
	c := tx.Changes
	if c[0].Op != OpInsert || c[0].New[0] != row.NewInt(1) || c[0].New[1] != row.NewText("a") || c[0].Unchanged != nil {
		t.Errorf("insert = %+v", c[0])
	}
	if c[1].Op != OpUpdate || c[1].OldKind != OldNone || !c[1].Unchanged[1] || c[1].Unchanged[0] || !c[1].New[1].IsNull() {
		t.Errorf("update toast = %+v", c[1])
	}
	if c[2].OldKind != OldKey || c[2].Old[0] != row.NewInt(1) || c[2].New[0] != row.NewInt(2) {
		t.Errorf("update key = %+v", c[2])
	}
	if c[3].Op != OpDelete || c[3].OldKind != OldKey || c[3].Old[0] != row.NewInt(2) {
		t.Errorf("delete = %+v", c[3])
	}
	if c[4].Op != OpTruncate || c[4].Rel.Name.Name != "t" {
		t.Errorf("truncate = %+v", c[4])
	}
}

func TestAssemblerRelationChange(t *testing.T) {
	txns := feed(t,
		beginMsg(1, 1), relMsg(1, "public", "t", 'f', relCol{"a", row.OIDInt4, true}),
		msg('I').u32(1).u8('N').tuple(1).text("1"), commitMsg(1, 2),
		beginMsg(3, 2), relMsg(1, "public", "t", 'f', relCol{"a", row.OIDInt4, true}, relCol{"z", row.OIDText, true}),
		msg('I').u32(1).u8('N').tuple(2).text("2").text("x"), commitMsg(3, 4),
	)
	if len(txns[0].Changes[0].Rel.Columns) != 1 || len(txns[1].Changes[0].Rel.Columns) != 2 {
		t.Fatalf("relations not versioned: %v / %v", txns[0].Changes[0].Rel.Columns, txns[1].Changes[0].Rel.Columns)
	}
}

func TestAssemblerErrors(t *testing.T) {
	rel := relMsg(1, "public", "t", 'd', relCol{"id", row.OIDInt4, true})
	tests := []struct {
		name string
		msgs []wire
	}{
		{"insert outside txn", []wire{rel, msg('I').u32(1).u8('N').tuple(1).text("1")}},
		{"unknown relation", []wire{beginMsg(1, 1), msg('I').u32(9).u8('N').tuple(1).text("1")}},
		{"wrong column count", []wire{beginMsg(1, 1), rel, msg('I').u32(1).u8('N').tuple(2).text("1").text("2")}},
		{"bad int text", []wire{beginMsg(1, 1), rel, msg('I').u32(1).u8('N').tuple(1).text("x")}},
		{"commit outside txn", []wire{commitMsg(1, 2)}},
		{"nested begin", []wire{beginMsg(1, 1), beginMsg(2, 2)}},
		{"binary column", []wire{beginMsg(1, 1), rel, msg('I').u32(1).u8('N').tuple(1).u8('b').u32(1).u8(1)}},
		{"toast in old tuple", []wire{beginMsg(1, 1), rel, msg('D').u32(1).u8('O').tuple(1).unchangedToast()}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := newAssembler()
			var err error
			for _, b := range tc.msgs {
				if _, err = a.apply(mustDecode(t, b)); err != nil {
					break
				}
			}
			if err == nil {
				t.Fatal("no error")
			}
		})
	}
}

func TestUnsupportedTypeIsOpaqueText(t *testing.T) {
	txns := feed(t, beginMsg(1, 1), relMsg(1, "public", "t", 'f', relCol{"m", 18313, true}, relCol{"a", 3904, true}), // int4range
		msg('I').u32(1).u8('N').tuple(2).text("sad").text("{1,2}"), commitMsg(1, 2))
	r := txns[0].Changes[0].New
	if r[0] != row.NewText("sad") || r[1] != row.NewText("{1,2}") {
		t.Fatalf("row = %v", r)
	}
}

// FuzzDecode: any bytes, split into messages, decode to a message or an
// error and never panic; decoded messages go through the assembler too.
func FuzzDecode(f *testing.F) {
	rel := relMsg(1, "public", "t", 'd', relCol{"id", row.OIDInt4, true}, relCol{"v", row.OIDText, false})
	seeds := []wire{
		beginMsg(0x100, 5), commitMsg(1, 2), rel,
		msg('I').u32(1).u8('N').tuple(2).text("1").text("a"),
		msg('U').u32(1).u8('K').tuple(2).text("1").null().u8('N').tuple(2).text("2").unchangedToast(),
		msg('D').u32(1).u8('O').tuple(2).text("2").null(),
		msg('T').u32(1).u8(0).u32(1),
		msg('M').u8(1).u64(0).str("p").u32(1).u8('x'),
		msg('Y').u32(5).str("s").str("n"),
		msg('O').u64(5).str("o"),
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		// The whole input as one message.
		m, err := decodeMessage(data)
		if (m == nil) == (err == nil) {
			t.Fatalf("decode %q = %v, %v: want exactly one of message and error", data, m, err)
		}
		// The input as a transaction: Begin, a fixed Relation, the message.
		a := newAssembler()
		for _, b := range []wire{beginMsg(1, 1), rel} {
			mm, _ := decodeMessage(b)
			if _, err := a.apply(mm); err != nil {
				t.Fatal(err)
			}
		}
		if m != nil {
			_, _ = a.apply(m)
		}
	})
}

// TestAssemblerParts: a transaction with more changes than partChanges
// comes out in parts that carry Begin's commit LSN and time, the last one
// (possibly empty) with the end LSN; small transactions stay whole.
func TestAssemblerParts(t *testing.T) {
	rel := relMsg(1, "public", "t", 'd', relCol{"id", row.OIDInt4, true})
	ins := func(i int) wire { return msg('I').u32(1).u8('N').tuple(1).text(strconv.Itoa(i)) }
	for _, n := range []int{2, 3, 6, 7} {
		a := newAssemblerWith(nil, 3, nil)
		msgs := []wire{beginMsg(0x100, 5), rel}
		for i := range n {
			msgs = append(msgs, ins(i))
		}
		msgs = append(msgs, commitMsg(0x100, 0x108), beginMsg(0x200, 6), ins(99), commitMsg(0x200, 0x208))
		var out []*Txn
		for _, b := range msgs {
			txn, err := a.apply(mustDecode(t, b))
			if err != nil {
				t.Fatal(err)
			}
			if txn != nil {
				out = append(out, txn)
			}
		}
		parts := (n + 2) / 3 // full parts, then the rest (never an empty last part)
		if len(out) != parts+1 {
			t.Fatalf("%d changes: %d transactions out, want %d parts and one more", n, len(out), parts)
		}
		next := 0
		for i, p := range out[:parts] {
			last := i == parts-1
			if p.Part != i || p.More == last || p.CommitLSN != 0x100 || p.XID != 5 || p.CommitTime.IsZero() ||
				(p.EndLSN != 0) == !last || p.Parted() != (parts > 1) {
				t.Fatalf("%d changes, part %d: %+v", n, i, p)
			}
			for _, c := range p.Changes {
				if c.New[0] != row.NewInt(int64(next)) {
					t.Fatalf("%d changes, part %d: change %v, want id %d", n, i, c.New, next)
				}
				next++
			}
		}
		if next != n {
			t.Fatalf("%d changes: parts held %d", n, next)
		}
		if small := out[parts]; small.Parted() || len(small.Changes) != 1 || small.EndLSN != 0x208 {
			t.Fatalf("the next transaction: %+v", small)
		}
	}
}
