package e2e

import (
	"context"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rippledb/ripple/internal/pgcluster"
	"github.com/rippledb/ripple/internal/pgtest"
)

// faultRig is a source with the oracle schema and a running workload, a
// separate sink cluster, and a ripple config over the restart views.
type faultRig struct {
	src, snk *pgcluster.Cluster
	cfg      string
	w        *workload
}

func newFaultRig(t *testing.T) *faultRig {
	t.Helper()
	sd := seed(t)
	t.Logf("seed %d", sd)
	r := &faultRig{src: pgtest.Source(t), snk: pgtest.Start(t, pgcluster.Options{})}
	pgtest.CreateDB(t, r.snk, "warehouse")
	pgtest.Exec(t, r.src, "app", oracleSchema)
	r.w = newWorkload(rand.New(rand.NewSource(sd)), connect(t, r.src, "app"))
	for i := 0; i < 100; i++ {
		r.w.txn(t)
	}
	r.cfg = writeConfig(t, r.src.DSN("app"), map[string]string{"main": r.snk.DSN("warehouse")}, restartViews)
	return r
}

// check waits until ripple caught up and compares every view; the source
// and sink connections are opened afresh (the servers may have restarted).
func (r *faultRig) check(t *testing.T, when string) {
	t.Helper()
	srcConn := connect(t, r.src, "app")
	defer srcConn.Close(context.Background())
	snk := connect(t, r.snk, "warehouse")
	defer snk.Close(context.Background())
	views := oracleViews(t, srcConn, restartViews)
	if !checkAll(t, srcConn, "ripple", map[string]*pgx.Conn{"main": snk}, views, when) {
		t.Fatalf("sinks differ %s", when)
	}
}

func stopRipple(t *testing.T, p *proc) {
	t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.done:
		if err != nil {
			t.Errorf("ripple exited with %v on SIGTERM\n%s", err, p.stderr)
		}
	case <-time.After(30 * time.Second):
		t.Errorf("ripple did not stop within 30s of SIGTERM")
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

func assertRunning(t *testing.T, p *proc, when string) {
	t.Helper()
	select {
	case err := <-p.done:
		t.Fatalf("%s: ripple exited: %v\n%s", when, err, p.stderr)
	default:
	}
}

// TestSourceRestart restarts the source PostgreSQL under load, with a fast
// and with an immediate shutdown, and kills ripple's walsender with
// pg_terminate_backend: ripple reconnects with backoff and continues, and
// the sink equals the views.
func TestSourceRestart(t *testing.T) {
	r := newFaultRig(t)
	p := startRipple(t, "run", "--config", r.cfg, "--http", "")
	r.check(t, "after the initial load")
	load := startLoad(t, r.w, 5*time.Millisecond)
	ctx := context.Background()
	for _, mode := range []string{"fast", "immediate"} {
		time.Sleep(time.Second)
		if err := r.src.Stop(ctx, mode); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Second)
		if err := r.src.Start(ctx); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Second)
		assertRunning(t, p, "after a "+mode+" restart of the source")
	}
	time.Sleep(time.Second)
	if err := r.src.Exec(ctx, "app", "SELECT pg_terminate_backend(pid) FROM pg_stat_replication"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second)
	load.finish()
	assertRunning(t, p, "after pg_terminate_backend of the walsender")
	r.check(t, "after source restarts")
	if n := strings.Count(p.stderr.String(), "reconnecting"); n < 3 {
		t.Errorf("ripple logged %d reconnections, want at least 3 (two restarts, one terminated walsender)", n)
	}
	stopRipple(t, p)
	t.Logf("%d workload transactions committed, %d failed during the restarts", r.w.commits, load.failed)
}

