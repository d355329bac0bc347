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

// The FROM clause: every table reference becomes a relation whose columns
// get consecutive "global" indexes in FROM order. Expressions are resolved
// against scopes over global indexes; when an expression is compiled for a
// particular operator, its scope is remapped to the physical positions of
// that operator's rows (which follow the join order the planner picks and
// may carry extra key columns). Remapping keeps name resolution exactly
// the one PostgreSQL does, whatever the join order.

// relation is one table reference of a FROM clause.
type relation struct {
	table   *Table
	name    string // range variable: the alias, else the table name
	offset  int    // global index of its first column
	loc     int
	filters []*conjunct // conditions on this relation alone, applied before any join
	// node computes a derived relation (a subquery in FROM, a CTE, another
	// view of the set); nil for a source table, read through its input.
	node *dataflow.Node
	// oneRow marks the relation of a scalar subquery: exactly one row.
	oneRow bool
}

// conjunct is one AND-operand of an ON or WHERE condition, or the equality
// a USING column stands for.
type conjunct struct {
	node   *pg_query.Node     // nil for a USING equality
	scope  []expr.ScopeColumn // the scope it was resolved in (global indexes)
	clause string             // "JOIN/ON" or "WHERE"
	rels   []int              // relations it references
	refs   []int              // global columns it references
	// eq is set when the conjunct is column = column over two different
	// relations: a candidate join key.
	eq   bool
	a, b expr.ScopeColumn
	text string
	done bool // applied as a join key or a filter
	// join is the join whose ON or USING clause holds the conjunct, nil
	// for WHERE. It matters only for FROM clauses with outer joins.
	join *fromNode
}

// fromClause is a resolved FROM clause.
type fromClause struct {
	rels  []*relation
	scope []expr.ScopeColumn // every column entry (hidden ones too), global indexes
	star  []expr.ScopeColumn // what * expands to, in PostgreSQL's order
	owner []int              // global index → relation (-1 for a computed USING column)
	conjs []*conjunct
	// items are the FROM list entries as trees; outer is set when one of
	// them holds an outer join, which makes the planner join in tree order
	// (an outer join's conditions cannot move across it).
	items []*fromNode
	outer bool
	// computedRels lists the relations a computed USING column reads.
	computedRels map[int][]int
	// correlated are the correlated scalar subqueries, joined in after
	// the rest of WHERE, and lateWhere the WHERE conjuncts that use them
	// (planner/sublink.go).
	correlated []*correlatedScalar
	lateWhere  []*pg_query.Node
	// late are the FROM items computed from the joined rows (correlated
	// LATERAL aggregates, set-returning functions), lateConds the WHERE and
	// inner ON conjuncts that read them (planner/correlated.go); pending
	// are the columns to the left of the join being resolved, which a
	// LATERAL item may reference.
	late      []*lateItem
	lateConds []*pg_query.Node
	pending   []expr.ScopeColumn
}

// fromNode is one table or join of a FROM item's tree.
type fromNode struct {
	rel         int // relation index for a table, -1 for a join
	kind        pg_query.JoinType
	left, right *fromNode
	conjs       []*conjunct     // the join's ON and USING conditions
	computed    []computedUsing // USING columns a RIGHT or FULL join computes
	loc         int
}

// computedUsing is the merged column of USING (c) for an outer join that
// does not simply show one side's column: FULL JOIN's COALESCE(l.c, r.c),
// or RIGHT JOIN's r.c cast to the common type.
type computedUsing struct {
	global int
	name   string
	l, r   expr.ScopeColumn
	typ    row.Type
	full   bool
}

// fromItem is one FROM list entry (a table or a join tree).
type fromItem struct {
	cols []expr.ScopeColumn // every entry of the item
	star []expr.ScopeColumn // the visible entries, in * order
	node *fromNode          // nil for a late item
	// late is set when the item holds a late item (planner/correlated.go),
	// lateOnly when it is one.
	late, lateOnly bool
}

