package planner

import (
	"slices"

	pg_query "github.com/pganalyze/pg_query_go/v5"

	"github.com/rippledb/ripple/dataflow"
	"github.com/rippledb/ripple/internal/row"
	"github.com/rippledb/ripple/planner/expr"
)

// Derived relations: subqueries in FROM, WITH queries (CTEs) and other
// views of the same set. Each is planned into a node once and read like a
// table: its columns get global indexes in the FROM clause and its rows
// flow from the node instead of a source table's input. A CTE referenced
// several times, like a view read by several views, is one shared node.

// cteEnv is the chain of WITH queries visible at a point of the query,
// innermost first.
type cteEnv struct {
	name   string
	cte    *cte
	parent *cteEnv
}

// cte is one WITH query, planned on first reference.
type cte struct {
	def    *pg_query.CommonTableExpr
	env    *cteEnv // the WITH queries its body sees (earlier siblings, outer levels)
	node   *dataflow.Node
	schema row.Schema // the node's columns renamed by the WITH query's column list
	// recursive is set for a WITH RECURSIVE query that reads itself.
	recursive bool
}

func (e *cteEnv) lookup(name string) *cte {
	for ; e != nil; e = e.parent {
		if e.name == name {
			return e.cte
		}
	}
	return nil
}

// with makes the WITH queries of w visible (the caller restores v.env).
func (v *viewBuilder) with(w *pg_query.WithClause) error {
	seen := map[string]bool{}
	for _, n := range w.GetCtes() {
		c := n.GetCommonTableExpr()
		if c == nil {
			return v.errorf(firstLocation(n), "unexpected WITH entry")
		}
		loc := int(c.GetLocation())
		if seen[c.GetCtename()] {
			return v.errorf(loc, "WITH query name %q specified more than once", c.GetCtename())
		}
		seen[c.GetCtename()] = true
		if c.GetCtequery().GetSelectStmt() == nil {
			return v.errorf(loc, "WITH query %q must be a SELECT (data-modifying WITH is not allowed in a view)", c.GetCtename())
		}
		v.env = &cteEnv{name: c.GetCtename(), cte: &cte{def: c, env: v.env, recursive: w.GetRecursive() && selfReferencing(c)}, parent: v.env}
	}
	return nil
}

// relInput is the node whose rows are relation r's.
func (v *viewBuilder) relInput(r *relation) *dataflow.Node {
	if r.node != nil {
		return r.node
	}
	return v.g.Input(r.table.Name, r.table.Columns)
}

// subquery plans s as a derived table: its output columns resolve unknown
// literals to text, as PostgreSQL does for subqueries. A statement is
// planned once; later calls share its node.
func (v *viewBuilder) subquery(s *pg_query.SelectStmt) (*dataflow.Node, error) {
	if n, ok := v.derived[s]; ok {
		return n, nil
	}
	res, err := v.query(s)
	if err != nil {
		return nil, err
	}
	names, types := res.outputColumns()
	n, _, err := v.finish(res, types, names)
	if err != nil {
		return nil, err
	}
	if v.derived == nil {
		v.derived = map[*pg_query.SelectStmt]*dataflow.Node{}
	}
	v.derived[s] = n
	return n, nil
}

// rangeSubselect is a subquery in FROM.
func (v *viewBuilder) rangeSubselect(f *fromClause, rs *pg_query.RangeSubselect) (fromItem, error) {
	loc := firstLocation(rs)
	sel := rs.GetSubquery().GetSelectStmt()
	if sel == nil {
		return fromItem{}, v.errorf(loc, "this kind of subquery in FROM is not supported")
	}
	a := rs.GetAlias()
	if a == nil {
		return fromItem{}, v.errorf(loc, "subquery in FROM must have an alias")
	}
	n, err := v.subquery(sel)
	if err != nil {
		return fromItem{}, err
	}
	return v.addDerived(f, a.GetAliasname(), a.GetColnames(), n, n.Schema(), loc, "table")
}

