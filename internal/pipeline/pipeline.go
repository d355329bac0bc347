package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strings"
	"time"

	"github.com/rippledb/ripple/cdc"
	"github.com/rippledb/ripple/dataflow"
	"github.com/rippledb/ripple/internal/metrics"
	"github.com/rippledb/ripple/internal/row"
	"github.com/rippledb/ripple/internal/state"
	"github.com/rippledb/ripple/planner"
	"github.com/rippledb/ripple/sink"
)

// Target is one sink and the views it holds.
type Target struct {
	Sink  sink.Sink
	Views []row.TableName
}

// Config is everything one pipeline run needs.
type Config struct {
	Source cdc.Config
	// Views are the parsed view definitions.
	Views []planner.ViewDef
	// Targets say which sink holds which views; every view is in at least one.
	Targets []Target
	// QueueSize bounds the number of source transactions buffered between
	// the replication reader and the engine (backpressure); default 64.
	QueueSize int
	// QueueBytes bounds the estimated memory of those queued transactions;
	// default 64 MiB. A single larger transaction still passes, alone.
	QueueBytes int64
	Logger     *slog.Logger
	// OnStep, when set, is called after every source transaction is durable
	// in every sink (and once after the initial load, with Initial set).
	OnStep func(StepInfo)

	// Status, when set, is kept up to date for /status and /readyz; Run
	// uses a private one otherwise.
	Status *Status
	// Metrics, when set, receives the Prometheus metrics; nil records none.
	Metrics *metrics.Metrics
	// LagInterval is how often the slot lag is read from the source once
	// streaming; default 5s.
	LagInterval time.Duration
	// ProgressBar, when set (a terminal), shows the initial snapshot's
	// progress as a bar with rows/s and ETA. Otherwise the progress is
	// logged every ProgressInterval (default 10s).
	ProgressBar      io.Writer
	ProgressInterval time.Duration

	// StateDir, when set, holds the durable engine state (internal/state):
	// a restart resumes from its checkpoint without reading the source
	// tables again. Without it every start takes a fresh snapshot.
	StateDir string
	// NoStreaming makes the source send every transaction only after it
	// committed (pgoutput protocol 1). By default PostgreSQL (14 and
	// later) streams a transaction whose changes outgrow its
	// logical_decoding_work_mem while it is in progress, and ripple spools
	// it under state_dir/stream (a temporary directory without StateDir)
	// until its commit, instead of PostgreSQL spilling it to its own disk
	// and decoding it all after the commit (cdc.Config.StreamDir).
	NoStreaming bool
	// Resync discards the state and takes a fresh snapshot even when the
	// state could be resumed (`ripple resync`).
	Resync bool
	// ResyncViews rebuilds the sinks holding these views (and the other
	// views of those sinks) from the state's copy of the source tables,
	// without a new slot or snapshot, and clears the views' failures
	// (`ripple resync --view`). It needs a checkpoint that can be resumed.
	// Names are as row.TableName.String prints them.
	ResyncViews []string
	// StopAfterLoad makes Run return once the state is loaded or resumed
	// and every sink holds it (`ripple resync` without --run).
	StopAfterLoad bool
	// GroupTxns > 1 lets one sink transaction hold up to that many whole,
	// consecutive source transactions when they are already queued (I2's
	// opt-in grouping mode); 0 or 1 is strict: one sink transaction per
	// source transaction.
	GroupTxns int
	// TableMemory bounds the memory of ripple's copies of the source
	// tables (an estimate, see tableState) when the state is durable: past
	// it, the largest tables move to disk and are read from the state
	// store when a change needs a row. 0 means DefaultTableMemory; a
	// negative value keeps every table on disk. Without StateDir
	// every table stays in memory.
	TableMemory int64
	// OperatorMemory bounds the memory of the dataflow graph's
	// arrangements (the join, semi-join, NOT IN, DISTINCT, INTERSECT/EXCEPT and aggregate
	// state) when the state is durable: past it, the largest move to a
	// scratch store on disk (state_dir/spill) with a block cache in memory.
	// 0 means DefaultOperatorMemory; a negative value keeps every
	// arrangement on disk. Top-k, window and WITH RECURSIVE state stays in
	// memory.
	OperatorMemory int64
	// SyncInterval is the least time between two syncs of the state's
	// write-ahead log; checkpoints are acknowledged to the source once
	// synced. Default 100ms.
	SyncInterval time.Duration
	// Tick is how often a pipeline whose views have temporal filters
	// (now() in WHERE) steps them with no source transaction, so that rows
	// enter and leave them while the source is idle; default 1s.
	Tick time.Duration
	// Clock is the wall clock now() is read from (docs/sql.md); default
	// time.Now. Tests set it to control the views' time.
	Clock func() time.Time
	// RetryInitial and RetryMax bound the exponential backoff between
	// reconnection attempts after a lost connection; defaults 1s and 30s.
	RetryInitial, RetryMax time.Duration
}