func (v *viewBuilder) from(items []*pg_query.Node) (*fromClause, error) {
	f := &fromClause{computedRels: map[int][]int{}}
	for _, n := range items {
		it, err := v.fromItem(f, n)
		if err != nil {
			return nil, err
		}
		f.scope = append(f.scope, it.cols...)
		f.star = append(f.star, it.star...)
		if it.node != nil {
			f.items = append(f.items, it.node)
		}
	}
	if len(f.rels) == 0 && len(f.late) > 0 {
		return nil, v.errorf(firstLocation(items[0]), "a FROM clause with only set-returning functions or LATERAL subqueries is not supported yet: add a table")
	}
	return f, nil
}

func (v *viewBuilder) fromItem(f *fromClause, n *pg_query.Node) (fromItem, error) {
	switch x := n.GetNode().(type) {
	case *pg_query.Node_RangeVar:
		return v.rangeVar(f, x.RangeVar)
	case *pg_query.Node_JoinExpr:
		return v.joinExpr(f, x.JoinExpr)
	case *pg_query.Node_RangeSubselect:
		if v.lateAggs[x.RangeSubselect] { // planner/lateral.go
			return v.lateralAggregate(f, x.RangeSubselect, append(slices.Clone(f.scope), f.pending...))
		}
		return v.rangeSubselect(f, x.RangeSubselect)
	case *pg_query.Node_RangeFunction:
		return v.rangeFunction(f, x.RangeFunction, append(slices.Clone(f.scope), f.pending...))
	}
	return fromItem{}, v.errorf(firstLocation(n), "this kind of FROM item is not supported")
}

func (v *viewBuilder) rangeVar(f *fromClause, rv *pg_query.RangeVar) (fromItem, error) {
	loc := int(rv.GetLocation())
	if rv.GetCatalogname() != "" {
		return fromItem{}, v.errorf(loc, "cross-database references are not implemented: %s.%s.%s",
			rv.GetCatalogname(), rv.GetSchemaname(), rv.GetRelname())
	}
	if it, ok, err := v.derivedRangeVar(f, rv); ok || err != nil {
		return it, err
	}
	t, err := v.lookup(rv)
	if err != nil {
		return fromItem{}, err
	}
	name := rv.GetRelname()
	var colnames []*pg_query.Node
	if a := rv.GetAlias(); a != nil {
		name, colnames = a.GetAliasname(), a.GetColnames()
	}
	for _, r := range f.rels {
		if r.name == name {
			return fromItem{}, v.errorf(loc, "table name %q specified more than once", name)
		}
	}
	if len(colnames) > len(t.Columns) {
		return fromItem{}, v.errorf(loc, "table %q has %d columns available but %d columns specified", name, len(t.Columns), len(colnames))
	}
	r := &relation{table: t, name: name, offset: len(f.owner), loc: loc}
	idx := len(f.rels)
	f.rels = append(f.rels, r)
	var it fromItem
	for i, c := range t.Columns {
		cn := c.Name
		if i < len(colnames) {
			cn = colnames[i].GetString_().GetSval()
		}
		it.cols = append(it.cols, expr.ScopeColumn{Table: name, Name: cn, Type: c.Type, Index: r.offset + i})
		f.owner = append(f.owner, idx)
	}
	it.star = append([]expr.ScopeColumn(nil), it.cols...)
	it.node = &fromNode{rel: idx, loc: loc}
	return it, nil
}

// lookup resolves a table reference through the catalog, once per name.
func (v *viewBuilder) lookup(rv *pg_query.RangeVar) (*Table, error) {
	key := [2]string{rv.GetSchemaname(), rv.GetRelname()}
	if t, ok := v.lookups[key]; ok {
		return t, nil
	}
	loc := int(rv.GetLocation())
	t, err := v.cat.LookupTable(v.ctx, rv.GetSchemaname(), rv.GetRelname())
	if err != nil {
		if v.ctx.Err() != nil {
			return nil, fmt.Errorf("view %s: look up table %s: %w", v.name, rv.GetRelname(), err)
		}
		if other, ok := v.isView(rv); ok {
			return nil, v.errorf(loc, "views over other views (%s) are not supported yet", other)
		}
		return nil, &catalogError{pos: v.errorf(loc, "%v", err), err: err}
	}
	if t == nil {
		return nil, v.errorf(loc, "catalog returned no table for %s", rv.GetRelname())
	}
	v.lookups[key] = t
	if !v.seen[t.Name] {
		v.seen[t.Name] = true
		v.tables = append(v.tables, t)
	}
	return t, nil
}

