package planner

import (
	"fmt"
	"slices"
	"strings"

	pg_query "github.com/pganalyze/pg_query_go/v5"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/rippledb/ripple/dataflow"
	"github.com/rippledb/ripple/internal/row"
	"github.com/rippledb/ripple/planner/expr"
)

// Subquery expressions. Two placements are planned, everything else is
// refused at the subquery's position:
//
//   - A top-level WHERE conjunct [NOT] EXISTS (...), x [NOT] IN (...),
//     x = ANY (...) or x <> ALL (...) becomes a semi-join (anti-join) of the
//     joined FROM rows with the subquery's rows. A subquery correlated by
//     equalities (inner expression = outer expression, ANDed in its WHERE)
//     is decorrelated: the equalities leave its WHERE and become join keys.
//     As a WHERE condition only truth matters, so IN's NULL-or-false is
//     false; NOT IN keeps PostgreSQL's rule (never true when the subquery
//     yields a NULL, nor for a NULL x over a non-empty subquery), per
//     correlation group when correlated.
//   - A scalar subquery whose select list is an expression over aggregates
//     without GROUP BY (exactly one row, whatever the data) becomes a
//     one-row relation cross-joined into the FROM clause, and the subquery
//     a reference to its column; when correlated by equalities (WHERE, or
//     the select list of a query without grouping) it becomes a LEFT JOIN
//     of the subquery grouped by its correlation (planner/correlated.go).
//     Any other scalar subquery could return several rows (an error in
//     PostgreSQL) or none, and is refused.

// semiLink is one top-level WHERE conjunct that tests a subquery.
type semiLink struct {
	link *pg_query.SubLink
	kind dataflow.SemiKind
}

// subLinks prepares the subqueries of s once its FROM clause f is
// resolved: scalar subqueries are replaced by references to one-row
// relations added to f, and the WHERE conjuncts that test a subquery are
// returned apart from the rest of the WHERE clause.
func (v *viewBuilder) subLinks(s *pg_query.SelectStmt, f *fromClause) (*pg_query.Node, []*semiLink, error) {
	var rest []*pg_query.Node
	var semis []*semiLink
	for _, n := range conjuncts(s.GetWhereClause()) {
		if sl := semiOf(n); sl != nil {
			semis = append(semis, sl)
			continue
		}
		rest = append(rest, n)
	}
	var where *pg_query.Node
	switch len(rest) {
	case 0:
	case 1:
		where = rest[0]
	default:
		where = &pg_query.Node{Node: &pg_query.Node_BoolExpr{BoolExpr: &pg_query.BoolExpr{
			Boolop: pg_query.BoolExprType_AND_EXPR, Args: rest, Location: -1}}}
	}
	// Scalar subqueries, in the select list, the WHERE clause, HAVING and
	// the operands of the tests above.
	var nodes []*pg_query.Node
	for _, t := range s.GetTargetList() {
		nodes = append(nodes, t.GetResTarget().GetVal())
	}
	// Aggregates without GROUP BY: grouping by the subquery's column would
	// lose the one row of an empty input.
	global := len(s.GetGroupClause()) == 0 && (s.GetHavingClause() != nil || hasAggregates(nodes...))
	grouped := len(s.GetGroupClause()) > 0 || s.GetHavingClause() != nil || hasAggregates(nodes...)
	var err error
	selectList, inWhere := false, false
	rewrite := func(n *pg_query.Node) *pg_query.Node {
		if n == nil || err != nil {
			return n
		}
		out, e := v.scalars(f, n, scalarPlace{global: global && !inWhere, correlated: (selectList && !grouped) || inWhere})
		if e != nil {
			err = e
			return n
		}
		return out
	}
	selectList = true
	for _, t := range s.GetTargetList() {
		if rt := t.GetResTarget(); rt != nil {
			rt.Val = rewrite(rt.GetVal())
		}
	}
	selectList = false
	// A WHERE conjunct with a correlated scalar subquery is applied once
	// the subquery is joined in.
	var kept []*pg_query.Node
	inWhere = true
	for _, n := range rest {
		before := len(f.correlated)
		if n = rewrite(n); len(f.correlated) > before {
			f.lateWhere = append(f.lateWhere, n)
		} else {
			kept = append(kept, n)
		}
	}
	inWhere = false
	where = andOf(kept)
	s.HavingClause = rewrite(s.GetHavingClause())
	for _, sl := range semis {
		sl.link.Testexpr = rewrite(sl.link.GetTestexpr())
	}
	if err != nil {
		return nil, nil, err
	}
	nodes = []*pg_query.Node{where, s.GetHavingClause()}
	for _, t := range s.GetTargetList() {
		nodes = append(nodes, t.GetResTarget().GetVal())
	}
	for _, sl := range semis {
		nodes = append(nodes, sl.link.GetTestexpr())
	}
	for _, n := range nodes {
		if loc := subLinkLocation(n); loc >= 0 {
			return nil, nil, v.errorf(loc, "subqueries are supported only as top-level WHERE conditions ([NOT] EXISTS, [NOT] IN) and as aggregates without GROUP BY (scalar subqueries)")
		}
	}
	return where, semis, nil
}

