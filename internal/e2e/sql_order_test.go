package e2e

import (
	"context"
	"fmt"
	"math/rand"
	"os"
	"strconv"
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

// sqlOrderViewSQL covers ordering over the oracle schema: top-k (ORDER BY
// ... LIMIT/OFFSET, with ties in the data broken by a unique column) and
// window functions (ranking with ties, running aggregates over the default
// RANGE frame, lag/lead with defaults, first/last value, ROWS frames, over
// joins and over a table without a key), and top-k per group through a
// row_number()/rank() filter over a subquery in FROM.
const sqlOrderViewSQL = `
CREATE VIEW public.o_top AS
  SELECT id, qty, price FROM orders ORDER BY qty DESC NULLS LAST, id LIMIT 5;
CREATE VIEW public.o_top_offset AS
  SELECT id, cust, note FROM orders ORDER BY note NULLS FIRST, id DESC LIMIT 4 OFFSET 3;
CREATE VIEW public.o_top_groups AS
  SELECT cust, sum(qty) AS total, count(*) AS n FROM orders GROUP BY cust ORDER BY total DESC, cust LIMIT 3;
CREATE VIEW public.o_top_distinct AS
  SELECT DISTINCT qty FROM orders ORDER BY qty LIMIT 3;
CREATE VIEW public.o_top_join AS
  SELECT o.id, c.id AS cid, c.name FROM orders o JOIN customers c ON c.id = o.cust ORDER BY c.name DESC, o.id, cid LIMIT 6;
CREATE VIEW public.o_offset_only AS
  SELECT id, d FROM orders ORDER BY d, id OFFSET 5;
CREATE VIEW public.o_rank AS
  SELECT id, cust, qty, row_number() OVER (PARTITION BY cust ORDER BY qty DESC, id) AS rn,
         rank() OVER (PARTITION BY cust ORDER BY qty DESC) AS rk,
         dense_rank() OVER (PARTITION BY cust ORDER BY qty DESC) AS dr
  FROM orders;
CREATE VIEW public.o_running AS
  SELECT id, cust, qty, sum(qty) OVER (PARTITION BY cust ORDER BY qty) AS run,
         count(*) OVER (PARTITION BY cust ORDER BY qty) AS n,
         avg(price) OVER (PARTITION BY cust) AS ap, min(note) OVER (ORDER BY qty NULLS FIRST) AS mn,
         max(f) OVER (PARTITION BY flag) AS mf
  FROM orders;
CREATE VIEW public.o_lag AS
  SELECT id, lag(qty) OVER (ORDER BY id) AS prev, lead(qty, 2, -1) OVER (PARTITION BY cust ORDER BY id) AS nxt,
         lag(price, 1, 0) OVER (PARTITION BY prod ORDER BY id DESC) AS lp,
         first_value(note) OVER (PARTITION BY cust ORDER BY qty NULLS FIRST, id) AS fv,
         last_value(qty) OVER (ORDER BY qty, id ROWS BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING) AS lv,
         sum(qty) OVER (ORDER BY id ROWS BETWEEN 2 PRECEDING AND 1 FOLLOWING) AS mv,
         count(qty) OVER (PARTITION BY cust ORDER BY id ROWS 3 PRECEDING) AS c3,
         qty - lag(qty) OVER (ORDER BY id) AS delta
  FROM orders;
CREATE VIEW public.o_window_join AS
  SELECT o.id, c.country, row_number() OVER (PARTITION BY c.country ORDER BY o.qty DESC NULLS LAST, o.id, c.id) AS rn
  FROM orders o JOIN customers c ON c.id = o.cust;
CREATE VIEW public.o_window_events AS
  SELECT kind, n, rank() OVER (PARTITION BY kind ORDER BY n NULLS FIRST) AS r,
         sum(n) OVER (PARTITION BY kind ORDER BY n) AS s, count(*) OVER () AS total
  FROM events;
CREATE VIEW public.o_top_per_cust AS
  SELECT cust, id, qty FROM (
    SELECT cust, id, qty, row_number() OVER (PARTITION BY cust ORDER BY qty DESC NULLS LAST, id) AS rn FROM orders) t
  WHERE rn <= 2;
CREATE VIEW public.o_rank_per_prod AS
  SELECT * FROM (SELECT prod, id, rank() OVER (PARTITION BY prod ORDER BY price NULLS FIRST) AS r FROM orders) t
  WHERE r = 1;
CREATE VIEW public.o_top_rank AS
  SELECT id, qty, dense_rank() OVER (ORDER BY qty DESC NULLS LAST) AS dr FROM orders ORDER BY dr, id LIMIT 5;
`

// TestSQLOrder is the oracle test for sqlOrderViewSQL, run like TestSQL.
func TestSQLOrder(t *testing.T) {
	txns := 600
	if testing.Short() {
		txns = 150
	}
	if s := os.Getenv("RIPPLE_ORACLE_TXNS"); s != "" {
		txns, _ = strconv.Atoi(s)
	}
	sd := seed(t)
	t.Logf("seed %d (replay with RIPPLE_SEED=%d), %d transactions", sd, sd, txns)
	rng := rand.New(rand.NewSource(sd))

	src := pgtest.Source(t)
	other := pgtest.Start(t, pgcluster.Options{})
	pgtest.CreateDB(t, other, "warehouse")
	pgtest.Exec(t, src, "app", oracleSchema)
	srcConn := connect(t, src, "app")
	w := newWorkload(rng, srcConn)
	for i := 0; i < 60; i++ {
		w.txn(t)
	}

	defs, err := planner.ParseViews("sql_order_views.sql", sqlOrderViewSQL)
	if err != nil {
		t.Fatal(err)
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
		select { // waitLoaded may have taken the pipeline's result already
		case err := <-done:
			if err != nil {
				t.Errorf("pipeline: %v", err)
			}
		case <-time.After(30 * time.Second):
		}
	})

	views := oracleViews(t, srcConn, sqlOrderViewSQL)
	sinks := map[string]*pgx.Conn{"pg": connect(t, other, "warehouse")}
	waitLoaded(t, sinks["pg"], done)
	if !checkAll(t, srcConn, "ripple", sinks, views, "after initial load") {
		t.Fatalf("seed %d: sink differs after the initial load", sd)
	}
	quiet := max(txns/10, 1)
	for i := 1; i <= txns; i++ {
		w.txn(t)
		if i%quiet == 0 || i == txns {
			select {
			case err := <-done:
				t.Fatalf("seed %d: pipeline stopped: %v", sd, err)
			default:
			}
			if !checkAll(t, srcConn, "ripple", sinks, views, fmt.Sprintf("after %d transactions", i)) {
				t.Fatalf("seed %d: sink differs from views after %d transactions", sd, i)
			}
		}
	}
	t.Logf("%d views equal after %d transactions (%d committed, %d rolled back, %d truncates)",
		len(views), txns, w.commits, w.rollbacks, w.truncates)
}
