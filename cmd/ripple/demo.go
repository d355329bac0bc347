package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"

	"github.com/rippledb/ripple/internal/oracle"
	"github.com/rippledb/ripple/internal/pgcluster"
	"github.com/rippledb/ripple/internal/pipeline"
	"github.com/rippledb/ripple/internal/row"
	"github.com/rippledb/ripple/planner"
)

const demoSchema = `
CREATE TABLE customers (id int PRIMARY KEY, name text NOT NULL, country text NOT NULL);
CREATE TABLE products (id int PRIMARY KEY, name text NOT NULL, price numeric(10,2) NOT NULL);
CREATE TABLE orders (
  id bigserial PRIMARY KEY,
  customer_id int NOT NULL REFERENCES customers,
  product_id int NOT NULL REFERENCES products,
  qty int NOT NULL,
  status text NOT NULL DEFAULT 'new',
  created_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO customers SELECT g, 'customer ' || g, (ARRAY['DE','FR','US','JP','BR'])[1 + g % 5] FROM generate_series(1, 50) g;
INSERT INTO products SELECT g, 'product ' || g, (g * 3.25)::numeric(10,2) FROM generate_series(1, 20) g;
INSERT INTO orders (customer_id, product_id, qty, status)
  SELECT 1 + g % 50, 1 + g % 20, 1 + g % 9, (ARRAY['new','paid','shipped'])[1 + g % 3] FROM generate_series(1, 500) g;
`

const demoViews = `-- views/sales.sql: the demo's views
CREATE VIEW sales.revenue_by_country AS
  SELECT c.country, count(*) AS orders, sum(o.qty * p.price) AS revenue
  FROM orders o
  JOIN customers c ON c.id = o.customer_id
  JOIN products p ON p.id = o.product_id
  WHERE o.status <> 'cancelled'
  GROUP BY c.country;

CREATE VIEW sales.product_stats AS
  SELECT p.name AS product, count(*) AS orders, sum(o.qty) AS units,
         min(o.qty) AS min_qty, max(o.qty) AS max_qty, avg(o.qty) AS avg_qty
  FROM orders o JOIN products p ON p.id = o.product_id
  GROUP BY p.name;

CREATE VIEW sales.big_orders AS
  SELECT o.id, c.name AS customer, o.qty, o.status
  FROM orders o JOIN customers c ON c.id = o.customer_id
  WHERE o.qty >= 8 AND o.status IN ('paid', 'shipped');

CREATE MATERIALIZED VIEW sales.order_status AS
  SELECT status, count(*) FROM orders GROUP BY status;
`

