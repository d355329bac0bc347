package bench

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"slices"
	"sort"
	"time"

	"github.com/rippledb/ripple/internal/pgcluster"
)

const incViews = `
CREATE VIEW inc_join AS SELECT o.id, o.amount, c.name, c.region FROM orders o JOIN customers c ON c.id = o.cust;
CREATE VIEW inc_agg AS SELECT cust, count(*) AS n, sum(amount) AS total FROM orders GROUP BY cust;
`

// runIncremental compares ripple applying one change (and 0.1%/1%/10%
// batches) with REFRESH MATERIALIZED VIEW of the same two views as the
// base tables grow.
func runIncremental(ctx context.Context, env *Env, res *Scenario) error {
	var oneRow []float64
	var errs []error
	sizes := env.sizes.IncSizes
	for _, n := range sizes {
		ms, err := env.incrementalAt(ctx, res, n)
		if err != nil {
			errs = append(errs, fmt.Errorf("%d rows: %w", n, err))
			continue
		}
		oneRow = append(oneRow, ms)
	}
	if len(oneRow) == len(sizes) && len(sizes) >= 2 {
		first, last := oneRow[0], oneRow[len(oneRow)-1]
		f := res.add(&Figure{Name: fmt.Sprintf("one-row change cost at %d vs %d rows", sizes[len(sizes)-1], sizes[0]), Value: last, Unit: "ms",
			Baseline: fmt.Sprintf("same at %d rows", sizes[0]), BaselineValue: first, Ratio: ratio(first, last), RatioOf: "small/large",
			Target: "flat within ±25%"})
		met := last <= 1.25*first && last >= 0.75*first
		f.Met = &met
	}
	return errors.Join(errs...)
}

