package pipeline

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/rippledb/ripple/cdc"
	"github.com/rippledb/ripple/internal/logx"
	"github.com/rippledb/ripple/internal/metrics"
)

// lagWarnInterval is how often a failing lag poll, or a slot over its
// retained-WAL limit, is logged.
const lagWarnInterval = time.Minute

// pollLag reads the slot lag every interval until ctx ends and reports it to
// st and m. It runs on the source's regular connection, which nothing else
// uses once streaming (cdc.Source allows one caller at a time there). A
// failed poll is counted and logged (at most once per lagWarnInterval) and
// the pipeline goes on: lag figures are for operators, not for the data path.
// The exception is a slot that is gone or invalidated (cdc.ErrSlotMissing,
// cdc.ErrSlotInvalidated): pollLag returns that error, which stops the run,
// since the changes the slot no longer holds cannot be streamed again and
// only `ripple resync` repairs the views. It returns nil when ctx ends.
//
// When the slot retains more WAL than the source's MaxRetainedWAL (or
// PostgreSQL reports it "unreserved"), pollLag logs a warning (at most once
// per lagWarnInterval) and sets the over-limit gauge, before PostgreSQL
// invalidates the slot.
//
// Lag in seconds is 0 when the slot has no WAL ripple has not confirmed.
// Otherwise it is the age of the oldest change ripple may not have applied,
// bounded from above: the time since the later of the last applied
// transaction's commit and the last poll that found the slot caught up (a
// source idle for an hour whose next transaction is being applied is not an
// hour behind). Commit times come from the source's clock.
func pollLag(ctx context.Context, src *cdc.Source, st *Status, m *metrics.Metrics, interval time.Duration, log *slog.Logger) error {
	warn := slog.New(logx.RateLimit(log.Handler(), lagWarnInterval, slog.LevelWarn))
	t := time.NewTicker(interval)
	defer t.Stop()
	var caughtUp time.Time // last poll that found no pending WAL
	for {
		h, err := src.SlotLag(ctx)
		switch {
		case ctx.Err() != nil:
			return nil
		case errors.Is(err, cdc.ErrSlotMissing) || errors.Is(err, cdc.ErrSlotInvalidated):
			st.lagError(err)
			m.SlotRetained(src.Config().MaxRetainedWAL, true)
			return err
		case err != nil:
			st.lagError(err)
			m.Error(metrics.StageLag)
			warn.Warn("cannot read the replication slot's lag", "err", err)
		default:
			now := time.Now()
			if h.LagBytes == 0 {
				caughtUp = now
			}
			secs := lagSeconds(now, h.LagBytes, st.lastCommit(), caughtUp)
			st.lag(h, secs, now)
			m.Lag(h.LagBytes, h.RetainedBytes, secs)
			m.SlotRetained(h.MaxRetained, h.OverLimit())
			if h.OverLimit() {
				warn.Warn("the replication slot retains more WAL than source.max_retained_wal allows; "+
					"PostgreSQL invalidates the slot when it passes max_slot_wal_keep_size, and then only `ripple resync` repairs the views",
					"slot", src.Config().Slot, "retained_bytes", h.RetainedBytes, "max_retained_wal", h.MaxRetained,
					"wal_status", h.WALStatus, "safe_wal_size", h.SafeWALBytes, "lag_bytes", h.LagBytes)
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// lagSeconds is the lag in seconds as pollLag documents it.
func lagSeconds(now time.Time, lagBytes int64, lastCommit, caughtUp time.Time) float64 {
	if lagBytes <= 0 {
		return 0
	}
	since := lastCommit
	if caughtUp.After(since) {
		since = caughtUp
	}
	return max(now.Sub(since).Seconds(), 0)
}

// slotName is the slot the source config names, defaulted as cdc does.
func slotName(c cdc.Config) string {
	c.EnsureDefaults()
	return c.Slot
}
