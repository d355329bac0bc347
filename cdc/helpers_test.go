package cdc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rippledb/ripple/internal/pgcluster"
	"github.com/rippledb/ripple/internal/pgtest"
	"github.com/rippledb/ripple/internal/row"
)

var nameSeq atomic.Int64

// testSource connects a Source for tables of database app in c, with a slot
// and publication names unique to the test, cleaned up afterwards.
func testSource(t *testing.T, c *pgcluster.Cluster, tables ...string) *Source {
	t.Helper()
	return testSourceWith(t, c, nil, tables...)
}

// testSourceWith is testSource with the Config changed by set (when not
// nil) before connecting.
func testSourceWith(t *testing.T, c *pgcluster.Cluster, set func(*Config), tables ...string) *Source {
	t.Helper()
	n := nameSeq.Add(1)
	cfg := Config{
		DSN:            c.DSN("app"),
		Slot:           fmt.Sprintf("slot_%d", n),
		Publication:    fmt.Sprintf("pub_%d", n),
		StatusInterval: 200 * time.Millisecond,
		Logger:         slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	for _, tb := range tables {
		cfg.Tables = append(cfg.Tables, row.TableName{Name: tb})
	}
	if set != nil {
		set(&cfg)
	}
	ctx := context.Background()
	s, err := Connect(ctx, cfg)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() {
		_ = s.DropSlot(ctx)
		_ = s.DropPublication(ctx)
		_ = s.Close(ctx)
	})
	return s
}

// prepare runs EnsurePublication and Snapshot, returning the snapshot rows
// and the consistent point.
func prepare(t *testing.T, s *Source) (map[string][]row.Row, row.LSN) {
	t.Helper()
	ctx := context.Background()
	if err := s.EnsurePublication(ctx); err != nil {
		t.Fatalf("ensure publication: %v", err)
	}
	rows := map[string][]row.Row{}
	lsn, err := s.Snapshot(ctx, func(rel *Relation, r row.Row) error {
		rows[rel.Name.Name] = append(rows[rel.Name.Name], r)
		return nil
	})
	if err != nil {
		t.Fatalf("snapshot: %v", err)
	}
	return rows, lsn
}

// stream runs s.Stream from start until the test ends.
type stream struct {
	ch   chan Txn
	done chan error
}

func startStream(t *testing.T, s *Source, start row.LSN) *stream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	st := &stream{ch: make(chan Txn, 4), done: make(chan error, 1)}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		st.done <- s.Stream(ctx, start, st.ch)
	}()
	t.Cleanup(func() {
		cancel()
		wg.Wait()
		if err := <-st.done; !errors.Is(err, context.Canceled) {
			t.Errorf("stream ended with %v, want context.Canceled", err)
		}
	})
	return st
}

func (st *stream) next(t *testing.T) Txn {
	t.Helper()
	select {
	case txn := <-st.ch:
		return txn
	case err := <-st.done:
		st.done <- err
		t.Fatalf("stream ended: %v", err)
	case <-time.After(15 * time.Second):
		t.Fatal("no transaction within 15s")
	}
	return Txn{}
}

func (st *stream) none(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case txn := <-st.ch:
		t.Fatalf("unexpected transaction %+v", txn)
	case <-time.After(d):
	}
}

func exec(t *testing.T, c *pgcluster.Cluster, sql string) {
	t.Helper()
	pgtest.Exec(t, c, "app", sql)
}

// parse is row.ParseText for expected values.
func parse(t *testing.T, typ row.Type, s string) row.Datum {
	t.Helper()
	d, err := row.ParseText(typ, s)
	if err != nil {
		t.Fatalf("parse %q as %v: %v", s, typ, err)
	}
	return d
}

// datumsMatch: same kind, same text form (so NaN matches NaN and numeric
// display scale counts), same float width.
func datumsMatch(a, b row.Datum) bool {
	return a.Kind() == b.Kind() && a.IsNull() == b.IsNull() && row.FormatText(a) == row.FormatText(b) &&
		a.IsFloat4() == b.IsFloat4()
}

func rowsMatch(a, b row.Row) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !datumsMatch(a[i], b[i]) {
			return false
		}
	}
	return true
}
