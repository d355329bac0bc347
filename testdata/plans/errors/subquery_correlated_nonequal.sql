CREATE TABLE orders (id bigint PRIMARY KEY, customer_id integer, amount numeric(12,2));
CREATE TABLE customers (id integer PRIMARY KEY, name text);

CREATE VIEW v AS
SELECT id FROM orders o WHERE EXISTS (SELECT 1 FROM customers c WHERE c.id < o.customer_id);
