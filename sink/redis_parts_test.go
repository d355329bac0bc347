package sink

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/rippledb/ripple/internal/redistest"
	"github.com/rippledb/ripple/internal/row"
)

// TestRedisParts writes steps to a Redis sink in parts: nothing is visible
// to another client before the commit, a part is checked against what the
// parts before it did (which Redis has only queued), steps at or below the
// progress are skipped, an abort or a failing part leaves nothing, a
// concurrent writer fails the commit, and the record of parts never
// outlives its step (nor a crash, nor Forget).
func TestRedisParts(t *testing.T) {
	addr := redistest.Start(t)
	ctx := context.Background()
	v := View{
		Name:    row.TableName{Schema: "public", Name: "v"},
		Columns: row.Schema{{Name: "id", Type: row.Int8}, {Name: "a", Type: row.Text}},
		Key:     []int{0},
	}
	r := func(id int64, a string) row.Row { return row.Row{row.NewInt(id), row.NewText(a)} }
	ins := func(rows ...row.Row) []Delta {
		d := Delta{View: v.Name}
		for _, x := range rows {
			d.Rows = append(d.Rows, row.Update{Row: x, W: 1})
		}
		return []Delta{d}
	}
	upd := func(old, new row.Row) []Delta {
		return []Delta{{View: v.Name, Rows: []row.Update{{Row: old, W: -1}, {Row: new, W: 1}}}}
	}
	del := func(old row.Row) []Delta { return []Delta{{View: v.Name, Rows: []row.Update{{Row: old, W: -1}}}} }
	s, _ := openRedis(t, addr, "p", v)
	c := redisClient(t, addr)
	record := redisPartsKey(DefaultRedisPrefix, redisViewSegment(v.Name))
	noRecord := func(when string) {
		t.Helper()
		if n, err := c.Exists(ctx, record).Result(); err != nil || n != 0 {
			t.Fatalf("%s: the record of parts %s exists (%d, %v)", when, record, n, err)
		}
	}
	good := []row.Update{{Row: r(1, "one"), W: 1}, {Row: r(2, "two"), W: 1}}
	if err := s.Load(ctx, 10, map[row.TableName][]row.Update{v.Name: good}); err != nil {
		t.Fatal(err)
	}
	check := func(when string, lsn row.LSN) {
		t.Helper()
		redisCheckDump(t, s, v.Name, good)
		if got, err := s.Progress(ctx); err != nil || got != lsn {
			t.Fatalf("%s: progress %s (%v), want %s", when, got, err, lsn)
		}
	}
	begin := func(lsn row.LSN) Parts {
		t.Helper()
		p, err := s.BeginParts(ctx, Step{LSN: lsn})
		if err != nil || p == nil {
			t.Fatalf("begin parts at %s: %v, %v", lsn, p, err)
		}
		return p
	}
	write := func(p Parts, d []Delta) {
		t.Helper()
		if err := p.Write(ctx, d); err != nil {
			t.Fatal(err)
		}
	}

	// A key retracted and inserted again, and one inserted and then
	// retracted, in different parts: only the record of the earlier
	// parts makes them valid.
	p := begin(11)
	write(p, upd(r(1, "one"), r(3, "three")))
	write(p, ins(r(1, "uno"), r(4, "four")))
	if n, _ := c.Exists(ctx, record).Result(); n != 1 {
		t.Fatal("no record of the parts written so far")
	}
	write(p, del(r(3, "three")))
	check("before the commit", 10)
	if err := p.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	good = []row.Update{{Row: r(1, "uno"), W: 1}, {Row: r(2, "two"), W: 1}, {Row: r(4, "four"), W: 1}}
	check("after the commit", 11)
	noRecord("after the commit")

	// At or below the progress: skipped.
	for _, lsn := range []row.LSN{5, 11} {
		if p, err := s.BeginParts(ctx, Step{LSN: lsn}); err != nil || p != nil {
			t.Fatalf("begin parts at %s with progress 0/B: %v, %v; want it skipped", lsn, p, err)
		}
	}

	// Aborted: nothing of it stays, and the sink goes on.
	p = begin(12)
	write(p, ins(r(5, "five")))
	p.Abort()
	check("after an abort", 11)
	noRecord("after an abort")

	// Parts that contradict the sink or an earlier part fail, and the
	// step is over: a later Commit fails too.
	for _, tc := range []struct {
		name  string
		parts [][]Delta
		msg   string
	}{
		{"a held key inserted", [][]Delta{ins(r(6, "six")), ins(r(2, "dos"))}, "already held"},
		{"a key an earlier part inserted, inserted again", [][]Delta{ins(r(6, "six")), ins(r(6, "seis"))}, "already held"},
		{"a key an earlier part retracted, retracted again", [][]Delta{del(r(4, "four")), del(r(4, "four"))}, "is not held"},
		{"a missing key retracted", [][]Delta{ins(r(6, "six")), del(r(9, "nine"))}, "is not held"},
	} {
		p := begin(13)
		var err error
		for _, d := range tc.parts {
			if err = p.Write(ctx, d); err != nil {
				break
			}
		}
		if !errors.Is(err, ErrOutOfSync) || !strings.Contains(err.Error(), tc.msg) {
			t.Fatalf("%s: %v, want ErrOutOfSync saying %q", tc.name, err, tc.msg)
		}
		if err := p.Commit(ctx); err == nil {
			t.Fatalf("%s: commit after a failed part succeeded", tc.name)
		}
		check(tc.name, 11)
		noRecord(tc.name)
	}

	// Another writer changes the progress while the step is open.
	p = begin(14)
	write(p, ins(r(7, "seven")))
	if err := c.Set(ctx, s.progressKey(), "0/C", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if err := p.Commit(ctx); !errors.Is(err, ErrConcurrentWrite) {
		t.Fatalf("commit after another writer: %v, want ErrConcurrentWrite", err)
	}
	check("after a concurrent write", 12)
	noRecord("after a concurrent write")

	// A record left by a crash (a part that inserted key 8) is cleared
	// when the next step in parts begins, and a whole step works between.
	if err := c.HSet(ctx, record, "ripple:public.v:8", "1", "ripple:public.v:2", "0").Err(); err != nil {
		t.Fatal(err)
	}
	if err := s.Apply(ctx, Step{LSN: 15, Deltas: ins(r(10, "ten"))}); err != nil {
		t.Fatal(err)
	}
	good = append(good, row.Update{Row: r(10, "ten"), W: 1})
	p = begin(16)
	write(p, ins(r(8, "eight")))
	if err := p.Write(ctx, ins(r(2, "again"))); !errors.Is(err, ErrOutOfSync) {
		t.Fatalf("insert of held key 2 after a stale record said it was retracted: %v", err)
	}
	p = begin(16)
	write(p, ins(r(8, "eight")))
	if err := p.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	good = append(good, row.Update{Row: r(8, "eight"), W: 1})
	check("after the stale record", 16)

	// Forget removes a record left behind.
	if err := c.HSet(ctx, record, "ripple:public.v:9", "1").Err(); err != nil {
		t.Fatal(err)
	}
	if err := s.Forget(ctx, "p", false); err != nil {
		t.Fatal(err)
	}
	noRecord("after forget")
	// No connection was left in a MULTI (flag x) or watching keys.
	list, err := c.ClientList(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimSpace(list), "\n") {
		for _, f := range strings.Fields(line) {
			if flags, ok := strings.CutPrefix(f, "flags="); ok && strings.Contains(flags, "x") {
				t.Errorf("a connection is left in a MULTI: %s", line)
			}
			if n, ok := strings.CutPrefix(f, "watch="); ok && n != "0" {
				t.Errorf("a connection is left watching keys: %s", line)
			}
		}
	}
}

// TestRedisLoadParts loads a view in parts over an old load of 2,500 rows
// (more than one page of SSCAN): another client sees the old rows until
// the commit and then exactly the new ones; two rows sharing a key in
// different parts fail the load; an abort leaves the old rows; the record
// of parts is gone after each.
func TestRedisLoadParts(t *testing.T) {
	addr := redistest.Start(t)
	ctx := context.Background()
	v := View{
		Name:    row.TableName{Schema: "public", Name: "lv"},
		Columns: row.Schema{{Name: "id", Type: row.Int8}, {Name: "a", Type: row.Text}},
		Key:     []int{0},
	}
	rows := func(from, to int64, a string) []row.Update {
		var us []row.Update
		for i := from; i < to; i++ {
			us = append(us, row.Update{Row: row.Row{row.NewInt(i), row.NewText(a)}, W: 1})
		}
		return us
	}
	other, _ := openRedis(t, addr, "q", v) // before p owns the view
	s, _ := openRedis(t, addr, "p", v)
	var _ PartsLoader = s
	c := redisClient(t, addr)
	old := rows(0, 2500, "old")
	if err := s.Load(ctx, 10, map[row.TableName][]row.Update{v.Name: old}); err != nil {
		t.Fatal(err)
	}
	record := redisPartsKey(DefaultRedisPrefix, redisViewSegment(v.Name))
	check := func(when string, want []row.Update, lsn row.LSN) {
		t.Helper()
		redisCheckDump(t, s, v.Name, want)
		if n, _ := c.Exists(ctx, record).Result(); n != 0 {
			t.Fatalf("%s: the record of parts is left", when)
		}
		if got, err := s.Progress(ctx); err != nil || got != lsn {
			t.Fatalf("%s: progress %s (%v), want %s", when, got, err, lsn)
		}
		// No row hash outside the key set (old rows all deleted).
		keys, err := c.Keys(ctx, "ripple:public.lv:*").Result()
		if err != nil {
			t.Fatal(err)
		}
		if len(keys) != len(want)+1 { // the rows' hashes and __keys
			t.Fatalf("%s: %d keys under the view, want %d rows and the key set", when, len(keys), len(want))
		}
	}
	begin := func() LoadParts {
		t.Helper()
		lp, err := s.BeginLoad(ctx, 20)
		if err != nil {
			t.Fatal(err)
		}
		return lp
	}

	lp := begin()
	if err := lp.Write(ctx, v.Name, rows(5000, 5010, "new")); err != nil {
		t.Fatal(err)
	}
	lp.Abort()
	check("after an abort", old, 10)

	lp = begin()
	if err := lp.Write(ctx, v.Name, rows(5000, 5010, "new")); err != nil {
		t.Fatal(err)
	}
	if err := lp.Write(ctx, v.Name, rows(5009, 5011, "again")); err == nil || !strings.Contains(err.Error(), "not unique") {
		t.Fatalf("a key of an earlier part loaded again: %v, want a not-unique error", err)
	}
	if err := lp.Commit(ctx); err == nil {
		t.Fatal("commit after a refused part succeeded")
	}
	check("after a refused part", old, 10)

	lp = begin()
	var want []row.Update
	for i := int64(0); i < 3; i++ {
		part := rows(1000+100*i, 1000+100*i+60, "new")
		if err := lp.Write(ctx, v.Name, part); err != nil {
			t.Fatal(err)
		}
		want = append(want, part...)
		if n, _ := c.SCard(ctx, "ripple:public.lv:__keys").Result(); n != int64(len(old)) {
			t.Fatalf("another client sees %d keys during the load, want the %d old ones", n, len(old))
		}
	}
	if err := lp.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	check("after the commit", want, 20)

	// Another pipeline's load of the view is refused while p has a step
	// in parts open, and leaves p's record alone.
	p, err := s.BeginParts(ctx, Step{LSN: 30})
	if err != nil || p == nil {
		t.Fatalf("begin parts: %v, %v", p, err)
	}
	if err := p.Write(ctx, []Delta{{View: v.Name, Rows: rows(9000, 9001, "p")}}); err != nil {
		t.Fatal(err)
	}
	if _, err := other.BeginLoad(ctx, 40); err == nil {
		t.Fatal("pipeline q loaded a view pipeline p owns")
	}
	if n, _ := c.Exists(ctx, record).Result(); n != 1 {
		t.Fatal("a refused load of another pipeline deleted p's record of parts")
	}
	if err := p.Write(ctx, []Delta{{View: v.Name, Rows: rows(9000, 9001, "again")}}); err == nil {
		t.Fatal("a key inserted by an earlier part was inserted again")
	}
}
