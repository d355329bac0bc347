package bench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rippledb/ripple/cdc"
	"github.com/rippledb/ripple/internal/oracle"
	"github.com/rippledb/ripple/internal/pgcluster"
	"github.com/rippledb/ripple/internal/pipeline"
	"github.com/rippledb/ripple/internal/row"
	"github.com/rippledb/ripple/planner"
	"github.com/rippledb/ripple/sink"
)

func (e *Env) connect(ctx context.Context, c *pgcluster.Cluster, db string) (*pgx.Conn, error) {
	return oracle.Connect(ctx, c.DSN(db))
}

// freshDBs creates a new database with the same name on the source and on
// the sink cluster, for one scenario step, and returns its name.
func (e *Env) freshDBs(ctx context.Context, prefix string) (string, error) {
	e.seq++
	name := fmt.Sprintf("%s_%d", prefix, e.seq)
	if err := e.Src.CreateDB(ctx, name); err != nil {
		return "", fmt.Errorf("create source database %s: %w", name, err)
	}
	if err := e.Snk.CreateDB(ctx, name); err != nil {
		return "", fmt.Errorf("create sink database %s: %w", name, err)
	}
	return name, nil
}

// dropDBs removes a scenario step's databases (and the slots in the source
// one) so that WAL is not retained and disk stays bounded.
func (e *Env) dropDBs(ctx context.Context, db string) {
	c, err := e.connect(ctx, e.Src, "postgres")
	if err == nil {
		_, _ = c.Exec(ctx, "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = $1 AND NOT active", db)
		_, _ = c.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{db}.Sanitize()+" WITH (FORCE)")
		c.Close(ctx)
	}
	if c, err := e.connect(ctx, e.Snk, "postgres"); err == nil {
		_, _ = c.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{db}.Sanitize()+" WITH (FORCE)")
		c.Close(ctx)
	}
}

// stepMark is one applied source transaction as OnStep reports it.
type stepMark struct {
	lsn    row.LSN
	at     time.Time // when OnStep saw it: durable in the sink
	commit time.Time // the source commit time (from the stream)
	// received is when ripple read the commit; engine and sink the time
	// the engine and the sinks' apply took over it.
	received     time.Time
	engine, sink time.Duration
	changes      int
}

// ripple is one in-process pipeline run.
type ripple struct {
	db      string
	slot    string
	defs    []planner.ViewDef
	sink    *timedSink
	status  *pipeline.Status
	cancel  context.CancelFunc
	done    chan error
	loaded  chan struct{} // closed when the initial load is in the sink
	release chan struct{} // the initial OnStep waits for it when hold is set

	mu      sync.Mutex
	steps   []stepMark
	changed chan struct{} // closed and replaced on every step
	loadAt  time.Time
	// stateDir holds the pipeline's durable state, as `ripple run` keeps
	// it: the figures include checkpointing.
	stateDir string
}

type rippleOpts struct {
	hold  bool // block after the initial load until release is closed
	group int  // >1: grouped sink mode (when the pipeline has one)
	queue int
	// onDisk keeps the table copies and the operator state on disk
	// (table_memory 0, operator_memory 0).
	onDisk bool
}

// startRipple plans viewSQL and runs a pipeline from database db of the
// source into database db of the sink.
func (e *Env) startRipple(ctx context.Context, db, viewSQL string, o rippleOpts) (*ripple, error) {
	defs, err := planner.ParseViews("bench.sql", viewSQL)
	if err != nil {
		return nil, err
	}
	names := make([]row.TableName, len(defs))
	for i, d := range defs {
		names[i] = d.Name
	}
	r := &ripple{db: db, slot: "ripple_" + db, defs: defs, status: pipeline.NewStatus(),
		done: make(chan error, 1), loaded: make(chan struct{}), release: make(chan struct{}),
		changed: make(chan struct{})}
	r.sink = &timedSink{Sink: sink.NewPostgres(sink.PostgresConfig{Name: "bench", DSN: e.Snk.DSN(db)})}
	if !o.hold {
		close(r.release)
	}
	if r.stateDir, err = os.MkdirTemp("", "ripple-bench-state-"); err != nil {
		return nil, err
	}
	cfg := pipeline.Config{
		StateDir:  r.stateDir,
		Source:    cdc.Config{DSN: e.Src.DSN(db), Slot: r.slot, Publication: "ripple", Logger: e.log},
		Views:     defs,
		Targets:   []pipeline.Target{{Sink: r.sink, Views: names}},
		QueueSize: o.queue,
		Logger:    e.log,
		Status:    r.status,
		OnStep:    r.onStep,
	}
	cfg.TableMemory, cfg.OperatorMemory = e.tableMemory, e.operatorMemory
	if o.onDisk {
		cfg.TableMemory, cfg.OperatorMemory = -1, -1
	}
	if o.group > 1 && !setGroup(&cfg, o.group) {
		return nil, errNoGrouping
	}
	rctx, cancel := context.WithCancel(ctx)
	r.cancel = cancel
	go func() { r.done <- pipeline.Run(rctx, cfg) }()
	select {
	case <-r.loaded:
		return r, nil
	case err := <-r.done:
		cancel()
		if err == nil {
			err = ctx.Err()
		}
		return nil, fmt.Errorf("pipeline stopped before the initial load: %w", err)
	}
}

func (r *ripple) onStep(info pipeline.StepInfo) {
	now := time.Now()
	if info.Initial {
		r.mu.Lock()
		r.loadAt = now
		r.mu.Unlock()
		close(r.loaded)
		<-r.release
		return
	}
	r.mu.Lock()
	r.steps = append(r.steps, stepMark{lsn: info.LSN, at: now, commit: info.CommitTime, changes: info.Changes,
		received: info.Received, engine: info.Engine, sink: info.Sink})
	close(r.changed)
	r.changed = make(chan struct{})
	r.mu.Unlock()
}

