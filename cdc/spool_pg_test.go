package cdc

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/rippledb/ripple/internal/pgtest"
	"github.com/rippledb/ripple/internal/row"
)

// TestStreamInProgress runs PostgreSQL's streaming of in-progress
// transactions (protocol 2) end to end: with logical_decoding_work_mem at
// its 64kB minimum, a large transaction is streamed (its spool file
// appears) while it is still open and a small transaction commits and
// arrives meanwhile; at its commit it arrives whole, in parts, after the
// small one, without the changes of its rolled-back savepoint. A large
// transaction that rolls back leaves nothing: no transaction and no spool.
func TestStreamInProgress(t *testing.T) {
	c := pgtest.Source(t)
	exec(t, c, "CREATE TABLE st (id int PRIMARY KEY, pad text)")
	dir := t.TempDir()
	s := testSourceWith(t, c, func(cfg *Config) {
		cfg.StreamDir = dir
		cfg.DecodingWorkMem = "64kB"
		cfg.PartChanges = 1000
	}, "st")
	_, lsn := prepare(t, s)
	st := startStream(t, s, lsn)
	ctx := context.Background()

	spoolAppears := func(what string) {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for {
			ents, err := os.ReadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			if len(ents) > 0 {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: no spool file within 15s: the transaction was not streamed in progress", what)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}

	big := pgtest.Connect(t, c, "app")
	for _, q := range []string{
		"BEGIN",
		"INSERT INTO st SELECT g, repeat('x', 100) FROM generate_series(1, 3000) g",
		"SAVEPOINT s1",
		"INSERT INTO st SELECT g, 'y' FROM generate_series(3001, 5000) g",
		"ROLLBACK TO s1",
		"UPDATE st SET pad = 'z' WHERE id <= 2",
	} {
		if _, err := big.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	spoolAppears("open transaction")
	exec(t, c, "INSERT INTO st VALUES (100000, 'small')")
	small := st.next(t)
	if len(small.Changes) != 1 || small.Changes[0].New[0] != row.NewInt(100000) {
		t.Fatalf("while the large transaction is open: got %+v, want the small one", small)
	}
	if _, err := big.Exec(ctx, "COMMIT"); err != nil {
		t.Fatal(err)
	}
	var inserts, updates, parts int
	for {
		p := st.next(t)
		if p.CommitLSN <= small.CommitLSN || p.Part != parts {
			t.Fatalf("part %d: %+v (the small transaction committed at %s)", parts, p, small.CommitLSN)
		}
		parts++
		for _, ch := range p.Changes {
			id := ch.New[0].Int()
			switch {
			case ch.Op == OpInsert && id >= 1 && id <= 3000:
				inserts++
			case ch.Op == OpUpdate && id <= 2 && ch.New[1] == row.NewText("z"):
				updates++
			default:
				t.Fatalf("unexpected change %+v", ch)
			}
		}
		if !p.More {
			break
		}
	}
	if inserts != 3000 || updates != 2 || parts < 3 {
		t.Fatalf("large transaction: %d inserts, %d updates in %d parts; want 3000, 2, at least 3 parts", inserts, updates, parts)
	}
	if committed, aborted, bytes := s.StreamStats(); committed != 1 || aborted != 0 || bytes == 0 {
		t.Fatalf("stream stats: committed %d aborted %d bytes %d", committed, aborted, bytes)
	}

	// A streamed transaction that rolls back.
	for _, q := range []string{"BEGIN", "INSERT INTO st SELECT g, repeat('w', 100) FROM generate_series(200001, 203000) g"} {
		if _, err := big.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	spoolAppears("transaction to roll back")
	if _, err := big.Exec(ctx, "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	exec(t, c, "INSERT INTO st VALUES (100001, 'after')")
	after := st.next(t)
	if len(after.Changes) != 1 || after.Changes[0].New[0] != row.NewInt(100001) {
		t.Fatalf("after the rollback: got %+v, want only the small transaction", after)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, aborted, _ := s.StreamStats()
		ents, _ := os.ReadDir(dir)
		if aborted == 1 && len(ents) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the rollback: %d aborts counted, spool directory holds %d files", aborted, len(ents))
		}
		time.Sleep(20 * time.Millisecond)
	}
}
