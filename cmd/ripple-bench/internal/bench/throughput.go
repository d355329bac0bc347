package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// throughputViews are the four view shapes of scenario a over the same
// tables: t (the changing table) and dim (100 rows, static).
var throughputViews = []struct{ name, sql string }{
	{"identity", "CREATE VIEW v AS SELECT * FROM t"},
	{"filter/projection", "CREATE VIEW v AS SELECT id, val * 2 AS v2, upper(note) AS note FROM t WHERE grp % 4 = 0"},
	{"aggregate (100 groups)", "CREATE VIEW v AS SELECT grp, count(*) AS n, sum(val) AS s, max(id) AS top FROM t GROUP BY grp"},
	{"join t ⋈ dim", "CREATE VIEW v AS SELECT t.id, t.val, d.name FROM t JOIN dim d ON d.id = t.grp"},
}

const throughputSchema = `
CREATE TABLE t (id int PRIMARY KEY, grp int NOT NULL, val numeric(12,2), note text);
CREATE TABLE dim (id int PRIMARY KEY, name text NOT NULL);
INSERT INTO dim SELECT g, 'dim ' || g FROM generate_series(0, 99) g;
INSERT INTO t SELECT g, g % 100, g * 0.5, 'row ' || g FROM generate_series(-999, 0) g;
`

func runThroughput(ctx context.Context, env *Env, res *Scenario) error {
	sz := env.sizes
	var errs []error
	for _, v := range throughputViews {
		for _, grouped := range []bool{false, true} {
			if err := env.drain(ctx, res, v.name, v.sql, grouped, sz.BacklogTxnRows, sz.BacklogChanges, env.profDir != ""); err != nil {
				if errors.Is(err, errNoGrouping) {
					res.stage("%s, grouped mode: not measured (the pipeline has no grouping mode yet)", v.name)
					continue
				}
				errs = append(errs, fmt.Errorf("%s: %w", v.name, err))
			}
		}
	}
	if err := env.ceiling(ctx, res); err != nil {
		errs = append(errs, fmt.Errorf("strict ceiling: %w", err))
	}
	return errors.Join(errs...)
}

// backlog writes changes row changes into t in transactions of txnRows
// (60% inserts, 30% updates, 10% deletes, in that order of blocks) and
// returns the number of transactions.
func backlog(ctx context.Context, c *pgx.Conn, changes, txnRows int) (int, error) {
	ins := changes * 6 / 10
	upd := changes * 3 / 10
	del := changes - ins - upd
	txns := 0
	run := func(sql string, total, offset int) error {
		for lo := 1; lo <= total; lo += txnRows {
			hi := min(lo+txnRows-1, total)
			if _, err := c.Exec(ctx, sql, offset+lo, offset+hi); err != nil {
				return err
			}
			txns++
		}
		return nil
	}
	if err := run("INSERT INTO t SELECT g, g % 100, g * 0.25, 'note ' || g FROM generate_series($1::int, $2::int) g", ins, 0); err != nil {
		return txns, err
	}
	if err := run("UPDATE t SET val = val + 1, note = note || '+' WHERE id BETWEEN $1 AND $2", upd, 0); err != nil {
		return txns, err
	}
	// Deletes from the top so that they do not hit updated rows only.
	if err := run("DELETE FROM t WHERE id BETWEEN $1 AND $2", del, ins-del); err != nil {
		return txns, err
	}
	return txns, nil
}

