package planner

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"unicode"
	"unicode/utf8"

	pg_query "github.com/pganalyze/pg_query_go/v5"
	pgparser "github.com/pganalyze/pg_query_go/v5/parser"

	"github.com/rippledb/ripple/internal/row"
	"github.com/rippledb/ripple/planner/expr"
)

// ViewDef is one view definition as written in a file: the statement text,
// where it came from, and the SELECT it defines. Build turns a set of them
// into a plan.
type ViewDef struct {
	// Name is the view's name; its schema defaults to "public" when the
	// statement does not qualify it.
	Name row.TableName
	// Query is the view's SELECT as SQL text (pg_query's deparse of the
	// SelectStmt): what the oracle and the type cross-check run on the
	// source.
	Query string
	// SQL is the whole statement text as written (without the trailing
	// semicolon); Src.Base is its byte offset within Src.Text.
	SQL                     string
	Materialized, OrReplace bool
	// Src locates SQL in its file, for error positions.
	Src expr.Source
	// Line is the 1-based line of the statement's first character in its
	// file.
	Line int
	// ColumnNames is the column list of CREATE VIEW v (a, b) AS ..., nil
	// when there is none; its names replace the SELECT's output names in
	// order.
	ColumnNames []string
}

// ParseViews splits sql (the contents of file; "" for inline SQL) into view
// definitions. Every statement must be a CREATE [OR REPLACE] VIEW or a
// CREATE MATERIALIZED VIEW [IF NOT EXISTS] whose query is a SELECT; any
// other statement, a syntax error, or a view option ripple cannot honour
// (WITH CHECK OPTION, TEMP, WITH (options), TABLESPACE, USING) is an
// *expr.Error with the file position. Names are not resolved here: that,
// and duplicate view names, is Build's job.
func ParseViews(file, sql string) ([]ViewDef, error) {
	whole := expr.Source{File: file, Text: sql}
	tree, err := pg_query.Parse(sql)
	if err != nil {
		return nil, syntaxError(whole, sql, err)
	}
	var defs []ViewDef
	for i, raw := range tree.GetStmts() {
		def, err := viewDef(whole, sql, i+1, raw)
		if err != nil {
			return nil, err
		}
		defs = append(defs, def)
	}
	return defs, nil
}

// syntaxError turns a pg_query parse error into an *expr.Error at its
// cursor position. src.Base must be the offset of text within src.Text.
func syntaxError(src expr.Source, text string, err error) error {
	var pe *pgparser.Error
	if !errors.As(err, &pe) {
		return &expr.Error{File: src.File, Msg: err.Error()}
	}
	// Cursorpos is 1-based and counts characters, not bytes; 0 = unknown.
	loc := -1
	if pe.Cursorpos > 0 {
		loc = charOffset(text, pe.Cursorpos-1)
	}
	return src.Errorf("", loc, "%s", pe.Message)
}

// charOffset is the byte offset of the n-th (0-based) character of s,
// clamped to len(s).
func charOffset(s string, n int) int {
	off := 0
	for i := 0; i < n && off < len(s); i++ {
		_, size := utf8.DecodeRuneInString(s[off:])
		off += size
	}
	return off
}

// statementText returns the text of raw within sql with leading white
// space trimmed, and its byte offset.
func statementText(sql string, raw *pg_query.RawStmt) (string, int) {
	start := clamp(int(raw.GetStmtLocation()), 0, len(sql))
	end := len(sql)
	if n := int(raw.GetStmtLen()); n > 0 {
		end = clamp(start+n, start, len(sql))
	}
	text := sql[start:end]
	trimmed := strings.TrimLeftFunc(text, unicode.IsSpace)
	start += len(text) - len(trimmed)
	return strings.TrimRightFunc(trimmed, unicode.IsSpace), start
}

func clamp(v, lo, hi int) int {
	return max(lo, min(v, hi))
}

