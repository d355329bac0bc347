package planner

import (
	"strings"

	pg_query "github.com/pganalyze/pg_query_go/v5"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/rippledb/ripple/dataflow"
	"github.com/rippledb/ripple/internal/row"
)

// Views over views: a view may read another view of the same set. Names
// resolve to the set's views before the catalog (after WITH queries); a
// view is planned once, on first use, and its node is shared by every
// reader. A cycle is refused at the reference that closes it.

// builtView is a planned view, or one being planned (node nil).
type builtView struct {
	node *dataflow.Node
	key  []int
}

// view plans d once. chain lists the views whose planning is waiting for
// d, outermost first, for the cycle message.
func (b *builder) view(d ViewDef, chain []string) (*builtView, error) {
	if bv, ok := b.built[d.Name]; ok {
		return bv, nil
	}
	b.built[d.Name] = &builtView{}
	v := &viewBuilder{builder: b, def: d, name: d.Name.String(), chain: append(chain, d.Name.String())}
	node, key, err := v.build()
	if err != nil {
		delete(b.built, d.Name)
		return nil, err
	}
	bv := &builtView{node: node, key: key}
	b.built[d.Name] = bv
	return bv, nil
}

// viewNode is the output node of view name (a view of the set), planning
// it first when needed.
func (v *viewBuilder) viewNode(name row.TableName, loc int) (*dataflow.Node, error) {
	if bv, ok := v.built[name]; ok {
		if bv.node == nil {
			return nil, v.errorf(loc, "infinite recursion: view %s reads itself (%s -> %s)",
				name, strings.Join(v.chain, " -> "), name)
		}
		return bv.node, nil
	}
	bv, err := v.view(v.defs[name], v.chain)
	if err != nil {
		return nil, err
	}
	return bv.node, nil
}

// sourceQuery is d's SELECT with the views of the set it reads (directly
// or through other views) inlined as subqueries in FROM, deparsed; d.Query
// when it reads none.
func (b *builder) sourceQuery(d ViewDef) string {
	tree, err := pg_query.Parse(d.Query)
	if err != nil || len(tree.GetStmts()) != 1 {
		return d.Query
	}
	sel := tree.GetStmts()[0].GetStmt().GetSelectStmt()
	if sel == nil || !b.inlineViews(sel, 0) {
		return d.Query
	}
	out, err := pg_query.Deparse(tree)
	if err != nil {
		return d.Query
	}
	return out
}

// inlineViews replaces, in sel, every table reference to a view of the set
// by a subquery holding that view's query (itself inlined), aliased as
// the reference was. It reports whether it replaced any.
func (b *builder) inlineViews(sel *pg_query.SelectStmt, depth int) bool {
	if depth > len(b.defs) {
		return false // a cycle; Build refuses it
	}
	ctes := map[string]bool{}
	inspectNode(sel, func(m protoreflect.Message) bool {
		if c, ok := m.Interface().(*pg_query.CommonTableExpr); ok {
			ctes[c.GetCtename()] = true
		}
		return true
	})
	changed := false
	var fn func(n *pg_query.Node) *pg_query.Node
	fn = func(n *pg_query.Node) *pg_query.Node {
		rv := n.GetRangeVar()
		if rv == nil {
			mapNodes(n.ProtoReflect(), fn)
			return n
		}
		if rv.GetCatalogname() != "" || (rv.GetSchemaname() == "" && ctes[rv.GetRelname()]) {
			return n
		}
		d, ok := b.defs[viewName(rv)]
		if !ok {
			return n
		}
		tree, err := pg_query.Parse(d.Query)
		if err != nil || len(tree.GetStmts()) != 1 || tree.GetStmts()[0].GetStmt().GetSelectStmt() == nil {
			return n
		}
		inner := tree.GetStmts()[0].GetStmt().GetSelectStmt()
		b.inlineViews(inner, depth+1)
		alias := &pg_query.Alias{Aliasname: rv.GetRelname()}
		for _, c := range d.ColumnNames {
			alias.Colnames = append(alias.Colnames, pg_query.MakeStrNode(c))
		}
		if a := rv.GetAlias(); a != nil {
			alias.Aliasname = a.GetAliasname()
			for i, c := range a.GetColnames() {
				if i < len(alias.Colnames) {
					alias.Colnames[i] = proto.Clone(c).(*pg_query.Node)
				} else {
					alias.Colnames = append(alias.Colnames, proto.Clone(c).(*pg_query.Node))
				}
			}
		}
		changed = true
		return &pg_query.Node{Node: &pg_query.Node_RangeSubselect{RangeSubselect: &pg_query.RangeSubselect{
			Subquery: &pg_query.Node{Node: &pg_query.Node_SelectStmt{SelectStmt: inner}},
			Alias:    alias,
		}}}
	}
	mapNodes(sel.ProtoReflect(), fn)
	return changed
}

// SourceQueries returns, for each of defs, its SELECT runnable on the
// source (View.SourceQuery) without planning: the views of defs that it
// reads are inlined as subqueries in FROM.
func SourceQueries(defs []ViewDef) []string {
	b := &builder{defs: map[row.TableName]ViewDef{}}
	for _, d := range defs {
		b.defs[d.Name] = d
	}
	out := make([]string, len(defs))
	for i, d := range defs {
		out[i] = b.sourceQuery(d)
	}
	return out
}
