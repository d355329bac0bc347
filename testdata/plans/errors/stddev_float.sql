CREATE TABLE orders (id integer PRIMARY KEY, cust integer, f float8);

CREATE VIEW v AS SELECT cust, stddev(f) AS s FROM orders GROUP BY cust;
