package e2e

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/rippledb/ripple/cdc"
	"github.com/rippledb/ripple/internal/pgcluster"
	"github.com/rippledb/ripple/internal/pgtest"
	"github.com/rippledb/ripple/internal/pipeline"
	"github.com/rippledb/ripple/internal/row"
	"github.com/rippledb/ripple/planner"
	"github.com/rippledb/ripple/sink"
)

// TestSlotLostStopsPipeline stalls the sink (a lock on its table) so the
// slot keeps the WAL of an unapplied transaction, then lets the source
// invalidate the slot (max_slot_wal_keep_size). The pipeline must stop with
// the terminal cdc.ErrSlotInvalidated naming `ripple resync` — not a
// transient error a reconnect loop would retry for ever — and the sink must
// still hold its last whole state, without the transaction it never applied.
func TestSlotLostStopsPipeline(t *testing.T) {
	src := pgtest.Start(t, pgcluster.Options{Settings: map[string]string{"max_slot_wal_keep_size": "'16MB'"}})
	pgtest.CreateDB(t, src, "app")
	pgtest.CreateDB(t, src, "warehouse")
	pgtest.Exec(t, src, "app", `CREATE TABLE items (id int PRIMARY KEY, v int NOT NULL);
		INSERT INTO items SELECT g, g FROM generate_series(1, 10) g;
		CREATE TABLE noise (id bigserial PRIMARY KEY, pad text)`)
	appConn := connect(t, src, "app")
	snk := connect(t, src, "warehouse")
	defs, err := planner.ParseViews("items.sql", "CREATE VIEW items_v AS SELECT id, v FROM items;")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- pipeline.Run(ctx, pipeline.Config{
			Source:      cdc.Config{DSN: src.DSN("app"), Slot: "ripple", Publication: "ripple"},
			Views:       defs,
			Targets:     []pipeline.Target{{Sink: sink.NewPostgres(sink.PostgresConfig{Name: "main", DSN: src.DSN("warehouse")}), Views: []row.TableName{defs[0].Name}}},
			LagInterval: 100 * time.Millisecond,
		})
	}()
	waitLoaded(t, snk, done)

	// Stall the sink: its next apply waits for this lock.
	lockTx, err := snk.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer lockTx.Rollback(context.Background())
	if _, err := lockTx.Exec(ctx, "LOCK TABLE public.items_v IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	if _, err := appConn.Exec(ctx, "INSERT INTO items VALUES (11, 11)"); err != nil {
		t.Fatal(err)
	}
	var stopped error
	for i := 0; stopped == nil; i++ {
		if i == 20 {
			t.Fatalf("pipeline still running after %d WAL segment switches", i*4)
		}
		for j := 0; j < 4; j++ {
			if _, err := appConn.Exec(ctx, "INSERT INTO noise (pad) VALUES ('x'); SELECT pg_switch_wal()"); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := appConn.Exec(ctx, "CHECKPOINT"); err != nil {
			t.Fatal(err)
		}
		select {
		case stopped = <-done:
		case <-time.After(500 * time.Millisecond):
		}
	}
	t.Logf("pipeline stopped: %v", stopped)
	if !errors.Is(stopped, cdc.ErrSlotInvalidated) || cdc.IsTransient(stopped) || !strings.Contains(stopped.Error(), "ripple resync") {
		t.Errorf("pipeline stopped with %v; want terminal cdc.ErrSlotInvalidated naming `ripple resync`", stopped)
	}
	if err := lockTx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	var n, maxID int
	if err := snk.QueryRow(ctx, "SELECT count(*), max(id) FROM public.items_v").Scan(&n, &maxID); err != nil {
		t.Fatal(err)
	}
	if n != 10 || maxID != 10 {
		t.Errorf("sink holds %d rows up to id %d; want the 10 rows of the last applied state", n, maxID)
	}
}
