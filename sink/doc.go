// Package sink writes the results of views into sink databases. It is the
// last stage of the data path:
//
//	cdc ──Txn──► pipeline ──► dataflow ──ViewDelta──► sink ──► Postgres / ...
//	                 ▲                                  │
//	                 └────────── durable LSN ◄──────────┘
//
// The pipeline hands each sink one Step per source transaction (or per group
// of whole, consecutive transactions): the consolidated changes of every view
// the transaction touched and the transaction's commit LSN. A sink applies a
// step as one transaction of its own and only then reports the LSN durable,
// which is what lets the pipeline acknowledge it to the source (I4). A sink
// that implements StepsApplier (Postgres) takes several consecutive steps
// at once when the pipeline is behind, still one sink transaction each,
// and sends them in one round trip.
//
// The package keeps three invariants:
//
//   - I1 Consistency. A view's table holds exactly the view's result as a
//     multiset: duplicates are stored as separate rows, a retraction of
//     weight -n removes exactly n matching rows (NULL-aware: NULL matches
//     NULL), and values are written in PostgreSQL's own text form
//     (row.FormatText under row.SessionSettings) so they round-trip exactly.
//     A retraction that finds fewer rows than it removes means the sink is out
//     of sync with the engine; the step fails rather than guessing.
//   - I2 Atomicity. Load and Apply each run in one sink transaction holding the
//     changes of every view and the progress record; readers see the state
//     before or after a step, never part of one. Load replaces tables under
//     the same transaction, so a concurrent reader sees the old contents or
//     the new, never an empty or partial table.
//   - I3 Exactly once. The progress LSN (table ripple.progress) is written in
//     the same transaction as the data, and Apply skips a step whose LSN is at
//     or below it, so a restart neither re-applies nor skips a transaction.
//     In Postgres every check that decides whether a step may commit (the
//     progress comparison, the number of rows a retraction removed) runs in
//     the server and fails the statement, so the step's COMMIT can travel
//     in the same pipelined batch: an error skips it, and every later step
//     of the batch, up to the batch's Sync.
//
// Sink tables are owned by ripple: Open refuses to use a table that exists and
// is not recorded in the catalog (ripple.views) as created by the same
// pipeline, and never drops a table it did not create (I6).
//
// Implementations: Postgres (pgx/v5) and Memory, an in-memory fake with the
// same contract for tests of the stages above.
package sink
