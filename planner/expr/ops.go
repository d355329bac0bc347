package expr

import (
	"cmp"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/cockroachdb/apd/v3"
	pg_query "github.com/pganalyze/pg_query_go/v5"

	"github.com/rippledb/ripple/internal/row"
)

func opName(names []*pg_query.Node) string {
	if len(names) == 0 {
		return ""
	}
	return names[len(names)-1].GetString_().GetSval()
}

func (c *Compiler) aExpr(a *pg_query.A_Expr) (Expr, error) {
	loc := int(a.Location)
	op := opName(a.Name)
	switch a.Kind {
	case pg_query.A_Expr_Kind_AEXPR_OP:
		if a.Lexpr == nil {
			r, err := c.compile(a.Rexpr)
			if err != nil {
				return Expr{}, err
			}
			return c.unary(op, r, loc)
		}
		l, err := c.compile(a.Lexpr)
		if err != nil {
			return Expr{}, err
		}
		r, err := c.compile(a.Rexpr)
		if err != nil {
			return Expr{}, err
		}
		return c.binary(op, l, r, loc)
	case pg_query.A_Expr_Kind_AEXPR_DISTINCT, pg_query.A_Expr_Kind_AEXPR_NOT_DISTINCT:
		l, r, err := c.compilePair(a.Lexpr, a.Rexpr)
		if err != nil {
			return Expr{}, err
		}
		l, r, cmpf, err := c.comparable(l, r, "=", loc, false)
		if err != nil {
			return Expr{}, err
		}
		not := a.Kind == pg_query.A_Expr_Kind_AEXPR_NOT_DISTINCT
		le, re := l.Eval, r.Eval
		text := fmt.Sprintf("(%s IS DISTINCT FROM %s)", l.Text, r.Text)
		if not {
			text = fmt.Sprintf("(%s IS NOT DISTINCT FROM %s)", l.Text, r.Text)
		}
		return Expr{Type: row.Bool, Text: text, Const: l.Const && r.Const, Eval: func(rw row.Row) (row.Datum, error) {
			x, err := le(rw)
			if err != nil {
				return row.Null, err
			}
			y, err := re(rw)
			if err != nil {
				return row.Null, err
			}
			var distinct bool
			switch {
			case x.IsNull() && y.IsNull():
				distinct = false
			case x.IsNull() || y.IsNull():
				distinct = true
			default:
				distinct = cmpf(x, y) != 0
			}
			return row.NewBool(distinct != not), nil
		}}, nil
	case pg_query.A_Expr_Kind_AEXPR_NULLIF:
		l, r, err := c.compilePair(a.Lexpr, a.Rexpr)
		if err != nil {
			return Expr{}, err
		}
		lc, rc, cmpf, err := c.comparable(l, r, "=", loc, false)
		if err != nil {
			return Expr{}, err
		}
		le, re := lc.Eval, rc.Eval
		return Expr{Type: lc.Type, Text: fmt.Sprintf("NULLIF(%s, %s)", l.Text, r.Text), Const: l.Const && r.Const,
			Eval: func(rw row.Row) (row.Datum, error) {
				x, err := le(rw)
				if err != nil || x.IsNull() {
					return x, err
				}
				y, err := re(rw)
				if err != nil {
					return row.Null, err
				}
				if !y.IsNull() && cmpf(x, y) == 0 {
					return row.Null, nil
				}
				return x, nil
			}}, nil
	case pg_query.A_Expr_Kind_AEXPR_IN:
		return c.inList(a, op == "<>")
	case pg_query.A_Expr_Kind_AEXPR_LIKE, pg_query.A_Expr_Kind_AEXPR_ILIKE:
		return c.like(a, op)
	case pg_query.A_Expr_Kind_AEXPR_SIMILAR:
		return Expr{}, c.errorf(loc, "SIMILAR TO is not supported yet")
	case pg_query.A_Expr_Kind_AEXPR_BETWEEN, pg_query.A_Expr_Kind_AEXPR_NOT_BETWEEN,
		pg_query.A_Expr_Kind_AEXPR_BETWEEN_SYM, pg_query.A_Expr_Kind_AEXPR_NOT_BETWEEN_SYM:
		return c.between(a)
	case pg_query.A_Expr_Kind_AEXPR_OP_ANY, pg_query.A_Expr_Kind_AEXPR_OP_ALL:
		return c.anyAll(a, a.Kind == pg_query.A_Expr_Kind_AEXPR_OP_ALL)
	}
	return Expr{}, c.errorf(loc, "operator expression %s is not supported yet", a.Kind)
}

func (c *Compiler) compilePair(a, b *pg_query.Node) (Expr, Expr, error) {
	l, err := c.compile(a)
	if err != nil {
		return Expr{}, Expr{}, err
	}
	r, err := c.compile(b)
	if err != nil {
		return Expr{}, Expr{}, err
	}
	return l, r, nil
}

func noOperator(op string, l, r row.Type) error {
	return fmt.Errorf("operator does not exist: %s %s %s", typeName(l), op, typeName(r))
}

