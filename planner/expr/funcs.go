package expr

import (
	"fmt"
	"math"
	"strings"
	"unicode"
	"unicode/utf8"

	pg_query "github.com/pganalyze/pg_query_go/v5"

	"github.com/rippledb/ripple/internal/row"
)

// aggregateNames are PostgreSQL's built-in aggregate functions (plain,
// ordered-set and hypothetical-set), so that the ones ripple cannot
// maintain are refused as aggregates rather than as unknown functions.
var aggregateNames = map[string]bool{
	"avg": true, "bit_and": true, "bit_or": true, "bit_xor": true, "bool_and": true, "bool_or": true,
	"every": true, "count": true, "max": true, "min": true, "sum": true, "array_agg": true, "string_agg": true,
	"json_agg": true, "jsonb_agg": true, "json_object_agg": true, "jsonb_object_agg": true,
	"json_agg_strict": true, "jsonb_agg_strict": true, "json_object_agg_strict": true,
	"json_object_agg_unique": true, "json_object_agg_unique_strict": true, "jsonb_object_agg_strict": true,
	"jsonb_object_agg_unique": true, "jsonb_object_agg_unique_strict": true, "json_arrayagg": true,
	"json_objectagg": true, "xmlagg": true, "corr": true, "covar_pop": true, "covar_samp": true,
	"regr_avgx": true, "regr_avgy": true, "regr_count": true, "regr_intercept": true, "regr_r2": true,
	"regr_slope": true, "regr_sxx": true, "regr_sxy": true, "regr_syy": true, "stddev": true,
	"stddev_pop": true, "stddev_samp": true, "variance": true, "var_pop": true, "var_samp": true,
	"mode": true, "percentile_cont": true, "percentile_disc": true, "rank": true, "dense_rank": true,
	"percent_rank": true, "cume_dist": true, "range_agg": true, "range_intersect_agg": true,
	"any_value": true,
}

// IsAggregate reports whether name is a PostgreSQL aggregate function.
func IsAggregate(name string) bool { return aggregateNames[strings.ToLower(name)] }

// TemporalForm says where now() is supported.
const TemporalForm = "now() is supported only in a WHERE conjunct comparing a row's timestamp with it, `ts > now() - interval '5 minutes'` (operators <, <=, >, >=, BETWEEN; now() plus or minus a constant interval)"

// volatileFuncs change value between evaluations; a maintained view cannot
// contain them.
var volatileFuncs = map[string]bool{
	"now": true, "random": true, "clock_timestamp": true, "statement_timestamp": true,
	"transaction_timestamp": true, "timeofday": true, "gen_random_uuid": true, "uuid_generate_v1": true,
	"uuid_generate_v4": true, "txid_current": true, "nextval": true, "currval": true, "lastval": true,
	"setseed": true, "current_setting": true, "pg_backend_pid": true, "random_normal": true,
	"current_database": true, "current_schema": true, "version": true,
}

func funcName(fc *pg_query.FuncCall) (string, error) {
	var parts []string
	for _, n := range fc.Funcname {
		parts = append(parts, n.GetString_().GetSval())
	}
	if len(parts) == 2 && parts[0] == "pg_catalog" {
		return parts[1], nil
	}
	if len(parts) != 1 {
		return strings.Join(parts, "."), fmt.Errorf("function %s is not supported", strings.Join(parts, "."))
	}
	return parts[0], nil
}

