-- Subqueries as top-level WHERE conditions: [NOT] EXISTS, [NOT] IN,
-- = ANY, <> ALL, uncorrelated or correlated by equalities (decorrelated
-- into semi-joins and anti-joins). NOT IN keeps PostgreSQL's NULL rules.
CREATE TABLE a (id integer PRIMARY KEY, v integer, label text);
CREATE TABLE b (id bigint PRIMARY KEY, w numeric(10,2), note varchar(10), k integer);

CREATE VIEW in_sub AS
SELECT id, v FROM a WHERE v IN (SELECT k FROM b WHERE w > 2);

CREATE VIEW not_in_sub AS
SELECT id, v FROM a WHERE v NOT IN (SELECT k FROM b);

CREATE VIEW not_in_all AS
SELECT id, label FROM a WHERE label <> ALL (SELECT note FROM b WHERE w < 5) AND v > 0;

CREATE VIEW exists_uncorr AS
SELECT id FROM a WHERE EXISTS (SELECT 1 FROM b WHERE w > 8);

CREATE VIEW exists_corr AS
SELECT a.id, a.label FROM a WHERE EXISTS (SELECT * FROM b WHERE b.k = a.v AND b.note IS NOT NULL);

CREATE VIEW not_exists_corr AS
SELECT id, v FROM a x WHERE NOT EXISTS (SELECT 1 FROM b WHERE b.id = x.id AND x.label = b.note);

CREATE VIEW in_corr_numeric AS
SELECT id FROM a WHERE v = ANY (SELECT w FROM b WHERE b.k = a.id);

CREATE VIEW in_row AS
SELECT id FROM a WHERE (v, id) IN (SELECT k, id FROM b);

CREATE VIEW semi_grouped AS
SELECT label, count(*) FROM a WHERE v NOT IN (SELECT k FROM b WHERE k IS NOT NULL) AND id IN (SELECT id FROM b)
GROUP BY label;

CREATE VIEW in_agg AS
SELECT id FROM a WHERE v IN (SELECT max(k) FROM b GROUP BY note);

CREATE VIEW not_in_corr AS
SELECT id, v FROM a WHERE v NOT IN (SELECT b.k FROM b WHERE b.id = a.id + 1 AND w > 1);
