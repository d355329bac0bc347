package e2e

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rippledb/ripple/internal/oracle"
	"github.com/rippledb/ripple/internal/pgcluster"
	"github.com/rippledb/ripple/internal/pgtest"
)

// TestLargeTransaction applies one source transaction of many rows (200,000
// by default; RIPPLE_BIG_TXN_ROWS=2000000 for the long form) to an identity
// view and an aggregate, checks the sink with the oracle, and reports
// ripple's peak memory (VmHWM) and the time from commit to the sink.
func TestLargeTransaction(t *testing.T) {
	n := 200000
	if testing.Short() {
		n = 50000
	}
	if v := os.Getenv("RIPPLE_BIG_TXN_ROWS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil {
			t.Fatalf("RIPPLE_BIG_TXN_ROWS=%q: %v", v, err)
		}
	}
	src := pgtest.Source(t)
	snk := pgtest.Start(t, pgcluster.Options{})
	pgtest.CreateDB(t, snk, "warehouse")
	pgtest.Exec(t, src, "app", "CREATE TABLE big (id int PRIMARY KEY, grp int, v int, pad text)")
	views := `
CREATE VIEW public.big_ident AS SELECT id, grp, v, pad FROM big;
CREATE VIEW public.big_groups AS SELECT grp, count(*) AS n, sum(v) AS total, max(v) AS top FROM big GROUP BY grp;
`
	cfg := writeConfig(t, src.DSN("app"), map[string]string{"main": snk.DSN("warehouse")}, views)
	p := startRipple(t, "run", "--config", cfg, "--http", "")
	srcConn := connect(t, src, "app")
	oviews := oracleViews(t, srcConn, views)
	sinks := map[string]*pgx.Conn{"main": connect(t, snk, "warehouse")}
	checkAll(t, srcConn, "ripple", sinks, oviews, "after the initial load")
	hwm0 := procStatusKB(t, p, "VmHWM:")
	start := time.Now()
	if _, err := srcConn.Exec(context.Background(), fmt.Sprintf(
		"INSERT INTO big SELECT g, g %% 1000, g %% 97, md5(g::text) FROM generate_series(1, %d) g", n)); err != nil {
		t.Fatal(err)
	}
	committed := time.Since(start)
	// checkAll waits a minute for the slot; the long forms take longer
	// (about 40,000 rows/s here, halved).
	if err := oracle.WaitCaughtUp(context.Background(), srcConn, "ripple", time.Minute+time.Duration(n/20000)*time.Second); err != nil {
		t.Fatalf("applying the transaction: %v\n%s", err, p.stderr)
	}
	if !checkAll(t, srcConn, "ripple", sinks, oviews, fmt.Sprintf("after one transaction of %d rows", n)) {
		t.Fatal("sink differs after the large transaction")
	}
	applied := time.Since(start)
	hwm := procStatusKB(t, p, "VmHWM:")
	if !strings.Contains(p.stderr.String(), "large transaction applied in parts") {
		t.Errorf("the %d-row transaction was not applied in parts (cdc.DefaultPartChanges)", n)
	}
	// Whether PostgreSQL streamed it while in progress depends on its
	// logical_decoding_work_mem (64MB by default: the 2M-row form is, the
	// default 200k-row one is not); TestStreamedTransactions forces it.
	streamed := strings.Contains(p.stderr.String(), "streamed transaction committed")
	t.Logf("one transaction of %d rows (~%d bytes of row payload; streamed while in progress: %v): source commit %s, in the sink %s after; ripple peak RSS %d MB (%d MB before)",
		n, n*(4+4+4+32), streamed, committed.Round(time.Millisecond), applied.Round(time.Millisecond), hwm/1024, hwm0/1024)
	stopRipple(t, p)

	// Restart time with this state, against a fresh snapshot of the same
	// data (ripple resync): figures only, nothing is asserted about time.
	start = time.Now()
	p = startRipple(t, "run", "--config", cfg, "--http", "")
	for !strings.Contains(p.stderr.String(), "streaming started") {
		assertRunning(t, p, "restart")
		time.Sleep(10 * time.Millisecond)
	}
	resume := time.Since(start)
	if !strings.Contains(p.stderr.String(), "resumed from checkpoint") {
		t.Errorf("the restart did not resume from the state:\n%s", p.stderr)
	}
	stopRipple(t, p)
	start = time.Now()
	if code, out := runRipple(t, nil, "resync", "--config", cfg, "--http", ""); code != 0 {
		t.Fatalf("resync: exit %d\n%s", code, out)
	}
	resync := time.Since(start)
	t.Logf("restart with a %d-row state: %s to streaming (resume from the checkpoint); fresh snapshot + load (ripple resync): %s; ratio %.1fx",
		n, resume.Round(time.Millisecond), resync.Round(time.Millisecond), resync.Seconds()/resume.Seconds())
	p = startRipple(t, "run", "--config", cfg, "--http", "")
	if !checkAll(t, srcConn, "ripple", sinks, oviews, "after resync") {
		t.Fatal("sink differs after resync")
	}
	stopRipple(t, p)
}

