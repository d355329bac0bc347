package sink

import (
	"context"
	"io"
	"time"

	"github.com/rippledb/ripple/internal/row"
)

// View is what a sink needs to know about one view it maintains.
type View struct {
	// Name is the view's name; the sink table has the same schema and name.
	Name row.TableName
	// Columns are the view's output columns, names and types as PostgreSQL
	// would give them for the view's SELECT.
	Columns row.Schema
	// Key lists columns that are a unique key of the view's result (no two
	// rows share them), or nil when the view is a multiset without one.
	Key []int
	// Definition is the view's SQL, recorded in the sink's catalog.
	Definition string
}

// Delta is the change of one view in one step, consolidated: each distinct
// row appears once with a non-zero weight. Retractions must match rows the
// sink holds.
type Delta struct {
	View row.TableName
	Rows []row.Update
}

// Step is everything one sink transaction applies: the changes of every
// view the source transaction touched (possibly none), and the progress LSN.
type Step struct {
	// LSN is the commit LSN of the (last) source transaction in the step.
	LSN row.LSN
	// CommitTime is the source commit time of that transaction.
	CommitTime time.Time
	Deltas     []Delta
	// Tick marks a step that moves no source position: the changes of
	// views with temporal filters as time passed (now() in the views).
	// It carries the progress LSN the sink already holds and is applied
	// at that LSN; the pipeline never sends a tick twice (after a crash
	// that may have left one applied, it reloads the sink instead).
	Tick bool
}

// Applied reports whether a sink whose progress is progress holds the
// step already (I3): a step at or below the progress, except a tick at
// exactly the progress.
func (s Step) Applied(progress row.LSN) bool {
	return s.LSN < progress || s.LSN == progress && !s.Tick
}

// Sink is a database that holds the results of a set of views.
//
// Contract: Open is called once before anything else. Then either Load or
// Apply, any number of times, from one goroutine; never concurrently.
// Close is called once at the end, also after an error.
//
// Each Load and Apply is atomic (I2): on return without error the whole
// step and its LSN are durable in the sink (I3); on error nothing of it is
// visible, and the caller treats the error as terminal for this run (it
// restarts from the sink's progress).
type Sink interface {
	// Name is the sink's name from the configuration.
	Name() string
	// Open connects, creates the sink's bookkeeping (progress and catalog
	// tables) if missing, and checks that the tables of views either do not
	// exist or were created by ripple for this pipeline. It returns the
	// progress LSN recorded for the pipeline (0 if none). It creates no
	// view table: Load does.
	Open(ctx context.Context, pipeline string, views []View) (row.LSN, error)
	// Load replaces the contents of every view with rows (insertions only,
	// weights >= 1), creating or re-creating the tables as needed, and sets
	// the progress to lsn, all in one transaction. rows is keyed by view.
	Load(ctx context.Context, lsn row.LSN, rows map[row.TableName][]row.Update) error
	// Apply applies one step. A step whose LSN is at or below the sink's
	// progress is skipped (returns nil): it was applied before a restart.
	Apply(ctx context.Context, step Step) error
	// Progress reads the progress LSN recorded in the sink.
	Progress(ctx context.Context) (row.LSN, error)
	// Close releases connections.
	Close() error
}

// Dumper is implemented by sinks whose contents can be read back, for
// `ripple verify` and the oracle tests.
type Dumper interface {
	// Dump writes every row of view, with its columns in view order, to w
	// in PostgreSQL's COPY text format (values as row.FormatText prints
	// them, \N for NULL). Rows held n times are written n times. The sink
	// must be open.
	Dump(ctx context.Context, view row.TableName, w io.Writer) error
}

// Forgetter is implemented by sinks that can remove what a pipeline keeps
// in them, for `ripple drop`.
type Forgetter interface {
	// Forget removes the pipeline's progress record and catalog entries
	// and, when dropTables is set, the view tables it created. It needs no
	// Open; it connects by itself.
	Forget(ctx context.Context, pipeline string, dropTables bool) error
}

// Pinger is implemented by sinks that can check they are reachable without
// creating or changing anything, for `ripple check`.
type Pinger interface {
	Ping(ctx context.Context) error
}

// StepsApplier is implemented by sinks that can commit several consecutive
// steps in fewer round trips than one Apply each. The pipeline uses it when
// it is behind (several source transactions queued) in strict mode.
//
// Contract: ApplySteps(ctx, steps) is what consecutive Apply calls of each
// step in order are: every step is its own atomic sink transaction with its
// own progress LSN (I2, I3), and a step at or below the sink's progress is
// skipped. It returns how many leading steps are committed (skipped ones
// included): on error, steps[:n] are durable and nothing of steps[n:] is
// visible, except after a lost connection, when later steps may have
// committed too (as after a failed Apply; Progress tells). The caller
// treats the error as terminal for the run, like Apply's.
type StepsApplier interface {
	ApplySteps(ctx context.Context, steps []Step) (int, error)
}

// PartsApplier is implemented by sinks that can write one step in parts,
// so that the changes of a source transaction too large to hold whole (see
// cdc.Txn's parts) need not be gathered in memory first. BeginParts opens
// the step's sink transaction and records its progress; it returns nil
// Parts when the step is at or below the sink's progress (applied before,
// I3). The deltas written through Parts are only visible once Commit
// returns, all of them together with the progress LSN (I2); after Abort, or
// an error from Write or Commit, none are. Each Write is a valid change of
// the views from the previous one's state, but the states between two
// Writes need not be states any view had at a commit.
type PartsApplier interface {
	BeginParts(ctx context.Context, step Step) (Parts, error)
}

// Parts is one open step of a PartsApplier.
type Parts interface {
	Write(ctx context.Context, deltas []Delta) error
	Commit(ctx context.Context) error
	Abort()
}

// PartsLoader is implemented by sinks that can take a Load in parts, so
// that the views' rows of a large initial load need not be held in memory
// whole. BeginLoad opens the load's one sink transaction, in which every
// view's table is replaced as by Load; each Write adds insertions (weights
// >= 1) to one view, any number of Writes per view, in any order; Commit
// sets the progress to lsn and commits, all of it at once (I2). After
// Abort, or an error from Write or Commit, none of it is visible, except
// what a sink's DDL cannot take back (MySQL: tables re-created for a new
// shape stay, empty and registered as not loaded). Load must be what
// BeginLoad, a Write of each view's rows and Commit are.
type PartsLoader interface {
	BeginLoad(ctx context.Context, lsn row.LSN) (LoadParts, error)
}

// LoadParts is one open load of a PartsLoader.
type LoadParts interface {
	Write(ctx context.Context, view row.TableName, rows []row.Update) error
	Commit(ctx context.Context) error
	Abort()
}
