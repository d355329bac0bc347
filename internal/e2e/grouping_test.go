package e2e

import (
	"context"
	"math/rand"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rippledb/ripple/cdc"
	"github.com/rippledb/ripple/internal/pgcluster"
	"github.com/rippledb/ripple/internal/pgtest"
	"github.com/rippledb/ripple/internal/pipeline"
	"github.com/rippledb/ripple/internal/row"
	"github.com/rippledb/ripple/planner"
	"github.com/rippledb/ripple/sink"
)

// TestGroupedMode runs the opt-in grouping mode (whole consecutive source
// transactions in one sink transaction) with durable state, in process: a
// lock held on a sink table stalls ripple while the workload goes on, so a
// backlog forms; once released, ripple applies it in fewer sink
// transactions than source transactions, and the sink equals the views.
func TestGroupedMode(t *testing.T) {
	sd := seed(t)
	t.Logf("seed %d", sd)
	src := pgtest.Source(t)
	snk := pgtest.Start(t, pgcluster.Options{})
	pgtest.CreateDB(t, snk, "warehouse")
	pgtest.Exec(t, src, "app", oracleSchema)
	srcConn := connect(t, src, "app")
	w := newWorkload(rand.New(rand.NewSource(sd)), srcConn)
	for i := 0; i < 60; i++ {
		w.txn(t)
	}
	defs, err := planner.ParseViews("views.sql", restartViews)
	if err != nil {
		t.Fatal(err)
	}
	var names []row.TableName
	for _, d := range defs {
		names = append(names, d.Name)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- pipeline.Run(ctx, pipeline.Config{
			Source:    cdc.Config{DSN: src.DSN("app"), Slot: "ripple", Publication: "ripple"},
			Views:     defs,
			Targets:   []pipeline.Target{{Sink: sink.NewPostgres(sink.PostgresConfig{Name: "main", DSN: snk.DSN("warehouse")}), Views: names}},
			StateDir:  t.TempDir(),
			GroupTxns: 32,
		})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("pipeline: %v", err)
		}
	})
	snkConn := connect(t, snk, "warehouse")
	views := oracleViews(t, srcConn, restartViews)
	sinks := map[string]*pgx.Conn{"main": snkConn}
	waitLoaded(t, snkConn, done)
	if !checkAll(t, srcConn, "ripple", sinks, views, "after the initial load") {
		t.Fatal("sink differs after the initial load")
	}
	bg := context.Background()
	commits := func() int64 {
		var n int64
		if err := snkConn.QueryRow(bg, "SELECT xact_commit FROM pg_stat_database WHERE datname = 'warehouse'").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	// Stall ripple's sink transactions behind a lock, queue a backlog.
	locker := connect(t, snk, "warehouse")
	tx, err := locker.Begin(bg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(bg, "LOCK TABLE public.r_group IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	before := w.commits
	for i := 0; i < 400; i++ {
		w.txn(t)
	}
	sourceTxns := w.commits - before
	time.Sleep(500 * time.Millisecond)
	_, _ = snkConn.Exec(bg, "SELECT pg_stat_clear_snapshot()")
	start := commits()
	if err := tx.Rollback(bg); err != nil {
		t.Fatal(err)
	}
	if !checkAll(t, srcConn, "ripple", sinks, views, "after the backlog") {
		t.Fatal("sink differs after applying the backlog in groups")
	}
	time.Sleep(time.Second) // pg_stat_database is updated by the backends lazily
	_, _ = snkConn.Exec(bg, "SELECT pg_stat_clear_snapshot()")
	sinkTxns := commits() - start
	t.Logf("%d source transactions applied in at most %d sink transactions (including the checks' own)", sourceTxns, sinkTxns)
	if sinkTxns >= int64(sourceTxns) {
		t.Errorf("grouping did not group: %d sink transactions for %d source transactions", sinkTxns, sourceTxns)
	}
}
