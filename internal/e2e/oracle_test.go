package e2e

import (
	"context"
	"fmt"
	"math/rand"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rippledb/ripple/cdc"
	"github.com/rippledb/ripple/internal/pgcluster"
	"github.com/rippledb/ripple/internal/pgtest"
	"github.com/rippledb/ripple/internal/pipeline"
	"github.com/rippledb/ripple/internal/row"
	"github.com/rippledb/ripple/planner"
	"github.com/rippledb/ripple/sink"
)

const oracleSchema = `
CREATE TABLE orders (
  id int PRIMARY KEY, cust int, prod int, qty int, price numeric(10,2), note text,
  flag bool, d date, ts timestamptz, f float8
);
CREATE TABLE customers (id int PRIMARY KEY, name text, country text, vip bool);
CREATE TABLE products (id int PRIMARY KEY, name varchar(20), cat text, cost numeric);
CREATE TABLE stock (prod int PRIMARY KEY, stock int);
CREATE TABLE events (kind text, n int, payload jsonb);
ALTER TABLE events REPLICA IDENTITY FULL;
CREATE TABLE kinds (
  id int PRIMARY KEY, i2 int2, i8 int8, f4 float4, f8 float8, n numeric, b bool, t text,
  vc varchar(12), c char(5), d date, ts timestamp, tz timestamptz, u uuid, j json, jb jsonb, by bytea
);
`

// oracleViewSQL covers every construct of the foundation issue: filters and
// projections with expressions, CASE/COALESCE/IN/BETWEEN/LIKE/casts, inner
// joins of two and three tables (ON, USING, comma joins, self-join),
// GROUP BY with every aggregate (incl. min/max under deletion), aggregates
// without GROUP BY, HAVING, DISTINCT, UNION ALL, a keyless multiset table
// with duplicates, and every supported type.
const oracleViewSQL = `
CREATE VIEW public.v_ident AS SELECT * FROM orders;
CREATE VIEW public.v_filter AS
  SELECT id, qty * 2 AS q2, price * qty AS total, -qty AS neg, qty / 3 AS third, qty % 3 AS rest
  FROM orders WHERE qty > 3 AND note IS NOT NULL;
CREATE VIEW public.v_case AS
  SELECT id, CASE WHEN qty IS NULL THEN 'none' WHEN qty < 5 THEN 'small' ELSE 'big' END AS size,
         COALESCE(note, '-') AS note, NOT flag AS nflag, flag OR qty > 8 AS tri
  FROM orders;
CREATE VIEW public.v_in_between AS
  SELECT id, cust, qty FROM orders
  WHERE cust IN (1, 2, 3) OR qty BETWEEN 2 AND 4 OR prod NOT IN (1, 2, 3, 4, 5, 6);
CREATE VIEW public.v_like AS
  SELECT id, note, note || '!' AS shout FROM orders WHERE note LIKE 'a%' OR note LIKE '%z_';
CREATE VIEW public.v_casts AS
  SELECT id, qty::text AS qtext, price::int AS pint, qty::numeric(8,1) AS qnum, d::timestamp AS dts,
         CAST(cust AS bigint) AS cbig, f::numeric(20,3) AS fnum
  FROM orders WHERE f IS NULL OR abs(f) < 1e9;
CREATE VIEW public.v_join2 AS
  SELECT o.id, c.name, o.qty FROM orders o JOIN customers c ON c.id = o.cust;
CREATE VIEW public.v_join3 AS
  SELECT o.id, c.country, p.cat, o.qty, p.cost FROM orders o
  JOIN customers c ON c.id = o.cust JOIN products p ON p.id = o.prod AND p.cat <> 'x';
CREATE VIEW public.v_using AS
  SELECT prod, qty, stock FROM orders JOIN stock USING (prod);
CREATE VIEW public.v_comma AS
  SELECT o.id, p.name FROM orders o, products p WHERE o.prod = p.id AND o.qty > 1;
CREATE VIEW public.v_self AS
  SELECT a.id, b.id AS other FROM orders a JOIN orders b ON a.prod = b.prod AND a.id < b.id WHERE a.cust = 1;
CREATE VIEW public.v_group AS
  SELECT cust, count(*), count(qty) AS nq, sum(qty), avg(qty), min(qty), max(qty) FROM orders GROUP BY cust;
CREATE VIEW public.v_group_num AS
  SELECT cust, sum(price) AS s, avg(price) AS a, min(price) AS lo, max(price) AS hi, max(d) AS last_d, min(ts) AS first_ts
  FROM orders GROUP BY cust;
CREATE VIEW public.v_group_join AS
  SELECT c.country, count(*) AS n, sum(o.qty * p.cost) AS revenue, max(o.note) AS note
  FROM orders o JOIN customers c ON c.id = o.cust JOIN products p ON p.id = o.prod
  GROUP BY c.country;
CREATE VIEW public.v_group_expr AS
  SELECT qty % 4 AS bucket, flag, count(*) AS n, sum(price) AS total FROM orders GROUP BY qty % 4, flag;
CREATE VIEW public.v_global AS
  SELECT count(*) AS n, count(note) AS notes, sum(qty) AS q, min(note) AS first_note, max(d) AS last_d, avg(price) AS avg_price
  FROM orders;
CREATE VIEW public.v_having AS
  SELECT prod, count(*) AS n, sum(qty) AS q FROM orders GROUP BY prod HAVING count(*) > 2;
CREATE VIEW public.v_distinct AS SELECT DISTINCT cust, flag FROM orders;
CREATE VIEW public.v_union AS
  SELECT id, note FROM orders WHERE qty > 5
  UNION ALL SELECT id, name FROM customers WHERE vip
  UNION ALL SELECT prod, NULL FROM stock WHERE stock < 3;
CREATE VIEW public.v_events AS SELECT kind, count(*) AS n, sum(n) AS total FROM events GROUP BY kind;
CREATE VIEW public.v_events_all AS SELECT kind, n, payload FROM events WHERE n IS NULL OR n > 2;
CREATE VIEW public.v_kinds AS SELECT * FROM kinds;
CREATE MATERIALIZED VIEW public.v_kinds_expr AS
  SELECT id, i2 + 1 AS i2p, i8 / 2 AS i8x, n * 3 AS n3, t || vc AS tv, length(c) AS clen,
         d + 1 AS tomorrow, jb, jb IS NULL AS nojb, u IS NULL AS nou
  FROM kinds WHERE b OR b IS NULL;
`