// TestSinkOutage stops the sink PostgreSQL for a while under load: ripple
// stops reading (the slot keeps the WAL, ripple's memory stays flat), and
// when the sink returns everything is applied exactly once. Killing ripple's
// sink connection with pg_terminate_backend is survived the same way.
// RIPPLE_SINK_OUTAGE sets the outage (default 10s; the long form uses 60s).
func TestSinkOutage(t *testing.T) {
	outage := 10 * time.Second
	if v := os.Getenv("RIPPLE_SINK_OUTAGE"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("RIPPLE_SINK_OUTAGE=%q: %v", v, err)
		}
		outage = d
	}
	r := newFaultRig(t)
	p := startRipple(t, "run", "--config", r.cfg, "--http", "")
	r.check(t, "after the initial load")
	load := startLoad(t, r.w, 5*time.Millisecond)
	ctx := context.Background()
	time.Sleep(time.Second)
	if err := r.snk.Exec(ctx, "warehouse", "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = 'warehouse' AND pid <> pg_backend_pid()"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	assertRunning(t, p, "after pg_terminate_backend of the sink connection")

	if err := r.snk.Stop(ctx, "fast"); err != nil {
		t.Fatal(err)
	}
	srcConn := connect(t, r.src, "app")
	flushAt := func() string {
		var lsn string
		if err := srcConn.QueryRow(ctx, "SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = 'ripple'").Scan(&lsn); err != nil {
			t.Fatal(err)
		}
		return lsn
	}
	time.Sleep(2 * time.Second) // let ripple notice
	before, rssBefore := flushAt(), rssKB(t, p)
	var rssMax int64
	for end := time.Now().Add(outage); time.Now().Before(end); time.Sleep(500 * time.Millisecond) {
		assertRunning(t, p, "during the sink outage")
		rssMax = max(rssMax, rssKB(t, p))
	}
	after := flushAt()
	if before != after {
		t.Errorf("the slot's confirmed_flush_lsn moved from %s to %s while the sink was down", before, after)
	}
	// Memory stays flat: ripple does not buffer the changes it cannot apply.
	if rssMax > rssBefore+64<<10 {
		t.Errorf("ripple's RSS grew from %d kB to %d kB during the outage", rssBefore, rssMax)
	}
	t.Logf("outage %s: RSS %d kB before, at most %d kB during; slot held at %s", outage, rssBefore, rssMax, before)
	if err := r.snk.Start(ctx); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second)
	load.finish()
	assertRunning(t, p, "after the sink returned")
	r.check(t, "after the sink outage")
	stopRipple(t, p)
	t.Logf("%d workload transactions committed", r.w.commits)
}

func rssKB(t *testing.T, p *proc) int64 { return procStatusKB(t, p, "VmRSS:") }

// TestSlotLost drops ripple's replication slot while ripple is stopped: the
// next start fails at once with an error that says what happened and that
// `ripple resync` repairs it (no retry loop, the sink untouched); resync
// rebuilds, and run goes on from there.
func TestSlotLost(t *testing.T) {
	r := newFaultRig(t)
	p := startRipple(t, "run", "--config", r.cfg, "--http", "")
	r.check(t, "after the initial load")
	stopRipple(t, p)
	ctx := context.Background()
	if err := r.src.Exec(ctx, "app", "SELECT pg_drop_replication_slot('ripple')"); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 30; i++ {
		r.w.txn(t)
	}
	code, out := runRipple(t, nil, "run", "--config", r.cfg, "--http", "")
	if code == 0 || !strings.Contains(out, "replication slot ripple no longer exists") || !strings.Contains(out, "ripple resync") {
		t.Fatalf("run after the slot was dropped: exit %d, output:\n%s", code, out)
	}
	if strings.Contains(out, "reconnecting") {
		t.Errorf("a lost slot was retried:\n%s", out)
	}
	t.Logf("refused: %s", lastLine(out))
	code, out = runRipple(t, nil, "resync", "--config", r.cfg, "--http", "")
	if code != 0 || !strings.Contains(out, "resync done") {
		t.Fatalf("resync: exit %d, output:\n%s", code, out)
	}
	p = startRipple(t, "run", "--config", r.cfg, "--http", "")
	for i := 0; i < 30; i++ {
		r.w.txn(t)
	}
	r.check(t, "after resync")
	if !strings.Contains(p.stderr.String(), "resumed from checkpoint") {
		t.Errorf("run after resync did not resume from the resync's state:\n%s", p.stderr)
	}
	stopRipple(t, p)
}

