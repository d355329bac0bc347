package dataflow

import (
	"fmt"

	"github.com/rippledb/ripple/internal/row"
)

// JoinKind says which sides of an OuterJoin are preserved: their rows
// without a match appear once, extended with NULLs for the other side.
type JoinKind int

const (
	// InnerJoin keeps matched pairs only.
	InnerJoin JoinKind = iota
	// LeftJoin also keeps unmatched left rows.
	LeftJoin
	// RightJoin also keeps unmatched right rows.
	RightJoin
	// FullJoin keeps unmatched rows of both sides.
	FullJoin
)

func (k JoinKind) String() string {
	return [...]string{"INNER", "LEFT", "RIGHT", "FULL"}[k]
}

func (k JoinKind) keepsLeft() bool  { return k == LeftJoin || k == FullJoin }
func (k JoinKind) keepsRight() bool { return k == RightJoin || k == FullJoin }

// OuterJoin is SQL's LEFT, RIGHT or FULL [OUTER] JOIN (or an inner join)
// of left and right ON left[lkey[i]] = right[rkey[i]] for every i AND
// pred(left row ++ right row). Both the keys and pred decide matching (they
// are the ON condition, not a filter on the result): a left row matched by
// no right row appears once per copy, extended with NULLs for the right
// columns, when kind keeps the left side (likewise for the right side). A
// row with a NULL key never matches. pred may be nil (true); an empty key
// makes it a cross join whose state holds each whole side.
//
// State, when pred is nil: both inputs arranged by join key, as an inner
// join's (they can move to the spill store). Every row of a key is matched
// by the same rows, so whether it is matched is its key's: a step reads
// the buckets of the keys it changes, on both sides when the other side's
// change may start or end the matches, and emits or retracts the
// NULL-extended rows of a key when its other side becomes empty or stops
// being so.
//
// State with a pred: both inputs arranged by join key in memory; each
// distinct row carries its number of matches on the other side. A step
// costs the size of the change times the number of rows sharing its key on
// the other side: when a row's first match appears its NULL-extended row
// is retracted, when its last match disappears the NULL-extended row comes
// back. That state counts toward the graph's operator memory; once the
// graph moves it to the spill store, both inputs are arrangements there
// (without match counts), and a step reads the buckets of the keys it
// changes: a row whose match status may change (a changed row, or one the
// other side's change matches) has its matches counted again over the
// other side's bucket.
func (g *Graph) OuterJoin(left, right *Node, lkey, rkey []int, pred func(row.Row) (bool, error), kind JoinKind, label string) *Node {
	if len(lkey) != len(rkey) {
		panic("dataflow: join key arity mismatch")
	}
	schema := append(append(row.Schema{}, left.schema...), right.schema...)
	if pred == nil {
		op := &outerEquiJoinOp{lkey: lkey, rkey: rkey, kind: kind, lw: len(left.schema), rw: len(right.schema),
			left: g.newArrangement(), right: g.newArrangement()}
		return g.add(&Node{inputs: []*Node{left, right}, schema: schema, kind: kind.String() + " Join", label: label,
			state: "both inputs arranged by join key", op: op})
	}
	op := &outerJoinOp{lkey: lkey, rkey: rkey, pred: pred, kind: kind,
		lw: len(left.schema), rw: len(right.schema), left: newMatchArr(), right: newMatchArr(),
		state: g.newArrangement(), lrows: g.newArrangement(), rrows: g.newArrangement()}
	op.state.moved = op.writeOut
	state := "both inputs arranged by join key, with per-row match counts"
	return g.add(&Node{inputs: []*Node{left, right}, schema: schema, kind: kind.String() + " Join", label: label,
		state: state, op: op})
}

// matchEntry is one distinct row of one side of an outer join.
type matchEntry struct {
	row     row.Row
	w       row.Weight // multiplicity
	matches row.Weight // weighted number of matching rows on the other side
}

// matchArr is an arrangement whose entries count their matches. Rows with
// a NULL key live under nullKey, which no lookup ever reaches.
type matchArr struct {
	buckets map[string]map[string]*matchEntry
	bytes   int64 // estimated memory of the entries (matchEntryBytes)
}

const nullKey = "\xff"

func newMatchArr() *matchArr { return &matchArr{buckets: map[string]map[string]*matchEntry{}} }