// isView reports whether rv names one of the views being planned.
func (v *viewBuilder) isView(rv *pg_query.RangeVar) (string, bool) {
	schema := rv.GetSchemaname()
	if schema == "" {
		schema = "public"
	}
	n := row.TableName{Schema: schema, Name: rv.GetRelname()}
	return n.String(), v.viewNames[n]
}

// catalogError is a catalog failure reported at the SQL position of the
// table reference: its text is the positioned *expr.Error, errors.As finds
// that *expr.Error, and Unwrap gives the catalog's own error.
type catalogError struct {
	pos *expr.Error
	err error
}

func (e *catalogError) Error() string { return e.pos.Error() }
func (e *catalogError) Unwrap() error { return e.err }
func (e *catalogError) As(target any) bool {
	if p, ok := target.(**expr.Error); ok {
		*p = e.pos
		return true
	}
	return false
}

func (v *viewBuilder) joinExpr(f *fromClause, j *pg_query.JoinExpr) (fromItem, error) {
	rloc := firstLocation(j.GetRarg())
	kind := j.GetJointype()
	switch kind {
	case pg_query.JoinType_JOIN_INNER, pg_query.JoinType_JOIN_LEFT, pg_query.JoinType_JOIN_RIGHT, pg_query.JoinType_JOIN_FULL:
	default:
		return fromItem{}, v.errorf(rloc, "this join type is not supported yet")
	}
	l, err := v.fromItem(f, j.GetLarg())
	if err != nil {
		return fromItem{}, err
	}
	saved := f.pending
	f.pending = append(slices.Clone(saved), l.cols...) // visible to a LATERAL right side
	r, err := v.fromItem(f, j.GetRarg())
	f.pending = saved
	if err != nil {
		return fromItem{}, err
	}
	if l.late || r.late {
		return v.lateJoin(f, j, l, r)
	}
	if kind != pg_query.JoinType_JOIN_INNER {
		f.outer = true
	}
	cols := append(append([]expr.ScopeColumn(nil), l.cols...), r.cols...)
	node := &fromNode{rel: -1, kind: kind, left: l.node, right: r.node, loc: rloc}
	it := fromItem{cols: cols, star: append(append([]expr.ScopeColumn(nil), l.star...), r.star...), node: node}
	var using []string
	for _, u := range j.GetUsingClause() {
		using = append(using, u.GetString_().GetSval())
	}
	if j.GetIsNatural() {
		for _, lc := range l.star {
			for _, rc := range r.star {
				if lc.Name == rc.Name {
					using = append(using, lc.Name)
					break
				}
			}
		}
	}
	if len(using) > 0 {
		if it, err = v.using(f, it, node, len(l.cols), l.star, r.star, using, rloc); err != nil {
			return fromItem{}, err
		}
	}
	if q := j.GetQuals(); q != nil {
		snap := append([]expr.ScopeColumn(nil), it.cols...)
		c := v.compiler(snap, "JOIN/ON", "JOIN conditions", nil)
		if err := v.checkRefs(c, q, true); err != nil {
			return fromItem{}, err
		}
		if _, _, err := c.Predicate(q); err != nil {
			return fromItem{}, err
		}
		for _, n := range conjuncts(q) {
			if err := v.addConjunct(f, n, snap, "JOIN/ON"); err != nil {
				return fromItem{}, err
			}
			cj := f.conjs[len(f.conjs)-1]
			cj.join = node
			node.conjs = append(node.conjs, cj)
		}
	}
	return it, nil
}