// derivedRangeVar resolves a table reference that names a WITH query or
// another view of the set (in that order, both before the catalog). ok is
// false when rv names neither.
func (v *viewBuilder) derivedRangeVar(f *fromClause, rv *pg_query.RangeVar) (fromItem, bool, error) {
	loc := int(rv.GetLocation())
	name, colnames := rv.GetRelname(), []*pg_query.Node(nil)
	if a := rv.GetAlias(); a != nil {
		name, colnames = a.GetAliasname(), a.GetColnames()
	}
	if rv.GetSchemaname() == "" && rv.GetCatalogname() == "" {
		if c := v.env.lookup(rv.GetRelname()); c != nil {
			if c.node == nil && c.recursive {
				if err := v.recursiveCTE(c); err != nil { // planner/recursive.go
					return fromItem{}, true, err
				}
			}
			if c.node == nil {
				saved := v.env
				v.env = c.env
				n, err := v.subquery(c.def.GetCtequery().GetSelectStmt())
				v.env = saved
				if err != nil {
					return fromItem{}, true, err
				}
				if len(c.def.GetAliascolnames()) > len(n.Schema()) {
					return fromItem{}, true, v.errorf(int(c.def.GetLocation()), "WITH query %q has %d columns available but %d columns specified",
						c.def.GetCtename(), len(n.Schema()), len(c.def.GetAliascolnames()))
				}
				c.node, c.schema = n, slices.Clone(n.Schema())
				for i, cn := range c.def.GetAliascolnames() {
					c.schema[i].Name = cn.GetString_().GetSval()
				}
			}
			it, err := v.addDerived(f, name, colnames, c.node, c.schema, loc, "table")
			return it, true, err
		}
	}
	if rv.GetCatalogname() != "" {
		return fromItem{}, false, nil
	}
	if _, ok := v.isView(rv); !ok {
		return fromItem{}, false, nil
	}
	vn := viewName(rv)
	n, err := v.viewNode(vn, loc)
	if err != nil {
		return fromItem{}, true, err
	}
	it, err := v.addDerived(f, name, colnames, n, n.Schema(), loc, "table")
	return it, true, err
}

// addDerived adds a derived relation called name over node n, whose
// columns are schema, to f; the first columns take the names of colnames.
func (v *viewBuilder) addDerived(f *fromClause, name string, colnames []*pg_query.Node, n *dataflow.Node, schema row.Schema, loc int, what string) (fromItem, error) {
	schema = slices.Clone(schema)
	for _, r := range f.rels {
		if r.name == name && name != "" {
			return fromItem{}, v.errorf(loc, "table name %q specified more than once", name)
		}
	}
	if len(colnames) > len(schema) {
		return fromItem{}, v.errorf(loc, "%s %q has %d columns available but %d columns specified", what, name, len(schema), len(colnames))
	}
	for i, c := range colnames {
		schema[i].Name = c.GetString_().GetSval()
	}
	// No key: PostgreSQL's functional dependencies (GROUP BY a primary
	// key) hold for tables only.
	t := &Table{Name: row.TableName{Name: name}, Columns: schema}
	r := &relation{table: t, name: name, offset: len(f.owner), loc: loc, node: n}
	idx := len(f.rels)
	f.rels = append(f.rels, r)
	var it fromItem
	for i, c := range schema {
		// The LATERAL rewrite's columns (planner/lateral.go) are hidden
		// except inside its own wrapper, whose alias has the same prefix.
		hidden := hiddenLateral(c.Name) && !hiddenLateral(name)
		it.cols = append(it.cols, expr.ScopeColumn{Table: name, Name: c.Name, Type: c.Type, Index: r.offset + i, Hidden: hidden})
		f.owner = append(f.owner, idx)
		if !hidden {
			it.star = append(it.star, it.cols[len(it.cols)-1])
		}
	}
	it.node = &fromNode{rel: idx, loc: loc}
	return it, nil
}

// checkWith refuses the WITH constructs ripple cannot maintain.
// Recursive queries are checked when planned (planner/recursive.go).
func checkWith(w *pg_query.WithClause, add func(int, string)) {
	for _, n := range w.GetCtes() {
		if c := n.GetCommonTableExpr(); c != nil && (c.GetSearchClause() != nil || c.GetCycleClause() != nil) {
			add(int(c.GetLocation()), "SEARCH and CYCLE clauses of WITH RECURSIVE are not supported yet")
		}
	}
}

// checkSubLink refuses the kinds of subquery expressions ripple has no
// plan for, wherever they are; the others are checked by placement when
// the query is planned.
func checkSubLink(s *pg_query.SubLink) *refusal {
	loc := int(s.GetLocation())
	switch s.GetSubLinkType() {
	case pg_query.SubLinkType_EXISTS_SUBLINK, pg_query.SubLinkType_EXPR_SUBLINK, pg_query.SubLinkType_ANY_SUBLINK:
		return nil
	case pg_query.SubLinkType_ALL_SUBLINK:
		if subLinkOp(s) == "<>" {
			return nil
		}
		return &refusal{loc, "op ALL (subquery) is supported only as <> ALL (NOT IN)"}
	case pg_query.SubLinkType_ARRAY_SUBLINK:
		return &refusal{loc, "ARRAY(subquery) is not supported yet"}
	}
	return &refusal{loc, "this kind of subquery is not supported"}
}

// subLinkOp is the operator of an ANY/ALL subquery ("=" for IN).
func subLinkOp(s *pg_query.SubLink) string {
	names := s.GetOperName()
	if len(names) == 0 {
		return "="
	}
	if len(names) == 1 || (len(names) == 2 && names[0].GetString_().GetSval() == "pg_catalog") {
		return names[len(names)-1].GetString_().GetSval()
	}
	return ""
}
