-- GROUP BY with aggregates over a join: by column, by ordinal, by output
-- alias, by expression; HAVING; expressions over aggregates.
CREATE TABLE customers (id integer PRIMARY KEY, name text, region text);
CREATE TABLE orders (id bigint PRIMARY KEY, customer_id integer, amount numeric(12,2), qty integer);

CREATE VIEW revenue_by_customer AS
SELECT c.id, c.name, count(*), sum(o.amount) AS revenue, avg(o.qty), sum(o.amount) / count(*) AS mean,
       min(o.amount), max(o.qty)
FROM customers c JOIN orders o ON o.customer_id = c.id
GROUP BY c.id
HAVING count(*) > 1;

CREATE VIEW by_region AS
SELECT region AS r, count(o.id) AS orders, sum(qty) FROM customers c JOIN orders o ON c.id = o.customer_id
GROUP BY 1;

CREATE VIEW by_alias AS
SELECT upper(region) AS reg, count(*) FROM customers GROUP BY reg;

CREATE VIEW by_expression AS
SELECT qty % 10 AS bucket, (qty % 10) * 2, count(*) FROM orders GROUP BY qty % 10;