// waitAfter waits for the first applied transaction whose commit LSN is
// above after and returns its mark.
func (r *ripple) waitAfter(ctx context.Context, after row.LSN, timeout time.Duration) (stepMark, error) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	from := 0
	for {
		r.mu.Lock()
		for i := from; i < len(r.steps); i++ {
			if r.steps[i].lsn > after {
				m := r.steps[i]
				r.mu.Unlock()
				return m, nil
			}
		}
		from = len(r.steps)
		ch := r.changed
		r.mu.Unlock()
		select {
		case <-ch:
		case err := <-r.done:
			r.done <- err
			return stepMark{}, fmt.Errorf("pipeline stopped: %v", err)
		case <-deadline.C:
			return stepMark{}, fmt.Errorf("no transaction after %s applied within %s", after, timeout)
		case <-ctx.Done():
			return stepMark{}, ctx.Err()
		}
	}
}

// check compares every view in the sink with its SELECT on the source.
func (r *ripple) check(ctx context.Context, e *Env, res *Scenario, label string) error {
	src, err := e.connect(ctx, e.Src, r.db)
	if err != nil {
		return err
	}
	defer src.Close(ctx)
	snk, err := e.connect(ctx, e.Snk, r.db)
	if err != nil {
		return err
	}
	defer snk.Close(ctx)
	if err := oracle.WaitCaughtUp(ctx, src, r.slot, 5*time.Minute); err != nil {
		return err
	}
	for _, d := range r.defs {
		desc, err := src.Prepare(ctx, "", d.Query)
		if err != nil {
			return fmt.Errorf("describe view %s: %w", d.Name, err)
		}
		v := oracle.View{Name: d.Name, Query: d.Query}
		for _, f := range desc.Fields {
			v.Columns = append(v.Columns, row.Column{Name: f.Name, Type: row.Type{OID: row.OID(f.DataTypeOID), Mod: f.TypeModifier}})
		}
		diff, err := oracle.Compare(ctx, src, snk, v)
		if err != nil {
			return err
		}
		res.Oracle = append(res.Oracle, fmt.Sprintf("%s: %s", label, diff))
		if !diff.Equal() {
			return fmt.Errorf("oracle (%s): %s", label, diff)
		}
	}
	return nil
}

// stop stops the pipeline and returns its error.
func (r *ripple) stop() error {
	r.cancel()
	select {
	case <-r.release:
	default:
		close(r.release)
	}
	err := <-r.done
	os.RemoveAll(r.stateDir)
	return err
}

// timedSink adds up the time spent in Apply: the sink stage's share.
type timedSink struct {
	sink.Sink
	mu    sync.Mutex
	apply time.Duration
	steps int // sink transactions
	// batches counts Apply and ApplySteps calls: round trips to the sink
	// when the steps need no COPY.
	batches int
	loadIn  time.Duration
}

var _ sink.StepsApplier = (*timedSink)(nil)

func (s *timedSink) Apply(ctx context.Context, st sink.Step) error {
	t := time.Now()
	err := s.Sink.Apply(ctx, st)
	s.mu.Lock()
	s.apply += time.Since(t)
	s.steps++
	s.batches++
	s.mu.Unlock()
	return err
}

// ApplySteps passes several strict-mode steps on (pipelined when the
// sink can, as the pipeline would without the timer); steps counts each
// as a sink transaction.
func (s *timedSink) ApplySteps(ctx context.Context, steps []sink.Step) (int, error) {
	t := time.Now()
	var (
		n   int
		err error
	)
	if sa, ok := s.Sink.(sink.StepsApplier); ok {
		n, err = sa.ApplySteps(ctx, steps)
	} else {
		for _, st := range steps {
			if err = s.Sink.Apply(ctx, st); err != nil {
				break
			}
			n++
		}
	}
	s.mu.Lock()
	s.apply += time.Since(t)
	s.steps += n
	s.batches++
	s.mu.Unlock()
	return n, err
}

func (s *timedSink) Load(ctx context.Context, lsn row.LSN, rows map[row.TableName][]row.Update) error {
	t := time.Now()
	err := s.Sink.Load(ctx, lsn, rows)
	s.mu.Lock()
	s.loadIn += time.Since(t)
	s.mu.Unlock()
	return err
}

func (s *timedSink) reset() (apply time.Duration, steps int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	apply, steps = s.apply, s.steps
	s.apply, s.steps, s.batches = 0, 0, 0
	return apply, steps
}

// calls returns the Apply and ApplySteps calls since the last reset.
func (s *timedSink) calls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.batches
}

// currentLSN is the source's WAL insert position.
func currentLSN(ctx context.Context, c *pgx.Conn) (row.LSN, error) {
	var s string
	if err := c.QueryRow(ctx, "SELECT pg_current_wal_insert_lsn()::text").Scan(&s); err != nil {
		return 0, err
	}
	return row.ParseLSN(s)
}

// recvlogical drains slot with pg_recvlogical up to endpos (the raw
// pgoutput stream, written to /dev/null) and returns how long it took.
func (e *Env) recvlogical(ctx context.Context, db, slot, publication string, endpos row.LSN) (time.Duration, error) {
	bin, err := pgcluster.FindBinDir()
	if err != nil {
		return 0, err
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(bin, "pg_recvlogical"),
		"-d", e.Src.DSN(db), "-S", slot, "--start", "--no-loop",
		"-o", "proto_version=1", "-o", "publication_names="+publication,
		"-E", endpos.String(), "-f", os.DevNull, "-s", "1")
	start := time.Now()
	out, err := cmd.CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("pg_recvlogical: %w: %s", err, out)
	}
	return time.Since(start), nil
}
