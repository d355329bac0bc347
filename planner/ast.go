package planner

import (
	pg_query "github.com/pganalyze/pg_query_go/v5"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/rippledb/ripple/planner/expr"
)

// Generic helpers over pg_query's protobuf parse trees. They work through
// protoreflect so that no node type is forgotten: a walk that missed a
// field would let a construct through unchecked.

var nodeDesc = (&pg_query.Node{}).ProtoReflect().Descriptor()

// inspect calls fn for m and, while fn returns true, for every message
// nested in m, depth first in field order. fn may set scalar fields of the
// message it is given.
func inspect(m protoreflect.Message, fn func(protoreflect.Message) bool) {
	if m == nil || !m.IsValid() || !fn(m) {
		return
	}
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		if fd.Kind() != protoreflect.MessageKind && fd.Kind() != protoreflect.GroupKind {
			return true
		}
		switch {
		case fd.IsMap():
		case fd.IsList():
			l := v.List()
			for i := 0; i < l.Len(); i++ {
				inspect(l.Get(i).Message(), fn)
			}
		default:
			inspect(v.Message(), fn)
		}
		return true
	})
}

// inspectNode is inspect for a parse node (nil is fine).
func inspectNode(n proto.Message, fn func(protoreflect.Message) bool) {
	if n == nil {
		return
	}
	inspect(n.ProtoReflect(), fn)
}

// mapNodes replaces every *pg_query.Node reachable from m without passing
// through another Node by fn's result. fn is responsible for descending
// (by calling mapNodes on the node) where it wants to.
func mapNodes(m protoreflect.Message, fn func(*pg_query.Node) *pg_query.Node) {
	type set struct {
		fd protoreflect.FieldDescriptor
		v  protoreflect.Value
	}
	var sets []set
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		if fd.Kind() != protoreflect.MessageKind || fd.IsMap() {
			return true
		}
		if fd.IsList() {
			l := v.List()
			for i := 0; i < l.Len(); i++ {
				el := l.Get(i).Message()
				if el.Descriptor() == nodeDesc {
					n := fn(el.Interface().(*pg_query.Node))
					l.Set(i, protoreflect.ValueOfMessage(n.ProtoReflect()))
				} else {
					mapNodes(el, fn)
				}
			}
			return true
		}
		sub := v.Message()
		if sub.Descriptor() == nodeDesc {
			n := fn(sub.Interface().(*pg_query.Node))
			sets = append(sets, set{fd, protoreflect.ValueOfMessage(n.ProtoReflect())})
		} else {
			mapNodes(sub, fn)
		}
		return true
	})
	for _, s := range sets {
		m.Set(s.fd, s.v)
	}
}

// firstLocation is the smallest parse location (byte offset) in the
// subtree of m, -1 when it has none.
func firstLocation(m proto.Message) int {
	best := -1
	if m == nil {
		return best
	}
	inspectNode(m, func(m protoreflect.Message) bool {
		if fd := m.Descriptor().Fields().ByName("location"); fd != nil && fd.Kind() == protoreflect.Int32Kind {
			if l := int(m.Get(fd).Int()); l >= 0 && (best < 0 || l < best) {
				best = l
			}
		}
		return true
	})
	return best
}

// fingerprint is a canonical encoding of expression n for matching GROUP
// BY expressions against the select list the way PostgreSQL does after
// name resolution: locations are ignored and every column reference that
// resolve can place is replaced by its scope index, so `a + b` and
// `t.a + t.b` match.
func fingerprint(n proto.Message, resolve func(*pg_query.ColumnRef) (int, bool)) string {
	c := proto.Clone(n)
	inspectNode(c, func(m protoreflect.Message) bool {
		if fd := m.Descriptor().Fields().ByName("location"); fd != nil && fd.Kind() == protoreflect.Int32Kind {
			m.Set(fd, protoreflect.ValueOfInt32(0))
		}
		if cr, ok := m.Interface().(*pg_query.ColumnRef); ok {
			if idx, ok := resolve(cr); ok {
				cr.Fields = []*pg_query.Node{pg_query.MakeStrNode("\x00" + itoa(idx))}
			}
			return false
		}
		return true
	})
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(c)
	if err != nil {
		return ""
	}
	return string(b)
}

