package planner

import (
	"math"
	"strings"

	pg_query "github.com/pganalyze/pg_query_go/v5"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/rippledb/ripple/dataflow"
	"github.com/rippledb/ripple/internal/row"
	"github.com/rippledb/ripple/planner/expr"
)

// Temporal filters: WHERE conjuncts that compare a row expression with
// now(), `ts > now() - interval '5 minutes'`. now() is the graph's logical
// time (the pipeline decides what that is, docs/sql.md); each conjunct
// gives every row an interval of logical time during which it passes, and
// a TemporalFilter operator emits the rows entering and leaving it as
// time passes. now() anywhere else is refused.

// temporalConj is one conjunct `x op now() + offset`, normalized so that
// the row expression is on the left.
type temporalConj struct {
	x      *pg_query.Node // the row side
	op     string         // <, <=, >, >=
	offset *pg_query.Node // the interval added to now() (nil for none)
	neg    bool           // the offset is subtracted
	now    string         // how now() was spelled, for explain
	loc    int
}

// nowCall reports whether n is a call of now() or one of its synonyms and
// how it is spelled. current_timestamp with a precision rounds, and
// current_date, localtimestamp and the like depend on the session's time
// zone: they are named so that the caller can refuse them.
func nowCall(n *pg_query.Node) (name string, supported, ok bool) {
	switch x := n.GetNode().(type) {
	case *pg_query.Node_FuncCall:
		fc := x.FuncCall
		fn, _ := funcNameOf(fc)
		switch fn {
		case "now", "transaction_timestamp":
			return fn + "()", len(fc.GetArgs()) == 0 && !fc.GetAggStar() && fc.GetOver() == nil, true
		case "statement_timestamp", "clock_timestamp", "timeofday":
			return fn + "()", false, true
		}
	case *pg_query.Node_SqlvalueFunction:
		switch op := x.SqlvalueFunction.GetOp(); op {
		case pg_query.SQLValueFunctionOp_SVFOP_CURRENT_TIMESTAMP:
			return "current_timestamp", true, true
		case pg_query.SQLValueFunctionOp_SVFOP_CURRENT_TIMESTAMP_N, pg_query.SQLValueFunctionOp_SVFOP_CURRENT_DATE,
			pg_query.SQLValueFunctionOp_SVFOP_CURRENT_TIME, pg_query.SQLValueFunctionOp_SVFOP_CURRENT_TIME_N,
			pg_query.SQLValueFunctionOp_SVFOP_LOCALTIME, pg_query.SQLValueFunctionOp_SVFOP_LOCALTIME_N,
			pg_query.SQLValueFunctionOp_SVFOP_LOCALTIMESTAMP, pg_query.SQLValueFunctionOp_SVFOP_LOCALTIMESTAMP_N:
			return sqlValueFunctionNames[op], false, true
		}
	}
	return "", false, false
}

func funcNameOf(fc *pg_query.FuncCall) (string, bool) {
	var parts []string
	for _, n := range fc.GetFuncname() {
		parts = append(parts, n.GetString_().GetSval())
	}
	if len(parts) == 2 && parts[0] == "pg_catalog" {
		return strings.ToLower(parts[1]), true
	}
	if len(parts) == 1 {
		return strings.ToLower(parts[0]), true
	}
	return "", false
}

// findNow returns the first call of now() (or a synonym) within n.
func findNow(n *pg_query.Node) (name string, loc int, found bool) {
	inspectNode(n, func(m protoreflect.Message) bool {
		if found {
			return false
		}
		nn, ok := m.Interface().(*pg_query.Node)
		if !ok {
			return true
		}
		if s, _, ok := nowCall(nn); ok {
			name, loc, found = s, nodeLocation(nn), true
			return false
		}
		return true
	})
	return name, loc, found
}

// nodeLocation is the byte offset of n, -1 when unknown.
func nodeLocation(n *pg_query.Node) int {
	switch x := n.GetNode().(type) {
	case *pg_query.Node_FuncCall:
		return int(x.FuncCall.GetLocation())
	case *pg_query.Node_SqlvalueFunction:
		return int(x.SqlvalueFunction.GetLocation())
	case *pg_query.Node_AExpr:
		return int(x.AExpr.GetLocation())
	}
	return firstLocation(n)
}

