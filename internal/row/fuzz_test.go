package row

import (
	"testing"
)

// fuzzTypes are the supported types FuzzParseText draws from.
var fuzzTypes = []Type{
	Bool, Bytea, {OIDName, -1}, Int8, Int2, Int4, Text, JSON, Float4, Float8, Unknown,
	Bpchar, Varchar, Date, Timestamp, TimestampTZ, Numeric, UUID, JSONB,
}

// FuzzParseText checks that ParseText never panics and that whatever it
// accepts round-trips: FormatText then ParseText gives an identical datum,
// and that datum formats to the same text again.
func FuzzParseText(f *testing.F) {
	for _, c := range textCases {
		if len(c.in) < 200 {
			f.Add(uint32(c.t.OID), c.in)
		}
	}
	f.Fuzz(func(t *testing.T, oid uint32, s string) {
		ty := fuzzTypes[oid%uint32(len(fuzzTypes))]
		d, err := ParseText(ty, s)
		if err != nil {
			if _, ok := err.(*ParseError); !ok {
				t.Fatalf("ParseText(%s, %q): error %T is not a *ParseError", ty, s, err)
			}
			if !d.IsNull() {
				t.Fatalf("ParseText(%s, %q): non-NULL datum with an error", ty, s)
			}
			return
		}
		if d.Kind() != ty.Kind() {
			t.Fatalf("ParseText(%s, %q): kind %v", ty, s, d.Kind())
		}
		out := FormatText(d)
		d2, err := ParseText(ty, out)
		if err != nil {
			t.Fatalf("ParseText(%s, %q) = %q, which does not parse: %v", ty, s, out, err)
		}
		if !Identical(d, d2) {
			t.Fatalf("ParseText(%s, %q) = %#v formats as %q, which parses to %#v", ty, s, d, out, d2)
		}
		if out2 := FormatText(d2); out2 != out {
			t.Fatalf("ParseText(%s, %q): %q formats again as %q", ty, s, out, out2)
		}
		if Compare(d, d2) != 0 || !Equal(d, d2) || string(AppendKey(nil, d)) != string(AppendKey(nil, d2)) ||
			string(AppendExact(nil, d)) != string(AppendExact(nil, d2)) {
			t.Fatalf("ParseText(%s, %q): reparsed datum compares or encodes differently", ty, s)
		}
	})
}
