package expr

import (
	"fmt"
	"strings"

	pg_query "github.com/pganalyze/pg_query_go/v5"

	"github.com/rippledb/ripple/internal/row"
)

// typeCategory is pg_type.typcategory for the supported types.
func typeCategory(t row.Type) byte {
	switch t.OID {
	case row.OIDInt2, row.OIDInt4, row.OIDInt8, row.OIDNumeric, row.OIDFloat4, row.OIDFloat8:
		return 'N'
	case row.OIDText, row.OIDVarchar, row.OIDBpchar, row.OIDName:
		return 'S'
	case row.OIDBool:
		return 'B'
	case row.OIDDate, row.OIDTimestamp, row.OIDTimestampTZ:
		return 'D'
	case row.OIDUnknown:
		return 'X'
	case row.OIDInterval:
		return 'T'
	}
	if t.Kind() == row.KindEnum {
		return 'E'
	}
	return 'U'
}

// preferredType is pg_type.typispreferred.
func preferredType(t row.Type) bool {
	switch t.OID {
	case row.OIDFloat8, row.OIDText, row.OIDTimestampTZ, row.OIDBool:
		return true
	}
	return false
}

// implicitCast reports whether PostgreSQL casts from to to implicitly
// (pg_cast castcontext 'i', or binary coercion).
func implicitCast(from, to row.Type) bool {
	if from.OID == to.OID || from.OID == row.OIDUnknown {
		return true
	}
	rank := func(o row.OID) int {
		switch o {
		case row.OIDInt2:
			return 1
		case row.OIDInt4:
			return 2
		case row.OIDInt8:
			return 3
		case row.OIDNumeric:
			return 4
		case row.OIDFloat4:
			return 5
		case row.OIDFloat8:
			return 6
		}
		return 0
	}
	if a, b := rank(from.OID), rank(to.OID); a > 0 && b > 0 {
		return a < b
	}
	switch from.OID {
	case row.OIDText, row.OIDVarchar, row.OIDBpchar, row.OIDName:
		return typeCategory(to) == 'S'
	case row.OIDDate:
		return to.OID == row.OIDTimestamp || to.OID == row.OIDTimestampTZ
	case row.OIDTimestamp:
		return to.OID == row.OIDTimestampTZ
	}
	return false
}

// CommonType is PostgreSQL's select_common_type (plus
// select_common_typmod): the type that UNION, CASE, COALESCE, IN, VALUES
// and GREATEST/LEAST resolve their inputs to. what names the construct in
// the error ("UNION types text and integer cannot be matched").
func CommonType(what string, types []row.Type) (row.Type, error) {
	if len(types) == 0 {
		return row.Text, nil
	}
	p := types[0]
	for _, n := range types[1:] {
		if n.OID == row.OIDUnknown || n.OID == p.OID {
			continue
		}
		if p.OID == row.OIDUnknown {
			p = n
			continue
		}
		if typeCategory(n) != typeCategory(p) {
			return row.Type{}, fmt.Errorf("%s types %s and %s cannot be matched", what, typeName(p), typeName(n))
		}
		if !preferredType(p) && implicitCast(p, n) && !implicitCast(n, p) {
			p = n
		}
	}
	if p.OID == row.OIDUnknown {
		return row.Text, nil
	}
	// select_common_typmod: keep the typmod only when every input of the
	// chosen type agrees on it.
	mod := int32(-2)
	for _, t := range types {
		if t.OID != p.OID {
			if t.OID != row.OIDUnknown {
				mod = -1
			}
			continue
		}
		if mod == -2 {
			mod = t.Mod
		} else if mod != t.Mod {
			mod = -1
		}
	}
	if mod == -2 {
		mod = -1
	}
	for _, t := range types {
		if t.OID == row.OIDUnknown {
			mod = -1
		}
	}
	return row.Type{OID: p.OID, Mod: mod}, nil
}

// typeName is format_type_be: the name without typmod.
func typeName(t row.Type) string {
	return row.Type{OID: t.OID, Mod: -1}.String()
}

