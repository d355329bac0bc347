package cdc

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/rippledb/ripple/internal/logx"
)

// HeartbeatPrefix is the prefix of the logical decoding messages Stream
// emits as heartbeats (pg_logical_emit_message). pgoutput does not send
// messages unless asked to, so they never reach the data path; they only
// give the walsender WAL of the slot's own database to decode.
const HeartbeatPrefix = "ripple-heartbeat"

// heartbeatWarnInterval is how often a failing heartbeat is logged.
const heartbeatWarnInterval = time.Minute

// IsTransient reports whether err, returned by Stream or another Source
// method, comes from a fault that can go away by itself, so that opening a
// new connection (with backoff) and streaming again from the last durable
// LSN is the right reaction:
//
//   - the connection was refused, reset, closed (EOF) or timed out;
//   - the server is shutting down or restarting: admin_shutdown 57P01 (also
//     what pg_terminate_backend sends), crash_shutdown 57P02,
//     cannot_connect_now 57P03, other connection exceptions (class 08) and
//     insufficient resources (class 53, e.g. too many connections);
//   - the walsender ended the stream (ErrStreamEnded), as it does when the
//     server shuts down.
//
// Everything else is terminal, because retrying cannot fix it: bad
// credentials or missing privileges, missing tables, a missing or
// invalidated slot (ErrSlotMissing, ErrSlotInvalidated: `ripple resync`
// repairs those), the slot held by another process (ErrSlotInUse: another
// ripple runs with this slot; but right after a lost connection the server
// may still hold ripple's own old walsender — for a moment after a
// pg_terminate_backend, up to wal_sender_timeout when the network broke —
// so a reconnect loop may retry it for that long before giving up), a
// malformed stream (ErrMalformed), context.Canceled (the caller stopped),
// and any error IsTransient does not know. A nil error is not transient.
func IsTransient(err error) bool {
	if err == nil {
		return false
	}
	for _, terminal := range []error{ErrSlotMissing, ErrSlotInvalidated, ErrSlotInUse, ErrMalformed,
		ErrNoSuchTable, ErrNotATable, ErrWalLevel, ErrNoReplicationPrivilege, context.Canceled} {
		if errors.Is(err, terminal) {
			return false
		}
	}
	// A server's answer decides before the transport errors it may be
	// wrapped in (a ConnectError wraps an authentication failure too).
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return transientCode(pgErr.Code)
	}
	if errors.Is(err, ErrStreamEnded) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) || pgconn.Timeout(err) {
		return true
	}
	for _, errno := range []syscall.Errno{syscall.ECONNREFUSED, syscall.ECONNRESET, syscall.ECONNABORTED,
		syscall.EPIPE, syscall.ETIMEDOUT, syscall.EHOSTUNREACH, syscall.ENETUNREACH, syscall.ENETDOWN} {
		if errors.Is(err, errno) {
			return true
		}
	}
	if errors.Is(err, net.ErrClosed) {
		return true
	}
	var netErr net.Error
	if errors.As(err, &netErr) {
		return true // dial, read and write failures of the connection itself
	}
	// pgconn reports the use of a connection it closed after a FATAL or a
	// failed read as "conn closed", without a typed cause.
	return strings.Contains(err.Error(), "conn closed")
}

// transientCode classifies a PostgreSQL SQLSTATE
// (https://www.postgresql.org/docs/current/errcodes-appendix.html).
func transientCode(code string) bool {
	switch code {
	case "57P01", // admin_shutdown: fast shutdown or pg_terminate_backend
		"57P02",          // crash_shutdown: another backend crashed, or immediate shutdown
		"57P03",          // cannot_connect_now: starting up or shutting down
		"57P05",          // idle_session_timeout
		"55P03",          // lock_not_available
		"40001", "40P01": // serialization failure, deadlock
		return true
	}
	switch {
	case strings.HasPrefix(code, "08"): // connection exception
		return true
	case strings.HasPrefix(code, "53"): // insufficient resources (too many connections, out of memory or disk)
		return true
	}
	return false
}

