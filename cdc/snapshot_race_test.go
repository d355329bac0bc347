package cdc

import (
	"context"
	"sync"
	"testing"

	"github.com/rippledb/ripple/internal/pgtest"
	"github.com/rippledb/ripple/internal/row"
)

// TestSnapshotTruncateRace: a DELETE and a TRUNCATE committed between the
// slot's consistent point and the snapshot's table lock. TRUNCATE is not
// MVCC-safe, so the snapshot would read the table as empty while the stream
// still carries the DELETE of a row ripple never saw. Snapshot must notice
// and start over, so that the snapshot and the stream fit together.
func TestSnapshotTruncateRace(t *testing.T) {
	c := pgtest.Source(t)
	exec(t, c, "CREATE TABLE tr (id int PRIMARY KEY); INSERT INTO tr SELECT generate_series(1, 5)")
	s := testSource(t, c, "tr")
	ctx := context.Background()
	if err := s.EnsurePublication(ctx); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	testHookSlotCreated = func() {
		once.Do(func() { exec(t, c, "DELETE FROM tr WHERE id = 1; TRUNCATE tr; INSERT INTO tr VALUES (100)") })
	}
	defer func() { testHookSlotCreated = nil }()
	var got []int64
	lsn, err := s.Snapshot(ctx, func(_ *Relation, r row.Row) error {
		got = append(got, r[0].Int())
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0] != 100 {
		t.Fatalf("snapshot rows %v, want [100] (the table after the TRUNCATE)", got)
	}
	st := startStream(t, s, lsn)
	exec(t, c, "INSERT INTO tr VALUES (200)")
	txn := st.next(t)
	if len(txn.Changes) != 1 || txn.Changes[0].Op != OpInsert || txn.Changes[0].New[0].Int() != 200 {
		t.Fatalf("first streamed transaction %+v, want only the insert of 200: changes before the snapshot were streamed", txn.Changes)
	}

}
