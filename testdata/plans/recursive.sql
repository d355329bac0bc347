CREATE TABLE nodes (id integer PRIMARY KEY, parent integer, name text);
CREATE TABLE edges (src integer, dst integer);

-- Every ancestor-descendant pair of a hierarchy (UNION: a set).
CREATE VIEW ancestry AS
WITH RECURSIVE up (anc, des) AS (
  SELECT parent, id FROM nodes WHERE parent IS NOT NULL
  UNION
  SELECT n.parent, up.des FROM up JOIN nodes n ON n.id = up.anc WHERE n.parent IS NOT NULL
)
SELECT anc, des FROM up;

-- Path counts up to depth 4 (UNION ALL: a multiset; the depth bound ends cycles).
CREATE VIEW paths AS
WITH RECURSIVE p AS (
  SELECT src, dst, 1 AS depth FROM edges
  UNION ALL
  SELECT p.src, e.dst, p.depth + 1 FROM p, edges e WHERE e.src = p.dst AND p.depth < 4
)
SELECT a.src, a.dst, count(*) AS n, max(a.depth) AS longest FROM p a GROUP BY a.src, a.dst;

-- A non-recursive query in WITH RECURSIVE is an ordinary CTE.
CREATE VIEW plain AS
WITH RECURSIVE roots AS (SELECT id, name FROM nodes WHERE parent IS NULL) SELECT name FROM roots;
