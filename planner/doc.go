// Package planner turns view definitions (CREATE [OR REPLACE] [MATERIALIZED]
// VIEW statements, parsed with pg_query_go) into a dataflow graph: it
// resolves names against the source catalog, type-checks with PostgreSQL's
// rules (through planner/expr), refuses every construct it cannot maintain
// exactly with an error naming the construct and its position (I6), and
// lowers the accepted views into dataflow operators.
//
// It is the only package that imports pg_query_go (cgo); the catalog comes
// in through the Catalog interface so the planner never talks to Postgres.
package planner
