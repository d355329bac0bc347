package row

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"math"
	"math/big"
	"strings"
)

// Datum is one SQL value. The zero Datum is NULL. Datums are small values
// and are passed and stored by value; the string payload is immutable.
type Datum struct {
	kind Kind
	i    int64
	f    float64
	s    string
}

// Null is SQL NULL.
var Null = Datum{}

// Constructors, one per kind.
func NewBool(b bool) Datum {
	if b {
		return Datum{kind: KindBool, i: 1}
	}
	return Datum{kind: KindBool}
}
func NewInt(i int64) Datum         { return Datum{kind: KindInt, i: i} }
func NewFloat(f float64) Datum     { return Datum{kind: KindFloat, f: f} }
func NewNumeric(text string) Datum { return Datum{kind: KindNumeric, s: text} }
func NewText(s string) Datum       { return Datum{kind: KindText, s: s} }
func NewBytes(b []byte) Datum      { return Datum{kind: KindBytes, s: string(b)} }
func NewDate(days int64) Datum     { return Datum{kind: KindDate, i: days} }
func NewTimestamp(us int64) Datum  { return Datum{kind: KindTimestamp, i: us} }
func NewTimestampTZ(us int64) Datum {
	return Datum{kind: KindTimestampTZ, i: us}
}
func NewUUID(b [16]byte) Datum { return Datum{kind: KindUUID, s: string(b[:])} }
func NewJSON(s string) Datum   { return Datum{kind: KindJSON, s: s} }
func NewJSONB(s string) Datum  { return Datum{kind: KindJSONB, s: s} }

// Accessors. Each is meaningful only for the kinds its doc names.
func (d Datum) Kind() Kind     { return d.kind }
func (d Datum) IsNull() bool   { return d.kind == KindNull }
func (d Datum) Bool() bool     { return d.i != 0 } // KindBool
func (d Datum) Int() int64     { return d.i }      // KindInt, KindDate, KindTimestamp, KindTimestampTZ
func (d Datum) Float() float64 { return d.f }      // KindFloat
func (d Datum) Str() string    { return d.s }      // KindNumeric, KindText, KindBytes, KindUUID, KindJSON, KindJSONB
func (d Datum) String() string {
	if d.IsNull() {
		return "NULL"
	}
	return FormatText(d)
}

// Infinity markers for dates and timestamps, as PostgreSQL stores them.
const (
	PosInfinity int64 = math.MaxInt64
	NegInfinity int64 = math.MinInt64
)

// Row is a tuple of Datums in schema order. Rows are treated as immutable
// once built: operators share them between batches and arrangements.
type Row []Datum

// Compare orders two values of the same SQL type the way PostgreSQL's
// default btree operator class does, with NULL sorting after every value
// (ORDER BY ... ASC NULLS LAST). Text compares bytewise, which is
// PostgreSQL's order under the "C" collation; the planner refuses text
// ordering under other collations. Float NaN sorts above every number and
// equals itself; -0 equals 0. Numerics compare by value (1.0 = 1.00).
func Compare(a, b Datum) int {
	if a.kind == KindNull || b.kind == KindNull {
		switch {
		case a.kind == b.kind:
			return 0
		case a.kind == KindNull:
			return 1
		default:
			return -1
		}
	}
	switch a.kind {
	case KindBool, KindInt, KindDate, KindTimestamp, KindTimestampTZ:
		return cmp.Compare(a.i, b.i)
	case KindFloat:
		return CompareFloat(a.f, b.f)
	case KindNumeric:
		return CompareNumeric(a.s, b.s)
	case KindInterval:
		return CompareInterval(a.Interval(), b.Interval())
	case KindEnum:
		return compareEnum(a, b)
	default:
		return strings.Compare(a.s, b.s)
	}
}

// CompareFloat orders floats as PostgreSQL does: NaN above every number
// and equal to itself, -0 equal to 0.
func CompareFloat(x, y float64) int {
	xn, yn := math.IsNaN(x), math.IsNaN(y)
	switch {
	case xn && yn:
		return 0
	case xn:
		return 1
	case yn:
		return -1
	case x < y:
		return -1
	case x > y:
		return 1
	}
	return 0
}

// Equal reports whether a and b are equal as SQL values with NULL equal to
// NULL (IS NOT DISTINCT FROM): the equality GROUP BY, DISTINCT and UNION use.
func Equal(a, b Datum) bool {
	if a.kind != b.kind {
		return false
	}
	return Compare(a, b) == 0
}

// CompareRows compares rows column by column with Compare.
func CompareRows(a, b Row) int {
	for i := range min(len(a), len(b)) {
		if c := Compare(a[i], b[i]); c != 0 {
			return c
		}
	}
	return cmp.Compare(len(a), len(b))
}

// numericRat parses numeric text into a rational; specials are reported
// through the second result: -1 for -Infinity, +1 for Infinity, +2 for NaN.
func numericRat(s string) (*big.Rat, int) {
	switch s {
	case "NaN":
		return nil, 2
	case "Infinity":
		return nil, 1
	case "-Infinity":
		return nil, -1
	}
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		return new(big.Rat), 0
	}
	return r, 0
}

// CompareNumeric compares two numerics in PostgreSQL's text form:
// -Infinity < numbers < Infinity < NaN.
func CompareNumeric(a, b string) int {
	if a == b {
		return 0
	}
	ra, sa := numericRat(a)
	rb, sb := numericRat(b)
	if sa != 0 || sb != 0 {
		return cmp.Compare(sa, sb)
	}
	return ra.Cmp(rb)
}

