package pipeline

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/rippledb/ripple/cdc"
	"github.com/rippledb/ripple/internal/metrics"
	"github.com/rippledb/ripple/internal/pgtest"
	"github.com/rippledb/ripple/internal/row"
)

// TestPollLagRetainedWAL polls a slot that nobody streams from, so it
// retains the WAL written after it, with a tiny source.max_retained_wal
// and with the default: over the tiny limit the over-limit gauge is 1,
// /status says so and the warning is logged once per lagWarnInterval
// however often the poll runs; under the default nothing is flagged. Once
// the slot is dropped the poll stops the run with cdc.ErrSlotMissing.
func TestPollLagRetainedWAL(t *testing.T) {
	c := pgtest.Source(t)
	pgtest.Exec(t, c, "app", "CREATE TABLE t (id int PRIMARY KEY, pad text)")
	ctx := context.Background()
	connect := func(limit int64) *cdc.Source {
		t.Helper()
		src, err := cdc.Connect(ctx, cdc.Config{DSN: c.DSN("app"), Slot: "lagtest", Publication: "lagtest",
			Tables: []row.TableName{{Name: "t"}}, MaxRetainedWAL: limit, HeartbeatInterval: -1})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { src.Close(ctx) })
		return src
	}
	src := connect(64 << 10)
	if err := src.EnsurePublication(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := src.Snapshot(ctx, func(*cdc.Relation, row.Row) error { return nil }); err != nil {
		t.Fatal(err)
	}
	pgtest.Exec(t, c, "app", "INSERT INTO t SELECT g, repeat('x', 200) FROM generate_series(1, 2000) g") // ~0.5 MB of WAL

	// poll runs pollLag for d (or until it returns) and reports what it
	// returned, the log and the metrics.
	poll := func(src *cdc.Source, d time.Duration) (string, *metrics.Metrics, *Status, error) {
		t.Helper()
		var logBuf bytes.Buffer
		log := slog.New(slog.NewTextHandler(&logBuf, nil))
		m, st := metrics.New(), NewStatus()
		pctx, cancel := context.WithTimeout(ctx, d)
		defer cancel()
		err := pollLag(pctx, src, st, m, 10*time.Millisecond, log)
		return logBuf.String(), m, st, err
	}
	over := func(m *metrics.Metrics) float64 {
		v, err := testutil.GatherAndCount(m.Registry, "ripple_slot_retained_wal_over_limit")
		if err != nil || v != 1 {
			t.Fatalf("gauge ripple_slot_retained_wal_over_limit: %d series, %v", v, err)
		}
		mfs, _ := m.Registry.Gather()
		for _, mf := range mfs {
			if mf.GetName() == "ripple_slot_retained_wal_over_limit" {
				return mf.GetMetric()[0].GetGauge().GetValue()
			}
		}
		return -1
	}

	logText, m, st, err := poll(src, 500*time.Millisecond)
	if err != nil {
		t.Fatalf("pollLag: %v", err)
	}
	r := st.Report()
	if n := strings.Count(logText, "retains more WAL than source.max_retained_wal"); n != 1 {
		t.Errorf("over the limit, %d warnings in 500ms of 10ms polls, want exactly 1 (rate-limited):\n%s", n, logText)
	}
	if over(m) != 1 || !r.Slot.RetainedOverLimit || r.Slot.MaxRetainedBytes != 64<<10 || r.Slot.RetainedBytes <= 64<<10 || r.Slot.WALStatus == "" {
		t.Errorf("over the limit: gauge %v, slot status %+v", over(m), r.Slot)
	}

	logText, m, st, err = poll(connect(0), 100*time.Millisecond) // default 1 GiB
	if r := st.Report(); err != nil || over(m) != 0 || r.Slot.RetainedOverLimit || r.Slot.MaxRetainedBytes != 1<<30 || strings.Contains(logText, "max_retained_wal") {
		t.Errorf("under the default limit: err %v, gauge %v, slot status %+v, log:\n%s", err, over(m), r.Slot, logText)
	}

	// (Not src.DropSlot: a poll cut short by its deadline may have closed
	// src's connection, which only SlotLag reopens.)
	pgtest.Exec(t, c, "app", "SELECT pg_drop_replication_slot('lagtest')")
	_, m, st, err = poll(src, 10*time.Second)
	if !errors.Is(err, cdc.ErrSlotMissing) || cdc.IsTransient(err) || over(m) != 1 || st.Report().Slot.Error == "" {
		t.Errorf("after the slot was dropped: pollLag returned %v, gauge %v, status %+v; want terminal ErrSlotMissing", err, over(m), st.Report().Slot)
	}
}
