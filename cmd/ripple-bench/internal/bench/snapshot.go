package bench

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/rippledb/ripple/cdc"
	"github.com/rippledb/ripple/internal/row"
)

const snapTable = `CREATE TABLE s (id int PRIMARY KEY, a int, b numeric(12,2), c text, d timestamptz);
INSERT INTO s SELECT g, g %% 1000, g * 0.01, 'text value ' || g, '2024-01-01'::timestamptz + g * interval '1 second' FROM generate_series(1, %d) g;
ANALYZE s;`

// runSnapshot compares ripple's snapshot reading with COPY ... TO STDOUT,
// and the initial load of an identity view with a plain COPY pipe.
func runSnapshot(ctx context.Context, env *Env, res *Scenario) error {
	n := env.sizes.SnapshotRows
	db, err := env.freshDBs(ctx, "snap")
	if err != nil {
		return err
	}
	defer env.dropDBs(ctx, db)
	if err := env.Src.Exec(ctx, db, fmt.Sprintf(snapTable, n)); err != nil {
		return err
	}
	src, err := env.connect(ctx, env.Src, db)
	if err != nil {
		return err
	}
	defer src.Close(ctx)

	// Baseline 1: COPY out of the table, discarded.
	t := time.Now()
	if _, err := src.PgConn().CopyTo(ctx, io.Discard, "COPY s TO STDOUT"); err != nil {
		return err
	}
	copyOut := time.Since(t)

	// ripple's snapshot reader alone: slot, exported snapshot, COPY, decode.
	s, err := cdc.Connect(ctx, cdc.Config{DSN: env.Src.DSN(db), Slot: "snapread", Publication: "snapread", Logger: env.log})
	if err != nil {
		return err
	}
	s.SetTables([]row.TableName{{Schema: "public", Name: "s"}})
	if err := s.EnsurePublication(ctx); err != nil {
		s.Close(ctx)
		return err
	}
	rows := 0
	t = time.Now()
	_, err = s.Snapshot(ctx, func(*cdc.Relation, row.Row) error { rows++; return nil })
	read := time.Since(t)
	_ = s.DropSlot(ctx)
	s.Close(ctx)
	if err != nil {
		return err
	}
	if rows != n {
		return fmt.Errorf("snapshot read %d rows, the table has %d", rows, n)
	}
	rate, base := float64(n)/read.Seconds(), float64(n)/copyOut.Seconds()
	res.add(&Figure{Name: fmt.Sprintf("snapshot read, %d rows", n), Value: rate, Unit: "rows/s", Baseline: "COPY s TO STDOUT",
		BaselineValue: base, Ratio: ratio(rate, base), RatioOf: "ripple/COPY"}).atLeast(0.5)

	// Baseline 2: a plain COPY pipe from source to sink.
	snk, err := env.connect(ctx, env.Snk, db)
	if err != nil {
		return err
	}
	defer snk.Close(ctx)
	if _, err := snk.Exec(ctx, "CREATE TABLE s_pipe (id int, a int, b numeric(12,2), c text, d timestamptz)"); err != nil {
		return err
	}
	t = time.Now()
	pr, pw := io.Pipe()
	errc := make(chan error, 1)
	go func() {
		_, err := src.PgConn().CopyTo(ctx, pw, "COPY s TO STDOUT")
		pw.CloseWithError(err)
		errc <- err
	}()
	if _, err := snk.PgConn().CopyFrom(ctx, pr, "COPY s_pipe FROM STDIN"); err != nil {
		pr.CloseWithError(err)
		<-errc
		return err
	}
	if err := <-errc; err != nil {
		return err
	}
	pipe := time.Since(t)

	t = time.Now()
	r, err := env.startRipple(ctx, db, "CREATE VIEW v AS SELECT * FROM s", rippleOpts{})
	if err != nil {
		return err
	}
	defer r.stop()
	load := time.Since(t)
	rate, base = float64(n)/load.Seconds(), float64(n)/pipe.Seconds()
	res.add(&Figure{Name: fmt.Sprintf("identity initial load, %d rows", n), Value: rate, Unit: "rows/s", Baseline: "plain COPY pipe source→sink",
		BaselineValue: base, Ratio: ratio(rate, base), RatioOf: "ripple/pipe"}).atLeast(0.8)
	r.sink.mu.Lock()
	inSink := r.sink.loadIn
	r.sink.mu.Unlock()
	res.stage("snapshot read %s (COPY out %s); initial load %s, of which %s in the sink's Load (COPY, key index, ANALYZE) — the rest is planning, snapshot and the dataflow step; plain pipe %s",
		read.Round(time.Millisecond), copyOut.Round(time.Millisecond), load.Round(time.Millisecond), inSink.Round(time.Millisecond), pipe.Round(time.Millisecond))
	return r.check(ctx, env, res, "identity initial load")
}
