package planner

import (
	"fmt"
	"strings"

	pg_query "github.com/pganalyze/pg_query_go/v5"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/rippledb/ripple/dataflow"
	"github.com/rippledb/ripple/internal/row"
	"github.com/rippledb/ripple/planner/expr"
)

// GROUPING SETS, ROLLUP and CUBE are lowered as a union of one Reduce per
// grouping set. Every Reduce produces the same row layout as a plain
// GROUP BY over all grouping expressions plus one hidden column holding
// the set's number: the expressions a set does not group by are NULL in
// its Map (so they form one group), and the set number keeps the groups
// of different sets apart (and tells GROUPING() which set a row is from).
// The empty set is a Reduce without groups, which yields its one row even
// over an empty input, as in PostgreSQL. HAVING and the select list then
// run over the union as over a single Reduce.

// maxGroupingSets bounds the Reduces one GROUP BY may expand to.
const maxGroupingSets = 64

// hasGroupingSets reports whether a GROUP BY clause uses GROUPING SETS,
// ROLLUP, CUBE or ().
func hasGroupingSets(clause []*pg_query.Node) bool {
	for _, n := range clause {
		if n.GetGroupingSet() != nil {
			return true
		}
	}
	return false
}

// groupingSets expands a GROUP BY clause into its grouping sets (lists of
// expressions; duplicates kept, as PostgreSQL keeps them) without
// GROUP BY DISTINCT: the cross product of its entries.
func (v *viewBuilder) groupingSets(clause []*pg_query.Node) ([][]*pg_query.Node, error) {
	sets := [][]*pg_query.Node{nil}
	for _, n := range clause {
		sub, err := v.expandGroupingSet(n)
		if err != nil {
			return nil, err
		}
		var next [][]*pg_query.Node
		for _, a := range sets {
			for _, b := range sub {
				next = append(next, append(append([]*pg_query.Node(nil), a...), b...))
			}
		}
		if len(next) > maxGroupingSets {
			return nil, v.errorf(firstLocation(n), "GROUP BY expands to more than %d grouping sets; each set is maintained separately", maxGroupingSets)
		}
		sets = next
	}
	return sets, nil
}

// unit is one element of ROLLUP or CUBE: a parenthesized list groups by
// its expressions together.
func unit(n *pg_query.Node) []*pg_query.Node {
	if r := n.GetRowExpr(); r != nil && r.GetRowFormat() == pg_query.CoercionForm_COERCE_IMPLICIT_CAST {
		return r.GetArgs()
	}
	if g := n.GetGroupingSet(); g != nil && g.GetKind() == pg_query.GroupingSetKind_GROUPING_SET_EMPTY {
		return nil
	}
	return []*pg_query.Node{n}
}

func (v *viewBuilder) expandGroupingSet(n *pg_query.Node) ([][]*pg_query.Node, error) {
	g := n.GetGroupingSet()
	if g == nil {
		return [][]*pg_query.Node{unit(n)}, nil
	}
	content := g.GetContent()
	switch g.GetKind() {
	case pg_query.GroupingSetKind_GROUPING_SET_EMPTY:
		return [][]*pg_query.Node{nil}, nil
	case pg_query.GroupingSetKind_GROUPING_SET_SIMPLE:
		return [][]*pg_query.Node{content}, nil
	case pg_query.GroupingSetKind_GROUPING_SET_ROLLUP:
		var out [][]*pg_query.Node
		for k := len(content); k >= 0; k-- {
			var set []*pg_query.Node
			for _, c := range content[:k] {
				set = append(set, unit(c)...)
			}
			out = append(out, set)
		}
		return out, nil
	case pg_query.GroupingSetKind_GROUPING_SET_CUBE:
		if len(content) > 6 {
			return nil, v.errorf(int(g.GetLocation()), "CUBE of more than 6 elements expands to more than %d grouping sets; each set is maintained separately", maxGroupingSets)
		}
		var out [][]*pg_query.Node
		for mask := (1 << len(content)) - 1; mask >= 0; mask-- {
			var set []*pg_query.Node
			for i, c := range content {
				if mask&(1<<(len(content)-1-i)) != 0 {
					set = append(set, unit(c)...)
				}
			}
			out = append(out, set)
		}
		return out, nil
	case pg_query.GroupingSetKind_GROUPING_SET_SETS:
		var out [][]*pg_query.Node
		for _, c := range content {
			sub, err := v.expandGroupingSet(c)
			if err != nil {
				return nil, err
			}
			out = append(out, sub...)
			if len(out) > maxGroupingSets {
				return nil, v.errorf(int(g.GetLocation()), "GROUPING SETS expands to more than %d grouping sets; each set is maintained separately", maxGroupingSets)
			}
		}
		return out, nil
	}
	return nil, v.errorf(int(g.GetLocation()), "this grouping set is not supported")
}

