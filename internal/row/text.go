package row

import (
	"encoding/hex"
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
	switch t.OID {
	case OIDBool:
		switch strings.ToLower(strings.TrimSpace(s)) {
		case "t", "true", "yes", "on", "1", "y":
			return NewBool(true), nil
		case "f", "false", "no", "off", "0", "n":
			return NewBool(false), nil
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
	return f, nil
}

// FormatFloat prints a float the way float8out/float4out do with
// extra_float_digits >= 1: the shortest text that reads back exactly, in
// positional notation when the decimal exponent is in [-4, DIG) and in
// exponential notation otherwise (DIG is 15 for float8 and 6 for float4).
func FormatFloat(f float64, f4 bool) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	}
	bits, dig := 64, 15
	if f4 {
		bits, dig = 32, 6
	}
	e := strconv.FormatFloat(f, 'e', -1, bits)
	exp, _ := strconv.Atoi(e[strings.IndexByte(e, 'e')+1:])
	if exp < -4 || exp >= dig {
		return e
	}
	return strconv.FormatFloat(f, 'f', -1, bits)
}

// normalizeNumeric validates numeric text and returns it in numeric_out's
// form: no leading '+', no exponent, specials spelled as PostgreSQL spells them.
func normalizeNumeric(s string) (string, bool) {
	switch strings.ToLower(s) {
	case "nan":
		return "NaN", true
	case "infinity", "+infinity", "inf", "+inf":
		return "Infinity", true
	case "-infinity", "-inf":
		return "-Infinity", true
	}
	if s == "" {
		return "", false
	}
	if !strings.ContainsAny(s, "eE") && s[0] != '+' && !strings.HasPrefix(s, ".") && !strings.HasPrefix(s, "-.") {
		for i, c := range s {
			if !(c >= '0' && c <= '9' || c == '.' || (c == '-' && i == 0)) {
				return "", false
			}
		}
		if strings.Count(s, ".") > 1 || strings.HasSuffix(s, "-") {
			return "", false
		}
		return s, true
	}
	// Exponent or unusual spelling: compute the display scale as numeric_in does.
	mant := strings.TrimPrefix(s, "+")
	exp := 0
	if i := strings.IndexAny(mant, "eE"); i >= 0 {
		e, err := strconv.Atoi(mant[i+1:])
		if err != nil {
			return "", false
		}
		exp, mant = e, mant[:i]
	}
	scale := 0
	if i := strings.IndexByte(mant, '.'); i >= 0 {
		scale = len(mant) - i - 1
	}
	scale -= exp
	if scale < 0 {
		scale = 0
	}
	r, ok := new(big.Rat).SetString(mant)
	if !ok {
		return "", false
	}
	if exp != 0 {
		p := new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(abs(exp))), nil))
		if exp > 0 {
			r.Mul(r, p)
		} else {
			r.Quo(r, p)
		}
	}
	out := r.FloatString(scale)
	if strings.TrimLeft(out, "-0.") == "" {
		out = strings.TrimPrefix(out, "-")
	}
	return out, true
}

func abs(i int) int {
	if i < 0 {
		return -i
	}
	return i
}

func parseBytea(s string) ([]byte, error) {
	if strings.HasPrefix(s, `\x`) {
		b, err := hex.DecodeString(s[2:])
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

func parseDate(s string) (int64, error) {
	switch strings.ToLower(s) {
	case "infinity", "+infinity":
		return PosInfinity, nil
	case "-infinity":
		return NegInfinity, nil
	}
	bc := false
	if strings.HasSuffix(s, " BC") {
		bc, s = true, strings.TrimSuffix(s, " BC")
	}
	y, m, d, err := parseYMD(s)
	if err != nil {
		return 0, err
	}
	if bc {
		y = 1 - y
	}
	return DaysFromCivil(y, m, d), nil
}

func parseYMD(s string) (int64, int, int, error) {
	parts := strings.Split(s, "-")
	if len(parts) != 3 {
		return 0, 0, 0, fmt.Errorf("not an ISO date")
	}
	y, err1 := strconv.ParseInt(parts[0], 10, 64)
	m, err2 := strconv.Atoi(parts[1])
	d, err3 := strconv.Atoi(parts[2])
	if err1 != nil || err2 != nil || err3 != nil || m < 1 || m > 12 || d < 1 || d > 31 {
		return 0, 0, 0, fmt.Errorf("not an ISO date")
	}
	return y, m, d, nil
}

const usPerDay = 86400_000_000

func parseTimestamp(s string, tz bool) (int64, error) {
	switch strings.ToLower(s) {
	case "infinity", "+infinity":
		return PosInfinity, nil
	case "-infinity":
		return NegInfinity, nil
	}
	bc := false
	if strings.HasSuffix(s, " BC") {
		bc, s = true, strings.TrimSuffix(s, " BC")
	}
	sp := strings.IndexAny(s, " T")
	if sp < 0 {
		return 0, fmt.Errorf("not an ISO timestamp")
	}
	y, m, d, err := parseYMD(s[:sp])
	if err != nil {
		return 0, err
	}
	if bc {
		y = 1 - y
	}
	rest := s[sp+1:]
	offset := int64(0)
	if i := strings.IndexAny(rest, "+-"); i >= 0 {
		if !tz {
			// timestamp without time zone ignores a zone, as timestamp_in does.
			rest = rest[:i]
		} else {
			off, err := parseOffset(rest[i:])
			if err != nil {
				return 0, err
			}
			offset, rest = off, rest[:i]
		}
	} else if strings.HasSuffix(rest, "Z") {
		rest = strings.TrimSuffix(rest, "Z")
	}
	hp := strings.Split(rest, ":")
	if len(hp) != 3 {
		return 0, fmt.Errorf("not an ISO time")
	}
	hh, err1 := strconv.Atoi(hp[0])
	mm, err2 := strconv.Atoi(hp[1])
	secPart := hp[2]
	frac := int64(0)
	if i := strings.IndexByte(secPart, '.'); i >= 0 {
		f := secPart[i+1:]
		if len(f) > 6 {
			f = f[:6]
		}
		for len(f) < 6 {
			f += "0"
		}
		v, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("bad fraction")
		}
		frac, secPart = v, secPart[:i]
	}
	ss, err3 := strconv.Atoi(secPart)
	if err1 != nil || err2 != nil || err3 != nil {
		return 0, fmt.Errorf("not an ISO time")
	}
	days := DaysFromCivil(y, m, d)
	us := days*usPerDay + (int64(hh)*3600+int64(mm)*60+int64(ss))*1_000_000 + frac
	return us - offset*1_000_000, nil
}

// parseOffset parses "+HH", "+HH:MM" or "+HH:MM:SS" into seconds east of UTC.
func parseOffset(s string) (int64, error) {
	sign := int64(1)
	if s[0] == '-' {
		sign = -1
	}
	parts := strings.Split(s[1:], ":")
	var secs int64
	mult := []int64{3600, 60, 1}
	for i, p := range parts {
		if i >= 3 {
			return 0, fmt.Errorf("bad zone offset")
		}
		v, err := strconv.ParseInt(p, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("bad zone offset")
		}
		secs += v * mult[i]
	}
	return sign * secs, nil
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
