package planner

import (
	"context"
	"fmt"
	"strings"

	pg_query "github.com/pganalyze/pg_query_go/v5"

	"github.com/rippledb/ripple/internal/row"
	"github.com/rippledb/ripple/planner/expr"
)

// Table is a source table as the catalog describes it.
type Table struct {
	Name row.TableName
	// Columns are all of the table's columns in attribute order, including
	// those of types ripple does not support (views may not reference
	// them, but the graph's input rows carry every column).
	Columns row.Schema
	// Key is the primary key (indexes into Columns), nil when there is none.
	Key []int
}

// Catalog answers the planner's questions about the source database.
// Implementations: StaticCatalog (CREATE TABLE text) and the pipeline's live
// catalog over the source connection.
type Catalog interface {
	// LookupTable resolves a table; schema "" means the search_path. A
	// missing table is reported with an error whose text says so the way
	// PostgreSQL does (`relation "foo" does not exist`); the planner adds
	// the view and the SQL position.
	LookupTable(ctx context.Context, schema, name string) (*Table, error)
	// Collation is the source database's default collation (datcollate).
	Collation(ctx context.Context) (string, error)
}

type staticCatalog struct {
	tables map[row.TableName]*Table
}

var _ Catalog = (*staticCatalog)(nil)

// StaticCatalog builds a catalog from CREATE TABLE statements (column
// names and types, PRIMARY KEY inline or as a table constraint; other
// constraints and defaults are ignored). Every other statement (views,
// indexes, SET, ...) is skipped, so one file can hold a schema and its
// views, and a schema-only dump can be read. Unqualified names are in schema public, which is
// also the whole search_path. The collation is "C". It backs `ripple plan
// --schema` and the golden tests.
func StaticCatalog(ddl string) (Catalog, error) {
	src := expr.Source{Text: ddl}
	tree, err := pg_query.Parse(ddl)
	if err != nil {
		return nil, syntaxError(src, ddl, err)
	}
	c := &staticCatalog{tables: map[row.TableName]*Table{}}
	for _, raw := range tree.GetStmts() {
		switch s := raw.GetStmt().GetNode().(type) {
		case *pg_query.Node_CreateStmt:
			t, err := staticTable(src, s.CreateStmt)
			if err != nil {
				return nil, err
			}
			if _, dup := c.tables[t.Name]; dup {
				return nil, src.Errorf("", int(s.CreateStmt.GetRelation().GetLocation()), "relation %q already exists", t.Name.Name)
			}
			c.tables[t.Name] = t
		default:
			// Views, indexes, SET and the rest of a schema dump say
			// nothing the planner needs.
		}
	}
	return c, nil
}

func staticTable(src expr.Source, cs *pg_query.CreateStmt) (*Table, error) {
	rel := cs.GetRelation()
	schema := rel.GetSchemaname()
	if schema == "" {
		schema = "public"
	}
	t := &Table{Name: row.TableName{Schema: schema, Name: rel.GetRelname()}}
	var pk []string
	pkAt := int32(-1)
	for _, elt := range cs.GetTableElts() {
		switch e := elt.GetNode().(type) {
		case *pg_query.Node_ColumnDef:
			cd := e.ColumnDef
			if t.Columns.Index(cd.GetColname()) >= 0 {
				return nil, src.Errorf("", int(cd.GetLocation()), "column %q specified more than once", cd.GetColname())
			}
			typ, err := staticType(cd.GetTypeName())
			if err != nil {
				return nil, src.Errorf("", int(cd.GetTypeName().GetLocation()), "column %q: %v", cd.GetColname(), err)
			}
			t.Columns = append(t.Columns, row.Column{Name: cd.GetColname(), Type: typ})
			for _, cn := range cd.GetConstraints() {
				if con := cn.GetConstraint(); con.GetContype() == pg_query.ConstrType_CONSTR_PRIMARY {
					if pk != nil {
						return nil, src.Errorf("", int(con.GetLocation()), "multiple primary keys for table %q are not allowed", t.Name.Name)
					}
					pk, pkAt = []string{cd.GetColname()}, con.GetLocation()
				}
			}
		case *pg_query.Node_Constraint:
			con := e.Constraint
			if con.GetContype() != pg_query.ConstrType_CONSTR_PRIMARY {
				continue
			}
			if pk != nil {
				return nil, src.Errorf("", int(con.GetLocation()), "multiple primary keys for table %q are not allowed", t.Name.Name)
			}
			pkAt = con.GetLocation()
			pk = []string{}
			for _, k := range con.GetKeys() {
				pk = append(pk, k.GetString_().GetSval())
			}
		default:
			return nil, src.Errorf("", int(rel.GetLocation()), "CREATE TABLE %s: LIKE and other table elements are not supported", t.Name.Name)
		}
	}
	for _, name := range pk {
		i := t.Columns.Index(name)
		if i < 0 {
			return nil, src.Errorf("", int(pkAt), "column %q named in key does not exist", name)
		}
		t.Key = append(t.Key, i)
	}
	return t, nil
}