// groupSets registers every expression of sets as a group item and
// returns each set as item indexes.
func (v *viewBuilder) groupSets(gs *grouping, sets [][]*pg_query.Node, f *fromClause, targets []target, gc, fc *expr.Compiler, pos []int, resolve func(*pg_query.ColumnRef) (int, bool)) ([][]int, error) {
	out := make([][]int, len(sets))
	for i, set := range sets {
		out[i] = []int{}
		for _, n := range set {
			gs.last = -1
			if err := v.groupBy(gs, n, f, targets, gc, fc, pos, resolve); err != nil {
				return nil, err
			}
			if gs.last < 0 {
				return nil, v.errorf(firstLocation(n), "cannot place this grouping expression")
			}
			out[i] = append(out[i], gs.last)
		}
	}
	return out, nil
}

// groupingFuncs replaces the GROUPING(...) calls of n (a rewritten copy
// whose calls keep their locations) by the value they have in each
// grouping set: a CASE over the hidden set column, or 0 without grouping
// sets. byLoc maps a call's location to its arguments' group items,
// found before the rewrite by groupingArgs.
func groupingFuncs(n *pg_query.Node, gs *grouping, sets [][]int, setName string, byLoc map[int32][]int) (*pg_query.Node, bool) {
	changed := false
	var visit func(n *pg_query.Node) *pg_query.Node
	visit = func(n *pg_query.Node) *pg_query.Node {
		if n == nil || n.GetNode() == nil {
			return n
		}
		if gf := n.GetGroupingFunc(); gf != nil {
			items, ok := byLoc[gf.GetLocation()]
			if ok {
				changed = true
				return groupingValue(items, gs, sets, setName, gf.GetLocation())
			}
		}
		mapNodes(n.ProtoReflect(), visit)
		return n
	}
	return visit(n), changed
}

// groupingValue is GROUPING(items) as an expression: bit i (from the
// left) is set when items[i] is not grouped in the row's set.
func groupingValue(items []int, gs *grouping, sets [][]int, setName string, loc int32) *pg_query.Node {
	value := func(set []int) int64 {
		var b int64
		for _, it := range items {
			b <<= 1
			in := false
			for _, s := range set {
				in = in || s == it
			}
			if !in {
				b |= 1
			}
		}
		return b
	}
	if sets == nil {
		return pg_query.MakeAConstIntNode(0, loc)
	}
	ref := &pg_query.Node{Node: &pg_query.Node_ColumnRef{ColumnRef: &pg_query.ColumnRef{
		Fields: []*pg_query.Node{pg_query.MakeStrNode(gs.synth), pg_query.MakeStrNode(setName)}, Location: loc}}}
	var whens []*pg_query.Node
	for i, set := range sets {
		whens = append(whens, &pg_query.Node{Node: &pg_query.Node_CaseWhen{CaseWhen: &pg_query.CaseWhen{
			Expr:   pg_query.MakeAConstIntNode(int64(i), loc),
			Result: pg_query.MakeAConstIntNode(value(set), loc),
		}}})
	}
	return &pg_query.Node{Node: &pg_query.Node_CaseExpr{CaseExpr: &pg_query.CaseExpr{Arg: ref, Args: whens, Location: loc}}}
}