// TestOracle runs a seeded random workload against every view and, after
// every quiet point, checks that each sink table equals its view's SELECT
// on the source as a multiset. Sinks: a separate cluster and another
// database of the source cluster. ripple's copies of the source tables and
// the graph's join arrangements are kept on disk (table_memory 0,
// operator_memory 0), and transactions of more than 7 changes
// arrive in parts.
func TestOracle(t *testing.T) {
	txns := 2000
	if testing.Short() {
		txns = 400
	}
	if s := os.Getenv("RIPPLE_ORACLE_TXNS"); s != "" {
		txns, _ = strconv.Atoi(s)
	}
	sd := seed(t)
	t.Logf("seed %d (replay with RIPPLE_SEED=%d), %d transactions", sd, sd, txns)
	rng := rand.New(rand.NewSource(sd))

	src := pgtest.Source(t)
	pgtest.CreateDB(t, src, "sinkdb")
	other := pgtest.Start(t, pgcluster.Options{})
	pgtest.CreateDB(t, other, "warehouse")
	pgtest.Exec(t, src, "app", oracleSchema)
	srcConn := connect(t, src, "app")
	w := newWorkload(rng, srcConn)
	for i := 0; i < 60; i++ { // initial contents, taken by the snapshot
		w.txn(t)
	}

	defs, err := planner.ParseViews("views.sql", oracleViewSQL)
	if err != nil {
		t.Fatal(err)
	}
	names := make([]row.TableName, len(defs))
	for i, d := range defs {
		names[i] = d.Name
	}
	if len(defs) < 15 {
		t.Fatalf("only %d views", len(defs))
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- pipeline.Run(ctx, pipeline.Config{
			// Parts of 7 changes: the larger transactions go through in parts.
			Source: cdc.Config{DSN: src.DSN("app"), Slot: "ripple", Publication: "ripple", PartChanges: 7},
			Views:  defs,
			Targets: []pipeline.Target{
				{Sink: sink.NewPostgres(sink.PostgresConfig{Name: "same-cluster", DSN: src.DSN("sinkdb")}), Views: names},
				{Sink: sink.NewPostgres(sink.PostgresConfig{Name: "other-cluster", DSN: other.DSN("warehouse")}), Views: names},
			},
			QueueSize: 16,
			// Durable state with every table copy on disk: the other
			// oracle tests keep them in memory.
			StateDir: t.TempDir(), TableMemory: -1, OperatorMemory: -1,
		})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("pipeline: %v", err)
		}
	})

	views := oracleViews(t, srcConn, oracleViewSQL)
	sinks := map[string]*pgx.Conn{"same-cluster": connect(t, src, "sinkdb"), "other-cluster": connect(t, other, "warehouse")}
	waitLoaded(t, sinks["other-cluster"], done)
	if !checkAll(t, srcConn, "ripple", sinks, views, "after initial load") {
		t.Fatalf("seed %d: sinks differ after the initial load", sd)
	}
	quiet := txns / 8
	for i := 1; i <= txns; i++ {
		w.txn(t)
		if i%quiet == 0 || i == txns {
			select {
			case err := <-done:
				t.Fatalf("seed %d: pipeline stopped: %v", sd, err)
			default:
			}
			if !checkAll(t, srcConn, "ripple", sinks, views, fmt.Sprintf("after %d transactions", i)) {
				t.Fatalf("seed %d: sinks differ from views after %d transactions", sd, i)
			}
		}
	}
	t.Logf("%d views x 2 sinks equal after %d transactions (%d committed, %d rolled back, %d truncates)",
		len(views), txns, w.commits, w.rollbacks, w.truncates)
}

