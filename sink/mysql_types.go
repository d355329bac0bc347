package sink

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/rippledb/ripple/internal/row"
)

// ErrUnstorable is wrapped by the error a sink returns when a value cannot
// be stored in its database exactly (MySQL has no NaN, no infinite or BC
// dates, and a DECIMAL of at most 65 digits). The step is refused before
// anything of it is written; the fix is a view that does not produce such
// values, or another sink.
var ErrUnstorable = errors.New("value cannot be stored exactly in the sink")

// unstorableError names the view, column and value that cannot be stored.
type unstorableError struct {
	view   row.TableName
	column string
	value  string
	reason string
}

func (e *unstorableError) Error() string {
	v := e.value
	if len(v) > 64 {
		v = v[:64] + "..."
	}
	return fmt.Sprintf("view %s column %s: value %q: %s: %v", e.view, row.QuoteIdent(e.column), v, e.reason, ErrUnstorable)
}

func (e *unstorableError) Unwrap() error { return ErrUnstorable }

// mysqlFlavor says which server the sink talks to; it only changes the
// names of collations.
type mysqlFlavor int

const (
	flavorMariaDB mysqlFlavor = iota
	flavorMySQL
)

// textCollation is a binary collation without trailing-space padding, so
// that 'a' and 'a ' are different values, as they are in PostgreSQL.
func (f mysqlFlavor) textCollation() string {
	if f == flavorMySQL {
		return "utf8mb4_0900_bin"
	}
	return "utf8mb4_nopad_bin"
}

// Limits of MySQL types that decide the mapping.
const (
	mysqlMaxDecimalDigits = 65  // DECIMAL(M,D): M <= 65
	mysqlMaxDecimalScale  = 30  // D <= 30 (MySQL; MariaDB allows 38)
	mysqlMaxChar          = 255 // CHAR(n): n <= 255
	mysqlMaxShortVarchar  = 255 // VARCHAR(n) up to this; longer becomes LONGTEXT (row size limit)
	mysqlMaxIdent         = 64
	mysqlIndexBudget      = 3000 // InnoDB's 3072-byte key limit, minus NULL flags and length bytes
	mysqlIndexMaxColumns  = 16
	mysqlIndexMaxPrefix   = 255 // characters (or bytes) of a prefix-indexed column
)

// myColumn is how one view column is stored in MySQL.
type myColumn struct {
	row.Column
	pos int    // position in the view
	ddl string // column type with charset and collation, for CREATE TABLE
	// decM and decD are the DECIMAL's precision and scale (numeric only).
	decM, decD int
	// scaleCol names the hidden column that keeps a numeric's display scale
	// when the view's type does not fix it (unconstrained numeric, or a
	// precision or scale DECIMAL cannot declare). "" otherwise.
	scaleCol string
	// padTo is n for character(n) stored as CHAR(n): MySQL strips the
	// trailing spaces that PostgreSQL prints, so Dump pads them back.
	padTo int
	// cast wraps a parameter compared with the column ("%s" when none):
	// MySQL compares a DECIMAL with a string as doubles, which is inexact.
	cast string
	// keyBytes is the index size of a fixed-width column; prefixUnit is
	// the bytes per character (4) or byte (1) of a column indexed by a
	// prefix, with maxLen its declared length (0: unbounded).
	keyBytes, prefixUnit, maxLen int
}

// scaleColumnName is the hidden column keeping the display scale of view
// column i. Positional, so that it fits MySQL's 64-character names.
func scaleColumnName(i int) string { return "_ripple_scale_" + strconv.Itoa(i) }

// numericTypmod splits numeric's typmod into precision and scale
// (PostgreSQL 15 packs the scale into 11 bits, sign-extended).
func numericTypmod(mod int32) (prec, scale int) {
	m := mod - 4
	return int((m >> 16) & 0xffff), int(((m & 0x7ff) ^ 1024) - 1024)
}

