package e2e

import (
	"testing"
)

// sqlMoreViewSQL covers SQL coverage part A over the oracle schema:
// DISTINCT ON (top-1 per group with unique tie-breaks, hidden ORDER BY
// expressions, over joins, groups and with an outer LIMIT), and GROUPING
// SETS / ROLLUP / CUBE with GROUPING() (NULL-heavy keys, the empty set's
// one row over an empty table, duplicate sets, HAVING, joins).
const sqlMoreViewSQL = `
CREATE VIEW public.m_don_cust AS
  SELECT DISTINCT ON (cust) cust, id, qty FROM orders ORDER BY cust, qty DESC NULLS LAST, id;
CREATE VIEW public.m_don_hidden AS
  SELECT DISTINCT ON (prod) prod, note FROM orders ORDER BY prod NULLS FIRST, price DESC, id DESC;
CREATE VIEW public.m_don_expr AS
  SELECT DISTINCT ON (qty % 3) qty % 3 AS bucket, id, d FROM orders ORDER BY qty % 3, d NULLS FIRST, id;
CREATE VIEW public.m_don_join AS
  SELECT DISTINCT ON (c.country) c.country, o.id, c.name FROM orders o JOIN customers c ON c.id = o.cust
  ORDER BY c.country, o.qty DESC, o.id, c.id;
CREATE VIEW public.m_don_alltie AS
  SELECT DISTINCT ON (kind) kind, n FROM events ORDER BY kind, n DESC;
CREATE VIEW public.m_don_group AS
  SELECT DISTINCT ON (n) count(*) AS n, cust FROM orders GROUP BY cust ORDER BY n, cust DESC NULLS FIRST;
CREATE VIEW public.m_don_limit AS
  SELECT DISTINCT ON (flag) flag, id FROM orders ORDER BY flag, id DESC LIMIT 2;
CREATE VIEW public.m_rollup AS
  SELECT cust, prod, sum(qty) AS total, count(*) AS n, GROUPING(cust, prod) AS g
  FROM orders GROUP BY ROLLUP (cust, prod);
CREATE VIEW public.m_cube AS
  SELECT flag, qty % 2 AS odd, count(note) AS notes, max(price) AS mp, GROUPING(flag) AS gf
  FROM orders GROUP BY CUBE (flag, qty % 2);
CREATE VIEW public.m_sets AS
  SELECT kind, n, count(*) AS c, sum(n) AS s FROM events GROUP BY GROUPING SETS ((kind), (n), (), ());
CREATE VIEW public.m_sets_empty AS
  SELECT count(*) AS c, min(qty) AS mq FROM orders WHERE qty > 1000 GROUP BY ROLLUP (cust);
CREATE VIEW public.m_sets_join AS
  SELECT c.country, o.flag, count(*) AS n FROM orders o JOIN customers c ON c.id = o.cust
  GROUP BY c.country, ROLLUP (o.flag) HAVING count(*) > 1 OR GROUPING(o.flag) = 1;
CREATE VIEW public.m_sets_nested AS
  SELECT cust, flag, d, count(*) AS n FROM orders
  GROUP BY GROUPING SETS (ROLLUP (cust, flag), CUBE (d), (cust, d));
`

// TestSQLMore is the oracle test for sqlMoreViewSQL, run like TestSQL.
func TestSQLMore(t *testing.T) {
	sqlOracle{file: "more_views.sql", views: sqlMoreViewSQL, txns: 600, shortTxns: 150, minViews: 13}.run(t)
}
