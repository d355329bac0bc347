CREATE TABLE orders (id bigint PRIMARY KEY, customer_id integer, amount numeric(12,2), qty integer, note text);
CREATE TABLE customers (id integer PRIMARY KEY, name text);

-- Ranking: rank and dense_rank are exact with ties; row_number needs the
-- unique id as a tie-break.
CREATE VIEW ranked AS
SELECT id, customer_id, qty,
       row_number() OVER (PARTITION BY customer_id ORDER BY qty DESC, id) AS rn,
       rank() OVER (PARTITION BY customer_id ORDER BY qty DESC),
       dense_rank() OVER (PARTITION BY customer_id ORDER BY qty DESC) AS dr
FROM orders;

-- Running aggregates over the default RANGE frame (peers included).
CREATE VIEW running AS
SELECT id, customer_id, qty,
       sum(qty) OVER (PARTITION BY customer_id ORDER BY qty) AS running_qty,
       count(*) OVER (PARTITION BY customer_id ORDER BY qty) AS n,
       avg(amount) OVER (PARTITION BY customer_id) AS avg_amount,
       min(note) OVER (ORDER BY qty NULLS FIRST) AS min_note,
       max(amount) OVER () AS max_amount
FROM orders;

-- Offsets: lag/lead with defaults, first/last value, ROWS frames.
CREATE VIEW neighbours AS
SELECT id, qty,
       lag(qty) OVER (ORDER BY id) AS prev_qty,
       lead(qty, 2, -1) OVER (PARTITION BY customer_id ORDER BY id) AS next2,
       lag(amount, 1, 0) OVER (ORDER BY id DESC) AS lag_amount,
       first_value(note) OVER (PARTITION BY customer_id ORDER BY amount NULLS FIRST, id) AS first_note,
       last_value(qty) OVER (ORDER BY qty, id ROWS BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING) AS last_qty,
       sum(qty) OVER (ORDER BY id ROWS BETWEEN 2 PRECEDING AND 1 FOLLOWING) AS moving,
       count(qty) OVER (ORDER BY id ROWS 3 PRECEDING) AS c3,
       qty - lag(qty) OVER (ORDER BY id) AS delta
FROM orders;

-- Over a join: the unique order is the primary key of both tables.
CREATE VIEW joined AS
SELECT o.id, c.name, row_number() OVER (PARTITION BY c.id ORDER BY o.amount DESC NULLS LAST, o.id) AS rn
FROM orders o JOIN customers c ON c.id = o.customer_id;

-- Top-k over a window result.
CREATE VIEW top_rank AS
SELECT id, qty, rank() OVER (ORDER BY qty DESC NULLS LAST) AS r FROM orders ORDER BY r, id LIMIT 4;