func procStatusKB(t *testing.T, p *proc, field string) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field); ok {
			v, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return v
		}
	}
	t.Fatalf("no %s in /proc/%d/status", field, p.cmd.Process.Pid)
	return 0
}

// TestBacklog stops ripple, lets a backlog of row changes build up in the
// slot (200,000 by default in transactions of 1,000 rows;
// RIPPLE_BACKLOG_CHANGES=10000000 for the long form), restarts it and
// checks the sinks with the oracle. It reports ripple's peak memory while
// draining next to its memory after the initial load: the queue between
// the replication reader and the engine is bounded in transactions and
// bytes, so the backlog's size does not show in ripple's memory.
func TestBacklog(t *testing.T) {
	changes := 200000
	if testing.Short() {
		changes = 50000
	}
	if v := os.Getenv("RIPPLE_BACKLOG_CHANGES"); v != "" {
		var err error
		if changes, err = strconv.Atoi(v); err != nil {
			t.Fatalf("RIPPLE_BACKLOG_CHANGES=%q: %v", v, err)
		}
	}
	const rows, perTxn = 20000, 1000
	src := pgtest.Source(t)
	snk := pgtest.Start(t, pgcluster.Options{})
	pgtest.CreateDB(t, snk, "warehouse")
	pgtest.Exec(t, src, "app", fmt.Sprintf("CREATE TABLE big (id int PRIMARY KEY, grp int, v int, pad text); INSERT INTO big SELECT g, g %% 100, 0, md5(g::text) FROM generate_series(1, %d) g", rows))
	views := `
CREATE VIEW public.big_ident AS SELECT id, grp, v, pad FROM big;
CREATE VIEW public.big_groups AS SELECT grp, count(*) AS n, sum(v) AS total, max(v) AS top FROM big GROUP BY grp;
`
	cfg := writeConfig(t, src.DSN("app"), map[string]string{"main": snk.DSN("warehouse")}, views)
	p := startRipple(t, "run", "--config", cfg, "--http", "")
	srcConn := connect(t, src, "app")
	oviews := oracleViews(t, srcConn, views)
	sinks := map[string]*pgx.Conn{"main": connect(t, snk, "warehouse")}
	checkAll(t, srcConn, "ripple", sinks, oviews, "after the initial load")
	loaded := procStatusKB(t, p, "VmHWM:")
	stopRipple(t, p)

	txns := changes / perTxn
	start := time.Now()
	if _, err := srcConn.Exec(context.Background(), fmt.Sprintf(`DO $$
BEGIN
  FOR i IN 0..%d LOOP
    UPDATE big SET v = v + 1 WHERE id %% %d BETWEEN (i * %d) %% %d AND (i * %d) %% %d + %d - 1;
    COMMIT;
  END LOOP;
END $$`, txns-1, rows, perTxn, rows, perTxn, rows, perTxn)); err != nil {
		t.Fatal(err)
	}
	t.Logf("backlog of %d row changes in %d transactions written in %s", txns*perTxn, txns, time.Since(start).Round(time.Millisecond))
	start = time.Now()
	p = startRipple(t, "run", "--config", cfg, "--http", "")
	// checkAll waits a minute for the slot to catch up; the long form's
	// drain takes longer, so wait for it first (about 10,000 changes/s on
	// a loaded machine, doubled).
	if err := oracle.WaitCaughtUp(context.Background(), srcConn, "ripple", time.Minute+time.Duration(changes/5000)*time.Second); err != nil {
		t.Fatalf("draining the backlog: %v\n%s", err, p.stderr)
	}
	if !checkAll(t, srcConn, "ripple", sinks, oviews, "after draining the backlog") {
		t.Fatal("sinks differ after the backlog")
	}
	drained := time.Since(start)
	peak := procStatusKB(t, p, "VmHWM:")
	t.Logf("drained %d row changes in %s (%.0f changes/s); ripple peak RSS %d MB while draining, %d MB after the initial load",
		txns*perTxn, drained.Round(time.Millisecond), float64(txns*perTxn)/drained.Seconds(), peak/1024, loaded/1024)
	// The queue holds at most 64 MiB of transactions. This bound only tells
	// a bounded queue from a backlog held in memory in the long form (10
	// million changes, gigabytes if held); at the default size the test's
	// checks are the oracle and the reported figure.
	if peak > loaded+512*1024 {
		t.Errorf("ripple's peak RSS grew from %d MB to %d MB while draining the backlog", loaded/1024, peak/1024)
	}
	stopRipple(t, p)
}

