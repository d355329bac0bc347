package sink

import (
	"bytes"
	"context"
	"errors"
	"maps"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/rippledb/ripple/internal/redistest"
	"github.com/rippledb/ripple/internal/row"
)

func redisDSN(addr string) string { return "redis://" + addr + "/0" }

// openRedis opens a Redis sink on addr for pipeline, closed at cleanup.
func openRedis(t *testing.T, addr, pipeline string, views ...View) (*Redis, row.LSN) {
	t.Helper()
	s := NewRedis(RedisConfig{Name: "cache", DSN: redisDSN(addr)})
	lsn, err := s.Open(context.Background(), pipeline, views)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s, lsn
}

// redisClient is a plain client for looking at what the sink wrote.
func redisClient(t *testing.T, addr string) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { c.Close() })
	return c
}

// redisDumpLines returns the sink's Dump of view as sorted lines.
func redisDumpLines(t *testing.T, d Dumper, view row.TableName) []string {
	t.Helper()
	var b bytes.Buffer
	if err := d.Dump(context.Background(), view, &b); err != nil {
		t.Fatalf("dump %s: %v", view, err)
	}
	return redisSortedLines(b.Bytes())
}

// redisCopyLines is the Dump the multiset us should give.
func redisCopyLines(us []row.Update) []string {
	var buf []byte
	for _, u := range us {
		for range u.W {
			buf = appendCopyRow(buf, u.Row)
		}
	}
	return redisSortedLines(buf)
}

func redisSortedLines(b []byte) []string {
	if len(b) == 0 {
		return nil
	}
	lines := strings.SplitAfter(string(b), "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	slices.Sort(lines)
	return lines
}

func redisCheckDump(t *testing.T, d Dumper, view row.TableName, want []row.Update) {
	t.Helper()
	got, exp := redisDumpLines(t, d, view), redisCopyLines(want)
	if !slices.Equal(got, exp) {
		t.Fatalf("dump of %s:\n got %d rows %q\nwant %d rows %q", view, len(got), got, len(exp), exp)
	}
}

func redisNegate(us []row.Update) []row.Update {
	out := make([]row.Update, len(us))
	for i, u := range us {
		out[i] = row.Update{Row: u.Row, W: -u.W}
	}
	return out
}

func TestRedisAllTypesRoundTrip(t *testing.T) {
	addr := redistest.Start(t)
	for i, tc := range []struct {
		name string
		key  []int
	}{
		{"keyed by int8", []int{2}},
		{"keyed by text and json", []int{9, 19}},
		{"keyed by float, numeric, timestamptz and bytea", []int{6, 4, 17, 21}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			v, rows := allTypesView(t, row.TableName{Schema: "Data", Name: "all types"}, tc.key)
			pipeline := "p" + strconv.Itoa(i)
			// Each subtest its own prefix: the view name is the same.
			s := NewRedis(RedisConfig{Name: "cache", DSN: redisDSN(addr), Prefix: pipeline + ":"})
			t.Cleanup(func() { s.Close() })
			if lsn, err := s.Open(ctx, pipeline, []View{v}); err != nil || lsn != 0 {
				t.Fatalf("open = %s, %v; want 0/0", lsn, err)
			}
			if err := s.Load(ctx, 10, map[row.TableName][]row.Update{v.Name: rows}); err != nil {
				t.Fatalf("load: %v", err)
			}
			redisCheckDump(t, s, v.Name, rows)

			// The documented layout: one hash per row, canonical text,
			// NULL columns absent.
			c := redisClient(t, addr)
			rv := s.views[v.Name]
			for _, u := range rows {
				key := string(appendRedisRowKey(nil, rv.rowPrefix, v.Key, u.Row))
				got, err := c.HGetAll(ctx, key).Result()
				if err != nil {
					t.Fatal(err)
				}
				want := map[string]string{}
				for j, d := range u.Row {
					if !d.IsNull() {
						want[v.Columns[j].Name] = row.FormatText(d)
					}
				}
				if !maps.Equal(got, want) {
					t.Fatalf("hash %q = %v, want %v", key, got, want)
				}
			}

			if err := s.Apply(ctx, Step{LSN: 20, Deltas: []Delta{{View: v.Name, Rows: redisNegate(rows)}}}); err != nil {
				t.Fatalf("apply retractions: %v", err)
			}
			redisCheckDump(t, s, v.Name, nil)
			if n, _ := c.Exists(ctx, rv.keysKey).Result(); n != 0 {
				t.Fatalf("key set %s still exists after every row was retracted", rv.keysKey)
			}
			if err := s.Apply(ctx, Step{LSN: 30, Deltas: []Delta{{View: v.Name, Rows: rows}}}); err != nil {
				t.Fatalf("apply insertions: %v", err)
			}
			redisCheckDump(t, s, v.Name, rows)

			// An update that keeps the key: -old, +new in one delta.
			upd := slices.Clone(rows[0].Row)
			upd[0] = row.NewInt(7)
			step := Step{LSN: 40, Deltas: []Delta{{View: v.Name, Rows: []row.Update{{Row: upd, W: 1}, {Row: rows[0].Row, W: -1}}}}}
			if err := s.Apply(ctx, step); err != nil {
				t.Fatalf("apply update: %v", err)
			}
			want := append([]row.Update{{Row: upd, W: 1}}, rows[1:]...)
			redisCheckDump(t, s, v.Name, want)

			// Contents and progress survive a restart.
			s.Close()
			s2 := NewRedis(RedisConfig{Name: "cache", DSN: redisDSN(addr), Prefix: pipeline + ":"})
			t.Cleanup(func() { s2.Close() })
			if lsn, err := s2.Open(ctx, pipeline, []View{v}); err != nil || lsn != 40 {
				t.Fatalf("reopen = %s, %v; want 0/28", lsn, err)
			}
			redisCheckDump(t, s2, v.Name, want)
			if err := s2.Apply(ctx, Step{LSN: 50, Deltas: []Delta{{View: v.Name, Rows: redisNegate(want[:1])}}}); err != nil {
				t.Fatalf("apply after reopen: %v", err)
			}
			redisCheckDump(t, s2, v.Name, want[1:])
		})
	}
}

