package bench

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"
)

// runLatency measures source commit → sink commit for probe rows written
// at fixed rates, from the commit timestamps PostgreSQL records on both
// clusters (track_commit_timestamp=on; both run on this machine's clock).
func runLatency(ctx context.Context, env *Env, res *Scenario) error {
	sz := env.sizes
	if env.strictRate == 0 {
		// The backlog drain rate bounds the search for the maximum
		// sustainable rate; measure it when scenario a did not run.
		tmp := &Scenario{}
		if err := env.ceiling(ctx, tmp); err != nil {
			return fmt.Errorf("measure the maximum rate: %w", err)
		}
		res.stage("strict single-row drain rate measured here: %.0f txn/s", env.strictRate)
	}
	var errs []error
	for _, rate := range sz.LatencyRates {
		if err := env.latencyAt(ctx, res, rate, fmt.Sprintf("%d txn/s", rate), false); err != nil {
			errs = append(errs, fmt.Errorf("%d txn/s: %w", rate, err))
		}
	}
	sustained, err := env.sustainableRate(ctx, res)
	if err != nil {
		return errors.Join(append(errs, fmt.Errorf("maximum sustainable rate: %w", err))...)
	}
	rate := int(0.8 * sustained)
	label := fmt.Sprintf("%d txn/s (80%% of the %.0f txn/s maximum sustainable rate)", rate, sustained)
	if rate > 0 {
		if err := env.latencyAt(ctx, res, rate, label, true); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", label, err))
		}
	}
	return errors.Join(errs...)
}

// sustainableRate finds the highest rate of live single-row transactions
// that ripple keeps up with: offered for a short run, the rate must be
// achieved by the writers and the lag must not grow (the median latency
// of the run's last quarter within 10 ms of its first quarter's). The
// search starts at the backlog drain rate (scenario a's strict ceiling,
// where ripple sends up to 64 queued transactions per round trip; live
// arrivals queue fewer) and steps down by 15%.
func (e *Env) sustainableRate(ctx context.Context, res *Scenario) (float64, error) {
	dur := max(e.sizes.LatencyFor/2, time.Second)
	var tried []string
	for rate := e.strictRate; rate >= 100; rate *= 0.85 {
		m, err := e.measureLatency(ctx, int(rate), dur, nil, "")
		if err != nil {
			return 0, err
		}
		first, last := m.quarters()
		ok := m.achieved >= 0.95*rate && last <= first+10*time.Millisecond
		verdict := "not sustained"
		if ok {
			verdict = "sustained"
		}
		tried = append(tried, fmt.Sprintf("%.0f txn/s offered, %.0f achieved, lag p50 %.1f → %.1f ms: %s",
			rate, m.achieved, float64(first)/1e6, float64(last)/1e6, verdict))
		if ok {
			res.stage("maximum sustainable rate search (%s runs): %s", dur, strings.Join(tried, "; "))
			return rate, nil
		}
	}
	res.stage("maximum sustainable rate search (%s runs): %s", dur, strings.Join(tried, "; "))
	return 0, fmt.Errorf("no rate from %.0f txn/s down to 100 txn/s was sustained", e.strictRate)
}

// latencyRun is one run of probe transactions at an offered rate.
type latencyRun struct {
	lats     []time.Duration  // source commit → sink commit, in source commit order
	ats      []time.Duration  // each probe's source commit since the first's
	warm     [4]time.Duration // p50, p90, p99, max of the warm-up probes, not counted
	warmN    int
	achieved float64       // transactions/s the writers achieved
	steps    int           // sink transactions
	apply    time.Duration // time in sink Apply
}

// quarters returns the median latency of the run's first and last quarter.
func (m *latencyRun) quarters() (first, last time.Duration) {
	quarter := len(m.lats) / 4
	if quarter == 0 {
		return 0, 0
	}
	return quantiles(m.lats[:quarter])[0], quantiles(m.lats[len(m.lats)-quarter:])[0]
}

