package expr

import (
	"fmt"
	"strings"
	"time"

	"github.com/cockroachdb/apd/v3"

	"github.com/rippledb/ripple/internal/row"
)

// Date/time functions. ripple pins the session TimeZone to UTC
// (row.SessionSettings), so timestamptz values are decomposed, truncated
// and formatted in UTC, exactly as PostgreSQL does under that setting.
// Type interval is not supported: timestamp ± interval, age() and
// interval literals are refused where they are written.

var timeFuncs = map[string]func(c *Compiler, f *funcCtx) (Expr, error){
	"date_trunc": timeTrunc, "extract": timePart, "date_part": timePart, "make_date": makeDate,
	"to_char": toChar, "make_timestamp": refuseTimeFunc, "make_interval": refuseTimeFunc,
	"justify_days": refuseTimeFunc, "justify_hours": refuseTimeFunc, "justify_interval": refuseTimeFunc,
	"date_bin": refuseTimeFunc, "to_timestamp": refuseTimeFunc, "to_date": refuseTimeFunc,
}

func refuseTimeFunc(c *Compiler, f *funcCtx) (Expr, error) {
	return Expr{}, c.errorf(f.loc, "%s is not supported yet", f.name)
}

// Units, as DecodeUnits/DecodeSpecial name them (datetime.c deltatktbl
// and datetktbl; keys are compared on their first 10 characters).
const (
	uMicro = iota + 1
	uMilli
	uSecond
	uMinute
	uHour
	uDay
	uWeek
	uMonth
	uQuarter
	uYear
	uDecade
	uCentury
	uMillennium
	uTZ
	uTZHour
	uTZMinute
	uDow
	uIsodow
	uDoy
	uEpoch
	uIsoyear
	uJulian
)

var unitNames = map[string]int{
	"c": uCentury, "cent": uCentury, "centuries": uCentury, "century": uCentury,
	"d": uDay, "day": uDay, "days": uDay,
	"dec": uDecade, "decade": uDecade, "decades": uDecade, "decs": uDecade,
	"h": uHour, "hour": uHour, "hours": uHour, "hr": uHour, "hrs": uHour,
	"m": uMinute, "min": uMinute, "mins": uMinute, "minute": uMinute, "minutes": uMinute,
	"microsecon": uMicro, "us": uMicro, "usec": uMicro, "usecond": uMicro, "useconds": uMicro, "usecs": uMicro,
	"mil": uMillennium, "millennia": uMillennium, "millennium": uMillennium, "mils": uMillennium,
	"millisecon": uMilli, "ms": uMilli, "msec": uMilli, "msecond": uMilli, "mseconds": uMilli, "msecs": uMilli,
	"mon": uMonth, "mons": uMonth, "month": uMonth, "months": uMonth,
	"qtr": uQuarter, "quarter": uQuarter,
	"s": uSecond, "sec": uSecond, "second": uSecond, "seconds": uSecond, "secs": uSecond,
	"timezone": uTZ, "timezone_h": uTZHour, "timezone_m": uTZMinute,
	"w": uWeek, "week": uWeek, "weeks": uWeek,
	"y": uYear, "year": uYear, "years": uYear, "yr": uYear, "yrs": uYear,
	"dow": uDow, "isodow": uIsodow, "doy": uDoy, "epoch": uEpoch, "isoyear": uIsoyear,
	"j": uJulian, "jd": uJulian, "julian": uJulian,
}

func lookupUnit(s string) (string, int) {
	low := strings.ToLower(s)
	key := low
	if len(key) > 10 {
		key = key[:10]
	}
	return low, unitNames[key]
}

// tm is a timestamp broken down as timestamp2tm does (astronomical year).
type tm struct {
	year        int64
	mon, mday   int
	hour, min   int
	sec         int
	usec        int64 // fractional second in microseconds
	days        int64 // days since 2000-01-01
	microsOfDay int64
}

