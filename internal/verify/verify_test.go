package verify

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/rippledb/ripple/internal/oracle"
	"github.com/rippledb/ripple/internal/pgtest"
	"github.com/rippledb/ripple/internal/row"
)

// copyDumper is a sink.Dumper over a PostgreSQL table, to exercise the Go
// computation of fingerprints (Dump) on the same data as the SQL one.
type copyDumper struct{ conn *pgx.Conn }

func (d copyDumper) Dump(ctx context.Context, view row.TableName, w io.Writer) error {
	_, err := d.conn.PgConn().CopyTo(ctx, w, "COPY "+view.String()+" TO STDOUT")
	return err
}

// TestVerifierFindsDifferences compares a view with a hand-made sink table
// (no pipeline: the slot exists but is idle, so nothing is waited for),
// through both the SQL and the dump side.
func TestVerifierFindsDifferences(t *testing.T) {
	c := pgtest.Source(t)
	pgtest.CreateDB(t, c, "sinkdb")
	ctx := context.Background()
	pgtest.Exec(t, c, "app", `
CREATE TABLE t (id int PRIMARY KEY, g text, v numeric);
INSERT INTO t SELECT i, 'g' || (i % 5), i * 1.5 FROM generate_series(1, 2000) i;
INSERT INTO t VALUES (2001, NULL, NULL), (2002, '', 0), (2003, 'a "b", (c)', -1);`)
	pgtest.Exec(t, c, "app", `SELECT pg_create_logical_replication_slot('ripple', 'pgoutput')`)
	pgtest.Exec(t, c, "sinkdb", `CREATE TABLE public.tv (id int, g text, v numeric); CREATE TABLE public.dup (g text)`)
	src, err := oracle.Connect(ctx, c.DSN("app"))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close(ctx)
	snk, err := oracle.Connect(ctx, c.DSN("sinkdb"))
	if err != nil {
		t.Fatal(err)
	}
	defer snk.Close(ctx)
	// Fill the sink from the source, as ripple would.
	fill := func(table, query string) {
		t.Helper()
		var buf strings.Builder
		if _, err := src.PgConn().CopyTo(ctx, &buf, "COPY ("+query+") TO STDOUT"); err != nil {
			t.Fatal(err)
		}
		if _, err := snk.PgConn().CopyFrom(ctx, strings.NewReader(buf.String()), "COPY "+table+" FROM STDIN"); err != nil {
			t.Fatal(err)
		}
	}
	fill("public.tv", "SELECT id, g, v FROM t")
	fill("public.dup", "SELECT g FROM t WHERE id <= 100")
	keyed := View{Name: row.TableName{Schema: "public", Name: "tv"}, Query: "SELECT id, g, v FROM t",
		Columns: row.Schema{{Name: "id", Type: row.Int4}, {Name: "g", Type: row.Text}, {Name: "v", Type: row.Numeric}}, Key: []int{0}}
	multiset := View{Name: row.TableName{Schema: "public", Name: "dup"}, Query: "SELECT g FROM t WHERE id <= 100",
		Columns: row.Schema{{Name: "g", Type: row.Text}}}

	vf, err := New(Config{Source: src, Buckets: 64, Retries: 1})
	if err != nil {
		t.Fatal(err)
	}
	sides := map[string]Side{"sql": PostgresSink(snk), "dump": Dump{Sink: copyDumper{snk}}}
	check := func(when string, v View, extra, missing int64, samples ...string) {
		t.Helper()
		for name, side := range sides {
			res, err := vf.View(ctx, side, v)
			if err != nil {
				t.Fatalf("%s, %s side: %v", when, name, err)
			}
			if res.Extra != extra || res.Missing != missing {
				t.Errorf("%s, %s side: %s", when, name, res)
			}
			got := strings.Join(res.Samples, "\n")
			for _, s := range samples {
				if !strings.Contains(got, s) {
					t.Errorf("%s, %s side: samples lack %q:\n%s", when, name, s, got)
				}
			}
			if res.Waited {
				t.Errorf("%s: waited for an idle slot", when)
			}
			if !strings.Contains(res.At, "/") {
				t.Errorf("%s, %s side: no source position for the last reading: %q", when, name, res.At)
			}
			if want := "the last at source position " + res.At + ", slot not active"; !res.Equal() && !strings.Contains(res.String(), want) {
				t.Errorf("%s, %s side: report lacks %q: %s", when, name, want, res)
			}
		}
	}
	check("clean", keyed, 0, 0)
	check("clean multiset", multiset, 0, 0)

	pgtest.Exec(t, c, "sinkdb", `UPDATE public.tv SET v = v + 1 WHERE id = 17; DELETE FROM public.tv WHERE id = 2003;
		INSERT INTO public.tv VALUES (5000, 'x', 1)`)
	check("modified", keyed, 2, 2, "-(17,g2,25.5)", "+(17,g2,26.5)", `-(2003,"a ""b"", (c)",-1)`, "+(5000,x,1)")
	// A duplicate more or less is a difference of a multiset.
	pgtest.Exec(t, c, "sinkdb", `INSERT INTO public.dup VALUES ('g1'); DELETE FROM public.dup WHERE ctid = (SELECT min(ctid) FROM public.dup WHERE g = 'g3')`)
	check("duplicates", multiset, 1, 1, "+(g1)", "-(g3)")

	fp, err := Source(src).Fingerprint(ctx, keyed, 64, nil)
	if err != nil {
		t.Fatal(err)
	}
	if n := total(fp); n != 2003 || len(fp) != 64 {
		t.Errorf("source fingerprint: %d rows in %d buckets", n, len(fp))
	}

	// A duplicate row deleted and an identical one inserted leave the
	// bucket's rows as they were, but not its version in the sink: two
	// readings that straddle such a change are not mistaken for a settled
	// bucket (a keyless view under load, rows moving in and out).
	before, err := PostgresSink(snk).Fingerprint(ctx, multiset, 64, nil)
	if err != nil {
		t.Fatal(err)
	}
	pgtest.Exec(t, c, "sinkdb", `DELETE FROM public.dup WHERE ctid = (SELECT min(ctid) FROM public.dup WHERE g = 'g4'); INSERT INTO public.dup VALUES ('g4')`)
	after, err := PostgresSink(snk).Fingerprint(ctx, multiset, 64, nil)
	if err != nil {
		t.Fatal(err)
	}
	changed := 0
	for b, x := range before {
		y := after[b]
		if !x.sameRows(y) {
			t.Errorf("bucket %d: rows changed (%v, then %v)", b, x, y)
		}
		if x.Version == "" || y.Version == "" {
			t.Fatalf("bucket %d: no version from a PostgreSQL sink", b)
		}
		if x != y {
			changed++
		}
	}
	if changed != 1 || len(after) != len(before) {
		t.Errorf("replacing one duplicate changed the version of %d buckets, want 1", changed)
	}
	if sfp, _ := Source(src).Fingerprint(ctx, multiset, 64, nil); len(sfp) > 0 {
		for b, x := range sfp {
			if x.Version != "" {
				t.Errorf("source bucket %d has a version %q; the view's SELECT has none", b, x.Version)
			}
		}
	}
}

