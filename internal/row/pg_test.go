package row_test

import (
	"context"
	"encoding/hex"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rippledb/ripple/internal/pgtest"
	"github.com/rippledb/ripple/internal/row"
)

// pgType is a type under test: its SQL spelling, its row.Type, and a
// generator of input texts (random values plus edges).
type pgType struct {
	sql  string
	t    row.Type
	gen  func(r *rand.Rand) []string
	cmp  bool // compare ordering and equality against PostgreSQL's operators
	norm bool // ParseText normalizes input like PostgreSQL's input function (not jsonb)
}

// TestAgainstPostgres checks the text codec and the ordering against a
// real PostgreSQL 15 server running with row.SessionSettings:
//   - FormatText(ParseText(in)) is exactly what PostgreSQL prints for in;
//   - ParseText of PostgreSQL's output formats back to that output;
//   - for random pairs, Compare agrees with PostgreSQL's < and = (NULLs
//     last) and AppendKey equality with =;
//   - sorting with Compare gives ORDER BY ... NULLS LAST's order.
func TestAgainstPostgres(t *testing.T) {
	c := pgtest.Source(t)
	conn := pgtest.Connect(t, c, "app")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	for k, v := range row.SessionSettings {
		if _, err := conn.Exec(ctx, fmt.Sprintf("SET %s = '%s'", k, v)); err != nil {
			t.Fatalf("SET %s: %v", k, err)
		}
	}
	var collate string
	if err := conn.QueryRow(ctx, "SELECT datcollate FROM pg_database WHERE datname = current_database()").Scan(&collate); err != nil || collate != "C" {
		t.Fatalf("database collation %q (%v), want C", collate, err)
	}

	for _, ty := range pgTypes {
		t.Run(ty.sql, func(t *testing.T) {
			r := rand.New(rand.NewPCG(uint64(ty.t.OID), 42))
			inputs := ty.gen(r)
			outs := pgOutputs(ctx, t, conn, ty.sql, inputs)
			for i, in := range inputs {
				d, err := row.ParseText(ty.t, in)
				if err != nil {
					t.Errorf("ParseText(%s, %q): %v (PostgreSQL prints %q)", ty.sql, in, err, outs[i])
					continue
				}
				if got := row.FormatText(d); ty.norm && got != outs[i] {
					t.Errorf("%s %q: FormatText(ParseText) = %q, PostgreSQL prints %q", ty.sql, in, got, outs[i])
				}
				d2, err := row.ParseText(ty.t, outs[i])
				if err != nil {
					t.Errorf("ParseText(%s, %q) of PostgreSQL's output: %v", ty.sql, outs[i], err)
					continue
				}
				if got := row.FormatText(d2); got != outs[i] {
					t.Errorf("%s: PostgreSQL's output %q formats back as %q", ty.sql, outs[i], got)
				}
			}
			if ty.cmp {
				compareWithPostgres(ctx, t, conn, ty, inputs, r)
			}
		})
	}
}

// pgOutputs has PostgreSQL read every input with the type's input function
// and print it with its output function (concat, not ::text: bool::text is
// "true" and bpchar::text drops trailing spaces).
func pgOutputs(ctx context.Context, t *testing.T, conn *pgx.Conn, typ string, inputs []string) []string {
	t.Helper()
	q := fmt.Sprintf("SELECT concat(v::%s) FROM unnest($1::text[]) WITH ORDINALITY AS u(v, n) ORDER BY n", typ)
	outs, err := queryStrings(ctx, conn, q, inputs)
	if err == nil && len(outs) == len(inputs) {
		return outs
	}
	// Find the input PostgreSQL refused.
	for _, in := range inputs {
		var out string
		if err := conn.QueryRow(ctx, fmt.Sprintf("SELECT concat($1::%s)", typ), in).Scan(&out); err != nil {
			t.Fatalf("PostgreSQL refuses %s %q: %v", typ, in, err)
		}
	}
	t.Fatalf("%s: %v", typ, err)
	return nil
}

