package sink

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/rippledb/ripple/internal/row"
)

// RedisConfig configures a Redis sink.
type RedisConfig struct {
	// Name is the sink's name from the configuration; it prefixes errors.
	Name string
	// DSN is a redis:// or rediss:// URL as go-redis's ParseURL reads it,
	// e.g. "redis://user:secret@127.0.0.1:6379/0". The sink disables
	// go-redis's command retries whatever the URL says.
	DSN string
	// Prefix starts every key the sink writes; empty means
	// DefaultRedisPrefix ("ripple:"). Pipelines that share a prefix share
	// its ownership records, so they cannot load the same view.
	Prefix string
	// Logger receives the sink's logs; nil discards them.
	Logger *slog.Logger
}

// EnsureDefaults fills in the documented defaults of unset fields.
func (c *RedisConfig) EnsureDefaults() {
	if c.Prefix == "" {
		c.Prefix = DefaultRedisPrefix
	}
}

// Validate reports every problem with c at once.
func (c RedisConfig) Validate() error {
	var errs []error
	if c.Name == "" {
		errs = append(errs, errors.New("sink: redis sink needs a name"))
	}
	if c.DSN == "" {
		errs = append(errs, fmt.Errorf("sink %s: redis sink needs a DSN (redis://host:port/db)", c.Name))
	} else if _, err := redis.ParseURL(c.DSN); err != nil {
		errs = append(errs, fmt.Errorf("sink %s: parse redis DSN: %w", c.Name, err))
	}
	return errors.Join(errs...)
}

// ErrConcurrentWrite is wrapped by the error a Redis sink returns when a
// key it watched (the progress, a view's key set, the catalog) changed
// between reading it and committing: another writer shares the sink. The
// step is not applied.
var ErrConcurrentWrite = errors.New("progress changed concurrently; is another ripple writing to this sink?")

// redisBatch bounds the arguments of one variadic command (DEL, SADD, ...)
// so no single command grows without limit.
const redisBatch = 1000

// Redis is a sink that keeps each view as one Redis hash per row, keyed by
// the view's unique key, for caches and read models. With the key prefix
// {prefix} (RedisConfig.Prefix, default "ripple:"), pipeline {pipeline}, and
// a view s.v whose key columns are k1..kn, it writes:
//
//	{prefix}s.v:{key}              HASH   one per row: field = column name,
//	                                      value = the column's canonical text
//	                                      (row.FormatText); NULL columns have
//	                                      no field.
//	{prefix}s.v:__keys             SET    the full Redis key of every row of
//	                                      the view (Load and Dump use it, so
//	                                      nothing needs SCAN).
//	{prefix}__progress:{pipeline}  STRING the progress LSN ("16/B374D848").
//	{prefix}__views:{pipeline}     HASH   field = "s.v", value = the view's
//	                                      catalog entry as JSON: schema, name,
//	                                      columns (name, type, oid, typmod, key
//	                                      position), key (column names),
//	                                      definition.
//	{prefix}__owners               HASH   field = "s.v", value = the pipeline
//	                                      that loaded it; shared by every
//	                                      pipeline under the prefix.
//	{prefix}__parts:s.v            HASH   while a step or load in parts is
//	                                      open: field = a row key its parts
//	                                      touched, value = "1" (inserted)
//	                                      or "0" (retracted); deleted when
//	                                      it ends.
//
// {key} is the key columns' text joined with ':', each with '\' written
// "\\" and ':' written "\:", a NULL written "\N", and a leading '_' of
// the first column written "\_" (so no row is the __keys set). In "s.v",
// schema and name are escaped the same way and '.' is also written "\.".
// A row whose columns are all NULL has no hash, only its entry in __keys.
//
// Atomicity (I2) and exactly-once (I3): Apply WATCHes the progress key and
// the __keys sets of the views it changes, reads the progress, skips a step
// at or below it, checks that every retracted key is held and no inserted
// key already is, and then writes every change and the new progress in one
// MULTI/EXEC. A reader (HGETALL, SMEMBERS, a script) sees a step entirely or
// not at all. A large step can also be written in parts (BeginParts), into
// one MULTI/EXEC that Redis holds queued until the last part. Redis does not roll back a transaction one of whose commands
// fails at run time, so the transaction holds only commands that cannot
// fail on keys of the types the checks under WATCH saw (every HSET follows
// a DEL of its key). Load replaces every view in one MULTI/EXEC too, also
// in parts (BeginLoad); Redis queues the whole load in server memory until
// EXEC, so it needs about twice the loaded data in memory, while ripple
// holds one part at a time.
//
// Durability is Redis's: only with appendonly yes and appendfsync always is
// an EXEC on disk when it returns. Otherwise a Redis crash can lose steps
// the pipeline has already acknowledged to the source (I4); Open logs a
// warning when it can see that configuration. It needs Redis 6.2 or later
// (SMISMEMBER); Redis Cluster is not supported (a transaction's keys span
// hash slots).
//
// Views must have a unique key (View.Key); Open refuses keyless views. A
// row inserted under a key already held, or two rows of a step sharing a
// key, fail the step. Like every Sink it is used from one goroutine; it is
// not safe for concurrent use.
type Redis struct {
	cfg RedisConfig
	log *slog.Logger

	client   *redis.Client // nil until Open
	txClient *redis.Client // for transactions in parts (redisMulti); set with client
	pipeline string
	views    map[row.TableName]*redisView
	order    []*redisView // views in Open's order
}