// semiOf classifies a WHERE conjunct that tests a subquery; nil for any
// other conjunct.
func semiOf(n *pg_query.Node) *semiLink {
	not := false
	if b := n.GetBoolExpr(); b != nil && b.GetBoolop() == pg_query.BoolExprType_NOT_EXPR && len(b.GetArgs()) == 1 {
		n, not = b.GetArgs()[0], true
	}
	sl := n.GetSubLink()
	if sl == nil {
		return nil
	}
	switch {
	case sl.GetSubLinkType() == pg_query.SubLinkType_EXISTS_SUBLINK && !not:
		return &semiLink{sl, dataflow.Semi}
	case sl.GetSubLinkType() == pg_query.SubLinkType_EXISTS_SUBLINK:
		return &semiLink{sl, dataflow.Anti}
	case sl.GetSubLinkType() == pg_query.SubLinkType_ANY_SUBLINK && subLinkOp(sl) == "=" && !not:
		return &semiLink{sl, dataflow.Semi}
	case sl.GetSubLinkType() == pg_query.SubLinkType_ANY_SUBLINK && subLinkOp(sl) == "=":
		return &semiLink{sl, dataflow.AntiNullAware}
	case sl.GetSubLinkType() == pg_query.SubLinkType_ALL_SUBLINK && subLinkOp(sl) == "<>" && !not:
		return &semiLink{sl, dataflow.AntiNullAware}
	}
	return nil
}

// subLinkLocation is the position of the first subquery expression in n
// (not inside another subquery), -1 when there is none.
func subLinkLocation(n *pg_query.Node) int {
	loc := -1
	inspectNode(n, func(m protoreflect.Message) bool {
		if loc >= 0 {
			return false
		}
		if sl, ok := m.Interface().(*pg_query.SubLink); ok {
			loc = int(sl.GetLocation())
			return false
		}
		return true
	})
	return loc
}

// scalars replaces every scalar subquery in n (not inside another
// subquery) by a reference to the column of a one-row relation added to f.
func (v *viewBuilder) scalars(f *fromClause, n *pg_query.Node, place scalarPlace) (*pg_query.Node, error) {
	var err error
	var fn func(n *pg_query.Node) *pg_query.Node
	fn = func(n *pg_query.Node) *pg_query.Node {
		if err != nil {
			return n
		}
		sl := n.GetSubLink()
		if sl == nil {
			mapNodes(n.ProtoReflect(), fn)
			return n
		}
		if sl.GetSubLinkType() != pg_query.SubLinkType_EXPR_SUBLINK {
			return n // refused by placement
		}
		out, e := v.scalar(f, sl, place)
		if e != nil {
			err = e
			return n // the tree stays whole; the error ends planning
		}
		return out
	}
	n = fn(n)
	return n, err
}

// scalarPlace says where a scalar subquery is: in a query with
// aggregates but no GROUP BY (global), and whether a correlated one can be
// planned there (a top-level WHERE conjunct, or the select list of a
// query without grouping).
type scalarPlace struct {
	global, correlated bool
}

