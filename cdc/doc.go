// Package cdc is the source side of ripple's data path: it owns everything
// that talks to the source PostgreSQL database.
//
//	Postgres (source) ──pgoutput──► cdc ──Txn──► pipeline ──► dataflow ──► sink
//	        ▲                                       │
//	        └────────── Ack(durable LSN) ◄──────────┘
//
// A Source checks the source (Connect: wal_level, REPLICATION), describes
// tables and queries for the planner (LookupTable, Describe, Collation),
// manages the publication and the slot (EnsurePublication, DropSlot,
// DropPublication), takes the consistent initial snapshot (Snapshot: a slot
// created with an exported snapshot, tables read with COPY inside a
// transaction that imports it), and streams pgoutput decoded into typed
// rows and assembled into one Txn per committed source transaction
// (Stream). The decoder (decode.go) is a set of pure functions, unit-tested
// and fuzzed without a server. With Config.StreamDir it speaks protocol
// version 2 with streaming on: transactions PostgreSQL streams while in
// progress are spooled to a file each and replayed at their commit
// (spool.go), so the consumer sees the same committed transactions in
// commit order as with protocol version 1.
//
// Invariants it keeps:
//
//   - Commit order and completeness (for I1/I3): Snapshot returns the slot's
//     consistent point; every transaction committed at or below it is in the
//     snapshot and every later one is sent by Stream exactly once per stream,
//     whole, in commit order. Rolled-back transactions and aborted
//     subtransactions never appear.
//   - I4 Ack safety: cdc never acks on its own. The flush position it reports
//     to PostgreSQL is the highest LSN the pipeline passed to Ack; it moves
//     past that only to the server's WAL end, and only while nothing it
//     delivered is waiting for an ack and no transaction is half received,
//     so that an idle source does not retain WAL.
//   - Source health (health.go): Stream emits a heartbeat message in the
//     source database every Config.HeartbeatInterval so the slot advances
//     on a filtered-out source; SlotLag reports the retained WAL against
//     Config.MaxRetainedWAL. A dropped or invalidated slot is a terminal
//     error (ErrSlotMissing, ErrSlotInvalidated) naming `ripple resync`,
//     detected at the start of streaming, when the connection fails
//     mid-stream, and by SlotLag. IsTransient classifies every error once,
//     for the pipeline's reconnect loop.
//   - I5 Backpressure: Stream sends on a bounded channel and stops reading
//     the socket while the consumer is slow; it keeps sending standby status
//     meanwhile so the walsender does not drop the connection.
//   - Value text: every connection (regular and replication) pins
//     row.SessionSettings, so values decode the same whatever the database
//     or role defaults for DateStyle, TimeZone, IntervalStyle,
//     extra_float_digits or bytea_output are.
//   - Unsupported types (row.Type.Supported() false: arrays, ranges,
//     money, ...) are carried opaquely as row.NewText of their text form.
//     Domains are read as their base type and enum types' labels are
//     registered with package row when a table is looked up (types.go).
//   - I6: bad input is answered: malformed protocol bytes give an error
//     wrapping ErrMalformed, never a panic; setup problems give errors that
//     match ErrWalLevel, ErrNoReplicationPrivilege, ErrNoSuchTable,
//     ErrNotATable, ErrSlotInUse, ErrSlotMissing or ErrSlotInvalidated and
//     name the thing.
package cdc
