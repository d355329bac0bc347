package sink

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rippledb/ripple/internal/row"
)

// BeginParts implements PartsApplier, so that ripple need not gather a large
// source transaction's view changes for a Redis sink. The step is one
// MULTI/EXEC, as in Apply, on a connection of its own: BeginParts WATCHes
// the progress key and every view's key set, reads the progress (a step at
// or below it is skipped, I3) and sends MULTI. Each Write checks its part
// and queues its commands, which Redis holds in server memory until Commit
// queues the progress and sends EXEC: readers see the whole step or
// nothing (I2).
//
// Queued commands do not run until EXEC, so a part cannot read what the
// parts before it did. Each Write therefore records the keys it retracts
// and inserts in a hash per view (redisPartsKey), written at once on
// another connection; a later part's keys are checked against that record
// first and against the view's key set only for keys no earlier part
// touched. The hashes are deleted when the step ends, and at the start of
// the next, in case a crash left them.
func (r *Redis) BeginParts(ctx context.Context, step Step) (Parts, error) {
	if r.client == nil {
		return nil, fmt.Errorf("sink %s: apply: sink is not open", r.cfg.Name)
	}
	step.Deltas = nil
	rp := &redisParts{redisMulti: r.newMulti("apply step " + step.LSN.String()), step: step}
	if err := rp.watch(ctx, r.progressKey()); err != nil {
		return nil, err
	}
	pctx, cancel := rp.bound(ctx, 0)
	cur, err := r.readProgress(pctx, rp.conn)
	cancel()
	if err != nil {
		rp.Abort()
		return nil, err
	}
	if step.Applied(cur) {
		r.log.Debug("step already applied; skipped", "lsn", step.LSN, "progress", cur)
		rp.Abort()
		return nil, nil
	}
	if err := rp.begin(ctx); err != nil {
		return nil, err
	}
	return rp, nil
}

// redisMulti is a MULTI/EXEC of a Redis sink on a connection of its own,
// whose commands are queued as they come (a step or a load in parts), and
// the record of the keys it touched (redisPartsKey).
type redisMulti struct {
	r        *Redis
	what     string
	conn     *redis.Conn   // WATCH, then MULTI and the queued commands
	timeout  time.Duration // each command's, but EXEC's; 0: none
	queued   int           // commands queued
	recorded bool          // the record of parts is this transaction's (begin)
	done     bool
}

func (r *Redis) newMulti(what string) redisMulti {
	// The connection has no read timeout of its own (txClient): every
	// command but EXEC gets the sink's (go-redis's default when unset).
	timeout := r.client.Options().ReadTimeout
	switch {
	case timeout == 0:
		timeout = 3 * time.Second
	case timeout < 0:
		timeout = 0
	}
	return redisMulti{r: r, what: what, conn: r.txClient.EphemeralConn(), timeout: timeout}
}

// bound gives ctx the deadline of one command taking at most d more than
// the sink's read timeout (none when the sink has none).
func (rm *redisMulti) bound(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if rm.timeout <= 0 {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, rm.timeout+d)
}

// watch WATCHes keys and every view's key set. On error it aborts.
func (rm *redisMulti) watch(ctx context.Context, keys ...string) error {
	args := []any{"WATCH"}
	for _, k := range keys {
		args = append(args, k)
	}
	for _, v := range rm.r.order {
		args = append(args, v.keysKey)
	}
	ctx, cancel := rm.bound(ctx, 0)
	defer cancel()
	if err := rm.conn.Do(ctx, args...).Err(); err != nil {
		rm.Abort()
		return fmt.Errorf("sink %s: %s: watch: %w", rm.r.cfg.Name, rm.what, err)
	}
	return nil
}

// begin clears the record a crash may have left and sends MULTI. On
// error it aborts.
func (rm *redisMulti) begin(ctx context.Context) error {
	rm.recorded = true // from here on, the views' records are this transaction's
	if err := rm.clearRecord(ctx); err != nil {
		rm.Abort()
		return err
	}
	ctx, cancel := rm.bound(ctx, 0)
	defer cancel()
	if err := rm.conn.Do(ctx, "MULTI").Err(); err != nil {
		rm.Abort()
		return fmt.Errorf("sink %s: %s: multi: %w", rm.r.cfg.Name, rm.what, err)
	}
	return nil
}

