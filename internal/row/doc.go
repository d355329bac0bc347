// Package row holds the leaf types every stage of ripple shares: Datum (one
// SQL value), Row, Type and Schema, Weight, the text codec for PostgreSQL's
// canonical output format, comparison with PostgreSQL's ordering rules, and
// the key encoding used by arrangements.
//
// It sits under every other package in the data path
// (cdc → pipeline → dataflow → sink) and imports only the standard library,
// so that the Z-set engine, the decoder and the sinks agree on one value
// model. It keeps I1 honest at the value level: a value decoded from the
// source, carried through the dataflow and written to a sink round-trips to
// exactly the text PostgreSQL would print for it (DateStyle=ISO, TimeZone=UTC,
// extra_float_digits=1, bytea_output=hex — the settings ripple pins on every
// connection it opens).
package row
