CREATE TABLE orders (id bigint PRIMARY KEY, customer_id integer, amount numeric(12,2), qty integer, note text);
CREATE TABLE events (kind text, n int);

CREATE VIEW v AS
SELECT customer_id, sum(qty), rank() OVER (ORDER BY sum(qty)) FROM orders GROUP BY customer_id;
