package expr

import (
	"errors"
	"fmt"
	"math"
	"math/big"

	"github.com/rippledb/ripple/internal/row"
)

// Set-returning functions in FROM (utils/adt/int.c, int8.c and
// timestamp.c's generate_series, arrayfuncs.c's array_unnest): the rows
// one call returns, for the planner's FlatMap.

// MaxSeriesRows bounds the rows one call of a set-returning function may
// return: PostgreSQL has no bound (an infinite series runs until it runs
// out of memory), ripple keeps memory bounded (I5) and fails the view.
const MaxSeriesRows = 1 << 20

// ErrZeroStep is generate_series's error for a step of zero.
var ErrZeroStep = errors.New("step size cannot equal zero")

var errTooManyRows = fmt.Errorf("a set-returning function returned more than %d rows for one row", MaxSeriesRows)

// SeriesInt is generate_series(start, stop, step) over integers of type
// typ (int4 or int8): start, start+step, ... while not past stop. A step
// that would overflow typ ends the series, as in PostgreSQL.
func SeriesInt(start, stop, step int64, typ row.Type) ([]row.Datum, error) {
	if step == 0 {
		return nil, ErrZeroStep
	}
	lo, hi := int64(math.MinInt64), int64(math.MaxInt64)
	if typ.OID != row.OIDInt8 {
		lo, hi = math.MinInt32, math.MaxInt32
	}
	var out []row.Datum
	for cur := start; (step > 0 && cur <= stop) || (step < 0 && cur >= stop); {
		if len(out) == MaxSeriesRows {
			return nil, errTooManyRows
		}
		out = append(out, row.NewInt(cur))
		next, ok := addChecked(cur, step)
		if !ok || next < lo || next > hi {
			break
		}
		cur = next
	}
	return out, nil
}

// SeriesTime is generate_series(start, stop, step) over timestamps (tz
// selects timestamptz, computed in UTC like every timestamptz): each value
// is the previous plus step (months first, clamped to the month's end,
// then days, then time), while not past stop in the direction of step,
// whose sign is that of its length with a month of 30 days. Computing
// the value after the last one can fail with "timestamp out of range",
// as in PostgreSQL.
func SeriesTime(start, stop int64, step row.IntervalValue, tz bool) ([]row.Datum, error) {
	sign := IntervalSign(step)
	if sign == 0 {
		return nil, ErrZeroStep
	}
	mk := row.NewTimestamp
	if tz {
		mk = row.NewTimestampTZ
	}
	var out []row.Datum
	for cur := start; (sign > 0 && cur <= stop) || (sign < 0 && cur >= stop); {
		if len(out) == MaxSeriesRows {
			return nil, errTooManyRows
		}
		out = append(out, mk(cur))
		next, err := timestampPlusInterval(cur, step)
		if err != nil {
			return nil, err
		}
		cur = next
	}
	return out, nil
}

// IntervalSign is the sign of interval_cmp(x, '0'): months count 30 days,
// days 24 hours.
func IntervalSign(x row.IntervalValue) int {
	span := new(big.Int).Mul(big.NewInt(int64(x.Months)), big.NewInt(30*usPerDay))
	span.Add(span, new(big.Int).Mul(big.NewInt(int64(x.Days)), big.NewInt(usPerDay)))
	span.Add(span, big.NewInt(x.Micros))
	return span.Sign()
}

// Unnest is unnest(array) for a one-dimensional array of element type
// elem: its elements in order, NULLs included.
func Unnest(elem row.Type, arr row.Datum) ([]row.Datum, error) {
	elems, err := row.ArrayElems(elem, arr)
	if err != nil {
		return nil, err
	}
	if len(elems) > MaxSeriesRows {
		return nil, errTooManyRows
	}
	return elems, nil
}
