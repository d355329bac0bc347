package planner

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	pg_query "github.com/pganalyze/pg_query_go/v5"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/rippledb/ripple/dataflow"
	"github.com/rippledb/ripple/internal/row"
	"github.com/rippledb/ripple/planner/expr"
)

// Correlated aggregates: a scalar subquery whose select list is an
// expression over aggregates without GROUP BY, and a LATERAL subquery in
// FROM whose select list is such expressions, both correlated by WHERE
// equalities (inner expression = outer expression). Each yields exactly
// one row per outer row, in PostgreSQL the aggregates over the inner rows
// whose inner sides equal the outer row's values.
//
// Decorrelated, the subquery's select list is computed over its rows
// grouped by the inner sides (selected as hidden columns after it), and
// the outer rows are LEFT JOINed with those groups on the correlation. A
// group exists only where inner rows match, so an outer row without one
// (also every outer row whose correlation values hold a NULL: equality
// with NULL is never true) gets the select list evaluated over no rows.
// That value is computed by evaluating the very aggregates over an empty
// group (their New state's Result) and the select list over that row:
// count gives 0, sum/min/max/avg/bool_and/array_agg NULL, and an
// expression such as coalesce(sum(x), 0) its value over NULL. When the
// evaluation raises an error (1 / count(*)) the error is raised for the
// outer rows that need the value, as PostgreSQL raises it when it runs the
// subquery for them.

// correlatedScalar is one correlated aggregate subquery, joined in after
// the FROM clause's relations.
type correlatedScalar struct {
	globals []int            // the scope columns that stand for its values
	node    *dataflow.Node   // its values, then the correlation's inner sides
	outer   []*pg_query.Node // the correlation's outer sides
	// scope is what outer resolves in (global indexes); nil for the whole
	// FROM clause.
	scope    []expr.ScopeColumn
	names    []string
	empty    []row.Datum // the values over no rows
	emptyErr error       // the error evaluating them raises
	loc      int
}

// errCorrelation is the refusal of an outer reference that is no
// correlating equality.
const errCorrelation = "a correlated subquery may use outer columns only in equalities (inner expression = outer expression) ANDed in its WHERE clause"

// correlation splits the WHERE clause of a correlated subquery into the
// outer and inner sides of its correlating equalities and the other
// conjuncts.
func (v *viewBuilder) correlation(rc refCounter, where *pg_query.Node) (outer, inner, rest []*pg_query.Node, err error) {
	for _, cj := range conjuncts(where) {
		_, o, oloc := rc.count(cj)
		if o == 0 {
			rest = append(rest, cj)
			continue
		}
		a := cj.GetAExpr()
		if a == nil || a.GetKind() != pg_query.A_Expr_Kind_AEXPR_OP || opName(a) != "=" {
			return nil, nil, nil, v.errorf(oloc, errCorrelation)
		}
		li, lo, _ := rc.count(a.GetLexpr())
		ri, ro, _ := rc.count(a.GetRexpr())
		switch {
		case lo > 0 && li == 0 && ri > 0 && ro == 0:
			outer, inner = append(outer, a.GetLexpr()), append(inner, a.GetRexpr())
		case ro > 0 && ri == 0 && li > 0 && lo == 0:
			outer, inner = append(outer, a.GetRexpr()), append(inner, a.GetLexpr())
		default:
			return nil, nil, nil, v.errorf(oloc, errCorrelation)
		}
	}
	return outer, inner, rest, nil
}

// ungroupedInner refuses a column of the subquery's own FROM clause used
// outside an aggregate in the select list of an aggregate query without
// GROUP BY, as PostgreSQL does (the decorrelated plan groups by the
// correlation and would otherwise accept it).
func (v *viewBuilder) ungroupedInner(rc refCounter, nodes ...*pg_query.Node) error {
	var err error
	for _, n := range nodes {
		inspectNode(n, func(m protoreflect.Message) bool {
			if err != nil {
				return false
			}
			switch x := m.Interface().(type) {
			case *pg_query.SubLink:
				return false
			case *pg_query.FuncCall:
				return !isAggregateCall(x)
			case *pg_query.ColumnRef:
				if isStar(x) {
					return false
				}
				if sc, e := rc.inner.Column(x); e == nil {
					err = v.ungrouped(int(x.GetLocation()), sc)
				}
				return false
			}
			return true
		})
	}
	return err
}

