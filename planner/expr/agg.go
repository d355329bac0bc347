package expr

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"strings"

	"github.com/cockroachdb/apd/v3"
	"github.com/google/btree"

	"github.com/rippledb/ripple/dataflow"
	"github.com/rippledb/ripple/internal/row"
)

// NewAggregate builds the aggregate name(arg) for a Reduce whose input rows
// carry the argument in column argCol (arg describes its type and text).
// It returns the aggregate and its result type as PostgreSQL infers it.
//
// Every aggregate is retraction-safe: its state accepts negative weights
// and Result is always the aggregate of the rows currently held, computed
// exactly. Float sums are kept exactly and rounded once in Result, so they
// never drift under retractions; PostgreSQL adds floats one at a time in
// scan order, so its own result can differ in the last bits (and its
// sum(real) accumulates in single precision).
//
// Text min/max order bytewise (the "C" collation): the caller must check
// the collation with Compiler.CheckOrdering first.
func NewAggregate(name string, star, distinct bool, arg Expr, argCol int) (dataflow.Aggregate, row.Type, error) {
	name = strings.ToLower(name)
	if distinct {
		return nil, row.Type{}, fmt.Errorf("%s(DISTINCT ...) is not supported yet", name)
	}
	if star && name != "count" {
		return nil, row.Type{}, fmt.Errorf("%s(*) must be used to call a parameterless aggregate function", name)
	}
	label := fmt.Sprintf("%s(%s)", name, arg.Text)
	if star {
		label = "count(*)"
	}
	t := arg.Type
	if !star && t.OID == row.OIDUnknown && name != "count" {
		return nil, row.Type{}, fmt.Errorf("function %s(unknown) is not unique", name)
	}
	noFunc := func() error { return fmt.Errorf("function %s(%s) does not exist", name, typeName(t)) }
	switch name {
	case "count":
		return &aggregate{label: label, mk: func() dataflow.AggState { return &countState{col: argCol, star: star} }}, row.Int8, nil
	case "sum", "avg":
		avg := name == "avg"
		var res row.Type
		switch t.OID {
		case row.OIDInt2, row.OIDInt4:
			res = row.Int8
		case row.OIDInt8, row.OIDNumeric:
			res = row.Numeric
		case row.OIDFloat4:
			res = row.Float4
		case row.OIDFloat8:
			res = row.Float8
		default:
			return nil, row.Type{}, noFunc()
		}
		if avg {
			if isFloatType(t) {
				res = row.Float8
			} else {
				res = row.Numeric
			}
		}
		kind := t.OID
		return &aggregate{label: label, mk: func() dataflow.AggState {
			return &sumState{col: argCol, kind: kind, avg: avg, res: res, scales: map[int32]int64{}}
		}}, res, nil
	case "min", "max":
		res := row.Type{OID: t.OID, Mod: -1}
		var cmpf func(a, b row.Datum) int
		switch typeCategory(t) {
		case 'N':
			switch {
			case isIntType(t):
				cmpf = func(a, b row.Datum) int { return cmpInt(a.Int(), b.Int()) }
			case isFloatType(t):
				cmpf = func(a, b row.Datum) int { return compareFloat(a.Float(), b.Float()) }
			default:
				cmpf = func(a, b row.Datum) int { return row.CompareNumeric(a.Str(), b.Str()) }
			}
		case 'S':
			if t.OID == row.OIDBpchar {
				cmpf = func(a, b row.Datum) int {
					return strings.Compare(strings.TrimRight(a.Str(), " "), strings.TrimRight(b.Str(), " "))
				}
			} else {
				res = row.Text
				cmpf = func(a, b row.Datum) int { return strings.Compare(a.Str(), b.Str()) }
			}
		case 'D':
			cmpf = func(a, b row.Datum) int { return cmpInt(a.Int(), b.Int()) }
		default:
			return nil, row.Type{}, noFunc()
		}
		isMax := name == "max"
		return &aggregate{label: label, mk: func() dataflow.AggState {
			less := func(a, b *mmItem) bool {
				if c := cmpf(a.d, b.d); c != 0 {
					return c < 0
				}
				return a.repr < b.repr
			}
			return &minMaxState{col: argCol, max: isMax, tree: btree.NewG(16, less)}
		}}, res, nil
	}
	if IsAggregate(name) {
		return nil, row.Type{}, fmt.Errorf("aggregate function %s is not supported yet", name)
	}
	return nil, row.Type{}, fmt.Errorf("function %s is not an aggregate", name)
}

