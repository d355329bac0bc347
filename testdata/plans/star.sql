-- * and t.* expansion, column lists, a materialized view, ORDER BY (no
-- effect on a set, ignored).
CREATE TABLE t (id integer PRIMARY KEY, name text, score double precision);
CREATE TABLE u (id integer PRIMARY KEY, t_id integer, tag char(3));

CREATE VIEW all_t AS SELECT * FROM t;

CREATE VIEW t_and_tags (tid, tname, tscore, u_id) AS
SELECT t.*, u.id FROM t JOIN u ON u.t_id = t.id ORDER BY t.name;

CREATE MATERIALIZED VIEW scored AS SELECT *, score * 2 AS double_score FROM t WHERE score > 0;
