package expr

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	pg_query "github.com/pganalyze/pg_query_go/v5"

	"github.com/rippledb/ripple/internal/row"
)

// Compiler compiles the scalar expressions of one clause of a view.
// The zero value is not usable: Scope must be set.
type Compiler struct {
	Scope *Scope
	Src   Source
	View  string // for error messages
	// Collation is the source database's datcollate. Ordering text is
	// allowed only under "C"/"POSIX" or with an explicit COLLATE "C".
	Collation string
	// Aggregates, when set, is called for each aggregate call; it returns
	// the Expr that reads the aggregate's value. When nil, an aggregate
	// call is an error naming Where.
	Aggregates func(fc *pg_query.FuncCall, loc int) (Expr, error)
	// Where names the clause in messages: "WHERE", "JOIN/ON", "select list".
	Where string
}

// Compile compiles n. An unknown-typed result (a bare string literal or
// NULL) is resolved to text, as PostgreSQL does in a select list.
func (c *Compiler) Compile(n *pg_query.Node) (Expr, error) {
	e, err := c.compile(n)
	if err != nil {
		return Expr{}, err
	}
	if e.Type.OID == row.OIDUnknown {
		if e, err = Cast(e, row.Text, false); err != nil {
			return Expr{}, c.errAt(nodeLoc(n), err)
		}
	}
	e.Name = FigureColname(n)
	return e, nil
}

// Predicate compiles a boolean condition; the returned function treats
// NULL as false (SQL WHERE/ON).
func (c *Compiler) Predicate(n *pg_query.Node) (func(row.Row) (bool, error), Expr, error) {
	e, err := c.compile(n)
	if err != nil {
		return nil, Expr{}, err
	}
	if e, err = c.coerceBool(e, c.clause(), nodeLoc(n)); err != nil {
		return nil, Expr{}, err
	}
	e.Name = FigureColname(n)
	eval := e.Eval
	return func(r row.Row) (bool, error) {
		d, err := eval(r)
		if err != nil {
			return false, err
		}
		return !d.IsNull() && d.Bool(), nil
	}, e, nil
}

func (c *Compiler) clause() string {
	if c.Where == "" {
		return "WHERE"
	}
	return c.Where
}

// errAt turns err into an *Error at byte offset loc unless it already is one.
func (c *Compiler) errAt(loc int, err error) error {
	var pe *Error
	if errors.As(err, &pe) {
		return err
	}
	return c.Src.Errorf(c.View, loc, "%s", err.Error())
}

func (c *Compiler) errorf(loc int, format string, args ...any) error {
	return c.Src.Errorf(c.View, loc, format, args...)
}

// located wraps e's evaluation errors with the position loc.
func (c *Compiler) located(e Expr, loc int) Expr {
	inner := e.Eval
	e.Eval = func(r row.Row) (row.Datum, error) {
		d, err := inner(r)
		if err != nil {
			return d, c.errAt(loc, err)
		}
		return d, nil
	}
	return e
}

// coerceBool makes e boolean for a context such as "WHERE" or "AND".
func (c *Compiler) coerceBool(e Expr, what string, loc int) (Expr, error) {
	if e.Type.OID == row.OIDBool {
		return e, nil
	}
	if e.Type.OID == row.OIDUnknown {
		b, err := Cast(e, row.Bool, false)
		if err != nil {
			return Expr{}, c.errAt(loc, err)
		}
		return b, nil
	}
	return Expr{}, c.errorf(loc, "argument of %s must be type boolean, not type %s", what, typeName(e.Type))
}

