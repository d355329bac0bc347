package sink

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/redis/go-redis/v9"

	"github.com/rippledb/ripple/internal/row"
)

// redisDumpAttempts bounds how often Dump re-reads a view that a
// concurrent writer keeps changing.
const redisDumpAttempts = 10

// Dump implements Dumper. It reads the view's key set and every row hash
// under WATCH of the progress and the key set, and confirms with an empty
// MULTI/EXEC that neither changed meanwhile, so the rows written are one
// committed state, even while another process applies steps. The dump is
// built in memory before it is written.
func (r *Redis) Dump(ctx context.Context, view row.TableName, w io.Writer) error {
	v, ok := r.views[view]
	if !ok || r.client == nil {
		return fmt.Errorf("sink %s: dump: view %s is not in this sink (or the sink is not open)", r.cfg.Name, view)
	}
	what := "dump view " + view.String()
	var buf []byte
	for range redisDumpAttempts {
		buf = buf[:0]
		err := r.watch(ctx, r.client, what, func(tx *redis.Tx) error {
			var err error
			buf, err = r.readRows(ctx, tx, what, v, buf)
			if err != nil {
				return err
			}
			// EXEC of a watched transaction fails when a watched key changed.
			return r.exec(ctx, tx, what, func(p redis.Pipeliner) { p.Exists(ctx, r.progressKey()) })
		}, r.progressKey(), v.keysKey)
		if isConcurrentWrite(err) {
			continue
		}
		if err != nil {
			return err
		}
		if _, err := w.Write(buf); err != nil {
			return fmt.Errorf("sink %s: %s: %w", r.cfg.Name, what, err)
		}
		return nil
	}
	return fmt.Errorf("sink %s: %s: the view changed on each of %d attempts to read it: %w",
		r.cfg.Name, what, redisDumpAttempts, ErrConcurrentWrite)
}

func isConcurrentWrite(err error) bool {
	return err != nil && errors.Is(err, ErrConcurrentWrite)
}

// readRows appends every row of v in COPY text format to buf, in key
// order. Absent fields are NULL; stored values are already canonical text.
func (r *Redis) readRows(ctx context.Context, tx *redis.Tx, what string, v *redisView, buf []byte) ([]byte, error) {
	keys, err := tx.SMembers(ctx, v.keysKey).Result()
	if err != nil {
		return nil, fmt.Errorf("sink %s: %s: read %s: %w", r.cfg.Name, what, v.keysKey, err)
	}
	slices.Sort(keys)
	for chunk := range slices.Chunk(keys, redisBatch) {
		cmds := make([]*redis.MapStringStringCmd, len(chunk))
		_, err := tx.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i, k := range chunk {
				cmds[i] = p.HGetAll(ctx, k)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("sink %s: %s: read rows: %w", r.cfg.Name, what, err)
		}
		for _, cmd := range cmds {
			fields := cmd.Val()
			for i, c := range v.Columns {
				if i > 0 {
					buf = append(buf, '\t')
				}
				s, ok := fields[c.Name]
				if !ok {
					buf = append(buf, `\N`...)
					continue
				}
				// FormatText of a text datum is its string unchanged, so
				// this is COPY's escaping of the stored text.
				buf = appendCopyValue(buf, row.NewText(s))
			}
			buf = append(buf, '\n')
		}
	}
	return buf, nil
}

// Forget implements Forgetter. In one MULTI/EXEC it deletes the pipeline's
// progress key and catalog hash, its entries in the ownership hash and,
// when dropTables is set, every row hash and key set of the views the
// ownership hash records as the pipeline's. Without dropTables the rows stay,
// owned by no pipeline: a later Open refuses them, as the Postgres sink
// refuses a table it did not create.
func (r *Redis) Forget(ctx context.Context, pipeline string, dropTables bool) error {
	if err := r.cfg.Validate(); err != nil {
		return err
	}
	if pipeline == "" {
		return fmt.Errorf("sink %s: forget: pipeline name is empty", r.cfg.Name)
	}
	c := r.client
	if c == nil {
		var err error
		if c, err = r.connect(ctx); err != nil {
			return err
		}
		defer c.Close()
	}
	what := fmt.Sprintf("forget pipeline %q", pipeline)
	prefix := r.cfg.Prefix
	progress, catalog, owners := redisProgressKey(prefix, pipeline), redisCatalogKey(prefix, pipeline), redisOwnersKey(prefix)
	var segs []string
	err := r.watch(ctx, c, what, func(tx *redis.Tx) error {
		// Fails on a catalog of the wrong type before anything is queued.
		if err := tx.HLen(ctx, catalog).Err(); err != nil {
			return fmt.Errorf("sink %s: %s: read catalog %s: %w", r.cfg.Name, what, catalog, err)
		}
		own, err := tx.HGetAll(ctx, owners).Result()
		if err != nil {
			return fmt.Errorf("sink %s: %s: read owners %s: %w", r.cfg.Name, what, owners, err)
		}
		// The rows dropped are those of views the pipeline owns: a catalog
		// entry alone never makes the sink delete rows.
		segs = segs[:0]
		for seg, owner := range own {
			if owner == pipeline {
				segs = append(segs, seg)
			}
		}
		slices.Sort(segs)
		var rowKeys [][]string
		if dropTables && len(segs) > 0 {
			sets := make([]string, len(segs))
			for i, seg := range segs {
				sets[i] = redisKeysKey(prefix, seg)
			}
			// Watched before reading, so the EXEC fails if a set changes.
			if err := tx.Watch(ctx, sets...).Err(); err != nil {
				return fmt.Errorf("sink %s: %s: watch key sets: %w", r.cfg.Name, what, err)
			}
			for _, set := range sets {
				ks, err := tx.SMembers(ctx, set).Result()
				if err != nil {
					return fmt.Errorf("sink %s: %s: read %s: %w", r.cfg.Name, what, set, err)
				}
				rowKeys = append(rowKeys, append(ks, set))
			}
		}
		return r.exec(ctx, tx, what, func(p redis.Pipeliner) {
			for _, ks := range rowKeys {
				for chunk := range slices.Chunk(ks, redisBatch) {
					p.Del(ctx, chunk...)
				}
			}
			if len(segs) > 0 {
				p.HDel(ctx, owners, segs...)
			}
			for _, seg := range segs { // left by a step in parts that never ended
				p.Del(ctx, redisPartsKey(prefix, seg))
			}
			p.Del(ctx, progress, catalog)
		})
	}, progress, catalog, owners)
	if err != nil {
		return err
	}
	r.log.Info("pipeline forgotten", "pipeline", pipeline, "views", len(segs), "dropped", dropTables)
	return nil
}
