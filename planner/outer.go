package planner

import (
	"strings"

	pg_query "github.com/pganalyze/pg_query_go/v5"

	"github.com/rippledb/ripple/dataflow"
	"github.com/rippledb/ripple/internal/row"
	"github.com/rippledb/ripple/planner/expr"
)

// FROM clauses with outer joins are lowered in the shape the query gives
// them: an outer join's ON and USING conditions decide which rows match and
// so stay with their join (never pushed below it or merged with WHERE),
// and joins are not reordered across it. Equalities between the two sides
// of a join become its key, the rest of its conditions its predicate. The
// FROM list entries are then joined on WHERE equalities (a cross join when
// there is none) and the whole WHERE clause filters the result.

// joinTree lowers f (which holds an outer join) and returns the node and
// the position of every global column in its rows.
func (v *viewBuilder) joinTree(f *fromClause) (*dataflow.Node, []int, error) {
	cur, pos, err := v.lowerFromNode(f, f.items[0])
	if err != nil {
		return nil, nil, err
	}
	var where []*conjunct
	for _, cj := range f.conjs {
		if cj.join == nil {
			where = append(where, cj)
		}
	}
	for _, it := range f.items[1:] {
		right, rpos, err := v.lowerFromNode(f, it)
		if err != nil {
			return nil, nil, err
		}
		if cur, pos, err = v.joinSides(cur, right, pos, rpos, where, pg_query.JoinType_JOIN_INNER); err != nil {
			return nil, nil, err
		}
	}
	var rest []*conjunct
	for _, cj := range where {
		if !cj.done {
			rest = append(rest, cj)
		}
	}
	if len(rest) > 0 {
		if cur, err = v.filter(cur, rest, pos); err != nil {
			return nil, nil, err
		}
	}
	return cur, pos, nil
}

func (v *viewBuilder) lowerFromNode(f *fromClause, n *fromNode) (*dataflow.Node, []int, error) {
	pos := make([]int, len(f.owner))
	for g := range pos {
		pos[g] = -1
	}
	if n.rel >= 0 {
		r := f.rels[n.rel]
		for g := range pos {
			if f.owner[g] == n.rel {
				pos[g] = g - r.offset
			}
		}
		return v.relInput(r), pos, nil
	}
	left, lpos, err := v.lowerFromNode(f, n.left)
	if err != nil {
		return nil, nil, err
	}
	right, rpos, err := v.lowerFromNode(f, n.right)
	if err != nil {
		return nil, nil, err
	}
	cur, pos, err := v.joinSides(left, right, lpos, rpos, n.conjs, n.kind)
	if err != nil {
		return nil, nil, err
	}
	if len(n.computed) == 0 {
		return cur, pos, nil
	}
	var es []expr.Expr
	for _, c := range n.computed {
		r, err := v.castTo(columnExpr(c.r, pos[c.r.Index]), c.typ)
		if err != nil {
			return nil, nil, err
		}
		e := r
		if c.full {
			l, err := v.castTo(columnExpr(c.l, pos[c.l.Index]), c.typ)
			if err != nil {
				return nil, nil, err
			}
			e = expr.Expr{Type: c.typ, Name: c.name, Text: "COALESCE(" + qualified(c.l) + ", " + qualified(c.r) + ")",
				Eval: func(row row.Row) (row.Datum, error) {
					d, err := l.Eval(row)
					if err != nil || !d.IsNull() {
						return d, err
					}
					return r.Eval(row)
				}}
		}
		es = append(es, e)
	}
	width := len(cur.Schema())
	cur = v.appendColumns(cur, es)
	for i, c := range n.computed {
		pos[c.global] = width + i
	}
	return cur, pos, nil
}

func (v *viewBuilder) castTo(e expr.Expr, t row.Type) (expr.Expr, error) {
	if e.Type == t {
		return e, nil
	}
	c, err := castExpr(e, t)
	if err != nil {
		return c, v.wrap(-1, err)
	}
	return c, nil
}