// nodeLoc is the byte offset of n in the source, -1 when unknown.
func nodeLoc(n *pg_query.Node) int {
	if n == nil {
		return -1
	}
	switch v := n.Node.(type) {
	case *pg_query.Node_ColumnRef:
		return int(v.ColumnRef.Location)
	case *pg_query.Node_AConst:
		return int(v.AConst.Location)
	case *pg_query.Node_AExpr:
		return int(v.AExpr.Location)
	case *pg_query.Node_FuncCall:
		return int(v.FuncCall.Location)
	case *pg_query.Node_TypeCast:
		return int(v.TypeCast.Location)
	case *pg_query.Node_BoolExpr:
		return int(v.BoolExpr.Location)
	case *pg_query.Node_NullTest:
		return int(v.NullTest.Location)
	case *pg_query.Node_BooleanTest:
		return int(v.BooleanTest.Location)
	case *pg_query.Node_CaseExpr:
		return int(v.CaseExpr.Location)
	case *pg_query.Node_CoalesceExpr:
		return int(v.CoalesceExpr.Location)
	case *pg_query.Node_MinMaxExpr:
		return int(v.MinMaxExpr.Location)
	case *pg_query.Node_CollateClause:
		return int(v.CollateClause.Location)
	case *pg_query.Node_SubLink:
		return int(v.SubLink.Location)
	case *pg_query.Node_AArrayExpr:
		return int(v.AArrayExpr.Location)
	case *pg_query.Node_RowExpr:
		return int(v.RowExpr.Location)
	case *pg_query.Node_ParamRef:
		return int(v.ParamRef.Location)
	case *pg_query.Node_SqlvalueFunction:
		return int(v.SqlvalueFunction.Location)
	case *pg_query.Node_GroupingFunc:
		return int(v.GroupingFunc.Location)
	case *pg_query.Node_AIndirection:
		return nodeLoc(v.AIndirection.Arg)
	}
	return -1
}

func (c *Compiler) compile(n *pg_query.Node) (Expr, error) {
	if n == nil {
		return Expr{}, c.errorf(-1, "missing expression")
	}
	loc := nodeLoc(n)
	switch v := n.Node.(type) {
	case *pg_query.Node_ColumnRef:
		col, err := c.Column(v.ColumnRef)
		if err != nil {
			return Expr{}, err
		}
		idx := col.Index
		return Expr{Type: col.Type, Name: col.Name, Text: row.QuoteIdent(col.Name),
			Eval: func(r row.Row) (row.Datum, error) { return r[idx], nil }}, nil
	case *pg_query.Node_AConst:
		return c.constant(v.AConst)
	case *pg_query.Node_TypeCast:
		return c.typeCast(v.TypeCast)
	case *pg_query.Node_AExpr:
		return c.aExpr(v.AExpr)
	case *pg_query.Node_BoolExpr:
		return c.boolExpr(v.BoolExpr)
	case *pg_query.Node_NullTest:
		return c.nullTest(v.NullTest)
	case *pg_query.Node_BooleanTest:
		return c.booleanTest(v.BooleanTest)
	case *pg_query.Node_CaseExpr:
		return c.caseExpr(v.CaseExpr)
	case *pg_query.Node_CoalesceExpr:
		return c.coalesce(v.CoalesceExpr)
	case *pg_query.Node_MinMaxExpr:
		return c.minMax(v.MinMaxExpr)
	case *pg_query.Node_FuncCall:
		return c.funcCall(v.FuncCall)
	case *pg_query.Node_CollateClause:
		return c.collate(v.CollateClause)
	case *pg_query.Node_SubLink:
		return Expr{}, c.errorf(loc, "subqueries are not supported yet")
	case *pg_query.Node_AArrayExpr:
		return Expr{}, c.errorf(loc, "arrays are not supported yet")
	case *pg_query.Node_RowExpr:
		return Expr{}, c.errorf(loc, "row constructors are not supported yet")
	case *pg_query.Node_ParamRef:
		return Expr{}, c.errorf(loc, "parameters ($%d) are not allowed in a view", v.ParamRef.Number)
	case *pg_query.Node_AIndirection:
		return Expr{}, c.errorf(loc, "subscripts and field selection are not supported yet")
	case *pg_query.Node_SqlvalueFunction:
		if v.SqlvalueFunction.Op == pg_query.SQLValueFunctionOp_SVFOP_CURRENT_TIMESTAMP {
			return Expr{}, c.errorf(loc, "current_timestamp is not supported in %s: %s", c.clause(), TemporalForm)
		}
		return Expr{}, c.errorf(loc, "%s is not supported: its value changes over time, so a view using it cannot be maintained incrementally", sqlValueFunctionName(v.SqlvalueFunction.Op))
	case *pg_query.Node_GroupingFunc:
		return Expr{}, c.errorf(loc, "GROUPING is allowed only in the select list and HAVING of a query with GROUP BY")
	case *pg_query.Node_XmlExpr, *pg_query.Node_XmlSerialize:
		return Expr{}, c.errorf(loc, "XML functions are not supported yet")
	}
	return Expr{}, c.errorf(loc, "expression %T is not supported yet", n.Node)
}

