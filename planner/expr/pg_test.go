package expr

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	pg_query "github.com/pganalyze/pg_query_go/v5"

	"github.com/rippledb/ripple/internal/pgtest"
	"github.com/rippledb/ripple/internal/row"
)

// The judge for every expression is PostgreSQL itself: each case runs
// SELECT <expr> FROM t ORDER BY id on a throwaway cluster and through the
// compiler over the same rows, and compares the column name, the type
// (OID and typmod) and every value's text, or that both fail.

const tableDDL = `CREATE TABLE t (
	id int PRIMARY KEY, i2 smallint, i4 int, i8 bigint, n numeric, n2 numeric(10,2),
	f4 real, f8 double precision, tx text, vc varchar(5), ch char(3), b bool,
	d date, ts timestamp, tz timestamptz, u uuid, j json, jb jsonb, by bytea)`

const tableRows = `INSERT INTO t VALUES
	(1, 1, 10, 100, 1.5, 2.25, 1.5, 2.5, 'abc', 'ab', 'a', true, '2020-01-02', '2020-01-02 03:04:05',
	 '2020-01-02 03:04:05+00', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{"a":1}', '{"a": 1}', '\x0102'),
	(2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
	(3, 32767, 2147483647, 9223372036854775807, -0.001, -99999999.99, -3.25, 1e300, 'Hello_World%', 'x y', 'xyz',
	 false, '1999-12-31', '1999-12-31 23:59:59.5', '1999-12-31 23:59:59.5+00', '00000000-0000-0000-0000-000000000000',
	 '[1,2]', '[1, 2]', '\x'),
	(4, -32768, -2147483648, -9223372036854775808, 0, 0, 0, 0, '', '', '', true, '2000-02-29',
	 '2000-02-29 00:00:00', '2000-02-29 12:00:00+00', 'ffffffff-ffff-ffff-ffff-ffffffffffff', 'null', 'null', '\xff'),
	(5, -7, -7, -7, 12345678901234567890.123456789, 0.5, 'NaN', 1e-300, 'a\%b', 'A', 'AB ', NULL, '2024-12-31',
	 '2024-12-31 23:59:59.999999', '2024-12-31 23:59:59.999999+00', NULL, '"s"', '"s"', NULL),
	(6, 3, 3, 3, 2, 3.00, 0.1, 0.1, '12', ' 12 ', '7', true, '2020-02-29', '2020-02-29 00:00:00',
	 '2020-02-29 00:00:00+00', NULL, '{}', '{}', '\x00')`

type pgCase struct {
	expr string
	// msgDiffers marks a case where both error but the messages are known
	// to differ (the reason is in the comment next to it).
	msgDiffers bool
	// refused marks a construct ripple refuses at registration although
	// PostgreSQL may evaluate it: ripple must fail to compile it.
	refused bool
}

