package row

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"math"
	"math/bits"
	"strconv"
	"strings"
)

// IntervalValue is PostgreSQL's interval value: months, days and microseconds
// kept apart, as PostgreSQL stores them (datatype/timestamp.h). The zero
// Interval is "00:00:00".
type IntervalValue struct {
	Months int32
	Days   int32
	Micros int64
}

// Interval units in microseconds and days, as PostgreSQL defines them.
const (
	usPerHour     = 3600_000_000
	usPerMinute   = 60_000_000
	usPerSecond   = 1_000_000
	daysPerMonth  = 30
	monthsPerYear = 12
)

// NewInterval makes an interval value.
func NewInterval(iv IntervalValue) Datum {
	var b [8]byte
	binary.BigEndian.PutUint32(b[0:4], uint32(iv.Months))
	binary.BigEndian.PutUint32(b[4:8], uint32(iv.Days))
	return Datum{kind: KindInterval, i: iv.Micros, s: string(b[:])}
}

// Interval returns the value of a KindInterval datum.
func (d Datum) Interval() IntervalValue {
	if len(d.s) != 8 {
		return IntervalValue{Micros: d.i}
	}
	return IntervalValue{
		Months: int32(binary.BigEndian.Uint32([]byte(d.s[0:4]))),
		Days:   int32(binary.BigEndian.Uint32([]byte(d.s[4:8]))),
		Micros: d.i,
	}
}

// span is an interval's value as one 128-bit count of microseconds with a
// month taken as 30 days and a day as 24 hours: what PostgreSQL compares
// (interval_cmp_value), so '1 mon' = '30 days' and '1 day' = '24 hours'.
type span struct {
	hi int64
	lo uint64
}

func (iv IntervalValue) span() span {
	days := int64(iv.Months)*daysPerMonth + int64(iv.Days) // fits: |months*30| < 2^36
	neg := days < 0
	ud := uint64(days)
	if neg {
		ud = uint64(-days)
	}
	hi, lo := bits.Mul64(ud, usPerDay)
	if neg { // two's complement negation of (hi, lo)
		lo = ^lo + 1
		hi = ^hi
		if lo == 0 {
			hi++
		}
	}
	// Add the sign-extended microseconds.
	m := uint64(iv.Micros)
	mhi := uint64(0)
	if iv.Micros < 0 {
		mhi = math.MaxUint64
	}
	lo, carry := bits.Add64(lo, m, 0)
	hi, _ = bits.Add64(hi, mhi, carry)
	return span{int64(hi), lo}
}

// CompareInterval orders intervals as PostgreSQL's interval_cmp does.
func CompareInterval(a, b IntervalValue) int {
	sa, sb := a.span(), b.span()
	if c := cmp.Compare(sa.hi, sb.hi); c != 0 {
		return c
	}
	return cmp.Compare(sa.lo, sb.lo)
}

func appendIntervalKey(buf []byte, iv IntervalValue) []byte {
	s := iv.span()
	buf = binary.BigEndian.AppendUint64(buf, uint64(s.hi))
	return binary.BigEndian.AppendUint64(buf, s.lo)
}

// FormatInterval renders iv as PostgreSQL's interval_out does under
// IntervalStyle=postgres (EncodeInterval, INTSTYLE_POSTGRES).
func FormatInterval(iv IntervalValue) string {
	year := iv.Months / monthsPerYear
	mon := iv.Months % monthsPerYear
	mday := int64(iv.Days)
	t := iv.Micros
	hour := t / usPerHour
	t -= hour * usPerHour
	minute := t / usPerMinute
	t -= minute * usPerMinute
	sec := t / usPerSecond
	fsec := t - sec*usPerSecond

	var b strings.Builder
	isZero, isBefore := true, false
	part := func(v int64, unit string) {
		if v == 0 {
			return
		}
		if !isZero {
			b.WriteByte(' ')
		}
		if isBefore && v > 0 {
			b.WriteByte('+')
		}
		b.WriteString(strconv.FormatInt(v, 10))
		b.WriteByte(' ')
		b.WriteString(unit)
		if v != 1 {
			b.WriteByte('s')
		}
		isBefore = v < 0
		isZero = false
	}
	part(int64(year), "year")
	part(int64(mon), "mon")
	part(mday, "day")
	if isZero || hour != 0 || minute != 0 || sec != 0 || fsec != 0 {
		minus := hour < 0 || minute < 0 || sec < 0 || fsec < 0
		if !isZero {
			b.WriteByte(' ')
		}
		if minus {
			b.WriteByte('-')
		} else if isBefore {
			b.WriteByte('+')
		}
		fmt.Fprintf(&b, "%02d:%02d:%02d", absInt64(hour), absInt64(minute), absInt64(sec))
		if fsec != 0 {
			f := fmt.Sprintf("%06d", absInt64(fsec))
			b.WriteByte('.')
			b.WriteString(strings.TrimRight(f, "0"))
		}
	}
	return b.String()
}