func sqlValueFunctionName(op pg_query.SQLValueFunctionOp) string {
	s := strings.TrimPrefix(op.String(), "SVFOP_")
	return s
}

// constant compiles a literal as PostgreSQL's make_const does.
func (c *Compiler) constant(k *pg_query.A_Const) (Expr, error) {
	mk := func(t row.Type, d row.Datum, text string) (Expr, error) {
		return Expr{Type: t, Text: text, Const: true, Eval: func(row.Row) (row.Datum, error) { return d, nil }}, nil
	}
	if k.Isnull {
		return mk(row.Unknown, row.Null, "NULL")
	}
	switch v := k.Val.(type) {
	case *pg_query.A_Const_Ival:
		i := int64(v.Ival.Ival)
		return mk(row.Int4, row.NewInt(i), strconv.FormatInt(i, 10))
	case *pg_query.A_Const_Fval:
		s := v.Fval.Fval
		if i, err := strconv.ParseInt(s, 10, 64); err == nil && strings.Trim(s, "-0123456789") == "" {
			if intFits(i, row.Int4) {
				return mk(row.Int4, row.NewInt(i), s)
			}
			return mk(row.Int8, row.NewInt(i), s)
		}
		n, ok := numericIn(s)
		if !ok {
			return Expr{}, c.errorf(int(k.Location), "invalid input syntax for type numeric: \"%s\"", s)
		}
		d, err := numDatum(n)
		if err != nil {
			return Expr{}, c.errAt(int(k.Location), err)
		}
		return mk(row.Numeric, d, s)
	case *pg_query.A_Const_Boolval:
		if v.Boolval.Boolval {
			return mk(row.Bool, row.NewBool(true), "true")
		}
		return mk(row.Bool, row.NewBool(false), "false")
	case *pg_query.A_Const_Sval:
		s := v.Sval.Sval
		return mk(row.Unknown, row.NewText(s), quoteLiteral(s))
	case *pg_query.A_Const_Bsval:
		return Expr{}, c.errorf(int(k.Location), "bit string literals are not supported yet")
	}
	return Expr{}, c.errorf(int(k.Location), "unsupported constant")
}

func quoteLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

func (c *Compiler) typeCast(tc *pg_query.TypeCast) (Expr, error) {
	loc := int(tc.Location)
	t, err := TypeFromName(tc.TypeName)
	if err != nil {
		return Expr{}, c.errorf(int(tc.TypeName.Location), "%s", err.Error())
	}
	arg, err := c.compile(tc.Arg)
	if err != nil {
		return Expr{}, err
	}
	out, err := Cast(arg, t, true)
	if err != nil {
		return Expr{}, c.errAt(loc, err)
	}
	return c.located(out, loc), nil
}

func (c *Compiler) collate(cc *pg_query.CollateClause) (Expr, error) {
	arg, err := c.compile(cc.Arg)
	if err != nil {
		return Expr{}, err
	}
	var names []string
	for _, n := range cc.Collname {
		names = append(names, n.GetString_().GetSval())
	}
	name := names[len(names)-1]
	if arg.Type.OID == row.OIDUnknown {
		if arg, err = Cast(arg, row.Text, false); err != nil {
			return Expr{}, c.errAt(int(cc.Location), err)
		}
	}
	if typeCategory(arg.Type) != 'S' {
		return Expr{}, c.errorf(int(cc.Location), "collations are not supported by type %s", typeName(arg.Type))
	}
	arg.Collate = name
	arg.Text = fmt.Sprintf("%s COLLATE %s", arg.Text, row.QuoteIdent(name))
	return arg, nil
}

