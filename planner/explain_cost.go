package planner

import (
	"fmt"
	"regexp"
	"sort"
	"strings"

	pg_query "github.com/pganalyze/pg_query_go/v5"

	"github.com/rippledb/ripple/dataflow"
	"github.com/rippledb/ripple/internal/row"
	"github.com/rippledb/ripple/planner/expr"
)

// OperatorCost is the state one stateful operator of a view keeps.
type OperatorCost struct {
	Node *dataflow.Node
	// GrowsWith says what the state's size is proportional to.
	GrowsWith string
}

// ViewCost is the cost analysis of one view: the state each stateful
// operator keeps and warnings about constructs that are costly to
// maintain incrementally.
type ViewCost struct {
	View      row.TableName
	Operators []OperatorCost
	Warnings  []string
}

// wideDistinct is the number of columns from which a DISTINCT is "wide":
// its state holds every distinct row in full.
const wideDistinct = 6

var (
	minMaxRE   = regexp.MustCompile(`\b(min|max)\([^()]*(\([^()]*\))?[^()]*\)`)
	distinctRE = regexp.MustCompile(`\b\w+\(DISTINCT [^()]*(\([^()]*\))?[^()]*\)`)
)

// AnalyzeCost walks each view's operators (as Plan.Explain shows them) and
// says what each stateful one keeps and what that grows with, and which
// constructs are costly to maintain: min/max (a multiset of values per
// group), self-joins and joins on columns that are no unique key of either
// side (per-change fan-out), DISTINCT over wide rows, and views without a
// unique key (which key-value sinks cannot hold).
func AnalyzeCost(p *Plan) []ViewCost {
	out := make([]ViewCost, 0, len(p.Views))
	for _, v := range p.Views {
		out = append(out, analyzeView(p, v))
	}
	return out
}

func analyzeView(p *Plan, v View) ViewCost {
	vc := ViewCost{View: v.Def.Name}
	ranges := rangeTables(p, v.Def.Query)
	for _, n := range viewNodes(p, v) {
		if n.Kind() == "FlatMap" {
			vc.Warnings = append(vc.Warnings, fmt.Sprintf(
				"#%d FlatMap %s: each row it reads becomes as many rows as the function returns for it (up to %d), and every change to that row changes all of them",
				n.ID(), n.Label(), expr.MaxSeriesRows))
		}
		if n.StateDesc() == "" {
			continue
		}
		oc := OperatorCost{Node: n}
		kind := n.Kind()
		switch {
		case strings.HasSuffix(kind, "Join"):
			l, r := inputTables(n.Inputs()[0]), inputTables(n.Inputs()[1])
			oc.GrowsWith = fmt.Sprintf("the rows of both inputs (%s; %s)", tableList(l), tableList(r))
			self := intersect(l, r)
			if len(self) > 0 {
				vc.Warnings = append(vc.Warnings, fmt.Sprintf(
					"#%d %s %s is a self-join of %s: each change to the table is joined against the table itself, and a key value shared by many rows produces that many output changes",
					n.ID(), kind, n.Label(), tableList(self)))
			} else if keyed, known := joinOnKey(n.Label(), ranges); known && !keyed {
				vc.Warnings = append(vc.Warnings, fmt.Sprintf(
					"#%d %s %s is not on a unique key of either side (many-to-many): one change fans out to every row with the same key value on the other side",
					n.ID(), kind, n.Label()))
			}
		case kind == "Reduce":
			group := strings.TrimPrefix(n.Label(), "group by ")
			if group == n.Label() || group == "" {
				oc.GrowsWith = "one group (aggregates without GROUP BY)"
			} else {
				oc.GrowsWith = "the number of groups (distinct values of " + group + ")"
			}
			if mm := minMaxRE.FindAllString(n.StateDesc(), -1); len(mm) > 0 {
				oc.GrowsWith += ", plus for " + strings.Join(mm, ", ") + " every non-NULL input value of each group"
				vc.Warnings = append(vc.Warnings, fmt.Sprintf(
					"#%d Reduce: min/max aggregates (%s) keep every input value of each group (a sorted multiset, so that a deleted extreme can be replaced), not one number: their state grows with the input rows, not with the groups",
					n.ID(), strings.Join(mm, ", ")))
			}
			if ds := distinctRE.FindAllString(n.StateDesc(), -1); len(ds) > 0 {
				oc.GrowsWith += ", plus for " + strings.Join(ds, ", ") + " the count of each distinct value of each group"
			}
			if strings.Contains(n.StateDesc(), "also the input rows by group") {
				oc.GrowsWith += "; with a state_dir, also its input rows (to rebuild the groups whose state cannot be written out)"
			}
		case kind == "Distinct":
			cols := len(n.Schema())
			oc.GrowsWith = fmt.Sprintf("the distinct rows of its input (%d columns each)", cols)
			if cols >= wideDistinct {
				vc.Warnings = append(vc.Warnings, fmt.Sprintf(
					"#%d Distinct %s over %d columns: its state holds every distinct row in full; select fewer columns or a key",
					n.ID(), n.Label(), cols))
			}
		default:
			oc.GrowsWith = "the rows of its inputs"
		}
		vc.Operators = append(vc.Operators, oc)
	}
	if v.Key == nil {
		vc.Warnings = append(vc.Warnings,
			"the view has no unique key (its result may hold duplicate rows): it can go to sinks that store multisets (PostgreSQL) but not to key-value sinks; select the key columns of every table or GROUP BY")
	}
	return vc
}