func queryStrings(ctx context.Context, conn *pgx.Conn, q string, args ...any) ([]string, error) {
	rows, err := conn.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// nullText marks a NULL in a generated pair list.
const nullText = "<<NULL>>"

func compareWithPostgres(ctx context.Context, t *testing.T, conn *pgx.Conn, ty pgType, inputs []string, r *rand.Rand) {
	t.Helper()
	vals := append(slices.Clone(inputs), nullText)
	var as, bs []string
	for range 600 {
		as = append(as, vals[r.IntN(len(vals))])
		bs = append(bs, vals[r.IntN(len(vals))])
	}
	// Neighbours in PostgreSQL's own order are the pairs most likely to be
	// misordered; add each value against itself too.
	sorted := sortByPostgres(ctx, t, conn, ty, vals)
	for i := range sorted {
		as, bs = append(as, sorted[i]), append(bs, sorted[i])
		if i+1 < len(sorted) {
			as, bs = append(as, sorted[i], sorted[i+1]), append(bs, sorted[i+1], sorted[i])
		}
	}
	for _, p := range equalPairs[ty.sql] {
		as, bs = append(as, p[0], p[1]), append(bs, p[1], p[0])
	}
	arg := func(ss []string) []*string {
		out := make([]*string, len(ss))
		for i, s := range ss {
			if s != nullText {
				out[i] = &s
			}
		}
		return out
	}
	q := fmt.Sprintf(`SELECT CASE WHEN a IS NULL AND b IS NULL THEN 0 WHEN a IS NULL THEN 1 WHEN b IS NULL THEN -1
		WHEN a::%[1]s < b::%[1]s THEN -1 WHEN a::%[1]s = b::%[1]s THEN 0 WHEN a::%[1]s > b::%[1]s THEN 1 ELSE 99 END
		FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS u(a, b, n) ORDER BY n`, ty.sql)
	rows, err := conn.Query(ctx, q, arg(as), arg(bs))
	if err != nil {
		t.Fatalf("compare: %v", err)
	}
	want, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil || len(want) != len(as) {
		t.Fatalf("compare: %v (%d results)", err, len(want))
	}
	parse := func(s string) row.Datum {
		if s == nullText {
			return row.Null
		}
		d, err := row.ParseText(ty.t, s)
		if err != nil {
			t.Fatalf("ParseText(%s, %q): %v", ty.sql, s, err)
		}
		return d
	}
	bad := 0
	for i := range as {
		a, b := parse(as[i]), parse(bs[i])
		got := row.Compare(a, b)
		keyEq := string(row.AppendKey(nil, a)) == string(row.AppendKey(nil, b))
		if got != int(want[i]) || row.Equal(a, b) != (want[i] == 0) || keyEq != (want[i] == 0) {
			t.Errorf("%s %q vs %q: PostgreSQL %d, Compare %d, Equal %v, AppendKey equal %v", ty.sql, as[i], bs[i], want[i], got, row.Equal(a, b), keyEq)
			if bad++; bad > 20 {
				t.Fatalf("too many mismatches")
			}
		}
	}
	// Sorting with Compare gives PostgreSQL's order (up to ties).
	ds := make([]row.Datum, len(sorted))
	for i, s := range sorted {
		ds[i] = parse(s)
	}
	for i := 1; i < len(ds); i++ {
		if row.Compare(ds[i-1], ds[i]) > 0 {
			t.Errorf("%s: ORDER BY puts %q before %q, Compare disagrees", ty.sql, sorted[i-1], sorted[i])
		}
	}
}

func sortByPostgres(ctx context.Context, t *testing.T, conn *pgx.Conn, ty pgType, vals []string) []string {
	t.Helper()
	var in []*string
	for _, s := range vals {
		if s != nullText {
			in = append(in, &s)
		} else {
			in = append(in, nil)
		}
	}
	q := fmt.Sprintf("SELECT coalesce(v, $2) FROM unnest($1::text[]) AS u(v) ORDER BY v::%s NULLS LAST", ty.sql)
	out, err := queryStrings(ctx, conn, q, in, nullText)
	if err != nil {
		t.Fatalf("sort: %v", err)
	}
	return out
}

// equalPairs are different spellings of values PostgreSQL's = calls equal.
var equalPairs = map[string][][2]string{
	"numeric":          {{"1.0", "1.00"}, {"1", "1.000"}, {"0", "0.00"}, {"-0", "0"}, {"NaN", "nan"}, {"1e3", "1000.0"}, {"Infinity", "inf"}},
	"double precision": {{"-0", "0"}, {"NaN", "NaN"}, {"NaN", "nan"}, {"1e2", "100"}},
	"real":             {{"-0", "0"}, {"NaN", "NaN"}, {"0.1", "0.10000000149"}},
	"timestamptz":      {{"2000-01-01 05:30:00+05:30", "2000-01-01 00:00:00+00"}},
	"uuid":             {{"A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"}},
	"bytea":            {{`\x41`, `A`}},
	"boolean":          {{"yes", "t"}, {"off", "f"}},
}

var pgTypes = []pgType{
	{"smallint", row.Int2, intGen(math.MinInt16, math.MaxInt16), true, true},
	{"integer", row.Int4, intGen(math.MinInt32, math.MaxInt32), true, true},
	{"bigint", row.Int8, intGen(math.MinInt64, math.MaxInt64), true, true},
	{"numeric", row.Numeric, numericGen, true, true},
	{"double precision", row.Float8, floatGen(false), true, true},
	{"real", row.Float4, floatGen(true), true, true},
	{"boolean", row.Bool, func(*rand.Rand) []string {
		return []string{"t", "f", "true", "false", "TRUE", "False", "tr", "tru", "fa", "fal", "fals", "yes", "ye", "y", "no", "n",
			"on", "ON", "off", "of", "1", "0", " t ", "\tyes\n"}
	}, true, true},
	{"bytea", row.Bytea, byteaGen, true, true},
	{"date", row.Date, dateGen, true, true},
	{"timestamp", row.Timestamp, timestampGen(false), true, true},
	{"timestamptz", row.TimestampTZ, timestampGen(true), true, true},
	{"uuid", row.UUID, uuidGen, true, true},
	{"text", row.Text, textGen, true, true},
	{"varchar", row.Varchar, textGen, true, true},
	{"name", row.Type{OID: row.OIDName, Mod: -1}, textGen, true, true},
	// bpchar: trailing spaces are insignificant to its = and <, which a
	// KindText datum does not know; only the text form is checked.
	{"bpchar", row.Bpchar, textGen, false, true},
	{"json", row.JSON, jsonGen, false, true},
	// jsonb: ParseText takes jsonb's canonical output as is (not its input),
	// and jsonb's ordering is not textual; only the output is checked.
	{"jsonb", row.JSONB, jsonGen, false, false},
}

func intGen(lo, hi int64) func(r *rand.Rand) []string {
	return func(r *rand.Rand) []string {
		out := []string{"0", "1", "-1", strconv.FormatInt(lo, 10), strconv.FormatInt(hi, 10), strconv.FormatInt(lo+1, 10),
			strconv.FormatInt(hi-1, 10), " 42", "42 ", "+17", "-0", "000123"}
		for range 300 {
			var v int64
			switch r.IntN(3) {
			case 0:
				v = r.Int64N(2001) - 1000
			default:
				v = int64(r.Uint64())
				bits := r.IntN(64) + 1
				v >>= 64 - bits
			}
			if v >= lo && v <= hi {
				out = append(out, strconv.FormatInt(v, 10))
			}
		}
		return out
	}
}

func digits(r *rand.Rand, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('0' + r.IntN(10))
	}
	return string(b)
}

