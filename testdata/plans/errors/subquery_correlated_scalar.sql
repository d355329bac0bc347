CREATE TABLE orders (id bigint PRIMARY KEY, customer_id integer, amount numeric(12,2));
CREATE TABLE customers (id integer PRIMARY KEY, name text);

CREATE VIEW v AS
SELECT customer_id, (SELECT max(id) FROM customers c WHERE c.id = o.customer_id) FROM orders o GROUP BY customer_id;
