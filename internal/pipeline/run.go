package pipeline

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/rippledb/ripple/cdc"
	"github.com/rippledb/ripple/internal/metrics"
	"github.com/rippledb/ripple/internal/row"
	"github.com/rippledb/ripple/internal/state"
)

// ErrResyncNeeded marks errors after which ripple's durable state cannot be
// continued from: the slot is gone or invalidated, or a sink lost data
// ripple committed to it. `ripple resync` rebuilds from a fresh snapshot.
var ErrResyncNeeded = errors.New("resync needed")

// Run runs the pipeline until ctx is cancelled (returns nil) or a terminal
// error occurs: it plans the views, then either resumes from the durable
// state in Config.StateDir or snapshots the source and loads every sink
// atomically, then applies each source transaction to every sink as one
// sink transaction and acknowledges to the source only what every sink and
// the state hold (I4).
//
// Connections to the source or a sink lost once the pipeline ran (a
// restart, a network failure, pg_terminate_backend) are not terminal: Run
// waits with exponential backoff and starts over from the durable state
// (or, without a StateDir, from a fresh snapshot), for as long as it takes.
// Everything else is, including a source or sink unreachable at the first
// start (most often a wrong address).
func Run(ctx context.Context, cfg Config) (err error) {
	cfg.setDefaults()
	log := cfg.Logger
	st, m := cfg.Status, cfg.Metrics
	setTestReduceCache()
	st.begin(slotName(cfg.Source))
	defer func() {
		st.end(err)
		m.Ready(false)
		if err != nil {
			m.Error(metrics.StagePipeline)
		}
	}()
	var store *state.Store
	if cfg.StateDir != "" {
		store, err = state.Open(cfg.StateDir, log)
		if err != nil {
			return err
		}
		defer func() {
			if cerr := store.Close(); cerr != nil && err == nil {
				err = fmt.Errorf("close state: %w", cerr)
			}
		}()
	}
	if !cfg.NoStreaming && cfg.Source.StreamDir == "" {
		// Large transactions are streamed while in progress and spooled
		// here until they commit (cdc.Config.StreamDir).
		if cfg.StateDir != "" {
			cfg.Source.StreamDir = filepath.Join(cfg.StateDir, "stream")
		} else {
			dir, err := os.MkdirTemp("", "ripple-stream-")
			if err != nil {
				return fmt.Errorf("spool directory for streamed transactions: %w", err)
			}
			defer os.RemoveAll(dir)
			cfg.Source.StreamDir = dir
		}
	}
	wait := cfg.RetryInitial
	resync := cfg.Resync
	resyncViews := cfg.ResyncViews
	if resync && len(resyncViews) > 0 {
		return errors.New("a resync of all views and of only some views were both asked for")
	}
	if len(resyncViews) > 0 && store == nil {
		return fmt.Errorf("resync of view %s: a resync of single views rebuilds them from ripple's state, and there is no state_dir", resyncViews[0])
	}
	everLoaded := false
	slotBusy := 0
	whole := map[row.LSN]bool{}
	for attempt := 1; ; attempt++ {
		r := &run{cfg: &cfg, store: store, resync: resync, resyncViews: resyncViews, whole: whole}
		err = r.run(ctx)
		if ctx.Err() != nil && (err == nil || errors.Is(err, context.Canceled)) {
			log.Info("stopped")
			return nil
		}
		if err == nil || cfg.StopAfterLoad && r.loadedOK {
			return err
		}
		everLoaded = everLoaded || r.loadedOK
		if wt := (*wholeTxnError)(nil); errors.As(err, &wt) && !whole[wt.lsn] {
			whole[wt.lsn] = true
			if r.loadedOK {
				resync, resyncViews = false, nil
			}
			log.Info("a view failed on a part of a large transaction; starting over to apply it whole", "err", err)
			continue
		}
		// Right after a lost connection the source may still hold the old
		// walsender on the slot for a moment: a few retries, not forever
		// (another ripple on the same slot is refused, not waited for).
		busy := everLoaded && errors.Is(err, cdc.ErrSlotInUse) && slotBusy < maxSlotBusyRetries
		if busy {
			slotBusy++
		} else if r.progressed {
			slotBusy = 0
		}
		// A connection that never worked is a configuration problem, and
		// says so at once; one lost after the pipeline ran is retried.
		if !busy && (!Transient(err) || !everLoaded) {
			return err
		}
		if r.loadedOK {
			resync = false // a resync that loaded is done; go on from its state
			resyncViews = nil
		}
		if r.progressed {
			wait = cfg.RetryInitial
		}
		st.retrying(err)
		m.Error(metrics.StagePipeline)
		m.Ready(false)
		log.Warn("connection lost; reconnecting", "err", err, "attempt", attempt, "in", wait.String())
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
		wait = min(wait*2, cfg.RetryMax)
	}
}

