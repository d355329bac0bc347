// Package metrics defines ripple's Prometheus metrics. The pipeline feeds
// them as it applies steps and polls the slot; cmd/ripple serves them on
// /metrics. It sits beside the data path and never blocks it: every method
// is a few atomic updates, and every method of a nil *Metrics does nothing,
// so the pipeline runs the same with and without metrics.
package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Namespace prefixes every metric name.
const Namespace = "ripple"

// Error stages, the values of the "stage" label of ripple_errors_total.
const (
	StagePipeline = "pipeline" // a terminal error that stopped the pipeline
	StageLag      = "lag"      // reading the slot lag failed (the pipeline goes on)
	StageView     = "view"     // a view failed at run time (division by zero, ...); the other views go on
)

// Metrics holds ripple's collectors and the registry they are registered
// in. Safe for concurrent use.
type Metrics struct {
	// Registry has every ripple metric plus the Go runtime and process
	// collectors; serve it with promhttp.HandlerFor.
	Registry *prometheus.Registry

	viewTxns       *prometheus.CounterVec
	viewRowChanges *prometheus.CounterVec
	viewRows       *prometheus.GaugeVec
	sourceTxns     prometheus.Counter
	sourceChanges  prometheus.Counter
	appliedLSN     prometheus.Gauge
	lagBytes       prometheus.Gauge
	lagSeconds     prometheus.Gauge
	retainedBytes  prometheus.Gauge
	retainedMax    prometheus.Gauge
	retainedOver   prometheus.Gauge
	commitSeconds  *prometheus.HistogramVec
	stateBytes     prometheus.Gauge
	stateRows      prometheus.Gauge
	snapshotRows   prometheus.Gauge
	snapshotEst    prometheus.Gauge
	snapshotDone   prometheus.Gauge
	ready          prometheus.Gauge
	errors         *prometheus.CounterVec
}

// New creates the collectors and registers them in a new registry.
func New() *Metrics {
	g := func(name, help string) prometheus.Gauge {
		return prometheus.NewGauge(prometheus.GaugeOpts{Namespace: Namespace, Name: name, Help: help})
	}
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		viewTxns: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "view_transactions_total",
			Help: "Source transactions that changed the view (streaming; the initial load is not counted)."}, []string{"view"}),
		viewRowChanges: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "view_row_changes_total",
			Help: "Rows inserted into plus rows deleted from the view by streamed transactions (sum of |weight|)."}, []string{"view"}),
		viewRows: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: Namespace, Name: "view_rows",
			Help: "Rows the view holds now (sum of weights since the initial load)."}, []string{"view"}),
		sourceTxns: prometheus.NewCounter(prometheus.CounterOpts{Namespace: Namespace, Name: "source_transactions_total",
			Help: "Source transactions applied to every sink."}),
		sourceChanges: prometheus.NewCounter(prometheus.CounterOpts{Namespace: Namespace, Name: "source_row_changes_total",
			Help: "Source row changes (insert, update, delete, truncate) in applied transactions."}),
		appliedLSN:    g("applied_lsn", "Commit LSN of the last source transaction durable in every sink, as a number of bytes (float: exact up to 8 PiB)."),
		lagBytes:      g("slot_lag_bytes", "Source WAL not yet confirmed by ripple: current WAL position minus the slot's confirmed_flush_lsn."),
		lagSeconds:    g("slot_lag_seconds", "Upper bound of the age of the oldest unapplied change: 0 without unconfirmed WAL, else the time since the later of the last applied commit and the last poll that found the slot caught up."),
		retainedBytes: g("slot_retained_wal_bytes", "WAL the source retains for the slot: current WAL position minus the slot's restart_lsn."),
		retainedMax:   g("slot_max_retained_wal_bytes", "The configured source.max_retained_wal: WAL the slot may retain before ripple warns (0: no limit)."),
		retainedOver:  g("slot_retained_wal_over_limit", "1 when the slot retains more WAL than source.max_retained_wal, or PostgreSQL reports its WAL unreserved (the next checkpoint may invalidate it), or it is invalidated or gone; else 0."),
		commitSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: Namespace, Name: "sink_commit_seconds",
			Help:    "Time to apply one step (or the initial load) to a sink, commit included.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16)}, []string{"sink"}),
		stateBytes:   g("state_bytes", "Estimated memory of the engine's state. Counts only the table arrangements (rows kept for old-row lookups); the dataflow operators' arrangements (joins, aggregates, DISTINCT) are not measured and come on top."),
		stateRows:    g("state_rows", "Rows in the engine's table arrangements (dataflow operator state not counted)."),
		snapshotRows: g("snapshot_rows", "Rows read by the initial snapshot so far."),
		snapshotEst:  g("snapshot_estimated_rows", "Rows the initial snapshot is expected to read (sum of pg_class.reltuples; an estimate)."),
		snapshotDone: g("snapshot_done", "1 once the initial snapshot is read and loaded into every sink."),
		ready:        g("ready", "1 while the pipeline is streaming after the initial load and its last step did not fail (what /readyz reports)."),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "errors_total",
			Help: "Errors by stage: pipeline (terminal; the run stops), lag (reading the slot lag failed; retried) and view (a view failed at run time; the other views go on)."}, []string{"stage"}),
	}
	m.Registry.MustRegister(m.viewTxns, m.viewRowChanges, m.viewRows, m.sourceTxns, m.sourceChanges, m.appliedLSN,
		m.lagBytes, m.lagSeconds, m.retainedBytes, m.retainedMax, m.retainedOver, m.commitSeconds, m.stateBytes, m.stateRows,
		m.snapshotRows, m.snapshotEst, m.snapshotDone, m.ready, m.errors,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.errors.WithLabelValues(StagePipeline)
	m.errors.WithLabelValues(StageLag)
	m.errors.WithLabelValues(StageView)
	return m
}

