package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rippledb/ripple/internal/pgcluster"
	"github.com/rippledb/ripple/internal/pgtest"
)

// restartViews is a subset of the oracle views: joins, aggregates with
// min/max, a keyless multiset and DISTINCT, so that a double-applied or a
// lost transaction shows up as a difference.
const restartViews = `
CREATE VIEW public.r_ident AS SELECT * FROM orders;
CREATE VIEW public.r_join AS SELECT o.id, c.name, o.qty FROM orders o JOIN customers c ON c.id = o.cust;
CREATE VIEW public.r_group AS SELECT cust, count(*), sum(qty), min(qty), max(price) FROM orders GROUP BY cust;
CREATE VIEW public.r_events AS SELECT kind, n FROM events;
CREATE VIEW public.r_distinct AS SELECT DISTINCT prod FROM orders;
`

// proc is a running ripple process.
type proc struct {
	cmd    *exec.Cmd
	stderr *bytes.Buffer
	done   chan error
}

func startRipple(t *testing.T, args ...string) *proc { return startRippleEnv(t, nil, args...) }

// startRippleEnv starts ripple with extra environment variables.
func startRippleEnv(t *testing.T, env []string, args ...string) *proc {
	t.Helper()
	p := &proc{cmd: exec.Command(rippleBinary(t), args...), stderr: &bytes.Buffer{}, done: make(chan error, 1)}
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stderr = p.stderr
	p.cmd.Stdout = p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() {
		if t.Failed() {
			_ = p.cmd.Process.Kill()
			out := p.stderr.String()
			if len(out) > 8000 {
				out = "...\n" + out[len(out)-8000:]
			}
			t.Logf("output of ripple %v:\n%s", args, out)
		}
	})
	return p
}

// crashPoints are the places the crash test makes ripple kill itself
// (RIPPLE_TEST_CRASH_AT, see internal/pipeline/crash.go), in an order in
// which each is reached: the first two are reached by `ripple resync`.
var crashPoints = []string{"snapshot:20", "loaded", "sink-committed:3", "checkpoint-written:4", "synced:2", "sink-committed:1", "checkpoint-written:1"}

// TestRestartSIGKILL kills ripple with SIGKILL under a running workload —
// at exact places (during the snapshot, after the load, between a sink
// commit and the checkpoint, between a checkpoint and its sync) and then at
// random times — restarts it, and after every restart checks with the
// oracle that every sink equals its view: nothing lost, nothing applied
// twice. Restarts after the first checkpoint must resume from the state
// rather than snapshot again. Every other start keeps the table copies on
// disk (table_memory 0). A clean SIGTERM stop and restart is checked at
// the end. RIPPLE_CRASH_CYCLES sets the number of random-kill cycles
// (default 10, 4 in -short; the long form uses 50).
func TestRestartSIGKILL(t *testing.T) {
	cycles := 10
	if testing.Short() {
		cycles = 4
	}
	if v := os.Getenv("RIPPLE_CRASH_CYCLES"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			t.Fatalf("RIPPLE_CRASH_CYCLES=%q: %v", v, err)
		}
		cycles = n
	}
	sd := seed(t)
	t.Logf("seed %d", sd)
	rng := rand.New(rand.NewSource(sd))

	src := pgtest.Source(t)
	other := pgtest.Start(t, pgcluster.Options{})
	pgtest.CreateDB(t, other, "warehouse")
	pgtest.Exec(t, src, "app", oracleSchema)
	srcConn := connect(t, src, "app")
	seedConn := connect(t, src, "app")
	w := newWorkload(rand.New(rand.NewSource(sd+1)), seedConn)
	for i := 0; i < 100; i++ {
		w.txn(t)
	}
	// The first crash point is the 20th snapshot row: the random workload
	// (which truncates) must leave that many.
	for i := 0; snapshotRows(t, seedConn) < 40; i++ {
		if i == 1000 {
			t.Fatal("the workload left fewer than 40 rows after 1,100 transactions")
		}
		w.txn(t)
	}
	cfg := writeConfig(t, src.DSN("app"), map[string]string{"main": other.DSN("warehouse")}, restartViews)
	views := oracleViews(t, srcConn, restartViews)
	sinks := map[string]*pgx.Conn{"main": connect(t, other, "warehouse")}
	load := startLoad(t, w, 5*time.Millisecond)

	resumes, checks := 0, 0
	check := func(p *proc, when string) {
		t.Helper()
		load.pause()
		ok := checkAll(t, srcConn, "ripple", sinks, views, when)
		load.resume()
		checks++
		if !ok {
			t.Fatalf("seed %d: sinks differ %s", sd, when)
		}
	}
	for i, point := range crashPoints {
		cmd := "run"
		if i < 2 {
			// The snapshot-phase points: a resync discards the state and
			// snapshots (so does the first start, which has none).
			cmd = "resync"
		}
		p := startRippleEnv(t, append(tableMemoryEnv(i), "RIPPLE_TEST_CRASH_AT="+point), cmd, "--config", cfg, "--http", "")
		select {
		case err := <-p.done:
			if !killedBySIGKILL(err) {
				t.Fatalf("crash point %s: ripple exited with %v instead of killing itself\n%s", point, err, p.stderr)
			}
		case <-time.After(90 * time.Second):
			t.Fatalf("crash point %s was not reached in 90s\n%s", point, p.stderr)
		}
		t.Logf("crash point %d (%s): killed itself", i, point)
		p = startRippleEnv(t, tableMemoryEnv(i+1), "run", "--config", cfg, "--http", "")
		check(p, fmt.Sprintf("after the restart following crash point %s", point))
		if strings.Contains(p.stderr.String(), "resumed from checkpoint") {
			resumes++
		}
		_ = p.cmd.Process.Signal(syscall.SIGKILL)
		<-p.done
	}
	for cycle := 0; cycle < cycles; cycle++ {
		p := startRippleEnv(t, tableMemoryEnv(cycle), "run", "--config", cfg, "--http", "")
		check(p, fmt.Sprintf("after restart %d", cycle))
		if onDisk := strings.Contains(p.stderr.String(), "table copy moved to disk"); onDisk != (len(tableMemoryEnv(cycle)) > 0) {
			t.Errorf("cycle %d: table copies moved to disk: %v, want %v", cycle, onDisk, !onDisk)
		}
		if strings.Contains(p.stderr.String(), "resumed from checkpoint") {
			resumes++
		}
		time.Sleep(time.Duration(300+rng.Intn(2500)) * time.Millisecond)
		select {
		case err := <-p.done:
			t.Fatalf("cycle %d: ripple exited early: %v\n%s", cycle, err, p.stderr)
		default:
		}
		if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		<-p.done
	}
	// After the two snapshot-phase crashes there is no checkpoint; every
	// other start must have resumed.
	if want := len(crashPoints) - 2 + cycles; resumes < want {
		t.Errorf("%d of the restarts resumed from the checkpoint, want at least %d", resumes, want)
	}
	// Clean stop with SIGTERM, more changes while stopped, restart.
	p := startRipple(t, "run", "--config", cfg, "--http", "")
	load.finish()
	checkAll(t, srcConn, "ripple", sinks, views, "before SIGTERM")
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-p.done:
		if err != nil {
			t.Fatalf("SIGTERM: ripple exited with %v\n%s", err, p.stderr)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("ripple did not stop within 30s of SIGTERM")
	}
	for i := 0; i < 50; i++ {
		w.txn(t)
	}
	p = startRipple(t, "run", "--config", cfg, "--http", "")
	ok := checkAll(t, srcConn, "ripple", sinks, views, "after clean restart")
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	<-p.done
	if !ok {
		t.Fatalf("seed %d: sinks differ after restarts\n%s", sd, p.stderr)
	}
	t.Logf("%d crash points + %d random kill cycles, %d oracle checks, %d resumed starts, %d workload transactions committed (%d failed)",
		len(crashPoints), cycles, checks+2, resumes, w.commits, load.failed)
}

