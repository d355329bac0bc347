package row

import (
	"hash/maphash"
	"math"
	"slices"
	"testing"
)

func TestCompareNumeric(t *testing.T) {
	// Strictly increasing, as PostgreSQL orders numerics:
	// -Infinity < numbers < Infinity < NaN.
	order := []string{
		"-Infinity", "-" + numeric1e1000, "-123456789012345678901234567890", "-1.5", "-1", "-0.000000000000000000001",
		"0", "0.000000000000000000001", "0.1", "0.5", "1", "1.000000000000000000001", "1.5", "2", "10",
		"123456789012345678901234567890", numeric1e1000, "Infinity", "NaN",
	}
	for i, a := range order {
		for j, b := range order {
			want := 0
			if i < j {
				want = -1
			} else if i > j {
				want = 1
			}
			if got := CompareNumeric(a, b); got != want {
				t.Errorf("CompareNumeric(%s, %s) = %d, want %d", a, b, got, want)
			}
		}
	}
	equal := [][2]string{{"1.0", "1.00"}, {"1", "1.000"}, {"0", "0.00"}, {"-0", "0"}, {"-0.00", "0"}, {"NaN", "NaN"}, {"100", "100.0"}}
	for _, p := range equal {
		if CompareNumeric(p[0], p[1]) != 0 || CompareNumeric(p[1], p[0]) != 0 {
			t.Errorf("CompareNumeric(%s, %s) != 0", p[0], p[1])
		}
		if CanonicalNumeric(p[0]) != CanonicalNumeric(p[1]) {
			t.Errorf("CanonicalNumeric(%s) = %s, CanonicalNumeric(%s) = %s", p[0], CanonicalNumeric(p[0]), p[1], CanonicalNumeric(p[1]))
		}
	}
}

