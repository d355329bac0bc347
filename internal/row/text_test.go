package row

import (
	"errors"
	"math"
	"strconv"
	"strings"
	"testing"
)

// textCase is one ParseText input and the text FormatText must give for
// it: PostgreSQL's output for the same input under SessionSettings.
type textCase struct {
	t    Type
	in   string
	want string
}

var (
	numeric1e1000    = "1" + strings.Repeat("0", 1000)
	numericMaxScale  = "0." + strings.Repeat("0", 16382) + "1"
	numericManyDigit = strings.Repeat("9", 131072)
)

var textCases = []textCase{
	// Integers: bounds, signs, surrounding whitespace.
	{Int2, "0", "0"},
	{Int2, "32767", "32767"},
	{Int2, "-32768", "-32768"},
	{Int2, " 42 ", "42"},
	{Int2, "+7", "7"},
	{Int2, "-0", "0"},
	{Int2, "0007", "7"},
	{Int4, "2147483647", "2147483647"},
	{Int4, "-2147483648", "-2147483648"},
	{Int8, "9223372036854775807", "9223372036854775807"},
	{Int8, "-9223372036854775808", "-9223372036854775808"},

	// Numeric: specials in every spelling, display scale, exponents.
	{Numeric, "NaN", "NaN"},
	{Numeric, "nan", "NaN"},
	{Numeric, " NAN ", "NaN"},
	{Numeric, "Infinity", "Infinity"},
	{Numeric, "+infinity", "Infinity"},
	{Numeric, "inf", "Infinity"},
	{Numeric, "+Inf", "Infinity"},
	{Numeric, "-Infinity", "-Infinity"},
	{Numeric, "-inf", "-Infinity"},
	{Numeric, "0", "0"},
	{Numeric, "-0", "0"},
	{Numeric, "+0", "0"},
	{Numeric, "0.00", "0.00"},
	{Numeric, "-0.00", "0.00"},
	{Numeric, "000", "0"},
	{Numeric, "1.50", "1.50"},
	{Numeric, "1.0", "1.0"},
	{Numeric, "+1.0", "1.0"},
	{Numeric, "-12.340", "-12.340"},
	{Numeric, "007.10", "7.10"},
	{Numeric, "-007", "-7"},
	{Numeric, ".5", "0.5"},
	{Numeric, "-.5", "-0.5"},
	{Numeric, "5.", "5"},
	{Numeric, "  12  ", "12"},
	{Numeric, "1e3", "1000"},
	{Numeric, "1E+3", "1000"},
	{Numeric, "1.5E-3", "0.0015"},
	{Numeric, "1.5e-3", "0.0015"},
	{Numeric, "1.23e1", "12.3"},
	{Numeric, "1.50e1", "15.0"},
	{Numeric, "12.5e-1", "1.25"},
	{Numeric, "-1e-2", "-0.01"},
	{Numeric, "0e5", "0"},
	{Numeric, "0.00e-2", "0.0000"},
	{Numeric, "-0e-3", "0.000"},
	{Numeric, ".5e1", "5"},
	{Numeric, "0.000123e2", "0.0123"},
	{Numeric, "123456789012345678901234567890.123456789012345678901234567890", "123456789012345678901234567890.123456789012345678901234567890"},
	{Numeric, "-0.000000000000000000000000000001", "-0.000000000000000000000000000001"},
	{Numeric, "1e1000", numeric1e1000},
	{Numeric, "1e-1000", "0." + strings.Repeat("0", 999) + "1"},
	{Numeric, numericMaxScale, numericMaxScale},
	{Numeric, numericManyDigit, numericManyDigit},

	// float8: shortest text that reads back, exponent outside [-4, 15).
	{Float8, "0", "0"},
	{Float8, "-0", "-0"},
	{Float8, "0.1", "0.1"},
	{Float8, "0.30000000000000004", "0.30000000000000004"}, // 0.1 + 0.2
	{Float8, "1e15", "1e+15"},
	{Float8, "1e14", "100000000000000"},
	{Float8, "123456789012345", "123456789012345"},
	{Float8, "1234567890123456", "1.234567890123456e+15"},
	{Float8, "1e-5", "1e-05"},
	{Float8, "0.0001", "0.0001"},
	{Float8, "0.00001234", "1.234e-05"},
	{Float8, "1.5", "1.5"},
	{Float8, "-2.5e100", "-2.5e+100"},
	{Float8, "1.7976931348623157e308", "1.7976931348623157e+308"},
	{Float8, "2.2250738585072014e-308", "2.2250738585072014e-308"}, // smallest normal
	{Float8, "2.225073858507201e-308", "2.225073858507201e-308"},   // largest subnormal
	{Float8, "4.9e-324", "5e-324"},                                 // smallest subnormal
	{Float8, "NaN", "NaN"},
	{Float8, "nan", "NaN"},
	{Float8, "Infinity", "Infinity"},
	{Float8, "inf", "Infinity"},
	{Float8, "+Infinity", "Infinity"},
	{Float8, "-Infinity", "-Infinity"},
	{Float8, "-inf", "-Infinity"},
	{Float8, " 3 ", "3"},
	{Float8, "100", "100"},
	// Go's shortest digits for these lie exactly on a rounding boundary,
	// which Ryu (PostgreSQL) never picks.
	{Float8, "1e23", "9.999999999999999e+22"},
	{Float8, "9.999999999999999e+22", "9.999999999999999e+22"},
	{Float8, "5e-324", "5e-324"},

	// float4: shortest float4 text, exponent outside [-4, 6).
	{Float4, "0.1", "0.1"},
	{Float4, "-0", "-0"},
	{Float4, "123456", "123456"},
	{Float4, "1234567", "1.234567e+06"},
	{Float4, "16777217", "1.6777216e+07"},
	{Float4, "3.4028235e38", "3.4028235e+38"},
	{Float4, "1.1754944e-38", "1.1754944e-38"},
	{Float4, "1.4e-45", "1e-45"},
	{Float4, "0.0001", "0.0001"},
	{Float4, "0.00001", "1e-05"},
	{Float4, "3.14159265358979", "3.1415927"},
	{Float4, "104038544", "1.04038544e+08"},
	{Float4, "1.0403854e+08", "1.04038544e+08"},
	{Float4, "NaN", "NaN"},
	{Float4, "Infinity", "Infinity"},
	{Float4, "-Infinity", "-Infinity"},

	// bool: every spelling boolin takes.
	{Bool, "t", "t"},
	{Bool, "true", "t"},
	{Bool, "TRUE", "t"},
	{Bool, "tr", "t"},
	{Bool, "yes", "t"},
	{Bool, "y", "t"},
	{Bool, "on", "t"},
	{Bool, "1", "t"},
	{Bool, " t ", "t"},
	{Bool, "f", "f"},
	{Bool, "false", "f"},
	{Bool, "False", "f"},
	{Bool, "fal", "f"},
	{Bool, "no", "f"},
	{Bool, "n", "f"},
	{Bool, "off", "f"},
	{Bool, "of", "f"},
	{Bool, "0", "f"},

	// bytea: hex (any case, whitespace between pairs) and escape input.
	{Bytea, `\x`, `\x`},
	{Bytea, `\xdeadbeef`, `\xdeadbeef`},
	{Bytea, `\xDEADbeef`, `\xdeadbeef`},
	{Bytea, `\x de ad`, `\xdead`},
	{Bytea, ``, `\x`},
	{Bytea, `abc`, `\x616263`},
	{Bytea, `a\\b`, `\x615c62`},
	{Bytea, `\000\377`, `\x00ff`},
	{Bytea, `\101\102C`, `\x414243`},

	// date: BC, five-digit years, infinities, leap days, range ends.
	{Date, "2000-01-01", "2000-01-01"},
	{Date, "2000-1-1", "2000-01-01"},
	{Date, "1999-12-31", "1999-12-31"},
	{Date, "2024-02-29", "2024-02-29"},
	{Date, "2000-02-29", "2000-02-29"},
	{Date, "1900-02-28", "1900-02-28"},
	{Date, "1970-01-01", "1970-01-01"},
	{Date, "epoch", "1970-01-01"},
	{Date, "0001-01-01", "0001-01-01"},
	{Date, "0001-12-31 BC", "0001-12-31 BC"},
	{Date, "0001-01-01 BC", "0001-01-01 BC"},
	{Date, "0044-03-15 BC", "0044-03-15 BC"},
	{Date, "0005-02-29 BC", "0005-02-29 BC"}, // 5 BC is astronomical year -4, a leap year
	{Date, "0001-02-29 BC", "0001-02-29 BC"}, // 1 BC is year 0, a leap year
	{Date, "4714-11-24 BC", "4714-11-24 BC"}, // first day PostgreSQL takes
	{Date, "9999-12-31", "9999-12-31"},
	{Date, "10000-01-01", "10000-01-01"},
	{Date, "5874897-12-31", "5874897-12-31"}, // last day PostgreSQL takes
	{Date, "infinity", "infinity"},
	{Date, "-infinity", "-infinity"},
	{Date, "Infinity", "infinity"},
	{Date, "2000-01-01 AD", "2000-01-01"},

	// timestamp: fractions, ignored zones, BC, infinities.
	{Timestamp, "2000-01-01 00:00:00", "2000-01-01 00:00:00"},
	{Timestamp, "2000-01-01T12:34:56", "2000-01-01 12:34:56"},
	{Timestamp, "2000-01-01", "2000-01-01 00:00:00"},
	{Timestamp, "2000-01-01 12:34", "2000-01-01 12:34:00"},
	{Timestamp, "2000-01-01 12:34:56.789", "2000-01-01 12:34:56.789"},
	{Timestamp, "2000-01-01 12:34:56.000001", "2000-01-01 12:34:56.000001"},
	{Timestamp, "2000-01-01 12:34:56.100000", "2000-01-01 12:34:56.1"},
	{Timestamp, "2000-01-01 12:34:56.12345678", "2000-01-01 12:34:56.123457"},
	{Timestamp, "1999-12-31 23:59:59.9999999", "2000-01-01 00:00:00"},
	{Timestamp, "2000-01-01 24:00:00", "2000-01-02 00:00:00"},
	{Timestamp, "2000-01-01 23:59:60", "2000-01-02 00:00:00"},
	{Timestamp, "2000-01-01 00:00:00+05:30", "2000-01-01 00:00:00"},
	{Timestamp, "1969-07-20 20:17:40", "1969-07-20 20:17:40"},
	{Timestamp, "1900-01-01 00:00:00.5", "1900-01-01 00:00:00.5"},
	{Timestamp, "0001-01-01 00:00:00 BC", "0001-01-01 00:00:00 BC"},
	{Timestamp, "0044-03-15 12:00:00.25 BC", "0044-03-15 12:00:00.25 BC"},
	{Timestamp, "4714-11-24 00:00:00 BC", "4714-11-24 00:00:00 BC"},
	{Timestamp, "10000-01-01 00:00:00", "10000-01-01 00:00:00"},
	{Timestamp, "294276-12-31 23:59:59.999999", "294276-12-31 23:59:59.999999"},
	{Timestamp, "epoch", "1970-01-01 00:00:00"},
	{Timestamp, "infinity", "infinity"},
	{Timestamp, "-infinity", "-infinity"},

	// timestamptz: offsets in every form, shown in UTC.
	{TimestampTZ, "2000-01-01 00:00:00+00", "2000-01-01 00:00:00+00"},
	{TimestampTZ, "2000-01-01 00:00:00", "2000-01-01 00:00:00+00"},
	{TimestampTZ, "2000-01-01 00:00:00Z", "2000-01-01 00:00:00+00"},
	{TimestampTZ, "2000-01-01 05:30:00+05:30", "2000-01-01 00:00:00+00"},
	{TimestampTZ, "2000-01-01 00:00:00+0530", "1999-12-31 18:30:00+00"},
	{TimestampTZ, "2000-01-01 00:00:00-03", "2000-01-01 03:00:00+00"},
	{TimestampTZ, "2000-01-01 00:00:00-3", "2000-01-01 03:00:00+00"},
	{TimestampTZ, "2000-01-01 00:00:00.5-03:00", "2000-01-01 03:00:00.5+00"},
	{TimestampTZ, "2000-01-01 00:00:00+01:02:03", "1999-12-31 22:57:57+00"},
	{TimestampTZ, "2000-01-01 00:00:00-15:59:59", "2000-01-01 15:59:59+00"},
	{TimestampTZ, "2000-01-01T12:00:00.123456+14", "1999-12-31 22:00:00.123456+00"},
	{TimestampTZ, "2000-01-01 00:00:00.25+00", "2000-01-01 00:00:00.25+00"},
	{TimestampTZ, "0001-01-01 00:00:00+00 BC", "0001-01-01 00:00:00+00 BC"},
	{TimestampTZ, "0001-01-01 01:00:00+01 BC", "0001-01-01 00:00:00+00 BC"},
	{TimestampTZ, "0001-01-01 00:30:00+01", "0001-12-31 23:30:00+00 BC"},
	{TimestampTZ, "12345-06-07 08:09:10+00", "12345-06-07 08:09:10+00"},
	{TimestampTZ, "infinity", "infinity"},
	{TimestampTZ, "-infinity", "-infinity"},

	// uuid: any case, braces, no hyphens.
	{UUID, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"},
	{UUID, "A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"},
	{UUID, "{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"},
	{UUID, "a0eebc999c0b4ef8bb6d6bb9bd380a11", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"},
	{UUID, "00000000-0000-0000-0000-000000000000", "00000000-0000-0000-0000-000000000000"},
	{UUID, "ffffffff-ffff-ffff-ffff-ffffffffffff", "ffffffff-ffff-ffff-ffff-ffffffffffff"},

	// json keeps its text verbatim; jsonb text is taken as already canonical.
	{JSON, ` {"b": 1,  "a": [1, 2.50]} `, ` {"b": 1,  "a": [1, 2.50]} `},
	{JSON, `"x"`, `"x"`},
	{JSONB, `{"a": 1, "b": [true, null]}`, `{"a": 1, "b": [true, null]}`},

	// Character types are verbatim, spaces and all.
	{Text, "", ""},
	{Text, "  hello world  ", "  hello world  "},
	{Text, "héllo, 世界 🎉", "héllo, 世界 🎉"},
	{Text, `back\slash "quote" 'tick'`, `back\slash "quote" 'tick'`},
	{Varchar, "abc ", "abc "},
	{Bpchar, "ab   ", "ab   "},
	{Type{OIDName, -1}, "pg_class", "pg_class"},
	{Unknown, "?", "?"},
}

func TestParseFormatText(t *testing.T) {
	for _, c := range textCases {
		d, err := ParseText(c.t, c.in)
		if err != nil {
			t.Errorf("ParseText(%s, %q): %v", c.t, short(c.in), err)
			continue
		}
		if d.Kind() != c.t.Kind() {
			t.Errorf("ParseText(%s, %q).Kind() = %v, want %v", c.t, short(c.in), d.Kind(), c.t.Kind())
		}
		got := FormatText(d)
		if got != c.want {
			t.Errorf("FormatText(ParseText(%s, %q)) = %q, want %q", c.t, short(c.in), short(got), short(c.want))
			continue
		}
		// The output is a fixed point: it parses to an identical datum.
		d2, err := ParseText(c.t, got)
		if err != nil {
			t.Errorf("ParseText(%s, %q) of its own output: %v", c.t, short(got), err)
			continue
		}
		if !Identical(d, d2) {
			t.Errorf("%s %q: reparsed %q is not identical (%#v vs %#v)", c.t, short(c.in), short(got), d, d2)
		}
		if FormatText(d2) != got {
			t.Errorf("%s %q: output is not a fixed point: %q then %q", c.t, short(c.in), short(got), short(FormatText(d2)))
		}
	}
}

func short(s string) string {
	if len(s) > 80 {
		return s[:40] + "..." + s[len(s)-20:]
	}
	return s
}

func TestParseTextValues(t *testing.T) {
	// Decoded values, not just their text.
	check := func(name string, got, want Datum) {
		t.Helper()
		if !Identical(got, want) {
			t.Errorf("%s: got %#v, want %#v", name, got, want)
		}
	}
	mustParse := func(ty Type, s string) Datum {
		t.Helper()
		d, err := ParseText(ty, s)
		if err != nil {
			t.Fatalf("ParseText(%s, %q): %v", ty, s, err)
		}
		return d
	}
	check("int8 max", mustParse(Int8, "9223372036854775807"), NewInt(math.MaxInt64))
	check("float8 -0", mustParse(Float8, "-0"), NewFloat(math.Copysign(0, -1)))
	check("float4 0.1", mustParse(Float4, "0.1"), NewFloat4(0.1))
	check("float8 0.1+0.2", mustParse(Float8, "0.30000000000000004"), NewFloat(pointOne+pointTwo))
	check("float8 NaN", mustParse(Float8, "NaN"), NewFloat(math.NaN()))
	check("float4 NaN", mustParse(Float4, "NaN"), NewFloat4(float32(math.NaN())))
	check("date epoch", mustParse(Date, "2000-01-01"), NewDate(0))
	check("date 1970", mustParse(Date, "1970-01-01"), NewDate(-10957))
	check("date inf", mustParse(Date, "infinity"), NewDate(PosInfinity))
	check("date -inf", mustParse(Date, "-infinity"), NewDate(NegInfinity))
	check("ts", mustParse(Timestamp, "2000-01-02 00:00:01.5"), NewTimestamp(86400_000_000+1_500_000))
	check("tstz", mustParse(TimestampTZ, "2000-01-01 00:00:00-01"), NewTimestampTZ(3600_000_000))
	check("bytea", mustParse(Bytea, `\x00ff`), NewBytes([]byte{0, 255}))
	check("uuid", mustParse(UUID, "00010203-0405-0607-0809-0a0b0c0d0e0f"), NewUUID([16]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}))
	check("numeric", mustParse(Numeric, "1.50"), NewNumeric("1.50"))
	if d := mustParse(Float4, "1"); !d.IsFloat4() {
		t.Errorf("float4 datum does not report IsFloat4")
	}
	if d := mustParse(Float8, "1"); d.IsFloat4() {
		t.Errorf("float8 datum reports IsFloat4")
	}
}

func TestParseTextInvalid(t *testing.T) {
	cases := []struct {
		t  Type
		in string
	}{
		{Int2, "32768"}, {Int2, "-32769"}, {Int4, "2147483648"}, {Int4, "-2147483649"},
		{Int8, "9223372036854775808"}, {Int8, "-9223372036854775809"},
		{Int4, ""}, {Int4, "1.5"}, {Int4, "1e3"}, {Int4, "abc"}, {Int4, "1 2"}, {Int4, "0x10"}, {Int4, "1_000"},

		{Numeric, ""}, {Numeric, " "}, {Numeric, "abc"}, {Numeric, "."}, {Numeric, "-"}, {Numeric, "+"},
		{Numeric, "+-1"}, {Numeric, "--1"}, {Numeric, "1/2"}, {Numeric, "0x10"}, {Numeric, "1..2"},
		{Numeric, "1.2.3"}, {Numeric, "1 2"}, {Numeric, "e5"}, {Numeric, "1e"}, {Numeric, "1e+"},
		{Numeric, "1e5.5"}, {Numeric, "1e1001"}, {Numeric, "1e-1001"}, {Numeric, "1e99999999999999999999"},
		{Numeric, "1-"}, {Numeric, "NaNa"}, {Numeric, "-NaN"}, {Numeric, "1_000"}, {Numeric, "١"},
		{Numeric, "0." + strings.Repeat("0", 16383) + "1"}, // display scale over 16383
		{Numeric, "1" + strings.Repeat("0", 131072)},       // too many digits before the point

		{Float8, ""}, {Float8, "abc"}, {Float8, "1e309"}, {Float8, "-1e309"}, {Float8, "1e-400"},
		{Float8, "1.5.5"}, {Float8, "1,5"},
		{Float4, "1e39"}, {Float4, "-3.5e38"}, {Float4, "1e-50"}, {Float4, "x"},

		{Bool, ""}, {Bool, "o"}, {Bool, "maybe"}, {Bool, "2"}, {Bool, "truex"}, {Bool, "tru e"},
		{Bool, "yess"}, {Bool, "onn"}, {Bool, "offf"}, {Bool, "10"},

		{Bytea, `\x0`}, {Bytea, `\xzz`}, {Bytea, `\x0g`}, {Bytea, `\400`}, {Bytea, `\1`}, {Bytea, `a\b`},
		{Bytea, `\`}, {Bytea, `\12`},

		{Date, ""}, {Date, "x"}, {Date, "2000/01/01"}, {Date, "2023-02-29"}, {Date, "1900-02-29"},
		{Date, "2000-04-31"}, {Date, "2000-13-01"}, {Date, "2000-00-10"}, {Date, "2000-01-00"},
		{Date, "0000-01-01"}, {Date, "4714-11-23 BC"}, {Date, "5874898-01-01"}, {Date, "99999999999-01-01"},
		{Date, "2000-01-01-01"}, {Date, "-2000-01-01"}, {Date, "+2000-01-01"}, {Date, "0004-02-29 BC"}, {Date, "+infinity"}, {Timestamp, "+infinity"},

		{Timestamp, ""}, {Timestamp, "2000-01-01 25:00:00"}, {Timestamp, "2000-01-01 24:00:01"},
		{Timestamp, "2000-01-01 12:60:00"}, {Timestamp, "2000-01-01 12:00:61"}, {Timestamp, "2000-02-30 00:00:00"},
		{Timestamp, "294277-01-01 00:00:00"}, {Timestamp, "4714-11-23 23:59:59 BC"},
		{Timestamp, "2000-01-01 12"}, {Timestamp, "2000-01-01 1:2:3:4"}, {Timestamp, "2000-01-01 00:00:00.x"},
		{Timestamp, "2000-01-01 00:00:00+16"}, {Timestamp, "5874897-12-31 00:00:00"},
		{TimestampTZ, "2000-01-01 00:00:00+"}, {TimestampTZ, "2000-01-01 00:00:00+16"},
		{TimestampTZ, "2000-01-01 00:00:00+05:60"}, {TimestampTZ, "2000-01-01 00:00:00+1:2:3:4"},
		{TimestampTZ, "2000-01-01 00:00:00+ab"}, {TimestampTZ, "4714-11-24 00:00:00+01 BC"},
		{TimestampTZ, "294276-12-31 23:59:59-01"},

		{UUID, ""}, {UUID, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a1"}, {UUID, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a111"},
		{UUID, "g0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"},

		{Type{OID: 600, Mod: -1}, "(1,2)"}, // point: not supported
	}
	for _, c := range cases {
		d, err := ParseText(c.t, c.in)
		if err == nil {
			t.Errorf("ParseText(%s, %q) = %q, want an error", c.t, short(c.in), short(FormatText(d)))
			continue
		}
		var pe *ParseError
		if !errors.As(err, &pe) {
			t.Errorf("ParseText(%s, %q): error %T is not a *ParseError", c.t, short(c.in), err)
			continue
		}
		if pe.Type != c.t || pe.Text != c.in || !d.IsNull() {
			t.Errorf("ParseText(%s, %q): ParseError %+v / datum %v", c.t, short(c.in), pe, d)
		}
		if msg := err.Error(); !strings.Contains(msg, c.t.String()) || len(msg) > 300 {
			t.Errorf("ParseText(%s, %q): message %q", c.t, short(c.in), short(msg))
		}
	}
}

// Variables, not constants: Go folds constant 0.1+0.2 exactly to 0.3.
var pointOne, pointTwo = 0.1, 0.2

func TestFormatFloat(t *testing.T) {
	cases := []struct {
		f    float64
		f4   bool
		want string
	}{
		{pointOne + pointTwo, false, "0.30000000000000004"},
		{1e15, false, "1e+15"},
		{1e-5, false, "1e-05"},
		{123456789012345, false, "123456789012345"},
		{float64(float32(1234567)), true, "1.234567e+06"},
		{float64(float32(123456)), true, "123456"},
		{math.Copysign(0, -1), false, "-0"},
		{math.Copysign(0, -1), true, "-0"},
		{math.NaN(), false, "NaN"},
		{math.Inf(1), true, "Infinity"},
		{math.Inf(-1), false, "-Infinity"},
		{5e-324, false, "5e-324"},
		{math.SmallestNonzeroFloat32, true, "1e-45"},
		{math.MaxFloat64, false, "1.7976931348623157e+308"},
		{math.MaxFloat32, true, "3.4028235e+38"},
		{float64(float32(0.1)), false, "0.10000000149011612"},
		{1e-4, false, "0.0001"},
		{-1.5e-4, true, "-0.00015"},
		{1e100, false, "1e+100"},
		{1e-100, false, "1e-100"},
	}
	for _, c := range cases {
		if got := FormatFloat(c.f, c.f4); got != c.want {
			t.Errorf("FormatFloat(%v, %v) = %q, want %q", c.f, c.f4, got, c.want)
		}
	}
}

func TestCivilDays(t *testing.T) {
	cases := []struct {
		y    int64
		m, d int
		days int64
	}{
		{2000, 1, 1, 0},
		{1970, 1, 1, -10957},
		{2000, 3, 1, 60},
		{1999, 12, 31, -1},
		{0, 12, 31, -730120}, // 1 BC
		{1, 1, 1, -730119},
		{-4713, 11, 24, -2451545},   // Julian day 0
		{5874898, 1, 1, 2145031949}, // DATE_END_JULIAN
		{294277, 1, 1, 106751983},   // TIMESTAMP_END_JULIAN
	}
	for _, c := range cases {
		if got := DaysFromCivil(c.y, c.m, c.d); got != c.days {
			t.Errorf("DaysFromCivil(%d, %d, %d) = %d, want %d", c.y, c.m, c.d, got, c.days)
		}
		if y, m, d := CivilFromDays(c.days); y != c.y || m != c.m || d != c.d {
			t.Errorf("CivilFromDays(%d) = %d-%d-%d, want %d-%d-%d", c.days, y, m, d, c.y, c.m, c.d)
		}
	}
	// Every day across several 400-year cycles, both sides of year 0.
	prevY, prevM, prevD := CivilFromDays(-1_000_000 - 1)
	for days := int64(-1_000_000); days <= 1_000_000; days++ {
		y, m, d := CivilFromDays(days)
		if DaysFromCivil(y, m, d) != days {
			t.Fatalf("DaysFromCivil(CivilFromDays(%d)) != %d", days, days)
		}
		if m < 1 || m > 12 || d < 1 || d > daysInMonth(y, m) {
			t.Fatalf("CivilFromDays(%d) = %d-%d-%d: not a date", days, y, m, d)
		}
		// Consecutive days are consecutive dates.
		switch {
		case d == prevD+1 && m == prevM && y == prevY:
		case d == 1 && prevD == daysInMonth(prevY, prevM) && (m == prevM+1 && y == prevY || m == 1 && prevM == 12 && y == prevY+1):
		default:
			t.Fatalf("day %d is %d-%d-%d after %d-%d-%d", days, y, m, d, prevY, prevM, prevD)
		}
		prevY, prevM, prevD = y, m, d
	}
}

// TestMidpointFilter checks that the cheap filter in front of the exact
// rounding-boundary test never rejects a real boundary.
func TestMidpointFilter(t *testing.T) {
	boundaries := 0
	for _, f4 := range []bool{false, true} {
		bits, maxP := 64, 16
		if f4 {
			bits, maxP = 32, 8
		}
		for k := 1; k < 700; k++ {
			for n := -60; n <= 60; n += 4 {
				f := float64(k) * math.Pow10(n)
				if f4 {
					f = float64(float32(f))
				}
				if f == 0 || math.IsInf(f, 0) {
					continue
				}
				for p := -1; p <= maxP; p++ {
					s := strconv.FormatFloat(f, 'e', p, bits)
					if exactMidpoint(f, f4, s) {
						boundaries++
						if !mayBeMidpoint(f, f4, s) {
							t.Fatalf("mayBeMidpoint(%v, %v, %q) = false on a boundary", f, f4, s)
						}
					}
				}
			}
		}
	}
	if boundaries == 0 {
		t.Fatalf("no boundary cases exercised")
	}
	t.Logf("%d boundary cases", boundaries)
}
