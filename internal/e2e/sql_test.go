package e2e

import (
	"testing"
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
	sqlOracle{file: "sql_views.sql", views: sqlViewSQL, txns: 1200, shortTxns: 200, minViews: 20}.run(t)
}
