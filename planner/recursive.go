package planner

import (
	pg_query "github.com/pganalyze/pg_query_go/v5"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/rippledb/ripple/dataflow"
	"github.com/rippledb/ripple/internal/row"
)

// WITH RECURSIVE r AS (base UNION [ALL] term) is planned as a Fixpoint
// node (dataflow/fixpoint.go): the base is an ordinary subquery of the
// view's graph; the recursive term is planned into a graph of its own,
// where r is an input, and the Fixpoint iterates it inside each step. The
// term may read source tables and r (once); views of the set and other
// WITH queries would be nodes of the outer graph and are refused.

// selfReferencing reports whether the WITH query c reads its own name.
func selfReferencing(c *pg_query.CommonTableExpr) bool {
	found := false
	inspectNode(c.GetCtequery(), func(m protoreflect.Message) bool {
		if rv, ok := m.Interface().(*pg_query.RangeVar); ok && rv.GetSchemaname() == "" && rv.GetRelname() == c.GetCtename() {
			found = true
		}
		return !found
	})
	return found
}

// recursiveCTE plans the recursive WITH query c into c.node and c.schema.
func (v *viewBuilder) recursiveCTE(c *cte) error {
	def := c.def
	name := def.GetCtename()
	loc := int(def.GetLocation())
	if def.GetSearchClause() != nil || def.GetCycleClause() != nil {
		return v.errorf(loc, "SEARCH and CYCLE clauses of WITH RECURSIVE are not supported yet")
	}
	s := def.GetCtequery().GetSelectStmt()
	if s.GetOp() != pg_query.SetOperation_SETOP_UNION || len(s.GetSortClause()) > 0 || s.GetLimitCount() != nil || s.GetLimitOffset() != nil || s.GetWithClause() != nil {
		return v.errorf(loc, "recursive query %q does not have the form non-recursive-term UNION [ALL] recursive-term", name)
	}
	base, term := s.GetLarg(), s.GetRarg()
	if selfReferencing(&pg_query.CommonTableExpr{Ctename: name, Ctequery: &pg_query.Node{Node: &pg_query.Node_SelectStmt{SelectStmt: base}}}) {
		return v.errorf(firstLocation(base), "recursive reference to query %q must not appear within its non-recursive term", name)
	}
	if err := v.checkRecursiveTerm(term, name); err != nil {
		return err
	}

	saved := v.env
	defer func() { v.env = saved }()
	v.env = c.env
	res, err := v.query(base)
	if err != nil {
		return err
	}
	names, types := res.outputColumns()
	if len(def.GetAliascolnames()) > len(names) {
		return v.errorf(loc, "WITH query %q has %d columns available but %d columns specified", name, len(names), len(def.GetAliascolnames()))
	}
	for i, cn := range def.GetAliascolnames() {
		names[i] = cn.GetString_().GetSval()
	}
	baseNode, _, err := v.finish(res, types, names)
	if err != nil {
		return err
	}
	schema := schemaOf(names, types)

	// The recursive term, in a graph of its own where r is an input.
	outer := v.g
	inner := dataflow.New()
	v.builder.g = inner
	defer func() { v.builder.g = outer }()
	rec := row.TableName{Name: "#recursive " + name}
	c.node, c.schema = inner.Input(rec, schema), schema
	v.env = &cteEnv{name: name, cte: c, parent: c.env}
	tres, err := v.query(term)
	if err != nil {
		c.node = nil
		return err
	}
	tt := tres.types()
	if len(tt) != len(types) {
		c.node = nil
		return v.errorf(firstLocation(term), "each UNION query must have the same number of columns")
	}
	for i := range tt {
		if tt[i] != types[i] && tt[i].OID != row.OIDUnknown {
			c.node = nil
			return v.errorf(firstLocation(term), "recursive query %q column %d has type %s in non-recursive term but type %s overall; cast the non-recursive term to the right type",
				name, i+1, typeString(types[i]), typeString(tt[i]))
		}
	}
	termNode, _, err := v.finish(tres, types, tres.names())
	if err != nil {
		c.node = nil
		return err
	}
	inner.Output("term", termNode)
	v.builder.g = outer

	var tables []row.TableName
	ins := []*dataflow.Node{baseNode}
	for _, t := range inner.Inputs() {
		if t == rec {
			continue
		}
		sch, _ := inner.InputSchema(t)
		tables = append(tables, t)
		ins = append(ins, outer.Input(t, sch))
	}
	c.node = outer.Fixpoint(ins, inner, rec, tables, !s.GetAll(), "WITH RECURSIVE "+row.QuoteIdent(name))
	return nil
}

// checkRecursiveTerm refuses a recursive term that reads what the term's
// own graph cannot: another WITH query or a view of the set.
func (v *viewBuilder) checkRecursiveTerm(term *pg_query.SelectStmt, name string) error {
	var err error
	inspectNode(term, func(m protoreflect.Message) bool {
		if err != nil {
			return false
		}
		switch x := m.Interface().(type) {
		case *pg_query.WithClause:
			err = v.errorf(int(x.GetLocation()), "WITH inside the recursive term of %q is not supported", name)
		case *pg_query.RangeVar:
			if x.GetSchemaname() == "" && x.GetRelname() == name {
				return true
			}
			if x.GetSchemaname() == "" && v.env.lookup(x.GetRelname()) != nil {
				err = v.errorf(int(x.GetLocation()), "the recursive term of %q may read only tables and %q itself, not the WITH query %q", name, name, x.GetRelname())
			} else if other, ok := v.isView(x); ok {
				err = v.errorf(int(x.GetLocation()), "the recursive term of %q may read only tables and %q itself, not the view %s", name, name, other)
			}
		}
		return true
	})
	return err
}
