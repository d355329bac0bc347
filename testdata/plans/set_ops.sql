-- INTERSECT [ALL] and EXCEPT [ALL] keep per-row multiplicities of both
-- inputs; INTERSECT binds tighter than UNION and EXCEPT; branch types are
-- unified like UNION's.
CREATE TABLE a (id integer, v integer, label text);
CREATE TABLE b (id bigint, w numeric(10,2), note varchar(10));

CREATE VIEW both_ids AS SELECT id FROM a INTERSECT SELECT id FROM b;
CREATE VIEW both_all AS SELECT label FROM a INTERSECT ALL SELECT note FROM b;
CREATE VIEW only_a AS SELECT id, v FROM a EXCEPT SELECT id, w FROM b;
CREATE VIEW only_a_all AS SELECT label FROM a EXCEPT ALL SELECT note FROM b;
CREATE VIEW nested AS
  SELECT id FROM a UNION SELECT id FROM b INTERSECT SELECT v FROM a
  EXCEPT ALL (SELECT id FROM b EXCEPT SELECT 1 FROM a);
