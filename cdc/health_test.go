package cdc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/rippledb/ripple/internal/pgcluster"
	"github.com/rippledb/ripple/internal/pgtest"
	"github.com/rippledb/ripple/internal/row"
)

func TestIsTransient(t *testing.T) {
	pg := func(code string) error {
		return fmt.Errorf("receive from source (slot s): %w", &pgconn.PgError{Severity: "FATAL", Code: code, Message: "m"})
	}
	dial := &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"connection refused", fmt.Errorf("open replication connection to source: %w", dial), true},
		{"connection reset", fmt.Errorf("receive: %w", &net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", syscall.ECONNRESET)}), true},
		{"broken pipe", fmt.Errorf("send: %w", syscall.EPIPE), true},
		{"EOF", fmt.Errorf("receive: %w", io.EOF), true},
		{"unexpected EOF", fmt.Errorf("receive: %w", io.ErrUnexpectedEOF), true},
		{"timeout", fmt.Errorf("query: %w", context.DeadlineExceeded), true},
		{"net timeout", os.ErrDeadlineExceeded, true},
		{"closed connection", fmt.Errorf("x: %w", net.ErrClosed), true},
		{"pgconn conn closed", errors.New("conn closed"), true},
		{"stream ended", fmt.Errorf("replication from slot s: %w", ErrStreamEnded), true},
		{"admin shutdown 57P01 (pg_terminate_backend, fast shutdown)", pg("57P01"), true},
		{"crash shutdown 57P02", pg("57P02"), true},
		{"cannot connect now 57P03", pg("57P03"), true},
		{"connection failure 08006", pg("08006"), true},
		{"too many connections 53300", pg("53300"), true},
		{"auth failed 28P01", pg("28P01"), false},
		{"insufficient privilege 42501", pg("42501"), false},
		{"undefined table 42P01", pg("42P01"), false},
		{"undefined object 42704", pg("42704"), false},
		{"database does not exist 3D000", pg("3D000"), false},
		{"internal error XX000", pg("XX000"), false},
		{"slot missing", slotMissing("s", ""), false},
		{"slot invalidated", slotInvalidated("s", ""), false},
		{"slot invalidated wrapping a shutdown", fmt.Errorf("%w after %w", ErrSlotInvalidated, pg("57P01")), false},
		{"slot in use", errorOf(ErrSlotInUse, "in use"), false},
		{"malformed stream", fmt.Errorf("decode pgoutput message: %w: short", ErrMalformed), false},
		{"malformed after EOF", fmt.Errorf("%w: %w", ErrMalformed, io.ErrUnexpectedEOF), false},
		{"no such table", errorOf(ErrNoSuchTable, "t"), false},
		{"wal_level", errorOf(ErrWalLevel, "replica"), false},
		{"no replication privilege", errorOf(ErrNoReplicationPrivilege, "r"), false},
		{"canceled", context.Canceled, false},
		{"unknown logic error", errors.New("view v: column x has type text, want int4"), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := IsTransient(tc.err); got != tc.want {
				t.Errorf("IsTransient(%v) = %v, want %v", tc.err, got, tc.want)
			}
		})
	}
}

// slotPos reads the slot's confirmed_flush_lsn and restart_lsn and the
// current WAL insert position, as byte positions.
func slotPos(t *testing.T, conn *pgx.Conn, slot string) (confirmed, restart, current int64) {
	t.Helper()
	err := conn.QueryRow(context.Background(), `
		SELECT pg_wal_lsn_diff(confirmed_flush_lsn, '0/0')::int8, pg_wal_lsn_diff(restart_lsn, '0/0')::int8,
		       pg_wal_lsn_diff(pg_current_wal_insert_lsn(), '0/0')::int8
		FROM pg_replication_slots WHERE slot_name = $1`, slot).Scan(&confirmed, &restart, &current)
	if err != nil {
		t.Fatalf("read slot %s: %v", slot, err)
	}
	return confirmed, restart, current
}

