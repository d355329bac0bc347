package cdc

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/rippledb/ripple/internal/row"
)

// Ack tells the source that every transaction with an EndLSN (or
// CommitLSN) at or below lsn is durable in every sink and in the engine's
// state, so the slot may release the WAL before it. Lower values than one
// already given are ignored. Safe to call from any goroutine, before,
// during or between Streams. The position is reported to PostgreSQL with
// the next standby status update (within Config.StatusInterval).
func (s *Source) Ack(lsn row.LSN) {
	s.ack.mu.Lock()
	defer s.ack.mu.Unlock()
	if lsn > s.ack.acked {
		s.ack.acked = lsn
	}
}

// IdlePosition is, with Config.HoldIdle, the highest position the stream
// found confirmable while nothing it delivered was waiting for an ack: no
// transaction that changed a published table commits before it, other than
// those already acked. Acking it after recording it lets the slot release
// WAL on an idle or filtered-out source.
func (s *Source) IdlePosition() row.LSN {
	s.ack.mu.Lock()
	defer s.ack.mu.Unlock()
	return s.ack.idle
}

func (s *Source) acked() row.LSN {
	s.ack.mu.Lock()
	defer s.ack.mu.Unlock()
	return s.ack.acked
}

// Stream replicates from the slot, starting after start (the consistent
// point Snapshot returned, or the progress LSN of the sinks on restart), and
// sends each committed transaction that changed a published table on out, in
// commit order. Sends block when out is full (backpressure); standby status
// keeps being sent meanwhile so the walsender does not time the connection
// out.
//
// The flush position reported to PostgreSQL is the highest LSN passed to
// Ack. Only when every transaction sent on out has been acked and none is
// half received does it advance further, to the server's WAL end, so that an
// idle source, or one whose changes are all filtered out, does not retain
// WAL (I4: it never reports a transaction it delivered but nobody acked).
//
// Unless Config.HeartbeatInterval is negative, Stream also emits a
// heartbeat message in the source database every HeartbeatInterval, on a
// regular connection of its own, so that the walsender has WAL of this
// database to decode and reports its position even when all WAL comes from
// tables outside the publication or from other databases.
//
// Stream returns ctx.Err() when ctx ends; an error matching ErrSlotMissing
// or ErrSlotInvalidated when the slot is gone or invalidated (at the start,
// or when the connection fails mid-stream and pg_replication_slots then
// shows the slot missing or lost): terminal, `ripple resync` repairs it; an
// error matching ErrSlotInUse when another connection holds the slot; and
// otherwise an error wrapping the cause of a lost connection or an
// undecodable message. IsTransient tells which errors a reconnect can cure.
// It opens its own replication connection and closes it on return; at most
// one Stream may run per Source.
func (s *Source) Stream(ctx context.Context, start row.LSN, out chan<- Txn) error {
	conn, err := s.replicationConn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	// Protocol 2 with streaming on (PostgreSQL 14 and later) when there is
	// a directory to spool in-progress transactions to (see spool.go).
	streaming := s.cfg.StreamDir != "" && serverMajor(conn) >= 14
	args := []string{"proto_version '1'", "publication_names " + quoteLiteral(s.cfg.Publication)}
	if streaming {
		args = []string{"proto_version '2'", "publication_names " + quoteLiteral(s.cfg.Publication), "streaming 'on'"}
	}
	err = pglogrepl.StartReplication(ctx, conn, s.cfg.Slot, pglogrepl.LSN(start), pglogrepl.StartReplicationOptions{
		Mode:       pglogrepl.LogicalReplication,
		PluginArgs: args,
	})
	if err != nil {
		return s.startError(ctx, err)
	}
	var sp *spool
	if streaming {
		// Only now: holding the slot, this is the one stream of it.
		if sp, err = newSpool(s.cfg.StreamDir, &s.stream, s.log); err != nil {
			return err
		}
		defer sp.close()
	}
	s.log.Info("streaming started", "slot", s.cfg.Slot, "publication", s.cfg.Publication, "start", start.String(),
		"streaming_in_progress", streaming)
	if s.cfg.HeartbeatInterval > 0 {
		hctx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() {
			defer close(done)
			s.heartbeat(hctx, s.cfg.HeartbeatInterval)
		}()
		defer func() {
			cancel()
			<-done
		}()
	}
	st := &streamer{
		src:      s,
		conn:     conn,
		out:      out,
		asm:      newAssemblerWith(s.types.base, s.cfg.PartChanges, s.cfg.Whole),
		spool:    sp,
		reported: start,
	}
	return s.diagnose(ctx, st.run(ctx))
}