func (a *matchArr) get(key string, r row.Row) (*matchEntry, bool) {
	b, ok := a.buckets[key]
	if !ok {
		b = map[string]*matchEntry{}
		a.buckets[key] = b
	}
	rk := r.EncodeExact()
	e, ok := b[rk]
	if !ok {
		e = &matchEntry{row: r}
		b[rk] = e
		a.bytes += matchEntryBytes(rk, e)
		return e, true
	}
	return e, false
}

// sweep drops entries of key whose multiplicity is zero and reports one
// left negative.
func (a *matchArr) sweep(key string) error {
	b := a.buckets[key]
	for rk, e := range b {
		if e.w < 0 {
			return fmt.Errorf("negative multiplicity %d for row %v", e.w, e.row)
		}
		if e.w == 0 {
			delete(b, rk)
			a.bytes -= matchEntryBytes(rk, e)
		}
	}
	if len(b) == 0 {
		delete(a.buckets, key)
	}
	return nil
}

type outerJoinOp struct {
	lkey, rkey  []int
	pred        func(row.Row) (bool, error)
	kind        JoinKind
	lw, rw      int
	left, right *matchArr
	// state stands for left and right in the graph's operator memory: it
	// holds nothing, its bytes are theirs (mem). Once the graph moves it
	// to the spill store, the inputs' rows move to lrows and rrows (which
	// hold nothing until then) and left and right are dropped.
	state, lrows, rrows *arrangement
}

// matchEntryBytes estimates the memory of a matchArr entry: its map slot
// and key (the row's exact encoding), the entry and the row's datums.
func matchEntryBytes(key string, e *matchEntry) int64 {
	return 128 + 2*int64(len(key)) + 40*int64(len(e.row))
}

// before is an entry's contribution to the NULL-extended output at the
// start of the step.
type before struct {
	w, matches row.Weight
}

func unmatched(w, matches row.Weight) row.Weight {
	if matches == 0 {
		return w
	}
	return 0
}

func (o *outerJoinOp) key(r row.Row, cols []int) string {
	if hasNull(r, cols) {
		return nullKey
	}
	return r.Key(cols)
}

func (o *outerJoinOp) match(l, r row.Row) (row.Row, bool, error) {
	c := concat(l, r)
	if o.pred == nil {
		return c, true, nil
	}
	ok, err := o.pred(c)
	return c, ok, err
}

func (o *outerJoinOp) step(ins []Batch) (Batch, error) {
	if o.state.disk != nil {
		return o.diskStep(ins)
	}
	out, err := o.memStep(ins)
	o.state.bytes = o.left.bytes + o.right.bytes
	return out, err
}