func viewDef(whole expr.Source, sql string, n int, raw *pg_query.RawStmt) (ViewDef, error) {
	text, base := statementText(sql, raw)
	src := expr.Source{File: whole.File, Text: whole.Text, Base: base}
	line, _ := src.Position(0)
	def := ViewDef{SQL: text, Src: src, Line: line}
	var query *pg_query.Node
	var rel *pg_query.RangeVar
	var aliases []*pg_query.Node
	// Statement node locations are relative to the whole file here; refusals
	// are reported against the statement start or against the file offset of
	// the offending node.
	at := func(loc int32, format string, args ...any) error {
		return whole.Errorf(def.Name.String(), int(loc), format, args...)
	}
	switch s := raw.GetStmt().GetNode().(type) {
	case *pg_query.Node_ViewStmt:
		v := s.ViewStmt
		rel, query, aliases = v.GetView(), v.GetQuery(), v.GetAliases()
		def.OrReplace = v.GetReplace()
		def.Name = viewName(rel)
		if co := v.GetWithCheckOption(); co == pg_query.ViewCheckOption_LOCAL_CHECK_OPTION || co == pg_query.ViewCheckOption_CASCADED_CHECK_OPTION {
			return def, at(rel.GetLocation(), "WITH CHECK OPTION is not supported (ripple views are read-only copies)")
		}
		if len(v.GetOptions()) > 0 {
			return def, at(rel.GetLocation(), "view options WITH (...) are not supported")
		}
	case *pg_query.Node_CreateTableAsStmt:
		c := s.CreateTableAsStmt
		if c.GetObjtype() != pg_query.ObjectType_OBJECT_MATVIEW {
			return def, whole.Errorf("", base, "statement %d: expected CREATE VIEW, found CREATE TABLE AS", n)
		}
		into := c.GetInto()
		rel, query, aliases = into.GetRel(), c.GetQuery(), into.GetColNames()
		def.Materialized = true
		def.Name = viewName(rel)
		switch {
		case len(into.GetOptions()) > 0:
			return def, at(rel.GetLocation(), "materialized view options WITH (...) are not supported")
		case into.GetTableSpaceName() != "":
			return def, at(rel.GetLocation(), "TABLESPACE is not supported for views")
		case into.GetAccessMethod() != "":
			return def, at(rel.GetLocation(), "USING %s is not supported for views", into.GetAccessMethod())
		}
	default:
		return def, whole.Errorf("", base, "statement %d: expected CREATE VIEW, found %s", n, statementKind(raw.GetStmt()))
	}
	if rel.GetCatalogname() != "" {
		return def, at(rel.GetLocation(), "cross-database references are not implemented: %s.%s.%s",
			rel.GetCatalogname(), rel.GetSchemaname(), rel.GetRelname())
	}
	if p := rel.GetRelpersistence(); p == "t" || p == "u" {
		kind := map[string]string{"t": "TEMPORARY", "u": "UNLOGGED"}[p]
		return def, at(rel.GetLocation(), "%s views are not supported", kind)
	}
	for _, a := range aliases {
		def.ColumnNames = append(def.ColumnNames, a.GetString_().GetSval())
	}
	if query.GetSelectStmt() == nil {
		return def, at(rel.GetLocation(), "view query must be a SELECT, found %s", statementKind(query))
	}
	deparsed, err := pg_query.Deparse(&pg_query.ParseResult{Stmts: []*pg_query.RawStmt{{Stmt: query}}})
	if err != nil {
		return def, at(rel.GetLocation(), "cannot deparse the view's query: %v", err)
	}
	def.Query = deparsed
	return def, nil
}

func viewName(rel *pg_query.RangeVar) row.TableName {
	schema := rel.GetSchemaname()
	if schema == "" {
		schema = "public"
	}
	return row.TableName{Schema: schema, Name: rel.GetRelname()}
}

// statementKinds names the statements users are most likely to put in a
// view file by mistake; others are named after their parse node.
var statementKinds = map[string]string{
	"SelectStmt": "SELECT", "InsertStmt": "INSERT", "UpdateStmt": "UPDATE", "DeleteStmt": "DELETE",
	"MergeStmt": "MERGE", "CreateStmt": "CREATE TABLE", "CreateTableAsStmt": "CREATE TABLE AS",
	"IndexStmt": "CREATE INDEX", "DropStmt": "DROP", "AlterTableStmt": "ALTER TABLE",
	"TransactionStmt": "a transaction statement", "VariableSetStmt": "SET", "CopyStmt": "COPY",
	"CreateSchemaStmt": "CREATE SCHEMA", "CreateFunctionStmt": "CREATE FUNCTION", "TruncateStmt": "TRUNCATE",
	"ExplainStmt": "EXPLAIN", "RefreshMatViewStmt": "REFRESH MATERIALIZED VIEW", "GrantStmt": "GRANT",
	"CommentStmt": "COMMENT", "DoStmt": "DO", "CreateSeqStmt": "CREATE SEQUENCE",
}

// statementKind names the kind of statement n for error messages.
func statementKind(n *pg_query.Node) string {
	if n == nil || n.GetNode() == nil {
		return "an empty statement"
	}
	// The oneof wrapper is *pg_query.Node_XxxStmt with one field XxxStmt.
	v := reflect.ValueOf(n.GetNode()).Elem()
	name := v.Type().Field(0).Name
	if k, ok := statementKinds[name]; ok {
		return k
	}
	return fmt.Sprintf("%s statement", strings.TrimSuffix(name, "Stmt"))
}
