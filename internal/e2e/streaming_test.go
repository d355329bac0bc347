package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rippledb/ripple/internal/pgcluster"
	"github.com/rippledb/ripple/internal/pgtest"
)

// TestStreamedTransactions runs large transactions that PostgreSQL streams
// while they are in progress (logical_decoding_work_mem at its 64kB
// minimum, so a few hundred rows are enough) through ripple: one with a
// rolled-back savepoint before and one after ripple is SIGKILLed mid-stream
// and restarted, held open while small transactions commit and reach the
// sink; and one that rolls back. After each, the sink equals the views,
// and the spool files under state_dir/stream are gone.
func TestStreamedTransactions(t *testing.T) {
	src := pgtest.Source(t)
	snk := pgtest.Start(t, pgcluster.Options{})
	pgtest.CreateDB(t, snk, "warehouse")
	pgtest.Exec(t, src, "app", "CREATE TABLE big (id int PRIMARY KEY, grp int, v int, pad text)")
	pgtest.Exec(t, src, "app", "INSERT INTO big SELECT g, g % 10, g, 'seed' FROM generate_series(1, 100) g")
	views := `
CREATE VIEW public.big_ident AS SELECT id, grp, v, pad FROM big;
CREATE VIEW public.big_groups AS SELECT grp, count(*) AS n, sum(v) AS total, max(pad) AS top FROM big GROUP BY grp;
`
	cfg := writeConfig(t, src.DSN("app"), map[string]string{"main": snk.DSN("warehouse")}, views)
	spoolDir := filepath.Join(filepath.Dir(cfg), "state", "stream")
	env := []string{"RIPPLE_SOURCE_LOGICAL_DECODING_WORK_MEM=64kB"}
	p := startRippleEnv(t, env, "run", "--config", cfg, "--http", "")
	srcConn := connect(t, src, "app")
	oviews := oracleViews(t, srcConn, views)
	sinks := map[string]*pgx.Conn{"main": connect(t, snk, "warehouse")}
	if !checkAll(t, srcConn, "ripple", sinks, oviews, "after the initial load") {
		t.Fatal("sink differs after the initial load")
	}
	spools := func() int {
		ents, err := os.ReadDir(spoolDir)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		return len(ents)
	}
	waitSpool := func(p *proc, when string) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for spools() == 0 {
			assertRunning(t, p, when)
			if time.Now().After(deadline) {
				t.Fatalf("%s: no spool file under %s within 30s: the open transaction is not being streamed\n%s", when, spoolDir, p.stderr)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	ctx := context.Background()
	big := connect(t, src, "app")
	run := func(qs ...string) {
		t.Helper()
		for _, q := range qs {
			if _, err := big.Exec(ctx, q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
	}

	run("BEGIN",
		"INSERT INTO big SELECT g, g % 10, g, repeat('x', 50) FROM generate_series(1001, 21000) g",
		"SAVEPOINT s1",
		"INSERT INTO big SELECT g, g % 10, g, 'rolled back' FROM generate_series(30001, 35000) g",
		"ROLLBACK TO s1",
		"UPDATE big SET pad = 'updated' WHERE id <= 50",
	)
	waitSpool(p, "first streamed transaction")
	pgtest.Exec(t, src, "app", "INSERT INTO big VALUES (500, 5, 500, 'small, committed while the large one is open')")
	if !checkAll(t, srcConn, "ripple", sinks, oviews, "while a streamed transaction is open") {
		t.Fatal("sink differs while a streamed transaction is open")
	}
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-p.done
	run("INSERT INTO big SELECT g, g % 10, g, 'after the kill' FROM generate_series(21001, 22000) g")
	p = startRippleEnv(t, env, "run", "--config", cfg, "--http", "")
	waitSpool(p, "after the restart, the open transaction streamed again")
	// A savepoint rolled back after the restart: PostgreSQL streams its
	// changes before their abort, which ripple must then discard. (The
	// first one's were decoded again after the restart before the stream
	// could resume, and dropped by PostgreSQL itself.)
	run("SAVEPOINT s2",
		"INSERT INTO big SELECT g, g % 10, g, 'rolled back too' FROM generate_series(35001, 45000) g",
		"ROLLBACK TO s2",
		"COMMIT")
	if !checkAll(t, srcConn, "ripple", sinks, oviews, "after the streamed transaction committed") {
		t.Fatal("sink differs after the streamed transaction committed")
	}
	if !strings.Contains(p.stderr.String(), "streamed transaction committed") {
		t.Errorf("ripple did not log the streamed transaction's commit:\n%s", p.stderr)
	}

	run("BEGIN", "INSERT INTO big SELECT g, g % 10, g, 'aborted' FROM generate_series(40001, 60000) g")
	waitSpool(p, "streamed transaction to roll back")
	run("ROLLBACK")
	pgtest.Exec(t, src, "app", "UPDATE big SET v = v + 1 WHERE id = 500")
	if !checkAll(t, srcConn, "ripple", sinks, oviews, "after a streamed transaction rolled back") {
		t.Fatal("sink differs after a streamed transaction rolled back")
	}
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(p.stderr.String(), "streamed transaction rolled back") || spools() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("after the rollback: %d spool files left, or no rollback logged:\n%s", spools(), p.stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
	stopRipple(t, p)
}
