package expr

import (
	"fmt"
	"strings"

	pg_query "github.com/pganalyze/pg_query_go/v5"

	"github.com/rippledb/ripple/internal/row"
)

// anyAll is x op ANY (ARRAY[...]) and x op ALL (ARRAY[...]) over an array
// constructor (ScalarArrayOpExpr). The array's element type is resolved
// first, as for ARRAY[...] on its own; then op is resolved between x and
// that type. As in PostgreSQL, the array is built in full (every element
// evaluated) before comparing; a NULL x, or a NULL comparison with no
// deciding one, gives NULL.
func (c *Compiler) anyAll(a *pg_query.A_Expr, all bool) (Expr, error) {
	loc := int(a.Location)
	op := opName(a.Name)
	kw := "ANY"
	if all {
		kw = "ALL"
	}
	arr := a.Rexpr.GetAArrayExpr()
	if arr == nil {
		return Expr{}, c.errorf(loc, "%s %s (...) is supported only over an ARRAY[...] constructor", op, kw)
	}
	if len(arr.Elements) == 0 {
		return Expr{}, c.errorf(int(arr.Location), "cannot determine type of empty array")
	}
	for _, el := range arr.Elements {
		if el.GetAArrayExpr() != nil {
			return Expr{}, c.errorf(nodeLoc(el), "multidimensional arrays are not supported yet")
		}
	}
	l, err := c.compile(a.Lexpr)
	if err != nil {
		return Expr{}, err
	}
	elems, _, err := c.commonArgs("ARRAY", arr.Elements, int(arr.Location))
	if err != nil {
		return Expr{}, err
	}
	if op != "=" && op != "<>" && op != "<" && op != "<=" && op != ">" && op != ">=" {
		return Expr{}, c.errorf(loc, "operator %s %s (array) is not supported yet", op, kw)
	}
	var tests []Expr
	var texts []string
	for i, e := range elems {
		// the element is typed now; resolve the operator against it
		t, err := c.comparison(op, l, e, nodeLoc(arr.Elements[i]))
		if err != nil {
			return Expr{}, c.errAt(loc, err)
		}
		tests = append(tests, t)
		texts = append(texts, e.Text)
	}
	le := l.Eval
	elemEvals := make([]func(row.Row) (row.Datum, error), len(elems))
	for i, e := range elems {
		elemEvals[i] = e.Eval
	}
	// comparisons re-evaluate x and the elements; evaluate both up front so
	// errors surface as PostgreSQL's would, then compare.
	cmp := make([]func(row.Row) (row.Datum, error), len(tests))
	for i, t := range tests {
		cmp[i] = t.Eval
	}
	text := fmt.Sprintf("(%s %s %s (ARRAY[%s]))", l.Text, op, kw, strings.Join(texts, ", "))
	cnst := l.Const
	for _, e := range elems {
		cnst = cnst && e.Const
	}
	return c.located(Expr{Type: row.Bool, Text: text, Const: cnst, Eval: func(r row.Row) (row.Datum, error) {
		x, err := le(r)
		if err != nil {
			return row.Null, err
		}
		for _, ev := range elemEvals {
			if _, err := ev(r); err != nil {
				return row.Null, err
			}
		}
		if x.IsNull() {
			return row.Null, nil
		}
		sawNull := false
		for _, ev := range cmp {
			d, err := ev(r)
			if err != nil {
				return row.Null, err
			}
			if d.IsNull() {
				sawNull = true
				continue
			}
			if d.Bool() != all {
				return row.NewBool(!all), nil
			}
		}
		if sawNull {
			return row.Null, nil
		}
		return row.NewBool(all), nil
	}}, loc), nil
}
