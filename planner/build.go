package planner

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	pg_query "github.com/pganalyze/pg_query_go/v5"

	"github.com/rippledb/ripple/dataflow"
	"github.com/rippledb/ripple/internal/row"
	"github.com/rippledb/ripple/planner/expr"
)

// View is one planned view: its definition, the columns of its result
// (names and types exactly as PostgreSQL reports them for the view's
// SELECT) and, when known, a unique key of the result.
type View struct {
	Def     ViewDef
	Columns row.Schema
	// Key lists result columns (indexes into Columns) whose values are
	// unique among the view's rows: the GROUP BY columns when they are all
	// in the select list, every column after DISTINCT or UNION, the primary
	// keys of every joined table when they are all selected, and the empty
	// key (non-nil, length 0) for aggregates without GROUP BY, whose result
	// is a single row. nil when no
	// key is known (the result may hold duplicate rows). Key columns may be
	// NULL (one NULL group).
	Key []int
	// SourceQuery is the view's SELECT runnable on the source: Def.Query,
	// with every other view of the set it reads inlined as a subquery in
	// FROM (the source does not have those views). The type cross-check
	// and the oracle evaluate it.
	SourceQuery string
}

// Plan is the dataflow graph that maintains a set of views, with what it
// reads and produces.
type Plan struct {
	// Graph holds every view; each view's result is registered as output
	// View.Def.Name.String().
	Graph *dataflow.Graph
	Views []View
	// Tables are the source tables the graph reads, in first-use order.
	// The graph's input for a table takes the table's full Columns in
	// order: whole source rows.
	Tables []*Table
}

// builder holds what the views of one Build share: the graph, the catalog
// and its answers.
type builder struct {
	ctx       context.Context
	cat       Catalog
	collation string
	g         *dataflow.Graph
	top       *dataflow.Graph // the views' graph (g is another while planning a recursive term)
	lookups   map[[2]string]*Table
	seen      map[row.TableName]bool
	tables    []*Table
	viewNames map[row.TableName]bool
	// defs and built serve views that read other views of the set
	// (planner/views.go).
	defs  map[row.TableName]ViewDef
	built map[row.TableName]*builtView
}

// viewBuilder plans one view.
type viewBuilder struct {
	*builder
	def     ViewDef
	name    string      // def.Name.String(), for errors
	src     expr.Source // positions of sql's parse locations
	sql     string      // the statement text that was parsed
	tokens  []*pg_query.ScanToken
	scanned bool
	// env is the WITH queries visible where planning is; derived caches
	// the node of every subquery planned (planner/subquery.go).
	env     *cteEnv
	derived map[*pg_query.SelectStmt]*dataflow.Node
	chain   []string // views waiting for this one (planner/views.go)
	// lateAggs are the correlated LATERAL subqueries with aggregates and
	// no GROUP BY, which the FROM clause plans (planner/correlated.go).
	lateAggs map[*pg_query.RangeSubselect]bool
}

// Build plans every view of defs into one dataflow graph. Names are
// resolved through cat; every construct ripple cannot maintain exactly is
// refused with an *expr.Error naming the construct, the view and the
// position (errors.As finds it also on catalog failures, which unwrap to
// the catalog's error). Views must have distinct names.
func Build(ctx context.Context, defs []ViewDef, cat Catalog) (*Plan, error) {
	coll, err := cat.Collation(ctx)
	if err != nil {
		return nil, fmt.Errorf("planner: read the source's collation: %w", err)
	}
	top := dataflow.New()
	b := &builder{
		ctx: ctx, cat: cat, collation: coll, g: top, top: top,
		lookups: map[[2]string]*Table{}, seen: map[row.TableName]bool{}, viewNames: map[row.TableName]bool{},
	}
	first := map[row.TableName]ViewDef{}
	for _, d := range defs {
		if prev, dup := first[d.Name]; dup {
			return nil, d.Src.Errorf(d.Name.String(), 0, "relation %q already exists (first defined at %s)", d.Name.Name, defPosition(prev))
		}
		first[d.Name] = d
		b.viewNames[d.Name] = true
	}
	b.defs, b.built = first, map[row.TableName]*builtView{}
	p := &Plan{Graph: b.g}
	for _, d := range defs {
		bv, err := b.view(d, nil)
		if err != nil {
			return nil, err
		}
		node, key := bv.node, bv.key
		b.g.Output(d.Name.String(), node)
		p.Views = append(p.Views, View{Def: d, Columns: append(row.Schema(nil), node.Schema()...), Key: key,
			SourceQuery: b.sourceQuery(d)})
	}
	p.Tables = b.tables
	return p, nil
}

