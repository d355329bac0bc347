package expr

import (
	"fmt"
	"strings"
	"unicode/utf8"

	pg_query "github.com/pganalyze/pg_query_go/v5"

	"github.com/rippledb/ripple/internal/row"
)

// funcCtx is one call of a function from moreFuncs: its compiled
// arguments, its explain text and its position.
type funcCtx struct {
	name     string
	args     []Expr
	nodes    []*pg_query.Node
	text     string
	loc      int
	notExist func() error
}

// moreFuncs are the scalar functions beyond the core ones in funcCall, by
// name. Each resolves its overload from the argument types the way
// PostgreSQL's func_select_candidate would for the overloads it has, and
// answers "function ... does not exist" otherwise.
var moreFuncs map[string]func(c *Compiler, f *funcCtx) (Expr, error)

func init() {
	moreFuncs = map[string]func(c *Compiler, f *funcCtx) (Expr, error){
		"substr": strSubstr, "substring": strSubstr,
		"position": strPos, "strpos": strPos,
		"btrim": strTrim, "ltrim": strTrim, "rtrim": strTrim,
		"replace": strReplace, "split_part": strSplitPart,
		"left": strLeftRight, "right": strLeftRight,
		"concat": strConcat, "concat_ws": strConcat,
		"lpad": strPad, "rpad": strPad,
		"initcap": strInitcap, "repeat": strRepeat, "reverse": strReverse,
		"starts_with":    strStartsWith,
		"regexp_replace": regexpReplace,
		"regexp_match":   refuseRegexFunc, "regexp_matches": refuseRegexFunc, "regexp_like": refuseRegexFunc,
		"regexp_count": refuseRegexFunc, "regexp_instr": refuseRegexFunc, "regexp_substr": refuseRegexFunc,
		"regexp_split_to_array": refuseRegexFunc, "regexp_split_to_table": refuseRegexFunc,
	}
	for k, v := range mathFuncs {
		moreFuncs[k] = v
	}
	for k, v := range timeFuncs {
		moreFuncs[k] = v
	}
	for k, v := range jsonbFuncs {
		moreFuncs[k] = v
	}
}

// coerce casts f's arguments to params with implicit casts only; false
// when some argument has no implicit cast (the overload does not apply).
func (f *funcCtx) coerce(params ...row.Type) bool {
	if len(f.args) != len(params) {
		return false
	}
	out := make([]Expr, len(params))
	for i, p := range params {
		a := f.args[i]
		if !implicitCast(a.Type, p) && !(typeCategory(a.Type) == 'S' && p.OID == row.OIDText) {
			return false
		}
		e, err := Cast(a, p, false)
		if err != nil {
			return false
		}
		out[i] = e
	}
	f.args = out
	return true
}

// strict builds a strict function of f's (already coerced) arguments:
// every argument is evaluated, and any NULL gives NULL.
func (c *Compiler) strict(f *funcCtx, t row.Type, fn func(ds []row.Datum) (row.Datum, error)) Expr {
	evals := make([]func(row.Row) (row.Datum, error), len(f.args))
	cnst := true
	for i, a := range f.args {
		evals[i] = a.Eval
		cnst = cnst && a.Const
	}
	return c.located(Expr{Type: t, Text: f.text, Const: cnst, Eval: func(r row.Row) (row.Datum, error) {
		ds := make([]row.Datum, len(evals))
		null := false
		for i, ev := range evals {
			d, err := ev(r)
			if err != nil {
				return row.Null, err
			}
			null = null || d.IsNull()
			ds[i] = d
		}
		if null {
			return row.Null, nil
		}
		return fn(ds)
	}}, f.loc)
}

// substrRunes is text_substring: characters [start, start+length) counted
// from 1, clipped to the string.
func substrRunes(s string, start, length int64, hasLen bool) (string, error) {
	rs := []rune(s)
	n := int64(len(rs))
	from := max(start, 1)
	end := n + 1
	if hasLen {
		if length < 0 {
			return "", fmt.Errorf("negative substring length not allowed")
		}
		end = min(start+length, n+1) // int32 inputs: no overflow in int64
	}
	if end <= from || from > n {
		return "", nil
	}
	return string(rs[from-1 : end-1]), nil
}

func strSubstr(c *Compiler, f *funcCtx) (Expr, error) {
	switch {
	case f.coerce(row.Text, row.Int4):
		return c.strict(f, row.Text, func(ds []row.Datum) (row.Datum, error) {
			s, err := substrRunes(ds[0].Str(), ds[1].Int(), 0, false)
			return row.NewText(s), err
		}), nil
	case f.coerce(row.Text, row.Int4, row.Int4):
		return c.strict(f, row.Text, func(ds []row.Datum) (row.Datum, error) {
			s, err := substrRunes(ds[0].Str(), ds[1].Int(), ds[2].Int(), true)
			if err != nil {
				return row.Null, err
			}
			return row.NewText(s), nil
		}), nil
	}
	if f.name == "substring" && len(f.args) >= 2 && typeCategory(f.args[1].Type) == 'S' {
		return Expr{}, c.errorf(f.loc, "substring with a regular expression or SIMILAR pattern is not supported yet")
	}
	if len(f.args) > 0 && f.args[0].Type.OID == row.OIDBytea {
		return Expr{}, c.errorf(f.loc, "%s on bytea is not supported yet", f.name)
	}
	return Expr{}, f.notExist()
}