// mapColumn decides the MySQL type of a view column; see mysql_types.md.
func mapColumn(c row.Column, pos int, fl mysqlFlavor) myColumn {
	mc := myColumn{Column: c, pos: pos, cast: "%s"}
	text := " CHARACTER SET utf8mb4 COLLATE " + fl.textCollation()
	switch c.Type.OID {
	case row.OIDBool:
		mc.ddl, mc.keyBytes = "BOOLEAN", 1
	case row.OIDInt2:
		mc.ddl, mc.keyBytes = "SMALLINT", 2
	case row.OIDInt4:
		mc.ddl, mc.keyBytes = "INT", 4
	case row.OIDInt8:
		mc.ddl, mc.keyBytes = "BIGINT", 8
	case row.OIDFloat4:
		mc.ddl, mc.keyBytes = "FLOAT", 4
	case row.OIDFloat8:
		mc.ddl, mc.keyBytes = "DOUBLE", 8
	case row.OIDNumeric:
		mc.decM, mc.decD = mysqlMaxDecimalDigits, mysqlMaxDecimalScale
		fixed := false
		if c.Type.Mod >= 4 {
			prec, scale := numericTypmod(c.Type.Mod)
			d := max(scale, 0)
			m := max(prec-scale, 0) + d
			if m >= 1 && m <= mysqlMaxDecimalDigits && d <= mysqlMaxDecimalScale {
				mc.decM, mc.decD, fixed = m, d, true
			}
		}
		if !fixed {
			mc.scaleCol = scaleColumnName(pos)
		}
		mc.ddl = fmt.Sprintf("DECIMAL(%d,%d)", mc.decM, mc.decD)
		mc.cast = fmt.Sprintf("CAST(%%s AS DECIMAL(%d,%d))", mc.decM, mc.decD)
		mc.keyBytes = (mc.decM+8)/9*4 + 1
	case row.OIDVarchar:
		if n := int(c.Type.Mod) - 4; c.Type.Mod >= 4 && n <= mysqlMaxShortVarchar {
			mc.ddl, mc.prefixUnit, mc.maxLen = fmt.Sprintf("VARCHAR(%d)", n)+text, 4, n
		} else {
			mc.ddl, mc.prefixUnit = "LONGTEXT"+text, 4
		}
	case row.OIDBpchar:
		if n := int(c.Type.Mod) - 4; c.Type.Mod >= 4 && n <= mysqlMaxChar {
			// PAD SPACE collation: MySQL stores CHAR without its trailing
			// spaces and compares as if padded, like bpchar.
			mc.ddl, mc.prefixUnit, mc.maxLen, mc.padTo = fmt.Sprintf("CHAR(%d) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin", n), 4, n, n
		} else {
			mc.ddl, mc.prefixUnit = "LONGTEXT"+text, 4
		}
	case row.OIDDate:
		mc.ddl, mc.keyBytes, mc.cast = "DATE", 3, "CAST(%s AS DATE)"
	case row.OIDTimestamp, row.OIDTimestampTZ:
		mc.ddl, mc.keyBytes, mc.cast = "DATETIME(6)", 8, "CAST(%s AS DATETIME(6))"
	case row.OIDUUID:
		mc.ddl, mc.keyBytes = "CHAR(36) CHARACTER SET ascii COLLATE ascii_bin", 36
	case row.OIDInterval:
		// MySQL has no interval type: PostgreSQL's text under
		// IntervalStyle=postgres, at most 68 characters.
		mc.ddl, mc.keyBytes = "VARCHAR(80) CHARACTER SET ascii COLLATE ascii_bin", 80
	case row.OIDJSON, row.OIDJSONB:
		// Not MySQL's binary JSON type: it rewrites the text (key order,
		// whitespace) and compares as JSON, so neither json's exact text
		// nor a retraction by text would survive. MariaDB's JSON is this.
		mc.ddl, mc.prefixUnit = "LONGTEXT"+text+" CHECK (JSON_VALID("+quoteMySQL(c.Name)+"))", 4
	case row.OIDBytea:
		mc.ddl, mc.prefixUnit = "LONGBLOB", 1
	default: // text, name, unknown
		mc.ddl, mc.prefixUnit = "LONGTEXT"+text, 4
	}
	return mc
}

// indexParts plans the key index: the key columns in order, text and
// bytes by a prefix, as many as fit InnoDB's key length limit. A shorter
// index still narrows a retraction's DELETE; its WHERE compares in full.
func indexParts(cols []myColumn, key []int) []string {
	var parts []string
	left := mysqlIndexBudget
	for _, k := range key {
		c := cols[k]
		if len(parts) == mysqlIndexMaxColumns {
			break
		}
		if c.prefixUnit == 0 {
			if c.keyBytes > left {
				break
			}
			left -= c.keyBytes
			parts = append(parts, quoteMySQL(c.Name))
			continue
		}
		n := mysqlIndexMaxPrefix
		if c.maxLen > 0 {
			n = min(n, c.maxLen)
		}
		n = min(n, left/c.prefixUnit)
		if n < 8 && (c.maxLen == 0 || n < c.maxLen) {
			break
		}
		left -= n * c.prefixUnit
		if c.maxLen > 0 && n == c.maxLen {
			parts = append(parts, quoteMySQL(c.Name))
		} else {
			parts = append(parts, fmt.Sprintf("%s(%d)", quoteMySQL(c.Name), n))
		}
	}
	return parts
}

