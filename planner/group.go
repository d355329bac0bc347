package planner

import (
	"slices"
	"strings"

	pg_query "github.com/pganalyze/pg_query_go/v5"
	"google.golang.org/protobuf/proto"

	"github.com/rippledb/ripple/dataflow"
	"github.com/rippledb/ripple/internal/row"
	"github.com/rippledb/ripple/planner/expr"
)

// Grouped SELECTs (GROUP BY, HAVING or aggregates) are lowered as
//
//	Map(joined row → group keys ++ aggregate arguments)
//	→ Reduce(group keys; aggregates)          rows: group keys ++ results
//	→ Filter(HAVING)
//	→ Map(select list over keys and results)
//
// The select list and HAVING are compiled over the Reduce's rows: a scope
// that holds only the grouped columns (under their own names) plus one
// hidden column per grouped expression, with aggregate calls compiled by a
// callback that registers them with the Reduce. Before compiling, the
// planner enforces PostgreSQL's rule that an ungrouped column may appear
// only inside an aggregate, and replaces every subexpression equal to a
// GROUP BY expression by a reference to its hidden column.

// groupItem is one grouping key.
type groupItem struct {
	e      expr.Expr // over the joined rows
	global int       // global column index for a bare column, else -1
	user   bool      // written in GROUP BY (not added as functionally dependent)
}

type grouping struct {
	items    []*groupItem
	byGlobal map[int]int    // global column → item
	byFP     map[string]int // expression fingerprint → item
	synth    string         // range variable name of the hidden group columns
	names    []string       // hidden column name of each expression item ("" for columns)

	args    []expr.Expr // aggregate arguments, over the joined rows
	argByFP map[string]int
	aggs    []dataflow.Aggregate
	types   []row.Type
	aggByFP map[string]expr.Expr

	last int // the item the last groupBy call resolved to (planner/grouping_sets.go)
}

