CREATE TABLE nodes (id integer PRIMARY KEY, parent integer, name text);

CREATE VIEW v AS
WITH RECURSIVE r AS (SELECT id FROM nodes INTERSECT SELECT id FROM r) SELECT * FROM r;