// strPos is position(sub IN s) (parsed as position(s, sub)) and strpos(s, sub).
func strPos(c *Compiler, f *funcCtx) (Expr, error) {
	if !f.coerce(row.Text, row.Text) {
		return Expr{}, f.notExist()
	}
	return c.strict(f, row.Int4, func(ds []row.Datum) (row.Datum, error) {
		s, sub := ds[0].Str(), ds[1].Str()
		i := strings.Index(s, sub)
		if i < 0 {
			return row.NewInt(0), nil
		}
		return row.NewInt(int64(utf8.RuneCountInString(s[:i])) + 1), nil
	}), nil
}

// strTrim is btrim/ltrim/rtrim (and TRIM(... FROM ...), which the parser
// turns into them): remove characters of the set (default a space).
func strTrim(c *Compiler, f *funcCtx) (Expr, error) {
	if len(f.args) == 1 {
		f.args = append(f.args, Expr{Type: row.Text, Text: "' '", Const: true,
			Eval: func(row.Row) (row.Datum, error) { return row.NewText(" "), nil }})
	}
	if !f.coerce(row.Text, row.Text) {
		if len(f.args) == 2 && f.args[0].Type.OID == row.OIDBytea {
			return Expr{}, c.errorf(f.loc, "%s on bytea is not supported yet", f.name)
		}
		return Expr{}, f.notExist()
	}
	left, right := f.name != "rtrim", f.name != "ltrim"
	return c.strict(f, row.Text, func(ds []row.Datum) (row.Datum, error) {
		s, set := ds[0].Str(), ds[1].Str()
		if left {
			s = strings.TrimLeft(s, set)
		}
		if right {
			s = strings.TrimRight(s, set)
		}
		return row.NewText(s), nil
	}), nil
}

func strReplace(c *Compiler, f *funcCtx) (Expr, error) {
	if !f.coerce(row.Text, row.Text, row.Text) {
		return Expr{}, f.notExist()
	}
	return c.strict(f, row.Text, func(ds []row.Datum) (row.Datum, error) {
		s, from := ds[0].Str(), ds[1].Str()
		if from == "" {
			return ds[0], nil
		}
		return row.NewText(strings.ReplaceAll(s, from, ds[2].Str())), nil
	}), nil
}

// strSplitPart is split_part with PostgreSQL 14's negative field numbers.
func strSplitPart(c *Compiler, f *funcCtx) (Expr, error) {
	if !f.coerce(row.Text, row.Text, row.Int4) {
		return Expr{}, f.notExist()
	}
	return c.strict(f, row.Text, func(ds []row.Datum) (row.Datum, error) {
		s, sep, n := ds[0].Str(), ds[1].Str(), ds[2].Int()
		if n == 0 {
			return row.Null, fmt.Errorf("field position must not be zero")
		}
		if s == "" {
			return row.NewText(""), nil
		}
		if sep == "" {
			if n == 1 || n == -1 {
				return row.NewText(s), nil
			}
			return row.NewText(""), nil
		}
		parts := strings.Split(s, sep)
		i := n - 1
		if n < 0 {
			i = int64(len(parts)) + n
		}
		if i < 0 || i >= int64(len(parts)) {
			return row.NewText(""), nil
		}
		return row.NewText(parts[i]), nil
	}), nil
}

func strLeftRight(c *Compiler, f *funcCtx) (Expr, error) {
	if !f.coerce(row.Text, row.Int4) {
		return Expr{}, f.notExist()
	}
	right := f.name == "right"
	return c.strict(f, row.Text, func(ds []row.Datum) (row.Datum, error) {
		rs := []rune(ds[0].Str())
		n, l := ds[1].Int(), int64(len(rs))
		var k int64 // characters kept
		if n >= 0 {
			k = min(n, l)
		} else {
			k = max(l+n, 0)
		}
		if right {
			return row.NewText(string(rs[l-k:])), nil
		}
		return row.NewText(string(rs[:k])), nil
	}), nil
}

