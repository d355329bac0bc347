package row

import (
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
)

// Session settings ripple pins on every PostgreSQL connection it opens, so
// that the text form of values is the one ParseText reads and FormatText
// writes, whatever the database or role defaults say
// (https://www.postgresql.org/docs/15/runtime-config-client.html).
var SessionSettings = map[string]string{
	"DateStyle":          "ISO, MDY",
	"IntervalStyle":      "postgres",
	"TimeZone":           "UTC",
	"extra_float_digits": "1",
	"bytea_output":       "hex",
	"client_encoding":    "UTF8",
}

// NewFloat4 makes a float4 value; it is kept as float64 but formats with
// float4's precision.
func NewFloat4(f float32) Datum { return Datum{kind: KindFloat, f: float64(f), i: 4} }

// IsFloat4 reports whether a KindFloat datum is a float4.
func (d Datum) IsFloat4() bool { return d.kind == KindFloat && d.i == 4 }

// ParseError reports a value that is not valid text for its type.
type ParseError struct {
	Type Type
	Text string
	Msg  string
}

func (e *ParseError) Error() string {
	t := e.Text
	if len(t) > 64 {
		t = t[:64] + "..."
	}
	return fmt.Sprintf("invalid input syntax for type %s: %q: %s", e.Type, t, e.Msg)
}

// ParseText decodes PostgreSQL's text output of a value of type t, as
// produced under SessionSettings.
func ParseText(t Type, s string) (Datum, error) {
	bad := func(msg string) (Datum, error) { return Null, &ParseError{Type: t, Text: s, Msg: msg} }
	if t.IsArray() {
		return parseArray(t, s)
	}
	switch t.OID {
	case OIDBool:
		if b, ok := parseBool(strings.TrimSpace(s)); ok {
			return NewBool(b), nil
		}
		return bad("not a boolean")
	case OIDInt2, OIDInt4, OIDInt8:
		bits := map[OID]int{OIDInt2: 16, OIDInt4: 32, OIDInt8: 64}[t.OID]
		i, err := strconv.ParseInt(strings.TrimSpace(s), 10, bits)
		if err != nil {
			return bad("not an integer in range")
		}
		return NewInt(i), nil
	case OIDFloat4, OIDFloat8:
		f, err := parseFloat(strings.TrimSpace(s), t.OID == OIDFloat4)
		if err != nil {
			return bad("not a floating-point number")
		}
		if t.OID == OIDFloat4 {
			return NewFloat4(float32(f)), nil
		}
		return NewFloat(f), nil
	case OIDNumeric:
		n, ok := normalizeNumeric(strings.TrimSpace(s))
		if !ok {
			return bad("not a numeric")
		}
		return NewNumeric(n), nil
	case OIDText, OIDVarchar, OIDBpchar, OIDName, OIDUnknown:
		return NewText(s), nil
	case OIDBytea:
		b, err := parseBytea(s)
		if err != nil {
			return bad(err.Error())
		}
		return NewBytes(b), nil
	case OIDDate:
		days, err := parseDate(strings.TrimSpace(s))
		if err != nil {
			return bad(err.Error())
		}
		return NewDate(days), nil
	case OIDTimestamp, OIDTimestampTZ:
		us, err := parseTimestamp(strings.TrimSpace(s), t.OID == OIDTimestampTZ)
		if err != nil {
			return bad(err.Error())
		}
		if t.OID == OIDTimestampTZ {
			return NewTimestampTZ(us), nil
		}
		return NewTimestamp(us), nil
	case OIDUUID:
		u, err := parseUUID(strings.TrimSpace(s))
		if err != nil {
			return bad(err.Error())
		}
		return NewUUID(u), nil
	case OIDJSON:
		return NewJSON(s), nil
	case OIDJSONB:
		return NewJSONB(s), nil
	case OIDInterval:
		iv, err := ParseInterval(s)
		if err != nil {
			return bad(err.Error())
		}
		return NewInterval(iv), nil
	}
	if e := LookupEnum(t.OID); e != nil {
		d, err := e.Parse(s)
		if err != nil {
			return bad("not a label of the enum")
		}
		return d, nil
	}
	return bad("type is not supported by ripple")
}