// resolveUnknown gives an unknown-typed operand the other operand's type,
// as PostgreSQL's operator resolution assumes; two unknowns become text.
func resolveUnknown(l, r Expr) (Expr, Expr, error) {
	var err error
	switch {
	case l.Type.OID == row.OIDUnknown && r.Type.OID == row.OIDUnknown:
		if l, err = Cast(l, row.Text, false); err == nil {
			r, err = Cast(r, row.Text, false)
		}
	case l.Type.OID == row.OIDUnknown:
		l, err = Cast(l, row.Type{OID: r.Type.OID, Mod: -1}, false)
	case r.Type.OID == row.OIDUnknown:
		r, err = Cast(r, row.Type{OID: l.Type.OID, Mod: -1}, false)
	}
	return l, r, err
}

func isIntType(t row.Type) bool {
	return t.OID == row.OIDInt2 || t.OID == row.OIDInt4 || t.OID == row.OIDInt8
}

func isFloatType(t row.Type) bool { return t.OID == row.OIDFloat4 || t.OID == row.OIDFloat8 }

// datumFloat reads a numeric-category datum as float8.
func datumFloat(d row.Datum) float64 {
	switch d.Kind() {
	case row.KindInt:
		return float64(d.Int())
	case row.KindFloat:
		return d.Float()
	case row.KindNumeric:
		n, err := parseNum(d.Str())
		if err != nil {
			return math.NaN()
		}
		return numToFloat(n)
	}
	return math.NaN()
}

// datumNum reads an integer or numeric datum as a decimal.
func datumNum(d row.Datum) *apd.Decimal {
	if d.Kind() == row.KindInt {
		return numFromInt(d.Int())
	}
	n, err := parseNum(d.Str())
	if err != nil {
		return &apd.Decimal{Form: apd.NaN}
	}
	return n
}

func timeMicros(d row.Datum) int64 {
	v := d.Int()
	if d.Kind() == row.KindDate && v != row.PosInfinity && v != row.NegInfinity {
		return v * usPerDay
	}
	return v
}

func textCollatable(c *Compiler, l, r Expr) error {
	coll := l.Collate
	if coll == "" {
		coll = r.Collate
	}
	if coll == "" || coll == "default" {
		coll = c.Collation
	}
	if coll == "C" || coll == "POSIX" || coll == "ucs_basic" {
		return nil
	}
	return fmt.Errorf("ordering text under collation %q is not supported yet; add COLLATE \"C\"", coll)
}

// comparable resolves a comparison between l and r: the (possibly
// coerced) left operand, right operand, and a three-way comparison of
// non-NULL values with PostgreSQL's semantics for the chosen operator.
// ordering is set for < <= > >= (text needs a byte-order collation).
func (c *Compiler) comparable(l, r Expr, op string, loc int, ordering bool) (Expr, Expr, func(a, b row.Datum) int, error) {
	l, r, err := resolveUnknown(l, r)
	if err != nil {
		return l, r, nil, c.errAt(loc, err)
	}
	lt, rt := l.Type, r.Type
	lc, rc := typeCategory(lt), typeCategory(rt)
	if lt.OID == row.OIDJSON || rt.OID == row.OIDJSON {
		return l, r, nil, c.errAt(loc, noOperator(op, lt, rt))
	}
	if lt.OID == row.OIDJSONB || rt.OID == row.OIDJSONB {
		if lt.OID == rt.OID {
			return l, r, nil, c.errorf(loc, "comparing jsonb values is not supported yet")
		}
		return l, r, nil, c.errAt(loc, noOperator(op, lt, rt))
	}
	if lc != rc || (lc == 'U' && lt.OID != rt.OID) {
		return l, r, nil, c.errAt(loc, noOperator(op, lt, rt))
	}
	switch lc {
	case 'N':
		switch {
		case isFloatType(lt) || isFloatType(rt):
			// float48/float84 operators: a float4 side stays float4,
			// anything else goes to float8.
			if lt.OID != row.OIDFloat4 {
				l, _ = Cast(l, row.Float8, false)
			}
			if rt.OID != row.OIDFloat4 {
				r, _ = Cast(r, row.Float8, false)
			}
			return l, r, func(a, b row.Datum) int { return row.CompareFloat(datumFloat(a), datumFloat(b)) }, nil
		case lt.OID == row.OIDNumeric || rt.OID == row.OIDNumeric:
			l, _ = Cast(l, row.Numeric, false)
			r, _ = Cast(r, row.Numeric, false)
			return l, r, func(a, b row.Datum) int { return row.CompareNumeric(a.Str(), b.Str()) }, nil
		}
		return l, r, func(a, b row.Datum) int { return cmp.Compare(a.Int(), b.Int()) }, nil
	case 'S':
		if ordering {
			if err := textCollatable(c, l, r); err != nil {
				return l, r, nil, c.errAt(loc, err)
			}
		}
		if lt.OID == row.OIDBpchar && rt.OID == row.OIDBpchar {
			return l, r, func(a, b row.Datum) int {
				return strings.Compare(strings.TrimRight(a.Str(), " "), strings.TrimRight(b.Str(), " "))
			}, nil
		}
		if lt.OID == row.OIDBpchar {
			l, _ = Cast(l, row.Text, false)
		}
		if rt.OID == row.OIDBpchar {
			r, _ = Cast(r, row.Text, false)
		}
		if lt.OID != rt.OID && lt.OID != row.OIDText {
			l, _ = Cast(l, row.Text, false)
		}
		return l, r, func(a, b row.Datum) int { return strings.Compare(a.Str(), b.Str()) }, nil
	case 'D':
		if lt.OID != rt.OID {
			target := row.Timestamp
			if lt.OID == row.OIDTimestampTZ || rt.OID == row.OIDTimestampTZ {
				target = row.TimestampTZ
			}
			l, _ = Cast(l, target, false)
			r, _ = Cast(r, target, false)
		}
		return l, r, func(a, b row.Datum) int { return cmp.Compare(timeMicros(a), timeMicros(b)) }, nil
	case 'B':
		return l, r, func(a, b row.Datum) int { return cmp.Compare(a.Int(), b.Int()) }, nil
	case 'T':
		return l, r, func(a, b row.Datum) int { return row.CompareInterval(a.Interval(), b.Interval()) }, nil
	case 'E':
		if lt.OID == rt.OID {
			return l, r, row.Compare, nil
		}
	case 'U':
		switch lt.OID {
		case row.OIDUUID, row.OIDBytea:
			return l, r, func(a, b row.Datum) int { return strings.Compare(a.Str(), b.Str()) }, nil
		}
	}
	return l, r, nil, c.errAt(loc, noOperator(op, lt, rt))
}

