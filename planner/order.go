package planner

import (
	"fmt"
	"strings"

	pg_query "github.com/pganalyze/pg_query_go/v5"

	"github.com/rippledb/ripple/dataflow"
	"github.com/rippledb/ripple/internal/row"
	"github.com/rippledb/ripple/planner/expr"
)

// topK plans the top-level ORDER BY ... LIMIT/OFFSET of a view over its
// result node n (whose unique key, when known, is key). ORDER BY without
// LIMIT or OFFSET does not change a view's contents and is ignored. A
// window of an ordering with ties is not unique (PostgreSQL may return any
// of the tied rows at the boundary), so the ORDER BY must include a unique
// key of the result.
func (v *viewBuilder) topK(s *pg_query.SelectStmt, n *dataflow.Node, key []int, selNames []string, l *leaf) (*dataflow.Node, []int, error) {
	lc, lo := s.GetLimitCount(), s.GetLimitOffset()
	if lc == nil && lo == nil {
		return n, key, nil
	}
	limitLoc := v.keywordBefore(firstLocation(lc), pg_query.Token_LIMIT, pg_query.Token_FETCH)
	offsetLoc := v.keywordBefore(firstLocation(lo), pg_query.Token_OFFSET)
	loc := limitLoc
	if lc == nil {
		loc = offsetLoc
	}
	if s.GetLimitOption() == pg_query.LimitOption_LIMIT_OPTION_WITH_TIES {
		return nil, nil, v.errorf(loc, "FETCH ... WITH TIES is not supported yet")
	}
	limit, err := v.limitValue(lc, "LIMIT", limitLoc, -1)
	if err != nil {
		return nil, nil, err
	}
	offset, err := v.limitValue(lo, "OFFSET", offsetLoc, 0)
	if err != nil {
		return nil, nil, err
	}
	order := s.GetSortClause()
	if len(order) == 0 {
		return nil, nil, v.errorf(loc, "LIMIT/OFFSET without ORDER BY is not supported: PostgreSQL may return any rows, so the result is not unique; add an ORDER BY that includes a unique key")
	}
	keys, err := v.orderKeys(order, n.Schema(), selNames, l)
	if err != nil {
		return nil, nil, err
	}
	if !coversKey(keys, key) {
		return nil, nil, v.errorf(firstLocation(order[0]), "ORDER BY with LIMIT/OFFSET must include a unique key of the result (%s): PostgreSQL leaves the order of ties unspecified, so the rows at the boundary would not be unique; add a unique tie-break column to the ORDER BY", keyHint(n.Schema(), key))
	}
	if limit < 0 && offset == 0 { // LIMIT ALL: every row
		return n, key, nil
	}
	label := "ORDER BY " + sortLabel(keys, n.Schema())
	if limit >= 0 {
		label += fmt.Sprintf(" LIMIT %d", limit)
	}
	if offset > 0 {
		label += fmt.Sprintf(" OFFSET %d", offset)
	}
	return v.g.TopK(n, nil, keys, offset, limit, label), key, nil
}

// limitValue evaluates a LIMIT or OFFSET operand: a constant (NULL and
// LIMIT ALL mean none, which is def).
func (v *viewBuilder) limitValue(n *pg_query.Node, clause string, loc int, def int64) (int64, error) {
	if n == nil {
		return def, nil
	}
	c := v.compiler(nil, clause, clause, nil)
	e, err := c.Compile(n)
	if err != nil {
		return 0, err
	}
	if !e.Const {
		return 0, v.errorf(loc, "argument of %s must be a constant", clause)
	}
	d, err := e.Eval(nil)
	if err != nil {
		return 0, v.wrap(loc, err)
	}
	if d.IsNull() { // LIMIT ALL, LIMIT NULL, OFFSET NULL
		return def, nil
	}
	if e.Type.Kind() != row.KindInt {
		if e.Type.OID != row.OIDUnknown {
			return 0, v.errorf(loc, "argument of %s must be an integer constant, not type %s", clause, typeString(e.Type))
		}
		c, err := expr.Cast(e, row.Int8, false)
		if err != nil {
			return 0, v.wrap(loc, err)
		}
		if d, err = c.Eval(nil); err != nil {
			return 0, v.wrap(loc, err)
		}
	}
	if d.Int() < 0 {
		return 0, v.errorf(loc, "%s must not be negative", clause)
	}
	return d.Int(), nil
}

