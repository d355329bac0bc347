package expr

import (
	"errors"
	"math"
	"math/big"

	"github.com/cockroachdb/apd/v3"

	"github.com/rippledb/ripple/internal/row"
)

var mathFuncs = map[string]func(c *Compiler, f *funcCtx) (Expr, error){
	"mod": mathMod, "power": mathPower, "pow": mathPower, "sqrt": mathSqrt,
	"ceil": mathRound1, "ceiling": mathRound1, "floor": mathRound1, "trunc": mathTrunc, "sign": mathRound1,
	"exp": refuseTranscendental, "ln": refuseTranscendental, "log": refuseTranscendental,
	"log10": refuseTranscendental, "cbrt": refuseTranscendental,
}

// floatOrNumeric resolves a function with float8 and numeric overloads for
// one argument: numeric stays numeric, every other number (and unknown)
// goes to float8, PostgreSQL's preferred numeric type.
func floatOrNumeric(t row.Type) (row.Type, bool) {
	switch {
	case t.OID == row.OIDNumeric:
		return row.Numeric, true
	case typeCategory(t) == 'N', t.OID == row.OIDUnknown:
		return row.Float8, true
	}
	return row.Type{}, false
}

// mathMod is mod(): int2, int4, int8 and numeric overloads, as the %
// operator.
func mathMod(c *Compiler, f *funcCtx) (Expr, error) {
	if len(f.args) != 2 {
		return Expr{}, f.notExist()
	}
	l, r := f.args[0], f.args[1]
	if l.Type.OID == row.OIDUnknown && r.Type.OID == row.OIDUnknown {
		return Expr{}, c.errorf(f.loc, "function mod(unknown, unknown) is not unique")
	}
	l, r, err := resolveUnknown(l, r)
	if err != nil {
		return Expr{}, c.errAt(f.loc, err)
	}
	if typeCategory(l.Type) != 'N' || typeCategory(r.Type) != 'N' || isFloatType(l.Type) || isFloatType(r.Type) {
		return Expr{}, f.notExist()
	}
	t := arithType(l.Type, r.Type)
	var fn func(a, b row.Datum) (row.Datum, error)
	if isIntType(t) {
		fn = intOp("%", t)
	} else {
		fn = func(a, b row.Datum) (row.Datum, error) {
			n, err := numArith('%', datumNum(a), datumNum(b))
			if err != nil {
				return row.Null, err
			}
			return numDatum(n)
		}
	}
	return c.located(binaryExpr(t, f.text, l, r, fn), f.loc), nil
}

// mathPower is power()/pow(). The float8 overload is computed exactly for
// a constant integer exponent (|y| ≤ 4096) and as a square root for 0.5,
// both correctly rounded like glibc's pow; other exponents are refused
// because Go's math.Pow may differ from glibc in the last bit. The numeric
// overload is refused: its result scale follows power_var's rules, not
// reproduced here.
func mathPower(c *Compiler, f *funcCtx) (Expr, error) {
	if len(f.args) != 2 {
		return Expr{}, f.notExist()
	}
	t := row.Float8
	anyFloat, anyNum := false, false
	for _, a := range f.args {
		switch {
		case isFloatType(a.Type):
			anyFloat = true
		case a.Type.OID == row.OIDNumeric:
			anyNum = true
		case typeCategory(a.Type) == 'N', a.Type.OID == row.OIDUnknown:
		default:
			return Expr{}, f.notExist()
		}
	}
	if anyNum && !anyFloat {
		return Expr{}, c.errorf(f.loc, "%s(numeric, numeric) is not supported yet: its result scale rules are not reproduced", f.name)
	}
	if !f.coerce(t, t) {
		return Expr{}, f.notExist()
	}
	y := f.args[1]
	if !y.Const {
		return Expr{}, c.errorf(f.loc, "%s(double precision, double precision) is supported only with a constant exponent", f.name)
	}
	yd, err := y.Eval(nil)
	if err != nil {
		return Expr{}, c.errAt(f.loc, err)
	}
	if yd.IsNull() {
		return c.strict(f, t, func([]row.Datum) (row.Datum, error) { return row.Null, nil }), nil
	}
	yv := yd.Float()
	if !(yv == 0.5 || (yv == math.Trunc(yv) && math.Abs(yv) <= 4096)) {
		return Expr{}, c.errorf(f.loc, "%s(double precision, double precision) is supported only with an integer exponent or 0.5 (got %s)", f.name, row.FormatText(yd))
	}
	return c.strict(f, t, func(ds []row.Datum) (row.Datum, error) {
		r, err := floatPow(ds[0].Float(), ds[1].Float())
		if err != nil {
			return row.Null, err
		}
		return row.NewFloat(r), nil
	}), nil
}