var pgCases = []pgCase{
	// column refs and literals
	{expr: "i2"}, {expr: "i4"}, {expr: "i8"}, {expr: "n"}, {expr: "n2"}, {expr: "f4"}, {expr: "f8"},
	{expr: "tx"}, {expr: "vc"}, {expr: "ch"}, {expr: "b"}, {expr: "d"}, {expr: "ts"}, {expr: "tz"},
	{expr: "u"}, {expr: "j"}, {expr: "jb"}, {expr: "by"}, {expr: "t.i4"},
	{expr: "1"}, {expr: "2147483647"}, {expr: "2147483648"}, {expr: "-2147483648"},
	{expr: "9223372036854775807"}, {expr: "9223372036854775808"}, {expr: "1.50"}, {expr: "1e3"},
	{expr: ".5"}, {expr: "'str'"}, {expr: "NULL"}, {expr: "TRUE"}, {expr: "false"},
	// integer arithmetic
	{expr: "i4 + 1"}, {expr: "i4 + i4"}, {expr: "i2 + i2"}, {expr: "i2 * 2"}, {expr: "i2 + 1::int2"},
	{expr: "i8 + 1"}, {expr: "i8 - 1"}, {expr: "i4 * i4"}, {expr: "i4 / 2"}, {expr: "i4 / 0"},
	{expr: "i4 % 3"}, {expr: "i4 % 0"}, {expr: "-i4"}, {expr: "-i2"}, {expr: "-i8"}, {expr: "i4 / -1"},
	{expr: "i8 * 2"}, {expr: "i2 + i4"}, {expr: "i4 + i8"}, {expr: "7 / 2"}, {expr: "-7 / 2"}, {expr: "-7 % 3"},
	{expr: "i4 % -1"}, {expr: "+i4"},
	// numeric arithmetic and scales
	{expr: "n + 1"}, {expr: "n + n2"}, {expr: "n * n2"}, {expr: "n / 3"}, {expr: "n2 / 7"}, {expr: "1 / 3.0"},
	{expr: "n % 0.3"}, {expr: "n / 0"}, {expr: "n2 * 1.000"}, {expr: "-n"}, {expr: "i4 + 1.5"},
	{expr: "i8 * 1.0"}, {expr: "10.0 / 4"}, {expr: "2 / 3::numeric"}, {expr: "1000000 / 7.0"},
	{expr: "0.0001 / 3"}, {expr: "n - n"}, {expr: "'NaN'::numeric + 1"}, {expr: "'Infinity'::numeric - 'Infinity'"},
	// float arithmetic
	{expr: "f8 + 1"}, {expr: "f8 * f8"}, {expr: "f8 / 0"}, {expr: "f8 * 1e300"}, {expr: "f8 / 1e300"},
	{expr: "f4 + f4"}, {expr: "f4 * 2"}, {expr: "f4 + f8"}, {expr: "i4 + f8"}, {expr: "n + f8"}, {expr: "i4 + f4"},
	{expr: "n + f4"}, {expr: "f8 % 2"}, {expr: "-f4"}, {expr: "0.1::float8 + 0.2::float8"},
	{expr: "f4 / 3"}, {expr: "'NaN'::float8 / 0"},
	// comparisons
	{expr: "i4 = 10"}, {expr: "i4 <> 10"}, {expr: "i4 != 10"}, {expr: "i4 < i8"}, {expr: "i2 >= -7"},
	{expr: "n = 1.50"}, {expr: "n > i4"}, {expr: "f8 > n"}, {expr: "f4 = 1.5"}, {expr: "f4 < 'NaN'::real"},
	{expr: "tx = 'abc'"}, {expr: "tx < 'b'"}, {expr: "vc = 'ab'"}, {expr: "ch = 'a'"}, {expr: "ch = 'a  '"},
	{expr: "ch = vc"}, {expr: "tx > vc"}, {expr: "d < '2020-01-01'"}, {expr: "d = ts"}, {expr: "ts < tz"},
	{expr: "b = true"}, {expr: "b < true"}, {expr: "u = 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'"},
	{expr: "by = '\\x0102'::bytea"}, {expr: "j = j"}, {expr: "i4 = 'x'", msgDiffers: false},
	{expr: "i4 = tx"}, {expr: "'a' = 'a'"}, {expr: "d > 1"},
	// boolean logic
	{expr: "b AND NULL"}, {expr: "b OR NULL"}, {expr: "NOT b"}, {expr: "b AND i4 > 0"},
	{expr: "NULL::bool OR true"}, {expr: "i4 AND true"}, {expr: "NOT 'true'"},
	{expr: "b IS TRUE"}, {expr: "b IS NOT TRUE"}, {expr: "b IS FALSE"}, {expr: "b IS NOT FALSE"},
	{expr: "b IS UNKNOWN"}, {expr: "b IS NOT UNKNOWN"},
	{expr: "i4 IS NULL"}, {expr: "i4 IS NOT NULL"}, {expr: "tx ISNULL"}, {expr: "tx NOTNULL"},
	{expr: "i4 IS DISTINCT FROM 10"}, {expr: "i4 IS NOT DISTINCT FROM NULL"}, {expr: "n IS DISTINCT FROM i4"},
	// IN / BETWEEN
	{expr: "i4 IN (10, 3)"}, {expr: "i4 IN (10, NULL)"}, {expr: "i4 NOT IN (10, NULL)"}, {expr: "i4 NOT IN (1, 2)"},
	{expr: "i4 IN (1.0, 10.0)"}, {expr: "tx IN ('abc', '')"}, {expr: "i4 IN ('10', 'x')"},
	{expr: "i4 BETWEEN 0 AND 10"}, {expr: "i4 NOT BETWEEN 0 AND 10"}, {expr: "i4 BETWEEN 10 AND 0"},
	{expr: "i4 BETWEEN SYMMETRIC 10 AND 0"}, {expr: "i4 NOT BETWEEN SYMMETRIC 10 AND 0"},
	{expr: "d BETWEEN '2000-01-01' AND '2021-01-01'"},
	// LIKE
	{expr: "tx LIKE 'a%'"}, {expr: "tx LIKE '%World\\%'"}, {expr: "tx LIKE 'Hello\\_%'"}, {expr: "tx NOT LIKE '%b%'"},
	{expr: "tx ILIKE 'HELLO%'"}, {expr: "tx NOT ILIKE 'A%'"}, {expr: "tx LIKE '_b_'"}, {expr: "tx LIKE 'a!%b' ESCAPE '!'"},
	{expr: "tx LIKE 'a\\%b'"}, {expr: "tx LIKE '%'"}, {expr: "tx LIKE ''"}, {expr: "tx LIKE 'abc\\'"},
	{expr: "tx LIKE 'a%' ESCAPE ''"}, {expr: "ch LIKE 'a'"}, {expr: "ch LIKE 'a%'"}, {expr: "vc LIKE 'x_y'"},
	{expr: "i4 LIKE '1%'"}, {expr: "tx LIKE NULL"}, {expr: "tx ~~ 'a%'"},
	// CASE / COALESCE / NULLIF / GREATEST / LEAST
	{expr: "CASE WHEN i4 > 0 THEN 'pos' WHEN i4 < 0 THEN 'neg' END"},
	{expr: "CASE WHEN i4 > 0 THEN 1 ELSE 2.5 END"}, {expr: "CASE i4 WHEN 10 THEN 'ten' ELSE 'other' END"},
	{expr: "CASE WHEN b THEN i2 ELSE i8 END"}, {expr: "CASE WHEN true THEN 1 ELSE 'a'::text END"},
	{expr: "CASE WHEN i4 THEN 1 END"}, {expr: "CASE WHEN i4 <> 0 THEN 100 / i4 ELSE 0 END"},
	{expr: "CASE WHEN b THEN tx ELSE vc END"}, {expr: "CASE WHEN b THEN 1 ELSE i4 END"},
	{expr: "CASE WHEN b THEN vc ELSE ch END"}, {expr: "CASE WHEN b THEN n2 ELSE n2 END"},
	{expr: "COALESCE(i4, 0)"}, {expr: "COALESCE(i2, i8, 1.5)"}, {expr: "COALESCE(tx, 'none')"},
	{expr: "COALESCE(NULL, NULL)"}, {expr: "COALESCE(i4, 'x')"}, {expr: "COALESCE(i4, tx)"}, {expr: "COALESCE(vc, vc)"},
	{expr: "NULLIF(i4, 10)"}, {expr: "NULLIF(tx, '')"}, {expr: "NULLIF(i4, 10.0)"}, {expr: "NULLIF(i2, i4)"},
	{expr: "GREATEST(i4, 5)"}, {expr: "LEAST(i4, 5, NULL)"}, {expr: "GREATEST(n, f8)"}, {expr: "LEAST(tx, vc)"},
	{expr: "GREATEST(d, ts)"}, {expr: "GREATEST(j, j)"},
	// casts
	{expr: "'12'::int"}, {expr: "' 12 '::int"}, {expr: "'1.5'::int"}, {expr: "'99999999999'::int"}, {expr: "tx::int"},
	{expr: "vc::int"}, {expr: "n::int"}, {expr: "n2::int"}, {expr: "2.5::int"}, {expr: "-2.5::int"}, {expr: "(-2.5)::int"},
	{expr: "f8::int"}, {expr: "2.5::float8::int"}, {expr: "3.5::float8::int"}, {expr: "f4::int"}, {expr: "i8::int"},
	{expr: "i4::smallint"}, {expr: "n::numeric(5,2)"}, {expr: "n2::numeric(12,4)"}, {expr: "1234.5678::numeric(6,2)"},
	{expr: "1234.5678::numeric(5,2)"}, {expr: "0.005::numeric(3,2)"}, {expr: "tx::varchar(2)"},
	{expr: "tx::char(5)"}, {expr: "'abc'::char"}, {expr: "i4::bool"}, {expr: "b::int"}, {expr: "i8::bool"},
	{expr: "b::text"}, {expr: "i4::text"}, {expr: "n::text"}, {expr: "f8::text"}, {expr: "f4::text"},
	{expr: "d::text"}, {expr: "tz::text"}, {expr: "u::text"}, {expr: "by::text"}, {expr: "ch::text"},
	{expr: "'2020-01-02'::date"}, {expr: "'2021-02-30'::date"}, {expr: "'2020-01-02 03:04:05'::timestamp"},
	{expr: "'2020-01-02 03:04:05+02'::timestamptz"}, {expr: "d::timestamp"}, {expr: "ts::date"},
	{expr: "ts::timestamptz"}, {expr: "tz::timestamp"}, {expr: "tz::date"}, {expr: "ts::timestamp(0)"},
	{expr: "f8::numeric"}, {expr: "f4::numeric"}, {expr: "n::float8"}, {expr: "n::real"}, {expr: "f8::real"},
	{expr: "i8::float4"}, {expr: "'yes'::bool"}, {expr: "'of'::bool"}, {expr: "'maybe'::bool"},
	{expr: "'1e3'::numeric"}, {expr: "'abc'::numeric"}, {expr: "' 1.5 '::float8"}, {expr: "'1e400'::float8"},
	{expr: "jb::json"}, {expr: "j::text"}, {expr: "'{\"a\":1}'::json"}, {expr: "'{bad'::json"},
	{expr: "CAST(i4 AS bigint)"}, {expr: "CAST('7' AS integer)"}, {expr: "i4::int8::text"}, {expr: "tx::date"},
	{expr: "vc::char(2)"}, {expr: "i4::uuid"}, {expr: "'x'::varchar(3)"}, {expr: "'abcd'::varchar(3)"},
	{expr: "i4::decimal(4,1)"}, {expr: "n::float"}, {expr: "n::float(10)"}, {expr: "i4::double precision"},
	// text
	{expr: "tx || 'x'"}, {expr: "tx || i4"}, {expr: "i4 || tx"}, {expr: "b || 'x'"}, {expr: "'a' || 'b'"},
	{expr: "ch || '|'"}, {expr: "tx || NULL"}, {expr: "i4 || i4"}, {expr: "n || ''"},
	{expr: "lower(tx)"}, {expr: "upper(tx)"}, {expr: "upper(vc)"}, {expr: "upper(ch)"}, {expr: "length(tx)"},
	{expr: "length(ch)"}, {expr: "length(vc)"}, {expr: "length(by)"}, {expr: "char_length('héllo')"},
	{expr: "lower(i4)"}, {expr: "length(i4)"},
	// numeric functions
	{expr: "abs(i4)"}, {expr: "abs(i2)"}, {expr: "abs(i8)"}, {expr: "abs(n)"}, {expr: "abs(f8)"}, {expr: "abs(f4)"},
	{expr: "round(n)"}, {expr: "round(n, 2)"}, {expr: "round(n2, 1)"}, {expr: "round(n, -1)"}, {expr: "round(2.5)"},
	{expr: "round(-2.5)"}, {expr: "round(f8)"}, {expr: "round(i4)"}, {expr: "round(i4, 2)"}, {expr: "round(1.5, 3)"},
	{expr: "round(f8, 2)"}, {expr: "foo(i4)"}, {expr: "abs(tx)"},
	// date arithmetic
	{expr: "d + 1"}, {expr: "d - 1"}, {expr: "d - d"}, {expr: "1 + d"},
	// names
	{expr: "'1'::int"}, {expr: "i4::text"}, {expr: "CASE WHEN b THEN 1 ELSE i4 END"}, {expr: "(i4)"},
	{expr: "tx COLLATE \"C\" < 'b'"}, {expr: "i4 COLLATE \"C\""},
}

