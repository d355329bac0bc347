package pipeline

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/rippledb/ripple/cdc"
	"github.com/rippledb/ripple/dataflow"
	"github.com/rippledb/ripple/internal/metrics"
	"github.com/rippledb/ripple/internal/row"
	"github.com/rippledb/ripple/internal/state"
	"github.com/rippledb/ripple/sink"
)

// snapshotChunk is the size at which the initial load's rows are written to
// the state store (they become a state only with the final checkpoint).
const snapshotChunk = 8 << 20

// step runs one source transaction through the table arrangements and the
// graph and returns the views' changes.
func (e *engine) step(txn cdc.Txn) (map[string]dataflow.Batch, StepInfo, error) {
	return e.stepAt(txn, e.advance())
}

// stepAt is step at logical time now (the parts of one transaction share
// one time).
func (e *engine) stepAt(txn cdc.Txn, now dataflow.Time) (map[string]dataflow.Batch, StepInfo, error) {
	info := StepInfo{LSN: txn.CommitLSN, CommitTime: txn.CommitTime, Changes: len(txn.Changes), ViewRows: map[string]int{},
		Received: txn.Received}
	if e.temporal {
		info.Time = now.Go()
	}
	start := time.Now()
	inputs := map[row.TableName]dataflow.Batch{}
	for _, c := range txn.Changes {
		ts, ok := e.tables[c.Rel.Name]
		if !ok {
			continue // a table no view reads (publication changed under us)
		}
		a, err := e.adapter(c.Rel)
		if err != nil {
			return nil, info, err
		}
		c = a.adaptChange(c)
		inputs[c.Rel.Name], err = ts.apply(c, inputs[c.Rel.Name])
		if err != nil {
			return nil, info, fmt.Errorf("transaction at %s: %w", txn.CommitLSN, err)
		}
	}
	out, err := e.graphStep(now, inputs)
	e.now = now
	var se *dataflow.StepError
	if (txn.More || txn.Parted() && e.partsStreamed) && errors.As(err, &se) {
		// A view failed on the state after a part, which no commit ever
		// had (an aggregate's sum may pass through 0 on the way), or on
		// the last part while a sink holds its earlier parts: the
		// transaction is applied again, whole, before any view is failed.
		return nil, info, &wholeTxnError{lsn: txn.CommitLSN, part: txn.Part, err: se}
	}
	if err = e.isolate(err, txn.CommitLSN); err != nil {
		return nil, info, fmt.Errorf("transaction at %s: %w", txn.CommitLSN, err)
	}
	e.countOutput(out, &info)
	info.Engine = time.Since(start)
	return out, info, nil
}

// countOutput drops the failed views' changes from out and counts the
// rest in info and the views' sizes.
func (e *engine) countOutput(out map[string]dataflow.Batch, info *StepInfo) {
	for name := range e.failed {
		delete(out, name)
	}
	for name, b := range out {
		_, isView := e.viewRows[name]
		for _, u := range b {
			if isView {
				e.viewRows[name] += int64(u.W)
			}
			w := int(u.W)
			if w < 0 {
				w = -w
			}
			info.ViewRows[name] += w
		}
	}
}

