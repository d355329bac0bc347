package sink

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/rippledb/ripple/internal/row"
)

var _ StepsApplier = (*Postgres)(nil)

// Apply implements Sink.
func (p *Postgres) Apply(ctx context.Context, step Step) error {
	_, err := p.ApplySteps(ctx, []Step{step})
	return err
}

// ApplySteps implements StepsApplier: every step is its own sink
// transaction (BEGIN, the progress record, the step's statements, COMMIT),
// and the transactions of consecutive steps travel together in one
// pipelined batch that ends with a single Sync. PostgreSQL's extended query
// protocol skips every message after an error up to the next Sync
// (https://www.postgresql.org/docs/current/protocol-flow.html#PROTOCOL-FLOW-EXT-QUERY),
// so when step k fails, its transaction is aborted and the later steps'
// statements, COMMITs included, are never executed: steps[:k] are
// committed, nothing of the others is. A step with a large insertion
// (sent by COPY, which cannot be pipelined) ends its batch.
func (p *Postgres) ApplySteps(ctx context.Context, steps []Step) (int, error) {
	if p.conn == nil {
		return 0, fmt.Errorf("sink %s: apply: sink is not open", p.cfg.Name)
	}
	for _, step := range steps {
		for _, d := range step.Deltas {
			v, ok := p.views[d.View]
			if !ok {
				return 0, fmt.Errorf("sink %s: apply step %s: view %s is not one of the sink's views", p.cfg.Name, step.LSN, d.View)
			}
			if !v.ready {
				return 0, fmt.Errorf("sink %s: apply step %s: view %s has not been loaded into this sink (its table is missing or has other columns); a Load is needed",
					p.cfg.Name, step.LSN, d.View)
			}
			if err := checkDelta(p.cfg.Name, v.View, d); err != nil {
				return 0, fmt.Errorf("apply step %s: %w", step.LSN, err)
			}
		}
	}
	return p.applySteps(ctx, steps)
}

// maxBatchedInsertParams bounds the parameters of the multi-row INSERTs
// that travel in the step's batch; larger insertions go by COPY, which
// costs a round trip more but no parameter parsing per value.
const maxBatchedInsertParams = 2000

// maxPipelinedBytes ends a batch of several steps once their statements'
// parameters reach it (a batch is encoded in memory before it is sent).
const maxPipelinedBytes = 1 << 20

// stepCheck says what one statement of a step's batch does.
type stepCheck struct {
	view row.TableName
	r    row.Row
	n    row.Weight // rows the statement must change (checked by the server); 0: an INSERT
	what string     // "retract" or "update" or "insert"
}

// stepBatch is one pipelined batch holding the statements of one or more
// steps.
type stepBatch struct {
	pgconn.Batch
	stmts int // statements queued
	bytes int // statement names and parameters queued, in bytes
	steps []queuedStep
}

func (b *stepBatch) prepared(name string, params [][]byte) {
	b.ExecPrepared(name, params, nil, nil)
	b.stmts++
	b.bytes += len(name) + batchParamBytes(params)
}

func batchParamBytes(params [][]byte) int {
	n := 0
	for _, p := range params {
		n += 4 + len(p)
	}
	return n
}

// queuedStep is one step in a stepBatch. Its statements are, from index
// first on: BEGIN, the progress record, one per check, and COMMIT unless
// insertions by COPY follow the batch (then the COMMIT follows them).
type queuedStep struct {
	step   *Step
	first  int
	checks []stepCheck
	copies []Delta
}

// progressIndex, commitIndex and end are statement indexes in the batch.
func (q *queuedStep) progressIndex() int { return q.first + 1 }
func (q *queuedStep) commitIndex() int   { return q.first + 2 + len(q.checks) }
func (q *queuedStep) end() int {
	if len(q.copies) > 0 {
		return q.commitIndex()
	}
	return q.commitIndex() + 1
}

// errApplied is what sendSteps returns when a step's progress record found
// the step at or below the recorded progress: applied before (I3).
var errApplied = errors.New("step at or below the recorded progress")