// redisView is a view with the keys and catalog entry derived from it once.
type redisView struct {
	View
	seg       string // escaped "schema.name"
	rowPrefix string // prefix + seg + ":"
	keysKey   string // the view's __keys set
	entry     string // catalog entry (JSON)
	catalog   []catalogColumn
	// ready means the catalog records the view with its current columns
	// (it was loaded by this pipeline), so Apply may change it.
	ready bool
}

// redisCatalogEntry is the JSON value of a view in the catalog hash.
type redisCatalogEntry struct {
	Schema     string          `json:"schema"`
	Name       string          `json:"name"`
	Columns    []catalogColumn `json:"columns"`
	Key        []string        `json:"key"`
	Definition string          `json:"definition,omitempty"`
}

// NewRedis returns a sink for cfg; it connects in Open.
func NewRedis(cfg RedisConfig) *Redis {
	cfg.EnsureDefaults()
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Redis{cfg: cfg, log: log.With("sink", cfg.Name)}
}

var (
	_ Sink      = (*Redis)(nil)
	_ Dumper    = (*Redis)(nil)
	_ Forgetter = (*Redis)(nil)
)

// Name implements Sink.
func (r *Redis) Name() string { return r.cfg.Name }

func (r *Redis) progressKey() string { return redisProgressKey(r.cfg.Prefix, r.pipeline) }
func (r *Redis) catalogKey() string  { return redisCatalogKey(r.cfg.Prefix, r.pipeline) }
func (r *Redis) ownersKey() string   { return redisOwnersKey(r.cfg.Prefix) }

func (r *Redis) newRedisView(v View) (*redisView, error) {
	seg := redisViewSegment(v.Name)
	rv := &redisView{
		View:      v,
		seg:       seg,
		rowPrefix: r.cfg.Prefix + seg + ":",
		keysKey:   redisKeysKey(r.cfg.Prefix, seg),
	}
	e := redisCatalogEntry{Schema: v.Name.Schema, Name: v.Name.Name, Definition: v.Definition}
	for _, c := range v.Columns {
		rv.catalog = append(rv.catalog, catalogColumn{
			Name: c.Name, Type: c.Type.String(), OID: uint32(c.Type.OID), Typmod: c.Type.Mod,
		})
	}
	for i, k := range v.Key {
		rv.catalog[k].Key = i + 1
		e.Key = append(e.Key, v.Columns[k].Name)
	}
	e.Columns = rv.catalog
	b, err := json.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("sink %s: encode catalog entry of view %s: %w", r.cfg.Name, v.Name, err)
	}
	rv.entry = string(b)
	return rv, nil
}

// connect returns a client for the configured DSN that answered PING.
func (r *Redis) connect(ctx context.Context) (*redis.Client, error) {
	opts, err := redis.ParseURL(r.cfg.DSN)
	if err != nil {
		return nil, fmt.Errorf("sink %s: parse redis DSN: %w", r.cfg.Name, err)
	}
	// No client-side retries: a retried EXEC may run on a new connection
	// without its WATCH. A failed command fails the step instead, and the
	// pipeline restarts from the progress (the Sink contract).
	opts.MaxRetries = -1
	c := redis.NewClient(opts)
	if err := c.Ping(ctx).Err(); err != nil {
		_ = c.Close()
		return nil, fmt.Errorf("sink %s: connect to redis %s: %w", r.cfg.Name, opts.Addr, err)
	}
	return c, nil
}