// aggregateByCorrelation plans targets (select list entries with
// aggregates) over sub's FROM clause and the WHERE conjuncts rest, grouped
// by the correlation's inner sides, which follow the targets' columns. It
// returns the node and the targets' values over no rows (or the error
// computing them raises).
func (v *viewBuilder) aggregateByCorrelation(sub *pg_query.SelectStmt, targets, inner, rest []*pg_query.Node, loc int) (*dataflow.Node, []row.Datum, error, error) {
	list := make([]*pg_query.Node, 0, len(targets)+len(inner))
	for _, t := range targets {
		list = append(list, proto.Clone(t).(*pg_query.Node))
	}
	var group []*pg_query.Node
	for _, e := range inner {
		list = append(list, &pg_query.Node{Node: &pg_query.Node_ResTarget{ResTarget: &pg_query.ResTarget{Val: e, Location: -1}}})
		group = append(group, proto.Clone(e).(*pg_query.Node))
	}
	q := &pg_query.SelectStmt{FromClause: sub.GetFromClause(), WhereClause: andOf(rest), TargetList: list,
		GroupClause: group, WithClause: sub.GetWithClause(), Op: pg_query.SetOperation_SETOP_NONE}
	res, err := v.query(q)
	if err != nil {
		return nil, nil, nil, err
	}
	l := res.leaf
	if l == nil || l.distinctOn != nil || l.distinct {
		return nil, nil, nil, v.errorf(loc, "this correlated subquery is not supported yet")
	}
	names, types := res.outputColumns()
	n, _, err := v.finish(res, types, names)
	if err != nil {
		return nil, nil, nil, err
	}
	// The select list over an empty group: the grouping columns NULL (the
	// select list reads none of them outside aggregates), each aggregate's
	// value over no rows.
	empty := make(row.Row, l.nkeys+len(l.aggs))
	for i, a := range l.aggs {
		d, err := a.New().Result()
		if err != nil {
			return n, nil, err, nil
		}
		empty[l.nkeys+i] = d
	}
	vals := make([]row.Datum, len(targets))
	for i := range targets {
		e := l.exprs[i]
		if e.Type != types[i] {
			if e, err = castExpr(e, types[i]); err != nil {
				return nil, nil, nil, v.wrap(loc, err)
			}
		}
		d, err := e.Eval(empty)
		if err != nil {
			return n, nil, err, nil
		}
		vals[i] = d
	}
	return n, vals, nil, nil
}

// correlatedScalarRef plans a correlated scalar subquery (WHERE, or the
// select list of a query without grouping) and returns the reference that
// replaces it.
func (v *viewBuilder) correlatedScalarRef(f *fromClause, sl *pg_query.SubLink, sub *pg_query.SelectStmt) (*pg_query.Node, error) {
	loc := int(sl.GetLocation())
	rt := sub.GetTargetList()[0].GetResTarget()
	if len(sub.GetDistinctClause()) > 0 {
		return nil, v.errorf(loc, "a correlated scalar subquery with DISTINCT is not supported yet")
	}
	rc, err := v.refCounter(sub, f)
	if err != nil {
		return nil, err
	}
	if rc.inner == nil {
		return nil, v.errorf(loc, "this correlated subquery is not supported yet")
	}
	if _, o, oloc := rc.count(rt.GetVal()); o > 0 {
		return nil, v.errorf(oloc, errCorrelation)
	}
	if err := v.ungroupedInner(rc, rt.GetVal()); err != nil {
		return nil, err
	}
	outer, inner, rest, err := v.correlation(rc, sub.GetWhereClause())
	if err != nil {
		return nil, err
	}
	if len(outer) == 0 {
		return nil, v.errorf(loc, errCorrelation)
	}
	n, empty, emptyErr, err := v.aggregateByCorrelation(sub, sub.GetTargetList()[:1], inner, rest, loc)
	if err != nil {
		return nil, err
	}
	name := rt.GetName()
	if name == "" {
		name, _ = figureColname(rt.GetVal())
	}
	rel := fmt.Sprintf("subquery#%d", len(f.owner)+1)
	g := len(f.owner)
	f.owner = append(f.owner, -1) // computed after the join, like a USING column
	f.scope = append(f.scope, expr.ScopeColumn{Table: rel, Name: name, Type: n.Schema()[0].Type, Index: g, Hidden: true})
	f.correlated = append(f.correlated, &correlatedScalar{globals: []int{g}, node: n, outer: outer, names: []string{name},
		empty: empty, emptyErr: emptyErr, loc: loc})
	return &pg_query.Node{Node: &pg_query.Node_ColumnRef{ColumnRef: &pg_query.ColumnRef{
		Fields:   []*pg_query.Node{pg_query.MakeStrNode(rel), pg_query.MakeStrNode(name)},
		Location: sl.GetLocation(),
	}}}, nil
}