// floatPow is dpow (float.c) for y an integer or 0.5.
func floatPow(x, y float64) (float64, error) {
	switch {
	case math.IsNaN(x):
		if y != 0 {
			return math.NaN(), nil
		}
		return 1, nil
	case x == 0 && y < 0:
		return 0, errors.New("zero raised to a negative power is undefined")
	case x < 0 && math.Floor(y) != y:
		return 0, errors.New("a negative number raised to a non-integer power yields a complex result")
	case math.IsInf(x, 0):
		return math.Pow(x, y), nil
	}
	var r float64
	if y == 0.5 {
		r = math.Sqrt(x)
	} else {
		n := int64(math.Abs(y))
		bx := new(big.Float).SetPrec(uint(53*max(n, 1) + 64)).SetFloat64(x)
		acc := new(big.Float).SetPrec(bx.Prec()).SetInt64(1)
		for i := int64(0); i < n; i++ {
			acc.Mul(acc, bx) // exact: the precision holds every product
		}
		if y < 0 {
			q := new(big.Float).SetPrec(2048)
			q.Quo(new(big.Float).SetPrec(2048).SetInt64(1), acc)
			acc = q
		}
		r, _ = acc.Float64()
	}
	if math.IsInf(r, 0) {
		return 0, errors.New("value out of range: overflow")
	}
	if r == 0 && x != 0 {
		return 0, errors.New("value out of range: underflow")
	}
	return r, nil
}

func mathSqrt(c *Compiler, f *funcCtx) (Expr, error) {
	if len(f.args) != 1 {
		return Expr{}, f.notExist()
	}
	t, ok := floatOrNumeric(f.args[0].Type)
	if !ok || !f.coerce(t) {
		return Expr{}, f.notExist()
	}
	neg := errors.New("cannot take square root of a negative number")
	if t.OID == row.OIDFloat8 {
		return c.strict(f, t, func(ds []row.Datum) (row.Datum, error) {
			x := ds[0].Float()
			if x < 0 {
				return row.Null, neg
			}
			return row.NewFloat(math.Sqrt(x)), nil
		}), nil
	}
	return c.strict(f, t, func(ds []row.Datum) (row.Datum, error) {
		n := datumNum(ds[0])
		switch {
		case n.Form == apd.NaN:
			return ds[0], nil
		case n.Negative && !n.IsZero():
			return row.Null, neg
		case n.Form == apd.Infinite:
			return ds[0], nil
		}
		// numeric_sqrt: at least NUMERIC_MIN_SIG_DIGITS significant digits,
		// never fewer than the input's scale.
		w, _ := weightAndFirst(n)
		sweight := (w+1)*4/2 - 1
		rscale := max(int64(numericMinSigDigits)-sweight, int64(dscale(n)), 0)
		rscale = min(rscale, numericMaxDisplayScale)
		return numDatum(sqrtNum(n, int32(rscale)))
	}), nil
}