// maxSlotBusyRetries bounds the retries of a slot found in use after a
// lost connection.
const maxSlotBusyRetries = 5

// run is one attempt of Run: from connecting to the first error.
type run struct {
	cfg    *Config
	store  *state.Store // nil without a StateDir
	resync bool
	// resyncViews are the views to rebuild from the state on resume
	// (Config.ResyncViews).
	resyncViews []string

	loadedOK   bool // the state was loaded or resumed
	progressed bool // at least one transaction was applied
	// whole are the transactions (by commit LSN) to be delivered whole,
	// shared by the attempts of one Run (see wholeTxnError).
	whole map[row.LSN]bool
}

func (r *run) run(ctx context.Context) (err error) {
	cfg, log := r.cfg, r.cfg.Logger
	st, m := cfg.Status, cfg.Metrics
	srcCfg := cfg.Source
	// With durable state, an idle position is acked only once a checkpoint
	// records it (see stream), so that the slot never passes the state.
	srcCfg.HoldIdle = r.store != nil
	if len(r.whole) > 0 {
		srcCfg.Whole = func(lsn row.LSN) bool { return r.whole[lsn] }
	}
	if srcCfg.PartChanges == 0 {
		srcCfg.PartChanges = testPartChanges()
	}
	src, err := cdc.Connect(ctx, srcCfg)
	if err != nil {
		return err
	}
	defer src.Close(context.Background())

	plan, err := Prepare(ctx, src, cfg.Views)
	if err != nil {
		return err
	}
	e, err := newEngine(plan, cfg.Targets)
	if err != nil {
		return err
	}
	defer func() {
		if e.writer != nil {
			e.writer.Abort() // a checkpoint not written: its staged changes go
		}
	}()
	e.metrics = m
	e.clock = cfg.Clock
	e.groupTxns = cfg.GroupTxns
	e.tableMemory = cfg.TableMemory
	if e.tableMemory == 0 {
		e.tableMemory = DefaultTableMemory
	}
	// A spill store with every state store: the graph's arrangements move
	// there, and so do the view rows of a large load (gatherer), which
	// even a graph without arrangements (an identity view) has.
	if r.store != nil {
		e.operatorMemory = cfg.OperatorMemory
		if e.operatorMemory == 0 {
			e.operatorMemory = DefaultOperatorMemory
		}
		// The spill store's block cache shares operator_memory with the
		// arrangements still in memory (graphStep).
		if e.spill, err = state.OpenSpill(cfg.StateDir, e.operatorMemory, log); err != nil {
			return err
		}
		defer func() {
			if cerr := e.spill.Close(); cerr != nil && err == nil {
				err = cerr
			}
		}()
		if err := plan.Graph.SetSpill(e.spill, max(e.operatorMemory, 0)); err != nil {
			return err
		}
	}
	e.status, e.log = st, log
	st.setViews(e.viewSinks())
	m.Init(e.viewNames(), e.sinkNames())
	srcCfg.Tables = e.tableNames()
	src.SetTables(srcCfg.Tables)
	if err := src.EnsurePublication(ctx); err != nil {
		return err
	}
	slot := slotName(srcCfg)
	// Every sink is closed at the end, also after a failed Open (the Sink
	// contract), so that the sinks opened before it do not stay open.
	defer func() {
		for _, t := range cfg.Targets {
			if cerr := t.Sink.Close(); cerr != nil && err == nil {
				err = cerr
			}
		}
	}()
	for _, t := range cfg.Targets {
		lsn, err := t.Sink.Open(ctx, slot, e.sinkViews(t))
		if err != nil {
			return fmt.Errorf("open sink %s: %w", t.Sink.Name(), err)
		}
		e.sinkLSN[t.Sink.Name()] = lsn
	}

	fp := fingerprint(e, slot)
	var start row.LSN
	resumed := false
	if r.store != nil && !r.resync {
		cp, err := r.store.Checkpoint()
		if err != nil {
			return err
		}
		if len(r.resyncViews) > 0 {
			if err := r.checkViewResync(ctx, src, e, cp, fp, slot); err != nil {
				return err
			}
		}
		switch {
		case cp == nil:
			log.Info("no engine state yet; taking the initial snapshot", "state_dir", r.store.Dir())
		case cp.Version != state.FormatVersion || cp.Fingerprint != fp || cp.Slot != slot:
			log.Info("views, tables or sinks changed since the last checkpoint; taking a fresh snapshot", "state_dir", r.store.Dir(), "checkpoint_lsn", cp.LSN)
		default:
			if err := r.checkResumable(ctx, src, e, cp); err != nil {
				return err
			}
			begin := time.Now()
			if err := e.restore(r.store, cp); err != nil {
				return err
			}
			if err := e.reload(ctx, cp, fp, slot); err != nil {
				return err
			}
			start, resumed = cp.EndLSN, true
			e.lastEnd = cp.EndLSN
			log.Info("resumed from checkpoint", "lsn", cp.LSN, "rows", e.snapshotRows, "elapsed", time.Since(begin).Round(time.Millisecond), "state_dir", r.store.Dir())
			stateBytes, stateRows := e.stateSize()
			st.loaded(cp.LSN, e.viewRows, stateBytes, stateRows)
			m.State(stateBytes, stateRows)
			m.AppliedLSN(uint64(cp.LSN))
		}
	}
	if !resumed {
		if start, err = r.snapshot(ctx, src, e, fp, slot); err != nil {
			return err
		}
	}
	r.loadedOK = true
	if r.store != nil {
		st.stateOpened(r.store.Dir(), resumed)
		st.synced(r.store.Synced(), r.store.DiskSize())
	}
	for name, n := range e.viewRows {
		m.ViewRows(name, n)
	}
	if cfg.StopAfterLoad {
		return nil
	}
	m.Ready(true)
	if cfg.OnStep != nil {
		info := StepInfo{Initial: true, Resumed: resumed, LSN: e.lastLSN, Changes: e.snapshotRows}
		if e.temporal {
			info.Time = e.now.Go()
		}
		cfg.OnStep(info)
	}
	return r.stream(ctx, src, e, start, fp, slot)
}