func TestCanonicalNumeric(t *testing.T) {
	cases := map[string]string{
		"1.500": "1.5", "-0.00": "0", "0": "0", "-0": "0", "100": "100", "100.0": "100", "10.010": "10.01",
		"0.0": "0", "-1.10": "-1.1", "NaN": "NaN", "Infinity": "Infinity", "-Infinity": "-Infinity",
		"12345678901234567890.000": "12345678901234567890",
	}
	for in, want := range cases {
		if got := CanonicalNumeric(in); got != want {
			t.Errorf("CanonicalNumeric(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCompareAndKeys(t *testing.T) {
	negZero := math.Copysign(0, -1)
	// Each group holds values that are equal as SQL values; groups are in
	// increasing order; NULL sorts last.
	groups := [][]Datum{
		{NewFloat(math.Inf(-1))},
		{NewFloat(-1)},
		{NewFloat(0), NewFloat(negZero)},
		{NewFloat(5e-324)},
		{NewFloat(math.Inf(1))},
		{NewFloat(math.NaN()), NewFloat(-math.NaN()), NewFloat(math.Float64frombits(0x7ff0000000000042))},
		{Null},
	}
	checkGroups(t, groups)
	checkGroups(t, [][]Datum{
		{NewNumeric("-Infinity")}, {NewNumeric("-1.5"), NewNumeric("-1.50")}, {NewNumeric("0"), NewNumeric("0.00")},
		{NewNumeric("1.0"), NewNumeric("1.00"), NewNumeric("1")}, {NewNumeric("Infinity")}, {NewNumeric("NaN")}, {Null},
	})
	checkGroups(t, [][]Datum{
		{NewDate(NegInfinity)}, {NewDate(-1)}, {NewDate(0)}, {NewDate(PosInfinity)}, {Null},
	})
	checkGroups(t, [][]Datum{
		{NewText("")}, {NewText("A")}, {NewText("B")}, {NewText("a")}, {NewText("a ")}, {NewText("ab")}, {NewText("é")}, {Null},
	})
	checkGroups(t, [][]Datum{{NewBool(false)}, {NewBool(true)}, {Null}})
	checkGroups(t, [][]Datum{{NewBytes(nil)}, {NewBytes([]byte{0})}, {NewBytes([]byte{0, 0})}, {NewBytes([]byte{1})}, {NewBytes([]byte{255})}, {Null}})
}

func checkGroups(t *testing.T, groups [][]Datum) {
	t.Helper()
	for gi, g := range groups {
		for _, a := range g {
			for gj, h := range groups {
				for _, b := range h {
					want := 0
					if gi < gj {
						want = -1
					} else if gi > gj {
						want = 1
					}
					if got := Compare(a, b); got != want {
						t.Errorf("Compare(%v, %v) = %d, want %d", a, b, got, want)
					}
					if got := Equal(a, b); got != (want == 0) {
						t.Errorf("Equal(%v, %v) = %v", a, b, got)
					}
					keyEq := string(AppendKey(nil, a)) == string(AppendKey(nil, b))
					if keyEq != (want == 0) {
						t.Errorf("AppendKey equality of %v and %v = %v, want %v", a, b, keyEq, want == 0)
					}
					if got := CompareRows(Row{NewInt(1), a}, Row{NewInt(1), b}); got != want {
						t.Errorf("CompareRows(.., %v / %v) = %d, want %d", a, b, got, want)
					}
					if (Row{a}.Encode() == Row{b}.Encode()) != (want == 0) {
						t.Errorf("Row.Encode equality of %v and %v", a, b)
					}
				}
			}
		}
	}
}

func TestExactEncoding(t *testing.T) {
	negZero := math.Copysign(0, -1)
	distinct := []Datum{
		Null, NewNumeric("1"), NewNumeric("1.0"), NewNumeric("1.00"), NewFloat(0), NewFloat(negZero),
		NewFloat4(0), NewFloat4(float32(negZero)), NewFloat(1), NewFloat4(1), NewFloat(math.NaN()), NewFloat4(float32(math.NaN())),
		NewInt(1), NewBool(true), NewText("1"), NewJSON("1"), NewJSONB("1"), NewBytes([]byte("1")),
		NewDate(1), NewTimestamp(1), NewTimestampTZ(1),
	}
	for i, a := range distinct {
		for j, b := range distinct {
			same := string(AppendExact(nil, a)) == string(AppendExact(nil, b))
			if same != (i == j) {
				t.Errorf("AppendExact(%#v) == AppendExact(%#v): %v", a, b, same)
			}
			if Identical(a, b) != (i == j) {
				t.Errorf("Identical(%#v, %#v) = %v", a, b, !(i == j))
			}
		}
	}
	// NaN payloads all print "NaN": they are one value.
	nan2 := NewFloat(math.Float64frombits(0x7ff0000000000042))
	if !Identical(NewFloat(math.NaN()), nan2) || string(AppendExact(nil, NewFloat(math.NaN()))) != string(AppendExact(nil, nan2)) {
		t.Errorf("NaNs with different payloads are not identical")
	}
	if !RowsIdentical(Row{NewFloat(math.NaN()), NewNumeric("1.0")}, Row{NewFloat(math.NaN()), NewNumeric("1.0")}) {
		t.Errorf("RowsIdentical is false for the same NaN row")
	}
	if RowsIdentical(Row{NewFloat(0)}, Row{NewFloat(negZero)}) || RowsIdentical(Row{NewInt(1)}, Row{NewInt(1), Null}) {
		t.Errorf("RowsIdentical confuses -0 and 0, or rows of different lengths")
	}
	if (Row{NewNumeric("1.0")}).EncodeExact() == (Row{NewNumeric("1.00")}).EncodeExact() {
		t.Errorf("EncodeExact does not keep 1.0 and 1.00 apart")
	}
	if (Row{NewNumeric("1.0")}).Encode() != (Row{NewNumeric("1.00")}).Encode() {
		t.Errorf("Encode keeps 1.0 and 1.00 apart")
	}
	// Multi-column encodings do not run into each other.
	if (Row{NewText("ab"), NewText("c")}).Encode() == (Row{NewText("a"), NewText("bc")}).Encode() {
		t.Errorf("Encode is ambiguous across columns")
	}
	r := Row{NewInt(1), NewText("x"), NewNumeric("2.5"), Null}
	if r.Key([]int{2, 0}) != string(AppendKey(AppendKey(nil, r[2]), r[0])) {
		t.Errorf("Row.Key does not encode the named columns in order")
	}
}

func TestConsolidate(t *testing.T) {
	r := func(ds ...Datum) Row { return Row(ds) }
	n10, n100 := NewNumeric("1.0"), NewNumeric("1.00")
	us := []Update{
		{r(NewInt(1), n10), 1},
		{r(NewInt(1), n100), 1},
		{r(NewInt(2)), 3},
		{r(NewInt(1), n10), -1}, // cancels the first
		{r(NewFloat(math.Copysign(0, -1))), 1},
		{r(NewFloat(0)), 1},
		{r(NewFloat(math.NaN())), 1},
		{r(NewFloat(math.NaN())), 1},
		{r(NewInt(2)), -1},
		{r(Null), 0},
	}
	got := Consolidate(us)
	want := []Update{
		{r(NewInt(1), n100), 1},
		{r(NewInt(2)), 2},
		{r(NewFloat(math.Copysign(0, -1))), 1},
		{r(NewFloat(0)), 1},
		{r(NewFloat(math.NaN())), 2},
	}
	if !slices.EqualFunc(got, want, func(a, b Update) bool { return a.W == b.W && RowsIdentical(a.Row, b.Row) }) {
		t.Errorf("Consolidate = %v, want %v", got, want)
	}
	if got := Consolidate([]Update{{r(NewInt(1)), 1}, {r(NewInt(1)), -1}}); len(got) != 0 {
		t.Errorf("Consolidate of a cancelling pair = %v", got)
	}
	// Every row hashing alike: rows are still told apart by their encoding.
	defer func(h func(maphash.Seed, []byte) uint64) { consolidateHash = h }(consolidateHash)
	consolidateHash = func(maphash.Seed, []byte) uint64 { return 42 }
	if got := Consolidate(slices.Clone(us)); !slices.EqualFunc(got, want, func(a, b Update) bool { return a.W == b.W && RowsIdentical(a.Row, b.Row) }) {
		t.Errorf("Consolidate with colliding hashes = %v, want %v", got, want)
	}
	if got := Consolidate([]Update{{r(NewInt(1)), 0}}); len(got) != 0 {
		t.Errorf("Consolidate of one zero-weight update = %v", got)
	}
	if got := Consolidate([]Update{{r(NewInt(1)), 5}}); len(got) != 1 || got[0].W != 5 {
		t.Errorf("Consolidate of one update = %v", got)
	}
	if got := Consolidate(nil); len(got) != 0 {
		t.Errorf("Consolidate(nil) = %v", got)
	}
}

func TestLSN(t *testing.T) {
	cases := []struct {
		l LSN
		s string
	}{
		{0, "0/0"},
		{0x16_B374D848, "16/B374D848"},
		{1, "0/1"},
		{1 << 32, "1/0"},
		{math.MaxUint64, "FFFFFFFF/FFFFFFFF"},
	}
	for _, c := range cases {
		if got := c.l.String(); got != c.s {
			t.Errorf("LSN(%#x).String() = %q, want %q", uint64(c.l), got, c.s)
		}
		if got, err := ParseLSN(c.s); err != nil || got != c.l {
			t.Errorf("ParseLSN(%q) = %v, %v", c.s, got, err)
		}
	}
	if got, err := ParseLSN("16/b374d848"); err != nil || got != 0x16_B374D848 {
		t.Errorf("ParseLSN lower case = %v, %v", got, err)
	}
	for _, l := range []LSN{12345, 0xdeadbeef_cafebabe, 0x00000001_00000000 - 1} {
		if got, err := ParseLSN(l.String()); err != nil || got != l {
			t.Errorf("ParseLSN(%s) = %v, %v", l, got, err)
		}
	}
	for _, s := range []string{"", "0", "/", "0/", "/0", "1/2/3", "G/0", "0/100000000", "100000000/0", "-1/0", "+1/0", "0x1/0", " 1/0"} {
		if l, err := ParseLSN(s); err == nil {
			t.Errorf("ParseLSN(%q) = %v, want an error", s, l)
		}
	}
}

// typmods as PostgreSQL 15 computes them for the declared type.
func varcharMod(n int32) int32 { return n + 4 }
func numericMod(p, s int32) int32 {
	return (p<<16 | s&0x7ff) + 4
}

func TestTypeString(t *testing.T) {
	cases := []struct {
		t    Type
		want string
	}{
		{Int2, "smallint"}, {Int4, "integer"}, {Int8, "bigint"}, {Bool, "boolean"}, {Text, "text"},
		{Float4, "real"}, {Float8, "double precision"}, {Numeric, "numeric"}, {Bytea, "bytea"},
		{Date, "date"}, {UUID, "uuid"}, {JSON, "json"}, {JSONB, "jsonb"}, {Type{OIDName, -1}, "name"},
		{Varchar, "character varying"},
		{Bpchar, "bpchar"}, // not "character", which means character(1)
		{Timestamp, "timestamp without time zone"}, {TimestampTZ, "timestamp with time zone"},
		{Type{OIDVarchar, varcharMod(10)}, "character varying(10)"},
		{Type{OIDBpchar, varcharMod(5)}, "character(5)"},
		{Type{OIDNumeric, numericMod(10, 2)}, "numeric(10,2)"},
		{Type{OIDNumeric, numericMod(10, 0)}, "numeric(10,0)"},
		{Type{OIDNumeric, numericMod(1000, 1000)}, "numeric(1000,1000)"},
		{Type{OIDNumeric, numericMod(5, -2)}, "numeric(5,-2)"},
		{Type{OIDNumeric, numericMod(3, 5)}, "numeric(3,5)"},
		{Type{OIDNumeric, numericMod(1, -1000)}, "numeric(1,-1000)"},
		{Type{OIDTimestamp, 3}, "timestamp(3) without time zone"},
		{Type{OIDTimestampTZ, 0}, "timestamp(0) with time zone"},
		{Type{OIDTimestampTZ, 6}, "timestamp(6) with time zone"},
		{Type{OID: 600, Mod: -1}, "type(oid=600)"},
	}
	for _, c := range cases {
		if got := c.t.String(); got != c.want {
			t.Errorf("Type{%d, %d}.String() = %q, want %q", c.t.OID, c.t.Mod, got, c.want)
		}
	}
	s := Schema{{"id", Int4}, {"Name", Type{OIDVarchar, varcharMod(10)}}}
	if got := s.String(); got != "(id integer, Name character varying(10))" {
		t.Errorf("Schema.String() = %q", got)
	}
	if s.Index("Name") != 1 || s.Index("name") != -1 {
		t.Errorf("Schema.Index is wrong")
	}
}

func TestQuoteIdent(t *testing.T) {
	cases := map[string]string{
		"users":          "users",
		"_x1":            "_x1",
		"a$b":            "a$b",
		"Users":          `"Users"`,
		"USERS":          `"USERS"`,
		"1abc":           `"1abc"`,
		"$a":             `"$a"`,
		"":               `""`,
		"has space":      `"has space"`,
		`say "hi"`:       `"say ""hi"""`,
		`"`:              `""""`,
		"select":         `"select"`,
		"user":           `"user"`,
		"order":          `"order"`,
		"integer":        `"integer"`,
		"timestamp":      `"timestamp"`,
		"left":           `"left"`,
		"current_schema": `"current_schema"`,
		"name":           "name", // unreserved
		"text":           "text",
		"key":            "key",
		"é":              `"é"`,
		"a-b":            `"a-b"`,
	}
	for in, want := range cases {
		if got := QuoteIdent(in); got != want {
			t.Errorf("QuoteIdent(%q) = %s, want %s", in, got, want)
		}
	}
	if got := (TableName{"public", "Order"}).String(); got != `public."Order"` {
		t.Errorf("TableName.String() = %s", got)
	}
}

func TestKindString(t *testing.T) {
	if KindNumeric.String() != "numeric" || KindJSONB.String() != "jsonb" || Kind(200).String() != "kind(200)" {
		t.Errorf("Kind.String is wrong")
	}
	for oid := range kindOf {
		ty := Type{oid, -1}
		if !ty.Supported() || ty.Kind() == KindNull {
			t.Errorf("%s: not supported", ty)
		}
	}
	if (Type{OID: 600, Mod: -1}).Supported() {
		t.Errorf("point is supported")
	}
	if Null.String() != "NULL" || NewNumeric("1.50").String() != "1.50" {
		t.Errorf("Datum.String is wrong")
	}
}
