package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rippledb/ripple/cdc"
	"github.com/rippledb/ripple/internal/pgcluster"
	"github.com/rippledb/ripple/internal/pgtest"
	"github.com/rippledb/ripple/internal/pipeline"
	"github.com/rippledb/ripple/sink"
)

const opsSchema = `
CREATE TABLE customers (id int PRIMARY KEY, name text NOT NULL, country text);
CREATE TABLE orders (id int PRIMARY KEY, customer_id int, qty int, note text);
INSERT INTO customers SELECT g, 'customer ' || g, (ARRAY['DE','FR','US'])[1 + g % 3] FROM generate_series(1, 30) g;
INSERT INTO orders SELECT g, 1 + g % 30, g % 7, CASE WHEN g % 5 = 0 THEN NULL ELSE 'note, "' || g || '"' END FROM generate_series(1, 300) g;
`

const opsViews = `
CREATE VIEW public.order_names AS
  SELECT o.id, c.name, o.qty, o.note FROM orders o JOIN customers c ON c.id = o.customer_id;
CREATE VIEW public.by_country AS
  SELECT c.country, count(*) AS n, sum(o.qty) AS qty FROM orders o JOIN customers c ON c.id = o.customer_id GROUP BY c.country;
CREATE VIEW public.qtys AS SELECT qty, note FROM orders WHERE qty > 4;
`

// opsConfig writes a config (and its views file) for a source database and
// Postgres sinks (name → DSN) and returns its path.
func opsConfig(t *testing.T, srcDSN string, sinks map[string]string, views string) string {
	t.Helper()
	dir := t.TempDir()
	writeFile(t, dir, "views/views.sql", views)
	var b strings.Builder
	fmt.Fprintf(&b, "source:\n  dsn: %s\nsinks:\n", srcDSN)
	var names []string
	for name, dsn := range sinks {
		fmt.Fprintf(&b, "  - name: %s\n    type: postgres\n    dsn: %s\n", name, dsn)
		names = append(names, name)
	}
	b.WriteString("views:\n")
	for _, name := range names {
		fmt.Fprintf(&b, "  - files: [\"views/*.sql\"]\n    sink: %s\n", name)
	}
	fmt.Fprintf(&b, "state_dir: %s\nhttp: \"\"\n", filepath.Join(dir, "state"))
	return writeFile(t, dir, "ripple.yaml", b.String())
}

// startPipeline runs the pipeline of the config at path in-process until
// the test ends, and waits for the initial load.
func startPipeline(t *testing.T, path string) (*Config, func()) {
	t.Helper()
	cfg, err := loadConfig(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defs, bySink, err := cfg.loadViews()
	if err != nil {
		t.Fatal(err)
	}
	var targets []pipeline.Target
	for _, sc := range cfg.Sinks {
		targets = append(targets, pipeline.Target{Sink: sink.NewPostgres(sink.PostgresConfig{Name: sc.Name, DSN: sc.DSN}), Views: bySink[sc.Name]})
	}
	ctx, cancel := context.WithCancel(context.Background())
	loaded := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- pipeline.Run(ctx, pipeline.Config{
			Source: cdc.Config{DSN: cfg.Source.DSN, Slot: cfg.Source.Slot, Publication: cfg.Source.Publication},
			Views:  defs, Targets: targets,
			OnStep: func(s pipeline.StepInfo) {
				if s.Initial {
					close(loaded)
				}
			},
		})
	}()
	select {
	case <-loaded:
	case err := <-done:
		t.Fatalf("pipeline stopped before the initial load: %v", err)
	case <-time.After(60 * time.Second):
		t.Fatal("no initial load within 60s")
	}
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("pipeline: %v", err)
		}
	}
	t.Cleanup(stop)
	return cfg, stop
}

// sourceObjects counts the replication slots and publications of db.
func sourceObjects(t *testing.T, c *pgcluster.Cluster, db string) (slots, pubs int) {
	t.Helper()
	conn := pgtest.Connect(t, c, db)
	if err := conn.QueryRow(context.Background(),
		"SELECT (SELECT count(*) FROM pg_replication_slots), (SELECT count(*) FROM pg_publication)").Scan(&slots, &pubs); err != nil {
		t.Fatal(err)
	}
	return slots, pubs
}

func wantLines(t *testing.T, out string, lines ...string) {
	t.Helper()
	for _, l := range lines {
		if !strings.Contains(out, l) {
			t.Errorf("output lacks %q:\n%s", l, out)
		}
	}
}