func (s *Source) startError(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "42704": // undefined_object
			return slotMissing(s.cfg.Slot, pgErr.Message)
		case "55000": // object_not_in_prerequisite_state
			// "cannot read from logical replication slot" in 15, "can no
			// longer get changes from replication slot" in 16 and later;
			// the detail says it was invalidated.
			if strings.Contains(pgErr.Detail, "invalidated") || strings.Contains(pgErr.Message, "can no longer get changes") {
				return slotInvalidated(s.cfg.Slot, strings.TrimSpace(pgErr.Message+" "+pgErr.Detail))
			}
		case "55006": // object_in_use
			return errorOf(ErrSlotInUse, "replication slot %s is in use: %s; is another ripple running?", s.cfg.Slot, pgErr.Message)
		}
	}
	return fmt.Errorf("start replication from slot %s: %w", s.cfg.Slot, err)
}

// streamer is the state of one Stream call; only its goroutine touches it.
type streamer struct {
	src  *Source
	conn *pgconn.PgConn
	out  chan<- Txn
	asm  *assembler
	// spool holds the transactions streamed before their commit; nil
	// unless streaming (protocol 2).
	spool *spool

	serverEnd     row.LSN   // highest server WAL end seen (keepalives, XLogData)
	lastDelivered row.LSN   // CommitLSN of the last Txn sent on out
	reported      row.LSN   // last flush position reported; never goes back
	nextStatus    time.Time // when the next periodic status update is due
}

func (st *streamer) run(ctx context.Context) error {
	for {
		if !time.Now().Before(st.nextStatus) {
			if err := st.sendStatus(ctx); err != nil {
				return err
			}
		}
		msg, err := st.receive(ctx)
		if err != nil {
			return err
		}
		if msg == nil {
			continue // status timer fired
		}
		if err := st.handle(ctx, msg); err != nil {
			return err
		}
	}
}

// receive waits for the next server message until the next status update is
// due; it returns nil, nil when that time comes first.
func (st *streamer) receive(ctx context.Context) (pgproto3.BackendMessage, error) {
	rctx, cancel := context.WithDeadline(ctx, st.nextStatus)
	msg, err := st.conn.ReceiveMessage(rctx)
	cancel()
	switch {
	case err == nil:
		return msg, nil
	case ctx.Err() != nil:
		return nil, ctx.Err()
	case pgconn.Timeout(err):
		return nil, nil
	}
	return nil, fmt.Errorf("receive from source (slot %s): %w", st.src.cfg.Slot, err)
}

func (st *streamer) handle(ctx context.Context, msg pgproto3.BackendMessage) error {
	switch msg := msg.(type) {
	case *pgproto3.CopyData:
		return st.handleCopyData(ctx, msg.Data)
	case *pgproto3.ErrorResponse:
		return fmt.Errorf("replication from slot %s: %w", st.src.cfg.Slot, pgconn.ErrorResponseToPgError(msg))
	case *pgproto3.CopyDone, *pgproto3.CommandComplete, *pgproto3.ReadyForQuery:
		// The walsender ends the stream when the server shuts down.
		return fmt.Errorf("replication from slot %s: %w", st.src.cfg.Slot, ErrStreamEnded)
	case *pgproto3.NoticeResponse, *pgproto3.ParameterStatus:
		return nil
	}
	return fmt.Errorf("replication from slot %s: unexpected message %T", st.src.cfg.Slot, msg)
}

// handleCopyData handles one CopyData of the replication stream: a primary
// keepalive ('k') or WAL data ('w')
// (https://www.postgresql.org/docs/15/protocol-replication.html).
func (st *streamer) handleCopyData(ctx context.Context, data []byte) error {
	if len(data) == 0 {
		return fmt.Errorf("%w: empty CopyData", ErrMalformed)
	}
	switch data[0] {
	case pglogrepl.PrimaryKeepaliveMessageByteID:
		ka, err := pglogrepl.ParsePrimaryKeepaliveMessage(data[1:])
		if err != nil {
			return fmt.Errorf("%w: keepalive: %v", ErrMalformed, err)
		}
		st.serverEnd = max(st.serverEnd, row.LSN(ka.ServerWALEnd))
		if ka.ReplyRequested {
			return st.sendStatus(ctx)
		}
		return nil
	case pglogrepl.XLogDataByteID:
		xld, err := pglogrepl.ParseXLogData(data[1:])
		if err != nil {
			return fmt.Errorf("%w: XLogData: %v", ErrMalformed, err)
		}
		if err := st.handleWAL(ctx, xld.WALData); err != nil {
			return err
		}
		// After handling: a Begin's WAL end is below its commit, but the
		// position only counts once no transaction is half assembled.
		st.serverEnd = max(st.serverEnd, row.LSN(xld.ServerWALEnd))
		return nil
	}
	return fmt.Errorf("%w: unknown CopyData type %q", ErrMalformed, data[0])
}