// ExplainCost renders AnalyzeCost for `ripple explain`.
func (p *Plan) ExplainCost() string {
	var b strings.Builder
	if len(p.Tables) > 0 {
		b.WriteString("state kept for the source tables (by the engine, keyed by replica identity):\n")
		for _, t := range p.Tables {
			fmt.Fprintf(&b, "  %s: every row, %d columns\n", t.Name, len(t.Columns))
		}
	}
	for _, vc := range AnalyzeCost(p) {
		fmt.Fprintf(&b, "\ncost of view %s\n", vc.View)
		if len(vc.Operators) == 0 {
			b.WriteString("  no operator state (rows pass straight through)\n")
		}
		for _, oc := range vc.Operators {
			fmt.Fprintf(&b, "  #%d %s %s\n", oc.Node.ID(), oc.Node.Kind(), oc.Node.Label())
			fmt.Fprintf(&b, "     state: %s\n", oc.Node.StateDesc())
			fmt.Fprintf(&b, "     grows with: %s\n", oc.GrowsWith)
		}
		for _, w := range vc.Warnings {
			fmt.Fprintf(&b, "  warning: %s\n", w)
		}
	}
	return b.String()
}

// Summary describes the graph of view name in one line, for `ripple
// check`: operator counts, the tables read and the key.
func (p *Plan) Summary(name row.TableName) string {
	for _, v := range p.Views {
		if v.Def.Name != name {
			continue
		}
		nodes := viewNodes(p, v)
		counts := map[string]int{}
		var kinds []string
		for _, n := range nodes {
			if n.Kind() == "Input" {
				continue
			}
			if counts[n.Kind()] == 0 {
				kinds = append(kinds, n.Kind())
			}
			counts[n.Kind()]++
		}
		parts := make([]string, len(kinds))
		total := 0
		for i, k := range kinds {
			parts[i] = k
			if counts[k] > 1 {
				parts[i] = fmt.Sprintf("%s x%d", k, counts[k])
			}
			total += counts[k]
		}
		s := fmt.Sprintf("%d operators (%s), reads %s", total, strings.Join(parts, ", "), tableList(inputTables(p.Graph.OutputNode(name.String()))))
		if total == 0 {
			s = "reads " + tableList(inputTables(p.Graph.OutputNode(name.String())))
		}
		if v.Key != nil {
			s += ", key " + keyString(v.Columns, v.Key)
		} else {
			s += ", no unique key"
		}
		return s
	}
	return ""
}

// viewNodes lists the nodes view v's output depends on, in ID order.
func viewNodes(p *Plan, v View) []*dataflow.Node {
	seen := map[*dataflow.Node]bool{}
	var out []*dataflow.Node
	var walk func(n *dataflow.Node)
	walk = func(n *dataflow.Node) {
		if n == nil || seen[n] {
			return
		}
		seen[n] = true
		out = append(out, n)
		for _, in := range n.Inputs() {
			walk(in)
		}
	}
	walk(p.Graph.OutputNode(v.Def.Name.String()))
	sort.Slice(out, func(i, j int) bool { return out[i].ID() < out[j].ID() })
	return out
}