func itoa(i int) string {
	const digits = "0123456789"
	if i < 0 {
		return "-" + itoa(-i)
	}
	if i < 10 {
		return digits[i : i+1]
	}
	return itoa(i/10) + digits[i%10:i%10+1]
}

// funcName is the function name of a call and whether the call may be a
// built-in (unqualified or qualified with pg_catalog).
func funcName(fc *pg_query.FuncCall) (string, bool) {
	names := fc.GetFuncname()
	if len(names) == 0 {
		return "", false
	}
	name := names[len(names)-1].GetString_().GetSval()
	builtin := len(names) == 1 || (len(names) == 2 && names[0].GetString_().GetSval() == "pg_catalog")
	return name, builtin
}

// isAggregateCall reports whether fc calls one of the aggregate functions
// (not as a window function).
func isAggregateCall(fc *pg_query.FuncCall) bool {
	name, builtin := funcName(fc)
	return builtin && fc.GetOver() == nil && expr.IsAggregate(name)
}

// hasAggregates reports whether any of nodes contains an aggregate call.
func hasAggregates(nodes ...*pg_query.Node) bool {
	found := false
	for _, n := range nodes {
		inspectNode(n, func(m protoreflect.Message) bool {
			if found {
				return false
			}
			switch x := m.Interface().(type) {
			case *pg_query.SubLink:
				return false
			case *pg_query.FuncCall:
				if isAggregateCall(x) {
					found = true
					return false
				}
			}
			return true
		})
	}
	return found
}

// conjuncts splits an AND tree into its operands.
func conjuncts(n *pg_query.Node) []*pg_query.Node {
	if n == nil {
		return nil
	}
	if b := n.GetBoolExpr(); b != nil && b.GetBoolop() == pg_query.BoolExprType_AND_EXPR {
		var out []*pg_query.Node
		for _, a := range b.GetArgs() {
			out = append(out, conjuncts(a)...)
		}
		return out
	}
	return []*pg_query.Node{n}
}

// figureColname is PostgreSQL's FigureColnameInternal: the name a select
// list entry without an alias gets, and how sure it is (0 = no name, 1 = a
// fallback, 2 = a real name). The expression compiler computes the same
// for the expressions it compiles; the planner needs it only for grouped
// select lists, whose expressions it rewrites before compiling.
func figureColname(n *pg_query.Node) (string, int) {
	switch x := n.GetNode().(type) {
	case *pg_query.Node_ColumnRef:
		fields := x.ColumnRef.GetFields()
		if len(fields) > 0 {
			if s := fields[len(fields)-1].GetString_(); s != nil {
				return s.GetSval(), 2
			}
		}
	case *pg_query.Node_AIndirection:
		ind := x.AIndirection.GetIndirection()
		for i := len(ind) - 1; i >= 0; i-- {
			if s := ind[i].GetString_(); s != nil {
				return s.GetSval(), 2
			}
		}
		return figureColname(x.AIndirection.GetArg())
	case *pg_query.Node_FuncCall:
		if name, _ := funcName(x.FuncCall); name != "" {
			return name, 2
		}
	case *pg_query.Node_AExpr:
		if x.AExpr.GetKind() == pg_query.A_Expr_Kind_AEXPR_NULLIF {
			return "nullif", 2
		}
	case *pg_query.Node_TypeCast:
		name, strength := figureColname(x.TypeCast.GetArg())
		if strength <= 1 {
			if names := x.TypeCast.GetTypeName().GetNames(); len(names) > 0 {
				return names[len(names)-1].GetString_().GetSval(), 1
			}
		}
		return name, strength
	case *pg_query.Node_CollateClause:
		return figureColname(x.CollateClause.GetArg())
	case *pg_query.Node_GroupingFunc:
		return "grouping", 2
	case *pg_query.Node_CaseExpr:
		name, strength := figureColname(x.CaseExpr.GetDefresult())
		if strength <= 1 {
			return "case", 1
		}
		return name, strength
	case *pg_query.Node_AArrayExpr:
		return "array", 2
	case *pg_query.Node_RowExpr:
		return "row", 2
	case *pg_query.Node_CoalesceExpr:
		return "coalesce", 2
	case *pg_query.Node_MinMaxExpr:
		if x.MinMaxExpr.GetOp() == pg_query.MinMaxOp_IS_LEAST {
			return "least", 2
		}
		return "greatest", 2
	case *pg_query.Node_SqlvalueFunction:
		return sqlValueFunctionNames[x.SqlvalueFunction.GetOp()], 2
	}
	return "?column?", 0
}

