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
CREATE VIEW public.m_arr_agg AS
  SELECT cust, array_agg(id ORDER BY id) AS ids, array_agg(note ORDER BY note NULLS FIRST) AS notes,
         json_agg(price ORDER BY price DESC, id) FILTER (WHERE flag) AS prices, jsonb_agg(note ORDER BY note) AS jnotes,
         json_agg(f ORDER BY f NULLS FIRST) AS fs, array_agg(d ORDER BY d) AS ds
  FROM orders GROUP BY cust;
CREATE VIEW public.m_arr_global AS
  SELECT array_agg(DISTINCT qty ORDER BY qty) AS qtys, jsonb_agg(DISTINCT flag ORDER BY flag) AS flags,
         array_agg(price ORDER BY price NULLS FIRST, id) FILTER (WHERE qty > 1000) AS none
  FROM orders;
CREATE VIEW public.m_arr_events AS
  SELECT kind, json_agg(n ORDER BY n) AS ns, array_agg(payload::text ORDER BY payload::text) AS payloads, array_agg(n ORDER BY n NULLS FIRST) AS ns2 FROM events GROUP BY kind;
CREATE VIEW public.m_arr_join AS
  SELECT c.country, array_agg(o.id ORDER BY o.id) AS ids FROM orders o JOIN customers c ON c.id = o.cust GROUP BY c.country;
CREATE VIEW public.m_arr_src AS SELECT * FROM tagged;
CREATE VIEW public.m_arr_src_distinct AS SELECT DISTINCT tags FROM tagged;
CREATE VIEW public.m_arr_src_group AS SELECT nums, count(*) AS n FROM tagged GROUP BY nums;
CREATE VIEW public.m_arr_src_join AS
  SELECT o.id, t.nums, t.tags, o.note FROM orders o JOIN tagged t ON t.id = o.id WHERE o.qty > 3;
CREATE VIEW public.m_rec_ancestry AS
  WITH RECURSIVE up (anc, des) AS (
    SELECT parent, id FROM tree WHERE parent IS NOT NULL
    UNION
    SELECT t.parent, up.des FROM up JOIN tree t ON t.id = up.anc WHERE t.parent IS NOT NULL)
  SELECT anc, des FROM up;
CREATE VIEW public.m_rec_subtree AS
  WITH RECURSIVE sub (root, id, depth) AS (
    SELECT id, id, 0 FROM tree
    UNION ALL
    SELECT s.root, t.id, s.depth + 1 FROM sub s JOIN tree t ON t.parent = s.id)
  SELECT s.root, count(*) AS size, max(s.depth) AS height, string_agg(t.label, ',' ORDER BY t.label) AS labels
  FROM sub s JOIN tree t ON t.id = s.id GROUP BY s.root;
CREATE VIEW public.m_rec_paths AS
  WITH RECURSIVE p AS (
    SELECT t.id, t.label::text AS path FROM tree t WHERE t.parent IS NULL
    UNION ALL
    SELECT t.id, p.path || '/' || coalesce(t.label, '?') FROM p JOIN tree t ON t.parent = p.id)
  SELECT * FROM p;
CREATE VIEW public.m_rec_reach AS
  WITH RECURSIVE reach (a, b) AS (
    SELECT cust, prod FROM orders WHERE cust IS NOT NULL AND prod IS NOT NULL
    UNION
    SELECT r.a, o.prod FROM reach r JOIN orders o ON o.cust = r.b WHERE o.prod IS NOT NULL)
  SELECT a, count(*) AS n FROM reach GROUP BY a;
CREATE VIEW public.m_rec_chain AS
  WITH RECURSIVE chain (id, nxt, depth) AS (
    SELECT id, qty, 1 FROM orders
    UNION ALL
    SELECT c.id, o.qty, c.depth + 1 FROM chain c JOIN orders o ON o.id = c.nxt WHERE c.depth < 3)
  SELECT id, count(*) AS n, max(depth) AS d, sum(nxt) AS s FROM chain GROUP BY id;
