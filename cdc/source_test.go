package cdc

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/rippledb/ripple/internal/pgcluster"
	"github.com/rippledb/ripple/internal/pgtest"
	"github.com/rippledb/ripple/internal/row"
)

func TestSnapshotThenStream(t *testing.T) {
	c := pgtest.Source(t)
	exec(t, c, "CREATE TABLE t (id int PRIMARY KEY, v text)")
	exec(t, c, "INSERT INTO t SELECT g, 'pre' || g FROM generate_series(1, 500) g")
	s := testSource(t, c, "t")
	if err := s.EnsurePublication(context.Background()); err != nil {
		t.Fatal(err)
	}

	// Insert concurrently while the slot is created and the snapshot read,
	// one row per transaction, so some commit before the consistent point
	// and some after.
	const total = 1500
	var wg sync.WaitGroup
	started := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		conn := pgtest.Connect(t, c, "app")
		for i := 501; i <= total; i++ {
			if _, err := conn.Exec(context.Background(), "INSERT INTO t VALUES ($1, 'live')", i); err != nil {
				t.Errorf("insert %d: %v", i, err)
				return
			}
			if i == 550 {
				close(started)
			}
		}
	}()
	<-started
	seen := map[int64]string{}
	lsn, err := s.Snapshot(context.Background(), func(rel *Relation, r row.Row) error {
		if rel.Name != (row.TableName{Schema: "public", Name: "t"}) || len(r) != 2 {
			return fmt.Errorf("bad snapshot row %v of %v", r, rel.Name)
		}
		seen[r[0].Int()] = "snapshot"
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	inSnapshot := len(seen)
	wg.Wait()
	if inSnapshot < 550 || inSnapshot >= total {
		t.Logf("snapshot holds %d rows: the concurrent inserts did not straddle the consistent point", inSnapshot)
	}
	st := startStream(t, s, lsn)
	last := lsn
	for len(seen) < total {
		txn := st.next(t)
		if txn.CommitLSN <= last {
			t.Fatalf("txn at %s not after %s", txn.CommitLSN, last)
		}
		last = txn.CommitLSN
		for _, ch := range txn.Changes {
			id := ch.New[0].Int()
			if ch.Op != OpInsert {
				t.Fatalf("unexpected %v", ch.Op)
			}
			if prev, dup := seen[id]; dup {
				t.Fatalf("row %d seen twice (first in %s)", id, prev)
			}
			seen[id] = "stream"
		}
	}
	st.none(t, 500*time.Millisecond)
	t.Logf("%d rows from the snapshot, %d streamed", inSnapshot, total-inSnapshot)
}

// scenario runs DML after the snapshot and checks the streamed transactions.
type scenario struct {
	name   string
	setup  string   // DDL run before the source connects
	tables []string // tables of the publication
	dml    []string // each statement runs in its own transaction (unless it has BEGIN)
	txns   int      // transactions expected
	check  func(t *testing.T, txns []Txn)
}

func TestStreamScenarios(t *testing.T) {
	c := pgtest.Source(t)
	big := "(SELECT string_agg(md5(g::text), '') FROM generate_series(1, 1000) g)"
	i4 := func(i int64) row.Datum { return row.NewInt(i) }
	tx := row.NewText
	scenarios := []scenario{{
		name:   "replica identity default",
		setup:  "CREATE TABLE ri_def (id int PRIMARY KEY, v text, w int)",
		tables: []string{"ri_def"},
		dml: []string{"INSERT INTO ri_def VALUES (1,'a',10),(2,'b',20)", "UPDATE ri_def SET v='a2' WHERE id=1",
			"UPDATE ri_def SET id=3 WHERE id=2", "DELETE FROM ri_def WHERE id=1"},
		txns: 4,
		check: func(t *testing.T, txns []Txn) {
			rel := txns[0].Changes[0].Rel
			if rel.Identity != 'd' || len(rel.KeyCols) != 1 || rel.KeyCols[0] != 0 {
				t.Errorf("relation %+v", rel)
			}
			wantChange(t, txns[0].Changes[1], OpInsert, OldNone, nil, row.Row{i4(2), tx("b"), i4(20)})
			wantChange(t, txns[1].Changes[0], OpUpdate, OldNone, nil, row.Row{i4(1), tx("a2"), i4(10)})
			wantChange(t, txns[2].Changes[0], OpUpdate, OldKey, row.Row{i4(2), row.Null, row.Null}, row.Row{i4(3), tx("b"), i4(20)})
			wantChange(t, txns[3].Changes[0], OpDelete, OldKey, row.Row{i4(1), row.Null, row.Null}, nil)
		},
	}, {
		name:   "replica identity full",
		setup:  "CREATE TABLE ri_full (id int, v text); ALTER TABLE ri_full REPLICA IDENTITY FULL",
		tables: []string{"ri_full"},
		dml:    []string{"INSERT INTO ri_full VALUES (1,'a'),(1,'a')", "UPDATE ri_full SET v='b' WHERE ctid='(0,1)'", "DELETE FROM ri_full WHERE v='a'"},
		txns:   3,
		check: func(t *testing.T, txns []Txn) {
			if k := txns[0].Changes[0].Rel.KeyCols; len(k) != 2 {
				t.Errorf("key cols %v", k)
			}
			wantChange(t, txns[1].Changes[0], OpUpdate, OldFull, row.Row{i4(1), tx("a")}, row.Row{i4(1), tx("b")})
			wantChange(t, txns[2].Changes[0], OpDelete, OldFull, row.Row{i4(1), tx("a")}, nil)
		},
	}, {
		name:   "replica identity using index",
		setup:  "CREATE TABLE ri_idx (a int NOT NULL, b int NOT NULL, c text); CREATE UNIQUE INDEX ri_idx_ab ON ri_idx (a, b); ALTER TABLE ri_idx REPLICA IDENTITY USING INDEX ri_idx_ab",
		tables: []string{"ri_idx"},
		dml:    []string{"INSERT INTO ri_idx VALUES (1,1,'x')", "UPDATE ri_idx SET c='y'", "UPDATE ri_idx SET b=2", "DELETE FROM ri_idx"},
		txns:   4,
		check: func(t *testing.T, txns []Txn) {
			if r := txns[0].Changes[0].Rel; r.Identity != 'i' || fmt.Sprint(r.KeyCols) != "[0 1]" {
				t.Errorf("relation %+v", r)
			}
			wantChange(t, txns[1].Changes[0], OpUpdate, OldNone, nil, row.Row{i4(1), i4(1), tx("y")})
			wantChange(t, txns[2].Changes[0], OpUpdate, OldKey, row.Row{i4(1), i4(1), row.Null}, row.Row{i4(1), i4(2), tx("y")})
			wantChange(t, txns[3].Changes[0], OpDelete, OldKey, row.Row{i4(1), i4(2), row.Null}, nil)
		},
	}, {
		name:   "toast default",
		setup:  "CREATE TABLE toast_def (id int PRIMARY KEY, small int, big text)",
		tables: []string{"toast_def"},
		dml: []string{"INSERT INTO toast_def VALUES (1, 1, " + big + ")", "UPDATE toast_def SET small = 2",
			"UPDATE toast_def SET big = " + big + " || 'x'", "DELETE FROM toast_def"},
		txns: 4,
		check: func(t *testing.T, txns []Txn) {
			if n := len(txns[0].Changes[0].New[2].Str()); n != 32000 {
				t.Errorf("toasted insert value has %d bytes", n)
			}
			u := txns[1].Changes[0]
			if u.Unchanged == nil || !u.Unchanged[2] || u.Unchanged[0] || u.Unchanged[1] || !u.New[2].IsNull() || u.New[1] != i4(2) {
				t.Errorf("unchanged toast update: %+v", u)
			}
			if u := txns[2].Changes[0]; u.Unchanged != nil || len(u.New[2].Str()) != 32001 {
				t.Errorf("toast rewrite: unchanged %v, %d bytes", u.Unchanged, len(u.New[2].Str()))
			}
			wantChange(t, txns[3].Changes[0], OpDelete, OldKey, row.Row{i4(1), row.Null, row.Null}, nil)
		},
	}, {
		name:   "toast full",
		setup:  "CREATE TABLE toast_full (id int PRIMARY KEY, small int, big text); ALTER TABLE toast_full REPLICA IDENTITY FULL",
		tables: []string{"toast_full"},
		dml:    []string{"INSERT INTO toast_full VALUES (1, 1, " + big + ")", "UPDATE toast_full SET small = 2"},
		txns:   2,
		check: func(t *testing.T, txns []Txn) {
			u := txns[1].Changes[0]
			if u.OldKind != OldFull || len(u.Old[2].Str()) != 32000 || u.Old[1] != i4(1) {
				t.Errorf("old tuple: kind %v, %d bytes", u.OldKind, len(u.Old[2].Str()))
			}
			if u.Unchanged == nil || !u.Unchanged[2] || u.New[1] != i4(2) {
				t.Errorf("new tuple: %+v", u.Unchanged)
			}
		},
	}, {
		name:   "truncate two tables",
		setup:  "CREATE TABLE tr_a (id serial PRIMARY KEY); CREATE TABLE tr_b (id int PRIMARY KEY)",
		tables: []string{"tr_a", "tr_b"},
		dml:    []string{"INSERT INTO tr_a DEFAULT VALUES", "INSERT INTO tr_b VALUES (1)", "TRUNCATE tr_a, tr_b RESTART IDENTITY"},
		txns:   3,
		check: func(t *testing.T, txns []Txn) {
			ch := txns[2].Changes
			if len(ch) != 2 || ch[0].Op != OpTruncate || ch[1].Op != OpTruncate {
				t.Fatalf("truncate changes %+v", ch)
			}
			names := []string{ch[0].Rel.Name.Name, ch[1].Rel.Name.Name}
			sort.Strings(names)
			if fmt.Sprint(names) != "[tr_a tr_b]" {
				t.Errorf("truncated %v", names)
			}
		},
	}, {
		name:   "add column mid-stream",
		setup:  "CREATE TABLE sch (i int PRIMARY KEY, y int)",
		tables: []string{"sch"},
		dml: []string{"INSERT INTO sch VALUES (1, 2)", "ALTER TABLE sch ADD COLUMN z text DEFAULT 'dflt'",
			"INSERT INTO sch (i, y) VALUES (3, 4)", "UPDATE sch SET y = 5 WHERE i = 1"},
		txns: 3,
		check: func(t *testing.T, txns []Txn) {
			if n := len(txns[0].Changes[0].Rel.Columns); n != 2 {
				t.Errorf("first relation has %d columns", n)
			}
			wantChange(t, txns[1].Changes[0], OpInsert, OldNone, nil, row.Row{i4(3), i4(4), tx("dflt")})
			if n := len(txns[1].Changes[0].Rel.Columns); n != 3 {
				t.Errorf("relation after ADD COLUMN has %d columns", n)
			}
			wantChange(t, txns[2].Changes[0], OpUpdate, OldNone, nil, row.Row{i4(1), i4(5), tx("dflt")})
		},
	}, {
		name:   "savepoint and rollback",
		setup:  "CREATE TABLE sx (v int); ALTER TABLE sx REPLICA IDENTITY FULL; CREATE TABLE not_published (v int)",
		tables: []string{"sx"},
		dml: []string{
			"BEGIN; INSERT INTO sx VALUES (1); SAVEPOINT a; INSERT INTO sx VALUES (2); ROLLBACK TO a; INSERT INTO sx VALUES (3); COMMIT",
			"BEGIN; INSERT INTO sx VALUES (4); ROLLBACK",
			"INSERT INTO not_published VALUES (1)",
			"INSERT INTO sx VALUES (5)",
		},
		txns: 2,
		check: func(t *testing.T, txns []Txn) {
			var got []int64
			for _, tx := range txns {
				for _, ch := range tx.Changes {
					got = append(got, ch.New[0].Int())
				}
			}
			if fmt.Sprint(got) != "[1 3 5]" {
				t.Errorf("rows %v, want [1 3 5]", got)
			}
		},
	}, {
		name: "partitioned table via root",
		setup: "CREATE TABLE pt (id int, k int) PARTITION BY RANGE (k); CREATE TABLE pt_lo PARTITION OF pt FOR VALUES FROM (0) TO (10); " +
			"CREATE TABLE pt_hi PARTITION OF pt FOR VALUES FROM (10) TO (100); ALTER TABLE pt REPLICA IDENTITY FULL; " +
			"ALTER TABLE pt_lo REPLICA IDENTITY FULL; ALTER TABLE pt_hi REPLICA IDENTITY FULL",
		tables: []string{"pt"},
		dml:    []string{"INSERT INTO pt VALUES (2, 6)", "UPDATE pt SET k = 60 WHERE id = 2"},
		txns:   2,
		check: func(t *testing.T, txns []Txn) {
			wantChange(t, txns[0].Changes[0], OpInsert, OldNone, nil, row.Row{i4(2), i4(6)})
			ch := txns[1].Changes
			if len(ch) != 2 {
				t.Fatalf("cross-partition update: %+v", ch)
			}
			wantChange(t, ch[0], OpDelete, OldFull, row.Row{i4(2), i4(6)}, nil)
			wantChange(t, ch[1], OpInsert, OldNone, nil, row.Row{i4(2), i4(60)})
			for _, c := range append(ch, txns[0].Changes...) {
				if c.Rel.Name.Name != "pt" {
					t.Errorf("change under %s, want the root pt", c.Rel.Name)
				}
			}
		},
	}}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			exec(t, c, sc.setup)
			s := testSource(t, c, sc.tables...)
			_, lsn := prepare(t, s)
			st := startStream(t, s, lsn)
			conn := pgtest.Connect(t, c, "app")
			for _, q := range sc.dml {
				if _, err := conn.Exec(context.Background(), q); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
			}
			var txns []Txn
			for range sc.txns {
				txns = append(txns, st.next(t))
			}
			st.none(t, 300*time.Millisecond)
			sc.check(t, txns)
		})
	}
}