func defPosition(d ViewDef) string {
	if d.Src.File != "" {
		return fmt.Sprintf("%s:%d", d.Src.File, d.Line)
	}
	return fmt.Sprintf("line %d", d.Line)
}

func (v *viewBuilder) errorf(loc int, format string, args ...any) *expr.Error {
	return v.src.Errorf(v.name, loc, format, args...)
}

// wrap positions an error from the expr package that is not positioned
// yet.
func (v *viewBuilder) wrap(loc int, err error) error {
	var e *expr.Error
	if errors.As(err, &e) {
		return err
	}
	return v.errorf(loc, "%v", err)
}

// compiler returns an expression compiler over scope. where names the
// clause for the compiler's messages; aggs handles aggregate calls, nil
// meaning they are not allowed (in aggClause).
func (v *viewBuilder) compiler(scope []expr.ScopeColumn, where, aggClause string, aggs func(*pg_query.FuncCall, int) (expr.Expr, error)) *expr.Compiler {
	if aggs == nil {
		aggs = func(_ *pg_query.FuncCall, loc int) (expr.Expr, error) {
			if aggClause == "" {
				return expr.Expr{}, v.errorf(loc, "aggregate functions are not allowed here")
			}
			return expr.Expr{}, v.errorf(loc, "aggregate functions are not allowed in %s", aggClause)
		}
	}
	return &expr.Compiler{
		Scope: &expr.Scope{Columns: scope}, Src: v.src, View: v.name, Collation: v.collation,
		Aggregates: aggs, Where: where,
	}
}

// parse re-parses the view's statement (its locations are then relative
// to def.Src.Base) and returns its SELECT and the location of the view
// name.
func (v *viewBuilder) parse() (*pg_query.SelectStmt, int, error) {
	sql, src := v.def.SQL, v.def.Src
	if sql == "" {
		sql, src = v.def.Query, expr.Source{File: src.File, Text: v.def.Query}
	}
	if src.Base < 0 || src.Base+len(sql) > len(src.Text) || src.Text[src.Base:src.Base+len(sql)] != sql {
		src = expr.Source{File: src.File, Text: sql}
	}
	v.sql, v.src = sql, src
	tree, err := pg_query.Parse(sql)
	if err != nil {
		e := syntaxError(src, sql, err)
		var pe *expr.Error
		if errors.As(e, &pe) {
			pe.View = v.name
		}
		return nil, 0, e
	}
	stmts := tree.GetStmts()
	if len(stmts) != 1 {
		return nil, 0, v.errorf(0, "expected one view definition, found %d statements", len(stmts))
	}
	var query *pg_query.Node
	loc := 0
	switch s := stmts[0].GetStmt().GetNode().(type) {
	case *pg_query.Node_ViewStmt:
		query, loc = s.ViewStmt.GetQuery(), int(s.ViewStmt.GetView().GetLocation())
	case *pg_query.Node_CreateTableAsStmt:
		query, loc = s.CreateTableAsStmt.GetQuery(), int(s.CreateTableAsStmt.GetInto().GetRel().GetLocation())
	case *pg_query.Node_SelectStmt:
		query = stmts[0].GetStmt()
	}
	sel := query.GetSelectStmt()
	if sel == nil {
		return nil, 0, v.errorf(0, "expected a view definition, found %s", statementKind(stmts[0].GetStmt()))
	}
	return sel, loc, nil
}