// tick steps the graph at the current time with no source transaction
// (views with temporal filters change as time passes) and commits the
// changes, if any, to the sinks at their current progress LSN. With a
// state, a checkpoint marking the tick as pending is synced before the
// first sink commit and cleared after the last, so a crash in between
// is detected on resume (see reload). It returns false when
// nothing changed.
func (e *engine) tick(ctx context.Context, fp, slot string) (StepInfo, bool, error) {
	now := e.advance()
	info := StepInfo{LSN: e.lastLSN, CommitTime: e.lastCommit, Time: now.Go(), Tick: true, ViewRows: map[string]int{}}
	out, err := e.graphStep(now, nil)
	e.now = now
	if err = e.isolate(err, e.lastLSN); err != nil {
		return info, false, fmt.Errorf("tick at %s: %w", now, err)
	}
	e.countOutput(out, &info)
	if len(out) == 0 {
		return info, false, nil
	}
	if e.store != nil {
		e.tickPending = true
		if err := e.checkpoint(fp, slot, e.lastLSN, e.lastEnd, true); err != nil {
			return info, false, err
		}
	}
	for _, t := range e.targets {
		name := t.Sink.Name()
		step := sink.Step{LSN: e.lastLSN, CommitTime: e.lastCommit, Tick: true}
		for _, v := range t.Views {
			if b, ok := out[v.String()]; ok {
				step.Deltas = append(step.Deltas, sink.Delta{View: v, Rows: b})
			}
		}
		if len(step.Deltas) == 0 || e.sinkLSN[name] > e.lastLSN {
			continue // a sink ahead of the state holds no view with temporal filters (reload)
		}
		start := time.Now()
		if err := t.Sink.Apply(ctx, step); err != nil {
			return info, false, fmt.Errorf("apply tick at %s to sink %s: %w", now, name, err)
		}
		e.sinkLSN[name] = e.lastLSN
		e.metrics.SinkCommit(name, time.Since(start))
	}
	if e.store != nil {
		e.tickPending = false
		if err := e.checkpoint(fp, slot, e.lastLSN, e.lastEnd, false); err != nil {
			return info, false, err
		}
	}
	return info, true, nil
}

// applyGroup runs whole, consecutive source transactions through the graph
// and commits their changes to every sink. In grouped mode (groupTxns > 1)
// the group becomes one sink transaction per sink. In strict mode each
// source transaction stays its own sink transaction (I2), but the group's
// transactions are handed to a sink that can pipeline them
// (sink.StepsApplier) together, so that a backlog costs a round trip per
// group instead of one or more per transaction. A transaction at or below
// a sink's progress is not applied to it again (I3): it was committed there
// before a restart.
func (e *engine) applyGroup(ctx context.Context, group []cdc.Txn) ([]StepInfo, error) {
	outs := make([]map[string]dataflow.Batch, len(group))
	infos := make([]StepInfo, len(group))
	for i, txn := range group {
		out, info, err := e.step(txn)
		if err != nil {
			return nil, err
		}
		outs[i], infos[i] = out, info
		e.lastLSN, e.lastCommit = txn.CommitLSN, txn.CommitTime
		// The decoded changes are in the table copies and the graph now;
		// let a large transaction's go before the sinks are written.
		group[i].Changes = nil
	}
	for _, t := range e.targets {
		name := t.Sink.Name()
		var steps []sink.Step
		if e.groupTxns > 1 {
			steps = e.groupedStep(t, group, outs)
		} else {
			steps = e.strictSteps(t, group, outs)
		}
		if len(steps) == 0 {
			continue // nothing of this sink changed; its contents are already those at this LSN
		}
		start := time.Now()
		n, err := applySteps(ctx, t.Sink, steps)
		if n > 0 {
			e.sinkLSN[name] = steps[n-1].LSN
		}
		if err != nil {
			at := steps[len(steps)-1].LSN
			if n < len(steps) {
				at = steps[n].LSN
			}
			return nil, fmt.Errorf("apply transaction at %s to sink %s: %w", at, name, err)
		}
		took := time.Since(start)
		e.metrics.SinkCommits(name, took, n) // each step is its own sink transaction
		for i := range infos {
			infos[i].Sink += took
		}
	}
	return infos, nil
}