// handleWAL decodes one pgoutput message and delivers the transaction a
// Commit completes.
func (st *streamer) handleWAL(ctx context.Context, b []byte) error {
	return decodeWAL(st.asm, st.spool, b, func(txn *Txn) error { return st.deliver(ctx, txn) })
}

// decodeWAL decodes one pgoutput message into asm (through sp, when
// streaming, for the messages of in-progress transactions) and calls emit
// with each transaction, or part of one, it completes.
func decodeWAL(asm *assembler, sp *spool, b []byte, emit func(*Txn) error) error {
	feed := func(m message) error {
		txn, err := asm.apply(m)
		if err != nil {
			return err
		}
		if txn == nil || len(txn.Changes) == 0 && !txn.Parted() {
			return nil // the last part of a parted transaction goes even empty: it ends it
		}
		return emit(txn)
	}
	if sp != nil && sp.streamMsg(b) {
		if err := sp.apply(b, feed); err != nil {
			if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
				return err
			}
			return fmt.Errorf("streamed transaction: %w", err)
		}
		return nil
	}
	m, err := decodeMessage(b)
	if err != nil {
		return fmt.Errorf("decode pgoutput message: %w", err)
	}
	return feed(m)
}

// serverMajor is the major version of the server conn is connected to
// (15 for "15.8 (Debian 15.8-1)"), 0 when unknown.
func serverMajor(conn *pgconn.PgConn) int {
	v := conn.ParameterStatus("server_version")
	n := 0
	for _, c := range v {
		if c < '0' || c > '9' {
			break
		}
		n = n*10 + int(c-'0')
	}
	return n
}

// deliver sends txn on out, keeping the status updates going while the
// consumer applies backpressure.
func (st *streamer) deliver(ctx context.Context, txn *Txn) error {
	// The transaction counts as delivered (so un-acked) from now on: a
	// status update sent while the consumer is slow to take it must not
	// report the server's WAL end, which is past this transaction (I4).
	st.lastDelivered = txn.CommitLSN
	for {
		timer := time.NewTimer(time.Until(st.nextStatus))
		select {
		case st.out <- *txn:
			timer.Stop()
			return nil
		case <-ctx.Done():
			timer.Stop()
			return ctx.Err()
		case <-timer.C:
			if err := st.sendStatus(ctx); err != nil {
				return err
			}
		}
	}
}

// position is the flush position to report: the ack position, or the
// server's WAL end when nothing delivered is waiting for an ack and no
// transaction is half received.
func (st *streamer) position() row.LSN {
	acked := st.src.acked()
	pos := acked
	if !st.asm.inTxn() && acked >= st.lastDelivered {
		if st.src.cfg.HoldIdle {
			st.src.ack.mu.Lock()
			st.src.ack.idle = max(st.src.ack.idle, st.serverEnd)
			st.src.ack.mu.Unlock()
		} else {
			pos = max(pos, st.serverEnd)
		}
	}
	return max(pos, st.reported)
}

func (st *streamer) sendStatus(ctx context.Context) error {
	pos := st.position()
	err := pglogrepl.SendStandbyStatusUpdate(ctx, st.conn, pglogrepl.StandbyStatusUpdate{
		WALWritePosition: pglogrepl.LSN(pos),
		WALFlushPosition: pglogrepl.LSN(pos),
		WALApplyPosition: pglogrepl.LSN(pos),
	})
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("send standby status to source (slot %s): %w", st.src.cfg.Slot, err)
	}
	if pos != st.reported {
		st.src.log.Debug("flush position reported", "slot", st.src.cfg.Slot, "lsn", pos.String())
	}
	st.reported = pos
	st.nextStatus = time.Now().Add(st.src.cfg.StatusInterval)
	return nil
}
