CREATE TABLE orders (id bigint PRIMARY KEY, customer_id integer, amount numeric(12,2), note text);
CREATE TABLE customers (id integer PRIMARY KEY, name text);

-- The two largest orders of each customer (a keyed top-k); id breaks ties.
CREATE VIEW top2 AS
SELECT c.name, x.id, x.amount
FROM customers c, LATERAL (SELECT o.id, o.amount FROM orders o WHERE o.customer_id = c.id AND o.amount > 0
                           ORDER BY o.amount DESC, o.id LIMIT 2) x;

-- LEFT JOIN LATERAL ... ON true keeps customers without orders; OFFSET; x.* leaves the hidden columns out.
CREATE VIEW second AS
SELECT c.id AS cid, x.* FROM customers c LEFT JOIN LATERAL (
  SELECT id, note FROM orders WHERE customer_id = c.id ORDER BY id LIMIT 1 OFFSET 1) x ON true;

-- Without LIMIT: a join.
CREATE VIEW notes AS
SELECT c.id, n.note FROM customers c CROSS JOIN LATERAL (SELECT note FROM orders o WHERE o.customer_id + 1 = c.id + 1) n;
