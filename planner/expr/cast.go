package expr

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/rippledb/ripple/internal/row"
)

const usPerDay = 86400_000_000

// conv converts one non-NULL datum.
type conv func(row.Datum) (row.Datum, error)

// Cast converts e to type to. explicit selects CAST/:: rules; otherwise
// only PostgreSQL's implicit casts are allowed (and length coercion
// errors instead of truncating). NULL stays NULL. Casting an unknown-typed
// constant parses it now, so a bad literal is an error here, as in
// PostgreSQL's parse analysis.
func Cast(e Expr, to row.Type, explicit bool) (Expr, error) {
	if e.Type == to {
		return e, nil
	}
	f, err := castFunc(e.Type, to, explicit)
	if err != nil {
		return Expr{}, err
	}
	inner := e.Eval
	out := Expr{Type: to, Name: e.Name, Text: e.Text, Const: e.Const, Collate: e.Collate}
	if f == nil { // binary-coercible: same value, new type
		out.Eval = inner
		return out, nil
	}
	out.Eval = func(r row.Row) (row.Datum, error) {
		d, err := inner(r)
		if err != nil || d.IsNull() {
			return d, err
		}
		return f(d)
	}
	if e.Type.OID == row.OIDUnknown && e.Const {
		d, err := out.Eval(nil)
		if err != nil {
			return Expr{}, err
		}
		out.Eval = func(row.Row) (row.Datum, error) { return d, nil }
	}
	if explicit {
		out.Text = fmt.Sprintf("(%s)::%s", e.Text, to)
	}
	return out, nil
}

func cannotCast(from, to row.Type) error {
	return fmt.Errorf("cannot cast type %s to %s", typeName(from), typeName(to))
}

// castFunc returns the conversion from → to, or an error when PostgreSQL
// has no such cast in the given context.
func castFunc(from, to row.Type, explicit bool) (conv, error) {
	if !to.Supported() || to.OID == row.OIDUnknown {
		return nil, fmt.Errorf("type %s is not supported yet", to)
	}
	mod := typmodFunc(to, explicit)
	base, ok, err := baseCast(from, to, explicit)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, cannotCast(from, to)
	}
	if mod == nil {
		return base, nil
	}
	if base == nil {
		return mod, nil
	}
	return func(d row.Datum) (row.Datum, error) {
		d, err := base(d)
		if err != nil {
			return d, err
		}
		return mod(d)
	}, nil
}

// baseCast converts between type OIDs, ignoring the target typmod. A nil
// conv with ok means the value is unchanged.
func baseCast(from, to row.Type, explicit bool) (conv, bool, error) {
	fc, tc := typeCategory(from), typeCategory(to)
	if from.OID == to.OID {
		return nil, true, nil
	}
	if from.OID == row.OIDUnknown {
		return inputFunc(to), true, nil
	}
	if fc == 'S' && tc == 'S' {
		if from.OID == row.OIDBpchar {
			return func(d row.Datum) (row.Datum, error) {
				return row.NewText(strings.TrimRight(d.Str(), " ")), nil
			}, true, nil
		}
		return nil, true, nil
	}
	if tc == 'S' {
		// Output function (assignment cast): allowed explicitly only.
		if !explicit {
			return nil, false, nil
		}
		if from.OID == row.OIDBool {
			return func(d row.Datum) (row.Datum, error) {
				if d.Bool() {
					return row.NewText("true"), nil
				}
				return row.NewText("false"), nil
			}, true, nil
		}
		return func(d row.Datum) (row.Datum, error) { return row.NewText(row.FormatText(d)), nil }, true, nil
	}
	if fc == 'S' {
		if !explicit {
			return nil, false, nil
		}
		if from.OID == row.OIDBpchar {
			in := inputFunc(to)
			return func(d row.Datum) (row.Datum, error) {
				return in(row.NewText(strings.TrimRight(d.Str(), " ")))
			}, true, nil
		}
		return inputFunc(to), true, nil
	}
	if implicitCast(from, to) {
		return numericOrTimeCast(from, to), true, nil
	}
	if !explicit {
		return nil, false, nil
	}
	switch {
	case fc == 'N' && tc == 'N':
		return numericOrTimeCast(from, to), true, nil
	case from.OID == row.OIDBool && to.OID == row.OIDInt4:
		return func(d row.Datum) (row.Datum, error) {
			if d.Bool() {
				return row.NewInt(1), nil
			}
			return row.NewInt(0), nil
		}, true, nil
	case from.OID == row.OIDInt4 && to.OID == row.OIDBool:
		return func(d row.Datum) (row.Datum, error) { return row.NewBool(d.Int() != 0), nil }, true, nil
	case fc == 'D' && tc == 'D':
		return numericOrTimeCast(from, to), true, nil
	case from.OID == row.OIDJSONB && to.OID == row.OIDJSON:
		return func(d row.Datum) (row.Datum, error) { return row.NewJSON(d.Str()), nil }, true, nil
	case from.OID == row.OIDJSON && to.OID == row.OIDJSONB:
		return nil, false, fmt.Errorf("cast from json to jsonb is not supported yet")
	}
	return nil, false, nil
}