func (v *viewBuilder) group(s *pg_query.SelectStmt, f *fromClause, targets []target, in *dataflow.Node, pos []int) (*leaf, error) {
	gc := v.compiler(f.scope, "GROUP BY", "GROUP BY", nil)
	final := remap(f.scope, pos)
	fc := v.compiler(final, "GROUP BY", "GROUP BY", nil)
	resolve := func(cr *pg_query.ColumnRef) (int, bool) {
		sc, err := gc.Column(cr)
		return sc.Index, err == nil
	}
	gs := &grouping{byGlobal: map[int]int{}, byFP: map[string]int{}, aggByFP: map[string]expr.Expr{}, argByFP: map[string]int{}, synth: "#group"}
	for _, r := range f.rels {
		for r.name == gs.synth || strings.HasPrefix(r.name, gs.synth) {
			gs.synth += "#"
		}
	}
	var sets [][]int // GROUPING SETS, ROLLUP, CUBE (planner/grouping_sets.go)
	if hasGroupingSets(s.GetGroupClause()) {
		exprSets, err := v.groupingSets(s.GetGroupClause())
		if err != nil {
			return nil, err
		}
		if sets, err = v.groupSets(gs, exprSets, f, targets, gc, fc, pos, resolve); err != nil {
			return nil, err
		}
	} else {
		for _, n := range s.GetGroupClause() {
			if err := v.groupBy(gs, n, f, targets, gc, fc, pos, resolve); err != nil {
				return nil, err
			}
		}
	}
	nUser := len(gs.items)
	var nodes []*pg_query.Node
	for _, t := range targets {
		nodes = append(nodes, t.node)
	}
	groupingCalls, err := v.groupingArgs(gs, resolve, append(nodes, s.GetHavingClause())...)
	if err != nil {
		return nil, err
	}
	setName := "#set"

	// Check and rewrite the select list and HAVING (this may add
	// functionally dependent columns as extra keys).
	rewritten := make([]*pg_query.Node, len(targets))
	whole := make([]int, len(targets))
	changed := make([]bool, len(targets))
	for i, t := range targets {
		whole[i] = -1
		if t.node == nil {
			if _, ok := gs.byGlobal[t.col.Index]; !ok {
				if !v.addDependent(gs, f, t.col, pos) {
					return nil, v.ungrouped(t.loc, t.col)
				}
			}
			continue
		}
		n, ch, err := v.groupRewrite(t.node, gs, f, gc, pos, resolve)
		if err != nil {
			return nil, err
		}
		var gch bool
		if len(groupingCalls) > 0 {
			n, gch = groupingFuncs(n, gs, sets, setName, groupingCalls)
		}
		rewritten[i], changed[i] = n, ch || gch
		if cr := n.GetColumnRef(); ch && cr != nil && len(cr.GetFields()) == 2 && cr.GetFields()[0].GetString_().GetSval() == gs.synth {
			whole[i] = slices.Index(gs.names, cr.GetFields()[1].GetString_().GetSval())
		}
	}
	var having *pg_query.Node
	if h := s.GetHavingClause(); h != nil {
		var err error
		if having, _, err = v.groupRewrite(h, gs, f, gc, pos, resolve); err != nil {
			return nil, err
		}
		having, _ = groupingFuncs(having, gs, sets, setName, groupingCalls)
	}
	setItem := -1
	if sets != nil {
		if len(gs.items) > nUser {
			return nil, v.errorf(targets[0].loc, "columns that are functionally dependent on the GROUP BY key are not supported with GROUPING SETS, ROLLUP or CUBE; group by them or aggregate them")
		}
		for len(gs.names) < len(gs.items) {
			gs.names = append(gs.names, "")
		}
		setItem = len(gs.items)
		gs.items = append(gs.items, &groupItem{e: constExpr(row.Int4, row.Null, "grouping set"), global: -1})
		gs.names = append(gs.names, setName)
	}

	// The Reduce's rows: one column per group item, then one per aggregate.
	var scope []expr.ScopeColumn
	for i, it := range gs.items {
		if it.global >= 0 {
			for _, c := range f.scope {
				if c.Index == it.global {
					c.Index = i
					scope = append(scope, c)
				}
			}
			continue
		}
		scope = append(scope, expr.ScopeColumn{Table: gs.synth, Name: gs.names[i], Type: it.e.Type, Index: i, Hidden: true})
	}
	aggFn := v.aggregateFn(gs, final, resolve)
	c := v.compiler(scope, "select list", "", aggFn)
	l := &leaf{}
	groupOf := make([]int, len(targets)) // group item a select list entry passes through, or -1
	for i, t := range targets {
		groupOf[i] = -1
		var e expr.Expr
		name := t.name
		if t.node == nil {
			g := gs.byGlobal[t.col.Index]
			e = columnExpr(t.col, g)
			groupOf[i] = g
		} else {
			var err error
			if e, err = c.Compile(rewritten[i]); err != nil {
				return nil, err
			}
			switch {
			case whole[i] >= 0:
				groupOf[i] = whole[i]
				if name == "" {
					name = gs.items[whole[i]].e.Name
				}
			case changed[i]:
				if name == "" {
					name, _ = figureColname(t.node)
				}
			case t.global >= 0:
				groupOf[i] = gs.byGlobal[t.global]
			}
		}
		if name == "" {
			name = e.Name
		}
		l.exprs = append(l.exprs, e)
		l.names = append(l.names, name)
		l.locs = append(l.locs, t.loc)
		l.plain = append(l.plain, -1)
	}
	var havingPred func(row.Row) (bool, error)
	var havingText string
	if having != nil {
		hc := v.compiler(scope, "HAVING", "", aggFn)
		pred, e, err := hc.Predicate(having)
		if err != nil {
			return nil, err
		}
		havingPred, havingText = pred, e.Text
	}

	// Lower: Map → Reduce → Filter.
	pre := make([]expr.Expr, 0, len(gs.items)+len(gs.args))
	var schema row.Schema
	var keyLabels []string
	group := make([]int, len(gs.items))
	for i, it := range gs.items {
		pre = append(pre, it.e)
		name := it.e.Name
		if it.global < 0 {
			name = gs.names[i]
		}
		schema = append(schema, row.Column{Name: name, Type: it.e.Type})
		keyLabels = append(keyLabels, it.e.Text)
		group[i] = i
	}
	pre = append(pre, gs.args...)
	preNames := make([]string, len(pre))
	for i, e := range pre {
		preNames[i] = e.Name
	}
	node := in
	if len(pre) > 0 {
		node = v.project(in, pre, preNames)
	}
	for i, a := range gs.aggs {
		schema = append(schema, row.Column{Name: a.String(), Type: gs.types[i]})
	}
	label := "global"
	if len(gs.items) > 0 {
		label = "group by " + strings.Join(keyLabels, ", ")
	}
	if sets != nil {
		node = v.lowerSets(in, gs, sets, setItem, schema)
	} else {
		node = v.g.Reduce(node, group, gs.aggs, nUser == 0, schema, label)
	}
	if havingPred != nil {
		node = v.g.Filter(node, havingPred, havingText)
	}
	l.in = node
	if sets == nil {
		l.aggs, l.nkeys = gs.aggs, len(gs.items)
	}

	// The grouping keys are a key of the result when all are selected;
	// without GROUP BY there is exactly one row, so the empty key is unique.
	if nUser == 0 {
		l.key = []int{}
	}
	if nUser > 0 && sets == nil {
		for g := range nUser {
			i := slices.Index(groupOf, g)
			if i < 0 {
				l.key = nil
				break
			}
			l.key = append(l.key, i)
		}
		slices.Sort(l.key)
	}
	return l, nil
}