// queue queues commands, built by fill, in the MULTI, as one pipeline
// whose deadline grows with them, as EXEC's does.
func (rm *redisMulti) queue(ctx context.Context, what string, fill func(do func(args ...any))) error {
	var cmds [][]any
	fill(func(args ...any) { cmds = append(cmds, args) })
	ctx, cancel := rm.bound(ctx, time.Duration(len(cmds))*commandTime)
	defer cancel()
	queued := make([]*redis.Cmd, 0, len(cmds))
	_, err := rm.conn.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, args := range cmds {
			queued = append(queued, p.Do(ctx, args...))
		}
		return nil
	})
	rm.queued += len(queued)
	if err == nil {
		for _, c := range queued {
			if err = c.Err(); err != nil {
				break
			}
		}
	}
	if err != nil {
		return fmt.Errorf("sink %s: %s: queue %s: %w", rm.r.cfg.Name, rm.what, what, err)
	}
	return nil
}

// commandTime is what a deadline allows each command of a pipeline or a
// transaction beyond the sink's read timeout: Redis runs about a million
// simple commands a second.
const commandTime = 20 * time.Microsecond

// exec runs the queued commands; whatever happens, the MULTI is over. Its
// deadline grows with them: the sink's read timeout plus commandTime each.
func (rm *redisMulti) exec(ctx context.Context) error {
	r, what := rm.r, rm.what
	defer rm.Abort() // releases the connection and the record
	ctx, cancel := rm.bound(ctx, time.Duration(rm.queued)*commandTime)
	defer cancel()
	res, err := rm.conn.Do(ctx, "EXEC").Slice()
	if errors.Is(err, redis.Nil) {
		return fmt.Errorf("sink %s: %s: %w", r.cfg.Name, what, ErrConcurrentWrite)
	}
	if err != nil {
		return fmt.Errorf("sink %s: %s: exec: %w", r.cfg.Name, what, err)
	}
	for _, v := range res {
		// Not expected: every command was checked to meet keys of its
		// type. Redis has run the others, so the sink is out of sync.
		if e, ok := v.(redis.Error); ok {
			return fmt.Errorf("sink %s: %s: a command of the transaction failed after the others ran: %v: %w", r.cfg.Name, what, e, ErrOutOfSync)
		}
	}
	return nil
}

// redisParts is one step of a Redis sink written in parts.
type redisParts struct {
	redisMulti
	step Step
}

// clearRecord deletes the record of keys the step's parts touched.
func (rm *redisMulti) clearRecord(ctx context.Context) error {
	keys := make([]string, len(rm.r.order))
	for i, v := range rm.r.order {
		keys[i] = redisPartsKey(rm.r.cfg.Prefix, v.seg)
	}
	if len(keys) == 0 {
		return nil
	}
	if err := rm.r.client.Del(ctx, keys...).Err(); err != nil {
		return fmt.Errorf("sink %s: %s: clear the record of parts: %w", rm.r.cfg.Name, rm.what, err)
	}
	return nil
}

// Write checks one part and queues it. After an error the step is over:
// it is discarded at once, and a later Commit fails.
func (rp *redisParts) Write(ctx context.Context, deltas []Delta) error {
	err := rp.write(ctx, deltas)
	if err != nil {
		rp.Abort()
	}
	return err
}