// CheckOrdering returns an error when values of e cannot be ordered
// exactly as PostgreSQL would (text under a non-C collation); the planner
// calls it for min/max arguments and ORDER BY-like uses.
func (c *Compiler) CheckOrdering(e Expr, loc int) error {
	if typeCategory(e.Type) != 'S' && e.Type.OID != row.OIDUnknown {
		return nil
	}
	if err := textCollatable(c, e, Expr{}); err != nil {
		return c.errAt(loc, err)
	}
	return nil
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

type aggregate struct {
	label string
	mk    func() dataflow.AggState
}

func (a *aggregate) New() dataflow.AggState { return a.mk() }
func (a *aggregate) String() string         { return a.label }

var _ dataflow.Aggregate = (*aggregate)(nil)

type countState struct {
	col  int
	star bool
	n    int64
}

func (s *countState) Add(r row.Row, w row.Weight) error {
	if s.star || !r[s.col].IsNull() {
		s.n += int64(w)
	}
	return nil
}

func (s *countState) Result() (row.Datum, error) { return row.NewInt(s.n), nil }

// sumState keeps an exact running sum for sum and avg: a big integer for
// integer inputs, an exact decimal plus a multiset of display scales for
// numeric, an exact binary sum for floats, and counts of the special
// values (NaN, ±Infinity), which absorb everything else.
type sumState struct {
	col    int
	kind   row.OID
	avg    bool
	res    row.Type
	n      int64           // non-NULL inputs
	isum   big.Int         // integer inputs
	dsum   apd.Decimal     // numeric inputs
	scales map[int32]int64 // numeric display scale → count
	fsum   *big.Float      // float inputs
	nan    int64
	pinf   int64
	ninf   int64
}

func (s *sumState) Add(r row.Row, w row.Weight) error {
	d := r[s.col]
	if d.IsNull() {
		return nil
	}
	wt := int64(w)
	s.n += wt
	switch s.kind {
	case row.OIDInt2, row.OIDInt4, row.OIDInt8:
		var p big.Int
		p.Mul(big.NewInt(d.Int()), big.NewInt(wt))
		s.isum.Add(&s.isum, &p)
	case row.OIDNumeric:
		n, err := parseNum(d.Str())
		if err != nil {
			return err
		}
		switch n.Form {
		case apd.NaN:
			s.nan += wt
			return nil
		case apd.Infinite:
			if n.Negative {
				s.ninf += wt
			} else {
				s.pinf += wt
			}
			return nil
		}
		sc := dscale(n)
		s.scales[sc] += wt
		if s.scales[sc] == 0 {
			delete(s.scales, sc)
		}
		var p apd.Decimal
		if _, err := exactCtx.Mul(&p, n, apd.New(wt, 0)); err != nil {
			return err
		}
		if _, err := exactCtx.Add(&s.dsum, &s.dsum, &p); err != nil {
			return err
		}
	default:
		f := d.Float()
		switch {
		case math.IsNaN(f):
			s.nan += wt
			return nil
		case math.IsInf(f, 1):
			s.pinf += wt
			return nil
		case math.IsInf(f, -1):
			s.ninf += wt
			return nil
		}
		if s.fsum == nil {
			s.fsum = new(big.Float).SetPrec(4096)
		}
		p := new(big.Float).SetPrec(4096).SetFloat64(f)
		p.Mul(p, new(big.Float).SetInt64(wt))
		s.fsum.Add(s.fsum, p)
	}
	return nil
}

func (s *sumState) Result() (row.Datum, error) {
	if s.n == 0 {
		return row.Null, nil
	}
	float := s.kind == row.OIDFloat4 || s.kind == row.OIDFloat8
	if s.nan > 0 || (s.pinf > 0 && s.ninf > 0) {
		if float {
			return mkFloat(math.NaN(), s.res.OID == row.OIDFloat4), nil
		}
		return row.NewNumeric("NaN"), nil
	}
	if s.pinf > 0 || s.ninf > 0 {
		if float {
			return mkFloat(math.Inf(int(s.pinf-s.ninf)), s.res.OID == row.OIDFloat4), nil
		}
		if s.pinf > 0 {
			return row.NewNumeric("Infinity"), nil
		}
		return row.NewNumeric("-Infinity"), nil
	}
	switch {
	case float:
		f := 0.0
		if s.fsum != nil {
			f, _ = s.fsum.Float64()
		}
		if math.IsInf(f, 0) {
			return row.Null, errFloatOverflow
		}
		if s.avg {
			return row.NewFloat(f / float64(s.n)), nil
		}
		if s.res.OID == row.OIDFloat4 {
			return floatToFloat4(f)
		}
		return row.NewFloat(f), nil
	case s.kind == row.OIDNumeric:
		maxScale := int32(0)
		for sc := range s.scales {
			maxScale = max(maxScale, sc)
		}
		var sum apd.Decimal
		if _, err := roundCtx.Quantize(&sum, &s.dsum, -maxScale); err != nil {
			return row.Null, errNumericOverflow
		}
		if sum.IsZero() {
			sum.Negative = false
		}
		if s.avg {
			q, err := numArith('/', &sum, apd.New(s.n, 0))
			if err != nil {
				return row.Null, err
			}
			return numDatum(q)
		}
		return numDatum(&sum)
	default:
		if s.avg {
			sum := new(apd.Decimal)
			sum.Coeff.SetMathBigInt(new(big.Int).Abs(&s.isum))
			sum.Negative = s.isum.Sign() < 0
			q, err := numArith('/', sum, apd.New(s.n, 0))
			if err != nil {
				return row.Null, err
			}
			return numDatum(q)
		}
		if s.res.OID == row.OIDInt8 {
			if !s.isum.IsInt64() {
				return row.Null, errors.New("bigint out of range")
			}
			return row.NewInt(s.isum.Int64()), nil
		}
		return row.NewNumeric(s.isum.String()), nil
	}
}

// mmItem is one distinct value in a min/max multiset.
type mmItem struct {
	d    row.Datum
	repr string // distinguishes equal values with different text (1.0 vs 1.00)
	n    int64
}

// minMaxState keeps the multiset of non-NULL inputs in a B-tree, so that
// retracting the current extreme finds the next one in O(log n).
type minMaxState struct {
	col  int
	max  bool
	tree *btree.BTreeG[*mmItem]
}

func (s *minMaxState) Add(r row.Row, w row.Weight) error {
	d := r[s.col]
	if d.IsNull() {
		return nil
	}
	key := &mmItem{d: d, repr: row.FormatText(d)}
	it, ok := s.tree.Get(key)
	if !ok {
		it = key
		s.tree.ReplaceOrInsert(it)
	}
	it.n += int64(w)
	switch {
	case it.n == 0:
		s.tree.Delete(it)
	case it.n < 0:
		return fmt.Errorf("min/max: value %s retracted more often than added", key.repr)
	}
	return nil
}

func (s *minMaxState) Result() (row.Datum, error) {
	var it *mmItem
	var ok bool
	if s.max {
		it, ok = s.tree.Max()
	} else {
		it, ok = s.tree.Min()
	}
	if !ok {
		return row.Null, nil
	}
	return it.d, nil
}
