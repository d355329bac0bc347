package e2e

import (
	"testing"
)

// correlatedViewSQL covers the correlated aggregates and the
// set-returning functions in FROM over the oracle schema: scalar
// subqueries with aggregates (and expressions over them, FILTER) in the
// select list and WHERE, correlated over nullable columns of a keyless
// table with duplicates (outer rows without inner rows get the aggregates
// over no rows; NULL correlation values match nothing); LATERAL
// subqueries with aggregates (one row per outer row, also LEFT JOIN ... ON
// true) and with GROUP BY (zero or more); generate_series over integers
// (negative steps, ORDINALITY), dates and timestamps (month steps, hopping
// windows), unnest of array columns with NULL elements, NULL and empty
// arrays.
const correlatedViewSQL = `
CREATE VIEW public.c_scalar AS
  SELECT c.id, (SELECT count(*) FROM orders o WHERE o.cust = c.id) AS n,
         (SELECT sum(o.qty) FROM orders o WHERE o.cust = c.id) AS q,
         (SELECT avg(o.price) FROM orders o WHERE o.cust = c.id AND o.flag) AS ap,
         (SELECT bool_and(o.flag) FROM orders o WHERE o.cust = c.id) AS allf,
         (SELECT coalesce(max(o.qty), 0) + count(*) FILTER (WHERE o.note IS NULL) FROM orders o WHERE o.cust = c.id) AS mixed
  FROM customers c;
CREATE VIEW public.c_scalar_events AS
  SELECT e.kind, e.n, (SELECT count(*) FROM orders o WHERE o.qty = e.n AND o.prod = length(e.kind)) AS c,
         (SELECT string_agg(o.note, ',' ORDER BY o.note) FROM orders o WHERE o.qty = e.n) AS notes,
         (SELECT min(s.stock) FROM stock s WHERE s.prod = e.n) AS ms
  FROM events e;
CREATE VIEW public.c_scalar_where AS
  SELECT c.id, c.name FROM customers c
  WHERE 3 < (SELECT sum(qty) FROM orders o WHERE o.cust = c.id);
CREATE VIEW public.c_scalar_where_count AS
  SELECT e.kind, count(*) AS n FROM events e
  WHERE (SELECT count(*) FROM orders o WHERE o.qty = e.n) < 2 GROUP BY e.kind;
CREATE VIEW public.c_lat_agg AS
  SELECT c.id, x.n, x.m FROM customers c,
    LATERAL (SELECT count(*) AS n, max(o.qty) AS m FROM orders o WHERE o.cust = c.id) x;
CREATE VIEW public.c_lat_agg_left AS
  SELECT e.kind, x.* FROM events e LEFT JOIN LATERAL (
    SELECT count(*) FILTER (WHERE flag) AS nf, sum(price) AS sp, array_agg(id ORDER BY id) AS ids FROM orders WHERE qty = e.n) x ON true;
CREATE VIEW public.c_lat_agg_where AS
  SELECT c.country, count(*) AS k, sum(x.q) AS total FROM customers c
    CROSS JOIN LATERAL (SELECT sum(o.qty) AS q, count(o.note) AS notes FROM orders o WHERE o.cust = c.id AND o.prod = c.id % 5) x
  WHERE x.notes < 2 GROUP BY c.country;
CREATE VIEW public.c_lat_grouped AS
  SELECT c.id, x.prod, x.q, x.n FROM customers c, LATERAL (
    SELECT o.prod, sum(o.qty) AS q, count(*) AS n FROM orders o WHERE o.cust = c.id GROUP BY o.prod HAVING count(*) > 1) x;
CREATE VIEW public.c_lat_grouped_left AS
  SELECT e.kind, e.n, x.flag, x.c FROM events e LEFT JOIN LATERAL (
    SELECT o.flag, count(*) AS c FROM orders o WHERE o.qty = e.n GROUP BY o.flag) x ON true;
CREATE VIEW public.c_hop_minutes AS
  SELECT w, count(*) AS n, sum(o.qty) AS q FROM orders o,
    generate_series(date_trunc('minute', o.ts) - interval '4 minutes', date_trunc('minute', o.ts), interval '1 minute') AS w
  GROUP BY w;
CREATE VIEW public.c_hop_days AS
  SELECT w.start, count(*) AS n, count(DISTINCT o.cust) AS custs FROM orders o,
    generate_series(date_trunc('day', o.ts) - interval '2 days', date_trunc('day', o.ts), '1 day') AS w (start)
  WHERE o.flag IS NOT FALSE GROUP BY w.start;
CREATE VIEW public.c_series_int AS
  SELECT o.id, g.x, g.i FROM orders o CROSS JOIN generate_series(o.prod, o.qty, 2) WITH ORDINALITY AS g(x, i) WHERE g.x <> 3;
CREATE VIEW public.c_series_neg AS
  SELECT e.kind, s FROM events e, generate_series(e.n, 0, -1) s;
CREATE VIEW public.c_series_month AS
  SELECT o.id, m FROM orders o LEFT JOIN LATERAL generate_series(o.d, o.d + interval '2 months', '1 mon') m ON true
  WHERE o.qty < 5;
CREATE VIEW public.c_series_back AS
  SELECT o.id, b, n FROM orders o,
    generate_series(o.ts, o.ts - interval '2 days', interval '-17 hours') WITH ORDINALITY AS s (b, n);
CREATE VIEW public.c_series_join AS
  SELECT c.id, g, o.id AS oid FROM customers c, generate_series(1, c.id % 4) g, orders o WHERE o.cust = c.id AND o.prod = g;
CREATE VIEW public.c_series_lat AS
  SELECT c.id, g, x.n FROM customers c, generate_series(0, 2) g,
    LATERAL (SELECT count(*) AS n FROM orders o WHERE o.cust = c.id AND o.prod = g) x;
CREATE VIEW public.c_scalar_cast AS
  SELECT e.kind, e.n, (SELECT count(*) FROM orders o WHERE o.price = e.n AND o.note = e.kind || '') AS c,
         (SELECT max(o.id) FROM orders o WHERE o.cust::bigint = e.n + 1 AND o.flag) AS mx
  FROM events e WHERE e.kind IS DISTINCT FROM 'view';
CREATE VIEW public.c_lat_after_outer AS
  SELECT c.id, s.stock, x.n, x.s FROM customers c LEFT JOIN stock s ON s.prod = c.id,
    LATERAL (SELECT count(*) AS n, sum(o.qty) AS s FROM orders o WHERE o.prod = s.prod) x;
CREATE VIEW public.c_series_after_outer AS
  SELECT o.id, p.cat, g FROM orders o LEFT JOIN products p ON p.id = o.prod
    CROSS JOIN generate_series(1, coalesce(p.id, 0) % 3) g;
CREATE VIEW public.c_unnest AS
  SELECT t.id, u.v, u.ord FROM tagged t, unnest(t.nums) WITH ORDINALITY AS u(v, ord);
CREATE VIEW public.c_unnest_tags AS
  SELECT tag, count(*) AS n FROM tagged t LEFT JOIN LATERAL unnest(t.tags) tag ON true GROUP BY tag;
`

// TestSQLCorrelated is the oracle test for correlatedViewSQL, run like
// TestSQL.
func TestSQLCorrelated(t *testing.T) {
	sqlOracle{file: "correlated_views.sql", views: correlatedViewSQL, txns: 800, shortTxns: 150, minViews: 22, schema: taggedSchema}.run(t)
}