// lateJoin resolves a join one of whose sides holds a late item
// (planner/correlated.go). Late items are applied after the relations are
// joined, so no join may NULL-extend their rows (they may not be on the
// nullable side of an outer join, nor read by its ON condition), except
// the LEFT JOIN ... ON true that introduces one. The ON conditions of an
// inner join with a late item as one side filter the rows once the late
// items are applied.
func (v *viewBuilder) lateJoin(f *fromClause, j *pg_query.JoinExpr, l, r fromItem) (fromItem, error) {
	rloc := firstLocation(j.GetRarg())
	kind := j.GetJointype()
	if len(j.GetUsingClause()) > 0 || j.GetIsNatural() {
		return fromItem{}, v.errorf(rloc, "USING and NATURAL joins with a LATERAL subquery with aggregates or a function in FROM are not supported yet")
	}
	q := j.GetQuals()
	onTrue := q == nil || isTrue(q)
	cols := append(slices.Clone(l.cols), r.cols...)
	readsLate := q != nil && !onTrue && v.readsLate(f, cols, q)
	switch {
	case kind == pg_query.JoinType_JOIN_INNER:
	case kind == pg_query.JoinType_JOIN_LEFT && r.lateOnly:
		if j.GetRarg().GetJoinExpr() != nil {
			return fromItem{}, v.errorf(rloc, "LEFT JOIN with a join of functions in FROM or LATERAL subqueries with aggregates is not supported yet")
		}
		if !onTrue {
			return fromItem{}, v.errorf(rloc, "LEFT JOIN with a LATERAL subquery with aggregates or a function in FROM is supported only with ON true")
		}
		// A late item that returns no row for a left row gives it one row
		// of NULLs (an aggregate always returns one row).
		if srf := f.late[len(f.late)-1].srf; srf != nil {
			srf.outer = true
		}
	case kind == pg_query.JoinType_JOIN_LEFT && !r.late && !l.lateOnly && !readsLate,
		kind == pg_query.JoinType_JOIN_RIGHT && !l.late && !r.lateOnly && !readsLate:
		// The late items are on the preserved side and the condition does
		// not read them: they extend the outer join's rows alike.
		f.outer = true
	default:
		return fromItem{}, v.errorf(rloc, "%s", errLateNullable)
	}
	it := fromItem{cols: cols, star: append(slices.Clone(l.star), r.star...), late: true}
	switch {
	case l.lateOnly && r.lateOnly:
		it.lateOnly = true
	case l.lateOnly:
		it.node = r.node
	case r.lateOnly:
		it.node = l.node
	default:
		it.node = &fromNode{rel: -1, kind: kind, left: l.node, right: r.node, loc: rloc}
	}
	if onTrue {
		return it, nil
	}
	c := v.compiler(cols, "JOIN/ON", "JOIN conditions", nil)
	if err := v.checkRefs(c, q, true); err != nil {
		return fromItem{}, err
	}
	if _, _, err := c.Predicate(q); err != nil {
		return fromItem{}, err
	}
	for _, n := range conjuncts(q) {
		if l.lateOnly || r.lateOnly || v.readsLate(f, cols, n) {
			f.lateConds = append(f.lateConds, n) // an inner join (checked above)
			continue
		}
		if err := v.addConjunct(f, n, cols, "JOIN/ON"); err != nil {
			return fromItem{}, err
		}
		cj := f.conjs[len(f.conjs)-1]
		cj.join = it.node
		it.node.conjs = append(it.node.conjs, cj)
	}
	return it, nil
}