func andOf(ns []*pg_query.Node) *pg_query.Node {
	switch len(ns) {
	case 0:
		return nil
	case 1:
		return ns[0]
	}
	return &pg_query.Node{Node: &pg_query.Node_BoolExpr{BoolExpr: &pg_query.BoolExpr{
		Boolop: pg_query.BoolExprType_AND_EXPR, Args: ns, Location: -1}}}
}

// joinCorrelated LEFT JOINs every correlated scalar subquery of f to node
// and records where its value is in pos, then applies the WHERE conjuncts
// that read them.
func (v *viewBuilder) joinCorrelated(f *fromClause, node *dataflow.Node, pos []int) (*dataflow.Node, error) {
	for _, cs := range f.correlated {
		var err error
		if node, err = v.joinScalar(f, node, pos, cs, "scalar subquery"); err != nil {
			return nil, err
		}
	}
	if len(f.lateWhere) > 0 {
		var err error
		if node, err = v.lateFilter(f, node, pos, f.lateWhere); err != nil {
			return nil, err
		}
	}
	return node, nil
}

// lateFilter applies WHERE (or inner ON) conjuncts that read columns
// computed after the join of the relations.
func (v *viewBuilder) lateFilter(f *fromClause, node *dataflow.Node, pos []int, conds []*pg_query.Node) (*dataflow.Node, error) {
	c := v.compiler(remap(f.scope, pos), "WHERE", "WHERE", nil)
	var texts []string
	var preds []func(row.Row) (bool, error)
	for _, n := range conds {
		p, e, err := c.Predicate(n)
		if err != nil {
			return nil, err
		}
		preds, texts = append(preds, p), append(texts, e.Text)
	}
	return v.g.Filter(node, func(r row.Row) (bool, error) {
		for _, p := range preds {
			if ok, err := p(r); err != nil || !ok {
				return false, err
			}
		}
		return true, nil
	}, strings.Join(texts, " AND ")), nil
}

// joinScalar LEFT JOINs the groups of cs to node on its correlation,
// fills in the values over no rows where no group matches, and records
// the positions of cs's values in pos.
func (v *viewBuilder) joinScalar(f *fromClause, node *dataflow.Node, pos []int, cs *correlatedScalar, what string) (*dataflow.Node, error) {
	scope := cs.scope
	if scope == nil {
		scope = f.scope
	}
	c := v.compiler(remap(scope, pos), "WHERE", "WHERE", nil)
	width := len(cs.globals)
	lw := len(node.Schema())
	right := cs.node
	var lexprs, rexprs []expr.Expr
	var lkey, rkey []int
	var texts []string
	for i, on := range cs.outer {
		le, err := c.Compile(on)
		if err != nil {
			return nil, err
		}
		rcol := right.Schema()[width+i]
		re := columnExpr(expr.ScopeColumn{Name: rcol.Name, Type: rcol.Type}, width+i)
		target, castL, castR, ok := keyType(le.Type, re.Type)
		if !ok {
			return nil, v.errorf(max(firstLocation(on), cs.loc), "comparing %s with %s in a subquery condition is not supported yet", typeString(le.Type), typeString(re.Type))
		}
		texts = append(texts, le.Text+" = "+re.Text)
		if idx, plain := plainColumn(c, on); plain && !castL {
			lkey = append(lkey, idx)
		} else {
			if castL {
				if le, err = castExpr(le, target); err != nil {
					return nil, v.wrap(cs.loc, err)
				}
			}
			lkey = append(lkey, lw+len(lexprs))
			lexprs = append(lexprs, le)
		}
		if castR {
			if re, err = castExpr(re, target); err != nil {
				return nil, v.wrap(cs.loc, err)
			}
			rkey = append(rkey, len(right.Schema())+len(rexprs))
			rexprs = append(rexprs, re)
		} else {
			rkey = append(rkey, width+i)
		}
	}
	left := v.appendColumns(node, lexprs)
	right = v.appendColumns(right, rexprs)
	at := len(left.Schema())
	node = v.g.OuterJoin(left, right, lkey, rkey, nil, dataflow.LeftJoin, what+": "+strings.Join(texts, " AND "))
	needed := cs.emptyErr != nil
	for _, d := range cs.empty {
		needed = needed || !d.IsNull()
	}
	if needed {
		// A matched row has a non-NULL key (NULL keys never match).
		miss := at + rkey[0]
		empty, emptyErr := cs.empty, cs.emptyErr
		var label []string
		if emptyErr != nil {
			label = append(label, "error "+emptyErr.Error())
		} else {
			for i, d := range empty {
				text := "NULL"
				if !d.IsNull() {
					text = row.FormatText(d)
				}
				label = append(label, row.QuoteIdent(cs.names[i])+" = "+text)
			}
		}
		node = v.g.Map(node, func(r row.Row) (row.Row, error) {
			if !r[miss].IsNull() {
				return r, nil
			}
			if emptyErr != nil {
				return nil, emptyErr
			}
			out := slices.Clone(r)
			copy(out[at:], empty)
			return out, nil
		}, node.Schema(), "no matching group: "+strings.Join(label, ", "))
	}
	for i, g := range cs.globals {
		pos[g] = at + i
	}
	return node, nil
}

