-- Comma joins with the equalities in WHERE, in an order that needs the
-- planner to pick the join order; keys of different types are cast to a
-- common one (integer = numeric compares as numeric).
CREATE TABLE a (id integer PRIMARY KEY, x integer);
CREATE TABLE b (id integer PRIMARY KEY, y numeric);
CREATE TABLE c (id integer PRIMARY KEY, a_id integer, b_id bigint);

CREATE VIEW abc AS
SELECT a.id AS a, b.id AS b, c.id AS c, a.x + b.y AS s
FROM a, b, c
WHERE c.a_id = a.id AND c.b_id = b.id AND a.x = b.y AND c.id > 0;
