package verify

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/rippledb/ripple/internal/oracle"
	"github.com/rippledb/ripple/internal/pgtest"
)

func str(s string) *string { return &s }

func TestRecordTextUnit(t *testing.T) {
	cases := []struct {
		in   []*string
		want string
	}{
		{[]*string{str("1"), str("abc")}, "(1,abc)"},
		{[]*string{nil, str("x"), nil}, "(,x,)"},
		{[]*string{str("")}, `("")`},
		{[]*string{str(`a"b`)}, `("a""b")`},
		{[]*string{str(`a\b`)}, `("a\\b")`},
		{[]*string{str("a b"), str("(x)"), str("1,2")}, `("a b","(x)","1,2")`},
		{[]*string{str("tab\there"), str("nl\nx")}, "(\"tab\there\",\"nl\nx\")"},
		{[]*string{str("NULL")}, "(NULL)"},
	}
	for _, c := range cases {
		if got := RecordText(c.in); got != c.want {
			t.Errorf("RecordText = %q, want %q", got, c.want)
		}
	}
}

func TestParseCopyLine(t *testing.T) {
	vals, err := ParseCopyLine(`a\tb\\c\nd` + "\t" + `\N` + "\t" + `\101\x42\z`)
	if err != nil {
		t.Fatal(err)
	}
	if len(vals) != 3 || *vals[0] != "a\tb\\c\nd" || vals[1] != nil || *vals[2] != "ABz" {
		t.Errorf("got %v", vals)
	}
	if _, err := ParseCopyLine(`abc\`); err == nil {
		t.Error("a trailing backslash was accepted")
	}
}

// TestRecordTextAgainstPostgres checks that the Go computation of record
// text, row hash and bucket from COPY text output equals PostgreSQL's
// ROW(...)::text and the SQL hash expressions, for values that exercise
// every quoting rule.
func TestRecordTextAgainstPostgres(t *testing.T) {
	c := pgtest.Source(t)
	ctx := context.Background()
	conn, err := oracle.Connect(ctx, c.DSN("app"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, `
CREATE TABLE tricky (id int, t text, n numeric, f float8, j jsonb, a int[], b bytea, ts timestamptz, ok bool);
INSERT INTO tricky VALUES
 (1, 'plain', 1.50, 1.5, '{"a": [1, 2]}', '{1,2}', '\x00ff', '2024-01-02 03:04:05.6+00', true),
 (2, '', NULL, 'NaN', 'null', '{}', '', NULL, NULL),
 (3, 'with "quotes" and \ backslash', -0.0001, -0.0, '"str"', '{NULL,3}', '\x5c22', '-infinity', false),
 (4, E'tab\there\nnewline\rcr', 1e20, 'Infinity', '{"k": "v\"w"}', NULL, NULL, '1999-12-31 23:59:59+00', NULL),
 (5, '(parens), commas', 0, 1e-300, '[]', '{-1}', NULL, NULL, NULL),
 (6, ' lead and trail ', 3.14159, 2.5e100, '{}', NULL, NULL, NULL, NULL),
 (7, E'vt\vff\fbs\bend', NULL, NULL, NULL, NULL, NULL, NULL, NULL),
 (8, 'ünïcödé ✓', NULL, NULL, NULL, NULL, NULL, NULL, NULL),
 (9, 'NULL', NULL, NULL, NULL, NULL, NULL, NULL, NULL),
 (10, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
 (11, '\N', NULL, NULL, NULL, NULL, NULL, NULL, NULL),
 (12, '"', NULL, NULL, NULL, NULL, NULL, NULL, NULL);`)
	if err != nil {
		t.Fatal(err)
	}
	const cols = "id, t, n, f, j, a, b, ts, ok"
	var dump bytes.Buffer
	if _, err := conn.PgConn().CopyTo(ctx, &dump, "COPY (SELECT "+cols+" FROM tricky ORDER BY id) TO STDOUT"); err != nil {
		t.Fatal(err)
	}
	const n = 97
	rows, err := conn.Query(ctx, "SELECT ROW("+cols+")::text, "+rowHashSQL("ROW("+cols+")")+", "+bucketSQL("ROW(t, n)", n)+", "+bucketSQL("ROW("+cols+")", n)+" FROM tricky ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	type pgRow struct {
		text       string
		hash       int64
		bkey, ball int
	}
	var want []pgRow
	for rows.Next() {
		var r pgRow
		if err := rows.Scan(&r.text, &r.hash, &r.bkey, &r.ball); err != nil {
			t.Fatal(err)
		}
		want = append(want, r)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(dump.String(), "\n"), "\n")
	if len(lines) != len(want) {
		t.Fatalf("%d COPY lines, %d rows", len(lines), len(want))
	}
	for i, line := range lines {
		vals, err := ParseCopyLine(line)
		if err != nil {
			t.Fatalf("line %d: %v", i+1, err)
		}
		got := RecordText(vals)
		if got != want[i].text {
			t.Errorf("row %d:\n got %q\nwant %q", i+1, got, want[i].text)
			continue
		}
		if h := RowHash(got); h != want[i].hash {
			t.Errorf("row %d: RowHash = %d, PostgreSQL %d", i+1, h, want[i].hash)
		}
		if b := BucketOf(RecordText([]*string{vals[1], vals[2]}), n); b != want[i].bkey {
			t.Errorf("row %d: key bucket = %d, PostgreSQL %d", i+1, b, want[i].bkey)
		}
		if b := BucketOf(got, n); b != want[i].ball {
			t.Errorf("row %d: row bucket = %d, PostgreSQL %d", i+1, b, want[i].ball)
		}
	}
}