func (o *outerJoinOp) memStep(ins []Batch) (Batch, error) {
	var out Batch
	touchedL := map[*matchEntry]before{}
	touchedR := map[*matchEntry]before{}
	var orderL, orderR []*matchEntry
	keysL, keysR := map[string]bool{}, map[string]bool{}
	touch := func(m map[*matchEntry]before, order *[]*matchEntry, e *matchEntry) {
		if _, ok := m[e]; !ok {
			m[e] = before{e.w, e.matches}
			*order = append(*order, e)
		}
	}
	// ΔL ⋈ R, then L += ΔL.
	for _, u := range ins[0] {
		k := o.key(u.Row, o.lkey)
		keysL[k] = true
		e, fresh := o.left.get(k, u.Row)
		touch(touchedL, &orderL, e)
		if k != nullKey {
			for _, r := range o.right.buckets[k] {
				c, ok, err := o.match(u.Row, r.row)
				if err != nil {
					return nil, err
				}
				if !ok {
					continue
				}
				if r.w != 0 {
					out = append(out, row.Update{Row: c, W: u.W * r.w})
				}
				touch(touchedR, &orderR, r)
				r.matches += u.W
				if fresh {
					e.matches += r.w
				}
			}
		}
		e.w += u.W
	}
	// (L+ΔL) ⋈ ΔR, then R += ΔR.
	for _, u := range ins[1] {
		k := o.key(u.Row, o.rkey)
		keysR[k] = true
		e, fresh := o.right.get(k, u.Row)
		touch(touchedR, &orderR, e)
		if k != nullKey {
			for _, l := range o.left.buckets[k] {
				c, ok, err := o.match(l.row, u.Row)
				if err != nil {
					return nil, err
				}
				if !ok {
					continue
				}
				if l.w != 0 {
					out = append(out, row.Update{Row: c, W: l.w * u.W})
				}
				touch(touchedL, &orderL, l)
				l.matches += u.W
				if fresh {
					e.matches += l.w
				}
			}
		}
		e.w += u.W
	}
	if o.kind.keepsLeft() {
		nulls := make(row.Row, o.rw)
		for _, e := range orderL {
			b := touchedL[e]
			if d := unmatched(e.w, e.matches) - unmatched(b.w, b.matches); d != 0 {
				out = append(out, row.Update{Row: concat(e.row, nulls), W: d})
			}
		}
	}
	if o.kind.keepsRight() {
		nulls := make(row.Row, o.lw)
		for _, e := range orderR {
			b := touchedR[e]
			if d := unmatched(e.w, e.matches) - unmatched(b.w, b.matches); d != 0 {
				out = append(out, row.Update{Row: concat(nulls, e.row), W: d})
			}
		}
	}
	for k := range keysL {
		if err := o.left.sweep(k); err != nil {
			return nil, err
		}
	}
	for k := range keysR {
		if err := o.right.sweep(k); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// writeOut moves both inputs' rows to lrows and rrows once the graph has
// moved state to the spill store; the graph moves those too while they
// pass the budget.
//
// Only positive entries are written: a failed step (its view failed) may
// have left others, which are not state.
func (o *outerJoinOp) writeOut() error {
	for side, m := range map[*arrangement]*matchArr{o.lrows: o.left, o.rrows: o.right} {
		for k, b := range m.buckets {
			for _, e := range b {
				if e.w > 0 {
					side.add(k, e.row, e.w)
				}
			}
		}
	}
	o.left, o.right = newMatchArr(), newMatchArr()
	if err := o.lrows.settle(); err != nil {
		return err
	}
	return o.rrows.settle()
}

// diskStep is a step once the inputs live in lrows and rrows: per changed
// key, both buckets are read once, the joined rows change as in a join
// (ΔL ⋈ R, then L' ⋈ ΔR), and the rows whose match status may have changed
// have their matches counted before and after over the other bucket.
func (o *outerJoinOp) diskStep(ins []Batch) (Batch, error) {
	var out Batch
	var keys []string
	deltas := map[string]*keyDelta{}
	lnulls, rnulls := make(row.Row, o.rw), make(row.Row, o.lw)
	sides := [2]struct {
		key   []int
		rows  *arrangement
		keeps bool
		ext   func(row.Row) row.Row
	}{
		{o.lkey, o.lrows, o.kind.keepsLeft(), func(r row.Row) row.Row { return concat(r, lnulls) }},
		{o.rkey, o.rrows, o.kind.keepsRight(), func(r row.Row) row.Row { return concat(rnulls, r) }},
	}
	for i, in := range ins {
		sd := sides[i]
		for _, u := range in {
			if hasNull(u.Row, sd.key) {
				// Never matched: NULL-extended as it is (kept under
				// nullKey only so that settle checks its multiplicity).
				sd.rows.add(nullKey, u.Row, u.W)
				if sd.keeps {
					out = append(out, row.Update{Row: sd.ext(u.Row), W: u.W})
				}
				continue
			}
			k := u.Row.Key(sd.key)
			d, ok := deltas[k]
			if !ok {
				d = &keyDelta{}
				deltas[k] = d
				keys = append(keys, k)
			}
			if i == 0 {
				d.l = append(d.l, u)
			} else {
				d.r = append(d.r, u)
			}
		}
	}
	for _, k := range keys {
		var err error
		if out, err = o.keyStep(out, k, deltas[k]); err != nil {
			return nil, err
		}
	}
	if err := o.lrows.settle(); err != nil {
		return nil, err
	}
	if err := o.rrows.settle(); err != nil {
		return nil, err
	}
	return out, nil
}

// keyStep appends the change of one key's output to out and applies the
// key's changes d to lrows and rrows.
func (o *outerJoinOp) keyStep(out Batch, k string, d *keyDelta) (Batch, error) {
	lold, err := o.lrows.entries(k)
	if err != nil {
		return nil, err
	}
	rold, err := o.rrows.entries(k)
	if err != nil {
		return nil, err
	}
	lnew, err := applyEntries(lold, d.l)
	if err != nil {
		return nil, err
	}
	rnew, err := applyEntries(rold, d.r)
	if err != nil {
		return nil, err
	}
	// The rows whose matches may have changed: the changed ones, and
	// those a change of the other side matches.
	affL, affR := map[string]bool{}, map[string]bool{}
	for _, u := range d.l {
		affL[string(row.AppendBinary(nil, u.Row))] = true
	}
	for _, u := range d.r {
		affR[string(row.AppendBinary(nil, u.Row))] = true
	}
	for _, u := range d.l { // ΔL ⋈ R
		for _, r := range rold {
			c, ok, err := o.match(u.Row, r.row)
			if err != nil {
				return nil, err
			}
			if ok && r.w != 0 {
				out = append(out, row.Update{Row: c, W: u.W * r.w})
				affR[r.enc] = true
			}
		}
	}
	for _, u := range d.r { // L' ⋈ ΔR
		for _, l := range lnew {
			c, ok, err := o.match(l.row, u.Row)
			if err != nil {
				return nil, err
			}
			if ok && l.w != 0 {
				out = append(out, row.Update{Row: c, W: l.w * u.W})
				affL[l.enc] = true
			}
		}
	}
	if o.kind.keepsLeft() {
		nulls := make(row.Row, o.rw)
		if out, err = o.extend(out, affL, lold, lnew, rold, rnew, func(l, r row.Row) (bool, error) {
			_, ok, err := o.match(l, r)
			return ok, err
		}, func(l row.Row) row.Row { return concat(l, nulls) }); err != nil {
			return nil, err
		}
	}
	if o.kind.keepsRight() {
		nulls := make(row.Row, o.lw)
		if out, err = o.extend(out, affR, rold, rnew, lold, lnew, func(r, l row.Row) (bool, error) {
			_, ok, err := o.match(l, r)
			return ok, err
		}, func(r row.Row) row.Row { return concat(nulls, r) }); err != nil {
			return nil, err
		}
	}
	for _, u := range d.l {
		o.lrows.add(k, u.Row, u.W)
	}
	for _, u := range d.r {
		o.rrows.add(k, u.Row, u.W)
	}
	return out, nil
}

// extend appends the change of the NULL-extended rows of a kept side's
// affected rows (by encoding): a row is NULL-extended, once per copy,
// while nothing on the other side matches it. old, new are the side's
// bucket before and after the step (new lists old's rows first, then the
// new ones), oold, onew the other side's; matches says whether a row of
// the side matches one of the other side.
func (o *outerJoinOp) extend(out Batch, affected map[string]bool, old, new, oold, onew []sortedEntry,
	matches func(mine, other row.Row) (bool, error), ext func(row.Row) row.Row) (Batch, error) {
	// Only whether a row has a match matters, and the multiplicities of
	// a bucket's rows are positive (or 0: gone): the first match decides.
	count := func(r row.Row, other []sortedEntry) (row.Weight, error) {
		for _, e := range other {
			if e.w <= 0 {
				continue
			}
			ok, err := matches(r, e.row)
			if err != nil || ok {
				return 1, err
			}
		}
		return 0, nil
	}
	weights := func(es []sortedEntry) map[string]sortedEntry {
		m := make(map[string]sortedEntry, len(es))
		for _, e := range es {
			m[e.enc] = e
		}
		return m
	}
	wold := weights(old)
	for _, e := range new { // in the bucket's order: the output is deterministic
		if !affected[e.enc] {
			continue
		}
		b := wold[e.enc]
		var mb, ma row.Weight
		var err error
		if b.w != 0 {
			if mb, err = count(e.row, oold); err != nil {
				return nil, err
			}
		}
		if e.w != 0 {
			if ma, err = count(e.row, onew); err != nil {
				return nil, err
			}
		}
		if d := unmatched(e.w, ma) - unmatched(b.w, mb); d != 0 {
			out = append(out, row.Update{Row: ext(e.row), W: d})
		}
	}
	return out, nil
}

// outerEquiJoinOp is an OuterJoin whose ON condition is its key
// equalities alone.
type outerEquiJoinOp struct {
	lkey, rkey  []int
	kind        JoinKind
	lw, rw      int
	left, right *arrangement
}

// keyDelta is one join key's changes on each side within a step.
type keyDelta struct{ l, r Batch }

func (o *outerEquiJoinOp) step(ins []Batch) (Batch, error) {
	var out Batch
	nullR, nullL := make(row.Row, o.rw), make(row.Row, o.lw)
	keys := map[string]*keyDelta{}
	var order []string
	at := func(k string) *keyDelta {
		d, ok := keys[k]
		if !ok {
			d = &keyDelta{}
			keys[k] = d
			order = append(order, k)
		}
		return d
	}
	// A row with a NULL key matches nothing: it is NULL-extended if its
	// side is kept, and never stored.
	for _, u := range ins[0] {
		switch {
		case !hasNull(u.Row, o.lkey):
			d := at(u.Row.Key(o.lkey))
			d.l = append(d.l, u)
		case o.kind.keepsLeft():
			out = append(out, row.Update{Row: concat(u.Row, nullR), W: u.W})
		}
	}
	for _, u := range ins[1] {
		switch {
		case !hasNull(u.Row, o.rkey):
			d := at(u.Row.Key(o.rkey))
			d.r = append(d.r, u)
		case o.kind.keepsRight():
			out = append(out, row.Update{Row: concat(nullL, u.Row), W: u.W})
		}
	}
	var oldL, oldR []counted
	read := func(a *arrangement, k string, into []counted) ([]counted, row.Weight, error) {
		var total row.Weight
		err := a.each(k, func(r row.Row, w row.Weight) {
			into = append(into, counted{r, w})
			total += w
		})
		return into, total, err
	}
	for _, k := range order {
		d := keys[k]
		// A side's old rows are needed to join the other side's change,
		// and, where the other side is kept, to know whether its rows
		// were matched and to NULL-extend or retract them when that
		// changes.
		var totL, totR row.Weight
		var err error
		oldL, oldR = oldL[:0], oldR[:0]
		if len(d.l) > 0 || (o.kind.keepsLeft() && len(d.r) > 0) {
			if oldR, totR, err = read(o.right, k, oldR); err != nil {
				return nil, err
			}
		}
		if len(d.r) > 0 || (o.kind.keepsRight() && len(d.l) > 0) {
			if oldL, totL, err = read(o.left, k, oldL); err != nil {
				return nil, err
			}
		}
		// ΔL ⋈ R + L ⋈ ΔR + ΔL ⋈ ΔR.
		for _, u := range d.l {
			for _, r := range oldR {
				out = append(out, row.Update{Row: concat(u.Row, r.row), W: u.W * r.w})
			}
		}
		for _, v := range d.r {
			for _, l := range oldL {
				out = append(out, row.Update{Row: concat(l.row, v.Row), W: l.w * v.W})
			}
			for _, u := range d.l {
				out = append(out, row.Update{Row: concat(u.Row, v.Row), W: u.W * v.W})
			}
		}
		if o.kind.keepsLeft() {
			out = nullExtend(out, totR, totR+weightOf(d.r), oldL, d.l, func(r row.Row) row.Row { return concat(r, nullR) })
		}
		if o.kind.keepsRight() {
			out = nullExtend(out, totL, totL+weightOf(d.l), oldR, d.r, func(r row.Row) row.Row { return concat(nullL, r) })
		}
		for _, u := range d.l {
			o.left.add(k, u.Row, u.W)
		}
		for _, u := range d.r {
			o.right.add(k, u.Row, u.W)
		}
	}
	if err := o.left.settle(); err != nil {
		return nil, err
	}
	if err := o.right.settle(); err != nil {
		return nil, err
	}
	return out, nil
}

func weightOf(b Batch) row.Weight {
	var w row.Weight
	for _, u := range b {
		w += u.W
	}
	return w
}

// nullExtend appends one key's change of NULL-extended rows of a kept
// side: its rows are unmatched while the other side's rows of the key
// weigh nothing (before, after: their total before and after the step).
// old is the side's rows before the step (read whenever before and after
// differ), delta its change.
func nullExtend(out Batch, before, after row.Weight, old []counted, delta Batch, ext func(row.Row) row.Row) Batch {
	switch {
	case before == 0 && after == 0:
		for _, u := range delta {
			out = append(out, row.Update{Row: ext(u.Row), W: u.W})
		}
	case before == 0:
		for _, c := range old {
			out = append(out, row.Update{Row: ext(c.row), W: -c.w})
		}
	case after == 0:
		for _, c := range old {
			out = append(out, row.Update{Row: ext(c.row), W: c.w})
		}
		for _, u := range delta {
			out = append(out, row.Update{Row: ext(u.Row), W: u.W})
		}
	}
	return out
}

// SetOpKind is a set operation with PostgreSQL's multiplicity rules.
type SetOpKind int

const (
	// Intersect: a row is in the result once when it is in both inputs.
	Intersect SetOpKind = iota
	// IntersectAll: min(m, n) copies.
	IntersectAll
	// Except: once when it is in the left input and not in the right.
	Except
	// ExceptAll: max(m - n, 0) copies.
	ExceptAll
)

func (k SetOpKind) String() string {
	return [...]string{"INTERSECT", "INTERSECT ALL", "EXCEPT", "EXCEPT ALL"}[k]
}

func (k SetOpKind) count(m, n row.Weight) row.Weight {
	switch k {
	case Intersect:
		if m > 0 && n > 0 {
			return 1
		}
	case IntersectAll:
		return min(m, n)
	case Except:
		if m > 0 && n == 0 {
			return 1
		}
	case ExceptAll:
		return max(m-n, 0)
	}
	return 0
}

// SetOp is INTERSECT [ALL] or EXCEPT [ALL] of left and right, which must
// have the same number of columns. Rows are compared as set operations do
// (NULL equals NULL, 1.0 equals 1.00); the output row of a group of equal
// rows is the first left row seen while the group had none.
//
// State: per distinct row, its multiplicity in each input, in two
// arrangements keyed by the row's SQL-equality encoding with one entry per
// key (the left one under the representative's binary encoding), so it can
// move to the spill store. A step costs the number of changed rows.
func (g *Graph) SetOp(left, right *Node, kind SetOpKind, label string) *Node {
	return g.add(&Node{inputs: []*Node{left, right}, schema: left.schema, kind: "SetOp", label: label,
		state: "multiplicity of each distinct row in each input",
		op:    &setOp{kind: kind, left: g.newArrangement(), right: g.newArrangement()}})
}

type setOp struct {
	kind        SetOpKind
	left, right *arrangement
	enc         []byte
}

func (o *setOp) step(ins []Batch) (Batch, error) {
	// A touched key: its representative and multiplicities before the
	// step (as stored) and as the step leaves them.
	type change struct {
		key          string
		prevRep, rep string
		prevM, prevN row.Weight
		m, n         row.Weight
	}
	var touched []change
	index := map[string]int{}
	for side, b := range ins {
		for _, u := range b {
			k := u.Row.Encode()
			i, ok := index[k]
			if !ok {
				rep, m, _, err := o.left.first(k)
				if err != nil {
					return nil, err
				}
				_, n, _, err := o.right.first(k)
				if err != nil {
					return nil, err
				}
				i = len(touched)
				index[k] = i
				touched = append(touched, change{key: k, prevRep: rep, rep: rep, prevM: m, prevN: n, m: m, n: n})
			}
			c := &touched[i]
			if side == 0 {
				// The output shows a left row (as PostgreSQL's does); it
				// is chosen when the first left copy arrives.
				if c.m <= 0 && u.W > 0 {
					o.enc = row.AppendBinary(o.enc[:0], u.Row)
					c.rep = string(o.enc)
				}
				c.m += u.W
			} else {
				c.n += u.W
			}
		}
	}
	var out Batch
	emit := func(enc string, w row.Weight) error {
		r, err := decodeRow(enc)
		if err != nil {
			return fmt.Errorf("set operation: %w", err)
		}
		out = append(out, row.Update{Row: r, W: w})
		return nil
	}
	for _, c := range touched {
		if c.m < 0 || c.n < 0 {
			if c.rep == "" { // never inserted on the left: no row to show
				return nil, fmt.Errorf("negative multiplicity in a set operation: a row retracted more often than it was inserted")
			}
			return nil, negativeError(min(c.m, c.n), c.rep)
		}
		// One entry per key: the left one moves when its representative
		// changes (the right one's row is never shown).
		if c.rep == c.prevRep {
			o.left.addEnc(c.key, c.rep, c.m-c.prevM)
		} else {
			o.left.addEnc(c.key, c.prevRep, -c.prevM)
			o.left.addEnc(c.key, c.rep, c.m)
		}
		o.right.addEnc(c.key, "", c.n-c.prevN)
		prev, next := o.kind.count(c.prevM, c.prevN), o.kind.count(c.m, c.n)
		var err error
		switch {
		case c.rep == c.prevRep && next != prev:
			err = emit(c.rep, next-prev)
		case c.rep != c.prevRep:
			if prev > 0 {
				err = emit(c.prevRep, -prev)
			}
			if next > 0 && err == nil {
				err = emit(c.rep, next)
			}
		}
		if err != nil {
			return nil, err
		}
	}
	if err := o.left.settle(); err != nil {
		return nil, err
	}
	if err := o.right.settle(); err != nil {
		return nil, err
	}
	return out, nil
}
