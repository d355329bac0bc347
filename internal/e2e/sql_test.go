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

// sqlViewSQL covers the SQL of the first slice of the coverage issue over
// the oracle schema: LEFT/RIGHT/FULL/CROSS joins (ON predicates beyond the
// key, NULL keys, USING and NATURAL, multi-way mixes, aggregates over outer
// joins), INTERSECT/EXCEPT [ALL] and UNION (nested, with type
// unification), count/sum/avg(DISTINCT), FILTER, bool_and/bool_or/every,
// string_agg with ORDER BY, stddev/variance, and HAVING over them.
const sqlViewSQL = `
CREATE VIEW public.s_left AS
  SELECT o.id, o.qty, c.name, c.country FROM orders o LEFT JOIN customers c ON c.id = o.cust;
CREATE VIEW public.s_left_pred AS
  SELECT o.id, c.name, c.vip FROM orders o LEFT JOIN customers c ON c.id = o.cust AND c.vip AND o.qty > 3;
CREATE VIEW public.s_right AS
  SELECT c.id, c.name, o.id AS oid FROM orders o RIGHT JOIN customers c ON o.cust = c.id AND o.note IS NOT NULL;
CREATE VIEW public.s_full AS
  SELECT s.prod, s.stock, p.id, p.cat FROM stock s FULL OUTER JOIN products p ON p.id = s.prod AND p.cat <> 'x';
CREATE VIEW public.s_full_using AS
  SELECT prod, qty, stock FROM orders FULL JOIN stock USING (prod);
CREATE VIEW public.s_natural_full AS
  SELECT * FROM customers NATURAL FULL JOIN products;
CREATE VIEW public.s_multi AS
  SELECT o.id, c.country, p.cat, s.stock FROM orders o
  LEFT JOIN customers c ON c.id = o.cust
  LEFT JOIN products p ON p.id = o.prod AND p.cost > o.qty
  FULL JOIN stock s ON s.prod = p.id
  WHERE o.id IS NULL OR o.id % 3 <> 0;
CREATE VIEW public.s_cross AS
  SELECT c.id, s.prod FROM customers c CROSS JOIN stock s WHERE s.stock < 3;
CREATE VIEW public.s_left_null_key AS
  SELECT e.kind, e.n, s.stock FROM events e LEFT JOIN stock s ON s.prod = e.n;
CREATE VIEW public.s_left_agg AS
  SELECT c.country, count(o.id) AS n, sum(o.qty) AS q, count(*) AS rows
  FROM customers c LEFT JOIN orders o ON o.cust = c.id GROUP BY c.country;
CREATE VIEW public.s_full_where AS
  SELECT o.id, s.prod FROM orders o FULL JOIN stock s ON s.prod = o.prod WHERE o.id IS NULL OR s.prod IS NULL;
CREATE VIEW public.s_intersect AS
  SELECT cust FROM orders INTERSECT SELECT id FROM customers WHERE vip;
CREATE VIEW public.s_intersect_all AS
  SELECT n FROM events INTERSECT ALL SELECT qty FROM orders;
CREATE VIEW public.s_except AS
  SELECT prod FROM orders EXCEPT SELECT prod FROM stock WHERE stock > 2;
CREATE VIEW public.s_except_all AS
  SELECT kind, n FROM events EXCEPT ALL SELECT note, qty FROM orders;
CREATE VIEW public.s_union AS
  SELECT cust, prod FROM orders UNION SELECT id, NULL FROM customers;
CREATE VIEW public.s_setops_nested AS
  (SELECT cust FROM orders EXCEPT ALL SELECT id FROM customers)
  UNION ALL (SELECT prod FROM stock INTERSECT SELECT prod FROM orders WHERE flag)
  EXCEPT SELECT stock::bigint FROM stock;
CREATE VIEW public.s_setop_types AS
  SELECT price FROM orders INTERSECT SELECT cost::numeric(10,2) FROM products
  UNION SELECT qty::numeric(10,2) FROM orders EXCEPT ALL SELECT stock::bigint FROM stock;
CREATE VIEW public.s_count_distinct AS
  SELECT cust, count(DISTINCT prod) AS prods, count(DISTINCT note) AS notes, sum(DISTINCT qty) AS sq,
         avg(DISTINCT qty) AS aq, count(DISTINCT price) AS prices
  FROM orders GROUP BY cust;
CREATE VIEW public.s_filter AS
  SELECT prod, count(*) FILTER (WHERE flag) AS flagged, sum(price) FILTER (WHERE qty > 5) AS big,
         count(DISTINCT cust) FILTER (WHERE note IS NOT NULL) AS c, max(note) FILTER (WHERE NOT flag) AS mx
  FROM orders GROUP BY prod;
CREATE VIEW public.s_bool AS
  SELECT cust, bool_and(flag), bool_or(flag), every(qty > 2) AS ev FROM orders GROUP BY cust;
CREATE VIEW public.s_string_agg AS
  SELECT cust, string_agg(note, ',' ORDER BY note) AS notes,
         string_agg(note, '|' ORDER BY qty DESC NULLS LAST, note) AS by_qty,
         string_agg(note, '' ORDER BY note DESC) FILTER (WHERE flag) AS flagged
  FROM orders GROUP BY cust;
CREATE VIEW public.s_stddev AS
  SELECT prod, stddev(qty), stddev_pop(price), variance(qty) AS var, var_pop(price), var_samp(price),
         stddev_samp(f::numeric) AS sf
  FROM orders WHERE f IS NULL OR abs(f) < 1e9 GROUP BY prod;
CREATE VIEW public.s_global AS
  SELECT count(DISTINCT cust) AS custs, stddev(qty) AS s, bool_or(flag) AS anyf, bool_and(flag) AS allf,
         string_agg(note, ';' ORDER BY note) AS all_notes, count(*) FILTER (WHERE qty IS NULL) AS noqty
  FROM orders WHERE prod = 3;
CREATE VIEW public.s_having AS
  SELECT cust, count(*) AS n FROM orders GROUP BY cust HAVING bool_or(flag) AND count(DISTINCT prod) > 1;
CREATE VIEW public.s_events AS
  SELECT kind, count(DISTINCT n) AS dn, stddev_samp(n) AS sd, var_pop(n) AS vp,
         string_agg(kind, '' ORDER BY kind) AS kinds
  FROM events GROUP BY kind;
CREATE VIEW public.s_left_filter_agg AS
  SELECT c.id, count(o.id) FILTER (WHERE o.flag) AS f, string_agg(o.note, ',' ORDER BY o.note) AS notes,
         bool_and(o.qty > 1) AS big
  FROM customers c LEFT JOIN orders o ON o.cust = c.id GROUP BY c.id;
`

// TestSQL is the oracle test for sqlViewSQL: the oracle schema and random
// workload of TestOracle, one PostgreSQL sink (on its own cluster), every
// view compared with its
// SELECT on the source after every quiet point.
func TestSQL(t *testing.T) {
	txns := 1200
	if testing.Short() {
		txns = 200
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
	for i := 0; i < 60; i++ { // initial contents, taken by the snapshot
		w.txn(t)
	}

	defs, err := planner.ParseViews("sql_views.sql", sqlViewSQL)
	if err != nil {
		t.Fatal(err)
	}
	if len(defs) < 20 {
		t.Fatalf("only %d views", len(defs))
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

	views := oracleViews(t, srcConn, sqlViewSQL)
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
				time.Sleep(5 * time.Second)
				t.Logf("DEBUG recheck after 5s: %v", checkAll(t, srcConn, "ripple", sinks, views, "DEBUG recheck"))
				t.Fatalf("seed %d: sink differs from views after %d transactions", sd, i)
			}
		}
	}
	t.Logf("%d views equal after %d transactions (%d committed, %d rolled back, %d truncates)",
		len(views), txns, w.commits, w.rollbacks, w.truncates)
}