// quoteMySQL quotes an identifier with backticks.
func quoteMySQL(s string) string { return "`" + strings.ReplaceAll(s, "`", "``") + "`" }

// mysqlTable is the quoted `schema`.`name` of a view's table.
func mysqlTable(n row.TableName) string { return quoteMySQL(n.Schema) + "." + quoteMySQL(n.Name) }

const usPerDay = 86400_000_000

// floorDivInt is floor(a/b) for b > 0.
func floorDivInt(a, b int64) int64 {
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return q
}

// mysqlDate formats days since 2000-01-01 as a MySQL DATE; MySQL holds
// years 1 to 9999 only.
func mysqlDate(days int64) (string, string) {
	switch days {
	case row.PosInfinity, row.NegInfinity:
		return "", "MySQL dates have no infinity"
	}
	y, m, d := row.CivilFromDays(days)
	if y < 1 || y > 9999 {
		return "", "MySQL dates hold the years 1 to 9999 only"
	}
	return fmt.Sprintf("%04d-%02d-%02d", y, m, d), ""
}

// mysqlDatetime formats microseconds since 2000-01-01 as a DATETIME(6).
func mysqlDatetime(us int64) (string, string) {
	switch us {
	case row.PosInfinity, row.NegInfinity:
		return "", "MySQL DATETIME has no infinity"
	}
	days := floorDivInt(us, usPerDay)
	date, why := mysqlDate(days)
	if why != "" {
		return "", strings.Replace(why, "dates", "DATETIME values", 1)
	}
	rem := us - days*usPerDay
	secs, frac := rem/1_000_000, rem%1_000_000
	return fmt.Sprintf("%s %02d:%02d:%02d.%06d", date, secs/3600, secs/60%60, secs%60, frac), ""
}

// splitNumeric splits numeric text into sign, integer and fraction digits.
func splitNumeric(s string) (neg bool, ip, fp string) {
	if strings.HasPrefix(s, "-") {
		neg, s = true, s[1:]
	}
	ip, fp, _ = strings.Cut(s, ".")
	return neg, ip, fp
}

// mysqlDecimal checks that numeric text fits DECIMAL(m,d) exactly and
// returns it with exactly d fraction digits (only zeros are dropped).
func mysqlDecimal(s string, m, d int) (string, string) {
	switch s {
	case "NaN", "Infinity", "-Infinity":
		return "", "MySQL DECIMAL has no NaN or infinity"
	}
	neg, ip, fp := splitNumeric(s)
	intDigits := len(strings.TrimLeft(ip, "0"))
	fracDigits := len(strings.TrimRight(fp, "0"))
	if intDigits > m-d || fracDigits > d {
		return "", fmt.Sprintf("it has %d digits before and %d after the decimal point; DECIMAL(%d,%d) holds %d and %d",
			intDigits, fracDigits, m, d, m-d, d)
	}
	if ip == "" {
		ip = "0"
	}
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	b.WriteString(ip)
	if d > 0 {
		b.WriteByte('.')
		if len(fp) >= d {
			b.WriteString(fp[:d])
		} else {
			b.WriteString(fp)
			b.WriteString(strings.Repeat("0", d-len(fp)))
		}
	}
	return b.String(), ""
}