// groupingArgs finds the GROUPING(...) calls in nodes and the group item
// of each argument; PostgreSQL requires every argument to be a grouping
// expression.
func (v *viewBuilder) groupingArgs(gs *grouping, resolve func(*pg_query.ColumnRef) (int, bool), nodes ...*pg_query.Node) (map[int32][]int, error) {
	out := map[int32][]int{}
	var err error
	for _, n := range nodes {
		inspectNode(n, func(m protoreflect.Message) bool {
			if err != nil {
				return false
			}
			switch x := m.Interface().(type) {
			case *pg_query.SubLink:
				return false
			case *pg_query.GroupingFunc:
				var items []int
				for _, a := range x.GetArgs() {
					it := -1
					if cr := a.GetColumnRef(); cr != nil {
						if g, ok := resolve(cr); ok {
							if k, ok := gs.byGlobal[g]; ok && gs.items[k].user {
								it = k
							}
						}
					} else if k, ok := gs.byFP[fingerprint(a, resolve)]; ok {
						it = k
					}
					if it < 0 {
						err = v.errorf(firstLocation(a), "arguments to GROUPING must be grouping expressions of the associated query level")
						return false
					}
					items = append(items, it)
				}
				if len(items) > 31 {
					err = v.errorf(int(x.GetLocation()), "GROUPING must have fewer than 32 arguments")
					return false
				}
				out[x.GetLocation()] = items
				return false
			}
			return true
		})
	}
	return out, err
}

// lowerSets builds one Reduce per grouping set over in and their union:
// rows of schema (the group items, the set number item setItem, then the
// aggregates).
func (v *viewBuilder) lowerSets(in *dataflow.Node, gs *grouping, sets [][]int, setItem int, schema row.Schema) *dataflow.Node {
	var arms []*dataflow.Node
	for si, set := range sets {
		grouped := make([]bool, len(gs.items))
		for _, it := range set {
			grouped[it] = true
		}
		var labels []string
		for _, it := range set {
			labels = append(labels, gs.items[it].e.Text)
		}
		label := fmt.Sprintf("grouping set %d (%s)", si, strings.Join(labels, ", "))
		pre := make([]expr.Expr, 0, len(gs.items)+len(gs.args))
		for i, it := range gs.items {
			switch {
			case i == setItem:
				pre = append(pre, constExpr(row.Int4, row.NewInt(int64(si)), itoa(si)))
			case grouped[i]:
				pre = append(pre, it.e)
			default:
				pre = append(pre, constExpr(it.e.Type, row.Null, "NULL"))
			}
		}
		pre = append(pre, gs.args...)
		names := make([]string, len(pre))
		for i, e := range pre {
			names[i] = e.Name
		}
		node := v.project(in, pre, names)
		if len(set) == 0 {
			// The aggregates read their arguments after the group items,
			// so the Map keeps them; the Reduce without groups yields its
			// one row even over an empty input.
			red := v.g.Reduce(node, nil, gs.aggs, true, schema[len(gs.items):], label)
			nItems, set := len(gs.items), int64(si)
			fill := func(r row.Row) (row.Row, error) {
				out := make(row.Row, nItems, nItems+len(r))
				out[setItem] = row.NewInt(set)
				return append(out, r...), nil
			}
			arms = append(arms, v.g.Map(red, fill, schema, "NULL grouping columns, grouping set "+itoa(si)))
			continue
		}
		arms = append(arms, v.g.Reduce(node, allColumns(len(gs.items)), gs.aggs, false, schema, label))
	}
	if len(arms) == 1 {
		return arms[0]
	}
	return v.g.Union(arms, schema, "UNION ALL of the grouping sets")
}

func constExpr(t row.Type, d row.Datum, text string) expr.Expr {
	return expr.Expr{Type: t, Name: "?column?", Text: text, Const: true,
		Eval: func(row.Row) (row.Datum, error) { return d, nil }}
}