func (c *Compiler) binary(op string, l, r Expr, loc int) (Expr, error) {
	switch op {
	case "=", "<>", "<", "<=", ">", ">=":
		return c.comparison(op, l, r, loc)
	case "+", "-", "*", "/", "%":
		return c.arith(op, l, r, loc)
	case "||":
		return c.concat(l, r, loc)
	case "~~", "!~~", "~~*", "!~~*":
		return c.likeExprs(op, l, r, Expr{}, false, loc)
	case "~", "~*", "!~", "!~*":
		return c.regexMatch(op, l, r, loc)
	case "->", "->>", "#>>", "@>", "?":
		if l.Type.OID == row.OIDJSONB {
			return c.jsonbOp(op, l, r, loc)
		}
		return Expr{}, c.errorf(loc, "operator %s is not supported yet", op)
	case "^", "|/", "||/", "&", "|", "#", "<<", ">>", "<@", "#>", "?|", "?&", "@@", "&&":
		if l.Type.OID != row.OIDUnknown && r.Type.OID != row.OIDUnknown {
			return Expr{}, c.errorf(loc, "operator %s is not supported yet", op)
		}
		return Expr{}, c.errorf(loc, "operator %s is not supported yet", op)
	}
	return Expr{}, c.errAt(loc, noOperator(op, l.Type, r.Type))
}

func boolDatum(b bool) row.Datum { return row.NewBool(b) }

func (c *Compiler) comparison(op string, l, r Expr, loc int) (Expr, error) {
	ordering := op != "=" && op != "<>"
	lc, rc, cmpf, err := c.comparable(l, r, op, loc, ordering)
	if err != nil {
		return Expr{}, err
	}
	var test func(int) bool
	switch op {
	case "=":
		test = func(x int) bool { return x == 0 }
	case "<>":
		test = func(x int) bool { return x != 0 }
	case "<":
		test = func(x int) bool { return x < 0 }
	case "<=":
		test = func(x int) bool { return x <= 0 }
	case ">":
		test = func(x int) bool { return x > 0 }
	case ">=":
		test = func(x int) bool { return x >= 0 }
	}
	le, re := lc.Eval, rc.Eval
	return Expr{Type: row.Bool, Text: fmt.Sprintf("(%s %s %s)", l.Text, op, r.Text), Const: l.Const && r.Const,
		Eval: func(rw row.Row) (row.Datum, error) {
			x, err := le(rw)
			if err != nil {
				return row.Null, err
			}
			y, err := re(rw)
			if err != nil || x.IsNull() || y.IsNull() {
				return row.Null, err
			}
			return boolDatum(test(cmpf(x, y))), nil
		}}, nil
}

// arithType is the result type of a numeric-category operator.
func arithType(l, r row.Type) row.Type {
	switch {
	case isIntType(l) && isIntType(r):
		rank := map[row.OID]int{row.OIDInt2: 0, row.OIDInt4: 1, row.OIDInt8: 2}
		if rank[l.OID] >= rank[r.OID] {
			return row.Type{OID: l.OID, Mod: -1}
		}
		return row.Type{OID: r.OID, Mod: -1}
	case l.OID == row.OIDFloat4 && r.OID == row.OIDFloat4:
		return row.Float4
	case isFloatType(l) || isFloatType(r):
		return row.Float8
	}
	return row.Numeric
}

