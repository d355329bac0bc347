package expr

import (
	"errors"
	"fmt"
	"math"
	"math/big"

	"github.com/cockroachdb/apd/v3"

	"github.com/rippledb/ripple/internal/row"
)

// Interval arithmetic with PostgreSQL's semantics (utils/adt/timestamp.c):
// timestamp ± interval adds months first (clamping the day to the end of
// the month), then days on the calendar, then microseconds; ts - ts is
// justify_hours of the microsecond difference; interval * number cascades
// fractional months into 30-day days and fractional days into seconds.
// timestamptz is computed in UTC, the TimeZone ripple pins, where a day is
// always 24 hours.

var (
	errIntervalRange  = errors.New("interval out of range")
	errTimestampRange = errors.New("timestamp out of range")
)

// Valid timestamps: [minTimestamp, endTimestamp) microseconds since 2000.
const (
	minTimestamp int64 = -211813488000000000
	endTimestamp int64 = 9223371331200000000
)

func init() {
	for k, v := range map[string]func(c *Compiler, f *funcCtx) (Expr, error){
		"age": intervalAge, "justify_days": justifyFunc, "justify_hours": justifyFunc,
		"justify_interval": justifyFunc,
	} {
		moreFuncs[k] = v
	}
}

func isTimeType(t row.Type) bool {
	return t.OID == row.OIDTimestamp || t.OID == row.OIDTimestampTZ || t.OID == row.OIDDate
}

func isFinite(us int64) bool { return us != row.PosInfinity && us != row.NegInfinity }

// intervalArith handles the operators with an interval operand, and
// timestamp - timestamp. ok is false when none applies.
func (c *Compiler) intervalArith(op string, l, r Expr, loc int) (Expr, bool, error) {
	lt, rt := l.Type.OID, r.Type.OID
	li, ri := lt == row.OIDInterval, rt == row.OIDInterval
	text := fmt.Sprintf("(%s %s %s)", l.Text, op, r.Text)
	mk := func(t row.Type, f func(a, b row.Datum) (row.Datum, error)) (Expr, bool, error) {
		return c.located(binaryExpr(t, text, l, r, f), loc), true, nil
	}
	switch {
	case li && ri && (op == "+" || op == "-"):
		return mk(row.Interval, func(a, b row.Datum) (row.Datum, error) {
			y := b.Interval()
			if op == "-" {
				var err error
				if y, err = negInterval(y); err != nil {
					return row.Null, err
				}
			}
			return addIntervals(a.Interval(), y)
		})
	case (op == "+" || op == "-") && ri && isTimeType(l.Type), op == "+" && li && isTimeType(r.Type):
		ts := l
		if li {
			ts = r
		}
		rt := row.Timestamp
		if ts.Type.OID == row.OIDTimestampTZ {
			rt = row.TimestampTZ
		}
		ts, err := Cast(ts, rt, false)
		if err != nil {
			return Expr{}, true, c.errAt(loc, err)
		}
		if li {
			r = ts
		} else {
			l = ts
		}
		neg := op == "-"
		return mk(rt, func(a, b row.Datum) (row.Datum, error) {
			t, v := a, b
			if li {
				t, v = b, a
			}
			x := v.Interval()
			if neg {
				var err error
				if x, err = negInterval(x); err != nil {
					return row.Null, err
				}
			}
			us, err := timestampPlusInterval(t.Int(), x)
			if err != nil {
				return row.Null, err
			}
			if rt.OID == row.OIDTimestampTZ {
				return row.NewTimestampTZ(us), nil
			}
			return row.NewTimestamp(us), nil
		})
	case op == "-" && isTimeType(l.Type) && isTimeType(r.Type) && (lt != row.OIDDate || rt != row.OIDDate):
		t := row.Timestamp
		if lt == row.OIDTimestampTZ || rt == row.OIDTimestampTZ {
			t = row.TimestampTZ
		}
		var err error
		if l, err = Cast(l, t, false); err == nil {
			r, err = Cast(r, t, false)
		}
		if err != nil {
			return Expr{}, true, c.errAt(loc, err)
		}
		return mk(row.Interval, func(a, b row.Datum) (row.Datum, error) {
			x, y := a.Int(), b.Int()
			if !isFinite(x) || !isFinite(y) {
				return row.Null, errors.New("cannot subtract infinite timestamps")
			}
			d, ok := subChecked(x, y)
			if !ok {
				return row.Null, errIntervalRange
			}
			iv, err := justifyHours(row.IntervalValue{Micros: d})
			if err != nil {
				return row.Null, err
			}
			return row.NewInterval(iv), nil
		})
	case (op == "*" && (li && typeCategory(r.Type) == 'N' || ri && typeCategory(l.Type) == 'N')) ||
		(op == "/" && li && typeCategory(r.Type) == 'N'):
		n := r
		if ri {
			n = l
		}
		n, err := Cast(n, row.Float8, false)
		if err != nil {
			return Expr{}, true, c.errAt(loc, err)
		}
		if ri {
			l = n
		} else {
			r = n
		}
		div := op == "/"
		return mk(row.Interval, func(a, b row.Datum) (row.Datum, error) {
			x, f := a, b
			if ri {
				x, f = b, a
			}
			out, err := scaleInterval(x.Interval(), f.Float(), div)
			if err != nil {
				return row.Null, err
			}
			return row.NewInterval(out), nil
		})
	case li || ri:
		return Expr{}, true, c.errAt(loc, noOperator(op, l.Type, r.Type))
	}
	return Expr{}, false, nil
}

