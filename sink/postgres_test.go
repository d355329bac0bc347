package sink

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rippledb/ripple/internal/pgcluster"
	"github.com/rippledb/ripple/internal/pgtest"
	"github.com/rippledb/ripple/internal/row"
)

const testPipeline = "ripple"

var dbSeq atomic.Int64

// sinkDB creates a fresh database in c and returns its name.
func sinkDB(t *testing.T, c *pgcluster.Cluster) string {
	t.Helper()
	db := fmt.Sprintf("sink%d", dbSeq.Add(1))
	pgtest.CreateDB(t, c, db)
	return db
}

// openSink opens a Postgres sink on db and closes it at cleanup.
func openSink(t *testing.T, c *pgcluster.Cluster, db string, views ...View) (*Postgres, row.LSN) {
	t.Helper()
	s := NewPostgres(PostgresConfig{Name: "main", DSN: c.DSN(db)})
	t.Cleanup(func() { s.Close() })
	lsn, err := s.Open(context.Background(), testPipeline, views)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	return s, lsn
}

// reader connects to db with ripple's session settings, so that col::text
// is the canonical text row.FormatText writes.
func reader(t *testing.T, c *pgcluster.Cluster, db string) *pgx.Conn {
	t.Helper()
	cc, err := pgx.ParseConfig(c.DSN(db))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range row.SessionSettings {
		cc.RuntimeParams[k] = v
	}
	conn, err := pgx.ConnectConfig(context.Background(), cc)
	if err != nil {
		t.Fatalf("connect %s: %v", db, err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// textRow is a row as its columns' text; nil is NULL.
type textRow []*string

func (r textRow) String() string {
	parts := make([]string, len(r))
	for i, s := range r {
		if s == nil {
			parts[i] = "NULL"
		} else {
			parts[i] = fmt.Sprintf("%q", *s)
		}
	}
	return "(" + strings.Join(parts, ", ") + ")"
}

// readTable returns the table of v as sorted text rows. The values are read
// in the text result format, i.e. through each type's output function: that
// is the canonical text row.FormatText claims to write. (A col::text cast
// is not the same for every type: bool::text is "true", and a cast of
// character(n) strips its padding.)
func readTable(t *testing.T, conn *pgx.Conn, v View) []string {
	t.Helper()
	names := make([]string, len(v.Columns))
	for i, c := range v.Columns {
		names[i] = row.QuoteIdent(c.Name)
	}
	sql := "SELECT " + strings.Join(names, ", ") + " FROM " + v.Name.String()
	res := conn.PgConn().ExecParams(context.Background(), sql, nil, nil, nil, nil).Read()
	if res.Err != nil {
		t.Fatalf("read %s: %v", v.Name, res.Err)
	}
	var out []string
	for _, vals := range res.Rows {
		tr := make(textRow, len(vals))
		for i, b := range vals {
			if b != nil {
				s := string(b)
				tr[i] = &s
			}
		}
		out = append(out, tr.String())
	}
	slices.Sort(out)
	return out
}

// expectText is what readTable should return for the multiset us.
func expectText(us []row.Update) []string {
	var out []string
	for _, u := range us {
		tr := make(textRow, len(u.Row))
		for i, d := range u.Row {
			if !d.IsNull() {
				s := row.FormatText(d)
				tr[i] = &s
			}
		}
		for range u.W {
			out = append(out, tr.String())
		}
	}
	slices.Sort(out)
	return out
}

func checkTable(t *testing.T, conn *pgx.Conn, v View, want []row.Update) {
	t.Helper()
	got, exp := readTable(t, conn, v), expectText(want)
	if !slices.Equal(got, exp) {
		t.Fatalf("table %s:\n got %d rows %v\nwant %d rows %v", v.Name, len(got), got, len(exp), exp)
	}
}

func progressOf(t *testing.T, s Sink) row.LSN {
	t.Helper()
	lsn, err := s.Progress(context.Background())
	if err != nil {
		t.Fatalf("progress: %v", err)
	}
	return lsn
}

// typedColumn is one column of the all-types view with its test values in
// canonical text ("" entries are NULL).
type typedColumn struct {
	name   string
	typ    row.Type
	values []string
}

// allTypes covers every type the sink supports, with the values that are
// hard to round-trip. Each column has the same number of values; value i
// of every column makes row i.
var allTypes = []typedColumn{
	{"i2", row.Int2, []string{"-32768", "32767", "0", ""}},
	{"i4", row.Int4, []string{"-2147483648", "2147483647", "1", ""}},
	{"i8", row.Int8, []string{"-9223372036854775808", "9223372036854775807", "2", ""}},
	{"n_scaled", row.Type{OID: row.OIDNumeric, Mod: (10<<16 | 2) + 4}, []string{"12.30", "-0.05", "99999999.99", ""}},
	{"n", row.Numeric, []string{"1.500", "NaN", "-Infinity", ""}},
	{"f4", row.Float4, []string{"0.1", "NaN", "-Infinity", ""}},
	{"f8", row.Float8, []string{fmtF8(point1 + 0.2), "NaN", "Infinity", "-0"}},
	{"f8_big", row.Float8, []string{"1e+100", "1.5e-07", "-0", ""}},
	{"b", row.Bool, []string{"t", "f", "t", ""}},
	{"t", row.Text, []string{"tab\there", "nl\nand\rcr", `back\slash \N \.`, ""}},
	{"t2", row.Text, []string{"", "quote'\"", "héllo ☃", ""}},
	{"vc", row.Type{OID: row.OIDVarchar, Mod: 10 + 4}, []string{"abc", "0123456789", "", ""}},
	{"ch", row.Type{OID: row.OIDBpchar, Mod: 5 + 4}, []string{"ab   ", "abcde", "     ", ""}},
	{"d", row.Date, []string{"0044-03-15 BC", "infinity", "-infinity", ""}},
	{"d2", row.Date, []string{"2024-02-29", "0001-01-01", "1999-12-31", ""}},
	{"ts", row.Timestamp, []string{"2024-02-29 12:34:56.789012", "0001-01-01 00:00:00 BC", "infinity", ""}},
	{"ts3", row.Type{OID: row.OIDTimestamp, Mod: 3}, []string{"2000-01-01 00:00:00.123", "1970-01-01 00:00:00", "-infinity", ""}},
	{"tstz", row.TimestampTZ, []string{"2024-01-01 00:00:00.5+00", "1999-12-31 23:59:59.999999+00", "infinity", ""}},
	{"u", row.UUID, []string{"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "00000000-0000-0000-0000-000000000000", "ffffffff-ffff-ffff-ffff-ffffffffffff", ""}},
	{"j", row.JSON, []string{`{"b": 1,   "a": [1, 2]}`, `{"s": "tab\tnl\\n"}`, `[]`, ""}},
	{"jb", row.JSONB, []string{`{"a": 1, "b": [true, null]}`, `{"s": "x\\ty"}`, `"str"`, ""}},
	{"by", row.Bytea, []string{`\x005c090a0dff`, `\x`, `\x5c5c`, ""}},
	{"Mixed Case", row.Text, []string{"x", "y", "z", ""}},
	{"select", row.Int4, []string{"1", "2", "3", ""}},
}

func fmtF8(f float64) string { return row.FormatFloat(f, false) }

// allTypesView builds the view and its rows (each once, plus a fully NULL
// row) from allTypes.
func allTypesView(t *testing.T, name row.TableName, key []int) (View, []row.Update) {
	t.Helper()
	v := View{Name: name, Key: key, Definition: "SELECT ..."}
	for _, c := range allTypes {
		v.Columns = append(v.Columns, row.Column{Name: c.name, Type: c.typ})
	}
	n := len(allTypes[0].values)
	var us []row.Update
	for i := range n {
		r := make(row.Row, len(allTypes))
		for j, c := range allTypes {
			s := c.values[i]
			if s == "" && !(c.typ.Kind() == row.KindText && i < 3) {
				continue // NULL
			}
			d, err := row.ParseText(c.typ, s)
			if err != nil {
				t.Fatalf("column %s value %q: %v", c.name, s, err)
			}
			if got := row.FormatText(d); got != s {
				t.Fatalf("column %s: test value %q is not canonical (formats as %q)", c.name, s, got)
			}
			r[j] = d
		}
		us = append(us, row.Update{Row: r, W: 1})
	}
	return v, us
}

func TestPostgresAllTypesRoundTrip(t *testing.T) {
	c := pgtest.Start(t, pgcluster.Options{})
	for _, tc := range []struct {
		name string
		key  []int
	}{
		{"keyless", nil},
		{"keyed by int8", []int{2}},
		{"keyed by text and json", []int{9, 19}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			db := sinkDB(t, c)
			v, rows := allTypesView(t, row.TableName{Schema: "Data", Name: "all types"}, tc.key)
			s, lsn := openSink(t, c, db, v)
			if lsn != 0 {
				t.Fatalf("fresh sink progress = %s, want 0", lsn)
			}
			if err := s.Load(ctx, 10, map[row.TableName][]row.Update{v.Name: rows}); err != nil {
				t.Fatalf("load: %v", err)
			}
			rc := reader(t, c, db)
			checkTable(t, rc, v, rows)

			// Retract every row (each matched on every value, NULLs
			// included), then insert them again twice over two steps.
			var retract []row.Update
			for _, u := range rows {
				retract = append(retract, row.Update{Row: u.Row, W: -1})
			}
			if err := s.Apply(ctx, Step{LSN: 20, Deltas: []Delta{{View: v.Name, Rows: retract}}}); err != nil {
				t.Fatalf("apply retractions: %v", err)
			}
			checkTable(t, rc, v, nil)
			if err := s.Apply(ctx, Step{LSN: 30, Deltas: []Delta{{View: v.Name, Rows: rows}}}); err != nil {
				t.Fatalf("apply insertions: %v", err)
			}
			checkTable(t, rc, v, rows)

			// An update: -old, +new in one delta, the retraction first.
			upd := slices.Clone(rows[0].Row)
			upd[0] = row.NewInt(7)
			step := Step{LSN: 40, Deltas: []Delta{{View: v.Name, Rows: []row.Update{{Row: upd, W: 1}, {Row: rows[0].Row, W: -1}}}}}
			if err := s.Apply(ctx, step); err != nil {
				t.Fatalf("apply update: %v", err)
			}
			want := append([]row.Update{{Row: upd, W: 1}}, rows[1:]...)
			checkTable(t, rc, v, want)
			if got := progressOf(t, s); got != 40 {
				t.Fatalf("progress = %s, want 0/28", got)
			}
		})
	}
}

func TestPostgresCopyEscaping(t *testing.T) {
	// Each value on its own, so that a failure names it.
	c := pgtest.Start(t, pgcluster.Options{})
	db := sinkDB(t, c)
	v := View{Name: row.TableName{Schema: "public", Name: "esc"}, Columns: row.Schema{{Name: "t", Type: row.Text}, {Name: "b", Type: row.Bytea}}}
	s, _ := openSink(t, c, db, v)
	rc := reader(t, c, db)
	ctx := context.Background()
	for i, tc := range []row.Row{
		{row.NewText(`\`), row.NewBytes([]byte{0x00})},
		{row.NewText("\t"), row.NewBytes([]byte{0x5c})},
		{row.NewText("\n"), row.NewBytes([]byte{0x09})},
		{row.NewText("\r\n"), row.NewBytes([]byte{0x0a})},
		{row.NewText(`\.`), row.NewBytes([]byte(`\.`))},
		{row.NewText(`\N`), row.Null},
		{row.NewText(""), row.NewBytes(nil)},
	} {
		rows := []row.Update{{Row: tc, W: 1}}
		if err := s.Load(ctx, row.LSN(i+1), map[row.TableName][]row.Update{v.Name: rows}); err != nil {
			t.Fatalf("load %v: %v", tc, err)
		}
		checkTable(t, rc, v, rows)
		if err := s.Apply(ctx, Step{LSN: row.LSN(i + 1000), Deltas: []Delta{{View: v.Name, Rows: []row.Update{{Row: tc, W: -1}}}}}); err != nil {
			t.Fatalf("retract %v: %v", tc, err)
		}
		checkTable(t, rc, v, nil)
	}
}

func TestPostgresDuplicatesAndNulls(t *testing.T) {
	c := pgtest.Start(t, pgcluster.Options{})
	ctx := context.Background()
	cols := row.Schema{{Name: "k", Type: row.Int4}, {Name: "v", Type: row.Text}}
	x := func(k int64, v string) row.Row { return row.Row{row.NewInt(k), row.NewText(v)} }
	nullV := func(k int64) row.Row { return row.Row{row.NewInt(k), row.Null} }
	bothNull := row.Row{row.Null, row.Null}
	for _, tc := range []struct {
		name  string
		key   []int
		load  []row.Update
		steps [][]row.Update
		want  []row.Update
	}{
		{
			name:  "keyless: retract 1 of 3 duplicates leaves 2",
			load:  []row.Update{{Row: x(1, "a"), W: 3}, {Row: x(2, "b"), W: 1}},
			steps: [][]row.Update{{{Row: x(1, "a"), W: -1}}},
			want:  []row.Update{{Row: x(1, "a"), W: 2}, {Row: x(2, "b"), W: 1}},
		},
		{
			name:  "keyless: retract 2 of 3 then add 1",
			load:  []row.Update{{Row: x(1, "a"), W: 3}},
			steps: [][]row.Update{{{Row: x(1, "a"), W: -2}}, {{Row: x(1, "a"), W: 1}}},
			want:  []row.Update{{Row: x(1, "a"), W: 2}},
		},
		{
			name: "keyless: NULLs match NULLs only",
			load: []row.Update{{Row: nullV(1), W: 2}, {Row: x(1, ""), W: 1}, {Row: bothNull, W: 2}},
			steps: [][]row.Update{
				{{Row: nullV(1), W: -1}, {Row: bothNull, W: -2}},
			},
			want: []row.Update{{Row: nullV(1), W: 1}, {Row: x(1, ""), W: 1}},
		},
		{
			name: "keyed: retraction matches on the key",
			key:  []int{0},
			load: []row.Update{{Row: x(1, "a"), W: 1}, {Row: x(2, "b"), W: 1}, {Row: nullV(3), W: 1}},
			steps: [][]row.Update{
				{{Row: x(1, "a"), W: -1}, {Row: x(1, "A"), W: 1}, {Row: nullV(3), W: -1}},
			},
			want: []row.Update{{Row: x(1, "A"), W: 1}, {Row: x(2, "b"), W: 1}},
		},
		{
			name:  "keyed: NULL key",
			key:   []int{1},
			load:  []row.Update{{Row: nullV(1), W: 1}, {Row: x(2, "b"), W: 1}},
			steps: [][]row.Update{{{Row: nullV(1), W: -1}, {Row: nullV(5), W: 1}}},
			want:  []row.Update{{Row: nullV(5), W: 1}, {Row: x(2, "b"), W: 1}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db := sinkDB(t, c)
			v := View{Name: row.TableName{Schema: "s", Name: "v"}, Columns: cols, Key: tc.key}
			s, _ := openSink(t, c, db, v)
			if err := s.Load(ctx, 1, map[row.TableName][]row.Update{v.Name: tc.load}); err != nil {
				t.Fatalf("load: %v", err)
			}
			for i, d := range tc.steps {
				if err := s.Apply(ctx, Step{LSN: row.LSN(2 + i), Deltas: []Delta{{View: v.Name, Rows: d}}}); err != nil {
					t.Fatalf("step %d: %v", i, err)
				}
			}
			checkTable(t, reader(t, c, db), v, tc.want)
		})
	}
}

func TestPostgresKeyIndex(t *testing.T) {
	c := pgtest.Start(t, pgcluster.Options{})
	db := sinkDB(t, c)
	v := View{
		Name:    row.TableName{Schema: "s", Name: "keyed"},
		Columns: row.Schema{{Name: "a", Type: row.Int8}, {Name: "j", Type: row.JSON}, {Name: "x", Type: row.Text}},
		Key:     []int{1, 0},
	}
	s, _ := openSink(t, c, db, v)
	var rows []row.Update
	for i := range 2000 {
		rows = append(rows, row.Update{Row: row.Row{row.NewInt(int64(i)), row.NewJSON(fmt.Sprintf(`{"i": %d}`, i)), row.NewText("x")}, W: 1})
	}
	ctx := context.Background()
	if err := s.Load(ctx, 1, map[row.TableName][]row.Update{v.Name: rows}); err != nil {
		t.Fatalf("load: %v", err)
	}
	rc := reader(t, c, db)
	var def string
	if err := rc.QueryRow(ctx, `SELECT indexdef FROM pg_indexes WHERE schemaname = 's' AND tablename = 'keyed'`).Scan(&def); err != nil {
		t.Fatalf("key index: %v", err)
	}
	if !strings.Contains(def, "btree (((j)::text), a)") || strings.Contains(def, "UNIQUE") {
		t.Fatalf("key index = %s", def)
	}
	// The retraction's DELETE uses it.
	var plan []string
	r, err := rc.Query(ctx, `EXPLAIN DELETE FROM s.keyed WHERE ctid = ANY (ARRAY(SELECT ctid FROM s.keyed WHERE (j)::text = '{"i": 5}' AND a = 5 LIMIT 1))`)
	if err != nil {
		t.Fatal(err)
	}
	for r.Next() {
		var line string
		r.Scan(&line)
		plan = append(plan, line)
	}
	if p := strings.Join(plan, "\n"); !strings.Contains(p, "Index") || !strings.Contains(p, "Tid Scan") {
		t.Errorf("retraction plan does not use the key index and a TID scan:\n%s", p)
	}
	if err := s.Apply(ctx, Step{LSN: 2, Deltas: []Delta{{View: v.Name, Rows: []row.Update{{Row: rows[5].Row, W: -1}}}}}); err != nil {
		t.Fatalf("apply: %v", err)
	}
	var n int
	rc.QueryRow(ctx, `SELECT count(*) FROM s.keyed`).Scan(&n)
	if n != 1999 {
		t.Fatalf("rows after retraction = %d, want 1999", n)
	}
}

func TestPostgresSkipsAppliedSteps(t *testing.T) {
	c := pgtest.Start(t, pgcluster.Options{})
	db := sinkDB(t, c)
	ctx := context.Background()
	v := View{Name: row.TableName{Schema: "public", Name: "v"}, Columns: row.Schema{{Name: "a", Type: row.Int4}}}
	s, _ := openSink(t, c, db, v)
	one := []row.Update{{Row: row.Row{row.NewInt(1)}, W: 1}}
	if err := s.Load(ctx, 100, map[row.TableName][]row.Update{v.Name: one}); err != nil {
		t.Fatal(err)
	}
	rc := reader(t, c, db)
	for _, lsn := range []row.LSN{100, 50, 0} {
		if err := s.Apply(ctx, Step{LSN: lsn, Deltas: []Delta{{View: v.Name, Rows: one}}}); err != nil {
			t.Fatalf("apply at %s: %v", lsn, err)
		}
		checkTable(t, rc, v, one)
		if got := progressOf(t, s); got != 100 {
			t.Fatalf("progress after skipped step %s = %s", lsn, got)
		}
	}
	commit := time.Date(2024, 5, 6, 7, 8, 9, 123456000, time.UTC)
	if err := s.Apply(ctx, Step{LSN: 101, CommitTime: commit, Deltas: []Delta{{View: v.Name, Rows: one}}}); err != nil {
		t.Fatal(err)
	}
	// A restart re-delivers the step: it must not apply twice.
	s.Close()
	s2, lsn := openSink(t, c, db, v)
	if lsn != 101 {
		t.Fatalf("reopened progress = %s, want 0/65", lsn)
	}
	if err := s2.Apply(ctx, Step{LSN: 101, Deltas: []Delta{{View: v.Name, Rows: one}}}); err != nil {
		t.Fatal(err)
	}
	checkTable(t, rc, v, []row.Update{{Row: one[0].Row, W: 2}})
	var ct time.Time
	if err := rc.QueryRow(ctx, `SELECT commit_time FROM ripple.progress WHERE pipeline = $1`, testPipeline).Scan(&ct); err != nil {
		t.Fatal(err)
	}
	if !ct.Equal(commit) {
		t.Fatalf("commit_time = %v, want %v", ct, commit)
	}
	// An empty step still moves the progress.
	if err := s2.Apply(ctx, Step{LSN: 102}); err != nil {
		t.Fatal(err)
	}
	if got := progressOf(t, s2); got != 102 {
		t.Fatalf("progress after empty step = %s", got)
	}
}

func TestPostgresRetractMissingFails(t *testing.T) {
	c := pgtest.Start(t, pgcluster.Options{})
	ctx := context.Background()
	a := View{Name: row.TableName{Schema: "public", Name: "a"}, Columns: row.Schema{{Name: "x", Type: row.Int4}}}
	b := View{Name: row.TableName{Schema: "public", Name: "b"}, Columns: row.Schema{{Name: "x", Type: row.Int4}, {Name: "y", Type: row.Text}}, Key: []int{0}}
	r1 := row.Row{row.NewInt(1)}
	b1 := row.Row{row.NewInt(1), row.NewText("one")}
	for _, tc := range []struct {
		name  string
		delta []Delta
	}{
		{"row not held", []Delta{
			{View: a.Name, Rows: []row.Update{{Row: row.Row{row.NewInt(9)}, W: 1}}},
			{View: b.Name, Rows: []row.Update{{Row: row.Row{row.NewInt(2), row.NewText("two")}, W: -1}}},
		}},
		{"more copies than held", []Delta{
			{View: b.Name, Rows: []row.Update{{Row: row.Row{row.NewInt(5), row.Null}, W: 1}}},
			{View: a.Name, Rows: []row.Update{{Row: r1, W: -3}}},
		}},
		{"NULL does not match a value", []Delta{
			{View: a.Name, Rows: []row.Update{{Row: row.Row{row.Null}, W: -1}}},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db := sinkDB(t, c)
			s, _ := openSink(t, c, db, a, b)
			load := map[row.TableName][]row.Update{a.Name: {{Row: r1, W: 2}}, b.Name: {{Row: b1, W: 1}}}
			if err := s.Load(ctx, 7, load); err != nil {
				t.Fatal(err)
			}
			err := s.Apply(ctx, Step{LSN: 8, Deltas: tc.delta})
			if !errors.Is(err, ErrOutOfSync) {
				t.Fatalf("apply = %v, want ErrOutOfSync", err)
			}
			if msg := err.Error(); !strings.Contains(msg, "sink main") || !strings.Contains(msg, "view public.") {
				t.Errorf("error %q does not name the sink and view", msg)
			}
			t.Log(err)
			rc := reader(t, c, db)
			checkTable(t, rc, a, load[a.Name])
			checkTable(t, rc, b, load[b.Name])
			if got := progressOf(t, s); got != 7 {
				t.Fatalf("progress after failed step = %s, want 0/7", got)
			}
			// The connection is still usable after the rollback.
			if err := s.Apply(ctx, Step{LSN: 8, Deltas: []Delta{{View: a.Name, Rows: []row.Update{{Row: r1, W: -1}}}}}); err != nil {
				t.Fatalf("apply after failure: %v", err)
			}
			checkTable(t, rc, a, []row.Update{{Row: r1, W: 1}})
		})
	}
}

func TestPostgresOpenRefusesForeignTable(t *testing.T) {
	c := pgtest.Start(t, pgcluster.Options{})
	ctx := context.Background()
	daily := View{Name: row.TableName{Schema: "sales", Name: "daily"}, Columns: row.Schema{{Name: "x", Type: row.Int4}}}
	other := View{Name: row.TableName{Schema: "fresh", Name: "other"}, Columns: row.Schema{{Name: "x", Type: row.Int4}}}

	t.Run("user table", func(t *testing.T) {
		db := sinkDB(t, c)
		pgtest.Exec(t, c, db, `CREATE SCHEMA sales; CREATE TABLE sales.daily (x int); INSERT INTO sales.daily VALUES (42)`)
		s := NewPostgres(PostgresConfig{Name: "main", DSN: c.DSN(db)})
		defer s.Close()
		_, err := s.Open(ctx, testPipeline, []View{other, daily})
		want := `sink main: table sales.daily exists and was not created by ripple pipeline "ripple"; drop or rename it, or choose another view name`
		if err == nil || err.Error() != want {
			t.Fatalf("open = %v\nwant %s", err, want)
		}
		rc := reader(t, c, db)
		var n int
		if err := rc.QueryRow(ctx, `SELECT count(*) FROM pg_namespace WHERE nspname = 'fresh'`).Scan(&n); err != nil || n != 0 {
			t.Fatalf("open created schema fresh (count %d, %v)", n, err)
		}
		if err := rc.QueryRow(ctx, `SELECT count(*) FROM ripple.views`).Scan(&n); err != nil || n != 0 {
			t.Fatalf("open registered views (count %d, %v)", n, err)
		}
		checkTable(t, rc, daily, []row.Update{{Row: row.Row{row.NewInt(42)}, W: 1}})
	})

	t.Run("another pipeline's table", func(t *testing.T) {
		db := sinkDB(t, c)
		s1 := NewPostgres(PostgresConfig{Name: "main", DSN: c.DSN(db)})
		defer s1.Close()
		if _, err := s1.Open(ctx, "orders", []View{daily}); err != nil {
			t.Fatal(err)
		}
		if err := s1.Load(ctx, 1, nil); err != nil {
			t.Fatal(err)
		}
		s2 := NewPostgres(PostgresConfig{Name: "main", DSN: c.DSN(db)})
		defer s2.Close()
		_, err := s2.Open(ctx, testPipeline, []View{daily})
		if err == nil || !strings.Contains(err.Error(), `table sales.daily exists and was not created by ripple pipeline "ripple"`) {
			t.Fatalf("open = %v", err)
		}
	})

	t.Run("table appears between Open and Load", func(t *testing.T) {
		db := sinkDB(t, c)
		s, _ := openSink(t, c, db, other, daily)
		pgtest.Exec(t, c, db, `CREATE SCHEMA sales; CREATE TABLE sales.daily (x int); INSERT INTO sales.daily VALUES (42)`)
		err := s.Load(ctx, 5, nil)
		if err == nil || !strings.Contains(err.Error(), "table sales.daily exists and was not created by ripple") {
			t.Fatalf("load = %v", err)
		}
		rc := reader(t, c, db)
		checkTable(t, rc, daily, []row.Update{{Row: row.Row{row.NewInt(42)}, W: 1}})
		var n int
		rc.QueryRow(ctx, `SELECT count(*) FROM pg_namespace WHERE nspname = 'fresh'`).Scan(&n)
		if n != 0 {
			t.Fatalf("failed load left schema fresh behind")
		}
		if got := progressOf(t, s); got != 0 {
			t.Fatalf("failed load set progress %s", got)
		}
	})

	t.Run("own table after restart", func(t *testing.T) {
		db := sinkDB(t, c)
		s1, _ := openSink(t, c, db, daily)
		if err := s1.Load(ctx, 3, map[row.TableName][]row.Update{daily.Name: {{Row: row.Row{row.NewInt(1)}, W: 1}}}); err != nil {
			t.Fatal(err)
		}
		s1.Close()
		s2, lsn := openSink(t, c, db, daily)
		if lsn != 3 {
			t.Fatalf("progress = %s, want 0/3", lsn)
		}
		if err := s2.Apply(ctx, Step{LSN: 4, Deltas: []Delta{{View: daily.Name, Rows: []row.Update{{Row: row.Row{row.NewInt(1)}, W: -1}}}}}); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("changed columns need a load", func(t *testing.T) {
		db := sinkDB(t, c)
		s1, _ := openSink(t, c, db, daily)
		if err := s1.Load(ctx, 3, nil); err != nil {
			t.Fatal(err)
		}
		s1.Close()
		changed := daily
		changed.Columns = row.Schema{{Name: "x", Type: row.Int8}}
		s2, _ := openSink(t, c, db, changed)
		err := s2.Apply(ctx, Step{LSN: 4, Deltas: []Delta{{View: daily.Name, Rows: []row.Update{{Row: row.Row{row.NewInt(1)}, W: 1}}}}})
		if err == nil || !strings.Contains(err.Error(), "a Load is needed") {
			t.Fatalf("apply = %v", err)
		}
		if err := s2.Load(ctx, 5, map[row.TableName][]row.Update{daily.Name: {{Row: row.Row{row.NewInt(1 << 40)}, W: 1}}}); err != nil {
			t.Fatal(err)
		}
		checkTable(t, reader(t, c, db), changed, []row.Update{{Row: row.Row{row.NewInt(1 << 40)}, W: 1}})
	})
}

func TestPostgresBadViews(t *testing.T) {
	s := NewPostgres(PostgresConfig{Name: "main", DSN: "postgres://127.0.0.1:1/none"})
	_, err := s.Open(context.Background(), testPipeline, []View{
		{Name: row.TableName{Schema: "s", Name: "v"}, Columns: row.Schema{{Name: "a", Type: row.Int4}, {Name: "a", Type: row.Type{OID: 600, Mod: -1}}}, Key: []int{3}},
		{Name: row.TableName{Schema: "s", Name: "v"}, Columns: row.Schema{{Name: "a", Type: row.Int4}}},
	})
	if err == nil {
		t.Fatal("open accepted bad views")
	}
	for _, want := range []string{`column a appears twice`, `unsupported type`, `key column 3 out of range`, `view s.v is listed twice`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
}

func TestPostgresConcurrentOpen(t *testing.T) {
	c := pgtest.Start(t, pgcluster.Options{})
	db := sinkDB(t, c)
	var wg sync.WaitGroup
	errs := make([]error, 6)
	for i := range errs {
		wg.Go(func() {
			s := NewPostgres(PostgresConfig{Name: fmt.Sprintf("s%d", i), DSN: c.DSN(db)})
			defer s.Close()
			_, errs[i] = s.Open(context.Background(), fmt.Sprintf("p%d", i), nil)
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("open %d: %v", i, err)
		}
	}
}

func TestPostgresProgressRoundTrip(t *testing.T) {
	c := pgtest.Start(t, pgcluster.Options{})
	db := sinkDB(t, c)
	ctx := context.Background()
	s, _ := openSink(t, c, db)
	rc := reader(t, c, db)
	for _, lsn := range []row.LSN{1, 0x16_B374D848, 0xFFFFFFFF, 0x1_00000000, math.MaxUint64 - 1, math.MaxUint64} {
		if err := s.Load(ctx, lsn, nil); err != nil {
			t.Fatalf("load at %s: %v", lsn, err)
		}
		if got := progressOf(t, s); got != lsn {
			t.Fatalf("progress = %s, want %s", got, lsn)
		}
		var text string
		if err := rc.QueryRow(ctx, `SELECT lsn::text FROM ripple.progress WHERE pipeline = $1`, testPipeline).Scan(&text); err != nil {
			t.Fatal(err)
		}
		if text != lsn.String() {
			t.Fatalf("stored pg_lsn %s, want %s", text, lsn)
		}
	}
}

// TestPostgresLoadIsAtomic reloads a view while another session counts its
// rows: the reader must see the old or the new contents, never an empty or
// partial table. Both paths are covered: TRUNCATE (same columns) and DROP +
// CREATE (columns changed).
func TestPostgresLoadIsAtomic(t *testing.T) {
	c := pgtest.Start(t, pgcluster.Options{})
	db := sinkDB(t, c)
	ctx := context.Background()
	v := View{Name: row.TableName{Schema: "s", Name: "big"}, Columns: row.Schema{{Name: "a", Type: row.Int8}, {Name: "t", Type: row.Text}}, Key: []int{0}}
	mk := func(n int, w row.Weight) []row.Update {
		us := make([]row.Update, n)
		for i := range us {
			us[i] = row.Update{Row: row.Row{row.NewInt(int64(i)), row.NewText(strings.Repeat("x", 50))}, W: w}
		}
		return us
	}
	s, _ := openSink(t, c, db, v)
	if err := s.Load(ctx, 1, map[row.TableName][]row.Update{v.Name: mk(1000, 1)}); err != nil {
		t.Fatal(err)
	}

	count := func(t *testing.T, load func() error, allowed ...int) {
		rc := reader(t, c, db)
		seen := map[int]int{}
		done := make(chan struct{})
		var rerr error
		var wg sync.WaitGroup
		wg.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				var n int
				if err := rc.QueryRow(ctx, `SELECT count(*) FROM s.big`).Scan(&n); err != nil {
					rerr = err
					return
				}
				seen[n]++
			}
		})
		time.Sleep(50 * time.Millisecond)
		err := load()
		time.Sleep(50 * time.Millisecond)
		close(done)
		wg.Wait()
		if err != nil {
			t.Fatalf("load: %v", err)
		}
		if rerr != nil {
			t.Fatalf("reader: %v", rerr)
		}
		for n := range seen {
			if !slices.Contains(allowed, n) {
				t.Fatalf("reader saw %d rows, want one of %v (seen %v)", n, allowed, seen)
			}
		}
		if seen[allowed[len(allowed)-1]] == 0 {
			t.Fatalf("reader never saw the new contents: %v", seen)
		}
		t.Logf("counts seen: %v", seen)
	}
	t.Run("truncate", func(t *testing.T) {
		count(t, func() error {
			return s.Load(ctx, 2, map[row.TableName][]row.Update{v.Name: mk(200_000, 1)})
		}, 1000, 200_000)
	})
	t.Run("re-create", func(t *testing.T) {
		s.Close()
		v2 := v
		v2.Columns = row.Schema{{Name: "a", Type: row.Int8}, {Name: "t", Type: row.Type{OID: row.OIDVarchar, Mod: 100 + 4}}}
		s2, _ := openSink(t, c, db, v2)
		count(t, func() error {
			return s2.Load(ctx, 3, map[row.TableName][]row.Update{v2.Name: mk(75_000, 2)})
		}, 200_000, 150_000)
	})
}
