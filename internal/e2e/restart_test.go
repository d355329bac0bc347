package e2e

import (
	"bytes"
	"context"
	"math/rand"
	"os/exec"
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

func startRipple(t *testing.T, args ...string) *proc {
	t.Helper()
	p := &proc{cmd: exec.Command(rippleBinary(t), args...), stderr: &bytes.Buffer{}, done: make(chan error, 1)}
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

// TestRestartSIGKILL kills ripple with SIGKILL at random points under a
// running workload, restarts it, and checks with the oracle that every sink
// equals its view: nothing lost, nothing applied twice. A clean SIGTERM
// stop and restart is checked at the end too.
func TestRestartSIGKILL(t *testing.T) {
	cycles := 5
	if testing.Short() {
		cycles = 3
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
	cfg := writeConfig(t, src.DSN("app"), map[string]string{"main": other.DSN("warehouse")}, restartViews)
	views := oracleViews(t, srcConn, restartViews)
	sinks := map[string]*pgx.Conn{"main": connect(t, other, "warehouse")}

	// The workload runs in the background for the whole test.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	var mu sync.Mutex
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
			mu.Lock()
			w.txn(t)
			mu.Unlock()
		}
	}()

	for cycle := 0; cycle < cycles; cycle++ {
		p := startRipple(t, "run", "--config", cfg)
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
		t.Logf("cycle %d: killed", cycle)
	}
	// Final run: stop the workload, let ripple catch up, compare.
	p := startRipple(t, "run", "--config", cfg)
	close(stop)
	wg.Wait()
	ok := checkAll(t, srcConn, "ripple", sinks, views, "after SIGKILL cycles")
	// Clean stop with SIGTERM, more changes while stopped, restart.
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
	p = startRipple(t, "run", "--config", cfg)
	ok = checkAll(t, srcConn, "ripple", sinks, views, "after clean restart") && ok
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	<-p.done
	if !ok {
		t.Fatalf("seed %d: sinks differ after restarts\n%s", sd, p.stderr)
	}
	t.Logf("%d kill cycles, %d workload transactions committed", cycles, w.commits)
	_ = context.Background
}
