// Package bench is ripple's benchmark suite (issue 5): it starts its own
// throwaway source and sink clusters, runs ripple in-process through
// internal/pipeline, measures each figure next to the baseline a user would
// compare it with (the raw pgoutput stream drained by pg_recvlogical, a bare
// loop of single-row sink commits, REFRESH MATERIALIZED VIEW, COPY ... TO
// STDOUT, a plain COPY pipe), checks every scenario's sinks with the oracle
// (sink == the view's SELECT on the source, as a multiset) and writes a
// report in Markdown and JSON.
//
// It sits outside the data path: it only drives the pipeline and reads the
// databases. Figures are ratios taken in the same run; nothing here asserts
// a wall-clock time (the smoke test only checks that every scenario runs
// and the oracle holds).
package bench