// FormatText renders d exactly as PostgreSQL prints it under
// SessionSettings. NULL renders as the empty string; callers that need a
// NULL marker check IsNull first.
func FormatText(d Datum) string {
	switch d.kind {
	case KindNull:
		return ""
	case KindBool:
		if d.i != 0 {
			return "t"
		}
		return "f"
	case KindInt:
		return strconv.FormatInt(d.i, 10)
	case KindFloat:
		return FormatFloat(d.f, d.IsFloat4())
	case KindBytes:
		return `\x` + hex.EncodeToString([]byte(d.s))
	case KindDate:
		return formatDate(d.i)
	case KindTimestamp:
		return formatTimestamp(d.i, false)
	case KindTimestampTZ:
		return formatTimestamp(d.i, true)
	case KindInterval:
		return FormatInterval(d.Interval())
	case KindUUID:
		h := hex.EncodeToString([]byte(d.s))
		if len(h) != 32 {
			return h
		}
		return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
	default:
		return d.s
	}
}

// parseBool accepts what boolin does: any prefix of true/false/yes/no,
// at least two letters of on/off, and 1/0, in any case.
func parseBool(s string) (value, ok bool) {
	if s == "" {
		return false, false
	}
	l := strings.ToLower(s)
	prefixOf := func(word string) bool { return strings.HasPrefix(word, l) }
	switch l[0] {
	case 't':
		return true, prefixOf("true")
	case 'f':
		return false, prefixOf("false")
	case 'y':
		return true, prefixOf("yes")
	case 'n':
		return false, prefixOf("no")
	case 'o':
		if len(l) < 2 {
			return false, false
		}
		if prefixOf("on") {
			return true, true
		}
		return false, prefixOf("off")
	case '1':
		return true, l == "1"
	case '0':
		return false, l == "0"
	}
	return false, false
}

func parseFloat(s string, f4 bool) (float64, error) {
	switch strings.ToLower(s) {
	case "nan":
		return math.NaN(), nil
	case "infinity", "inf", "+infinity", "+inf":
		return math.Inf(1), nil
	case "-infinity", "-inf":
		return math.Inf(-1), nil
	}
	bits := 64
	if f4 {
		bits = 32
	}
	f, err := strconv.ParseFloat(s, bits)
	if err != nil {
		return 0, err
	}
	if f == 0 && nonzeroMantissa(s) {
		// float8in/float4in reject an underflow to zero as out of range.
		return 0, strconv.ErrRange
	}
	return f, nil
}

// nonzeroMantissa reports whether decimal float text has a nonzero digit
// before its exponent.
func nonzeroMantissa(s string) bool {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == 'e' || c == 'E' || c == 'x' || c == 'X':
			return false
		case c >= '1' && c <= '9':
			return true
		}
	}
	return false
}

// FormatFloat prints a float the way float8out/float4out do with
// extra_float_digits >= 1: the shortest text that reads back exactly, in
// positional notation when the decimal exponent is in [-4, DIG) and in
// exponential notation otherwise (DIG is 15 for float8 and 6 for float4).
//
// PostgreSQL's shortest digits come from Ryu, which never picks a decimal
// lying exactly on the rounding boundary between f and a neighbour, while
// Go's shortest formatting does when f's mantissa is even (1e23 prints as
// "1e+23" in Go, "9.999999999999999e+22" in PostgreSQL); such values take
// the next longer correctly rounded digits.
func FormatFloat(f float64, f4 bool) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	}
	bits, dig, maxDigits := 64, 15, 17
	if f4 {
		bits, dig, maxDigits = 32, 6, 9
	}
	e := strconv.FormatFloat(f, 'e', -1, bits)
	boundary := onRoundingBoundary(f, f4, e)
	if boundary {
		sig := strings.IndexByte(e, 'e') - strings.Count(e[:1], "-") - strings.Count(e, ".")
		for p := sig; p < maxDigits; p++ { // p+1 significant digits, one more than e has
			e = strconv.FormatFloat(f, 'e', p, bits)
			if r, _ := strconv.ParseFloat(e, bits); r == f && !onRoundingBoundary(f, f4, e) {
				break
			}
		}
		e = trimExpDigits(e)
	}
	exp, _ := strconv.Atoi(e[strings.IndexByte(e, 'e')+1:])
	if exp < -4 || exp >= dig {
		return e
	}
	if !boundary {
		return strconv.FormatFloat(f, 'f', -1, bits)
	}
	return positional(e[:strings.IndexByte(e, 'e')], exp)
}