// joinSides joins left and right (rows laid out by lpos and rpos) under
// conditions cjs: the equalities between the sides that can be keys are
// the join key, the others that can be evaluated on the joined row are
// its predicate (for an inner join, a filter after it). It returns the
// joined node and its layout.
func (v *viewBuilder) joinSides(left, right *dataflow.Node, lpos, rpos []int, cjs []*conjunct, kind pg_query.JoinType) (*dataflow.Node, []int, error) {
	// An ON condition of a LEFT (RIGHT) join that reads only the nullable
	// side filters that side before the join, as PostgreSQL plans it: a
	// row it rejects would match nothing. What is left is often the key
	// equalities alone, and such a join keeps its state in arrangements
	// that can move to disk.
	if kind == pg_query.JoinType_JOIN_LEFT || kind == pg_query.JoinType_JOIN_RIGHT {
		npos := rpos
		if kind == pg_query.JoinType_JOIN_RIGHT {
			npos = lpos
		}
		var side []*conjunct
		for _, cj := range cjs {
			if c := cj.node.GetAConst(); c != nil && c.GetBoolval().GetBoolval() {
				cj.done = true // ON true (as of a LATERAL join)
				continue
			}
			if !cj.done && v.available(cj, npos) {
				side = append(side, cj)
			}
		}
		pred, text, err := v.predicate(side, npos)
		if err != nil {
			return nil, nil, err
		}
		if pred != nil && kind == pg_query.JoinType_JOIN_LEFT {
			right = v.g.Filter(right, pred, text)
		} else if pred != nil {
			left = v.g.Filter(left, pred, text)
		}
	}
	var lkey, rkey []int
	var lCasts, rCasts []expr.Expr
	var labels []string
	for _, cj := range cjs {
		if cj.done || !cj.eq {
			continue
		}
		s, r := cj.a, cj.b
		if lpos[s.Index] < 0 {
			s, r = r, s
		}
		if lpos[s.Index] < 0 || rpos[r.Index] < 0 {
			continue
		}
		target, castS, castR, ok := keyType(s.Type, r.Type)
		if !ok {
			continue
		}
		se, re := columnExpr(s, lpos[s.Index]), columnExpr(r, rpos[r.Index])
		var errS, errR error
		if castS {
			se, errS = castExpr(se, target)
		}
		if castR {
			re, errR = castExpr(re, target)
		}
		if errS != nil || errR != nil {
			continue // stays a condition of the predicate
		}
		if castS {
			lkey = append(lkey, len(left.Schema())+len(lCasts))
			lCasts = append(lCasts, se)
		} else {
			lkey = append(lkey, lpos[s.Index])
		}
		if castR {
			rkey = append(rkey, len(right.Schema())+len(rCasts))
			rCasts = append(rCasts, re)
		} else {
			rkey = append(rkey, rpos[r.Index])
		}
		cj.done = true
		labels = append(labels, cj.text)
	}
	left = v.appendColumns(left, lCasts)
	right = v.appendColumns(right, rCasts)
	pos := make([]int, len(lpos))
	width := len(left.Schema())
	for g := range pos {
		switch {
		case lpos[g] >= 0:
			pos[g] = lpos[g]
		case rpos[g] >= 0:
			pos[g] = width + rpos[g]
		default:
			pos[g] = -1
		}
	}
	// The remaining conditions: for an outer join all of its ON
	// conditions; for an inner one (or the FROM list) those that only read
	// columns of the two sides.
	var rest []*conjunct
	for _, cj := range cjs {
		if !cj.done && (kind != pg_query.JoinType_JOIN_INNER || v.available(cj, pos)) {
			rest = append(rest, cj)
		}
	}
	keyLabel := strings.Join(labels, " AND ")
	pred, text, err := v.predicate(rest, pos)
	if err != nil {
		return nil, nil, err
	}
	if kind == pg_query.JoinType_JOIN_INNER {
		if len(lkey) == 0 {
			keyLabel = "cross join"
		}
		cur := v.g.Join(left, right, lkey, rkey, keyLabel)
		if pred != nil {
			cur = v.g.Filter(cur, pred, text)
		}
		return cur, pos, nil
	}
	if text != "" {
		labels = append(labels, text)
	}
	label := "ON " + strings.Join(labels, " AND ")
	if len(labels) == 0 {
		label = "ON true"
	}
	k := map[pg_query.JoinType]dataflow.JoinKind{
		pg_query.JoinType_JOIN_LEFT: dataflow.LeftJoin, pg_query.JoinType_JOIN_RIGHT: dataflow.RightJoin,
		pg_query.JoinType_JOIN_FULL: dataflow.FullJoin,
	}[kind]
	return v.g.OuterJoin(left, right, lkey, rkey, pred, k, label), pos, nil
}

// available reports whether every column cj reads has a position.
func (v *viewBuilder) available(cj *conjunct, pos []int) bool {
	if cj.node == nil {
		return pos[cj.a.Index] >= 0 && pos[cj.b.Index] >= 0
	}
	ok := true
	for _, r := range cj.refs {
		if r < 0 || r >= len(pos) || pos[r] < 0 {
			ok = false
		}
	}
	return ok
}
