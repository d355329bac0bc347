CREATE TABLE orders (id bigint PRIMARY KEY, customer_id integer, amount numeric(12,2), note text);
CREATE TABLE customers (id integer PRIMARY KEY, name text);

-- The largest order of each customer; id breaks ties in amount.
CREATE VIEW biggest AS
SELECT DISTINCT ON (customer_id) customer_id, id, amount FROM orders ORDER BY customer_id, amount DESC NULLS LAST, id;

-- Positions, and an input column selected as it is; the outer LIMIT is a top-k over the groups.
CREATE VIEW first_notes AS
SELECT DISTINCT ON (1) o.note, o.id FROM orders o ORDER BY o.note, o.id DESC LIMIT 3;

-- Ordering by every output column: tied rows are equal.
CREATE VIEW per_note AS
SELECT DISTINCT ON (note) note, customer_id FROM orders ORDER BY note, customer_id;

-- Over a group: the GROUP BY columns are the key.
CREATE VIEW top_total AS
SELECT DISTINCT ON (n) count(*) AS n, customer_id FROM orders GROUP BY customer_id ORDER BY n, customer_id DESC;

-- Expressions and input columns that are not selected are hidden columns, dropped after the top-1.
CREATE VIEW latest AS
SELECT DISTINCT ON (customer_id % 10) note FROM orders ORDER BY customer_id % 10, amount DESC, id;
