// Package verify is `ripple verify`: it checks, while the pipeline keeps
// running, that every sink table equals its view's SELECT evaluated on the
// source (invariant I1), and names the rows that differ.
//
// It sits beside the data path, not in it: it reads the source and the
// sinks and changes neither. It is the fast counterpart of internal/oracle
// (which copies a whole sink table to the source and runs EXCEPT ALL):
//
//  1. Fingerprints. The rows of a view are split into B buckets by a hash
//     of the view's key columns (of every column when the view has no
//     key). Per bucket, each side computes count(*) and the sum of a 64-bit
//     hash of each row's text, md5 of ROW(...)::text. Both are independent
//     of row order and count duplicates, so two buckets with equal
//     fingerprints hold the same multiset of rows (up to hash collisions).
//     The source and a PostgreSQL sink compute them in SQL, in one GROUP BY
//     query; a sink that can only dump its rows (sink.Dumper) has them
//     computed in Go from the dump, which needs PostgreSQL's record text
//     format (RecordText) reproduced exactly.
//  2. Rows. Only the buckets whose fingerprints differ are read row by row
//     from both sides and diffed, so a small difference in a large table
//     costs one scan per side plus the rows of a few buckets.
//
// Rows are compared by their text under row.SessionSettings (both sides
// must be connected with them, as oracle.Connect does): that is stricter
// than SQL equality (numeric 1.0 and 1.00 differ), which is what ripple
// promises, since it writes every value's exact text.
//
// Consistent point. The pipeline keeps running while verify reads, so the
// two sides are never read at the same logical time. verify reads the
// source's WAL insert position L and the source's fingerprints in one
// REPEATABLE READ snapshot — the reading holds exactly the transactions
// whose commit record is below L — then waits until the replication slot's
// confirmed_flush_lsn reaches L (ripple acknowledges an LSN only once every
// sink holds it durably, I4), and only then computes the sink's
// fingerprints. The sink is then at least as new as the source's reading; a
// bucket that still differs was touched by a transaction in flight between
// the two readings, and such differences vanish when the bucket is read
// again. So differing buckets are re-checked (by the same procedure) up to
// Config.Retries times, and only a difference that persists is reported.
// A bucket that changed on either side between the last two readings is being
// written to without pause (a hot group of a small aggregate, say): it
// cannot be read at one point this way, so it is counted as unsettled and
// named in the report, not reported as a difference. "Changed" in a
// PostgreSQL sink includes the bucket's row versions (a hash of each row's
// xmin): the transactions that made the sink newer than the source reading
// were applied after the previous sink reading, so if they touched the
// bucket its versions differ, even when its rows came back to what they
// were (a duplicate row of a keyless view leaving and another entering).
// The row-by-row phase reads the settled differing buckets once more by
// the same procedure, then their fingerprints again: a bucket that changed
// while its rows were read becomes unsettled, and only rows that differ in
// a reading between two unchanged fingerprints are reported.
// When the slot is not active (the pipeline is stopped) there is nothing
// to wait for: the sink is compared as it is. A slot that goes inactive
// after the verifier saw it active is a pipeline reconnecting: it is
// waited for, up to the catch-up timeout.
package verify