// keywordBefore is the location of the last of kws that starts before
// loc, or loc when there is none: the position of a clause's keyword when
// the parse tree only locates its operand.
func (v *viewBuilder) keywordBefore(loc int, kws ...pg_query.Token) int {
	if !v.scanned {
		v.scanned = true
		if res, err := pg_query.Scan(v.sql); err == nil {
			v.tokens = res.GetTokens()
		}
	}
	best := -1
	for _, t := range v.tokens {
		if loc >= 0 && int(t.GetStart()) >= loc {
			break
		}
		if slices.Contains(kws, t.GetToken()) {
			best = int(t.GetStart())
		}
	}
	if best < 0 {
		return loc
	}
	return best
}

func (v *viewBuilder) build() (*dataflow.Node, []int, error) {
	stmt, viewLoc, err := v.parse()
	if err != nil {
		return nil, nil, err
	}
	if r := checkConstructs(stmt, v.keywordBefore); r != nil {
		return nil, nil, v.errorf(r.loc, "%s", r.msg)
	}
	res, err := v.query(stmt)
	if err != nil {
		return nil, nil, err
	}
	names, types := res.outputColumns()
	if len(v.def.ColumnNames) > len(names) {
		return nil, nil, v.errorf(viewLoc, "CREATE VIEW specifies more column names than columns")
	}
	copy(names, v.def.ColumnNames)
	for i, n := range names {
		if slices.Index(names, n) != i {
			return nil, nil, v.errorf(viewLoc, "column %q specified more than once", n)
		}
	}
	selNames := slices.Clone(res.names())
	n, key, err := v.finish(res, types, names)
	if err != nil {
		return nil, nil, err
	}
	return v.topK(stmt, n, key, selNames, res.leaf)
}

// result is a planned query expression: a SELECT whose projection is not
// built yet (so a UNION can still cast its columns), or a set operation.
type result struct {
	leaf        *leaf
	op          pg_query.SetOperation
	left, right *result
	all         bool
	common      []row.Type // column types of a set operation
}

func (r *result) names() []string {
	if r.leaf != nil {
		return r.leaf.names
	}
	return r.left.names()
}

// outputColumns returns copies of the result's column names and types,
// with unknown-typed columns (bare literals) resolved to text, as
// PostgreSQL 10+ resolves them for views, subqueries and WITH queries.
func (r *result) outputColumns() ([]string, []row.Type) {
	names := slices.Clone(r.names())
	types := slices.Clone(r.types())
	for i, t := range types {
		if t.OID == row.OIDUnknown {
			types[i] = row.Text
		}
	}
	return names, types
}

func (r *result) types() []row.Type {
	if r.leaf != nil {
		ts := make([]row.Type, len(r.leaf.exprs))
		for i, e := range r.leaf.exprs {
			ts[i] = e.Type
		}
		return ts
	}
	return r.common
}

// leaf is a SELECT: its input node and its select list over the input's
// rows.
type leaf struct {
	in       *dataflow.Node
	exprs    []expr.Expr
	names    []string
	locs     []int
	plain    []int // position in in's rows when the expression just reads a column, else -1
	distinct bool
	// distinctOn is the SELECT's DISTINCT ON clause, nil without one
	// (planner/distinct_on.go).
	distinctOn *distinctOn
	key        []int
	// inKey is a unique key of in's rows (positions), nil when none is
	// known or after grouping.
	inKey []int
	// scope is the input's columns at their positions in in's rows, for
	// ORDER BY entries that name input columns (planner/order.go); nil
	// after grouping.
	scope []expr.ScopeColumn
	// aggs are the aggregates of a grouped SELECT without GROUPING SETS,
	// whose exprs read rows of nkeys group columns followed by their
	// results (planner/correlated.go evaluates them over no rows).
	aggs  []dataflow.Aggregate
	nkeys int
}

