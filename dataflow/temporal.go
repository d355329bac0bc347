package dataflow

import (
	"fmt"
	"math"
	"time"

	"github.com/google/btree"

	"github.com/rippledb/ripple/internal/row"
)

// Time is a graph's logical time: the value now() has in the views, in
// microseconds since 2000-01-01 00:00:00 UTC (PostgreSQL's timestamptz
// representation, so it compares directly with row timestamps). The
// pipeline chooses it; a graph only requires that it never decreases.
type Time int64

// MinTime and MaxTime stand for an unbounded validity interval's ends
// (and for PostgreSQL's -infinity and infinity).
const (
	MinTime Time = math.MinInt64
	MaxTime Time = math.MaxInt64
)

// pgEpoch is 2000-01-01 00:00:00 UTC in Unix microseconds.
const pgEpoch = 946684800 * 1_000_000

// TimeOf converts a wall-clock time to a logical time (truncated to the
// microsecond, as PostgreSQL's now()).
func TimeOf(t time.Time) Time { return Time(t.UnixMicro() - pgEpoch) }

// Go converts a logical time back to a time.Time in UTC.
func (t Time) Go() time.Time { return time.UnixMicro(int64(t) + pgEpoch).UTC() }

// String renders the time as PostgreSQL prints a timestamptz in UTC.
func (t Time) String() string {
	switch t {
	case MinTime:
		return "-infinity"
	case MaxTime:
		return "infinity"
	}
	return t.Go().Format("2006-01-02 15:04:05.999999Z07:00")
}

// Validity computes the interval of logical time [from, until) during
// which a row passes a temporal filter. from == MinTime and until ==
// MaxTime are unbounded; an empty interval (from >= until) means the row
// never passes (a NULL compared with now(), for example). It must be a
// pure function of the row.
type Validity func(row.Row) (from, until Time, err error)

// TemporalFilter keeps the rows of in that are valid at the graph's
// current logical time (SQL `WHERE ts > now() - interval '5 minutes'`,
// with valid computing each row's interval from its columns). Unlike
// every other operator its output changes as time passes with no input:
// a step at a later time emits the rows that became valid and retracts
// the rows that expired since the previous step, then handles the input
// delta at the new time.
//
// State: the rows whose validity will still change (not yet valid, or
// valid until a finite time), with their multiplicity, in a B-tree
// ordered by the time of their next change. Rows valid from now on
// forever, and rows that can never be valid again, are not kept. A step
// costs log(state) per input row and per row whose validity changes, not
// the size of the state.
func (g *Graph) TemporalFilter(in *Node, valid Validity, label string) *Node {
	op := &temporalOp{clock: &g.now, valid: valid, rows: map[string]*temporalEntry{},
		events: btree.NewG(16, lessEvent)}
	return g.add(&Node{inputs: []*Node{in}, schema: in.schema, kind: "TemporalFilter", label: label,
		state: "rows not yet valid or valid until a finite time (multiplicity, validity interval), in a B-tree by the time their validity next changes",
		op:    op})
}

type temporalEntry struct {
	key         string // the row's exact encoding
	row         row.Row
	w           row.Weight
	from, until Time
	next        Time // the time of this entry's event in the B-tree
}

// event is an entry's next change of validity, ordered by time then key.
type event struct {
	at  Time
	key string
}

func lessEvent(a, b event) bool {
	if a.at != b.at {
		return a.at < b.at
	}
	return a.key < b.key
}

type temporalOp struct {
	clock  *Time // the graph's logical time
	valid  Validity
	rows   map[string]*temporalEntry // by the row's exact encoding
	events *btree.BTreeG[event]
	last   Time // the time of the previous step
	primed bool
}

// timed is implemented by operators whose output changes with time alone;
// the graph steps them when due says so even without input.
type timed interface {
	due(now Time) bool
}

func (o *temporalOp) due(now Time) bool {
	ev, ok := o.events.Min()
	return ok && ev.at <= now
}

// nextChange is the time after t at which a row valid during [from,
// until) changes validity, MaxTime for never.
func nextChange(from, until, t Time) Time {
	if t < from {
		return from
	}
	return until
}

func visible(from, until, t Time) bool { return from <= t && t < until }

func (o *temporalOp) step(ins []Batch) (Batch, error) {
	now := *o.clock
	var out Batch
	if o.primed && now > o.last {
		out = o.advance(now)
	}
	var touched []*temporalEntry
	for _, u := range ins[0] {
		from, until, err := o.valid(u.Row)
		if err != nil {
			return nil, err
		}
		if from >= until || until <= now {
			continue // never valid again
		}
		if visible(from, until, now) {
			out = append(out, u)
		}
		if nextChange(from, until, now) == MaxTime {
			continue // valid for good: nothing left to do later
		}
		k := u.Row.EncodeExact()
		e, ok := o.rows[k]
		if !ok {
			e = &temporalEntry{key: k, row: u.Row, from: from, until: until, next: nextChange(from, until, now)}
			o.rows[k] = e
			o.events.ReplaceOrInsert(event{e.next, k})
		}
		e.w += u.W
		touched = append(touched, e)
	}
	// A delta is a multiset: a retraction may come before the insertion
	// it cancels, so multiplicities are checked once the whole delta is in.
	for _, e := range touched {
		if e.w < 0 {
			return nil, fmt.Errorf("negative multiplicity %d for row %v", e.w, e.row)
		}
		if e.w == 0 && o.rows[e.key] == e {
			delete(o.rows, e.key)
			o.events.Delete(event{e.next, e.key})
		}
	}
	o.last, o.primed = now, true
	return out, nil
}

// advance emits the changes of validity between the previous step's time
// and now, in time order, and forgets the rows that can never be valid
// again.
func (o *temporalOp) advance(now Time) Batch {
	var out Batch
	for {
		ev, ok := o.events.Min()
		if !ok || ev.at > now {
			return out
		}
		o.events.DeleteMin()
		e := o.rows[ev.key]
		before, after := visible(e.from, e.until, o.last), visible(e.from, e.until, now)
		switch {
		case !before && after:
			out = append(out, row.Update{Row: e.row, W: e.w})
		case before && !after:
			out = append(out, row.Update{Row: e.row, W: -e.w})
		}
		if e.next = nextChange(e.from, e.until, now); e.next == MaxTime || now >= e.until {
			delete(o.rows, ev.key)
			continue
		}
		o.events.ReplaceOrInsert(event{e.next, ev.key})
	}
}
