-- Outer joins keep their ON conditions with the join (they decide which
-- rows match; unmatched rows are NULL-extended), and USING columns of a
-- FULL JOIN are COALESCE(left, right).
CREATE TABLE customers (id integer PRIMARY KEY, name text, region text);
CREATE TABLE orders (id bigint PRIMARY KEY, customer_id integer, amount numeric(12,2));
CREATE TABLE items (order_id bigint, line integer, sku text, PRIMARY KEY (order_id, line));
CREATE TABLE a (k integer, v text);
CREATE TABLE b (k bigint, w text);
CREATE TABLE c (k integer, v text, z text);

CREATE VIEW customer_orders AS
SELECT c.name, o.id, o.amount
FROM customers c LEFT JOIN orders o ON o.customer_id = c.id AND o.amount > 10
WHERE c.region IS DISTINCT FROM 'x';

CREATE VIEW orders_right AS
SELECT o.id, c.name FROM customers c RIGHT OUTER JOIN orders o ON c.id = o.customer_id;

CREATE VIEW full_using AS SELECT * FROM a FULL JOIN b USING (k);

CREATE VIEW natural_right AS SELECT * FROM a NATURAL RIGHT JOIN b;

CREATE VIEW natural_full AS SELECT * FROM a NATURAL FULL JOIN c;

CREATE VIEW three_way AS
SELECT c.name, o.id, i.sku
FROM customers c
  LEFT JOIN orders o ON o.customer_id = c.id
  FULL JOIN items i ON i.order_id = o.id AND i.sku <> c.name;

CREATE VIEW mixed AS
SELECT a.v, b.w, c.name
FROM a LEFT JOIN b ON a.k = b.k, customers c
WHERE c.id = a.k AND b.w IS NULL;

CREATE VIEW cross_join AS SELECT a.v, c.name FROM a CROSS JOIN customers c;

CREATE VIEW left_no_key AS SELECT a.v, b.w FROM a LEFT JOIN b ON a.v < b.w;

-- A condition on the preserved side decides matching only: it never
-- removes left rows.
CREATE VIEW left_side_cond AS
SELECT a.k, a.v, b.w FROM a LEFT JOIN b ON a.k = b.k AND a.v > 'm' AND b.w IS NOT NULL;

CREATE VIEW self_full AS
SELECT x.k, y.k AS k2 FROM a x FULL JOIN a y ON x.k = y.k + 1;

CREATE VIEW left_grouped AS
SELECT c.region, count(o.id) AS orders, sum(o.amount) AS total
FROM customers c LEFT JOIN orders o ON o.customer_id = c.id GROUP BY c.region;
