package cdc

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/rippledb/ripple/internal/pgtest"
)

func TestEstimateRowsAndSlotLag(t *testing.T) {
	c := pgtest.Source(t)
	exec(t, c, `CREATE TABLE analyzed (id int PRIMARY KEY, v text);
		INSERT INTO analyzed SELECT g, repeat('x', 20) FROM generate_series(1, 5000) g;
		ANALYZE analyzed;
		CREATE TABLE fresh (id int PRIMARY KEY, v int);
		INSERT INTO fresh SELECT g, g FROM generate_series(1, 2000) g;
		CREATE TABLE empty (id int PRIMARY KEY);
		CREATE TABLE parted (id int, k int) PARTITION BY RANGE (k);
		CREATE TABLE parted_1 PARTITION OF parted FOR VALUES FROM (0) TO (10);
		INSERT INTO parted SELECT g, g % 10 FROM generate_series(1, 300) g;`)
	ctx := context.Background()
	s := testSource(t, c, "analyzed", "fresh", "empty", "parted")

	for _, tc := range []struct {
		tables   []string
		min, max int64
	}{
		{[]string{"analyzed"}, 5000, 5000}, // reltuples, exact after ANALYZE
		{[]string{"fresh"}, 1000, 4000},    // never analyzed: from its size
		{[]string{"empty"}, 0, 0},          // no storage yet
		{[]string{"parted"}, 1, 100000},    // the planner's estimate over the partitions
	} {
		s2 := testSource(t, c, tc.tables...)
		n, err := s2.EstimateRows(ctx)
		if err != nil {
			t.Fatalf("%v: %v", tc.tables, err)
		}
		if n < tc.min || n > tc.max {
			t.Errorf("%v: estimate %d, want %d..%d", tc.tables, n, tc.min, tc.max)
		}
	}

	if _, err := s.SlotLag(ctx); !errors.Is(err, ErrSlotMissing) || IsTransient(err) {
		t.Errorf("lag of a missing slot: %v, want ErrSlotMissing", err)
	}
	_, lsn := prepare(t, s)
	exec(t, c, "INSERT INTO fresh VALUES (5001, 1)")
	// The test clusters run with synchronous_commit = off: the commit
	// reaches pg_current_wal_lsn() within wal_writer_delay.
	var lag, retained int64
	for i := 0; i < 50 && lag == 0; i++ {
		h, err := s.SlotLag(ctx)
		if err != nil {
			t.Fatal(err)
		}
		lag, retained = h.LagBytes, h.RetainedBytes
		time.Sleep(50 * time.Millisecond)
	}
	if lag <= 0 || retained < lag {
		t.Errorf("after a change nobody acked: lag %d, retained %d; want 0 < lag <= retained", lag, retained)
	}
	st := startStream(t, s, lsn)
	txn := st.next(t)
	s.Ack(txn.EndLSN)
	deadline := 100
	for ; deadline > 0; deadline-- {
		h, err := s.SlotLag(ctx)
		if err != nil {
			t.Fatal(err)
		}
		lag = h.LagBytes
		if lag == 0 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if lag != 0 {
		t.Errorf("lag %d after acking everything, want 0", lag)
	}
}
