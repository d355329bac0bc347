package expr

import (
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/rippledb/ripple/internal/row"
)

// PostgreSQL's regular expressions (Henry Spencer's ARE engine) and Go's
// RE2 agree only on a common core. translateRegex accepts a pattern only
// when every construct in it has the same meaning in both, and rewrites it
// for Go: "." and negated brackets match newlines (PostgreSQL's default,
// non-newline-sensitive mode), and matching is leftmost-longest (an ARE
// with only greedy quantifiers is greedy as a whole). Accepted: literals,
// ".", "^", "$", "|", "(...)", "(?:...)", greedy "*", "+", "?", "{m}",
// "{m,}", "{m,n}" (m, n ≤ 255), bracket expressions with literal
// characters and ranges, and the escapes \d \D \w \W \n \t and backslash
// before punctuation. Refused: back references, lookaround, non-greedy
// quantifiers, embedded options, character classes like [[:alpha:]], and
// every other escape (\s, \b, \y, \m, \A, \Z differ or do not exist in one
// of the two). Case-insensitive matching is done by rewriting ASCII letters
// to both cases (PostgreSQL under the C collation folds ASCII only; Go's
// (?i) folds all of Unicode).
func translateRegex(p string, icase bool) (string, error) {
	var b strings.Builder
	b.WriteString("(?s)")
	rs := []rune(p)
	bothCases := func(r rune) string {
		switch {
		case r >= 'a' && r <= 'z':
			return "[" + string(r) + string(r-'a'+'A') + "]"
		case r >= 'A' && r <= 'Z':
			return "[" + string(r) + string(r-'A'+'a') + "]"
		}
		return regexp.QuoteMeta(string(r))
	}
	canQuantify := false
	for i := 0; i < len(rs); i++ {
		r := rs[i]
		switch r {
		case '\\':
			if i+1 >= len(rs) {
				return "", fmt.Errorf("invalid regular expression: invalid escape \\ sequence")
			}
			i++
			e := rs[i]
			switch {
			case e == 'd' || e == 'D' || e == 'w' || e == 'W':
				b.WriteString(`\` + string(e))
			case e == 'n':
				b.WriteString(`\n`)
			case e == 't':
				b.WriteString(`\t`)
			case e < 128 && !isAlnumASCII(e):
				b.WriteString(regexp.QuoteMeta(string(e)))
			default:
				return "", fmt.Errorf("regular expression escape \\%c is not supported", e)
			}
			canQuantify = true
		case '.':
			b.WriteRune('.')
			canQuantify = true
		case '^', '$', '|':
			b.WriteRune(r)
			canQuantify = false
		case '(':
			if i+1 < len(rs) && rs[i+1] == '?' {
				if i+2 < len(rs) && rs[i+2] == ':' {
					b.WriteString("(?:")
					i += 2
					canQuantify = false
					continue
				}
				return "", fmt.Errorf("regular expression lookaround and embedded options (\"(?\") are not supported")
			}
			b.WriteRune('(')
			canQuantify = false
		case ')':
			b.WriteRune(')')
			canQuantify = true
		case '*', '+', '?':
			if !canQuantify {
				return "", fmt.Errorf("regular expression quantifier %c has nothing to repeat", r)
			}
			b.WriteRune(r)
			if i+1 < len(rs) && (rs[i+1] == '?' || rs[i+1] == '*' || rs[i+1] == '+' || rs[i+1] == '{') {
				return "", fmt.Errorf("non-greedy and repeated quantifiers in regular expressions are not supported")
			}
			canQuantify = false
		case '{':
			j := i + 1
			for j < len(rs) && rs[j] != '}' {
				j++
			}
			if j >= len(rs) || !canQuantify {
				return "", fmt.Errorf("regular expression brace \"{\" is supported only as a bound {m}, {m,} or {m,n}")
			}
			body := string(rs[i+1 : j])
			bm := boundRE.FindStringSubmatch(body)
			if bm == nil || atoiMax(bm[1]) > 255 || (bm[3] != "" && (atoiMax(bm[3]) > 255 || atoiMax(bm[3]) < atoiMax(bm[1]))) {
				return "", fmt.Errorf("regular expression bound {%s} is not supported", body)
			}
			b.WriteString("{" + body + "}")
			i = j
			if i+1 < len(rs) && (rs[i+1] == '?' || rs[i+1] == '*' || rs[i+1] == '+' || rs[i+1] == '{') {
				return "", fmt.Errorf("non-greedy and repeated quantifiers in regular expressions are not supported")
			}
			canQuantify = false
		case '[':
			j, cls, err := translateBracket(rs, i, icase)
			if err != nil {
				return "", err
			}
			b.WriteString(cls)
			i = j
			canQuantify = true
		case '}', ']':
			b.WriteString(regexp.QuoteMeta(string(r)))
			canQuantify = true
		default:
			if icase {
				b.WriteString(bothCases(r))
			} else {
				b.WriteString(regexp.QuoteMeta(string(r)))
			}
			canQuantify = true
		}
	}
	return b.String(), nil
}

var boundRE = regexp.MustCompile(`^([0-9]{1,4})(,([0-9]{1,4})?)?$`)

func atoiMax(s string) int {
	n := 0
	for _, ch := range s {
		n = n*10 + int(ch-'0')
	}
	return n
}

func isAlnumASCII(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9'
}

// translateBracket translates the bracket expression starting at rs[i];
// it returns the index of its closing ']'.
func translateBracket(rs []rune, i int, icase bool) (int, string, error) {
	var b strings.Builder
	b.WriteRune('[')
	j := i + 1
	if j < len(rs) && rs[j] == '^' {
		b.WriteRune('^')
		j++
	}
	first := true
	for ; j < len(rs); j++ {
		r := rs[j]
		if r == ']' && !first {
			b.WriteRune(']')
			return j, b.String(), nil
		}
		first = false
		if r == '[' || r == '\\' || r == ']' {
			return 0, "", fmt.Errorf("regular expression bracket expressions with %q are not supported", r)
		}
		if j+2 < len(rs) && rs[j+1] == '-' && rs[j+2] != ']' {
			hi := rs[j+2]
			if hi == '[' || hi == '\\' || hi < r {
				return 0, "", fmt.Errorf("regular expression range %c-%c is not supported", r, hi)
			}
			b.WriteString(regexp.QuoteMeta(string(r)) + "-" + regexp.QuoteMeta(string(hi)))
			if icase {
				switch {
				case r >= 'a' && hi <= 'z':
					b.WriteString(string(r-'a'+'A') + "-" + string(hi-'a'+'A'))
				case r >= 'A' && hi <= 'Z':
					b.WriteString(string(r-'A'+'a') + "-" + string(hi-'A'+'a'))
				case r <= 'z' && hi >= 'A':
					return 0, "", fmt.Errorf("case-insensitive regular expression range %c-%c is not supported", r, hi)
				}
			}
			j += 2
			continue
		}
		b.WriteString(regexp.QuoteMeta(string(r)))
		if icase && r < 128 && isAlnumASCII(r) && !(r >= '0' && r <= '9') {
			if r >= 'a' {
				b.WriteRune(r - 'a' + 'A')
			} else {
				b.WriteRune(r - 'A' + 'a')
			}
		}
	}
	return 0, "", fmt.Errorf("invalid regular expression: brackets [] not balanced")
}

// constRegex compiles the constant pattern e; nil for a NULL pattern.
func (c *Compiler) constRegex(e Expr, icase bool, loc int, what string) (*regexp.Regexp, bool, error) {
	if !e.Const {
		return nil, false, c.errorf(loc, "%s: the regular expression pattern must be a constant", what)
	}
	d, err := e.Eval(nil)
	if err != nil {
		return nil, false, c.errAt(loc, err)
	}
	if d.IsNull() {
		return nil, true, nil
	}
	if icase && !c.cCollation(e) {
		return nil, false, c.errorf(loc, "%s: case-insensitive regular expressions are supported only under the \"C\" collation", what)
	}
	src, err := translateRegex(d.Str(), icase)
	if err != nil {
		return nil, false, c.errorf(loc, "%s: %s", what, err.Error())
	}
	re, err := regexp.Compile(src)
	if err != nil {
		return nil, false, c.errorf(loc, "%s: unsupported regular expression: %s", what, err.Error())
	}
	re.Longest()
	return re, false, nil
}

// regexMatch is ~, ~*, !~ and !~*.
func (c *Compiler) regexMatch(op string, l, r Expr, loc int) (Expr, error) {
	strOrUnknown := func(t row.Type) bool { return typeCategory(t) == 'S' || t.OID == row.OIDUnknown }
	if !strOrUnknown(l.Type) || !strOrUnknown(r.Type) {
		return Expr{}, c.errAt(loc, noOperator(op, l.Type, r.Type))
	}
	var err error
	if l.Type.OID == row.OIDUnknown {
		l, _ = Cast(l, row.Text, false)
	}
	if r, err = Cast(r, row.Text, false); err != nil {
		return Expr{}, c.errAt(loc, err)
	}
	re, null, err := c.constRegex(r, strings.HasSuffix(op, "*"), loc, "operator "+op)
	if err != nil {
		return Expr{}, err
	}
	neg := strings.HasPrefix(op, "!")
	text := fmt.Sprintf("(%s %s %s)", l.Text, op, r.Text)
	le := l.Eval
	return c.located(Expr{Type: row.Bool, Text: text, Const: l.Const, Eval: func(rw row.Row) (row.Datum, error) {
		x, err := le(rw)
		if err != nil || x.IsNull() || null {
			return row.Null, err
		}
		return row.NewBool(re.MatchString(x.Str()) != neg), nil
	}}, loc), nil
}

// regexpReplace is regexp_replace(source, pattern, replacement [, flags])
// with a constant pattern, a replacement without back references and the
// flags g and i.
func regexpReplace(c *Compiler, f *funcCtx) (Expr, error) {
	if len(f.args) == 3 {
		f.args = append(f.args, Expr{Type: row.Text, Text: "''", Const: true,
			Eval: func(row.Row) (row.Datum, error) { return row.NewText(""), nil }})
	}
	if !f.coerce(row.Text, row.Text, row.Text, row.Text) {
		if len(f.args) > 4 {
			return Expr{}, c.errorf(f.loc, "regexp_replace with a start position or occurrence is not supported yet")
		}
		return Expr{}, f.notExist()
	}
	flags := f.args[3]
	if !flags.Const {
		return Expr{}, c.errorf(f.loc, "regexp_replace: the flags must be a constant")
	}
	fd, err := flags.Eval(nil)
	if err != nil {
		return Expr{}, c.errAt(f.loc, err)
	}
	global, icase := false, false
	if !fd.IsNull() {
		for _, ch := range fd.Str() {
			switch ch {
			case 'g':
				global = true
			case 'i':
				icase = true
			case 'c':
				icase = false
			default:
				return Expr{}, c.errorf(f.loc, "regexp_replace: flag %q is not supported", ch)
			}
		}
	}
	if global && f.args[1].Const {
		// the global loop searches suffixes of the string, where "^" would
		// match again; PostgreSQL's ^ matches only at the very start
		if pd, err := f.args[1].Eval(nil); err == nil && !pd.IsNull() && hasCaretAnchor(pd.Str()) {
			return Expr{}, c.errorf(f.loc, "regexp_replace: the anchor ^ with flag g is not supported")
		}
	}
	re, _, err := c.constRegex(f.args[1], icase, f.loc, "regexp_replace")
	if err != nil {
		return Expr{}, err
	}
	repl := f.args[2]
	if repl.Const {
		rd, err := repl.Eval(nil)
		if err != nil {
			return Expr{}, c.errAt(f.loc, err)
		}
		if !rd.IsNull() && strings.Contains(rd.Str(), `\`) {
			return Expr{}, c.errorf(f.loc, "regexp_replace: back references and escapes in the replacement are not supported")
		}
	} else {
		return Expr{}, c.errorf(f.loc, "regexp_replace: the replacement must be a constant")
	}
	return c.strict(f, row.Text, func(ds []row.Datum) (row.Datum, error) {
		s, rp := ds[0].Str(), ds[2].Str()
		// replace_text_regexp: after an empty match the search moves on by
		// one character; an empty match right after a non-empty one counts
		// (Go's ReplaceAll skips it).
		var b strings.Builder
		pos, last := 0, 0
		for pos <= len(s) {
			m := re.FindStringIndex(s[pos:])
			if m == nil {
				break
			}
			ms, me := pos+m[0], pos+m[1]
			b.WriteString(s[last:ms])
			b.WriteString(rp)
			last = me
			if !global {
				break
			}
			if ms == me {
				if me >= len(s) {
					break
				}
				_, size := utf8.DecodeRuneInString(s[me:])
				pos = me + size
			} else {
				pos = me
			}
		}
		b.WriteString(s[last:])
		return row.NewText(b.String()), nil
	}), nil
}

// hasCaretAnchor reports whether p has a ^ outside a bracket expression.
func hasCaretAnchor(p string) bool {
	in := false
	for i := 0; i < len(p); i++ {
		switch {
		case p[i] == '\\':
			i++
		case p[i] == '[' && !in:
			in = true
			if i+1 < len(p) && p[i+1] == '^' {
				i++
			}
		case p[i] == ']' && in:
			in = false
		case p[i] == '^' && !in:
			return true
		}
	}
	return false
}

func refuseRegexFunc(c *Compiler, f *funcCtx) (Expr, error) {
	return Expr{}, c.errorf(f.loc, "%s is not supported yet", f.name)
}
