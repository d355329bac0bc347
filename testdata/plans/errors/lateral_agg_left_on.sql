CREATE TABLE customers (id integer PRIMARY KEY);
CREATE TABLE orders (id bigint PRIMARY KEY, cust integer);

-- LEFT JOIN LATERAL with aggregates needs ON true.
CREATE VIEW v AS
SELECT c.id, x.n FROM customers c LEFT JOIN LATERAL (SELECT count(*) AS n FROM orders o WHERE o.cust = c.id) x ON x.n > 1;
