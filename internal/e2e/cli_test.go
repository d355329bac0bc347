package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
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

// TestResyncView: `ripple resync --view` rebuilds only the sink holding the
// named view, from ripple's state: a view stopped by a division by zero is
// whole again once the data is fixed, while the other sink and the slot are
// left alone; a view that still fails, or a name that is no view, is a
// clear error that changes nothing.
func TestResyncView(t *testing.T) {
	src := pgtest.Source(t)
	pgtest.CreateDB(t, src, "wa")
	pgtest.CreateDB(t, src, "wb")
	pgtest.Exec(t, src, "app", "CREATE TABLE t (id int PRIMARY KEY, d int); INSERT INTO t VALUES (1, 2), (2, 5);")
	dir := t.TempDir()
	ratioSQL := "CREATE VIEW public.ratio AS SELECT id, 100 / d AS r FROM t;\n"
	totalSQL := "CREATE VIEW public.total AS SELECT count(*) AS n, sum(d) AS s FROM t;\n"
	for name, sql := range map[string]string{"ratio.sql": ratioSQL, "total.sql": totalSQL} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(sql), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cfg := filepath.Join(dir, "ripple.yaml")
	yaml := fmt.Sprintf(`source:
  dsn: %s
sinks:
  - name: a
    type: postgres
    dsn: %s
  - name: b
    type: postgres
    dsn: %s
views:
  - files: ["ratio.sql"]
    sink: a
  - files: ["total.sql"]
    sink: b
state_dir: ./state
`, src.DSN("app"), src.DSN("wa"), src.DSN("wb"))
	if err := os.WriteFile(cfg, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	srcConn := connect(t, src, "app")
	wa, wb := connect(t, src, "wa"), connect(t, src, "wb")
	ratio, total := oracleViews(t, srcConn, ratioSQL), oracleViews(t, srcConn, totalSQL)
	both := func(when string) bool {
		t.Helper()
		okA := checkAll(t, srcConn, "ripple", map[string]*pgx.Conn{"a": wa}, ratio, when)
		return checkAll(t, srcConn, "ripple", map[string]*pgx.Conn{"b": wb}, total, when) && okA
	}

	p := startRipple(t, "run", "--config", cfg, "--http", "")
	defer p.cmd.Process.Kill()
	both("initial load")
	pgtest.Exec(t, src, "app", "INSERT INTO t VALUES (3, 0)") // fails public.ratio
	pgtest.Exec(t, src, "app", "INSERT INTO t VALUES (4, 10)")
	if !checkAll(t, srcConn, "ripple", map[string]*pgx.Conn{"b": wb}, total, "after the failing transaction") {
		t.Fatal("the healthy view stopped with the failed one")
	}
	stopRipple(t, p)

	query := func(c *pgx.Conn, sql string) string {
		t.Helper()
		var s string
		if err := c.QueryRow(context.Background(), sql).Scan(&s); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
		return s
	}
	// What shows that a table was loaded again: its rows' xmin.
	bBefore := query(wb, "SELECT string_agg(xmin::text, ',') FROM public.total")
	aBefore := query(wa, "SELECT string_agg(id || ':' || r || ':' || xmin::text, ',' ORDER BY id) FROM public.ratio")

	// The data still divides by zero: a clear error, nothing changed.
	code, out := runRipple(t, nil, "resync", "--config", cfg, "--http", "", "--view", "ratio")
	if code == 0 || !strings.Contains(out, "public.ratio") || !strings.Contains(out, "still fails") || !strings.Contains(out, "division by zero") {
		t.Errorf("resync --view of a view that still fails: exit %d, want an error naming the view and its cause:\n%s", code, out)
	}
	if got := query(wa, "SELECT string_agg(id || ':' || r || ':' || xmin::text, ',' ORDER BY id) FROM public.ratio"); got != aBefore {
		t.Errorf("a failed resync --view changed the sink: %s, was %s", got, aBefore)
	}
	code, out = runRipple(t, nil, "resync", "--config", cfg, "--http", "", "--view", "nosuch")
	if code == 0 || !strings.Contains(out, "no such view") || !strings.Contains(out, "public.ratio") {
		t.Errorf("resync --view nosuch: exit %d, want an error listing the views:\n%s", code, out)
	}

	// Fix the data; rebuild only public.ratio.
	pgtest.Exec(t, src, "app", "UPDATE t SET d = 4 WHERE d = 0")
	p = startRipple(t, "run", "--config", cfg, "--http", "")
	checkAll(t, srcConn, "ripple", map[string]*pgx.Conn{"b": wb}, total, "after the fix")
	stopRipple(t, p)
	bBefore = query(wb, "SELECT string_agg(xmin::text, ',') FROM public.total")
	slotLSN := query(srcConn, "SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = 'ripple'")
	// With operator_memory 0 the rebuilt view's rows are gathered on disk
	// and streamed into the sink's load.
	code, out = runRipple(t, []string{"RIPPLE_OPERATOR_MEMORY=0"}, "resync", "--config", cfg, "--http", "", "--view", "public.ratio")
	if code != 0 || !strings.Contains(out, "resync done") {
		t.Fatalf("resync --view public.ratio: exit %d\n%s", code, out)
	}
	if !strings.Contains(out, "gathered on disk") {
		t.Errorf("resync --view public.ratio with operator_memory 0 did not gather the view's rows on disk:\n%s", out)
	}
	if got := query(wb, "SELECT string_agg(xmin::text, ',') FROM public.total"); got != bBefore {
		t.Errorf("resync --view public.ratio loaded sink b again (xmin %s, was %s)", got, bBefore)
	}
	if got := query(srcConn, "SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = 'ripple'"); got != slotLSN {
		t.Errorf("resync --view recreated or moved the slot: confirmed_flush_lsn %s, was %s", got, slotLSN)
	}
	// The rebuilt view is whole at once (the source has not changed since
	// ripple's checkpoint), and streaming goes on for both.
	for _, v := range ratio {
		d, err := oracle.Compare(context.Background(), srcConn, wa, v)
		if err != nil {
			t.Fatal(err)
		}
		if !d.Equal() {
			t.Errorf("right after resync --view: %s", d)
		}
	}
	p = startRipple(t, "run", "--config", cfg, "--http", "")
	pgtest.Exec(t, src, "app", "INSERT INTO t VALUES (5, 25); DELETE FROM t WHERE id = 1")
	if !both("after resync --view and more changes") {
		t.Error("views differ after resync --view")
	}
	if strings.Contains(p.stderr.String(), "taking the initial snapshot") || strings.Contains(p.stderr.String(), "fresh snapshot") {
		t.Errorf("the run after resync --view took a snapshot:\n%s", p.stderr)
	}
	stopRipple(t, p)
}
