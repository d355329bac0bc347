package sink

import (
	"context"
	"fmt"
)

// BeginParts implements PartsApplier: the step's transaction is opened and
// the progress row locked and read first, so that a step at or below the
// progress is skipped before anything is written (I3); each Write applies
// its deltas inside the transaction, and Commit records the progress and
// commits, all of it at once (I2). MariaDB holds the uncommitted rows, so
// ripple need not gather a large source transaction's view changes.
func (m *MySQL) BeginParts(ctx context.Context, step Step) (Parts, error) {
	if m.conn == nil {
		return nil, fmt.Errorf("sink %s: apply: sink is not open", m.cfg.Name)
	}
	if err := m.begin(ctx); err != nil {
		return nil, fmt.Errorf("sink %s: apply step %s: begin: %w", m.cfg.Name, step.LSN, err)
	}
	cur, ok, err := m.readProgress(ctx, true)
	if err != nil {
		m.rollback()
		return nil, fmt.Errorf("sink %s: apply step %s: %w", m.cfg.Name, step.LSN, err)
	}
	if ok && step.Applied(cur) {
		m.rollback()
		m.log.Debug("step already applied; skipped", "lsn", step.LSN, "progress", cur)
		return nil, nil
	}
	step.Deltas = nil
	return &myParts{m: m, step: step}, nil
}

type myParts struct {
	m    *MySQL
	step Step
	done bool
}

// Write applies one part. After an error the step is over: MariaDB keeps a
// transaction open past a failed statement (and after a deadlock has
// rolled it back itself), so it is rolled back at once and a later Commit
// fails rather than committing the parts before.
func (mp *myParts) Write(ctx context.Context, deltas []Delta) error {
	err := mp.write(ctx, deltas)
	if err != nil {
		mp.Abort()
	}
	return err
}

func (mp *myParts) write(ctx context.Context, deltas []Delta) error {
	m, lsn := mp.m, mp.step.LSN
	if mp.done {
		return fmt.Errorf("sink %s: apply step %s: write after the end of the step", m.cfg.Name, lsn)
	}
	if err := m.checkDeltas(lsn, deltas); err != nil {
		return err
	}
	for _, d := range deltas {
		if err := m.applyDelta(ctx, m.views[d.View], d); err != nil {
			return fmt.Errorf("sink %s: apply step %s to view %s: %w", m.cfg.Name, lsn, d.View, err)
		}
	}
	return nil
}

func (mp *myParts) Commit(ctx context.Context) error {
	m, lsn := mp.m, mp.step.LSN
	if mp.done {
		return fmt.Errorf("sink %s: apply step %s: commit after the end of the step", m.cfg.Name, lsn)
	}
	if err := m.writeProgress(ctx, lsn, mp.step.CommitTime); err != nil {
		mp.Abort()
		return fmt.Errorf("sink %s: apply step %s: %w", m.cfg.Name, lsn, err)
	}
	if err := m.commit(ctx); err != nil {
		mp.Abort()
		return fmt.Errorf("sink %s: apply step %s: commit: %w", m.cfg.Name, lsn, err)
	}
	mp.done = true
	return nil
}

func (mp *myParts) Abort() {
	if mp.done {
		return
	}
	mp.done = true
	mp.m.rollback()
}
