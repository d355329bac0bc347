package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rippledb/ripple/internal/pgcluster"
	"github.com/rippledb/ripple/internal/pgtest"
)

// runRipple runs the binary to completion and returns its exit code and
// combined output.
func runRipple(t *testing.T, env []string, args ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, rippleBinary(t), args...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("ripple %v did not finish in 5 minutes:\n%s", args, out)
	}
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return code, string(out)
}

// TestBadInput checks that every kind of bad input gets a clear error that
// names the problem, a non-zero exit code, and that nothing was created on
// the source (no slot, no publication) or the sink (no tables).
func TestBadInput(t *testing.T) {
	src := pgtest.Source(t)
	pgtest.CreateDB(t, src, "warehouse")
	pgtest.Exec(t, src, "app", `CREATE TABLE orders (id int PRIMARY KEY, cust int, qty int, note text);
		CREATE TABLE customers (id int PRIMARY KEY, name text);
		CREATE ROLE norepl LOGIN;
		GRANT SELECT ON ALL TABLES IN SCHEMA public TO norepl;
		CREATE ROLE ripple_pw LOGIN REPLICATION PASSWORD 'right';`)
	replica := pgtest.Start(t, pgcluster.Options{WalLevel: "replica"})
	pgtest.CreateDB(t, replica, "app")
	pgtest.Exec(t, replica, "app", "CREATE TABLE orders (id int PRIMARY KEY, qty int)")
	srcConn := connect(t, src, "app")
	sinkConn := connect(t, src, "warehouse")
	freePort, _ := pgcluster.FreePort()

	good := "CREATE VIEW public.ok AS SELECT id, qty FROM orders;\n"
	cases := []struct {
		name   string
		views  string
		dsn    string // source DSN; "" = the good source
		config string // whole config text overriding the generated one
		want   []string
	}{
		{name: "syntax error", views: good + "CREATE VIEW public.bad AS\n  SELEC id FROM orders;\n",
			want: []string{"views/views.sql:3:3", "syntax error", "SELEC"}},
		{name: "unknown table", views: "CREATE VIEW public.bad AS SELECT id FROM nope;\n",
			want: []string{"views/views.sql:1:", "public.bad", "nope"}},
		{name: "unknown column", views: "CREATE VIEW public.bad AS SELECT id, nosuch FROM orders;\n",
			want: []string{"views/views.sql:1:38", "nosuch", "does not exist"}},
		{name: "window function without a deterministic order", views: "CREATE VIEW public.bad AS\nSELECT id, row_number() OVER () FROM orders;\n",
			want: []string{"views/views.sql:2:12", "public.bad", "row_number needs a deterministic order"}},
		{name: "unsupported construct", views: "CREATE VIEW public.bad AS\nSELECT o.id FROM orders o, LATERAL (SELECT DISTINCT c.name FROM customers c WHERE c.id = o.cust) x;\n",
			want: []string{"views/views.sql:2:", "public.bad", "LATERAL", "not supported"}},
		{name: "non-deterministic function", views: "CREATE VIEW public.bad AS SELECT o.id, random() AS r FROM orders o;\n",
			want: []string{"views/views.sql:1:", "random", "public.bad"}},
		{name: "not a view", views: "DROP TABLE orders;\n", want: []string{"views/views.sql:1", "CREATE VIEW"}},
		{name: "wal_level replica", views: good, dsn: replica.DSN("app"), want: []string{"wal_level", "logical"}},
		{name: "nothing listening", views: good, dsn: fmt.Sprintf("postgres://postgres@127.0.0.1:%d/app?connect_timeout=5", freePort),
			want: []string{"connect", fmt.Sprint(freePort)}},
		{name: "wrong password", views: good, dsn: fmt.Sprintf("postgres://ripple_pw:wrong@127.0.0.1:%d/app", src.Port),
			want: []string{"password authentication failed", "ripple_pw"}},
		{name: "no REPLICATION privilege", views: good, dsn: fmt.Sprintf("postgres://norepl@127.0.0.1:%d/app", src.Port),
			want: []string{"REPLICATION", "norepl"}},
		{name: "unknown config key", views: good, config: "source:\n  dsn: %s\n  slto: x\nsinks:\n  - name: main\n    type: postgres\n    dsn: %s\nviews:\n  - files: [\"views/*.sql\"]\n",
			want: []string{"unknown key", "slto"}},
		{name: "missing required key", views: good, config: "source:\n  slot: ripple\nsinks:\n  - {name: main, type: postgres}\nviews:\n  - files: [\"views/*.sql\"]\n# %s %s\n",
			want: []string{"source.dsn is required", "sinks[0].dsn is required"}},
		{name: "unknown sink type", views: good, config: "source:\n  dsn: %s\nsinks:\n  - name: main\n    type: oracle\n    dsn: %s\nviews:\n  - files: [\"views/*.sql\"]\n",
			want: []string{"sinks[0].type", "oracle"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dsn := tc.dsn
			if dsn == "" {
				dsn = src.DSN("app")
			}
			cfg := writeConfig(t, dsn, map[string]string{"main": src.DSN("warehouse")}, tc.views)
			if tc.config != "" {
				text := tc.config
				if strings.Count(text, "%s") == 2 {
					text = fmt.Sprintf(text, dsn, src.DSN("warehouse"))
				}
				if err := os.WriteFile(cfg, []byte(text), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			code, out := runRipple(t, nil, "run", "--config", cfg)
			t.Logf("exit %d: %s", code, strings.TrimSpace(out))
			if code == 0 {
				t.Fatalf("exit code 0, want non-zero; output:\n%s", out)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("output does not mention %q:\n%s", w, out)
				}
			}
			if strings.Contains(out, "panic") || strings.Contains(out, "goroutine ") {
				t.Errorf("ripple panicked:\n%s", out)
			}
			assertNothingCreated(t, srcConn, sinkConn)
		})
	}
}

func assertNothingCreated(t *testing.T, src, snk *pgx.Conn) {
	t.Helper()
	ctx := context.Background()
	var slots, pubs, tables int
	if err := src.QueryRow(ctx, "SELECT (SELECT count(*) FROM pg_replication_slots), (SELECT count(*) FROM pg_publication)").Scan(&slots, &pubs); err != nil {
		t.Fatal(err)
	}
	if err := snk.QueryRow(ctx, "SELECT count(*) FROM pg_namespace WHERE nspname NOT LIKE 'pg_%' AND nspname NOT IN ('public', 'information_schema')").Scan(&tables); err != nil {
		t.Fatal(err)
	}
	if slots != 0 || pubs != 0 || tables != 0 {
		t.Errorf("bad input left things behind: %d slots, %d publications on the source, %d schemas in the sink", slots, pubs, tables)
	}
}