// TestLargeSnapshot takes the initial snapshot of a table of many rows
// (200,000 by default, 50,000 in short mode; RIPPLE_BIG_SNAPSHOT_ROWS for
// the long form) through an identity view and a filter, with table_memory
// 64MB and operator_memory 4MB, checks the sink with the oracle, and
// reports ripple's peak memory (VmHWM) during the load. The views' rows are
// more than the load may hold in memory (what the arrangements, none here,
// leave of operator_memory), so they are gathered on disk and streamed
// into the Postgres sink's load transaction: the log must say so. (The
// views have no arrangements on purpose: the spill store must be there
// for the load alone. Aggregates loaded on disk are the crash test's, whose
// starts alternate with operator_memory 0.)
func TestLargeSnapshot(t *testing.T) {
	n := 200000
	if testing.Short() {
		n = 50000
	}
	if v := os.Getenv("RIPPLE_BIG_SNAPSHOT_ROWS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil {
			t.Fatalf("RIPPLE_BIG_SNAPSHOT_ROWS=%q: %v", v, err)
		}
	}
	src := pgtest.Source(t)
	snk := pgtest.Start(t, pgcluster.Options{})
	pgtest.CreateDB(t, snk, "warehouse")
	pgtest.Exec(t, src, "app", fmt.Sprintf(`CREATE TABLE big (id int PRIMARY KEY, grp int, v int, pad text);
INSERT INTO big SELECT g, g %% 1000, g %% 97, md5(g::text) FROM generate_series(1, %d) g;`, n))
	views := `
CREATE VIEW public.big_ident AS SELECT id, grp, v, pad FROM big;
CREATE VIEW public.big_low AS SELECT id, v FROM big WHERE v < 50;
`
	cfg := writeConfig(t, src.DSN("app"), map[string]string{"main": snk.DSN("warehouse")}, views)
	f, err := os.OpenFile(cfg, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("table_memory: 64MB\noperator_memory: 4MB\n"); err != nil {
		t.Fatal(err)
	}
	f.Close()
	start := time.Now()
	p := startRipple(t, "run", "--config", cfg, "--http", "")
	for !strings.Contains(p.stderr.String(), "streaming started") {
		assertRunning(t, p, "initial load")
		time.Sleep(10 * time.Millisecond)
	}
	loaded := time.Since(start)
	hwm := procStatusKB(t, p, "VmHWM:")
	srcConn := connect(t, src, "app")
	oviews := oracleViews(t, srcConn, views)
	sinks := map[string]*pgx.Conn{"main": connect(t, snk, "warehouse")}
	if !checkAll(t, srcConn, "ripple", sinks, oviews, fmt.Sprintf("after the initial load of %d rows", n)) {
		t.Fatal("sink differs after the initial load")
	}
	if !strings.Contains(p.stderr.String(), "initial load: views' rows gathered on disk") {
		t.Errorf("the load of %d rows did not gather the views' rows on disk", n)
	}
	t.Logf("initial load of %d rows (~%d bytes of row payload) through 2 views: %s to streaming; ripple peak RSS %d MB",
		n, n*(4+4+4+32), loaded.Round(time.Millisecond), hwm/1024)
	stopRipple(t, p)
}