func subChecked(a, b int64) (int64, bool) {
	r := a - b
	return r, (r < a) == (b > 0)
}

func addChecked(a, b int64) (int64, bool) {
	r := a + b
	return r, (r > a) == (b > 0)
}

func fitsInt32(v int64) bool { return v == int64(int32(v)) }

// negInterval is interval_um.
func negInterval(x row.IntervalValue) (row.IntervalValue, error) {
	if x.Months == math.MinInt32 || x.Days == math.MinInt32 || x.Micros == math.MinInt64 {
		return row.IntervalValue{}, errIntervalRange
	}
	return row.IntervalValue{Months: -x.Months, Days: -x.Days, Micros: -x.Micros}, nil
}

// addIntervals is interval_pl.
func addIntervals(x, y row.IntervalValue) (row.Datum, error) {
	m, d := int64(x.Months)+int64(y.Months), int64(x.Days)+int64(y.Days)
	us, ok := addChecked(x.Micros, y.Micros)
	if !ok || !fitsInt32(m) || !fitsInt32(d) {
		return row.Null, errIntervalRange
	}
	return row.NewInterval(row.IntervalValue{Months: int32(m), Days: int32(d), Micros: us}), nil
}

// timestampPlusInterval is timestamp_pl_interval in UTC.
func timestampPlusInterval(ts int64, x row.IntervalValue) (int64, error) {
	if !isFinite(ts) {
		return ts, nil
	}
	if x.Months != 0 {
		days := floorDiv(ts, usPerDay)
		tod := ts - days*usPerDay
		y, m, d := row.CivilFromDays(days)
		idx := y*12 + int64(m-1) + int64(x.Months)
		y = floorDiv(idx, 12)
		m = int(idx-y*12) + 1
		if dim := daysIn(y, m); d > dim {
			d = dim
		}
		ts = row.DaysFromCivil(y, m, d)*usPerDay + tod
		if ts < minTimestamp || ts >= endTimestamp {
			return 0, errTimestampRange
		}
	}
	if x.Days != 0 {
		ts += int64(x.Days) * usPerDay
		if ts < minTimestamp || ts >= endTimestamp {
			return 0, errTimestampRange
		}
	}
	ts, ok := addChecked(ts, x.Micros)
	if !ok || ts < minTimestamp || ts >= endTimestamp {
		return 0, errTimestampRange
	}
	return ts, nil
}

// justifyHours is interval_justify_hours.
func justifyHours(x row.IntervalValue) (row.IntervalValue, error) {
	whole := x.Micros / usPerDay
	x.Micros -= whole * usPerDay
	d := int64(x.Days) + whole
	if !fitsInt32(d) {
		return x, errIntervalRange
	}
	x.Days = int32(d)
	switch {
	case x.Days > 0 && x.Micros < 0:
		x.Micros += usPerDay
		x.Days--
	case x.Days < 0 && x.Micros > 0:
		x.Micros -= usPerDay
		x.Days++
	}
	return x, nil
}