// groupBy adds one GROUP BY entry: a select list position, a select list
// alias (when the name is no input column, as PostgreSQL resolves it), or
// an expression over the input.
func (v *viewBuilder) groupBy(gs *grouping, n *pg_query.Node, f *fromClause, targets []target, gc, fc *expr.Compiler, pos []int, resolve func(*pg_query.ColumnRef) (int, bool)) error {
	if c := n.GetAConst(); c != nil && c.GetIval() != nil {
		k := int(c.GetIval().GetIval())
		if k < 1 || k > len(targets) {
			return v.errorf(int(c.GetLocation()), "GROUP BY position %d is not in select list", k)
		}
		return v.groupTarget(gs, targets[k-1], f, gc, fc, pos, resolve)
	}
	if cr := n.GetColumnRef(); cr != nil && len(cr.GetFields()) == 1 && cr.GetFields()[0].GetString_() != nil {
		name := cr.GetFields()[0].GetString_().GetSval()
		visible := slices.ContainsFunc(f.scope, func(c expr.ScopeColumn) bool { return c.Name == name && !c.Hidden })
		if !visible {
			match := -1
			for i, t := range targets {
				tn := t.name
				if tn == "" && t.node != nil {
					tn, _ = figureColname(t.node)
				}
				if tn != name {
					continue
				}
				if match >= 0 && !sameTarget(targets[match], t, resolve) {
					return v.errorf(int(cr.GetLocation()), "GROUP BY %q is ambiguous", name)
				}
				if match < 0 {
					match = i
				}
			}
			if match >= 0 {
				return v.groupTarget(gs, targets[match], f, gc, fc, pos, resolve)
			}
		}
	}
	return v.groupExpr(gs, n, gc, fc, resolve)
}

func sameTarget(a, b target, resolve func(*pg_query.ColumnRef) (int, bool)) bool {
	if a.node == nil || b.node == nil {
		return a.node == nil && b.node == nil && a.col.Index == b.col.Index
	}
	return fingerprint(a.node, resolve) == fingerprint(b.node, resolve)
}

func (v *viewBuilder) groupTarget(gs *grouping, t target, f *fromClause, gc, fc *expr.Compiler, pos []int, resolve func(*pg_query.ColumnRef) (int, bool)) error {
	if t.node == nil {
		if _, dup := gs.byGlobal[t.col.Index]; !dup {
			gs.byGlobal[t.col.Index] = len(gs.items)
			gs.items = append(gs.items, &groupItem{e: columnExpr(t.col, pos[t.col.Index]), global: t.col.Index, user: true})
		}
		gs.last = gs.byGlobal[t.col.Index]
		return nil
	}
	return v.groupExpr(gs, t.node, gc, fc, resolve)
}