// CanonicalNumeric strips a numeric's display scale so that equal values
// have equal text ("1.500" → "1.5", "-0.00" → "0"). It is the form used in
// keys, never for output.
func CanonicalNumeric(s string) string {
	if strings.IndexByte(s, '.') >= 0 && !strings.ContainsAny(s, "eE") {
		s = strings.TrimRight(s, "0")
		s = strings.TrimSuffix(s, ".")
	}
	if s == "-0" || s == "" {
		return "0"
	}
	return s
}

// Key-encoding tags. The encoding is injective: two rows encode to the same
// bytes exactly when they are Equal column by column.
const (
	tagNull byte = iota
	tagBool
	tagInt
	tagFloat
	tagNumeric
	tagString
	tagTime
	tagInterval
)

// AppendKey appends the key encoding of d to buf.
func AppendKey(buf []byte, d Datum) []byte {
	switch d.kind {
	case KindNull:
		return append(buf, tagNull)
	case KindBool:
		return append(buf, tagBool, byte(d.i))
	case KindInt:
		buf = append(buf, tagInt)
		return binary.BigEndian.AppendUint64(buf, uint64(d.i))
	case KindDate, KindTimestamp, KindTimestampTZ:
		buf = append(buf, tagTime, byte(d.kind))
		return binary.BigEndian.AppendUint64(buf, uint64(d.i))
	case KindFloat:
		f := d.f
		if f == 0 {
			f = 0 // -0 and 0 are equal
		}
		bits := exactFloatBits(f)
		buf = append(buf, tagFloat)
		return binary.BigEndian.AppendUint64(buf, bits)
	case KindNumeric:
		c := CanonicalNumeric(d.s)
		buf = append(buf, tagNumeric)
		buf = binary.AppendUvarint(buf, uint64(len(c)))
		return append(buf, c...)
	case KindInterval:
		return appendIntervalKey(append(buf, tagInterval), d.Interval())
	default:
		buf = append(buf, tagString, byte(d.kind))
		buf = binary.AppendUvarint(buf, uint64(len(d.s)))
		return append(buf, d.s...)
	}
}

// AppendExact appends an encoding of d that also distinguishes equal values
// with different representations (numeric 1.0 vs 1.00, float -0 vs 0): the
// identity of a stored row, as opposed to the SQL equality of AppendKey.
func AppendExact(buf []byte, d Datum) []byte {
	switch d.kind {
	case KindNumeric:
		buf = append(buf, tagNumeric)
		buf = binary.AppendUvarint(buf, uint64(len(d.s)))
		return append(buf, d.s...)
	case KindFloat:
		buf = append(buf, tagFloat, byte(d.i))
		return binary.BigEndian.AppendUint64(buf, exactFloatBits(d.f))
	case KindInterval:
		// '1 day' and '24 hours' are equal but print differently.
		buf = append(buf, tagInterval, 1)
		buf = append(buf, d.s...)
		return binary.BigEndian.AppendUint64(buf, uint64(d.i))
	}
	return AppendKey(buf, d)
}

// canonicalNaN is the bit pattern every NaN is folded to: all NaNs print
// as "NaN", so their payloads are not part of a value's identity.
const canonicalNaN = 0x7ff8000000000001

// exactFloatBits is f's bit pattern with NaN payloads folded together; it
// keeps -0 apart from 0.
func exactFloatBits(f float64) uint64 {
	if math.IsNaN(f) {
		return canonicalNaN
	}
	return math.Float64bits(f)
}

// EncodeExact encodes every column with AppendExact: two rows encode alike
// exactly when a sink would store the same text for them.
func (r Row) EncodeExact() string {
	buf := make([]byte, 0, 16*len(r))
	for _, d := range r {
		buf = AppendExact(buf, d)
	}
	return string(buf)
}

// Key encodes the columns cols of r as a string usable as a map key.
func (r Row) Key(cols []int) string {
	var buf []byte
	for _, c := range cols {
		buf = AppendKey(buf, r[c])
	}
	return string(buf)
}

// Encode encodes every column of r as a map key.
func (r Row) Encode() string {
	buf := make([]byte, 0, 16*len(r))
	for _, d := range r {
		buf = AppendKey(buf, d)
	}
	return string(buf)
}

// Identical reports whether a and b are the same value including its
// representation (numeric display scale, float -0 vs 0, float4 vs float8):
// what a sink stores. Every NaN is identical to every other NaN of its width.
func Identical(a, b Datum) bool {
	if a.kind == KindFloat && b.kind == KindFloat {
		// Datum == would compare the floats with ==: NaN != NaN and -0 == 0.
		return a.i == b.i && exactFloatBits(a.f) == exactFloatBits(b.f)
	}
	return a == b
}

// RowsIdentical reports whether every column is Identical.
func RowsIdentical(a, b Row) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !Identical(a[i], b[i]) {
			return false
		}
	}
	return true
}

// Size estimates the memory a datum holds, for byte budgets.
func (d Datum) Size() int { return 32 + len(d.s) }

// Size estimates the memory a row holds.
func (r Row) Size() int {
	n := 24
	for _, d := range r {
		n += d.Size()
	}
	return n
}

var _ = bytes.Compare
