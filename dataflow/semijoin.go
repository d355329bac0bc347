package dataflow

import (
	"fmt"

	"github.com/rippledb/ripple/internal/row"
)

// SemiKind says which left rows a SemiJoin keeps.
type SemiKind int

const (
	// Semi keeps a left row when some right row has an equal, non-NULL key
	// (EXISTS and IN as WHERE conditions).
	Semi SemiKind = iota
	// Anti keeps a left row when no right row has an equal key; a left row
	// with a NULL key column matches nothing and is kept (NOT EXISTS).
	Anti
	// AntiNullAware is NOT IN's rule for a one-column key: a left row is
	// kept when the right input is empty, or when the right input holds no
	// NULL key, the left key is not NULL and no right key equals it.
	AntiNullAware
)

func (k SemiKind) String() string {
	return [...]string{"SEMI", "ANTI", "NULL-AWARE ANTI"}[k]
}

// pass reports whether a left row whose key is null (or not) and has cnt
// matching right rows is kept, given the right input's total weight and
// its weight of rows with a NULL key.
func (k SemiKind) pass(null bool, cnt, total, nulls row.Weight) bool {
	switch k {
	case Semi:
		return !null && cnt > 0
	case Anti:
		return null || cnt == 0
	default:
		return total == 0 || (nulls == 0 && !null && cnt == 0)
	}
}

// SemiJoin keeps the rows of left that have (Semi) or have not (Anti,
// AntiNullAware) a right row with left[lkey[i]] = right[rkey[i]] for every
// i; its output rows are left's, each as many times as it is in left (the
// right side only decides membership). An empty key makes the right input's
// emptiness decide for every row. Key columns must have the same kind on
// both sides (the planner casts).
//
// State: left arranged by key; per right key its multiplicity, and the
// right input's total and NULL-key multiplicities. A step costs the size
// of the change plus the left rows of every key whose membership changes
// (for AntiNullAware, every left row when the right input becomes empty or
// non-empty or gains or loses its first NULL key).
func (g *Graph) SemiJoin(left, right *Node, lkey, rkey []int, kind SemiKind, label string) *Node {
	if len(lkey) != len(rkey) {
		panic("dataflow: semi-join key arity mismatch")
	}
	op := &semiJoinOp{lkey: lkey, rkey: rkey, kind: kind, left: g.newArrangement(), counts: map[string]row.Weight{}}
	return g.add(&Node{inputs: []*Node{left, right}, schema: left.schema, kind: kind.String() + " Join", label: label,
		state: "left input arranged by key, multiplicity of each right key", op: op})
}

type semiJoinOp struct {
	lkey, rkey   []int
	kind         SemiKind
	left         *arrangement
	counts       map[string]row.Weight // right key → multiplicity (non-NULL keys)
	total, nulls row.Weight
}

func (o *semiJoinOp) key(r row.Row, cols []int) (string, bool) {
	if hasNull(r, cols) {
		return nullKey, true
	}
	return r.Key(cols), false
}

func (o *semiJoinOp) step(ins []Batch) (Batch, error) {
	var out Batch
	oldTotal, oldNulls := o.total, o.nulls
	oldCounts := map[string]row.Weight{}
	var touched []string
	for _, u := range ins[1] {
		k, null := o.key(u.Row, o.rkey)
		o.total += u.W
		if null {
			o.nulls += u.W
			continue
		}
		if _, ok := oldCounts[k]; !ok {
			oldCounts[k] = o.counts[k]
			touched = append(touched, k)
		}
		o.counts[k] += u.W
	}
	for _, k := range touched {
		c := o.counts[k]
		if c < 0 {
			return nil, fmt.Errorf("negative multiplicity %d for right key", c)
		}
		if c == 0 {
			delete(o.counts, k)
		}
	}
	if o.total < 0 || o.nulls < 0 {
		return nil, fmt.Errorf("negative right multiplicity (total %d, NULL keys %d)", o.total, o.nulls)
	}
	// L_old ⋉ (change of membership).
	var eachErr error
	emit := func(k string, was, is bool) {
		if was == is || eachErr != nil {
			return
		}
		sign := row.Weight(1)
		if was {
			sign = -1
		}
		eachErr = o.left.each(k, func(r row.Row, w row.Weight) {
			out = append(out, row.Update{Row: r, W: sign * w})
		})
	}
	global := o.kind == AntiNullAware && ((oldTotal == 0) != (o.total == 0) || (oldNulls == 0) != (o.nulls == 0))
	if global {
		err := o.left.eachKey(func(k string) {
			null := k == nullKey
			old, ok := oldCounts[k]
			if !ok {
				old = o.counts[k]
			}
			emit(k, o.kind.pass(null, old, oldTotal, oldNulls), o.kind.pass(null, o.counts[k], o.total, o.nulls))
		})
		if err != nil {
			return nil, err
		}
	} else {
		for _, k := range touched {
			emit(k, o.kind.pass(false, oldCounts[k], oldTotal, oldNulls), o.kind.pass(false, o.counts[k], o.total, o.nulls))
		}
	}
	if eachErr != nil {
		return nil, eachErr
	}
	// ΔL ⋉ R_new, then L += ΔL.
	for _, u := range ins[0] {
		k, null := o.key(u.Row, o.lkey)
		if o.kind.pass(null, o.counts[k], o.total, o.nulls) {
			out = append(out, u)
		}
		o.left.add(k, u.Row, u.W)
	}
	if err := o.left.settle(); err != nil {
		return nil, err
	}
	return out, nil
}

