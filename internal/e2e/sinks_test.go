package e2e

import (
	"bytes"
	"context"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rippledb/ripple/cdc"
	"github.com/rippledb/ripple/internal/mysqltest"
	"github.com/rippledb/ripple/internal/natstest"
	"github.com/rippledb/ripple/internal/oracle"
	"github.com/rippledb/ripple/internal/pgcluster"
	"github.com/rippledb/ripple/internal/pgtest"
	"github.com/rippledb/ripple/internal/pipeline"
	"github.com/rippledb/ripple/internal/redistest"
	"github.com/rippledb/ripple/internal/row"
	"github.com/rippledb/ripple/planner"
	"github.com/rippledb/ripple/sink"
)

// keyedViews have a unique key, so every sink type can hold them (the redis
// sink stores rows by key).
const keyedViews = `
CREATE VIEW public.k_orders AS SELECT * FROM orders;
CREATE VIEW public.k_group AS SELECT cust, count(*) AS n, sum(qty) AS q, min(qty) AS lo, max(price) AS hi, avg(price) AS a FROM orders GROUP BY cust;
CREATE VIEW public.k_country AS
  SELECT c.country, count(*) AS n, sum(o.qty * p.cost) AS revenue
  FROM orders o JOIN customers c ON c.id = o.cust JOIN products p ON p.id = o.prod GROUP BY c.country;
CREATE VIEW public.k_distinct AS SELECT DISTINCT prod, flag FROM orders;
CREATE VIEW public.k_global AS SELECT count(*) AS n, sum(qty) AS q, max(d) AS last_d FROM orders;
CREATE VIEW public.k_arrays AS
  SELECT cust, array_agg(note ORDER BY note NULLS FIRST) AS notes, json_agg(id ORDER BY id) AS ids FROM orders GROUP BY cust;
`

// multisetViews have no unique key: duplicates must survive.
const multisetViews = `
CREATE VIEW public.m_join AS SELECT o.qty, c.name FROM orders o JOIN customers c ON c.id = o.cust;
CREATE VIEW public.m_events AS SELECT kind, n FROM events;
`

// sinkUnderTest is one configured sink and how the test reads it back.
type sinkUnderTest struct {
	name   string
	yaml   string // the sinks[] entry
	files  string // which view file it holds
	open   func() sink.Sink
	atStop bool // read back only once ripple is stopped (file-based)
}

// TestSinksCrash feeds every sink type from one pipeline (Postgres in
// another cluster, Redis, MariaDB, the change stream to a file and to NATS
// JetStream), kills ripple with SIGKILL at random points under a running
// workload, restarts it, and then checks every view in every sink against
// the view's SELECT on the source. The slot is acked only when every sink
// holds a transaction.
func TestSinksCrash(t *testing.T) {
	cycles := 3
	if testing.Short() {
		cycles = 2
	}
	sd := seed(t)
	t.Logf("seed %d", sd)
	rng := rand.New(rand.NewSource(sd))

	src := pgtest.Source(t)
	pgOther := pgtest.Start(t, pgcluster.Options{})
	pgtest.CreateDB(t, pgOther, "warehouse")
	redisAddr := redistest.Start(t)
	mysqlDSN := mysqltest.Start(t)
	natsURL := natstest.Start(t)
	dir := t.TempDir()
	streamPath := filepath.Join(dir, "changes.jsonl")
	pgtest.Exec(t, src, "app", oracleSchema)
	srcConn := connect(t, src, "app")
	w := newWorkload(rand.New(rand.NewSource(sd+1)), connect(t, src, "app"))
	for i := 0; i < 80; i++ {
		w.txn(t)
	}

	sinks := []sinkUnderTest{
		{name: "pg", files: "*.sql", yaml: fmt.Sprintf("type: postgres\n    dsn: %s", pgOther.DSN("warehouse")),
			open: func() sink.Sink {
				return sink.NewPostgres(sink.PostgresConfig{Name: "pg", DSN: pgOther.DSN("warehouse")})
			}},
		{name: "cache", files: "keyed.sql", yaml: fmt.Sprintf("type: redis\n    dsn: redis://%s/0\n    prefix: \"app:\"", redisAddr),
			open: func() sink.Sink {
				return sink.NewRedis(sink.RedisConfig{Name: "cache", DSN: "redis://" + redisAddr + "/0", Prefix: "app:"})
			}},
		{name: "dw", files: "*.sql", yaml: fmt.Sprintf("type: mysql\n    dsn: %q", mysqlDSN),
			open: func() sink.Sink { return sink.NewMySQL(sink.MySQLConfig{Name: "dw", DSN: mysqlDSN}) }},
		{name: "events", files: "*.sql", yaml: fmt.Sprintf("type: stream\n    path: %s\n    nats: %s", streamPath, natsURL), atStop: true,
			open: func() sink.Sink {
				return sink.NewStream(sink.StreamConfig{Name: "events", Path: streamPath, NATSURL: natsURL})
			}},
	}
	cfgPath := writeMultiSinkConfig(t, dir, src.DSN("app"), sinks)
	allViews := keyedViews + multisetViews

	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
			w.txn(t)
		}
	}()
	for cycle := 0; cycle < cycles; cycle++ {
		p := startRipple(t, "run", "--config", cfgPath)
		time.Sleep(time.Duration(800+rng.Intn(2500)) * time.Millisecond)
		select {
		case err := <-p.done:
			t.Fatalf("cycle %d: ripple exited early: %v\n%s", cycle, err, p.stderr)
		default:
		}
		_ = p.cmd.Process.Signal(syscall.SIGKILL)
		<-p.done
		t.Logf("cycle %d: killed", cycle)
	}
	p := startRipple(t, "run", "--config", cfgPath)
	close(stop)
	wg.Wait()
	if err := oracle.WaitCaughtUp(context.Background(), srcConn, "ripple", 60*time.Second); err != nil {
		t.Fatalf("%v\n%s", err, p.stderr)
	}
	ok := true
	check := func(atStop bool) {
		views := sinkViews(t, src.DSN("app"), allViews)
		keyed := sinkViews(t, src.DSN("app"), keyedViews)
		for _, s := range sinks {
			if s.atStop != atStop {
				continue
			}
			vs := views
			if s.files == "keyed.sql" {
				vs = keyed
			}
			ok = compareSink(t, srcConn, s, vs) && ok
		}
	}
	check(false)
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := <-p.done; err != nil {
		t.Fatalf("SIGTERM: %v\n%s", err, p.stderr)
	}
	check(true)
	if !ok {
		t.Fatalf("seed %d: a sink differs from its views", sd)
	}
	t.Logf("%d kill cycles, %d workload transactions committed, %d sinks checked", cycles, w.commits, len(sinks))
}

