CREATE TABLE orders (id bigint PRIMARY KEY, customer_id integer, amount numeric(12,2));
CREATE TABLE customers (id integer PRIMARY KEY, name text);

-- Over an empty orders the aggregate still has its one row.
CREATE VIEW v AS
SELECT count(*), (SELECT max(name) FROM customers) FROM orders;