type pgResult struct {
	name   string
	typ    row.Type
	values []*string // nil = NULL
	err    string
	// compileErr is set when ripple refused the expression at compile time.
	compileErr bool
}

func queryPG(t *testing.T, conn *pgx.Conn, sql string) pgResult {
	t.Helper()
	ctx := context.Background()
	if _, err := conn.Exec(ctx, "SAVEPOINT s"); err != nil {
		t.Fatal(err)
	}
	defer func() { _, _ = conn.Exec(ctx, "ROLLBACK TO SAVEPOINT s") }()
	rows, err := conn.Query(ctx, sql, pgx.QueryResultFormats{pgx.TextFormatCode})
	if err != nil {
		return pgResult{err: pgMessage(err)}
	}
	defer rows.Close()
	var res pgResult
	fd := rows.FieldDescriptions()
	if len(fd) > 0 {
		res.name = fd[0].Name
		res.typ = row.Type{OID: row.OID(fd[0].DataTypeOID), Mod: fd[0].TypeModifier}
	}
	for rows.Next() {
		raw := rows.RawValues()[0]
		if raw == nil {
			res.values = append(res.values, nil)
		} else {
			s := string(raw)
			res.values = append(res.values, &s)
		}
	}
	if err := rows.Err(); err != nil {
		return pgResult{err: pgMessage(err)}
	}
	return res
}