func (c *Compiler) arith(op string, l, r Expr, loc int) (Expr, error) {
	if l.Type.OID == row.OIDUnknown && r.Type.OID == row.OIDUnknown {
		return Expr{}, c.errorf(loc, "operator is not unique: unknown %s unknown", op)
	}
	l, r, err := unknownInterval(op, l, r)
	if err != nil {
		return Expr{}, c.errAt(loc, err)
	}
	l, r, err = resolveUnknown(l, r)
	if err != nil {
		return Expr{}, c.errAt(loc, err)
	}
	if e, ok, err := c.intervalArith(op, l, r, loc); ok || err != nil {
		return e, err
	}
	if e, ok, err := c.dateArith(op, l, r, loc); ok || err != nil {
		return e, err
	}
	if typeCategory(l.Type) != 'N' || typeCategory(r.Type) != 'N' {
		return Expr{}, c.errAt(loc, noOperator(op, l.Type, r.Type))
	}
	t := arithType(l.Type, r.Type)
	if op == "%" && isFloatType(t) {
		return Expr{}, c.errAt(loc, noOperator(op, l.Type, r.Type))
	}
	var f func(a, b row.Datum) (row.Datum, error)
	switch {
	case isIntType(t):
		f = intOp(op, t)
	case isFloatType(t):
		f = floatOp(op, t.OID == row.OIDFloat4)
	default:
		f = func(a, b row.Datum) (row.Datum, error) {
			n, err := numArith(op[0], datumNum(a), datumNum(b))
			if err != nil {
				return row.Null, err
			}
			return numDatum(n)
		}
	}
	if isFloatType(t) {
		l, _ = Cast(l, t, false)
		r, _ = Cast(r, t, false)
	}
	return c.located(binaryExpr(t, fmt.Sprintf("(%s %s %s)", l.Text, op, r.Text), l, r, f), loc), nil
}

// binaryExpr is a strict binary operator: NULL in, NULL out.
func binaryExpr(t row.Type, text string, l, r Expr, f func(a, b row.Datum) (row.Datum, error)) Expr {
	le, re := l.Eval, r.Eval
	return Expr{Type: t, Text: text, Const: l.Const && r.Const, Eval: func(rw row.Row) (row.Datum, error) {
		x, err := le(rw)
		if err != nil {
			return row.Null, err
		}
		y, err := re(rw)
		if err != nil || x.IsNull() || y.IsNull() {
			return row.Null, err
		}
		return f(x, y)
	}}
}

func intOp(op string, t row.Type) func(a, b row.Datum) (row.Datum, error) {
	bad := intRangeErr(t)
	fit := func(v int64, ok bool) (row.Datum, error) {
		if !ok || !intFits(v, t) {
			return row.Null, bad
		}
		return row.NewInt(v), nil
	}
	switch op {
	case "+":
		return func(a, b row.Datum) (row.Datum, error) {
			x, y := a.Int(), b.Int()
			s := x + y
			return fit(s, (s > x) == (y > 0) || y == 0)
		}
	case "-":
		return func(a, b row.Datum) (row.Datum, error) {
			x, y := a.Int(), b.Int()
			s := x - y
			return fit(s, (s < x) == (y > 0) || y == 0)
		}
	case "*":
		return func(a, b row.Datum) (row.Datum, error) {
			x, y := a.Int(), b.Int()
			if x == 0 || y == 0 {
				return row.NewInt(0), nil
			}
			p := x * y
			ok := p/y == x && !(x == -1 && y == math.MinInt64) && !(y == -1 && x == math.MinInt64)
			return fit(p, ok)
		}
	case "/":
		return func(a, b row.Datum) (row.Datum, error) {
			x, y := a.Int(), b.Int()
			if y == 0 {
				return row.Null, errDivZero
			}
			if y == -1 {
				return fit(-x, x != math.MinInt64)
			}
			return row.NewInt(x / y), nil
		}
	case "%":
		return func(a, b row.Datum) (row.Datum, error) {
			x, y := a.Int(), b.Int()
			if y == 0 {
				return row.Null, errDivZero
			}
			if y == -1 {
				return row.NewInt(0), nil
			}
			return row.NewInt(x % y), nil
		}
	}
	return nil
}

func floatOp(op string, f4 bool) func(a, b row.Datum) (row.Datum, error) {
	return func(a, b row.Datum) (row.Datum, error) {
		x, y := a.Float(), b.Float()
		var v float64
		if f4 {
			fx, fy := float32(x), float32(y)
			var r float32
			switch op {
			case "+":
				r = fx + fy
			case "-":
				r = fx - fy
			case "*":
				r = fx * fy
			case "/":
				if fy == 0 && !math.IsNaN(x) {
					return row.Null, errDivZero
				}
				r = fx / fy
			}
			v = float64(r)
		} else {
			switch op {
			case "+":
				v = x + y
			case "-":
				v = x - y
			case "*":
				v = x * y
			case "/":
				if y == 0 && !math.IsNaN(x) {
					return row.Null, errDivZero
				}
				v = x / y
			}
		}
		xi, yi := math.IsInf(x, 0), math.IsInf(y, 0)
		switch op {
		case "+", "-":
			if math.IsInf(v, 0) && !xi && !yi {
				return row.Null, errFloatOverflow
			}
		case "*":
			if math.IsInf(v, 0) && !xi && !yi {
				return row.Null, errFloatOverflow
			}
			if v == 0 && x != 0 && y != 0 {
				return row.Null, errFloatUnderflow
			}
		case "/":
			if math.IsInf(v, 0) && !xi {
				return row.Null, errFloatOverflow
			}
			if v == 0 && x != 0 && !yi {
				return row.Null, errFloatUnderflow
			}
		}
		return mkFloat(v, f4), nil
	}
}

