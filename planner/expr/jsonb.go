package expr

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/cockroachdb/apd/v3"

	"github.com/rippledb/ripple/internal/row"
)

// jsonb values travel as jsonb's canonical text (row.KindJSONB). The
// operators here parse that text into a jval tree and print sub-values back
// in the same canonical form (JsonbToCString): object keys ordered by
// length then bytes, duplicates resolved to the last, ": " and ", "
// separators, numbers as numeric_out prints them, strings escaped as
// escape_json does.

type jval struct {
	kind  byte // 'o' object, 'a' array, 's' string, 'n' number, 'b' boolean, 'z' null
	str   string
	num   *apd.Decimal
	keys  []string // object keys, canonical order
	vals  []*jval  // object values, parallel to keys; array elements
	bval  bool
	raw   bool // a top-level scalar (stored by PostgreSQL as a one-element raw-scalar array)
	depth int
}

var errJSONSyntax = errors.New("invalid input syntax for type json")

// parseJSONB reads JSON text as jsonb_in does.
func parseJSONB(s string) (*jval, error) {
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	v, err := readJSONB(dec)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errJSONSyntax
	}
	if v.kind != 'o' && v.kind != 'a' {
		v.raw = true
	}
	return v, nil
}

func readJSONB(dec *json.Decoder) (*jval, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, errJSONSyntax
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			m := map[string]*jval{}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, errJSONSyntax
				}
				k, ok := kt.(string)
				if !ok {
					return nil, errJSONSyntax
				}
				v, err := readJSONB(dec)
				if err != nil {
					return nil, err
				}
				m[k] = v
			}
			if _, err := dec.Token(); err != nil {
				return nil, errJSONSyntax
			}
			o := &jval{kind: 'o'}
			for k := range m {
				o.keys = append(o.keys, k)
			}
			sort.Slice(o.keys, func(i, j int) bool {
				a, b := o.keys[i], o.keys[j]
				if len(a) != len(b) {
					return len(a) < len(b)
				}
				return a < b
			})
			for _, k := range o.keys {
				o.vals = append(o.vals, m[k])
			}
			return o, nil
		case '[':
			a := &jval{kind: 'a'}
			for dec.More() {
				v, err := readJSONB(dec)
				if err != nil {
					return nil, err
				}
				a.vals = append(a.vals, v)
			}
			if _, err := dec.Token(); err != nil {
				return nil, errJSONSyntax
			}
			return a, nil
		}
	case string:
		if strings.ContainsRune(t, 0) {
			return nil, errors.New("unsupported Unicode escape sequence")
		}
		return &jval{kind: 's', str: t}, nil
	case json.Number:
		n, ok := numericIn(string(t))
		if !ok {
			return nil, errJSONSyntax
		}
		return &jval{kind: 'n', num: n}, nil
	case bool:
		return &jval{kind: 'b', bval: t}, nil
	case nil:
		return &jval{kind: 'z'}, nil
	}
	return nil, errJSONSyntax
}

func (v *jval) text() (string, error) {
	var b strings.Builder
	if err := v.write(&b); err != nil {
		return "", err
	}
	return b.String(), nil
}

func (v *jval) write(b *strings.Builder) error {
	switch v.kind {
	case 'o':
		b.WriteByte('{')
		for i, k := range v.keys {
			if i > 0 {
				b.WriteString(", ")
			}
			escapeJSON(b, k)
			b.WriteString(": ")
			if err := v.vals[i].write(b); err != nil {
				return err
			}
		}
		b.WriteByte('}')
	case 'a':
		b.WriteByte('[')
		for i, e := range v.vals {
			if i > 0 {
				b.WriteString(", ")
			}
			if err := e.write(b); err != nil {
				return err
			}
		}
		b.WriteByte(']')
	case 's':
		escapeJSON(b, v.str)
	case 'n':
		d, err := numDatum(v.num)
		if err != nil {
			return err
		}
		b.WriteString(d.Str())
	case 'b':
		b.WriteString(strconv.FormatBool(v.bval))
	case 'z':
		b.WriteString("null")
	}
	return nil
}

// escapeJSON is escape_json (json.c).
func escapeJSON(b *strings.Builder, s string) {
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch ch {
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		default:
			if ch < 0x20 {
				fmt.Fprintf(b, `\u%04x`, ch)
			} else {
				b.WriteByte(ch)
			}
		}
	}
	b.WriteByte('"')
}

// asText is the ->> rendering: strings unescaped, JSON null as SQL NULL.
func (v *jval) asText() (row.Datum, error) {
	switch v.kind {
	case 's':
		return row.NewText(v.str), nil
	case 'z':
		return row.Null, nil
	}
	s, err := v.text()
	if err != nil {
		return row.Null, err
	}
	return row.NewText(s), nil
}

func (v *jval) datum() (row.Datum, error) {
	s, err := v.text()
	if err != nil {
		return row.Null, err
	}
	return row.NewJSONB(s), nil
}

