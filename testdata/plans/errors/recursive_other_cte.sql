CREATE TABLE nodes (id integer PRIMARY KEY, parent integer, name text);

CREATE VIEW v AS
WITH RECURSIVE o AS (SELECT id FROM nodes), r AS (SELECT id FROM nodes UNION SELECT o.id FROM r JOIN o ON o.id = r.id) SELECT * FROM r;
