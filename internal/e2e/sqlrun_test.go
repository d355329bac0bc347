package e2e

import (
	"context"
	"fmt"
	"math/rand"
	"os"
	"strconv"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/rippledb/ripple/cdc"
	"github.com/rippledb/ripple/internal/pgcluster"
	"github.com/rippledb/ripple/internal/pgtest"
	"github.com/rippledb/ripple/internal/pipeline"
	"github.com/rippledb/ripple/internal/row"
	"github.com/rippledb/ripple/planner"
	"github.com/rippledb/ripple/sink"
)

// sqlOracle is one oracle run over a set of views: the oracle schema and
// random workload of TestOracle, one PostgreSQL sink on its own cluster,
// and every view compared with its SELECT on the source (views it reads
// inlined) after the initial load and every quiet point.
type sqlOracle struct {
	file      string // name used in error positions
	views     string // the CREATE VIEW statements
	txns      int    // workload transactions (RIPPLE_ORACLE_TXNS overrides)
	shortTxns int    // with -short
	minViews  int    // guards against a views string that lost statements
	// schema, when set, is more DDL run after the oracle schema, and extra
	// runs one more random transaction on those tables after each of the
	// workload's (sql_types_test.go).
	schema string
	extra  func(t *testing.T, w *workload)
}

func (o sqlOracle) run(t *testing.T) {
	t.Helper()
	txns := o.txns
	if testing.Short() {
		txns = o.shortTxns
	}
	if s := os.Getenv("RIPPLE_ORACLE_TXNS"); s != "" {
		txns, _ = strconv.Atoi(s)
	}
	sd := seed(t)
	t.Logf("seed %d (replay with RIPPLE_SEED=%d), %d transactions", sd, sd, txns)

	src := pgtest.Source(t)
	other := pgtest.Start(t, pgcluster.Options{})
	pgtest.CreateDB(t, other, "warehouse")
	pgtest.Exec(t, src, "app", oracleSchema+o.schema)
	srcConn := connect(t, src, "app")
	w := newWorkload(rand.New(rand.NewSource(sd)), srcConn)
	step := func() {
		w.txn(t)
		if o.extra != nil {
			o.extra(t, w)
		}
	}
	for i := 0; i < 60; i++ { // initial contents, taken by the snapshot
		step()
	}

	defs, err := planner.ParseViews(o.file, o.views)
	if err != nil {
		t.Fatal(err)
	}
	if len(defs) < o.minViews {
		t.Fatalf("only %d views, want at least %d", len(defs), o.minViews)
	}
	names := make([]row.TableName, len(defs))
	for i, d := range defs {
		names[i] = d.Name
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- pipeline.Run(ctx, pipeline.Config{
			Source: cdc.Config{DSN: src.DSN("app"), Slot: "ripple", Publication: "ripple"},
			Views:  defs,
			Targets: []pipeline.Target{
				{Sink: sink.NewPostgres(sink.PostgresConfig{Name: "pg", DSN: other.DSN("warehouse")}), Views: names},
			},
			QueueSize: 16,
		})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("pipeline: %v", err)
		}
	})

	views := oracleViewsInlined(t, srcConn, o.views)
	sinks := map[string]*pgx.Conn{"pg": connect(t, other, "warehouse")}
	waitLoaded(t, sinks["pg"], done)
	if !checkAll(t, srcConn, "ripple", sinks, views, "after initial load") {
		t.Fatalf("seed %d: sink differs after the initial load", sd)
	}
	quiet := max(txns/10, 1)
	most := make([]int64, len(views))
	for i := 1; i <= txns; i++ {
		step()
		if i%quiet != 0 && i != txns {
			continue
		}
		select {
		case err := <-done:
			done <- err // for the cleanup that waits for the pipeline
			t.Fatalf("seed %d: pipeline stopped: %v", sd, err)
		default:
		}
		if !checkAll(t, srcConn, "ripple", sinks, views, fmt.Sprintf("after %d transactions", i)) {
			t.Fatalf("seed %d: sink differs from views after %d transactions", sd, i)
		}
		for j, v := range views { // how much each view holds, to see the test bites
			var n int64
			if err := srcConn.QueryRow(context.Background(), "SELECT count(*) FROM ("+v.Query+") q").Scan(&n); err == nil {
				most[j] = max(most[j], n)
			}
		}
	}
	t.Logf("%d views equal after %d transactions (%d committed, %d rolled back, %d truncates)",
		len(views), txns, w.commits, w.rollbacks, w.truncates)
	for i, v := range views {
		t.Logf("%s: at most %d rows at a quiet point", v.Name, most[i])
	}
}