// dateArith handles date + int, int + date, date - int and date - date.
func (c *Compiler) dateArith(op string, l, r Expr, loc int) (Expr, bool, error) {
	ld, rd := l.Type.OID == row.OIDDate, r.Type.OID == row.OIDDate
	if !ld && !rd {
		if typeCategory(l.Type) == 'D' || typeCategory(r.Type) == 'D' {
			return Expr{}, false, c.errorf(loc, "operator %s on %s and %s is not supported yet", op, typeName(l.Type), typeName(r.Type))
		}
		return Expr{}, false, nil
	}
	text := fmt.Sprintf("(%s %s %s)", l.Text, op, r.Text)
	smallInt := func(t row.Type) bool { return t.OID == row.OIDInt4 || t.OID == row.OIDInt2 }
	outOfRange := fmt.Errorf("date out of range")
	addDays := func(d, n int64) (row.Datum, error) {
		if d == row.PosInfinity || d == row.NegInfinity {
			return row.NewDate(d), nil
		}
		v := d + n
		// PostgreSQL dates span 4713 BC to 5874897 AD.
		if v < -2451545 || v > 2147483494 {
			return row.Null, outOfRange
		}
		return row.NewDate(v), nil
	}
	switch {
	case op == "-" && ld && rd:
		return c.located(binaryExpr(row.Int4, text, l, r, func(a, b row.Datum) (row.Datum, error) {
			x, y := a.Int(), b.Int()
			if x == row.PosInfinity || x == row.NegInfinity || y == row.PosInfinity || y == row.NegInfinity {
				return row.Null, fmt.Errorf("cannot subtract infinite dates")
			}
			return row.NewInt(x - y), nil
		}), loc), true, nil
	case (op == "+" || op == "-") && ld && smallInt(r.Type):
		sign := int64(1)
		if op == "-" {
			sign = -1
		}
		return c.located(binaryExpr(row.Date, text, l, r, func(a, b row.Datum) (row.Datum, error) {
			return addDays(a.Int(), sign*b.Int())
		}), loc), true, nil
	case op == "+" && rd && smallInt(l.Type):
		return c.located(binaryExpr(row.Date, text, l, r, func(a, b row.Datum) (row.Datum, error) {
			return addDays(b.Int(), a.Int())
		}), loc), true, nil
	}
	return Expr{}, false, c.errAt(loc, noOperator(op, l.Type, r.Type))
}

func (c *Compiler) unary(op string, e Expr, loc int) (Expr, error) {
	if e.Type.OID == row.OIDUnknown {
		return Expr{}, c.errorf(loc, "operator is not unique: %s unknown", op)
	}
	if e.Type.OID == row.OIDInterval && (op == "-" || op == "+") {
		return c.intervalUnary(op, e, loc), nil
	}
	if typeCategory(e.Type) != 'N' || (op != "-" && op != "+") {
		return Expr{}, c.errorf(loc, "operator does not exist: %s %s", op, typeName(e.Type))
	}
	t := row.Type{OID: e.Type.OID, Mod: -1}
	if op == "+" {
		e.Type = t
		return e, nil
	}
	inner := e.Eval
	out := Expr{Type: t, Text: "(-" + e.Text + ")", Const: e.Const, Eval: func(r row.Row) (row.Datum, error) {
		d, err := inner(r)
		if err != nil || d.IsNull() {
			return d, err
		}
		switch d.Kind() {
		case row.KindInt:
			v := d.Int()
			if v == math.MinInt64 || !intFits(-v, t) {
				return row.Null, intRangeErr(t)
			}
			return row.NewInt(-v), nil
		case row.KindFloat:
			return mkFloat(-d.Float(), d.IsFloat4()), nil
		}
		n := datumNum(d)
		var neg apd.Decimal
		neg.Neg(n)
		if neg.Form == apd.Finite && neg.IsZero() {
			neg.Negative = false
		}
		return numDatum(&neg)
	}}
	return c.located(out, loc), nil
}

// concat is ||: text || text, and anynonarray || text / text || anynonarray
// (the non-text side goes through its cast to text).
func (c *Compiler) concat(l, r Expr, loc int) (Expr, error) {
	if l.Type.OID == row.OIDUnknown && r.Type.OID == row.OIDUnknown {
		l, _ = Cast(l, row.Text, false)
		r, _ = Cast(r, row.Text, false)
	}
	ls, rs := typeCategory(l.Type) == 'S', typeCategory(r.Type) == 'S'
	if l.Type.OID == row.OIDUnknown {
		l, _ = Cast(l, row.Text, false)
		ls = true
	}
	if r.Type.OID == row.OIDUnknown {
		r, _ = Cast(r, row.Text, false)
		rs = true
	}
	if !ls && !rs {
		if l.Type.OID == row.OIDJSONB && r.Type.OID == row.OIDJSONB {
			return Expr{}, c.errorf(loc, "operator || on jsonb is not supported yet")
		}
		return Expr{}, c.errAt(loc, noOperator("||", l.Type, r.Type))
	}
	var err error
	if l, err = Cast(l, row.Text, true); err != nil {
		return Expr{}, c.errAt(loc, err)
	}
	if r, err = Cast(r, row.Text, true); err != nil {
		return Expr{}, c.errAt(loc, err)
	}
	return binaryExpr(row.Text, fmt.Sprintf("(%s || %s)", l.Text, r.Text), l, r, func(a, b row.Datum) (row.Datum, error) {
		return row.NewText(a.Str() + b.Str()), nil
	}), nil
}

