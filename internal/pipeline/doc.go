// Package pipeline wires ripple's stages together: the cdc source, the
// table arrangements that complete pgoutput's changes into full rows, the
// planned dataflow graph and the sinks. It owns the ack loop: the source is
// told an LSN is flushed only once every sink holds it durably (I4), and a
// bounded queue between the replication reader and the engine makes a slow
// sink slow down reading instead of growing memory (I5).
//
// Restart semantics in this version: there is no durable engine state yet,
// so every start takes a fresh snapshot through a newly created slot and
// replaces each sink's contents atomically (one sink transaction that also
// records the snapshot's LSN). Sinks therefore never show a mix of old and
// new, and nothing is applied twice (I2, I3).
//
// Observability sits beside the data path and never blocks it: Run keeps a
// Status (phase, snapshot progress, per-view row counts and last LSN,
// throughput, slot lag, state size, errors) that any goroutine may read,
// feeds the Prometheus metrics of internal/metrics, shows the snapshot's
// progress, and polls the slot's lag on the source's regular connection,
// which nothing else uses once streaming.
package pipeline
