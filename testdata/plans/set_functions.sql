-- Set-returning functions in FROM: a FlatMap over the joined rows.
CREATE TABLE events (id bigint PRIMARY KEY, kind text, ts timestamptz, lts timestamp, n integer, tags text[]);

-- A 5-minute window hopping every minute.
CREATE VIEW hopping AS
SELECT w, count(*) FROM events e,
  generate_series(date_trunc('minute', e.ts) - interval '4 minutes', date_trunc('minute', e.ts), interval '1 minute') AS w
GROUP BY w;

CREATE VIEW ints AS
SELECT e.id, g.x, g.i FROM events e CROSS JOIN generate_series(1, e.n, 2) WITH ORDINALITY AS g(x, i) WHERE g.x <> 3;

CREATE VIEW months AS
SELECT e.kind, m FROM events e LEFT JOIN LATERAL generate_series(e.lts, e.lts + interval '3 months', '1 mon') m ON true;

CREATE VIEW tags AS
SELECT e.id, t.tag, t.ordinality FROM events e, unnest(e.tags) WITH ORDINALITY t(tag);