func numericGen(r *rand.Rand) []string {
	out := []string{
		"NaN", "nan", "Infinity", "-Infinity", "inf", "+inf", "-inf", "0", "-0", "0.00", "-0.00", "1.0", "1.00", "1.50", "1",
		"1e3", "1E+3", "1.5E-3", "1.5e-3", "-1e-2", ".5", "-.5", "5.", "007.10", "+1.0", "1.23e1", "1.50e1", "0e5", "0.00e-2",
		"-0e-3", "0.000123e2", "1e100", "1e-100", "-9.99e-5", "123456789012345678901234567890.123456789012345678901234567890",
		"99999999999999999999999999999999999999999999999999999999999999999999999999999999", "0.1", "0.10", "0.01", "10", "10.0",
		"1e1000", "1e-1000",
	}
	for range 300 {
		var s string
		switch r.IntN(4) {
		case 0: // small integers and decimals
			s = strconv.Itoa(r.IntN(2000) - 1000)
			if r.IntN(2) == 0 {
				s += "." + digits(r, r.IntN(4))
			}
		case 1: // long
			s = strings.TrimLeft(digits(r, 1+r.IntN(40)), "0") + "." + digits(r, r.IntN(40))
			if s[0] == '.' {
				s = "0" + s
			}
		case 2: // exponent form
			s = digits(r, 1+r.IntN(5)) + "." + digits(r, r.IntN(5)) + "e" + strconv.Itoa(r.IntN(41)-20)
		default: // values close to each other
			s = "1." + strings.Repeat("0", r.IntN(25)) + digits(r, 1+r.IntN(3))
		}
		if r.IntN(3) == 0 && s[0] != '-' {
			s = "-" + s
		}
		out = append(out, s)
	}
	return out
}