var sqlValueFunctionNames = map[pg_query.SQLValueFunctionOp]string{
	pg_query.SQLValueFunctionOp_SVFOP_CURRENT_DATE:        "current_date",
	pg_query.SQLValueFunctionOp_SVFOP_CURRENT_TIME:        "current_time",
	pg_query.SQLValueFunctionOp_SVFOP_CURRENT_TIME_N:      "current_time",
	pg_query.SQLValueFunctionOp_SVFOP_CURRENT_TIMESTAMP:   "current_timestamp",
	pg_query.SQLValueFunctionOp_SVFOP_CURRENT_TIMESTAMP_N: "current_timestamp",
	pg_query.SQLValueFunctionOp_SVFOP_LOCALTIME:           "localtime",
	pg_query.SQLValueFunctionOp_SVFOP_LOCALTIME_N:         "localtime",
	pg_query.SQLValueFunctionOp_SVFOP_LOCALTIMESTAMP:      "localtimestamp",
	pg_query.SQLValueFunctionOp_SVFOP_LOCALTIMESTAMP_N:    "localtimestamp",
	pg_query.SQLValueFunctionOp_SVFOP_CURRENT_ROLE:        "current_role",
	pg_query.SQLValueFunctionOp_SVFOP_CURRENT_USER:        "current_user",
	pg_query.SQLValueFunctionOp_SVFOP_USER:                "user",
	pg_query.SQLValueFunctionOp_SVFOP_SESSION_USER:        "session_user",
	pg_query.SQLValueFunctionOp_SVFOP_CURRENT_CATALOG:     "current_catalog",
	pg_query.SQLValueFunctionOp_SVFOP_CURRENT_SCHEMA:      "current_schema",
}

// joinTypeNames name the outer joins for refusals.
var joinTypeNames = map[pg_query.JoinType]string{
	pg_query.JoinType_JOIN_LEFT:  "LEFT JOIN",
	pg_query.JoinType_JOIN_RIGHT: "RIGHT JOIN",
	pg_query.JoinType_JOIN_FULL:  "FULL JOIN",
}

// refusal is one construct the planner cannot maintain, found by
// checkConstructs.
type refusal struct {
	loc int
	msg string
}

