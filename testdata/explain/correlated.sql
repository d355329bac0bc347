CREATE TABLE events (id bigint PRIMARY KEY, kind text, ts timestamptz);
CREATE TABLE customers (id int PRIMARY KEY, lim int);
CREATE TABLE orders (id int PRIMARY KEY, cust int, qty int);
CREATE VIEW hop AS SELECT w, count(*) FROM events e, generate_series(date_trunc('minute', e.ts) - interval '4 minutes', date_trunc('minute', e.ts), interval '1 minute') AS w GROUP BY w;
CREATE VIEW lat AS SELECT c.id, x.n, x.m FROM customers c, LATERAL (SELECT count(*) AS n, max(o.qty) AS m FROM orders o WHERE o.cust = c.id) x WHERE c.lim < (SELECT sum(qty) FROM orders o WHERE o.cust = c.id);
