package e2e

import (
	"context"
	"fmt"
	"testing"
)

// sqlTypesSchema adds a table with interval columns to the oracle schema;
// typesTxn changes it at random (NULL-heavy, equal spans spelled
// differently: '1 day' and '24 hours', '1 mon' and '30 days').
const sqlTypesSchema = `
CREATE TABLE spans (id int PRIMARY KEY, iv interval, at timestamptz, grp int);
CREATE DOMAIN posint AS int CHECK (VALUE > 0);
CREATE DOMAIN money2 AS numeric(8,2);
CREATE DOMAIN code AS varchar(5) NOT NULL;
CREATE DOMAIN poscode AS code CHECK (VALUE <> '');
CREATE DOMAIN dur AS interval;
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
ALTER TYPE mood ADD VALUE 'meh' BEFORE 'ok';
ALTER TYPE mood ADD VALUE 'zen' BEFORE 'sad';
CREATE DOMAIN goodmood AS mood CHECK (VALUE <> 'sad');
CREATE TABLE typed (id int PRIMARY KEY, p posint, m money2, amt numeric(8,3), c poscode, d dur, big numeric(30,-3),
  md mood, gm goodmood);
`

var spanValues = []string{
	"1 day", "24 hours", "1 mon", "30 days", "-1 days +02:00:00", "1 year 2 mons 3 days 04:05:06.789",
	"00:00:00", "-00:00:00.000001", "90 minutes", "01:30:00", "1.5 months", "-3 mons", "2 weeks", "36:00:00",
}

func typesTxn(t *testing.T, w *workload) {
	t.Helper()
	ctx := context.Background()
	r := w.rng
	tx, err := w.conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for range 1 + r.Intn(3) {
		id := r.Intn(25)
		switch p := r.Intn(10); {
		case p < 6:
			at := w.maybe(0.2, fmt.Sprintf("2024-%02d-%02d %02d:%02d:00+00", 1+r.Intn(12), 1+r.Intn(28), r.Intn(24), r.Intn(60)))
			_, err = tx.Exec(ctx, `INSERT INTO spans VALUES ($1, $2::interval, $3::timestamptz, $4)
				ON CONFLICT (id) DO UPDATE SET iv = EXCLUDED.iv, at = EXCLUDED.at, grp = EXCLUDED.grp`,
				id, w.maybe(0.25, spanValues[r.Intn(len(spanValues))]), at, w.maybe(0.2, r.Intn(4)))
		case p < 8:
			_, err = tx.Exec(ctx, "UPDATE spans SET iv = CASE WHEN abs(extract(epoch FROM iv)) < 1e9 THEN iv * 2 ELSE -iv END WHERE id = $1", id)
		default:
			_, err = tx.Exec(ctx, "DELETE FROM spans WHERE id = $1", id)
		}
		if err != nil {
			t.Fatalf("types workload: %v", err)
		}
	}
	for range r.Intn(3) {
		id := r.Intn(20)
		if r.Intn(4) == 0 {
			_, err = tx.Exec(ctx, "DELETE FROM typed WHERE id = $1", id)
		} else {
			moods := []string{"sad", "ok", "happy", "meh", "zen"}
			_, err = tx.Exec(ctx, `INSERT INTO typed VALUES ($1, $2, $3::numeric, $4::numeric, $5, $6::interval, $7::numeric, $8::mood, $9::goodmood)
				ON CONFLICT (id) DO UPDATE SET p = EXCLUDED.p, m = EXCLUDED.m, amt = EXCLUDED.amt, c = EXCLUDED.c, d = EXCLUDED.d,
				big = EXCLUDED.big, md = EXCLUDED.md, gm = EXCLUDED.gm`,
				id, w.maybe(0.2, 1+r.Intn(9)), w.maybe(0.2, fmt.Sprintf("%d.%03d", r.Intn(1000)-500, r.Intn(1000))),
				w.maybe(0.2, fmt.Sprintf("%d.%04d", r.Intn(20000)-10000, r.Intn(10000))), []string{"a", "bb", "ccc", "A", "zz"}[r.Intn(5)],
				w.maybe(0.3, spanValues[r.Intn(len(spanValues))]), w.maybe(0.2, fmt.Sprintf("%d.%d", r.Int63n(1e12)-5e11, r.Intn(10))),
				w.maybe(0.25, moods[r.Intn(len(moods))]), w.maybe(0.25, moods[1+r.Intn(len(moods)-1)]))
		}
		if err != nil {
			t.Fatalf("types workload: %v", err)
		}
	}
	if r.Intn(10) == 0 {
		err = tx.Rollback(ctx)
	} else {
		err = tx.Commit(ctx)
	}
	if err != nil {
		t.Fatal(err)
	}
}

