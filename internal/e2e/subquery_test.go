package e2e

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/rippledb/ripple/internal/oracle"
	"github.com/rippledb/ripple/planner"
)

// subqueryViewSQL covers subqueries over the oracle schema: subqueries in
// FROM (under inner and outer joins), WITH queries referenced once and
// several times (self-joins of a keyless table with duplicates), [NOT]
// EXISTS and [NOT] IN / = ANY / <> ALL as WHERE conditions, uncorrelated
// and correlated (NOT IN, also correlated, over nullable columns), scalar aggregate
// subqueries, and views reading other views of the set (declared before
// or after them).
const subqueryViewSQL = `
CREATE VIEW public.q_from AS
  SELECT s.cust, s.n FROM (SELECT cust, count(*) AS n FROM orders GROUP BY cust) s WHERE s.n > 1;
CREATE VIEW public.q_from_join AS
  SELECT c.name, t.q FROM customers c JOIN (SELECT cust, sum(qty) AS q FROM orders WHERE flag GROUP BY cust) AS t ON t.cust = c.id;
CREATE VIEW public.q_from_left AS
  SELECT c.id, t.kind, t.m FROM customers c LEFT JOIN (SELECT kind, max(n) AS m FROM events GROUP BY kind) t ON t.m = c.id;
CREATE VIEW public.q_from_cols AS
  SELECT a, b, c FROM (SELECT kind, n, 'lit' FROM events WHERE n IS NULL OR n % 2 = 0) AS e (a, b, c);
CREATE VIEW public.q_cte_twice AS
  WITH e AS (SELECT kind, n FROM events WHERE n IS NULL OR n < 6)
  SELECT e1.kind, e2.n FROM e e1 JOIN e e2 ON e1.kind = e2.kind;
CREATE VIEW public.q_cte_chain AS
  WITH a AS (SELECT prod, qty FROM orders), b (prod, s) AS (SELECT prod, sum(qty) FROM a GROUP BY prod)
  SELECT prod, b.s, st.stock FROM b FULL JOIN stock st USING (prod);
CREATE VIEW public.q_cte_setop AS
  WITH k AS (SELECT kind FROM events)
  SELECT kind FROM k UNION ALL SELECT note FROM orders EXCEPT ALL SELECT kind FROM k WHERE kind > 'm';
CREATE VIEW public.q_in AS
  SELECT id, cust FROM orders WHERE cust IN (SELECT id FROM customers WHERE vip);
CREATE VIEW public.q_not_in AS
  SELECT id, prod FROM orders WHERE prod NOT IN (SELECT n FROM events WHERE kind = 'a');
CREATE VIEW public.q_not_in_null AS
  SELECT id, cust FROM orders WHERE cust NOT IN (SELECT n FROM events);
CREATE VIEW public.q_not_in_flip AS
  SELECT kind, n FROM events WHERE n NOT IN (SELECT stock FROM stock WHERE prod <= 3);
CREATE VIEW public.q_not_in_nonnull AS
  SELECT id, qty FROM orders WHERE qty NOT IN (SELECT n FROM events WHERE n IS NOT NULL AND kind = 'buy');
CREATE VIEW public.q_not_in_corr AS
  SELECT c.id, c.name FROM customers c
  WHERE c.id NOT IN (SELECT o.qty FROM orders o WHERE o.cust = c.id AND o.prod < 5);
CREATE VIEW public.q_not_in_corr_events AS
  SELECT kind, n FROM events e WHERE n NOT IN (SELECT s.stock FROM stock s WHERE s.prod = e.n + 1);
CREATE VIEW public.q_exists AS
  SELECT c.id, c.name FROM customers c WHERE EXISTS (SELECT 1 FROM orders o WHERE o.cust = c.id AND o.qty > 3);
CREATE VIEW public.q_not_exists AS
  SELECT p.id, p.cat FROM products p WHERE NOT EXISTS (SELECT * FROM orders o WHERE o.prod = p.id AND o.qty > 8 AND o.note IS NOT NULL);
CREATE VIEW public.q_not_exists_null AS
  SELECT kind, n FROM events e WHERE NOT EXISTS (SELECT 1 FROM orders o WHERE o.qty = e.n AND o.flag AND o.id % 5 = 0);
CREATE VIEW public.q_exists_uncorr AS
  SELECT kind, n FROM events WHERE EXISTS (SELECT 1 FROM stock WHERE stock > 8) AND kind IS NOT NULL;
CREATE VIEW public.q_in_grouped AS
  SELECT kind, count(*) AS n FROM events WHERE kind IN (SELECT kind FROM events WHERE n > 2) GROUP BY kind;
CREATE VIEW public.q_all AS
  SELECT id, note FROM orders WHERE note <> ALL (SELECT kind FROM events WHERE n > 2);
CREATE VIEW public.q_in_corr AS
  SELECT o.id FROM orders o WHERE o.qty IN (SELECT e.n FROM events e WHERE e.n + 1 = o.cust);
CREATE VIEW public.q_in_multi AS
  SELECT id FROM orders WHERE (cust, prod) IN (SELECT n, n FROM events);
CREATE VIEW public.q_scalar_where AS
  SELECT id, qty FROM orders WHERE qty > (SELECT avg(n) FROM events);
CREATE VIEW public.q_scalar_select AS
  SELECT id, (SELECT max(stock) FROM stock) AS ms, qty - (SELECT min(n) FROM events) AS d FROM orders WHERE flag;
CREATE VIEW public.q_scalar_count AS
  SELECT c.id, (SELECT count(*) FROM events WHERE kind IS NULL) FROM customers c;
CREATE VIEW public.q_scalar_grouped AS
  SELECT cust, count(*) AS n, (SELECT max(n) FROM events) AS mx FROM orders
  GROUP BY cust HAVING sum(qty) > (SELECT sum(stock) FROM stock WHERE prod < 3);
CREATE VIEW public.q_scalar_corr AS
  SELECT c.id, (SELECT count(*) FROM orders o WHERE o.cust = c.id AND o.flag) AS n,
         (SELECT max(note) FROM orders o WHERE o.cust = c.id) AS last_note,
         (SELECT sum(n) FROM events e WHERE e.n = c.id - 5 AND e.kind = c.country) AS s
  FROM customers c;
CREATE VIEW public.q_scalar_corr_null AS
  SELECT kind, n, (SELECT count(*) FILTER (WHERE flag) FROM orders WHERE qty = events.n) AS c,
         (SELECT avg(price) FROM orders WHERE qty = n) AS a
  FROM events;
CREATE VIEW public.q_scalar_corr_where AS
  SELECT o.cust, count(*) AS n FROM orders o
  WHERE o.qty >= (SELECT avg(qty) FROM orders o2 WHERE o2.prod = o.prod) OR o.qty IS NULL
  GROUP BY o.cust;
CREATE VIEW public.q_scalar_global_where AS
  SELECT count(*) AS n, sum(qty) AS q FROM orders WHERE qty > (SELECT avg(n) FROM events);
CREATE VIEW public.q_vv0 AS
  SELECT x.cust FROM q_vv3 x WHERE x.q > 5;
CREATE VIEW public.q_base AS
  SELECT cust, prod, qty FROM orders WHERE qty IS NOT NULL;
CREATE VIEW public.q_vv1 AS
  SELECT cust, sum(qty) AS q FROM q_base GROUP BY cust;
CREATE VIEW public.q_vv2 AS
  SELECT b.cust, v.q FROM public.q_base b JOIN q_vv1 v USING (cust) WHERE b.prod IN (SELECT prod FROM stock);
CREATE VIEW public.q_vv3 (cust, q) AS
  SELECT * FROM q_vv1;
`

// oracleViewsInlined is oracleViews for view sets whose views read other
// views: each view's SELECT is evaluated with those views inlined.
func oracleViewsInlined(t *testing.T, src *pgx.Conn, viewSQL string) []oracle.View {
	t.Helper()
	defs, err := planner.ParseViews("views.sql", viewSQL)
	if err != nil {
		t.Fatal(err)
	}
	var out []oracle.View
	for i, q := range planner.SourceQueries(defs) {
		desc, err := src.Prepare(context.Background(), "", q)
		if err != nil {
			t.Fatalf("describe %s: %v", defs[i].Name, err)
		}
		v := oracle.View{Name: defs[i].Name, Query: q}
		for _, f := range desc.Fields {
			v.Columns = append(v.Columns, columnOf(f.Name, f.DataTypeOID, f.TypeModifier))
		}
		out = append(out, v)
	}
	return out
}

// TestSQLSubqueries is the oracle test for subqueryViewSQL, run like
// TestSQL.
func TestSQLSubqueries(t *testing.T) {
	sqlOracle{file: "subquery_views.sql", views: subqueryViewSQL, txns: 1200, shortTxns: 200, minViews: 30}.run(t)
}
