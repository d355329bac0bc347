CREATE TABLE orders (id bigint PRIMARY KEY, customer_id integer, amount numeric(12,2), note text);
CREATE TABLE customers (id integer PRIMARY KEY, name text);

-- The three largest orders; id breaks ties in amount.
CREATE VIEW top_orders AS
SELECT id, amount, note FROM orders ORDER BY amount DESC NULLS LAST, id LIMIT 3;

-- Positions and OFFSET; the view's column list renames, ORDER BY sees the SELECT's names.
CREATE VIEW page2 (order_id, amt) AS
SELECT o.id, o.amount AS a FROM orders o ORDER BY a NULLS FIRST, 1 DESC LIMIT 5 OFFSET 5;

-- Grouped: the GROUP BY column is the key.
CREATE VIEW top_customers AS
SELECT customer_id, sum(amount) AS total FROM orders GROUP BY customer_id ORDER BY total DESC, customer_id LIMIT 10;

-- OFFSET alone, and FETCH FIRST.
CREATE VIEW skip AS
SELECT id FROM orders ORDER BY id OFFSET 2;
CREATE VIEW first2 AS
SELECT DISTINCT note FROM orders ORDER BY note FETCH FIRST 2 ROWS ONLY;

-- ORDER BY without LIMIT does not change the contents.
CREATE VIEW ordered AS
SELECT id FROM orders ORDER BY amount;

-- Input columns selected as they are: qualified, or renamed by an alias.
CREATE VIEW top_join AS
SELECT o.id AS order_id, c.id AS cid, c.name FROM orders o JOIN customers c ON c.id = o.customer_id
ORDER BY c.name DESC, o.id, c.id LIMIT 3;
