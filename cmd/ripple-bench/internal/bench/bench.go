package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"strings"
	"time"

	"github.com/rippledb/ripple/internal/pgcluster"
)

// Form is the size of a run.
type Form int

const (
	// Tiny is the CI smoke form: every scenario, a few hundred rows.
	Tiny Form = iota
	// Short is the default: a few minutes on a 2-core machine.
	Short
	// Long uses the full sizes.
	Long
)

func (f Form) String() string {
	return [...]string{"tiny", "short", "long"}[f]
}

// Sizes are the workload sizes of one form.
type Sizes struct {
	BacklogChanges int   // (a) row changes in the drained backlog, per view
	BacklogTxnRows int   // (a) row changes per source transaction in that backlog
	CeilingTxns    int   // (a) single-row transactions for the strict-mode ceiling
	GroupTxns      int   // (a) whole source transactions per sink transaction in grouped mode
	LatencyRates   []int // (b) transactions/s
	LatencyFor     time.Duration
	IncSizes       []int     // (c) base table rows
	IncRepeats     int       // (c) one-row changes measured per size
	SnapshotRows   int       // (d)
	MemoryRows     int       // (e)
	TPCHScales     []float64 // (f)
}

// SizesOf returns the sizes of form f.
func SizesOf(f Form) Sizes {
	switch f {
	case Tiny:
		return Sizes{BacklogChanges: 600, BacklogTxnRows: 20, CeilingTxns: 50, GroupTxns: 16,
			LatencyRates: []int{100}, LatencyFor: 500 * time.Millisecond,
			IncSizes: []int{1000, 2000}, IncRepeats: 3, SnapshotRows: 2000, MemoryRows: 2000,
			TPCHScales: []float64{0.002}}
	case Long:
		return Sizes{BacklogChanges: 1_000_000, BacklogTxnRows: 100, CeilingTxns: 20000, GroupTxns: 64,
			LatencyRates: []int{100, 1000}, LatencyFor: 30 * time.Second,
			IncSizes: []int{10_000, 100_000, 1_000_000, 10_000_000}, IncRepeats: 20, SnapshotRows: 5_000_000, MemoryRows: 1_000_000,
			TPCHScales: []float64{0.1, 1}}
	}
	return Sizes{BacklogChanges: 100_000, BacklogTxnRows: 100, CeilingTxns: 3000, GroupTxns: 64,
		LatencyRates: []int{100, 1000}, LatencyFor: 4 * time.Second,
		IncSizes: []int{10_000, 100_000, 1_000_000}, IncRepeats: 10, SnapshotRows: 500_000, MemoryRows: 200_000,
		TPCHScales: []float64{0.01, 0.1}}
}

// Config configures a run.
type Config struct {
	Form Form
	// Scenarios selects scenarios by letter ("a".."f"); empty runs all.
	Scenarios []string
	// ProfileDir, when set, receives CPU and allocation profiles of ripple
	// draining the backlog in scenario a.
	ProfileDir string
	// TableMemory and OperatorMemory, when not 0, are ripple's
	// table_memory and operator_memory in bytes (pipeline.Config).
	TableMemory, OperatorMemory int64
	Logger                      *slog.Logger
	// Progress receives one line per finished figure; nil discards them.
	Progress io.Writer
}

// Env is the pair of throwaway clusters a run uses.
type Env struct {
	Src, Snk *pgcluster.Cluster
	log      *slog.Logger
	progress io.Writer
	sizes    Sizes
	form     Form
	profDir  string
	seq      int
	// tableMemory and operatorMemory are Config's.
	tableMemory, operatorMemory int64
	// strictRate is strict mode's single-row drain rate (txn/s) and
	// bareCommit the mean bare single-row sink commit, from scenario a.
	strictRate float64
	bareCommit time.Duration
}

