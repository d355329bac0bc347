package cdc

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// This file handles pgoutput protocol version 2 streaming (streaming 'on'):
// PostgreSQL sends a transaction whose decoded changes outgrow the source's
// logical_decoding_work_mem while it is still in progress, in stream blocks
// (Stream Start ... Stream Stop) interleaved with other transactions, and
// ends it later with a Stream Commit or a Stream Abort (of the whole
// transaction or of one subtransaction). Without streaming PostgreSQL
// spills such a transaction to the source's disk (pg_replslot) and decodes
// it all after its commit, which then takes as long as the transaction did.
//
// ripple writes each streamed transaction's messages to a file of its own
// (a spool) as they arrive, so that memory stays flat however large the
// transaction is, and at its Stream Commit replays the file through the
// assembler as if the transaction had been sent whole after its commit:
// the consumer sees one committed transaction in commit order (in parts
// when large, see Txn), exactly as with protocol version 1. An aborted
// transaction's spool is deleted unread; an aborted subtransaction's
// changes are cut off the end of the spool, as PostgreSQL's own apply
// worker does (a subtransaction's changes follow its first one up to its
// abort: subtransactions nest in time, and the abort is sent as soon as it
// is decoded, before any later change).
// Format: https://www.postgresql.org/docs/15/protocol-logicalrep-message-formats.html

// spool is the state of the streamed transactions of one Stream call.
type spool struct {
	dir  string
	txns map[uint32]*spoolTxn // streamed transactions not yet ended, by xid
	cur  *spoolTxn            // the transaction of the open stream block
	buf  []byte               // replay buffer

	stats *streamStats // the Source's
	log   *slog.Logger
}

// streamStats counts a Source's streamed transactions (StreamStats).
type streamStats struct {
	mu                        sync.Mutex
	committed, aborted, bytes int64
}

func (st *streamStats) add(committed, aborted, bytes int64) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.committed += committed
	st.aborted += aborted
	st.bytes += bytes
}

// spoolTxn is one streamed transaction's spool file: a sequence of records
// uvarint(length) | message, where message is the pgoutput message with the
// xid that protocol 2 adds inside stream blocks taken out again (so it
// decodes as protocol 1).
type spoolTxn struct {
	xid  uint32
	path string
	f    *os.File
	w    *bufio.Writer
	size int64 // bytes written, buffered ones included
	// subs are the subtransactions in the order of their first change,
	// with the spool offset of that change; last is the subtransaction of
	// the last change (a fast path: changes come in runs).
	subs []subOffset
	last uint32
}

type subOffset struct {
	xid uint32
	off int64
}

const spoolPrefix, spoolSuffix = "xid-", ".spool"

func newSpool(dir string, stats *streamStats, log *slog.Logger) (*spool, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("streamed transactions: create spool directory: %w", err)
	}
	// Spools of an earlier connection are stale: PostgreSQL streams every
	// transaction again from its first change after a reconnection. The
	// caller holds the slot, so no other stream of it writes here.
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("streamed transactions: read spool directory: %w", err)
	}
	for _, e := range ents {
		if n := e.Name(); strings.HasPrefix(n, spoolPrefix) && strings.HasSuffix(n, spoolSuffix) {
			if err := os.Remove(filepath.Join(dir, n)); err != nil {
				return nil, fmt.Errorf("streamed transactions: remove stale spool: %w", err)
			}
		}
	}
	return &spool{dir: dir, txns: map[uint32]*spoolTxn{}, stats: stats, log: log}, nil
}

// close deletes the spools of transactions that did not end.
func (s *spool) close() {
	for xid, t := range s.txns {
		t.remove()
		delete(s.txns, xid)
	}
	s.cur = nil
}

// streamMsg reports whether b is a message of the streaming protocol or
// one inside a stream block, which apply then handles.
func (s *spool) streamMsg(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	switch b[0] {
	case 'S', 'E', 'c', 'A':
		return true
	}
	return s.cur != nil
}