// scalar plans one scalar subquery as a one-row relation of f and returns
// the reference to its column that replaces it.
func (v *viewBuilder) scalar(f *fromClause, sl *pg_query.SubLink, place scalarPlace) (*pg_query.Node, error) {
	loc := int(sl.GetLocation())
	sub := sl.GetSubselect().GetSelectStmt()
	if place.global {
		return nil, v.errorf(loc, "scalar subqueries in a query with aggregates but no GROUP BY are not supported yet")
	}
	oneRow := sub != nil && sub.GetOp() == pg_query.SetOperation_SETOP_NONE && len(sub.GetGroupClause()) == 0 &&
		sub.GetHavingClause() == nil && len(sub.GetTargetList()) == 1 && sub.GetLimitCount() == nil && sub.GetLimitOffset() == nil &&
		len(sub.GetFromClause()) > 0
	if oneRow {
		rt := sub.GetTargetList()[0].GetResTarget()
		oneRow = rt != nil && hasAggregates(rt.GetVal()) && subLinkLocation(rt.GetVal()) < 0
	}
	if !oneRow {
		return nil, v.errorf(loc, "a scalar subquery is supported only as one aggregate without GROUP BY or HAVING (exactly one row); this one may return no row or several (PostgreSQL: more than one row returned by a subquery used as an expression)")
	}
	outer, err := v.outerRefs(sub, f)
	if err != nil {
		return nil, err
	}
	if len(outer) > 0 {
		if !place.correlated {
			return nil, v.errorf(outer[0], "correlated scalar subqueries are supported only in WHERE and in the select list of a query without GROUP BY or aggregates")
		}
		return v.correlatedScalarRef(f, sl, sub)
	}
	n, err := v.subquery(sub)
	if err != nil {
		return nil, err
	}
	rt := sub.GetTargetList()[0].GetResTarget()
	name := rt.GetName()
	if name == "" {
		if nm, strength := figureColname(rt.GetVal()); strength > 0 {
			name = nm
		} else {
			name = "?column?"
		}
	}
	rel := fmt.Sprintf("subquery#%d", len(f.owner)+1)
	schema := row.Schema{{Name: name, Type: n.Schema()[0].Type}}
	it, err := v.addDerived(f, rel, nil, n, schema, loc, "subquery")
	if err != nil {
		return nil, err
	}
	for i := range it.cols {
		it.cols[i].Hidden = true // reachable only through the reference below
	}
	f.rels[len(f.rels)-1].oneRow = true
	f.scope = append(f.scope, it.cols...)
	f.items = append(f.items, it.node)
	return &pg_query.Node{Node: &pg_query.Node_ColumnRef{ColumnRef: &pg_query.ColumnRef{
		Fields:   []*pg_query.Node{pg_query.MakeStrNode(rel), pg_query.MakeStrNode(name)},
		Location: sl.GetLocation(),
	}}}, nil
}

// innerFrom resolves the FROM clause of subquery sub (with its WITH
// queries visible) without planning its select list.
func (v *viewBuilder) innerFrom(sub *pg_query.SelectStmt) (*fromClause, error) {
	if w := sub.GetWithClause(); w != nil {
		saved := v.env
		defer func() { v.env = saved }()
		if err := v.with(w); err != nil {
			return nil, err
		}
	}
	return v.from(sub.GetFromClause())
}

// refCounter counts the column references of expressions that resolve in
// a subquery's own FROM clause and those that resolve only in the outer
// query's.
type refCounter struct {
	inner, outer *expr.Compiler
}

// count walks n (not into nested subqueries) and returns the number of
// inner and outer references and the position of the first outer one.
func (rc refCounter) count(n *pg_query.Node) (inner, outer, loc int) {
	loc = -1
	inspectNode(n, func(m protoreflect.Message) bool {
		switch x := m.Interface().(type) {
		case *pg_query.SubLink:
			return false
		case *pg_query.ColumnRef:
			if isStar(x) {
				return false
			}
			if _, err := rc.inner.Column(x); err == nil {
				inner++
			} else if _, err := rc.outer.Column(x); err == nil {
				outer++
				if loc < 0 {
					loc = int(x.GetLocation())
				}
			}
			return false
		}
		return true
	})
	return inner, outer, loc
}

func (v *viewBuilder) refCounter(sub *pg_query.SelectStmt, f *fromClause) (refCounter, error) {
	if sub.GetOp() != pg_query.SetOperation_SETOP_NONE && sub.GetOp() != pg_query.SetOperation_SET_OPERATION_UNDEFINED {
		// Set operations are planned as they are; an outer reference in
		// a branch fails to resolve there.
		return refCounter{}, nil
	}
	inner, err := v.innerFrom(sub)
	if err != nil {
		return refCounter{}, err
	}
	return refCounter{
		inner: v.compiler(inner.scope, "subquery", "", nil),
		outer: v.compiler(f.scope, "WHERE", "WHERE", nil),
	}, nil
}