// checkResumable refuses to continue from a checkpoint the slot or a sink
// no longer matches.
func (r *run) checkResumable(ctx context.Context, src *cdc.Source, e *engine, cp *state.Checkpoint) error {
	slot, err := src.Slot(ctx)
	if err != nil {
		return err
	}
	hint := "run `ripple resync` to rebuild the state and the sinks from a fresh snapshot"
	switch {
	case !slot.Exists:
		return fmt.Errorf("%w: replication slot %s no longer exists on the source, so the changes after ripple's checkpoint at %s are lost; %s",
			ErrResyncNeeded, cp.Slot, cp.LSN, hint)
	case slot.WALStatus == "lost":
		return fmt.Errorf("%w: replication slot %s was invalidated by the source (wal_status = lost, see max_slot_wal_keep_size): the WAL after ripple's checkpoint at %s was removed; %s",
			ErrResyncNeeded, cp.Slot, cp.LSN, hint)
	case slot.ConfirmedFlush > cp.EndLSN:
		return fmt.Errorf("%w: replication slot %s was acknowledged up to %s, past ripple's checkpoint at %s (state_dir %s restored from an older copy?); %s",
			ErrResyncNeeded, cp.Slot, slot.ConfirmedFlush, cp.EndLSN, r.store.Dir(), hint)
	}
	for _, t := range e.targets {
		name := t.Sink.Name()
		if have, want := e.sinkLSN[name], cp.Sinks[name]; have < want {
			return fmt.Errorf("%w: sink %s is at %s, behind what ripple committed to it (%s): it lost data (restored from a backup, or its ripple tables were changed); %s",
				ErrResyncNeeded, name, have, want, hint)
		}
	}
	return nil
}