func (rp *redisParts) write(ctx context.Context, deltas []Delta) error {
	r, what := rp.r, rp.what
	if rp.done {
		return fmt.Errorf("sink %s: %s: write after the end of the step", r.cfg.Name, what)
	}
	changes, err := r.plan(what, Step{LSN: rp.step.LSN, Deltas: deltas})
	if err != nil {
		return err
	}
	held, err := r.lookupHeld(ctx, r.client, what, changes)
	if err != nil {
		return err
	}
	// What earlier parts did to a key wins over the key set, which does
	// not show it before EXEC.
	type probe struct {
		c    *redisChange
		keys []string
		cmd  *redis.SliceCmd
	}
	var probes []probe
	_, err = r.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, c := range changes {
			rec := redisPartsKey(r.cfg.Prefix, c.v.seg)
			for chunk := range slices.Chunk(append(slices.Clip(c.retract), c.insert...), redisBatch) {
				keys := make([]string, len(chunk))
				for i, rr := range chunk {
					keys[i] = rr.key
				}
				probes = append(probes, probe{c: c, keys: keys, cmd: p.HMGet(ctx, rec, keys...)})
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sink %s: %s: read the record of earlier parts: %w", r.cfg.Name, what, err)
	}
	for _, pr := range probes {
		for i, v := range pr.cmd.Val() {
			switch v {
			case "1":
				held[pr.c][pr.keys[i]] = true
			case "0":
				delete(held[pr.c], pr.keys[i])
			}
		}
	}
	if err := r.verifyHeld(what, changes, held); err != nil {
		return err
	}
	_, err = r.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, c := range changes {
			rec := redisPartsKey(r.cfg.Prefix, c.v.seg)
			// Retractions first: a key retracted and inserted again in
			// this part ends held.
			for _, marked := range []struct {
				rows []redisRow
				mark string
			}{{c.retract, "0"}, {c.insert, "1"}} {
				for chunk := range slices.Chunk(marked.rows, redisBatch) {
					fields := make([]any, 0, 2*len(chunk))
					for _, rr := range chunk {
						fields = append(fields, rr.key, marked.mark)
					}
					p.HSet(ctx, rec, fields...)
				}
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sink %s: %s: record the part: %w", r.cfg.Name, what, err)
	}
	return rp.queue(ctx, "the part", func(do func(args ...any)) { r.queueChanges(do, changes) })
}

// Commit queues the progress and runs the step's transaction.
func (rp *redisParts) Commit(ctx context.Context) error {
	r, what := rp.r, rp.what
	if rp.done {
		return fmt.Errorf("sink %s: %s: commit after the end of the step", r.cfg.Name, what)
	}
	err := rp.queue(ctx, "the progress", func(do func(args ...any)) { do("SET", r.progressKey(), rp.step.LSN.String()) })
	if err != nil {
		rp.Abort()
		return err
	}
	if err := rp.exec(ctx); err != nil {
		return err
	}
	r.log.Debug("step applied in parts", "lsn", rp.step.LSN)
	return nil
}

// Abort discards what was queued and releases the connection: closing it
// (it is ephemeral, never pooled) makes Redis drop its MULTI and WATCH, so
// no DISCARD is needed, nor can one hang on a server that stopped
// answering. It deletes the record of parts if this transaction wrote it.
// It is also how every other end of the MULTI cleans up; after the first
// call it does nothing.
func (rm *redisMulti) Abort() {
	if rm.done {
		return
	}
	rm.done = true
	if err := rm.conn.Close(); err != nil {
		rm.r.log.Warn("closing a transaction's connection failed", "what", rm.what, "err", err)
	}
	if !rm.recorded {
		return
	}
	// Not the caller's context, which may be cancelled; the sink's client
	// has its read timeout.
	if err := rm.clearRecord(context.Background()); err != nil {
		rm.r.log.Warn("the record of a transaction in parts was left; the next one clears it", "what", rm.what, "err", err)
	}
}

// BeginLoad implements PartsLoader, so that ripple need not hold a large
// load's rows whole for a Redis sink: the load is one MULTI/EXEC, as in
// Load, on a connection of its own. BeginLoad WATCHes the progress, the
// catalog, the owners and every view's key set, checks under WATCH that
// the views are this pipeline's (I6), sends MULTI and queues the deletion
// of every view's rows, read from its key set a page at a time (SSCAN, on
// another connection: the queued deletions have not run). Each Write
// queues its rows; a row's key is recorded in the view's record of parts
// (redisPartsKey) as it is queued, so that two rows sharing a key fail the
// load in any part. Commit queues the catalog entries, the ownership
// records and the progress, and sends EXEC.
func (r *Redis) BeginLoad(ctx context.Context, lsn row.LSN) (LoadParts, error) {
	if r.client == nil {
		return nil, fmt.Errorf("sink %s: load: sink is not open", r.cfg.Name)
	}
	rl := &redisLoad{redisMulti: r.newMulti("load at " + lsn.String()), lsn: lsn}
	if err := rl.watch(ctx, r.progressKey(), r.catalogKey(), r.ownersKey()); err != nil {
		return nil, err
	}
	// Re-checked under WATCH: keys may have appeared since Open, and a
	// load must never delete rows ripple did not write.
	cctx, cancel := rl.bound(ctx, 0)
	defer cancel()
	if err := r.checkOwned(cctx, rl.conn); err != nil {
		rl.Abort()
		return nil, err
	}
	// Fails on a catalog of the wrong type before anything is queued.
	if err := rl.conn.HLen(cctx, r.catalogKey()).Err(); err != nil {
		rl.Abort()
		return nil, fmt.Errorf("sink %s: %s: read catalog %s: %w", r.cfg.Name, rl.what, r.catalogKey(), err)
	}
	if err := rl.begin(ctx); err != nil {
		return nil, err
	}
	for _, v := range r.order {
		var cursor uint64
		for {
			keys, next, err := r.client.SScan(ctx, v.keysKey, cursor, "", redisBatch).Result()
			if err != nil {
				rl.Abort()
				return nil, fmt.Errorf("sink %s: %s: read %s: %w", r.cfg.Name, rl.what, v.keysKey, err)
			}
			// SSCAN may return a key twice; a second DEL of it is harmless.
			if len(keys) > 0 {
				err = rl.queue(ctx, "the old rows' deletion", func(do func(args ...any)) {
					args := make([]any, 0, len(keys)+1)
					args = append(args, "DEL")
					for _, k := range keys {
						args = append(args, k)
					}
					do(args...)
				})
				if err != nil {
					rl.Abort()
					return nil, err
				}
			}
			if cursor = next; cursor == 0 {
				break
			}
		}
		if err := rl.queue(ctx, "the key set's deletion", func(do func(args ...any)) { do("DEL", v.keysKey) }); err != nil {
			rl.Abort()
			return nil, err
		}
	}
	return rl, nil
}

// redisLoad is one load of a Redis sink in parts.
type redisLoad struct {
	redisMulti
	lsn     row.LSN
	checked bool // Load checked every row, keys included, before it began
}

// Write checks rows of view and queues them. After an error the load is
// over: it is discarded at once, and a later Commit fails.
func (rl *redisLoad) Write(ctx context.Context, view row.TableName, rows []row.Update) error {
	err := rl.write(ctx, view, rows)
	if err != nil {
		rl.Abort()
	}
	return err
}

func (rl *redisLoad) write(ctx context.Context, view row.TableName, rows []row.Update) error {
	r, what := rl.r, rl.what
	if rl.done {
		return fmt.Errorf("sink %s: %s: write after the end of the load", r.cfg.Name, what)
	}
	v, ok := r.views[view]
	if !ok {
		return fmt.Errorf("sink %s: load: view %s is not one of the sink's views", r.cfg.Name, view)
	}
	enc := make([]redisRow, 0, len(rows))
	for _, u := range rows {
		enc = append(enc, v.encode(u.Row))
	}
	if rl.checked {
		return rl.queue(ctx, "the rows", func(do func(args ...any)) { r.queueInsertions(do, v, enc) })
	}
	if err := checkLoadRows(r.cfg.Name, v.View, rows); err != nil {
		return err
	}
	for _, u := range rows {
		if u.W != 1 {
			return r.notUniqueError(v, what, u)
		}
	}
	// Each key recorded once: a key already in the record is a second row
	// with the same key, in this part or an earlier one.
	rec := redisPartsKey(r.cfg.Prefix, v.seg)
	var set []*redis.BoolCmd
	_, err := r.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, rr := range enc {
			set = append(set, p.HSetNX(ctx, rec, rr.key, "1"))
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sink %s: %s: record the part: %w", r.cfg.Name, what, err)
	}
	for i, c := range set {
		if !c.Val() {
			return r.notUniqueError(v, what, rows[i])
		}
	}
	return rl.queue(ctx, "the rows", func(do func(args ...any)) { r.queueInsertions(do, v, enc) })
}

// Commit queues the catalog, the ownership records and the progress, and
// runs the load's transaction.
func (rl *redisLoad) Commit(ctx context.Context) error {
	r, what := rl.r, rl.what
	if rl.done {
		return fmt.Errorf("sink %s: %s: commit after the end of the load", r.cfg.Name, what)
	}
	err := rl.queue(ctx, "the catalog and the progress", func(do func(args ...any)) {
		for _, v := range r.order {
			do("HSET", r.catalogKey(), v.seg, v.entry)
			do("HSET", r.ownersKey(), v.seg, r.pipeline)
		}
		do("SET", r.progressKey(), rl.lsn.String())
	})
	if err != nil {
		rl.Abort()
		return err
	}
	if err := rl.exec(ctx); err != nil {
		return err
	}
	for _, v := range r.order {
		v.ready = true
	}
	r.log.Info("sink loaded", "views", len(r.order), "lsn", rl.lsn)
	return nil
}
