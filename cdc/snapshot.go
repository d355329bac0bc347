package cdc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/rippledb/ripple/internal/row"
)

// Snapshot (re)creates the replication slot and reads every configured
// table as of the slot's consistent point, calling fn once per row (fn is
// called from this goroutine, one table after another; the Row is fn's to
// keep). It returns the consistent point: every transaction that committed
// at or below it is in the snapshot, every later one will be streamed by
// Stream(ctx, lsn, ...).
//
// An existing slot is dropped first; when a connection holds it the error
// matches ErrSlotInUse. The slot is created over a replication connection
// with EXPORT_SNAPSHOT, and the tables are read with COPY (SELECT ...) TO
// STDOUT in a REPEATABLE READ transaction that imports that snapshot; the
// replication connection stays open until the import is done, as the
// exported snapshot lives only that long
// (https://www.postgresql.org/docs/15/protocol-replication.html).
//
// Values of types ripple does not support (row.Type.Supported() is false)
// are kept opaque as row.NewText of their text form. Call EnsurePublication
// first. If Snapshot fails, the slot may exist; a later Snapshot drops it.
func (s *Source) Snapshot(ctx context.Context, fn func(rel *Relation, r row.Row) error) (row.LSN, error) {
	rels, err := s.resolveTables(ctx)
	if err != nil {
		return 0, err
	}
	var (
		conn *pgx.Conn
		lsn  row.LSN
	)
	for attempt := 1; ; attempt++ {
		var changed []string
		conn, lsn, changed, err = s.consistentSnapshot(ctx, rels)
		if err != nil {
			return 0, err
		}
		if len(changed) == 0 {
			break
		}
		conn.Close(context.Background())
		if attempt == maxSnapshotAttempts {
			return 0, fmt.Errorf("initial snapshot: %s were truncated or rewritten while %d snapshots were taken; retry when no TRUNCATE or table-rewriting ALTER runs on them",
				strings.Join(changed, ", "), attempt)
		}
		s.log.Warn("tables were truncated or rewritten right after the slot was created; taking the snapshot again",
			"tables", strings.Join(changed, ", "), "attempt", attempt)
	}
	defer conn.Close(context.Background())
	for _, t := range rels {
		if err := copyTable(ctx, conn.PgConn(), t, fn); err != nil {
			return 0, err
		}
	}
	if _, err := conn.Exec(ctx, "COMMIT"); err != nil {
		return 0, fmt.Errorf("finish snapshot: %w", err)
	}
	return lsn, nil
}

// testHookSlotCreated, when set by a test, runs right after the slot is
// created and before the snapshot transaction locks the tables.
var testHookSlotCreated func()

// maxSnapshotAttempts bounds how often Snapshot starts over because a table
// was truncated between the slot's consistent point and the table lock.
const maxSnapshotAttempts = 5

// consistentSnapshot (re)creates the slot and returns a connection inside a
// REPEATABLE READ transaction that has imported the slot's exported
// snapshot and holds ACCESS SHARE locks on every table, with the slot's
// consistent point. changed lists tables whose storage was replaced after
// the consistent point and before the lock: TRUNCATE (and table-rewriting
// ALTERs) are not MVCC-safe, so the old snapshot would read such a table as
// it is now rather than as it was
// (https://www.postgresql.org/docs/15/mvcc-caveats.html). The caller
// starts over then; once the locks are held no such change can commit
// until the snapshot transaction ends.
func (s *Source) consistentSnapshot(ctx context.Context, rels []tableInfo) (conn *pgx.Conn, lsn row.LSN, changed []string, err error) {
	if err := s.dropSlotWhenIdle(ctx); err != nil {
		return nil, 0, nil, err
	}
	rconn, err := s.replicationConn(ctx)
	if err != nil {
		return nil, 0, nil, err
	}
	defer rconn.Close(context.Background())
	start := time.Now()
	res, err := pglogrepl.CreateReplicationSlot(ctx, rconn, s.cfg.Slot, "pgoutput",
		pglogrepl.CreateReplicationSlotOptions{Mode: pglogrepl.LogicalReplication, SnapshotAction: "EXPORT_SNAPSHOT"})
	if err != nil {
		return nil, 0, nil, fmt.Errorf("create replication slot %s: %w", s.cfg.Slot, err)
	}
	lsn, err = row.ParseLSN(res.ConsistentPoint)
	if err != nil {
		return nil, 0, nil, fmt.Errorf("create replication slot %s: consistent point: %w", s.cfg.Slot, err)
	}
	s.log.Info("replication slot created", "slot", s.cfg.Slot, "consistent_point", lsn.String(),
		"snapshot", res.SnapshotName, "took", time.Since(start))
	if testHookSlotCreated != nil {
		testHookSlotCreated()
	}

	conn, err = connectRegular(ctx, s.cfg.DSN)
	if err != nil {
		return nil, 0, nil, err
	}
	if err := importSnapshot(ctx, conn, res.SnapshotName); err != nil {
		conn.Close(context.Background())
		return nil, 0, nil, err
	}
	changed, err = lockUnchanged(ctx, conn, rels)
	if err != nil {
		conn.Close(context.Background())
		return nil, 0, nil, err
	}
	return conn, lsn, changed, nil
}