func pgMessage(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Message
	}
	return err.Error()
}

// loadTable reads t back with its column types, as the compiler sees it.
func loadTable(t *testing.T, conn *pgx.Conn) (*Scope, []row.Row) {
	t.Helper()
	rows, err := conn.Query(context.Background(), "SELECT * FROM t ORDER BY id", pgx.QueryResultFormats{pgx.TextFormatCode})
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	scope := &Scope{}
	for i, fd := range rows.FieldDescriptions() {
		scope.Columns = append(scope.Columns, ScopeColumn{Table: "t", Name: fd.Name, Index: i,
			Type: row.Type{OID: row.OID(fd.DataTypeOID), Mod: fd.TypeModifier}})
	}
	var out []row.Row
	for rows.Next() {
		var r row.Row
		for i, raw := range rows.RawValues() {
			if raw == nil {
				r = append(r, row.Null)
				continue
			}
			d, err := row.ParseText(scope.Columns[i].Type, string(raw))
			if err != nil {
				t.Fatalf("parse %s: %v", scope.Columns[i].Name, err)
			}
			r = append(r, d)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return scope, out
}

func evalRipple(scope *Scope, rows []row.Row, sql string) pgResult {
	tree, err := pg_query.Parse(sql)
	if err != nil {
		return pgResult{err: "parse: " + err.Error()}
	}
	rt := tree.Stmts[0].Stmt.GetSelectStmt().TargetList[0].GetResTarget()
	c := &Compiler{Scope: scope, Src: Source{Text: sql}, View: "", Collation: "C", Where: "select list"}
	e, err := c.Compile(rt.Val)
	if err != nil {
		return pgResult{err: msgOf(err), compileErr: true}
	}
	res := pgResult{name: e.Name, typ: e.Type}
	for _, r := range rows {
		d, err := e.Eval(r)
		if err != nil {
			return pgResult{err: msgOf(err)}
		}
		if d.IsNull() {
			res.values = append(res.values, nil)
		} else {
			s := row.FormatText(d)
			res.values = append(res.values, &s)
		}
	}
	return res
}

func msgOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Msg
	}
	return err.Error()
}