// measureLatency writes single-row probe transactions at rate for dur
// into a fresh database that ripple replicates, checks the sink with the
// oracle (reported in res under label; res may be nil), and reads every
// probe's commit time on both sides.
func (e *Env) measureLatency(ctx context.Context, rate int, dur time.Duration, res *Scenario, label string) (*latencyRun, error) {
	db, err := e.freshDBs(ctx, "lat")
	if err != nil {
		return nil, err
	}
	defer e.dropDBs(ctx, db)
	if err := e.Src.Exec(ctx, db, "CREATE TABLE p (id int PRIMARY KEY, payload text)"); err != nil {
		return nil, err
	}
	r, err := e.startRipple(ctx, db, "CREATE VIEW v AS SELECT id, payload FROM p", rippleOpts{})
	if err != nil {
		return nil, err
	}
	defer r.stop()
	// The first half second of probes warms the path up (the sink's
	// prepared statements, the first sink transactions, Go's heap): they
	// are written and checked, but not counted.
	warm := rate / 2
	n := warm + int(float64(rate)*dur.Seconds())
	workers := 1
	if rate > 200 {
		workers = 4
	}
	start := time.Now()
	var wg sync.WaitGroup
	errc := make(chan error, workers)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			c, err := e.connect(ctx, e.Src, db)
			if err != nil {
				errc <- err
				return
			}
			defer c.Close(ctx)
			for i := w; i < n; i += workers {
				at := start.Add(time.Duration(float64(i) / float64(rate) * float64(time.Second)))
				if d := time.Until(at); d > 0 {
					time.Sleep(d)
				}
				if _, err := c.Exec(ctx, "INSERT INTO p VALUES ($1, 'probe')", i); err != nil {
					errc <- err
					return
				}
			}
		}(w)
	}
	wg.Wait()
	close(errc)
	if err := <-errc; err != nil {
		return nil, err
	}
	m := &latencyRun{achieved: float64(n) / time.Since(start).Seconds()}
	if res == nil {
		res = &Scenario{} // a search run: its oracle result is not reported
	}
	if err := r.check(ctx, e, res, label); err != nil {
		return nil, err
	}
	srcTimes, err := e.commitTimes(ctx, true, db, "p")
	if err != nil {
		return nil, err
	}
	snkTimes, err := e.commitTimes(ctx, false, db, "v")
	if err != nil {
		return nil, err
	}
	type probe struct {
		at  time.Time
		lat time.Duration
	}
	probes := make([]probe, 0, len(srcTimes))
	for id, s := range srcTimes {
		k, ok := snkTimes[id]
		if !ok {
			return nil, fmt.Errorf("probe %d is missing in the sink", id)
		}
		probes = append(probes, probe{s, k.Sub(s)})
	}
	sort.Slice(probes, func(i, j int) bool { return probes[i].at.Before(probes[j].at) })
	if warm < len(probes) {
		m.warm = quantiles(durations(probes[:warm], func(p probe) time.Duration { return p.lat }))
		m.warmN = warm
		probes = probes[warm:]
	}
	m.lats = make([]time.Duration, len(probes))
	m.ats = make([]time.Duration, len(probes))
	for i, p := range probes {
		m.lats[i], m.ats[i] = p.lat, p.at.Sub(probes[0].at)
	}
	m.apply, m.steps = r.sink.reset()
	return m, nil
}

