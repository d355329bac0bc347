-- Aggregates: sum/count keep one number per group; min/max keep every
-- value of each group (flagged); a global aggregate keeps one group.
CREATE TABLE orders (id bigint PRIMARY KEY, customer_id integer, amount numeric(12,2), qty integer);

CREATE VIEW totals AS
SELECT customer_id, count(*) AS n, sum(amount) AS total
FROM orders GROUP BY customer_id;

CREATE VIEW extremes AS
SELECT customer_id, min(amount) AS smallest, max(qty) AS most
FROM orders GROUP BY customer_id;

CREATE VIEW overall AS
SELECT count(*) AS n, max(amount) AS largest FROM orders;

CREATE VIEW buyers AS
SELECT qty, count(DISTINCT customer_id) AS customers FROM orders GROUP BY qty;