// outerRefs lists the positions of references to the outer query's
// columns anywhere in sub's clauses (not in nested subqueries).
func (v *viewBuilder) outerRefs(sub *pg_query.SelectStmt, f *fromClause) ([]int, error) {
	rc, err := v.refCounter(sub, f)
	if err != nil || rc.inner == nil {
		return nil, err
	}
	var locs []int
	nodes := append([]*pg_query.Node{sub.GetWhereClause(), sub.GetHavingClause()}, sub.GetGroupClause()...)
	for _, t := range sub.GetTargetList() {
		nodes = append(nodes, t.GetResTarget().GetVal())
	}
	for _, n := range nodes {
		if _, o, loc := rc.count(n); o > 0 {
			locs = append(locs, loc)
		}
	}
	return locs, nil
}

// semiJoins applies the subquery tests of WHERE to node, whose rows hold
// the FROM clause's columns at pos; the result has node's columns.
func (v *viewBuilder) semiJoins(f *fromClause, node *dataflow.Node, pos []int, links []*semiLink) (*dataflow.Node, error) {
	for _, sl := range links {
		var err error
		if node, err = v.semiJoin(f, node, pos, sl); err != nil {
			return nil, err
		}
	}
	return v.joinCorrelated(f, node, pos)
}

func (v *viewBuilder) semiJoin(f *fromClause, node *dataflow.Node, pos []int, sl *semiLink) (*dataflow.Node, error) {
	link := sl.link
	loc := int(link.GetLocation())
	sub := link.GetSubselect().GetSelectStmt()
	if sub == nil {
		return nil, v.errorf(loc, "unexpected subquery")
	}
	rc, err := v.refCounter(sub, f)
	if err != nil {
		return nil, err
	}
	// Split the subquery's WHERE into the correlating equalities and the
	// rest.
	var corrOuter, corrInner, rest []*pg_query.Node
	if rc.inner != nil {
		if corrOuter, corrInner, rest, err = v.correlation(rc, sub.GetWhereClause()); err != nil {
			return nil, err
		}
		others := append([]*pg_query.Node{sub.GetHavingClause()}, sub.GetGroupClause()...)
		if link.GetSubLinkType() != pg_query.SubLinkType_EXISTS_SUBLINK {
			// EXISTS ignores its select list (decorrelation replaces it).
			for _, t := range sub.GetTargetList() {
				others = append(others, t.GetResTarget().GetVal())
			}
		}
		for _, n := range others {
			if _, o, oloc := rc.count(n); o > 0 {
				return nil, v.errorf(oloc, errCorrelation)
			}
		}
	}
	q := sub
	exists := link.GetSubLinkType() == pg_query.SubLinkType_EXISTS_SUBLINK
	if len(corrOuter) > 0 {
		var targets []*pg_query.Node
		if !exists {
			targets = slices.Clone(sub.GetTargetList())
		}
		var tnodes []*pg_query.Node
		for _, t := range sub.GetTargetList() {
			tnodes = append(tnodes, t.GetResTarget().GetVal())
		}
		switch {
		case len(sub.GetGroupClause()) > 0 || sub.GetHavingClause() != nil || (!exists && hasAggregates(tnodes...)):
			return nil, v.errorf(loc, "correlated subqueries with GROUP BY or aggregates are not supported yet")
		case exists && hasAggregates(tnodes...):
			return nil, v.errorf(loc, "correlated EXISTS over an aggregate is not supported yet")
		case len(sub.GetDistinctClause()) > 0 && sub.GetDistinctClause()[0].GetNode() != nil:
			return nil, v.errorf(loc, "correlated subqueries with DISTINCT ON are not supported yet")
		}
		for _, e := range corrInner {
			targets = append(targets, &pg_query.Node{Node: &pg_query.Node_ResTarget{ResTarget: &pg_query.ResTarget{Val: e, Location: -1}}})
		}
		var where *pg_query.Node
		switch len(rest) {
		case 0:
		case 1:
			where = rest[0]
		default:
			where = &pg_query.Node{Node: &pg_query.Node_BoolExpr{BoolExpr: &pg_query.BoolExpr{
				Boolop: pg_query.BoolExprType_AND_EXPR, Args: rest, Location: -1}}}
		}
		q = &pg_query.SelectStmt{FromClause: sub.GetFromClause(), WhereClause: where, TargetList: targets,
			WithClause: sub.GetWithClause(), Op: pg_query.SetOperation_SETOP_NONE}
	}
	right, err := v.subquery(q)
	if err != nil {
		return nil, err
	}
	width := len(right.Schema()) - len(corrInner)
	// The outer side of each key: IN's operands, then the correlations.
	var lnodes []*pg_query.Node
	if !exists {
		te := link.GetTestexpr()
		if r := te.GetRowExpr(); r != nil {
			lnodes = slices.Clone(r.GetArgs())
		} else {
			lnodes = []*pg_query.Node{te}
		}
		if len(lnodes) < width {
			return nil, v.errorf(loc, "subquery has too many columns")
		}
		if len(lnodes) > width {
			return nil, v.errorf(loc, "subquery has too few columns")
		}
		if sl.kind == dataflow.AntiNullAware && len(lnodes) != 1 {
			return nil, v.errorf(loc, "NOT IN with a row of several columns is not supported yet")
		}
	}
	lnodes = append(lnodes, corrOuter...)
	rcols := make([]int, 0, len(lnodes))
	if !exists {
		for i := range width {
			rcols = append(rcols, i)
		}
	}
	for i := range corrInner {
		rcols = append(rcols, width+i)
	}
	c := v.compiler(remap(f.scope, pos), "WHERE", "WHERE", nil)
	lw := len(node.Schema())
	var lexprs, rexprs []expr.Expr
	var lkey, rkey []int
	var texts []string
	for i, n := range lnodes {
		le, err := c.Compile(n)
		if err != nil {
			return nil, err
		}
		rcol := right.Schema()[rcols[i]]
		re := columnExpr(expr.ScopeColumn{Name: rcol.Name, Type: rcol.Type}, rcols[i])
		target, castL, castR, ok := keyType(le.Type, re.Type)
		if !ok {
			return nil, v.errorf(max(firstLocation(n), loc), "comparing %s with %s in a subquery condition is not supported yet", typeString(le.Type), typeString(re.Type))
		}
		texts = append(texts, le.Text+" = "+re.Text)
		switch idx, plain := plainColumn(c, n); {
		case plain && !castL:
			lkey = append(lkey, idx) // a column of the rows as they are
		default:
			if castL {
				if le, err = castExpr(le, target); err != nil {
					return nil, v.wrap(loc, err)
				}
			}
			lkey = append(lkey, lw+len(lexprs))
			lexprs = append(lexprs, le)
		}
		if castR {
			if re, err = castExpr(re, target); err != nil {
				return nil, v.wrap(loc, err)
			}
			rkey = append(rkey, len(right.Schema())+len(rexprs))
			rexprs = append(rexprs, re)
		} else {
			rkey = append(rkey, rcols[i])
		}
	}
	label := strings.Join(texts, " AND ")
	switch {
	case exists && sl.kind == dataflow.Semi:
		label = strings.TrimSpace("EXISTS " + label)
	case exists:
		label = strings.TrimSpace("NOT EXISTS " + label)
	case sl.kind == dataflow.Semi:
		label = "IN " + label
	default:
		label = "NOT IN " + label
	}
	left := v.appendColumns(node, lexprs)
	right = v.appendColumns(right, rexprs)
	var out *dataflow.Node
	if sl.kind == dataflow.AntiNullAware && len(corrOuter) > 0 {
		// NOT IN per correlation group: the correlation keys first, the
		// operand last.
		lk := append(slices.Clone(lkey[1:]), lkey[0])
		rk := append(slices.Clone(rkey[1:]), rkey[0])
		out = v.g.NotIn(left, right, lk, rk, len(corrOuter), label)
	} else {
		out = v.g.SemiJoin(left, right, lkey, rkey, sl.kind, label)
	}
	if len(lexprs) > 0 {
		schema := node.Schema()
		out = v.g.Map(out, func(r row.Row) (row.Row, error) { return r[:lw:lw], nil }, schema, "drop key columns")
	}
	return out, nil
}

// plainColumn is the row position n reads when it is a bare column
// reference.
func plainColumn(c *expr.Compiler, n *pg_query.Node) (int, bool) {
	cr := n.GetColumnRef()
	if cr == nil || isStar(cr) {
		return 0, false
	}
	sc, err := c.Column(cr)
	if err != nil || sc.Index < 0 {
		return 0, false
	}
	return sc.Index, true
}
