package planner

import (
	"slices"

	pg_query "github.com/pganalyze/pg_query_go/v5"

	"github.com/rippledb/ripple/dataflow"
	"github.com/rippledb/ripple/internal/row"
	"github.com/rippledb/ripple/planner/expr"
)

// distinctOn is a SELECT's DISTINCT ON (...) clause with the SELECT's
// ORDER BY, kept on its leaf until the output columns exist.
type distinctOn struct {
	exprs []*pg_query.Node
	order []*pg_query.Node
	loc   int // the DISTINCT keyword
}

// distinctOnCols holds the columns DISTINCT ON works on: the SELECT's
// outputs followed by hidden ones (ORDER BY or DISTINCT ON expressions
// that are not selected), dropped after the top-1.
type distinctOnCols struct {
	exprs []expr.Expr
	names []string
	input []int // position in the leaf's input rows when the column just reads one, else -1
}

// column resolves a DISTINCT ON or ORDER BY expression: an output name or
// position, an input column selected as it is, or (over an ungrouped
// SELECT) any expression over the input, added as a hidden column.
func (v *viewBuilder) distinctOnColumn(l *leaf, cols *distinctOnCols, n *pg_query.Node, clause string) (int, error) {
	loc := firstLocation(n)
	if col, err := v.orderColumn(n, l.names, l, loc); err == nil {
		return col, nil
	} else if l.scope == nil {
		return 0, v.errorf(loc, "%s over a grouped SELECT supports output column names and positions only", clause)
	}
	e, err := v.compiler(l.scope, clause, clause, nil).Compile(n)
	if err != nil {
		return 0, err
	}
	if e.Type.OID == row.OIDUnknown {
		if e, err = expr.Cast(e, row.Text, false); err != nil {
			return 0, v.wrap(loc, err)
		}
	}
	for i := len(l.exprs); i < len(cols.exprs); i++ {
		if cols.exprs[i].Text == e.Text && cols.exprs[i].Type == e.Type {
			return i, nil
		}
	}
	in := -1
	if cr := n.GetColumnRef(); cr != nil {
		if sc, err := v.compiler(l.scope, clause, clause, nil).Column(cr); err == nil {
			in = sc.Index
		}
	}
	cols.exprs = append(cols.exprs, e)
	cols.names = append(cols.names, e.Text)
	cols.input = append(cols.input, in)
	return len(cols.exprs) - 1, nil
}