// setOpNames name the set operations for messages.
var setOpNames = map[pg_query.SetOperation]string{
	pg_query.SetOperation_SETOP_UNION:     "UNION",
	pg_query.SetOperation_SETOP_INTERSECT: "INTERSECT",
	pg_query.SetOperation_SETOP_EXCEPT:    "EXCEPT",
}

func (v *viewBuilder) query(s *pg_query.SelectStmt) (*result, error) {
	if w := s.GetWithClause(); w != nil {
		saved := v.env
		defer func() { v.env = saved }()
		if err := v.with(w); err != nil {
			return nil, err
		}
	}
	switch s.GetOp() {
	case pg_query.SetOperation_SETOP_UNION, pg_query.SetOperation_SETOP_INTERSECT, pg_query.SetOperation_SETOP_EXCEPT:
		l, err := v.query(s.GetLarg())
		if err != nil {
			return nil, err
		}
		r, err := v.query(s.GetRarg())
		if err != nil {
			return nil, err
		}
		lt, rt := l.types(), r.types()
		loc := firstLocation(s.GetRarg())
		name := setOpNames[s.GetOp()]
		if len(lt) != len(rt) {
			return nil, v.errorf(loc, "each %s query must have the same number of columns", name)
		}
		common := make([]row.Type, len(lt))
		for i := range lt {
			t, err := expr.CommonType(name, []row.Type{lt[i], rt[i]})
			if err != nil {
				return nil, v.wrap(loc, err)
			}
			common[i] = t
		}
		return &result{op: s.GetOp(), left: l, right: r, all: s.GetAll(), common: common}, nil
	case pg_query.SetOperation_SETOP_NONE, pg_query.SetOperation_SET_OPERATION_UNDEFINED:
		l, err := v.selectLeaf(s)
		if err != nil {
			return nil, err
		}
		return &result{leaf: l}, nil
	}
	return nil, v.errorf(firstLocation(s.GetRarg()), "%s is not supported yet", s.GetOp())
}

// finish builds the nodes of r producing columns of the given types and
// names, and returns the result's key.
func (v *viewBuilder) finish(r *result, types []row.Type, names []string) (*dataflow.Node, []int, error) {
	if r.leaf != nil {
		return v.finishLeaf(r.leaf, types, names)
	}
	ln, _, err := v.finish(r.left, r.common, names)
	if err != nil {
		return nil, nil, err
	}
	rn, _, err := v.finish(r.right, r.common, r.right.names())
	if err != nil {
		return nil, nil, err
	}
	var n *dataflow.Node
	var key []int
	switch r.op {
	case pg_query.SetOperation_SETOP_UNION:
		n = v.g.Union([]*dataflow.Node{ln, rn}, schemaOf(names, r.common), "UNION ALL")
		if !r.all {
			n = v.g.Distinct(n, "UNION")
			key = allColumns(len(names))
		}
	default:
		kinds := map[[2]bool]dataflow.SetOpKind{
			{false, false}: dataflow.Intersect, {false, true}: dataflow.IntersectAll,
			{true, false}: dataflow.Except, {true, true}: dataflow.ExceptAll,
		}
		kind := kinds[[2]bool{r.op == pg_query.SetOperation_SETOP_EXCEPT, r.all}]
		if !r.all {
			key = allColumns(len(names))
		}
		// The left input's rows already carry the result's names and types.
		n = v.g.SetOp(ln, rn, kind, kind.String())
	}
	if !slices.Equal(types, r.common) {
		exprs := make([]expr.Expr, len(names))
		for i := range names {
			exprs[i] = columnExpr(expr.ScopeColumn{Name: names[i], Type: r.common[i]}, i)
			if types[i] != r.common[i] {
				if exprs[i], err = castExpr(exprs[i], types[i]); err != nil {
					return nil, nil, v.wrap(-1, err)
				}
			}
		}
		n = v.project(n, exprs, names)
		key = nil // casts may merge distinct values
	}
	return n, key, nil
}