func (c *Compiler) boolExpr(b *pg_query.BoolExpr) (Expr, error) {
	loc := int(b.Location)
	name := map[pg_query.BoolExprType]string{pg_query.BoolExprType_AND_EXPR: "AND",
		pg_query.BoolExprType_OR_EXPR: "OR", pg_query.BoolExprType_NOT_EXPR: "NOT"}[b.Boolop]
	var args []Expr
	var texts []string
	isConst := true
	for _, a := range b.Args {
		e, err := c.compile(a)
		if err != nil {
			return Expr{}, err
		}
		if e, err = c.coerceBool(e, name, nodeLoc(a)); err != nil {
			return Expr{}, err
		}
		args = append(args, e)
		texts = append(texts, e.Text)
		isConst = isConst && e.Const
	}
	switch b.Boolop {
	case pg_query.BoolExprType_NOT_EXPR:
		inner := args[0].Eval
		return Expr{Type: row.Bool, Text: "(NOT " + texts[0] + ")", Const: isConst, Eval: func(r row.Row) (row.Datum, error) {
			d, err := inner(r)
			if err != nil || d.IsNull() {
				return d, err
			}
			return row.NewBool(!d.Bool()), nil
		}}, nil
	case pg_query.BoolExprType_AND_EXPR, pg_query.BoolExprType_OR_EXPR:
		return boolChain(b.Boolop == pg_query.BoolExprType_OR_EXPR, args,
			"("+strings.Join(texts, " "+name+" ")+")"), nil
	}
	return Expr{}, c.errorf(loc, "unsupported boolean operator")
}

// boolChain is three-valued AND (or OR): evaluated left to right, stopping
// at the first false (true for OR).
func boolChain(or bool, args []Expr, text string) Expr {
	evals := make([]func(row.Row) (row.Datum, error), len(args))
	isConst := true
	for i, a := range args {
		evals[i] = a.Eval
		isConst = isConst && a.Const
	}
	return Expr{Type: row.Bool, Text: text, Const: isConst, Eval: func(r row.Row) (row.Datum, error) {
		sawNull := false
		for _, ev := range evals {
			d, err := ev(r)
			if err != nil {
				return row.Null, err
			}
			if d.IsNull() {
				sawNull = true
				continue
			}
			if d.Bool() == or {
				return row.NewBool(or), nil
			}
		}
		if sawNull {
			return row.Null, nil
		}
		return row.NewBool(!or), nil
	}}
}

func (c *Compiler) nullTest(n *pg_query.NullTest) (Expr, error) {
	e, err := c.compile(n.Arg)
	if err != nil {
		return Expr{}, err
	}
	isNull := n.Nulltesttype == pg_query.NullTestType_IS_NULL
	inner := e.Eval
	text := "(" + e.Text + " IS NULL)"
	if !isNull {
		text = "(" + e.Text + " IS NOT NULL)"
	}
	return Expr{Type: row.Bool, Text: text, Const: e.Const, Eval: func(r row.Row) (row.Datum, error) {
		d, err := inner(r)
		if err != nil {
			return row.Null, err
		}
		return row.NewBool(d.IsNull() == isNull), nil
	}}, nil
}

func (c *Compiler) booleanTest(b *pg_query.BooleanTest) (Expr, error) {
	e, err := c.compile(b.Arg)
	if err != nil {
		return Expr{}, err
	}
	what := map[pg_query.BoolTestType]string{
		pg_query.BoolTestType_IS_TRUE: "IS TRUE", pg_query.BoolTestType_IS_NOT_TRUE: "IS NOT TRUE",
		pg_query.BoolTestType_IS_FALSE: "IS FALSE", pg_query.BoolTestType_IS_NOT_FALSE: "IS NOT FALSE",
		pg_query.BoolTestType_IS_UNKNOWN: "IS UNKNOWN", pg_query.BoolTestType_IS_NOT_UNKNOWN: "IS NOT UNKNOWN",
	}[b.Booltesttype]
	if e, err = c.coerceBool(e, what, nodeLoc(b.Arg)); err != nil {
		return Expr{}, err
	}
	inner := e.Eval
	kind := b.Booltesttype
	return Expr{Type: row.Bool, Text: "(" + e.Text + " " + what + ")", Const: e.Const, Eval: func(r row.Row) (row.Datum, error) {
		d, err := inner(r)
		if err != nil {
			return row.Null, err
		}
		null, t := d.IsNull(), !d.IsNull() && d.Bool()
		var v bool
		switch kind {
		case pg_query.BoolTestType_IS_TRUE:
			v = t
		case pg_query.BoolTestType_IS_NOT_TRUE:
			v = !t
		case pg_query.BoolTestType_IS_FALSE:
			v = !null && !t
		case pg_query.BoolTestType_IS_NOT_FALSE:
			v = null || t
		case pg_query.BoolTestType_IS_UNKNOWN:
			v = null
		case pg_query.BoolTestType_IS_NOT_UNKNOWN:
			v = !null
		}
		return row.NewBool(v), nil
	}}, nil
}