// finishDistinctOn is finishLeaf for a SELECT with DISTINCT ON: per group
// of equal DISTINCT ON values, the first row in ORDER BY order (a keyed
// top-1). PostgreSQL requires the DISTINCT ON expressions to match the
// leading ORDER BY expressions; the first row of a group is unique only
// when the ORDER BY includes a unique key of the rows (or every output
// column, so tied rows are equal), else the view is refused. The groups
// are formed on the SELECT's own values, before any cast a set operation
// asks for (a cast may merge distinct values).
func (v *viewBuilder) finishDistinctOn(l *leaf, types []row.Type, names []string) (*dataflow.Node, []int, error) {
	d := l.distinctOn
	cols := &distinctOnCols{exprs: slices.Clone(l.exprs), names: slices.Clone(names), input: slices.Clone(l.plain)}
	var group []int
	for _, e := range d.exprs {
		col, err := v.distinctOnColumn(l, cols, e, "DISTINCT ON")
		if err != nil {
			return nil, nil, err
		}
		if !slices.Contains(group, col) {
			group = append(group, col)
		}
	}
	if len(d.order) == 0 {
		return nil, nil, v.errorf(d.loc, "DISTINCT ON without ORDER BY is not supported: PostgreSQL keeps an unspecified row of each group; add an ORDER BY that starts with the DISTINCT ON expressions and includes a unique key")
	}
	var keys []dataflow.SortKey
	for _, o := range d.order {
		sb := o.GetSortBy()
		loc := firstLocation(sb.GetNode())
		if sb.GetSortbyDir() == pg_query.SortByDir_SORTBY_USING {
			return nil, nil, v.errorf(loc, "ORDER BY ... USING is not supported")
		}
		col, err := v.distinctOnColumn(l, cols, sb.GetNode(), "ORDER BY")
		if err != nil {
			return nil, nil, err
		}
		t := cols.exprs[col].Type
		if !orderableType(t) {
			return nil, nil, v.errorf(loc, "ordering values of type %s is not supported yet", typeString(t))
		}
		ce := expr.Expr{Type: t, Text: cols.exprs[col].Text, Collate: cols.exprs[col].Collate}
		if cc := sb.GetNode().GetCollateClause(); cc != nil {
			cn := cc.GetCollname()
			ce.Collate = cn[len(cn)-1].GetString_().GetSval()
		}
		if err := v.compiler(nil, "ORDER BY", "ORDER BY", nil).CheckOrdering(ce, loc); err != nil {
			return nil, nil, err
		}
		desc := sb.GetSortbyDir() == pg_query.SortByDir_SORTBY_DESC
		k := dataflow.SortKey{Col: col, Desc: desc, NullsFirst: desc}
		switch sb.GetSortbyNulls() {
		case pg_query.SortByNulls_SORTBY_NULLS_FIRST:
			k.NullsFirst = true
		case pg_query.SortByNulls_SORTBY_NULLS_LAST:
			k.NullsFirst = false
		}
		keys = append(keys, k)
	}
	lead := map[int]bool{}
	for i := 0; i < len(keys) && i < len(group); i++ {
		lead[keys[i].Col] = true
	}
	for _, c := range group {
		if !lead[c] {
			return nil, nil, v.errorf(firstLocation(d.exprs[0]), "SELECT DISTINCT ON expressions must match initial ORDER BY expressions")
		}
	}
	own := make([]row.Type, len(cols.exprs))
	for i, e := range cols.exprs {
		own[i] = e.Type
	}
	all := allColumns(len(cols.exprs))
	if !coversKey(keys, l.key) && !coversKey(keys, all) && !coversInputKey(keys, cols.input, l.inKey) {
		return nil, nil, v.errorf(firstLocation(d.order[0]), "DISTINCT ON needs an ORDER BY that includes a unique key of the rows (%s): PostgreSQL keeps an unspecified one of the rows tied in the ORDER BY; add a unique tie-break column", keyHint(schemaOf(names, types), l.key))
	}
	in := v.project(l.in, cols.exprs, cols.names)
	s := in.Schema()
	n := v.g.TopK(in, group, keys, 0, 1, "DISTINCT ON ("+columnList(s, group)+") ORDER BY "+sortLabel(keys, s))
	var key []int
	for _, g := range group {
		if g >= len(names) {
			key = nil // a hidden column: no key among the outputs
			break
		}
		key = append(key, g)
	}
	if len(cols.exprs) == len(names) && slices.Equal(own, types) {
		return n, key, nil
	}
	exprs := make([]expr.Expr, len(names))
	var err error
	for i := range names {
		exprs[i] = columnExpr(expr.ScopeColumn{Name: names[i], Type: own[i]}, i)
		if types[i] != own[i] {
			if exprs[i], err = castExpr(exprs[i], types[i]); err != nil {
				return nil, nil, v.wrap(l.locs[i], err)
			}
			key = nil
		}
	}
	return v.project(n, exprs, names), key, nil
}

func columnList(s row.Schema, cols []int) string {
	out := ""
	for i, c := range cols {
		if i > 0 {
			out += ", "
		}
		out += row.QuoteIdent(s[c].Name)
	}
	return out
}

// coversInputKey reports whether the sort keys read every column of
// inKey, a unique key of the input rows (nil: none known).
func coversInputKey(keys []dataflow.SortKey, input []int, inKey []int) bool {
	if inKey == nil {
		return false
	}
	for _, k := range inKey {
		found := false
		for _, s := range keys {
			found = found || input[s.Col] == k
		}
		if !found {
			return false
		}
	}
	return true
}

// inputKey returns the positions in the joined rows of the primary key
// columns of every table of f, nil unless every table has one and no
// outer join may repeat them.
func inputKey(f *fromClause, pos []int) []int {
	if f.outer {
		return nil
	}
	var key []int
	for _, r := range f.rels {
		if len(r.table.Key) == 0 {
			return nil
		}
		for _, k := range r.table.Key {
			key = append(key, pos[r.offset+k])
		}
	}
	for _, it := range f.late {
		if it.srf != nil && !it.srf.ordinality {
			return nil
		}
		if it.srf != nil {
			key = append(key, pos[it.cols[1].Index])
		}
	}
	return key
}