func newDemoCmd() *cobra.Command {
	var duration time.Duration
	var rate int
	var keep bool
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run a live demo on a throwaway local PostgreSQL (started from the installed binaries)",
		Long: `demo starts a throwaway PostgreSQL cluster, creates a small shop schema
(customers, products, orders) in database "shop" and a sink database
"warehouse", registers four example views, runs a random order workload and
shows the views changing in the sink together with ripple's lag, until
Ctrl-C or --duration. At the end it checks every sink table against its
view's SELECT on the source and removes the cluster.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runDemo(cmd.Context(), cmd.OutOrStdout(), duration, rate, keep)
		},
	}
	cmd.Flags().DurationVar(&duration, "duration", 0, "stop after this long (0 = until Ctrl-C)")
	cmd.Flags().IntVar(&rate, "rate", 20, "workload transactions per second")
	cmd.Flags().BoolVar(&keep, "keep", false, "leave the cluster's files in place at the end")
	return cmd
}

type demoStats struct {
	txns, changes  atomic.Int64
	lastCommit     atomic.Int64 // unix nanos of the last applied source commit
	lastApplied    atomic.Int64 // unix nanos when it was applied
	workloadTxns   atomic.Int64
	workloadAborts atomic.Int64
}

func runDemo(ctx context.Context, out io.Writer, duration time.Duration, rate int, keep bool) error {
	if duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, duration)
		defer cancel()
	}
	fmt.Fprintln(out, "ripple demo: starting a throwaway PostgreSQL cluster ...")
	cl, err := pgcluster.Start(context.Background(), pgcluster.Options{})
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	if keep {
		defer fmt.Fprintf(out, "cluster files kept in %s (port %d)\n", cl.Dir, cl.Port)
	} else {
		defer cl.Remove()
	}
	bg := context.Background()
	for _, db := range []string{"shop", "warehouse"} {
		if err := cl.CreateDB(bg, db); err != nil {
			return err
		}
	}
	if err := cl.Exec(bg, "shop", demoSchema); err != nil {
		return fmt.Errorf("demo schema: %w", err)
	}
	stateDir := filepath.Join(cl.Dir, "ripple-state")
	viewDir := filepath.Join(cl.Dir, "views")
	if err := os.MkdirAll(viewDir, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(viewDir, "sales.sql"), []byte(demoViews), 0o644); err != nil {
		return err
	}
	cfgText := fmt.Sprintf(`source:
  dsn: %s
sinks:
  - name: warehouse
    type: postgres
    dsn: %s
views:
  - files: ["views/*.sql"]
state_dir: %s
`, cl.DSN("shop"), cl.DSN("warehouse"), stateDir)
	cfgPath := filepath.Join(cl.Dir, "ripple.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfgText), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(out, "source  %s\nsink    %s\nconfig  %s (equivalent to: ripple run --config %s)\n\n%s\n",
		cl.DSN("shop"), cl.DSN("warehouse"), cfgPath, cfgPath, demoViews)
	cfg, err := loadConfig(cfgPath, nil)
	if err != nil {
		return err
	}

	stats := &demoStats{}
	ready := make(chan struct{})
	var once sync.Once
	onStep := func(s pipeline.StepInfo) {
		if s.Initial {
			once.Do(func() { close(ready) })
			return
		}
		stats.txns.Add(1)
		stats.changes.Add(int64(s.Changes))
		stats.lastCommit.Store(s.CommitTime.UnixNano())
		stats.lastApplied.Store(time.Now().UnixNano())
	}
	pipeCtx, stopPipe := context.WithCancel(bg)
	defer stopPipe()
	pipeErr := make(chan error, 1)
	go func() { pipeErr <- runPipeline(pipeCtx, cfg, runOptions{onStep: onStep}) }()
	select {
	case <-ready:
	case err := <-pipeErr:
		return fmt.Errorf("demo: pipeline: %w", err)
	case <-ctx.Done():
		return nil
	}

	src, err := oracle.Connect(bg, cl.DSN("shop"))
	if err != nil {
		return err
	}
	defer src.Close(bg)
	snk, err := oracle.Connect(bg, cl.DSN("warehouse"))
	if err != nil {
		return err
	}
	defer snk.Close(bg)

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return demoWorkload(gctx, cl.DSN("shop"), rate, stats) })
	g.Go(func() error { return demoDisplay(gctx, out, src, snk, stats) })
	g.Go(func() error {
		select {
		case err := <-pipeErr:
			if err == nil {
				err = errors.New("pipeline stopped")
			}
			return fmt.Errorf("demo: pipeline: %w", err)
		case <-gctx.Done():
			return nil
		}
	})
	if err := g.Wait(); err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}

	fmt.Fprintln(out, "\nworkload stopped; waiting for ripple to catch up and verifying every view ...")
	if err := oracle.WaitCaughtUp(bg, src, cfg.Source.Slot, 30*time.Second); err != nil {
		return err
	}
	defs, _, err := cfg.loadViews()
	if err != nil {
		return err
	}
	plan, err := planForDemo(defs, src)
	if err != nil {
		return err
	}
	ok := true
	for _, v := range plan {
		d, err := oracle.Compare(bg, src, snk, v)
		if err != nil {
			return err
		}
		fmt.Fprintln(out, "  "+d.String())
		ok = ok && d.Equal()
	}
	stopPipe()
	if perr := <-pipeErr; perr != nil {
		return fmt.Errorf("demo: pipeline: %w", perr)
	}
	fmt.Fprintf(out, "%d source transactions applied (%d row changes); %d workload transactions committed, %d rolled back\n",
		stats.txns.Load(), stats.changes.Load(), stats.workloadTxns.Load(), stats.workloadAborts.Load())
	if !ok {
		return errors.New("demo: a sink table differs from its view")
	}
	return nil
}

// planForDemo returns the oracle's description of the demo views, reading
// the column names from the sink's catalog of the source query.
func planForDemo(defs []planner.ViewDef, src *pgx.Conn) ([]oracle.View, error) {
	var out []oracle.View
	for _, d := range defs {
		rows, err := src.Query(context.Background(), "SELECT * FROM ("+d.Query+") q LIMIT 0")
		if err != nil {
			return nil, err
		}
		var cols row.Schema
		for _, f := range rows.FieldDescriptions() {
			cols = append(cols, row.Column{Name: f.Name, Type: row.Type{OID: row.OID(f.DataTypeOID), Mod: f.TypeModifier}})
		}
		rows.Close()
		out = append(out, oracle.View{Name: d.Name, Query: d.Query, Columns: cols})
	}
	return out, nil
}

// demoWorkload runs random order-shop transactions at about rate per second.
func demoWorkload(ctx context.Context, dsn string, rate int, stats *demoStats) error {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	if rate <= 0 {
		rate = 1
	}
	tick := time.NewTicker(time.Second / time.Duration(rate))
	defer tick.Stop()
	rng := rand.New(rand.NewSource(time.Now().UnixNano()))
	statuses := []string{"new", "paid", "shipped", "cancelled"}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		tx, err := conn.Begin(ctx)
		if err != nil {
			return ignoreCancel(ctx, err)
		}
		n := 1 + rng.Intn(3)
		for i := 0; i < n && err == nil; i++ {
			switch p := rng.Intn(10); {
			case p < 5:
				_, err = tx.Exec(ctx, "INSERT INTO orders (customer_id, product_id, qty, status) VALUES ($1, $2, $3, 'new')",
					1+rng.Intn(50), 1+rng.Intn(20), 1+rng.Intn(10))
			case p < 8:
				_, err = tx.Exec(ctx, "UPDATE orders SET status = $1 WHERE id = (SELECT id FROM orders ORDER BY random() LIMIT 1)",
					statuses[rng.Intn(len(statuses))])
			case p < 9:
				_, err = tx.Exec(ctx, "DELETE FROM orders WHERE id = (SELECT id FROM orders ORDER BY random() LIMIT 1)")
			default:
				_, err = tx.Exec(ctx, "UPDATE products SET price = price + 0.25 WHERE id = $1", 1+rng.Intn(20))
			}
		}
		if err != nil {
			_ = tx.Rollback(context.Background())
			return ignoreCancel(ctx, err)
		}
		if rng.Intn(20) == 0 {
			_ = tx.Rollback(ctx)
			stats.workloadAborts.Add(1)
			continue
		}
		if err := tx.Commit(ctx); err != nil {
			return ignoreCancel(ctx, err)
		}
		stats.workloadTxns.Add(1)
	}
}

func ignoreCancel(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// demoDisplay prints the sink's views and the lag once a second.
func demoDisplay(ctx context.Context, out io.Writer, src, snk *pgx.Conn, stats *demoStats) error {
	tty := false
	if f, ok := out.(*os.File); ok {
		tty = isTerminal(f)
	}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		var lagBytes int64
		err := src.QueryRow(ctx, "SELECT coalesce(pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn), 0)::bigint FROM pg_replication_slots WHERE slot_name = 'ripple'").Scan(&lagBytes)
		if err != nil {
			return ignoreCancel(ctx, err)
		}
		lag := "-"
		if c := stats.lastCommit.Load(); c != 0 {
			lag = time.Duration(stats.lastApplied.Load() - c).Round(100 * time.Microsecond).String()
		}
		var b strings.Builder
		if tty {
			b.WriteString("\033[H\033[2J")
		}
		fmt.Fprintf(&b, "%s  applied %d txns (%d row changes)  commit→sink lag %s  slot lag %d bytes\n",
			time.Now().Format("15:04:05"), stats.txns.Load(), stats.changes.Load(), lag, lagBytes)
		for _, q := range []struct{ title, sql string }{
			{"sales.revenue_by_country", "SELECT country, orders, revenue FROM sales.revenue_by_country ORDER BY revenue DESC NULLS LAST"},
			{"sales.order_status", "SELECT status, count FROM sales.order_status ORDER BY status"},
		} {
			if err := printQuery(ctx, &b, snk, q.title, q.sql); err != nil {
				return ignoreCancel(ctx, err)
			}
		}
		if !tty {
			b.WriteString("\n")
		}
		fmt.Fprint(out, b.String())
	}
}

func printQuery(ctx context.Context, w io.Writer, conn *pgx.Conn, title, sql string) error {
	rows, err := conn.Query(ctx, sql, pgx.QueryResultFormats{pgx.TextFormatCode})
	if err != nil {
		return err
	}
	defer rows.Close()
	fmt.Fprintf(w, "  %s\n", title)
	for rows.Next() {
		raw := rows.RawValues()
		cells := make([]string, len(raw))
		for i, v := range raw {
			if v == nil {
				cells[i] = "NULL"
			} else {
				cells[i] = string(v)
			}
		}
		fmt.Fprintf(w, "    %s\n", strings.Join(cells, " | "))
	}
	return rows.Err()
}
