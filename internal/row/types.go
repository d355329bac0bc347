package row

import (
	"fmt"
	"strings"
)

// OID is a PostgreSQL type OID (pg_type.oid).
type OID uint32

// Type OIDs of the built-in types ripple understands (pg_type.dat).
const (
	OIDBool        OID = 16
	OIDBytea       OID = 17
	OIDName        OID = 19
	OIDInt8        OID = 20
	OIDInt2        OID = 21
	OIDInt4        OID = 23
	OIDText        OID = 25
	OIDJSON        OID = 114
	OIDFloat4      OID = 700
	OIDFloat8      OID = 701
	OIDUnknown     OID = 705
	OIDBpchar      OID = 1042
	OIDVarchar     OID = 1043
	OIDDate        OID = 1082
	OIDTimestamp   OID = 1114
	OIDTimestampTZ OID = 1184
	OIDInterval    OID = 1186
	OIDNumeric     OID = 1700
	OIDUUID        OID = 2950
	OIDJSONB       OID = 3802
)

// Kind is the physical representation of a Datum. Several SQL types share a
// kind (int2/int4/int8 are all KindInt); the SQL type lives in Type.
type Kind uint8

// The kinds. KindNull is the zero value, so a zero Datum is SQL NULL.
const (
	KindNull Kind = iota
	KindBool
	KindInt         // int2, int4, int8: Int()
	KindFloat       // float4, float8: Float()
	KindNumeric     // numeric: Str() is PostgreSQL's text form ("12.340", "NaN", "-Infinity")
	KindText        // text, varchar, bpchar, name: Str()
	KindBytes       // bytea: Str() holds the raw bytes
	KindDate        // Int() is days since 2000-01-01; math.MaxInt64/MinInt64 are ±infinity
	KindTimestamp   // Int() is microseconds since 2000-01-01 00:00:00; ±infinity as for dates
	KindTimestampTZ // Int() is microseconds since 2000-01-01 00:00:00 UTC
	KindUUID        // Str() holds the 16 raw bytes
	KindJSON        // Str() holds the json text exactly as stored
	KindJSONB       // Str() holds jsonb's canonical text output
	KindInterval    // Interval(): months, days, microseconds
	KindEnum        // Str() is the label; EnumOrder() its pg_enum.enumsortorder
)

var kindNames = [...]string{"null", "bool", "int", "float", "numeric", "text", "bytes", "date", "timestamp", "timestamptz", "uuid", "json", "jsonb", "interval", "enum"}

func (k Kind) String() string {
	if k == KindArray {
		return "array"
	}
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", k)
}

// Type is a SQL type: its OID and type modifier (atttypmod; -1 when none).
// The zero Type is invalid.
type Type struct {
	OID OID
	Mod int32
}

// Common types with no modifier.
var (
	Bool        = Type{OIDBool, -1}
	Bytea       = Type{OIDBytea, -1}
	Int2        = Type{OIDInt2, -1}
	Int4        = Type{OIDInt4, -1}
	Int8        = Type{OIDInt8, -1}
	Text        = Type{OIDText, -1}
	JSON        = Type{OIDJSON, -1}
	JSONB       = Type{OIDJSONB, -1}
	Float4      = Type{OIDFloat4, -1}
	Float8      = Type{OIDFloat8, -1}
	Numeric     = Type{OIDNumeric, -1}
	Varchar     = Type{OIDVarchar, -1}
	Bpchar      = Type{OIDBpchar, -1}
	Date        = Type{OIDDate, -1}
	Timestamp   = Type{OIDTimestamp, -1}
	TimestampTZ = Type{OIDTimestampTZ, -1}
	UUID        = Type{OIDUUID, -1}
	Interval    = Type{OIDInterval, -1}
	Unknown     = Type{OIDUnknown, -1}
)

// Supported reports whether ripple can carry and compute on values of t.
func (t Type) Supported() bool { return t.Kind() != KindNull }

var kindOf = map[OID]Kind{
	OIDBool: KindBool, OIDBytea: KindBytes, OIDName: KindText, OIDInt8: KindInt, OIDInt2: KindInt,
	OIDInt4: KindInt, OIDText: KindText, OIDJSON: KindJSON, OIDFloat4: KindFloat, OIDFloat8: KindFloat,
	OIDBpchar: KindText, OIDVarchar: KindText, OIDDate: KindDate, OIDTimestamp: KindTimestamp,
	OIDTimestampTZ: KindTimestampTZ, OIDNumeric: KindNumeric, OIDUUID: KindUUID, OIDJSONB: KindJSONB,
	OIDUnknown: KindText, OIDInterval: KindInterval,
}

// Kind is the physical kind of values of t (KindNull for unsupported types).
func (t Type) Kind() Kind {
	if k, ok := kindOf[t.OID]; ok {
		return k
	}
	if LookupEnum(t.OID) != nil {
		return KindEnum
	}
	return KindNull
}

var typeNames = map[OID]string{
	OIDBool: "boolean", OIDBytea: "bytea", OIDName: "name", OIDInt8: "bigint", OIDInt2: "smallint",
	OIDInt4: "integer", OIDText: "text", OIDJSON: "json", OIDFloat4: "real", OIDFloat8: "double precision",
	OIDBpchar: "character", OIDVarchar: "character varying", OIDDate: "date",
	OIDTimestamp: "timestamp without time zone", OIDTimestampTZ: "timestamp with time zone",
	OIDNumeric: "numeric", OIDUUID: "uuid", OIDJSONB: "jsonb", OIDUnknown: "unknown",
	OIDInterval: "interval",
}

