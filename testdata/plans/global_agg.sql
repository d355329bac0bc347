-- Aggregates without GROUP BY: one row even over no input.
CREATE TABLE orders (id bigint PRIMARY KEY, customer_id integer, amount numeric(12,2), qty integer);

CREATE VIEW totals AS
SELECT count(*) AS n, sum(amount) AS total, sum(qty), avg(amount) FROM orders WHERE qty > 0;

CREATE VIEW having_only AS
SELECT count(*) FROM orders HAVING count(*) > 0;