// diagnose is called when the replication connection failed: when the cause
// is that the slot was dropped or invalidated (the server terminates the
// walsender of a slot it invalidates), it returns the terminal error that
// says so; otherwise it returns err. It asks pg_replication_slots on a new
// regular connection and gives up quietly (returning err) when that fails,
// as it will while the server is down.
func (s *Source) diagnose(ctx context.Context, err error) error {
	if ctx.Err() != nil || !IsTransient(err) {
		return err
	}
	dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	conn, cerr := connectRegular(dctx, s.cfg.DSN)
	if cerr != nil {
		return err
	}
	defer conn.Close(context.Background())
	for {
		walStatus, serr := slotWALStatus(dctx, conn, s.cfg.Slot)
		switch {
		case errors.Is(serr, ErrSlotMissing):
			return serr
		case serr != nil:
			return err
		case walStatus == "lost":
			return slotInvalidated(s.cfg.Slot, "")
		case walStatus != "unreserved":
			return err
		}
		// PostgreSQL terminates the walsender first and marks the slot
		// invalidated once it is released: an "unreserved" slot may be
		// about to become "lost". Should it not within the timeout, the
		// next start of streaming reports the invalidation.
		select {
		case <-dctx.Done():
			return err
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// slotWALStatus returns the slot's pg_replication_slots.wal_status ("" when
// NULL), or an error matching ErrSlotMissing when there is no such slot.
func slotWALStatus(ctx context.Context, conn *pgx.Conn, slot string) (string, error) {
	var walStatus *string
	err := conn.QueryRow(ctx, "SELECT wal_status FROM pg_replication_slots WHERE slot_name = $1", slot).Scan(&walStatus)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", slotMissing(slot, "")
	}
	if err != nil || walStatus == nil {
		return "", err
	}
	return *walStatus, nil
}

func slotMissing(slot, detail string) error {
	if detail != "" {
		detail = " (" + detail + ")"
	}
	return errorOf(ErrSlotMissing, "replication slot %s does not exist on the source%s: it was dropped, "+
		"so the changes since ripple's last position are gone; run `ripple resync` to rebuild the views from a fresh snapshot", slot, detail)
}

func slotInvalidated(slot, detail string) error {
	if detail != "" {
		detail = " (" + detail + ")"
	}
	return errorOf(ErrSlotInvalidated, "replication slot %s was invalidated by the source%s: it retained more WAL than "+
		"max_slot_wal_keep_size allows and PostgreSQL removed WAL ripple had not read yet; run `ripple resync` "+
		"to rebuild the views from a fresh snapshot (and act on the source.max_retained_wal warning, or raise "+
		"max_slot_wal_keep_size, so that it does not happen again)", slot, detail)
}

// heartbeat emits a logical decoding message in the source database every
// interval until ctx ends. Its WAL gives the walsender something of the
// slot's database to decode, after which it reports its WAL position in a
// keepalive; Stream confirms that position when nothing delivered is
// waiting for an ack. So on a source whose own tables are idle, or whose
// changes are all filtered out, or whose WAL comes from other databases of
// the cluster, the slot still advances and does not retain WAL. Failures
// are logged (rate-limited) and retried at the next tick with a new
// connection: heartbeats help the source, they are not part of the data
// path.
func (s *Source) heartbeat(ctx context.Context, interval time.Duration) {
	warn := slog.New(logx.RateLimit(s.log.Handler(), heartbeatWarnInterval, slog.LevelWarn))
	var conn *pgx.Conn
	defer func() {
		if conn != nil {
			conn.Close(context.Background())
		}
	}()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if conn == nil || conn.IsClosed() {
			c, err := connectRegular(ctx, s.cfg.DSN)
			if err != nil {
				if ctx.Err() == nil {
					warn.Warn("cannot send heartbeat to the source", "slot", s.cfg.Slot, "err", err)
				}
				continue
			}
			conn = c
		}
		hctx, cancel := context.WithTimeout(ctx, max(interval, 5*time.Second))
		_, err := conn.Exec(hctx, "SELECT pg_logical_emit_message(false, $1, '')", HeartbeatPrefix)
		cancel()
		if err != nil && ctx.Err() == nil {
			warn.Warn("cannot send heartbeat to the source", "slot", s.cfg.Slot, "err", err)
			conn.Close(context.Background())
			conn = nil
		}
	}
}
