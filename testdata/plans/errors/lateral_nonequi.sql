CREATE TABLE orders (id bigint PRIMARY KEY, customer_id integer, amount numeric(12,2), note text);
CREATE TABLE customers (id integer PRIMARY KEY, name text);

CREATE VIEW v AS
SELECT c.id, x.id FROM customers c, LATERAL (SELECT o.id FROM orders o WHERE o.customer_id < c.id) x;
