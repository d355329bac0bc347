// Package dataflow is ripple's incremental computation engine: Z-set
// batches of (row, weight), stateful operators that keep arrangements
// (indexed state), and a Graph stepped once per source transaction, in the
// style of DBSP: the change of each output for one logical time is computed
// from the change of each input at that time and the operators' state.
//
// It sits between the pipeline (which feeds it one source transaction's
// table changes at a time) and the sinks (which receive its output
// changes). It is a pure library: no I/O and no imports beyond the leaf row
// types, so it can be tested exhaustively. SQL semantics (expressions,
// aggregate functions) come from the planner as functions and Aggregate
// implementations; the operators own only the incremental algebra.
//
// Invariant kept here (I1 at the operator level): after every Step, the
// accumulated output of each node equals its operator applied to the
// accumulated inputs — as a multiset, with no negative multiplicities.
package dataflow