func (c *Compiler) funcCall(fc *pg_query.FuncCall) (Expr, error) {
	loc := int(fc.Location)
	name, err := funcName(fc)
	if err != nil {
		return Expr{}, c.errAt(loc, err)
	}
	if fc.Over != nil {
		return Expr{}, c.errorf(loc, "window functions are not supported yet (%s ... OVER)", name)
	}
	if IsAggregate(name) {
		if c.Aggregates == nil {
			return Expr{}, c.errorf(loc, "aggregate functions are not allowed in %s", c.clause())
		}
		return c.Aggregates(fc, loc)
	}
	switch {
	case fc.AggStar:
		return Expr{}, c.errorf(loc, "%s(*) specified, but %s is not an aggregate function", name, name)
	case fc.AggDistinct:
		return Expr{}, c.errorf(loc, "DISTINCT specified, but %s is not an aggregate function", name)
	case len(fc.AggOrder) > 0:
		return Expr{}, c.errorf(loc, "ORDER BY specified, but %s is not an aggregate function", name)
	case fc.AggFilter != nil:
		return Expr{}, c.errorf(loc, "FILTER specified, but %s is not an aggregate function", name)
	case fc.FuncVariadic:
		return Expr{}, c.errorf(loc, "VARIADIC is not supported yet")
	}
	if name == "now" || name == "transaction_timestamp" {
		return Expr{}, c.errorf(loc, "%s() is not supported in %s: %s", name, c.clause(), TemporalForm)
	}
	if volatileFuncs[name] {
		return Expr{}, c.errorf(loc, "%s() is not supported: its value changes over time, so a view using it cannot be maintained incrementally", name)
	}
	var args []Expr
	for _, a := range fc.Args {
		if _, ok := a.Node.(*pg_query.Node_NamedArgExpr); ok {
			return Expr{}, c.errorf(loc, "named function arguments are not supported yet")
		}
		e, err := c.compile(a)
		if err != nil {
			return Expr{}, err
		}
		args = append(args, e)
	}
	notExist := func() error {
		var ts []string
		for _, a := range args {
			ts = append(ts, typeName(a.Type))
		}
		shown := name
		if len(fc.Funcname) == 2 {
			shown = "pg_catalog." + name // as written, or added by the parser for SQL syntax (POSITION, TRIM, ...)
		}
		return c.errorf(loc, "function %s(%s) does not exist", shown, strings.Join(ts, ", "))
	}
	text := func() string {
		var ts []string
		for _, a := range args {
			ts = append(ts, a.Text)
		}
		return name + "(" + strings.Join(ts, ", ") + ")"
	}()
	unary := func(t row.Type, f func(row.Datum) (row.Datum, error)) Expr {
		inner := args[0].Eval
		return c.located(Expr{Type: t, Text: text, Const: args[0].Const, Eval: func(r row.Row) (row.Datum, error) {
			d, err := inner(r)
			if err != nil || d.IsNull() {
				return d, err
			}
			return f(d)
		}}, loc)
	}
	switch name {
	case "lower", "upper":
		if len(args) != 1 {
			return Expr{}, notExist()
		}
		a, ok := textArg(args[0])
		if !ok {
			return Expr{}, notExist()
		}
		args[0] = a
		cLocale := c.cCollation(a)
		up := name == "upper"
		return unary(row.Text, func(d row.Datum) (row.Datum, error) {
			return row.NewText(caseMap(d.Str(), up, cLocale)), nil
		}), nil
	case "length", "char_length", "character_length":
		if len(args) != 1 {
			return Expr{}, notExist()
		}
		t := args[0].Type
		if t.OID == row.OIDBytea && name == "length" {
			return unary(row.Int4, func(d row.Datum) (row.Datum, error) { return row.NewInt(int64(len(d.Str()))), nil }), nil
		}
		if t.OID == row.OIDUnknown {
			args[0], _ = Cast(args[0], row.Text, false)
			t = row.Text
		}
		if typeCategory(t) != 'S' {
			return Expr{}, notExist()
		}
		trim := t.OID == row.OIDBpchar
		return unary(row.Int4, func(d row.Datum) (row.Datum, error) {
			s := d.Str()
			if trim {
				s = strings.TrimRight(s, " ")
			}
			return row.NewInt(int64(utf8.RuneCountInString(s))), nil
		}), nil
	case "abs":
		if len(args) != 1 {
			return Expr{}, notExist()
		}
		t := row.Type{OID: args[0].Type.OID, Mod: -1}
		switch {
		case args[0].Type.OID == row.OIDUnknown:
			return Expr{}, c.errorf(loc, "function abs(unknown) is not unique")
		case isIntType(t):
			return unary(t, func(d row.Datum) (row.Datum, error) {
				v := d.Int()
				if v < 0 {
					v = -v
				}
				if v < 0 || !intFits(v, t) {
					return row.Null, intRangeErr(t)
				}
				return row.NewInt(v), nil
			}), nil
		case isFloatType(t):
			return unary(t, func(d row.Datum) (row.Datum, error) { return mkFloat(math.Abs(d.Float()), d.IsFloat4()), nil }), nil
		case t.OID == row.OIDNumeric:
			return unary(t, func(d row.Datum) (row.Datum, error) {
				n := datumNum(d)
				n.Negative = false
				return numDatum(n)
			}), nil
		}
		return Expr{}, notExist()
	case "round":
		switch len(args) {
		case 1:
			t := args[0].Type
			switch {
			case t.OID == row.OIDNumeric:
				return unary(row.Numeric, func(d row.Datum) (row.Datum, error) {
					r, err := roundNum(datumNum(d), 0)
					if err != nil {
						return row.Null, err
					}
					return numDatum(r)
				}), nil
			case typeCategory(t) == 'N':
				args[0], _ = Cast(args[0], row.Float8, false)
				return unary(row.Float8, func(d row.Datum) (row.Datum, error) {
					return row.NewFloat(math.RoundToEven(d.Float())), nil
				}), nil
			}
		case 2:
			a, b := args[0], args[1]
			if (a.Type.OID == row.OIDNumeric || isIntType(a.Type) || a.Type.OID == row.OIDUnknown) &&
				(b.Type.OID == row.OIDInt4 || b.Type.OID == row.OIDInt2 || b.Type.OID == row.OIDUnknown) {
				var err error
				if a, err = Cast(a, row.Numeric, false); err != nil {
					return Expr{}, c.errAt(loc, err)
				}
				if b, err = Cast(b, row.Int4, false); err != nil {
					return Expr{}, c.errAt(loc, err)
				}
				return c.located(binaryExpr(row.Numeric, text, a, b, func(x, y row.Datum) (row.Datum, error) {
					s := max(min(y.Int(), 2000), -2000)
					r, err := roundNum(datumNum(x), int32(s))
					if err != nil {
						return row.Null, err
					}
					return numDatum(r)
				}), loc), nil
			}
		}
		return Expr{}, notExist()
	}
	if f, ok := moreFuncs[name]; ok {
		return f(c, &funcCtx{name: name, args: args, text: text, loc: loc, nodes: fc.Args, notExist: notExist})
	}
	return Expr{}, notExist()
}