func show(vs []*string) string {
	var b []string
	for _, v := range vs {
		if v == nil {
			b = append(b, "NULL")
		} else {
			b = append(b, fmt.Sprintf("%q", *v))
		}
	}
	return "[" + strings.Join(b, " ") + "]"
}

func startPG(t *testing.T) *pgx.Conn {
	t.Helper()
	c := pgtest.Source(t)
	conn := pgtest.Connect(t, c, "app")
	ctx := context.Background()
	for k, v := range row.SessionSettings {
		if _, err := conn.Exec(ctx, fmt.Sprintf("SET %s = '%s'", k, v)); err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range []string{tableDDL, tableRows, "BEGIN"} {
		if _, err := conn.Exec(ctx, s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
	return conn
}

func TestExpressionsAgainstPostgres(t *testing.T) {
	conn := startPG(t)
	scope, rows := loadTable(t, conn)
	for _, tc := range pgCases {
		t.Run(tc.expr, func(t *testing.T) {
			sql := "SELECT " + tc.expr + " FROM t ORDER BY id"
			want := queryPG(t, conn, sql)
			got := evalRipple(scope, rows, "SELECT "+tc.expr+" FROM t")
			if tc.refused {
				if !got.compileErr {
					t.Fatalf("ripple accepts a construct it should refuse: %s %s %s (error %q)", got.name, got.typ, show(got.values), got.err)
				}
				return
			}
			if want.err != "" || got.err != "" {
				switch {
				case want.err == "":
					t.Fatalf("ripple fails (%s), PostgreSQL gives %s %s %s", got.err, want.name, want.typ, show(want.values))
				case got.err == "":
					t.Fatalf("PostgreSQL fails (%s), ripple gives %s %s %s", want.err, got.name, got.typ, show(got.values))
				case want.err != got.err && !tc.msgDiffers:
					t.Errorf("error message:\n got  %s\n want %s", got.err, want.err)
				}
				return
			}
			if got.name != want.name {
				t.Errorf("name = %q, want %q", got.name, want.name)
			}
			if got.typ != want.typ {
				t.Errorf("type = %s (%d,%d), want %s (%d,%d)", got.typ, got.typ.OID, got.typ.Mod, want.typ, want.typ.OID, want.typ.Mod)
			}
			if show(got.values) != show(want.values) {
				t.Errorf("values:\n got  %s\n want %s", show(got.values), show(want.values))
			}
		})
	}
}
