package row_test

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/rippledb/ripple/internal/row"
)

// Array types join the value-by-value check against PostgreSQL
// (TestAgainstPostgres): random arrays of each element type's generated
// inputs, quoted as array_in reads them, with NULLs, and hand-written
// inputs exercising array_in's white space, quoting and NULL rules.
func init() {
	elems := []struct {
		sql string
		t   row.Type
		gen func(*rand.Rand) []string
		own []string
	}{
		{"integer", row.Int4, intGen(math.MinInt32, math.MaxInt32), []string{"{}", "{ 1 , 2 }", "{1,NULL,null,3}", "{ -7}", "  {1}  "}},
		{"bigint", row.Int8, intGen(math.MinInt64, math.MaxInt64), nil},
		{"smallint", row.Int2, intGen(math.MinInt16, math.MaxInt16), nil},
		{"numeric", row.Numeric, numericGen, []string{"{1.50, 2 ,NaN}"}},
		{"double precision", row.Float8, floatGen(false), nil},
		{"boolean", row.Bool, func(*rand.Rand) []string { return []string{"t", "f", "yes", "off"} }, []string{"{t,f,NULL}", "{ true , no }"}},
		{"text", row.Text, textGen, []string{
			`{}`, `{""}`, `{"NULL",NULL,null,"null",Null}`, `{a b,  c  d  ,"  e  "}`, `{"a\"b","c\\d",e\,f}`,
			`{x\ ,\ y}`, `{"{}","a,b","x}"}`, `{é,"\t"}`, `{ab\"c}`,
		}},
		{"character varying", row.Varchar, textGen, nil},
		{"bytea", row.Bytea, byteaGen, nil},
		{"date", row.Date, dateGen, nil},
		{"timestamp with time zone", row.TimestampTZ, timestampGen(true), nil},
		{"timestamp without time zone", row.Timestamp, timestampGen(false), nil},
		{"uuid", row.UUID, uuidGen, nil},
	}
	for _, e := range elems {
		at, ok := row.ArrayOf(e.t)
		if !ok {
			panic("no array of " + e.sql)
		}
		gen, own := e.gen, e.own
		pgTypes = append(pgTypes, pgType{e.sql + "[]", at, func(r *rand.Rand) []string {
			vals := gen(r)
			out := append([]string(nil), own...)
			for range 40 {
				var b strings.Builder
				b.WriteByte('{')
				for k := range r.IntN(5) {
					if k > 0 {
						b.WriteByte(',')
					}
					if r.IntN(6) == 0 {
						b.WriteString("NULL")
						continue
					}
					b.WriteByte('"')
					b.WriteString(strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(vals[r.IntN(len(vals))]))
					b.WriteByte('"')
				}
				b.WriteByte('}')
				out = append(out, b.String())
			}
			return out
		}, false, true})
	}
}

func TestArrayText(t *testing.T) {
	tests := []struct {
		elems []row.Datum
		want  string
	}{
		{nil, "{}"},
		{[]row.Datum{row.NewInt(1), row.Null, row.NewInt(-2)}, "{1,NULL,-2}"},
		{[]row.Datum{row.NewText("a b"), row.NewText(""), row.NewText("NULL"), row.NewText(`q"\`), row.NewText("x")}, `{"a b","","NULL","q\"\\",x}`},
	}
	for _, tt := range tests {
		if got := row.FormatText(row.NewArray(tt.elems)); got != tt.want {
			t.Errorf("NewArray(%v) = %s, want %s", tt.elems, got, tt.want)
		}
	}
	for _, bad := range []string{"", "1", "{", "{1,}", "{,}", "{1}x", "{{1}}", "[1:1]={1}", `{"a}`, "{a\"b}", "{x}"} {
		if _, err := row.ParseText(row.Type{OID: row.OIDInt4Array, Mod: -1}, bad); err == nil {
			t.Errorf("int4[] %q: no error", bad)
		}
	}
	if s := (row.Type{OID: row.OIDVarcharArray, Mod: 14}).String(); s != "character varying(10)[]" {
		t.Errorf("varchar(10)[] prints %q", s)
	}
}