// StepInfo describes one applied step, for progress displays and metrics.
type StepInfo struct {
	Initial    bool
	Resumed    bool // Initial, and resumed from the durable state instead of a snapshot
	LSN        row.LSN
	CommitTime time.Time
	// Time is the logical time of the step: now() in views with temporal
	// filters.
	Time time.Time
	// Tick marks a step with no source transaction (time passed); LSN is
	// then the last transaction's.
	Tick     bool
	Changes  int            // source row changes in the transaction
	ViewRows map[string]int // output rows changed per view (sum of |weight|)
	// Where the time went, for a source transaction: when ripple received
	// its commit, how long the engine (table copies and dataflow) took
	// over it, and how long the sinks' apply took for the group of
	// transactions it went in (0 for one applied in parts, whose sink
	// writes interleave with the engine).
	Received time.Time
	Engine   time.Duration
	Sink     time.Duration
}

func (c *Config) setDefaults() {
	if c.QueueSize <= 0 {
		c.QueueSize = 64
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Status == nil {
		c.Status = NewStatus()
	}
	if c.LagInterval <= 0 {
		c.LagInterval = 5 * time.Second
	}
	if c.ProgressInterval <= 0 {
		c.ProgressInterval = 10 * time.Second
	}
	if c.QueueBytes <= 0 {
		c.QueueBytes = 64 << 20
	}
	if c.SyncInterval <= 0 {
		c.SyncInterval = 100 * time.Millisecond
	}
	if c.Tick <= 0 {
		c.Tick = time.Second
	}
	if c.Clock == nil {
		c.Clock = time.Now
	}
	if c.RetryInitial <= 0 {
		c.RetryInitial = time.Second
	}
	if c.RetryMax < c.RetryInitial {
		c.RetryMax = max(30*time.Second, c.RetryInitial)
	}
}

// Prepare connects to the source, plans the views against its catalog and
// checks every view's column names and types against what PostgreSQL
// reports for the same SELECT. The caller closes the returned source.
func Prepare(ctx context.Context, src *cdc.Source, defs []planner.ViewDef) (*planner.Plan, error) {
	plan, err := planner.Build(ctx, defs, Catalog{src})
	if err != nil {
		return nil, err
	}
	for _, v := range plan.Views {
		// SourceQuery inlines the other views of the set a view reads:
		// the source does not have them.
		pg, err := src.Describe(ctx, v.SourceQuery)
		if err != nil {
			return nil, fmt.Errorf("view %s: PostgreSQL rejects its SELECT: %w", v.Def.Name, err)
		}
		if err := sameSchema(v.Columns, pg); err != nil {
			return nil, fmt.Errorf("view %s: %w; this is a ripple bug, please report it with the view definition", v.Def.Name, err)
		}
	}
	return plan, nil
}

func sameSchema(ours, pg row.Schema) error {
	if len(ours) != len(pg) {
		return fmt.Errorf("ripple computes %d columns, PostgreSQL %d", len(ours), len(pg))
	}
	for i := range ours {
		if ours[i].Name != pg[i].Name || ours[i].Type.OID != pg[i].Type.OID || ours[i].Type.Mod != pg[i].Type.Mod {
			return fmt.Errorf("column %d: ripple infers %s %s, PostgreSQL says %s %s", i+1,
				row.QuoteIdent(ours[i].Name), ours[i].Type, row.QuoteIdent(pg[i].Name), pg[i].Type)
		}
	}
	return nil
}

// Catalog adapts the source's catalog to the planner.
type Catalog struct{ Src *cdc.Source }

// LookupTable implements planner.Catalog.
func (c Catalog) LookupTable(ctx context.Context, schema, name string) (*planner.Table, error) {
	rel, err := c.Src.LookupTable(ctx, schema, name)
	if err != nil {
		return nil, err
	}
	t := &planner.Table{Name: rel.Name, Columns: rel.Columns}
	// Only a primary key or a replica identity index identifies rows; under
	// REPLICA IDENTITY FULL the table is a multiset of whole rows.
	if rel.Identity == 'd' || rel.Identity == 'i' {
		t.Key = rel.KeyCols
	}
	return t, nil
}

// Collation implements planner.Catalog.
func (c Catalog) Collation(ctx context.Context) (string, error) { return c.Src.Collation(ctx) }

// engine holds the planned graph, the table arrangements and the sinks.
type engine struct {
	plan     *planner.Plan
	targets  []Target
	tables   map[row.TableName]*tableState
	schemas  map[row.TableName]row.Schema
	adapters map[*cdc.Relation]*adapter
	views    map[row.TableName]planner.View
	pending  map[row.TableName]dataflow.Batch // snapshot rows by table, not yet stepped
	metrics  *metrics.Metrics                 // may be nil

	// The initial load steps the graph every loadChunk snapshot rows (see
	// stepLoad): loaded says it started (at logical time e.now), loadOut
	// gathers the views' changes, loadErrs the views that failed.
	loaded      bool
	pendingRows int
	loadOut     *gatherer
	loadErrs    []dataflow.ViewError

	snapshotRows int
	groupTxns    int
	// lastLSN is the commit LSN of the last transaction in the state (the
	// snapshot's consistent point or the resumed checkpoint before any).
	lastLSN row.LSN
	// lastEnd is the end LSN of the last checkpointed position.
	lastEnd row.LSN
	// sinkLSN is each sink's progress: what it returned from Open, then the
	// LSN of every step committed to it.
	sinkLSN map[string]row.LSN
	// now is the logical time of the last step (now() in the views);
	// clock is the wall clock it follows; temporal says whether any view
	// depends on it. tickPending is recorded in checkpoints while a tick
	// is committed to the sinks; lastCommit is the last transaction's
	// commit time, for the progress a tick writes.
	now         dataflow.Time
	clock       func() time.Time
	temporal    bool
	tickPending bool
	lastCommit  time.Time
	// restored is the views' contents rebuilt by restore, until
	// reload has used them.
	restored *gatherer
	// rebuild are the views whose sinks reload loads again from the
	// state (Config.ResyncViews, widened to whole sinks).
	rebuild map[string]bool
	// writer collects the snapshot's rows for the state store, and a
	// large transaction's table changes that stageOver moved out of
	// memory, for the next checkpoint.
	writer *state.Writer
	// staged counts the tables stageOver staged in the transaction (for
	// its log line).
	staged int
	store  *state.Store
	// tableMemory is Config.TableMemory with its default applied.
	tableMemory int64
	// spill is where the graph's arrangements go past operatorMemory
	// (nil without durable state); opSpilled is how many are there.
	spill          *state.Spill
	operatorMemory int64
	opSpilled      int
	// partsStreamed is set while applyParts writes a transaction's parts
	// to a sink as they come (see stepAt).
	partsStreamed bool
	// failed are the views stopped by a runtime error (by graph output
	// name); their outputs are ignored from then on.
	failed map[string]state.FailedView
	status *Status
	log    *slog.Logger
	// viewRows is the sum of the weights of every view's output since the
	// initial load: the number of rows the view holds. By view name as the
	// graph names its outputs (row.TableName.String()).
	viewRows map[string]int64
}

func newEngine(plan *planner.Plan, targets []Target) (*engine, error) {
	e := &engine{plan: plan, targets: targets, tables: map[row.TableName]*tableState{},
		schemas: map[row.TableName]row.Schema{}, adapters: map[*cdc.Relation]*adapter{},
		views: map[row.TableName]planner.View{}, pending: map[row.TableName]dataflow.Batch{},
		viewRows: map[string]int64{}, sinkLSN: map[string]row.LSN{}, failed: map[string]state.FailedView{},
		log: slog.Default(), clock: time.Now, temporal: plan.Graph.Temporal()}
	for _, t := range plan.Tables {
		e.tables[t.Name] = newTableState(t.Name, t.Key)
		e.schemas[t.Name] = t.Columns
	}
	for _, v := range plan.Views {
		e.views[v.Def.Name] = v
	}
	covered := map[row.TableName]bool{}
	for _, t := range targets {
		for _, v := range t.Views {
			if _, ok := e.views[v]; !ok {
				return nil, fmt.Errorf("sink %s: view %s is not defined", t.Sink.Name(), v)
			}
			covered[v] = true
		}
	}
	for name := range e.views {
		if !covered[name] {
			return nil, fmt.Errorf("view %s is not assigned to any sink", name)
		}
	}
	return e, nil
}

func (e *engine) tableNames() []row.TableName {
	out := make([]row.TableName, 0, len(e.tables))
	for _, t := range e.plan.Tables {
		out = append(out, t.Name)
	}
	return out
}

func (e *engine) sinkViews(t Target) []sink.View {
	out := make([]sink.View, 0, len(t.Views))
	for _, name := range t.Views {
		v := e.views[name]
		out = append(out, sink.View{Name: name, Columns: v.Columns, Key: v.Key, Definition: v.Def.SQL})
	}
	return out
}

// snapshotRow receives one row of the initial snapshot.
func (e *engine) snapshotRow(rel *cdc.Relation, r row.Row) error {
	ts, ok := e.tables[rel.Name]
	if !ok {
		return fmt.Errorf("snapshot: unexpected table %s", rel.Name)
	}
	a, err := e.adapter(rel)
	if err != nil {
		return err
	}
	r, _ = a.adapt(r, nil)
	if e.writer == nil {
		if err := ts.insert(r); err != nil {
			return err
		}
	} else {
		k, ent, err := ts.load(r)
		if err != nil {
			return err
		}
		if err := e.writer.PutEncoded(ts.id, k, ent.enc, int64(ent.n)); err != nil {
			return err
		}
		if e.writer.Size() >= snapshotChunk {
			if err := e.writer.Flush(); err != nil {
				return err
			}
			// Every row so far is in the store: tables may move to disk.
			for _, t := range e.tables {
				t.loadFlushed()
			}
			e.spillOver()
		}
	}
	e.pending[rel.Name] = append(e.pending[rel.Name], row.Update{Row: r, W: 1})
	e.snapshotRows++
	if e.pendingRows++; e.pendingRows >= loadChunk {
		return e.stepLoad()
	}
	return nil
}

// loadChunk is the number of snapshot rows the initial load steps the
// graph with at a time, so that the snapshot is never held whole as rows.
const loadChunk = 65536

// stepLoad steps the graph with the snapshot rows read since the last
// chunk, all chunks at the load's one logical time, and gathers the views'
// changes (consolidated as they grow: an aggregate's row changes chunk
// after chunk).
func (e *engine) stepLoad() error {
	if !e.loaded {
		e.loaded = true
		e.now = e.advance()
		e.loadOut = newGatherer().spillTo(e.spill, e.loadMemory)
	}
	out, err := e.graphStep(e.now, e.pending)
	e.pending, e.pendingRows = map[row.TableName]dataflow.Batch{}, 0
	var se *dataflow.StepError
	if errors.As(err, &se) {
		e.loadErrs = append(e.loadErrs, se.Views...) // isolated by load, at the snapshot's LSN
	} else if err != nil {
		return fmt.Errorf("initial load: %w", err)
	}
	onDisk := len(e.loadOut.disk) > 0
	if err := e.loadOut.add(out); err != nil {
		return fmt.Errorf("initial load: %w", err)
	}
	if !onDisk && len(e.loadOut.disk) > 0 {
		e.log.Info("initial load: views' rows gathered on disk: they exceed what the arrangements leave of operator_memory",
			"rows", e.loadOut.moved, "operator_memory", e.operatorMemory)
	}
	return nil
}

// loadMemory is the memory the initial load's gathered view rows may take
// before they move to the spill store: what the graph's arrangements leave
// of operator_memory (none with operator_memory 0).
func (e *engine) loadMemory() int64 {
	if e.operatorMemory < 0 {
		return 0
	}
	bytes, _, _ := e.plan.Graph.OperatorMemory()
	return max(e.operatorMemory-bytes, 0)
}

// load pushes the snapshot through the graph and loads every sink.
func (e *engine) load(ctx context.Context, lsn row.LSN) (err error) {
	if err := e.stepLoad(); err != nil {
		return err
	}
	e.pending = nil
	if len(e.loadErrs) > 0 {
		if err := e.isolate(&dataflow.StepError{Views: e.loadErrs}, lsn); err != nil {
			return fmt.Errorf("initial load: %w", err)
		}
		e.loadErrs = nil
	}
	g := e.loadOut // a view failed in some chunk: its sink tables are created empty
	e.loadOut = nil
	defer func() {
		if derr := g.drop(); derr != nil && err == nil {
			err = fmt.Errorf("initial load: %w", derr)
		}
	}()
	if err := g.finish(e.failed); err != nil {
		return fmt.Errorf("initial load: %w", err)
	}
	// The views in memory are checked before any sink loads; those on
	// disk as each sink reads them (loadSink), which may come after an
	// earlier sink committed its load. Either is an engine bug, and the
	// error ends the run before anything is checkpointed: the next start
	// takes the snapshot again.
	if err := g.checkWeights(); err != nil {
		return fmt.Errorf("initial load: %w", err)
	}
	counted := map[string]bool{}
	for _, t := range e.targets {
		start := time.Now()
		if err := e.loadSink(ctx, t, lsn, g, counted); err != nil {
			return fmt.Errorf("initial load into sink %s: %w", t.Sink.Name(), err)
		}
		e.metrics.SinkCommit(t.Sink.Name(), time.Since(start))
	}
	return nil
}

// loadPartRows is the most rows of one view a load in parts writes at a
// time (sink.PartsLoader).
const loadPartRows = 65536

// loadSink loads one sink with the gathered views' rows: in parts for a
// sink that takes them (sink.PartsLoader), so that rows gathered on disk
// are never all in memory; whole otherwise. It counts each view's rows
// into viewRows the first time it reads them (counted).
func (e *engine) loadSink(ctx context.Context, t Target, lsn row.LSN, g *gatherer, counted map[string]bool) error {
	// check returns what checks and counts the rows of v as they are read.
	check := func(v row.TableName) func(dataflow.Batch) error {
		name := v.String()
		count := !counted[name]
		if count {
			counted[name] = true
			e.viewRows[name] = 0
		}
		return func(b dataflow.Batch) error {
			for _, u := range b {
				if u.W < 0 {
					return fmt.Errorf("view %s produced a negative multiplicity for %v", v, u.Row)
				}
				if count {
					e.viewRows[name] += int64(u.W)
				}
			}
			return nil
		}
	}
	if pl, ok := t.Sink.(sink.PartsLoader); ok {
		lp, err := pl.BeginLoad(ctx, lsn)
		if err != nil {
			return err
		}
		defer lp.Abort()
		for _, v := range t.Views {
			ok := check(v)
			err := g.each(v.String(), loadPartRows, func(b dataflow.Batch) error {
				if err := ok(b); err != nil {
					return err
				}
				return lp.Write(ctx, v, b)
			})
			if err != nil {
				return err
			}
		}
		return lp.Commit(ctx)
	}
	rows := make(map[row.TableName][]row.Update, len(t.Views))
	for _, v := range t.Views {
		ok := check(v)
		b, err := g.batch(v.String())
		if err != nil {
			return err
		}
		if err := ok(b); err != nil {
			return err
		}
		rows[v] = b
	}
	return t.Sink.Load(ctx, lsn, rows)
}

// advance returns the logical time of the next step: the wall clock in
// microseconds, never before the previous step's.
func (e *engine) advance() dataflow.Time {
	return max(e.now, dataflow.TimeOf(e.clock()))
}

// record reports an applied step to the status and the metrics.
func (e *engine) record(st *Status, info StepInfo) {
	stateBytes, stateRows := e.stateSize()
	st.applied(info, e.viewRows, stateBytes, stateRows)
	m := e.metrics
	if m == nil {
		return
	}
	if !info.Tick {
		m.SourceStep(info.Changes, uint64(info.LSN))
	}
	m.State(stateBytes, stateRows)
	for name, n := range info.ViewRows {
		m.ViewStep(name, int64(n), e.viewRows[name])
	}
}

// DefaultTableMemory is the default Config.TableMemory.
const DefaultTableMemory = 1 << 30

// spillOver moves the largest in-memory tables to disk while the
// table copies exceed the table memory budget. Call it only when every
// table's rows are in the state store (see tableState.spill).
func (e *engine) spillOver() {
	if e.store == nil {
		return
	}
	for {
		var total int64
		var big *tableState
		for _, t := range e.tables {
			total += t.bytes()
			if t.disk == nil && (big == nil || t.bytes() > big.bytes()) {
				big = t
			}
		}
		if big == nil || (total <= e.tableMemory && e.tableMemory >= 0) {
			return
		}
		bytes := big.bytes()
		big.spill(e.store)
		e.log.Info("table copy moved to disk: the tables' copies exceed table_memory", "table", big.name.String(),
			"rows", big.count, "memory_bytes", bytes, "table_memory", e.tableMemory)
		if e.status != nil {
			e.status.tableSpilled(big.name.String())
		}
	}
}

// stageOver keeps the table copies within the table memory budget in the
// middle of a large transaction, whose changes a checkpoint cannot write
// before it commits: while they exceed it, the table holding the most
// moves its changes to the next checkpoint's writer, which stages them on
// disk (a table in memory moves to disk with them).
func (e *engine) stageOver() error {
	if e.store == nil {
		return nil
	}
	for {
		var total int64
		var big *tableState
		for _, t := range e.tables {
			total += t.bytes()
			if t.bytes() > 0 && (big == nil || t.bytes() > big.bytes()) {
				big = t
			}
		}
		if big == nil || total <= max(e.tableMemory, 0) {
			return nil
		}
		if e.writer == nil {
			e.writer = e.store.NewWriter()
		}
		bytes, spilled := big.bytes(), big.disk == nil
		ok, err := big.stage(e.writer, e.store)
		if err != nil {
			return fmt.Errorf("table %s: stage a large transaction's changes: %w", big.name, err)
		}
		if !ok {
			return nil
		}
		if e.staged++; e.staged == 1 || spilled {
			e.log.Info("a large transaction's changes to a table copy are staged on disk until its checkpoint: the tables' copies exceed table_memory",
				"table", big.name.String(), "memory_bytes", bytes, "moved_to_disk", spilled, "table_memory", e.tableMemory)
		}
		if spilled && e.status != nil {
			e.status.tableSpilled(big.name.String())
		}
	}
}

// graphStep steps the graph and reports the arrangements it moved to the
// operator spill store.
func (e *engine) graphStep(now dataflow.Time, inputs map[row.TableName]dataflow.Batch) (map[string]dataflow.Batch, error) {
	out, err := e.plan.Graph.StepAt(now, inputs)
	if e.spill != nil {
		bytes, n, spilled := e.plan.Graph.OperatorMemory()
		held := bytes // what the cache shares operator_memory with
		for _, g := range []*gatherer{e.loadOut, e.restored} {
			if g != nil {
				held += g.total
			}
		}
		e.spill.ShareCache(held)
		if spilled > e.opSpilled {
			e.log.Info("operator state moved to disk: the arrangements exceed operator_memory",
				"arrangements_on_disk", spilled, "arrangements", n, "memory_bytes", bytes, "operator_memory", e.operatorMemory)
			e.opSpilled = spilled
			if e.status != nil {
				e.status.operatorSpilled(spilled, n)
			}
		}
	}
	return out, err
}

// DefaultOperatorMemory is the default Config.OperatorMemory.
const DefaultOperatorMemory = 1 << 30

// stateSize estimates the memory of the table arrangements and of the
// graph's join arrangements, and counts the tables' rows. Other operator
// state (aggregate groups, top-k) is not measured.
func (e *engine) stateSize() (bytes, rows int64) {
	bytes, _, _ = e.plan.Graph.OperatorMemory()
	for _, t := range e.tables {
		bytes += t.bytes()
		rows += t.count
	}
	return bytes, rows
}

// viewSinks returns, for every view, the sinks that hold it.
func (e *engine) viewSinks() map[string][]string {
	out := make(map[string][]string, len(e.views))
	for _, t := range e.targets {
		for _, v := range t.Views {
			out[v.String()] = append(out[v.String()], t.Sink.Name())
		}
	}
	return out
}

func (e *engine) viewNames() []string {
	out := make([]string, 0, len(e.views))
	for name := range e.views {
		out = append(out, name.String())
	}
	sort.Strings(out)
	return out
}

func (e *engine) sinkNames() []string {
	out := make([]string, 0, len(e.targets))
	for _, t := range e.targets {
		out = append(out, t.Sink.Name())
	}
	return out
}

// adapter maps the columns of a relation as the stream describes it onto
// the columns the graph was planned with (by name): a column added after
// ripple started is dropped, a column that views read and that was dropped
// or changed type is a terminal error.
type adapter struct {
	idx  []int // for each planned column, its position in the stream's row
	same bool  // idx is the identity: stream rows are used as they are
}

func (e *engine) adapter(rel *cdc.Relation) (*adapter, error) {
	if a, ok := e.adapters[rel]; ok {
		return a, nil
	}
	want := e.schemas[rel.Name]
	a := &adapter{idx: make([]int, len(want))}
	var problems []string
	for i, col := range want {
		j := rel.Columns.Index(col.Name)
		switch {
		case j < 0:
			problems = append(problems, fmt.Sprintf("column %s was dropped or renamed", row.QuoteIdent(col.Name)))
		case rel.Columns[j].Type.OID != col.Type.OID:
			problems = append(problems, fmt.Sprintf("column %s changed type from %s to %s", row.QuoteIdent(col.Name), col.Type, rel.Columns[j].Type))
		}
		a.idx[i] = j
	}
	if len(problems) > 0 {
		sort.Strings(problems)
		return nil, fmt.Errorf("table %s changed while ripple was running (%s); restart ripple to re-plan and re-snapshot", rel.Name, strings.Join(problems, "; "))
	}
	a.same = true
	for i, j := range a.idx {
		a.same = a.same && i == j
	}
	e.adapters[rel] = a
	return a, nil
}

func (a *adapter) adapt(r row.Row, unchanged []bool) (row.Row, []bool) {
	if r == nil || (a.same && len(r) == len(a.idx)) {
		return r, unchanged
	}
	out := make(row.Row, len(a.idx))
	var un []bool
	if unchanged != nil {
		un = make([]bool, len(a.idx))
	}
	for i, j := range a.idx {
		if j < len(r) {
			out[i] = r[j]
			if unchanged != nil {
				un[i] = unchanged[j]
			}
		}
	}
	return out, un
}

func (a *adapter) adaptChange(c cdc.Change) cdc.Change {
	c.Old, _ = a.adapt(c.Old, nil)
	c.New, c.Unchanged = a.adapt(c.New, c.Unchanged)
	return c
}