func floatGen(f4 bool) func(r *rand.Rand) []string {
	return func(r *rand.Rand) []string {
		out := []string{"0", "-0", "NaN", "nan", "Infinity", "-Infinity", "inf", "-inf", "0.1", "0.2", "0.3", "1e-5", "1e-4",
			"0.0001", "123456", "1234567", "1e15", "1e14", "123456789012345", "1234567890123456", "0.30000000000000004",
			"1.5", "-1.5", "100", "1e6", "1e5", "1e-45", "1.4e-45", "3.4028235e38", "1.1754944e-38", "16777217", " 2.5 "}
		if !f4 {
			out = append(out, "4.9e-324", "5e-324", "2.2250738585072014e-308", "2.225073858507201e-308",
				"1.7976931348623157e308", "9007199254740993", "1e22", "1e23", "1e308", "1e-310")
		}
		for range 600 {
			var f float64
			switch r.IntN(5) {
			case 4: // short decimals at any scale: rounding boundaries
				f = float64(r.IntN(100000)) * math.Pow10(r.IntN(60)-20)
			case 0: // any bit pattern
				if f4 {
					f = float64(math.Float32frombits(r.Uint32()))
				} else {
					f = math.Float64frombits(r.Uint64())
				}
			case 1: // short decimals
				f = float64(r.IntN(200001)-100000) / math.Pow10(r.IntN(8))
			case 2: // around the positional/exponential boundaries
				f = (1 + r.Float64()) * math.Pow10(r.IntN(24)-8)
			default: // subnormals
				if f4 {
					f = float64(math.Float32frombits(r.Uint32() & 0x7fffff))
				} else {
					f = math.Float64frombits(r.Uint64() & 0xfffffffffffff)
				}
			}
			if f4 {
				f = float64(float32(f))
			}
			switch r.IntN(3) {
			case 0:
				out = append(out, row.FormatFloat(f, f4))
			case 1:
				out = append(out, strconv.FormatFloat(f, 'g', 17, 64))
			default:
				out = append(out, strconv.FormatFloat(f, 'e', -1, 64))
			}
		}
		return out
	}
}