// justifyDays is interval_justify_days.
func justifyDays(x row.IntervalValue) (row.IntervalValue, error) {
	whole := x.Days / 30
	x.Days -= whole * 30
	m := int64(x.Months) + int64(whole)
	if !fitsInt32(m) {
		return x, errIntervalRange
	}
	x.Months = int32(m)
	switch {
	case x.Months > 0 && x.Days < 0:
		x.Days += 30
		x.Months--
	case x.Months < 0 && x.Days > 0:
		x.Days -= 30
		x.Months++
	}
	return x, nil
}

// justifyInterval is interval_justify_interval.
func justifyInterval(x row.IntervalValue) (row.IntervalValue, error) {
	addMonths := func(n int32) error {
		m := int64(x.Months) + int64(n)
		if !fitsInt32(m) {
			return errIntervalRange
		}
		x.Months = int32(m)
		return nil
	}
	if x.Days > 0 && x.Micros > 0 || x.Days < 0 && x.Micros < 0 {
		w := x.Days / 30
		x.Days -= w * 30
		if err := addMonths(w); err != nil {
			return x, err
		}
	}
	wd := x.Micros / usPerDay
	x.Micros -= wd * usPerDay
	d := int64(x.Days) + wd
	if !fitsInt32(d) {
		return x, errIntervalRange
	}
	x.Days = int32(d)
	w := x.Days / 30
	x.Days -= w * 30
	if err := addMonths(w); err != nil {
		return x, err
	}
	switch {
	case x.Months > 0 && (x.Days < 0 || x.Days == 0 && x.Micros < 0):
		x.Days += 30
		x.Months--
	case x.Months < 0 && (x.Days > 0 || x.Days == 0 && x.Micros > 0):
		x.Days -= 30
		x.Months++
	}
	switch {
	case x.Days > 0 && x.Micros < 0:
		x.Micros += usPerDay
		x.Days--
	case x.Days < 0 && x.Micros > 0:
		x.Micros -= usPerDay
		x.Days++
	}
	return x, nil
}

// tsRound is TSROUND: round to microsecond precision.
func tsRound(f float64) float64 { return math.RoundToEven(f*1e6) / 1e6 }

// scaleInterval is interval_mul (div false) and interval_div (div true).
func scaleInterval(x row.IntervalValue, factor float64, div bool) (row.IntervalValue, error) {
	if div && factor == 0 {
		return x, errDivZero
	}
	apply := func(v float64) float64 {
		if div {
			return v / factor
		}
		return v * factor
	}
	fm := apply(float64(x.Months))
	if math.IsNaN(fm) || fm > math.MaxInt32 || fm < math.MinInt32 {
		return x, errIntervalRange
	}
	fd := apply(float64(x.Days))
	if math.IsNaN(fd) || fd > math.MaxInt32 || fd < math.MinInt32 {
		return x, errIntervalRange
	}
	var out row.IntervalValue
	out.Months, out.Days = int32(fm), int32(fd)
	monthRem := tsRound((fm - float64(out.Months)) * 30)
	secRem := tsRound((fd - float64(out.Days) + monthRem - float64(int32(monthRem))) * 86400)
	if math.Abs(secRem) >= 86400 {
		w := int32(secRem / 86400)
		out.Days += w
		secRem -= float64(w) * 86400
	}
	out.Days += int32(monthRem)
	t := math.RoundToEven(apply(float64(x.Micros)) + secRem*1e6)
	if math.IsNaN(t) || t < -9223372036854775808.0 || t >= 9223372036854775808.0 {
		return x, errIntervalRange
	}
	out.Micros = int64(t)
	return out, nil
}

