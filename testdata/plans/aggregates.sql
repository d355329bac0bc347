-- count(DISTINCT), FILTER, bool_and/bool_or/every, string_agg with ORDER
-- BY, and the standard deviation and variance aggregates.
CREATE TABLE orders (id integer PRIMARY KEY, cust integer, qty integer, price numeric(10,2), note text, flag boolean, f float8);

CREATE VIEW per_cust AS
SELECT cust,
       count(DISTINCT qty) AS kinds,
       sum(DISTINCT qty) AS distinct_sum,
       count(*) FILTER (WHERE flag) AS flagged,
       sum(price) FILTER (WHERE qty > 2) AS big_total,
       count(DISTINCT note) FILTER (WHERE qty IS NOT NULL) AS notes,
       bool_and(flag) AS all_flag, bool_or(flag) AS any_flag, every(qty > 0) AS positive,
       string_agg(note, ', ' ORDER BY note DESC NULLS LAST) AS notes_desc,
       string_agg(note, '' ORDER BY qty, note) AS by_qty
FROM orders GROUP BY cust HAVING count(*) FILTER (WHERE flag) > 0;

CREATE VIEW spread AS
SELECT cust, stddev(qty), stddev_pop(price), variance(price) AS var, var_samp(qty), var_pop(qty),
       stddev_samp(f::numeric) AS sf
FROM orders GROUP BY cust;

CREATE VIEW global_spread AS SELECT stddev(qty) AS s, count(DISTINCT cust) AS custs FROM orders;