// groupedStep is the one sink step of a group for target t: the
// consolidated changes of its transactions above the sink's progress, at
// the group's last LSN; none when nothing of t changed.
func (e *engine) groupedStep(t Target, group []cdc.Txn, outs []map[string]dataflow.Batch) []sink.Step {
	name := t.Sink.Name()
	last := group[len(group)-1]
	if last.CommitLSN <= e.sinkLSN[name] {
		return nil
	}
	step := sink.Step{LSN: last.CommitLSN, CommitTime: last.CommitTime}
	for _, v := range t.Views {
		var rows []row.Update
		n := 0
		for i, txn := range group {
			if txn.CommitLSN <= e.sinkLSN[name] {
				continue
			}
			if b, ok := outs[i][v.String()]; ok {
				rows = append(rows, b...)
				n++
			}
		}
		if n > 1 {
			rows = row.Consolidate(rows)
		}
		if n > 0 {
			step.Deltas = append(step.Deltas, sink.Delta{View: v, Rows: rows})
		}
	}
	if len(step.Deltas) == 0 {
		return nil
	}
	return []sink.Step{step}
}

// strictSteps are the sink steps of a group for target t in strict mode:
// one per transaction above the sink's progress that changed one of t's
// views.
func (e *engine) strictSteps(t Target, group []cdc.Txn, outs []map[string]dataflow.Batch) []sink.Step {
	name := t.Sink.Name()
	var steps []sink.Step
	for i, txn := range group {
		if txn.CommitLSN <= e.sinkLSN[name] {
			continue
		}
		step := sink.Step{LSN: txn.CommitLSN, CommitTime: txn.CommitTime}
		for _, v := range t.Views {
			if b, ok := outs[i][v.String()]; ok {
				step.Deltas = append(step.Deltas, sink.Delta{View: v, Rows: b})
			}
		}
		if len(step.Deltas) > 0 {
			steps = append(steps, step)
		}
	}
	return steps
}

// applySteps commits steps to s in order, each its own sink transaction,
// pipelined when s can, and returns how many leading steps are committed.
func applySteps(ctx context.Context, s sink.Sink, steps []sink.Step) (int, error) {
	if sa, ok := s.(sink.StepsApplier); ok && len(steps) > 1 {
		return sa.ApplySteps(ctx, steps)
	}
	for i, st := range steps {
		if err := s.Apply(ctx, st); err != nil {
			return i, err
		}
	}
	return len(steps), nil
}

// checkpoint writes the rows the transactions since the last checkpoint
// changed (or, after the initial load, the rest of the snapshot's rows)
// and the checkpoint record at lsn in one atomic batch.
func (e *engine) checkpoint(fp, slot string, lsn, end row.LSN, sync bool) error {
	w := e.writer
	e.writer = nil
	if w == nil {
		w = e.store.NewWriter()
	}
	var rows int64
	for _, ts := range e.tables {
		if err := ts.flushDirty(w); err != nil {
			w.Abort()
			return err
		}
		rows += ts.count
	}
	sinks := make(map[string]row.LSN, len(e.sinkLSN))
	for k, v := range e.sinkLSN {
		sinks[k] = v
	}
	cp := &state.Checkpoint{Fingerprint: fp, Slot: slot, LSN: lsn, EndLSN: end, Sinks: sinks, Rows: rows, FailedViews: e.failed,
		Now: int64(e.now), TickPending: e.tickPending}
	if err := w.Commit(cp, sync); err != nil {
		return fmt.Errorf("checkpoint at %s: %w", lsn, err)
	}
	e.staged = 0
	e.spillOver()
	return nil
}