func byteaGen(r *rand.Rand) []string {
	out := []string{`\x`, ``, `\xDEADbeef`, `\x de ad`, `abc`, `a\\b`, `\000\377`, `\101\102C`, `\x00`, `\x0000`, `\xff`, `\x7f80`}
	for range 200 {
		b := make([]byte, r.IntN(12))
		for i := range b {
			b[i] = byte(r.IntN(256))
			if r.IntN(3) == 0 {
				b[i] = byte(r.IntN(3)) // many near-equal values
			}
		}
		if r.IntN(4) == 0 {
			// escape format
			var s strings.Builder
			for _, c := range b {
				switch {
				case c == '\\':
					s.WriteString(`\\`)
				case c >= 0x20 && c < 0x7f:
					s.WriteByte(c)
				default:
					fmt.Fprintf(&s, `\%03o`, c)
				}
			}
			out = append(out, s.String())
		} else {
			out = append(out, `\x`+hex.EncodeToString(b))
		}
	}
	return out
}

const (
	minDays = -2451545   // 4714-11-24 BC
	endDays = 2145031949 // 5874898-01-01
)

func dateGen(r *rand.Rand) []string {
	out := []string{"2000-01-01", "2000-1-1", "1999-12-31", "2024-02-29", "2000-02-29", "1900-02-28", "1970-01-01", "epoch",
		"0001-01-01", "0001-12-31 BC", "0001-01-01 BC", "0044-03-15 BC", "0005-02-29 BC", "0001-02-29 BC", "4714-11-24 BC",
		"9999-12-31", "10000-01-01", "5874897-12-31", "infinity", "-infinity", "Infinity", "2000-01-01 AD"}
	for range 300 {
		var d int64
		switch r.IntN(3) {
		case 0:
			d = r.Int64N(endDays-minDays) + minDays
		case 1:
			d = r.Int64N(800000) - 750000 // around year 0
		default:
			d = r.Int64N(40000) - 20000
		}
		out = append(out, row.FormatText(row.NewDate(d)))
	}
	return out
}

const (
	minTS = -211813488000000000
	endTS = 9223371331200000000
)

func timestampGen(tz bool) func(r *rand.Rand) []string {
	return func(r *rand.Rand) []string {
		out := []string{"2000-01-01 00:00:00", "2000-01-01T12:34:56", "2000-01-01", "2000-01-01 12:34",
			"2000-01-01 12:34:56.789", "2000-01-01 12:34:56.000001", "2000-01-01 12:34:56.100000",
			"2000-01-01 12:34:56.12345678", "1999-12-31 23:59:59.9999999", "2000-01-01 24:00:00", "2000-01-01 23:59:60",
			"1969-07-20 20:17:40", "1900-01-01 00:00:00.5", "0001-01-01 00:00:00 BC", "0044-03-15 12:00:00.25 BC",
			"4714-11-24 12:00:00 BC", "10000-01-01 00:00:00", "294276-12-31 12:59:59.999999", "epoch", "infinity", "-infinity",
			"2000-01-01 00:00:00+05:30", "2000-01-01 00:00:00-03", "2000-01-01 00:00:00+0530", "2000-01-01 00:00:00.5Z",
			"2000-01-01 00:00:00+01:02:03", "2000-01-01 00:00:00-15:59:59", "2000-01-01T12:00:00.123456+14",
			"0001-01-01 00:30:00+01", "0001-01-01 01:00:00+01 BC", "2000-01-01 00:00:00.0000005", "2000-01-01 00:00:00.0000015"}
		if !tz {
			out = append(out, "4714-11-24 00:00:00 BC", "294276-12-31 23:59:59.999999")
		}
		for range 300 {
			var us int64
			switch r.IntN(3) {
			case 0:
				us = r.Int64N((endTS-minTS)/2-2*86400_000_000)*2 + minTS + 86400_000_000
			case 1:
				us = r.Int64N(100*365*86400_000_000) - 50*365*86400_000_000
				if r.IntN(2) == 0 {
					us -= us % 1_000_000 // whole seconds
				}
			default:
				us = r.Int64N(86400_000_000*800000) - 86400_000_000*750000 // around year 0
			}
			var s string
			if tz {
				s = row.FormatText(row.NewTimestampTZ(us))
				if r.IntN(2) == 0 {
					// Restate it at another offset.
					off := int64(r.IntN(2*15*60+1)-15*60) * 60
					local := row.FormatText(row.NewTimestamp(us + off*1_000_000))
					sign := "+"
					if off < 0 {
						sign, off = "-", -off
					}
					z := fmt.Sprintf("%s%02d:%02d", sign, off/3600, off/60%60)
					if bc := strings.HasSuffix(local, " BC"); bc {
						s = strings.TrimSuffix(local, " BC") + z + " BC"
					} else {
						s = local + z
					}
				}
			} else {
				s = row.FormatText(row.NewTimestamp(us))
			}
			out = append(out, s)
		}
		return out
	}
}