// unsupportedTypes are types a source table may have that ripple cannot
// carry; the static catalog records them (so that a view that does not
// reference such a column still plans) and the planner names them when a
// view does.
var unsupportedTypes = map[string]row.OID{
	"time": 1083, "timetz": 1266, "money": 790, "inet": 869, "cidr": 650,
	"macaddr": 829, "bit": 1560, "varbit": 1562, "xml": 142, "oid": 26, "tsvector": 3614,
	"tsquery": 3615, "point": 600, "int4range": 3904, "int8range": 3926, "numrange": 3906,
	"daterange": 3912, "tsrange": 3908, "tstzrange": 3910, "char": 18,
}

// typeNames extends row.Type.String for the unsupported types, so an error
// can name them.
var unsupportedTypeNames = map[row.OID]string{
	1083: "time without time zone", 1266: "time with time zone", 790: "money",
	869: "inet", 650: "cidr", 829: "macaddr", 1560: "bit", 1562: "bit varying", 142: "xml", 26: "oid",
	3614: "tsvector", 3615: "tsquery", 600: "point", 3904: "int4range", 3926: "int8range",
	3906: "numrange", 3912: "daterange", 3908: "tsrange", 3910: "tstzrange", 18: `"char"`,
	1007: "integer[]", 1016: "bigint[]", 1009: "text[]", 1005: "smallint[]", 1015: "character varying[]",
	1231: "numeric[]", 1000: "boolean[]", 3807: "jsonb[]", 2951: "uuid[]",
}

// arrayTypes maps an element type to its array type, for the static
// catalog's array columns.
var arrayTypes = map[row.OID]row.OID{
	row.OIDInt4: 1007, row.OIDInt8: 1016, row.OIDText: 1009, row.OIDInt2: 1005, row.OIDVarchar: 1015,
	row.OIDNumeric: 1231, row.OIDBool: 1000, row.OIDJSONB: 3807, row.OIDUUID: 2951,
}

// typeString renders t for messages, naming unsupported types too.
func typeString(t row.Type) string {
	if !t.Supported() {
		if n, ok := unsupportedTypeNames[t.OID]; ok {
			return n
		}
	}
	return t.String()
}

func staticType(tn *pg_query.TypeName) (row.Type, error) {
	var names []string
	for _, n := range tn.GetNames() {
		names = append(names, n.GetString_().GetSval())
	}
	last := ""
	if len(names) > 0 {
		last = names[len(names)-1]
	}
	if len(tn.GetArrayBounds()) > 0 {
		elem := &pg_query.TypeName{Names: tn.GetNames(), Typmods: tn.GetTypmods(), Location: tn.GetLocation()}
		et, err := staticType(elem)
		if err != nil {
			return row.Type{}, err
		}
		if a, ok := arrayTypes[et.OID]; ok {
			return row.Type{OID: a, Mod: -1}, nil
		}
		return row.Type{}, fmt.Errorf("array type %s[] is not known to the static catalog", strings.Join(names, "."))
	}
	switch last {
	case "serial", "serial4":
		return row.Int4, nil
	case "bigserial", "serial8":
		return row.Int8, nil
	case "smallserial", "serial2":
		return row.Int2, nil
	case "name":
		return row.Type{OID: row.OIDName, Mod: -1}, nil
	}
	if oid, ok := unsupportedTypes[last]; ok && (len(names) == 1 || names[0] == "pg_catalog") {
		return row.Type{OID: oid, Mod: -1}, nil
	}
	return expr.TypeFromName(tn)
}

func (c *staticCatalog) LookupTable(_ context.Context, schema, name string) (*Table, error) {
	qualified := name
	if schema == "" {
		schema = "public"
	} else {
		qualified = schema + "." + name
	}
	t, ok := c.tables[row.TableName{Schema: schema, Name: name}]
	if !ok {
		return nil, fmt.Errorf("relation %q does not exist", qualified)
	}
	return t, nil
}

func (c *staticCatalog) Collation(context.Context) (string, error) { return "C", nil }