func (v *viewBuilder) groupExpr(gs *grouping, n *pg_query.Node, gc, fc *expr.Compiler, resolve func(*pg_query.ColumnRef) (int, bool)) error {
	if err := v.checkRefs(gc, n, true); err != nil {
		return err
	}
	e, err := fc.Compile(n)
	if err != nil {
		return err
	}
	if e.Type.OID == row.OIDUnknown {
		if e, err = expr.Cast(e, row.Text, false); err != nil {
			return v.wrap(firstLocation(n), err)
		}
	}
	if cr := n.GetColumnRef(); cr != nil && !isStar(cr) {
		if g, ok := resolve(cr); ok {
			if _, dup := gs.byGlobal[g]; !dup {
				gs.byGlobal[g] = len(gs.items)
				gs.items = append(gs.items, &groupItem{e: e, global: g, user: true})
			}
			gs.last = gs.byGlobal[g]
			return nil
		}
	}
	fp := fingerprint(n, resolve)
	if _, dup := gs.byFP[fp]; !dup {
		gs.byFP[fp] = len(gs.items)
		gs.items = append(gs.items, &groupItem{e: e, global: -1, user: true})
		// The hidden column is named after the expression (for explain),
		// made unique.
		name := e.Text
		for k := 2; slices.Contains(gs.names, name); k++ {
			name = e.Text + " #" + itoa(k)
		}
		for len(gs.names) < len(gs.items)-1 {
			gs.names = append(gs.names, "")
		}
		gs.names = append(gs.names, name)
	}
	gs.last = gs.byFP[fp]
	return nil
}

// addDependent groups by column c as well when it is functionally
// dependent on the grouping keys: the primary key of its table is
// grouped (PostgreSQL accepts such columns ungrouped).
func (v *viewBuilder) addDependent(gs *grouping, f *fromClause, c expr.ScopeColumn, pos []int) bool {
	if c.Index < 0 || c.Index >= len(f.owner) || f.owner[c.Index] < 0 {
		return false
	}
	r := f.rels[f.owner[c.Index]]
	switch {
	case r.oneRow:
		// The one row of a scalar subquery (planner/sublink.go): grouping
		// by its column splits no group. Without GROUP BY it would lose
		// the one group of an empty input.
		if !slices.ContainsFunc(gs.items, func(it *groupItem) bool { return it.user }) {
			return false
		}
	case len(r.table.Key) == 0:
		return false
	}
	for _, k := range r.table.Key {
		i, ok := gs.byGlobal[r.offset+k]
		if !ok || !gs.items[i].user {
			return false
		}
	}
	gs.byGlobal[c.Index] = len(gs.items)
	gs.items = append(gs.items, &groupItem{e: columnExpr(c, pos[c.Index]), global: c.Index})
	return true
}

func (v *viewBuilder) ungrouped(loc int, c expr.ScopeColumn) error {
	name := c.Name
	if c.Table != "" {
		name = c.Table + "." + c.Name
	}
	return v.errorf(loc, "column %q must appear in the GROUP BY clause or be used in an aggregate function", name)
}

// groupRewrite checks that n references ungrouped columns only inside
// aggregate calls and returns a copy of n in which every subexpression
// equal to a GROUP BY expression reads the group's hidden column instead.
func (v *viewBuilder) groupRewrite(n *pg_query.Node, gs *grouping, f *fromClause, gc *expr.Compiler, pos []int, resolve func(*pg_query.ColumnRef) (int, bool)) (*pg_query.Node, bool, error) {
	var err error
	changed := false
	var visit func(n *pg_query.Node) *pg_query.Node
	visit = func(n *pg_query.Node) *pg_query.Node {
		if err != nil || n == nil || n.GetNode() == nil {
			return n
		}
		if cr := n.GetColumnRef(); cr != nil {
			if isStar(cr) {
				return n
			}
			sc, e := gc.Column(cr)
			switch {
			case e != nil:
				err = e
			case hasKey(gs.byGlobal, sc.Index):
			case v.addDependent(gs, f, sc, pos):
			default:
				err = v.ungrouped(int(cr.GetLocation()), sc)
			}
			return n
		}
		if fc := n.GetFuncCall(); fc != nil && isAggregateCall(fc) {
			return n
		}
		if len(gs.byFP) > 0 {
			if i, ok := gs.byFP[fingerprint(n, resolve)]; ok {
				changed = true
				return &pg_query.Node{Node: &pg_query.Node_ColumnRef{ColumnRef: &pg_query.ColumnRef{
					Fields:   []*pg_query.Node{pg_query.MakeStrNode(gs.synth), pg_query.MakeStrNode(gs.names[i])},
					Location: int32(firstLocation(n)),
				}}}
			}
		}
		mapNodes(n.ProtoReflect(), visit)
		return n
	}
	out := visit(proto.Clone(n).(*pg_query.Node))
	return out, changed, err
}