// using merges the USING (or NATURAL) columns of a join: the left copy (or
// a merged column of the common type) stays visible, the others become
// reachable only qualified, and * lists the merged columns first.
func (v *viewBuilder) using(f *fromClause, it fromItem, node *fromNode, nl int, lstar, rstar []expr.ScopeColumn, using []string, loc int) (fromItem, error) {
	find := func(from, to int, name, side string) (int, error) {
		found := -1
		for i := from; i < to; i++ {
			c := it.cols[i]
			if c.Name != name || c.Hidden {
				continue
			}
			if found >= 0 {
				return 0, v.errorf(loc, "common column name %q appears more than once in %s table", name, side)
			}
			found = i
		}
		if found < 0 {
			return 0, v.errorf(loc, "column %q specified in USING clause does not exist in %s table", name, side)
		}
		return found, nil
	}
	seen := map[string]bool{}
	var merged []expr.ScopeColumn
	for _, u := range using {
		if seen[u] {
			return it, v.errorf(loc, "column name %q appears more than once in USING clause", u)
		}
		seen[u] = true
		li, err := find(0, nl, u, "left")
		if err != nil {
			return it, err
		}
		ri, err := find(nl, len(it.cols), u, "right")
		if err != nil {
			return it, err
		}
		lc, rc := it.cols[li], it.cols[ri]
		for _, c := range []expr.ScopeColumn{lc, rc} {
			if !c.Type.Supported() {
				return it, v.unsupportedColumn(loc, c)
			}
		}
		if _, _, _, ok := keyType(lc.Type, rc.Type); !ok {
			return it, v.errorf(loc, "JOIN USING (%s) on types %s and %s is not supported yet", u, lc.Type, rc.Type)
		}
		t := lc.Type
		if lc.Type != rc.Type {
			if lc.Type.Kind() != rc.Type.Kind() {
				return it, v.errorf(loc, "JOIN USING (%s) on types %s and %s is not supported yet", u, lc.Type, rc.Type)
			}
			var err error
			if t, err = expr.CommonType("JOIN/USING", []row.Type{lc.Type, rc.Type}); err != nil {
				return it, v.errorf(loc, "%v", err)
			}
		}
		var m expr.ScopeColumn
		switch {
		case node.kind == pg_query.JoinType_JOIN_FULL || (node.kind == pg_query.JoinType_JOIN_RIGHT && rc.Type != t):
			// A computed column: COALESCE(l, r), or the right column cast.
			g := len(f.owner)
			f.owner = append(f.owner, -1)
			f.computedRels[g] = append(v.columnRels(f, lc), v.columnRels(f, rc)...)
			m = expr.ScopeColumn{Name: u, Type: t, Index: g}
			node.computed = append(node.computed, computedUsing{global: g, name: u, l: lc, r: rc, typ: t,
				full: node.kind == pg_query.JoinType_JOIN_FULL})
			it.cols[li].Hidden, it.cols[ri].Hidden = true, true
			it.cols = append(it.cols, m)
		case node.kind == pg_query.JoinType_JOIN_RIGHT:
			m = rc
			it.cols[li].Hidden = true
		case lc.Type == rc.Type:
			m = lc
			it.cols[ri].Hidden = true
		default:
			m = expr.ScopeColumn{Name: u, Type: t, Index: lc.Index}
			it.cols[li].Hidden, it.cols[ri].Hidden = true, true
			it.cols = append(it.cols, m)
		}
		merged = append(merged, m)
		cj := &conjunct{
			clause: "JOIN/USING", rels: append(v.columnRels(f, lc), v.columnRels(f, rc)...),
			eq: true, a: lc, b: rc, text: qualified(lc) + " = " + qualified(rc), join: node,
		}
		f.conjs = append(f.conjs, cj)
		node.conjs = append(node.conjs, cj)
	}
	star := merged
	for _, side := range [][]expr.ScopeColumn{lstar, rstar} {
		for _, c := range side {
			if !seen[c.Name] {
				star = append(star, c)
			}
		}
	}
	it.star = star
	return it, nil
}

// columnRels lists the relations column c reads.
func (v *viewBuilder) columnRels(f *fromClause, c expr.ScopeColumn) []int {
	if c.Index < 0 || c.Index >= len(f.owner) {
		return nil
	}
	if o := f.owner[c.Index]; o >= 0 {
		return []int{o}
	}
	return f.computedRels[c.Index]
}

// addConjunct records one condition operand with the relations it
// references and whether it can be a join key.
func (v *viewBuilder) addConjunct(f *fromClause, n *pg_query.Node, scope []expr.ScopeColumn, clause string) error {
	c := v.compiler(scope, clause, clause, nil)
	cj := &conjunct{node: n, scope: scope, clause: clause}
	rels := map[int]bool{}
	var err error
	inspectNode(n, func(m protoreflect.Message) bool {
		cr, ok := m.Interface().(*pg_query.ColumnRef)
		if !ok || err != nil {
			return err == nil
		}
		if isStar(cr) {
			return false
		}
		sc, e := c.Column(cr)
		if e != nil {
			err = e
			return false
		}
		cj.refs = append(cj.refs, sc.Index)
		for _, r := range v.columnRels(f, sc) {
			if !rels[r] {
				rels[r] = true
				cj.rels = append(cj.rels, r)
			}
		}
		return false
	})
	if err != nil {
		return err
	}
	if a := n.GetAExpr(); a != nil && a.GetKind() == pg_query.A_Expr_Kind_AEXPR_OP && opName(a) == "=" {
		lc, rc := a.GetLexpr().GetColumnRef(), a.GetRexpr().GetColumnRef()
		if lc != nil && rc != nil && !isStar(lc) && !isStar(rc) {
			l, lerr := c.Column(lc)
			r, rerr := c.Column(rc)
			if lerr == nil && rerr == nil && l.Index != r.Index && (f.owner[l.Index] != f.owner[r.Index] || f.owner[l.Index] < 0) {
				cj.eq, cj.a, cj.b = true, l, r
				cj.text = qualified(l) + " = " + qualified(r)
			}
		}
	}
	f.conjs = append(f.conjs, cj)
	return nil
}