func (e *Env) latencyAt(ctx context.Context, res *Scenario, rate int, label string, creep bool) error {
	m, err := e.measureLatency(ctx, rate, e.sizes.LatencyFor, res, label)
	if err != nil {
		return err
	}
	lats := m.lats
	ms := func(d time.Duration) float64 { return float64(d) / 1e6 }
	q := quantiles(lats)
	base := e.bareCommit
	note := fmt.Sprintf("%d probes at %.0f txn/s achieved", len(lats), m.achieved)
	res.add(&Figure{Name: "latency p50 at " + label, Value: ms(q[0]), Unit: "ms", Baseline: "one bare single-row sink commit",
		BaselineValue: ms(base), Ratio: ratio(ms(base), ms(q[0])), RatioOf: "bare/ripple", Note: note})
	res.add(&Figure{Name: "latency p90 at " + label, Value: ms(q[1]), Unit: "ms", Baseline: "one bare single-row sink commit",
		BaselineValue: ms(base), Ratio: ratio(ms(base), ms(q[1])), RatioOf: "bare/ripple"})
	p99 := res.add(&Figure{Name: "latency p99 at " + label, Value: ms(q[2]), Unit: "ms", Baseline: "target",
		BaselineValue: 10, Ratio: ratio(10, ms(q[2])), RatioOf: "target/ripple"})
	if rate == 1000 {
		p99.atLeast(1)
		p99.Target = "p99 ≤ 10 ms"
	}
	res.add(&Figure{Name: "latency max at " + label, Value: ms(q[3]), Unit: "ms", Baseline: "one bare single-row sink commit",
		BaselineValue: ms(base), Ratio: ratio(ms(base), ms(q[3])), RatioOf: "bare/ripple"})
	if creep && len(lats) >= 8 {
		first, last := m.quarters()
		f := res.add(&Figure{Name: "creeping lag at " + label + ": p50 of the last quarter", Value: ms(last), Unit: "ms",
			Baseline: "p50 of the first quarter", BaselineValue: ms(first), Ratio: ratio(ms(first)+10, ms(last)), RatioOf: "(first+10ms)/last",
			Target: "last ≤ first + 10 ms"})
		met := last <= first+10*time.Millisecond
		f.Met = &met
	}
	// The run as a curve: latency over time shows lag creeping up, or
	// stalls, that percentiles hide (at most 2000 probes per rate drawn).
	p := res.plotFile("b-latency.png", func() *Plot {
		return &Plot{Title: "b. latency of each probe, source commit to sink commit", X: "seconds since the run's first probe",
			Y: "latency, ms (log)", LogY: true, Points: true}
	})
	l := p.line(label)
	stride := max(1, len(lats)/2000)
	for i := 0; i < len(lats); i += stride {
		l.XY = append(l.XY, [2]float64{m.ats[i].Seconds(), ms(lats[i])})
	}
	if m.warmN > 0 {
		res.stage("%s: the first %d probes (half a second) warm up and are not counted: p50 %.2f ms, p99 %.2f ms, max %.2f ms",
			label, m.warmN, ms(m.warm[0]), ms(m.warm[2]), ms(m.warm[3]))
	}
	res.stage("%s: %d sink transactions, %.3f ms each in sink Apply", label, m.steps, 1000*m.apply.Seconds()/float64(max(m.steps, 1)))
	return nil
}

// durations maps xs to durations.
func durations[T any](xs []T, f func(T) time.Duration) []time.Duration {
	out := make([]time.Duration, len(xs))
	for i, x := range xs {
		out[i] = f(x)
	}
	return out
}

// quantiles returns p50, p90, p99 and max.
func quantiles(d []time.Duration) [4]time.Duration {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	if len(s) == 0 {
		return [4]time.Duration{}
	}
	at := func(p float64) time.Duration { return s[min(len(s)-1, int(p*float64(len(s))))] }
	return [4]time.Duration{at(0.5), at(0.9), at(0.99), s[len(s)-1]}
}

// commitTimes reads id → commit timestamp of the transaction that wrote
// each row of table.
func (e *Env) commitTimes(ctx context.Context, source bool, db, table string) (map[int]time.Time, error) {
	c := e.Snk
	if source {
		c = e.Src
	}
	conn, err := e.connect(ctx, c, db)
	if err != nil {
		return nil, err
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, "SELECT id, pg_xact_commit_timestamp(xmin) FROM "+table)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[int]time.Time{}
	for rows.Next() {
		var id int
		var ts *time.Time
		if err := rows.Scan(&id, &ts); err != nil {
			return nil, err
		}
		if ts == nil {
			return nil, fmt.Errorf("no commit timestamp for row %d of %s (track_commit_timestamp off?)", id, table)
		}
		out[id] = *ts
	}
	return out, rows.Err()
}
