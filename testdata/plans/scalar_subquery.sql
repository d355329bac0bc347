-- Scalar subqueries that are aggregates without GROUP BY: exactly one row,
-- cross-joined in; anything that may return several rows is refused.
CREATE TABLE a (id integer PRIMARY KEY, v integer, label text);
CREATE TABLE b (id bigint PRIMARY KEY, w numeric(10,2), note varchar(10), k integer);

CREATE VIEW above_avg AS
SELECT id, v FROM a WHERE v > (SELECT avg(k) FROM b);

CREATE VIEW with_max AS
SELECT id, (SELECT max(w) FROM b) AS mw, v - (SELECT min(k) FROM b WHERE note IS NOT NULL), (SELECT count(*) FROM b)
FROM a;

CREATE VIEW grouped AS
SELECT label, count(*) AS n, (SELECT max(k) FROM b) AS mk FROM a
GROUP BY label HAVING sum(v) > (SELECT avg(k) FROM b WHERE note IS NOT NULL);

-- Correlated (select list only): a LEFT JOIN of the subquery grouped by
-- its correlation; count over no rows is 0.
CREATE VIEW correlated AS
SELECT id, (SELECT count(*) FROM b WHERE b.k = a.v) AS n, (SELECT sum(w) FROM b WHERE b.id = a.id AND note <> 'x') AS s,
       (SELECT max(note) FROM b WHERE b.k + 1 = a.v AND b.id::int = a.id) AS mx
FROM a WHERE label IS NOT NULL;

CREATE VIEW correlated_where AS
SELECT label, count(*) FROM a
WHERE v >= (SELECT avg(k) FROM b WHERE b.id = a.id) OR v < (SELECT count(*) FROM b WHERE b.k = a.v)
GROUP BY label;

CREATE VIEW global_where AS
SELECT count(*), sum(v) FROM a WHERE v > (SELECT avg(k) FROM b);