// appendParams appends the parameters that store d in column c (two for
// a numeric with a scale column). why is non-empty when d cannot be
// stored exactly.
func (c *myColumn) appendParams(args []any, d row.Datum) ([]any, string) {
	if d.IsNull() {
		args = append(args, nil)
		if c.scaleCol != "" {
			args = append(args, nil)
		}
		return args, ""
	}
	switch d.Kind() {
	case row.KindBool:
		if d.Bool() {
			return append(args, int64(1)), ""
		}
		return append(args, int64(0)), ""
	case row.KindInt:
		return append(args, d.Int()), ""
	case row.KindFloat:
		f := d.Float()
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return args, "MySQL floating-point columns have no NaN or infinity"
		}
		if f == 0 && math.Signbit(f) {
			return args, "MySQL stores floating-point -0 as 0"
		}
		return append(args, f), ""
	case row.KindNumeric:
		s, why := mysqlDecimal(d.Str(), c.decM, c.decD)
		if why != "" {
			return args, why
		}
		args = append(args, s)
		if c.scaleCol != "" {
			_, _, fp := splitNumeric(d.Str())
			args = append(args, int64(len(fp)))
		}
		return args, ""
	case row.KindBytes:
		return append(args, append(make([]byte, 0, len(d.Str())), d.Str()...)), ""
	case row.KindDate:
		s, why := mysqlDate(d.Int())
		return append(args, s), why
	case row.KindTimestamp, row.KindTimestampTZ:
		s, why := mysqlDatetime(d.Int())
		return append(args, s), why
	case row.KindUUID, row.KindInterval:
		return append(args, row.FormatText(d)), ""
	default: // text, json, jsonb
		return append(args, d.Str()), ""
	}
}

// nparams is the number of parameters (and stored columns) of c.
func (c *myColumn) nparams() int {
	if c.scaleCol != "" {
		return 2
	}
	return 1
}

// decode turns what the driver returned for c (and, for a numeric with a
// scale column, the scale) into a Datum of the view's type.
func (c *myColumn) decode(v, scale any) (row.Datum, error) {
	if v == nil {
		return row.Null, nil
	}
	bad := func() (row.Datum, error) {
		return row.Null, fmt.Errorf("column %s: unexpected value %v (%T) for type %s", row.QuoteIdent(c.Name), v, v, c.Type)
	}
	switch c.Type.Kind() {
	case row.KindBool:
		i, ok := asInt(v)
		if !ok {
			return bad()
		}
		return row.NewBool(i != 0), nil
	case row.KindInt:
		i, ok := asInt(v)
		if !ok {
			return bad()
		}
		return row.NewInt(i), nil
	case row.KindFloat:
		switch f := v.(type) {
		case float32:
			if c.Type.OID == row.OIDFloat4 {
				return row.NewFloat4(f), nil
			}
			return row.NewFloat(float64(f)), nil
		case float64:
			if c.Type.OID == row.OIDFloat4 {
				return row.NewFloat4(float32(f)), nil
			}
			return row.NewFloat(f), nil
		}
		return bad()
	case row.KindNumeric:
		s, ok := asString(v)
		if !ok {
			return bad()
		}
		if c.scaleCol != "" {
			if n, ok := asInt(scale); ok && n >= 0 {
				neg, ip, fp := splitNumeric(s)
				if int(n) <= len(fp) {
					fp = fp[:n]
				} else {
					fp += strings.Repeat("0", int(n)-len(fp))
				}
				s = ip
				if fp != "" {
					s += "." + fp
				}
				if neg {
					s = "-" + s
				}
			}
		}
		return row.ParseText(c.Type, s)
	case row.KindText:
		s, ok := asString(v)
		if !ok {
			return bad()
		}
		if n := utf8.RuneCountInString(s); c.padTo > n {
			s += strings.Repeat(" ", c.padTo-n)
		}
		return row.NewText(s), nil
	case row.KindBytes:
		b, ok := v.([]byte)
		if !ok {
			return bad()
		}
		return row.NewBytes(b), nil
	case row.KindJSON:
		s, ok := asString(v)
		if !ok {
			return bad()
		}
		return row.NewJSON(s), nil
	case row.KindJSONB:
		s, ok := asString(v)
		if !ok {
			return bad()
		}
		return row.NewJSONB(s), nil
	default: // date, timestamp, timestamptz, uuid: parse their text
		s, ok := asString(v)
		if !ok {
			return bad()
		}
		return row.ParseText(c.Type, s)
	}
}

func asInt(v any) (int64, bool) {
	switch x := v.(type) {
	case int64:
		return x, true
	case uint64:
		return int64(x), x <= math.MaxInt64
	case []byte:
		i, err := strconv.ParseInt(string(x), 10, 64)
		return i, err == nil
	case string:
		i, err := strconv.ParseInt(x, 10, 64)
		return i, err == nil
	}
	return 0, false
}

func asString(v any) (string, bool) {
	switch x := v.(type) {
	case []byte:
		return string(x), true
	case string:
		return x, true
	}
	return "", false
}