// timestampAge is timestamp_age: the symbolic field-by-field difference.
func timestampAge(a, b int64) (row.IntervalValue, error) {
	if !isFinite(a) || !isFinite(b) {
		return row.IntervalValue{}, errTimestampRange
	}
	type tm struct{ year, mon, mday, hour, min, sec, usec int64 }
	split := func(us int64) tm {
		days := floorDiv(us, usPerDay)
		tod := us - days*usPerDay
		y, m, d := row.CivilFromDays(days)
		return tm{y, int64(m), int64(d), tod / 3600e6, tod / 60e6 % 60, tod / 1e6 % 60, tod % 1e6}
	}
	t1, t2 := split(a), split(b)
	r := tm{t1.year - t2.year, t1.mon - t2.mon, t1.mday - t2.mday, t1.hour - t2.hour, t1.min - t2.min, t1.sec - t2.sec, t1.usec - t2.usec}
	neg := a < b
	flip := func() {
		r = tm{-r.year, -r.mon, -r.mday, -r.hour, -r.min, -r.sec, -r.usec}
	}
	if neg {
		flip()
	}
	for r.usec < 0 {
		r.usec += 1e6
		r.sec--
	}
	for r.sec < 0 {
		r.sec += 60
		r.min--
	}
	for r.min < 0 {
		r.min += 60
		r.hour--
	}
	for r.hour < 0 {
		r.hour += 24
		r.mday--
	}
	for r.mday < 0 {
		if neg {
			r.mday += int64(daysIn(t1.year, int(t1.mon)))
		} else {
			r.mday += int64(daysIn(t2.year, int(t2.mon)))
		}
		r.mon--
	}
	for r.mon < 0 {
		r.mon += 12
		r.year--
	}
	if neg {
		flip()
	}
	months := r.year*12 + r.mon
	if !fitsInt32(months) || !fitsInt32(r.mday) {
		return row.IntervalValue{}, errIntervalRange
	}
	return row.IntervalValue{Months: int32(months), Days: int32(r.mday),
		Micros: ((r.hour*60+r.min)*60+r.sec)*1e6 + r.usec}, nil
}

func intervalAge(c *Compiler, f *funcCtx) (Expr, error) {
	if len(f.args) == 1 {
		return Expr{}, c.errorf(f.loc, "age() with one argument is not supported: it is measured from current_date, which changes over time")
	}
	if len(f.args) != 2 {
		return Expr{}, f.notExist()
	}
	t := row.Timestamp
	for _, a := range f.args {
		switch a.Type.OID {
		case row.OIDTimestampTZ:
			t = row.TimestampTZ
		case row.OIDTimestamp, row.OIDDate, row.OIDUnknown:
		default:
			return Expr{}, f.notExist()
		}
	}
	if f.args[0].Type.OID == row.OIDUnknown && f.args[1].Type.OID == row.OIDUnknown {
		t = row.TimestampTZ
	}
	if !f.coerce(t, t) {
		return Expr{}, f.notExist()
	}
	return c.strict(f, row.Interval, func(ds []row.Datum) (row.Datum, error) {
		iv, err := timestampAge(ds[0].Int(), ds[1].Int())
		if err != nil {
			return row.Null, err
		}
		return row.NewInterval(iv), nil
	}), nil
}

func justifyFunc(c *Compiler, f *funcCtx) (Expr, error) {
	if len(f.args) != 1 || !f.coerce(row.Interval) {
		return Expr{}, f.notExist()
	}
	fn := map[string]func(row.IntervalValue) (row.IntervalValue, error){
		"justify_days": justifyDays, "justify_hours": justifyHours, "justify_interval": justifyInterval,
	}[f.name]
	return c.strict(f, row.Interval, func(ds []row.Datum) (row.Datum, error) {
		iv, err := fn(ds[0].Interval())
		if err != nil {
			return row.Null, err
		}
		return row.NewInterval(iv), nil
	}), nil
}