// Column resolves a column reference against the scope, with PostgreSQL's
// errors for missing, ambiguous and unknown-table references.
func (c *Compiler) Column(cr *pg_query.ColumnRef) (ScopeColumn, error) {
	loc := int(cr.Location)
	var parts []string
	for _, f := range cr.Fields {
		if _, ok := f.Node.(*pg_query.Node_AStar); ok {
			return ScopeColumn{}, c.errorf(loc, "* is not allowed here")
		}
		parts = append(parts, f.GetString_().GetSval())
	}
	cols := c.Scope.columns()
	switch len(parts) {
	case 1:
		name := parts[0]
		var found []ScopeColumn
		for _, col := range cols {
			if col.Name == name && !col.Hidden {
				found = append(found, col)
			}
		}
		switch len(found) {
		case 0:
			return ScopeColumn{}, c.errorf(loc, "column %q does not exist", name)
		case 1:
			return found[0], nil
		}
		return ScopeColumn{}, c.errorf(loc, "column reference %q is ambiguous", name)
	case 2, 3:
		table, name := parts[len(parts)-2], parts[len(parts)-1]
		known := false
		var found []ScopeColumn
		for _, col := range cols {
			if col.Table != table {
				continue
			}
			known = true
			if col.Name == name {
				found = append(found, col)
			}
		}
		if !known {
			return ScopeColumn{}, c.errorf(loc, "missing FROM-clause entry for table %q", table)
		}
		switch len(found) {
		case 0:
			return ScopeColumn{}, c.errorf(loc, "column %s.%s does not exist", table, name)
		case 1:
			return found[0], nil
		}
		return ScopeColumn{}, c.errorf(loc, "column reference %q is ambiguous", table+"."+name)
	}
	return ScopeColumn{}, c.errorf(loc, "improper qualified name (too many dotted names): %s", strings.Join(parts, "."))
}

func (s *Scope) columns() []ScopeColumn {
	if s == nil {
		return nil
	}
	return s.Columns
}

// FigureColname is the column name PostgreSQL gives an unaliased select
// list expression (FigureColname in parse_target.c).
func FigureColname(n *pg_query.Node) string {
	name, strength := figureColname(n)
	if strength == 0 {
		return "?column?"
	}
	return name
}

func figureColname(n *pg_query.Node) (string, int) {
	if n == nil {
		return "", 0
	}
	switch v := n.Node.(type) {
	case *pg_query.Node_ColumnRef:
		f := v.ColumnRef.Fields
		if len(f) > 0 {
			if s := f[len(f)-1].GetString_(); s != nil {
				return s.Sval, 2
			}
		}
	case *pg_query.Node_AIndirection:
		ind := v.AIndirection.Indirection
		for i := len(ind) - 1; i >= 0; i-- {
			if s := ind[i].GetString_(); s != nil {
				return s.Sval, 2
			}
		}
		return figureColname(v.AIndirection.Arg)
	case *pg_query.Node_FuncCall:
		f := v.FuncCall.Funcname
		return f[len(f)-1].GetString_().GetSval(), 2
	case *pg_query.Node_AExpr:
		if v.AExpr.Kind == pg_query.A_Expr_Kind_AEXPR_NULLIF {
			return "nullif", 2
		}
	case *pg_query.Node_TypeCast:
		name, s := figureColname(v.TypeCast.Arg)
		if s <= 1 {
			return typeCastName(v.TypeCast.TypeName), 1
		}
		return name, s
	case *pg_query.Node_CollateClause:
		return figureColname(v.CollateClause.Arg)
	case *pg_query.Node_CaseExpr:
		name, s := figureColname(v.CaseExpr.Defresult)
		if s <= 1 {
			return "case", 1
		}
		return name, s
	case *pg_query.Node_AArrayExpr:
		return "array", 2
	case *pg_query.Node_RowExpr:
		return "row", 2
	case *pg_query.Node_CoalesceExpr:
		return "coalesce", 2
	case *pg_query.Node_MinMaxExpr:
		if v.MinMaxExpr.Op == pg_query.MinMaxOp_IS_GREATEST {
			return "greatest", 2
		}
		return "least", 2
	case *pg_query.Node_SqlvalueFunction:
		return strings.ToLower(sqlValueFunctionName(v.SqlvalueFunction.Op)), 2
	case *pg_query.Node_SubLink:
		switch v.SubLink.SubLinkType {
		case pg_query.SubLinkType_EXISTS_SUBLINK:
			return "exists", 2
		case pg_query.SubLinkType_ARRAY_SUBLINK:
			return "array", 2
		case pg_query.SubLinkType_EXPR_SUBLINK:
			if sel := v.SubLink.Subselect.GetSelectStmt(); sel != nil && len(sel.TargetList) > 0 {
				rt := sel.TargetList[0].GetResTarget()
				if rt.Name != "" {
					return rt.Name, 2
				}
				return figureColname(rt.Val)
			}
		}
	case *pg_query.Node_GroupingFunc:
		return "grouping", 2
	}
	return "", 0
}