// lockUnchanged takes ACCESS SHARE locks on every table (partitions
// included) in the snapshot transaction and returns the tables whose
// storage differs from what the snapshot's catalog says: pg_class as the
// snapshot sees it against the relation the server reads now.
func lockUnchanged(ctx context.Context, conn *pgx.Conn, rels []tableInfo) ([]string, error) {
	names := make([]string, len(rels))
	oids := make([]uint32, len(rels))
	for i, t := range rels {
		names[i] = qualified(t.rel.Name.Schema, t.rel.Name.Name)
		oids[i] = uint32(t.rel.ID)
	}
	if len(rels) == 0 {
		return nil, nil
	}
	if _, err := conn.Exec(ctx, "LOCK TABLE "+strings.Join(names, ", ")+" IN ACCESS SHARE MODE"); err != nil {
		return nil, fmt.Errorf("lock snapshot tables: %w", err)
	}
	// pg_partition_tree lists the partitions of a partitioned table and
	// nothing for a plain one; only relations with storage are compared.
	rows, err := conn.Query(ctx, `SELECT c.oid::regclass::text FROM pg_class c
		WHERE (c.oid = ANY($1::oid[])
		       OR c.oid IN (SELECT p.relid FROM unnest($1::oid[]) AS t(oid), pg_partition_tree(t.oid) AS p WHERE p.isleaf))
		  AND c.relkind IN ('r', 'm', 't')
		  AND c.relfilenode IS DISTINCT FROM pg_relation_filenode(c.oid)`, oids)
	if err != nil {
		return nil, fmt.Errorf("check snapshot tables: %w", err)
	}
	changed, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("check snapshot tables: %w", err)
	}
	return changed, nil
}

func importSnapshot(ctx context.Context, conn *pgx.Conn, name string) error {
	if _, err := conn.Exec(ctx, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"); err != nil {
		return fmt.Errorf("begin snapshot transaction: %w", err)
	}
	if _, err := conn.Exec(ctx, "SET TRANSACTION SNAPSHOT "+quoteLiteral(name)); err != nil {
		return fmt.Errorf("import snapshot %s: %w", name, err)
	}
	return nil
}

func quoteLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// copyTable reads rel with COPY in the current transaction of conn.
// A plain table is read with ONLY, as the stream names changes of its
// inheritance children after the children; a partitioned table is read
// whole, as the publication publishes its partitions' changes under its name.
func copyTable(ctx context.Context, conn *pgconn.PgConn, t tableInfo, fn func(*Relation, row.Row) error) error {
	rel := t.rel
	from := "ONLY " + qualified(rel.Name.Schema, rel.Name.Name)
	if t.partitioned {
		from = qualified(rel.Name.Schema, rel.Name.Name)
	}
	cols := make([]string, len(rel.Columns))
	for i, c := range rel.Columns {
		cols[i] = pgx.Identifier{c.Name}.Sanitize()
	}
	// COPY of a table reads its heap directly (and only that table, not
	// inheritance children); a partitioned table needs the query form,
	// which goes through the executor and is slower.
	q := fmt.Sprintf("COPY %s (%s) TO STDOUT", qualified(rel.Name.Schema, rel.Name.Name), strings.Join(cols, ", "))
	if t.partitioned {
		q = fmt.Sprintf("COPY (SELECT %s FROM %s) TO STDOUT", strings.Join(cols, ", "), from)
	}
	// The rows are decoded on a goroutine of their own, so that receiving
	// COPY data and decoding it overlap; fn is still called from one
	// goroutine at a time, in order.
	p := newCopyParser(rel, fn)
	_, err := conn.CopyTo(ctx, p, q)
	n, perr := p.close()
	if perr != nil {
		if errors.Is(perr, errCopyRow) {
			return fmt.Errorf("snapshot of %s (row %d): %w", rel.Name, n, perr)
		}
		return fmt.Errorf("snapshot of %s: %w", rel.Name, perr)
	}
	if err == nil && len(p.buf) != 0 {
		err = fmt.Errorf("COPY output ends in a partial line of %d bytes", len(p.buf))
	}
	if err != nil {
		return fmt.Errorf("snapshot of %s (row %d): %w", rel.Name, n, err)
	}
	return nil
}

