// Package pipeline wires ripple's stages together: the cdc source, the
// table arrangements that complete pgoutput's changes into full rows, the
// planned dataflow graph and the sinks. It owns the ack loop: the source is
// told an LSN is flushed only once every sink holds it durably (I4), and a
// bounded queue between the replication reader and the engine makes a slow
// sink slow down reading instead of growing memory (I5). In strict mode the
// transactions already queued are stepped together and handed to each sink
// at once (sink.StepsApplier): still one sink transaction per source
// transaction (I2), sent in one round trip, and checkpointed once.
//
// Restart semantics: with a state directory (Config.StateDir) the table
// arrangements are checkpointed to internal/state after every sink
// commit, and the slot is acknowledged only up to the last synced
// checkpoint (I4). A restart reads them back, rebuilds the operators'
// state by stepping the graph once with every stored row, and streams
// from the checkpoint; transactions at or below a sink's progress are not
// applied to it again (I3). The first start, a changed set of views, or a
// resync takes a fresh snapshot through a newly created slot and replaces
// each sink's contents atomically. Lost connections are retried with
// backoff from the checkpoint; a lost slot or a sink behind the state is
// refused with ErrResyncNeeded.
//
// Observability sits beside the data path and never blocks it: Run keeps a
// Status (phase, snapshot progress, per-view row counts and last LSN,
// throughput, slot lag, state size, errors) that any goroutine may read,
// feeds the Prometheus metrics of internal/metrics, shows the snapshot's
// progress, and polls the slot's lag on the source's regular connection,
// which nothing else uses once streaming.
package pipeline
