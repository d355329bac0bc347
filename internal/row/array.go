package row

import (
	"fmt"
	"strings"
)

// One-dimensional arrays of the supported element types. An array Datum
// (KindArray) holds PostgreSQL's canonical text output of the array
// (`{1,2,NULL,"a b"}`) in Str(): the element type is in the column's
// Type, and ParseText canonicalizes every element through the element
// type's own codec, so equal texts are equal arrays. Arrays compare and
// hash by that text, which is PostgreSQL's array equality for every
// element type except numeric (1.0 and 1.00 are equal numerics but
// different texts); arrays are not ordered (the planner refuses ORDER BY
// and min/max over them).

// KindArray is the kind of array values: Str() holds the canonical text
// form. It is numbered apart from the scalar kinds.
const KindArray Kind = 32

// Array type OIDs (pg_type.dat: the element type's typarray).
const (
	OIDBoolArray        OID = 1000
	OIDByteaArray       OID = 1001
	OIDInt2Array        OID = 1005
	OIDInt4Array        OID = 1007
	OIDTextArray        OID = 1009
	OIDBpcharArray      OID = 1014
	OIDVarcharArray     OID = 1015
	OIDInt8Array        OID = 1016
	OIDFloat4Array      OID = 1021
	OIDFloat8Array      OID = 1022
	OIDTimestampArray   OID = 1115
	OIDDateArray        OID = 1182
	OIDTimestampTZArray OID = 1185
	OIDNumericArray     OID = 1231
	OIDUUIDArray        OID = 2951
	OIDJSONArray        OID = 199
	OIDJSONBArray       OID = 3807
)

// arrayOf maps an element type OID to its array type OID.
var arrayOf = map[OID]OID{
	OIDBool: OIDBoolArray, OIDBytea: OIDByteaArray, OIDInt2: OIDInt2Array, OIDInt4: OIDInt4Array,
	OIDText: OIDTextArray, OIDBpchar: OIDBpcharArray, OIDVarchar: OIDVarcharArray, OIDInt8: OIDInt8Array,
	OIDFloat4: OIDFloat4Array, OIDFloat8: OIDFloat8Array, OIDTimestamp: OIDTimestampArray,
	OIDDate: OIDDateArray, OIDTimestampTZ: OIDTimestampTZArray, OIDNumeric: OIDNumericArray,
	OIDUUID: OIDUUIDArray, OIDJSON: OIDJSONArray, OIDJSONB: OIDJSONBArray,
}

// elemOf maps an array type OID to its element type OID.
var elemOf = map[OID]OID{}

func init() {
	for e, a := range arrayOf {
		elemOf[a] = e
		kindOf[a] = KindArray
	}
}

// ArrayOf is the array type whose elements have type t (the type
// modifier is the element's, as in PostgreSQL); ok is false when ripple
// has no array of t.
func ArrayOf(t Type) (Type, bool) {
	a, ok := arrayOf[t.OID]
	return Type{a, t.Mod}, ok
}

// Elem is the element type of array type t; ok is false when t is not an
// array type.
func (t Type) Elem() (Type, bool) {
	e, ok := elemOf[t.OID]
	return Type{e, t.Mod}, ok
}

// IsArray reports whether t is an array type.
func (t Type) IsArray() bool { _, ok := elemOf[t.OID]; return ok }

// arrayTypeString is format_type for an array type: the element's name
// (with its modifier) followed by [].
func arrayTypeString(t Type) (string, bool) {
	e, ok := t.Elem()
	if !ok {
		return "", false
	}
	return e.String() + "[]", true
}

// NewArray returns the array of elems (NULL elements allowed), whose
// non-NULL elements must all be of one kind: the canonical text form
// PostgreSQL prints.
func NewArray(elems []Datum) Datum {
	var b strings.Builder
	b.WriteByte('{')
	for i, e := range elems {
		if i > 0 {
			b.WriteByte(',')
		}
		if e.IsNull() {
			b.WriteString("NULL")
			continue
		}
		writeArrayElem(&b, FormatText(e))
	}
	b.WriteByte('}')
	return Datum{kind: KindArray, s: b.String()}
}

