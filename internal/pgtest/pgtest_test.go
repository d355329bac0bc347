package pgtest

import (
	"context"
	"testing"
)

func TestStartLogicalCluster(t *testing.T) {
	c := Source(t)
	conn := Connect(t, c, "app")
	var wal string
	if err := conn.QueryRow(context.Background(), "SHOW wal_level").Scan(&wal); err != nil {
		t.Fatal(err)
	}
	if wal != "logical" {
		t.Fatalf("wal_level = %q, want logical", wal)
	}
}

func TestStopAndRestart(t *testing.T) {
	c := Source(t)
	Exec(t, c, "app", "CREATE TABLE t (x int); INSERT INTO t VALUES (1)")
	Restart(t, c, "fast")
	// The test clusters run with synchronous_commit = off: a commit made
	// just before an immediate stop survives only when it waits for its WAL.
	Exec(t, c, "app", "SET synchronous_commit = on; INSERT INTO t VALUES (2)")
	Stop(t, c, "immediate")
	if c.Running() {
		t.Fatal("Running after an immediate stop")
	}
	if err := c.Exec(context.Background(), "app", "SELECT 1"); err == nil {
		t.Fatal("query succeeded on a stopped cluster")
	}
	Restart(t, c, "fast")
	var n int
	if err := Connect(t, c, "app").QueryRow(context.Background(), "SELECT count(*) FROM t").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Fatalf("%d rows after the restarts, want 2", n)
	}
}