func (v *viewBuilder) finishLeaf(l *leaf, types []row.Type, names []string) (*dataflow.Node, []int, error) {
	if l.distinctOn != nil {
		return v.finishDistinctOn(l, types, names)
	}
	exprs := slices.Clone(l.exprs)
	identity := len(exprs) == len(l.in.Schema())
	for i := range exprs {
		if exprs[i].Type != types[i] {
			e, err := castExpr(exprs[i], types[i])
			if err != nil {
				return nil, nil, v.wrap(l.locs[i], err)
			}
			exprs[i] = e
			identity = false
		}
		identity = identity && l.plain[i] == i && l.in.Schema()[i] == (row.Column{Name: names[i], Type: types[i]})
	}
	n := l.in
	if !identity {
		n = v.project(l.in, exprs, names)
	}
	key := l.key
	if l.distinct {
		n = v.g.Distinct(n, "DISTINCT")
		if key == nil {
			key = allColumns(len(exprs))
		}
	}
	return n, key, nil
}

// castExpr is an implicit cast (as UNION and join keys apply them) that
// shows in explain output.
func castExpr(e expr.Expr, to row.Type) (expr.Expr, error) {
	from := e.Type
	c, err := expr.Cast(e, to, false)
	if err != nil {
		return c, err
	}
	if from.OID != row.OIDUnknown {
		c.Text = e.Text + "::" + to.String()
	}
	return c, nil
}

// project maps every row of in to exprs.
func (v *viewBuilder) project(in *dataflow.Node, exprs []expr.Expr, names []string) *dataflow.Node {
	schema := make(row.Schema, len(exprs))
	labels := make([]string, len(exprs))
	for i, e := range exprs {
		schema[i] = row.Column{Name: names[i], Type: e.Type}
		labels[i] = e.Text
		if names[i] != e.Text {
			labels[i] += " AS " + row.QuoteIdent(names[i])
		}
	}
	fn := func(r row.Row) (row.Row, error) {
		out := make(row.Row, len(exprs))
		for i, e := range exprs {
			d, err := e.Eval(r)
			if err != nil {
				return nil, err
			}
			out[i] = d
		}
		return out, nil
	}
	return v.g.Map(in, fn, schema, strings.Join(labels, ", "))
}

func schemaOf(names []string, types []row.Type) row.Schema {
	s := make(row.Schema, len(names))
	for i := range names {
		s[i] = row.Column{Name: names[i], Type: types[i]}
	}
	return s
}

func allColumns(n int) []int {
	k := make([]int, n)
	for i := range k {
		k[i] = i
	}
	return k
}

// target is one select list entry after * expansion.
type target struct {
	node   *pg_query.Node   // nil for a column of a * expansion
	col    expr.ScopeColumn // the * expansion's column (global index)
	name   string           // the alias, or the * column's name; "" when the expression names it
	loc    int
	global int // global index when the entry is a bare column reference, else -1
}