// lateItem is a FROM item computed from the joined rows of the relations
// instead of being joined with them: a correlated LATERAL subquery with
// aggregates and no GROUP BY (one row per outer row) or a set-returning
// function (zero or more rows per outer row). Such items are applied in
// FROM order after the relations are joined, which is exact because they
// are allowed only where every join above them is an inner join (or the
// LEFT JOIN ... ON true that introduces them), so the rows they extend are
// those of the join.
type lateItem struct {
	name string
	cols []expr.ScopeColumn // global indexes
	agg  *correlatedScalar
	srf  *setFunction
}

// lateColumn reports whether global column g belongs to a late item.
func (f *fromClause) lateColumn(g int) bool {
	for _, it := range f.late {
		for _, c := range it.cols {
			if c.Index == g {
				return true
			}
		}
	}
	return false
}

// readsLate reports whether n reads a column of a late item (resolved in
// scope).
func (v *viewBuilder) readsLate(f *fromClause, scope []expr.ScopeColumn, n *pg_query.Node) bool {
	if len(f.late) == 0 {
		return false
	}
	c := v.compiler(scope, "", "", nil)
	found := false
	inspectNode(n, func(m protoreflect.Message) bool {
		if found {
			return false
		}
		switch x := m.Interface().(type) {
		case *pg_query.SubLink:
			return false
		case *pg_query.ColumnRef:
			if !isStar(x) {
				if sc, err := c.Column(x); err == nil && f.lateColumn(sc.Index) {
					found = true
				}
			}
			return false
		}
		return true
	})
	return found
}

// applyLate extends the joined rows by the late items of f, in FROM
// order, and applies the conditions that read them.
func (v *viewBuilder) applyLate(f *fromClause, node *dataflow.Node, pos []int) (*dataflow.Node, error) {
	for _, it := range f.late {
		var err error
		switch {
		case it.agg != nil:
			node, err = v.joinScalar(f, node, pos, it.agg, "LATERAL "+row.QuoteIdent(it.name))
		default:
			node, err = v.flatMap(node, pos, it)
		}
		if err != nil {
			return nil, err
		}
	}
	if len(f.lateConds) > 0 {
		return v.lateFilter(f, node, pos, f.lateConds)
	}
	return node, nil
}

