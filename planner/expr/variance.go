package expr

import (
	"fmt"
	"math/big"

	"github.com/cockroachdb/apd/v3"

	"github.com/rippledb/ripple/dataflow"
	"github.com/rippledb/ripple/internal/row"
)

// newVariance builds stddev, stddev_samp, stddev_pop, variance, var_samp
// and var_pop. Integer and numeric inputs give numeric results computed
// exactly as numeric_stddev_internal does (exact sums of x and x², one
// division at select_div_scale's scale, a square root at the same scale).
// Float inputs are refused (see below).
func newVariance(name string, arg Expr, argCol int) (dataflow.Aggregate, row.Type, error) {
	v := varianceNames[name]
	stddev, sample := v[0], v[1]
	res := row.Numeric
	switch arg.Type.OID {
	case row.OIDInt2, row.OIDInt4, row.OIDInt8, row.OIDNumeric:
	case row.OIDFloat4, row.OIDFloat8:
		// PostgreSQL accumulates float variances row by row in scan order
		// (Youngs-Cramer), so the last digits of its result depend on the
		// order it happens to read the rows in: no maintained value can
		// match it exactly.
		return nil, row.Type{}, fmt.Errorf("%s(%s) is not supported: PostgreSQL's floating-point result depends on the order rows are scanned; use %s(x::numeric) for an exact result", name, typeName(arg.Type), name)
	default:
		return nil, row.Type{}, fmt.Errorf("function %s(%s) does not exist", name, typeName(arg.Type))
	}
	label := fmt.Sprintf("%s(%s)", name, arg.Text)
	return &aggregate{label: label, mk: func() dataflow.AggState {
		return &varianceState{col: argCol, stddev: stddev, sample: sample}
	}}, res, nil
}

type varianceState struct {
	col            int
	stddev, sample bool
	n              int64 // non-NULL inputs, specials included
	nan, inf       int64
	sum, sum2      apd.Decimal // exact sums of x and x²
	scales         scaleSet    // display scales of the inputs
}

func (s *varianceState) Add(r row.Row, w row.Weight) error {
	d := r[s.col]
	if d.IsNull() {
		return nil
	}
	wt := int64(w)
	s.n += wt
	var x *apd.Decimal
	if d.Kind() == row.KindInt {
		x = apd.New(d.Int(), 0)
	} else {
		var err error
		if x, err = parseNum(d.Str()); err != nil {
			return err
		}
		switch x.Form {
		case apd.NaN:
			s.nan += wt
			return nil
		case apd.Infinite:
			s.inf += wt
			return nil
		}
	}
	sc := dscale(x)
	s.scales.add(sc, wt)
	var p, x2 apd.Decimal
	bw := apd.New(wt, 0)
	if _, err := exactCtx.Mul(&p, x, bw); err != nil {
		return err
	}
	if _, err := exactCtx.Add(&s.sum, &s.sum, &p); err != nil {
		return err
	}
	if _, err := exactCtx.Mul(&x2, x, x); err != nil {
		return err
	}
	if _, err := exactCtx.Mul(&x2, &x2, bw); err != nil {
		return err
	}
	_, err := exactCtx.Add(&s.sum2, &s.sum2, &x2)
	return err
}

func (s *varianceState) Result() (row.Datum, error) {
	if s.n == 0 || (s.sample && s.n <= 1) {
		return row.Null, nil
	}
	if s.nan > 0 || s.inf > 0 {
		return row.NewNumeric("NaN"), nil
	}
	maxScale := s.scales.max()
	rscale := 2 * maxScale
	n := apd.New(s.n, 0)
	var sq, nx2, num apd.Decimal
	if _, err := exactCtx.Mul(&sq, &s.sum, &s.sum); err != nil {
		return row.Null, err
	}
	if _, err := exactCtx.Mul(&nx2, n, &s.sum2); err != nil {
		return row.Null, err
	}
	if _, err := exactCtx.Sub(&num, &nx2, &sq); err != nil {
		return row.Null, err
	}
	if num.Sign() <= 0 {
		return row.NewNumeric("0"), nil
	}
	if _, err := roundCtx.Quantize(&num, &num, -rscale); err != nil {
		return row.Null, errNumericOverflow
	}
	den := apd.New(s.n*s.n, 0)
	if s.sample {
		den = apd.New(s.n*(s.n-1), 0)
	}
	rs := divScale(&num, den)
	q, err := divNum(&num, den, rs, false)
	if err != nil {
		return row.Null, err
	}
	if s.stddev {
		q = sqrtNum(q, rs)
	}
	return numDatum(q)
}

// sqrtNum is the square root of non-negative d rounded half up to rscale
// digits: floor(√d) at one more digit, then rounded.
func sqrtNum(d *apd.Decimal, rscale int32) *apd.Decimal {
	// √(c·10^e) · 10^(rscale+1) = √(c · 10^(e + 2·rscale + 2)).
	c := d.Coeff.MathBigInt()
	k := int64(d.Exponent) + 2*int64(rscale) + 2
	if k >= 0 {
		c.Mul(c, pow10(k))
	} else {
		c.Quo(c, pow10(-k)) // cannot happen: d's scale is at most rscale
	}
	r := new(big.Int).Sqrt(c)
	q, m := new(big.Int).QuoRem(r, big.NewInt(10), new(big.Int))
	if m.Int64() >= 5 {
		q.Add(q, big.NewInt(1))
	}
	res := new(apd.Decimal)
	res.Coeff.SetMathBigInt(q)
	res.Exponent = -rscale
	return res
}
