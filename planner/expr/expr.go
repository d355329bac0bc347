package expr

import (
	"github.com/rippledb/ripple/internal/row"
)

// Expr is a compiled scalar expression: a pure function of one input row
// with a PostgreSQL result type.
type Expr struct {
	// Type is the result type as PostgreSQL would infer it.
	Type row.Type
	// Name is the column name PostgreSQL would give this expression in a
	// select list without an alias (FigureColname: a column's name, a
	// function's name, "case", "coalesce", or "?column?").
	Name string
	// Text is SQL text for explain output.
	Text string
	// Eval computes the value for one input row. It must be deterministic
	// and must not retain r.
	Eval func(r row.Row) (row.Datum, error)
	// Const is set when the expression has no column references; Value is
	// then its value (valid only if Eval never errors for it).
	Const bool
	// Collate is the collation named by an explicit COLLATE clause in the
	// expression ("" when the collation is the column's or the
	// database's default).
	Collate string
}

// ScopeColumn is one column visible to expressions: the row an expression is
// evaluated on has this column at Index.
type ScopeColumn struct {
	Table string // range variable (alias or table name) that provides it
	Name  string
	Type  row.Type
	Index int
	// Hidden columns can be referenced only qualified (e.g. the right
	// side's copy of a USING column); they are not expanded by *.
	Hidden bool
}

// Scope is the set of columns an expression may reference.
type Scope struct {
	Columns []ScopeColumn
}