func toTM(us int64) tm {
	days := floorDiv(us, usPerDay)
	rem := us - days*usPerDay
	y, m, d := row.CivilFromDays(days)
	return tm{year: y, mon: m, mday: d, hour: int(rem / 3600e6), min: int(rem / 60e6 % 60),
		sec: int(rem / 1e6 % 60), usec: rem % 1e6, days: days, microsOfDay: rem}
}

func (t tm) dow() int64 { return ((t.days+6)%7 + 7) % 7 } // 2000-01-01 was a Saturday

func (t tm) iso() (int64, int64) {
	y, w := time.Date(int(t.year), time.Month(t.mon), t.mday, 0, 0, 0, 0, time.UTC).ISOWeek()
	return int64(y), int64(w)
}

// timeArg resolves the timestamp argument of date_trunc/date_part/to_char:
// timestamp stays, date and unknown go to timestamptz (the preferred type).
func timeArg(f *funcCtx, i int, dateOK bool) (row.Type, bool) {
	t := f.args[i].Type
	switch t.OID {
	case row.OIDTimestamp, row.OIDTimestampTZ:
		t = row.Type{OID: t.OID, Mod: -1}
	case row.OIDDate:
		if dateOK {
			return row.Date, true
		}
		t = row.TimestampTZ
	case row.OIDUnknown:
		t = row.TimestampTZ
	default:
		return row.Type{}, false
	}
	e, err := Cast(f.args[i], t, false)
	if err != nil {
		return row.Type{}, false
	}
	f.args[i] = e
	return t, true
}

func (c *Compiler) constUnit(f *funcCtx) (string, bool, error) {
	u := f.args[0]
	if !u.Const {
		return "", false, c.errorf(f.loc, "%s: the unit must be a constant", f.name)
	}
	d, err := u.Eval(nil)
	if err != nil {
		return "", false, c.errAt(f.loc, err)
	}
	if d.IsNull() {
		return "", true, nil
	}
	return d.Str(), false, nil
}

func timeTrunc(c *Compiler, f *funcCtx) (Expr, error) {
	if len(f.args) == 3 {
		return Expr{}, c.errorf(f.loc, "date_trunc with a time zone argument is not supported yet")
	}
	if len(f.args) != 2 || !f.coerce(row.Text, f.args[1].Type) && typeCategory(f.args[0].Type) != 'S' {
		return Expr{}, f.notExist()
	}
	if f.args[0].Type.OID == row.OIDUnknown {
		f.args[0], _ = Cast(f.args[0], row.Text, false)
	}
	if f.args[1].Type.OID == row.OIDInterval && typeCategory(f.args[0].Type) == 'S' {
		return c.intervalTrunc(f)
	}
	t, ok := timeArg(f, 1, false)
	if !ok || typeCategory(f.args[0].Type) != 'S' {
		return Expr{}, f.notExist()
	}
	unit, null, err := c.constUnit(f)
	if err != nil {
		return Expr{}, err
	}
	low, u := lookupUnit(unit)
	var bad error
	switch u {
	case 0:
		bad = fmt.Errorf("unit \"%s\" not recognized for type %s", low, typeName(t))
	case uDow, uIsodow, uDoy, uEpoch, uIsoyear:
		// not UNITS in DecodeUnits, so timestamp_trunc does not know them
		bad = fmt.Errorf("unit \"%s\" not recognized for type %s", low, typeName(t))
	case uJulian:
		return Expr{}, c.errorf(f.loc, "date_trunc(julian ...) is not supported")
	case uTZ, uTZHour, uTZMinute:
		bad = fmt.Errorf("unit \"%s\" not supported for type %s", low, typeName(t))
	}
	if null {
		bad = nil
	}
	return c.strict(f, t, func(ds []row.Datum) (row.Datum, error) {
		if bad != nil {
			return row.Null, bad
		}
		us := ds[1].Int()
		if us == row.PosInfinity || us == row.NegInfinity {
			return ds[1], nil
		}
		x := toTM(us)
		y, m, d, tod := x.year, x.mon, x.mday, x.microsOfDay
		switch u {
		case uMicro:
		case uMilli:
			tod -= tod % 1000
		case uSecond:
			tod -= tod % 1e6
		case uMinute:
			tod -= tod % 60e6
		case uHour:
			tod -= tod % 3600e6
		case uDay:
			tod = 0
		case uWeek:
			dow := x.dow()
			if dow == 0 {
				dow = 7
			}
			return mkTime(t, (x.days-dow+1)*usPerDay), nil
		default:
			tod, d = 0, 1
			switch u {
			case uMonth:
			case uQuarter:
				m = 3*((m-1)/3) + 1
			default:
				m = 1
				switch u {
				case uDecade:
					if y > 0 {
						y = (y / 10) * 10
					} else {
						y = -((8 - (y - 1)) / 10) * 10
					}
				case uCentury:
					if y > 0 {
						y = ((y+99)/100)*100 - 99
					} else {
						y = -((99-(y-1))/100)*100 + 1
					}
				case uMillennium:
					if y > 0 {
						y = ((y+999)/1000)*1000 - 999
					} else {
						y = -((999-(y-1))/1000)*1000 + 1
					}
				}
			}
		}
		return mkTime(t, row.DaysFromCivil(y, m, d)*usPerDay+tod), nil
	}), nil
}