// lateralAggregate plans a correlated LATERAL subquery whose select list
// has aggregates and no GROUP BY as a late item (see lateItem); visible is
// the scope its outer references resolve in.
func (v *viewBuilder) lateralAggregate(f *fromClause, rs *pg_query.RangeSubselect, visible []expr.ScopeColumn) (fromItem, error) {
	sel := rs.GetSubquery().GetSelectStmt()
	loc := v.keywordBefore(firstLocation(rs), pg_query.Token_LATERAL_P)
	alias := rs.GetAlias().GetAliasname()
	switch {
	case sel.GetHavingClause() != nil:
		return fromItem{}, v.errorf(loc, "a correlated LATERAL subquery with aggregates and HAVING but no GROUP BY is not supported yet")
	case len(sel.GetDistinctClause()) > 0:
		return fromItem{}, v.errorf(loc, "correlated LATERAL subqueries with DISTINCT are not supported yet")
	case len(windowCalls(targetNodes(sel)...)) > 0:
		return fromItem{}, v.errorf(loc, "correlated LATERAL subqueries with window functions are not supported yet")
	case sel.GetLimitCount() != nil || sel.GetLimitOffset() != nil:
		return fromItem{}, v.errorf(loc, "LIMIT/OFFSET in a correlated LATERAL subquery with aggregates is not supported yet")
	}
	inner, err := v.innerFrom(sel)
	if err != nil {
		return fromItem{}, err
	}
	rc := refCounter{inner: v.compiler(inner.scope, "subquery", "", nil), outer: v.compiler(visible, "WHERE", "WHERE", nil)}
	for _, t := range sel.GetTargetList() {
		if _, o, oloc := rc.count(t); o > 0 {
			return fromItem{}, v.errorf(oloc, "LATERAL: outer references are supported only in WHERE equalities (inner expression = outer column)")
		}
		if rt := t.GetResTarget(); rt == nil || (rt.GetVal().GetColumnRef() != nil && isStar(rt.GetVal().GetColumnRef())) {
			return fromItem{}, v.errorf(firstLocation(t), "* in a LATERAL subquery with aggregates is not supported")
		}
	}
	if err := v.ungroupedInner(rc, targetNodes(sel)...); err != nil {
		return fromItem{}, err
	}
	outer, innerSides, rest, err := v.correlation(rc, sel.GetWhereClause())
	if err != nil {
		return fromItem{}, err
	}
	if len(outer) == 0 {
		return fromItem{}, v.errorf(loc, "LATERAL: outer references are supported only in WHERE equalities (inner expression = outer column)")
	}
	n, empty, emptyErr, err := v.aggregateByCorrelation(sel, sel.GetTargetList(), innerSides, rest, loc)
	if err != nil {
		return fromItem{}, err
	}
	width := len(sel.GetTargetList())
	colnames := rs.GetAlias().GetColnames()
	if len(colnames) > width {
		return fromItem{}, v.errorf(loc, "table %q has %d columns available but %d columns specified", alias, width, len(colnames))
	}
	if err := v.checkItemName(f, alias, loc); err != nil {
		return fromItem{}, err
	}
	it := &lateItem{name: alias}
	cs := &correlatedScalar{node: n, outer: outer, scope: slices.Clone(visible), empty: empty, emptyErr: emptyErr, loc: loc}
	for i := range width {
		name := n.Schema()[i].Name
		if i < len(colnames) {
			name = colnames[i].GetString_().GetSval()
		}
		g := len(f.owner)
		f.owner = append(f.owner, -1)
		it.cols = append(it.cols, expr.ScopeColumn{Table: alias, Name: name, Type: n.Schema()[i].Type, Index: g})
		cs.globals = append(cs.globals, g)
		cs.names = append(cs.names, name)
	}
	it.agg = cs
	f.late = append(f.late, it)
	return fromItem{cols: it.cols, star: slices.Clone(it.cols), late: true, lateOnly: true}, nil
}

// checkItemName refuses a range variable name used twice in a FROM
// clause.
func (v *viewBuilder) checkItemName(f *fromClause, name string, loc int) error {
	for _, r := range f.rels {
		if r.name == name {
			return v.errorf(loc, "table name %q specified more than once", name)
		}
	}
	for _, it := range f.late {
		if it.name == name {
			return v.errorf(loc, "table name %q specified more than once", name)
		}
	}
	return nil
}

// isTrue reports whether n is the constant TRUE (ON true).
func isTrue(n *pg_query.Node) bool {
	if c := n.GetAConst(); c != nil && c.GetBoolval() != nil {
		return c.GetBoolval().GetBoolval()
	}
	if tc := n.GetTypeCast(); tc != nil {
		if c := tc.GetArg().GetAConst(); c != nil && c.GetSval() != nil {
			names := tc.GetTypeName().GetNames()
			if len(names) == 0 {
				return false
			}
			t := names[len(names)-1].GetString_().GetSval()
			s := strings.ToLower(c.GetSval().GetSval())
			return (t == "bool" || t == "boolean") && (s == "t" || s == "true")
		}
	}
	return false
}

var errLateNullable = errors.New("a LATERAL subquery with aggregates or a function in FROM is supported only where no outer join can NULL-extend its rows (comma lists, [CROSS] JOIN, LEFT JOIN ... ON true)")