// String renders t the way PostgreSQL's format_type(oid, typmod) does, so it
// can be used verbatim in CREATE TABLE.
func (t Type) String() string {
	if a, ok := arrayTypeString(t); ok {
		return a
	}
	name, ok := typeNames[t.OID]
	if e := LookupEnum(t.OID); !ok && e != nil {
		return e.Name
	}
	if !ok {
		return fmt.Sprintf("type(oid=%d)", t.OID)
	}
	if t.Mod < 0 {
		if t.OID == OIDBpchar {
			// format_type spells bpchar without a typmod "bpchar": plain
			// "character" would mean character(1) in DDL.
			return "bpchar"
		}
		return name
	}
	switch t.OID {
	case OIDVarchar, OIDBpchar:
		return fmt.Sprintf("%s(%d)", name, t.Mod-4) // VARHDRSZ
	case OIDNumeric:
		// PostgreSQL 15 packs the scale into 11 bits, sign-extended, so that
		// negative scales (numeric(5,-2)) survive (numeric.c, make_numeric_typmod).
		m := t.Mod - 4
		prec, scale := (m>>16)&0xffff, ((m&0x7ff)^1024)-1024
		return fmt.Sprintf("numeric(%d,%d)", prec, scale)
	case OIDTimestamp:
		return fmt.Sprintf("timestamp(%d) without time zone", t.Mod)
	case OIDTimestampTZ:
		return fmt.Sprintf("timestamp(%d) with time zone", t.Mod)
	}
	return name
}

// Column is one column of a Schema.
type Column struct {
	Name string
	Type Type
}

// Schema describes the columns of a relation or a view, in order.
type Schema []Column

// Index returns the position of the column named name, or -1.
func (s Schema) Index(name string) int {
	for i, c := range s {
		if c.Name == name {
			return i
		}
	}
	return -1
}

func (s Schema) String() string {
	var b strings.Builder
	b.WriteByte('(')
	for i, c := range s {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(c.Name)
		b.WriteByte(' ')
		b.WriteString(c.Type.String())
	}
	b.WriteByte(')')
	return b.String()
}

// Weight is the multiplicity of a row in a Z-set: positive for insertions,
// negative for retractions.
type Weight int64

// TableName is a schema-qualified relation name.
type TableName struct {
	Schema string
	Name   string
}

func (n TableName) String() string { return QuoteIdent(n.Schema) + "." + QuoteIdent(n.Name) }

// QuoteIdent quotes an identifier for SQL only when PostgreSQL would need it.
func QuoteIdent(s string) string {
	if s == "" {
		return `""`
	}
	plain := true
	for i, r := range s {
		if !(r >= 'a' && r <= 'z' || r == '_' || (i > 0 && (r >= '0' && r <= '9' || r == '$'))) {
			plain = false
			break
		}
	}
	if plain && !reservedWords[s] {
		return s
	}
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}

// reservedWords are the keywords that cannot be used as bare column or table
// names (PostgreSQL's RESERVED_KEYWORD and COL_NAME_KEYWORD lists, the ones
// that matter for generated DDL).
var reservedWords = map[string]bool{
	"all": true, "analyse": true, "analyze": true, "and": true, "any": true, "array": true, "as": true,
	"asc": true, "asymmetric": true, "both": true, "case": true, "cast": true, "check": true, "collate": true,
	"column": true, "constraint": true, "create": true, "current_catalog": true, "current_date": true,
	"current_role": true, "current_time": true, "current_timestamp": true, "current_user": true,
	"default": true, "deferrable": true, "desc": true, "distinct": true, "do": true, "else": true, "end": true,
	"except": true, "false": true, "fetch": true, "for": true, "foreign": true, "from": true, "grant": true,
	"group": true, "having": true, "in": true, "initially": true, "intersect": true, "into": true,
	"lateral": true, "leading": true, "limit": true, "localtime": true, "localtimestamp": true, "not": true,
	"null": true, "offset": true, "on": true, "only": true, "or": true, "order": true, "placing": true,
	"primary": true, "references": true, "returning": true, "select": true, "session_user": true,
	"some": true, "symmetric": true, "table": true, "then": true, "to": true, "trailing": true, "true": true,
	"union": true, "unique": true, "user": true, "using": true, "variadic": true, "when": true, "where": true,
	"window": true, "with": true, "between": true, "bigint": true, "bit": true, "boolean": true, "char": true,
	"character": true, "coalesce": true, "dec": true, "decimal": true, "exists": true, "extract": true,
	"float": true, "greatest": true, "grouping": true, "inout": true, "int": true, "integer": true,
	"interval": true, "least": true, "national": true, "nchar": true, "none": true, "normalize": true,
	"nullif": true, "numeric": true, "out": true, "overlay": true, "position": true, "precision": true,
	"real": true, "row": true, "setof": true, "smallint": true, "substring": true, "time": true,
	"timestamp": true, "treat": true, "trim": true, "values": true, "varchar": true, "xmlattributes": true,
	"xmlconcat": true, "xmlelement": true, "xmlexists": true, "xmlforest": true, "xmlnamespaces": true,
	"xmlparse": true, "xmlpi": true, "xmlroot": true, "xmlserialize": true, "xmltable": true,
	"authorization": true, "binary": true, "collation": true, "concurrently": true, "cross": true,
	"current_schema": true, "freeze": true, "full": true, "ilike": true, "inner": true, "is": true,
	"isnull": true, "join": true, "left": true, "like": true, "natural": true, "notnull": true, "outer": true,
	"overlaps": true, "right": true, "similar": true, "tablesample": true, "verbose": true,
}