func absInt64(v int64) uint64 {
	if v < 0 {
		return uint64(-v)
	}
	return uint64(v)
}

// ErrIntervalRange is returned when an interval's fields overflow.
var ErrIntervalRange = fmt.Errorf("interval out of range")

// ParseInterval reads PostgreSQL's interval input in its "postgres" and
// verbose forms ("1 year 2 mons -3 days +04:05:06.7", "@ 1 hour ago",
// "1.5 days", "90 minutes", "1:30", "P1Y2M3DT4H5M6S") with DecodeInterval's
// rules for fractional units: a fraction of a year becomes whole months
// (rounded), of a month 30-day days and the rest microseconds, of a week or
// day whole days and the rest microseconds.
func ParseInterval(s string) (IntervalValue, error) {
	p := intervalParser{}
	if err := p.parse(s); err != nil {
		return IntervalValue{}, err
	}
	return p.result()
}

// intervalParser accumulates fields in wide integers and checks the range
// once at the end, as PostgreSQL's pg_itm_in does.
type intervalParser struct {
	months, days, micros int64
	overflow             bool
}

func (p *intervalParser) result() (IntervalValue, error) {
	if p.overflow || p.months != int64(int32(p.months)) || p.days != int64(int32(p.days)) {
		return IntervalValue{}, ErrIntervalRange
	}
	return IntervalValue{Months: int32(p.months), Days: int32(p.days), Micros: p.micros}, nil
}

func (p *intervalParser) add(dst *int64, v int64) {
	r, ok := addChecked(*dst, v)
	if !ok {
		p.overflow = true
	}
	*dst = r
}

func addChecked(a, b int64) (int64, bool) {
	r := a + b
	return r, (r > a) == (b > 0)
}

func mulChecked(a, b int64) (int64, bool) {
	if a == 0 || b == 0 {
		return 0, true
	}
	r := a * b
	return r, r/b == a && !(a == -1 && b == math.MinInt64) && !(b == -1 && a == math.MinInt64)
}

// token kinds of the interval lexer.
type ivToken struct {
	text   string
	isNum  bool // a signed or unsigned number, possibly with a fraction
	isTime bool // contains ':'
}

func lexInterval(s string) ([]ivToken, error) {
	var toks []ivToken
	i := 0
	for i < len(s) {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ',':
			i++
		case c >= '0' && c <= '9' || c == '.' || c == '+' || c == '-':
			j := i + 1
			for j < len(s) && (s[j] >= '0' && s[j] <= '9' || s[j] == '.' || s[j] == ':') {
				j++
			}
			t := s[i:j]
			toks = append(toks, ivToken{text: t, isNum: !strings.Contains(t, ":"), isTime: strings.Contains(t, ":")})
			i = j
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '@':
			if c == '@' {
				toks = append(toks, ivToken{text: "@"})
				i++
				continue
			}
			j := i + 1
			for j < len(s) && (s[j] >= 'a' && s[j] <= 'z' || s[j] >= 'A' && s[j] <= 'Z') {
				j++
			}
			toks = append(toks, ivToken{text: strings.ToLower(s[i:j])})
			i = j
		default:
			return nil, fmt.Errorf("unexpected character %q", c)
		}
	}
	return toks, nil
}

// intervalUnits maps unit words to their kind (datetime.c deltatktbl).
var intervalUnits = map[string]string{
	"microsecon": "us", "us": "us", "usec": "us", "usecs": "us", "usecond": "us", "useconds": "us", "microseconds": "us", "microsecond": "us",
	"millisecon": "ms", "ms": "ms", "msec": "ms", "msecs": "ms", "msecond": "ms", "mseconds": "ms", "milliseconds": "ms", "millisecond": "ms",
	"s": "s", "sec": "s", "secs": "s", "second": "s", "seconds": "s",
	"m": "min", "min": "min", "mins": "min", "minute": "min", "minutes": "min",
	"h": "h", "hr": "h", "hrs": "h", "hour": "h", "hours": "h",
	"d": "d", "day": "d", "days": "d",
	"w": "w", "week": "w", "weeks": "w",
	"mon": "mon", "mons": "mon", "month": "mon", "months": "mon",
	"y": "y", "yr": "y", "yrs": "y", "year": "y", "years": "y",
	"dec": "dec", "decs": "dec", "decade": "dec", "decades": "dec",
	"c": "c", "cent": "c", "century": "c", "centuries": "c",
	"mil": "mil", "mils": "mil", "millennium": "mil", "millennia": "mil",
}

