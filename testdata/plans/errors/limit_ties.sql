CREATE TABLE orders (id bigint PRIMARY KEY, customer_id integer, amount numeric(12,2), note interval);

CREATE VIEW v AS
SELECT id, amount FROM orders ORDER BY amount DESC
LIMIT 10;