CREATE VIEW public.m_lat_top AS
  SELECT c.id AS cid, c.name, x.id, x.qty FROM customers c,
    LATERAL (SELECT o.id, o.qty FROM orders o WHERE o.cust = c.id AND o.note IS NOT NULL
             ORDER BY o.qty DESC NULLS LAST, o.id LIMIT 2) x;
CREATE VIEW public.m_lat_left AS
  SELECT c.id AS cid, x.* FROM customers c LEFT JOIN LATERAL (
    SELECT id, price FROM orders WHERE cust = c.id ORDER BY price NULLS FIRST, id DESC LIMIT 1 OFFSET 1) x ON true;
CREATE VIEW public.m_lat_join AS
  SELECT o.id, p.name, p.cat FROM orders o CROSS JOIN LATERAL (SELECT name, cat FROM products p WHERE p.id = o.prod) p;
`

// tagged holds array columns, kept by triggers from orders, so the random
// workload changes it in the same transactions (quoting edge cases, NULL
// elements, NULL arrays); tree is a hierarchy kept from customers (each
// node's parent has a smaller id and changes with the name, so updates
// move whole subtrees, deletes orphan them).
const taggedSchema = `
CREATE TABLE tagged (id int PRIMARY KEY, tags text[], nums int[]);
CREATE FUNCTION tag_orders() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    DELETE FROM tagged WHERE id = OLD.id;
    RETURN NULL;
  END IF;
  INSERT INTO tagged VALUES (NEW.id,
    CASE WHEN NEW.qty % 5 = 0 THEN NULL ELSE ARRAY[NEW.note, 'x "y', 'NULL', NULL, NEW.cust::text, ' {a,b} '] END,
    CASE WHEN NEW.qty % 7 = 0 THEN '{}'::int[] ELSE ARRAY[NEW.qty % 4, NEW.prod % 3, NULL] END)
  ON CONFLICT (id) DO UPDATE SET tags = EXCLUDED.tags, nums = EXCLUDED.nums;
  RETURN NULL;
END $$;
CREATE TRIGGER tag_orders AFTER INSERT OR UPDATE OR DELETE ON orders FOR EACH ROW EXECUTE FUNCTION tag_orders();
CREATE FUNCTION tag_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM tagged;
  RETURN NULL;
END $$;
CREATE TRIGGER tag_truncate AFTER TRUNCATE ON orders FOR EACH STATEMENT EXECUTE FUNCTION tag_truncate();
CREATE TABLE tree (id int PRIMARY KEY, parent int, label text);
CREATE FUNCTION tree_customers() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    DELETE FROM tree WHERE id = OLD.id;
    RETURN NULL;
  END IF;
  INSERT INTO tree VALUES (NEW.id, CASE WHEN NEW.id > 1 THEN 1 + length(coalesce(NEW.name, '')) % (NEW.id - 1) END, NEW.name)
  ON CONFLICT (id) DO UPDATE SET parent = EXCLUDED.parent, label = EXCLUDED.label;
  RETURN NULL;
END $$;
CREATE TRIGGER tree_customers AFTER INSERT OR UPDATE OR DELETE ON customers FOR EACH ROW EXECUTE FUNCTION tree_customers();
CREATE FUNCTION tree_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM tree;
  RETURN NULL;
END $$;
CREATE TRIGGER tree_truncate AFTER TRUNCATE ON customers FOR EACH STATEMENT EXECUTE FUNCTION tree_truncate();
`

// TestSQLMore is the oracle test for sqlMoreViewSQL, run like TestSQL.
func TestSQLMore(t *testing.T) {
	sqlOracle{file: "more_views.sql", views: sqlMoreViewSQL, txns: 600, shortTxns: 150, minViews: 29, schema: taggedSchema}.run(t)
}