// apply handles a message streamMsg accepted; replay feeds the assembler
// with the messages of a committed transaction.
func (s *spool) apply(b []byte, replay func(message) error) error {
	r := &reader{b: b[1:]}
	if s.cur != nil && (b[0] == 'S' || b[0] == 'c' || b[0] == 'A') {
		return fmt.Errorf("%w: %q message inside the stream block of xid %d", ErrMalformed, b[0], s.cur.xid)
	}
	switch b[0] {
	case 'S':
		xid, first := r.u32("stream start"), r.u8("stream start")
		if err := r.done('S'); err != nil {
			return err
		}
		t, ok := s.txns[xid]
		switch {
		case first == 1 && ok:
			return fmt.Errorf("%w: first stream segment of xid %d, which was already streaming", ErrMalformed, xid)
		case first != 1 && !ok:
			return fmt.Errorf("%w: stream segment of xid %d without its first segment", ErrMalformed, xid)
		case !ok:
			var err error
			if t, err = s.create(xid); err != nil {
				return err
			}
			s.txns[xid] = t
		}
		s.cur = t
		return nil
	case 'E':
		if err := r.done('E'); err != nil {
			return err
		}
		if s.cur == nil {
			return fmt.Errorf("%w: stream stop outside a stream block", ErrMalformed)
		}
		s.cur = nil
		return nil
	case 'c':
		xid := r.u32("stream commit")
		c := msgCommit{Flags: r.u8("stream commit"), CommitLSN: r.lsn("stream commit"), EndLSN: r.lsn("stream commit"), CommitTime: r.time("stream commit")}
		if err := r.done('c'); err != nil {
			return err
		}
		return s.commit(xid, c, replay)
	case 'A':
		xid, sub := r.u32("stream abort"), r.u32("stream abort")
		if err := r.done('A'); err != nil {
			return err
		}
		return s.abort(xid, sub)
	}
	// A message inside a stream block.
	t := s.cur
	switch b[0] {
	case 'I', 'U', 'D', 'T', 'R', 'Y', 'M':
		xid := r.u32("streamed message")
		if r.err != nil {
			return r.err
		}
		t.sub(xid)
		return t.write(b[0], b[5:])
	case 'O':
		return t.write(b[0], b[1:])
	}
	return fmt.Errorf("%w: message %q inside the stream block of xid %d", ErrMalformed, b[0], t.xid)
}

func (s *spool) create(xid uint32) (*spoolTxn, error) {
	path := filepath.Join(s.dir, fmt.Sprintf("%s%d%s", spoolPrefix, xid, spoolSuffix))
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, spoolError(xid, err)
	}
	return &spoolTxn{xid: xid, path: path, f: f, w: bufio.NewWriterSize(f, 64<<10)}, nil
}

func spoolError(xid uint32, err error) error {
	return fmt.Errorf("spool of streamed transaction %d: %w", xid, err)
}

// sub notes that the next change belongs to (sub)transaction xid.
func (t *spoolTxn) sub(xid uint32) {
	if xid == t.xid || xid == t.last {
		return
	}
	t.last = xid
	for _, s := range t.subs {
		if s.xid == xid {
			return
		}
	}
	t.subs = append(t.subs, subOffset{xid, t.size})
}

func (t *spoolTxn) write(kind byte, rest []byte) error {
	var hdr [binary.MaxVarintLen64 + 1]byte
	n := binary.PutUvarint(hdr[:], uint64(1+len(rest)))
	hdr[n] = kind
	if _, err := t.w.Write(hdr[:n+1]); err != nil {
		return spoolError(t.xid, err)
	}
	if _, err := t.w.Write(rest); err != nil {
		return spoolError(t.xid, err)
	}
	t.size += int64(n + 1 + len(rest))
	return nil
}

func (t *spoolTxn) remove() {
	t.f.Close()
	os.Remove(t.path)
}

