package expr

import (
	"errors"
	"math"
	"math/big"
	"strconv"
	"strings"

	"github.com/cockroachdb/apd/v3"

	"github.com/rippledb/ripple/internal/row"
)

// Numeric values travel as PostgreSQL's text form (row.KindNumeric) and are
// computed on as apd decimals. A decimal's exponent is always -dscale, the
// display scale PostgreSQL keeps with every numeric ("1.50" has scale 2), so
// formatting with Text('f') reproduces numeric_out.

// exactCtx does exact addition, subtraction and multiplication (precision 0
// disables rounding).
var exactCtx = func() *apd.Context {
	c := apd.BaseContext
	return &c
}()

// roundCtx quantizes with PostgreSQL's rounding: half away from zero.
var roundCtx = func() *apd.Context {
	c := apd.BaseContext
	c.Precision = 1 << 20
	c.Rounding = apd.RoundHalfUp
	return &c
}()

const (
	numericMaxDisplayScale = 1000 // NUMERIC_MAX_DISPLAY_SCALE
	numericMinSigDigits    = 16   // NUMERIC_MIN_SIG_DIGITS
	numericMaxIntDigits    = 131072
)

var errNumericOverflow = errors.New("value overflows numeric format")

// parseNum reads a numeric datum's text (numeric_out form: no exponent).
func parseNum(s string) (*apd.Decimal, error) {
	switch s {
	case "NaN":
		return &apd.Decimal{Form: apd.NaN}, nil
	case "Infinity":
		return &apd.Decimal{Form: apd.Infinite}, nil
	case "-Infinity":
		return &apd.Decimal{Form: apd.Infinite, Negative: true}, nil
	}
	if d, ok := parseSimpleNum(s); ok {
		return d, nil
	}
	d, _, err := apd.NewFromString(s)
	if err != nil {
		return nil, err
	}
	return d, nil
}

// parseSimpleNum parses the common text of a numeric, [-]digits[.digits]
// with at most 18 digits, without apd's general parser: the same
// coefficient and exponent apd.NewFromString gives (trailing zeros of the
// fraction kept, as they carry the display scale). ok is false for
// anything else (negative zero, exponents, longer values).
func parseSimpleNum(s string) (*apd.Decimal, bool) {
	i, neg := 0, false
	if len(s) > 0 && s[0] == '-' {
		i, neg = 1, true
	}
	var coeff int64
	digits, frac, point := 0, 0, false
	for ; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			coeff = coeff*10 + int64(c-'0')
			digits++
			if point {
				frac++
			}
		case c == '.' && !point && digits > 0:
			point = true
		default:
			return nil, false
		}
	}
	if digits == 0 || digits > 18 || (point && frac == 0) || (neg && coeff == 0) {
		return nil, false
	}
	if neg {
		coeff = -coeff
	}
	return apd.New(coeff, int32(-frac)), true
}

// numDatum formats d as numeric_out does: positional notation with the
// display scale, never "-0".
func numDatum(d *apd.Decimal) (row.Datum, error) {
	switch d.Form {
	case apd.NaN, apd.NaNSignaling:
		return row.NewNumeric("NaN"), nil
	case apd.Infinite:
		if d.Negative {
			return row.NewNumeric("-Infinity"), nil
		}
		return row.NewNumeric("Infinity"), nil
	}
	if d.Exponent > 0 {
		var q apd.Decimal
		if _, err := roundCtx.Quantize(&q, d, 0); err != nil {
			return row.Null, errNumericOverflow
		}
		d = &q
	}
	if int64(d.NumDigits())+int64(d.Exponent) > numericMaxIntDigits {
		return row.Null, errNumericOverflow
	}
	if d.IsZero() && d.Negative {
		c := *d
		c.Negative = false
		d = &c
	}
	return row.NewNumeric(d.Text('f')), nil
}

// dscale is the display scale of a finite decimal.
func dscale(d *apd.Decimal) int32 {
	if d.Form != apd.Finite || d.Exponent >= 0 {
		return 0
	}
	return -d.Exponent
}

// roundNum rounds d to scale digits after the point, half away from zero
// (PostgreSQL's round_var). scale may be negative.
func roundNum(d *apd.Decimal, scale int32) (*apd.Decimal, error) {
	if d.Form != apd.Finite {
		return d, nil
	}
	var q apd.Decimal
	if _, err := roundCtx.Quantize(&q, d, -scale); err != nil {
		return nil, errNumericOverflow
	}
	if scale < 0 {
		// PostgreSQL keeps display scale 0 for negative rounding scales.
		if _, err := roundCtx.Quantize(&q, &q, 0); err != nil {
			return nil, errNumericOverflow
		}
	}
	return &q, nil
}