func wantChange(t *testing.T, c Change, op Op, ok OldKind, old, new row.Row) {
	t.Helper()
	if c.Op != op || c.OldKind != ok {
		t.Errorf("change %v/%v, want %v/%v", c.Op, c.OldKind, op, ok)
	}
	if old != nil && !rowsMatch(c.Old, old) {
		t.Errorf("%v old = %v, want %v", op, c.Old, old)
	}
	if new != nil && !rowsMatch(c.New, new) {
		t.Errorf("%v new = %v, want %v", op, c.New, new)
	}
}

// TestValueTextHostileGUCs checks that values decode to the same Datums
// from the snapshot and from the stream whatever the database's defaults
// for the settings that change value text.
func TestValueTextHostileGUCs(t *testing.T) {
	c := pgtest.Source(t)
	exec(t, c, "ALTER DATABASE app SET DateStyle = 'SQL, DMY'")
	exec(t, c, "ALTER DATABASE app SET TimeZone = 'America/New_York'")
	exec(t, c, "ALTER DATABASE app SET extra_float_digits = 0")
	exec(t, c, "ALTER DATABASE app SET bytea_output = 'escape'")
	exec(t, c, "ALTER DATABASE app SET IntervalStyle = iso_8601")
	cols := []struct {
		typ  string
		lit  string // SQL expression
		want row.Datum
	}{
		{"int2", "-32768", row.NewInt(-32768)},
		{"int4", "2147483647", row.NewInt(2147483647)},
		{"int8", "-9223372036854775808", row.NewInt(-9223372036854775808)},
		{"numeric", "'NaN'", row.NewNumeric("NaN")},
		{"numeric", "'-12345678901234567890.000000000000000000000000000001'", row.NewNumeric("-12345678901234567890.000000000000000000000000000001")},
		{"numeric(10,3)", "1.5", row.NewNumeric("1.500")},
		{"float8", "0.1::float8 + 0.2::float8", parse(t, row.Float8, "0.30000000000000004")},
		{"float8", "'NaN'", parse(t, row.Float8, "NaN")},
		{"float8", "'-Infinity'", parse(t, row.Float8, "-Infinity")},
		{"float8", "1e300", row.NewFloat(1e300)},
		{"float4", "1.1", row.NewFloat4(1.1)},
		{"float4", "'Infinity'", parse(t, row.Float4, "Infinity")},
		{"bool", "true", row.NewBool(true)},
		{"text", "E'tab\\there\\nnewline back\\\\slash \\u00e9'", row.NewText("tab\there\nnewline back\\slash é")},
		{"varchar(5)", "'ab'", row.NewText("ab")},
		{"char(5)", "'ab'", row.NewText("ab   ")},
		{"date", "'0044-03-15 BC'", parse(t, row.Date, "0044-03-15 BC")},
		{"date", "'infinity'", parse(t, row.Date, "infinity")},
		{"date", "'2024-02-29'", parse(t, row.Date, "2024-02-29")},
		{"timestamp", "'2024-03-31 01:30:00.123456'", parse(t, row.Timestamp, "2024-03-31 01:30:00.123456")},
		{"timestamp", "'0044-03-15 12:00:00 BC'", parse(t, row.Timestamp, "0044-03-15 12:00:00 BC")},
		{"timestamptz", "'2024-03-31 01:30:00+00'", parse(t, row.TimestampTZ, "2024-03-31 01:30:00+00")},
		{"timestamptz", "'-infinity'", parse(t, row.TimestampTZ, "-infinity")},
		{"uuid", "'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11'", parse(t, row.UUID, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11")},
		{"json", `'{"b": 1,  "a": [1, 2.50]}'`, row.NewJSON(`{"b": 1,  "a": [1, 2.50]}`)},
		{"jsonb", `'{"b": 1, "a": [1, 2.50]}'`, row.NewJSONB(`{"a": [1, 2.50], "b": 1}`)},
		{"bytea", `'\xDEADBEEF00'`, row.NewBytes([]byte{0xde, 0xad, 0xbe, 0xef, 0})},
		{"interval", "'1 year 2 mons 3 days 04:05:06.789'", parse(t, row.Interval, "1 year 2 mons 3 days 04:05:06.789")},
		{"interval", "'-1 days +02:03:00'", parse(t, row.Interval, "-1 days +02:03:00")},
		{"int4[]", "'{1,NULL,3}'", parse(t, row.Type{OID: row.OIDInt4Array, Mod: -1}, "{1,NULL,3}")},
		{"text[]", `'{"a b",NULL,"q\"x",""}'`, parse(t, row.Type{OID: row.OIDTextArray, Mod: -1}, `{"a b",NULL,"q\"x",""}`)},
		{"date[]", "'{2024-02-29,infinity}'", parse(t, row.Type{OID: row.OIDDateArray, Mod: -1}, "{2024-02-29,infinity}")},
	}
	var defs, lits []string
	want := row.Row{row.NewInt(0)}
	nulls := row.Row{row.NewInt(0)}
	for i, col := range cols {
		defs = append(defs, fmt.Sprintf("c%d %s", i, col.typ))
		lits = append(lits, col.lit)
		want = append(want, col.want)
		nulls = append(nulls, row.Null)
	}
	exec(t, c, "CREATE TABLE vals (id int PRIMARY KEY, "+strings.Join(defs, ", ")+")")
	insert := func(id int) {
		exec(t, c, fmt.Sprintf("INSERT INTO vals VALUES (%d, %s)", id, strings.Join(lits, ", ")))
		exec(t, c, fmt.Sprintf("INSERT INTO vals (id) VALUES (%d)", id+1))
	}
	insert(1)
	s := testSource(t, c, "vals")
	snap, lsn := prepare(t, s)
	st := startStream(t, s, lsn)
	insert(3)
	streamed := []row.Row{st.next(t).Changes[0].New, st.next(t).Changes[0].New}
	check := func(from string, got []row.Row, firstID int64) {
		t.Helper()
		if len(got) != 2 {
			t.Fatalf("%s: %d rows", from, len(got))
		}
		sort.Slice(got, func(i, j int) bool { return got[i][0].Int() < got[j][0].Int() })
		want[0], nulls[0] = row.NewInt(firstID), row.NewInt(firstID+1)
		for i := 1; i < len(want); i++ {
			if !datumsMatch(got[0][i], want[i]) {
				t.Errorf("%s: %s %s = %v (%v), want %v (%v)", from, cols[i-1].typ, cols[i-1].lit,
					got[0][i], got[0][i].Kind(), want[i], want[i].Kind())
			}
		}
		if !rowsMatch(got[1], nulls) {
			t.Errorf("%s: NULL row = %v", from, got[1])
		}
	}
	check("snapshot", snap["vals"], 1)
	check("stream", streamed, 3)
}

func slotFlushLSN(t *testing.T, c *pgcluster.Cluster, slot string) row.LSN {
	t.Helper()
	var s *string
	conn := pgtest.Connect(t, c, "app")
	if err := conn.QueryRow(context.Background(),
		"SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = $1", slot).Scan(&s); err != nil {
		t.Fatal(err)
	}
	if s == nil {
		return 0
	}
	l, err := row.ParseLSN(*s)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func currentWAL(t *testing.T, c *pgcluster.Cluster) row.LSN {
	t.Helper()
	var s string
	conn := pgtest.Connect(t, c, "app")
	if err := conn.QueryRow(context.Background(), "SELECT pg_current_wal_lsn()::text").Scan(&s); err != nil {
		t.Fatal(err)
	}
	l, err := row.ParseLSN(s)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestAckAndIdle(t *testing.T) {
	c := pgtest.Source(t)
	exec(t, c, "CREATE TABLE a (id int PRIMARY KEY); CREATE TABLE other (id int)")
	s := testSource(t, c, "a")
	_, lsn := prepare(t, s)
	st := startStream(t, s, lsn)
	exec(t, c, "INSERT INTO a VALUES (1)")
	txn := st.next(t)
	if txn.EndLSN <= txn.CommitLSN || txn.CommitLSN <= lsn {
		t.Fatalf("txn LSNs commit %s end %s, consistent point %s", txn.CommitLSN, txn.EndLSN, lsn)
	}
	// Delivered but not acked: never reported flushed, even while the source
	// writes more (unpublished) WAL and the stream sees keepalives.
	for i := range 10 {
		exec(t, c, fmt.Sprintf("INSERT INTO other VALUES (%d)", i))
		time.Sleep(150 * time.Millisecond)
		if f := slotFlushLSN(t, c, s.cfg.Slot); f >= txn.CommitLSN {
			t.Fatalf("confirmed_flush_lsn %s reached unacked txn at %s", f, txn.CommitLSN)
		}
	}
	s.Ack(txn.EndLSN)
	s.Ack(txn.CommitLSN) // lower: ignored
	exec(t, c, "INSERT INTO other VALUES (100)")
	target := currentWAL(t, c)
	deadline := time.Now().Add(10 * time.Second)
	for {
		f := slotFlushLSN(t, c, s.cfg.Slot)
		if f >= target {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("confirmed_flush_lsn %s did not reach %s (acked %s) when idle", f, target, txn.EndLSN)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if s.acked() != txn.EndLSN {
		t.Errorf("acked %s, want %s", s.acked(), txn.EndLSN)
	}
}

func TestBackpressure(t *testing.T) {
	c := pgtest.Source(t)
	exec(t, c, "CREATE TABLE bp (id int PRIMARY KEY)")
	s := testSource(t, c, "bp")
	_, lsn := prepare(t, s)
	ctx, cancel := context.WithCancel(context.Background())
	out := make(chan Txn) // unbuffered: nobody reads until later
	done := make(chan error, 1)
	go func() { done <- s.Stream(ctx, lsn, out) }()
	time.Sleep(300 * time.Millisecond) // idle: the slot may advance to the WAL end
	conn := pgtest.Connect(t, c, "app")
	var before string
	if err := conn.QueryRow(ctx, "SELECT pg_current_wal_insert_lsn()::text").Scan(&before); err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		exec(t, c, fmt.Sprintf("INSERT INTO bp VALUES (%d)", i))
	}
	time.Sleep(time.Second) // several status intervals while blocked
	// Nothing was taken from out, so nothing may be reported flushed past
	// the first transaction: the one waiting on the channel is in flight.
	var flushedPast bool
	if err := conn.QueryRow(ctx, "SELECT confirmed_flush_lsn > $1::pg_lsn FROM pg_replication_slots WHERE slot_name = $2",
		before, s.cfg.Slot).Scan(&flushedPast); err != nil {
		t.Fatal(err)
	}
	if flushedPast {
		t.Fatalf("slot confirmed past %s while the first transaction was still waiting to be delivered (I4)", before)
	}
	for i := range 20 {
		select {
		case txn := <-out:
			if got := txn.Changes[0].New[0].Int(); got != int64(i) {
				t.Fatalf("txn %d holds %d", i, got)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("txn %d not delivered", i)
		}
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Stream = %v, want context.Canceled", err)
	}
}

func TestCatalog(t *testing.T) {
	c := pgtest.Source(t)
	exec(t, c, `CREATE SCHEMA other; CREATE TABLE other.t (x int);
		CREATE TABLE cat (id int, dropme int, "Mixed Case" varchar(10), n numeric(8,2), g int GENERATED ALWAYS AS (id * 2) STORED, PRIMARY KEY (id));
		ALTER TABLE cat DROP COLUMN dropme;
		CREATE TABLE nokey (v int);
		CREATE TABLE idx (a int NOT NULL, b int NOT NULL, c int); CREATE UNIQUE INDEX idx_ba ON idx (b, a); ALTER TABLE idx REPLICA IDENTITY USING INDEX idx_ba;
		CREATE TABLE nothing (v int); ALTER TABLE nothing REPLICA IDENTITY NOTHING;
		CREATE VIEW v AS SELECT 1 AS one; CREATE MATERIALIZED VIEW mv AS SELECT 1 AS one`)
	s := testSource(t, c, "cat")
	ctx := context.Background()

	rel, err := s.LookupTable(ctx, "", "cat")
	if err != nil {
		t.Fatal(err)
	}
	if rel.Name != (row.TableName{Schema: "public", Name: "cat"}) || rel.Identity != 'd' ||
		rel.Columns.String() != `(id integer, Mixed Case character varying(10), n numeric(8,2))` || fmt.Sprint(rel.KeyCols) != "[0]" {
		t.Errorf("cat = %+v %v", rel, rel.Columns)
	}
	keys := map[string]string{"nokey": "[]", "idx": "[0 1]", "nothing": "[]"}
	for name, want := range keys {
		rel, err := s.LookupTable(ctx, "public", name)
		if err != nil {
			t.Fatal(err)
		}
		if got := fmt.Sprint(rel.KeyCols); got != want {
			t.Errorf("%s key cols %s, want %s", name, got, want)
		}
	}
	if rel, err := s.LookupTable(ctx, "other", "t"); err != nil || rel.Name.Schema != "other" {
		t.Errorf("other.t = %v, %v", rel, err)
	}
	for _, name := range []string{"nope", "t"} { // other.t is not on the search_path
		_, err := s.LookupTable(ctx, "", name)
		if !errors.Is(err, ErrNoSuchTable) || !strings.Contains(err.Error(), name) {
			t.Errorf("lookup %s: %v, want ErrNoSuchTable naming it", name, err)
		}
	}
	for _, name := range []string{"v", "mv"} {
		if _, err := s.LookupTable(ctx, "", name); !errors.Is(err, ErrNotATable) {
			t.Errorf("lookup %s: %v, want ErrNotATable", name, err)
		}
	}

	sch, err := s.Describe(ctx, `SELECT id, "Mixed Case", n * 2 AS n2, now() AS ts FROM cat`)
	if err != nil {
		t.Fatal(err)
	}
	if got := sch.String(); got != `(id integer, Mixed Case character varying(10), n2 numeric, ts timestamp with time zone)` {
		t.Errorf("describe = %s", got)
	}
	_, err = s.Describe(ctx, "SELECT nope FROM cat")
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Position != 8 {
		t.Errorf("describe error = %v, want a PgError at position 8", err)
	}
	if coll, err := s.Collation(ctx); err != nil || coll != "C" {
		t.Errorf("collation = %q, %v", coll, err)
	}

	// The publication covers exactly the configured tables, also after a change.
	pubTables := func() string {
		conn := pgtest.Connect(t, c, "app")
		var got string
		if err := conn.QueryRow(ctx, "SELECT string_agg(schemaname || '.' || tablename, ',' ORDER BY tablename) FROM pg_publication_tables WHERE pubname = $1",
			s.cfg.Publication).Scan(&got); err != nil {
			t.Fatal(err)
		}
		return got
	}
	if err := s.EnsurePublication(ctx); err != nil {
		t.Fatal(err)
	}
	if got := pubTables(); got != "public.cat" {
		t.Errorf("publication tables %s", got)
	}
	s.cfg.Tables = []row.TableName{{Name: "nokey"}, {Schema: "other", Name: "t"}}
	if err := s.EnsurePublication(ctx); err != nil {
		t.Fatal(err)
	}
	if got := pubTables(); got != "public.nokey,other.t" {
		t.Errorf("publication tables after change %s", got)
	}
	s.cfg.Tables = []row.TableName{{Name: "missing1"}, {Name: "v"}}
	err = s.EnsurePublication(ctx)
	if !errors.Is(err, ErrNoSuchTable) || !errors.Is(err, ErrNotATable) {
		t.Errorf("ensure publication with bad tables: %v", err)
	}
}

func TestCopyUnescape(t *testing.T) {
	tests := []struct{ in, want string }{
		{`plain`, "plain"},
		{`a\tb\nc\\d\re\bf\fg\vh`, "a\tb\nc\\d\re\bf\fg\vh"},
		{`\101\0\7z`, "A\x00\x07z"},
		{`\x41\x4a\xg`, "AJxg"},
		{`\q`, "q"},
	}
	for _, tc := range tests {
		got, err := unescapeCopy([]byte(tc.in))
		if err != nil || got != tc.want {
			t.Errorf("unescape %q = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	if _, err := unescapeCopy([]byte(`a\`)); err == nil {
		t.Error("lone backslash accepted")
	}
	f, err := splitCopyLine([]byte("1\t\\N\t\tx\\ty"))
	if err != nil || len(f) != 4 || f[0].Text != "1" || !f[1].Null || f[2].Null || f[2].Text != "" || f[3].Text != "x\ty" {
		t.Errorf("split = %+v, %v", f, err)
	}
}

func TestErrors(t *testing.T) {
	ctx := context.Background()
	t.Run("wal_level replica", func(t *testing.T) {
		c := pgtest.Start(t, pgcluster.Options{WalLevel: "replica"})
		_, err := Connect(ctx, Config{DSN: c.DSN("postgres")})
		if !errors.Is(err, ErrWalLevel) || !strings.Contains(err.Error(), "'replica'") {
			t.Fatalf("Connect = %v, want ErrWalLevel", err)
		}
	})
	c := pgtest.Source(t)
	t.Run("no replication privilege", func(t *testing.T) {
		exec(t, c, "CREATE ROLE norepl LOGIN")
		_, err := Connect(ctx, Config{DSN: fmt.Sprintf("postgres://norepl@127.0.0.1:%d/app?sslmode=disable", c.Port)})
		if !errors.Is(err, ErrNoReplicationPrivilege) || !strings.Contains(err.Error(), "norepl") {
			t.Fatalf("Connect = %v, want ErrNoReplicationPrivilege", err)
		}
	})
	t.Run("bad password", func(t *testing.T) {
		exec(t, c, "CREATE ROLE ripple_pw LOGIN REPLICATION PASSWORD 'right'")
		_, err := Connect(ctx, Config{DSN: fmt.Sprintf("postgres://ripple_pw:wrong@127.0.0.1:%d/app?sslmode=disable", c.Port)})
		var pgErr *pgconn.PgError
		if err == nil || !strings.HasPrefix(err.Error(), "connect to source") || !errors.As(err, &pgErr) || pgErr.Code != "28P01" {
			t.Fatalf("Connect = %v, want wrapped invalid_password", err)
		}
	})
	t.Run("cannot connect", func(t *testing.T) {
		port, err := pgcluster.FreePort()
		if err != nil {
			t.Fatal(err)
		}
		_, err = Connect(ctx, Config{DSN: fmt.Sprintf("postgres://postgres@127.0.0.1:%d/app?sslmode=disable&connect_timeout=5", port)})
		if err == nil || !strings.HasPrefix(err.Error(), "connect to source") || !strings.Contains(err.Error(), fmt.Sprint(port)) {
			t.Fatalf("Connect = %v, want an error naming the port", err)
		}
	})
	t.Run("bad config", func(t *testing.T) {
		_, err := Connect(ctx, Config{Slot: "Bad-Name"})
		if err == nil || !strings.Contains(err.Error(), "DSN") || !strings.Contains(err.Error(), "Bad-Name") {
			t.Fatalf("Connect = %v, want both problems", err)
		}
	})
	t.Run("slot in use and missing", func(t *testing.T) {
		exec(t, c, "CREATE TABLE busy (id int PRIMARY KEY)")
		s := testSource(t, c, "busy")
		_, lsn := prepare(t, s)
		st := startStream(t, s, lsn)
		exec(t, c, "INSERT INTO busy VALUES (1)")
		st.next(t) // the stream is up and holds the slot

		s2 := testSource(t, c, "busy")
		s2.cfg.Slot, s2.cfg.Publication = s.cfg.Slot, s.cfg.Publication
		_, err := s2.Snapshot(ctx, func(*Relation, row.Row) error { return nil })
		if !errors.Is(err, ErrSlotInUse) || !strings.Contains(err.Error(), s.cfg.Slot) || !strings.Contains(err.Error(), "PID") {
			t.Fatalf("Snapshot = %v, want ErrSlotInUse", err)
		}
		err = s2.Stream(ctx, lsn, make(chan Txn))
		if !errors.Is(err, ErrSlotInUse) {
			t.Fatalf("second Stream = %v, want ErrSlotInUse", err)
		}
		s3 := testSource(t, c, "busy")
		err = s3.Stream(ctx, 0, make(chan Txn))
		if !errors.Is(err, ErrSlotMissing) {
			t.Fatalf("Stream without slot = %v, want ErrSlotMissing", err)
		}
	})
	t.Run("snapshot callback error", func(t *testing.T) {
		exec(t, c, "CREATE TABLE cb (id int PRIMARY KEY); INSERT INTO cb VALUES (1)")
		s := testSource(t, c, "cb")
		if err := s.EnsurePublication(ctx); err != nil {
			t.Fatal(err)
		}
		boom := errors.New("boom")
		_, err := s.Snapshot(ctx, func(*Relation, row.Row) error { return boom })
		if !errors.Is(err, boom) {
			t.Fatalf("Snapshot = %v, want the callback's error", err)
		}
		// The Source stays usable.
		if _, err := s.LookupTable(ctx, "", "cb"); err != nil {
			t.Fatal(err)
		}
	})
}
