-- Interval arithmetic, sum(interval), age() and numeric(p,s) casts in a grouped view.
CREATE TABLE spans (id int PRIMARY KEY, iv interval, at timestamptz, grp int, amt numeric(8,3));

CREATE VIEW v AS
  SELECT grp, date_trunc('day', at) AS day, count(*) AS n, sum(iv) AS total, max(at + iv) AS last_end,
         min(at - interval '1 mon') AS first_start, avg(amt::numeric(6,1)) AS a
  FROM spans
  WHERE iv > interval '1 hour' AND age(at, '2024-01-01') < interval '1 year'
  GROUP BY grp, date_trunc('day', at);