// mathRound1 is ceil/ceiling/floor/sign over float8 or numeric.
func mathRound1(c *Compiler, f *funcCtx) (Expr, error) {
	if len(f.args) != 1 {
		return Expr{}, f.notExist()
	}
	t, ok := floatOrNumeric(f.args[0].Type)
	if !ok || !f.coerce(t) {
		return Expr{}, f.notExist()
	}
	name := f.name
	if t.OID == row.OIDFloat8 {
		return c.strict(f, t, func(ds []row.Datum) (row.Datum, error) {
			x := ds[0].Float()
			switch name {
			case "ceil", "ceiling":
				return row.NewFloat(math.Ceil(x)), nil
			case "floor":
				return row.NewFloat(math.Floor(x)), nil
			}
			switch {
			case x > 0:
				return row.NewFloat(1), nil
			case x < 0:
				return row.NewFloat(-1), nil
			}
			return row.NewFloat(0), nil
		}), nil
	}
	return c.strict(f, t, func(ds []row.Datum) (row.Datum, error) {
		n := datumNum(ds[0])
		if name == "sign" {
			switch {
			case n.Form == apd.NaN:
				return ds[0], nil
			case n.IsZero():
				return row.NewNumeric("0"), nil
			case n.Negative:
				return row.NewNumeric("-1"), nil
			}
			return row.NewNumeric("1"), nil
		}
		if n.Form != apd.Finite {
			return ds[0], nil
		}
		// truncate, then step away from zero when that moved the value the
		// wrong way (floor of a negative, ceil of a positive)
		ctx := *roundCtx
		ctx.Rounding = apd.RoundDown
		var q apd.Decimal
		if _, err := ctx.Quantize(&q, n, 0); err != nil {
			return row.Null, errNumericOverflow
		}
		if q.Cmp(n) != 0 {
			if name == "floor" && n.Negative {
				if _, err := exactCtx.Sub(&q, &q, apd.New(1, 0)); err != nil {
					return row.Null, errNumericOverflow
				}
			} else if name != "floor" && !n.Negative {
				if _, err := exactCtx.Add(&q, &q, apd.New(1, 0)); err != nil {
					return row.Null, errNumericOverflow
				}
			}
		}
		return numDatum(&q)
	}), nil
}

// mathTrunc is trunc(float8), trunc(numeric) and trunc(numeric, int4).
func mathTrunc(c *Compiler, f *funcCtx) (Expr, error) {
	if len(f.args) == 1 {
		t, ok := floatOrNumeric(f.args[0].Type)
		if !ok || !f.coerce(t) {
			return Expr{}, f.notExist()
		}
		if t.OID == row.OIDFloat8 {
			return c.strict(f, t, func(ds []row.Datum) (row.Datum, error) { return row.NewFloat(math.Trunc(ds[0].Float())), nil }), nil
		}
		f.args = append(f.args, Expr{Type: row.Int4, Const: true, Eval: func(row.Row) (row.Datum, error) { return row.NewInt(0), nil }})
	}
	if len(f.args) != 2 || isFloatType(f.args[0].Type) || !f.coerce(row.Numeric, row.Int4) {
		return Expr{}, f.notExist()
	}
	return c.strict(f, row.Numeric, func(ds []row.Datum) (row.Datum, error) {
		n := datumNum(ds[0])
		if n.Form != apd.Finite {
			return ds[0], nil
		}
		s := int32(max(min(ds[1].Int(), 2000), -2000))
		ctx := *roundCtx
		ctx.Rounding = apd.RoundDown
		var q apd.Decimal
		if _, err := ctx.Quantize(&q, n, -s); err != nil {
			return row.Null, errNumericOverflow
		}
		if s < 0 {
			if _, err := ctx.Quantize(&q, &q, 0); err != nil {
				return row.Null, errNumericOverflow
			}
		}
		return numDatum(&q)
	}), nil
}

func refuseTranscendental(c *Compiler, f *funcCtx) (Expr, error) {
	return Expr{}, c.errorf(f.loc, "%s is not supported yet: its results are not reproduced to PostgreSQL's last digit (numeric scale rules, libm rounding)", f.name)
}