// intervalPart is extract/date_part on an interval (interval_part_common).
func intervalPart(u int, low string, numeric bool) (func(row.Datum) (row.Datum, error), error) {
	scaled := func(val int64, scale int32) (row.Datum, error) {
		if numeric {
			return numDatum(apd.New(val, -scale))
		}
		return row.NewFloat(float64(val) / math.Pow10(int(scale))), nil
	}
	whole := func(v int64) (row.Datum, error) {
		if numeric {
			return numDatum(apd.New(v, 0))
		}
		return row.NewFloat(float64(v)), nil
	}
	switch u {
	case uEpoch:
		return func(d row.Datum) (row.Datum, error) {
			x := d.Interval()
			secs := (1461*int64(x.Months/12) + 120*int64(x.Months%12) + 4*int64(x.Days)) * 86400 / 4
			if !numeric {
				return row.NewFloat(float64(x.Micros)/1e6 + float64(secs)), nil
			}
			var a, b, s apd.Decimal
			a.SetInt64(secs)
			b.SetFinite(x.Micros, -6)
			if _, err := apd.BaseContext.WithPrecision(60).Add(&s, &a, &b); err != nil {
				return row.Null, err
			}
			return numDatum(&s)
		}, nil
	case uMicro, uMilli, uSecond:
		scale := map[int]int32{uMicro: 0, uMilli: 3, uSecond: 6}[u]
		return func(d row.Datum) (row.Datum, error) {
			us := d.Interval().Micros % 60_000_000
			if !numeric {
				switch u {
				case uMilli:
					return row.NewFloat(float64(us) / 1000), nil
				case uSecond:
					return row.NewFloat(float64(us) / 1e6), nil
				}
			}
			return scaled(us, scale)
		}, nil
	case uMinute, uHour, uDay, uMonth, uQuarter, uYear, uDecade, uCentury, uMillennium:
		return func(d row.Datum) (row.Datum, error) {
			x := d.Interval()
			y, m := int64(x.Months/12), int64(x.Months%12)
			switch u {
			case uMinute:
				return whole(x.Micros / 60_000_000 % 60)
			case uHour:
				return whole(x.Micros / 3600_000_000)
			case uDay:
				return whole(int64(x.Days))
			case uMonth:
				return whole(m)
			case uQuarter:
				return whole(m/3 + 1)
			case uYear:
				return whole(y)
			case uDecade:
				return whole(y / 10)
			case uCentury:
				return whole(y / 100)
			default:
				return whole(y / 1000)
			}
		}, nil
	}
	return nil, fmt.Errorf("unit \"%s\" not supported for type interval", low)
}

func (c *Compiler) intervalUnary(op string, e Expr, loc int) Expr {
	if op == "+" {
		return e
	}
	inner := e.Eval
	return c.located(Expr{Type: row.Interval, Text: "(-" + e.Text + ")", Const: e.Const, Eval: func(r row.Row) (row.Datum, error) {
		d, err := inner(r)
		if err != nil || d.IsNull() {
			return d, err
		}
		x, err := negInterval(d.Interval())
		if err != nil {
			return row.Null, err
		}
		return row.NewInterval(x), nil
	}}, loc)
}

func (c *Compiler) intervalExtract(f *funcCtx, numeric bool) (Expr, error) {
	unit, null, err := c.constUnit(f)
	if err != nil {
		return Expr{}, err
	}
	low, u := lookupUnit(unit)
	part, bad := intervalPart(u, low, numeric)
	if u == 0 {
		bad = fmt.Errorf("unit \"%s\" not recognized for type interval", low)
	}
	if null {
		bad = nil
	}
	rt := row.Float8
	if numeric {
		rt = row.Numeric
	}
	return c.strict(f, rt, func(ds []row.Datum) (row.Datum, error) {
		if bad != nil {
			return row.Null, bad
		}
		return part(ds[1])
	}), nil
}

// intervalSum is sum(interval) and avg(interval): field-wise exact sums
// (so retractions never drift), checked against interval's range in
// Result; avg divides the sum by the count as interval_avg does.
type intervalSum struct {
	col                  int
	avg                  bool
	n                    int64
	months, days, micros big.Int
}

func (s *intervalSum) Add(r row.Row, w row.Weight) error {
	d := r[s.col]
	if d.IsNull() {
		return nil
	}
	x := d.Interval()
	var t big.Int
	wb := big.NewInt(int64(w))
	s.months.Add(&s.months, t.Mul(big.NewInt(int64(x.Months)), wb))
	s.days.Add(&s.days, t.Mul(big.NewInt(int64(x.Days)), wb))
	s.micros.Add(&s.micros, t.Mul(big.NewInt(x.Micros), wb))
	s.n += int64(w)
	return nil
}

