CREATE TABLE orders (id bigint PRIMARY KEY, customer_id integer);
CREATE TABLE customers (id integer PRIMARY KEY, name text);

CREATE VIEW v AS
SELECT o.id, x.name FROM orders o, LATERAL (SELECT name FROM customers c WHERE c.id = o.customer_id) x;
