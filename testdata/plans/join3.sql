-- Three tables joined with JOIN ... ON; filters on one side are pushed
-- below the joins, the others run after the join that completes them.
CREATE TABLE customers (id integer PRIMARY KEY, name text NOT NULL, region text);
CREATE TABLE orders (id bigint PRIMARY KEY, customer_id integer, amount numeric(12,2));
CREATE TABLE items (order_id bigint, line integer, sku text, qty integer, PRIMARY KEY (order_id, line));

CREATE VIEW order_lines AS
SELECT c.name, o.id AS order_id, i.line, i.sku, i.qty
FROM customers c
JOIN orders o ON o.customer_id = c.id
INNER JOIN items i ON i.order_id = o.id AND i.qty > 0
WHERE c.region = 'EU' AND o.amount > i.qty;