func uuidGen(r *rand.Rand) []string {
	out := []string{"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11",
		"{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}", "a0eebc999c0b4ef8bb6d6bb9bd380a11",
		"00000000-0000-0000-0000-000000000000", "ffffffff-ffff-ffff-ffff-ffffffffffff"}
	for range 200 {
		var b [16]byte
		for i := range b {
			b[i] = byte(r.IntN(256))
		}
		if r.IntN(3) == 0 {
			b[15] = 0
			b[0] = byte(r.IntN(2))
		}
		s := row.FormatText(row.NewUUID(b))
		switch r.IntN(4) {
		case 0:
			s = strings.ToUpper(s)
		case 1:
			s = "{" + s + "}"
		case 2:
			s = strings.ReplaceAll(s, "-", "")
		}
		out = append(out, s)
	}
	return out
}

func textGen(r *rand.Rand) []string {
	out := []string{"", " ", "a", "a ", "A", "B", "a b", "ab", "abc", "é", "日本", "🎉", `back\slash`, `"q"`, "'",
		"tab\there", "new\nline", "Z", "z", "~"}
	alphabet := []rune("aAbB zZ0~é世\t🎉")
	for range 200 {
		n := r.IntN(8)
		rs := make([]rune, n)
		for i := range rs {
			rs[i] = alphabet[r.IntN(len(alphabet))]
		}
		out = append(out, string(rs))
	}
	return out
}

func jsonGen(r *rand.Rand) []string {
	out := []string{`{}`, `[]`, `null`, `true`, `1`, `1.50`, `-0`, `1e3`, `"x"`, `"\u00e9"`, ` {"b": 1,  "a": [1, 2.50]} `,
		`{"a": 1, "a": 2}`, `{"bb": 1, "a": {"c": [null, false, "s"]}}`, `[1, "two", 3.0, {"k": []}]`}
	for range 50 {
		out = append(out, fmt.Sprintf(`{"k%d": %d, "s": "v%d", "arr": [%d.%d, null]}`, r.IntN(10), r.IntN(1000)-500, r.IntN(100), r.IntN(10), r.IntN(100)))
	}
	return out
}

// TestQuoteIdentAgainstPostgres checks QuoteIdent against quote_ident()
// and the keyword list against pg_get_keywords().
func TestQuoteIdentAgainstPostgres(t *testing.T) {
	c := pgtest.Source(t)
	conn := pgtest.Connect(t, c, "app")
	ctx := context.Background()
	words, err := queryStrings(ctx, conn, "SELECT word FROM pg_get_keywords() WHERE catcode <> 'U' ORDER BY word")
	if err != nil {
		t.Fatal(err)
	}
	idents := append(words, "users", "Users", "_x", "x1", "1x", "", `a"b`, "has space", "é", "name", "text", "key", "value",
		"select", "SELECT", "a.b")
	want, err := queryStrings(ctx, conn, "SELECT quote_ident(w) FROM unnest($1::text[]) WITH ORDINALITY AS u(w, n) ORDER BY n", idents)
	if err != nil {
		t.Fatal(err)
	}
	for i, id := range idents {
		got := row.QuoteIdent(id)
		// quote_ident also quotes non-ASCII letters and '$', which need
		// no quotes; only ASCII identifiers without '$' must agree.
		if got != want[i] {
			t.Errorf("QuoteIdent(%q) = %s, quote_ident gives %s", id, got, want[i])
		}
	}
}