func (e *Env) incrementalAt(ctx context.Context, res *Scenario, n int) (float64, error) {
	db, err := e.freshDBs(ctx, "inc")
	if err != nil {
		return 0, err
	}
	defer e.dropDBs(ctx, db)
	custs := max(n/10, 1)
	schema := fmt.Sprintf(`
CREATE TABLE customers (id int PRIMARY KEY, name text NOT NULL, region int NOT NULL);
CREATE TABLE orders (id int PRIMARY KEY, cust int NOT NULL, amount numeric(12,2) NOT NULL, status text);
INSERT INTO customers SELECT g, 'customer ' || g, g %% 10 FROM generate_series(1, %[1]d) g;
INSERT INTO orders SELECT g, 1 + g %% %[1]d, (g %% 1000) * 0.37, 'open' FROM generate_series(1, %[2]d) g;
CREATE MATERIALIZED VIEW mv_join AS SELECT o.id, o.amount, c.name, c.region FROM orders o JOIN customers c ON c.id = o.cust;
CREATE MATERIALIZED VIEW mv_agg AS SELECT cust, count(*) AS n, sum(amount) AS total FROM orders GROUP BY cust;
ANALYZE;`, custs, n)
	if err := e.Src.Exec(ctx, db, schema); err != nil {
		return 0, err
	}
	loadStart := time.Now()
	r, err := e.startRipple(ctx, db, incViews, rippleOpts{})
	if err != nil {
		return 0, err
	}
	defer r.stop()
	res.stage("%d rows: ripple's initial load (snapshot, both views, sink load) took %s", n, time.Since(loadStart).Round(time.Millisecond))
	src, err := e.connect(ctx, e.Src, db)
	if err != nil {
		return 0, err
	}
	defer src.Close(ctx)

	// REFRESH of both views, best of three (less noise from the others).
	var refresh time.Duration
	for i := 0; i < 3; i++ {
		t := time.Now()
		if _, err := src.Exec(ctx, "REFRESH MATERIALIZED VIEW mv_join; REFRESH MATERIALIZED VIEW mv_agg"); err != nil {
			return 0, err
		}
		if d := time.Since(t); i == 0 || d < refresh {
			refresh = d
		}
	}
	// The load and the REFRESHes leave both clusters with many dirty
	// buffers, which the checkpointer writes out over the next minutes on
	// the same disk as the changes' commits: a checkpoint on each first,
	// so that the changes are timed on quiet clusters at every size.
	for _, c := range []*pgcluster.Cluster{e.Src, e.Snk} {
		if err := c.Exec(ctx, db, "CHECKPOINT"); err != nil {
			return 0, err
		}
	}
	var last stepMark // the step of the last change
	// change runs sql (one transaction) and returns the time from its
	// commit to ripple having applied it to the sink.
	change := func(sql string, args ...any) (time.Duration, error) {
		before, err := currentLSN(ctx, src)
		if err != nil {
			return 0, err
		}
		if _, err := src.Exec(ctx, sql, args...); err != nil {
			return 0, err
		}
		m, err := r.waitAfter(ctx, before, 5*time.Minute)
		if err != nil {
			return 0, err
		}
		last = m
		// From the source commit (its timestamp, this machine's clock) to
		// the sink commit: replication, decoding, the dataflow step and
		// the sink transaction.
		return m.at.Sub(m.commit), nil
	}
	rng := rand.New(rand.NewSource(int64(n)))
	var ones []time.Duration
	// Where a one-row change's time goes: PostgreSQL's decoding and the
	// stream (commit to ripple reading it), the engine, the sink's apply,
	// and the rest (queue, checkpoint).
	var stream, engine, sinkT, rest []time.Duration
	// The sink's WAL per change: its growth with the tables' size is
	// PostgreSQL's full-page images (the first change of a page after a
	// checkpoint logs the whole page), which random rows of large tables
	// hit at nearly every change.
	snk, err := e.connect(ctx, e.Snk, db)
	if err != nil {
		return 0, err
	}
	defer snk.Close(ctx)
	walBefore, err := currentLSN(ctx, snk)
	if err != nil {
		return 0, err
	}
	for i := 0; i < e.sizes.IncRepeats; i++ {
		d, err := change("UPDATE orders SET amount = amount + 1 WHERE id = $1", 1+rng.Intn(n))
		if err != nil {
			return 0, err
		}
		ones = append(ones, d)
		st := last.received.Sub(last.commit)
		stream, engine, sinkT = append(stream, st), append(engine, last.engine), append(sinkT, last.sink)
		rest = append(rest, d-st-last.engine-last.sink)
	}
	walAfter, err := currentLSN(ctx, snk)
	if err != nil {
		return 0, err
	}
	median := func(ds []time.Duration) time.Duration {
		ds = slices.Clone(ds)
		slices.Sort(ds)
		return ds[len(ds)/2]
	}
	res.stage("%d rows: one-row change, medians of %d: %s in all; PostgreSQL's decoding and the stream %s, engine %s, sink %s (sink WAL %d B per change), queue and checkpoint %s",
		n, len(ones), median(ones).Round(time.Microsecond), median(stream).Round(time.Microsecond), median(engine).Round(time.Microsecond),
		median(sinkT).Round(time.Microsecond), int64(walAfter-walBefore)/int64(len(ones)), median(rest).Round(time.Microsecond))
	sort.Slice(ones, func(i, j int) bool { return ones[i] < ones[j] })
	one := ones[len(ones)/2]
	ms := func(d time.Duration) float64 { return float64(d) / 1e6 }
	f := res.add(&Figure{Name: fmt.Sprintf("one-row change at %d rows (median of %d)", n, len(ones)), Value: ms(one), Unit: "ms",
		Baseline: "REFRESH both views", BaselineValue: ms(refresh), Ratio: ratio(ms(refresh), ms(one)), RatioOf: "REFRESH/ripple"})
	if n >= 1_000_000 {
		f.atLeast(1000)
	}
	p := res.plotFile("c-cost.png", func() *Plot {
		return &Plot{Title: "c. ripple applying a change vs REFRESH MATERIALIZED VIEW (join + aggregate view)",
			X: "rows in orders (log)", Y: "ms, commit to sink commit (log)", LogX: true, LogY: true}
	})
	p.line("REFRESH both views").XY = append(p.line("REFRESH both views").XY, [2]float64{float64(n), ms(refresh)})
	p.line("ripple, one-row change").XY = append(p.line("ripple, one-row change").XY, [2]float64{float64(n), ms(one)})
	for _, pct := range []float64{0.1, 1, 10} {
		mod := int(100 / pct)
		d, err := change(fmt.Sprintf("UPDATE orders SET amount = amount + 1 WHERE id %% %d = %d", mod, rng.Intn(mod)))
		if err != nil {
			return 0, err
		}
		bl := p.line(fmt.Sprintf("ripple, %g%% batch", pct))
		bl.XY = append(bl.XY, [2]float64{float64(n), ms(d)})
		res.add(&Figure{Name: fmt.Sprintf("%g%% batch at %d rows", pct, n), Value: ms(d), Unit: "ms",
			Baseline: "REFRESH both views", BaselineValue: ms(refresh), Ratio: ratio(ms(refresh), ms(d)), RatioOf: "REFRESH/ripple"})
	}
	apply, steps := r.sink.reset()
	res.stage("%d rows: %d sink transactions took %s in sink Apply; REFRESH of both views %s", n, steps, apply.Round(time.Millisecond), refresh.Round(time.Millisecond))
	if err := r.check(ctx, e, res, fmt.Sprintf("%d rows", n)); err != nil {
		return 0, err
	}
	return ms(one), nil
}