func (v *viewBuilder) selectLeaf(s *pg_query.SelectStmt) (*leaf, error) {
	if len(s.GetFromClause()) == 0 {
		return nil, v.errorf(firstLocation(s), "SELECT without FROM is not supported yet")
	}
	if err := v.decorrelateLateral(s); err != nil { // planner/lateral.go
		return nil, err
	}
	f, err := v.from(s.GetFromClause())
	if err != nil {
		return nil, err
	}
	where, semis, err := v.subLinks(s, f) // planner/sublink.go
	if err != nil {
		return nil, err
	}
	where, temporal, err := v.splitTemporal(where) // planner/temporal.go
	if err != nil {
		return nil, err
	}
	gc := v.compiler(f.scope, "select list", "", nil)
	targets, err := v.targets(s.GetTargetList(), f, gc)
	if err != nil {
		return nil, err
	}
	if w := where; w != nil {
		wc := v.compiler(f.scope, "WHERE", "WHERE", nil)
		if err := v.checkRefs(wc, w, true); err != nil {
			return nil, err
		}
		if _, _, err := wc.Predicate(w); err != nil {
			return nil, err
		}
		for _, n := range conjuncts(w) {
			if v.readsLate(f, f.scope, n) { // applied with the late items (planner/correlated.go)
				f.lateConds = append(f.lateConds, n)
				continue
			}
			if err := v.addConjunct(f, n, f.scope, "WHERE"); err != nil {
				return nil, err
			}
		}
	}
	join := v.join
	if f.outer {
		join = v.joinTree
	}
	node, pos, err := join(f)
	if err != nil {
		return nil, err
	}
	if node, err = v.applyLate(f, node, pos); err != nil {
		return nil, err
	}
	if len(temporal) > 0 {
		if node, err = v.temporalFilter(node, f.scope, pos, temporal); err != nil {
			return nil, err
		}
	}
	if node, err = v.semiJoins(f, node, pos, semis); err != nil {
		return nil, err
	}
	var nodes []*pg_query.Node
	for _, t := range targets {
		nodes = append(nodes, t.node)
	}
	grouped := len(s.GetGroupClause()) > 0 || s.GetHavingClause() != nil || hasAggregates(append(nodes, s.GetHavingClause())...)
	var l *leaf
	switch wins := windowCalls(nodes...); {
	case grouped && len(wins) > 0:
		return nil, v.errorf(int(wins[0].GetLocation()), "window functions in a query with GROUP BY or aggregates are not supported yet")
	case grouped:
		l, err = v.group(s, f, targets, node, pos)
	case len(wins) > 0:
		l, err = v.windowSelect(f, targets, node, pos) // planner/window.go
	default:
		l, err = v.selectList(f, targets, node, pos)
	}
	if err != nil {
		return nil, err
	}
	dc := s.GetDistinctClause()
	l.distinct = len(dc) > 0
	if l.distinct && dc[0].GetNode() != nil {
		l.distinct = false
		l.distinctOn = &distinctOn{exprs: dc, order: s.GetSortClause(),
			loc: v.keywordBefore(firstLocation(dc[0]), pg_query.Token_DISTINCT)}
	}
	if l.distinct || grouped {
		// DISTINCT and GROUP BY resolve unknown-type outputs to text
		// before comparing them.
		for i, e := range l.exprs {
			if e.Type.OID == row.OIDUnknown {
				if l.exprs[i], err = expr.Cast(e, row.Text, false); err != nil {
					return nil, v.wrap(l.locs[i], err)
				}
			}
		}
	}
	return l, nil
}

// targets expands * and t.* and checks every column reference of the
// select list.
func (v *viewBuilder) targets(list []*pg_query.Node, f *fromClause, gc *expr.Compiler) ([]target, error) {
	var out []target
	for _, n := range list {
		rt := n.GetResTarget()
		if rt == nil {
			return nil, v.errorf(firstLocation(n), "unexpected select list entry")
		}
		loc := int(rt.GetLocation())
		if len(rt.GetIndirection()) > 0 {
			return nil, v.errorf(loc, "select list indirection is not supported")
		}
		if cr := rt.GetVal().GetColumnRef(); cr != nil && isStar(cr) {
			cols, err := v.expandStar(f, cr)
			if err != nil {
				return nil, err
			}
			for _, c := range cols {
				if !c.Type.Supported() {
					return nil, v.unsupportedColumn(int(cr.GetLocation()), c)
				}
				out = append(out, target{col: c, name: c.Name, loc: int(cr.GetLocation()), global: c.Index})
			}
			continue
		}
		if err := v.checkRefs(gc, rt.GetVal(), true); err != nil {
			return nil, err
		}
		t := target{node: rt.GetVal(), name: rt.GetName(), loc: loc, global: -1}
		if cr := rt.GetVal().GetColumnRef(); cr != nil {
			if sc, err := gc.Column(cr); err == nil {
				t.global = sc.Index
			}
		}
		out = append(out, t)
	}
	return out, nil
}

