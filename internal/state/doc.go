// Package state is ripple's durable engine state: an embedded, crash-safe
// store (github.com/cockroachdb/pebble) under the configured state_dir that
// holds ripple's arrangement of every replicated table and a checkpoint
// record naming the source transaction the state is at.
//
// Where it sits in the data path: the pipeline writes the rows a source
// transaction changed, together with the checkpoint record, as one atomic
// pebble batch after every sink committed that transaction, and syncs the
// write-ahead log in the background; only LSNs at or below the last synced
// checkpoint are acknowledged to the source (I4). A restart reads the
// tables back and rebuilds every operator's state from them without reading
// the source tables again, then streams from the checkpoint; transactions at
// or below a sink's progress are not applied to it again (I3).
//
// Batches are atomic and the write-ahead log is replayed in order, so after
// any crash the store holds a prefix of what was written: the checkpoint
// record always describes exactly the rows next to it.
package state
