CREATE TABLE orders (id bigint PRIMARY KEY, customer_id integer, amount numeric(12,2), note interval);
CREATE TABLE customers (id integer PRIMARY KEY, name text);

CREATE VIEW v AS
SELECT id FROM orders WHERE amount > 5 OR customer_id IN (SELECT id FROM customers);