// NotIn is NOT IN (subquery) correlated by equalities: left rows are kept
// by PostgreSQL's NOT IN rule applied, for each left row, to the right
// rows whose first ngroup key columns equal the left row's (its
// correlation group). The last key column is the NOT IN operand. A left
// row is kept when its group has no right row (always so when a
// correlation column is NULL, which matches nothing), or when the group
// holds no NULL operand, the left operand is not NULL and no right
// operand in the group equals it. Right rows with a NULL correlation
// column belong to no group.
//
// State: left arranged by correlation group; per right group its total
// and NULL-operand multiplicities, and per right key its multiplicity. A
// step costs the size of the change plus the left rows of every group
// whose outcome changes.
func (g *Graph) NotIn(left, right *Node, lkey, rkey []int, ngroup int, label string) *Node {
	if len(lkey) != len(rkey) || ngroup >= len(lkey) {
		panic("dataflow: NOT IN key arity mismatch")
	}
	op := &notInOp{lkey: lkey, rkey: rkey, ngroup: ngroup, left: g.newArrangement(),
		counts: map[string]row.Weight{}, groups: map[string]*notInGroup{}}
	return g.add(&Node{inputs: []*Node{left, right}, schema: left.schema, kind: "NOT IN Join", label: label,
		state: "left input arranged by correlation, per right group its size and NULL count, multiplicity of each right key", op: op})
}

type notInGroup struct{ total, nulls row.Weight }

type notInOp struct {
	lkey, rkey []int
	ngroup     int
	left       *arrangement // by group key
	counts     map[string]row.Weight
	groups     map[string]*notInGroup
}

// split returns a row's group key (ok false when a correlation column is
// NULL), its full key, and whether its operand is NULL.
func (o *notInOp) split(r row.Row, key []int) (gk, full string, ok, null bool) {
	if hasNull(r, key[:o.ngroup]) {
		return "", "", false, false
	}
	gk = r.Key(key[:o.ngroup])
	null = r[key[o.ngroup]].IsNull()
	if !null {
		full = r.Key(key)
	}
	return gk, full, true, null
}

func (o *notInOp) keep(grp notInGroup, cnt row.Weight, null bool) bool {
	return grp.total == 0 || (grp.nulls == 0 && !null && cnt == 0)
}

func (o *notInOp) step(ins []Batch) (Batch, error) {
	var out Batch
	oldGroups := map[string]notInGroup{}
	oldCounts := map[string]row.Weight{}
	for _, u := range ins[1] {
		gk, full, ok, null := o.split(u.Row, o.rkey)
		if !ok {
			continue
		}
		grp := o.groups[gk]
		if grp == nil {
			grp = &notInGroup{}
			o.groups[gk] = grp
		}
		if _, seen := oldGroups[gk]; !seen {
			oldGroups[gk] = notInGroup{grp.total - 0, grp.nulls}
		}
		grp.total += u.W
		if null {
			grp.nulls += u.W
			continue
		}
		if _, seen := oldCounts[full]; !seen {
			oldCounts[full] = o.counts[full]
		}
		o.counts[full] += u.W
	}
	// L_old: re-decide every left row of a touched group.
	for gk, old := range oldGroups {
		grp := o.groups[gk]
		if grp.total < 0 || grp.nulls < 0 {
			return nil, fmt.Errorf("negative right multiplicity in a NOT IN group")
		}
		err := o.left.each(gk, func(r row.Row, w row.Weight) {
			_, full, _, null := o.split(r, o.lkey)
			oc, ok := oldCounts[full]
			if !ok {
				oc = o.counts[full]
			}
			was, is := o.keep(old, oc, null), o.keep(*grp, o.counts[full], null)
			switch {
			case was && !is:
				out = append(out, row.Update{Row: r, W: -w})
			case !was && is:
				out = append(out, row.Update{Row: r, W: w})
			}
		})
		if err != nil {
			return nil, err
		}
	}
	for full := range oldCounts {
		if c := o.counts[full]; c < 0 {
			return nil, fmt.Errorf("negative multiplicity %d for right key", c)
		} else if c == 0 {
			delete(o.counts, full)
		}
	}
	for gk := range oldGroups {
		if grp := o.groups[gk]; grp.total == 0 && grp.nulls == 0 {
			delete(o.groups, gk)
		}
	}
	// ΔL against the new right side, then L += ΔL.
	for _, u := range ins[0] {
		gk, full, ok, null := o.split(u.Row, o.lkey)
		if !ok {
			out = append(out, u) // a NULL correlation: the subquery is empty
			continue
		}
		var grp notInGroup
		if p := o.groups[gk]; p != nil {
			grp = *p
		}
		if o.keep(grp, o.counts[full], null) {
			out = append(out, u)
		}
		o.left.add(gk, u.Row, u.W)
	}
	if err := o.left.settle(); err != nil {
		return nil, err
	}
	return out, nil
}