// opName is the operator of an A_Expr when it is a built-in one.
func opName(a *pg_query.A_Expr) string {
	names := a.GetName()
	if len(names) == 1 || (len(names) == 2 && names[0].GetString_().GetSval() == "pg_catalog") {
		return names[len(names)-1].GetString_().GetSval()
	}
	return ""
}

func isStar(cr *pg_query.ColumnRef) bool {
	fs := cr.GetFields()
	return len(fs) > 0 && fs[len(fs)-1].GetAStar() != nil
}

func qualified(c expr.ScopeColumn) string {
	if c.Table == "" {
		return row.QuoteIdent(c.Name)
	}
	return row.QuoteIdent(c.Table) + "." + row.QuoteIdent(c.Name)
}

// keyType decides how column values of types a and b are compared as a
// join key so that key equality is exactly PostgreSQL's a = b: target is
// the type both are compared in, castA/castB say which side must be cast
// to it first. ok is false when no exact key comparison is available
// (e.g. bpchar, whose equality ignores trailing blanks).
func keyType(a, b row.Type) (target row.Type, castA, castB, ok bool) {
	if !a.Supported() || !b.Supported() {
		return row.Type{}, false, false, false
	}
	if a.OID == row.OIDBpchar || b.OID == row.OIDBpchar {
		// Padded values of one char(n) compare bytewise like PostgreSQL;
		// anything else involves trailing-blank rules.
		return a, false, false, a == b && a.Mod >= 0
	}
	ka, kb := a.Kind(), b.Kind()
	if ka == kb {
		return a, false, false, true
	}
	switch {
	case ka == row.KindFloat || kb == row.KindFloat:
		// float8 is the preferred numeric type: int = float8, numeric =
		// float4 and the like all resolve to float8 comparison.
		if isNumberKind(ka) && isNumberKind(kb) {
			return row.Float8, ka != row.KindFloat, kb != row.KindFloat, true
		}
	case ka == row.KindNumeric && kb == row.KindInt:
		return row.Numeric, false, true, true
	case ka == row.KindInt && kb == row.KindNumeric:
		return row.Numeric, true, false, true
	case isTimeKind(ka) && isTimeKind(kb):
		t, err := expr.CommonType("JOIN", []row.Type{a, b})
		if err != nil {
			return row.Type{}, false, false, false
		}
		return t, ka != t.Kind(), kb != t.Kind(), true
	}
	return row.Type{}, false, false, false
}

func isNumberKind(k row.Kind) bool {
	return k == row.KindInt || k == row.KindFloat || k == row.KindNumeric
}

func isTimeKind(k row.Kind) bool {
	return k == row.KindDate || k == row.KindTimestamp || k == row.KindTimestampTZ
}

// remap returns scope with global indexes replaced by positions (-1 where
// the column is not present).
func remap(scope []expr.ScopeColumn, pos []int) []expr.ScopeColumn {
	out := make([]expr.ScopeColumn, len(scope))
	for i, c := range scope {
		c.Index = -1
		if g := scope[i].Index; g >= 0 && g < len(pos) {
			c.Index = pos[g]
		}
		out[i] = c
	}
	return out
}

// keyPair is one usable join key between the joined set and the next
// relation, with the casts it needs.
type keyPair struct {
	cj       *conjunct
	s, r     expr.ScopeColumn // the joined-set side and the relation side
	target   row.Type
	castS    bool
	castR    bool
	sExpr    expr.Expr // cast expressions (when cast*)
	rExpr    expr.Expr
	keyLabel string
}

