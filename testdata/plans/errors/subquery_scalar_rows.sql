CREATE TABLE orders (id bigint PRIMARY KEY, customer_id integer, amount numeric(12,2));
CREATE TABLE customers (id integer PRIMARY KEY, name text);

-- Could return several rows (PostgreSQL fails at run time): refused.
CREATE VIEW v AS
SELECT id, (SELECT name FROM customers WHERE id = 1) AS n FROM orders;