// drain measures one view in one sink mode: ripple is held after its
// initial load, a backlog is written, pg_recvlogical drains the same
// changes from a second slot, then ripple is released and timed until it
// has applied the last backlog transaction.
func (e *Env) drain(ctx context.Context, res *Scenario, name, viewSQL string, grouped bool, txnRows, changes int, profile bool) error {
	db, err := e.freshDBs(ctx, "thr")
	if err != nil {
		return err
	}
	defer e.dropDBs(ctx, db)
	if err := e.Src.Exec(ctx, db, throughputSchema); err != nil {
		return err
	}
	o := rippleOpts{hold: true}
	mode := "strict"
	if grouped {
		o.group = e.sizes.GroupTxns
		mode = fmt.Sprintf("grouped ≤%d", o.group)
	}
	r, err := e.startRipple(ctx, db, viewSQL, o)
	if err != nil {
		return err
	}
	defer r.stop()
	src, err := e.connect(ctx, e.Src, db)
	if err != nil {
		return err
	}
	defer src.Close(ctx)
	if _, err := src.Exec(ctx, "SELECT pg_create_logical_replication_slot('raw', 'pgoutput')"); err != nil {
		return err
	}
	genStart := time.Now()
	txns, err := backlog(ctx, src, changes, txnRows)
	if err != nil {
		return fmt.Errorf("write backlog: %w", err)
	}
	gen := time.Since(genStart)
	end, err := currentLSN(ctx, src)
	if err != nil {
		return err
	}
	raw, err := e.recvlogical(ctx, db, "raw", "ripple", end)
	if err != nil {
		return err
	}
	if _, err := src.Exec(ctx, "SELECT pg_drop_replication_slot('raw')"); err != nil {
		return err
	}
	var stopProfile func() error
	if profile {
		if stopProfile, err = e.startProfile(fmt.Sprintf("a-%s-%s", strings.ReplaceAll(strings.Fields(name)[0], "/", "-"), map[bool]string{false: "strict", true: "grouped"}[grouped])); err != nil {
			return err
		}
	}
	r.sink.reset()
	start := time.Now()
	close(r.release)
	doneAt, err := r.waitCount(ctx, txns, 10*time.Minute)
	if err != nil {
		return err
	}
	took := doneAt.Sub(start)
	if stopProfile != nil {
		if err := stopProfile(); err != nil {
			return err
		}
	}
	calls := r.sink.calls()
	apply, steps := r.sink.reset()
	rippleRate := float64(changes) / took.Seconds()
	rawRate := float64(changes) / raw.Seconds()
	f := res.add(&Figure{Name: fmt.Sprintf("%s, %s: rows/s draining %d changes in %d txns", name, mode, changes, txns),
		Value: rippleRate, Unit: "rows/s", Baseline: "pg_recvlogical raw stream", BaselineValue: rawRate,
		Ratio: ratio(rippleRate, rawRate), RatioOf: "ripple/raw"})
	if grouped {
		if name == "aggregate (100 groups)" {
			f.atLeast(0.6)
		} else if name == "identity" || name == "filter/projection" {
			f.atLeast(0.3)
		}
	}
	res.stage("%s, %s: ripple drained in %s, of which %s (%.0f%%) in %d sink transactions (%.2f ms each, sent in %d calls); pg_recvlogical %s; writing the backlog took %s",
		name, mode, took.Round(time.Millisecond), apply.Round(time.Millisecond), 100*apply.Seconds()/took.Seconds(), steps,
		1000*apply.Seconds()/float64(max(steps, 1)), calls, raw.Round(time.Millisecond), gen.Round(time.Millisecond))
	return r.check(ctx, e, res, name+", "+mode)
}

// waitCount waits until n source transactions were applied after the
// initial load and returns when the n-th was.
func (r *ripple) waitCount(ctx context.Context, n int, timeout time.Duration) (time.Time, error) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		r.mu.Lock()
		if len(r.steps) >= n {
			t := r.steps[n-1].at
			r.mu.Unlock()
			return t, nil
		}
		got := len(r.steps)
		ch := r.changed
		r.mu.Unlock()
		select {
		case <-ch:
		case err := <-r.done:
			r.done <- err
			return time.Time{}, fmt.Errorf("pipeline stopped: %v", err)
		case <-deadline.C:
			return time.Time{}, fmt.Errorf("only %d of %d transactions applied within %s", got, n, timeout)
		case <-ctx.Done():
			return time.Time{}, ctx.Err()
		}
	}
}