// join lowers the FROM clause: filters on one relation are pushed below
// the joins, relations are joined left-deep in FROM order except that a
// relation with no equality to the relations joined so far waits for one
// that has, and every other condition is applied as soon as all the
// relations it references are joined. It returns the joined node and the
// position of every global column in its rows.
func (v *viewBuilder) join(f *fromClause) (*dataflow.Node, []int, error) {
	var late []*conjunct
	for _, cj := range f.conjs {
		switch len(cj.rels) {
		case 0:
			late = append(late, cj)
		case 1:
			r := f.rels[cj.rels[0]]
			r.filters = append(r.filters, cj)
		}
	}
	nodes := make([]*dataflow.Node, len(f.rels))
	for i, r := range f.rels {
		n := v.relInput(r)
		if len(r.filters) > 0 {
			pos := make([]int, len(f.owner))
			for g := range pos {
				pos[g] = -1
				if f.owner[g] == i {
					pos[g] = g - r.offset
				}
			}
			var err error
			if n, err = v.filter(n, r.filters, pos); err != nil {
				return nil, nil, err
			}
		}
		nodes[i] = n
	}
	pos := make([]int, len(f.owner))
	for g := range pos {
		pos[g] = -1
	}
	joined := map[int]bool{}
	var order []string
	add := func(i, base int) {
		joined[i] = true
		order = append(order, row.QuoteIdent(f.rels[i].name))
		for g := range pos {
			if f.owner[g] == i {
				pos[g] = base + g - f.rels[i].offset
			}
		}
	}
	cur := nodes[0]
	add(0, 0)
	for len(joined) < len(f.rels) {
		next := -1
		var keys []*keyPair
		for i := range f.rels {
			if joined[i] {
				continue
			}
			if keys = v.joinKeys(f, joined, i, pos); len(keys) > 0 {
				next = i
				break
			}
		}
		if next < 0 {
			// No equality with the joined relations: a cross join (its
			// conditions, if any, filter the product).
			for i := range f.rels {
				if !joined[i] {
					next = i
					break
				}
			}
		}
		left, right := cur, nodes[next]
		var lkey, rkey []int
		var sCasts, rCasts []expr.Expr
		var labels []string
		for _, k := range keys {
			k.cj.done = true
			labels = append(labels, k.keyLabel)
			if k.castS {
				lkey = append(lkey, len(left.Schema())+len(sCasts))
				sCasts = append(sCasts, k.sExpr)
			} else {
				lkey = append(lkey, pos[k.s.Index])
			}
			if k.castR {
				rkey = append(rkey, len(right.Schema())+len(rCasts))
				rCasts = append(rCasts, k.rExpr)
			} else {
				rkey = append(rkey, k.r.Index-f.rels[next].offset)
			}
		}
		left = v.appendColumns(left, sCasts)
		right = v.appendColumns(right, rCasts)
		label := strings.Join(labels, " AND ")
		if len(labels) == 0 {
			label = "cross join"
		}
		cur = v.g.Join(left, right, lkey, rkey, label)
		add(next, len(left.Schema()))
		var ready []*conjunct
		for _, cj := range f.conjs {
			if cj.done || len(cj.rels) < 2 {
				continue
			}
			all := true
			for _, r := range cj.rels {
				all = all && joined[r]
			}
			if all {
				ready = append(ready, cj)
			}
		}
		if len(ready) > 0 {
			var err error
			if cur, err = v.filter(cur, ready, pos); err != nil {
				return nil, nil, err
			}
		}
	}
	if len(late) > 0 {
		var err error
		if cur, err = v.filter(cur, late, pos); err != nil {
			return nil, nil, err
		}
	}
	return cur, pos, nil
}

// joinKeys lists the usable equalities between the joined relations and
// relation next.
func (v *viewBuilder) joinKeys(f *fromClause, joined map[int]bool, next int, pos []int) []*keyPair {
	var keys []*keyPair
	rel := f.rels[next]
	for _, cj := range f.conjs {
		if cj.done || !cj.eq {
			continue
		}
		s, r := cj.a, cj.b
		if f.owner[s.Index] == next {
			s, r = r, s
		}
		if f.owner[r.Index] != next || !joined[f.owner[s.Index]] {
			continue
		}
		target, castS, castR, ok := keyType(s.Type, r.Type)
		if !ok {
			continue
		}
		k := &keyPair{cj: cj, s: s, r: r, target: target, castS: castS, castR: castR, keyLabel: cj.text}
		var err error
		if castS {
			if k.sExpr, err = castExpr(columnExpr(s, pos[s.Index]), target); err != nil {
				continue
			}
		}
		if castR {
			if k.rExpr, err = castExpr(columnExpr(r, r.Index-rel.offset), target); err != nil {
				continue
			}
		}
		keys = append(keys, k)
	}
	return keys
}

