package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rippledb/ripple/internal/oracle"
	"github.com/rippledb/ripple/internal/pgcluster"
	"github.com/rippledb/ripple/internal/pgtest"
)

// TestOperatorStateOnDisk runs a join view, an EXISTS view, an aggregate
// with thousands of groups whose state holds its input values (min, max),
// one whose groups are written out whole (count, sum, avg, bool_and,
// stddev_pop, FILTER), a DISTINCT over a join, a FULL JOIN (orders
// of customers that do not exist, customers without orders), an EXCEPT,
// an INTERSECT ALL, a LEFT JOIN whose ON condition reads both sides, a
// WITH RECURSIVE over customers, a top-k (ORDER BY ... LIMIT ... OFFSET), a keyed
// top-1 (DISTINCT ON) and window functions by customer twice on the
// same data: once with the operator state in memory (the default
// operator_memory) and once from a fresh snapshot with operator_memory 1MB,
// table_memory 0 and a 100-group aggregate cache, so that the arrangements
// move to the spill store, the aggregates evict groups and read them back
// (or rebuild them from their rows there), and the table copies go to the state store on disk. Both
// are checked by the oracle after the initial load and after a workload
// that changes join keys, deletes and inserts on both sides; the second run
// is also killed and resumed. It reports ripple's peak RSS in both forms
// (RIPPLE_SPILL_ROWS sets the number of orders, 100,000 by default).
func TestOperatorStateOnDisk(t *testing.T) {
	orders := 100000
	if testing.Short() {
		orders = 20000
	}
	if v := os.Getenv("RIPPLE_SPILL_ROWS"); v != "" {
		var err error
		if orders, err = strconv.Atoi(v); err != nil {
			t.Fatalf("RIPPLE_SPILL_ROWS=%q: %v", v, err)
		}
	}
	customers := orders / 5
	src := pgtest.Source(t)
	snk := pgtest.Start(t, pgcluster.Options{})
	pgtest.CreateDB(t, snk, "warehouse")
	pgtest.Exec(t, src, "app", fmt.Sprintf(`
CREATE TABLE customers (id int PRIMARY KEY, name text, region int);
CREATE TABLE orders (id int PRIMARY KEY, cust int, amt int, pad text);
INSERT INTO customers SELECT g, 'c' || g, g %% 7 FROM generate_series(1, %d) g;
INSERT INTO orders SELECT g, (g * 31) %% %d + 1, g %% 100, md5(g::text) FROM generate_series(1, %d) g;`,
		customers, customers+100, orders)) // some orders reference no customer
	views := `
CREATE VIEW public.order_lines AS
  SELECT o.id, o.amt, o.pad, c.name, c.region FROM orders o JOIN customers c ON c.id = o.cust;
CREATE VIEW public.big_buyers AS
  SELECT c.id, c.name FROM customers c WHERE EXISTS (SELECT 1 FROM orders o WHERE o.cust = c.id AND o.amt > 90);
CREATE VIEW public.cust_totals AS
  SELECT cust, count(*) AS n, sum(amt) AS total, max(pad) AS top_pad, min(amt) AS low FROM orders GROUP BY cust;
CREATE VIEW public.region_amts AS
  SELECT DISTINCT c.region, o.amt FROM orders o JOIN customers c ON c.id = o.cust;
CREATE VIEW public.cust_sums AS
  SELECT cust, count(*) AS n, sum(amt) AS total, avg(amt) AS mean, sum(amt * 1.5) AS scaled,
         bool_and(amt < 99) AS low, stddev_pop(amt) AS sd, count(*) FILTER (WHERE amt > 50) AS big
  FROM orders GROUP BY cust;
CREATE VIEW public.cust_orders_full AS
  SELECT c.id AS cid, c.region, o.id AS oid, o.amt FROM customers c FULL JOIN orders o ON o.cust = c.id;
CREATE VIEW public.idle_customers AS
  SELECT id FROM customers EXCEPT SELECT cust FROM orders;
CREATE VIEW public.amt_regions AS
  SELECT amt FROM orders WHERE amt < 20 INTERSECT ALL SELECT region * 3 FROM customers;
CREATE VIEW public.cust_big_orders AS
  SELECT c.id AS cid, o.id AS oid, o.amt FROM customers c LEFT JOIN orders o ON o.cust = c.id AND o.amt > c.region * 12
  WHERE c.id % 4 = 0;
CREATE VIEW public.cust_chains AS
  WITH RECURSIVE chain (root, id, depth) AS (
    SELECT id, id, 0 FROM customers WHERE id % 1000 = 1
    UNION ALL
    SELECT ch.root, c.id, ch.depth + 1 FROM chain ch JOIN customers c ON c.id = ch.id + 1000 WHERE ch.depth < 8
  )
  SELECT root, id, depth FROM chain;
CREATE VIEW public.top_orders AS
  SELECT id, cust, amt FROM orders ORDER BY amt DESC, id LIMIT 25 OFFSET 5;
CREATE VIEW public.last_orders AS
  SELECT DISTINCT ON (cust) cust, id, amt FROM orders ORDER BY cust, id DESC;
CREATE VIEW public.ranked AS
  SELECT id, cust, amt, row_number() OVER (PARTITION BY cust ORDER BY amt DESC, id) AS rn,
         sum(amt) OVER (PARTITION BY cust) AS cust_total FROM orders WHERE amt >= 80;
`
	cfg := writeConfig(t, src.DSN("app"), map[string]string{"main": snk.DSN("warehouse")}, views)
	srcConn := connect(t, src, "app")
	oviews := oracleViews(t, srcConn, views)
	sinks := map[string]*pgx.Conn{"main": connect(t, snk, "warehouse")}
	round := 0
	workload := func() {
		t.Helper()
		for i := 0; i < 10; i++ {
			round++
			r := round
			pgtest.Exec(t, src, "app", fmt.Sprintf(`BEGIN;
UPDATE orders SET cust = (cust * 7 + %[1]d) %% %[2]d + 1 WHERE id %% 53 = %[1]d %% 53;
UPDATE orders SET amt = (amt + %[1]d) %% 100 WHERE id %% 41 = %[1]d %% 41;
DELETE FROM orders WHERE id %% 997 = %[1]d;
INSERT INTO orders SELECT %[3]d + g, g %% %[2]d + 1, g %% 100, 'new' FROM generate_series(%[1]d * 1000, %[1]d * 1000 + 499) g;
UPDATE customers SET name = name || '+' WHERE id %% 29 = %[1]d %% 29;
DELETE FROM customers WHERE id %% 499 = %[1]d;
COMMIT;`, r, customers+100, orders*10))
		}
	}

	run := func(env []string, label string) int64 {
		t.Helper()
		p := startRippleEnv(t, env, "run", "--config", cfg, "--http", "")
		// checkAll waits a minute for the slot; the long form's initial
		// load (RIPPLE_SPILL_ROWS=1000000) takes longer with state on disk.
		if err := oracle.WaitCaughtUp(context.Background(), srcConn, "ripple", time.Minute+time.Duration(orders/2000)*time.Second); err != nil {
			t.Fatalf("%s: initial load: %v\n%s", label, err, p.stderr)
		}
		if !checkAll(t, srcConn, "ripple", sinks, oviews, label+": after the initial load") {
			t.Fatalf("%s: sinks differ after the initial load", label)
		}
		start := time.Now()
		workload()
		// With the state on disk the workload takes longer than checkAll's
		// minute on a shared 2-core machine.
		if err := oracle.WaitCaughtUp(context.Background(), srcConn, "ripple", 5*time.Minute); err != nil {
			t.Fatalf("%s: workload: %v\n%s", label, err, p.stderr)
		}
		t.Logf("%s: the workload (10 transactions) applied in %s", label, time.Since(start).Round(time.Millisecond))
		if !checkAll(t, srcConn, "ripple", sinks, oviews, label+": after the workload") {
			t.Fatalf("%s: sinks differ after the workload", label)
		}
		hwm := procStatusKB(t, p, "VmHWM:")
		spilled := strings.Contains(p.stderr.String(), "operator state moved to disk")
		if want := env != nil; spilled != want {
			t.Fatalf("%s: operator state moved to disk: %v, want %v\n%s", label, spilled, want, p.stderr)
		}
		if env == nil {
			stopRipple(t, p)
			return hwm
		}
		// Killed with the arrangements on disk: the next start resumes from
		// the checkpoint into a new, empty spill store.
		p.cmd.Process.Kill()
		<-p.done
		workload()
		p = startRippleEnv(t, env, "run", "--config", cfg, "--http", "")
		if err := oracle.WaitCaughtUp(context.Background(), srcConn, "ripple", 5*time.Minute); err != nil {
			t.Fatalf("%s: resume: %v\n%s", label, err, p.stderr)
		}
		if !checkAll(t, srcConn, "ripple", sinks, oviews, label+": after SIGKILL and resume") {
			t.Fatalf("%s: sinks differ after the resume", label)
		}
		if !strings.Contains(p.stderr.String(), "resumed from checkpoint") {
			t.Errorf("%s: the restart did not resume from the state:\n%s", label, p.stderr)
		}
		stopRipple(t, p)
		return hwm
	}
	inMemory := run(nil, "in memory")
	// A fresh snapshot with the arrangements on disk: the state goes.
	if err := os.RemoveAll(filepath.Join(filepath.Dir(cfg), "state")); err != nil {
		t.Fatal(err)
	}
	onDisk := run([]string{"RIPPLE_OPERATOR_MEMORY=1MB", "RIPPLE_TABLE_MEMORY=0", "RIPPLE_TEST_REDUCE_CACHE_GROUPS=100"}, "on disk")
	t.Logf("views over %d orders and %d customers: ripple peak RSS %d MB with the operator state in memory, %d MB with operator_memory 1MB and table_memory 0 (arrangements and table copies on disk)",
		orders, customers, inMemory/1024, onDisk/1024)
}