// mayBeMidpoint is a cheap necessary condition for onRoundingBoundary. A
// midpoint between f = m·2^E and a neighbour is odd·2^j (j = E-1, or E-2
// below a power of two); a decimal D·10^t (D without trailing zeros) equals
// such a number only if t ≥ 0 and D·10^t has exactly j factors of two, or,
// for j < 0, if it has exactly -j digits after the point, the last a 5.
func mayBeMidpoint(f float64, f4 bool, s string) bool {
	var frac uint64
	var expField, e int
	if f4 {
		b := math.Float32bits(float32(f))
		frac, expField = uint64(b&(1<<23-1)), int(b>>23&0xff)
		e = max(expField, 1) - 150
	} else {
		b := math.Float64bits(f)
		frac, expField = b&(1<<52-1), int(b>>52&0x7ff)
		e = max(expField, 1) - 1075
	}
	if frac&1 != 0 {
		return false // odd mantissa: halfway text reads back as the even neighbour
	}
	i := strings.IndexByte(s, 'e')
	if e-1 < 0 {
		// A midpoint below 2^0 ends in the digit 5.
		m := strings.TrimRight(s[:i], "0.")
		if m == "" || m[len(m)-1] != '5' {
			return false
		}
	}
	x, err := strconv.Atoi(s[i+1:])
	if err != nil {
		return true
	}
	mant := strings.TrimPrefix(s[:i], "-")
	n := 0 // digits after the point
	if dot := strings.IndexByte(mant, '.'); dot >= 0 {
		n = len(mant) - dot - 1
		mant = mant[:dot] + mant[dot+1:]
	}
	trimmed := strings.TrimRight(mant, "0")
	d, err := strconv.ParseUint(trimmed, 10, 64)
	if err != nil || d == 0 {
		return err != nil
	}
	t := x - n + (len(mant) - len(trimmed))
	match := func(j int) bool {
		if j >= 0 {
			return t >= 0 && bitsTrailingZeros(d)+t == j
		}
		return t == j && d%10 == 5
	}
	return match(e-1) || (frac == 0 && expField > 1 && match(e-2))
}

func bitsTrailingZeros(d uint64) int {
	n := 0
	for d != 0 && d&1 == 0 {
		d >>= 1
		n++
	}
	return n
}

// trimExpDigits drops trailing zeros of the mantissa of 'e' text.
func trimExpDigits(e string) string {
	i := strings.IndexByte(e, 'e')
	m := e[:i]
	if strings.IndexByte(m, '.') >= 0 {
		m = strings.TrimSuffix(strings.TrimRight(m, "0"), ".")
	}
	return m + e[i:]
}

// positional rewrites the mantissa of 'e' text ("-1.2345") with decimal
// exponent exp in positional notation.
func positional(mant string, exp int) string {
	neg := strings.HasPrefix(mant, "-")
	digits := strings.Replace(strings.TrimPrefix(mant, "-"), ".", "", 1)
	var out string
	switch point := exp + 1; {
	case point <= 0:
		out = "0." + strings.Repeat("0", -point) + digits
	case point >= len(digits):
		out = digits + strings.Repeat("0", point-len(digits))
	default:
		out = digits[:point] + "." + digits[point:]
	}
	if neg {
		out = "-" + out
	}
	return out
}

// onRoundingBoundary reports whether the decimal text s is exactly halfway
// between f and one of its neighbours (possible only for an even mantissa,
// where round-half-even reads the halfway text back as f).
func onRoundingBoundary(f float64, f4 bool, s string) bool {
	if f == 0 {
		return false
	}
	return mayBeMidpoint(f, f4, s) && exactMidpoint(f, f4, s)
}