func writeMultiSinkConfig(t *testing.T, dir, srcDSN string, sinks []sinkUnderTest) string {
	t.Helper()
	vdir := filepath.Join(dir, "views")
	if err := os.MkdirAll(vdir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, text := range map[string]string{"keyed.sql": keyedViews, "multiset.sql": multisetViews} {
		if err := os.WriteFile(filepath.Join(vdir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "source:\n  dsn: %s\nsinks:\n", srcDSN)
	for _, s := range sinks {
		fmt.Fprintf(&b, "  - name: %s\n    %s\n", s.name, s.yaml)
	}
	b.WriteString("views:\n")
	for _, s := range sinks {
		fmt.Fprintf(&b, "  - files: [\"views/%s\"]\n    sink: %s\n", s.files, s.name)
	}
	b.WriteString("state_dir: ./state\n")
	path := filepath.Join(dir, "ripple.yaml")
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// sinkViews plans viewSQL against the source and returns the sink's view
// descriptions (names, columns, keys), as the pipeline gives them to sinks.
func sinkViews(t *testing.T, dsn, viewSQL string) []sink.View {
	t.Helper()
	ctx := context.Background()
	defs, err := planner.ParseViews("views.sql", viewSQL)
	if err != nil {
		t.Fatal(err)
	}
	src, err := cdc.Connect(ctx, cdc.Config{DSN: dsn})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close(ctx)
	plan, err := pipeline.Prepare(ctx, src, defs)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]sink.View, len(plan.Views))
	for i, v := range plan.Views {
		out[i] = sink.View{Name: v.Def.Name, Columns: v.Columns, Key: v.Key, Definition: v.Def.SQL}
	}
	return out
}

// compareSink opens a second instance of the sink, dumps every view and
// compares it with the view's SELECT on the source.
func compareSink(t *testing.T, src *pgx.Conn, s sinkUnderTest, views []sink.View) bool {
	t.Helper()
	ctx := context.Background()
	snk := s.open()
	if _, err := snk.Open(ctx, "ripple", views); err != nil {
		t.Fatalf("open sink %s for reading: %v", s.name, err)
	}
	defer snk.Close()
	d, ok := snk.(sink.Dumper)
	if !ok {
		t.Fatalf("sink %s cannot be read back", s.name)
	}
	equal := true
	for _, v := range views {
		var buf bytes.Buffer
		if err := d.Dump(ctx, v.Name, &buf); err != nil {
			t.Fatalf("dump %s from %s: %v", v.Name, s.name, err)
		}
		diff, err := oracle.CompareDump(ctx, src, oracle.View{Name: v.Name, Query: queryOf(t, v), Columns: v.Columns}, &buf)
		if err != nil {
			t.Fatalf("compare %s in %s: %v", v.Name, s.name, err)
		}
		if !diff.Equal() {
			equal = false
			t.Errorf("sink %s: %s", s.name, diff)
		}
	}
	return equal
}

// queryOf recovers the view's SELECT from its definition.
func queryOf(t *testing.T, v sink.View) string {
	t.Helper()
	defs, err := planner.ParseViews("v.sql", v.Definition)
	if err != nil || len(defs) != 1 {
		t.Fatalf("re-parse %s: %v", v.Name, err)
	}
	return defs[0].Query
}

// TestSinksOracle runs the oracle workload through one in-process pipeline
// feeding every sink type and compares every view in every sink with the
// view's SELECT on the source after each quiet point (the change stream,
// read back by replaying its file, at the end).
func TestSinksOracle(t *testing.T) {
	txns := 800
	if testing.Short() {
		txns = 200
	}
	sd := seed(t)
	t.Logf("seed %d, %d transactions", sd, txns)
	src := pgtest.Source(t)
	redisAddr := redistest.Start(t)
	mysqlDSN := mysqltest.Start(t)
	pgtest.CreateDB(t, src, "warehouse")
	streamPath := filepath.Join(t.TempDir(), "changes.jsonl")
	pgtest.Exec(t, src, "app", oracleSchema)
	srcConn := connect(t, src, "app")
	w := newWorkload(rand.New(rand.NewSource(sd)), connect(t, src, "app"))
	for i := 0; i < 50; i++ {
		w.txn(t)
	}
	sinks := []sinkUnderTest{
		{name: "pg", files: "*.sql", open: func() sink.Sink { return sink.NewPostgres(sink.PostgresConfig{Name: "pg", DSN: src.DSN("warehouse")}) }},
		{name: "cache", files: "keyed.sql", open: func() sink.Sink {
			return sink.NewRedis(sink.RedisConfig{Name: "cache", DSN: "redis://" + redisAddr + "/0"})
		}},
		{name: "dw", files: "*.sql", open: func() sink.Sink { return sink.NewMySQL(sink.MySQLConfig{Name: "dw", DSN: mysqlDSN}) }},
		{name: "events", files: "*.sql", atStop: true, open: func() sink.Sink { return sink.NewStream(sink.StreamConfig{Name: "events", Path: streamPath}) }},
	}
	allViews := keyedViews + multisetViews
	defs, err := planner.ParseViews("views.sql", allViews)
	if err != nil {
		t.Fatal(err)
	}
	keyedDefs, _ := planner.ParseViews("keyed.sql", keyedViews)
	var all, keyed []row.TableName
	for _, d := range defs {
		all = append(all, d.Name)
	}
	for _, d := range keyedDefs {
		keyed = append(keyed, d.Name)
	}
	var targets []pipeline.Target
	for _, s := range sinks {
		names := all
		if s.files == "keyed.sql" {
			names = keyed
		}
		targets = append(targets, pipeline.Target{Sink: s.open(), Views: names})
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		// Parts of 3 changes: most multi-row transactions arrive in parts,
		// gathered for the change stream, which cannot take a step in
		// parts, and streamed into the Postgres, MariaDB and Redis sinks.
		done <- pipeline.Run(ctx, pipeline.Config{Source: cdc.Config{DSN: src.DSN("app"), Slot: "ripple", Publication: "ripple", PartChanges: 3},
			Views: defs, Targets: targets})
	}()
	views := sinkViews(t, src.DSN("app"), allViews)
	keyedViewsDesc := sinkViews(t, src.DSN("app"), keyedViews)
	check := func(atStop bool, when string) {
		t.Helper()
		for _, s := range sinks {
			if s.atStop != atStop {
				continue
			}
			vs := views
			if s.files == "keyed.sql" {
				vs = keyedViewsDesc
			}
			if !compareSink(t, srcConn, s, vs) {
				t.Fatalf("seed %d: sink %s differs %s", sd, s.name, when)
			}
		}
	}
	for i := 1; i <= txns; i++ {
		w.txn(t)
		if i%(txns/4) == 0 {
			select {
			case err := <-done:
				t.Fatalf("pipeline stopped: %v", err)
			default:
			}
			if err := oracle.WaitCaughtUp(ctx, srcConn, "ripple", 60*time.Second); err != nil {
				t.Fatal(err)
			}
			check(false, fmt.Sprintf("after %d transactions", i))
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("pipeline: %v", err)
	}
	check(true, "at the end")
	t.Logf("%d sinks equal to their views after %d transactions (%d committed)", len(sinks), txns, w.commits)
}