func (c *Compiler) inList(a *pg_query.A_Expr, not bool) (Expr, error) {
	loc := int(a.Location)
	l, err := c.compile(a.Lexpr)
	if err != nil {
		return Expr{}, err
	}
	list := a.Rexpr.GetList()
	if list == nil {
		return Expr{}, c.errorf(loc, "IN (subquery) is not supported yet")
	}
	op := "="
	if not {
		op = "<>"
	}
	var tests []Expr
	var texts []string
	for _, item := range list.Items {
		r, err := c.compile(item)
		if err != nil {
			return Expr{}, err
		}
		t, err := c.comparison(op, l, r, nodeLoc(item))
		if err != nil {
			return Expr{}, err
		}
		tests = append(tests, t)
		texts = append(texts, r.Text)
	}
	kw := " IN ("
	if not {
		kw = " NOT IN ("
	}
	return boolChain(!not, tests, "("+l.Text+kw+strings.Join(texts, ", ")+"))"), nil
}

func (c *Compiler) between(a *pg_query.A_Expr) (Expr, error) {
	loc := int(a.Location)
	items := a.Rexpr.GetList().GetItems()
	if len(items) != 2 {
		return Expr{}, c.errorf(loc, "BETWEEN needs two bounds")
	}
	x, err := c.compile(a.Lexpr)
	if err != nil {
		return Expr{}, err
	}
	lo, hi, err := c.compilePair(items[0], items[1])
	if err != nil {
		return Expr{}, err
	}
	cmpE := func(op string, l, r Expr) (Expr, error) { return c.comparison(op, l, r, loc) }
	// x BETWEEN lo AND hi is x >= lo AND x <= hi; NOT BETWEEN is x < lo OR x > hi.
	in := func(lo, hi Expr) (Expr, error) {
		g, err := cmpE(">=", x, lo)
		if err != nil {
			return Expr{}, err
		}
		s, err := cmpE("<=", x, hi)
		if err != nil {
			return Expr{}, err
		}
		return boolChain(false, []Expr{g, s}, ""), nil
	}
	out := func(lo, hi Expr) (Expr, error) {
		s, err := cmpE("<", x, lo)
		if err != nil {
			return Expr{}, err
		}
		g, err := cmpE(">", x, hi)
		if err != nil {
			return Expr{}, err
		}
		return boolChain(true, []Expr{s, g}, ""), nil
	}
	var e Expr
	switch a.Kind {
	case pg_query.A_Expr_Kind_AEXPR_BETWEEN:
		e, err = in(lo, hi)
	case pg_query.A_Expr_Kind_AEXPR_NOT_BETWEEN:
		e, err = out(lo, hi)
	case pg_query.A_Expr_Kind_AEXPR_BETWEEN_SYM:
		var e1, e2 Expr
		if e1, err = in(lo, hi); err == nil {
			if e2, err = in(hi, lo); err == nil {
				e = boolChain(true, []Expr{e1, e2}, "")
			}
		}
	case pg_query.A_Expr_Kind_AEXPR_NOT_BETWEEN_SYM:
		var e1, e2 Expr
		if e1, err = out(lo, hi); err == nil {
			if e2, err = out(hi, lo); err == nil {
				e = boolChain(false, []Expr{e1, e2}, "")
			}
		}
	}
	if err != nil {
		return Expr{}, err
	}
	e.Text = fmt.Sprintf("(%s %s %s AND %s)", x.Text, strings.ReplaceAll(strings.TrimPrefix(a.Kind.String(), "AEXPR_"), "_", " "), lo.Text, hi.Text)
	return e, nil
}

