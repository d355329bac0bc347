package e2e

import (
	"testing"
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
	sqlOracle{file: "order_views.sql", views: sqlOrderViewSQL, txns: 600, shortTxns: 150, minViews: 12}.run(t)
}
