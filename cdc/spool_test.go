package cdc

import (
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/rippledb/ripple/internal/row"
)

// streamTest drives decodeWAL with a spool over protocol 2 messages.
type streamTest struct {
	t     *testing.T
	dir   string
	asm   *assembler
	sp    *spool
	stats streamStats
	out   []*Txn
}

func newStreamTest(t *testing.T, partChanges int) *streamTest {
	st := &streamTest{t: t, dir: t.TempDir(), asm: newAssemblerWith(nil, partChanges, nil)}
	sp, err := newSpool(st.dir, &st.stats, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	st.sp = sp
	t.Cleanup(sp.close)
	return st
}

func (st *streamTest) send(msgs ...wire) error {
	for _, b := range msgs {
		if err := decodeWAL(st.asm, st.sp, b, func(txn *Txn) error {
			st.out = append(st.out, txn)
			return nil
		}); err != nil {
			return err
		}
	}
	return nil
}

func (st *streamTest) must(msgs ...wire) {
	st.t.Helper()
	if err := st.send(msgs...); err != nil {
		st.t.Fatal(err)
	}
}

// spools lists the spool files left in the directory.
func (st *streamTest) spools() []string {
	ents, err := os.ReadDir(st.dir)
	if err != nil {
		st.t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

// in puts a message inside a stream block of (sub)transaction xid: protocol
// 2 adds the xid after the message type.
func in(xid uint32, w wire) wire { return append(msg(w[0]).u32(xid), w[1:]...) }

func streamStart(xid uint32, first bool) wire {
	f := byte(0)
	if first {
		f = 1
	}
	return msg('S').u32(xid).u8(f)
}

var streamStop = msg('E')

func streamCommit(xid uint32, commit, end row.LSN) wire {
	return msg('c').u32(xid).u8(0).u64(uint64(commit)).u64(uint64(end)).u64(uint64(86400 * 1_000_000))
}

func streamAbort(xid, sub uint32) wire { return msg('A').u32(xid).u32(sub) }

var spoolRel = relMsg(1, "public", "t", 'd', relCol{"id", row.OIDInt4, true})

func insMsg(id int) wire { return msg('I').u32(1).u8('N').tuple(1).text(strconv.Itoa(id)) }

// ids lists the ids the transaction's inserts carry.
func ids(txns ...*Txn) []string {
	var out []string
	for _, txn := range txns {
		for _, c := range txn.Changes {
			out = append(out, c.New[0].String())
		}
	}
	return out
}

// TestSpoolStreamedTransaction follows the shape PostgreSQL 15 sends
// (shared/PGOUTPUT-NOTES.md, "Streaming of a large in-progress
// transaction"): stream blocks of one transaction interleaved with another
// committed whole, a subtransaction aborted (ROLLBACK TO SAVEPOINT), a later
// subtransaction's changes, then the stream commit. The consumer sees the
// whole transaction first committed first, then the streamed one at its
// commit with the aborted subtransaction's changes gone.
func TestSpoolStreamedTransaction(t *testing.T) {
	st := newStreamTest(t, 0)
	st.must(
		streamStart(10, true), in(10, spoolRel), in(10, insMsg(1)), in(10, insMsg(2)), streamStop,
		beginMsg(0x150, 11), spoolRel, insMsg(100), commitMsg(0x150, 0x158),
		streamStart(10, false), in(10, insMsg(3)), in(12, insMsg(50)), in(12, insMsg(51)), streamStop,
		streamAbort(10, 12),
		streamStart(10, false), in(13, spoolRel), in(13, insMsg(4)), streamStop,
	)
	if len(st.out) != 1 || st.out[0].XID != 11 || strings.Join(ids(st.out...), ",") != "100" {
		t.Fatalf("before the stream commit: %d transactions out, want the one committed whole", len(st.out))
	}
	if len(st.spools()) != 1 {
		t.Fatalf("spool files while streaming: %v", st.spools())
	}
	st.must(streamCommit(10, 0x300, 0x308))
	if len(st.out) != 2 {
		t.Fatalf("%d transactions out, want 2", len(st.out))
	}
	tx := st.out[1]
	if tx.XID != 10 || tx.CommitLSN != 0x300 || tx.EndLSN != 0x308 || tx.CommitTime.IsZero() || tx.Parted() {
		t.Fatalf("streamed transaction = %+v", tx)
	}
	if got := strings.Join(ids(tx), ","); got != "1,2,3,4" {
		t.Fatalf("streamed transaction's inserts = %s, want 1,2,3,4 (the aborted subtransaction's 50,51 gone)", got)
	}
	if st.asm.inTxn() {
		t.Fatal("assembler still inside a transaction after the stream commit")
	}
	if left := st.spools(); len(left) != 0 {
		t.Fatalf("spool files left after the commit: %v", left)
	}
	if c, a, b := st.stats.committed, st.stats.aborted, st.stats.bytes; c != 1 || a != 0 || b == 0 {
		t.Fatalf("stats committed %d aborted %d bytes %d", c, a, b)
	}
}

// TestSpoolSubtransactions: aborting a subtransaction drops its changes and
// those of its children, and only those; a subtransaction released before a
// later one aborts keeps its changes; an abort of a subtransaction with no
// changes discards nothing.
func TestSpoolSubtransactions(t *testing.T) {
	st := newStreamTest(t, 0)
	st.must(
		streamStart(20, true), in(20, spoolRel), in(20, insMsg(1)),
		in(21, insMsg(2)), // SAVEPOINT a (21) ... RELEASE a
		in(22, insMsg(3)), // SAVEPOINT b (22)
		in(23, insMsg(4)), // SAVEPOINT c (23), a child of b
		in(22, insMsg(5)), // RELEASE c; still in b
		streamStop,
		streamAbort(20, 22), // ROLLBACK TO b: 3, 4, 5 go
		streamAbort(20, 99), // a subtransaction that changed nothing
		streamStart(20, false), in(24, insMsg(6)), in(20, insMsg(7)), streamStop,
		streamCommit(20, 0x400, 0x408),
	)
	if got := strings.Join(ids(st.out...), ","); got != "1,2,6,7" {
		t.Fatalf("inserts = %q, want 1,2,6,7", got)
	}

	st = newStreamTest(t, 0)
	st.must(
		streamStart(30, true), in(30, spoolRel), in(31, insMsg(1)), in(30, insMsg(2)), in(32, insMsg(3)), streamStop,
		streamAbort(30, 32),
		streamStart(30, false), in(33, insMsg(4)), streamStop,
		streamCommit(30, 0x500, 0x508),
	)
	if got := strings.Join(ids(st.out...), ","); got != "1,2,4" {
		t.Fatalf("inserts = %q, want 1,2,4", got)
	}
}

// TestSpoolRelationInAbortedSubtransaction: a table's Relation message
// that came with the first change of a subtransaction later rolled back
// stays: pgoutput does not send it again for the changes after.
func TestSpoolRelationInAbortedSubtransaction(t *testing.T) {
	st := newStreamTest(t, 0)
	st.must(
		streamStart(60, true), in(61, spoolRel), in(61, insMsg(1)), in(61, insMsg(2)), streamStop,
		streamAbort(60, 61),
		streamStart(60, false), in(60, insMsg(3)), streamStop,
		streamCommit(60, 0x800, 0x808),
	)
	if got := strings.Join(ids(st.out...), ","); got != "3" {
		t.Fatalf("inserts = %q, want 3", got)
	}
}

// TestSpoolAbort: a streamed transaction that aborts leaves no trace: no
// transaction out, no spool file; the next one goes through.
func TestSpoolAbort(t *testing.T) {
	st := newStreamTest(t, 0)
	st.must(
		streamStart(40, true), in(40, spoolRel), in(40, insMsg(1)), streamStop,
		streamStart(41, true), in(41, spoolRel), in(41, insMsg(2)), streamStop,
		streamStart(40, false), in(40, insMsg(3)), streamStop,
		streamAbort(40, 40),
	)
	if len(st.out) != 0 || len(st.spools()) != 1 {
		t.Fatalf("after the abort: %d transactions out, spools %v", len(st.out), st.spools())
	}
	st.must(streamCommit(41, 0x600, 0x608))
	if got := strings.Join(ids(st.out...), ","); got != "2" || len(st.spools()) != 0 {
		t.Fatalf("inserts = %q, spools %v", got, st.spools())
	}
	if st.stats.committed != 1 || st.stats.aborted != 1 {
		t.Fatalf("stats %+v", &st.stats)
	}
}

// TestSpoolParts: a streamed transaction larger than PartChanges is
// delivered in parts at its commit, every part carrying the commit LSN.
func TestSpoolParts(t *testing.T) {
	st := newStreamTest(t, 3)
	msgs := []wire{streamStart(50, true), in(50, spoolRel)}
	for i := range 8 {
		msgs = append(msgs, in(50, insMsg(i)))
		if i == 4 {
			msgs = append(msgs, streamStop, streamStart(50, false))
		}
	}
	msgs = append(msgs, streamStop, streamCommit(50, 0x700, 0x708))
	st.must(msgs...)
	if len(st.out) != 3 {
		t.Fatalf("%d parts, want 3", len(st.out))
	}
	for i, p := range st.out {
		last := i == len(st.out)-1
		if p.Part != i || p.More == last || p.CommitLSN != 0x700 || p.XID != 50 || (p.EndLSN == 0x708) != last {
			t.Fatalf("part %d = %+v", i, p)
		}
	}
	if got := strings.Join(ids(st.out...), ","); got != "0,1,2,3,4,5,6,7" {
		t.Fatalf("inserts = %s", got)
	}
}

// TestSpoolMalformed: protocol violations are errors matching ErrMalformed,
// not silently wrong transactions.
func TestSpoolMalformed(t *testing.T) {
	for name, msgs := range map[string][]wire{
		"start inside a block":         {streamStart(1, true), streamStart(2, true)},
		"stop outside a block":         {streamStop},
		"later segment without first":  {streamStart(1, false)},
		"first segment twice":          {streamStart(1, true), streamStop, streamStart(1, true)},
		"commit of an unknown xid":     {streamCommit(7, 0x10, 0x18)},
		"commit inside a block":        {streamStart(1, true), streamCommit(1, 0x10, 0x18)},
		"begin inside a block":         {streamStart(1, true), beginMsg(0x10, 2)},
		"short stream start":           {msg('S').u32(1)},
		"streamed message without xid": {streamStart(1, true), msg('I').u16(1)},
		"trailing bytes":               {streamStart(1, true).u8(0)},
		"undecodable spooled message":  {streamStart(1, true), in(1, msg('I').u32(1).u8('X')), streamStop, streamCommit(1, 0x10, 0x18)},
	} {
		st := newStreamTest(t, 0)
		err := st.send(msgs...)
		if !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: err = %v, want ErrMalformed", name, err)
		}
	}
}

// TestSpoolStale: spools of an earlier connection are removed when a new
// stream starts; other files in the directory are left alone.
func TestSpoolStale(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"xid-7.spool", "keep.txt"} {
		if err := os.WriteFile(filepath.Join(dir, n), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	var stats streamStats
	sp, err := newSpool(dir, &stats, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer sp.close()
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 || ents[0].Name() != "keep.txt" {
		t.Fatalf("directory after start: %v", ents)
	}
}

// TestSpoolUnwritable: a spool directory that cannot be written is a clear
// error at the first streamed segment, naming the transaction.
func TestSpoolUnwritable(t *testing.T) {
	if os.Geteuid() == 0 {
		// root writes anywhere: use a path under a regular file instead.
		st := newStreamTest(t, 0)
		st.sp.dir = filepath.Join(st.dir, "file")
		if err := os.WriteFile(st.sp.dir, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		err := st.send(streamStart(9, true))
		if err == nil || !strings.Contains(err.Error(), "spool of streamed transaction 9") {
			t.Fatalf("err = %v", err)
		}
		return
	}
	st := newStreamTest(t, 0)
	if err := os.Chmod(st.dir, 0o500); err != nil {
		t.Fatal(err)
	}
	defer os.Chmod(st.dir, 0o700)
	err := st.send(streamStart(9, true))
	if err == nil || !strings.Contains(err.Error(), "spool of streamed transaction 9") {
		t.Fatalf("err = %v", err)
	}
}