// weightAndFirst returns PostgreSQL's base-10000 weight of a nonzero finite
// d and its first base-10000 digit; (0, 0) for zero.
func weightAndFirst(d *apd.Decimal) (int64, int64) {
	if d.IsZero() {
		return 0, 0
	}
	digits := d.Coeff.String()
	ae := int64(len(digits)) - 1 + int64(d.Exponent) // |d| in [10^ae, 10^(ae+1))
	w := ae / 4
	if ae < 0 && ae%4 != 0 {
		w--
	}
	n := ae - 4*w + 1 // decimal digits in the first base-10000 digit
	first := int64(0)
	for i := int64(0); i < n; i++ {
		first *= 10
		if i < int64(len(digits)) {
			first += int64(digits[i] - '0')
		}
	}
	return w, first
}

// divScale is PostgreSQL's select_div_scale.
func divScale(a, b *apd.Decimal) int32 {
	w1, f1 := weightAndFirst(a)
	w2, f2 := weightAndFirst(b)
	qw := w1 - w2
	if f1 <= f2 {
		qw--
	}
	rs := int64(numericMinSigDigits) - qw*4
	rs = max(rs, int64(dscale(a)), int64(dscale(b)), 0)
	rs = min(rs, numericMaxDisplayScale)
	return int32(rs)
}

var errDivZero = errors.New("division by zero")

// divNum divides with result scale rscale, rounding half away from zero.
func divNum(a, b *apd.Decimal, rscale int32, trunc bool) (*apd.Decimal, error) {
	if b.Form == apd.Finite && b.IsZero() {
		return nil, errDivZero
	}
	if a.Form == apd.NaN || b.Form == apd.NaN {
		return &apd.Decimal{Form: apd.NaN}, nil
	}
	if a.Form == apd.Infinite {
		if b.Form == apd.Infinite {
			return &apd.Decimal{Form: apd.NaN}, nil
		}
		return &apd.Decimal{Form: apd.Infinite, Negative: a.Negative != b.Negative}, nil
	}
	if b.Form == apd.Infinite {
		return apd.New(0, 0), nil
	}
	// q = a/b * 10^rscale as an integer, from the exact coefficients.
	ca := a.Coeff.MathBigInt()
	cb := b.Coeff.MathBigInt()
	k := int64(a.Exponent) - int64(b.Exponent) + int64(rscale)
	if k > 2*numericMaxIntDigits || k < -2*numericMaxIntDigits {
		return nil, errNumericOverflow
	}
	if k >= 0 {
		ca.Mul(ca, pow10(k))
	} else {
		cb.Mul(cb, pow10(-k))
	}
	q, r := new(big.Int).QuoRem(ca, cb, new(big.Int))
	if !trunc {
		r.Lsh(r, 1)
		if r.Cmp(cb) >= 0 {
			q.Add(q, big.NewInt(1))
		}
	}
	res := new(apd.Decimal)
	res.Coeff.SetMathBigInt(q)
	res.Exponent = -rscale
	res.Negative = a.Negative != b.Negative && q.Sign() != 0
	return res, nil
}

func pow10(n int64) *big.Int {
	return new(big.Int).Exp(big.NewInt(10), big.NewInt(n), nil)
}

// numArith applies op (one of + - * / %) to numerics with PostgreSQL's
// result scales and special-value rules.
func numArith(op byte, a, b *apd.Decimal) (*apd.Decimal, error) {
	res := new(apd.Decimal)
	if a.Form == apd.NaN || b.Form == apd.NaN {
		if (op == '/' || op == '%') && b.Form == apd.Finite && b.IsZero() && a.Form != apd.NaN {
			return nil, errDivZero
		}
		return &apd.Decimal{Form: apd.NaN}, nil
	}
	nan := &apd.Decimal{Form: apd.NaN}
	switch op {
	case '+', '-':
		var err error
		if op == '+' {
			_, err = exactCtx.Add(res, a, b)
		} else {
			_, err = exactCtx.Sub(res, a, b)
		}
		if err != nil {
			return nan, nil // Infinity - Infinity
		}
		if res.Form == apd.Finite && res.IsZero() {
			res.Negative = false
		}
		return res, nil
	case '*':
		if _, err := exactCtx.Mul(res, a, b); err != nil {
			return nan, nil // Infinity * 0
		}
		return res, nil
	case '/':
		if a.Form != apd.Finite || b.Form != apd.Finite {
			return divNum(a, b, 0, false)
		}
		return divNum(a, b, divScale(a, b), false)
	case '%':
		if b.Form == apd.Finite && b.IsZero() {
			return nil, errDivZero
		}
		if a.Form == apd.Infinite {
			return nan, nil
		}
		if b.Form == apd.Infinite {
			return a, nil
		}
		// mod_var: a - trunc(a/b) * b, at scale max(dscale).
		q, err := divNum(a, b, 0, true)
		if err != nil {
			return nil, err
		}
		var p apd.Decimal
		if _, err := exactCtx.Mul(&p, q, b); err != nil {
			return nil, err
		}
		if _, err := exactCtx.Sub(res, a, &p); err != nil {
			return nil, err
		}
		if res.IsZero() {
			res.Negative = false
		}
		return res, nil
	}
	return nil, errors.New("bad numeric operator")
}