// numericOrTimeCast converts within the numeric and datetime categories.
func numericOrTimeCast(from, to row.Type) conv {
	isInt := func(t row.Type) bool {
		return t.OID == row.OIDInt2 || t.OID == row.OIDInt4 || t.OID == row.OIDInt8
	}
	isFloat := func(t row.Type) bool { return t.OID == row.OIDFloat4 || t.OID == row.OIDFloat8 }
	f4 := to.OID == row.OIDFloat4
	switch {
	case isInt(from) && isInt(to):
		return func(d row.Datum) (row.Datum, error) {
			if !intFits(d.Int(), to) {
				return row.Null, intRangeErr(to)
			}
			return d, nil
		}
	case isInt(from) && to.OID == row.OIDNumeric:
		return func(d row.Datum) (row.Datum, error) { return row.NewNumeric(strconv.FormatInt(d.Int(), 10)), nil }
	case isInt(from) && isFloat(to):
		return func(d row.Datum) (row.Datum, error) { return mkFloat(float64(d.Int()), f4), nil }
	case from.OID == row.OIDNumeric && isInt(to):
		return func(d row.Datum) (row.Datum, error) {
			n, err := parseNum(d.Str())
			if err != nil {
				return row.Null, err
			}
			v, err := numToInt(n, to)
			return row.NewInt(v), err
		}
	case from.OID == row.OIDNumeric && isFloat(to):
		return func(d row.Datum) (row.Datum, error) {
			n, err := parseNum(d.Str())
			if err != nil {
				return row.Null, err
			}
			f := numToFloat(n)
			if math.IsInf(f, 0) && n.Form == 0 {
				return row.Null, fmt.Errorf("%q is out of range for type %s", d.Str(), typeName(to))
			}
			if f4 {
				return floatToFloat4(f)
			}
			return row.NewFloat(f), nil
		}
	case isFloat(from) && isInt(to):
		return func(d row.Datum) (row.Datum, error) {
			f := math.RoundToEven(d.Float())
			lo, hi := intBounds(to)
			if math.IsNaN(f) || f < lo || f >= hi {
				return row.Null, intRangeErr(to)
			}
			return row.NewInt(int64(f)), nil
		}
	case isFloat(from) && to.OID == row.OIDNumeric:
		return func(d row.Datum) (row.Datum, error) {
			n, err := floatToNum(d.Float(), d.IsFloat4())
			if err != nil {
				return row.Null, err
			}
			return numDatum(n)
		}
	case from.OID == row.OIDFloat4 && to.OID == row.OIDFloat8:
		return func(d row.Datum) (row.Datum, error) { return row.NewFloat(d.Float()), nil }
	case from.OID == row.OIDFloat8 && to.OID == row.OIDFloat4:
		return func(d row.Datum) (row.Datum, error) { return floatToFloat4(d.Float()) }
	case from.OID == row.OIDDate:
		return func(d row.Datum) (row.Datum, error) {
			v := d.Int()
			if v != row.PosInfinity && v != row.NegInfinity {
				v *= usPerDay
			}
			if to.OID == row.OIDTimestamp {
				return row.NewTimestamp(v), nil
			}
			return row.NewTimestampTZ(v), nil
		}
	case to.OID == row.OIDDate:
		return func(d row.Datum) (row.Datum, error) {
			v := d.Int()
			if v != row.PosInfinity && v != row.NegInfinity {
				v = floorDiv(v, usPerDay)
			}
			return row.NewDate(v), nil
		}
	case to.OID == row.OIDTimestamp:
		return func(d row.Datum) (row.Datum, error) { return row.NewTimestamp(d.Int()), nil }
	case to.OID == row.OIDTimestampTZ:
		return func(d row.Datum) (row.Datum, error) { return row.NewTimestampTZ(d.Int()), nil }
	}
	return func(row.Datum) (row.Datum, error) { return row.Null, cannotCast(from, to) }
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// intBounds are the float bounds that fit t: [lo, hi).
func intBounds(t row.Type) (float64, float64) {
	switch t.OID {
	case row.OIDInt2:
		return math.MinInt16, math.MaxInt16 + 1
	case row.OIDInt4:
		return math.MinInt32, math.MaxInt32 + 1
	}
	return math.MinInt64, -float64(math.MinInt64)
}

func mkFloat(f float64, f4 bool) row.Datum {
	if f4 {
		return row.NewFloat4(float32(f))
	}
	return row.NewFloat(f)
}

var (
	errFloatOverflow  = errors.New("value out of range: overflow")
	errFloatUnderflow = errors.New("value out of range: underflow")
)

func floatToFloat4(f float64) (row.Datum, error) {
	r := float32(f)
	if math.IsInf(float64(r), 0) && !math.IsInf(f, 0) {
		return row.Null, errFloatOverflow
	}
	if r == 0 && f != 0 {
		return row.Null, errFloatUnderflow
	}
	return row.NewFloat4(r), nil
}

func invalidInput(t row.Type, s string) error {
	return fmt.Errorf("invalid input syntax for type %s: \"%s\"", typeName(t), s)
}

// inputFunc is the type's input function applied to text (text → T).
func inputFunc(t row.Type) conv {
	return func(d row.Datum) (row.Datum, error) { return parseInput(t, d.Str()) }
}

// parseInput reads s as PostgreSQL's input function for t does, with the
// same error messages for the forms it rejects.
func parseInput(t row.Type, s string) (row.Datum, error) {
	trimmed := strings.Trim(s, " \t\n\r\v\f")
	switch t.OID {
	case row.OIDText, row.OIDVarchar, row.OIDBpchar, row.OIDName:
		return row.NewText(s), nil
	case row.OIDInt2, row.OIDInt4, row.OIDInt8:
		body := trimmed
		if len(body) > 0 && (body[0] == '+' || body[0] == '-') {
			body = body[1:]
		}
		if body == "" || strings.TrimLeft(body, "0123456789") != "" {
			return row.Null, invalidInput(t, s)
		}
		v, err := strconv.ParseInt(strings.TrimPrefix(trimmed, "+"), 10, 64)
		if err != nil || !intFits(v, t) {
			return row.Null, fmt.Errorf("value \"%s\" is out of range for type %s", s, typeName(t))
		}
		return row.NewInt(v), nil
	case row.OIDFloat4, row.OIDFloat8:
		f4 := t.OID == row.OIDFloat4
		var f float64
		switch strings.ToLower(trimmed) {
		case "nan":
			f = math.NaN()
		case "infinity", "+infinity", "inf", "+inf":
			f = math.Inf(1)
		case "-infinity", "-inf":
			f = math.Inf(-1)
		default:
			if !plainFloatSyntax(trimmed) {
				return row.Null, invalidInput(t, s)
			}
			bits := 64
			if f4 {
				bits = 32
			}
			v, err := strconv.ParseFloat(trimmed, bits)
			if err != nil || (v == 0 && strings.ContainsAny(strings.TrimLeft(trimmed, "+-0."), "123456789")) {
				return row.Null, fmt.Errorf("\"%s\" is out of range for type %s", s, typeName(t))
			}
			f = v
		}
		return mkFloat(f, f4), nil
	case row.OIDNumeric:
		n, ok := numericIn(trimmed)
		if !ok {
			return row.Null, invalidInput(t, s)
		}
		return numDatum(n)
	case row.OIDBool:
		if b, ok := parseBool(trimmed); ok {
			return row.NewBool(b), nil
		}
		return row.Null, invalidInput(t, s)
	case row.OIDJSON:
		if !json.Valid([]byte(s)) {
			return row.Null, errors.New("invalid input syntax for type json")
		}
		return row.NewJSON(s), nil
	case row.OIDJSONB:
		return row.Null, fmt.Errorf("converting text to jsonb is not supported yet")
	case row.OIDDate, row.OIDTimestamp, row.OIDTimestampTZ:
		if !validCivil(trimmed) {
			return row.Null, fmt.Errorf("date/time field value out of range: \"%s\"", s)
		}
		d, err := row.ParseText(t, trimmed)
		if err != nil {
			return row.Null, invalidInput(t, s)
		}
		return d, nil
	case row.OIDInterval:
		v, err := row.ParseInterval(trimmed)
		d := row.NewInterval(v)
		if err != nil {
			if errors.Is(err, row.ErrIntervalRange) {
				return row.Null, fmt.Errorf("interval field value out of range: \"%s\"", s)
			}
			return row.Null, invalidInput(t, s)
		}
		return d, nil
	case row.OIDUUID, row.OIDBytea:
		d, err := row.ParseText(t, trimmed)
		if t.OID == row.OIDBytea {
			d, err = row.ParseText(t, s)
		}
		if err != nil {
			return row.Null, invalidInput(t, s)
		}
		return d, nil
	}
	if e := row.LookupEnum(t.OID); e != nil {
		return e.Parse(s)
	}
	return row.Null, fmt.Errorf("type %s is not supported yet", t)
}

// plainFloatSyntax accepts what strtod accepts in decimal notation.
func plainFloatSyntax(s string) bool {
	i := 0
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	digits := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i, digits = i+1, digits+1
	}
	if i < len(s) && s[i] == '.' {
		i++
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i, digits = i+1, digits+1
		}
	}
	if digits == 0 {
		return false
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		ed := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i, ed = i+1, ed+1
		}
		if ed == 0 {
			return false
		}
	}
	return i == len(s)
}

