-- Joins: on a primary key (cheap: each change matches at most one row of
-- the keyed side), a self-join and a many-to-many join (both flagged).
CREATE TABLE customers (id integer PRIMARY KEY, name text NOT NULL, region text);
CREATE TABLE orders (id bigint PRIMARY KEY, customer_id integer, product text, qty integer);
CREATE TABLE promotions (id integer PRIMARY KEY, region text, discount numeric);

CREATE VIEW order_customers AS
SELECT o.id, c.name, o.qty
FROM orders o JOIN customers c ON c.id = o.customer_id;

CREATE VIEW same_product AS
SELECT a.id, b.id AS other
FROM orders a JOIN orders b ON a.product = b.product
WHERE a.id < b.id;

CREATE VIEW regional_promotions AS
SELECT c.id AS customer, p.id AS promotion, p.discount
FROM customers c JOIN promotions p ON p.region = c.region;