// appendColumns adds computed columns (join keys cast to a common type) to
// the end of every row of in.
func (v *viewBuilder) appendColumns(in *dataflow.Node, es []expr.Expr) *dataflow.Node {
	if len(es) == 0 {
		return in
	}
	schema := append(row.Schema(nil), in.Schema()...)
	var texts []string
	for _, e := range es {
		schema = append(schema, row.Column{Name: e.Name, Type: e.Type})
		texts = append(texts, e.Text)
	}
	n := len(in.Schema())
	fn := func(r row.Row) (row.Row, error) {
		out := make(row.Row, n, n+len(es))
		copy(out, r)
		for _, e := range es {
			d, err := e.Eval(r)
			if err != nil {
				return nil, err
			}
			out = append(out, d)
		}
		return out, nil
	}
	return v.g.Map(in, fn, schema, "append "+strings.Join(texts, ", "))
}

// filter applies conditions (compiled for rows laid out by pos) to in.
func (v *viewBuilder) filter(in *dataflow.Node, cjs []*conjunct, pos []int) (*dataflow.Node, error) {
	fn, text, err := v.predicate(cjs, pos)
	if err != nil {
		return nil, err
	}
	return v.g.Filter(in, fn, text), nil
}

// predicate compiles the conjunction of cjs for rows laid out by pos and
// marks them done.
func (v *viewBuilder) predicate(cjs []*conjunct, pos []int) (func(row.Row) (bool, error), string, error) {
	if len(cjs) == 0 {
		return nil, "", nil
	}
	var preds []func(row.Row) (bool, error)
	var texts []string
	for _, cj := range cjs {
		cj.done = true
		if cj.node == nil {
			a, b := pos[cj.a.Index], pos[cj.b.Index]
			preds = append(preds, func(r row.Row) (bool, error) {
				return !r[a].IsNull() && !r[b].IsNull() && row.Compare(r[a], r[b]) == 0, nil
			})
			texts = append(texts, cj.text)
			continue
		}
		c := v.compiler(remap(cj.scope, pos), cj.clause, cj.clause, nil)
		pred, e, err := c.Predicate(cj.node)
		if err != nil {
			return nil, "", err
		}
		preds = append(preds, pred)
		texts = append(texts, e.Text)
	}
	fn := preds[0]
	if len(preds) > 1 {
		fn = func(r row.Row) (bool, error) {
			for _, p := range preds {
				ok, err := p(r)
				if err != nil || !ok {
					return false, err
				}
			}
			return true, nil
		}
	}
	return fn, strings.Join(texts, " AND "), nil
}

// columnExpr reads column c from position idx of the row. Its text is
// the bare column name, as the expression compiler writes column
// references.
func columnExpr(c expr.ScopeColumn, idx int) expr.Expr {
	return expr.Expr{
		Type: c.Type, Name: c.Name, Text: row.QuoteIdent(c.Name),
		Eval: func(r row.Row) (row.Datum, error) { return r[idx], nil },
	}
}

// checkRefs resolves every column reference in n: with strict, a
// reference that does not resolve is an error (the compiler's); in any
// case a reference to a column of an unsupported type is refused.
func (v *viewBuilder) checkRefs(c *expr.Compiler, n *pg_query.Node, strict bool) error {
	var err error
	inspectNode(n, func(m protoreflect.Message) bool {
		if err != nil {
			return false
		}
		cr, ok := m.Interface().(*pg_query.ColumnRef)
		if !ok {
			return true
		}
		if isStar(cr) {
			return false
		}
		sc, e := c.Column(cr)
		switch {
		case e != nil:
			if strict {
				err = e
			}
		case !sc.Type.Supported():
			err = v.unsupportedColumn(int(cr.GetLocation()), sc)
		}
		return false
	})
	return err
}

func (v *viewBuilder) unsupportedColumn(loc int, c expr.ScopeColumn) error {
	return v.errorf(loc, "column %s has type %s, which is not supported yet", qualified(c), typeString(c.Type))
}