func mkTime(t row.Type, us int64) row.Datum {
	if t.OID == row.OIDTimestampTZ {
		return row.NewTimestampTZ(us)
	}
	return row.NewTimestamp(us)
}

// timePart is extract(field FROM x) (numeric, PostgreSQL 14+) and
// date_part(text, x) (double precision).
func timePart(c *Compiler, f *funcCtx) (Expr, error) {
	if len(f.args) != 2 {
		return Expr{}, f.notExist()
	}
	if f.args[0].Type.OID == row.OIDUnknown {
		f.args[0], _ = Cast(f.args[0], row.Text, false)
	}
	numeric := f.name == "extract"
	if f.args[1].Type.OID == row.OIDInterval && typeCategory(f.args[0].Type) == 'S' {
		return c.intervalExtract(f, numeric)
	}
	t, ok := timeArg(f, 1, numeric)
	if !ok || typeCategory(f.args[0].Type) != 'S' {
		return Expr{}, f.notExist()
	}
	unit, null, err := c.constUnit(f)
	if err != nil {
		return Expr{}, err
	}
	low, u := lookupUnit(unit)
	var bad error
	switch {
	case u == 0:
		bad = fmt.Errorf("unit \"%s\" not recognized for type %s", low, typeName(t))
	case u == uJulian:
		return Expr{}, c.errorf(f.loc, "%s(julian ...) is not supported yet", f.name)
	case t.OID == row.OIDDate && (u <= uSecond || u == uMinute || u == uHour || u == uTZ || u == uTZHour || u == uTZMinute):
		bad = fmt.Errorf("unit \"%s\" not supported for type %s", low, typeName(t))
	case t.OID == row.OIDTimestamp && (u == uTZ || u == uTZHour || u == uTZMinute):
		bad = fmt.Errorf("unit \"%s\" not supported for type %s", low, typeName(t))
	}
	if null {
		bad = nil
	}
	rt := row.Float8
	if numeric {
		rt = row.Numeric
	}
	isDate := t.OID == row.OIDDate
	return c.strict(f, rt, func(ds []row.Datum) (row.Datum, error) {
		if bad != nil {
			return row.Null, bad
		}
		v := ds[1].Int()
		inf := v == row.PosInfinity || v == row.NegInfinity
		if isDate && !inf {
			v *= usPerDay
		}
		if inf {
			switch u {
			case uEpoch, uYear, uDecade, uCentury, uMillennium, uIsoyear:
				if numeric {
					if v > 0 {
						return row.NewNumeric("Infinity"), nil
					}
					return row.NewNumeric("-Infinity"), nil
				}
				if v > 0 {
					return row.NewFloat(posInf), nil
				}
				return row.NewFloat(-posInf), nil
			}
			return row.Null, nil
		}
		x := toTM(v)
		// scaled: value/10^scale with exactly scale digits (int64_div_fast_to_numeric).
		scaled := func(val int64, scale int32) (row.Datum, error) {
			if numeric {
				return numDatum(apd.New(val, -scale))
			}
			p := 1.0
			for i := int32(0); i < scale; i++ {
				p *= 10
			}
			return row.NewFloat(float64(val) / p), nil
		}
		var n int64
		switch u {
		case uMicro:
			n = int64(x.sec)*1e6 + x.usec
		case uMilli:
			if numeric {
				return scaled(int64(x.sec)*1e6+x.usec, 3)
			}
			return row.NewFloat(float64(x.sec)*1000.0 + float64(x.usec)/1000.0), nil
		case uSecond:
			if numeric {
				return scaled(int64(x.sec)*1e6+x.usec, 6)
			}
			return row.NewFloat(float64(x.sec) + float64(x.usec)/1000000.0), nil
		case uMinute:
			n = int64(x.min)
		case uHour:
			n = int64(x.hour)
		case uDay:
			n = int64(x.mday)
		case uMonth:
			n = int64(x.mon)
		case uQuarter:
			n = int64((x.mon-1)/3 + 1)
		case uWeek:
			_, n = x.iso()
		case uYear:
			n = x.year
			if n <= 0 {
				n--
			}
		case uDecade:
			if x.year >= 0 {
				n = x.year / 10
			} else {
				n = -((8 - (x.year - 1)) / 10)
			}
		case uCentury:
			if x.year > 0 {
				n = (x.year + 99) / 100
			} else {
				n = -((99 - (x.year - 1)) / 100)
			}
		case uMillennium:
			if x.year > 0 {
				n = (x.year + 999) / 1000
			} else {
				n = -((999 - (x.year - 1)) / 1000)
			}
		case uDow:
			n = x.dow()
		case uIsodow:
			n = x.dow()
			if n == 0 {
				n = 7
			}
		case uDoy:
			n = x.days - row.DaysFromCivil(x.year, 1, 1) + 1
		case uIsoyear:
			n, _ = x.iso()
			if n <= 0 {
				n--
			}
		case uEpoch:
			// microseconds since 1970-01-01
			e := v + 946684800*1000000
			if isDate {
				return scaled(e/1e6, 0)
			}
			return scaled(e, 6)
		case uTZ, uTZHour, uTZMinute:
			n = 0
		}
		return scaled(n, 0)
	}), nil
}

