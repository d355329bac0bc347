// Package pgtest gives tests throwaway PostgreSQL clusters (see
// internal/pgcluster) that are removed when the test ends. Tests that need
// PostgreSQL fail — they never skip — when the server binaries are missing;
// .ci/run installs them.
package pgtest

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rippledb/ripple/internal/pgcluster"
)

// Start starts a cluster for t and removes it in t.Cleanup.
func Start(t testing.TB, opts pgcluster.Options) *pgcluster.Cluster {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := pgcluster.Start(ctx, opts)
	if err != nil {
		t.Fatalf("start PostgreSQL: %v", err)
	}
	t.Cleanup(c.Remove)
	return c
}

// Source starts a logical-replication-ready cluster with a database "app".
func Source(t testing.TB) *pgcluster.Cluster {
	t.Helper()
	c := Start(t, pgcluster.Options{})
	CreateDB(t, c, "app")
	return c
}

// CreateDB creates database name in c.
func CreateDB(t testing.TB, c *pgcluster.Cluster, name string) {
	t.Helper()
	if err := c.CreateDB(context.Background(), name); err != nil {
		t.Fatalf("create database %s: %v", name, err)
	}
}

// Exec runs sql in database db of c and fails the test on error.
func Exec(t testing.TB, c *pgcluster.Cluster, db, sql string, args ...any) {
	t.Helper()
	if err := c.Exec(context.Background(), db, sql, args...); err != nil {
		t.Fatalf("exec %q: %v", sql, err)
	}
}

// Connect opens a connection to database db of c, closed at cleanup.
func Connect(t testing.TB, c *pgcluster.Cluster, db string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), c.DSN(db))
	if err != nil {
		t.Fatalf("connect %s: %v", db, err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// Stop stops the running cluster c with pg_ctl's shutdown mode ("smart",
// "fast" or "immediate"), as an operator or a crash would; Restart (or
// c.Start) brings it back on the same port with the same data.
func Stop(t testing.TB, c *pgcluster.Cluster, mode string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := c.Stop(ctx, mode); err != nil {
		t.Fatalf("stop PostgreSQL (%s): %v", mode, err)
	}
}

// Restart starts the stopped cluster c again, or, when it is running,
// stops it with mode first and then starts it.
func Restart(t testing.TB, c *pgcluster.Cluster, mode string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if c.Running() {
		if err := c.Stop(ctx, mode); err != nil {
			t.Fatalf("stop PostgreSQL (%s): %v", mode, err)
		}
	}
	if err := c.Start(ctx); err != nil {
		t.Fatalf("restart PostgreSQL: %v", err)
	}
}
