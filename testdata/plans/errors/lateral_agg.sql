CREATE TABLE orders (id bigint PRIMARY KEY, customer_id integer, amount numeric(12,2), note text);
CREATE TABLE customers (id integer PRIMARY KEY, name text);

-- Outer references outside the WHERE equalities are still refused.
CREATE VIEW v AS
SELECT c.id, x.n FROM customers c, LATERAL (SELECT max(o.amount - c.id) AS n FROM orders o WHERE o.customer_id = c.id) x;