func TestRedisKeyLayout(t *testing.T) {
	addr := redistest.Start(t)
	ctx := context.Background()
	text := func(s string) row.Datum { return row.NewText(s) }
	kv := View{
		Name:    row.TableName{Schema: "public", Name: "kv"},
		Columns: row.Schema{{Name: "a", Type: row.Text}, {Name: "b", Type: row.Text}, {Name: "n", Type: row.Int4}},
		Key:     []int{0, 1},
	}
	odd := View{
		Name:    row.TableName{Schema: "we.ird", Name: `x:y\z`},
		Columns: row.Schema{{Name: "k", Type: row.Text}},
		Key:     []int{0},
	}
	for _, tc := range []struct {
		view View
		row  row.Row
		key  string
	}{
		{kv, row.Row{text("a:b"), text("c"), row.NewInt(1)}, `c/public.kv:a\:b:c`},
		{kv, row.Row{text("a"), text("b:c"), row.NewInt(2)}, `c/public.kv:a:b\:c`},
		{kv, row.Row{text(`a\`), text(":b"), row.NewInt(3)}, `c/public.kv:a\\:\:b`},
		{kv, row.Row{text(`a`), text(`\:b`), row.NewInt(4)}, `c/public.kv:a:\\\:b`},
		{kv, row.Row{row.Null, text("x"), row.NewInt(5)}, `c/public.kv:\N:x`},
		{kv, row.Row{text(`\N`), text("x"), row.Null}, `c/public.kv:\\N:x`},
		{kv, row.Row{text("N"), text("x"), row.Null}, `c/public.kv:N:x`},
		{kv, row.Row{text(""), text(""), row.Null}, `c/public.kv::`},
		{kv, row.Row{row.Null, row.Null, row.Null}, `c/public.kv:\N:\N`},
		{kv, row.Row{text("_x"), text("_y"), row.Null}, `c/public.kv:\_x:_y`},
		{odd, row.Row{text("__keys")}, `c/we\.ird.x\:y\\z:\__keys`},
		{odd, row.Row{text("keys")}, `c/we\.ird.x\:y\\z:keys`},
		{odd, row.Row{text("")}, `c/we\.ird.x\:y\\z:`},
	} {
		if got := string(appendRedisRowKey(nil, "c/"+redisViewSegment(tc.view.Name)+":", tc.view.Key, tc.row)); got != tc.key {
			t.Errorf("key of %s in %s = %q, want %q", formatRow(tc.row), tc.view.Name, got, tc.key)
		}
	}
	if t.Failed() {
		return
	}

	s := NewRedis(RedisConfig{Name: "cache", DSN: redisDSN(addr), Prefix: "c/"})
	t.Cleanup(func() { s.Close() })
	if _, err := s.Open(ctx, "p", []View{kv, odd}); err != nil {
		t.Fatal(err)
	}
	kvRows := []row.Update{
		{Row: row.Row{text("a:b"), text("c"), row.NewInt(1)}, W: 1},
		{Row: row.Row{text("a"), text("b:c"), row.NewInt(2)}, W: 1},
		{Row: row.Row{text(`a\`), text(":b"), row.NewInt(3)}, W: 1},
		{Row: row.Row{text(`a\`), text(`\:b`), row.NewInt(4)}, W: 1},
		{Row: row.Row{row.Null, text("x"), row.NewInt(5)}, W: 1},
		{Row: row.Row{text(`\N`), text("x"), row.Null}, W: 1},
		{Row: row.Row{text(""), text(""), row.Null}, W: 1},
		{Row: row.Row{row.Null, row.Null, row.Null}, W: 1},
	}
	oddRows := []row.Update{{Row: row.Row{text("__keys")}, W: 1}, {Row: row.Row{text("")}, W: 1}, {Row: row.Row{row.Null}, W: 1}}
	if err := s.Load(ctx, 5, map[row.TableName][]row.Update{kv.Name: kvRows, odd.Name: oddRows}); err != nil {
		t.Fatalf("load: %v", err)
	}
	redisCheckDump(t, s, kv.Name, kvRows)
	redisCheckDump(t, s, odd.Name, oddRows)

	c := redisClient(t, addr)
	keys, err := c.Keys(ctx, "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(keys)
	// The all-NULL row has no hash, only its place in the key set.
	want := []string{
		`c/__owners`, `c/__progress:p`, `c/__views:p`,
		`c/public.kv::`, `c/public.kv:\\N:x`, `c/public.kv:\N:x`, `c/public.kv:__keys`,
		`c/public.kv:a:b\:c`, `c/public.kv:a\:b:c`, `c/public.kv:a\\:\:b`, `c/public.kv:a\\:\\\:b`,
		`c/we\.ird.x\:y\\z:`, `c/we\.ird.x\:y\\z:\__keys`, `c/we\.ird.x\:y\\z:__keys`,
	}
	slices.Sort(want)
	if !slices.Equal(keys, want) {
		t.Fatalf("keys:\n got %q\nwant %q", keys, want)
	}
	if got, _ := c.Get(ctx, "c/__progress:p").Result(); got != "0/5" {
		t.Fatalf("progress key = %q, want 0/5", got)
	}
	if n, _ := c.SCard(ctx, `c/public.kv:__keys`).Result(); n != int64(len(kvRows)) {
		t.Fatalf("key set holds %d keys, want %d", n, len(kvRows))
	}
	entry, _ := c.HGet(ctx, "c/__views:p", "public.kv").Result()
	if !strings.Contains(entry, `"key":["a","b"]`) || !strings.Contains(entry, `"name":"n","type":"integer"`) {
		t.Fatalf("catalog entry = %s", entry)
	}

	// Retract each row on its own; the others stay.
	for i, u := range kvRows {
		if err := s.Apply(ctx, Step{LSN: row.LSN(10 + i), Deltas: []Delta{{View: kv.Name, Rows: redisNegate([]row.Update{u})}}}); err != nil {
			t.Fatalf("retract %s: %v", formatRow(u.Row), err)
		}
		redisCheckDump(t, s, kv.Name, kvRows[i+1:])
	}
	if err := s.Apply(ctx, Step{LSN: 100, Deltas: []Delta{{View: odd.Name, Rows: redisNegate(oddRows[:1])}}}); err != nil {
		t.Fatal(err)
	}
	redisCheckDump(t, s, odd.Name, oddRows[1:])
}

func TestRedisSameKeyInOneStep(t *testing.T) {
	addr := redistest.Start(t)
	ctx := context.Background()
	v := View{
		Name:    row.TableName{Schema: "public", Name: "v"},
		Columns: row.Schema{{Name: "id", Type: row.Int8}, {Name: "a", Type: row.Text}, {Name: "b", Type: row.Text}},
		Key:     []int{0},
	}
	r := func(id int64, a, b string) row.Row {
		out := row.Row{row.NewInt(id), row.Null, row.Null}
		if a != "" {
			out[1] = row.NewText(a)
		}
		if b != "" {
			out[2] = row.NewText(b)
		}
		return out
	}
	s, _ := openRedis(t, addr, "p", v)
	if err := s.Apply(ctx, Step{LSN: 5, Deltas: []Delta{{View: v.Name, Rows: []row.Update{{Row: r(1, "x", ""), W: 1}}}}}); err == nil ||
		!strings.Contains(err.Error(), "a Load is needed") {
		t.Fatalf("apply before load = %v, want an error asking for a load", err)
	}
	if err := s.Load(ctx, 10, map[row.TableName][]row.Update{v.Name: {{Row: r(1, "x", "y"), W: 1}, {Row: r(2, "q", ""), W: 1}}}); err != nil {
		t.Fatal(err)
	}
	c := redisClient(t, addr)
	hash := func(id int) map[string]string {
		t.Helper()
		m, err := c.HGetAll(ctx, "ripple:public.v:"+strconv.Itoa(id)).Result()
		if err != nil {
			t.Fatal(err)
		}
		return m
	}

	// The insertion listed before the retraction of the same key: the
	// step still ends as the insertion, and the dropped column is gone.
	step := Step{LSN: 11, Deltas: []Delta{{View: v.Name, Rows: []row.Update{{Row: r(1, "z", ""), W: 1}, {Row: r(1, "x", "y"), W: -1}}}}}
	if err := s.Apply(ctx, step); err != nil {
		t.Fatal(err)
	}
	if got, want := hash(1), map[string]string{"id": "1", "a": "z"}; !maps.Equal(got, want) {
		t.Fatalf("row 1 = %v, want %v", got, want)
	}
	// Key change, and a row whose non-key columns are all NULL.
	step = Step{LSN: 12, Deltas: []Delta{
		{View: v.Name, Rows: []row.Update{{Row: r(1, "z", ""), W: -1}, {Row: r(3, "z", ""), W: 1}}},
		{View: v.Name, Rows: []row.Update{{Row: r(2, "q", ""), W: -1}, {Row: r(2, "", ""), W: 1}}},
	}}
	if err := s.Apply(ctx, step); err != nil {
		t.Fatal(err)
	}
	good := []row.Update{{Row: r(3, "z", ""), W: 1}, {Row: r(2, "", ""), W: 1}}
	redisCheckDump(t, s, v.Name, good)

	// Refused steps change nothing, progress included.
	for _, tc := range []struct {
		name    string
		rows    []row.Update
		wantErr error
		msg     string
	}{
		{"weight 2", []row.Update{{Row: r(4, "a", ""), W: 2}}, nil, "not unique"},
		{"two insertions of one key", []row.Update{{Row: r(4, "a", ""), W: 1}, {Row: r(4, "b", ""), W: 1}}, nil, "not unique"},
		{"two retractions of one key", []row.Update{{Row: r(3, "z", ""), W: -1}, {Row: r(3, "y", ""), W: -1}}, nil, "not unique"},
		{"insertion of a held key", []row.Update{{Row: r(5, "new", ""), W: 1}, {Row: r(3, "other", ""), W: 1}}, ErrOutOfSync, "already held"},
		{"retraction of a missing key", []row.Update{{Row: r(5, "new", ""), W: 1}, {Row: r(9, "gone", ""), W: -1}}, ErrOutOfSync, "is not held"},
	} {
		err := s.Apply(ctx, Step{LSN: 13, Deltas: []Delta{{View: v.Name, Rows: tc.rows}}})
		if err == nil || !strings.Contains(err.Error(), tc.msg) || (tc.wantErr != nil && !errors.Is(err, tc.wantErr)) {
			t.Fatalf("%s: apply = %v, want an error saying %q", tc.name, err, tc.msg)
		}
		redisCheckDump(t, s, v.Name, good)
		if lsn, _ := s.Progress(ctx); lsn != 12 {
			t.Fatalf("%s: progress = %s, want 0/C", tc.name, lsn)
		}
	}
	if err := s.Load(ctx, 20, map[row.TableName][]row.Update{v.Name: {{Row: r(1, "a", ""), W: 1}, {Row: r(1, "b", ""), W: 1}}}); err == nil ||
		!strings.Contains(err.Error(), "not unique") {
		t.Fatalf("load with a duplicate key = %v, want an error", err)
	}
	redisCheckDump(t, s, v.Name, good)
}

func TestRedisSkipsAppliedSteps(t *testing.T) {
	addr := redistest.Start(t)
	ctx := context.Background()
	v := View{Name: row.TableName{Schema: "public", Name: "v"}, Columns: row.Schema{{Name: "id", Type: row.Int4}}, Key: []int{0}}
	ins := func(lsn row.LSN, id int64) Step {
		return Step{LSN: lsn, Deltas: []Delta{{View: v.Name, Rows: []row.Update{{Row: row.Row{row.NewInt(id)}, W: 1}}}}}
	}
	s, _ := openRedis(t, addr, "p", v)
	if err := s.Load(ctx, 10, map[row.TableName][]row.Update{v.Name: {{Row: row.Row{row.NewInt(1)}, W: 1}}}); err != nil {
		t.Fatal(err)
	}
	// At or below the progress: skipped, even though applying them would
	// fail (key 1 is held).
	for _, step := range []Step{ins(5, 1), ins(10, 1)} {
		if err := s.Apply(ctx, step); err != nil {
			t.Fatalf("apply %s: %v", step.LSN, err)
		}
	}
	if err := s.Apply(ctx, ins(11, 2)); err != nil {
		t.Fatal(err)
	}
	want := []row.Update{{Row: row.Row{row.NewInt(1)}, W: 1}, {Row: row.Row{row.NewInt(2)}, W: 1}}
	redisCheckDump(t, s, v.Name, want)

	// A restarted engine replays from an older position: nothing doubles.
	s.Close()
	s2, lsn := openRedis(t, addr, "p", v)
	if lsn != 11 {
		t.Fatalf("reopened progress = %s, want 0/B", lsn)
	}
	for _, step := range []Step{ins(11, 2), ins(12, 3), ins(12, 3)} {
		if err := s2.Apply(ctx, step); err != nil {
			t.Fatalf("apply %s after restart: %v", step.LSN, err)
		}
	}
	redisCheckDump(t, s2, v.Name, append(want, row.Update{Row: row.Row{row.NewInt(3)}, W: 1}))
	if lsn, _ := s2.Progress(ctx); lsn != 12 {
		t.Fatalf("progress = %s, want 0/C", lsn)
	}
}

// redisConcurrentHook changes the progress key from another client right after
// the sink's first pipelined read inside its transaction, as another
// writer would.
type redisConcurrentHook struct {
	other *redis.Client
	key   string
	once  sync.Once
}

func (h *redisConcurrentHook) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *redisConcurrentHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return next
}

func (h *redisConcurrentHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		err := next(ctx, cmds)
		if len(cmds) > 0 && cmds[0].Name() == "smismember" {
			h.once.Do(func() { h.other.Set(ctx, h.key, "0/FF", 0) })
		}
		return err
	}
}

func TestRedisConcurrentWriterFails(t *testing.T) {
	addr := redistest.Start(t)
	ctx := context.Background()
	v := View{Name: row.TableName{Schema: "public", Name: "v"}, Columns: row.Schema{{Name: "id", Type: row.Int4}}, Key: []int{0}}
	s, _ := openRedis(t, addr, "p", v)
	if err := s.Load(ctx, 10, nil); err != nil {
		t.Fatal(err)
	}
	s.client.AddHook(&redisConcurrentHook{other: redisClient(t, addr), key: s.progressKey()})
	err := s.Apply(ctx, Step{LSN: 11, Deltas: []Delta{{View: v.Name, Rows: []row.Update{{Row: row.Row{row.NewInt(1)}, W: 1}}}}})
	if !errors.Is(err, ErrConcurrentWrite) || !strings.Contains(err.Error(), "is another ripple writing to this sink?") {
		t.Fatalf("apply = %v, want ErrConcurrentWrite", err)
	}
	redisCheckDump(t, s, v.Name, nil)
	if lsn, _ := s.Progress(ctx); lsn != 0xFF {
		t.Fatalf("progress = %s, want the other writer's 0/FF", lsn)
	}
}

// TestRedisReadersNeverSeeHalfAStep applies steps that change two views
// together (accounts, and a summary of their balances) while readers check
// that the summary matches the accounts: one with a server-side script
// (atomic, like any single command), one with plain commands that trusts
// a snapshot only when the progress key is the same before and after it.
func TestRedisReadersNeverSeeHalfAStep(t *testing.T) {
	addr := redistest.Start(t)
	ctx := context.Background()
	accounts := View{
		Name:    row.TableName{Schema: "bank", Name: "accounts"},
		Columns: row.Schema{{Name: "id", Type: row.Int4}, {Name: "balance", Type: row.Int8}},
		Key:     []int{0},
	}
	summary := View{
		Name:    row.TableName{Schema: "bank", Name: "summary"},
		Columns: row.Schema{{Name: "k", Type: row.Int4}, {Name: "total", Type: row.Int8}, {Name: "n", Type: row.Int8}},
		Key:     []int{0},
	}
	s, _ := openRedis(t, addr, "p", accounts, summary)
	acct := func(id int, bal int64) row.Row { return row.Row{row.NewInt(int64(id)), row.NewInt(bal)} }
	sum := func(total, n int64) row.Row { return row.Row{row.NewInt(1), row.NewInt(total), row.NewInt(n)} }
	bal := map[int]int64{1: 100, 2: 50}
	load := []row.Update{{Row: acct(1, 100), W: 1}, {Row: acct(2, 50), W: 1}}
	if err := s.Load(ctx, 1, map[row.TableName][]row.Update{accounts.Name: load, summary.Name: {{Row: sum(150, 2), W: 1}}}); err != nil {
		t.Fatal(err)
	}

	const script = `
local total, n = 0, 0
for _, k in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  total = total + tonumber(redis.call('HGET', k, 'balance'))
  n = n + 1
end
local s = redis.call('HMGET', KEYS[2], 'total', 'n')
return {total, n, tonumber(s[1]), tonumber(s[2])}`
	keysKey := s.views[accounts.Name].keysKey
	summaryKey := string(appendRedisRowKey(nil, s.views[summary.Name].rowPrefix, summary.Key, sum(0, 0)))
	progressKey := s.progressKey()

	done := make(chan struct{})
	var wg sync.WaitGroup
	// Readers stop before the test ends, also when it fails.
	stop := sync.OnceFunc(func() { close(done); wg.Wait() })
	defer stop()
	var atomicReads, plainReads int
	wg.Go(func() {
		c := redisClient(t, addr)
		for last := false; !last; {
			select {
			case <-done:
				last = true
			default:
			}
			v, err := c.Eval(ctx, script, []string{keysKey, summaryKey}).Int64Slice()
			if err != nil {
				t.Errorf("script: %v", err)
				return
			}
			if v[0] != v[2] || v[1] != v[3] {
				t.Errorf("script saw accounts total %d over %d accounts, summary %d over %d", v[0], v[1], v[2], v[3])
				return
			}
			atomicReads++
		}
	})
	wg.Go(func() {
		c := redisClient(t, addr)
		for last := false; !last; {
			select {
			case <-done:
				last = true
			default:
			}
			before, err := c.Get(ctx, progressKey).Result()
			if err != nil {
				t.Errorf("read progress: %v", err)
				return
			}
			keys, err := c.SMembers(ctx, keysKey).Result()
			if err != nil {
				t.Errorf("read keys: %v", err)
				return
			}
			var total int64
			for _, k := range keys {
				b, _ := c.HGet(ctx, k, "balance").Int64()
				total += b
			}
			st, _ := c.HGet(ctx, summaryKey, "total").Int64()
			sn, _ := c.HGet(ctx, summaryKey, "n").Int64()
			if after, _ := c.Get(ctx, progressKey).Result(); after != before {
				continue // a step committed while reading: not a snapshot
			}
			if total != st || int64(len(keys)) != sn {
				t.Errorf("at %s: accounts total %d over %d accounts, summary %d over %d", before, total, len(keys), st, sn)
				return
			}
			plainReads++
		}
	})

	total, next := int64(150), 3
	for i := range 400 {
		oldTotal, oldN := total, int64(len(bal))
		ids := slices.Sorted(maps.Keys(bal))
		id := ids[i%len(ids)]
		var rows []row.Update
		switch {
		case i%7 == 3: // open an account
			bal[next] = int64(i)
			rows = []row.Update{{Row: acct(next, int64(i)), W: 1}}
			total += int64(i)
			next++
		case i%11 == 5 && len(ids) > 1: // close one
			rows = []row.Update{{Row: acct(id, bal[id]), W: -1}}
			total -= bal[id]
			delete(bal, id)
		default: // deposit
			rows = []row.Update{{Row: acct(id, bal[id]), W: -1}, {Row: acct(id, bal[id]+int64(i)+1), W: 1}}
			bal[id] += int64(i) + 1
			total += int64(i) + 1
		}
		step := Step{LSN: row.LSN(i + 2), Deltas: []Delta{
			{View: accounts.Name, Rows: rows},
			{View: summary.Name, Rows: []row.Update{{Row: sum(oldTotal, oldN), W: -1}, {Row: sum(total, int64(len(bal))), W: 1}}},
		}}
		if err := s.Apply(ctx, step); err != nil {
			t.Fatalf("apply step %d: %v", i, err)
		}
	}
	stop()
	if t.Failed() {
		return
	}
	if atomicReads == 0 {
		t.Fatal("the script reader read nothing")
	}
	t.Logf("checked %d atomic and %d plain snapshots", atomicReads, plainReads)
	var want []row.Update
	for id, b := range bal {
		want = append(want, row.Update{Row: acct(id, b), W: 1})
	}
	redisCheckDump(t, s, accounts.Name, want)
	redisCheckDump(t, s, summary.Name, []row.Update{{Row: sum(total, int64(len(bal))), W: 1}})
}

func TestRedisKeylessViewRefused(t *testing.T) {
	addr := redistest.Start(t)
	keyed := View{Name: row.TableName{Schema: "public", Name: "k"}, Columns: row.Schema{{Name: "a", Type: row.Int4}}, Key: []int{0}}
	v := View{Name: row.TableName{Schema: "public", Name: "v"}, Columns: row.Schema{{Name: "a", Type: row.Int4}}}
	w := View{Name: row.TableName{Schema: "Big", Name: "w"}, Columns: row.Schema{{Name: "a", Type: row.Int4}}}
	s := NewRedis(RedisConfig{Name: "cache", DSN: redisDSN(addr)})
	t.Cleanup(func() { s.Close() })
	_, err := s.Open(context.Background(), "p", []View{keyed, v, w})
	want := `sink cache: view public.v has no unique key; the redis sink stores rows by key (add GROUP BY or DISTINCT, or select the primary key of every table)
sink cache: view "Big".w has no unique key; the redis sink stores rows by key (add GROUP BY or DISTINCT, or select the primary key of every table)`
	if err == nil || err.Error() != want {
		t.Fatalf("open = %v, want\n%s", err, want)
	}
}

func TestRedisBadConfig(t *testing.T) {
	free, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	unreachable := free.Addr().String()
	free.Close()
	v := View{Name: row.TableName{Schema: "public", Name: "k"}, Columns: row.Schema{{Name: "a", Type: row.Int4}}, Key: []int{0}}
	for _, tc := range []struct {
		cfg  RedisConfig
		want string
	}{
		{RedisConfig{}, "needs a name"},
		{RedisConfig{Name: "cache"}, "sink cache: redis sink needs a DSN"},
		{RedisConfig{Name: "cache", DSN: "postgres://x"}, "sink cache: parse redis DSN"},
		{RedisConfig{Name: "cache", DSN: redisDSN(unreachable)}, "sink cache: connect to redis " + unreachable},
	} {
		s := NewRedis(tc.cfg)
		_, err := s.Open(context.Background(), "p", []View{v})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("open with %+v = %v, want %q", tc.cfg, err, tc.want)
		}
		s.Close()
	}
}

func TestRedisOwnershipAndForget(t *testing.T) {
	addr := redistest.Start(t)
	ctx := context.Background()
	c := redisClient(t, addr)
	a := View{Name: row.TableName{Schema: "public", Name: "a"}, Columns: row.Schema{{Name: "id", Type: row.Int4}}, Key: []int{0}}
	b := View{Name: row.TableName{Schema: "public", Name: "b"}, Columns: row.Schema{{Name: "id", Type: row.Int4}}, Key: []int{0}}
	rows := func(ids ...int64) []row.Update {
		var out []row.Update
		for _, id := range ids {
			out = append(out, row.Update{Row: row.Row{row.NewInt(id)}, W: 1})
		}
		return out
	}
	s1, _ := openRedis(t, addr, "p1", a)
	if err := s1.Load(ctx, 10, map[row.TableName][]row.Update{a.Name: rows(1, 2)}); err != nil {
		t.Fatal(err)
	}
	s2, _ := openRedis(t, addr, "p2", b)
	if err := s2.Load(ctx, 20, map[row.TableName][]row.Update{b.Name: rows(7)}); err != nil {
		t.Fatal(err)
	}

	// Another pipeline cannot take a view p1 keeps.
	s3 := NewRedis(RedisConfig{Name: "cache", DSN: redisDSN(addr)})
	t.Cleanup(func() { s3.Close() })
	if _, err := s3.Open(ctx, "p2", []View{a, b}); err == nil || !strings.Contains(err.Error(), `view public.a (keys ripple:public.a:*) is kept by ripple pipeline "p1", not "p2"`) {
		t.Fatalf("open of p1's view by p2 = %v", err)
	}
	// Nor keys written by someone else.
	if err := c.SAdd(ctx, "ripple:public.c:__keys", "x").Err(); err != nil {
		t.Fatal(err)
	}
	cv := View{Name: row.TableName{Schema: "public", Name: "c"}, Columns: row.Schema{{Name: "id", Type: row.Int4}}, Key: []int{0}}
	if _, err := s3.Open(ctx, "p3", []View{cv}); err == nil || !strings.Contains(err.Error(), "key ripple:public.c:__keys exists and was not written by ripple") {
		t.Fatalf("open of a foreign key set = %v", err)
	}

	all := func() []string {
		t.Helper()
		keys, err := c.Keys(ctx, "ripple:*").Result()
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(keys)
		return keys
	}
	// Forget without dropping: bookkeeping gone, rows kept but owned by
	// nobody, so p1 cannot silently take them back.
	f := NewRedis(RedisConfig{Name: "cache", DSN: redisDSN(addr)})
	if err := f.Forget(ctx, "p1", false); err != nil {
		t.Fatalf("forget p1: %v", err)
	}
	want := []string{"ripple:__owners", "ripple:__progress:p2", "ripple:__views:p2",
		"ripple:public.a:1", "ripple:public.a:2", "ripple:public.a:__keys",
		"ripple:public.b:7", "ripple:public.b:__keys", "ripple:public.c:__keys"}
	if got := all(); !slices.Equal(got, want) {
		t.Fatalf("keys after forgetting p1:\n got %q\nwant %q", got, want)
	}
	if _, err := s3.Open(ctx, "p1", []View{a}); err == nil || !strings.Contains(err.Error(), "exists and was not written by ripple pipeline") {
		t.Fatalf("reopen of a forgotten pipeline = %v", err)
	}
	// Forgetting p2 with its tables leaves nothing of it; forgetting an
	// unknown pipeline is a no-op.
	if err := f.Forget(ctx, "p2", true); err != nil {
		t.Fatalf("forget p2: %v", err)
	}
	if err := f.Forget(ctx, "nobody", true); err != nil {
		t.Fatalf("forget nobody: %v", err)
	}
	want = []string{"ripple:public.a:1", "ripple:public.a:2", "ripple:public.a:__keys", "ripple:public.c:__keys"}
	if got := all(); !slices.Equal(got, want) {
		t.Fatalf("keys after forgetting p2:\n got %q\nwant %q", got, want)
	}
	// An open sink forgets through its own connection, and may then load
	// afresh.
	c.Del(ctx, "ripple:public.a:1", "ripple:public.a:2", "ripple:public.a:__keys")
	s4, _ := openRedis(t, addr, "p4", a)
	if err := s4.Load(ctx, 30, map[row.TableName][]row.Update{a.Name: rows(5)}); err != nil {
		t.Fatal(err)
	}
	if err := s4.Forget(ctx, "p4", true); err != nil {
		t.Fatal(err)
	}
	if got := all(); !slices.Equal(got, []string{"ripple:public.c:__keys"}) {
		t.Fatalf("keys after forgetting p4: %q", got)
	}
}