// splitTemporal takes the temporal conjuncts out of where. It returns the
// rest of where (nil when nothing is left) and the temporal conjuncts;
// now() in any other form is an error at its position.
func (v *viewBuilder) splitTemporal(where *pg_query.Node) (*pg_query.Node, []temporalConj, error) {
	if _, _, found := findNow(where); !found {
		return where, nil, nil
	}
	var rest []*pg_query.Node
	var tcs []temporalConj
	var visit func(n *pg_query.Node) error
	visit = func(n *pg_query.Node) error {
		name, loc, found := findNow(n)
		if !found {
			rest = append(rest, n)
			return nil
		}
		a := n.GetAExpr()
		if a != nil && a.GetKind() == pg_query.A_Expr_Kind_AEXPR_BETWEEN {
			bounds := a.GetRexpr().GetList().GetItems()
			if len(bounds) == 2 {
				for i, op := range []string{">=", "<="} {
					if err := visit(pg_query.MakeAExprNode(pg_query.A_Expr_Kind_AEXPR_OP,
						[]*pg_query.Node{pg_query.MakeStrNode(op)}, a.GetLexpr(), bounds[i], a.GetLocation())); err != nil {
						return err
					}
				}
				return nil
			}
		}
		if a != nil && a.GetKind() == pg_query.A_Expr_Kind_AEXPR_OP {
			op := opName(a)
			mirror := map[string]string{"<": ">", "<=": ">=", ">": "<", ">=": "<="}
			if _, ok := mirror[op]; ok {
				l, r := a.GetLexpr(), a.GetRexpr()
				_, _, lnow := findNow(l)
				_, _, rnow := findNow(r)
				if lnow && !rnow {
					l, r, op = r, l, mirror[op]
				}
				if !(lnow && rnow) {
					tc, err := v.nowSide(r, name, loc)
					if err != nil {
						return err
					}
					tc.x, tc.op, tc.loc = l, op, int(a.GetLocation())
					tcs = append(tcs, tc)
					return nil
				}
			}
		}
		return v.errorf(loc, "%s is not supported in this form: %s", name, expr.TemporalForm)
	}
	for _, c := range conjuncts(where) {
		if err := visit(c); err != nil {
			return nil, nil, err
		}
	}
	var out *pg_query.Node
	switch len(rest) {
	case 0:
	case 1:
		out = rest[0]
	default:
		out = pg_query.MakeBoolExprNode(pg_query.BoolExprType_AND_EXPR, rest, -1)
	}
	return out, tcs, nil
}

// nowSide parses `now()`, `now() + c`, `now() - c` or `c + now()`.
func (v *viewBuilder) nowSide(n *pg_query.Node, name string, loc int) (temporalConj, error) {
	check := func(call *pg_query.Node) (string, error) {
		s, supported, ok := nowCall(call)
		if !ok {
			return "", v.errorf(loc, "%s is not supported in this form: %s", name, expr.TemporalForm)
		}
		if !supported {
			return "", v.errorf(nodeLocation(call), "%s is not supported in a temporal filter yet: only now(), current_timestamp and transaction_timestamp() are", s)
		}
		return s, nil
	}
	if _, _, ok := nowCall(n); ok {
		s, err := check(n)
		return temporalConj{now: s}, err
	}
	a := n.GetAExpr()
	if a == nil || a.GetKind() != pg_query.A_Expr_Kind_AEXPR_OP || (opName(a) != "+" && opName(a) != "-") || a.GetLexpr() == nil {
		return temporalConj{}, v.errorf(loc, "%s is not supported in this form: %s", name, expr.TemporalForm)
	}
	l, r := a.GetLexpr(), a.GetRexpr()
	if _, _, ok := nowCall(r); ok && opName(a) == "+" {
		l, r = r, l
	}
	if _, _, ok := nowCall(l); !ok {
		return temporalConj{}, v.errorf(loc, "%s is not supported in this form: %s", name, expr.TemporalForm)
	}
	if _, _, found := findNow(r); found {
		return temporalConj{}, v.errorf(loc, "%s is not supported in this form: %s", name, expr.TemporalForm)
	}
	s, err := check(l)
	return temporalConj{now: s, offset: r, neg: opName(a) == "-"}, err
}

// Bounds of the timestamp range in microseconds since 2000-01-01 and in
// days, as PostgreSQL defines them (MIN_TIMESTAMP, END_TIMESTAMP): a date
// outside them compares with a timestamptz as an infinity.
const (
	usPerDay         = 86_400_000_000
	timestampMinDays = -2451545
	timestampEndDays = 106751983
)