// numToInt converts a numeric to an integer type, rounding half away from
// zero (numeric_int4 and friends).
func numToInt(d *apd.Decimal, t row.Type) (int64, error) {
	name := intTypeNameShort(t)
	switch d.Form {
	case apd.NaN:
		return 0, errors.New("cannot convert NaN to " + name)
	case apd.Infinite:
		return 0, errors.New("cannot convert infinity to " + name)
	}
	r, err := roundNum(d, 0)
	if err != nil {
		return 0, intRangeErr(t)
	}
	v, err := r.Int64()
	if err != nil || !intFits(v, t) {
		return 0, intRangeErr(t)
	}
	return v, nil
}

func intTypeNameShort(t row.Type) string {
	switch t.OID {
	case row.OIDInt2:
		return "smallint"
	case row.OIDInt8:
		return "bigint"
	}
	return "integer"
}

func intRangeErr(t row.Type) error { return errors.New(intTypeNameShort(t) + " out of range") }

func intFits(v int64, t row.Type) bool {
	switch t.OID {
	case row.OIDInt2:
		return v >= math.MinInt16 && v <= math.MaxInt16
	case row.OIDInt4:
		return v >= math.MinInt32 && v <= math.MaxInt32
	}
	return true
}

// numFromInt makes a scale-0 decimal.
func numFromInt(v int64) *apd.Decimal { return apd.New(v, 0) }

// floatToNum converts like float8_numeric/float4_numeric: through "%.*g"
// with DBL_DIG (15) or FLT_DIG (6) significant digits.
func floatToNum(f float64, f4 bool) (*apd.Decimal, error) {
	switch {
	case math.IsNaN(f):
		return &apd.Decimal{Form: apd.NaN}, nil
	case math.IsInf(f, 0):
		return &apd.Decimal{Form: apd.Infinite, Negative: f < 0}, nil
	}
	dig := 15
	if f4 {
		dig = 6
	}
	s := strconv.FormatFloat(f, 'g', dig, 64)
	// %g strips trailing zeros, strconv 'g' with fixed precision does not.
	if mant, exp, ok := strings.Cut(s, "e"); ok {
		if strings.Contains(mant, ".") {
			mant = strings.TrimRight(strings.TrimRight(mant, "0"), ".")
		}
		s = mant + "e" + exp
	} else if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	n, ok := numericIn(s)
	if !ok {
		return nil, errors.New("invalid float")
	}
	return n, nil
}

// numericIn parses numeric input text as numeric_in does (after trimming
// whitespace): optional sign, digits with at most one point, optional
// exponent; the display scale is the digits after the point minus the
// exponent, at least 0.
func numericIn(s string) (*apd.Decimal, bool) {
	switch strings.ToLower(s) {
	case "nan":
		return &apd.Decimal{Form: apd.NaN}, true
	case "infinity", "+infinity", "inf", "+inf":
		return &apd.Decimal{Form: apd.Infinite}, true
	case "-infinity", "-inf":
		return &apd.Decimal{Form: apd.Infinite, Negative: true}, true
	}
	i := 0
	neg := false
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		neg = s[i] == '-'
		i++
	}
	var digits []byte
	nd, frac, seenPoint := 0, 0, false
	for ; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			digits = append(digits, c)
			nd++
			if seenPoint {
				frac++
			}
		case c == '.' && !seenPoint:
			seenPoint = true
		default:
			goto rest
		}
	}
rest:
	if nd == 0 {
		return nil, false
	}
	exp := int64(0)
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		e, err := strconv.ParseInt(s[i+1:], 10, 32)
		if err != nil || e > 1000 || e < -1000 {
			return nil, false
		}
		exp = e
		i = len(s)
	}
	if i != len(s) {
		return nil, false
	}
	d := new(apd.Decimal)
	bi, _ := new(big.Int).SetString(string(digits), 10)
	d.Coeff.SetMathBigInt(bi)
	d.Exponent = int32(exp - int64(frac))
	d.Negative = neg
	if d.Exponent > 0 {
		var q apd.Decimal
		if _, err := roundCtx.Quantize(&q, d, 0); err != nil {
			return nil, false
		}
		d = &q
	}
	if d.IsZero() {
		d.Negative = false
	}
	return d, true
}

// numToFloat converts a numeric to float8 (numeric_float8 goes through the
// text form and strtod, which rounds correctly).
func numToFloat(d *apd.Decimal) float64 {
	switch d.Form {
	case apd.NaN:
		return math.NaN()
	case apd.Infinite:
		if d.Negative {
			return math.Inf(-1)
		}
		return math.Inf(1)
	}
	f, _ := strconv.ParseFloat(d.Text('f'), 64)
	return f
}