func (c *Compiler) caseExpr(ce *pg_query.CaseExpr) (Expr, error) {
	loc := int(ce.Location)
	var arg Expr
	hasArg := ce.Arg != nil
	if hasArg {
		var err error
		if arg, err = c.compile(ce.Arg); err != nil {
			return Expr{}, err
		}
	}
	var conds, results []Expr
	for _, w := range ce.Args {
		cw := w.GetCaseWhen()
		var cond Expr
		var err error
		if hasArg {
			v, err := c.compile(cw.Expr)
			if err != nil {
				return Expr{}, err
			}
			if cond, err = c.comparison("=", arg, v, nodeLoc(cw.Expr)); err != nil {
				return Expr{}, err
			}
		} else {
			if cond, err = c.compile(cw.Expr); err != nil {
				return Expr{}, err
			}
			if cond, err = c.coerceBool(cond, "CASE/WHEN", nodeLoc(cw.Expr)); err != nil {
				return Expr{}, err
			}
		}
		res, err := c.compile(cw.Result)
		if err != nil {
			return Expr{}, err
		}
		conds, results = append(conds, cond), append(results, res)
	}
	var def Expr
	if ce.Defresult != nil {
		var err error
		if def, err = c.compile(ce.Defresult); err != nil {
			return Expr{}, err
		}
	} else {
		def = Expr{Type: row.Unknown, Text: "NULL", Const: true, Eval: func(row.Row) (row.Datum, error) { return row.Null, nil }}
	}
	types := []row.Type{def.Type}
	for _, r := range results {
		types = append(types, r.Type)
	}
	t, err := CommonType("CASE", types)
	if err != nil {
		return Expr{}, c.errAt(loc, err)
	}
	if def, err = c.coerceCommon("CASE", def, t, loc); err != nil {
		return Expr{}, err
	}
	for i := range results {
		if results[i], err = c.coerceCommon("CASE", results[i], t, nodeLoc(ce.Args[i].GetCaseWhen().Result)); err != nil {
			return Expr{}, err
		}
	}
	condEvals := make([]func(row.Row) (row.Datum, error), len(conds))
	resEvals := make([]func(row.Row) (row.Datum, error), len(results))
	isConst := def.Const && (!hasArg || arg.Const)
	for i := range conds {
		condEvals[i], resEvals[i] = conds[i].Eval, results[i].Eval
		isConst = isConst && conds[i].Const && results[i].Const
	}
	defEval := def.Eval
	return Expr{Type: t, Text: "CASE ... END", Const: isConst, Eval: func(r row.Row) (row.Datum, error) {
		for i, ce := range condEvals {
			d, err := ce(r)
			if err != nil {
				return row.Null, err
			}
			if !d.IsNull() && d.Bool() {
				return resEvals[i](r)
			}
		}
		return defEval(r)
	}}, nil
}

// coerceCommon casts e to a construct's common type t.
func (c *Compiler) coerceCommon(what string, e Expr, t row.Type, loc int) (Expr, error) {
	out, err := Cast(e, t, false)
	if err != nil {
		if e.Type.OID == row.OIDUnknown {
			return Expr{}, c.errAt(loc, err)
		}
		return Expr{}, c.errorf(loc, "%s could not convert type %s to %s", what, typeName(e.Type), typeName(t))
	}
	return out, nil
}

func (c *Compiler) commonArgs(what string, nodes []*pg_query.Node, loc int) ([]Expr, row.Type, error) {
	var args []Expr
	var types []row.Type
	for _, n := range nodes {
		e, err := c.compile(n)
		if err != nil {
			return nil, row.Type{}, err
		}
		args, types = append(args, e), append(types, e.Type)
	}
	t, err := CommonType(what, types)
	if err != nil {
		return nil, row.Type{}, c.errAt(loc, err)
	}
	for i := range args {
		if args[i], err = c.coerceCommon(what, args[i], t, nodeLoc(nodes[i])); err != nil {
			return nil, row.Type{}, err
		}
	}
	return args, t, nil
}

func (c *Compiler) coalesce(ce *pg_query.CoalesceExpr) (Expr, error) {
	args, t, err := c.commonArgs("COALESCE", ce.Args, int(ce.Location))
	if err != nil {
		return Expr{}, err
	}
	evals := make([]func(row.Row) (row.Datum, error), len(args))
	var texts []string
	isConst := true
	for i, a := range args {
		evals[i] = a.Eval
		texts = append(texts, a.Text)
		isConst = isConst && a.Const
	}
	return Expr{Type: t, Text: "COALESCE(" + strings.Join(texts, ", ") + ")", Const: isConst, Eval: func(r row.Row) (row.Datum, error) {
		for _, ev := range evals {
			d, err := ev(r)
			if err != nil || !d.IsNull() {
				return d, err
			}
		}
		return row.Null, nil
	}}, nil
}

func (c *Compiler) minMax(m *pg_query.MinMaxExpr) (Expr, error) {
	loc := int(m.Location)
	what, sign := "GREATEST", 1
	if m.Op == pg_query.MinMaxOp_IS_LEAST {
		what, sign = "LEAST", -1
	}
	args, t, err := c.commonArgs(what, m.Args, loc)
	if err != nil {
		return Expr{}, err
	}
	if t.OID == row.OIDJSON || t.OID == row.OIDJSONB {
		return Expr{}, c.errorf(loc, "could not identify a comparison function for type %s", typeName(t))
	}
	_, _, cmpf, err := c.comparable(args[0], args[0], "<", loc, true)
	if err != nil {
		return Expr{}, err
	}
	evals := make([]func(row.Row) (row.Datum, error), len(args))
	var texts []string
	isConst := true
	for i, a := range args {
		evals[i] = a.Eval
		texts = append(texts, a.Text)
		isConst = isConst && a.Const
	}
	return Expr{Type: t, Text: what + "(" + strings.Join(texts, ", ") + ")", Const: isConst, Eval: func(r row.Row) (row.Datum, error) {
		best := row.Null
		for _, ev := range evals {
			d, err := ev(r)
			if err != nil {
				return row.Null, err
			}
			if d.IsNull() {
				continue
			}
			if best.IsNull() || sign*cmpf(d, best) > 0 {
				best = d
			}
		}
		return best, nil
	}}, nil
}

var _ = strconv.Itoa
