package planner

import (
	"slices"
	"strings"

	pg_query "github.com/pganalyze/pg_query_go/v5"

	"github.com/rippledb/ripple/dataflow"
	"github.com/rippledb/ripple/internal/row"
	"github.com/rippledb/ripple/planner/expr"
)

// Set-returning functions in FROM: generate_series over integers and over
// timestamps with an interval step (hopping windows: every event belongs
// to each window whose start the series lists), and unnest of an array.
// Called with arguments that read earlier FROM items (implicitly LATERAL),
// a function is a late item (planner/correlated.go): a FlatMap after the
// relations are joined expands every joined row into one row per value,
// which is linear, so a change expands exactly like the rows it changes.
// Like PostgreSQL's, both functions are strict (a NULL argument gives no
// row); WITH ORDINALITY numbers the values from 1.

// setFunction is one function call in FROM.
type setFunction struct {
	name       string // generate_series or unnest
	args       []*pg_query.Node
	scope      []expr.ScopeColumn // what args resolve in (global indexes)
	types      []row.Type         // the type each argument is cast to
	typ        row.Type           // the type of the values
	ordinality bool
	// outer is set for LEFT JOIN ... ON true: a row for which the
	// function returns nothing keeps one row with NULLs.
	outer bool
	loc   int
}

// rangeFunction resolves a function call in FROM; visible is the scope
// its arguments may read (the FROM items to its left).
func (v *viewBuilder) rangeFunction(f *fromClause, rf *pg_query.RangeFunction, visible []expr.ScopeColumn) (fromItem, error) {
	loc := firstLocation(rf)
	if rf.GetIsRowsfrom() || len(rf.GetFunctions()) != 1 {
		return fromItem{}, v.errorf(loc, "ROWS FROM (...) is not supported yet")
	}
	items := rf.GetFunctions()[0].GetList().GetItems()
	var fc *pg_query.FuncCall
	if len(items) > 0 {
		fc = items[0].GetFuncCall()
	}
	if fc == nil {
		return fromItem{}, v.errorf(loc, "this kind of function in FROM is not supported")
	}
	loc = int(fc.GetLocation())
	if (len(items) > 1 && items[1].GetNode() != nil) || len(rf.GetColdeflist()) > 0 {
		return fromItem{}, v.errorf(loc, "column definition lists for functions in FROM are not supported")
	}
	name, builtin := funcName(fc)
	if !builtin || (name != "generate_series" && name != "unnest") {
		return fromItem{}, v.errorf(loc, "function %s in FROM is not supported (generate_series and unnest are)", name)
	}
	switch {
	case fc.GetAggStar() || fc.GetAggDistinct() || len(fc.GetAggOrder()) > 0 || fc.GetAggFilter() != nil || fc.GetAggWithinGroup():
		return fromItem{}, v.errorf(loc, "%s is not an aggregate function", name)
	case fc.GetOver() != nil:
		return fromItem{}, v.errorf(loc, "%s is not a window function", name)
	case fc.GetFuncVariadic():
		return fromItem{}, v.errorf(loc, "VARIADIC calls of %s are not supported", name)
	}
	sf := &setFunction{name: name, args: fc.GetArgs(), scope: slices.Clone(visible), ordinality: rf.GetOrdinality(), loc: loc}
	c := v.compiler(visible, "FROM", "functions in FROM", nil)
	var exprs []expr.Expr
	for _, a := range sf.args {
		if a.GetNamedArgExpr() != nil {
			return fromItem{}, v.errorf(firstLocation(a), "named arguments are not supported here")
		}
		if l := subLinkLocation(a); l >= 0 {
			return fromItem{}, v.errorf(l, "subqueries in the arguments of a function in FROM are not supported yet")
		}
		if err := v.checkRefs(c, a, true); err != nil {
			return fromItem{}, err
		}
		e, err := compileArg(c, a)
		if err != nil {
			return fromItem{}, err
		}
		exprs = append(exprs, e)
	}
	var err error
	if name == "generate_series" {
		err = v.seriesTypes(sf, exprs)
	} else {
		err = v.unnestTypes(sf, exprs)
	}
	if err != nil {
		return fromItem{}, err
	}
	for i, e := range exprs {
		if _, err := castExpr(e, sf.types[i]); err != nil {
			return fromItem{}, v.wrap(firstLocation(sf.args[i]), err)
		}
	}
	// PostgreSQL's names: the alias names the item and, without a column
	// list, its value column; without an alias both are the function's.
	alias, colnames := name, []string{name, "ordinality"}
	if a := rf.GetAlias(); a != nil {
		alias, colnames[0] = a.GetAliasname(), a.GetAliasname()
		width := 1
		if sf.ordinality {
			width = 2
		}
		if len(a.GetColnames()) > width {
			return fromItem{}, v.errorf(loc, "table %q has %d columns available but %d columns specified", alias, width, len(a.GetColnames()))
		}
		for i, cn := range a.GetColnames() {
			colnames[i] = cn.GetString_().GetSval()
		}
	}
	if err := v.checkItemName(f, alias, loc); err != nil {
		return fromItem{}, err
	}
	it := &lateItem{name: alias, srf: sf}
	types := []row.Type{sf.typ, row.Int8}
	for i := range types {
		if i == 1 && !sf.ordinality {
			break
		}
		g := len(f.owner)
		f.owner = append(f.owner, -1)
		it.cols = append(it.cols, expr.ScopeColumn{Table: alias, Name: colnames[i], Type: types[i], Index: g})
	}
	f.late = append(f.late, it)
	return fromItem{cols: it.cols, star: slices.Clone(it.cols), late: true, lateOnly: true}, nil
}