// Init creates the series of every view and sink at zero, so that they
// exist before the first change (rate() and absent() need them).
func (m *Metrics) Init(views, sinks []string) {
	if m == nil {
		return
	}
	for _, v := range views {
		m.viewTxns.WithLabelValues(v)
		m.viewRowChanges.WithLabelValues(v)
		m.viewRows.WithLabelValues(v)
	}
	for _, s := range sinks {
		m.commitSeconds.WithLabelValues(s)
	}
}

// ViewStep records that a streamed transaction changed view by rowChanges
// rows (sum of |weight|) and left it with rows rows.
func (m *Metrics) ViewStep(view string, rowChanges, rows int64) {
	if m == nil {
		return
	}
	m.viewTxns.WithLabelValues(view).Inc()
	m.viewRowChanges.WithLabelValues(view).Add(float64(rowChanges))
	m.viewRows.WithLabelValues(view).Set(float64(rows))
}

// ViewRows sets the current row count of view (after the initial load).
func (m *Metrics) ViewRows(view string, rows int64) {
	if m == nil {
		return
	}
	m.viewRows.WithLabelValues(view).Set(float64(rows))
}

// SourceStep records one applied source transaction with changes row
// changes, committed at lsn.
func (m *Metrics) SourceStep(changes int, lsn uint64) {
	if m == nil {
		return
	}
	m.sourceTxns.Inc()
	m.sourceChanges.Add(float64(changes))
	m.appliedLSN.Set(float64(lsn))
}

// AppliedLSN sets the applied LSN (after the initial load).
func (m *Metrics) AppliedLSN(lsn uint64) {
	if m == nil {
		return
	}
	m.appliedLSN.Set(float64(lsn))
}

// SinkCommit records how long one sink transaction (a Load or an Apply) on
// sink took.
func (m *Metrics) SinkCommit(sink string, d time.Duration) {
	if m == nil {
		return
	}
	m.commitSeconds.WithLabelValues(sink).Observe(d.Seconds())
}

// SinkCommits records n sink transactions sent together (pipelined) that
// took d in all: n observations of d/n each.
func (m *Metrics) SinkCommits(sink string, d time.Duration, n int) {
	if m == nil || n <= 0 {
		return
	}
	h := m.commitSeconds.WithLabelValues(sink)
	for range n {
		h.Observe(d.Seconds() / float64(n))
	}
}

// Lag sets the slot lag gauges.
func (m *Metrics) Lag(lagBytes, retainedBytes int64, lagSeconds float64) {
	if m == nil {
		return
	}
	m.lagBytes.Set(float64(lagBytes))
	m.retainedBytes.Set(float64(retainedBytes))
	m.lagSeconds.Set(lagSeconds)
}

// SlotRetained sets the retained-WAL limit gauges: the configured limit
// (≤ 0: none) and whether the slot is over it (or about to be invalidated,
// or lost). Lag sets the retained bytes themselves.
func (m *Metrics) SlotRetained(limit int64, over bool) {
	if m == nil {
		return
	}
	m.retainedMax.Set(float64(max(limit, 0)))
	m.retainedOver.Set(b2f(over))
}

// State sets the state size estimate.
func (m *Metrics) State(bytes, rows int64) {
	if m == nil {
		return
	}
	m.stateBytes.Set(float64(bytes))
	m.stateRows.Set(float64(rows))
}

// Snapshot sets the snapshot progress.
func (m *Metrics) Snapshot(rows, estimated int64, done bool) {
	if m == nil {
		return
	}
	m.snapshotRows.Set(float64(rows))
	m.snapshotEst.Set(float64(estimated))
	m.snapshotDone.Set(b2f(done))
}

// Ready sets the readiness gauge.
func (m *Metrics) Ready(ready bool) {
	if m == nil {
		return
	}
	m.ready.Set(b2f(ready))
}

// Error counts an error of stage (StagePipeline or StageLag).
func (m *Metrics) Error(stage string) {
	if m == nil {
		return
	}
	m.errors.WithLabelValues(stage).Inc()
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