// applySteps sends steps in as few batches as it can and returns how many
// leading steps are committed (or were found applied before).
func (p *Postgres) applySteps(ctx context.Context, steps []Step) (int, error) {
	if err := p.prepareBookkeeping(ctx); err != nil {
		return 0, err
	}
	done := 0
	for done < len(steps) {
		b := &stepBatch{}
		for i := done; i < len(steps); i++ {
			q, err := p.queueStep(ctx, b, &steps[i])
			if err != nil {
				return done, err
			}
			if len(q.copies) > 0 || b.bytes >= maxPipelinedBytes {
				break
			}
		}
		n, err := p.sendSteps(ctx, b)
		done += n
		if !errors.Is(err, errApplied) {
			if err != nil {
				return done, err
			}
			continue
		}
		// Rare: after a restart the pipeline skips what Open's progress
		// says is applied, so only another writer of the same progress
		// row gets here. Skip what it applied and send the rest again.
		lsn, _, err := p.readProgress(ctx, p.conn, false)
		if err != nil {
			return done, err
		}
		if !steps[done].Applied(lsn) {
			return done, fmt.Errorf("sink %s: apply step %s: the progress record of pipeline %q was at or past it, and is now %s: another process writes it",
				p.cfg.Name, steps[done].LSN, p.pipeline, lsn)
		}
		for done < len(steps) && steps[done].Applied(lsn) {
			p.log.Debug("step already applied; skipped", "lsn", steps[done].LSN)
			done++
		}
	}
	return done, nil
}

// progressParams are the commit time and tick parameters of step's
// progress record (progressAdvance).
func progressParams(step *Step) (ct, tick []byte) {
	if !step.CommitTime.IsZero() {
		ct = []byte(step.CommitTime.UTC().Format("2006-01-02 15:04:05.999999Z07:00"))
	}
	tick = []byte("false")
	if step.Tick {
		tick = []byte("true") // applied at the progress it carries (Step.Applied)
	}
	return ct, tick
}

// queueStep adds step's transaction to b.
func (p *Postgres) queueStep(ctx context.Context, b *stepBatch, step *Step) (*queuedStep, error) {
	ct, tick := progressParams(step)
	q := queuedStep{step: step, first: b.stmts}
	b.prepared(beginStmtName, nil)
	// The progress record locks the progress row first (a second pipeline
	// on the same sink waits here) and fails, aborting the transaction and
	// so everything queued after it, when the step is at or below the
	// recorded progress (see progressAdvance).
	b.prepared(progressStmtName, [][]byte{[]byte(p.pipeline), []byte(step.LSN.String()), ct, tick})
	checks, copies, err := p.queueDeltas(ctx, step, b)
	if err != nil {
		return nil, err
	}
	q.checks, q.copies = checks, copies
	if len(copies) == 0 {
		b.prepared(commitStmtName, nil)
	}
	b.steps = append(b.steps, q)
	return &b.steps[len(b.steps)-1], nil
}

// sendSteps sends b in one round trip (plus, for a last step with COPYs,
// those and its COMMIT) and returns how many of its steps are committed.
// Whatever fails, the connection is left outside any transaction.
func (p *Postgres) sendSteps(ctx context.Context, b *stepBatch) (committed int, err error) {
	pc := p.conn.PgConn()
	defer func() {
		// A failed statement leaves its transaction aborted; a failed COPY
		// leaves it open. Either way it must end before the next step.
		if pc.TxStatus() != 'I' && !pc.IsClosed() {
			rctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_, _ = pc.Exec(rctx, "ROLLBACK").ReadAll()
		}
	}()
	results, berr := pc.ExecBatch(ctx, &b.Batch).ReadAll()
	// A statement that returns rows has a result when it fails; one that
	// does not has none: the failed statement is the last result with an
	// error, or the first without a result.
	failed := len(results)
	if n := len(results); n > 0 && results[n-1].Err != nil {
		failed = n - 1
	}
	for i := range b.steps {
		q := &b.steps[i]
		if berr != nil && failed < q.end() {
			return committed, p.stepError(q, failed, berr)
		}
		if len(q.copies) > 0 {
			if err := p.copyAndCommit(ctx, q); err != nil {
				return committed, err
			}
			committed++
			continue
		}
		if err := p.checkCommitted(q.step, results[q.commitIndex()].CommandTag); err != nil {
			return committed, err
		}
		committed++
	}
	if berr != nil && committed < len(b.steps) {
		return committed, fmt.Errorf("sink %s: apply step %s: %w", p.cfg.Name, b.steps[committed].step.LSN, berr)
	}
	return committed, nil
}