// exactMidpoint is onRoundingBoundary without the cheap filter.
func exactMidpoint(f float64, f4 bool, s string) bool {
	var lo, hi float64
	if f4 {
		x := float32(f)
		if math.Float32bits(x)&1 != 0 {
			return false
		}
		lo, hi = float64(math.Nextafter32(x, float32(math.Inf(-1)))), float64(math.Nextafter32(x, float32(math.Inf(1))))
	} else {
		if math.Float64bits(f)&1 != 0 {
			return false
		}
		lo, hi = math.Nextafter(f, math.Inf(-1)), math.Nextafter(f, math.Inf(1))
	}
	d, ok := new(big.Rat).SetString(s)
	if !ok {
		return false
	}
	fr := new(big.Rat).SetFloat64(f)
	half := big.NewRat(1, 2)
	for _, n := range []float64{lo, hi} {
		if math.IsInf(n, 0) {
			continue
		}
		mid := new(big.Rat).Add(fr, new(big.Rat).SetFloat64(n))
		if mid.Mul(mid, half).Cmp(d) == 0 {
			return true
		}
	}
	return false
}

// Limits of numeric_in (PostgreSQL 15, numeric.c): the exponent of the
// input, the display scale and the digits before the decimal point.
const (
	numericMaxExponent  = 1000   // NUMERIC_MAX_PRECISION
	numericMaxDscale    = 0x3FFF // NUMERIC_DSCALE_MAX
	numericMaxIntDigits = (0x7FFF + 1) * 4
)

// normalizeNumeric validates numeric text and returns it in numeric_out's
// form: no leading '+' or leading zeros, no exponent, zero without a sign,
// the display scale numeric_in computes (digits after the point minus the
// exponent, at least 0), specials spelled as PostgreSQL spells them.
func normalizeNumeric(s string) (string, bool) {
	switch strings.ToLower(s) {
	case "nan":
		return "NaN", true
	case "infinity", "+infinity", "inf", "+inf":
		return "Infinity", true
	case "-infinity", "-inf":
		return "-Infinity", true
	}
	i, neg := 0, false
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		neg = s[i] == '-'
		i++
	}
	digitsFrom := func(j int) int {
		for j < len(s) && s[j] >= '0' && s[j] <= '9' {
			j++
		}
		return j
	}
	j := digitsFrom(i)
	ip, fp := s[i:j], ""
	i = j
	if i < len(s) && s[i] == '.' {
		j = digitsFrom(i + 1)
		fp, i = s[i+1:j], j
	}
	if ip == "" && fp == "" {
		return "", false
	}
	exp := 0
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		es := i + 1
		if es < len(s) && (s[es] == '+' || s[es] == '-') {
			es++
		}
		j = digitsFrom(es)
		if j == es {
			return "", false
		}
		e, err := strconv.Atoi(s[i+1 : j])
		if err != nil || e > numericMaxExponent || e < -numericMaxExponent {
			return "", false
		}
		exp, i = e, j
	}
	if i != len(s) {
		return "", false
	}
	dscale := max(len(fp)-exp, 0)
	if dscale > numericMaxDscale {
		return "", false
	}
	digits := strings.TrimLeft(ip+fp, "0")
	point := len(ip) + exp - (len(ip) + len(fp) - len(digits)) // point's position in digits
	var intPart, fracPart string
	switch {
	case point <= 0:
		intPart = "0"
		fracPart = strings.Repeat("0", min(-point, dscale)) + digits
	case point >= len(digits):
		intPart = digits + strings.Repeat("0", point-len(digits))
	default:
		intPart, fracPart = digits[:point], digits[point:]
	}
	if digits == "" {
		intPart = "0"
	}
	if len(intPart) > numericMaxIntDigits {
		return "", false
	}
	if len(fracPart) > dscale {
		fracPart = fracPart[:dscale] // only zeros are dropped: see dscale
	} else {
		fracPart += strings.Repeat("0", dscale-len(fracPart))
	}
	var b strings.Builder
	if neg && digits != "" && strings.Trim(intPart+fracPart, "0") != "" {
		b.WriteByte('-')
	}
	b.WriteString(intPart)
	if dscale > 0 {
		b.WriteByte('.')
		b.WriteString(fracPart)
	}
	return b.String(), true
}