func (v *jval) field(k string) *jval {
	if v.kind != 'o' {
		return nil
	}
	for i, key := range v.keys {
		if key == k {
			return v.vals[i]
		}
	}
	return nil
}

func (v *jval) elem(i int64) *jval {
	if v.raw { // a raw scalar is a one-element array to ->
		v = &jval{kind: 'a', vals: []*jval{v}}
	}
	if v.kind != 'a' {
		return nil
	}
	n := int64(len(v.vals))
	if i < 0 {
		i += n
	}
	if i < 0 || i >= n {
		return nil
	}
	return v.vals[i]
}

func jsonbOf(d row.Datum) (*jval, error) { return parseJSONB(d.Str()) }

var jsonbFuncs = map[string]func(c *Compiler, f *funcCtx) (Expr, error){
	"jsonb_typeof": jsonbTypeof, "jsonb_array_length": jsonbArrayLength,
}

func jsonbTypeof(c *Compiler, f *funcCtx) (Expr, error) {
	if len(f.args) == 1 && f.args[0].Type.OID == row.OIDUnknown {
		e, err := c.constJSONB(f.args[0], f.loc)
		if err != nil {
			return Expr{}, err
		}
		f.args[0] = e
	}
	if len(f.args) != 1 || f.args[0].Type.OID != row.OIDJSONB {
		return Expr{}, f.notExist()
	}
	return c.strict(f, row.Text, func(ds []row.Datum) (row.Datum, error) {
		v, err := jsonbOf(ds[0])
		if err != nil {
			return row.Null, err
		}
		return row.NewText(map[byte]string{'o': "object", 'a': "array", 's': "string", 'n': "number",
			'b': "boolean", 'z': "null"}[v.kind]), nil
	}), nil
}

func jsonbArrayLength(c *Compiler, f *funcCtx) (Expr, error) {
	if len(f.args) == 1 && f.args[0].Type.OID == row.OIDUnknown {
		e, err := c.constJSONB(f.args[0], f.loc)
		if err != nil {
			return Expr{}, err
		}
		f.args[0] = e
	}
	if len(f.args) != 1 || f.args[0].Type.OID != row.OIDJSONB {
		return Expr{}, f.notExist()
	}
	return c.strict(f, row.Int4, func(ds []row.Datum) (row.Datum, error) {
		v, err := jsonbOf(ds[0])
		if err != nil {
			return row.Null, err
		}
		switch {
		case v.raw:
			return row.Null, errors.New("cannot get array length of a scalar")
		case v.kind != 'a':
			return row.Null, errors.New("cannot get array length of a non-array")
		}
		return row.NewInt(int64(len(v.vals))), nil
	}), nil
}