// checkCommitted checks COMMIT's answer: PostgreSQL answers a COMMIT of an
// aborted transaction with ROLLBACK, not with an error.
func (p *Postgres) checkCommitted(step *Step, tag pgconn.CommandTag) error {
	if s := tag.String(); s != "COMMIT" {
		return fmt.Errorf("sink %s: apply step %s: commit answered %q; the step was not applied", p.cfg.Name, step.LSN, s)
	}
	return nil
}

// copyAndCommit sends q's insertions by COPY, then its COMMIT.
func (p *Postgres) copyAndCommit(ctx context.Context, q *queuedStep) error {
	for _, d := range q.copies {
		if _, err := p.copyRows(ctx, p.views[d.View], d.Rows); err != nil {
			return fmt.Errorf("sink %s: apply step %s to view %s: %w", p.cfg.Name, q.step.LSN, d.View, err)
		}
	}
	results, err := p.conn.PgConn().Exec(ctx, "COMMIT").ReadAll()
	if err != nil {
		return fmt.Errorf("sink %s: apply step %s: commit: %w", p.cfg.Name, q.step.LSN, err)
	}
	if len(results) != 1 {
		return fmt.Errorf("sink %s: apply step %s: commit returned %d results", p.cfg.Name, q.step.LSN, len(results))
	}
	return p.checkCommitted(q.step, results[0].CommandTag)
}

// stepError explains the failure of statement failed, one of q's.
func (p *Postgres) stepError(q *queuedStep, failed int, err error) error {
	lsn := q.step.LSN
	switch i := failed - q.first; {
	case failed == q.progressIndex():
		if isProgressAtOrPast(err) {
			return errApplied
		}
		return fmt.Errorf("sink %s: apply step %s: write progress: %w", p.cfg.Name, lsn, err)
	case failed == q.commitIndex():
		return fmt.Errorf("sink %s: apply step %s: commit: %w", p.cfg.Name, lsn, err)
	case i >= 2 && i-2 < len(q.checks):
		c := q.checks[i-2]
		if found, ok := outOfSync(err); ok {
			return fmt.Errorf("sink %s: apply step %s to view %s: %s %d× row %s: found %s matching row(s): %w",
				p.cfg.Name, lsn, c.view, c.what, c.n, formatRow(c.r), found, ErrOutOfSync)
		}
		if c.r != nil {
			return fmt.Errorf("sink %s: apply step %s to view %s: %s row %s: %w", p.cfg.Name, lsn, c.view, c.what, formatRow(c.r), err)
		}
		return fmt.Errorf("sink %s: apply step %s to view %s: %s rows: %w", p.cfg.Name, lsn, c.view, c.what, err)
	}
	return fmt.Errorf("sink %s: apply step %s: %w", p.cfg.Name, lsn, err)
}

// progressAdvance records a step's progress. A tick ($4, a step of views
// with temporal filters with no source transaction) is applied at the
// progress it carries (Step.Applied). When the recorded progress is
// already at or past the step (for a tick: past it), it sets the LSN to NULL, which the
// column's NOT NULL constraint refuses: the error aborts the step's
// transaction before any of its changes can commit, in the same round trip
// (a statement that merely changed no row would let the pipelined COMMIT
// go through). isProgressAtOrPast recognizes that error.
const progressAdvance = `
INSERT INTO ripple.progress (pipeline, lsn, commit_time, updated_at) VALUES ($1, $2::pg_lsn, $3::timestamptz, now())
ON CONFLICT (pipeline) DO UPDATE SET
	lsn = CASE WHEN ripple.progress.lsn < excluded.lsn OR ($4::bool AND ripple.progress.lsn = excluded.lsn) THEN excluded.lsn END,
	commit_time = coalesce(excluded.commit_time, ripple.progress.commit_time), updated_at = excluded.updated_at`

// The statements every step sends, prepared once per connection (parsing
// BEGIN and COMMIT anew for every step cost as much as running them).
const (
	beginStmtName    = "ripple_sink_begin"
	progressStmtName = "ripple_sink_progress"
	commitStmtName   = "ripple_sink_commit"
)

