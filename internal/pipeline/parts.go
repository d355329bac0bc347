package pipeline

import (
	"context"
	"fmt"
	"time"

	"github.com/rippledb/ripple/cdc"
	"github.com/rippledb/ripple/internal/row"
	"github.com/rippledb/ripple/sink"
)

// applyParts applies a source transaction that arrives in parts (a large
// one, see cdc.Txn): each part goes through the table copies and the graph
// as it comes, all at the transaction's one logical time, so the source's
// changes are never held whole in memory. A sink that takes a step in parts
// (sink.PartsApplier) gets each part's changes in the transaction's one
// open sink transaction as they come; for the others they are gathered
// (and consolidated as they grow) and applied once the last part is in.
// Either way a sink commits the whole transaction or nothing of it (I2).
//
// A runtime error on a part other than the last is on a state no commit
// had, so it fails no view: stepAt returns a *wholeTxnError and Run starts
// over from the checkpoint with the transaction delivered whole. So does
// any view error while a sink takes parts (its earlier parts are written),
// and a sink's error writing a part (a state between parts may break a
// view's key). Otherwise a view that fails on the last part gets none of
// the transaction. next returns the following part. applyParts returns
// the transaction's step and its last part (which has the EndLSN).
func (e *engine) applyParts(ctx context.Context, first cdc.Txn, next func() (cdc.Txn, error)) (info StepInfo, last cdc.Txn, err error) {
	now := e.advance()
	total := StepInfo{LSN: first.CommitLSN, CommitTime: first.CommitTime, ViewRows: map[string]int{}}
	if e.temporal {
		total.Time = now.Go()
	}
	step := sink.Step{LSN: first.CommitLSN, CommitTime: first.CommitTime}
	open := map[string]sink.Parts{} // by sink name
	var gather []Target
	defer func() {
		e.partsStreamed = false
		for _, p := range open {
			p.Abort() // not committed: nothing of the transaction stays
		}
	}()
	for _, t := range e.targets {
		name := t.Sink.Name()
		if first.CommitLSN <= e.sinkLSN[name] {
			continue // committed there before a restart (I3)
		}
		pa, ok := t.Sink.(sink.PartsApplier)
		if !ok {
			gather = append(gather, t)
			continue
		}
		p, err := pa.BeginParts(ctx, step)
		if err != nil {
			return total, first, fmt.Errorf("apply transaction at %s to sink %s: %w", first.CommitLSN, name, err)
		}
		if p != nil {
			open[name] = p
		}
	}
	e.partsStreamed = len(open) > 0
	gathered := newGatherer()
	part := first
	for {
		out, info, err := e.stepAt(part, now)
		if err != nil {
			return total, part, err
		}
		total.Changes += info.Changes
		total.Engine += info.Engine
		total.Received = info.Received
		for name, n := range info.ViewRows {
			total.ViewRows[name] += n
		}
		for _, t := range e.targets {
			p, ok := open[t.Sink.Name()]
			if !ok {
				continue
			}
			var deltas []sink.Delta
			for _, v := range t.Views {
				if b := out[v.String()]; len(b) > 0 {
					deltas = append(deltas, sink.Delta{View: v, Rows: []row.Update(b)})
				}
			}
			if len(deltas) == 0 {
				continue
			}
			if err := p.Write(ctx, deltas); err != nil {
				return total, part, &wholeTxnError{lsn: first.CommitLSN, part: part.Part,
					err: fmt.Errorf("sink %s: %w", t.Sink.Name(), err)}
			}
		}
		if len(gather) > 0 {
			if err := gathered.add(out); err != nil { // in memory: cannot fail
				return total, part, err
			}
		}
		crashPoint("part")
		if !part.More {
			break
		}
		if err := e.stageOver(); err != nil {
			return total, part, err
		}
		following, err := next()
		if err != nil {
			return total, part, fmt.Errorf("transaction at %s, part %d: %w", first.CommitLSN, part.Part+1, err)
		}
		if following.CommitLSN != first.CommitLSN || following.Part != part.Part+1 {
			return total, part, fmt.Errorf("transaction at %s: part %d followed by a part %d of the transaction at %s",
				first.CommitLSN, part.Part, following.Part, following.CommitLSN)
		}
		part = following
	}
	e.lastLSN, e.lastCommit = part.CommitLSN, part.CommitTime
	for _, t := range e.targets {
		name := t.Sink.Name()
		p, ok := open[name]
		if !ok {
			continue
		}
		start := time.Now()
		delete(open, name)
		if err := p.Commit(ctx); err != nil {
			return total, part, fmt.Errorf("apply transaction at %s to sink %s: %w", part.CommitLSN, name, err)
		}
		e.sinkLSN[name] = part.CommitLSN
		e.metrics.SinkCommit(name, time.Since(start))
	}
	// A view failed on the last part gets none of the transaction.
	views := gathered.result(e.failed)
	for _, t := range gather {
		name := t.Sink.Name()
		step := sink.Step{LSN: part.CommitLSN, CommitTime: part.CommitTime}
		for _, v := range t.Views {
			if b := views[v.String()]; len(b) > 0 {
				step.Deltas = append(step.Deltas, sink.Delta{View: v, Rows: []row.Update(b)})
			}
		}
		if len(step.Deltas) == 0 {
			continue
		}
		start := time.Now()
		if err := t.Sink.Apply(ctx, step); err != nil {
			return total, part, fmt.Errorf("apply transaction at %s to sink %s: %w", part.CommitLSN, name, err)
		}
		e.sinkLSN[name] = part.CommitLSN
		e.metrics.SinkCommit(name, time.Since(start))
	}
	return total, part, nil
}

// wholeTxnError is a view's runtime error on a part of a large transaction
// other than the last: Run starts over from the checkpoint and has the
// source deliver that transaction whole (cdc.Config.Whole).
type wholeTxnError struct {
	lsn  row.LSN
	part int
	err  error
}

func (e *wholeTxnError) Error() string {
	return fmt.Sprintf("transaction at %s: a view failed after part %d, on a state no commit had: %v", e.lsn, e.part, e.err)
}

func (e *wholeTxnError) Unwrap() error { return e.err }