// sqlIntervalViewSQL covers the interval type: literals, timestamp/date ±
// interval (month-end clamping), ts - ts, age, interval * and / number,
// justify_*, extract(epoch ...), comparison, ordering, min/max, DISTINCT
// and GROUP BY on intervals (equal spans with different fields), interval
// source columns, and tumbling windows written as GROUP BY date_trunc.
const sqlIntervalViewSQL = `
CREATE VIEW public.i_arith AS
  SELECT id, ts + interval '1 day' AS next_day, ts - interval '1 mon 2 hours' AS earlier,
         d + interval '36 hours' AS d36, d - interval '1 year' AS dy, qty * interval '1 hour 30 minutes' AS dur,
         interval '2 days' / NULLIF(qty, 0) AS part, d + interval '1 mon' * qty AS months_on
  FROM orders;
-- i_diff pairs each order with the customer's orders of the 30 ids before
-- it: all earlier orders would grow quadratically with the workload.
CREATE VIEW public.i_diff AS
  SELECT o.id, o.ts - p.ts AS gap, age(o.ts, p.ts) AS age, justify_interval(o.ts - p.ts) AS j,
         extract(epoch FROM o.ts - p.ts) AS secs, o.ts - p.d AS from_date, (o.ts - p.ts) > interval '3 days' AS far
  FROM orders o JOIN orders p ON p.cust = o.cust AND p.id < o.id AND p.id >= o.id - 30;
CREATE VIEW public.i_recent AS
  SELECT id, ts, d FROM orders WHERE ts - d < interval '5 days 12 hours' AND ts > d - interval '10 days';
CREATE VIEW public.i_tumbling AS
  SELECT date_trunc('day', ts) AS day, count(*) AS n, max(ts) - min(ts) AS spread,
         min(ts - date_trunc('day', ts)) AS first_tod, sum(qty) AS qty
  FROM orders GROUP BY 1;
CREATE VIEW public.i_tumbling6h AS
  SELECT date_trunc('day', ts) + floor(extract(hour FROM ts) / 6) * interval '6 hours' AS bucket, count(*) AS n
  FROM orders GROUP BY 1;
CREATE VIEW public.i_top AS
  SELECT id, ts - date_trunc('day', ts) AS tod FROM orders WHERE ts IS NOT NULL ORDER BY tod DESC, id LIMIT 5;
CREATE VIEW public.i_distinct AS
  SELECT qty * interval '1 day' AS x FROM orders UNION SELECT qty * interval '24 hours' FROM orders;
CREATE VIEW public.i_kinds AS
  SELECT id, ts + interval '1 mon' AS ts1, tz - interval '1 day 01:00' AS tz1, d + interval '1 mon -1 day' AS d1,
         d - interval 'P1Y' AS d2
  FROM kinds;
CREATE VIEW public.i_spans AS SELECT * FROM spans;
CREATE VIEW public.i_span_expr AS
  SELECT id, iv, -iv AS neg, iv * 1.5 AS more, iv / 4 AS quarter, at + iv AS ends, at - iv AS starts,
         justify_days(iv) AS jd, justify_hours(iv) AS jh, extract(epoch FROM iv) AS epoch,
         extract(day FROM iv) AS days, iv::text AS txt, iv = interval '1 day' AS is_day
  FROM spans;
CREATE VIEW public.i_span_groups AS
  SELECT grp, count(*) AS n, min(iv) AS lo, max(iv) AS hi, count(DISTINCT iv) AS nd, sum(iv) AS total, avg(iv) AS mean
  FROM spans GROUP BY grp;
CREATE VIEW public.i_span_by_iv AS
  SELECT iv, count(*) AS n FROM spans GROUP BY iv;
CREATE VIEW public.i_span_order AS
  SELECT id, iv FROM spans WHERE iv IS NOT NULL ORDER BY iv DESC, id LIMIT 4;
CREATE VIEW public.i_span_window AS
  SELECT id, iv, rank() OVER (PARTITION BY grp ORDER BY iv) AS rk FROM spans;
CREATE VIEW public.i_span_join AS
  SELECT a.id AS a, b.id AS b FROM spans a JOIN spans b ON a.iv = b.iv AND a.id < b.id;
CREATE VIEW public.t_typed AS SELECT * FROM typed;
CREATE VIEW public.t_domains AS
  SELECT id, p + 1 AS p1, m * 2 AS m2, amt::numeric(6,1) AS amt1, round(amt, 1) AS r, c || '!' AS cx, upper(c) AS cu,
         d + interval '1 day' AS d1, big / 7 AS b7, (m + amt)::numeric(8,2) AS mm, p::numeric(3,1) AS pn
  FROM typed WHERE c > 'a';
CREATE VIEW public.t_domain_groups AS
  SELECT c, count(*) AS n, sum(p) AS sp, sum(m) AS sm, avg(amt) AS aa, min(m) AS lo, max(d) AS hi, sum(big) AS sb
  FROM typed GROUP BY c;
CREATE VIEW public.t_domain_top AS
  SELECT id, m FROM typed WHERE m IS NOT NULL ORDER BY m DESC, id LIMIT 3;
CREATE VIEW public.t_domain_join AS
  SELECT t.id, s.id AS sid, s.iv, s.iv = t.d AS same, s.iv < t.d AS shorter FROM typed t JOIN spans s ON s.grp + 1 = t.p;
CREATE VIEW public.e_filter AS
  SELECT id, md, gm, md::text AS label, md > 'meh' AS above, md || '!' AS x FROM typed
  WHERE md BETWEEN 'zen' AND 'ok' OR md IN ('happy', 'meh');
CREATE VIEW public.e_groups AS
  SELECT c, count(*) AS n, min(md) AS lo, max(md) AS hi, count(DISTINCT md) AS nd FROM typed GROUP BY c;
CREATE VIEW public.e_by AS SELECT md, count(*) AS n FROM typed GROUP BY md;
CREATE VIEW public.e_top AS
  SELECT id, md FROM typed WHERE md IS NOT NULL ORDER BY md DESC, id LIMIT 4;
CREATE VIEW public.e_rank AS
  SELECT id, md, rank() OVER (ORDER BY md) AS rk, max(md) OVER (PARTITION BY c) AS cm FROM typed;
CREATE VIEW public.e_case AS
  SELECT id, CASE WHEN md < 'ok' THEN 'low' ELSE 'high' END AS lvl, coalesce(gm, 'ok') AS g,
         greatest(md, 'meh') AS gr FROM typed;
CREATE VIEW public.e_join AS
  SELECT a.id AS a, b.id AS b FROM typed a JOIN typed b ON a.md = b.md AND a.id < b.id;
CREATE VIEW public.i_span_open AS
  SELECT s.id, o.id AS oid FROM spans s JOIN orders o ON o.ts BETWEEN s.at AND s.at + s.iv;
`

func TestSQLTypes(t *testing.T) {
	sqlOracle{file: "types_views.sql", views: sqlIntervalViewSQL, txns: 600, shortTxns: 150, minViews: 28,
		schema: sqlTypesSchema, extra: typesTxn}.run(t)
}