// textArg makes a string-category argument text (bpchar loses its padding).
func textArg(e Expr) (Expr, bool) {
	if e.Type.OID == row.OIDUnknown || e.Type.OID == row.OIDBpchar {
		out, err := Cast(e, row.Text, false)
		return out, err == nil
	}
	if typeCategory(e.Type) != 'S' {
		return e, false
	}
	return e, true
}

// cCollation reports whether e is compared/case-mapped under the C locale.
func (c *Compiler) cCollation(e Expr) bool {
	coll := e.Collate
	if coll == "" || coll == "default" {
		coll = c.Collation
	}
	return coll == "C" || coll == "POSIX"
}

// caseMap is lower()/upper(): ASCII-only under the C locale (PostgreSQL's
// asc_tolower), Unicode simple case mapping otherwise.
func caseMap(s string, up, cLocale bool) string {
	if cLocale {
		b := []byte(s)
		for i, ch := range b {
			if up && ch >= 'a' && ch <= 'z' {
				b[i] = ch - 'a' + 'A'
			} else if !up && ch >= 'A' && ch <= 'Z' {
				b[i] = ch - 'A' + 'a'
			}
		}
		return string(b)
	}
	if up {
		return strings.Map(unicode.ToUpper, s)
	}
	return strings.Map(unicode.ToLower, s)
}

func (c *Compiler) like(a *pg_query.A_Expr, op string) (Expr, error) {
	loc := int(a.Location)
	l, err := c.compile(a.Lexpr)
	if err != nil {
		return Expr{}, err
	}
	patNode := a.Rexpr
	var esc Expr
	hasEsc := false
	if fc := a.Rexpr.GetFuncCall(); fc != nil {
		if n, _ := funcName(fc); n == "like_escape" && len(fc.Args) == 2 {
			patNode = fc.Args[0]
			if esc, err = c.compile(fc.Args[1]); err != nil {
				return Expr{}, err
			}
			if esc, err = c.coerceCommon("ESCAPE", esc, row.Text, nodeLoc(fc.Args[1])); err != nil {
				return Expr{}, err
			}
			hasEsc = true
		}
	}
	r, err := c.compile(patNode)
	if err != nil {
		return Expr{}, err
	}
	if a.Kind == pg_query.A_Expr_Kind_AEXPR_ILIKE && !strings.Contains(op, "*") {
		op += "*"
	}
	return c.likeExprs(op, l, r, esc, hasEsc, loc)
}