// restore reads the tables back from the state and pushes them through the
// graph, which rebuilds every operator's state as of the checkpoint; the
// graph's output is the views' contents there, which the sinks hold already.
func (e *engine) restore(store *state.Store, cp *state.Checkpoint) error {
	e.store = store
	for name, f := range cp.FailedViews {
		if e.rebuild[name] {
			continue // `ripple resync --view`: computed again from the state
		}
		e.failed[name] = f
		if e.status != nil {
			e.status.viewFailed(name, f.Error, f.LSN)
		}
	}
	// The graph is rebuilt at the checkpoint's logical time, where the
	// sinks are; the first tick brings it to the present. It is stepped
	// every loadChunk rows, so the stored tables are never held whole as
	// rows; the views' contents are kept only for reload.
	e.now = dataflow.Time(cp.Now)
	var gathered *gatherer
	// Only the views of sinks reload may load again are gathered: those
	// holding a view being rebuilt or one with temporal filters.
	keep := map[string]bool{}
	for _, t := range e.targets {
		need := false
		for _, v := range t.Views {
			need = need || e.rebuild[v.String()] || e.plan.Graph.TemporalOutput(v.String())
		}
		for _, v := range t.Views {
			if need {
				keep[v.String()] = true
			}
		}
	}
	// e.restored from the start, so that graphStep counts what it holds
	// in operator_memory; restore's errors end the run, and the spill
	// store is emptied at the next start.
	e.restored = nil
	if len(keep) > 0 {
		gathered = newGatherer().spillTo(e.spill, e.loadMemory)
		e.restored = gathered
	}
	counts := map[string]int64{}
	inputs := map[row.TableName]dataflow.Batch{}
	pending := 0
	stepChunk := func() error {
		out, err := e.graphStep(e.now, inputs)
		inputs, pending = map[row.TableName]dataflow.Batch{}, 0
		if err = e.isolate(err, cp.LSN); err != nil {
			return fmt.Errorf("resume from %s: rebuilding the views' state: %w", store.Dir(), err)
		}
		for name, b := range out {
			for _, u := range b {
				counts[name] += int64(u.W)
			}
		}
		if gathered != nil {
			for name := range out {
				if !keep[name] {
					delete(out, name)
				}
			}
			if err := gathered.add(out); err != nil {
				return fmt.Errorf("resume from %s: %w", store.Dir(), err)
			}
		}
		return nil
	}
	// The store holds every row: with table_memory 0 the tables go
	// to disk before they are read; otherwise once they outgrow it.
	// The budget is checked every 4096 stored entries, counted apart
	// from snapshotRows: a keyless table's entries carry multiplicities,
	// which would step snapshotRows over the checks.
	e.spillOver()
	scanned := 0
	for _, t := range e.plan.Tables {
		ts := e.tables[t.Name]
		err := store.Scan(ts.id, func(key string, r row.Row, n int64) error {
			if len(r) != len(e.schemas[t.Name]) {
				return fmt.Errorf("state of table %s: a row has %d columns, the table %d", t.Name, len(r), len(e.schemas[t.Name]))
			}
			ts.restore(key, r, row.Weight(n))
			if scanned++; scanned%4096 == 0 {
				e.spillOver()
			}
			inputs[t.Name] = append(inputs[t.Name], row.Update{Row: r, W: row.Weight(n)})
			e.snapshotRows += int(n)
			if pending++; pending >= loadChunk {
				return stepChunk()
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("resume from %s: %w", store.Dir(), err)
		}
		ts.track = true
	}
	if err := stepChunk(); err != nil { // also primes an empty graph
		return err
	}
	if gathered != nil {
		if err := gathered.finish(e.failed); err != nil {
			return fmt.Errorf("resume from %s: %w", store.Dir(), err)
		}
		if len(gathered.disk) > 0 {
			e.log.Info("resume: the rows of the views to load again were gathered on disk: they exceed what the arrangements leave of operator_memory",
				"rows", gathered.moved, "operator_memory", e.operatorMemory)
		}
	}
	for name := range e.views {
		e.viewRows[name.String()] = counts[name.String()]
	}
	e.lastLSN = cp.LSN
	return nil
}

// reload loads again, from the state just restored, every sink that
// holds a view being rebuilt (e.rebuild, `ripple resync --view`) and
// every sink holding a view with temporal filters that may hold changes
// the checkpoint does not account for: a tick the checkpoint marks
// pending, or transactions committed to the sink after the checkpoint
// (their steps' logical times are not recorded, so replaying them would
// not reproduce what the sink holds). Each sink is loaded in one
// transaction; its progress goes back to the checkpoint's LSN and the
// transactions after it are applied again. After a rebuild a checkpoint
// records that its views no longer fail.
func (e *engine) reload(ctx context.Context, cp *state.Checkpoint, fp, slot string) (err error) {
	g := e.restored
	e.restored = nil
	if g != nil {
		defer func() {
			if derr := g.drop(); derr != nil && err == nil {
				err = fmt.Errorf("reload: %w", derr)
			}
		}()
	}
	if !e.temporal && len(e.rebuild) == 0 {
		return nil
	}
	counted := map[string]bool{} // restore counted the views' rows
	for name := range e.views {
		counted[name.String()] = true
	}
	if g != nil { // as in load: the views in memory before any sink loads
		if err := g.checkWeights(); err != nil {
			return fmt.Errorf("reload: %w", err)
		}
	}
	var rebuilt []string
	for _, t := range e.targets {
		for _, v := range t.Views {
			if !e.rebuild[v.String()] {
				continue
			}
			if f, ok := e.failed[v.String()]; ok {
				return fmt.Errorf("resync view %s: it still fails on ripple's copy of the source tables (as of its checkpoint at %s): %s; its sink %s keeps its contents. Fix the data, let `ripple run` bring the fix into ripple's state (the view stays failed meanwhile), then resync the view again",
					v, cp.LSN, f.Error, t.Sink.Name())
			}
		}
	}
	for _, t := range e.targets {
		name := t.Sink.Name()
		temporal, rebuild := false, false
		for _, v := range t.Views {
			temporal = temporal || e.plan.Graph.TemporalOutput(v.String())
			rebuild = rebuild || e.rebuild[v.String()]
		}
		if !rebuild && (!temporal || !cp.TickPending && e.sinkLSN[name] <= cp.Sinks[name]) {
			continue
		}
		if rebuild {
			e.log.Info("rebuilding a sink's views from ripple's state", "sink", name, "views", len(t.Views), "checkpoint_lsn", cp.LSN, "sink_lsn", e.sinkLSN[name])
		} else {
			e.log.Warn("a sink may hold changes of views with temporal filters that ripple's checkpoint does not record (ripple stopped while committing); loading it again from the state",
				"sink", name, "sink_lsn", e.sinkLSN[name], "checkpoint_lsn", cp.LSN, "tick_pending", cp.TickPending)
		}
		if err := e.loadSink(ctx, t, cp.LSN, g, counted); err != nil {
			return fmt.Errorf("reload sink %s: %w", name, err)
		}
		e.sinkLSN[name] = cp.LSN
		if rebuild {
			for _, v := range t.Views {
				rebuilt = append(rebuilt, v.String())
			}
		}
	}
	if len(rebuilt) == 0 {
		return nil
	}
	if err := e.checkpoint(fp, slot, cp.LSN, cp.EndLSN, true); err != nil {
		return err
	}
	e.log.Info("views rebuilt", "views", strings.Join(rebuilt, ", "), "lsn", cp.LSN)
	e.rebuild = nil
	return nil
}

// isolate handles the views a graph step failed (a runtime error such as a
// division by zero): each is stopped for good — its sink tables keep their
// last good contents, its status says why — and the other views go on. It
// returns any other error, which is terminal.
func (e *engine) isolate(err error, lsn row.LSN) error {
	var se *dataflow.StepError
	if !errors.As(err, &se) {
		return err
	}
	for _, v := range se.Views {
		if _, done := e.failed[v.View]; done {
			continue
		}
		f := state.FailedView{Error: v.Err.Error(), LSN: lsn}
		e.failed[v.View] = f
		if e.status != nil {
			e.status.viewFailed(v.View, f.Error, lsn)
		}
		e.metrics.Error(metrics.StageView)
		e.log.Error("view failed: its sink tables keep their contents from before this transaction and get no more changes; the other views go on. Fix the data, then run `ripple resync --view` with this view (or change the view and run `ripple resync`)",
			"view", v.View, "lsn", lsn, "err", v.Err)
	}
	return nil
}
