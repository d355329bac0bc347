package e2e

import (
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rippledb/ripple/internal/pgtest"
)

// TestSecondProcessRefused starts two ripple processes on one pipeline: the
// second refuses to run — through the state_dir lock when they share the
// config, through the busy replication slot when only the slot is shared —
// and the first goes on keeping the sink equal to the views.
func TestSecondProcessRefused(t *testing.T) {
	src := pgtest.Source(t)
	pgtest.CreateDB(t, src, "warehouse")
	pgtest.Exec(t, src, "app", "CREATE TABLE t (id int PRIMARY KEY, v int); INSERT INTO t SELECT g, g % 7 FROM generate_series(1, 100) g;")
	views := "CREATE VIEW public.by_v AS SELECT v, count(*) AS n FROM t GROUP BY v;\n"
	cfg := writeConfig(t, src.DSN("app"), map[string]string{"main": src.DSN("warehouse")}, views)
	first := startRipple(t, "run", "--config", cfg, "--http", "")
	defer func() {
		_ = first.cmd.Process.Signal(syscall.SIGTERM)
		<-first.done
	}()
	srcConn := connect(t, src, "app")
	sinks := map[string]*pgx.Conn{"main": connect(t, src, "warehouse")}
	oviews := oracleViews(t, srcConn, views)
	checkAll(t, srcConn, "ripple", sinks, oviews, "first process loaded")

	code, out := runRipple(t, nil, "run", "--config", cfg, "--http", "")
	if code == 0 || !strings.Contains(out, "locked by another ripple process") {
		t.Errorf("second process on the same config: exit %d, output:\n%s", code, out)
	}
	otherState := t.TempDir()
	start := time.Now()
	code, out = runRipple(t, nil, "run", "--config", cfg, "--http", "", "--state-dir", otherState)
	if code == 0 || !strings.Contains(out, "in use") {
		t.Errorf("second process with its own state_dir: exit %d, output:\n%s", code, out)
	}
	t.Logf("second process refused after %s: %s", time.Since(start).Round(time.Millisecond), lastLine(out))
	entries, _ := os.ReadDir(otherState)
	t.Logf("refused process left %d entries in its state_dir", len(entries))

	select {
	case err := <-first.done:
		t.Fatalf("the first process stopped: %v\n%s", err, first.stderr)
	default:
	}
	pgtest.Exec(t, src, "app", "UPDATE t SET v = v + 1 WHERE id % 3 = 0; DELETE FROM t WHERE id > 90;")
	if !checkAll(t, srcConn, "ripple", sinks, oviews, "after the refused starts") {
		t.Fatal("the sink differs from the view after a second process was refused")
	}
}