func hasKey(m map[int]int, k int) bool { _, ok := m[k]; return ok }

// aggregateFn compiles aggregate calls of a grouped select list: the
// arguments, FILTER condition and ORDER BY keys over the joined rows
// (argScope) become columns of the Reduce's input, the aggregate a column
// of its output.
func (v *viewBuilder) aggregateFn(gs *grouping, argScope []expr.ScopeColumn, resolve func(*pg_query.ColumnRef) (int, bool)) func(*pg_query.FuncCall, int) (expr.Expr, error) {
	return func(call *pg_query.FuncCall, loc int) (expr.Expr, error) {
		name, _ := funcName(call)
		switch {
		case call.GetAggWithinGroup():
			return expr.Expr{}, v.errorf(loc, "WITHIN GROUP is not supported yet")
		case call.GetFuncVariadic():
			return expr.Expr{}, v.errorf(loc, "VARIADIC aggregate calls are not supported")
		case call.GetOver() != nil:
			return expr.Expr{}, v.errorf(loc, "window functions are not supported yet")
		}
		fp := fingerprint(call, resolve)
		if e, ok := gs.aggByFP[fp]; ok {
			return e, nil
		}
		nested := func(_ *pg_query.FuncCall, loc int) (expr.Expr, error) {
			return expr.Expr{}, v.errorf(loc, "aggregate function calls cannot be nested")
		}
		ac := v.compiler(argScope, "aggregate argument", "", nested)
		// column adds an expression over the joined rows to the Reduce's
		// input (once per distinct expression) and returns its column.
		column := func(n *pg_query.Node, e expr.Expr) int {
			argFP := fingerprint(n, resolve) + "\x00" + e.Type.String()
			k, seen := gs.argByFP[argFP]
			if !seen {
				k = len(gs.args)
				gs.argByFP[argFP] = k
				gs.args = append(gs.args, e)
			}
			return len(gs.items) + k
		}
		ac2 := expr.AggCall{Name: name, Star: call.GetAggStar(), Distinct: call.GetAggDistinct(), Filter: -1}
		var argNodes []*pg_query.Node
		if !call.GetAggStar() {
			argNodes = call.GetArgs()
			if len(argNodes) == 0 {
				return expr.Expr{}, v.errorf(loc, "function %s() does not exist", name)
			}
			for _, n := range argNodes {
				e, err := ac.Compile(n)
				if err != nil {
					return expr.Expr{}, err
				}
				ac2.Args = append(ac2.Args, e)
			}
			var err error
			if ac2.Args, err = expr.CoerceAggArgs(name, ac2.Args); err != nil {
				return expr.Expr{}, v.wrap(loc, err)
			}
			if name == "min" || name == "max" {
				if err := ac.CheckOrdering(ac2.Args[0], loc); err != nil {
					return expr.Expr{}, err
				}
			}
			for i, n := range argNodes {
				ac2.ArgCols = append(ac2.ArgCols, column(n, ac2.Args[i]))
			}
		}
		if f := call.GetAggFilter(); f != nil {
			fc := v.compiler(argScope, "FILTER", "FILTER", nested)
			if err := v.checkRefs(fc, f, true); err != nil {
				return expr.Expr{}, err
			}
			_, e, err := fc.Predicate(f)
			if err != nil {
				return expr.Expr{}, err
			}
			ac2.Filter, ac2.FilterText = column(f, e), e.Text
		}
		if order := call.GetAggOrder(); len(order) > 0 {
			if err := v.aggOrder(&ac2, order, argNodes, ac, column, resolve, name, loc); err != nil {
				return expr.Expr{}, err
			}
		} else if name != "string_agg" && expr.OrderedAggregate(name) {
			return expr.Expr{}, v.errorf(loc, "%s without ORDER BY is not supported: PostgreSQL collects in an unspecified order; write %s(x ORDER BY x) (ORDER BY must include the aggregated value, so that ties cannot change the result)", name, name)
		} else if name == "string_agg" {
			return expr.Expr{}, v.errorf(loc, "string_agg without ORDER BY is not supported: PostgreSQL concatenates in an unspecified order; write string_agg(x, sep ORDER BY x) (ORDER BY must include the aggregated value, so that ties cannot change the result)")
		}
		agg, typ, err := expr.NewAggregateCall(ac2)
		if err != nil {
			return expr.Expr{}, v.wrap(loc, err)
		}
		col := len(gs.items) + len(gs.aggs)
		gs.aggs = append(gs.aggs, agg)
		gs.types = append(gs.types, typ)
		e := expr.Expr{Type: typ, Name: name, Text: agg.String(), Eval: func(r row.Row) (row.Datum, error) { return r[col], nil }}
		gs.aggByFP[fp] = e
		return e, nil
	}
}

