package sink

import (
	"context"
	"fmt"
	"time"
)

// BeginParts implements PartsApplier: BEGIN and the progress record in one
// round trip, then one pipelined batch per Write (plus a COPY per large
// insertion), then COMMIT.
func (p *Postgres) BeginParts(ctx context.Context, step Step) (Parts, error) {
	if p.conn == nil {
		return nil, fmt.Errorf("sink %s: apply: sink is not open", p.cfg.Name)
	}
	if err := p.prepareBookkeeping(ctx); err != nil {
		return nil, err
	}
	step.Deltas = nil
	b := &stepBatch{}
	ct, tick := progressParams(&step)
	b.prepared(beginStmtName, nil)
	b.prepared(progressStmtName, [][]byte{[]byte(p.pipeline), []byte(step.LSN.String()), ct, tick})
	pp := &pgParts{p: p, step: step}
	results, err := p.conn.PgConn().ExecBatch(ctx, &b.Batch).ReadAll()
	if err == nil && len(results) == 2 {
		return pp, nil
	}
	pp.Abort()
	if err != nil && isProgressAtOrPast(err) {
		p.log.Debug("step already applied; skipped", "lsn", step.LSN)
		return nil, nil
	}
	if err == nil {
		err = fmt.Errorf("%d results", len(results))
	}
	return nil, fmt.Errorf("sink %s: apply step %s: begin: %w", p.cfg.Name, step.LSN, err)
}

type pgParts struct {
	p    *Postgres
	step Step
	done bool
}

func (pp *pgParts) Write(ctx context.Context, deltas []Delta) error {
	p := pp.p
	step := pp.step
	step.Deltas = deltas
	for _, d := range deltas {
		v, ok := p.views[d.View]
		if !ok || !v.ready {
			return fmt.Errorf("sink %s: apply step %s: view %s is not a loaded view of the sink", p.cfg.Name, step.LSN, d.View)
		}
		if err := checkDelta(p.cfg.Name, v.View, d); err != nil {
			return fmt.Errorf("apply step %s: %w", step.LSN, err)
		}
	}
	b := &stepBatch{}
	checks, copies, err := p.queueDeltas(ctx, &step, b)
	if err != nil {
		return err
	}
	if b.stmts > 0 {
		// The batch holds the checks' statements only: index i is check i
		// (q.first = -2 skips BEGIN and the progress record).
		q := &queuedStep{step: &step, first: -2, checks: checks}
		results, berr := p.conn.PgConn().ExecBatch(ctx, &b.Batch).ReadAll()
		if berr != nil {
			failed := len(results)
			if n := len(results); n > 0 && results[n-1].Err != nil {
				failed = n - 1
			}
			return p.stepError(q, failed, berr)
		}
	}
	for _, d := range copies {
		if _, err := p.copyRows(ctx, p.views[d.View], d.Rows); err != nil {
			return fmt.Errorf("sink %s: apply step %s to view %s: %w", p.cfg.Name, step.LSN, d.View, err)
		}
	}
	return nil
}

func (pp *pgParts) Commit(ctx context.Context) error {
	results, err := pp.p.conn.PgConn().Exec(ctx, "COMMIT").ReadAll()
	pp.done = err == nil
	if err != nil {
		pp.Abort()
		return fmt.Errorf("sink %s: apply step %s: commit: %w", pp.p.cfg.Name, pp.step.LSN, err)
	}
	if len(results) != 1 {
		return fmt.Errorf("sink %s: apply step %s: commit returned %d results", pp.p.cfg.Name, pp.step.LSN, len(results))
	}
	return pp.p.checkCommitted(&pp.step, results[0].CommandTag)
}

func (pp *pgParts) Abort() {
	if pp.done {
		return
	}
	pp.done = true
	pc := pp.p.conn.PgConn()
	if pc.TxStatus() != 'I' && !pc.IsClosed() {
		rctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, _ = pc.Exec(rctx, "ROLLBACK").ReadAll()
	}
}
