-- Subqueries in FROM and WITH queries (CTEs): planned once and read like a
-- table; a CTE referenced twice is one shared node. Column lists rename.
CREATE TABLE a (id integer PRIMARY KEY, v integer, label text);
CREATE TABLE b (id bigint PRIMARY KEY, w numeric(10,2), note varchar(10));

CREATE VIEW derived AS
SELECT s.id, s.doubled FROM (SELECT id, v * 2 AS doubled FROM a WHERE v > 3) AS s WHERE s.doubled < 30;

CREATE VIEW derived_agg AS
SELECT t.label, t.n, b.note
FROM (SELECT label, count(*) AS n, max(v) AS mx FROM a GROUP BY label) t
JOIN b ON b.id = t.mx;

CREATE VIEW derived_renamed AS
SELECT x, y, 'lit' AS l FROM (SELECT id, note, 'k' FROM b) AS r (x, y);

CREATE VIEW cte_twice AS
WITH small AS (SELECT id, v FROM a WHERE v < 5),
     pairs AS (SELECT s1.id AS i1, s2.id AS i2 FROM small s1 JOIN small s2 ON s1.v = s2.v)
SELECT i1, i2 FROM pairs WHERE i1 <> i2;

CREATE VIEW cte_cols AS
WITH c (k, total) AS (SELECT v, sum(w) FROM a JOIN b ON b.id = a.id GROUP BY v)
SELECT k, total, a.label FROM c LEFT JOIN a ON a.v = c.k;

CREATE VIEW cte_union AS
WITH x AS (SELECT label FROM a), y AS (SELECT note FROM b)
SELECT label FROM x UNION ALL SELECT * FROM y EXCEPT ALL SELECT note FROM b WHERE w > 5;

CREATE VIEW cte_distinct AS
WITH d AS (SELECT DISTINCT v FROM a) SELECT v, count(*) FROM d, b WHERE b.w > d.v GROUP BY v;