// Open implements Sink.
func (r *Redis) Open(ctx context.Context, pipeline string, views []View) (row.LSN, error) {
	if err := r.cfg.Validate(); err != nil {
		return 0, err
	}
	if pipeline == "" {
		return 0, fmt.Errorf("sink %s: open: pipeline name is empty", r.cfg.Name)
	}
	if err := validateViews(r.cfg.Name, views); err != nil {
		return 0, err
	}
	var errs []error
	for _, v := range views {
		if v.Key == nil {
			errs = append(errs, fmt.Errorf("sink %s: view %s has no unique key; the redis sink stores rows by key (add GROUP BY or DISTINCT, or select the primary key of every table)",
				r.cfg.Name, v.Name))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return 0, err
	}
	if r.client == nil {
		c, err := r.connect(ctx)
		if err != nil {
			return 0, err
		}
		r.client = c
		// Transactions in parts run on connections of their own, dialled
		// for each and closed after it (their WATCH or MULTI never reaches
		// another caller), without the client's read timeout: each
		// command gets it through its context instead, but EXEC, whose
		// deadline grows with the commands it runs (redisMulti).
		txOpts := *c.Options()
		txOpts.ReadTimeout = -1
		txOpts.ContextTimeoutEnabled = true
		r.txClient = redis.NewClient(&txOpts)
	}
	r.pipeline = pipeline
	r.views = make(map[row.TableName]*redisView, len(views))
	r.order = r.order[:0]
	for _, v := range views {
		rv, err := r.newRedisView(v)
		if err != nil {
			return 0, err
		}
		r.views[v.Name] = rv
		r.order = append(r.order, rv)
	}
	if err := r.checkOwned(ctx, r.client); err != nil {
		return 0, err
	}
	entries, err := r.client.HGetAll(ctx, r.catalogKey()).Result()
	if err != nil {
		return 0, fmt.Errorf("sink %s: read catalog %s: %w", r.cfg.Name, r.catalogKey(), err)
	}
	for _, v := range r.order {
		v.ready = false
		var e redisCatalogEntry
		if s, ok := entries[v.seg]; ok && json.Unmarshal([]byte(s), &e) == nil {
			// An entry we cannot read counts as other columns: Load rewrites it.
			v.ready = slices.Equal(e.Columns, v.catalog)
		}
	}
	lsn, err := r.Progress(ctx)
	if err != nil {
		return 0, err
	}
	r.warnIfNotDurable(ctx)
	r.log.Info("sink opened", "pipeline", pipeline, "views", len(views), "progress", lsn)
	return lsn, nil
}

// redisCmdable is what checkOwned needs: a client or a watching Tx.
type redisCmdable interface {
	HMGet(ctx context.Context, key string, fields ...string) *redis.SliceCmd
	Exists(ctx context.Context, keys ...string) *redis.IntCmd
}

// checkOwned refuses views whose keys belong to another pipeline, or exist
// without being recorded as loaded by ripple: the sink never overwrites or
// deletes rows it did not write (I6).
func (r *Redis) checkOwned(ctx context.Context, c redisCmdable) error {
	if len(r.order) == 0 {
		return nil
	}
	segs := make([]string, len(r.order))
	for i, v := range r.order {
		segs[i] = v.seg
	}
	owners, err := c.HMGet(ctx, r.ownersKey(), segs...).Result()
	if err != nil {
		return fmt.Errorf("sink %s: read view owners %s: %w", r.cfg.Name, r.ownersKey(), err)
	}
	var errs []error
	for i, v := range r.order {
		owner, _ := owners[i].(string)
		switch {
		case owner == r.pipeline:
		case owner != "":
			errs = append(errs, fmt.Errorf("sink %s: view %s (keys %s*) is kept by ripple pipeline %q, not %q; forget that pipeline or use another prefix",
				r.cfg.Name, v.Name, v.rowPrefix, owner, r.pipeline))
		default:
			n, err := c.Exists(ctx, v.keysKey).Result()
			if err != nil {
				return fmt.Errorf("sink %s: look up %s: %w", r.cfg.Name, v.keysKey, err)
			}
			if n > 0 {
				errs = append(errs, fmt.Errorf("sink %s: key %s exists and was not written by ripple pipeline %q; delete it, or use another prefix or view name",
					r.cfg.Name, v.keysKey, r.pipeline))
			}
		}
	}
	return errors.Join(errs...)
}

// warnIfNotDurable logs when the server's persistence settings let an
// acknowledged EXEC be lost in a crash. CONFIG is often disabled on
// managed services; then nothing is logged.
func (r *Redis) warnIfNotDurable(ctx context.Context) {
	cfg, err := r.client.ConfigGet(ctx, "append*").Result()
	if err != nil {
		r.log.Debug("cannot read redis persistence settings", "err", err)
		return
	}
	if cfg["appendonly"] != "yes" || cfg["appendfsync"] != "always" {
		r.log.Warn("redis does not fsync each transaction (appendonly yes, appendfsync always); a redis crash can lose steps already acknowledged to the source",
			"appendonly", cfg["appendonly"], "appendfsync", cfg["appendfsync"])
	}
}

// Progress implements Sink.
func (r *Redis) Progress(ctx context.Context) (row.LSN, error) {
	if r.client == nil {
		return 0, fmt.Errorf("sink %s: read progress: sink is not open", r.cfg.Name)
	}
	return r.readProgress(ctx, r.client)
}

func (r *Redis) readProgress(ctx context.Context, c interface {
	Get(ctx context.Context, key string) *redis.StringCmd
}) (row.LSN, error) {
	s, err := c.Get(ctx, r.progressKey()).Result()
	if errors.Is(err, redis.Nil) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("sink %s: read progress %s: %w", r.cfg.Name, r.progressKey(), err)
	}
	lsn, err := row.ParseLSN(s)
	if err != nil {
		return 0, fmt.Errorf("sink %s: read progress %s: %w", r.cfg.Name, r.progressKey(), err)
	}
	return lsn, nil
}