// checkConstructs walks a view's whole query and returns the earliest
// (by position) construct that ripple refuses, or nil. Refusing up front,
// before any name resolution, gives one clear message per construct
// instead of a confusing downstream error. kwBefore finds the keyword that
// introduces a clause whose node has no location of its own.
func checkConstructs(stmt *pg_query.SelectStmt, kwBefore func(loc int, kws ...pg_query.Token) int) *refusal {
	var found []refusal
	add := func(loc int, msg string) { found = append(found, refusal{loc, msg}) }
	lateral := map[*pg_query.SelectStmt]bool{} // LATERAL subqueries may have a LIMIT (planner/lateral.go)
	inspectNode(stmt, func(m protoreflect.Message) bool {
		switch x := m.Interface().(type) {
		case *pg_query.SelectStmt:
			checkSelect(x, x == stmt || lateral[x], kwBefore, add)
		case *pg_query.SubLink:
			// The planner decides by placement (planner/sublink.go); the
			// subquery's own constructs are checked here.
			if r := checkSubLink(x); r != nil {
				add(r.loc, r.msg)
				return false
			}
		case *pg_query.RangeSubselect:
			if x.GetLateral() && x.GetSubquery().GetSelectStmt() != nil {
				lateral[x.GetSubquery().GetSelectStmt()] = true
			}
		case *pg_query.RangeTableFunc:
			add(int(x.GetLocation()), "table functions in FROM are not supported")
			return false
		case *pg_query.RangeTableSample:
			add(int(x.GetLocation()), "TABLESAMPLE is not supported (a sample cannot be maintained incrementally)")
			return false
		case *pg_query.ParamRef:
			add(int(x.GetLocation()), "parameters ($n) are not allowed in a view")
		case *pg_query.JoinExpr:
			if _, outer := joinTypeNames[x.GetJointype()]; !outer && x.GetJointype() != pg_query.JoinType_JOIN_INNER {
				add(firstLocation(x.GetRarg()), "this join type is not supported")
			}
			if x.GetAlias() != nil || x.GetJoinUsingAlias() != nil {
				add(firstLocation(x.GetRarg()), "aliases on JOIN are not supported yet")
			}
		case *pg_query.RangeVar:
			if x.GetRelpersistence() == "t" {
				add(int(x.GetLocation()), "temporary tables cannot be replicated")
			}
		}
		return true
	})
	if len(found) == 0 {
		return nil
	}
	best := found[0]
	for _, r := range found[1:] {
		if r.loc >= 0 && (best.loc < 0 || r.loc < best.loc) {
			best = r
		}
	}
	return &best
}

// top is set for the view's own (outermost) SELECT, whose ORDER BY ...
// LIMIT/OFFSET the planner maintains as a top-k (planner/order.go).
func checkSelect(s *pg_query.SelectStmt, top bool, kwBefore func(int, ...pg_query.Token) int, add func(int, string)) {
	if w := s.GetWithClause(); w != nil {
		checkWith(w, add)
	}
	if s.GetIntoClause() != nil {
		add(firstLocation(s.GetIntoClause()), "SELECT INTO is not allowed in a view")
	}
	if len(s.GetValuesLists()) > 0 {
		add(firstLocation(s), "VALUES lists are not supported yet")
	}
	if n := s.GetLimitCount(); n != nil && !top {
		add(kwBefore(firstLocation(n), pg_query.Token_LIMIT, pg_query.Token_FETCH), "LIMIT is supported only on the outermost SELECT of a view")
	}
	if n := s.GetLimitOffset(); n != nil && !top {
		add(kwBefore(firstLocation(n), pg_query.Token_OFFSET), "OFFSET is supported only on the outermost SELECT of a view")
	}
	if lc := s.GetLockingClause(); len(lc) > 0 {
		add(kwBefore(firstLocation(lc[0]), pg_query.Token_FOR), "FOR UPDATE/SHARE is not allowed in a view")
	}
	for _, c := range []struct {
		clause string
		nodes  []*pg_query.Node
	}{{"WHERE", []*pg_query.Node{s.GetWhereClause()}}, {"GROUP BY", s.GetGroupClause()}, {"HAVING", []*pg_query.Node{s.GetHavingClause()}}} {
		if w := windowCalls(c.nodes...); len(w) > 0 {
			add(int(w[0].GetLocation()), "window functions are not allowed in "+c.clause)
		}
	}
	if wc := s.GetWindowClause(); len(wc) > 0 {
		add(firstLocation(wc[0]), "named windows (WINDOW clause) are not supported yet; write the window inline in OVER (...)")
	}
	if gc := s.GetGroupClause(); s.GetGroupDistinct() && len(gc) > 0 {
		add(kwBefore(firstLocation(gc[0]), pg_query.Token_GROUP_P), "GROUP BY DISTINCT is not supported yet")
	}
}