func (c *Compiler) likeExprs(op string, l, r, esc Expr, hasEsc bool, loc int) (Expr, error) {
	var err error
	strOrUnknown := func(t row.Type) bool { return typeCategory(t) == 'S' || t.OID == row.OIDUnknown }
	if !strOrUnknown(l.Type) || !strOrUnknown(r.Type) {
		if l.Type.OID == row.OIDBytea && r.Type.OID == row.OIDBytea {
			return Expr{}, c.errorf(loc, "LIKE on bytea is not supported yet")
		}
		return Expr{}, c.errAt(loc, noOperator(op, l.Type, r.Type))
	}
	if l.Type.OID == row.OIDUnknown {
		l, _ = Cast(l, row.Text, false)
	}
	// bpchar ~~ text keeps the padding of the left side (bpcharlike); the
	// pattern is text.
	if r, err = Cast(r, row.Text, false); err != nil {
		return Expr{}, c.errAt(loc, err)
	}
	neg := strings.HasPrefix(op, "!")
	fold := strings.HasSuffix(op, "*")
	cLocale := c.cCollation(l)
	le, re := l.Eval, r.Eval
	var ee func(row.Row) (row.Datum, error)
	if hasEsc {
		ee = esc.Eval
	}
	text := fmt.Sprintf("(%s %s %s)", l.Text, op, r.Text)
	out := Expr{Type: row.Bool, Text: text, Const: l.Const && r.Const && (!hasEsc || esc.Const), Eval: func(rw row.Row) (row.Datum, error) {
		x, err := le(rw)
		if err != nil {
			return row.Null, err
		}
		y, err := re(rw)
		if err != nil {
			return row.Null, err
		}
		escape := '\\'
		if ee != nil {
			e, err := ee(rw)
			if err != nil {
				return row.Null, err
			}
			if e.IsNull() {
				return row.Null, nil
			}
			switch utf8.RuneCountInString(e.Str()) {
			case 0:
				escape = -1
			case 1:
				escape, _ = utf8.DecodeRuneInString(e.Str())
			default:
				return row.Null, fmt.Errorf("invalid escape string")
			}
		}
		if x.IsNull() || y.IsNull() {
			return row.Null, nil
		}
		s, p := x.Str(), y.Str()
		if fold {
			s, p = caseMap(s, false, cLocale), caseMap(p, false, cLocale)
		}
		m, err := likeMatch([]rune(s), []rune(p), escape)
		if err != nil {
			return row.Null, err
		}
		return row.NewBool((m == likeTrue) != neg), nil
	}}
	return c.located(out, loc), nil
}

const (
	likeFalse = iota
	likeTrue
	likeAbort
)

// likeMatch is PostgreSQL's MatchText (like_match.c) over characters: the
// same recursion, the same early aborts, and the same error for a pattern
// that ends with the escape character (raised only when reached).
func likeMatch(t, p []rune, esc rune) (int, error) {
	if len(p) == 1 && p[0] == '%' {
		return likeTrue, nil
	}
	for len(t) > 0 && len(p) > 0 {
		switch {
		case p[0] == esc:
			p = p[1:]
			if len(p) == 0 {
				return 0, fmt.Errorf("LIKE pattern must not end with escape character")
			}
			if p[0] != t[0] {
				return likeFalse, nil
			}
		case p[0] == '%':
			p = p[1:]
			for len(p) > 0 {
				if p[0] == '%' {
					p = p[1:]
				} else if p[0] == '_' {
					if len(t) == 0 {
						return likeAbort, nil
					}
					t, p = t[1:], p[1:]
				} else {
					break
				}
			}
			if len(p) == 0 {
				return likeTrue, nil
			}
			first := p[0]
			if first == esc {
				if len(p) < 2 {
					return 0, fmt.Errorf("LIKE pattern must not end with escape character")
				}
				first = p[1]
			}
			for len(t) > 0 {
				if t[0] == first {
					m, err := likeMatch(t, p, esc)
					if err != nil || m != likeFalse {
						return m, err
					}
				}
				t = t[1:]
			}
			return likeAbort, nil
		case p[0] == '_':
			t, p = t[1:], p[1:]
			continue
		case p[0] != t[0]:
			return likeFalse, nil
		}
		t, p = t[1:], p[1:]
	}
	if len(t) > 0 {
		return likeFalse, nil
	}
	for len(p) > 0 && p[0] == '%' {
		p = p[1:]
	}
	if len(p) == 0 {
		return likeTrue, nil
	}
	return likeAbort, nil
}
