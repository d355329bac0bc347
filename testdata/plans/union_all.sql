-- UNION ALL: column types unified like PostgreSQL (integer with numeric is
-- numeric, unknown literals take the other branch's type), names from the
-- first branch.
CREATE TABLE a (id integer PRIMARY KEY, v integer, label text);
CREATE TABLE b (id bigint PRIMARY KEY, w numeric(10,2), note varchar(10));

CREATE VIEW ab AS
SELECT id, v, label FROM a
UNION ALL
SELECT id, w, note FROM b
UNION ALL
SELECT id, 0, 'none' FROM a WHERE v IS NULL;

CREATE VIEW ab_literals AS
SELECT 'a' AS src, id FROM a UNION ALL SELECT '2', id FROM b;

CREATE VIEW ab_set AS
SELECT label FROM a UNION SELECT note FROM b;
