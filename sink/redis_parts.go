package sink

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/redis/go-redis/v9"
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
	rp := &redisParts{r: r, step: step, what: "apply step " + step.LSN.String(), conn: r.client.Conn()}
	watch := []any{"WATCH", r.progressKey()}
	for _, v := range r.order {
		watch = append(watch, v.keysKey)
	}
	if err := rp.conn.Do(ctx, watch...).Err(); err != nil {
		rp.Abort()
		return nil, fmt.Errorf("sink %s: %s: watch: %w", r.cfg.Name, rp.what, err)
	}
	cur, err := r.readProgress(ctx, rp.conn)
	if err != nil {
		rp.Abort()
		return nil, err
	}
	if step.Applied(cur) {
		r.log.Debug("step already applied; skipped", "lsn", step.LSN, "progress", cur)
		rp.Abort()
		return nil, nil
	}
	if err := rp.clearRecord(ctx); err != nil {
		rp.Abort()
		return nil, err
	}
	if err := rp.conn.Do(ctx, "MULTI").Err(); err != nil {
		rp.Abort()
		return nil, fmt.Errorf("sink %s: %s: multi: %w", r.cfg.Name, rp.what, err)
	}
	rp.multi = true
	return rp, nil
}

// redisParts is one step of a Redis sink written in parts.
type redisParts struct {
	r     *Redis
	step  Step
	what  string
	conn  *redis.Conn // WATCH, then MULTI and the queued commands
	multi bool        // MULTI sent
	done  bool
}

// clearRecord deletes the record of keys the step's parts touched.
func (rp *redisParts) clearRecord(ctx context.Context) error {
	keys := make([]string, len(rp.r.order))
	for i, v := range rp.r.order {
		keys[i] = redisPartsKey(rp.r.cfg.Prefix, v.seg)
	}
	if len(keys) == 0 {
		return nil
	}
	if err := rp.r.client.Del(ctx, keys...).Err(); err != nil {
		return fmt.Errorf("sink %s: %s: clear the record of parts: %w", rp.r.cfg.Name, rp.what, err)
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
	var queued []*redis.Cmd
	_, err = rp.conn.Pipelined(ctx, func(p redis.Pipeliner) error {
		r.queueChanges(func(args ...any) { queued = append(queued, p.Do(ctx, args...)) }, changes)
		return nil
	})
	if err == nil {
		for _, c := range queued {
			if err = c.Err(); err != nil {
				break
			}
		}
	}
	if err != nil {
		return fmt.Errorf("sink %s: %s: queue the part: %w", r.cfg.Name, what, err)
	}
	return nil
}

// Commit queues the progress and runs the step's transaction.
func (rp *redisParts) Commit(ctx context.Context) error {
	r, what := rp.r, rp.what
	if rp.done {
		return fmt.Errorf("sink %s: %s: commit after the end of the step", r.cfg.Name, what)
	}
	if err := rp.conn.Do(ctx, "SET", r.progressKey(), rp.step.LSN.String()).Err(); err != nil {
		rp.Abort()
		return fmt.Errorf("sink %s: %s: queue the progress: %w", r.cfg.Name, what, err)
	}
	res, err := rp.conn.Do(ctx, "EXEC").Slice()
	rp.multi = false // EXEC ends the MULTI, whatever it returned
	if errors.Is(err, redis.Nil) {
		rp.Abort()
		return fmt.Errorf("sink %s: %s: %w", r.cfg.Name, what, ErrConcurrentWrite)
	}
	if err != nil {
		rp.Abort()
		return fmt.Errorf("sink %s: %s: exec: %w", r.cfg.Name, what, err)
	}
	rp.Abort() // releases the connection and the record; the step is in
	for _, v := range res {
		// Not expected: every command was checked to meet keys of its
		// type. Redis has run the others, so the sink is out of sync.
		if e, ok := v.(redis.Error); ok {
			return fmt.Errorf("sink %s: %s: a command of the transaction failed after the others ran: %v: %w", r.cfg.Name, what, e, ErrOutOfSync)
		}
	}
	r.log.Debug("step applied in parts", "lsn", rp.step.LSN)
	return nil
}

// Abort discards what the step queued, releases its connection and
// deletes its record of parts. It is also how every other end of the step
// cleans up; after the first call it does nothing.
func (rp *redisParts) Abort() {
	if rp.done {
		return
	}
	rp.done = true
	// Not the caller's context: it may be the one that was cancelled.
	ctx := context.Background()
	end := "UNWATCH"
	if rp.multi {
		end = "DISCARD" // also unwatches
	}
	if err := rp.conn.Do(ctx, end).Err(); err != nil {
		rp.r.log.Warn("ending a step in parts failed", "lsn", rp.step.LSN, "command", end, "err", err)
	}
	rp.conn.Close()
	if err := rp.clearRecord(ctx); err != nil {
		rp.r.log.Warn("the record of a step in parts was left; the next step in parts clears it", "err", err)
	}
}