// redisRow is one row as the sink writes it.
type redisRow struct {
	row    row.Row
	key    string
	fields []any // name, value, ... of the non-NULL columns
}

func (v *redisView) encode(r row.Row) redisRow {
	rr := redisRow{row: r, key: string(appendRedisRowKey(nil, v.rowPrefix, v.Key, r))}
	for i, d := range r {
		if !d.IsNull() {
			rr.fields = append(rr.fields, v.Columns[i].Name, row.FormatText(d))
		}
	}
	return rr
}

// notUniqueError is the error for two rows of a step or load sharing a key.
func (r *Redis) notUniqueError(v *redisView, what string, u row.Update) error {
	names := make([]string, len(v.Key))
	for i, k := range v.Key {
		names[i] = row.QuoteIdent(v.Columns[k].Name)
	}
	return fmt.Errorf("sink %s: %s: view %s: row %s (weight %d) shares its key (%s) with another row; the view's key is not unique, which the redis sink needs",
		r.cfg.Name, what, v.Name, formatRow(u.Row), u.W, strings.Join(names, ", "))
}

// Load implements Sink. It deletes every row of every view (through their
// __keys sets), writes the new rows, the catalog entries, the ownership
// records and the progress in one MULTI/EXEC: a load in parts (BeginLoad)
// of each view's rows.
func (r *Redis) Load(ctx context.Context, lsn row.LSN, rows map[row.TableName][]row.Update) error {
	if r.client == nil {
		return fmt.Errorf("sink %s: load: sink is not open", r.cfg.Name)
	}
	// Every row is checked before anything is sent: a refused Load
	// touches nothing.
	what := "load at " + lsn.String()
	for name, us := range rows {
		v, ok := r.views[name]
		if !ok {
			return fmt.Errorf("sink %s: load: view %s is not one of the sink's views", r.cfg.Name, name)
		}
		if err := checkLoadRows(r.cfg.Name, v.View, us); err != nil {
			return err
		}
		seen := make(map[string]bool, len(us))
		for _, u := range us {
			k := string(appendRedisRowKey(nil, v.rowPrefix, v.Key, u.Row))
			if u.W != 1 || seen[k] {
				return r.notUniqueError(v, what, u)
			}
			seen[k] = true
		}
	}
	lp, err := r.BeginLoad(ctx, lsn)
	if err != nil {
		return err
	}
	defer lp.Abort()
	lp.(*redisLoad).checked = true
	for _, v := range r.order {
		if err := lp.Write(ctx, v.Name, rows[v.Name]); err != nil {
			return err
		}
	}
	return lp.Commit(ctx)
}

// queueChanges queues the writes of changes with do: each retracted row's
// hash and key-set entry removed, then the insertions.
func (r *Redis) queueChanges(do func(args ...any), changes []*redisChange) {
	for _, c := range changes {
		for chunk := range slices.Chunk(c.retract, redisBatch) {
			del := make([]any, 1, len(chunk)+1)
			srem := make([]any, 2, len(chunk)+2)
			del[0], srem[0], srem[1] = "DEL", "SREM", c.v.keysKey
			for _, rr := range chunk {
				del, srem = append(del, rr.key), append(srem, rr.key)
			}
			do(del...)
			do(srem...)
		}
		r.queueInsertions(do, c.v, c.insert)
	}
}