// temporalFilter compiles the temporal conjuncts for rows laid out by pos
// and adds the TemporalFilter that applies them to in.
func (v *viewBuilder) temporalFilter(in *dataflow.Node, scope []expr.ScopeColumn, pos []int, tcs []temporalConj) (*dataflow.Node, error) {
	if v.g != v.top {
		return nil, v.errorf(tcs[0].loc, "%s in the recursive term of WITH RECURSIVE is not supported", tcs[0].now)
	}
	type bound struct {
		eval   func(row.Row) (row.Datum, error)
		kind   row.OID
		op     string
		offset int64 // microseconds added to now()
	}
	var bounds []bound
	var texts []string
	c := v.compiler(remap(scope, pos), "WHERE", "WHERE", nil)
	for _, tc := range tcs {
		x, err := c.Compile(tc.x)
		if err != nil {
			return nil, err
		}
		switch x.Type.OID {
		case row.OIDTimestampTZ, row.OIDTimestamp, row.OIDDate:
		default:
			return nil, v.errorf(firstLocation(tc.x), "a temporal filter compares %s with %s: it must be a timestamptz, timestamp or date, not %s", tc.now, x.Text, typeString(x.Type))
		}
		b := bound{eval: x.Eval, kind: x.Type.OID, op: tc.op}
		text := tc.now
		if tc.offset != nil {
			off, err := c.Compile(tc.offset)
			if err != nil {
				return nil, err
			}
			loc := firstLocation(tc.offset)
			if !off.Const || off.Type.OID != row.OIDInterval {
				return nil, v.errorf(loc, "a temporal filter may add to %s only a constant interval (interval '5 minutes'), not %s of type %s", tc.now, off.Text, typeString(off.Type))
			}
			d, err := off.Eval(nil)
			if err != nil {
				return nil, v.wrap(loc, err)
			}
			if d.IsNull() {
				return nil, v.errorf(loc, "the interval added to %s in a temporal filter is NULL", tc.now)
			}
			iv := d.Interval()
			if iv.Months != 0 {
				return nil, v.errorf(loc, "intervals with months or years are not supported in a temporal filter yet (a month's length depends on the date); use days")
			}
			us := int64(iv.Days)*usPerDay + iv.Micros
			// Far beyond any timestamp: PostgreSQL would fail with
			// "timestamp out of range" here.
			if us > 200_000*365*usPerDay || us < -200_000*365*usPerDay {
				return nil, v.errorf(loc, "the interval added to %s in a temporal filter is out of the timestamp range", tc.now)
			}
			sign := " + "
			if tc.neg {
				us, sign = -us, " - "
			}
			b.offset = us
			text += sign + off.Text
		}
		bounds = append(bounds, b)
		texts = append(texts, x.Text+" "+tc.op+" "+text)
	}
	valid := func(r row.Row) (dataflow.Time, dataflow.Time, error) {
		from, until := dataflow.MinTime, dataflow.MaxTime
		for _, b := range bounds {
			d, err := b.eval(r)
			if err != nil {
				return 0, 0, err
			}
			if d.IsNull() {
				return dataflow.MaxTime, dataflow.MinTime, nil // NULL: never true
			}
			f, u := validity(timeOfDatum(d, b.kind), b.op, b.offset)
			from, until = max(from, f), min(until, u)
		}
		return from, until, nil
	}
	return v.g.TemporalFilter(in, valid, strings.Join(texts, " AND ")), nil
}

// timeOfDatum is a timestamptz, timestamp or date as the timestamptz
// PostgreSQL compares it as: a timestamp is read in UTC (ripple's session
// TimeZone), a date is its midnight, and a date beyond the timestamp range
// is an infinity (date2timestamptz_opt_overflow).
func timeOfDatum(d row.Datum, kind row.OID) dataflow.Time {
	v := d.Int()
	if v == row.PosInfinity {
		return dataflow.MaxTime
	}
	if v == row.NegInfinity {
		return dataflow.MinTime
	}
	if kind != row.OIDDate {
		return dataflow.Time(v)
	}
	switch {
	case v >= timestampEndDays:
		return dataflow.MaxTime
	case v < timestampMinDays:
		return dataflow.MinTime
	}
	return dataflow.Time(v * usPerDay)
}

// validity is the interval of now() values for which `x op now() +
// offset` holds: [from, until).
func validity(x dataflow.Time, op string, offset int64) (from, until dataflow.Time) {
	always, never := [2]dataflow.Time{dataflow.MinTime, dataflow.MaxTime}, [2]dataflow.Time{dataflow.MaxTime, dataflow.MinTime}
	pick := func(p [2]dataflow.Time) (dataflow.Time, dataflow.Time) { return p[0], p[1] }
	switch x {
	case dataflow.MaxTime: // infinity is after every now() + offset
		if op == ">" || op == ">=" {
			return pick(always)
		}
		return pick(never)
	case dataflow.MinTime:
		if op == "<" || op == "<=" {
			return pick(always)
		}
		return pick(never)
	}
	// t = x - offset is the now() at which x equals now() + offset,
	// saturated short of the infinities (no now() gets near them).
	var t dataflow.Time
	switch {
	case offset < 0 && int64(x) > math.MaxInt64-2+offset:
		t = dataflow.MaxTime - 2
	case offset > 0 && int64(x) < math.MinInt64+2+offset:
		t = dataflow.MinTime + 2
	default:
		t = dataflow.Time(int64(x) - offset)
	}
	switch op {
	case ">": // now() < t
		return dataflow.MinTime, t
	case ">=": // now() <= t
		return dataflow.MinTime, t + 1
	case "<": // now() > t
		return t + 1, dataflow.MaxTime
	default: // "<=": now() >= t
		return t, dataflow.MaxTime
	}
}