func TestCheckGoodSetup(t *testing.T) {
	src := pgtest.Source(t)
	pgtest.CreateDB(t, src, "sinkdb")
	pgtest.Exec(t, src, "app", opsSchema)
	path := opsConfig(t, src.DSN("app"), map[string]string{"main": src.DSN("sinkdb")}, opsViews)

	var out bytes.Buffer
	if err := runCheck(context.Background(), &out, path, nil, false); err != nil {
		t.Fatalf("check: %v\n%s", err, out.String())
	}
	t.Log("\n" + out.String())
	wantLines(t, out.String(),
		"ok    source: wal_level = logical",
		"ok    slot ripple: does not exist yet",
		"ok    publication ripple: does not exist yet",
		"ok    table public.orders: REPLICA IDENTITY DEFAULT, primary key (id)",
		"ok    view public.by_country: maintainable:",
		"Reduce",
		"ok    sink main: connected",
		"all checks passed")
	if strings.Contains(out.String(), "FAIL") || strings.Contains(out.String(), "warn ") {
		t.Errorf("problems reported on a good setup")
	}
	if s, p := sourceObjects(t, src, "app"); s != 0 || p != 0 {
		t.Errorf("check created %d slots and %d publications", s, p)
	}
	// Through cobra too: flags reach the config.
	cmd := newCheckCmd()
	out.Reset()
	cmd.SetOut(&out)
	cmd.SetArgs([]string{"--config", path, "--slot", "other_slot"})
	if err := cmd.ExecuteContext(context.Background()); err != nil {
		t.Fatalf("check command: %v\n%s", err, out.String())
	}
	wantLines(t, out.String(), "slot other_slot: does not exist yet")
}

// TestCheckReportsEveryProblem: a source that cannot replicate, a keyless
// table, a refused view and an unreachable sink are all reported in one
// run, and nothing is created.
func TestCheckReportsEveryProblem(t *testing.T) {
	src := pgtest.Start(t, pgcluster.Options{WalLevel: "replica"})
	pgtest.CreateDB(t, src, "app")
	pgtest.Exec(t, src, "app", opsSchema+"CREATE TABLE logs (at timestamptz, msg text);")
	port, err := pgcluster.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	views := opsViews + `
CREATE VIEW public.messages AS SELECT msg, count(*) AS n FROM logs GROUP BY msg;
CREATE VIEW public.ranked AS SELECT id, row_number() OVER (ORDER BY qty) AS r FROM orders;
`
	path := opsConfig(t, src.DSN("app"), map[string]string{"gone": fmt.Sprintf("postgres://postgres@127.0.0.1:%d/nope?sslmode=disable&connect_timeout=5", port)}, views)

	var out bytes.Buffer
	err = runCheck(context.Background(), &out, path, nil, false)
	t.Log("\n" + out.String())
	if !errors.Is(err, errChecksFailed) {
		t.Fatalf("check returned %v, want errChecksFailed", err)
	}
	wantLines(t, out.String(),
		"FAIL  source: wal_level is 'replica'",
		"warn  table public.logs: REPLICA IDENTITY DEFAULT without a primary key",
		"FAIL  view public.ranked: refused:",
		"window",
		"ok    view public.messages: maintainable",
		"ok    view public.order_names: maintainable",
		"FAIL  sink gone: connect:",
		"3 failed, 1 warnings")
	if s, p := sourceObjects(t, src, "app"); s != 0 || p != 0 {
		t.Errorf("check created %d slots and %d publications", s, p)
	}

	// With only the warning left, --allow-warnings passes.
	src2 := pgtest.Source(t)
	pgtest.CreateDB(t, src2, "sinkdb")
	pgtest.Exec(t, src2, "app", "CREATE TABLE logs (at timestamptz, msg text);")
	path = opsConfig(t, src2.DSN("app"), map[string]string{"main": src2.DSN("sinkdb")}, "CREATE VIEW public.messages AS SELECT msg, count(*) AS n FROM logs GROUP BY msg;")
	out.Reset()
	if err := runCheck(context.Background(), &out, path, nil, false); !errors.Is(err, errChecksFailed) {
		t.Errorf("a warning passed without --allow-warnings: %v", err)
	}
	out.Reset()
	if err := runCheck(context.Background(), &out, path, nil, true); err != nil {
		t.Errorf("--allow-warnings: %v\n%s", err, out.String())
	}
}

func TestCheckForeignSinkTable(t *testing.T) {
	src := pgtest.Source(t)
	pgtest.CreateDB(t, src, "sinkdb")
	pgtest.Exec(t, src, "app", opsSchema)
	pgtest.Exec(t, src, "sinkdb", "CREATE TABLE public.qtys (x int)")
	path := opsConfig(t, src.DSN("app"), map[string]string{"main": src.DSN("sinkdb")}, opsViews)
	var out bytes.Buffer
	err := runCheck(context.Background(), &out, path, nil, false)
	if !errors.Is(err, errChecksFailed) {
		t.Fatalf("check returned %v", err)
	}
	wantLines(t, out.String(), `FAIL  sink main: table public.qtys exists and was not created by ripple pipeline "ripple"`)
}
