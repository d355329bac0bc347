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
	call := AggCall{Name: name, Star: star, Distinct: distinct, Filter: -1}
	if !star {
		call.Args, call.ArgCols = []Expr{arg}, []int{argCol}
	}
	return NewAggregateCall(call)
}

func newAggregate(name string, star bool, arg Expr, argCol int) (dataflow.Aggregate, row.Type, error) {
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
		if t.OID == row.OIDInterval {
			return &aggregate{label: label, mk: func() dataflow.AggState { return &intervalSum{col: argCol, avg: avg} }}, row.Interval, nil
		}
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
			return &sumState{col: argCol, kind: kind, avg: avg, res: res}
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
				cmpf = func(a, b row.Datum) int { return row.CompareFloat(a.Float(), b.Float()) }
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
		case 'T':
			cmpf = func(a, b row.Datum) int { return row.CompareInterval(a.Interval(), b.Interval()) }
		case 'E':
			cmpf = row.Compare
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
	n      int64       // non-NULL inputs
	isum   big.Int     // integer inputs
	dsum   apd.Decimal // numeric inputs
	scales scaleSet    // numeric display scales of the inputs
	fsum   *big.Float  // float inputs
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
		s.scales.add(sc, wt)
		p := n
		if wt != 1 {
			p = new(apd.Decimal)
			if _, err := exactCtx.Mul(p, n, apd.New(wt, 0)); err != nil {
				return err
			}
		}
		if _, err := exactCtx.Add(&s.dsum, &s.dsum, p); err != nil {
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
		maxScale := s.scales.max()
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

// scaleSet is a multiset of numeric display scales (an aggregate's result
// takes the largest); a few distinct scales at most, so a slice.
type scaleSet []scaleCount

type scaleCount struct {
	scale int32
	n     int64
}

func (s *scaleSet) add(sc int32, w int64) {
	for i := range *s {
		if (*s)[i].scale == sc {
			if (*s)[i].n += w; (*s)[i].n == 0 {
				(*s)[i] = (*s)[len(*s)-1]
				*s = (*s)[:len(*s)-1]
			}
			return
		}
	}
	*s = append(*s, scaleCount{sc, w})
}

// max is the largest scale held (0 when none).
func (s scaleSet) max() int32 {
	m := int32(0)
	for _, c := range s {
		m = max(m, c.scale)
	}
	return m
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

// AggOrder is one ORDER BY key inside an aggregate call.
type AggOrder struct {
	Expr       Expr
	Col        int // its column in the Reduce's input rows
	Desc       bool
	NullsFirst bool
}

// AggCall describes an aggregate call for NewAggregateCall: the compiled
// arguments, where the Reduce's input rows carry them, and the call's
// DISTINCT, ORDER BY and FILTER (WHERE ...) clauses.
type AggCall struct {
	Name     string
	Star     bool
	Distinct bool
	Args     []Expr
	ArgCols  []int
	// Filter is the column of the FILTER condition (a boolean; NULL and
	// false drop the row), -1 when there is none; FilterText is its SQL.
	Filter     int
	FilterText string
	Order      []AggOrder
}

// orderSensitive aggregates give results that depend on the order of their
// inputs.
var orderSensitive = map[string]bool{"string_agg": true, "array_agg": true, "json_agg": true, "jsonb_agg": true}

// distinctInsensitive aggregates give the same result with DISTINCT.
var distinctInsensitive = map[string]bool{"min": true, "max": true, "bool_and": true, "bool_or": true, "every": true}

// varianceNames maps the standard-deviation and variance aggregates to
// (stddev?, sample?).
var varianceNames = map[string][2]bool{
	"stddev": {true, true}, "stddev_samp": {true, true}, "stddev_pop": {true, false},
	"variance": {false, true}, "var_samp": {false, true}, "var_pop": {false, false},
}

// CoerceAggArgs applies the implicit casts PostgreSQL's function
// resolution applies to an aggregate's arguments (string_agg's value and
// delimiter become text or bytea).
func CoerceAggArgs(name string, args []Expr) ([]Expr, error) {
	if strings.ToLower(name) != "string_agg" || len(args) != 2 {
		return args, nil
	}
	target := row.Text
	if args[0].Type.OID == row.OIDBytea || (args[0].Type.OID == row.OIDUnknown && args[1].Type.OID == row.OIDBytea) {
		target = row.Type{OID: row.OIDBytea, Mod: -1}
	}
	out := make([]Expr, 2)
	for i, a := range args {
		if a.Type != target && !implicitCast(a.Type, target) {
			return nil, fmt.Errorf("function string_agg(%s, %s) does not exist", typeName(args[0].Type), typeName(args[1].Type))
		}
		c, err := Cast(a, target, false)
		if err != nil {
			return nil, err
		}
		out[i] = c
	}
	return out, nil
}

// NewAggregateCall builds the aggregate of call for a Reduce, with its
// result type. See NewAggregate for what every aggregate guarantees.
func NewAggregateCall(call AggCall) (dataflow.Aggregate, row.Type, error) {
	name := strings.ToLower(call.Name)
	var arg Expr
	argCol := -1
	if !call.Star && len(call.Args) > 0 {
		arg, argCol = call.Args[0], call.ArgCols[0]
	}
	if call.Distinct {
		switch {
		case name == "count", distinctInsensitive[name]:
		case (name == "sum" || name == "avg") && isIntType(arg.Type):
		case collectNames[name] && arg.Type.Kind() != row.KindNumeric && arg.Type.Kind() != row.KindFloat && arg.Type.Kind() != row.KindJSON:
			// Equal values print alike: which of them DISTINCT keeps does
			// not show.
		case name == "sum" || name == "avg":
			// The display scale (numeric) or sign of zero (float) of the
			// result would depend on which of several equal values
			// PostgreSQL's sort keeps.
			return nil, row.Type{}, fmt.Errorf("%s(DISTINCT ...) is supported for integer arguments only (with %s, equal values may differ in display and PostgreSQL keeps an unspecified one)", name, typeName(arg.Type))
		default:
			return nil, row.Type{}, fmt.Errorf("%s(DISTINCT ...) is not supported yet", name)
		}
		if arg.Type.OID == row.OIDJSON {
			return nil, row.Type{}, fmt.Errorf("could not identify an equality operator for type json")
		}
	}
	if len(call.Order) > 0 && !orderSensitive[name] && name != "count" && !IsAggregate(name) {
		return nil, row.Type{}, fmt.Errorf("function %s is not an aggregate", name)
	}
	var agg dataflow.Aggregate
	var typ row.Type
	var err error
	nargs := len(call.Args)
	switch {
	case name == "string_agg":
		if nargs != 2 {
			return nil, row.Type{}, fmt.Errorf("function string_agg with %d arguments does not exist", nargs)
		}
		agg, typ, err = newStringAgg(call)
	case collectNames[name]:
		agg, typ, err = newCollectAgg(name, call)
	case nargs > 1:
		return nil, row.Type{}, fmt.Errorf("%s with %d arguments is not supported", name, nargs)
	case name == "bool_and" || name == "bool_or" || name == "every":
		if arg.Type.OID != row.OIDBool && arg.Type.OID != row.OIDUnknown {
			return nil, row.Type{}, fmt.Errorf("function %s(%s) does not exist", name, typeName(arg.Type))
		}
		and := name != "bool_or"
		agg = &aggregate{label: fmt.Sprintf("%s(%s)", name, arg.Text), mk: func() dataflow.AggState { return &boolState{col: argCol, and: and} }}
		typ = row.Bool
	case isVariance(name):
		agg, typ, err = newVariance(name, arg, argCol)
	default:
		agg, typ, err = newAggregate(name, call.Star, arg, argCol)
	}
	if err != nil {
		return nil, row.Type{}, err
	}
	if call.Distinct || call.Filter >= 0 {
		a := agg.(*aggregate)
		label := a.label
		if call.Distinct {
			label = strings.Replace(label, "(", "(DISTINCT ", 1)
		}
		if call.Filter >= 0 {
			label += " FILTER (WHERE " + call.FilterText + ")"
		}
		inner, distinct, filter := a.mk, call.Distinct, call.Filter
		agg = &aggregate{label: label, mk: func() dataflow.AggState {
			s := inner()
			if distinct {
				s = &distinctState{inner: s, col: argCol, seen: map[string]*distinctValue{}, keepNull: collectNames[name]}
			}
			if filter >= 0 {
				f := filterState{inner: s, col: filter}
				if _, ok := s.(dataflow.EncodableState); ok {
					return &encFilterState{f}
				}
				s = &f
			}
			return s
		}}
	}
	return agg, typ, nil
}

// filterState passes on only the rows whose FILTER condition is true.
type filterState struct {
	inner dataflow.AggState
	col   int
}

func (s *filterState) Add(r row.Row, w row.Weight) error {
	if d := r[s.col]; d.IsNull() || !d.Bool() {
		return nil
	}
	return s.inner.Add(r, w)
}

func (s *filterState) Result() (row.Datum, error) { return s.inner.Result() }

type distinctValue struct {
	row row.Row // the row that brought the value in, retracted with it
	n   row.Weight
}

// distinctState passes on one row per distinct non-NULL value of col (SQL
// equality), keeping every value's multiplicity.
type distinctState struct {
	inner dataflow.AggState
	col   int
	seen  map[string]*distinctValue
	// keepNull counts NULL as a value (array_agg and json_agg collect
	// NULLs; the other aggregates skip them).
	keepNull bool
}

func (s *distinctState) Add(r row.Row, w row.Weight) error {
	d := r[s.col]
	if d.IsNull() && !s.keepNull {
		return nil
	}
	k := string(row.AppendKey(nil, d))
	v, ok := s.seen[k]
	if !ok {
		v = &distinctValue{row: r}
		s.seen[k] = v
	}
	// Within a step a retraction may come before the insertion it
	// cancels, so a multiplicity may pass through negative values.
	before := v.n
	v.n += w
	var err error
	switch {
	case before <= 0 && v.n > 0:
		v.row = r
		err = s.inner.Add(r, 1)
	case before > 0 && v.n <= 0:
		err = s.inner.Add(v.row, -1)
	}
	if v.n == 0 {
		delete(s.seen, k)
	}
	return err
}

func (s *distinctState) Result() (row.Datum, error) { return s.inner.Result() }

// boolState is bool_and/every (and) or bool_or: counts of true and false
// inputs; NULL over no non-NULL input.
type boolState struct {
	col         int
	and         bool
	trues, alls int64
}

func (s *boolState) Add(r row.Row, w row.Weight) error {
	d := r[s.col]
	if d.IsNull() {
		return nil
	}
	s.alls += int64(w)
	if d.Bool() {
		s.trues += int64(w)
	}
	return nil
}

func (s *boolState) Result() (row.Datum, error) {
	if s.alls == 0 {
		return row.Null, nil
	}
	if s.and {
		return row.NewBool(s.trues == s.alls), nil
	}
	return row.NewBool(s.trues > 0), nil
}

// orderable reports whether values of t sort in ripple exactly as in
// PostgreSQL (row.Compare); text also needs a byte-order collation.
func orderable(t row.Type) bool {
	if t.OID == row.OIDBpchar { // compares without trailing blanks
		return false
	}
	switch t.Kind() {
	case row.KindInt, row.KindFloat, row.KindNumeric, row.KindBool, row.KindDate, row.KindTimestamp,
		row.KindTimestampTZ, row.KindText, row.KindBytes, row.KindUUID, row.KindInterval, row.KindEnum:
		return true
	}
	return t.OID == row.OIDUnknown
}

func newStringAgg(call AggCall) (dataflow.Aggregate, row.Type, error) {
	val, sep := call.Args[0], call.Args[1]
	res := row.Text
	if val.Type.OID == row.OIDBytea {
		res = val.Type
	}
	if !sep.Const {
		return nil, row.Type{}, fmt.Errorf("string_agg with a delimiter that is not a constant is not supported yet")
	}
	sd, err := sep.Eval(nil)
	if err != nil {
		return nil, row.Type{}, err
	}
	var parts []string
	for _, o := range call.Order {
		if !orderable(o.Expr.Type) {
			return nil, row.Type{}, fmt.Errorf("ORDER BY %s in string_agg: ordering values of type %s is not supported", o.Expr.Text, typeName(o.Expr.Type))
		}
		p := o.Expr.Text
		if o.Desc {
			p += " DESC"
		}
		if o.NullsFirst != o.Desc {
			if o.NullsFirst {
				p += " NULLS FIRST"
			} else {
				p += " NULLS LAST"
			}
		}
		parts = append(parts, p)
	}
	label := fmt.Sprintf("string_agg(%s, %s ORDER BY %s)", val.Text, sep.Text, strings.Join(parts, ", "))
	order := call.Order
	valCol := call.ArgCols[0]
	less := func(a, b *saItem) bool {
		for i, o := range order {
			x, y := a.keys[i], b.keys[i]
			var c int
			switch {
			case x.IsNull() || y.IsNull():
				c = row.Compare(x, y) // NULL last
				if o.NullsFirst {
					c = -c
				}
			default:
				c = row.Compare(x, y)
				if o.Desc {
					c = -c
				}
			}
			if c != 0 {
				return c < 0
			}
		}
		return a.repr < b.repr
	}
	return &aggregate{label: label, mk: func() dataflow.AggState {
		return &stringAggState{order: order, col: valCol, sep: sd.Str(), tree: btree.NewG(16, less)}
	}}, res, nil
}

type saItem struct {
	keys []row.Datum
	val  row.Datum
	repr string
	n    int64
}

// stringAggState keeps the inputs sorted by the call's ORDER BY in a
// B-tree; Result concatenates them (its cost is the size of its result).
type stringAggState struct {
	order []AggOrder
	col   int
	sep   string
	tree  *btree.BTreeG[*saItem]
}

func (s *stringAggState) Add(r row.Row, w row.Weight) error {
	it := &saItem{val: r[s.col], keys: make([]row.Datum, len(s.order))}
	key := make(row.Row, 0, len(s.order)+1)
	for i, o := range s.order {
		it.keys[i] = r[o.Col]
		key = append(key, r[o.Col])
	}
	it.repr = append(key, it.val).EncodeExact()
	if old, ok := s.tree.Get(it); ok {
		it = old
	} else {
		s.tree.ReplaceOrInsert(it)
	}
	it.n += int64(w) // may pass through negative values within a step
	if it.n == 0 {
		s.tree.Delete(it)
	}
	return nil
}

func (s *stringAggState) Result() (row.Datum, error) {
	var b strings.Builder
	any, bytes := false, false
	var neg error
	s.tree.Ascend(func(it *saItem) bool {
		if it.n < 0 {
			neg = fmt.Errorf("string_agg: value %s retracted more often than added", row.FormatText(it.val))
			return false
		}
		if it.val.IsNull() {
			return true
		}
		bytes = it.val.Kind() == row.KindBytes
		for range it.n {
			if any {
				b.WriteString(s.sep)
			}
			any = true
			b.WriteString(it.val.Str())
		}
		return true
	})
	if neg != nil {
		return row.Null, neg
	}
	if !any {
		return row.Null, nil
	}
	if bytes {
		return row.NewBytes([]byte(b.String())), nil
	}
	return row.NewText(b.String()), nil
}

func isVariance(name string) bool { _, ok := varianceNames[name]; return ok }