// waitLoaded waits until the initial load created the sink tables.
func waitLoaded(t *testing.T, snk *pgx.Conn, done chan error) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		var n int
		_ = snk.QueryRow(context.Background(), "SELECT count(*) FROM ripple.progress").Scan(&n)
		if n > 0 {
			return
		}
		select {
		case err := <-done:
			done <- err // for the cleanup that waits for the pipeline
			t.Fatalf("pipeline stopped before the initial load: %v", err)
		case <-time.After(50 * time.Millisecond):
		}
	}
	t.Fatal("initial load did not finish in 60s")
}

// workload generates random transactions over the oracle schema.
type workload struct {
	rng                           *rand.Rand
	conn                          *pgx.Conn
	nextID                        int
	commits, rollbacks, truncates int
}

func newWorkload(rng *rand.Rand, conn *pgx.Conn) *workload {
	return &workload{rng: rng, conn: conn, nextID: 1}
}

// maybe returns v, or nil with probability p (NULL-heavy data).
func (w *workload) maybe(p float64, v any) any {
	if w.rng.Float64() < p {
		return nil
	}
	return v
}

func (w *workload) note() any {
	notes := []string{"apple", "az", "bz1", "zeta", "", "a", "Anna", "qzx", "abc\tdef", "back\\slash", "ümlaut"}
	return w.maybe(0.25, notes[w.rng.Intn(len(notes))])
}

func (w *workload) orderValues() []any {
	r := w.rng
	return []any{
		w.maybe(0.1, 1+r.Intn(12)), w.maybe(0.1, 1+r.Intn(10)), w.maybe(0.15, r.Intn(11)),
		w.maybe(0.15, fmt.Sprintf("%d.%02d", r.Intn(500), r.Intn(100))), w.note(), w.maybe(0.2, r.Intn(2) == 0),
		w.maybe(0.2, fmt.Sprintf("2024-%02d-%02d", 1+r.Intn(12), 1+r.Intn(28))),
		w.maybe(0.2, fmt.Sprintf("2024-03-%02d %02d:%02d:%02d.%03d+00", 1+r.Intn(28), r.Intn(24), r.Intn(60), r.Intn(60), r.Intn(1000))),
		w.maybe(0.2, []any{0.1 + 0.2, -0.0, 1e300, r.Float64() * 1000, float64(r.Intn(100))}[r.Intn(5)]),
	}
}

