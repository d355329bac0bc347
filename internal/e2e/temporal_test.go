package e2e

import (
	"context"
	"fmt"
	"math/rand"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rippledb/ripple/cdc"
	"github.com/rippledb/ripple/internal/oracle"
	"github.com/rippledb/ripple/internal/pgcluster"
	"github.com/rippledb/ripple/internal/pgtest"
	"github.com/rippledb/ripple/internal/pipeline"
	"github.com/rippledb/ripple/internal/row"
	"github.com/rippledb/ripple/planner"
	"github.com/rippledb/ripple/sink"
)

const temporalViews = `
CREATE VIEW recent AS SELECT id, ts, v FROM events WHERE ts > now() - interval '2 seconds';
CREATE VIEW recent_sum AS SELECT count(*) AS n, sum(v) AS total FROM events WHERE ts > now() - interval '2 seconds';
CREATE VIEW due AS SELECT id, ts FROM events WHERE now() + interval '1 second' >= ts AND v > 2;
CREATE VIEW windowed AS SELECT id, v FROM events WHERE ts BETWEEN current_timestamp - interval '3 seconds' AND now();
`

// TestTemporalFilters runs views with temporal filters (a sliding window,
// an aggregate over it, rows becoming valid in the future, a BETWEEN
// window) under a random workload whose timestamps spread around the
// views' now(). ripple's clock is the test's: at each quiet point the test
// moves it, waits until ripple has applied a step at that time, and
// compares every sink table with the view's SELECT on the source with
// now() replaced by that time. It also checks that rows expire with no
// source activity, and that a restart from the durable state keeps the
// oracle true.
func TestTemporalFilters(t *testing.T) {
	sd := seed(t)
	t.Logf("seed %d (replay with RIPPLE_SEED=%d)", sd, sd)
	rng := rand.New(rand.NewSource(sd))

	src := pgtest.Source(t)
	other := pgtest.Start(t, pgcluster.Options{})
	pgtest.CreateDB(t, other, "warehouse")
	pgtest.Exec(t, src, "app", `CREATE TABLE events (id int PRIMARY KEY, ts timestamptz, v int)`)
	srcConn := connect(t, src, "app")
	snk := connect(t, other, "warehouse")
	ctx := context.Background()

	// The views' clock, in microseconds since the Unix epoch.
	var clock atomic.Int64
	clock.Store(time.Date(2024, 6, 1, 12, 0, 0, 0, time.UTC).UnixMicro())
	now := func() time.Time { return time.UnixMicro(clock.Load()).UTC() }

	nextID := 0
	live := map[int]bool{}
	txn := func() {
		t.Helper()
		tx, err := srcConn.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback(ctx)
		for i := rng.Intn(4) + 1; i > 0; i-- {
			// Timestamps within 4 s either side of the views' now().
			ts := now().Add(time.Duration(rng.Intn(8000)-4000) * time.Millisecond)
			var tsArg any = ts
			if rng.Intn(10) == 0 {
				tsArg = nil
			}
			var ids []int
			for id := range live {
				ids = append(ids, id)
			}
			switch op := rng.Intn(5); {
			case op < 3 || len(ids) == 0:
				nextID++
				live[nextID] = true
				_, err = tx.Exec(ctx, `INSERT INTO events VALUES ($1, $2, $3)`, nextID, tsArg, rng.Intn(6))
			case op == 3:
				_, err = tx.Exec(ctx, `UPDATE events SET ts = $2, v = $3 WHERE id = $1`, ids[rng.Intn(len(ids))], tsArg, rng.Intn(6))
			default:
				id := ids[rng.Intn(len(ids))]
				delete(live, id)
				_, err = tx.Exec(ctx, `DELETE FROM events WHERE id = $1`, id)
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		if err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 30; i++ {
		txn()
	}

	defs, err := planner.ParseViews("temporal.sql", temporalViews)
	if err != nil {
		t.Fatal(err)
	}
	names := make([]row.TableName, len(defs))
	for i, d := range defs {
		names[i] = d.Name
	}
	stateDir := t.TempDir()
	var status *pipeline.Status
	var done chan error
	var cancel context.CancelFunc
	start := func() {
		status = pipeline.NewStatus()
		var rctx context.Context
		rctx, cancel = context.WithCancel(context.Background())
		done = make(chan error, 1)
		st := status
		go func() {
			done <- pipeline.Run(rctx, pipeline.Config{
				Source: cdc.Config{DSN: src.DSN("app"), Slot: "ripple", Publication: "ripple"},
				Views:  defs,
				Targets: []pipeline.Target{
					{Sink: sink.NewPostgres(sink.PostgresConfig{Name: "pg", DSN: other.DSN("warehouse")}), Views: names},
				},
				StateDir: stateDir,
				Status:   st,
				Tick:     20 * time.Millisecond,
				Clock:    now,
			})
		}()
	}
	stop := func() {
		t.Helper()
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("pipeline: %v", err)
		}
		done = nil
	}
	start()
	t.Cleanup(func() {
		if done != nil {
			stop()
		}
	})

	views := oracleViews(t, srcConn, temporalViews)
	sinks := map[string]*pgx.Conn{"pg": snk}
	// check waits until ripple has applied everything and stepped at the
	// clock's time, then compares with now() replaced by that time.
	check := func(when string) {
		t.Helper()
		if err := oracle.WaitCaughtUp(ctx, srcConn, "ripple", 60*time.Second); err != nil {
			t.Fatalf("%s: %v", when, err)
		}
		want := now()
		deadline := time.Now().Add(30 * time.Second)
		for !status.Report().LogicalTime.Equal(want) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: ripple's logical time is %s, not %s, after 30s", when, status.Report().LogicalTime, want)
			}
			select {
			case err := <-done:
				done <- err
				t.Fatalf("%s: pipeline stopped: %v", when, err)
			case <-time.After(10 * time.Millisecond):
			}
		}
		lit := "'" + want.Format("2006-01-02 15:04:05.999999Z07:00") + "'::timestamptz"
		at := make([]oracle.View, len(views))
		for i, v := range views {
			v.Query = strings.ReplaceAll(strings.ReplaceAll(v.Query, "now()", lit), "current_timestamp", lit)
			at[i] = v
		}
		if !checkAll(t, srcConn, "ripple", sinks, at, when) {
			t.Fatalf("seed %d: %s: sink differs from the views at %s", sd, when, want)
		}
	}
	advance := func(d time.Duration) { clock.Add(d.Microseconds()) }
	count := func(q string) int {
		t.Helper()
		var n int
		if err := snk.QueryRow(ctx, q).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}

	waitLoaded(t, snk, done)
	check("after the initial load")
	for round := 0; round < 12; round++ {
		for i := rng.Intn(8) + 1; i > 0; i-- {
			txn()
			if rng.Intn(3) == 0 {
				advance(time.Duration(rng.Intn(700)) * time.Millisecond)
			}
		}
		advance(time.Duration(rng.Intn(1500)) * time.Millisecond)
		check(fmt.Sprintf("round %d", round))
	}

	// Expiry with no source activity: a row inside the window leaves it
	// when only time passes.
	nextID++
	probe := nextID
	live[probe] = true
	if _, err := srcConn.Exec(ctx, `INSERT INTO events VALUES ($1, $2, 5)`, probe, now()); err != nil {
		t.Fatal(err)
	}
	check("after inserting the probe row")
	if n := count(fmt.Sprintf("SELECT count(*) FROM recent WHERE id = %d", probe)); n != 1 {
		t.Fatalf("probe row with ts = now() is %d times in recent, want 1", n)
	}
	advance(2500 * time.Millisecond)
	check("after 2.5 s with no source activity")
	if n := count(fmt.Sprintf("SELECT count(*) FROM recent WHERE id = %d", probe)); n != 0 {
		t.Fatalf("probe row 2.5 s old is %d times in recent, want 0", n)
	}
	if n := count(fmt.Sprintf("SELECT count(*) FROM due WHERE id = %d", probe)); n != 1 {
		t.Fatalf("probe row is %d times in due, want 1", n)
	}

	// Restart: the state is rebuilt at the checkpoint's time, and the
	// first tick brings it to the present.
	stop()
	for i := 0; i < 5; i++ {
		txn()
	}
	advance(1200 * time.Millisecond)
	start()
	check("after a restart")
	for round := 0; round < 4; round++ {
		txn()
		advance(time.Duration(rng.Intn(1500)) * time.Millisecond)
		check(fmt.Sprintf("after the restart, round %d", round))
	}
	if n := count("SELECT count(*) FROM recent"); n == 0 {
		t.Logf("recent is empty at the end (the seed's timestamps)")
	}
}
