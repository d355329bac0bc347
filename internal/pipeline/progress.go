package pipeline

import (
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/rippledb/ripple/internal/metrics"
)

// snapshotProgress counts the rows of the initial snapshot (it is called
// from the snapshot callback, one goroutine) and shows them: as a progress
// bar with rows/s and ETA when Config.ProgressBar is set (a terminal), as a
// log line every Config.ProgressInterval otherwise. Status and metrics are
// updated a few times a second.
type snapshotProgress struct {
	est     int64 // estimated total; 0 when unknown
	rows    int64
	start   time.Time
	next    time.Time // next status/metrics/bar update
	nextLog time.Time // next log line (no bar)
	every   time.Duration
	bar     *progressbar.ProgressBar
	barMax  int64
	log     *slog.Logger
	st      *Status
	m       *metrics.Metrics
}

// progressCheck is how many rows pass between looks at the clock.
const progressCheck = 256

func newSnapshotProgress(cfg *Config, est int64) *snapshotProgress {
	now := time.Now()
	p := &snapshotProgress{est: est, start: now, next: now, nextLog: now.Add(cfg.ProgressInterval),
		every: cfg.ProgressInterval, log: cfg.Logger, st: cfg.Status, m: cfg.Metrics}
	if cfg.ProgressBar != nil {
		p.barMax = est
		if p.barMax <= 0 {
			p.barMax = -1 // unknown: a spinner with the count
		}
		p.bar = progressbar.NewOptions64(p.barMax,
			progressbar.OptionSetWriter(cfg.ProgressBar),
			progressbar.OptionSetDescription("snapshot"),
			progressbar.OptionSetItsString("rows"),
			progressbar.OptionShowCount(),
			progressbar.OptionShowIts(),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionSetElapsedTime(true),
			progressbar.OptionSetWidth(30),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionOnCompletion(func() { fmt.Fprintln(cfg.ProgressBar) }))
	}
	p.st.snapshotStarted(est)
	p.m.Snapshot(0, est, false)
	return p
}

// add counts one snapshot row.
func (p *snapshotProgress) add() {
	p.rows++
	if p.rows%progressCheck != 0 {
		return
	}
	now := time.Now()
	if now.Before(p.next) {
		return
	}
	p.next = now.Add(200 * time.Millisecond)
	p.st.snapshotRows(p.rows, false)
	p.m.Snapshot(p.rows, p.est, false)
	if p.bar != nil {
		if p.barMax > 0 && p.rows >= p.barMax {
			// More rows than estimated: keep the bar short of full.
			p.barMax = p.rows + p.rows/10 + 1
			p.bar.ChangeMax64(p.barMax)
		}
		_ = p.bar.Set64(p.rows)
		return
	}
	if now.Before(p.nextLog) {
		return
	}
	p.nextLog = now.Add(p.every)
	rps := float64(p.rows) / now.Sub(p.start).Seconds()
	attrs := []any{"rows", p.rows, "rows_per_sec", int64(rps)}
	if p.est > 0 {
		attrs = append(attrs, "estimated_rows", p.est)
		if p.est > p.rows && rps > 0 {
			attrs = append(attrs, "eta", (time.Duration(float64(p.est-p.rows)/rps) * time.Second).Round(time.Second))
		}
	}
	p.log.Info("snapshot progress", attrs...)
}

// read records that every row is read (the sinks are loaded next).
func (p *snapshotProgress) read() {
	p.st.snapshotRows(p.rows, true)
	p.m.Snapshot(p.rows, p.est, false)
	if p.bar != nil {
		if p.barMax != p.rows {
			p.bar.ChangeMax64(p.rows)
		}
		_ = p.bar.Set64(p.rows)
		_ = p.bar.Finish()
	}
}

// abort ends the bar when the snapshot failed.
func (p *snapshotProgress) abort(w io.Writer) {
	if p.bar != nil {
		_ = p.bar.Exit()
		fmt.Fprintln(w)
	}
}