// seriesTypes resolves generate_series's signature as PostgreSQL does for
// the supported ones: (int, int [, int]) in int4 or, with an int8
// argument, int8; (timestamp, timestamp, interval); (timestamptz,
// timestamptz, interval), also for dates and mixed arguments (timestamptz
// is the preferred type). Untyped literals take the other arguments'
// type.
func (v *viewBuilder) seriesTypes(sf *setFunction, es []expr.Expr) error {
	sig := func() string {
		var ts []string
		for _, e := range es {
			ts = append(ts, typeString(e.Type))
		}
		return "generate_series(" + strings.Join(ts, ", ") + ")"
	}
	if len(es) < 2 || len(es) > 3 {
		return v.errorf(sf.loc, "function %s does not exist", sig())
	}
	unknown := func(e expr.Expr) bool { return e.Type.OID == row.OIDUnknown }
	isTime := func(e expr.Expr) bool { return isTimeKind(e.Type.Kind()) }
	timeMode := isTime(es[0]) || isTime(es[1]) || (len(es) == 3 && es[2].Type.OID == row.OIDInterval)
	if timeMode {
		switch {
		case len(es) != 3 || !(isTime(es[0]) || unknown(es[0])) || !(isTime(es[1]) || unknown(es[1])) ||
			!(es[2].Type.OID == row.OIDInterval || unknown(es[2])):
			return v.errorf(sf.loc, "function %s does not exist (the timestamp form is generate_series(start, stop, interval))", sig())
		case unknown(es[0]) && unknown(es[1]):
			return v.errorf(sf.loc, "function %s is not unique: cast the start or the stop to timestamp or timestamptz", sig())
		}
		// PostgreSQL's resolution: the form with more exactly matching
		// arguments, on a tie the preferred type timestamptz (two dates
		// give timestamptz, a date and a timestamp timestamp).
		exact := map[row.OID]int{}
		for _, e := range es[:2] {
			exact[e.Type.OID]++
		}
		sf.typ = row.TimestampTZ
		if exact[row.OIDTimestamp] > exact[row.OIDTimestampTZ] {
			sf.typ = row.Timestamp
		}
		sf.types = []row.Type{sf.typ, sf.typ, row.Interval}
		return nil
	}
	sf.typ = row.Int4
	known := false
	for _, e := range es {
		switch {
		case unknown(e):
			continue
		case e.Type.Kind() != row.KindInt:
			if isNumberKind(e.Type.Kind()) {
				return v.errorf(sf.loc, "generate_series over numeric values is not supported yet (only integers and timestamps)")
			}
			return v.errorf(sf.loc, "function %s does not exist", sig())
		case e.Type.OID == row.OIDInt8:
			sf.typ = row.Int8
		}
		known = true
	}
	if !known {
		return v.errorf(sf.loc, "function %s is not unique: cast an argument", sig())
	}
	for range es {
		sf.types = append(sf.types, sf.typ)
	}
	return nil
}

