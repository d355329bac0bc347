package sink

import (
	"context"
	"fmt"
	"time"

	"github.com/rippledb/ripple/internal/row"
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

// BeginLoad implements PartsLoader. The ownership of every table is checked
// before any DDL, which cannot be rolled back; tables whose shape changed
// are then created anew (registered as not loaded first, so that a crash
// leaves tables that need a Load), the data transaction begins, and every
// view's old rows are deleted in it (DELETE, not TRUNCATE: TRUNCATE is DDL
// and would commit; readers see the old rows until the commit, by MVCC).
// Each Write checks its rows and inserts them; Commit registers the views
// as loaded, records the progress and commits. Load checks all the rows
// before it begins; a load in parts can only check each part's as it
// comes, so a refused part leaves the re-created tables empty (and still
// registered as not loaded) where Load would have left the old ones.
func (m *MySQL) BeginLoad(ctx context.Context, lsn row.LSN) (LoadParts, error) {
	if m.conn == nil {
		return nil, fmt.Errorf("sink %s: load: sink is not open", m.cfg.Name)
	}
	states := make([]myTableState, len(m.order))
	for i, v := range m.order {
		st, err := m.tableState(ctx, v.Name)
		if err != nil {
			return nil, err
		}
		if err := m.checkOwned(v, st); err != nil {
			return nil, err
		}
		states[i] = st
	}
	for i, v := range m.order {
		if err := m.prepareTable(ctx, v, states[i]); err != nil {
			return nil, err
		}
	}
	if err := m.begin(ctx); err != nil {
		return nil, fmt.Errorf("sink %s: load: begin: %w", m.cfg.Name, err)
	}
	ml := &myLoad{m: m, lsn: lsn, rows: map[*myView]int64{}}
	for _, v := range m.order {
		if _, err := m.conn.ExecContext(ctx, "DELETE FROM "+v.table); err != nil {
			ml.Abort()
			return nil, fmt.Errorf("sink %s: load view %s: delete old rows: %w", m.cfg.Name, v.Name, err)
		}
	}
	return ml, nil
}

// myLoad is one open load of a MySQL sink.
type myLoad struct {
	m       *MySQL
	lsn     row.LSN
	rows    map[*myView]int64
	checked bool // Load checked every row before it began
	done    bool
}

// Write checks and inserts rows of view. After an error the load is over:
// it is rolled back at once, and a later Commit fails.
func (ml *myLoad) Write(ctx context.Context, view row.TableName, rows []row.Update) error {
	err := ml.write(ctx, view, rows)
	if err != nil {
		ml.Abort()
	}
	return err
}

func (ml *myLoad) write(ctx context.Context, view row.TableName, rows []row.Update) error {
	m := ml.m
	if ml.done {
		return fmt.Errorf("sink %s: load at %s: write after the end of the load", m.cfg.Name, ml.lsn)
	}
	v, ok := m.views[view]
	if !ok {
		return fmt.Errorf("sink %s: load: view %s is not one of the sink's views", m.cfg.Name, view)
	}
	if !ml.checked {
		if err := checkLoadRows(m.cfg.Name, v.View, rows); err != nil {
			return err
		}
		if err := m.checkRows("load", v, rows); err != nil {
			return err
		}
	}
	n, err := m.insertRows(ctx, v, rows)
	if err != nil {
		return fmt.Errorf("sink %s: load view %s: insert rows: %w", m.cfg.Name, v.Name, err)
	}
	ml.rows[v] += n
	return nil
}

func (ml *myLoad) Commit(ctx context.Context) error {
	m := ml.m
	if ml.done {
		return fmt.Errorf("sink %s: load at %s: commit after the end of the load", m.cfg.Name, ml.lsn)
	}
	fail := func(err error) error {
		ml.Abort()
		return err
	}
	for _, v := range m.order {
		if err := m.register(ctx, v, true); err != nil {
			return fail(fmt.Errorf("sink %s: load view %s: register in ripple.views: %w", m.cfg.Name, v.Name, err))
		}
		m.log.Debug("view loaded", "view", v.Name.String(), "rows", ml.rows[v])
	}
	if err := m.writeProgress(ctx, ml.lsn, time.Time{}); err != nil {
		return fail(fmt.Errorf("load: %w", err))
	}
	if err := m.commit(ctx); err != nil {
		return fail(fmt.Errorf("sink %s: load at %s: commit: %w", m.cfg.Name, ml.lsn, err))
	}
	ml.done = true
	for _, v := range m.order {
		v.ready = true
	}
	m.log.Info("sink loaded", "views", len(m.order), "lsn", ml.lsn)
	return nil
}

func (ml *myLoad) Abort() {
	if ml.done {
		return
	}
	ml.done = true
	ml.m.rollback()
}