func (p *intervalParser) parse(s string) error {
	s = strings.TrimSpace(s)
	if s == "" {
		return fmt.Errorf("empty interval")
	}
	if s[0] == 'P' || s[0] == 'p' {
		return p.parseISO(s[1:])
	}
	toks, err := lexInterval(s)
	if err != nil {
		return err
	}
	ago := false
	if n := len(toks); n > 0 && toks[n-1].text == "ago" {
		ago = true
		toks = toks[:n-1]
	}
	if len(toks) > 0 && toks[0].text == "@" {
		toks = toks[1:]
	}
	if len(toks) == 0 {
		return fmt.Errorf("no fields")
	}
	// DecodeInterval reads the fields from the last to the first: a unit
	// word names the unit of the number before it; a time field makes a
	// bare number before it a count of days; a bare number at the end is
	// seconds.
	unit := ""
	seen := map[string]bool{}
	for i := len(toks) - 1; i >= 0; i-- {
		t := toks[i]
		switch {
		case t.isTime:
			if seen["time"] {
				return fmt.Errorf("time given twice")
			}
			seen["time"] = true
			us, err := parseIntervalTime(t.text)
			if err != nil {
				return err
			}
			p.add(&p.micros, us)
			unit = "d"
		case t.isNum:
			u := unit
			if u == "" {
				u = "s"
			}
			if u == "time" {
				return fmt.Errorf("number before a time field")
			}
			if seen[u] {
				return fmt.Errorf("unit %s given twice", u)
			}
			seen[u] = true
			if err := p.addUnit(t.text, u); err != nil {
				return err
			}
			unit = "time" // a number may not precede another number
		case t.text == "@" || t.text == "ago":
			return fmt.Errorf("misplaced %q", t.text)
		default:
			u, ok := intervalUnits[t.text]
			if !ok {
				return fmt.Errorf("unknown unit %q", t.text)
			}
			if i == 0 || !toks[i-1].isNum {
				return fmt.Errorf("unit %q without a number", t.text)
			}
			unit = u
		}
	}
	if ago {
		p.months, p.days, p.micros = -p.months, -p.days, -p.micros
	}
	return nil
}

// parseNumber splits a number into its integer part and its fraction, the
// fraction carrying the number's sign (ParseFraction).
func parseNumber(s string) (int64, float64, error) {
	neg := false
	body := s
	if body != "" && (body[0] == '+' || body[0] == '-') {
		neg = body[0] == '-'
		body = body[1:]
	}
	intPart, frac, hasFrac := strings.Cut(body, ".")
	if intPart == "" && (!hasFrac || frac == "") || !allDigits(intPart) && intPart != "" || hasFrac && frac != "" && !allDigits(frac) {
		return 0, 0, fmt.Errorf("bad number %q", s)
	}
	var v int64
	if intPart != "" {
		var err error
		if v, err = strconv.ParseInt(intPart, 10, 64); err != nil {
			return 0, 0, ErrIntervalRange
		}
	}
	var f float64
	if hasFrac && frac != "" {
		f, _ = strconv.ParseFloat("0."+frac, 64)
	}
	if neg {
		v, f = -v, -f
	}
	return v, f, nil
}

func (p *intervalParser) addMicros(v int64, f float64, scale int64) {
	m, ok := mulChecked(v, scale)
	if !ok {
		p.overflow = true
	}
	p.add(&p.micros, m)
	p.add(&p.micros, fractMicros(f, float64(scale)))
}

// fractMicros is AdjustFractMicroseconds: the whole microseconds of
// f*scale plus its remainder rounded with rint, so that an exact half
// rounds toward zero ("1.5 us" is 1 microsecond).
func fractMicros(f, scale float64) int64 {
	x := f * scale
	u := int64(x)
	return u + int64(math.RoundToEven(x-float64(u)))
}

func (p *intervalParser) addFractDays(f float64, scale float64) {
	f *= scale
	extra := int64(f)
	p.add(&p.days, extra)
	f -= float64(extra)
	p.add(&p.micros, fractMicros(f, usPerDay))
}

func (p *intervalParser) addYears(v int64, f float64, scale int64) {
	m, ok := mulChecked(v, scale*monthsPerYear)
	if !ok {
		p.overflow = true
	}
	p.add(&p.months, m)
	p.add(&p.months, int64(math.RoundToEven(f*float64(scale*monthsPerYear))))
}

