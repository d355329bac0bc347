package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rippledb/ripple/internal/pgtest"
)

// TestDemo runs the README's first command for a few seconds: it must start
// its own cluster, show the views, verify them and exit 0.
func TestDemo(t *testing.T) {
	code, out := runRipple(t, nil, "demo", "--duration", "6s", "--rate", "50")
	if code != 0 {
		t.Fatalf("ripple demo exited %d:\n%s", code, out)
	}
	for _, want := range []string{"sales.revenue_by_country", "slot lag", "sales.revenue_by_country: equal",
		"sales.product_stats: equal", "sales.big_orders: equal", "sales.order_status: equal"} {
		if !strings.Contains(out, want) {
			t.Errorf("demo output lacks %q:\n%s", want, out)
		}
	}
}

// TestVersion checks `ripple version`.
func TestVersion(t *testing.T) {
	code, out := runRipple(t, nil, "version")
	if code != 0 || !strings.HasPrefix(out, "ripple ") {
		t.Fatalf("ripple version: exit %d, %q", code, out)
	}
}

// TestRuntimeError: a view that divides by zero for a new row stops ripple
// with an error naming the problem, and the sink keeps the state of the
// last good transaction (nothing half-applied).
func TestRuntimeError(t *testing.T) {
	src := pgtest.Source(t)
	pgtest.CreateDB(t, src, "warehouse")
	pgtest.Exec(t, src, "app", "CREATE TABLE t (id int PRIMARY KEY, d int); INSERT INTO t VALUES (1, 2), (2, 5);")
	views := "CREATE VIEW public.ratio AS SELECT id, 100 / d AS r FROM t;\nCREATE VIEW public.total AS SELECT count(*) AS n FROM t;\n"
	cfg := writeConfig(t, src.DSN("app"), map[string]string{"main": src.DSN("warehouse")}, views)
	p := startRipple(t, "run", "--config", cfg)
	defer p.cmd.Process.Kill()
	srcConn := connect(t, src, "app")
	snk := connect(t, src, "warehouse")
	checkAll(t, srcConn, "ripple", map[string]*pgx.Conn{"main": snk}, oracleViews(t, srcConn, views), "initial load")
	pgtest.Exec(t, src, "app", "INSERT INTO t VALUES (3, 4)")
	checkAll(t, srcConn, "ripple", map[string]*pgx.Conn{"main": snk}, oracleViews(t, srcConn, views), "after a good transaction")
	pgtest.Exec(t, src, "app", "BEGIN; INSERT INTO t VALUES (4, 1); INSERT INTO t VALUES (5, 0); COMMIT;")
	select {
	case err := <-p.done:
		if err == nil {
			t.Fatalf("ripple exited 0 after a division by zero:\n%s", p.stderr)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("ripple did not stop on a division by zero:\n%s", p.stderr)
	}
	if !strings.Contains(p.stderr.String(), "division by zero") {
		t.Errorf("error does not say what happened:\n%s", p.stderr)
	}
	var n, rows int
	if err := snk.QueryRow(context.Background(), "SELECT (SELECT n FROM public.total), (SELECT count(*) FROM public.ratio)").Scan(&n, &rows); err != nil {
		t.Fatal(err)
	}
	if n != 3 || rows != 3 {
		t.Errorf("sink shows total %d and %d ratio rows, want 3 and 3 (the failed transaction must leave no trace)", n, rows)
	}
	t.Logf("ripple stopped with: %s", lastLine(p.stderr.String()))
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