// tableMemoryEnv alternates the starts between table copies and join
// arrangements in memory (the default budgets) and on disk (table_memory
// and operator_memory 0), so that state written by either form is resumed
// by the other after a kill.
func tableMemoryEnv(i int) []string {
	if i%2 == 1 {
		return []string{"RIPPLE_TABLE_MEMORY=0", "RIPPLE_OPERATOR_MEMORY=0"}
	}
	return nil
}

// snapshotRows counts the rows of the oracle schema's tables.
func snapshotRows(t *testing.T, c *pgx.Conn) int {
	t.Helper()
	var n int
	err := c.QueryRow(context.Background(), `SELECT (SELECT count(*) FROM orders) + (SELECT count(*) FROM customers) + (SELECT count(*) FROM events)`).Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func killedBySIGKILL(err error) bool {
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return false
	}
	ws, ok := ee.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL
}

// bgLoad runs a workload in the background; it survives failed
// transactions (a server restarting) by reconnecting.
type bgLoad struct {
	w      *workload
	mu     sync.Mutex // held by each transaction; pause holds it
	stop   chan struct{}
	done   chan struct{}
	failed int
}

func startLoad(t *testing.T, w *workload, every time.Duration) *bgLoad {
	l := &bgLoad{w: w, stop: make(chan struct{}), done: make(chan struct{})}
	dsn := w.conn.Config().ConnString()
	go func() {
		defer close(l.done)
		ctx := context.Background()
		for {
			select {
			case <-l.stop:
				return
			case <-time.After(every):
			}
			l.mu.Lock()
			if err := l.w.try(ctx); err != nil {
				l.failed++
				if l.w.conn.IsClosed() || l.w.conn.Ping(ctx) != nil {
					if c, err := pgx.Connect(ctx, dsn); err == nil {
						l.w.conn = c
					}
				}
			}
			l.mu.Unlock()
		}
	}()
	t.Cleanup(l.finish)
	return l
}

func (l *bgLoad) pause()  { l.mu.Lock() }
func (l *bgLoad) resume() { l.mu.Unlock() }

// finish stops the workload and waits for its last transaction.
func (l *bgLoad) finish() {
	select {
	case <-l.stop:
	default:
		close(l.stop)
	}
	<-l.done
}
