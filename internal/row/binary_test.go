package row

import (
	"math"
	"reflect"
	"testing"
)

// TestBinaryDatumFields fails when Datum gains a field: AppendBinary must
// then learn to store it, or state on disk would silently lose it.
func TestBinaryDatumFields(t *testing.T) {
	var names []string
	typ := reflect.TypeOf(Datum{})
	for i := range typ.NumField() {
		names = append(names, typ.Field(i).Name)
	}
	if !reflect.DeepEqual(names, []string{"kind", "i", "f", "s"}) {
		t.Fatalf("Datum fields are %v: teach AppendBinary/DecodeBinary the new ones", names)
	}
}

func TestBinaryRoundTrip(t *testing.T) {
	f4 := Datum{kind: KindFloat, i: 4, f: float64(float32(1.5))}
	rows := []Row{
		{},
		{Null, NewBool(true), NewBool(false), NewInt(0), NewInt(-1), NewInt(math.MinInt64), NewInt(math.MaxInt64)},
		{NewFloat(0), NewFloat(math.Copysign(0, -1)), NewFloat(math.NaN()), NewFloat(math.Inf(-1)), f4},
		{NewNumeric("1.500"), NewNumeric("-0.00"), NewNumeric("NaN"), NewText(""), NewText("a\x00b\n"), NewBytes([]byte{0, 1, 255})},
		{NewInterval(IntervalValue{Months: -14, Days: 3, Micros: 1}), NewInterval(IntervalValue{}), NewEnum("b", 1.5), NewArray([]Datum{NewInt(1), Null, NewInt(3)})},
		{NewDate(PosInfinity), NewTimestamp(NegInfinity), NewTimestampTZ(123), NewUUID([16]byte{1, 2, 3}), NewJSON(`{"a": 1}`), NewJSONB(`{"a": 1}`)},
	}
	var buf []byte
	for _, r := range rows {
		buf = AppendBinary(buf, r)
	}
	rest := buf
	for i, want := range rows {
		got, next, err := DecodeBinary(rest)
		if err != nil {
			t.Fatalf("row %d: %v", i, err)
		}
		if !RowsIdentical(got, want) {
			t.Fatalf("row %d: got %v, want %v", i, got, want)
		}
		rest = next
	}
	if len(rest) != 0 {
		t.Fatalf("%d bytes left over", len(rest))
	}
	// Every truncation is an error, never a panic or a short row.
	one := AppendBinary(nil, rows[3])
	for n := range len(one) {
		if _, _, err := DecodeBinary(one[:n]); err == nil {
			t.Fatalf("decoding %d of %d bytes succeeded", n, len(one))
		}
	}
}

func FuzzDecodeBinary(f *testing.F) {
	f.Add(AppendBinary(nil, Row{NewInt(1), NewText("x"), Null}))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, _, err := DecodeBinary(b)
		if err != nil {
			return
		}
		again, _, err := DecodeBinary(AppendBinary(nil, r))
		if err != nil || !RowsIdentical(r, again) {
			t.Fatalf("round trip of %v: %v %v", r, again, err)
		}
	})
}

// TestBinaryIsIdentity: two rows encode alike exactly when they are
// Identical, which arrangements rely on when they key rows by encoding.
func TestBinaryIsIdentity(t *testing.T) {
	nan2 := NewFloat(math.Float64frombits(0x7ff8000000000abc))
	ds := []Datum{Null, NewBool(true), NewBool(false), NewInt(0), NewInt(1), NewFloat(0), NewFloat(math.Copysign(0, -1)),
		NewFloat(math.NaN()), nan2, {kind: KindFloat, i: 4, f: 1.5}, NewFloat(1.5), NewNumeric("1.5"), NewNumeric("1.50"),
		NewText(""), NewText("1.5"), NewBytes([]byte("1.5")), NewDate(0), NewTimestamp(0), NewTimestampTZ(0),
		NewInterval(IntervalValue{Days: 1}), NewInterval(IntervalValue{Micros: 86400e6}), NewEnum("b", 1.5), NewEnum("b", 2),
		NewArray([]Datum{NewInt(1)}), NewJSON("{}"), NewJSONB("{}")}
	for _, a := range ds {
		for _, b := range ds {
			ra, rb := Row{a, NewInt(7)}, Row{b, NewInt(7)}
			same := string(AppendBinary(nil, ra)) == string(AppendBinary(nil, rb))
			if same != RowsIdentical(ra, rb) {
				t.Errorf("%v vs %v: encodings equal %v, Identical %v", a, b, same, !same)
			}
		}
	}
}

func TestDecodeBinaryString(t *testing.T) {
	r := Row{NewText("abc"), NewInt(-5), Null, NewNumeric("2.50")}
	s := string(AppendBinary(nil, r)) + "tail"
	got, rest, err := DecodeBinaryString(s)
	if err != nil || rest != "tail" || !RowsIdentical(got, r) {
		t.Fatalf("got %v rest %q err %v", got, rest, err)
	}
}