// queueInsertions queues the writes of rows of v with do: each row's hash
// replaced (DEL then HSET, so HSET never meets a key of another type) and
// its key added to the view's set. The rows' keys must be distinct. The commands are untyped so that they
// can also be queued one part at a time inside a MULTI, where each reply
// is QUEUED (see redisParts).
func (r *Redis) queueInsertions(do func(args ...any), v *redisView, rows []redisRow) {
	for chunk := range slices.Chunk(rows, redisBatch) {
		// One DEL for the chunk's keys (they are distinct): fewer
		// commands, and fewer replies in EXEC's answer.
		del := make([]any, 1, len(chunk)+1)
		del[0] = "DEL"
		for _, rr := range chunk {
			del = append(del, rr.key)
		}
		do(del...)
		for _, rr := range chunk {
			if len(rr.fields) > 0 {
				do(append([]any{"HSET", rr.key}, rr.fields...)...)
			}
		}
		sadd := make([]any, 2, len(chunk)+2)
		sadd[0], sadd[1] = "SADD", v.keysKey
		for _, rr := range chunk {
			sadd = append(sadd, rr.key)
		}
		do(sadd...)
	}
}

// watch runs fn on a transaction that WATCHes keys, and turns its outcome
// into the sink's error: ErrConcurrentWrite when EXEC found a watched key
// changed, fn's own errors unchanged (they are already the sink's).
func (r *Redis) watch(ctx context.Context, c *redis.Client, what string, fn func(*redis.Tx) error, keys ...string) error {
	var own error
	err := c.Watch(ctx, func(tx *redis.Tx) error {
		own = fn(tx)
		return own
	}, keys...)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, redis.TxFailedErr):
		return fmt.Errorf("sink %s: %s: %w", r.cfg.Name, what, ErrConcurrentWrite)
	case own != nil:
		return own
	}
	return fmt.Errorf("sink %s: %s: watch: %w", r.cfg.Name, what, err)
}

// exec queues commands with queue and runs them in MULTI/EXEC on tx. A
// failed EXEC of a watched transaction is returned as redis.TxFailedErr.
func (r *Redis) exec(ctx context.Context, tx *redis.Tx, what string, queue func(redis.Pipeliner)) error {
	_, err := tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
		queue(p)
		return nil
	})
	if err != nil && !errors.Is(err, redis.TxFailedErr) {
		return fmt.Errorf("sink %s: %s: exec: %w", r.cfg.Name, what, err)
	}
	return err
}

// redisChange is what one step does to one view.
type redisChange struct {
	v       *redisView
	retract []redisRow
	insert  []redisRow
}

// Apply implements Sink.
func (r *Redis) Apply(ctx context.Context, step Step) error {
	if r.client == nil {
		return fmt.Errorf("sink %s: apply: sink is not open", r.cfg.Name)
	}
	what := "apply step " + step.LSN.String()
	changes, err := r.plan(what, step)
	if err != nil {
		return err
	}
	watch := []string{r.progressKey()}
	for _, c := range changes {
		watch = append(watch, c.v.keysKey)
	}
	skipped := false
	err = r.watch(ctx, r.client, what, func(tx *redis.Tx) error {
		cur, err := r.readProgress(ctx, tx)
		if err != nil {
			return err
		}
		if step.Applied(cur) {
			r.log.Debug("step already applied; skipped", "lsn", step.LSN, "progress", cur)
			skipped = true
			return nil // Tx.Close sends UNWATCH (I3)
		}
		if err := r.checkHeld(ctx, tx, what, changes); err != nil {
			return err
		}
		return r.exec(ctx, tx, what, func(p redis.Pipeliner) {
			r.queueChanges(func(args ...any) { p.Do(ctx, args...) }, changes)
			p.Set(ctx, r.progressKey(), step.LSN.String(), 0)
		})
	}, watch...)
	if err != nil {
		return err
	}
	if !skipped {
		r.log.Debug("step applied", "lsn", step.LSN, "views", len(changes))
	}
	return nil
}