// strConcat is concat and concat_ws: NULL arguments are skipped, the others
// are rendered with their type's output function.
func strConcat(c *Compiler, f *funcCtx) (Expr, error) {
	ws := f.name == "concat_ws"
	if len(f.args) == 0 || (ws && len(f.args) < 2) {
		return Expr{}, f.notExist()
	}
	for i, a := range f.args {
		if a.Type.OID == row.OIDUnknown {
			f.args[i], _ = Cast(a, row.Text, false)
		}
	}
	if ws {
		if !implicitCast(f.args[0].Type, row.Text) && typeCategory(f.args[0].Type) != 'S' {
			return Expr{}, f.notExist()
		}
	}
	evals := make([]func(row.Row) (row.Datum, error), len(f.args))
	for i, a := range f.args {
		evals[i] = a.Eval
	}
	sepTrim := ws && f.args[0].Type.OID == row.OIDBpchar
	return c.located(Expr{Type: row.Text, Text: f.text, Eval: func(r row.Row) (row.Datum, error) {
		var b strings.Builder
		sep, first := "", true
		for i, ev := range evals {
			d, err := ev(r)
			if err != nil {
				return row.Null, err
			}
			if ws && i == 0 {
				if d.IsNull() {
					return row.Null, nil
				}
				sep = d.Str()
				if sepTrim {
					sep = strings.TrimRight(sep, " ")
				}
				continue
			}
			if d.IsNull() {
				continue
			}
			if !first {
				b.WriteString(sep)
			}
			first = false
			b.WriteString(row.FormatText(d))
		}
		return row.NewText(b.String()), nil
	}}, f.loc), nil
}

// maxAlloc is MaxAllocSize: the largest value PostgreSQL will build.
const maxAlloc = 0x3fffffff

func strPad(c *Compiler, f *funcCtx) (Expr, error) {
	if len(f.args) == 2 {
		f.args = append(f.args, Expr{Type: row.Text, Text: "' '", Const: true,
			Eval: func(row.Row) (row.Datum, error) { return row.NewText(" "), nil }})
	}
	if !f.coerce(row.Text, row.Int4, row.Text) {
		return Expr{}, f.notExist()
	}
	left := f.name == "lpad"
	return c.strict(f, row.Text, func(ds []row.Datum) (row.Datum, error) {
		rs, n, fill := []rune(ds[0].Str()), ds[1].Int(), []rune(ds[2].Str())
		if n <= 0 {
			return row.NewText(""), nil
		}
		if 4*n+4 > maxAlloc { // pg_database_encoding_max_length() is 4 for UTF8
			return row.Null, fmt.Errorf("requested length too large")
		}
		if int64(len(rs)) >= n || len(fill) == 0 {
			return row.NewText(string(rs[:min(int64(len(rs)), n)])), nil
		}
		pad := make([]rune, 0, n-int64(len(rs)))
		for i := 0; int64(len(pad)) < n-int64(len(rs)); i++ {
			pad = append(pad, fill[i%len(fill)])
		}
		if left {
			return row.NewText(string(pad) + string(rs)), nil
		}
		return row.NewText(string(rs) + string(pad)), nil
	}), nil
}

// strInitcap is initcap under the C locale (asc_initcap): ASCII letters
// only, a letter is upper-cased when the byte before it is not an ASCII
// letter or digit.
func strInitcap(c *Compiler, f *funcCtx) (Expr, error) {
	if !f.coerce(row.Text) {
		return Expr{}, f.notExist()
	}
	if !c.cCollation(f.args[0]) {
		return Expr{}, c.errorf(f.loc, "initcap is supported only under the \"C\" collation")
	}
	return c.strict(f, row.Text, func(ds []row.Datum) (row.Datum, error) {
		b := []byte(ds[0].Str())
		prevAlnum := false
		for i, ch := range b {
			lower, upper := ch >= 'a' && ch <= 'z', ch >= 'A' && ch <= 'Z'
			switch {
			case prevAlnum && upper:
				b[i] = ch - 'A' + 'a'
			case !prevAlnum && lower:
				b[i] = ch - 'a' + 'A'
			}
			prevAlnum = lower || upper || (ch >= '0' && ch <= '9')
		}
		return row.NewText(string(b)), nil
	}), nil
}

func strRepeat(c *Compiler, f *funcCtx) (Expr, error) {
	if !f.coerce(row.Text, row.Int4) {
		return Expr{}, f.notExist()
	}
	return c.strict(f, row.Text, func(ds []row.Datum) (row.Datum, error) {
		s, n := ds[0].Str(), max(ds[1].Int(), 0)
		if n*int64(len(s))+4 > maxAlloc {
			return row.Null, fmt.Errorf("requested length too large")
		}
		return row.NewText(strings.Repeat(s, int(n))), nil
	}), nil
}

func strReverse(c *Compiler, f *funcCtx) (Expr, error) {
	if !f.coerce(row.Text) {
		return Expr{}, f.notExist()
	}
	return c.strict(f, row.Text, func(ds []row.Datum) (row.Datum, error) {
		rs := []rune(ds[0].Str())
		for i, j := 0, len(rs)-1; i < j; i, j = i+1, j-1 {
			rs[i], rs[j] = rs[j], rs[i]
		}
		return row.NewText(string(rs)), nil
	}), nil
}

func strStartsWith(c *Compiler, f *funcCtx) (Expr, error) {
	if !f.coerce(row.Text, row.Text) {
		return Expr{}, f.notExist()
	}
	return c.strict(f, row.Bool, func(ds []row.Datum) (row.Datum, error) {
		return row.NewBool(strings.HasPrefix(ds[0].Str(), ds[1].Str())), nil
	}), nil
}