// prepareBookkeeping prepares BEGIN, progressAdvance and COMMIT once per
// connection.
func (p *Postgres) prepareBookkeeping(ctx context.Context) error {
	if p.progressReady {
		return nil
	}
	text := uint32(row.OIDText)
	for _, s := range []struct {
		name, sql string
		oids      []uint32
	}{
		{beginStmtName, "BEGIN", nil},
		{progressStmtName, progressAdvance, []uint32{text, text, text, text}},
		{commitStmtName, "COMMIT", nil},
	} {
		if _, err := p.conn.PgConn().Prepare(ctx, s.name, s.sql, s.oids); err != nil {
			return fmt.Errorf("sink %s: prepare the statement %s: %w", p.cfg.Name, s.name, err)
		}
	}
	p.progressReady = true
	return nil
}

// isProgressAtOrPast reports progressAdvance's refusal of a step at or
// below the recorded progress.
func isProgressAtOrPast(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23502" && pe.SchemaName == "ripple" && pe.TableName == "progress" && pe.ColumnName == "lsn"
}

// outOfSyncMarker starts the text a checked statement fails with.
const outOfSyncMarker = "ripple: matching rows found: "

// checked wraps a DELETE or UPDATE so that it fails unless it changed
// exactly want rows (a parameter reference or a constant). The check must
// run in the server: the step's COMMIT is in the same pipelined batch, so
// a count looked at by the client would come after the commit. A
// retraction of a row the sink does not hold means the sink is out of
// sync (ErrOutOfSync); plain SQL has no RAISE, so the failure is a cast of
// a text that says so to integer (count(*) is not a constant, so the
// planner cannot fold the cast into an error at plan time).
func checked(dml, want string) string {
	return "WITH ripple_changed AS (" + dml + " RETURNING 1) SELECT CASE WHEN count(*) = " + want +
		" THEN 0 ELSE ('" + outOfSyncMarker + "' || count(*))::int END FROM ripple_changed"
}

// outOfSync reports a checked statement's failure and the number of rows
// it found.
func outOfSync(err error) (string, bool) {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != "22P02" {
		return "", false
	}
	i := strings.Index(pe.Message, outOfSyncMarker)
	if i < 0 {
		return "", false
	}
	found := pe.Message[i+len(outOfSyncMarker):]
	if j := strings.IndexFunc(found, func(r rune) bool { return r < '0' || r > '9' }); j >= 0 {
		found = found[:j]
	}
	if _, err := strconv.Atoi(found); err != nil {
		return "", false
	}
	return "only " + found, true
}

// queueDeltas adds the statements of every delta of step to batch and
// returns what each must have done, and the insertions left for COPY. In a
// keyed view, a row retracted once and a row inserted once with the same
// key become one UPDATE of that row.
func (p *Postgres) queueDeltas(ctx context.Context, step *Step, batch *stepBatch) ([]stepCheck, []Delta, error) {
	var (
		checks []stepCheck
		copies []Delta
	)
	for _, d := range step.Deltas {
		v := p.views[d.View]
		var byKey map[string]int // key of a once-inserted row → its index in d.Rows
		if len(v.Key) > 0 {
			byKey = make(map[string]int)
			for i, u := range d.Rows {
				if u.W == 1 {
					byKey[keyOf(v, u.Row)] = i
				}
			}
		}
		updated := map[int]bool{}
		for _, u := range d.Rows {
			if u.W >= 0 {
				continue
			}
			if u.W == -1 && byKey != nil {
				if i, ok := byKey[keyOf(v, u.Row)]; ok && !updated[i] {
					updated[i] = true
					name, params, err := p.updateStmt(ctx, v, u.Row, d.Rows[i].Row)
					if err != nil {
						return nil, nil, fmt.Errorf("sink %s: apply step %s to view %s: %w", p.cfg.Name, step.LSN, d.View, err)
					}
					batch.prepared(name, params)
					checks = append(checks, stepCheck{view: d.View, r: u.Row, n: 1, what: "update"})
					continue
				}
			}
			name, err := p.deleteStmt(ctx, v, u.Row)
			if err != nil {
				return nil, nil, fmt.Errorf("sink %s: apply step %s to view %s: %w", p.cfg.Name, step.LSN, d.View, err)
			}
			batch.prepared(name, retractParams(v, u.Row, -u.W))
			checks = append(checks, stepCheck{view: d.View, r: u.Row, n: -u.W, what: "retract"})
		}
		var ins []row.Update
		insRows := 0
		for i, u := range d.Rows {
			if u.W > 0 && !updated[i] {
				ins = append(ins, u)
				insRows += int(u.W)
			}
		}
		switch {
		case len(ins) == 0:
		case insRows*len(v.Columns) <= maxBatchedInsertParams:
			rows := make([]row.Row, 0, insRows)
			for _, u := range ins {
				for k := row.Weight(0); k < u.W; k++ {
					rows = append(rows, u.Row)
				}
			}
			for len(rows) > 0 {
				n := insertChunks[len(insertChunks)-1]
				for _, c := range insertChunks {
					if c <= len(rows) {
						n = c
						break
					}
				}
				name, err := p.insertStmt(ctx, v, n)
				if err != nil {
					return nil, nil, fmt.Errorf("sink %s: apply step %s to view %s: %w", p.cfg.Name, step.LSN, d.View, err)
				}
				batch.prepared(name, insertParams(rows[:n]))
				checks = append(checks, stepCheck{view: d.View, what: "insert"})
				rows = rows[n:]
			}
		default:
			copies = append(copies, Delta{View: d.View, Rows: ins})
		}
	}
	return checks, copies, nil
}