// ceiling compares strict mode on single-row transactions with a bare
// loop of single-row commits into the sink.
func (e *Env) ceiling(ctx context.Context, res *Scenario) error {
	n := e.sizes.CeilingTxns
	db, err := e.freshDBs(ctx, "ceil")
	if err != nil {
		return err
	}
	defer e.dropDBs(ctx, db)
	if err := e.Src.Exec(ctx, db, throughputSchema); err != nil {
		return err
	}
	// Baseline: one connection, one autocommit single-row INSERT per
	// transaction, into a table shaped like the view's.
	snk, err := e.connect(ctx, e.Snk, db)
	if err != nil {
		return err
	}
	defer snk.Close(ctx)
	if _, err := snk.Exec(ctx, "CREATE TABLE bare (id int, grp int, val numeric(12,2), note text); CREATE INDEX ON bare (id)"); err != nil {
		return err
	}
	start := time.Now()
	for i := 0; i < n; i++ {
		if _, err := snk.Exec(ctx, "INSERT INTO bare VALUES ($1, $2, $3, $4)", i, i%100, fmt.Sprint(i), "note"); err != nil {
			return err
		}
	}
	bare := float64(n) / time.Since(start).Seconds()
	e.bareCommit = time.Since(start) / time.Duration(n)

	r, err := e.startRipple(ctx, db, "CREATE VIEW v AS SELECT * FROM t", rippleOpts{hold: true})
	if err != nil {
		return err
	}
	defer r.stop()
	src, err := e.connect(ctx, e.Src, db)
	if err != nil {
		return err
	}
	defer src.Close(ctx)
	for i := 1; i <= n; i++ {
		if _, err := src.Exec(ctx, "INSERT INTO t VALUES ($1, $1 % 100, $1 * 0.5, 'x')", i); err != nil {
			return err
		}
	}
	var stopProfile func() error
	if e.profDir != "" {
		if stopProfile, err = e.startProfile("a-ceiling-strict"); err != nil {
			return err
		}
	}
	r.sink.reset()
	start = time.Now()
	close(r.release)
	doneAt, err := r.waitCount(ctx, n, 10*time.Minute)
	if err != nil {
		return err
	}
	took := doneAt.Sub(start)
	if stopProfile != nil {
		if err := stopProfile(); err != nil {
			return err
		}
	}
	calls := r.sink.calls()
	apply, steps := r.sink.reset()
	rate := float64(n) / took.Seconds()
	e.strictRate = rate
	res.add(&Figure{Name: fmt.Sprintf("identity, strict: single-row txns/s (%d txns)", n), Value: rate, Unit: "txn/s",
		Baseline: "bare loop of single-row sink commits", BaselineValue: bare, Ratio: ratio(rate, bare), RatioOf: "ripple/bare"}).atLeast(0.8)
	res.stage("strict ceiling: ripple %s for %d txns, %s (%.0f%%) in sink Apply (%.3f ms per sink transaction, each BEGIN, progress record, INSERT, COMMIT; %d sink transactions in %d pipelined calls, %.1f per call)",
		took.Round(time.Millisecond), n, apply.Round(time.Millisecond), 100*apply.Seconds()/took.Seconds(), 1000*apply.Seconds()/float64(max(steps, 1)),
		steps, calls, float64(steps)/float64(max(calls, 1)))
	return r.check(ctx, e, res, "strict ceiling")
}

// startProfile starts a CPU profile and returns the function that stops it
// and writes an allocation profile next to it.
func (e *Env) startProfile(name string) (func() error, error) {
	if err := os.MkdirAll(e.profDir, 0o755); err != nil {
		return nil, err
	}
	f, err := os.Create(filepath.Join(e.profDir, name+".cpu.pprof"))
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() error {
		pprof.StopCPUProfile()
		f.Close()
		h, err := os.Create(filepath.Join(e.profDir, name+".alloc.pprof"))
		if err != nil {
			return err
		}
		defer h.Close()
		runtime.GC()
		return pprof.Lookup("allocs").WriteTo(h, 0)
	}, nil
}
