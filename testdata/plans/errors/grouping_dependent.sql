CREATE TABLE orders (id bigint PRIMARY KEY, customer_id integer, amount numeric(12,2), note text);

CREATE VIEW v AS
SELECT id, note FROM orders GROUP BY ROLLUP (id);
