package e2e

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rippledb/ripple/cdc"
	"github.com/rippledb/ripple/internal/pgcluster"
	"github.com/rippledb/ripple/internal/pgtest"
	"github.com/rippledb/ripple/internal/pipeline"
	"github.com/rippledb/ripple/internal/row"
	"github.com/rippledb/ripple/planner"
	"github.com/rippledb/ripple/sink"
)

// stepsSink is a Postgres sink that records its ApplySteps calls.
type stepsSink struct {
	*sink.Postgres
	mu    sync.Mutex
	calls []stepsCall
}

type stepsCall struct {
	lsns      []row.LSN
	committed int
	err       error
}

func (s *stepsSink) ApplySteps(ctx context.Context, steps []sink.Step) (int, error) {
	n, err := s.Postgres.ApplySteps(ctx, steps)
	c := stepsCall{committed: n, err: err}
	for _, st := range steps {
		c.lsns = append(c.lsns, st.LSN)
	}
	s.mu.Lock()
	s.calls = append(s.calls, c)
	s.mu.Unlock()
	return n, err
}

// TestStrictPipelinedFailure checks strict mode's pipelined sink
// transactions (several queued source transactions sent to the sink
// together, each its own sink transaction) when one of them fails in the
// sink: a backlog of single-row source transactions forms while a lock
// stalls ripple, and a CHECK constraint added to the sink table makes the
// 13th fail. The transactions before it must be committed, none after it
// (they were in the same pipelined batch), the pipeline must stop with the
// sink's error; after the constraint is dropped, a restart from the durable
// state must apply the rest exactly once.
func TestStrictPipelinedFailure(t *testing.T) {
	src := pgtest.Source(t)
	snk := pgtest.Start(t, pgcluster.Options{})
	pgtest.CreateDB(t, snk, "warehouse")
	pgtest.Exec(t, src, "app", `CREATE TABLE t (id int PRIMARY KEY, v int NOT NULL)`)
	const viewSQL = `CREATE VIEW v AS SELECT id, v FROM t;`
	defs, err := planner.ParseViews("views.sql", viewSQL)
	if err != nil {
		t.Fatal(err)
	}
	stateDir := t.TempDir()
	bg := context.Background()
	start := func() (*stepsSink, chan error, context.CancelFunc) {
		s := &stepsSink{Postgres: sink.NewPostgres(sink.PostgresConfig{Name: "main", DSN: snk.DSN("warehouse")})}
		ctx, cancel := context.WithCancel(bg)
		done := make(chan error, 1)
		go func() {
			done <- pipeline.Run(ctx, pipeline.Config{
				Source:   cdc.Config{DSN: src.DSN("app"), Slot: "ripple", Publication: "ripple"},
				Views:    defs,
				Targets:  []pipeline.Target{{Sink: s, Views: []row.TableName{defs[0].Name}}},
				StateDir: stateDir,
			})
		}()
		return s, done, cancel
	}
	s1, done, cancel := start()
	defer cancel()
	srcConn := connect(t, src, "app")
	snkConn := connect(t, snk, "warehouse")
	views := oracleViews(t, srcConn, viewSQL)
	sinks := map[string]*pgx.Conn{"main": snkConn}
	waitLoaded(t, snkConn, done)
	if !checkAll(t, srcConn, "ripple", sinks, views, "after the initial load") {
		t.Fatal("sink differs after the initial load")
	}

	// Stall ripple behind the lock the constraint's ALTER TABLE holds until
	// it commits, and queue a backlog of single-row transactions.
	locker := connect(t, snk, "warehouse")
	tx, err := locker.Begin(bg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(bg, "ALTER TABLE public.v ADD CONSTRAINT not_13 CHECK (id <> 13)"); err != nil {
		t.Fatal(err)
	}
	if _, err := srcConn.Exec(bg, "SET synchronous_commit = on"); err != nil {
		t.Fatal(err)
	}
	const txns = 30
	for i := 1; i <= txns; i++ {
		if _, err := srcConn.Exec(bg, "INSERT INTO t VALUES ($1, $1 * 10)", i); err != nil {
			t.Fatal(err)
		}
	}
	var end string
	if err := srcConn.QueryRow(bg, "SELECT pg_current_wal_lsn()::text").Scan(&end); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		var sent bool
		if err := srcConn.QueryRow(bg, "SELECT coalesce(bool_and(sent_lsn >= $1::pg_lsn), false) FROM pg_stat_replication", end).Scan(&sent); err != nil {
			t.Fatal(err)
		}
		if sent {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the walsender did not send the backlog within 30s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond) // for ripple to decode and queue what was sent
	if err := tx.Commit(bg); err != nil {
		t.Fatal(err)
	}

	var runErr error
	select {
	case runErr = <-done:
	case <-time.After(60 * time.Second):
		t.Fatal("the pipeline did not stop on the sink's error within 60s")
	}
	if runErr == nil || !strings.Contains(runErr.Error(), "not_13") || !strings.Contains(runErr.Error(), "sink main") {
		t.Fatalf("pipeline stopped with %v; want the sink's CHECK violation of not_13", runErr)
	}
	t.Logf("pipeline stopped: %v", runErr)
	var ids []int32
	if err := snkConn.QueryRow(bg, "SELECT coalesce(array_agg(id ORDER BY id), '{}') FROM public.v").Scan(&ids); err != nil {
		t.Fatal(err)
	}
	ok := len(ids) == 12
	for i := 0; ok && i < len(ids); i++ {
		ok = ids[i] == int32(i+1)
	}
	if !ok {
		t.Fatalf("sink holds ids %v after the failure; want exactly 1..12", ids)
	}
	// The failing call must have carried transactions after the failed one:
	// that is what this test is about.
	s1.mu.Lock()
	var failed *stepsCall
	for i := range s1.calls {
		if s1.calls[i].err != nil {
			failed = &s1.calls[i]
		}
	}
	s1.mu.Unlock()
	if failed == nil {
		t.Fatal("no ApplySteps call failed: the failure came through Apply, not a pipelined batch")
	}
	t.Logf("the failing call held %d steps and committed %d", len(failed.lsns), failed.committed)
	if failed.committed >= len(failed.lsns)-1 {
		t.Fatalf("the failing call held %d steps and committed %d: no step after the failed one was in the batch", len(failed.lsns), failed.committed)
	}

	// Repair the sink and restart from the durable state: the rest is
	// applied once, nothing twice.
	pgtest.Exec(t, snk, "warehouse", "ALTER TABLE public.v DROP CONSTRAINT not_13")
	_, done2, cancel2 := start()
	defer func() {
		cancel2()
		if err := <-done2; err != nil {
			t.Errorf("pipeline after the restart: %v", err)
		}
	}()
	if !checkAll(t, srcConn, "ripple", sinks, views, "after the restart") {
		t.Fatal("sink differs from the view after the restart")
	}
	var n, distinct int
	if err := snkConn.QueryRow(bg, "SELECT count(*), count(DISTINCT id) FROM public.v").Scan(&n, &distinct); err != nil {
		t.Fatal(err)
	}
	if n != txns || distinct != txns {
		t.Fatalf("sink holds %d rows (%d distinct ids), want %d", n, distinct, txns)
	}
}