// unnestTypes resolves unnest(anyarray).
func (v *viewBuilder) unnestTypes(sf *setFunction, es []expr.Expr) error {
	if len(es) != 1 {
		return v.errorf(sf.loc, "unnest with %d arguments is not supported (one array)", len(es))
	}
	elem, ok := es[0].Type.Elem()
	if !ok {
		if es[0].Type.OID == row.OIDUnknown {
			return v.errorf(sf.loc, "function unnest(unknown) is not unique: cast the literal to an array type")
		}
		return v.errorf(sf.loc, "function unnest(%s) does not exist (unnest takes an array)", typeString(es[0].Type))
	}
	sf.typ, sf.types = elem, []row.Type{es[0].Type}
	return nil
}

// flatMap applies set-returning function item it to the joined rows of
// node and records the positions of its columns in pos.
func (v *viewBuilder) flatMap(node *dataflow.Node, pos []int, it *lateItem) (*dataflow.Node, error) {
	sf := it.srf
	c := v.compiler(remap(sf.scope, pos), "FROM", "functions in FROM", nil)
	exprs := make([]expr.Expr, len(sf.args))
	texts := make([]string, len(sf.args))
	for i, a := range sf.args {
		e, err := compileArg(c, a)
		if err != nil {
			return nil, err
		}
		if e.Type != sf.types[i] {
			if e, err = castExpr(e, sf.types[i]); err != nil {
				return nil, v.wrap(firstLocation(a), err)
			}
		}
		exprs[i], texts[i] = e, e.Text
	}
	var expand func([]row.Datum) ([]row.Datum, error)
	switch {
	case sf.name == "unnest":
		elem := sf.typ
		expand = func(ds []row.Datum) ([]row.Datum, error) { return expr.Unnest(elem, ds[0]) }
	case sf.typ.Kind() == row.KindInt:
		typ := sf.typ
		expand = func(ds []row.Datum) ([]row.Datum, error) {
			step := int64(1)
			if len(ds) == 3 {
				step = ds[2].Int()
			}
			return expr.SeriesInt(ds[0].Int(), ds[1].Int(), step, typ)
		}
	default:
		tz := sf.typ.OID == row.OIDTimestampTZ
		expand = func(ds []row.Datum) ([]row.Datum, error) {
			return expr.SeriesTime(ds[0].Int(), ds[1].Int(), ds[2].Interval(), tz)
		}
	}
	at := len(node.Schema())
	schema := slices.Clone(node.Schema())
	var names []string
	for _, col := range it.cols {
		schema = append(schema, row.Column{Name: col.Name, Type: col.Type})
		names = append(names, row.QuoteIdent(col.Name))
	}
	ordinality, outer := sf.ordinality, sf.outer
	fn := func(r row.Row) ([]row.Row, error) {
		ds := make([]row.Datum, len(exprs))
		null := false
		for i, e := range exprs {
			d, err := e.Eval(r)
			if err != nil {
				return nil, err
			}
			ds[i], null = d, null || d.IsNull()
		}
		var vals []row.Datum
		if !null { // strict: a NULL argument gives no row
			var err error
			if vals, err = expand(ds); err != nil {
				return nil, err
			}
		}
		if len(vals) == 0 && outer {
			o := make(row.Row, len(schema)) // NULLs after the row's columns
			copy(o, r)
			return []row.Row{o}, nil
		}
		out := make([]row.Row, len(vals))
		for i, d := range vals {
			o := make(row.Row, at, len(schema))
			copy(o, r)
			o = append(o, d)
			if ordinality {
				o = append(o, row.NewInt(int64(i+1)))
			}
			out[i] = o
		}
		return out, nil
	}
	label := sf.name + "(" + strings.Join(texts, ", ") + ")"
	if ordinality {
		label += " WITH ORDINALITY"
	}
	label += " AS " + row.QuoteIdent(it.name) + "(" + strings.Join(names, ", ") + ")"
	if outer {
		label += ", NULLs for a row it returns nothing for (LEFT JOIN ... ON true)"
	}
	for i, col := range it.cols {
		pos[col.Index] = at + i
	}
	return v.g.FlatMap(node, fn, schema, label), nil
}

// compileArg compiles a function argument; a bare string literal or NULL
// keeps the type unknown, which the function's signature resolves.
func compileArg(c *expr.Compiler, n *pg_query.Node) (expr.Expr, error) {
	if lit, ok := unknownLiteral(n); ok {
		return lit, nil
	}
	return c.Compile(n)
}