// TestStateDirFaults: a read-only state_dir is refused with a clear error;
// a state_dir that fills up stops ripple with a clear error, and once there
// is space again ripple resumes from its last checkpoint with nothing lost
// or applied twice. Both use a tmpfs mount (the tests run as root).
func TestStateDirFaults(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("TestStateDirFaults mounts a tmpfs and needs root (the test command runs as root in CI)")
	}
	r := newFaultRig(t)
	dir := filepath.Join(t.TempDir(), "state")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	mount := func(opts string) {
		t.Helper()
		if out, err := exec.Command("mount", "-t", "tmpfs", "-o", opts, "tmpfs", dir).CombinedOutput(); err != nil {
			t.Fatalf("mount tmpfs on %s: %v: %s", dir, err, out)
		}
	}
	remount := func(opts string) {
		t.Helper()
		if out, err := exec.Command("mount", "-o", "remount,"+opts, dir).CombinedOutput(); err != nil {
			t.Fatalf("remount %s: %v: %s", dir, err, out)
		}
	}
	mount("size=64m")
	t.Cleanup(func() { _ = exec.Command("umount", "-l", dir).Run() })

	remount("ro")
	code, out := runRipple(t, nil, "run", "--config", r.cfg, "--http", "", "--state-dir", dir)
	if code == 0 || !strings.Contains(out, "state_dir") || !strings.Contains(out, "read-only file system") {
		t.Fatalf("read-only state_dir: exit %d, output:\n%s", code, out)
	}
	t.Logf("read-only state_dir refused: %s", lastLine(out))
	remount("rw")

	p := startRipple(t, "run", "--config", r.cfg, "--http", "", "--state-dir", dir)
	r.check(t, "after the initial load")
	// Fill the file system, leaving a little room, then write wide rows.
	if out, err := exec.Command("sh", "-c", "dd if=/dev/zero of="+dir+"/filler bs=1M count=60 2>&1; true").CombinedOutput(); err != nil {
		t.Fatalf("fill: %v %s", err, out)
	}
	ctx := context.Background()
	conn := connect(t, r.src, "app")
	var exited error
	for i := 0; i < 400; i++ {
		if _, err := conn.Exec(ctx, "INSERT INTO orders (id, note) SELECT 1000000 + $1::int * 100 + g, repeat(md5(g::text || $1::text), 1000) FROM generate_series(1, 20) g", i); err != nil {
			t.Fatal(err)
		}
		select {
		case exited = <-p.done:
		case <-time.After(20 * time.Millisecond):
			continue
		}
		break
	}
	if exited == nil {
		select {
		case exited = <-p.done:
		case <-time.After(30 * time.Second):
			t.Fatalf("ripple kept running with a full state_dir\n%s", p.stderr)
		}
	}
	if !strings.Contains(p.stderr.String(), "no space left on device") {
		t.Fatalf("full state_dir: ripple exited with %v without saying the disk is full\n%s", exited, p.stderr)
	}
	t.Logf("full state_dir: %s", lastLine(p.stderr.String()))
	if err := os.Remove(filepath.Join(dir, "filler")); err != nil {
		t.Fatal(err)
	}
	p = startRipple(t, "run", "--config", r.cfg, "--http", "", "--state-dir", dir)
	r.check(t, "after space returned")
	if !strings.Contains(p.stderr.String(), "resumed from checkpoint") {
		t.Errorf("ripple did not resume from its state after the disk-full stop:\n%s", p.stderr)
	}
	stopRipple(t, p)
}
