CREATE TABLE orders (id bigint PRIMARY KEY, customer_id integer, amount numeric(12,2), note text);

CREATE VIEW v AS
SELECT customer_id, GROUPING(note) FROM orders GROUP BY ROLLUP (customer_id);
