-- DISTINCT after the projection; unknown literals become text first.
CREATE TABLE orders (id bigint PRIMARY KEY, customer_id integer, status varchar(20));

CREATE VIEW statuses AS SELECT DISTINCT status, 'x' AS tag FROM orders;

CREATE MATERIALIZED VIEW IF NOT EXISTS customer_statuses AS
SELECT DISTINCT customer_id, status FROM orders WHERE status IS NOT NULL;