// keyOf encodes r's key columns (text, with NULL distinct from any text).
func keyOf(v *pgView, r row.Row) string {
	var b strings.Builder
	for _, c := range v.Key {
		if r[c].IsNull() {
			b.WriteString("\x00N")
			continue
		}
		b.WriteString("\x00V")
		b.WriteString(row.FormatText(r[c]))
	}
	return b.String()
}

// updateStmt returns the prepared UPDATE (see updateStatement) for v and
// old's NULL pattern, and its parameters.
func (p *Postgres) updateStmt(ctx context.Context, v *pgView, old, new row.Row) (string, [][]byte, error) {
	pattern := []byte{'u'}
	for _, c := range v.match {
		if old[c].IsNull() {
			pattern = append(pattern, '1')
		} else {
			pattern = append(pattern, '0')
		}
	}
	sql, oids, params := updateStatement(v, old, new)
	key := stmtKey{view: v.Name, nulls: string(pattern)}
	if name, ok := p.stmts[key]; ok {
		return name, params, nil
	}
	p.nextStmt++
	name := "ripple_sink_update_" + strconv.Itoa(p.nextStmt)
	if _, err := p.conn.PgConn().Prepare(ctx, name, sql, oids); err != nil {
		return "", nil, fmt.Errorf("prepare %q: %w", sql, err)
	}
	p.stmts[key] = name
	return name, params, nil
}

// updateStatement replaces the one row with old's key by new, checked
// (see checked) to find it: the key
// predicate is the retraction's (see deleteStmt); the new values are
// untyped text, read as the columns' types.
func updateStatement(v *pgView, old, new row.Row) (string, []uint32, [][]byte) {
	var (
		conds  []string
		oids   []uint32
		params [][]byte
	)
	for _, c := range v.match {
		col := v.Columns[c]
		if old[c].IsNull() {
			conds = append(conds, row.QuoteIdent(col.Name)+" IS NULL")
			continue
		}
		oids = append(oids, paramOID(col))
		params = append(params, []byte(row.FormatText(old[c])))
		conds = append(conds, fmt.Sprintf("%s = $%d", matchExpr(col), len(oids)))
	}
	sets := make([]string, len(v.Columns))
	for i, col := range v.Columns {
		oids = append(oids, 0)
		if new[i].IsNull() {
			params = append(params, nil)
		} else {
			params = append(params, []byte(row.FormatText(new[i])))
		}
		sets[i] = fmt.Sprintf("%s = $%d", row.QuoteIdent(col.Name), len(oids))
	}
	sql := checked(fmt.Sprintf("UPDATE %[1]s SET %[2]s WHERE ctid = ANY (ARRAY(SELECT ctid FROM %[1]s WHERE %[3]s LIMIT 1))",
		v.Name, strings.Join(sets, ", "), strings.Join(conds, " AND ")), "1")
	return sql, oids, params
}
