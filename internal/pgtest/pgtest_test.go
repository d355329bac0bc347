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