// plan checks a step against the views and groups its rows by view:
// retractions and insertions of weight 1, at most one of each per key.
func (r *Redis) plan(what string, step Step) ([]*redisChange, error) {
	var changes []*redisChange
	byView := make(map[row.TableName]*redisChange)
	type seen struct{ retract, insert bool }
	keys := make(map[row.TableName]map[string]*seen)
	for _, d := range step.Deltas {
		v, ok := r.views[d.View]
		if !ok {
			return nil, fmt.Errorf("sink %s: %s: view %s is not one of the sink's views", r.cfg.Name, what, d.View)
		}
		if !v.ready {
			return nil, fmt.Errorf("sink %s: %s: view %s has not been loaded into this sink (no catalog entry with its columns); a Load is needed",
				r.cfg.Name, what, d.View)
		}
		if err := checkDelta(r.cfg.Name, v.View, d); err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		c := byView[d.View]
		if c == nil {
			c = &redisChange{v: v}
			byView[d.View] = c
			changes = append(changes, c)
			keys[d.View] = make(map[string]*seen)
		}
		for _, u := range d.Rows {
			rr := v.encode(u.Row)
			s := keys[d.View][rr.key]
			if s == nil {
				s = &seen{}
				keys[d.View][rr.key] = s
			}
			switch {
			case u.W == -1 && !s.retract:
				s.retract = true
				c.retract = append(c.retract, rr)
			case u.W == 1 && !s.insert:
				s.insert = true
				c.insert = append(c.insert, rr)
			default:
				return nil, r.notUniqueError(v, what, u)
			}
		}
	}
	return changes, nil
}

// checkHeld checks, under WATCH, that every retracted key is in its view's
// set and that no inserted key is unless the step also retracts it. It also
// fails on a key set of the wrong type, before anything is queued.
func (r *Redis) checkHeld(ctx context.Context, tx redis.Cmdable, what string, changes []*redisChange) error {
	held, err := r.lookupHeld(ctx, tx, what, changes)
	if err != nil {
		return err
	}
	return r.verifyHeld(what, changes, held)
}

// lookupHeld reads which keys of changes their views' key sets hold.
func (r *Redis) lookupHeld(ctx context.Context, c redis.Cmdable, what string, changes []*redisChange) (map[*redisChange]map[string]bool, error) {
	type probe struct {
		c   *redisChange
		rrs []redisRow
		cmd *redis.BoolSliceCmd
	}
	var probes []probe
	_, err := c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, c := range changes {
			all := append(slices.Clip(c.retract), c.insert...)
			for chunk := range slices.Chunk(all, redisBatch) {
				members := make([]any, len(chunk))
				for i, rr := range chunk {
					members[i] = rr.key
				}
				probes = append(probes, probe{c: c, rrs: chunk, cmd: p.SMIsMember(ctx, c.v.keysKey, members...)})
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("sink %s: %s: look up row keys: %w", r.cfg.Name, what, err)
	}
	held := make(map[*redisChange]map[string]bool, len(changes))
	for _, c := range changes {
		held[c] = make(map[string]bool)
	}
	for _, pr := range probes {
		for i, ok := range pr.cmd.Val() {
			if ok {
				held[pr.c][pr.rrs[i].key] = true
			}
		}
	}
	return held, nil
}

// verifyHeld checks changes against held, the keys their views hold
// before them.
func (r *Redis) verifyHeld(what string, changes []*redisChange, held map[*redisChange]map[string]bool) error {
	for _, c := range changes {
		retracted := make(map[string]bool, len(c.retract))
		for _, rr := range c.retract {
			if !held[c][rr.key] {
				return fmt.Errorf("sink %s: %s to view %s: retract row %s: key %q is not held: %w",
					r.cfg.Name, what, c.v.Name, formatRow(rr.row), rr.key, ErrOutOfSync)
			}
			retracted[rr.key] = true
		}
		for _, rr := range c.insert {
			if held[c][rr.key] && !retracted[rr.key] {
				return fmt.Errorf("sink %s: %s to view %s: insert row %s: key %q is already held (the view's key is not unique, or the sink is out of sync): %w",
					r.cfg.Name, what, c.v.Name, formatRow(rr.row), rr.key, ErrOutOfSync)
			}
		}
	}
	return nil
}

// Close implements Sink.
func (r *Redis) Close() error {
	if r.client == nil {
		return nil
	}
	err := errors.Join(r.client.Close(), r.txClient.Close())
	r.client, r.txClient = nil, nil
	if err != nil {
		return fmt.Errorf("sink %s: close: %w", r.cfg.Name, err)
	}
	return nil
}