// Start starts the source and sink clusters, both with
// track_commit_timestamp=on (scenario b compares commit timestamps).
func Start(ctx context.Context) (*Env, error) {
	opts := pgcluster.Options{Settings: map[string]string{
		"track_commit_timestamp": "on",
		"shared_buffers":         "256MB",
		"max_wal_size":           "4GB",
		"checkpoint_timeout":     "30min",
		"work_mem":               "64MB",
		// With synchronous_commit=off (pgcluster's default) the walsender
		// only sees a commit after the WAL writer's next flush, up to
		// wal_writer_delay (200 ms) later: every latency would measure that.
		// fsync stays off, so commits remain cheap.
		"synchronous_commit": "on",
	}}
	src, err := pgcluster.Start(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("bench: start source cluster: %w", err)
	}
	snk, err := pgcluster.Start(ctx, opts)
	if err != nil {
		src.Remove()
		return nil, fmt.Errorf("bench: start sink cluster: %w", err)
	}
	return &Env{Src: src, Snk: snk}, nil
}

// Close removes both clusters.
func (e *Env) Close() {
	e.Src.Remove()
	e.Snk.Remove()
}

// Run runs the selected scenarios on env and returns the report. A scenario
// that fails (including an oracle mismatch) is recorded in the report and
// makes Run return an error after the remaining scenarios ran.
func Run(ctx context.Context, env *Env, cfg Config) (*Report, error) {
	env.log = cfg.Logger
	if env.log == nil {
		env.log = slog.New(slog.DiscardHandler)
	}
	env.progress = cfg.Progress
	if env.progress == nil {
		env.progress = io.Discard
	}
	env.sizes = SizesOf(cfg.Form)
	env.form = cfg.Form
	env.profDir = cfg.ProfileDir
	env.tableMemory, env.operatorMemory = cfg.TableMemory, cfg.OperatorMemory
	rep := &Report{Form: cfg.Form.String(), Started: time.Now().UTC(), GoVersion: runtime.Version(),
		CPUs: runtime.NumCPU(), Sizes: env.sizes, TableMemory: cfg.TableMemory, OperatorMemory: cfg.OperatorMemory}
	var pgv string
	if c, err := env.connect(ctx, env.Src, "postgres"); err == nil {
		_ = c.QueryRow(ctx, "SHOW server_version").Scan(&pgv)
		c.Close(ctx)
	}
	rep.PostgresVersion = pgv
	want := map[string]bool{}
	for _, s := range cfg.Scenarios {
		want[strings.ToLower(strings.TrimSpace(s))] = true
	}
	var errs []error
	for _, sc := range scenarios {
		if len(want) > 0 && !want[sc.id] {
			continue
		}
		start := time.Now()
		res := &Scenario{ID: sc.id, Title: sc.title}
		fmt.Fprintf(env.progress, "== scenario %s: %s\n", sc.id, sc.title)
		err := sc.run(ctx, env, res)
		res.Seconds = time.Since(start).Seconds()
		if err != nil {
			res.Error = err.Error()
			errs = append(errs, fmt.Errorf("scenario %s: %w", sc.id, err))
			fmt.Fprintf(env.progress, "   FAILED: %v\n", err)
		}
		rep.Scenarios = append(rep.Scenarios, res)
		if ctx.Err() != nil {
			break
		}
	}
	rep.Finished = time.Now().UTC()
	return rep, errors.Join(errs...)
}

type scenarioDef struct {
	id, title string
	run       func(ctx context.Context, env *Env, res *Scenario) error
}

var scenarios = []scenarioDef{
	{"a", "throughput draining a backlog", runThroughput},
	{"b", "latency from source commit to sink commit", runLatency},
	{"c", "incremental cost versus REFRESH MATERIALIZED VIEW", runIncremental},
	{"d", "initial snapshot and initial load", runSnapshot},
	{"e", "memory: state per source row and per group", runMemory},
	{"f", "TPC-H-shaped views: one refresh versus REFRESH MATERIALIZED VIEW", runTPCH},
}