func parseBytea(s string) ([]byte, error) {
	if strings.HasPrefix(s, `\x`) {
		// byteain's hex_decode allows whitespace between digit pairs.
		h := s[2:]
		if strings.ContainsAny(h, " \t\n\r") {
			h = strings.Map(func(r rune) rune {
				if r == ' ' || r == '\t' || r == '\n' || r == '\r' {
					return -1
				}
				return r
			}, h)
		}
		b, err := hex.DecodeString(h)
		if err != nil {
			return nil, fmt.Errorf("bad hex digits")
		}
		return b, nil
	}
	// Escape format: backslash followed by three octal digits or a backslash.
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' {
			out = append(out, s[i])
			continue
		}
		if i+1 < len(s) && s[i+1] == '\\' {
			out = append(out, '\\')
			i++
			continue
		}
		if i+4 <= len(s) {
			v, err := strconv.ParseUint(s[i+1:i+4], 8, 8)
			if err != nil {
				return nil, fmt.Errorf("bad escape")
			}
			out = append(out, byte(v))
			i += 3
			continue
		}
		return nil, fmt.Errorf("bad escape")
	}
	return out, nil
}

func parseUUID(s string) ([16]byte, error) {
	var u [16]byte
	h := strings.Map(func(r rune) rune {
		if r == '-' || r == '{' || r == '}' {
			return -1
		}
		return r
	}, s)
	if len(h) != 32 {
		return u, fmt.Errorf("wrong length")
	}
	if _, err := hex.Decode(u[:], []byte(h)); err != nil {
		return u, fmt.Errorf("bad hex digits")
	}
	return u, nil
}

// Civil-date arithmetic on the proleptic Gregorian calendar with
// astronomical years (1 BC is year 0), counted from 2000-01-01 like
// PostgreSQL's internal date representation.

// DaysFromCivil returns the days from 2000-01-01 to y-m-d.
func DaysFromCivil(y int64, m, d int) int64 {
	if m <= 2 {
		y--
	}
	era := floorDiv(y, 400)
	yoe := y - era*400
	mp := (int64(m) + 9) % 12
	doy := (153*mp+2)/5 + int64(d) - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468 - 10957
}