// TypeFromName resolves a type name as written in SQL (int, integer,
// varchar(10), pg_catalog.numeric(12,2), ...) to a supported type.
func TypeFromName(tn *pg_query.TypeName) (row.Type, error) {
	if len(tn.ArrayBounds) > 0 {
		return row.Type{}, fmt.Errorf("array types are not supported yet")
	}
	if tn.PctType || tn.Setof {
		return row.Type{}, fmt.Errorf("%%TYPE and SETOF are not supported")
	}
	var names []string
	for _, n := range tn.Names {
		names = append(names, n.GetString_().GetSval())
	}
	name := ""
	switch len(names) {
	case 1:
		name = names[0]
	case 2:
		if names[0] != "pg_catalog" {
			return row.Type{}, fmt.Errorf("type %q does not exist", strings.Join(names, "."))
		}
		name = names[1]
	default:
		return row.Type{}, fmt.Errorf("type %q does not exist", strings.Join(names, "."))
	}
	var mods []int64
	for _, m := range tn.Typmods {
		c := m.GetAConst()
		if c == nil || c.GetIval() == nil {
			return row.Type{}, fmt.Errorf("type modifiers must be simple constants or identifiers")
		}
		mods = append(mods, int64(c.GetIval().Ival))
	}
	noMods := func(t row.Type) (row.Type, error) {
		if len(mods) > 0 {
			return row.Type{}, fmt.Errorf("type modifier is not allowed for type %q", name)
		}
		return t, nil
	}
	switch name {
	case "int2", "smallint":
		return noMods(row.Int2)
	case "int4", "int", "integer":
		return noMods(row.Int4)
	case "int8", "bigint":
		return noMods(row.Int8)
	case "float4", "real":
		return noMods(row.Float4)
	case "float8":
		if len(mods) == 1 && len(names) == 2 { // FLOAT(p) arrives as pg_catalog.float8 with a modifier
			p := mods[0]
			switch {
			case p < 1:
				return row.Type{}, fmt.Errorf("precision for type float must be at least 1 bit")
			case p <= 24:
				return row.Float4, nil
			case p <= 53:
				return row.Float8, nil
			}
			return row.Type{}, fmt.Errorf("precision for type float must be less than 54 bits")
		}
		return noMods(row.Float8)
	case "numeric", "decimal":
		switch len(mods) {
		case 0:
			return row.Numeric, nil
		case 1, 2:
			p, s := mods[0], int64(0)
			if len(mods) == 2 {
				s = mods[1]
			}
			if p < 1 || p > 1000 {
				return row.Type{}, fmt.Errorf("NUMERIC precision %d must be between 1 and 1000", p)
			}
			if s < -1000 || s > 1000 {
				return row.Type{}, fmt.Errorf("NUMERIC scale %d must be between -1000 and 1000", s)
			}
			return row.Type{OID: row.OIDNumeric, Mod: int32((p<<16)|(s&0x7ff)) + 4}, nil
		}
		return row.Type{}, fmt.Errorf("invalid NUMERIC type modifier")
	case "text":
		return noMods(row.Text)
	case "varchar", "bpchar":
		t := row.Varchar
		label := "varchar"
		if name == "bpchar" {
			t, label = row.Bpchar, "char"
			if len(mods) == 0 && len(names) == 2 {
				// CHAR / CHARACTER without a length means length 1.
				return row.Type{OID: row.OIDBpchar, Mod: 1 + 4}, nil
			}
		}
		switch len(mods) {
		case 0:
			return t, nil
		case 1:
			if mods[0] < 1 {
				return row.Type{}, fmt.Errorf("length for type %s must be at least 1", label)
			}
			if mods[0] > 10485760 {
				return row.Type{}, fmt.Errorf("length for type %s cannot exceed 10485760", label)
			}
			return row.Type{OID: t.OID, Mod: int32(mods[0]) + 4}, nil
		}
		return row.Type{}, fmt.Errorf("invalid type modifier")
	case "bool", "boolean":
		return noMods(row.Bool)
	case "date":
		return noMods(row.Date)
	case "timestamp", "timestamptz":
		t := row.Timestamp
		if name == "timestamptz" {
			t = row.TimestampTZ
		}
		switch len(mods) {
		case 0:
			return t, nil
		case 1:
			p := mods[0]
			if p < 0 {
				return row.Type{}, fmt.Errorf("TIMESTAMP(%d) precision must not be negative", p)
			}
			return row.Type{OID: t.OID, Mod: int32(min(p, 6))}, nil
		}
		return row.Type{}, fmt.Errorf("invalid type modifier")
	case "uuid":
		return noMods(row.UUID)
	case "json":
		return noMods(row.JSON)
	case "jsonb":
		return noMods(row.JSONB)
	case "bytea":
		return noMods(row.Bytea)
	case "interval":
		if len(mods) > 0 {
			return row.Type{}, fmt.Errorf("interval with a field restriction or precision is not supported yet")
		}
		return row.Interval, nil
	case "time", "timetz", "money", "inet", "cidr", "macaddr", "bit", "varbit", "xml", "oid",
		"regclass", "regtype", "tsvector", "tsquery", "point", "int4range", "int8range", "numrange",
		"daterange", "tsrange", "tstzrange", "char", "name":
		return row.Type{}, fmt.Errorf("type %s is not supported yet", name)
	}
	return row.Type{}, fmt.Errorf("type %q does not exist", name)
}

// typeCastName is the name FigureColname gives a cast whose argument has
// no name: the last component of the type name as written/expanded.
func typeCastName(tn *pg_query.TypeName) string {
	if len(tn.Names) == 0 {
		return "?column?"
	}
	return tn.Names[len(tn.Names)-1].GetString_().GetSval()
}