// validCivil checks the month/day of an ISO date prefix, which the row
// codec does not (PostgreSQL rejects 2021-02-30).
func validCivil(s string) bool {
	if len(s) < 10 || s[4] != '-' {
		return true
	}
	y, e1 := strconv.Atoi(s[:4])
	m, e2 := strconv.Atoi(s[5:7])
	d, e3 := strconv.Atoi(s[8:10])
	if e1 != nil || e2 != nil || e3 != nil {
		return true
	}
	dim := []int{31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31}
	if m < 1 || m > 12 {
		return false
	}
	n := dim[m-1]
	if m == 2 && (y%4 == 0 && (y%100 != 0 || y%400 == 0)) {
		n = 29
	}
	return d >= 1 && d <= n
}

// parseBool is boolin: unique prefixes of true/false/yes/no, on/off, 1/0.
func parseBool(s string) (bool, bool) {
	l := strings.ToLower(s)
	if l == "" {
		return false, false
	}
	for _, w := range []struct {
		word string
		min  int
		v    bool
	}{{"true", 1, true}, {"false", 1, false}, {"yes", 1, true}, {"no", 1, false}, {"on", 2, true}, {"off", 2, false}} {
		if len(l) >= w.min && strings.HasPrefix(w.word, l) {
			return w.v, true
		}
	}
	switch l {
	case "1":
		return true, true
	case "0":
		return false, true
	}
	return false, false
}