func (v *viewBuilder) expandStar(f *fromClause, cr *pg_query.ColumnRef) ([]expr.ScopeColumn, error) {
	fields := cr.GetFields()
	loc := int(cr.GetLocation())
	if len(fields) == 1 {
		return f.star, nil
	}
	tname := fields[len(fields)-2].GetString_().GetSval()
	for i, r := range f.rels {
		if r.name != tname {
			continue
		}
		if len(fields) == 3 && (r.name != r.table.Name.Name || fields[0].GetString_().GetSval() != r.table.Name.Schema) {
			continue
		}
		var cols []expr.ScopeColumn
		for _, c := range f.scope {
			if c.Table == r.name && f.owner[c.Index] == i && !(c.Hidden && hiddenLateral(c.Name) && !hiddenLateral(tname)) {
				cols = append(cols, c)
			}
		}
		return cols, nil
	}
	for _, it := range f.late {
		if it.name == tname && len(fields) == 2 {
			return it.cols, nil
		}
	}
	return nil, v.errorf(loc, "missing FROM-clause entry for table %q", tname)
}

// selectList compiles a select list without grouping over the joined
// rows.
func (v *viewBuilder) selectList(f *fromClause, targets []target, in *dataflow.Node, pos []int) (*leaf, error) {
	c := v.compiler(remap(f.scope, pos), "select list", "", nil)
	l := &leaf{in: in, scope: remap(f.scope, pos), inKey: inputKey(f, pos)}
	globals := make([]int, len(targets))
	for i, t := range targets {
		var e expr.Expr
		plain := -1
		if t.node == nil {
			plain = pos[t.col.Index]
			e = columnExpr(t.col, plain)
		} else if lit, ok := unknownLiteral(t.node); ok {
			e = lit
		} else {
			var err error
			if e, err = c.Compile(t.node); err != nil {
				return nil, err
			}
			if t.global >= 0 {
				plain = pos[t.global]
			}
		}
		name := t.name
		if name == "" {
			name = e.Name
		}
		l.exprs = append(l.exprs, e)
		l.names = append(l.names, name)
		l.locs = append(l.locs, t.loc)
		l.plain = append(l.plain, plain)
		globals[i] = t.global
	}
	if !f.outer { // NULL-extended rows may repeat a key's NULLs
		l.key = primaryKeyColumns(f, globals)
	}
	return l, nil
}

// unknownLiteral compiles a bare string literal or NULL to an expression
// of type unknown: PostgreSQL leaves their type open in a select list
// until a UNION resolves it (or the view makes it text). The compiler
// resolves them to text at once, which is right everywhere else.
func unknownLiteral(n *pg_query.Node) (expr.Expr, bool) {
	c := n.GetAConst()
	if c == nil {
		return expr.Expr{}, false
	}
	var d row.Datum
	text := "NULL"
	switch {
	case c.GetIsnull():
	case c.GetSval() != nil:
		s := c.GetSval().GetSval()
		d = row.NewText(s)
		text = "'" + strings.ReplaceAll(s, "'", "''") + "'"
	default:
		return expr.Expr{}, false
	}
	return expr.Expr{
		Type: row.Unknown, Name: "?column?", Text: text, Const: true,
		Eval: func(row.Row) (row.Datum, error) { return d, nil },
	}, true
}

