package e2e

import (
	"context"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rippledb/ripple/internal/pgcluster"
	"github.com/rippledb/ripple/internal/pgtest"
)

// TestPartedTransactions: transactions larger than the part size (here 100
// changes, RIPPLE_TEST_PART_CHANGES) go through ripple in parts and reach
// the sink whole; a kill between parts loses and duplicates nothing; a view
// failing in a late part gets none of that transaction while the others
// get all of it; an error on the state between two parts, which no commit
// had, fails no view (the transaction is applied again whole); a
// transaction that truncates the table between its changes, and a full
// UPDATE after a restart, read the old rows right. In the staged form the
// table copies' budget is 1 kB, so between every two parts the changes
// move to the checkpoint's staging store (see engine.stageOver) and the
// table copy to disk.
func TestPartedTransactions(t *testing.T) {
	t.Run("memory", func(t *testing.T) { testPartedTransactions(t, nil) })
	t.Run("staged", func(t *testing.T) { testPartedTransactions(t, []string{"RIPPLE_TABLE_MEMORY=1kB"}) })
}

func testPartedTransactions(t *testing.T, extra []string) {
	src := pgtest.Source(t)
	snk := pgtest.Start(t, pgcluster.Options{})
	pgtest.CreateDB(t, snk, "warehouse")
	pgtest.Exec(t, src, "app", "CREATE TABLE big (id int PRIMARY KEY, v int NOT NULL); INSERT INTO big SELECT g, g % 500 FROM generate_series(1, 50) g")
	healthy := `
CREATE VIEW public.ident AS SELECT id, v FROM big;
CREATE VIEW public.buckets AS SELECT v % 10 AS b, count(*) AS n, sum(v) AS s FROM big GROUP BY v % 10;
CREATE VIEW public.odd AS SELECT 1000 / (count(*) - 2150) AS q FROM big;
`
	views := healthy + "CREATE VIEW public.ratio AS SELECT id, 100 / (v - 777) AS q FROM big;\n"
	cfg := writeConfig(t, src.DSN("app"), map[string]string{"main": snk.DSN("warehouse")}, views)
	srcConn := connect(t, src, "app")
	sinks := map[string]*pgx.Conn{"main": connect(t, snk, "warehouse")}
	all := oracleViews(t, srcConn, views)
	env := append([]string{"RIPPLE_TEST_PART_CHANGES=100"}, extra...)
	staged := len(extra) > 0

	p := startRippleEnv(t, env, "run", "--config", cfg, "--http", "")
	checkAll(t, srcConn, "ripple", sinks, all, "after the initial load")
	pgtest.Exec(t, src, "app", "INSERT INTO big SELECT g, g % 500 FROM generate_series(51, 1050) g")
	if !checkAll(t, srcConn, "ripple", sinks, all, "after a 1,000-row transaction") {
		t.Fatal("sink differs after a parted transaction")
	}
	if !strings.Contains(p.stderr.String(), "large transaction applied in parts") || !strings.Contains(p.stderr.String(), "parts=10") {
		t.Fatalf("the transaction was not applied in 10 parts:\n%s", p.stderr)
	}
	if got := strings.Contains(p.stderr.String(), "changes to a table copy are staged on disk"); got != staged {
		t.Fatalf("changes staged: %v, want %v\n%s", got, staged, p.stderr)
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	<-p.done

	// Killed after the third part of an UPDATE of every row.
	p = startRippleEnv(t, append(env, "RIPPLE_TEST_CRASH_AT=part:3"), "run", "--config", cfg, "--http", "")
	checkAll(t, srcConn, "ripple", sinks, all, "after the restart")
	pgtest.Exec(t, src, "app", "UPDATE big SET v = v + 1")
	select {
	case err := <-p.done:
		if !killedBySIGKILL(err) {
			t.Fatalf("ripple exited with %v instead of killing itself after a part\n%s", err, p.stderr)
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("crash point part:3 not reached\n%s", p.stderr)
	}
	p = startRippleEnv(t, env, "run", "--config", cfg, "--http", "")
	if !checkAll(t, srcConn, "ripple", sinks, all, "after a kill between the parts of a transaction") {
		t.Fatal("sink differs after a kill between parts")
	}

	// The 1,000th row of the next transaction divides by zero in ratio.
	var before int
	if err := sinks["main"].QueryRow(context.Background(), "SELECT count(*) FROM public.ratio").Scan(&before); err != nil {
		t.Fatal(err)
	}
	pgtest.Exec(t, src, "app", "INSERT INTO big SELECT g, CASE WHEN g = 3050 THEN 777 ELSE g % 500 END FROM generate_series(2051, 3050) g")
	if !checkAll(t, srcConn, "ripple", sinks, oracleViews(t, srcConn, healthy), "after a transaction failing one view in its last part") {
		t.Fatal("the healthy views did not get the whole transaction")
	}
	var after int
	if err := sinks["main"].QueryRow(context.Background(), "SELECT count(*) FROM public.ratio").Scan(&after); err != nil {
		t.Fatal(err)
	}
	if after != before {
		t.Errorf("the failed view holds %d rows, want the %d from before the failing transaction (nothing half-applied)", after, before)
	}
	if out := p.stderr.String(); !strings.Contains(out, "view failed") || !strings.Contains(out, "public.ratio") {
		t.Errorf("the log does not name the failed view:\n%s", out)
	}

	// 150 rows in two parts: after the first, odd divides by zero (2,150
	// rows), at the commit it does not (2,200). No commit had that state,
	// so the transaction is applied again whole and no view fails.
	pgtest.Exec(t, src, "app", "INSERT INTO big SELECT g, g % 500 FROM generate_series(3051, 3200) g")
	if !checkAll(t, srcConn, "ripple", sinks, oracleViews(t, srcConn, healthy), "after a transaction with a division by zero between its parts") {
		t.Fatal("sink differs after a transaction applied again whole")
	}
	out := p.stderr.String()
	if !strings.Contains(out, "starting over to apply it whole") {
		t.Errorf("the transaction was not applied again whole:\n%s", out)
	}
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, `msg="view failed:`) && strings.Contains(line, "public.odd") {
			t.Errorf("odd failed on a state no commit had: %s", line)
		}
	}

	// Changes, a TRUNCATE, and rows inserted after it, in one transaction
	// of 15 parts; then a restart and an UPDATE of every row, whose old
	// rows come from the stored state.
	pgtest.Exec(t, src, "app", `BEGIN; UPDATE big SET v = v + 3 WHERE id <= 300; TRUNCATE big;
INSERT INTO big SELECT g, g % 500 FROM generate_series(1, 1200) g; DELETE FROM big WHERE id % 7 = 0; COMMIT`)
	if !checkAll(t, srcConn, "ripple", sinks, oracleViews(t, srcConn, healthy), "after a transaction truncating the table between its parts") {
		t.Fatal("sink differs after a truncating transaction")
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	<-p.done
	p = startRippleEnv(t, env, "run", "--config", cfg, "--http", "")
	pgtest.Exec(t, src, "app", "UPDATE big SET v = v + 1 WHERE id % 3 > 0")
	if !checkAll(t, srcConn, "ripple", sinks, oracleViews(t, srcConn, healthy), "after a restart and an UPDATE of most rows") {
		t.Fatal("sink differs after the UPDATE following the restart")
	}
	if !strings.Contains(p.stderr.String(), "resumed from checkpoint") {
		t.Errorf("the restart did not resume from the state:\n%s", p.stderr)
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	<-p.done
}
