CREATE TABLE nodes (id integer PRIMARY KEY, parent integer, name text);

CREATE VIEW v AS
WITH RECURSIVE r (id, parent) AS (SELECT id, parent FROM nodes UNION ALL SELECT n.id, n.parent FROM r JOIN nodes n ON n.parent = r.id) CYCLE id SET is_cycle USING path SELECT * FROM r;