// errCopyRow marks an undecodable COPY line (as opposed to fn's error).
var errCopyRow = errors.New("undecodable COPY line")

// copyParser is the io.Writer COPY TO STDOUT writes to: it cuts the byte
// stream into chunks of whole lines and hands them to a decoding
// goroutine, which calls fn for every row.
type copyParser struct {
	buf    []byte
	chunks chan []byte
	done   chan struct{}
	failed atomic.Bool
	err    error // set by the decoder before done closes
	n      int   // rows decoded
}

func newCopyParser(rel *Relation, fn func(*Relation, row.Row) error) *copyParser {
	p := &copyParser{chunks: make(chan []byte, 8), done: make(chan struct{})}
	go func() {
		defer close(p.done)
		var fields []copyField
		for c := range p.chunks {
			if p.err != nil {
				continue // drain after an error
			}
			for len(c) > 0 {
				j := bytes.IndexByte(c, '\n')
				r, err := copyRow(rel, c[:j], &fields)
				if err != nil {
					err = fmt.Errorf("%w: %w", errCopyRow, err)
				} else {
					err = fn(rel, r)
				}
				if err != nil {
					p.err = err
					p.failed.Store(true)
					break
				}
				p.n++
				c = c[j+1:]
			}
		}
	}()
	return p
}

func (p *copyParser) Write(b []byte) (int, error) {
	if p.failed.Load() {
		return 0, errors.New("snapshot row rejected")
	}
	p.buf = append(p.buf, b...)
	if j := bytes.LastIndexByte(p.buf, '\n'); j >= 0 && j+1 >= copyChunk {
		chunk := make([]byte, j+1)
		copy(chunk, p.buf[:j+1])
		p.buf = append(p.buf[:0], p.buf[j+1:]...)
		p.chunks <- chunk
	}
	return len(b), nil
}

// copyChunk is the least size of a chunk handed to the decoder.
const copyChunk = 64 << 10

// close hands over the last whole lines, waits for the decoder and
// returns the rows decoded and its error.
func (p *copyParser) close() (int, error) {
	if j := bytes.LastIndexByte(p.buf, '\n'); j >= 0 {
		p.chunks <- append([]byte(nil), p.buf[:j+1]...)
		p.buf = p.buf[j+1:]
	}
	close(p.chunks)
	<-p.done
	return p.n, p.err
}

// copyRow decodes one COPY text line into a row of rel; buf holds the
// fields between calls.
func copyRow(rel *Relation, line []byte, buf *[]copyField) (row.Row, error) {
	if len(rel.Columns) == 0 {
		return row.Row{}, nil
	}
	fields, err := appendCopyFields(*buf, line)
	if err != nil {
		return nil, err
	}
	*buf = fields
	if len(fields) != len(rel.Columns) {
		return nil, fmt.Errorf("COPY line has %d columns, want %d", len(fields), len(rel.Columns))
	}
	r := make(row.Row, len(fields))
	for i, f := range fields {
		if f.Null {
			continue
		}
		d, err := parseValue(rel.Columns[i].Type, f.Text)
		if err != nil {
			return nil, fmt.Errorf("column %s: %w", row.QuoteIdent(rel.Columns[i].Name), err)
		}
		r[i] = d
	}
	return r, nil
}

// slotReleaseWait is how long Snapshot waits for a slot held by another
// connection to be released before it reports ErrSlotInUse. A ripple that
// was killed leaves its walsender behind for a moment, until the server
// notices the closed socket.
const slotReleaseWait = 10 * time.Second

// dropSlotWhenIdle drops the slot, waiting up to slotReleaseWait for a
// holder to go away.
func (s *Source) dropSlotWhenIdle(ctx context.Context) error {
	deadline := time.Now().Add(slotReleaseWait)
	for {
		err := s.DropSlot(ctx)
		if err == nil || !errors.Is(err, ErrSlotInUse) || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}