// TestHeartbeatKeepsFilteredSourceSlotMoving writes heavy WAL that the
// slot's publication does not cover — to a table outside it and to
// another database of the same cluster — and checks that the slot keeps
// up: after every round its confirmed_flush_lsn passes the end of the
// round's WAL and its restart_lsn the start, so the WAL the slot retains
// stays bounded by about one round while the cluster writes many.
func TestHeartbeatKeepsFilteredSourceSlotMoving(t *testing.T) {
	c := pgtest.Source(t)
	pgtest.CreateDB(t, c, "other")
	exec(t, c, "CREATE TABLE pub (id int PRIMARY KEY); CREATE TABLE noise (id bigserial PRIMARY KEY, pad text)")
	pgtest.Exec(t, c, "other", "CREATE TABLE noise (id bigserial PRIMARY KEY, pad text)")
	s := testSourceWith(t, c, func(cfg *Config) { cfg.HeartbeatInterval = 100 * time.Millisecond }, "pub")
	_, lsn := prepare(t, s)
	conn := pgtest.Connect(t, c, "app")
	probe := probeSlot(t, conn)
	st := startStream(t, s, lsn)
	const rounds = 6
	var written, maxRetained int64
	for i := 0; i < rounds; i++ {
		_, _, from := slotPos(t, conn, s.cfg.Slot)
		exec(t, c, "INSERT INTO noise (pad) SELECT repeat(md5(g::text), 30) FROM generate_series(1, 3000) g")
		pgtest.Exec(t, c, "other", "INSERT INTO noise (pad) SELECT repeat(md5(g::text), 30) FROM generate_series(1, 3000) g")
		_, _, to := slotPos(t, conn, s.cfg.Slot)
		written += to - from
		// A checkpoint logs the running transactions; decoding them is what
		// lets PostgreSQL move restart_lsn (the bgwriter also does it every
		// 15s on a busy cluster).
		exec(t, c, "CHECKPOINT")
		deadline := time.Now().Add(20 * time.Second)
		for {
			confirmed, restart, cur := slotPos(t, conn, s.cfg.Slot)
			maxRetained = max(maxRetained, cur-restart)
			if confirmed >= to && restart >= from {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("round %d: slot did not follow filtered-out WAL %d..%d: confirmed_flush %d, restart %d (retains %d bytes)",
					i, from, to, confirmed, restart, cur-restart)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	st.none(t, 100*time.Millisecond) // nothing of the publication changed
	if n := heartbeats(t, conn, probe, s.cfg.Publication); n < 3 {
		t.Errorf("%d heartbeat messages in the source's WAL, want at least 3 (one per 100ms)", n)
	}
	t.Logf("%d rounds wrote %d bytes of WAL outside the publication; the slot retained at most %d bytes", rounds, written, maxRetained)
	if maxRetained*2 > written {
		t.Errorf("slot retained up to %d bytes of the %d written; want it bounded by about one round", maxRetained, written)
	}
}

// probeSlot creates a pgoutput slot that only the test reads (with
// pg_logical_slot_peek_binary_changes), dropped at cleanup.
func probeSlot(t *testing.T, conn *pgx.Conn) string {
	t.Helper()
	name := fmt.Sprintf("probe_%d", nameSeq.Add(1))
	if _, err := conn.Exec(context.Background(), "SELECT pg_create_logical_replication_slot($1, 'pgoutput')", name); err != nil {
		t.Fatalf("create probe slot: %v", err)
	}
	t.Cleanup(func() { _, _ = conn.Exec(context.Background(), "SELECT pg_drop_replication_slot($1)", name) })
	return name
}

// heartbeats counts the heartbeat messages (non-transactional logical
// decoding messages with HeartbeatPrefix) the probe slot decodes, asking
// pgoutput for messages, which ripple's own stream does not.
func heartbeats(t *testing.T, conn *pgx.Conn, probe, pub string) int {
	t.Helper()
	rows, err := conn.Query(context.Background(), `SELECT data FROM pg_logical_slot_peek_binary_changes($1, NULL, NULL,
		'proto_version', '1', 'publication_names', $2, 'messages', 'true')`, probe, pub)
	if err != nil {
		t.Fatalf("peek probe slot: %v", err)
	}
	datas, err := pgx.CollectRows(rows, pgx.RowTo[[]byte])
	if err != nil {
		t.Fatalf("peek probe slot: %v", err)
	}
	n := 0
	for _, d := range datas {
		m, err := decodeMessage(d)
		if err != nil {
			t.Fatalf("decode probe message: %v", err)
		}
		if lm, ok := m.(msgLogical); ok && lm.Prefix == HeartbeatPrefix && !lm.Transactional {
			n++
		}
	}
	return n
}

// Without heartbeats, Stream writes nothing into the source's WAL.
func TestHeartbeatDisabled(t *testing.T) {
	c := pgtest.Source(t)
	exec(t, c, "CREATE TABLE pub (id int PRIMARY KEY)")
	s := testSourceWith(t, c, func(cfg *Config) { cfg.HeartbeatInterval = -1 }, "pub")
	_, lsn := prepare(t, s)
	conn := pgtest.Connect(t, c, "app")
	probe := probeSlot(t, conn)
	st := startStream(t, s, lsn)
	exec(t, c, "INSERT INTO pub VALUES (1)")
	s.Ack(st.next(t).EndLSN)
	time.Sleep(time.Second)
	if n := heartbeats(t, conn, probe, s.cfg.Publication); n != 0 {
		t.Errorf("%d heartbeat messages with heartbeats disabled, want 0", n)
	}
}

// lossyCluster starts a source whose slots PostgreSQL invalidates once they
// retain more than one WAL segment, with tables pub (published) and noise.
func lossyCluster(t *testing.T) *pgcluster.Cluster {
	t.Helper()
	c := pgtest.Start(t, pgcluster.Options{Settings: map[string]string{"max_slot_wal_keep_size": "'16MB'"}})
	pgtest.CreateDB(t, c, "app")
	exec(t, c, "CREATE TABLE pub (id int PRIMARY KEY); CREATE TABLE noise (id bigserial PRIMARY KEY, pad text)")
	return c
}

// switchWAL moves the source past n WAL segments (a small write and
// pg_switch_wal each) and checkpoints, which removes the old segments and
// invalidates slots that retain more than max_slot_wal_keep_size.
func switchWAL(t *testing.T, c *pgcluster.Cluster, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		exec(t, c, "INSERT INTO noise (pad) VALUES ('x'); SELECT pg_switch_wal()")
	}
	exec(t, c, "CHECKPOINT")
}

func walStatus(t *testing.T, conn *pgx.Conn, slot string) string {
	t.Helper()
	var st *string
	if err := conn.QueryRow(context.Background(), "SELECT wal_status FROM pg_replication_slots WHERE slot_name = $1", slot).Scan(&st); err != nil {
		t.Fatalf("read wal_status of %s: %v", slot, err)
	}
	if st == nil {
		return ""
	}
	return *st
}

func checkTerminal(t *testing.T, err, kind error) {
	t.Helper()
	if !errors.Is(err, kind) || IsTransient(err) || !strings.Contains(err.Error(), "ripple resync") {
		t.Errorf("error %v (transient %v); want %v, terminal, naming `ripple resync`", err, IsTransient(err), kind)
	}
}

// A slot invalidated while nobody streams from it: Stream and SlotLag say
// so, terminally, at once.
func TestSlotInvalidatedBeforeStreaming(t *testing.T) {
	c := lossyCluster(t)
	s := testSourceWith(t, c, func(cfg *Config) { cfg.MaxRetainedWAL = 64 << 10 }, "pub")
	_, lsn := prepare(t, s)
	conn := pgtest.Connect(t, c, "app")
	exec(t, c, "INSERT INTO noise (pad) SELECT repeat('x', 200) FROM generate_series(1, 2000)")
	warned := false
	for _, f := range CheckSource(context.Background(), s.cfg) {
		warned = warned || f.Status == StatusWarn && strings.Contains(f.Detail, "more than source.max_retained_wal (65536)")
	}
	if !warned {
		t.Error("CheckSource does not warn about a slot retaining more than MaxRetainedWAL")
	}
	for i := 0; walStatus(t, conn, s.cfg.Slot) != "lost"; i++ {
		if i == 10 {
			t.Fatalf("slot not invalidated after %d segments (wal_status %q)", i*4, walStatus(t, conn, s.cfg.Slot))
		}
		switchWAL(t, c, 4)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := s.Stream(ctx, lsn, make(chan Txn, 1))
	checkTerminal(t, err, ErrSlotInvalidated)
	t.Logf("Stream: %v", err)
	_, err = s.SlotLag(ctx)
	checkTerminal(t, err, ErrSlotInvalidated)
	found := false
	for _, f := range CheckSource(ctx, s.cfg) {
		if f.Subject == "slot "+s.cfg.Slot {
			found = found || f.Status == StatusFail && strings.Contains(f.Detail, "ripple resync")
			t.Logf("check: %s", f)
		}
	}
	if !found {
		t.Error("CheckSource does not fail the invalidated slot naming `ripple resync`")
	}
}

// runStream runs s.Stream from start in a goroutine; the returned channel
// receives its error. The stream is stopped at cleanup.
func runStream(t *testing.T, s *Source, start row.LSN, out chan Txn) <-chan error {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		done <- s.Stream(ctx, start, out)
	}()
	t.Cleanup(func() {
		cancel()
		wg.Wait()
	})
	return done
}

func waitErr(t *testing.T, done <-chan error, what string) error {
	t.Helper()
	select {
	case err := <-done:
		if err == nil {
			t.Fatalf("%s: Stream returned nil", what)
		}
		return err
	case <-time.After(60 * time.Second):
		t.Fatalf("%s: Stream still running after 60s", what)
	}
	return nil
}

// A slot invalidated while Stream runs and the pipeline holds an unacked
// transaction (a stalled sink): PostgreSQL terminates the walsender, and
// Stream reports the invalidation, terminally, instead of a connection
// error a reconnect loop would retry for ever.
func TestSlotInvalidatedWhileStreaming(t *testing.T) {
	c := lossyCluster(t)
	s := testSource(t, c, "pub")
	_, lsn := prepare(t, s)
	conn := pgtest.Connect(t, c, "app")
	out := make(chan Txn, 4)
	done := runStream(t, s, lsn, out)
	exec(t, c, "INSERT INTO pub VALUES (1)")
	select {
	case <-out: // received, never acked: the slot must keep its WAL
	case err := <-done:
		t.Fatalf("stream ended: %v", err)
	case <-time.After(15 * time.Second):
		t.Fatal("no transaction within 15s")
	}
	for i := 0; walStatus(t, conn, s.cfg.Slot) != "lost"; i++ {
		if i == 10 {
			t.Fatalf("slot not invalidated after %d segments (wal_status %q)", i*4, walStatus(t, conn, s.cfg.Slot))
		}
		switchWAL(t, c, 4)
	}
	err := waitErr(t, done, "after invalidation")
	t.Logf("Stream: %v", err)
	checkTerminal(t, err, ErrSlotInvalidated)
}

// A slot dropped by someone (after terminating ripple's walsender, since
// an active slot cannot be dropped): the next Stream fails with
// ErrSlotMissing, terminally; the one that was running fails with either
// that or a transient error (the termination may be seen before the drop).
func TestSlotDropped(t *testing.T) {
	c := pgtest.Source(t)
	exec(t, c, "CREATE TABLE pub (id int PRIMARY KEY)")
	s := testSource(t, c, "pub")
	_, lsn := prepare(t, s)
	conn := pgtest.Connect(t, c, "app")
	out := make(chan Txn, 4)
	done := runStream(t, s, lsn, out)
	exec(t, c, "INSERT INTO pub VALUES (1)")
	select {
	case txn := <-out:
		s.Ack(txn.EndLSN)
	case err := <-done:
		t.Fatalf("stream ended: %v", err)
	case <-time.After(15 * time.Second):
		t.Fatal("no transaction within 15s")
	}
	ctx := context.Background()
	for i := 0; ; i++ {
		_, err := conn.Exec(ctx, "SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = $1 AND active_pid IS NOT NULL", s.cfg.Slot)
		if err != nil {
			t.Fatal(err)
		}
		if _, err = conn.Exec(ctx, "SELECT pg_drop_replication_slot($1)", s.cfg.Slot); err == nil {
			break
		}
		if i == 100 {
			t.Fatalf("drop slot: %v", err)
		}
		time.Sleep(50 * time.Millisecond) // the terminated walsender still holds it
	}
	err := waitErr(t, done, "after the drop")
	t.Logf("running Stream: %v", err)
	if !IsTransient(err) {
		checkTerminal(t, err, ErrSlotMissing)
	}
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	err = s.Stream(sctx, lsn, out)
	t.Logf("next Stream: %v", err)
	checkTerminal(t, err, ErrSlotMissing)
	_, err = s.SlotLag(ctx)
	checkTerminal(t, err, ErrSlotMissing)
}

// TestStreamFaultsAreTransient breaks a running Stream the ways a source
// does — pg_terminate_backend on the walsender, a fast and an immediate
// restart, and a Stream started while the server is down — and checks that
// each error classifies as transient and that streaming again from the
// last acked LSN delivers the next transaction.
func TestStreamFaultsAreTransient(t *testing.T) {
	c := pgtest.Source(t)
	exec(t, c, "CREATE TABLE pub (id int PRIMARY KEY)")
	s := testSource(t, c, "pub")
	_, acked := prepare(t, s)
	ctx := context.Background()
	id := 0
	// streamOne starts Stream, commits a new row and waits for it (acking
	// it; transactions at or below the acked LSN may come again after a
	// reconnect and are skipped), and returns the running stream.
	streamOne := func(what string) <-chan error {
		t.Helper()
		out := make(chan Txn, 4)
		done := runStream(t, s, acked, out)
		// The server releases the slot as the terminated walsender exits,
		// a moment after the client saw the connection end: a reconnect
		// may find it still in use, and retries that for a bounded time.
		for i := 0; i < 50; i++ {
			select {
			case err := <-done:
				if !errors.Is(err, ErrSlotInUse) {
					t.Fatalf("%s: stream ended: %v", what, err)
				}
				time.Sleep(100 * time.Millisecond)
				done = runStream(t, s, acked, out)
				continue
			case <-time.After(100 * time.Millisecond):
			}
			break
		}
		id++
		exec(t, c, fmt.Sprintf("SET synchronous_commit = on; INSERT INTO pub VALUES (%d)", id))
		for {
			select {
			case txn := <-out:
				if txn.CommitLSN <= acked {
					continue
				}
				if len(txn.Changes) != 1 || row.FormatText(txn.Changes[0].New[0]) != fmt.Sprint(id) {
					t.Fatalf("%s: got %+v, want the insert of %d", what, txn.Changes, id)
				}
				acked = txn.EndLSN
				s.Ack(acked)
				return done
			case err := <-done:
				t.Fatalf("%s: stream ended: %v", what, err)
			case <-time.After(30 * time.Second):
				t.Fatalf("%s: row %d not streamed within 30s", what, id)
			}
		}
	}
	checkTransient := func(what string, err error) {
		t.Helper()
		t.Logf("%s: %v", what, err)
		if !IsTransient(err) || errors.Is(err, ErrSlotMissing) || errors.Is(err, ErrSlotInvalidated) {
			t.Errorf("%s: error %v is not transient", what, err)
		}
	}
	admin := pgtest.Connect(t, c, "postgres")

	done := streamOne("first stream")
	var n int
	if err := admin.QueryRow(ctx, "SELECT count(pg_terminate_backend(active_pid)) FROM pg_replication_slots WHERE slot_name = $1 AND active_pid IS NOT NULL",
		s.cfg.Slot).Scan(&n); err != nil || n != 1 {
		t.Fatalf("terminate walsender: %d terminated, %v", n, err)
	}
	checkTransient("walsender terminated", waitErr(t, done, "walsender terminated"))

	for _, mode := range []string{"fast", "immediate"} {
		done = streamOne("before " + mode + " restart")
		pgtest.Stop(t, c, mode)
		checkTransient(mode+" shutdown", waitErr(t, done, mode+" shutdown"))
		sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		err := s.Stream(sctx, acked, make(chan Txn, 1))
		cancel()
		checkTransient("Stream while the source is down", err)
		pgtest.Restart(t, c, mode)
	}
	streamOne("after the restarts")
}