// primaryKeyColumns returns the output positions of a unique key of the
// joined rows, nil when none is known: the primary key columns of every
// joined table, selected as they are, except for tables whose whole
// primary key is equated with columns of other tables (a many-to-one
// join, such as orders ⋈ customers on orders.cust = customers.id): each
// row of the other tables matches at most one of their rows, so their key
// is implied. Only for FROM clauses without outer joins, where every
// conjunct filters the joined rows.
func primaryKeyColumns(f *fromClause, globals []int) []int {
	determined := impliedRelations(f)
	var key []int
	for _, it := range f.late {
		// A set-returning function repeats the rows it extends: its
		// ordinality tells them apart.
		if it.srf == nil {
			continue
		}
		if !it.srf.ordinality {
			return nil
		}
		i := slices.Index(globals, it.cols[1].Index)
		if i < 0 {
			return nil
		}
		key = append(key, i)
	}
	for ri, r := range f.rels {
		if determined[ri] {
			continue
		}
		if len(r.table.Key) == 0 {
			return nil
		}
		for _, k := range r.table.Key {
			i := slices.Index(globals, r.offset+k)
			if i < 0 {
				return nil
			}
			if !slices.Contains(key, i) {
				key = append(key, i)
			}
		}
	}
	slices.Sort(key)
	return key
}

// impliedRelations marks the relations whose every primary key column is
// equated, by an equality of two columns of the same type in a conjunct,
// with a column of another relation that is not itself marked (so that
// two tables joined on their primary keys keep one of the keys). Such a
// relation contributes at most one row to each combination of the others.
func impliedRelations(f *fromClause) map[int]bool {
	determined := map[int]bool{}
	for ri, r := range f.rels {
		if len(r.table.Key) == 0 || r.oneRow {
			continue
		}
		all := true
		for _, k := range r.table.Key {
			g := r.offset + k
			found := false
			for _, cj := range f.conjs {
				if !cj.eq {
					continue
				}
				var mine, other expr.ScopeColumn
				switch g {
				case cj.a.Index:
					mine, other = cj.a, cj.b
				case cj.b.Index:
					mine, other = cj.b, cj.a
				default:
					continue
				}
				o := f.owner[other.Index]
				if o < 0 || o == ri || determined[o] || mine.Type.OID != other.Type.OID {
					continue
				}
				found = true
				break
			}
			if !found {
				all = false
				break
			}
		}
		if all {
			determined[ri] = true
		}
	}
	return determined
}

// Explain renders the plan: the source tables, then every view with its
// columns, key and operator tree.
func (p *Plan) Explain() string {
	var b strings.Builder
	for _, t := range p.Tables {
		fmt.Fprintf(&b, "table %s %s", t.Name, schemaString(t.Columns))
		if len(t.Key) > 0 {
			fmt.Fprintf(&b, " primary key %s", keyString(t.Columns, t.Key))
		}
		b.WriteByte('\n')
	}
	for _, v := range p.Views {
		kind := "view"
		if v.Def.Materialized {
			kind = "materialized view"
		}
		fmt.Fprintf(&b, "\n%s %s %s", kind, v.Def.Name, schemaString(v.Columns))
		if v.Key != nil {
			fmt.Fprintf(&b, " key %s", keyString(v.Columns, v.Key))
		} else {
			b.WriteString(" key unknown")
		}
		b.WriteByte('\n')
		b.WriteString(p.Graph.Explain(v.Def.Name.String()))
	}
	return b.String()
}

func schemaString(s row.Schema) string {
	parts := make([]string, len(s))
	for i, c := range s {
		parts[i] = row.QuoteIdent(c.Name) + " " + typeString(c.Type)
	}
	return "(" + strings.Join(parts, ", ") + ")"
}

func keyString(s row.Schema, key []int) string {
	parts := make([]string, len(key))
	for i, k := range key {
		parts[i] = row.QuoteIdent(s[k].Name)
	}
	return "(" + strings.Join(parts, ", ") + ")"
}