// CivilFromDays is the inverse of DaysFromCivil.
func CivilFromDays(days int64) (y int64, m, d int) {
	z := days + 10957 + 719468
	era := floorDiv(z, 146097)
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y = yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d = int(doy - (153*mp+2)/5 + 1)
	if mp < 10 {
		m = int(mp + 3)
	} else {
		m = int(mp - 9)
	}
	if m <= 2 {
		y++
	}
	return y, m, d
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// Ranges of date and timestamp values (PostgreSQL's datatype/timestamp.h):
// dates from 4714-11-24 BC up to 5874898-01-01 (exclusive), timestamps
// from 4714-11-24 00:00:00 BC up to 294277-01-01 00:00:00 (exclusive).
const (
	minDate      int64 = -2451545   // DATETIME_MIN_JULIAN - POSTGRES_EPOCH_JDATE
	endDate      int64 = 2145031949 // DATE_END_JULIAN - POSTGRES_EPOCH_JDATE
	minTimestamp int64 = -211813488000000000
	endTimestamp int64 = 9223371331200000000
	epochDays    int64 = -10957 // 1970-01-01
	maxInputYear       = 6000000
)

func parseDate(s string) (int64, error) {
	switch strings.ToLower(s) {
	case "infinity":
		return PosInfinity, nil
	case "-infinity":
		return NegInfinity, nil
	case "epoch":
		return epochDays, nil
	}
	s, bc := cutBC(s)
	y, m, d, err := parseYMD(s, bc)
	if err != nil {
		return 0, err
	}
	days := DaysFromCivil(y, m, d)
	if days < minDate || days >= endDate {
		return 0, fmt.Errorf("date out of range")
	}
	return days, nil
}

// cutBC strips an era suffix (" BC" or " AD", any case).
func cutBC(s string) (string, bool) {
	if len(s) > 3 && s[len(s)-3] == ' ' {
		switch strings.ToUpper(s[len(s)-2:]) {
		case "BC":
			return s[:len(s)-3], true
		case "AD":
			return s[:len(s)-3], false
		}
	}
	return s, false
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// parseYMD reads an ISO date and returns its astronomical year (1 BC is
// year 0), checking the fields as PostgreSQL does: there is no year 0 and
// the day must exist in its month.
func parseYMD(s string, bc bool) (int64, int, int, error) {
	parts := strings.Split(s, "-")
	if len(parts) != 3 || !allDigits(parts[0]) || !allDigits(parts[1]) || !allDigits(parts[2]) ||
		len(parts[0]) > 9 || len(parts[1]) > 2 || len(parts[2]) > 2 {
		return 0, 0, 0, fmt.Errorf("not an ISO date")
	}
	y, _ := strconv.ParseInt(parts[0], 10, 64)
	m, _ := strconv.Atoi(parts[1])
	d, _ := strconv.Atoi(parts[2])
	if y < 1 || y > maxInputYear || m < 1 || m > 12 || d < 1 {
		return 0, 0, 0, fmt.Errorf("date field value out of range")
	}
	if bc {
		y = 1 - y
	}
	if d > daysInMonth(y, m) {
		return 0, 0, 0, fmt.Errorf("date field value out of range")
	}
	return y, m, d, nil
}

func daysInMonth(y int64, m int) int {
	switch m {
	case 2:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

const usPerDay = 86400_000_000

func parseTimestamp(s string, tz bool) (int64, error) {
	switch strings.ToLower(s) {
	case "infinity":
		return PosInfinity, nil
	case "-infinity":
		return NegInfinity, nil
	case "epoch":
		return epochDays * usPerDay, nil
	}
	s, bc := cutBC(s)
	datePart, rest, hasTime := s, "", false
	if sp := strings.IndexAny(s, " T"); sp >= 0 {
		datePart, rest, hasTime = s[:sp], s[sp+1:], true
	}
	y, m, d, err := parseYMD(datePart, bc)
	if err != nil {
		return 0, err
	}
	days := DaysFromCivil(y, m, d)
	if days < minTimestamp/usPerDay-1 || days > endTimestamp/usPerDay+1 {
		return 0, fmt.Errorf("timestamp out of range")
	}
	var tod, offset int64
	if hasTime {
		if i := strings.IndexAny(rest, "+-"); i >= 0 {
			// timestamp without time zone checks and then ignores a zone,
			// as timestamp_in does.
			off, err := parseOffset(rest[i:])
			if err != nil {
				return 0, err
			}
			if tz {
				offset = off
			}
			rest = rest[:i]
		} else if strings.HasSuffix(rest, "Z") || strings.HasSuffix(rest, "z") {
			rest = rest[:len(rest)-1]
		}
		if tod, err = parseTime(rest); err != nil {
			return 0, err
		}
	}
	us := days*usPerDay + tod - offset*1_000_000
	if us < minTimestamp || us >= endTimestamp {
		return 0, fmt.Errorf("timestamp out of range")
	}
	return us, nil
}

// parseTime reads "hh:mm[:ss[.frac]]" into microseconds, rounding the
// fraction to microseconds and range-checking the fields as DecodeTime does
// (24:00:00 and a leap second 60 are accepted).
func parseTime(s string) (int64, error) {
	var parts [3]string
	n := splitColons(s, &parts)
	if n < 2 || n > 3 {
		return 0, fmt.Errorf("not an ISO time")
	}
	hp := parts[:n]
	var fsec int64
	if len(hp) == 3 {
		if i := strings.IndexByte(hp[2], '.'); i >= 0 {
			f := hp[2][i+1:]
			if f != "" && !allDigits(f) {
				return 0, fmt.Errorf("bad fraction")
			}
			// ParseFractionalSecond: rint(strtod(".ddd") * 1e6).
			frac, err := strconv.ParseFloat("0."+f+"0", 64)
			if err != nil {
				return 0, fmt.Errorf("bad fraction")
			}
			fsec = int64(math.RoundToEven(frac * 1e6))
			hp[2] = hp[2][:i]
		}
	} else {
		parts[2] = "00"
		hp = parts[:3]
	}
	for _, p := range hp {
		if !allDigits(p) || len(p) > 2 {
			return 0, fmt.Errorf("not an ISO time")
		}
	}
	hh, _ := strconv.Atoi(hp[0])
	mm, _ := strconv.Atoi(hp[1])
	ss, _ := strconv.Atoi(hp[2])
	if hh > 24 || mm > 59 || ss > 60 || hh == 24 && (mm > 0 || ss > 0 || fsec > 0) {
		return 0, fmt.Errorf("time field value out of range")
	}
	return (int64(hh)*3600+int64(mm)*60+int64(ss))*1_000_000 + fsec, nil
}

// parseOffset parses a zone displacement as DecodeTimezone does: "+HH",
// "+HHMM", "+HH:MM" or "+HH:MM:SS", at most 15 hours, into seconds east of UTC.
func parseOffset(s string) (int64, error) {
	bad := errBadOffset
	sign := int64(1)
	if s[0] == '-' {
		sign = -1
	}
	var buf [3]string
	n := splitColons(s[1:], &buf)
	if n > 3 {
		return 0, bad
	}
	parts := buf[:n]
	var f [3]int64
	for i, p := range parts {
		if !allDigits(p) || len(p) > 6 {
			return 0, bad
		}
		f[i], _ = strconv.ParseInt(p, 10, 64)
	}
	if len(parts) == 1 && len(parts[0]) > 2 {
		f[0], f[1] = f[0]/100, f[0]%100
	}
	if f[0] > 15 || f[1] > 59 || f[2] > 59 {
		return 0, bad
	}
	return sign * (f[0]*3600 + f[1]*60 + f[2]), nil
}

var errBadOffset = errors.New("bad zone offset")

// splitColons splits s at ':' into out without allocating and returns the
// number of parts; more than len(out) parts return len(out)+1.
func splitColons(s string, out *[3]string) int {
	n := 0
	for {
		i := strings.IndexByte(s, ':')
		if n == len(out) {
			return n + 1
		}
		if i < 0 {
			out[n] = s
			return n + 1
		}
		out[n] = s[:i]
		n++
		s = s[i+1:]
	}
}

func formatYear(y int64) (string, bool) {
	bc := y <= 0
	if bc {
		y = 1 - y
	}
	return fmt.Sprintf("%04d", y), bc
}

func formatDate(days int64) string {
	switch days {
	case PosInfinity:
		return "infinity"
	case NegInfinity:
		return "-infinity"
	}
	y, m, d := CivilFromDays(days)
	ys, bc := formatYear(y)
	s := fmt.Sprintf("%s-%02d-%02d", ys, m, d)
	if bc {
		s += " BC"
	}
	return s
}

func formatTimestamp(us int64, tz bool) string {
	switch us {
	case PosInfinity:
		return "infinity"
	case NegInfinity:
		return "-infinity"
	}
	days := floorDiv(us, usPerDay)
	rem := us - days*usPerDay
	y, m, d := CivilFromDays(days)
	ys, bc := formatYear(y)
	secs := rem / 1_000_000
	frac := rem % 1_000_000
	var b strings.Builder
	fmt.Fprintf(&b, "%s-%02d-%02d %02d:%02d:%02d", ys, m, d, secs/3600, secs/60%60, secs%60)
	if frac != 0 {
		b.WriteString(strings.TrimRight(fmt.Sprintf(".%06d", frac), "0"))
	}
	if tz {
		b.WriteString("+00")
	}
	if bc {
		b.WriteString(" BC")
	}
	return b.String()
}