// TestWaitFlushedThroughReconnect: a slot seen active and then inactive is a
// pipeline reconnecting, and waitFlushed waits for it to come back and
// confirm the position instead of comparing a sink that may be behind; a
// pipeline that stays away for the catch-up timeout is taken as stopped.
func TestWaitFlushedThroughReconnect(t *testing.T) {
	c := pgtest.Source(t)
	ctx := context.Background()
	pgtest.Exec(t, c, "app", `CREATE TABLE t (id int PRIMARY KEY); CREATE PUBLICATION ripple FOR TABLE t`)
	var start string
	pgtest.Connect(t, c, "app").QueryRow(ctx, `SELECT lsn::text FROM pg_create_logical_replication_slot('ripple', 'pgoutput')`).Scan(&start)
	src, err := oracle.Connect(ctx, c.DSN("app"))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close(ctx)
	// connect streams from the slot and confirms at, as a pipeline would.
	connect := func(at string) *pgconn.PgConn {
		t.Helper()
		conn, err := pgconn.Connect(ctx, c.DSN("app")+"&replication=database")
		if err != nil {
			t.Fatal(err)
		}
		pos, err := pglogrepl.ParseLSN(start)
		if err != nil {
			t.Fatal(err)
		}
		if err := pglogrepl.StartReplication(ctx, conn, "ripple", pos, pglogrepl.StartReplicationOptions{
			PluginArgs: []string{"proto_version '1'", "publication_names 'ripple'"}}); err != nil {
			t.Fatal(err)
		}
		ack, err := pglogrepl.ParseLSN(at)
		if err != nil {
			t.Fatal(err)
		}
		if err := pglogrepl.SendStandbyStatusUpdate(ctx, conn, pglogrepl.StandbyStatusUpdate{WALWritePosition: ack}); err != nil {
			t.Fatal(err)
		}
		return conn
	}
	slotActive := func(want bool) {
		t.Helper()
		for i := 0; ; i++ {
			var active bool
			if err := src.QueryRow(ctx, `SELECT active FROM pg_replication_slots WHERE slot_name = 'ripple'`).Scan(&active); err != nil {
				t.Fatal(err)
			}
			if active == want {
				return
			}
			if i == 500 {
				t.Fatalf("slot active is not %v after 10 s", want)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}

	vf, err := New(Config{Source: src, CatchUpTimeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	first := connect(start)
	slotActive(true)
	if ok, err := vf.waitFlushed(ctx, start); err != nil || !ok {
		t.Fatalf("waitFlushed(%s) on a slot confirmed there: %v, %v", start, ok, err)
	}
	pgtest.Exec(t, c, "app", `INSERT INTO t VALUES (1)`)
	var target string
	if err := src.QueryRow(ctx, `SELECT pg_current_wal_insert_lsn()::text`).Scan(&target); err != nil {
		t.Fatal(err)
	}
	first.Close(ctx)
	slotActive(false)
	// The pipeline reconnects a moment later and confirms target.
	back := make(chan *pgconn.PgConn, 1)
	go func() {
		time.Sleep(500 * time.Millisecond)
		back <- connect(target)
	}()
	ok, err := vf.waitFlushed(ctx, target)
	second := <-back
	if err != nil || !ok {
		t.Fatalf("waitFlushed(%s) across a reconnect: %v, %v (want a wait until the slot confirmed it)", target, ok, err)
	}
	second.Close(ctx)
	slotActive(false)

	// A pipeline that stays away: after the timeout the sink is compared
	// as it is, and later readings do not wait again.
	vf.cfg.CatchUpTimeout = 300 * time.Millisecond
	pgtest.Exec(t, c, "app", `INSERT INTO t VALUES (2)`)
	if err := src.QueryRow(ctx, `SELECT pg_current_wal_insert_lsn()::text`).Scan(&target); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		if ok, err := vf.waitFlushed(ctx, target); err != nil || ok {
			t.Fatalf("reading %d, pipeline gone: waitFlushed = %v, %v; want false, nil", i, ok, err)
		}
	}
	if vf.seenActive {
		t.Error("the verifier still expects the pipeline back after the timeout")
	}
}
