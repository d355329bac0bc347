package expr

import (
	"fmt"
	"strings"

	"github.com/rippledb/ripple/internal/row"
)

// to_char(timestamp|timestamptz, format) for the common template
// patterns; a format with any other letter (outside double quotes) is
// refused at registration, since PostgreSQL would read it as a pattern we
// do not implement. timestamptz is formatted in UTC (the pinned TimeZone).

var monthNames = []string{"January", "February", "March", "April", "May", "June", "July", "August",
	"September", "October", "November", "December"}
var dayNames = []string{"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"}

// toCharPatterns in matching order: longer patterns first, as in
// formatting.c's DCH_keywords.
var toCharPatterns = []string{
	"HH24", "HH12", "HH", "MI", "SS", "MS", "US", "YYYY", "YY", "MONTH", "Month", "month", "MON", "Mon", "mon",
	"MM", "DAY", "Day", "day", "DY", "Dy", "dy", "DDD", "DD", "D", "Q", "AM", "PM", "am", "pm",
	"hh24", "hh12", "hh", "mi", "ss", "ms", "us", "yyyy", "yy", "mm", "ddd", "dd", "d", "q",
}

type charItem struct {
	pat string // "" for literal text
	lit string
	fm  bool
}

func parseToChar(s string) ([]charItem, error) {
	var out []charItem
	fm := false
	for i := 0; i < len(s); {
		if strings.HasPrefix(s[i:], "FM") || strings.HasPrefix(s[i:], "fm") {
			fm = true
			i += 2
			continue
		}
		if strings.HasPrefix(s[i:], "SSSS") || strings.HasPrefix(s[i:], "ssss") {
			return nil, fmt.Errorf("template pattern %q", s[i:i+4]) // seconds past midnight, not SS twice
		}
		matched := false
		for _, p := range toCharPatterns {
			if strings.HasPrefix(s[i:], p) {
				out = append(out, charItem{pat: p, fm: fm})
				i += len(p)
				matched, fm = true, false
				break
			}
		}
		if matched {
			continue
		}
		ch := s[i]
		switch {
		case ch == '"':
			j := strings.IndexByte(s[i+1:], '"')
			if j < 0 {
				return nil, fmt.Errorf("unterminated quoted text")
			}
			lit := s[i+1 : i+1+j]
			if strings.Contains(lit, `\`) {
				return nil, fmt.Errorf("backslash in quoted text")
			}
			out = append(out, charItem{lit: lit})
			i += j + 2
		case ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch == '\\' || ch >= 0x80:
			return nil, fmt.Errorf("template pattern starting at %q", s[i:])
		default:
			out = append(out, charItem{lit: string(ch)})
			i++
		}
		fm = false
	}
	return out, nil
}

func toChar(c *Compiler, f *funcCtx) (Expr, error) {
	if len(f.args) != 2 {
		return Expr{}, f.notExist()
	}
	if typeCategory(f.args[0].Type) == 'N' {
		return Expr{}, c.errorf(f.loc, "to_char for numbers is not supported yet")
	}
	if f.args[0].Type.OID == row.OIDUnknown {
		return Expr{}, c.errorf(f.loc, "function to_char(unknown, unknown) is not unique")
	}
	if _, ok := timeArg(f, 0, false); !ok {
		return Expr{}, f.notExist()
	}
	if f.args[1].Type.OID == row.OIDUnknown || typeCategory(f.args[1].Type) == 'S' {
		f.args[1], _ = Cast(f.args[1], row.Text, false)
	} else {
		return Expr{}, f.notExist()
	}
	if !f.args[1].Const {
		return Expr{}, c.errorf(f.loc, "to_char: the format must be a constant")
	}
	fd, err := f.args[1].Eval(nil)
	if err != nil {
		return Expr{}, c.errAt(f.loc, err)
	}
	var items []charItem
	if !fd.IsNull() {
		if items, err = parseToChar(fd.Str()); err != nil {
			return Expr{}, c.errorf(f.loc, "to_char: unsupported format: %s", err.Error())
		}
	}
	return c.strict(f, row.Text, func(ds []row.Datum) (row.Datum, error) {
		us := ds[0].Int()
		if us == row.PosInfinity || us == row.NegInfinity {
			return row.Null, nil
		}
		x := toTM(us)
		var b strings.Builder
		num := func(v int64, width int, fm bool) {
			if fm {
				width = 0
			}
			fmt.Fprintf(&b, "%0*d", width, v)
		}
		name := func(s, pat string, fm bool, abbrev bool) {
			if abbrev {
				s = s[:3]
			}
			switch {
			case pat == strings.ToUpper(pat):
				s = strings.ToUpper(s)
			case pat == strings.ToLower(pat):
				s = strings.ToLower(s)
			}
			if !fm && !abbrev {
				s = fmt.Sprintf("%-9s", s)
			}
			b.WriteString(s)
		}
		year := x.year
		if year <= 0 {
			year = 1 - year
		}
		for _, it := range items {
			if it.pat == "" {
				b.WriteString(it.lit)
				continue
			}
			switch strings.ToUpper(it.pat) {
			case "HH24":
				num(int64(x.hour), 2, it.fm)
			case "HH12", "HH":
				h := x.hour % 12
				if h == 0 {
					h = 12
				}
				num(int64(h), 2, it.fm)
			case "MI":
				num(int64(x.min), 2, it.fm)
			case "SS":
				num(int64(x.sec), 2, it.fm)
			case "MS":
				num(x.usec/1000, 3, it.fm)
			case "US":
				num(x.usec, 6, it.fm)
			case "YYYY":
				num(year, 4, it.fm)
			case "YY":
				num(year%100, 2, it.fm)
			case "MONTH":
				name(monthNames[x.mon-1], it.pat, it.fm, false)
			case "MON":
				name(monthNames[x.mon-1], it.pat, it.fm, true)
			case "MM":
				num(int64(x.mon), 2, it.fm)
			case "DAY":
				name(dayNames[x.dow()], it.pat, it.fm, false)
			case "DY":
				name(dayNames[x.dow()], it.pat, it.fm, true)
			case "DDD":
				num(x.days-row.DaysFromCivil(x.year, 1, 1)+1, 3, it.fm)
			case "DD":
				num(int64(x.mday), 2, it.fm)
			case "D":
				num(x.dow()+1, 0, it.fm)
			case "Q":
				num(int64((x.mon-1)/3+1), 0, it.fm)
			case "AM", "PM":
				s := "AM"
				if x.hour >= 12 {
					s = "PM"
				}
				if it.pat == strings.ToLower(it.pat) {
					s = strings.ToLower(s)
				}
				b.WriteString(s)
			}
		}
		return row.NewText(b.String()), nil
	}), nil
}
