-- Correlated aggregates: scalar subqueries (select list and WHERE) and
-- LATERAL subqueries, decorrelated into a LEFT JOIN of the subquery grouped
-- by its correlation; an outer row without a group gets the select list
-- evaluated over no rows.
CREATE TABLE customers (id integer PRIMARY KEY, region text, lim numeric);
CREATE TABLE orders (id bigint PRIMARY KEY, cust integer, prod integer, qty integer, flag boolean, note text);

CREATE VIEW per_customer AS
SELECT c.id,
       (SELECT count(*) FROM orders o WHERE o.cust = c.id) AS n,
       (SELECT sum(o.qty) FROM orders o WHERE o.cust = c.id) AS total,
       (SELECT coalesce(max(o.qty), -1) + count(*) FILTER (WHERE o.flag) FROM orders o WHERE o.cust = c.id AND o.note IS NOT NULL) AS mixed,
       (SELECT bool_and(o.flag) FROM orders o WHERE o.cust = c.id AND o.prod = c.id) AS all_flag
FROM customers c;

CREATE VIEW over_limit AS
SELECT c.id, c.region FROM customers c
WHERE c.lim < (SELECT sum(qty) FROM orders o WHERE o.cust = c.id);

CREATE VIEW lateral_agg AS
SELECT c.id, x.n, x.m FROM customers c,
  LATERAL (SELECT count(*) AS n, max(o.qty) AS m FROM orders o WHERE o.cust = c.id) x
WHERE x.n < 3;

CREATE VIEW lateral_left AS
SELECT c.id, x.* FROM customers c LEFT JOIN LATERAL (
  SELECT count(*) FILTER (WHERE flag), string_agg(note, ',' ORDER BY note) FROM orders WHERE cust = c.id) x ON true;

CREATE VIEW lateral_grouped AS
SELECT c.id, x.prod, x.q FROM customers c CROSS JOIN LATERAL (
  SELECT o.prod, sum(o.qty) AS q FROM orders o WHERE o.cust = c.id GROUP BY o.prod HAVING count(*) > 1) x;