// aggOrder compiles the ORDER BY of an aggregate call. Only string_agg's
// result depends on the order of its inputs; for it the order must
// include the aggregated value, so that inputs PostgreSQL may put in any
// order (ties) are equal and the result is unique. Other aggregates
// ignore the order.
func (v *viewBuilder) aggOrder(call *expr.AggCall, order []*pg_query.Node, args []*pg_query.Node, ac *expr.Compiler,
	column func(*pg_query.Node, expr.Expr) int, resolve func(*pg_query.ColumnRef) (int, bool), name string, loc int) error {
	if !expr.OrderedAggregate(name) {
		for _, n := range order {
			sb := n.GetSortBy()
			if sb == nil {
				return v.errorf(loc, "unexpected ORDER BY entry")
			}
			if _, err := ac.Compile(sb.GetNode()); err != nil {
				return err
			}
		}
		return nil
	}
	valFP := fingerprint(args[0], resolve)
	covered := false
	for _, n := range order {
		sb := n.GetSortBy()
		if sb == nil {
			return v.errorf(loc, "unexpected ORDER BY entry")
		}
		oloc := int(sb.GetLocation())
		if oloc < 0 {
			oloc = firstLocation(sb.GetNode())
		}
		if sb.GetSortbyDir() == pg_query.SortByDir_SORTBY_USING {
			return v.errorf(oloc, "ORDER BY ... USING in an aggregate call is not supported")
		}
		e, err := ac.Compile(sb.GetNode())
		if err != nil {
			return err
		}
		if e.Type.OID == row.OIDUnknown {
			if e, err = expr.Cast(e, row.Text, false); err != nil {
				return v.wrap(oloc, err)
			}
		}
		if err := ac.CheckOrdering(e, oloc); err != nil {
			return err
		}
		desc := sb.GetSortbyDir() == pg_query.SortByDir_SORTBY_DESC
		nullsFirst := desc
		switch sb.GetSortbyNulls() {
		case pg_query.SortByNulls_SORTBY_NULLS_FIRST:
			nullsFirst = true
		case pg_query.SortByNulls_SORTBY_NULLS_LAST:
			nullsFirst = false
		}
		if fingerprint(sb.GetNode(), resolve) == valFP {
			covered = true
		}
		call.Order = append(call.Order, expr.AggOrder{Expr: e, Col: column(sb.GetNode(), e), Desc: desc, NullsFirst: nullsFirst})
	}
	if !covered {
		return v.errorf(loc, "%s ORDER BY must include the aggregated value (%s): PostgreSQL leaves the order of ties unspecified, so the result would not be unique", name, call.Args[0].Text)
	}
	return nil
}
