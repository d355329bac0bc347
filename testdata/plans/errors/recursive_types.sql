CREATE TABLE nodes (id integer PRIMARY KEY, parent integer, name text);

CREATE VIEW v AS
WITH RECURSIVE r AS (SELECT id FROM nodes UNION SELECT r.id::bigint + 1 FROM r WHERE r.id < 10) SELECT * FROM r;