func (p *intervalParser) addUnit(num, unit string) error {
	v, f, err := parseNumber(num)
	if err != nil {
		return err
	}
	switch unit {
	case "us":
		p.addMicros(v, f, 1)
	case "ms":
		p.addMicros(v, f, 1000)
	case "s":
		p.addMicros(v, f, usPerSecond)
	case "min":
		p.addMicros(v, f, usPerMinute)
	case "h":
		p.addMicros(v, f, usPerHour)
	case "d":
		p.add(&p.days, v)
		p.add(&p.micros, fractMicros(f, usPerDay))
	case "w":
		d, ok := mulChecked(v, 7)
		if !ok {
			p.overflow = true
		}
		p.add(&p.days, d)
		p.addFractDays(f, 7)
	case "mon":
		p.add(&p.months, v)
		p.addFractDays(f, daysPerMonth)
	case "y":
		p.addYears(v, f, 1)
	case "dec":
		p.addYears(v, f, 10)
	case "c":
		p.addYears(v, f, 100)
	case "mil":
		p.addYears(v, f, 1000)
	default:
		return fmt.Errorf("unit %s not allowed here", unit)
	}
	return nil
}

// parseIntervalTime reads "[+-]h:mm[:ss[.frac]]" or "[+-]mm:ss.frac" (two
// fields with a fraction are minutes and seconds, as DecodeTime reads them
// for intervals) into signed microseconds. Hours are not limited to 24.
func parseIntervalTime(s string) (int64, error) {
	neg := false
	if s[0] == '+' || s[0] == '-' {
		neg = s[0] == '-'
		s = s[1:]
	}
	parts := strings.Split(s, ":")
	if len(parts) < 2 || len(parts) > 3 {
		return 0, fmt.Errorf("bad time field %q", s)
	}
	var fsec int64
	last := parts[len(parts)-1]
	if i := strings.IndexByte(last, '.'); i >= 0 {
		f := last[i+1:]
		if !allDigits(f) && f != "" {
			return 0, fmt.Errorf("bad time field %q", s)
		}
		frac, _ := strconv.ParseFloat("0."+f+"0", 64)
		fsec = int64(math.RoundToEven(frac * 1e6))
		last = last[:i]
		parts[len(parts)-1] = last
		if len(parts) == 2 {
			parts = append([]string{"0"}, parts...) // mm:ss.frac
		}
	}
	if len(parts) == 2 {
		parts = append(parts, "0")
	}
	var h, m, sec int64
	for i, pt := range parts {
		if pt == "" || !allDigits(pt) {
			return 0, fmt.Errorf("bad time field %q", s)
		}
		v, err := strconv.ParseInt(pt, 10, 64)
		if err != nil {
			return 0, ErrIntervalRange
		}
		switch i {
		case 0:
			h = v
		case 1:
			m = v
		case 2:
			sec = v
		}
	}
	if m > 59 || sec > 60 || h > math.MaxInt64/usPerHour {
		return 0, fmt.Errorf("interval field value out of range")
	}
	// Accumulate negatively so that the most negative value fits.
	us := -h * usPerHour
	for _, v := range []int64{m * usPerMinute, sec * usPerSecond, fsec} {
		var ok bool
		if us, ok = addChecked(us, -v); !ok || v > 0 && us > 0 {
			return 0, ErrIntervalRange
		}
	}
	if neg {
		return us, nil
	}
	if us == math.MinInt64 {
		return 0, ErrIntervalRange
	}
	return -us, nil
}

// parseISO reads ISO 8601's format with designators after the "P"
// (DecodeISO8601Interval): nY nM nW nD, then T nH nM nS.
func (p *intervalParser) parseISO(s string) error {
	if s == "" {
		return fmt.Errorf("empty ISO 8601 interval")
	}
	inTime := false
	for s != "" {
		if s[0] == 'T' || s[0] == 't' {
			if inTime {
				return fmt.Errorf("T given twice")
			}
			inTime = true
			s = s[1:]
			continue
		}
		j := 0
		for j < len(s) && (s[j] >= '0' && s[j] <= '9' || s[j] == '.' || s[j] == '-' || s[j] == '+') {
			j++
		}
		if j == 0 || j == len(s) {
			return fmt.Errorf("bad ISO 8601 interval")
		}
		num, d := s[:j], s[j]|0x20
		s = s[j+1:]
		var unit string
		switch {
		case !inTime && d == 'y':
			unit = "y"
		case !inTime && d == 'm':
			unit = "mon"
		case !inTime && d == 'w':
			unit = "w"
		case !inTime && d == 'd':
			unit = "d"
		case inTime && d == 'h':
			unit = "h"
		case inTime && d == 'm':
			unit = "min"
		case inTime && d == 's':
			unit = "s"
		default:
			return fmt.Errorf("bad ISO 8601 designator %q", d)
		}
		if err := p.addUnit(num, unit); err != nil {
			return err
		}
	}
	return nil
}