// orderKeys resolves ORDER BY entries against the output columns: an
// output column name or a column position. Other expressions would need
// the input rows and are refused.
func (v *viewBuilder) orderKeys(order []*pg_query.Node, out row.Schema, selNames []string, l *leaf) ([]dataflow.SortKey, error) {
	var keys []dataflow.SortKey
	for _, n := range order {
		sb := n.GetSortBy()
		if sb == nil {
			return nil, v.errorf(firstLocation(n), "unexpected ORDER BY entry")
		}
		loc := firstLocation(sb.GetNode())
		if sb.GetSortbyDir() == pg_query.SortByDir_SORTBY_USING {
			return nil, v.errorf(loc, "ORDER BY ... USING is not supported")
		}
		col, err := v.orderColumn(sb.GetNode(), selNames, l, loc)
		if err != nil {
			return nil, err
		}
		t := out[col].Type
		if !orderableType(t) {
			return nil, v.errorf(loc, "ordering values of type %s is not supported yet", typeString(t))
		}
		ce := expr.Expr{Type: t, Text: row.QuoteIdent(out[col].Name)}
		if cc := sb.GetNode().GetCollateClause(); cc != nil {
			names := cc.GetCollname()
			ce.Collate = names[len(names)-1].GetString_().GetSval()
		}
		if err := v.compiler(nil, "ORDER BY", "ORDER BY", nil).CheckOrdering(ce, loc); err != nil {
			return nil, err
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
	return keys, nil
}

// orderColumn finds the output column an ORDER BY entry names: an
// output name, a position, or an input column selected as it is (l is
// the SELECT's leaf, nil for a set operation).
// Names are the SELECT's own output names (a CREATE VIEW column list
// renames the view's columns, not what ORDER BY sees).
func (v *viewBuilder) orderColumn(n *pg_query.Node, names []string, l *leaf, loc int) (int, error) {
	if cc := n.GetCollateClause(); cc != nil {
		n = cc.GetArg()
	}
	if c := n.GetAConst(); c != nil && c.GetIval() != nil {
		pos := int(c.GetIval().GetIval())
		if c.GetIsnull() || pos < 1 || pos > len(names) {
			return 0, v.errorf(loc, "ORDER BY position %d is not in select list", pos)
		}
		return pos - 1, nil
	}
	if cr := n.GetColumnRef(); cr != nil && len(cr.GetFields()) == 1 && cr.GetFields()[0].GetString_() != nil {
		name := cr.GetFields()[0].GetString_().GetSval()
		found := -1
		for i, c := range names {
			if c == name {
				if found >= 0 {
					return 0, v.errorf(loc, "ORDER BY %q is ambiguous", name)
				}
				found = i
			}
		}
		if found >= 0 {
			return found, nil
		}
	}
	// An input column (t.c, or a name that is not an output name) that
	// the select list outputs as it is orders like that output column.
	if cr := n.GetColumnRef(); cr != nil && l != nil && l.scope != nil {
		sc, err := v.compiler(l.scope, "ORDER BY", "ORDER BY", nil).Column(cr)
		if err != nil {
			return 0, err
		}
		for i, p := range l.plain {
			if p == sc.Index && l.exprs[i].Type == sc.Type {
				return i, nil
			}
		}
		return 0, v.errorf(loc, "ORDER BY with LIMIT/OFFSET supports selected columns only; add %s to the select list", qualified(sc))
	}
	return 0, v.errorf(loc, "ORDER BY with LIMIT/OFFSET supports output column names and positions only; select the expression and order by its name or position")
}

// orderableType reports whether ripple orders values of t exactly as
// PostgreSQL does.
func orderableType(t row.Type) bool {
	if t.OID == row.OIDBpchar {
		return false
	}
	switch t.Kind() {
	case row.KindInt, row.KindFloat, row.KindNumeric, row.KindBool, row.KindDate, row.KindTimestamp,
		row.KindTimestampTZ, row.KindText, row.KindBytes, row.KindUUID, row.KindInterval, row.KindEnum:
		return true
	}
	return false
}

// coversKey reports whether the sort keys include every column of key
// (a nil key: none known, never covered).
func coversKey(keys []dataflow.SortKey, key []int) bool {
	if key == nil {
		return false
	}
	for _, k := range key {
		found := false
		for _, s := range keys {
			found = found || s.Col == k
		}
		if !found {
			return false
		}
	}
	return true
}

func keyHint(s row.Schema, key []int) string {
	if key == nil {
		return "none is known: select a primary key, or group or DISTINCT"
	}
	return "such as " + keyString(s, key)
}

func sortLabel(keys []dataflow.SortKey, s row.Schema) string {
	parts := make([]string, len(keys))
	for i, k := range keys {
		p := row.QuoteIdent(s[k.Col].Name)
		if k.Desc {
			p += " DESC"
		}
		if k.NullsFirst != k.Desc {
			if k.NullsFirst {
				p += " NULLS FIRST"
			} else {
				p += " NULLS LAST"
			}
		}
		parts[i] = p
	}
	return strings.Join(parts, ", ")
}
