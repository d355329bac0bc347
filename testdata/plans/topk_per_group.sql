CREATE TABLE orders (id bigint PRIMARY KEY, customer_id integer, amount numeric(12,2), qty integer, note text);

CREATE VIEW top2 AS
SELECT customer_id, id, amount FROM (
  SELECT customer_id, id, amount, row_number() OVER (PARTITION BY customer_id ORDER BY amount DESC NULLS LAST, id) AS rn
  FROM orders) t
WHERE rn <= 2;
