package cdc

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/rippledb/ripple/internal/row"
)

// SlotState is what the source says about the replication slot, for
// deciding whether ripple's durable state can resume from it.
type SlotState struct {
	Exists bool
	// ConfirmedFlush is the position the slot was acknowledged up to:
	// streaming cannot start before it.
	ConfirmedFlush row.LSN
	// WALStatus is pg_replication_slots.wal_status: reserved, extended,
	// unreserved or lost (the WAL the slot needs was removed).
	WALStatus string
	Active    bool
}

// Slot reads the replication slot's state.
func (s *Source) Slot(ctx context.Context) (SlotState, error) {
	var st SlotState
	var flush *string
	var walStatus *string
	err := s.conn.QueryRow(ctx, `SELECT confirmed_flush_lsn::text, wal_status, active
		FROM pg_replication_slots WHERE slot_name = $1`, s.cfg.Slot).Scan(&flush, &walStatus, &st.Active)
	if errors.Is(err, pgx.ErrNoRows) {
		return st, nil
	}
	if err != nil {
		return st, fmt.Errorf("read replication slot %s: %w", s.cfg.Slot, err)
	}
	st.Exists = true
	if walStatus != nil {
		st.WALStatus = *walStatus
	}
	if flush != nil {
		if st.ConfirmedFlush, err = row.ParseLSN(*flush); err != nil {
			return st, fmt.Errorf("replication slot %s: confirmed_flush_lsn %q: %w", s.cfg.Slot, *flush, err)
		}
	}
	return st, nil
}
