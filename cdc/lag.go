package cdc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// SlotHealth is the replication slot as SlotLag last read it from
// pg_replication_slots
// (https://www.postgresql.org/docs/current/view-pg-replication-slots.html).
type SlotHealth struct {
	// LagBytes is the current WAL position − the slot's confirmed_flush_lsn:
	// the WAL ripple has not yet acknowledged as durable in every sink (it
	// lags Ack by up to Config.StatusInterval).
	LagBytes int64
	// RetainedBytes is the current WAL position − the slot's restart_lsn:
	// the WAL the source keeps on disk for this slot.
	RetainedBytes int64
	// WALStatus is pg_replication_slots.wal_status: "reserved", "extended",
	// "unreserved" (WAL beyond max_slot_wal_keep_size: the next checkpoint
	// may invalidate the slot) or "" when unknown.
	WALStatus string
	// SafeWALBytes is pg_replication_slots.safe_wal_size: how much more WAL
	// may be written before the slot is in danger of being invalidated; -1
	// when there is no limit (max_slot_wal_keep_size = -1).
	SafeWALBytes int64
	// MaxRetained is Config.MaxRetainedWAL; ≤ 0 when there is no limit.
	MaxRetained int64
}

// OverLimit reports whether the slot retains more WAL than
// Config.MaxRetainedWAL allows, or PostgreSQL says the slot is about to be
// invalidated (wal_status "unreserved").
func (h SlotHealth) OverLimit() bool {
	return (h.MaxRetained > 0 && h.RetainedBytes > h.MaxRetained) || h.WALStatus == "unreserved"
}

// SlotLag reads how far the slot is behind the source's WAL and whether it
// is still usable. The current WAL position is pg_current_wal_lsn(), or the
// last replayed position on a standby. A missing slot is an error matching
// ErrSlotMissing, an invalidated one (wal_status 'lost') an error matching
// ErrSlotInvalidated; both are terminal (`ripple resync` rebuilds from a
// fresh snapshot).
//
// SlotLag runs on the regular connection, so like every Source method other
// than Ack and Stream it must not run concurrently with another one; the
// pipeline calls it only once the snapshot is done, from one goroutine. When
// a cancelled query has closed the regular connection, SlotLag reopens it.
func (s *Source) SlotLag(ctx context.Context) (SlotHealth, error) {
	if s.conn.IsClosed() {
		conn, err := connectRegular(ctx, s.cfg.DSN)
		if err != nil {
			return SlotHealth{}, err
		}
		s.conn = conn
	}
	var (
		lag, retained, safe *int64
		walStatus           *string
	)
	err := s.conn.QueryRow(ctx, `
		WITH cur AS (SELECT CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() END AS lsn)
		SELECT greatest(pg_wal_lsn_diff(cur.lsn, s.confirmed_flush_lsn), 0)::int8,
		       greatest(pg_wal_lsn_diff(cur.lsn, s.restart_lsn), 0)::int8,
		       s.wal_status, s.safe_wal_size
		FROM pg_replication_slots s, cur WHERE s.slot_name = $1`, s.cfg.Slot).Scan(&lag, &retained, &walStatus, &safe)
	if errors.Is(err, pgx.ErrNoRows) {
		return SlotHealth{}, slotMissing(s.cfg.Slot, "")
	}
	if err != nil {
		return SlotHealth{}, fmt.Errorf("read lag of replication slot %s: %w", s.cfg.Slot, err)
	}
	h := SlotHealth{SafeWALBytes: -1, MaxRetained: s.cfg.MaxRetainedWAL}
	if lag != nil {
		h.LagBytes = *lag
	}
	if retained != nil {
		h.RetainedBytes = *retained
	}
	if safe != nil {
		h.SafeWALBytes = *safe
	}
	if walStatus != nil {
		h.WALStatus = *walStatus
	}
	if h.WALStatus == "lost" {
		return h, slotInvalidated(s.cfg.Slot, "pg_replication_slots.wal_status is 'lost'")
	}
	return h, nil
}

// EstimateRows estimates how many rows Snapshot will read, for progress
// displays: the sum over the configured tables of pg_class.reltuples (the
// estimate VACUUM and ANALYZE keep). A table that was never vacuumed or
// analyzed (reltuples = -1) counts 0 when it has no storage yet, and
// otherwise what the planner estimates for a scan of it, which PostgreSQL
// derives from the table's current size. The result is an estimate: the
// snapshot may read more or fewer rows. Like the other methods on the
// regular connection, it must not run concurrently with them.
func (s *Source) EstimateRows(ctx context.Context) (int64, error) {
	s.relsMu.Lock()
	rels := s.rels
	s.relsMu.Unlock()
	if rels == nil {
		var err error
		if rels, err = s.resolveTables(ctx); err != nil {
			return 0, err
		}
	}
	var total int64
	for _, t := range rels {
		n, err := s.estimateTable(ctx, t)
		if err != nil {
			return 0, fmt.Errorf("estimate rows of %s: %w", t.rel.Name, err)
		}
		total += n
	}
	return total, nil
}

func (s *Source) estimateTable(ctx context.Context, t tableInfo) (int64, error) {
	var (
		tuples float64
		size   int64
	)
	if err := s.conn.QueryRow(ctx, "SELECT reltuples::float8, pg_relation_size(oid) FROM pg_class WHERE oid = $1",
		uint32(t.rel.ID)).Scan(&tuples, &size); err != nil {
		return 0, err
	}
	switch {
	case tuples >= 0:
		return int64(tuples), nil
	case !t.partitioned && size == 0:
		return 0, nil
	}
	// Never analyzed: ask the planner for the width of a row (and, for a
	// partitioned table, for its own estimate over the partitions).
	only := "ONLY "
	if t.partitioned {
		only = ""
	}
	var plan []byte
	if err := s.conn.QueryRow(ctx, "EXPLAIN (FORMAT JSON) SELECT * FROM "+only+
		qualified(t.rel.Name.Schema, t.rel.Name.Name)).Scan(&plan); err != nil {
		return 0, err
	}
	var explained []struct {
		Plan struct {
			Rows  float64 `json:"Plan Rows"`
			Width float64 `json:"Plan Width"`
		} `json:"Plan"`
	}
	if err := json.Unmarshal(plan, &explained); err != nil || len(explained) == 0 {
		return 0, fmt.Errorf("read planner estimate: unexpected EXPLAIN output %.100q", plan)
	}
	if t.partitioned {
		return int64(explained[0].Plan.Rows), nil
	}
	// The planner would assume at least 10 pages for a table never vacuumed;
	// use the pages there are, with its tuple density: page header 24
	// bytes, tuple header 24 and line pointer 4 per row
	// (https://www.postgresql.org/docs/current/storage-page-layout.html).
	var blockSize int64
	if err := s.conn.QueryRow(ctx, "SELECT current_setting('block_size')::int8").Scan(&blockSize); err != nil {
		return 0, err
	}
	perPage := (blockSize - 24) / (int64(explained[0].Plan.Width) + 28)
	return max(size/blockSize, 1) * max(perPage, 1), nil
}