var simplePathElem = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// jsonbOp is ->, ->>, #>>, @> and ? with jsonb on the left.
func (c *Compiler) jsonbOp(op string, l, r Expr, loc int) (Expr, error) {
	text := fmt.Sprintf("(%s %s %s)", l.Text, op, r.Text)
	mk := func(t row.Type, r Expr, f func(v *jval, y row.Datum) (row.Datum, error)) (Expr, error) {
		return c.located(binaryExpr(t, text, l, r, func(x, y row.Datum) (row.Datum, error) {
			v, err := jsonbOf(x)
			if err != nil {
				return row.Null, err
			}
			return f(v, y)
		}), loc), nil
	}
	rt := r.Type
	switch op {
	case "->", "->>":
		out := func(v *jval) (row.Datum, error) {
			if v == nil {
				return row.Null, nil
			}
			if op == "->" {
				return v.datum()
			}
			return v.asText()
		}
		t := row.JSONB
		if op == "->>" {
			t = row.Text
		}
		switch {
		case rt.OID == row.OIDUnknown || typeCategory(rt) == 'S':
			r, _ = Cast(r, row.Text, false)
			return mk(t, r, func(v *jval, y row.Datum) (row.Datum, error) { return out(v.field(y.Str())) })
		case rt.OID == row.OIDInt4 || rt.OID == row.OIDInt2:
			r, _ = Cast(r, row.Int4, false)
			return mk(t, r, func(v *jval, y row.Datum) (row.Datum, error) { return out(v.elem(y.Int())) })
		}
	case "#>>":
		if rt.OID != row.OIDUnknown || !r.Const {
			return Expr{}, c.errorf(loc, "operator #>> is supported only with a constant path literal such as '{a,0}'")
		}
		pd, err := r.Eval(nil)
		if err != nil {
			return Expr{}, c.errAt(loc, err)
		}
		var path []string
		if !pd.IsNull() {
			p := strings.TrimSpace(pd.Str())
			if !strings.HasPrefix(p, "{") || !strings.HasSuffix(p, "}") {
				return Expr{}, c.errorf(loc, "operator #>>: path %s is not a simple text[] literal", quoteLiteral(pd.Str()))
			}
			if body := strings.TrimSpace(p[1 : len(p)-1]); body != "" {
				for _, e := range strings.Split(body, ",") {
					e = strings.TrimSpace(e)
					if !simplePathElem.MatchString(e) || strings.EqualFold(e, "null") {
						return Expr{}, c.errorf(loc, "operator #>>: path element %q is not supported (only unquoted letters, digits, _ and -)", e)
					}
					path = append(path, e)
				}
			}
		}
		r = Expr{Type: row.Text, Text: r.Text, Const: true, Eval: r.Eval}
		return mk(row.Text, r, func(v *jval, _ row.Datum) (row.Datum, error) {
			for _, p := range path {
				switch {
				case v.kind == 'o':
					v = v.field(p)
				case v.kind == 'a' && !v.raw: // unlike ->, a path does not enter a raw scalar
					i, err := strconv.ParseInt(p, 10, 32)
					if err != nil {
						return row.Null, nil
					}
					v = v.elem(i)
				default:
					return row.Null, nil
				}
				if v == nil {
					return row.Null, nil
				}
			}
			return v.asText()
		})
	case "?":
		if rt.OID == row.OIDUnknown || typeCategory(rt) == 'S' {
			r, _ = Cast(r, row.Text, false)
			return mk(row.Bool, r, func(v *jval, y row.Datum) (row.Datum, error) {
				k := y.Str()
				if v.kind == 'o' {
					return row.NewBool(v.field(k) != nil), nil
				}
				if v.raw {
					return row.NewBool(v.kind == 's' && v.str == k), nil
				}
				for _, e := range v.vals {
					if e.kind == 's' && e.str == k {
						return row.NewBool(true), nil
					}
				}
				return row.NewBool(false), nil
			})
		}
	case "@>":
		if rt.OID == row.OIDUnknown {
			var err error
			if r, err = c.constJSONB(r, loc); err != nil {
				return Expr{}, err
			}
			rt = row.JSONB
		}
		if rt.OID == row.OIDJSONB {
			return mk(row.Bool, r, func(v *jval, y row.Datum) (row.Datum, error) {
				w, err := jsonbOf(y)
				if err != nil {
					return row.Null, err
				}
				return row.NewBool(jsonbContains(v, w, true)), nil
			})
		}
	}
	return Expr{}, c.errAt(loc, noOperator(op, l.Type, r.Type))
}

// jsonbContains is JsonbDeepContains: a top-level raw scalar on the right
// is an array of one element, and only an array or an equal scalar
// contains it.
func jsonbContains(a, b *jval, top bool) bool {
	if top {
		wrap := func(v *jval) *jval {
			if v.raw {
				return &jval{kind: 'a', vals: []*jval{v}, raw: true}
			}
			return v
		}
		a, b = wrap(a), wrap(b)
		if a.raw && !b.raw {
			return false
		}
	}
	if a.kind != b.kind {
		return false
	}
	switch a.kind {
	case 'o':
		for i, k := range b.keys {
			av := a.field(k)
			if av == nil {
				return false
			}
			bv := b.vals[i]
			if av.kind != bv.kind {
				return false
			}
			if bv.kind == 'o' || bv.kind == 'a' {
				if !jsonbContains(av, bv, false) {
					return false
				}
			} else if !jsonbScalarEqual(av, bv) {
				return false
			}
		}
		return true
	case 'a':
		for _, bv := range b.vals {
			found := false
			for _, av := range a.vals {
				if av.kind != bv.kind {
					continue
				}
				if bv.kind == 'o' || bv.kind == 'a' {
					found = jsonbContains(av, bv, false)
				} else {
					found = jsonbScalarEqual(av, bv)
				}
				if found {
					break
				}
			}
			if !found {
				return false
			}
		}
		return true
	}
	return jsonbScalarEqual(a, b)
}

func jsonbScalarEqual(a, b *jval) bool {
	if a.kind != b.kind {
		return false
	}
	switch a.kind {
	case 's':
		return a.str == b.str
	case 'n':
		return a.num.Cmp(b.num) == 0
	case 'b':
		return a.bval == b.bval
	}
	return true
}

// constJSONB converts an unknown-typed literal to jsonb (jsonb_in) at
// compile time; ripple has no general text-to-jsonb cast yet.
func (c *Compiler) constJSONB(e Expr, loc int) (Expr, error) {
	if !e.Const {
		return Expr{}, c.errorf(loc, "converting text to jsonb is supported only for constants")
	}
	d, err := e.Eval(nil)
	if err != nil {
		return Expr{}, c.errAt(loc, err)
	}
	var canon row.Datum
	if !d.IsNull() {
		v, err := parseJSONB(d.Str())
		if err != nil {
			return Expr{}, c.errAt(loc, err)
		}
		if canon, err = v.datum(); err != nil {
			return Expr{}, c.errAt(loc, err)
		}
	}
	return Expr{Type: row.JSONB, Text: e.Text, Const: true, Eval: func(row.Row) (row.Datum, error) { return canon, nil }}, nil
}