// checkViewResync checks that the views of a `ripple resync --view` can be
// rebuilt from the checkpoint cp, and marks the views of every sink that
// holds one of them for reload (a sink is loaded in one transaction, all
// its views at once).
func (r *run) checkViewResync(ctx context.Context, src *cdc.Source, e *engine, cp *state.Checkpoint, fp, slot string) error {
	names := strings.Join(r.resyncViews, ", ")
	full := "run `ripple resync` without --view to rebuild every view from a fresh snapshot"
	switch {
	case cp == nil:
		return fmt.Errorf("resync of view %s: state_dir %s holds no checkpoint to rebuild it from; %s", names, r.store.Dir(), full)
	case cp.Version != state.FormatVersion || cp.Fingerprint != fp || cp.Slot != slot:
		return fmt.Errorf("resync of view %s: the views, tables or sinks changed since ripple's checkpoint in %s, so its state does not fit them; %s", names, r.store.Dir(), full)
	}
	if err := r.checkResumable(ctx, src, e, cp); err != nil {
		return fmt.Errorf("resync of view %s: %w", names, err)
	}
	want := map[string]bool{}
	for _, v := range r.resyncViews {
		want[v] = true
	}
	e.rebuild = map[string]bool{}
	found := map[string]bool{}
	for _, t := range e.targets {
		hit := false
		for _, v := range t.Views {
			if want[v.String()] {
				hit = true
				found[v.String()] = true
			}
		}
		if hit { // every sink holding a named view, and all of its views
			for _, v := range t.Views {
				e.rebuild[v.String()] = true
			}
		}
	}
	for _, v := range r.resyncViews {
		if !found[v] {
			return fmt.Errorf("resync of view %s: the configuration has no view %s", names, v)
		}
	}
	return nil
}

// snapshot takes the initial snapshot (recreating the slot), loads every
// sink and writes the state's first checkpoint. It returns the consistent
// point streaming starts from.
func (r *run) snapshot(ctx context.Context, src *cdc.Source, e *engine, fp, slot string) (row.LSN, error) {
	cfg, log := r.cfg, r.cfg.Logger
	st, m := cfg.Status, cfg.Metrics
	if r.store != nil {
		if err := r.store.Reset(); err != nil {
			return 0, err
		}
		e.writer = r.store.NewLoadWriter()
		e.store = r.store
	}
	start := time.Now()
	est, err := src.EstimateRows(ctx)
	if err != nil {
		log.Warn("cannot estimate the snapshot's size; progress is shown without an ETA", "err", err)
		est = 0
	}
	log.Info("taking initial snapshot", "tables", len(e.plan.Tables), "estimated_rows", est)
	prog := newSnapshotProgress(cfg, est)
	lsn, err := src.Snapshot(ctx, func(rel *cdc.Relation, rw row.Row) error {
		if err := e.snapshotRow(rel, rw); err != nil {
			return err
		}
		crashPoint("snapshot")
		prog.add()
		return nil
	})
	if err != nil {
		prog.abort(cfg.ProgressBar)
		return 0, fmt.Errorf("initial snapshot: %w", err)
	}
	prog.read()
	if err := e.load(ctx, lsn); err != nil {
		return 0, err
	}
	crashPoint("loaded")
	if r.store != nil {
		if err := e.checkpoint(fp, slot, lsn, lsn, true); err != nil {
			return 0, err
		}
	}
	e.lastLSN, e.lastEnd = lsn, lsn
	stateBytes, stateRows := e.stateSize()
	st.loaded(lsn, e.viewRows, stateBytes, stateRows)
	m.Snapshot(int64(e.snapshotRows), est, true)
	m.State(stateBytes, stateRows)
	m.AppliedLSN(uint64(lsn))
	log.Info("initial load done", "lsn", lsn, "rows", e.snapshotRows, "elapsed", time.Since(start).Round(time.Millisecond))
	return lsn, nil
}

