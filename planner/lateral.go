package planner

import (
	"strings"

	pg_query "github.com/pganalyze/pg_query_go/v5"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// LATERAL subqueries are decorrelated by rewriting the parse tree before
// the SELECT is planned. A lateral subquery whose outer references are
// WHERE conjuncts `inner = outer` becomes an ordinary subquery that
// selects the inner sides as hidden columns ("#lat..."), and the
// equalities move out to the enclosing query (its WHERE, or the ON of the
// JOIN that introduces the subquery), where they are join conditions.
// With ORDER BY ... LIMIT/OFFSET the subquery keeps, per value of the
// correlation columns, the rows at those positions: row_number() OVER
// (PARTITION BY the inner sides ORDER BY the subquery's ORDER BY), which
// the window planner maintains per partition (a keyed top-k) and which
// needs a deterministic order like every top-k. With GROUP BY, the inner
// sides join the GROUP BY (each group of the subquery for an outer row is
// a group of rows that also agree on the inner sides). A subquery with
// aggregates and no GROUP BY returns one row per outer row, also when no
// inner row matches: it is left LATERAL here and planned by the FROM
// clause as a LEFT JOIN (planner/correlated.go). DISTINCT, window
// functions and set operations in a correlated lateral subquery are
// refused.

// latPrefix starts the names of the hidden columns the rewrite adds.
const latPrefix = "#lat"

// decorrelateLateral rewrites the LATERAL subqueries of s's FROM clause.
func (v *viewBuilder) decorrelateLateral(s *pg_query.SelectStmt) error {
	n := 0
	var visit func(item *pg_query.Node, join *pg_query.JoinExpr) error
	visit = func(item *pg_query.Node, join *pg_query.JoinExpr) error {
		if j := item.GetJoinExpr(); j != nil {
			if err := visit(j.GetLarg(), nil); err != nil {
				return err
			}
			return visit(j.GetRarg(), j)
		}
		rs := item.GetRangeSubselect()
		if rs == nil || !rs.GetLateral() {
			return nil
		}
		rs.Lateral = false
		conds, keep, err := v.lateral(rs, n)
		n++
		if keep { // planned by the FROM clause (planner/correlated.go)
			if v.lateAggs == nil {
				v.lateAggs = map[*pg_query.RangeSubselect]bool{}
			}
			v.lateAggs[rs] = true
			return nil
		}
		if err != nil || len(conds) == 0 {
			return err
		}
		if join != nil {
			switch join.GetJointype() {
			case pg_query.JoinType_JOIN_INNER, pg_query.JoinType_JOIN_LEFT:
			default:
				return v.errorf(firstLocation(rs), "LATERAL is supported in comma lists, [CROSS] JOIN and LEFT JOIN only")
			}
			if join.GetUsingClause() != nil || join.GetIsNatural() {
				return v.errorf(firstLocation(rs), "LATERAL with USING or NATURAL is not supported")
			}
			join.Quals = andNodes(append([]*pg_query.Node{join.GetQuals()}, conds...))
			return nil
		}
		s.WhereClause = andNodes(append([]*pg_query.Node{s.GetWhereClause()}, conds...))
		return nil
	}
	for _, item := range s.GetFromClause() {
		if err := visit(item, nil); err != nil {
			return err
		}
	}
	return nil
}

func andNodes(ns []*pg_query.Node) *pg_query.Node {
	var args []*pg_query.Node
	for _, n := range ns {
		if n != nil && n.GetNode() != nil {
			args = append(args, n)
		}
	}
	switch len(args) {
	case 0:
		return nil
	case 1:
		return args[0]
	}
	return pg_query.MakeBoolExprNode(pg_query.BoolExprType_AND_EXPR, args, -1)
}

// fromNames are the range variable names a FROM clause introduces.
func fromNames(items []*pg_query.Node) map[string]bool {
	names := map[string]bool{}
	var add func(n *pg_query.Node)
	add = func(n *pg_query.Node) {
		switch x := n.GetNode().(type) {
		case *pg_query.Node_RangeVar:
			if a := x.RangeVar.GetAlias(); a != nil {
				names[a.GetAliasname()] = true
			} else {
				names[x.RangeVar.GetRelname()] = true
			}
		case *pg_query.Node_RangeSubselect:
			if a := x.RangeSubselect.GetAlias(); a != nil {
				names[a.GetAliasname()] = true
			}
		case *pg_query.Node_JoinExpr:
			add(x.JoinExpr.GetLarg())
			add(x.JoinExpr.GetRarg())
		}
	}
	for _, n := range items {
		add(n)
	}
	return names
}

// outerRefs reports whether n reads a column qualified by a name that
// inner does not define (an outer reference), and whether it reads any
// other column.
func outerRefs(n *pg_query.Node, inner map[string]bool) (outer, local bool) {
	inspectNode(n, func(m protoreflect.Message) bool {
		cr, ok := m.Interface().(*pg_query.ColumnRef)
		if !ok {
			return true
		}
		f := cr.GetFields()
		if len(f) >= 2 && f[len(f)-2].GetString_() != nil && !inner[f[len(f)-2].GetString_().GetSval()] {
			outer = true
		} else {
			local = true
		}
		return false
	})
	return outer, local
}

// lateral rewrites one lateral subquery (the n-th) in place and returns
// the equalities the enclosing query must apply. keep is set for a
// correlated subquery with aggregates and no GROUP BY, which the FROM
// clause plans as a late item (planner/correlated.go).
func (v *viewBuilder) lateral(rs *pg_query.RangeSubselect, n int) (conds []*pg_query.Node, keep bool, err error) {
	conds, err = v.lateralRewrite(rs, n, &keep)
	return conds, keep, err
}

func (v *viewBuilder) lateralRewrite(rs *pg_query.RangeSubselect, n int, late *bool) ([]*pg_query.Node, error) {
	loc := v.keywordBefore(firstLocation(rs), pg_query.Token_LATERAL_P)
	sel := rs.GetSubquery().GetSelectStmt()
	a := rs.GetAlias()
	if sel == nil || a == nil {
		return nil, nil // reported by the FROM planner
	}
	inner := fromNames(sel.GetFromClause())
	if o, _ := outerRefs(rs.GetSubquery(), inner); !o {
		return nil, nil // not correlated: an ordinary subquery
	}
	switch {
	case sel.GetOp() != pg_query.SetOperation_SETOP_NONE && sel.GetOp() != pg_query.SetOperation_SET_OPERATION_UNDEFINED:
		return nil, v.errorf(loc, "correlated LATERAL subqueries with set operations are not supported yet")
	case len(sel.GetGroupClause()) == 0 && (sel.GetHavingClause() != nil || hasAggregates(targetNodes(sel)...)):
		*late = true // one row per outer row: planner/correlated.go
		return nil, nil
	case hasGroupingSets(sel.GetGroupClause()):
		return nil, v.errorf(loc, "correlated LATERAL subqueries with GROUPING SETS, ROLLUP or CUBE are not supported yet")
	case len(sel.GetGroupClause()) > 0 && (sel.GetLimitCount() != nil || sel.GetLimitOffset() != nil):
		return nil, v.errorf(loc, "LIMIT/OFFSET in a correlated LATERAL subquery with GROUP BY is not supported yet")
	case len(sel.GetDistinctClause()) > 0:
		return nil, v.errorf(loc, "correlated LATERAL subqueries with DISTINCT are not supported yet")
	case len(windowCalls(targetNodes(sel)...)) > 0:
		return nil, v.errorf(loc, "correlated LATERAL subqueries with window functions are not supported yet")
	case sel.GetWithClause() != nil:
		return nil, v.errorf(loc, "correlated LATERAL subqueries with WITH are not supported yet")
	}
	for _, t := range sel.GetTargetList() {
		if o, _ := outerRefs(t, inner); o {
			return nil, v.errorf(firstLocation(t), "LATERAL: outer references are supported only in WHERE equalities (inner expression = outer column)")
		}
	}
	for _, f := range sel.GetFromClause() {
		if o, _ := outerRefs(f, inner); o {
			return nil, v.errorf(firstLocation(f), "LATERAL: outer references are supported only in WHERE equalities (inner expression = outer column)")
		}
	}
	for _, g := range append([]*pg_query.Node{sel.GetHavingClause()}, sel.GetGroupClause()...) {
		if o, _ := outerRefs(g, inner); o {
			return nil, v.errorf(firstLocation(g), "LATERAL: outer references are supported only in WHERE equalities (inner expression = outer column)")
		}
	}
	for _, o := range sel.GetSortClause() {
		if out, _ := outerRefs(o, inner); out {
			return nil, v.errorf(firstLocation(o), "LATERAL: outer references are supported only in WHERE equalities (inner expression = outer column)")
		}
	}
	var keep, innerSide, outerSide []*pg_query.Node
	for _, c := range conjuncts(sel.GetWhereClause()) {
		o, _ := outerRefs(c, inner)
		if !o {
			keep = append(keep, c)
			continue
		}
		e := c.GetAExpr()
		if e == nil || e.GetKind() != pg_query.A_Expr_Kind_AEXPR_OP || len(e.GetName()) != 1 || e.GetName()[0].GetString_().GetSval() != "=" {
			return nil, v.errorf(firstLocation(c), "LATERAL: outer references are supported only in WHERE equalities (inner expression = outer column)")
		}
		lo, ll := outerRefs(e.GetLexpr(), inner)
		ro, rl := outerRefs(e.GetRexpr(), inner)
		switch {
		case lo && !ll && !ro && rl:
			innerSide, outerSide = append(innerSide, e.GetRexpr()), append(outerSide, e.GetLexpr())
		case ro && !rl && !lo && ll:
			innerSide, outerSide = append(innerSide, e.GetLexpr()), append(outerSide, e.GetRexpr())
		default:
			return nil, v.errorf(firstLocation(c), "LATERAL: outer references are supported only in WHERE equalities (inner expression = outer column)")
		}
	}
	prefix := latPrefix + itoa(n) + "_"
	sel.WhereClause = andNodes(keep)
	if len(sel.GetGroupClause()) > 0 {
		// Grouped per outer row: each group of the subquery is a group of
		// its rows that also agree on the inner sides, one row per
		// matching outer row (and none for an outer row without rows).
		for _, ie := range innerSide {
			sel.GroupClause = append(sel.GroupClause, proto.Clone(ie).(*pg_query.Node))
		}
	}
	var conds []*pg_query.Node
	for i, ie := range innerSide {
		name := prefix + "k" + itoa(i)
		sel.TargetList = append(sel.TargetList, resTarget(ie, name))
		ref := &pg_query.Node{Node: &pg_query.Node_ColumnRef{ColumnRef: &pg_query.ColumnRef{
			Fields: []*pg_query.Node{pg_query.MakeStrNode(a.GetAliasname()), pg_query.MakeStrNode(name)}, Location: int32(firstLocation(ie))}}}
		conds = append(conds, pg_query.MakeAExprNode(pg_query.A_Expr_Kind_AEXPR_OP, []*pg_query.Node{pg_query.MakeStrNode("=")}, ref, outerSide[i], int32(firstLocation(ie))))
	}
	lc, lo := sel.GetLimitCount(), sel.GetLimitOffset()
	if lc == nil && lo == nil {
		sel.SortClause = nil // order without LIMIT does not change the rows
		return conds, nil
	}
	if len(sel.GetSortClause()) == 0 {
		return nil, v.errorf(loc, "LIMIT/OFFSET in a LATERAL subquery needs an ORDER BY that includes a unique key: PostgreSQL may return any rows")
	}
	if sel.GetLimitOption() == pg_query.LimitOption_LIMIT_OPTION_WITH_TIES {
		return nil, v.errorf(loc, "FETCH ... WITH TIES is not supported yet")
	}
	limit, err := v.limitValue(lc, "LIMIT", loc, -1)
	if err != nil {
		return nil, err
	}
	offset, err := v.limitValue(lo, "OFFSET", loc, 0)
	if err != nil {
		return nil, err
	}
	rn := prefix + "rn"
	oloc := int32(firstLocation(sel.GetSortClause()[0]))
	over := &pg_query.WindowDef{PartitionClause: innerSide, OrderClause: sel.GetSortClause(), FrameOptions: 1058, Location: oloc}
	call := &pg_query.FuncCall{Funcname: []*pg_query.Node{pg_query.MakeStrNode("row_number")}, Over: over, Location: oloc}
	sel.TargetList = append(sel.TargetList, resTarget(&pg_query.Node{Node: &pg_query.Node_FuncCall{FuncCall: call}}, rn))
	sel.SortClause, sel.LimitCount, sel.LimitOffset = nil, nil, nil
	sel.LimitOption = pg_query.LimitOption_LIMIT_OPTION_DEFAULT
	rnRef := &pg_query.Node{Node: &pg_query.Node_ColumnRef{ColumnRef: &pg_query.ColumnRef{
		Fields: []*pg_query.Node{pg_query.MakeStrNode(prefix + "q"), pg_query.MakeStrNode(rn)}, Location: int32(loc)}}}
	var filter []*pg_query.Node
	if offset > 0 {
		filter = append(filter, pg_query.MakeAExprNode(pg_query.A_Expr_Kind_AEXPR_OP, []*pg_query.Node{pg_query.MakeStrNode(">")}, rnRef, pg_query.MakeAConstIntNode(offset, -1), -1))
	}
	if limit >= 0 {
		filter = append(filter, pg_query.MakeAExprNode(pg_query.A_Expr_Kind_AEXPR_OP, []*pg_query.Node{pg_query.MakeStrNode("<=")}, rnRef, pg_query.MakeAConstIntNode(offset+limit, -1), -1))
	}
	star := &pg_query.Node{Node: &pg_query.Node_ColumnRef{ColumnRef: &pg_query.ColumnRef{Fields: []*pg_query.Node{{Node: &pg_query.Node_AStar{AStar: &pg_query.A_Star{}}}}, Location: -1}}}
	wrapped := &pg_query.SelectStmt{
		TargetList: []*pg_query.Node{resTarget(star, "")},
		FromClause: []*pg_query.Node{{Node: &pg_query.Node_RangeSubselect{RangeSubselect: &pg_query.RangeSubselect{
			Subquery: &pg_query.Node{Node: &pg_query.Node_SelectStmt{SelectStmt: sel}},
			Alias:    &pg_query.Alias{Aliasname: prefix + "q"},
		}}}},
		WhereClause: andNodes(filter),
		Op:          pg_query.SetOperation_SETOP_NONE,
	}
	rs.Subquery = &pg_query.Node{Node: &pg_query.Node_SelectStmt{SelectStmt: wrapped}}
	return conds, nil
}

func resTarget(val *pg_query.Node, name string) *pg_query.Node {
	return &pg_query.Node{Node: &pg_query.Node_ResTarget{ResTarget: &pg_query.ResTarget{Name: name, Val: val, Location: int32(firstLocation(val))}}}
}

func targetNodes(s *pg_query.SelectStmt) []*pg_query.Node {
	var out []*pg_query.Node
	for _, t := range s.GetTargetList() {
		out = append(out, t.GetResTarget().GetVal())
	}
	return out
}

// hiddenLateral reports whether a derived column was added by the LATERAL
// rewrite (such columns are left out of * and t.*).
func hiddenLateral(name string) bool { return strings.HasPrefix(name, latPrefix) }