// typmodFunc is the length/precision coercion for a typmod'ed target type
// (varchar(n), bpchar(n), numeric(p,s), timestamp(p)), or nil.
func typmodFunc(t row.Type, explicit bool) conv {
	if t.Mod < 0 {
		return nil
	}
	switch t.OID {
	case row.OIDVarchar, row.OIDBpchar:
		n := int(t.Mod - 4)
		pad := t.OID == row.OIDBpchar
		return func(d row.Datum) (row.Datum, error) {
			s := d.Str()
			l := utf8.RuneCountInString(s)
			if l > n {
				cut := s
				for i := range n {
					_, sz := utf8.DecodeRuneInString(cut)
					cut = cut[sz:]
					_ = i
				}
				if !explicit && strings.Trim(cut, " ") != "" {
					return row.Null, fmt.Errorf("value too long for type %s", t)
				}
				return row.NewText(s[:len(s)-len(cut)]), nil
			}
			if pad && l < n {
				return row.NewText(s + strings.Repeat(" ", n-l)), nil
			}
			return d, nil
		}
	case row.OIDNumeric:
		m := t.Mod - 4
		prec, scale := int64((m>>16)&0xffff), int32(m&0x7ff)
		if scale >= 1024 {
			scale -= 2048
		}
		return func(d row.Datum) (row.Datum, error) {
			n, err := parseNum(d.Str())
			if err != nil {
				return row.Null, err
			}
			if n.Form == 1 /* apd.Infinite */ {
				return row.Null, errors.New("numeric field overflow")
			}
			if n.Form != 0 {
				return d, nil
			}
			r, err := roundNum(n, scale)
			if err != nil {
				return row.Null, err
			}
			if !r.IsZero() {
				intDigits := int64(r.NumDigits()) + int64(r.Exponent)
				if intDigits > prec-int64(scale) {
					return row.Null, errors.New("numeric field overflow")
				}
			}
			return numDatum(r)
		}
	case row.OIDTimestamp, row.OIDTimestampTZ:
		if t.Mod >= 6 {
			return nil
		}
		scale := int64(math.Pow10(int(6 - t.Mod)))
		return func(d row.Datum) (row.Datum, error) {
			v := d.Int()
			if v == row.PosInfinity || v == row.NegInfinity {
				return d, nil
			}
			if v >= 0 {
				v = (v + scale/2) / scale * scale
			} else {
				v = -((-v + scale/2) / scale * scale)
			}
			if t.OID == row.OIDTimestamp {
				return row.NewTimestamp(v), nil
			}
			return row.NewTimestampTZ(v), nil
		}
	}
	return nil
}