func (s *intervalSum) Result() (row.Datum, error) {
	if s.n == 0 {
		return row.Null, nil
	}
	if !s.months.IsInt64() || !s.days.IsInt64() || !s.micros.IsInt64() ||
		!fitsInt32(s.months.Int64()) || !fitsInt32(s.days.Int64()) {
		return row.Null, errIntervalRange
	}
	sum := row.IntervalValue{Months: int32(s.months.Int64()), Days: int32(s.days.Int64()), Micros: s.micros.Int64()}
	if s.avg {
		var err error
		if sum, err = scaleInterval(sum, float64(s.n), true); err != nil {
			return row.Null, err
		}
	}
	return row.NewInterval(sum), nil
}

// unknownInterval resolves an unknown literal added to a timestamp or
// timestamptz as an interval: there is no timestamp + timestamp, so
// PostgreSQL's operator resolution picks timestamp + interval
// (ts + '1 day'). ts - '...' stays timestamp - timestamp, as there.
func unknownInterval(op string, l, r Expr) (Expr, Expr, error) {
	isTS := func(t row.Type) bool { return t.OID == row.OIDTimestamp || t.OID == row.OIDTimestampTZ }
	if op != "+" {
		return l, r, nil
	}
	var err error
	switch {
	case isTS(l.Type) && r.Type.OID == row.OIDUnknown:
		r, err = Cast(r, row.Interval, false)
	case isTS(r.Type) && l.Type.OID == row.OIDUnknown:
		l, err = Cast(l, row.Interval, false)
	}
	return l, r, err
}

// intervalTrunc is date_trunc on an interval (interval_trunc): the fields
// below the unit are zeroed, field by field as interval2itm splits them.
func (c *Compiler) intervalTrunc(f *funcCtx) (Expr, error) {
	unit, null, err := c.constUnit(f)
	if err != nil {
		return Expr{}, err
	}
	low, u := lookupUnit(unit)
	var bad error
	switch u {
	case uMillennium, uCentury, uDecade, uYear, uQuarter, uMonth, uDay, uHour, uMinute, uSecond, uMilli, uMicro:
	case uWeek, uTZ, uTZHour, uTZMinute:
		bad = fmt.Errorf("unit \"%s\" not supported for type interval", low)
	default:
		bad = fmt.Errorf("unit \"%s\" not recognized for type interval", low)
	}
	if null {
		bad = nil
	}
	return c.strict(f, row.Interval, func(ds []row.Datum) (row.Datum, error) {
		if bad != nil {
			return row.Null, bad
		}
		x := ds[1].Interval()
		year, mon, mday := int64(x.Months/12), int64(x.Months%12), int64(x.Days)
		t := x.Micros
		hour := t / 3600_000_000
		t -= hour * 3600_000_000
		minute := t / 60_000_000
		t -= minute * 60_000_000
		sec := t / 1_000_000
		usec := t - sec*1_000_000
		// The cascade of interval_trunc's switch, which falls through.
		level := map[int]int{uMillennium: 0, uCentury: 1, uDecade: 2, uYear: 3, uQuarter: 4, uMonth: 5, uDay: 6,
			uHour: 7, uMinute: 8, uSecond: 9, uMilli: 10, uMicro: 11}[u]
		steps := []func(){
			func() { year = year / 1000 * 1000 }, func() { year = year / 100 * 100 }, func() { year = year / 10 * 10 },
			func() { mon = 0 }, func() { mon = 3 * (mon / 3) }, func() { mday = 0 }, func() { hour = 0 },
			func() { minute = 0 }, func() { sec = 0 }, func() { usec = 0 },
		}
		switch {
		case level <= 9:
			for _, s := range steps[level:] {
				s()
			}
		case level == 10:
			usec = usec / 1000 * 1000
		}
		return row.NewInterval(row.IntervalValue{Months: int32(year*12 + mon), Days: int32(mday),
			Micros: ((hour*60+minute)*60+sec)*1_000_000 + usec}), nil
	}), nil
}
