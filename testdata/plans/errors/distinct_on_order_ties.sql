CREATE TABLE orders (id bigint PRIMARY KEY, customer_id integer, amount numeric(12,2), note text);

CREATE VIEW v AS
SELECT DISTINCT ON (customer_id) customer_id, id FROM orders ORDER BY customer_id, amount;