var posInf = func() float64 { var z float64; return 1 / z }()

// makeDate is make_date(year, month, day); a negative year is BC.
func makeDate(c *Compiler, f *funcCtx) (Expr, error) {
	if !f.coerce(row.Int4, row.Int4, row.Int4) {
		return Expr{}, f.notExist()
	}
	return c.strict(f, row.Date, func(ds []row.Datum) (row.Datum, error) {
		y, m, d := ds[0].Int(), ds[1].Int(), ds[2].Int()
		ay := y
		if y < 0 {
			ay = y + 1
		}
		if y == 0 || m < 1 || m > 12 || d < 1 || d > int64(daysIn(ay, int(m))) {
			return row.Null, fmt.Errorf("date field value out of range: %d-%02d-%02d", y, m, d)
		}
		days := row.DaysFromCivil(ay, int(m), int(d))
		// IS_VALID_JULIAN / IS_VALID_DATE: 4714-11-24 BC .. 5874897-12-31.
		if days < row.DaysFromCivil(-4713, 11, 24) || days > row.DaysFromCivil(5874897, 12, 31) {
			return row.Null, fmt.Errorf("date out of range: %d-%02d-%02d", y, m, d)
		}
		return row.NewDate(days), nil
	}), nil
}

func daysIn(y int64, m int) int {
	return time.Date(int(y), time.Month(m)+1, 0, 0, 0, 0, 0, time.UTC).Day()
}
