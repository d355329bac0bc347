CREATE TABLE orders (id integer PRIMARY KEY, cust integer, price numeric(10,2));

CREATE VIEW v AS SELECT cust, sum(DISTINCT price) AS p FROM orders GROUP BY cust;
