CREATE TABLE orders (id bigint PRIMARY KEY, customer_id integer, amount numeric(12,2), note text);
CREATE TABLE customers (id integer PRIMARY KEY, name text, country text);

-- ROLLUP: per (customer, note), per customer, and the grand total (one row even over no orders).
CREATE VIEW rollup_totals AS
SELECT customer_id, note, sum(amount) AS total, count(*) AS n, GROUPING(customer_id, note) AS g
FROM orders GROUP BY ROLLUP (customer_id, note);

-- CUBE over a join, with HAVING on GROUPING().
CREATE VIEW cube_country AS
SELECT c.country, o.note, count(*) AS n FROM orders o JOIN customers c ON c.id = o.customer_id
GROUP BY CUBE (c.country, o.note) HAVING GROUPING(c.country) = 0 OR count(*) > 1;

-- GROUPING SETS with an expression, a duplicate set and a plain column crossed with the sets.
CREATE VIEW sets AS
SELECT customer_id, amount > 100 AS big, count(*) AS n, max(id) AS top
FROM orders GROUP BY customer_id, GROUPING SETS ((amount > 100), (), ());

-- GROUP BY (): like no GROUP BY.
CREATE VIEW empty_set AS SELECT count(*) AS n FROM orders GROUP BY ();
