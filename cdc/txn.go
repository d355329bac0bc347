package cdc

import (
	"time"

	"github.com/rippledb/ripple/internal/row"
)

// RelationID is the OID of a source table as pgoutput's Relation message
// carries it.
type RelationID uint32

// ReplicaIdentity is pg_class.relreplident: 'd' default (primary key), 'f'
// full, 'i' index, 'n' nothing.
type ReplicaIdentity byte

// Relation describes a source table as the stream (or the catalog, for the
// snapshot) describes it.
type Relation struct {
	ID       RelationID
	Name     row.TableName
	Columns  row.Schema
	KeyCols  []int // columns of the replica identity (flag 1 in pgoutput), in column order
	Identity ReplicaIdentity
}

// Op is the kind of a row change.
type Op uint8

const (
	OpInsert Op = iota + 1
	OpUpdate
	OpDelete
	OpTruncate
)

func (o Op) String() string {
	switch o {
	case OpInsert:
		return "insert"
	case OpUpdate:
		return "update"
	case OpDelete:
		return "delete"
	case OpTruncate:
		return "truncate"
	}
	return "op?"
}

// OldKind says what Change.Old holds.
type OldKind uint8

const (
	// OldNone: no old tuple was sent (INSERT, or UPDATE that did not change
	// the replica identity under REPLICA IDENTITY DEFAULT/INDEX). The old
	// row must come from the engine's own arrangement, looked up by the key
	// columns of New.
	OldNone OldKind = iota
	// OldKey: only the replica identity columns of Old are meaningful
	// (pgoutput 'K'); the other columns are NULL placeholders.
	OldKey
	// OldFull: Old is the whole old row (pgoutput 'O', REPLICA IDENTITY FULL).
	// Unchanged-TOAST columns can still be flagged in OldUnchanged.
	OldFull
)

// Change is one row change of a source transaction.
type Change struct {
	Op  Op
	Rel *Relation // shared, immutable once published in a Txn
	// Old is set for OpUpdate and OpDelete as OldKind says.
	Old     row.Row
	OldKind OldKind
	// New is set for OpInsert and OpUpdate. Columns flagged in Unchanged
	// were not sent (pgoutput 'u': unchanged TOAST value) and hold NULL
	// placeholders; their value is the old row's.
	New       row.Row
	Unchanged []bool // nil when no column is unchanged-TOAST
}

// Txn is one committed source transaction, in commit order. Rolled-back
// transactions and aborted subtransactions never appear.
//
// A transaction with more changes than Config.PartChanges arrives in parts,
// so that it is never held whole in memory: every part but the last has
// More set and a zero EndLSN, and all carry the transaction's XID,
// CommitLSN and CommitTime (pgoutput's Begin message has them: protocol 1
// sends a transaction only after it committed, so a part is never of a
// transaction that aborts). Part numbers the parts from 0. Nothing else
// arrives between the parts of one transaction.
type Txn struct {
	XID        uint32
	CommitLSN  row.LSN // LSN of the commit record: the transaction's logical time
	EndLSN     row.LSN // end of the commit record; what is acknowledged once durable
	CommitTime time.Time
	// Received is when ripple read the transaction's commit message (its
	// last part's): CommitTime to Received is PostgreSQL's decoding and
	// the transfer.
	Received time.Time
	Changes  []Change
	Part     int
	More     bool
}

// Parted reports whether the transaction arrives in several parts.
func (t *Txn) Parted() bool { return t.More || t.Part > 0 }
