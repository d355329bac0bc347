package sink

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rippledb/ripple/internal/mysqltest"
	"github.com/rippledb/ripple/internal/row"
)

const myPipeline = "ripple"

// openMySQL opens a MySQL sink on dsn and closes it at cleanup.
func openMySQL(t *testing.T, dsn string, views ...View) (*MySQL, row.LSN) {
	t.Helper()
	return openMySQLWith(t, MySQLConfig{Name: "main", DSN: dsn}, myPipeline, views...)
}

func openMySQLWith(t *testing.T, cfg MySQLConfig, pipeline string, views ...View) (*MySQL, row.LSN) {
	t.Helper()
	s := NewMySQL(cfg)
	t.Cleanup(func() { s.Close() })
	lsn, err := s.Open(context.Background(), pipeline, views)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	return s, lsn
}

// dumpLines dumps view v of s as sorted COPY text lines.
func dumpLines(t *testing.T, s Dumper, v View) []string {
	t.Helper()
	var buf bytes.Buffer
	if err := s.Dump(context.Background(), v.Name, &buf); err != nil {
		t.Fatalf("dump %s: %v", v.Name, err)
	}
	lines := strings.SplitAfter(buf.String(), "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	slices.Sort(lines)
	return lines
}

// copyLines is what dumpLines should return for the multiset us.
func copyLines(us []row.Update) []string {
	var out []string
	for _, u := range us {
		line := string(appendCopyRow(nil, u.Row))
		for range u.W {
			out = append(out, line)
		}
	}
	slices.Sort(out)
	return out
}

func checkDump(t *testing.T, s Dumper, v View, want []row.Update) {
	t.Helper()
	got, exp := dumpLines(t, s, v), copyLines(want)
	if !slices.Equal(got, exp) {
		t.Fatalf("view %s:\n got %d rows %q\nwant %d rows %q", v.Name, len(got), got, len(exp), exp)
	}
}

func myProgress(t *testing.T, s Sink) row.LSN {
	t.Helper()
	lsn, err := s.Progress(context.Background())
	if err != nil {
		t.Fatalf("progress: %v", err)
	}
	return lsn
}

func numericType(prec, scale int) row.Type {
	return row.Type{OID: row.OIDNumeric, Mod: int32(prec<<16|(scale&0x7ff)) + 4}
}

// myAllTypes covers every type with values MySQL can hold, the hard ones
// to round-trip included. "" entries are NULL except in text columns'
// first three rows.
var myAllTypes = []typedColumn{
	{"i2", row.Int2, []string{"-32768", "32767", "0", ""}},
	{"i4", row.Int4, []string{"-2147483648", "2147483647", "1", ""}},
	{"i8", row.Int8, []string{"-9223372036854775808", "9223372036854775807", "2", ""}},
	{"n_scaled", numericType(10, 2), []string{"12.30", "-0.05", "99999999.99", ""}},
	{"n", row.Numeric, []string{"1.500", "-0.000001", "12345678901234567890123456789012345.123456789012345678901234567890", ""}},
	{"n_int", row.Numeric, []string{"100", "-99999999999999999999999999999999999", "0", ""}},
	{"n_zeros", row.Numeric, []string{"1.0000000000000000000000000000000000000000", "0.00", "-5", ""}},
	{"n_neg_scale", numericType(5, -2), []string{"12300", "-9999900", "0", ""}},
	{"n_small", numericType(3, 5), []string{"0.00123", "-0.00999", "0.00000", ""}},
	{"n_big", numericType(70, 35), []string{"123.45000000000000000000000000000000000", "-1.10000000000000000000000000000000000", "0.00000000000000000000000000000000000", ""}},
	{"f4", row.Float4, []string{"0.1", "-3.4028235e+38", "1e-45", ""}},
	{"f8", row.Float8, []string{fmtF8(point1 + 0.2), "1e+100", "5e-324", "-1.7976931348623157e+308"}},
	{"f8_small", row.Float8, []string{"1.5e-07", "1.2345678901234568e+17", "123456789012345", ""}},
	{"b", row.Bool, []string{"t", "f", "t", ""}},
	{"t", row.Text, []string{"tab\there", "nl\nand\rcr", `back\slash \N \.`, ""}},
	{"t2", row.Text, []string{"", "quote'\"`", "héllo ☃ 😀", ""}},
	{"t_space", row.Text, []string{"a ", "a", " ", ""}},
	{"vc", row.Type{OID: row.OIDVarchar, Mod: 10 + 4}, []string{"abc", "0123456789", "", ""}},
	{"vc_long", row.Type{OID: row.OIDVarchar, Mod: 1000 + 4}, []string{"x ", strings.Repeat("y", 1000), "", ""}},
	{"vc_free", row.Varchar, []string{"free ", "", "z", ""}},
	{"ch", row.Type{OID: row.OIDBpchar, Mod: 5 + 4}, []string{"ab   ", "abcde", "     ", ""}},
	{"ch_uni", row.Type{OID: row.OIDBpchar, Mod: 3 + 4}, []string{"é  ", "☃😀x", "   ", ""}},
	{"ch_long", row.Type{OID: row.OIDBpchar, Mod: 300 + 4}, []string{strings.Repeat("c", 299) + " ", strings.Repeat(" ", 300), strings.Repeat("d", 300), ""}},
	{"d", row.Date, []string{"0001-01-01", "9999-12-31", "2024-02-29", ""}},
	{"ts", row.Timestamp, []string{"2024-02-29 12:34:56.789012", "0001-01-01 00:00:00", "9999-12-31 23:59:59.999999", ""}},
	{"ts3", row.Type{OID: row.OIDTimestamp, Mod: 3}, []string{"2000-01-01 00:00:00.123", "1970-01-01 00:00:00", "1969-12-31 23:59:59.999", ""}},
	{"tstz", row.TimestampTZ, []string{"2024-01-01 00:00:00.5+00", "1999-12-31 23:59:59.999999+00", "0001-01-01 00:00:00+00", ""}},
	{"u", row.UUID, []string{"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "00000000-0000-0000-0000-000000000000", "ffffffff-ffff-ffff-ffff-ffffffffffff", ""}},
	{"j", row.JSON, []string{`{"b": 1,   "a": [1, 2]}`, `{"s": "tab\tnl\\n"}`, `[]  `, ""}},
	{"jb", row.JSONB, []string{`{"a": 1, "b": [true, null]}`, `{"s": "x\\ty"}`, `"str"`, ""}},
	{"by", row.Bytea, []string{`\x005c090a0dff`, `\x`, `\x5c5c`, ""}},
	{"Mixed Case", row.Text, []string{"x", "y", "z", ""}},
	{"select", row.Int4, []string{"1", "2", "3", ""}},
	{"back`tick", row.Text, []string{"1", "2", "3", ""}},
}

// myAllTypesView builds the view and its rows (each once, plus a fully
// NULL row) from myAllTypes.
func myAllTypesView(t *testing.T, name row.TableName, key []int) (View, []row.Update) {
	t.Helper()
	v := View{Name: name, Key: key, Definition: "SELECT ..."}
	for _, c := range myAllTypes {
		v.Columns = append(v.Columns, row.Column{Name: c.name, Type: c.typ})
	}
	var us []row.Update
	for i := range len(myAllTypes[0].values) {
		r := make(row.Row, len(myAllTypes))
		for j, c := range myAllTypes {
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
	us = append(us, row.Update{Row: make(row.Row, len(myAllTypes)), W: 1})
	return v, us
}

func TestMySQLAllTypesRoundTrip(t *testing.T) {
	dsn := mysqltest.Start(t)
	col := func(name string) int {
		for i, c := range myAllTypes {
			if c.name == name {
				return i
			}
		}
		t.Fatalf("no column %s", name)
		return -1
	}
	for _, tc := range []struct {
		name string
		key  []int
	}{
		{"keyless", nil},
		{"keyed by int8", []int{col("i8")}},
		{"keyed by text and json", []int{col("t"), col("j")}},
		{"keyed by everything prefixable", []int{col("n"), col("t2"), col("vc_long"), col("ch"), col("ch_long"), col("by"), col("u"), col("ts"), col("f8")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mysqltest.Wipe(t, dsn)
			ctx := context.Background()
			v, rows := myAllTypesView(t, row.TableName{Schema: "Data", Name: "all types"}, tc.key)
			s, lsn := openMySQL(t, dsn, v)
			if lsn != 0 {
				t.Fatalf("fresh sink progress = %s, want 0", lsn)
			}
			if err := s.Load(ctx, 10, map[row.TableName][]row.Update{v.Name: rows}); err != nil {
				t.Fatalf("load: %v", err)
			}
			checkDump(t, s, v, rows)

			// Retract every row (each matched on every value or its key,
			// NULLs included), then insert them again.
			var retract []row.Update
			for _, u := range rows {
				retract = append(retract, row.Update{Row: u.Row, W: -1})
			}
			if err := s.Apply(ctx, Step{LSN: 20, Deltas: []Delta{{View: v.Name, Rows: retract}}}); err != nil {
				t.Fatalf("apply retractions: %v", err)
			}
			checkDump(t, s, v, nil)
			if err := s.Apply(ctx, Step{LSN: 30, Deltas: []Delta{{View: v.Name, Rows: rows}}}); err != nil {
				t.Fatalf("apply insertions: %v", err)
			}
			checkDump(t, s, v, rows)

			// An update: -old, +new in one delta, the insertion first.
			upd := slices.Clone(rows[0].Row)
			upd[0] = row.NewInt(7)
			upd[col("i8")] = row.NewInt(77)
			step := Step{LSN: 40, Deltas: []Delta{{View: v.Name, Rows: []row.Update{{Row: upd, W: 1}, {Row: rows[0].Row, W: -1}}}}}
			if err := s.Apply(ctx, step); err != nil {
				t.Fatalf("apply update: %v", err)
			}
			want := append([]row.Update{{Row: upd, W: 1}}, rows[1:]...)
			checkDump(t, s, v, want)
			if got := myProgress(t, s); got != 40 {
				t.Fatalf("progress = %s, want 0/28", got)
			}

			// A reopened sink reads the same.
			s.Close()
			s2, lsn := openMySQL(t, dsn, v)
			if lsn != 40 {
				t.Fatalf("reopened progress = %s", lsn)
			}
			checkDump(t, s2, v, want)
		})
	}
}

// TestMySQLColumnTypes pins the type mapping of mysql_types.md.
func TestMySQLColumnTypes(t *testing.T) {
	dsn := mysqltest.Start(t)
	ctx := context.Background()
	v, rows := myAllTypesView(t, row.TableName{Schema: "s", Name: "types"}, nil)
	s, _ := openMySQL(t, dsn, v)
	if err := s.Load(ctx, 1, map[row.TableName][]row.Update{v.Name: rows}); err != nil {
		t.Fatal(err)
	}
	db := mysqltest.Open(t, dsn)
	r, err := db.Query(`SELECT column_name, column_type, IFNULL(collation_name, ''), extra FROM information_schema.columns
WHERE table_schema = 's' AND table_name = 'types' ORDER BY ordinal_position`)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for r.Next() {
		var name, typ, coll, extra string
		if err := r.Scan(&name, &typ, &coll, &extra); err != nil {
			t.Fatal(err)
		}
		got[name] = strings.TrimSpace(typ + " " + coll + " " + extra)
	}
	want := map[string]string{
		"i2": "smallint(6)", "i4": "int(11)", "i8": "bigint(20)",
		"n_scaled": "decimal(10,2)", "n": "decimal(65,30)", "_ripple_scale_4": "smallint(5) unsigned  INVISIBLE",
		"n_neg_scale": "decimal(7,0)", "n_small": "decimal(5,5)", "n_big": "decimal(65,30)",
		"f4": "float", "f8": "double", "b": "tinyint(1)",
		"t": "longtext utf8mb4_nopad_bin", "vc": "varchar(10) utf8mb4_nopad_bin", "vc_long": "longtext utf8mb4_nopad_bin",
		"ch": "char(5) utf8mb4_bin", "ch_long": "longtext utf8mb4_nopad_bin",
		"d": "date", "ts": "datetime(6)", "tstz": "datetime(6)", "u": "char(36) ascii_bin",
		"j": "longtext utf8mb4_nopad_bin", "jb": "longtext utf8mb4_nopad_bin", "by": "longblob",
	}
	for name, w := range want {
		if got[name] != w {
			t.Errorf("column %s: type %q, want %q", name, got[name], w)
		}
	}
	// timestamptz is stored in UTC whatever the reader's zone.
	var ts string
	if err := db.QueryRow("SELECT CAST(tstz AS CHAR) FROM s.types WHERE i4 = 1").Scan(&ts); err != nil || ts != "0001-01-01 00:00:00.000000" {
		t.Errorf("tstz stored as %q (%v)", ts, err)
	}
	// JSON columns refuse invalid JSON written by others.
	if _, err := db.Exec(`INSERT INTO s.types (j) VALUES ('{')`); err == nil {
		t.Errorf("invalid JSON accepted")
	}
}

func TestMySQLUnstorableValues(t *testing.T) {
	dsn := mysqltest.Start(t)
	ctx := context.Background()
	ok := View{Name: row.TableName{Schema: "s", Name: "ok"}, Columns: row.Schema{{Name: "x", Type: row.Int4}}}
	bad := View{Name: row.TableName{Schema: "s", Name: "bad"}, Columns: row.Schema{
		{Name: "k", Type: row.Int4},
		{Name: "f8", Type: row.Float8}, {Name: "f4", Type: row.Float4},
		{Name: "n", Type: row.Numeric}, {Name: "n2", Type: numericType(10, 2)},
		{Name: "d", Type: row.Date}, {Name: "ts", Type: row.Timestamp}, {Name: "tstz", Type: row.TimestampTZ},
	}}
	good := row.Row{row.NewInt(1), row.NewFloat(1), row.NewFloat4(1), row.NewNumeric("1"), row.NewNumeric("1.00"),
		row.NewDate(0), row.NewTimestamp(0), row.NewTimestampTZ(0)}
	mysqltest.Wipe(t, dsn)
	s, _ := openMySQL(t, dsn, ok, bad)
	load := map[row.TableName][]row.Update{ok.Name: {{Row: row.Row{row.NewInt(1)}, W: 1}}, bad.Name: {{Row: good, W: 1}}}
	if err := s.Load(ctx, 5, load); err != nil {
		t.Fatal(err)
	}
	parse := func(typ row.Type, s string) row.Datum {
		d, err := row.ParseText(typ, s)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	for _, tc := range []struct {
		col   int
		value row.Datum
		why   string
	}{
		{1, row.NewFloat(math.NaN()), "no NaN or infinity"},
		{1, row.NewFloat(math.Inf(-1)), "no NaN or infinity"},
		{1, row.NewFloat(math.Copysign(0, -1)), "-0"},
		{2, row.NewFloat4(float32(math.Inf(1))), "no NaN or infinity"},
		{3, row.NewNumeric("NaN"), "no NaN or infinity"},
		{3, row.NewNumeric("Infinity"), "no NaN or infinity"},
		{3, row.NewNumeric("1" + strings.Repeat("0", 35)), "36 digits before and 0 after"},
		{3, row.NewNumeric("0." + strings.Repeat("0", 30) + "1"), "0 digits before and 31 after"},
		{4, row.NewNumeric("NaN"), "no NaN or infinity"},
		{5, row.NewDate(row.PosInfinity), "no infinity"},
		{5, parse(row.Date, "0044-03-15 BC"), "years 1 to 9999"},
		{5, parse(row.Date, "10000-01-01"), "years 1 to 9999"},
		{6, row.NewTimestamp(row.NegInfinity), "no infinity"},
		{6, parse(row.Timestamp, "0001-12-31 23:59:59 BC"), "years 1 to 9999"},
		{7, parse(row.TimestampTZ, "10000-01-01 00:00:00+00"), "years 1 to 9999"},
	} {
		name := bad.Columns[tc.col].Name + " " + row.FormatText(tc.value)
		t.Run(name, func(t *testing.T) {
			r := slices.Clone(good)
			r[0] = row.NewInt(2)
			r[tc.col] = tc.value
			step := Step{LSN: 6, Deltas: []Delta{
				{View: ok.Name, Rows: []row.Update{{Row: row.Row{row.NewInt(2)}, W: 1}}},
				{View: bad.Name, Rows: []row.Update{{Row: good, W: -1}, {Row: r, W: 1}}},
			}}
			err := s.Apply(ctx, step)
			if !errors.Is(err, ErrUnstorable) {
				t.Fatalf("apply = %v, want ErrUnstorable", err)
			}
			msg := err.Error()
			t.Log(msg)
			for _, want := range []string{"sink main", "view s.bad", "column " + bad.Columns[tc.col].Name, fmt.Sprintf("%q", row.FormatText(tc.value)), tc.why} {
				if !strings.Contains(msg, want) {
					t.Errorf("error %q does not say %q", msg, want)
				}
			}
			checkDump(t, s, ok, load[ok.Name])
			checkDump(t, s, bad, load[bad.Name])
			if got := myProgress(t, s); got != 5 {
				t.Fatalf("progress after refused step = %s", got)
			}
			// A load with the value is refused the same way.
			err = s.Load(ctx, 9, map[row.TableName][]row.Update{bad.Name: {{Row: r, W: 1}}})
			if !errors.Is(err, ErrUnstorable) {
				t.Fatalf("load = %v, want ErrUnstorable", err)
			}
			checkDump(t, s, bad, load[bad.Name])
		})
	}
	if err := s.Apply(ctx, Step{LSN: 6, Deltas: []Delta{{View: ok.Name, Rows: []row.Update{{Row: row.Row{row.NewInt(2)}, W: 1}}}}}); err != nil {
		t.Fatalf("apply after refusals: %v", err)
	}
}

func TestMySQLDuplicatesAndNulls(t *testing.T) {
	dsn := mysqltest.Start(t)
	ctx := context.Background()
	cols := row.Schema{{Name: "k", Type: row.Int4}, {Name: "v", Type: row.Text}, {Name: "n", Type: row.Numeric}}
	x := func(k int64, v string) row.Row { return row.Row{row.NewInt(k), row.NewText(v), row.NewNumeric("1.5")} }
	nullV := func(k int64) row.Row { return row.Row{row.NewInt(k), row.Null, row.Null} }
	num := func(k int64, n string) row.Row { return row.Row{row.NewInt(k), row.NewText("n"), row.NewNumeric(n)} }
	allNull := row.Row{row.Null, row.Null, row.Null}
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
			load: []row.Update{{Row: nullV(1), W: 2}, {Row: x(1, ""), W: 1}, {Row: allNull, W: 2}},
			steps: [][]row.Update{
				{{Row: nullV(1), W: -1}, {Row: allNull, W: -2}},
			},
			want: []row.Update{{Row: nullV(1), W: 1}, {Row: x(1, ""), W: 1}},
		},
		{
			name:  "keyless: text compares exactly (case, trailing space)",
			load:  []row.Update{{Row: x(1, "a"), W: 1}, {Row: x(1, "A"), W: 1}, {Row: x(1, "a "), W: 1}},
			steps: [][]row.Update{{{Row: x(1, "a "), W: -1}}, {{Row: x(1, "A"), W: -1}}},
			want:  []row.Update{{Row: x(1, "a"), W: 1}},
		},
		{
			name:  "keyless: numeric display scale is part of the row",
			load:  []row.Update{{Row: num(1, "1.5"), W: 1}, {Row: num(1, "1.50"), W: 1}},
			steps: [][]row.Update{{{Row: num(1, "1.50"), W: -1}}},
			want:  []row.Update{{Row: num(1, "1.5"), W: 1}},
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
		{
			name:  "keyed by numeric: matched by value",
			key:   []int{2},
			load:  []row.Update{{Row: num(1, "1.50"), W: 1}, {Row: num(2, "2"), W: 1}},
			steps: [][]row.Update{{{Row: num(1, "1.50"), W: -1}, {Row: num(3, "1.500"), W: 1}}},
			want:  []row.Update{{Row: num(3, "1.500"), W: 1}, {Row: num(2, "2"), W: 1}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mysqltest.Wipe(t, dsn)
			v := View{Name: row.TableName{Schema: "s", Name: "v"}, Columns: cols, Key: tc.key}
			s, _ := openMySQL(t, dsn, v)
			if err := s.Load(ctx, 1, map[row.TableName][]row.Update{v.Name: tc.load}); err != nil {
				t.Fatalf("load: %v", err)
			}
			for i, d := range tc.steps {
				if err := s.Apply(ctx, Step{LSN: row.LSN(2 + i), Deltas: []Delta{{View: v.Name, Rows: d}}}); err != nil {
					t.Fatalf("step %d: %v", i, err)
				}
			}
			checkDump(t, s, v, tc.want)
		})
	}
}

func TestMySQLBatches(t *testing.T) {
	dsn := mysqltest.Start(t)
	ctx := context.Background()
	v := View{Name: row.TableName{Schema: "s", Name: "b"}, Columns: row.Schema{{Name: "a", Type: row.Int8}, {Name: "t", Type: row.Text}}}
	s, _ := openMySQLWith(t, MySQLConfig{Name: "main", DSN: dsn, BatchRows: 7}, myPipeline, v)
	var rows []row.Update
	for i := range 100 {
		rows = append(rows, row.Update{Row: row.Row{row.NewInt(int64(i)), row.NewText(strings.Repeat("x", i))}, W: row.Weight(1 + i%4)})
	}
	if err := s.Load(ctx, 1, map[row.TableName][]row.Update{v.Name: rows}); err != nil {
		t.Fatal(err)
	}
	checkDump(t, s, v, rows)
	// A row bigger than the byte budget, and many rows of one weight.
	big := row.Update{Row: row.Row{row.NewInt(-1), row.NewText(strings.Repeat("b", 3<<20))}, W: 3}
	many := row.Update{Row: row.Row{row.NewInt(-2), row.Null}, W: 1000}
	if err := s.Apply(ctx, Step{LSN: 2, Deltas: []Delta{{View: v.Name, Rows: []row.Update{big, many}}}}); err != nil {
		t.Fatal(err)
	}
	checkDump(t, s, v, append(slices.Clone(rows), big, many))
	if err := s.Apply(ctx, Step{LSN: 3, Deltas: []Delta{{View: v.Name, Rows: []row.Update{{Row: big.Row, W: -3}, {Row: many.Row, W: -999}}}}}); err != nil {
		t.Fatal(err)
	}
	checkDump(t, s, v, append(slices.Clone(rows), row.Update{Row: many.Row, W: 1}))
}

func TestMySQLSkipsAppliedSteps(t *testing.T) {
	dsn := mysqltest.Start(t)
	ctx := context.Background()
	v := View{Name: row.TableName{Schema: "public", Name: "v"}, Columns: row.Schema{{Name: "a", Type: row.Int4}}}
	s, _ := openMySQL(t, dsn, v)
	one := []row.Update{{Row: row.Row{row.NewInt(1)}, W: 1}}
	if err := s.Load(ctx, 100, map[row.TableName][]row.Update{v.Name: one}); err != nil {
		t.Fatal(err)
	}
	for _, lsn := range []row.LSN{100, 50, 0} {
		if err := s.Apply(ctx, Step{LSN: lsn, Deltas: []Delta{{View: v.Name, Rows: one}}}); err != nil {
			t.Fatalf("apply at %s: %v", lsn, err)
		}
		checkDump(t, s, v, one)
		if got := myProgress(t, s); got != 100 {
			t.Fatalf("progress after skipped step %s = %s", lsn, got)
		}
	}
	commit := time.Date(2024, 5, 6, 7, 8, 9, 123456000, time.FixedZone("x", 3600))
	if err := s.Apply(ctx, Step{LSN: 101, CommitTime: commit, Deltas: []Delta{{View: v.Name, Rows: one}}}); err != nil {
		t.Fatal(err)
	}
	// A restart re-delivers the step: it must not apply twice.
	s.Close()
	s2, lsn := openMySQL(t, dsn, v)
	if lsn != 101 {
		t.Fatalf("reopened progress = %s, want 0/65", lsn)
	}
	if err := s2.Apply(ctx, Step{LSN: 101, Deltas: []Delta{{View: v.Name, Rows: one}}}); err != nil {
		t.Fatal(err)
	}
	checkDump(t, s2, v, []row.Update{{Row: one[0].Row, W: 2}})
	db := mysqltest.Open(t, dsn)
	var ct, text string
	if err := db.QueryRow(`SELECT CAST(commit_time AS CHAR), lsn FROM ripple.progress WHERE pipeline = ?`, myPipeline).Scan(&ct, &text); err != nil {
		t.Fatal(err)
	}
	if ct != "2024-05-06 06:08:09.123456" || text != "0/65" {
		t.Fatalf("commit_time = %s, lsn = %s; want the commit time in UTC and 0/65", ct, text)
	}
	// An empty step still moves the progress.
	if err := s2.Apply(ctx, Step{LSN: 102}); err != nil {
		t.Fatal(err)
	}
	if got := myProgress(t, s2); got != 102 {
		t.Fatalf("progress after empty step = %s", got)
	}
}

func TestMySQLRetractMissingFails(t *testing.T) {
	dsn := mysqltest.Start(t)
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
			mysqltest.Wipe(t, dsn)
			s, _ := openMySQL(t, dsn, a, b)
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
			checkDump(t, s, a, load[a.Name])
			checkDump(t, s, b, load[b.Name])
			if got := myProgress(t, s); got != 7 {
				t.Fatalf("progress after failed step = %s, want 0/7", got)
			}
			// The connection is still usable after the rollback.
			if err := s.Apply(ctx, Step{LSN: 8, Deltas: []Delta{{View: a.Name, Rows: []row.Update{{Row: r1, W: -1}}}}}); err != nil {
				t.Fatalf("apply after failure: %v", err)
			}
			checkDump(t, s, a, []row.Update{{Row: r1, W: 1}})
		})
	}
}

func TestMySQLOpenRefusesForeignTable(t *testing.T) {
	dsn := mysqltest.Start(t)
	ctx := context.Background()
	daily := View{Name: row.TableName{Schema: "sales", Name: "daily"}, Columns: row.Schema{{Name: "x", Type: row.Int4}}}
	other := View{Name: row.TableName{Schema: "fresh", Name: "other"}, Columns: row.Schema{{Name: "x", Type: row.Int4}}}
	db := mysqltest.Open(t, dsn)
	count := func(t *testing.T, q string) int {
		t.Helper()
		var n int
		if err := db.QueryRow(q).Scan(&n); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		return n
	}

	t.Run("user table", func(t *testing.T) {
		mysqltest.Wipe(t, dsn)
		mysqltest.Exec(t, dsn, "CREATE DATABASE sales", "CREATE TABLE sales.daily (x int)", "INSERT INTO sales.daily VALUES (42)")
		s := NewMySQL(MySQLConfig{Name: "main", DSN: dsn})
		defer s.Close()
		_, err := s.Open(ctx, myPipeline, []View{other, daily})
		want := `sink main: table sales.daily exists and was not created by ripple pipeline "ripple"; drop or rename it, or choose another view name`
		if err == nil || err.Error() != want {
			t.Fatalf("open = %v\nwant %s", err, want)
		}
		if n := count(t, `SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name = 'fresh'`); n != 0 {
			t.Fatalf("open created database fresh")
		}
		if n := count(t, `SELECT COUNT(*) FROM ripple.views`); n != 0 {
			t.Fatalf("open registered views")
		}
		if n := count(t, `SELECT COUNT(*) FROM sales.daily WHERE x = 42`); n != 1 {
			t.Fatalf("user table changed")
		}
	})

	t.Run("same name in another case is another table", func(t *testing.T) {
		mysqltest.Wipe(t, dsn)
		mysqltest.Exec(t, dsn, "CREATE DATABASE Sales", "CREATE TABLE Sales.daily (x int)")
		s, _ := openMySQL(t, dsn, daily)
		if err := s.Load(ctx, 1, nil); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("another pipeline's table", func(t *testing.T) {
		mysqltest.Wipe(t, dsn)
		s1, _ := openMySQLWith(t, MySQLConfig{Name: "main", DSN: dsn}, "orders", daily)
		if err := s1.Load(ctx, 1, nil); err != nil {
			t.Fatal(err)
		}
		s2 := NewMySQL(MySQLConfig{Name: "main", DSN: dsn})
		defer s2.Close()
		_, err := s2.Open(ctx, myPipeline, []View{daily})
		if err == nil || !strings.Contains(err.Error(), `table sales.daily exists and was not created by ripple pipeline "ripple"`) {
			t.Fatalf("open = %v", err)
		}
	})

	t.Run("table appears between Open and Load", func(t *testing.T) {
		mysqltest.Wipe(t, dsn)
		s, _ := openMySQL(t, dsn, other, daily)
		mysqltest.Exec(t, dsn, "CREATE DATABASE sales", "CREATE TABLE sales.daily (x int)", "INSERT INTO sales.daily VALUES (42)")
		err := s.Load(ctx, 5, nil)
		if err == nil || !strings.Contains(err.Error(), "table sales.daily exists and was not created by ripple") {
			t.Fatalf("load = %v", err)
		}
		if n := count(t, `SELECT COUNT(*) FROM sales.daily WHERE x = 42`); n != 1 {
			t.Fatalf("user table changed")
		}
		if n := count(t, `SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name = 'fresh'`); n != 0 {
			t.Fatalf("failed load left database fresh behind")
		}
		if got := myProgress(t, s); got != 0 {
			t.Fatalf("failed load set progress %s", got)
		}
	})

	t.Run("own table after restart", func(t *testing.T) {
		mysqltest.Wipe(t, dsn)
		s1, _ := openMySQL(t, dsn, daily)
		if err := s1.Load(ctx, 3, map[row.TableName][]row.Update{daily.Name: {{Row: row.Row{row.NewInt(1)}, W: 1}}}); err != nil {
			t.Fatal(err)
		}
		s1.Close()
		s2, lsn := openMySQL(t, dsn, daily)
		if lsn != 3 {
			t.Fatalf("progress = %s, want 0/3", lsn)
		}
		if err := s2.Apply(ctx, Step{LSN: 4, Deltas: []Delta{{View: daily.Name, Rows: []row.Update{{Row: row.Row{row.NewInt(1)}, W: -1}}}}}); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("changed columns need a load", func(t *testing.T) {
		mysqltest.Wipe(t, dsn)
		s1, _ := openMySQL(t, dsn, daily)
		if err := s1.Load(ctx, 3, nil); err != nil {
			t.Fatal(err)
		}
		s1.Close()
		changed := daily
		changed.Columns = row.Schema{{Name: "x", Type: row.Int8}}
		s2, _ := openMySQL(t, dsn, changed)
		err := s2.Apply(ctx, Step{LSN: 4, Deltas: []Delta{{View: daily.Name, Rows: []row.Update{{Row: row.Row{row.NewInt(1)}, W: 1}}}}})
		if err == nil || !strings.Contains(err.Error(), "a Load is needed") {
			t.Fatalf("apply = %v", err)
		}
		big := []row.Update{{Row: row.Row{row.NewInt(1 << 40)}, W: 1}}
		if err := s2.Load(ctx, 5, map[row.TableName][]row.Update{daily.Name: big}); err != nil {
			t.Fatal(err)
		}
		checkDump(t, s2, changed, big)
	})

	t.Run("re-created table not yet loaded needs a load", func(t *testing.T) {
		// What a crash between Load's DDL and its data transaction leaves.
		mysqltest.Wipe(t, dsn)
		s1, _ := openMySQL(t, dsn, daily)
		if err := s1.Load(ctx, 3, nil); err != nil {
			t.Fatal(err)
		}
		s1.Close()
		mysqltest.Exec(t, dsn, "UPDATE ripple.views SET loaded = FALSE")
		s2, _ := openMySQL(t, dsn, daily)
		err := s2.Apply(ctx, Step{LSN: 4, Deltas: []Delta{{View: daily.Name, Rows: []row.Update{{Row: row.Row{row.NewInt(1)}, W: 1}}}}})
		if err == nil || !strings.Contains(err.Error(), "a Load is needed") {
			t.Fatalf("apply = %v", err)
		}
		if err := s2.Load(ctx, 5, nil); err != nil {
			t.Fatal(err)
		}
		if err := s2.Apply(ctx, Step{LSN: 6, Deltas: []Delta{{View: daily.Name, Rows: []row.Update{{Row: row.Row{row.NewInt(1)}, W: 1}}}}}); err != nil {
			t.Fatal(err)
		}
	})
}

func TestMySQLBadConfigAndViews(t *testing.T) {
	s := NewMySQL(MySQLConfig{Name: "main", DSN: "root@tcp(127.0.0.1:1)/"})
	_, err := s.Open(context.Background(), myPipeline, []View{
		{Name: row.TableName{Schema: "s", Name: "v"}, Columns: row.Schema{{Name: "a", Type: row.Int4}, {Name: "a", Type: row.Type{OID: 600, Mod: -1}}}, Key: []int{3}},
		{Name: row.TableName{Schema: "s", Name: strings.Repeat("n", 65)}, Columns: row.Schema{{Name: "_ripple_scale_0", Type: row.Int4}}},
		{Name: row.TableName{Schema: "ripple", Name: "progress"}, Columns: row.Schema{{Name: "a", Type: row.Int4}}},
	})
	if err == nil {
		t.Fatal("open accepted bad views")
	}
	for _, want := range []string{`column a appears twice`, `unsupported type`, `key column 3 out of range`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	_, err = s.Open(context.Background(), myPipeline, []View{
		{Name: row.TableName{Schema: "s", Name: strings.Repeat("n", 65)}, Columns: row.Schema{{Name: "_ripple_scale_0", Type: row.Int4}}},
		{Name: row.TableName{Schema: "ripple", Name: "progress"}, Columns: row.Schema{{Name: "a", Type: row.Int4}}},
	})
	for _, want := range []string{`longer than MySQL's 64 characters`, `reserved for the sink's hidden columns`, `database ripple holds the sink's bookkeeping`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not say %q", err, want)
		}
	}
	_, err = s.Open(context.Background(), myPipeline, []View{{Name: row.TableName{Schema: "s", Name: "v"}, Columns: row.Schema{{Name: "a", Type: row.Int4}}}})
	if err == nil || !strings.HasPrefix(err.Error(), "sink main: connect: ") {
		t.Errorf("open of an unreachable server = %v", err)
	}
	err = MySQLConfig{DSN: "not a dsn", BatchRows: -1}.Validate()
	for _, want := range []string{"needs a name", "parse DSN", "must not be negative"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("validate: %v does not say %q", err, want)
		}
	}
}

func TestMySQLConcurrentOpen(t *testing.T) {
	dsn := mysqltest.Start(t)
	if err := NewMySQL(MySQLConfig{Name: "main", DSN: dsn}).Ping(context.Background()); err != nil {
		t.Fatalf("ping: %v", err)
	}
	if err := NewMySQL(MySQLConfig{Name: "main", DSN: "root@tcp(127.0.0.1:1)/"}).Ping(context.Background()); err == nil {
		t.Fatal("ping of an unreachable server succeeded")
	}
	var wg sync.WaitGroup
	errs := make([]error, 6)
	for i := range errs {
		wg.Go(func() {
			s := NewMySQL(MySQLConfig{Name: fmt.Sprintf("s%d", i), DSN: dsn})
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

func TestMySQLProgressRoundTrip(t *testing.T) {
	dsn := mysqltest.Start(t)
	ctx := context.Background()
	s, _ := openMySQL(t, dsn)
	db := mysqltest.Open(t, dsn)
	for _, lsn := range []row.LSN{1, 0x16_B374D848, 0xFFFFFFFF, 0x1_00000000, math.MaxUint64 - 1, math.MaxUint64} {
		if err := s.Load(ctx, lsn, nil); err != nil {
			t.Fatalf("load at %s: %v", lsn, err)
		}
		if got := myProgress(t, s); got != lsn {
			t.Fatalf("progress = %s, want %s", got, lsn)
		}
		var text string
		if err := db.QueryRow(`SELECT lsn FROM ripple.progress WHERE pipeline = ?`, myPipeline).Scan(&text); err != nil {
			t.Fatal(err)
		}
		if text != lsn.String() {
			t.Fatalf("stored lsn %s, want %s", text, lsn)
		}
	}
	// Comparison is numeric: 0/FFFFFFFF < 1/0 although "0/F..." > "1/0" as text
	// is false too; 9/0 < 10/0 is the case text would get wrong.
	s2, _ := openMySQLWith(t, MySQLConfig{Name: "main", DSN: dsn}, "other")
	if err := s2.Load(ctx, 0x9_00000000, nil); err != nil {
		t.Fatal(err)
	}
	if err := s2.Apply(ctx, Step{LSN: 0x10_00000000}); err != nil {
		t.Fatal(err)
	}
	if got := myProgress(t, s2); got != 0x10_00000000 {
		t.Fatalf("progress = %s, want 10/0", got)
	}
}

func TestMySQLForget(t *testing.T) {
	dsn := mysqltest.Start(t)
	ctx := context.Background()
	v := View{Name: row.TableName{Schema: "s", Name: "v"}, Columns: row.Schema{{Name: "a", Type: row.Int4}}}
	w := View{Name: row.TableName{Schema: "s", Name: "w"}, Columns: row.Schema{{Name: "a", Type: row.Int4}}}
	f := NewMySQL(MySQLConfig{Name: "main", DSN: dsn})
	if err := f.Forget(ctx, myPipeline, true); err != nil {
		t.Fatalf("forget on an empty server: %v", err)
	}
	s, _ := openMySQL(t, dsn, v)
	if err := s.Load(ctx, 1, nil); err != nil {
		t.Fatal(err)
	}
	o, _ := openMySQLWith(t, MySQLConfig{Name: "main", DSN: dsn}, "other", w)
	if err := o.Load(ctx, 1, nil); err != nil {
		t.Fatal(err)
	}
	mysqltest.Exec(t, dsn, "CREATE TABLE s.mine (a int)")
	s.Close()
	if err := f.Forget(ctx, myPipeline, true); err != nil {
		t.Fatal(err)
	}
	if err := f.Forget(ctx, myPipeline, true); err != nil {
		t.Fatalf("second forget: %v", err)
	}
	db := mysqltest.Open(t, dsn)
	var tables []string
	r, err := db.Query(`SELECT table_name FROM information_schema.tables WHERE table_schema = 's' ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	for r.Next() {
		var n string
		r.Scan(&n)
		tables = append(tables, n)
	}
	if !slices.Equal(tables, []string{"mine", "w"}) {
		t.Fatalf("tables after forget = %v, want [mine w]", tables)
	}
	var n int
	db.QueryRow(`SELECT (SELECT COUNT(*) FROM ripple.views WHERE pipeline = ?) + (SELECT COUNT(*) FROM ripple.progress WHERE pipeline = ?)`, myPipeline, myPipeline).Scan(&n)
	if n != 0 {
		t.Fatalf("forget left %d bookkeeping rows", n)
	}
	s2, lsn := openMySQL(t, dsn, v)
	if lsn != 0 {
		t.Fatalf("progress after forget = %s", lsn)
	}
	if err := s2.Load(ctx, 2, nil); err != nil {
		t.Fatalf("load after forget: %v", err)
	}
}

func TestMySQLKeyIndex(t *testing.T) {
	dsn := mysqltest.Start(t)
	v := View{
		Name:    row.TableName{Schema: "s", Name: "keyed"},
		Columns: row.Schema{{Name: "a", Type: row.Int8}, {Name: "j", Type: row.JSON}, {Name: "x", Type: row.Text}},
		Key:     []int{1, 0},
	}
	s, _ := openMySQL(t, dsn, v)
	var rows []row.Update
	for i := range 2000 {
		rows = append(rows, row.Update{Row: row.Row{row.NewInt(int64(i)), row.NewJSON(fmt.Sprintf(`{"i": %d}`, i)), row.NewText("x")}, W: 1})
	}
	ctx := context.Background()
	if err := s.Load(ctx, 1, map[row.TableName][]row.Update{v.Name: rows}); err != nil {
		t.Fatalf("load: %v", err)
	}
	db := mysqltest.Open(t, dsn)
	mysqltest.Exec(t, dsn, "ANALYZE TABLE s.keyed")
	var cols []string
	r, err := db.Query(`SELECT column_name, IFNULL(sub_part, 0), non_unique FROM information_schema.statistics
WHERE table_schema = 's' AND table_name = 'keyed' AND index_name = 'ripple_key' ORDER BY seq_in_index`)
	if err != nil {
		t.Fatal(err)
	}
	for r.Next() {
		var c string
		var sub, nonUnique int
		r.Scan(&c, &sub, &nonUnique)
		cols = append(cols, fmt.Sprintf("%s(%d)%d", c, sub, nonUnique))
	}
	if !slices.Equal(cols, []string{"j(255)1", "a(0)1"}) {
		t.Fatalf("key index = %v", cols)
	}
	// The retraction's DELETE uses it.
	var key, typ sql.NullString
	er, err := db.Query("EXPLAIN DELETE FROM s.keyed WHERE `j` = '{\"i\": 5}' AND `a` = 5 LIMIT 1")
	if err != nil {
		t.Fatal(err)
	}
	names, _ := er.Columns()
	vals := make([]sql.NullString, len(names))
	ptrs := make([]any, len(names))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for er.Next() {
		if err := er.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		for i, n := range names {
			switch n {
			case "key":
				key = vals[i]
			case "type":
				typ = vals[i]
			}
		}
	}
	if key.String != "ripple_key" {
		t.Errorf("retraction plan does not use the key index: key=%v type=%v", key.String, typ.String)
	}
	if err := s.Apply(ctx, Step{LSN: 2, Deltas: []Delta{{View: v.Name, Rows: []row.Update{{Row: rows[5].Row, W: -1}}}}}); err != nil {
		t.Fatalf("apply: %v", err)
	}
	checkDump(t, s, v, slices.Delete(slices.Clone(rows), 5, 6))
}

// TestMySQLLoadIsAtomic reloads a view while another session counts its
// rows: the reader must see the old or the new contents, never an empty
// or partial table. (A load that re-creates the table — new view, or
// changed columns — runs its DDL first and is not covered: see the doc.)
func TestMySQLLoadIsAtomic(t *testing.T) {
	dsn := mysqltest.Start(t)
	ctx := context.Background()
	v := View{Name: row.TableName{Schema: "s", Name: "big"}, Columns: row.Schema{{Name: "a", Type: row.Int8}, {Name: "t", Type: row.Text}}, Key: []int{0}}
	mk := func(n int, w row.Weight) []row.Update {
		us := make([]row.Update, n)
		for i := range us {
			us[i] = row.Update{Row: row.Row{row.NewInt(int64(i)), row.NewText(strings.Repeat("x", 50))}, W: w}
		}
		return us
	}
	s, _ := openMySQL(t, dsn, v)
	if err := s.Load(ctx, 1, map[row.TableName][]row.Update{v.Name: mk(1000, 1)}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		rows    []row.Update
		allowed []int
	}{
		{"grow", mk(100_000, 1), []int{1000, 100_000}},
		{"shrink with duplicates", mk(20_000, 2), []int{100_000, 40_000}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db := mysqltest.Open(t, dsn)
			seen := map[int]int{}
			done := make(chan struct{})
			var rerr error
			var wg sync.WaitGroup
			wg.Go(func() {
				deadline := time.Now().Add(20 * time.Second)
				for {
					select {
					case <-done:
						// Counting under an old snapshot is slow: go on
						// until the new contents have been seen.
						if seen[tc.allowed[1]] > 0 || time.Now().After(deadline) {
							return
						}
					default:
					}
					var n int
					if err := db.QueryRow(`SELECT COUNT(*) FROM s.big`).Scan(&n); err != nil {
						rerr = err
						return
					}
					seen[n]++
				}
			})
			time.Sleep(50 * time.Millisecond)
			err := s.Load(ctx, 2, map[row.TableName][]row.Update{v.Name: tc.rows})
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
				if !slices.Contains(tc.allowed, n) {
					t.Fatalf("reader saw %d rows, want one of %v (seen %v)", n, tc.allowed, seen)
				}
			}
			if seen[tc.allowed[0]] == 0 || seen[tc.allowed[1]] == 0 {
				t.Fatalf("reader did not see both the old and the new contents: %v", seen)
			}
			t.Logf("counts seen: %v", seen)
		})
	}
}
