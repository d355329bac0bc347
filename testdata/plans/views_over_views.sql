-- Views reading other views of the same set (in any order): each view is
-- planned once and its node shared by its readers.
CREATE TABLE a (id integer PRIMARY KEY, v integer, label text);
CREATE TABLE b (id bigint PRIMARY KEY, w numeric(10,2), note varchar(10), k integer);

CREATE VIEW top AS
SELECT l.label, l.n, h.total FROM per_label l JOIN heavy h ON h.v = l.n;

CREATE VIEW per_label (label, n) AS
SELECT label, count(*) FROM a GROUP BY label;

CREATE VIEW heavy AS
SELECT a.v, sum(b.w) AS total FROM a JOIN b ON b.k = a.id GROUP BY a.v;

CREATE VIEW again AS
SELECT * FROM public.per_label p WHERE p.label IN (SELECT note FROM b) AND n > (SELECT count(*) FROM heavy);