func (s *spool) abort(xid, sub uint32) error {
	t, ok := s.txns[xid]
	if !ok {
		return nil // nothing of it was spooled, so nothing to discard
	}
	if sub == xid {
		delete(s.txns, xid)
		t.remove()
		s.stats.add(0, 1, 0)
		s.log.Info("streamed transaction rolled back; its spool is discarded", "xid", xid, "spooled_bytes", t.size)
		return nil
	}
	for i, so := range t.subs {
		if so.xid != sub {
			continue
		}
		// Cut the subtransaction's changes, and those of the
		// subtransactions after it (its children), off the end.
		if err := t.w.Flush(); err != nil {
			return spoolError(xid, err)
		}
		// But not the Relation and Type messages among them: pgoutput
		// sends a table's schema once per streamed transaction (tagged
		// with the subtransaction whose change needed it) and not again
		// for the changes after the rollback.
		keep, err := t.schemaRecords(so.off)
		if err != nil {
			return err
		}
		if err := t.f.Truncate(so.off); err != nil {
			return spoolError(xid, err)
		}
		if _, err := t.f.Seek(so.off, io.SeekStart); err != nil {
			return spoolError(xid, err)
		}
		t.w.Reset(t.f)
		t.size, t.subs, t.last = so.off, t.subs[:i], 0
		for _, rec := range keep {
			if err := t.write(rec[0], rec[1:]); err != nil {
				return err
			}
		}
		return nil
	}
	return nil // a subtransaction without spooled changes
}

// records calls fn with each record of the spool from offset off on
// (flushed) to its end; the slice is valid during the call.
func (t *spoolTxn) records(off int64, buf *[]byte, fn func(b []byte) error) error {
	in := bufio.NewReaderSize(io.NewSectionReader(t.f, off, t.size-off), 64<<10)
	for read := off; read < t.size; {
		n, err := binary.ReadUvarint(in)
		if err != nil || n == 0 || n > uint64(t.size-read) {
			return spoolError(t.xid, fmt.Errorf("truncated record at offset %d (%v)", read, err))
		}
		if uint64(cap(*buf)) < n {
			*buf = make([]byte, n)
		}
		b := (*buf)[:n]
		if _, err := io.ReadFull(in, b); err != nil {
			return spoolError(t.xid, fmt.Errorf("truncated record at offset %d (%v)", read, err))
		}
		read += int64(uvarintLen(n)) + int64(n)
		if err := fn(b); err != nil {
			return err
		}
	}
	return nil
}

// schemaRecords returns the Relation ('R') and Type ('Y') messages the
// spool holds from offset off on (flushed).
func (t *spoolTxn) schemaRecords(off int64) ([][]byte, error) {
	var keep [][]byte
	var buf []byte
	err := t.records(off, &buf, func(b []byte) error {
		if b[0] == 'R' || b[0] == 'Y' {
			keep = append(keep, append([]byte(nil), b...))
		}
		return nil
	})
	return keep, err
}

// commit replays a streamed transaction's spool through replay, between
// the Begin and Commit it would have had under protocol version 1.
func (s *spool) commit(xid uint32, c msgCommit, replay func(message) error) error {
	t, ok := s.txns[xid]
	if !ok {
		return fmt.Errorf("%w: stream commit of xid %d, which was not streaming", ErrMalformed, xid)
	}
	delete(s.txns, xid)
	defer t.remove()
	if err := t.w.Flush(); err != nil {
		return spoolError(xid, err)
	}
	if _, err := t.f.Seek(0, io.SeekStart); err != nil {
		return spoolError(xid, err)
	}
	if err := replay(msgBegin{FinalLSN: c.CommitLSN, CommitTime: c.CommitTime, XID: xid}); err != nil {
		return err
	}
	err := t.records(0, &s.buf, func(b []byte) error {
		m, err := decodeMessage(b)
		if err != nil {
			return fmt.Errorf("decode message of streamed transaction %d: %w", xid, err)
		}
		return replay(m)
	})
	if err != nil {
		return err
	}
	s.stats.add(1, 0, t.size)
	s.log.Info("streamed transaction committed; delivered from its spool", "xid", xid, "spooled_bytes", t.size,
		"commit_lsn", c.CommitLSN.String())
	return replay(c)
}

func uvarintLen(n uint64) int {
	var b [binary.MaxVarintLen64]byte
	return binary.PutUvarint(b[:], n)
}

// StreamStats reports how many transactions PostgreSQL streamed to this
// Source before their commit (Config.StreamDir) that then committed and
// were delivered, how many aborted, and the bytes spooled for the
// committed ones.
func (s *Source) StreamStats() (committed, aborted, spooledBytes int64) {
	st := &s.stream
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.committed, st.aborted, st.bytes
}
