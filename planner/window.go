package planner

import (
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

// Window functions in the select list of a SELECT without grouping. Each
// distinct window (PARTITION BY and ORDER BY) becomes one dataflow Window
// operator appending its functions' results to the rows; the select list
// is then compiled with every window call replaced by a reference to its
// result column.

// PostgreSQL's FRAMEOPTION_* bits (nodes/parsenodes.h).
const (
	frameNonDefault        = 0x00001
	frameRange             = 0x00002
	frameRows              = 0x00004
	frameGroups            = 0x00008
	frameStartUnbPreceding = 0x00020
	frameEndUnbPreceding   = 0x00040
	frameStartUnbFollowing = 0x00080
	frameEndUnbFollowing   = 0x00100
	frameStartCurrentRow   = 0x00200
	frameEndCurrentRow     = 0x00400
	frameStartPreceding    = 0x00800
	frameEndPreceding      = 0x01000
	frameStartFollowing    = 0x02000
	frameEndFollowing      = 0x04000
	frameExclude           = 0x08000 | 0x10000 | 0x20000
)

// windowTable is the range variable of the window result columns; no
// user-written name can reach it.
const windowTable = "\x00window"

// windowCalls lists the window function calls in nodes (not inside
// subqueries), outermost first.
func windowCalls(nodes ...*pg_query.Node) []*pg_query.FuncCall {
	var out []*pg_query.FuncCall
	for _, n := range nodes {
		inspectNode(n, func(m protoreflect.Message) bool {
			switch x := m.Interface().(type) {
			case *pg_query.SubLink:
				return false
			case *pg_query.FuncCall:
				if x.GetOver() != nil {
					out = append(out, x)
					return false
				}
			}
			return true
		})
	}
	return out
}

// windowSpec is one distinct window and the calls over it.
type windowSpec struct {
	def   *pg_query.WindowDef
	fp    string
	calls []*pg_query.FuncCall
}

// windowSelect compiles a select list with window functions over the
// joined rows in (scope positions pos).
func (v *viewBuilder) windowSelect(f *fromClause, targets []target, in *dataflow.Node, pos []int) (*leaf, error) {
	scope := remap(f.scope, pos)
	var nodes []*pg_query.Node
	for _, t := range targets {
		nodes = append(nodes, t.node)
	}
	calls := windowCalls(nodes...)
	resolve := func(cr *pg_query.ColumnRef) (int, bool) {
		sc, err := v.compiler(scope, "", "", nil).Column(cr)
		return sc.Index, err == nil
	}
	var specs []*windowSpec
	for _, fc := range calls {
		w := fc.GetOver()
		if w.GetName() != "" || w.GetRefname() != "" {
			return nil, v.errorf(int(w.GetLocation()), "named windows are not supported yet; write the window inline in OVER (...)")
		}
		// The frame belongs to the call, not to the window's rows.
		key := &pg_query.WindowDef{PartitionClause: w.GetPartitionClause(), OrderClause: w.GetOrderClause()}
		fp := fingerprint(key, resolve)
		i := slices.IndexFunc(specs, func(s *windowSpec) bool { return s.fp == fp })
		if i < 0 {
			specs = append(specs, &windowSpec{def: w, fp: fp})
			i = len(specs) - 1
		}
		specs[i].calls = append(specs[i].calls, fc)
	}
	// Window result columns, by call.
	resCols := map[*pg_query.FuncCall]expr.ScopeColumn{}
	node := in
	for _, s := range specs {
		var err error
		if node, err = v.windowNode(f, scope, s, node, resCols); err != nil {
			return nil, err
		}
	}
	// The select list, with every window call replaced by its column.
	wscope := slices.Clone(scope)
	for _, c := range resCols {
		wscope = append(wscope, c)
	}
	c := v.compiler(wscope, "select list", "", nil)
	l := &leaf{in: node, scope: scope}
	globals := make([]int, len(targets))
	for i, t := range targets {
		var e expr.Expr
		plain := -1
		name := t.name
		switch {
		case t.node == nil:
			plain = pos[t.col.Index]
			e = columnExpr(t.col, plain)
		default:
			if lit, ok := unknownLiteral(t.node); ok {
				e = lit
				break
			}
			n := proto.Clone(t.node).(*pg_query.Node)
			n = replaceWindowCalls(n, t.node, resCols)
			var err error
			if e, err = c.Compile(n); err != nil {
				return nil, err
			}
			if t.global >= 0 {
				plain = pos[t.global]
			}
			if name == "" {
				name, _ = figureColname(t.node)
			}
		}
		if name == "" {
			name = e.Name
		}
		l.exprs = append(l.exprs, e)
		l.names = append(l.names, name)
		l.locs = append(l.locs, t.loc)
		l.plain = append(l.plain, plain)
		globals[i] = t.global
	}
	if !f.outer {
		l.key = primaryKeyColumns(f, globals)
	}
	return l, nil
}

// replaceWindowCalls returns clone (a copy of orig) with every window call
// replaced by a reference to its result column. Calls are matched by
// position in a parallel walk of orig and clone.
func replaceWindowCalls(clone, orig *pg_query.Node, cols map[*pg_query.FuncCall]expr.ScopeColumn) *pg_query.Node {
	origCalls := windowCalls(orig)
	i := 0
	var walk func(n *pg_query.Node) *pg_query.Node
	walk = func(n *pg_query.Node) *pg_query.Node {
		if n == nil {
			return n
		}
		if fc := n.GetFuncCall(); fc != nil && fc.GetOver() != nil {
			c := cols[origCalls[i]]
			i++
			return &pg_query.Node{Node: &pg_query.Node_ColumnRef{ColumnRef: &pg_query.ColumnRef{
				Fields:   []*pg_query.Node{pg_query.MakeStrNode(c.Table), pg_query.MakeStrNode(c.Name)},
				Location: fc.GetLocation(),
			}}}
		}
		if n.GetSubLink() != nil {
			return n
		}
		mapNodes(n.ProtoReflect(), walk)
		return n
	}
	return walk(clone)
}

// windowNode builds the Window operator of one window: it appends the
// partition, order and argument expressions as columns, then the
// functions' results, recording each call's result column in resCols.
func (v *viewBuilder) windowNode(f *fromClause, scope []expr.ScopeColumn, s *windowSpec, in *dataflow.Node, resCols map[*pg_query.FuncCall]expr.ScopeColumn) (*dataflow.Node, error) {
	c := v.compiler(scope, "window definition", "window definitions", nil)
	width := len(in.Schema())
	var extra []expr.Expr
	// column returns the input column of e, appending it when it is not a
	// plain column.
	column := func(n *pg_query.Node, e expr.Expr) int {
		if cr := n.GetColumnRef(); cr != nil {
			if sc, err := c.Column(cr); err == nil {
				return sc.Index
			}
		}
		extra = append(extra, e)
		return width + len(extra) - 1
	}
	var part []int
	var partTexts []string
	covered := map[int]bool{} // scope indexes of plain partition/order columns
	for _, p := range s.def.GetPartitionClause() {
		e, err := c.Compile(p)
		if err != nil {
			return nil, err
		}
		if e.Type.OID == row.OIDUnknown {
			if e, err = expr.Cast(e, row.Text, false); err != nil {
				return nil, v.wrap(firstLocation(p), err)
			}
		}
		if e.Type.OID == row.OIDJSON {
			return nil, v.errorf(firstLocation(p), "could not identify an equality operator for type %s", typeString(e.Type))
		}
		col := column(p, e)
		part = append(part, col)
		partTexts = append(partTexts, e.Text)
		covered[col] = true
	}
	var order []dataflow.SortKey
	var orderTexts []string
	for _, o := range s.def.GetOrderClause() {
		sb := o.GetSortBy()
		loc := firstLocation(sb.GetNode())
		if sb.GetSortbyDir() == pg_query.SortByDir_SORTBY_USING {
			return nil, v.errorf(loc, "ORDER BY ... USING is not supported")
		}
		e, err := c.Compile(sb.GetNode())
		if err != nil {
			return nil, err
		}
		if e.Type.OID == row.OIDUnknown {
			if e, err = expr.Cast(e, row.Text, false); err != nil {
				return nil, v.wrap(loc, err)
			}
		}
		if !orderableType(e.Type) {
			return nil, v.errorf(loc, "ordering values of type %s is not supported yet", typeString(e.Type))
		}
		if err := c.CheckOrdering(e, loc); err != nil {
			return nil, err
		}
		desc := sb.GetSortbyDir() == pg_query.SortByDir_SORTBY_DESC
		k := dataflow.SortKey{Col: column(sb.GetNode(), e), Desc: desc, NullsFirst: desc}
		switch sb.GetSortbyNulls() {
		case pg_query.SortByNulls_SORTBY_NULLS_FIRST:
			k.NullsFirst = true
		case pg_query.SortByNulls_SORTBY_NULLS_LAST:
			k.NullsFirst = false
		}
		covered[k.Col] = true
		order = append(order, k)
		orderTexts = append(orderTexts, e.Text+sortSuffix(k))
	}
	unique := !f.outer && coversPrimaryKeys(f, scope, covered)
	var funcs []dataflow.WindowFunc
	var labels []string
	schema := slices.Clone(in.Schema())
	for _, fc := range s.calls {
		wf, t, err := v.windowFunc(c, fc, order != nil, unique, column)
		if err != nil {
			return nil, err
		}
		funcs = append(funcs, wf)
		labels = append(labels, wf.Label)
		schema = append(schema, row.Column{Name: wf.Label, Type: t})
	}
	if len(extra) > 0 {
		in = v.appendColumns(in, extra)
		// appendColumns puts the extra columns after the input's; the
		// window results follow them.
		schema = slices.Insert(schema, width, in.Schema()[width:]...)
	}
	base := len(in.Schema())
	for i, fc := range s.calls {
		resCols[fc] = expr.ScopeColumn{Table: windowTable, Name: fmt.Sprintf("w%d", len(resCols)+1), Type: schema[base+i].Type, Index: base + i, Hidden: true}
	}
	label := strings.Join(labels, ", ") + " OVER ("
	var parts []string
	if len(part) > 0 {
		parts = append(parts, "PARTITION BY "+strings.Join(partTexts, ", "))
	}
	if len(order) > 0 {
		parts = append(parts, "ORDER BY "+strings.Join(orderTexts, ", "))
	}
	label += strings.Join(parts, " ") + ")"
	return v.g.Window(in, part, order, funcs, schema, label), nil
}

func sortSuffix(k dataflow.SortKey) string {
	s := ""
	if k.Desc {
		s = " DESC"
	}
	if k.NullsFirst != k.Desc {
		if k.NullsFirst {
			s += " NULLS FIRST"
		} else {
			s += " NULLS LAST"
		}
	}
	return s
}

// coversPrimaryKeys reports whether the columns covered (input positions
// of plain partition and order columns) include the primary key of every
// joined table: then no two rows of a partition are peers.
func coversPrimaryKeys(f *fromClause, scope []expr.ScopeColumn, covered map[int]bool) bool {
	for _, r := range f.rels {
		if len(r.table.Key) == 0 {
			return false
		}
		for _, k := range r.table.Key {
			if !covered[scope[r.offset+k].Index] {
				return false
			}
		}
	}
	return true
}

// windowFunc plans one window function call. column places an argument
// expression in an input column.
func (v *viewBuilder) windowFunc(c *expr.Compiler, fc *pg_query.FuncCall, ordered, unique bool, column func(*pg_query.Node, expr.Expr) int) (dataflow.WindowFunc, row.Type, error) {
	loc := int(fc.GetLocation())
	name, builtin := funcName(fc)
	if !builtin {
		return dataflow.WindowFunc{}, row.Type{}, v.errorf(loc, "window function %s is not supported", name)
	}
	if fc.GetAggDistinct() {
		return dataflow.WindowFunc{}, row.Type{}, v.errorf(loc, "DISTINCT is not implemented for window functions")
	}
	if fc.GetAggFilter() != nil {
		return dataflow.WindowFunc{}, row.Type{}, v.errorf(loc, "FILTER in window functions is not supported yet")
	}
	if len(fc.GetAggOrder()) > 0 {
		return dataflow.WindowFunc{}, row.Type{}, v.errorf(loc, "ORDER BY inside a window function's arguments is not supported")
	}
	if nested := windowCalls(fc.GetArgs()...); len(nested) > 0 {
		return dataflow.WindowFunc{}, row.Type{}, v.errorf(int(nested[0].GetLocation()), "window function calls cannot be nested")
	}
	frame, err := v.windowFrame(c, fc.GetOver())
	if err != nil {
		return dataflow.WindowFunc{}, row.Type{}, err
	}
	args := fc.GetArgs()
	wf := dataflow.WindowFunc{Frame: frame, Default: -1}
	nondet := func() error {
		return v.errorf(loc, "%s needs a deterministic order: the window's PARTITION BY and ORDER BY must include a unique key (the primary key of every table in FROM), as PostgreSQL leaves the order of peers unspecified; add a unique tie-break column to the window's ORDER BY", name)
	}
	compileArg := func(n *pg_query.Node) (expr.Expr, error) {
		e, err := c.Compile(n)
		if err != nil {
			return e, err
		}
		if e.Type.OID == row.OIDUnknown {
			if e, err = expr.Cast(e, row.Text, false); err != nil {
				return e, v.wrap(firstLocation(n), err)
			}
		}
		return e, nil
	}
	argLabels := func() string {
		var ts []string
		for _, a := range args {
			ts = append(ts, strings.TrimSpace(deparseExpr(a)))
		}
		if fc.GetAggStar() {
			ts = []string{"*"}
		}
		return name + "(" + strings.Join(ts, ", ") + ")"
	}
	wf.Label = argLabels()
	nargs := func(lo, hi int) error {
		if len(args) < lo || len(args) > hi || fc.GetAggStar() {
			return v.errorf(loc, "function %s with %d arguments is not supported", name, len(args))
		}
		return nil
	}
	switch name {
	case "row_number", "rank", "dense_rank":
		if err := nargs(0, 0); err != nil {
			return wf, row.Type{}, err
		}
		wf.Kind = map[string]dataflow.WindowKind{"row_number": dataflow.RowNumber, "rank": dataflow.Rank, "dense_rank": dataflow.DenseRank}[name]
		if name == "row_number" && !unique {
			return wf, row.Type{}, nondet()
		}
		return wf, row.Int8, nil
	case "lag", "lead", "first_value", "last_value":
		hi := 3
		if name == "first_value" || name == "last_value" {
			hi = 1
		}
		if err := nargs(1, hi); err != nil {
			return wf, row.Type{}, err
		}
		if !unique {
			return wf, row.Type{}, nondet()
		}
		x, err := compileArg(args[0])
		if err != nil {
			return wf, row.Type{}, err
		}
		t := x.Type
		wf.Kind = map[string]dataflow.WindowKind{"lag": dataflow.Lag, "lead": dataflow.Lead, "first_value": dataflow.FirstValue, "last_value": dataflow.LastValue}[name]
		wf.Offset = 1
		if len(args) >= 2 {
			off, err := c.Compile(args[1])
			if err != nil {
				return wf, row.Type{}, err
			}
			if !off.Const || off.Type.Kind() != row.KindInt {
				return wf, row.Type{}, v.errorf(firstLocation(args[1]), "%s with an offset that is not an integer constant is not supported yet", name)
			}
			d, err := off.Eval(nil)
			if err != nil {
				return wf, row.Type{}, v.wrap(firstLocation(args[1]), err)
			}
			if d.IsNull() || d.Int() < 0 {
				return wf, row.Type{}, v.errorf(firstLocation(args[1]), "%s with a NULL or negative offset is not supported", name)
			}
			wf.Offset = d.Int()
		}
		if len(args) == 3 {
			def, err := c.Compile(args[2])
			if err != nil {
				return wf, row.Type{}, err
			}
			if t, err = expr.CommonType(name, []row.Type{x.Type, def.Type}); err != nil {
				return wf, row.Type{}, v.wrap(firstLocation(args[2]), err)
			}
			if def.Type != t {
				if def, err = expr.Cast(def, t, false); err != nil {
					return wf, row.Type{}, v.wrap(firstLocation(args[2]), err)
				}
			}
			wf.Default = column(nil, def)
		}
		if x.Type != t {
			if x, err = expr.Cast(x, t, false); err != nil {
				return wf, row.Type{}, v.wrap(firstLocation(args[0]), err)
			}
			wf.Arg = column(nil, x)
		} else {
			wf.Arg = column(args[0], x)
		}
		return wf, t, nil
	case "count", "sum", "min", "max", "avg":
		if fc.GetAggStar() {
			if name != "count" || len(args) != 0 {
				return wf, row.Type{}, v.errorf(loc, "%s(*) is not supported", name)
			}
		} else if err := nargs(1, 1); err != nil {
			return wf, row.Type{}, err
		}
		if frame.Rows && !unique {
			return wf, row.Type{}, v.errorf(loc, "%s over a ROWS frame needs a deterministic order: the window's PARTITION BY and ORDER BY must include a unique key (the primary key of every table in FROM); add a unique tie-break column or use the default RANGE frame", name)
		}
		var arg expr.Expr
		argCol := -1
		if !fc.GetAggStar() {
			var err error
			if arg, err = compileArg(args[0]); err != nil {
				return wf, row.Type{}, err
			}
			if name == "min" || name == "max" {
				if err := c.CheckOrdering(arg, firstLocation(args[0])); err != nil {
					return wf, row.Type{}, err
				}
			}
			argCol = column(args[0], arg)
		}
		agg, t, err := expr.NewAggregate(name, fc.GetAggStar(), false, arg, argCol)
		if err != nil {
			return wf, row.Type{}, v.wrap(loc, err)
		}
		wf.Kind, wf.Agg = dataflow.WindowAggregate, agg
		return wf, t, nil
	}
	_ = ordered
	return wf, row.Type{}, v.errorf(loc, "window function %s is not supported yet", name)
}

// windowFrame reads a call's frame clause: RANGE frames bounded by
// UNBOUNDED and CURRENT ROW, ROWS frames with constant offsets.
func (v *viewBuilder) windowFrame(c *expr.Compiler, w *pg_query.WindowDef) (dataflow.Frame, error) {
	opts := w.GetFrameOptions()
	loc := int(w.GetLocation())
	if opts&frameNonDefault == 0 {
		return dataflow.DefaultFrame, nil
	}
	if opts&frameGroups != 0 {
		return dataflow.Frame{}, v.errorf(loc, "GROUPS frames are not supported yet")
	}
	if opts&frameExclude != 0 {
		return dataflow.Frame{}, v.errorf(loc, "frame EXCLUDE is not supported yet")
	}
	fr := dataflow.Frame{Rows: opts&frameRows != 0}
	offset := func(n *pg_query.Node) (int64, error) {
		if !fr.Rows {
			return 0, v.errorf(firstLocation(n), "RANGE frames with an offset are not supported yet")
		}
		e, err := c.Compile(n)
		if err != nil {
			return 0, err
		}
		if !e.Const || e.Type.Kind() != row.KindInt {
			return 0, v.errorf(firstLocation(n), "frame offsets must be integer constants")
		}
		d, err := e.Eval(nil)
		if err != nil {
			return 0, v.wrap(firstLocation(n), err)
		}
		if d.IsNull() {
			return 0, v.errorf(firstLocation(n), "frame starting offset must not be null")
		}
		if d.Int() < 0 {
			return 0, v.errorf(firstLocation(n), "frame starting offset must not be negative")
		}
		return d.Int(), nil
	}
	var err error
	switch {
	case opts&frameStartUnbPreceding != 0:
		fr.Start.Kind = dataflow.UnboundedPreceding
	case opts&frameStartCurrentRow != 0:
		fr.Start.Kind = dataflow.CurrentRow
	case opts&frameStartPreceding != 0:
		fr.Start.Kind = dataflow.Preceding
		fr.Start.N, err = offset(w.GetStartOffset())
	case opts&frameStartFollowing != 0:
		fr.Start.Kind = dataflow.Following
		fr.Start.N, err = offset(w.GetStartOffset())
	default:
		return fr, v.errorf(loc, "frame start cannot be UNBOUNDED FOLLOWING")
	}
	if err != nil {
		return fr, err
	}
	switch {
	case opts&frameEndUnbFollowing != 0:
		fr.End.Kind = dataflow.UnboundedFollowing
	case opts&frameEndCurrentRow != 0:
		fr.End.Kind = dataflow.CurrentRow
	case opts&frameEndPreceding != 0:
		fr.End.Kind = dataflow.Preceding
		fr.End.N, err = offset(w.GetEndOffset())
	case opts&frameEndFollowing != 0:
		fr.End.Kind = dataflow.Following
		fr.End.N, err = offset(w.GetEndOffset())
	case opts&frameEndUnbPreceding != 0:
		return fr, v.errorf(loc, "frame end cannot be UNBOUNDED PRECEDING")
	default:
		fr.End.Kind = dataflow.CurrentRow // BETWEEN omitted: the end is CURRENT ROW
	}
	if err != nil {
		return fr, err
	}
	return fr, nil
}

// deparseExpr renders an expression node as SQL for labels.
func deparseExpr(n *pg_query.Node) string {
	sel := &pg_query.SelectStmt{TargetList: []*pg_query.Node{{Node: &pg_query.Node_ResTarget{ResTarget: &pg_query.ResTarget{Val: n}}}}}
	tree := &pg_query.ParseResult{Stmts: []*pg_query.RawStmt{{Stmt: &pg_query.Node{Node: &pg_query.Node_SelectStmt{SelectStmt: sel}}}}}
	s, err := pg_query.Deparse(tree)
	if err != nil {
		return "?"
	}
	return strings.TrimPrefix(s, "SELECT ")
}