// writeArrayElem writes one element as array_out does: in double quotes
// (with " and \ escaped by a backslash) when it is empty, is NULL in any
// case, or contains a brace, a quote, a backslash, the delimiter or
// white space.
func writeArrayElem(b *strings.Builder, s string) {
	quote := s == "" || strings.EqualFold(s, "NULL")
	for i := 0; i < len(s) && !quote; i++ {
		switch s[i] {
		case '{', '}', '"', '\\', ',', ' ', '\t', '\n', '\r', '\v', '\f':
			quote = true
		}
	}
	if !quote {
		b.WriteString(s)
		return
	}
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' || s[i] == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	b.WriteByte('"')
}

// ArrayElems splits an array's canonical text into its elements of type
// elem.
func ArrayElems(elem Type, d Datum) ([]Datum, error) {
	return parseArrayElems(elem, d.s)
}

// parseArray decodes array_in's input for array type t: one dimension,
// default bounds.
func parseArray(t Type, s string) (Datum, error) {
	elem, _ := t.Elem()
	elems, err := parseArrayElems(elem, s)
	if err != nil {
		return Null, &ParseError{Type: t, Text: s, Msg: err.Error()}
	}
	return NewArray(elems), nil
}

func isArraySpace(c byte) bool {
	switch c {
	case ' ', '\t', '\n', '\r', '\v', '\f':
		return true
	}
	return false
}

func parseArrayElems(elem Type, s string) ([]Datum, error) {
	i := 0
	skip := func() {
		for i < len(s) && isArraySpace(s[i]) {
			i++
		}
	}
	skip()
	if i < len(s) && s[i] == '[' {
		return nil, fmt.Errorf("arrays with explicit bounds are not supported")
	}
	if i >= len(s) || s[i] != '{' {
		return nil, fmt.Errorf(`array value must start with "{"`)
	}
	i++
	var out []Datum
	skip()
	if i < len(s) && s[i] == '}' {
		i++
		skip()
		if i != len(s) {
			return nil, fmt.Errorf("junk after closing right brace")
		}
		return []Datum{}, nil
	}
	for {
		skip()
		if i >= len(s) {
			return nil, fmt.Errorf("unexpected end of input")
		}
		if s[i] == '{' {
			return nil, fmt.Errorf("multidimensional arrays are not supported")
		}
		var text strings.Builder
		quoted, any := false, false
		if s[i] == '"' {
			quoted, any = true, true
			i++
			for {
				if i >= len(s) {
					return nil, fmt.Errorf("unterminated quoted element")
				}
				c := s[i]
				if c == '"' {
					i++
					break
				}
				if c == '\\' {
					i++
					if i >= len(s) {
						return nil, fmt.Errorf("unexpected end of input")
					}
					c = s[i]
				}
				text.WriteByte(c)
				i++
			}
			skip()
		} else {
			trail := 0 // unescaped trailing white space, trimmed
			for i < len(s) && s[i] != ',' && s[i] != '}' {
				c := s[i]
				switch {
				case c == '\\':
					i++
					if i >= len(s) {
						return nil, fmt.Errorf("unexpected end of input")
					}
					text.WriteByte(s[i])
					trail = 0
				case c == '"' || c == '{':
					return nil, fmt.Errorf("unexpected %q character", c)
				case isArraySpace(c):
					text.WriteByte(c)
					trail++
				default:
					text.WriteByte(c)
					trail = 0
				}
				any = true
				i++
			}
			if !any {
				return nil, fmt.Errorf("unexpected %q character", s[min(i, len(s)-1)])
			}
			t := text.String()
			text.Reset()
			text.WriteString(t[:len(t)-trail])
		}
		el := text.String()
		if !quoted && strings.EqualFold(el, "NULL") {
			out = append(out, Null)
		} else {
			d, err := ParseText(elem, el)
			if err != nil {
				return nil, err
			}
			out = append(out, d)
		}
		if i >= len(s) {
			return nil, fmt.Errorf("unexpected end of input")
		}
		if s[i] == ',' {
			i++
			continue
		}
		if s[i] != '}' {
			return nil, fmt.Errorf("unexpected %q character", s[i])
		}
		i++
		skip()
		if i != len(s) {
			return nil, fmt.Errorf("junk after closing right brace")
		}
		return out, nil
	}
}