// inputTables lists the source tables below n, sorted.
func inputTables(n *dataflow.Node) []string {
	set := map[string]bool{}
	var walk func(n *dataflow.Node)
	walk = func(n *dataflow.Node) {
		if n == nil {
			return
		}
		if n.Kind() == "Input" {
			// The Input label is the table name and its schema.
			name, _, _ := strings.Cut(n.Label(), " (")
			set[name] = true
		}
		for _, in := range n.Inputs() {
			walk(in)
		}
	}
	walk(n)
	out := make([]string, 0, len(set))
	for t := range set {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

func tableList(ts []string) string {
	if len(ts) == 0 {
		return "no table"
	}
	return strings.Join(ts, ", ")
}

func intersect(a, b []string) []string {
	var out []string
	for _, x := range a {
		for _, y := range b {
			if x == y {
				out = append(out, x)
			}
		}
	}
	return out
}

// rangeTables maps the range variable names of a view's query (aliases,
// else table names) to their tables; a name used for two different tables
// (in different scopes) maps to nil, unknown.
func rangeTables(p *Plan, query string) map[string]*Table {
	out := map[string]*Table{}
	tree, err := pg_query.Parse(query)
	if err != nil || len(tree.GetStmts()) == 0 {
		return out
	}
	var fromItem func(n *pg_query.Node)
	var selectStmt func(s *pg_query.SelectStmt)
	add := func(name string, t *Table) {
		if prev, ok := out[name]; ok && prev != t {
			out[name] = nil
			return
		}
		out[name] = t
	}
	fromItem = func(n *pg_query.Node) {
		switch {
		case n.GetRangeVar() != nil:
			rv := n.GetRangeVar()
			name := rv.GetRelname()
			if a := rv.GetAlias(); a != nil {
				name = a.GetAliasname()
			}
			add(name, findTable(p, rv.GetSchemaname(), rv.GetRelname()))
		case n.GetJoinExpr() != nil:
			fromItem(n.GetJoinExpr().GetLarg())
			fromItem(n.GetJoinExpr().GetRarg())
		case n.GetRangeSubselect() != nil:
			if s := n.GetRangeSubselect().GetSubquery().GetSelectStmt(); s != nil {
				selectStmt(s)
			}
			if a := n.GetRangeSubselect().GetAlias(); a != nil {
				add(a.GetAliasname(), nil)
			}
		}
	}
	selectStmt = func(s *pg_query.SelectStmt) {
		if s == nil {
			return
		}
		selectStmt(s.GetLarg())
		selectStmt(s.GetRarg())
		for _, f := range s.GetFromClause() {
			fromItem(f)
		}
	}
	selectStmt(tree.GetStmts()[0].GetStmt().GetSelectStmt())
	return out
}

// findTable resolves a table reference among the plan's tables; nil when
// it is not one of them or is ambiguous.
func findTable(p *Plan, schema, name string) *Table {
	var found *Table
	for _, t := range p.Tables {
		if t.Name.Name != name || (schema != "" && t.Name.Schema != schema) {
			continue
		}
		if found != nil {
			if schema == "" && t.Name.Schema == "public" {
				found = t
			}
			continue
		}
		found = t
	}
	return found
}

// joinOnKey reports whether the equalities of a join's label cover the
// primary key of a table on either side, so that a change on the other
// side matches at most one row of it. known is false when the label's
// columns cannot all be traced to tables.
func joinOnKey(label string, ranges map[string]*Table) (keyed, known bool) {
	tree, err := pg_query.Parse("SELECT 1 WHERE " + label)
	if err != nil || len(tree.GetStmts()) == 0 {
		return false, false
	}
	where := tree.GetStmts()[0].GetStmt().GetSelectStmt().GetWhereClause()
	conjs := []*pg_query.Node{where}
	if be := where.GetBoolExpr(); be != nil && be.GetBoolop() == pg_query.BoolExprType_AND_EXPR {
		conjs = be.GetArgs()
	}
	cols := map[string]map[string]bool{} // range variable → equated columns
	for _, c := range conjs {
		a := c.GetAExpr()
		if a == nil || a.GetKind() != pg_query.A_Expr_Kind_AEXPR_OP || opName(a) != "=" {
			continue
		}
		for _, side := range []*pg_query.Node{a.GetLexpr(), a.GetRexpr()} {
			cr := side.GetColumnRef()
			if cr == nil || len(cr.GetFields()) != 2 {
				return false, false
			}
			rv, col := cr.GetFields()[0].GetString_().GetSval(), cr.GetFields()[1].GetString_().GetSval()
			if ranges[rv] == nil {
				return false, false
			}
			if cols[rv] == nil {
				cols[rv] = map[string]bool{}
			}
			cols[rv][col] = true
		}
	}
	if len(cols) == 0 {
		return false, false
	}
	for rv, set := range cols {
		t := ranges[rv]
		if len(t.Key) == 0 {
			continue
		}
		all := true
		for _, k := range t.Key {
			all = all && set[t.Columns[k].Name]
		}
		if all {
			return true, true
		}
	}
	return false, true
}
