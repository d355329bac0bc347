// Package expr compiles SQL scalar expressions and aggregate calls (parsed
// by pg_query_go) into typed Go functions with PostgreSQL's semantics:
// type inference and implicit casts, three-valued logic, integer overflow
// and division errors, exact numeric arithmetic, and the column names
// PostgreSQL gives unaliased expressions. It is part of the planner (the
// only place pg_query_go is imported) and knows nothing of joins or plans:
// the planner hands it a Scope and gets back Exprs and Aggregates.
package expr