// stream applies the source's transactions from start on, until an error
// or ctx ends.
func (r *run) stream(ctx context.Context, src *cdc.Source, e *engine, start row.LSN, fp, slot string) error {
	cfg, st := r.cfg, r.cfg.Status
	stream := make(chan cdc.Txn)
	txns := make(chan queuedTxn, cfg.QueueSize)
	queue := newByteQueue(cfg.QueueBytes)
	synced := make(chan struct{}, 1) // a checkpoint was written and awaits a sync
	if r.store != nil {
		src.Ack(r.store.Synced()) // the checkpoint streaming starts from is durable
	}
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		defer close(stream)
		return src.Stream(gctx, start, stream)
	})
	g.Go(func() error {
		queue.forward(gctx, stream, txns)
		return nil
	})
	g.Go(func() error {
		group := make([]cdc.Txn, 0, max(cfg.GroupTxns, 1))
		var idleTick, timeTick <-chan time.Time
		if r.store != nil {
			t := time.NewTicker(idleCheckpointInterval)
			defer t.Stop()
			idleTick = t.C
		}
		if e.temporal {
			// Views with temporal filters change as time passes, also
			// while the source is idle.
			t := time.NewTicker(cfg.Tick)
			defer t.Stop()
			timeTick = t.C
		}
		notify := func() {
			select {
			case synced <- struct{}{}:
			default:
			}
		}
		// nextPart waits for the next part of a transaction that arrives
		// in parts.
		nextPart := func() (cdc.Txn, error) {
			select {
			case t, ok := <-txns:
				if !ok {
					// The stream stopped; its own error (a lost
					// connection, retried) is the one Run sees.
					<-gctx.Done()
					return cdc.Txn{}, gctx.Err()
				}
				queue.release(t.bytes)
				return t.Txn, nil
			case <-gctx.Done():
				return cdc.Txn{}, gctx.Err()
			}
		}
		// committed finishes a step whose last source transaction is last
		// and that every sink committed: checkpoint (then acknowledge once
		// synced) or acknowledge, and report.
		committed := func(last cdc.Txn, infos []StepInfo) error {
			r.progressed = true
			e.lastEnd = last.EndLSN
			if r.store != nil {
				crashPoint("sink-committed")
				if err := e.checkpoint(fp, slot, last.CommitLSN, last.EndLSN, false); err != nil {
					return err
				}
				crashPoint("checkpoint-written")
				notify()
			} else {
				src.Ack(last.EndLSN)
			}
			for _, info := range infos {
				e.record(st, info)
				if cfg.OnStep != nil {
					cfg.OnStep(info)
				}
			}
			return nil
		}
		for {
			var t queuedTxn
			select {
			case qt, ok := <-txns:
				if !ok {
					return nil
				}
				queue.release(qt.bytes)
				t = qt
			case <-idleTick:
				// An idle or filtered-out source: record the position the
				// stream can confirm, so the slot releases WAL once synced.
				if idle := src.IdlePosition(); idle > e.lastEnd {
					if err := e.checkpoint(fp, slot, e.lastLSN, idle, false); err != nil {
						return err
					}
					e.lastEnd = idle
					notify()
				}
				continue
			case <-timeTick:
				info, changed, err := e.tick(gctx, fp, slot)
				if err != nil {
					return err
				}
				if changed && r.store != nil {
					notify()
				}
				e.record(st, info)
				if changed && cfg.OnStep != nil {
					cfg.OnStep(info)
				}
				continue
			}
			txn := t.Txn
			if txn.CommitLSN <= e.lastLSN {
				// Already in the state (resent after a restart from a
				// checkpoint that was written but not yet acknowledged).
				for txn.More {
					part, err := nextPart()
					if err != nil {
						return err
					}
					if part.CommitLSN != txn.CommitLSN || part.Part != txn.Part+1 {
						return fmt.Errorf("transaction at %s: part %d followed by a part %d of the transaction at %s",
							txn.CommitLSN, txn.Part, part.Part, part.CommitLSN)
					}
					txn = part
				}
				if r.store == nil {
					src.Ack(txn.EndLSN)
				}
				continue
			}
			var parted *cdc.Txn
			if txn.Parted() {
				parted = &txn
			} else {
				// Transactions already queued join the group: in grouped
				// mode they share one sink transaction, in strict mode they
				// stay one sink transaction each but are sent to the sinks
				// together (see applyGroup). Nothing waits for more. A large
				// transaction's parts never join a group.
				group = append(group[:0], txn)
				limit, held := cfg.GroupTxns, t.bytes
				if limit <= 1 {
					limit = strictBatchTxns
				}
				for len(group) < limit && held < cfg.QueueBytes {
					next, n, ok := tryRecv(queue, txns)
					if !ok {
						break
					}
					if next.Parted() {
						parted = &next // applied alone, after the group
						break
					}
					group = append(group, next)
					held += n
				}
				infos, err := e.applyGroup(gctx, group)
				if err != nil {
					return err
				}
				if err := committed(group[len(group)-1], infos); err != nil {
					return err
				}
			}
			if parted != nil {
				info, last, err := e.applyParts(gctx, *parted, nextPart)
				if err != nil {
					return err
				}
				e.log.Info("large transaction applied in parts", "lsn", last.CommitLSN.String(), "parts", last.Part+1, "changes", info.Changes)
				if err := committed(last, []StepInfo{info}); err != nil {
					return err
				}
			}
		}
	})
	if r.store != nil {
		g.Go(func() error { return r.syncLoop(gctx, src, synced) })
	}
	g.Go(func() error {
		return pollLag(gctx, src, st, cfg.Metrics, cfg.LagInterval, cfg.Logger)
	})
	return g.Wait()
}

