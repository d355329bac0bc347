package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/rippledb/ripple/internal/oracle"
	"github.com/rippledb/ripple/internal/pgcluster"
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

// TestRuntimeError: a division by zero in one view stops that view — its
// sink table keeps its contents from before the failing transaction, its
// status and the log say why — while the other views go on, also across a
// restart; after the data is fixed, ripple resync makes every view whole.
func TestRuntimeError(t *testing.T) {
	src := pgtest.Source(t)
	pgtest.CreateDB(t, src, "warehouse")
	pgtest.Exec(t, src, "app", "CREATE TABLE t (id int PRIMARY KEY, d int); INSERT INTO t VALUES (1, 2), (2, 5);")
	views := "CREATE VIEW public.ratio AS SELECT id, 100 / d AS r FROM t;\nCREATE VIEW public.total AS SELECT count(*) AS n FROM t;\n"
	cfg := writeConfig(t, src.DSN("app"), map[string]string{"main": src.DSN("warehouse")}, views)
	port, err := pgcluster.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	p := startRipple(t, "run", "--config", cfg, "--http", addr)
	defer p.cmd.Process.Kill()
	srcConn := connect(t, src, "app")
	snk := connect(t, src, "warehouse")
	all := oracleViews(t, srcConn, views)
	var total []oracle.View
	for _, v := range all {
		if strings.Contains(v.Name.String(), "total") {
			total = append(total, v)
		}
	}
	sinks := map[string]*pgx.Conn{"main": snk}
	checkAll(t, srcConn, "ripple", sinks, all, "initial load")
	pgtest.Exec(t, src, "app", "INSERT INTO t VALUES (3, 4)")
	checkAll(t, srcConn, "ripple", sinks, all, "after a good transaction")
	ratioRows := func() int {
		var n int
		if err := snk.QueryRow(context.Background(), "SELECT count(*) FROM public.ratio").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	pgtest.Exec(t, src, "app", "BEGIN; INSERT INTO t VALUES (4, 1); INSERT INTO t VALUES (5, 0); COMMIT;")
	pgtest.Exec(t, src, "app", "INSERT INTO t VALUES (6, 10)")
	if !checkAll(t, srcConn, "ripple", sinks, total, "after the failing transaction") {
		t.Fatal("the healthy view stopped with the failed one")
	}
	assertRunning(t, p, "after a division by zero in one view")
	if n := ratioRows(); n != 3 {
		t.Errorf("the failed view shows %d rows, want the 3 from before the failing transaction (nothing half-applied)", n)
	}
	if out := p.stderr.String(); !strings.Contains(out, "view failed") || !strings.Contains(out, "division by zero") || !strings.Contains(out, "public.ratio") {
		t.Errorf("the log does not say which view failed and why:\n%s", out)
	}
	code, out := runRipple(t, nil, "status", "--addr", addr)
	if code != 0 || !strings.Contains(out, "view public.ratio FAILED at") || !strings.Contains(out, "division by zero") {
		t.Errorf("ripple status: exit %d\n%s", code, out)
	}
	t.Logf("status shows:%s", out[strings.LastIndex(out, "\nview "):])
	// The failure survives a restart (the sink table is stale until a
	// resync), and the healthy view still goes on.
	stopRipple(t, p)
	p = startRipple(t, "run", "--config", cfg, "--http", "")
	pgtest.Exec(t, src, "app", "INSERT INTO t VALUES (7, 20)")
	checkAll(t, srcConn, "ripple", sinks, total, "after a restart")
	if n := ratioRows(); n != 3 {
		t.Errorf("after a restart the failed view shows %d rows, want 3", n)
	}
	stopRipple(t, p)
	// Fix the data, resync: every view is whole again.
	pgtest.Exec(t, src, "app", "DELETE FROM t WHERE d = 0")
	if code, out := runRipple(t, nil, "resync", "--config", cfg, "--http", ""); code != 0 {
		t.Fatalf("resync: exit %d\n%s", code, out)
	}
	p = startRipple(t, "run", "--config", cfg, "--http", "")
	if !checkAll(t, srcConn, "ripple", sinks, all, "after the fix and resync") {
		t.Fatal("views differ after resync")
	}
	stopRipple(t, p)
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