var kindValues = struct{ i2, i8, f4, n, t, vc, c, d, ts, tz, u, j, jb, by []any }{
	i2: []any{int16(-32768), int16(32766), int16(0), int16(7)},
	i8: []any{int64(-9223372036854775807), int64(1) << 40, int64(0), int64(42)},
	f4: []any{float32(0.1), float32(3.4e38), float32(-1.5), float32(1234567)},
	n:  []any{"0.1", "123456789012345678901234567890.123456789", "-0.000001", "NaN", "42", "1.50"},
	t:  []any{"plain", "with\ttab", "new\nline", "quote'\"", `back\slash`, "", "ünï©ødé"},
	vc: []any{"short", "twelve chars", ""},
	c:  []any{"ab", "abcde", ""},
	d:  []any{"2024-02-29", "0044-03-15 BC", "infinity", "-infinity", "1999-12-31"},
	ts: []any{"2024-03-31 01:30:00", "2000-01-01 00:00:00.000001", "infinity", "1900-06-15 12:34:56.5"},
	tz: []any{"2024-03-31 01:30:00+02", "1970-01-01 00:00:00+00", "-infinity", "2030-12-31 23:59:59.999999+00"},
	u:  []any{"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "00000000-0000-0000-0000-000000000000"},
	j:  []any{`{"b": 1, "a": [1, 2.50]}`, `[]`, `"str"`, `{"a":1,  "a":2}`},
	jb: []any{`{"b": 1, "a": [1, 2.50]}`, `{}`, `null`, `[1, "x", {"k": true}]`},
	by: []any{[]byte{0xde, 0xad, 0xbe, 0xef}, []byte{}, []byte{0, '\\', '\t', '\n', 0xff}},
}

func (w *workload) pick(vals []any) any { return w.maybe(0.2, vals[w.rng.Intn(len(vals))]) }

func (w *workload) kindsValues() []any {
	k := kindValues
	return []any{w.pick(k.i2), w.pick(k.i8), w.pick(k.f4), w.pick([]any{0.30000000000000004, -1e-300, 2.5}),
		w.pick(k.n), w.maybe(0.2, w.rng.Intn(2) == 0), w.pick(k.t), w.pick(k.vc), w.pick(k.c), w.pick(k.d),
		w.pick(k.ts), w.pick(k.tz), w.pick(k.u), w.pick(k.j), w.pick(k.jb), w.pick(k.by)}
}

// op runs one random statement inside tx.
func (w *workload) op(ctx context.Context, tx pgx.Tx) error {
	r := w.rng
	var err error
	switch p := r.Intn(100); {
	case p < 30: // insert an order
		id := w.nextID
		w.nextID++
		_, err = tx.Exec(ctx, "INSERT INTO orders VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)", append([]any{id}, w.orderValues()...)...)
	case p < 45: // update some columns of an order
		v := w.orderValues()
		_, err = tx.Exec(ctx, "UPDATE orders SET qty = $2, price = $3, note = $4 WHERE id = (SELECT id FROM orders ORDER BY md5(id::text || ($1::int)::text) LIMIT 1)", r.Intn(1000), v[2], v[3], v[4])
	case p < 50: // move an order to another customer/product
		_, err = tx.Exec(ctx, "UPDATE orders SET cust = $2, prod = $3 WHERE id = (SELECT id FROM orders ORDER BY md5(id::text || ($1::int)::text) LIMIT 1)", r.Intn(1000), 1+r.Intn(12), 1+r.Intn(10))
	case p < 54: // change a primary key
		id := w.nextID
		w.nextID++
		_, err = tx.Exec(ctx, "UPDATE orders SET id = $2 WHERE id = (SELECT id FROM orders ORDER BY md5(id::text || ($1::int)::text) LIMIT 1)", r.Intn(1000), id)
	case p < 64: // delete orders
		_, err = tx.Exec(ctx, "DELETE FROM orders WHERE id IN (SELECT id FROM orders ORDER BY md5(id::text || ($1::int)::text) LIMIT $2)", r.Intn(1000), 1+r.Intn(2))
	case p < 70: // customers
		id := 1 + r.Intn(12)
		_, err = tx.Exec(ctx, "INSERT INTO customers VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, country = EXCLUDED.country, vip = EXCLUDED.vip",
			id, w.maybe(0.1, fmt.Sprintf("cust%d", r.Intn(30))), w.maybe(0.1, []string{"DE", "FR", "US"}[r.Intn(3)]), w.maybe(0.2, r.Intn(2) == 0))
	case p < 72:
		_, err = tx.Exec(ctx, "DELETE FROM customers WHERE id = $1", 1+r.Intn(12))
	case p < 78: // products and stock
		id := 1 + r.Intn(10)
		_, err = tx.Exec(ctx, "INSERT INTO products VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO UPDATE SET cat = EXCLUDED.cat, cost = EXCLUDED.cost",
			id, fmt.Sprintf("prod%d", id), w.maybe(0.1, []string{"a", "b", "x"}[r.Intn(3)]), w.maybe(0.1, fmt.Sprintf("%d.%d", r.Intn(50), r.Intn(1000))))
		if err == nil {
			_, err = tx.Exec(ctx, "INSERT INTO stock VALUES ($1, $2) ON CONFLICT (prod) DO UPDATE SET stock = EXCLUDED.stock", id, w.maybe(0.1, r.Intn(10)))
		}
	case p < 80:
		_, err = tx.Exec(ctx, "DELETE FROM stock WHERE prod = $1", 1+r.Intn(10))
	case p < 88: // events: a multiset with duplicates
		_, err = tx.Exec(ctx, "INSERT INTO events SELECT $1, $2, $3::jsonb FROM generate_series(1, $4)",
			w.maybe(0.1, []string{"click", "view", "buy"}[r.Intn(3)]), w.maybe(0.2, r.Intn(5)), w.maybe(0.3, `{"x": 1}`), 1+r.Intn(3))
	case p < 92: // delete one of several duplicates, or update one
		if r.Intn(2) == 0 {
			_, err = tx.Exec(ctx, "DELETE FROM events WHERE ctid = (SELECT ctid FROM events ORDER BY md5(ctid::text || ($1::int)::text) LIMIT 1)", r.Intn(1000))
		} else {
			_, err = tx.Exec(ctx, "UPDATE events SET n = coalesce(n, 0) + 1 WHERE ctid = (SELECT ctid FROM events ORDER BY md5(ctid::text || ($1::int)::text) LIMIT 1)", r.Intn(1000))
		}
	case p < 93:
		w.truncates++
		_, err = tx.Exec(ctx, "TRUNCATE events")
	default: // every type
		id := r.Intn(15)
		_, err = tx.Exec(ctx, "INSERT INTO kinds VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17) ON CONFLICT (id) DO UPDATE SET "+
			"i2=EXCLUDED.i2, i8=EXCLUDED.i8, f4=EXCLUDED.f4, f8=EXCLUDED.f8, n=EXCLUDED.n, b=EXCLUDED.b, t=EXCLUDED.t, vc=EXCLUDED.vc, c=EXCLUDED.c, "+
			"d=EXCLUDED.d, ts=EXCLUDED.ts, tz=EXCLUDED.tz, u=EXCLUDED.u, j=EXCLUDED.j, jb=EXCLUDED.jb, by=EXCLUDED.by",
			append([]any{id}, w.kindsValues()...)...)
		if err == nil && r.Intn(4) == 0 {
			_, err = tx.Exec(ctx, "DELETE FROM kinds WHERE id = $1", r.Intn(15))
		}
	}
	return err
}

// txn runs one random transaction: several statements, sometimes a
// rolled-back savepoint, sometimes rolled back entirely.
func (w *workload) txn(t *testing.T) {
	t.Helper()
	if err := w.try(context.Background()); err != nil {
		t.Fatalf("workload: %v", err)
	}
}

// try runs one random transaction; a failed one is rolled back and its
// error returned (the fault tests expect some while a server restarts).
func (w *workload) try(ctx context.Context) error {
	tx, err := w.conn.Begin(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback(ctx) }() // no-op after Commit
	n := 1 + w.rng.Intn(5)
	for i := 0; i < n; i++ {
		if w.rng.Intn(15) == 0 {
			sp, err := tx.Begin(ctx) // SAVEPOINT
			if err != nil {
				return err
			}
			if err := w.op(ctx, sp); err != nil {
				return err
			}
			if err := sp.Rollback(ctx); err != nil { // ROLLBACK TO SAVEPOINT
				return err
			}
			continue
		}
		if err := w.op(ctx, tx); err != nil {
			if strings.Contains(err.Error(), "duplicate key") {
				w.rollbacks++
				return nil
			}
			return err
		}
	}
	if w.rng.Intn(12) == 0 {
		w.rollbacks++
		return tx.Rollback(ctx)
	}
	if err := tx.Commit(ctx); err != nil {
		return err
	}
	w.commits++
	return nil
}