// syncLoop makes written checkpoints durable, at most every
// Config.SyncInterval, and only then acknowledges them to the source (I4).
func (r *run) syncLoop(ctx context.Context, src *cdc.Source, pending <-chan struct{}) error {
	var disk int64
	var diskAt time.Time // the store's size is read every diskSizeInterval, not per sync
	for {
		select {
		case <-ctx.Done():
			// Make what was applied durable so a clean stop does not
			// replay it.
			if lsn, err := r.store.Sync(); err == nil {
				src.Ack(lsn)
			}
			return nil
		case <-pending:
		}
		lsn, err := r.store.Sync()
		if err != nil {
			return err
		}
		crashPoint("synced")
		src.Ack(lsn)
		if now := time.Now(); now.Sub(diskAt) >= diskSizeInterval {
			disk, diskAt = r.store.DiskSize(), now
		}
		r.cfg.Status.synced(lsn, disk)
		select {
		case <-ctx.Done():
		case <-time.After(r.cfg.SyncInterval):
		}
	}
}

// diskSizeInterval is how often the state's size on disk is read for
// /status.
const diskSizeInterval = 5 * time.Second

// idleCheckpointInterval is how often an idle source's confirmable
// position is checkpointed.
const idleCheckpointInterval = time.Second

// strictBatchTxns bounds how many queued source transactions strict mode
// steps and sends to the sinks together (each still its own sink
// transaction).
const strictBatchTxns = 64

// tryRecv takes a transaction from q if one is queued, with the bytes it
// held there.
func tryRecv(q *byteQueue, c <-chan queuedTxn) (cdc.Txn, int64, bool) {
	select {
	case t, ok := <-c:
		if ok {
			q.release(t.bytes)
		}
		return t.Txn, t.bytes, ok
	default:
		return cdc.Txn{}, 0, false
	}
}

// fingerprint identifies what the state was built for: the views, the
// columns and keys of the tables, which sink holds which view, and the slot.
// State built for anything else is not reused.
func fingerprint(e *engine, slot string) string {
	h := sha256.New()
	fmt.Fprintf(h, "v%d\x00%s\x00", state.FormatVersion, slot)
	for _, v := range e.plan.Views {
		fmt.Fprintf(h, "view\x00%s\x00%s\x00", v.Def.Name, v.Def.SQL)
	}
	for _, t := range e.plan.Tables {
		fmt.Fprintf(h, "table\x00%s\x00%v\x00", t.Name, t.Key)
		for _, c := range t.Columns {
			fmt.Fprintf(h, "%s\x00%d\x00%d\x00", c.Name, c.Type.OID, c.Type.Mod)
		}
	}
	var sinks []string
	for _, t := range e.targets {
		names := make([]string, len(t.Views))
		for i, v := range t.Views {
			names[i] = v.String()
		}
		sort.Strings(names)
		sinks = append(sinks, fmt.Sprintf("%s=%v", t.Sink.Name(), names))
	}
	sort.Strings(sinks)
	fmt.Fprintf(h, "sinks\x00%v", sinks)
	return hex.EncodeToString(h.Sum(nil))
}
