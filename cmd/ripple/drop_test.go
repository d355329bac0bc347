package main

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/rippledb/ripple/cdc"
	"github.com/rippledb/ripple/internal/pgtest"
)

func TestDrop(t *testing.T) {
	src := pgtest.Source(t)
	pgtest.CreateDB(t, src, "sinkdb")
	pgtest.Exec(t, src, "app", opsSchema)
	path := opsConfig(t, src.DSN("app"), map[string]string{"main": src.DSN("sinkdb")}, opsViews)
	cfg, stop := startPipeline(t, path)
	ctx := context.Background()
	var out bytes.Buffer

	// check sees the running pipeline's slot in use.
	if err := runCheck(ctx, &out, path, nil, false); !errors.Is(err, errChecksFailed) {
		t.Errorf("check with the pipeline running: %v", err)
	}
	wantLines(t, out.String(), "FAIL  slot ripple: is in use by PID")

	// Refused while the pipeline runs, and nothing is changed.
	out.Reset()
	err := runDrop(ctx, &out, nil, false, cfg, dropOptions{yes: true})
	if !errors.Is(err, cdc.ErrSlotInUse) || !strings.Contains(err.Error(), "nothing was changed") {
		t.Fatalf("drop of a running pipeline: %v", err)
	}
	if s, p := sourceObjects(t, src, "app"); s != 1 || p != 1 {
		t.Fatalf("after a refused drop: %d slots, %d publications", s, p)
	}
	stop()

	// No terminal and no --yes: refused.
	if err := runDrop(ctx, &out, strings.NewReader("ripple\n"), false, cfg, dropOptions{}); err == nil || !strings.Contains(err.Error(), "--yes") {
		t.Errorf("drop without a terminal: %v", err)
	}
	// A wrong answer on a terminal: refused.
	out.Reset()
	if err := runDrop(ctx, &out, strings.NewReader("nope\n"), true, cfg, dropOptions{}); !errors.Is(err, errNotConfirmed) {
		t.Errorf("drop with a wrong answer: %v", err)
	}
	wantLines(t, out.String(), "Type the pipeline name (ripple) to confirm: ")
	if s, p := sourceObjects(t, src, "app"); s != 1 || p != 1 {
		t.Fatalf("after unconfirmed drops: %d slots, %d publications", s, p)
	}

	// Confirmed: everything goes, the view tables with --drop-tables.
	out.Reset()
	if err := runDrop(ctx, &out, strings.NewReader("ripple\n"), true, cfg, dropOptions{dropTables: true}); err != nil {
		t.Fatalf("drop: %v\n%s", err, out.String())
	}
	t.Log("\n" + out.String())
	wantLines(t, out.String(), "replication slot ripple: dropped", "publication ripple: dropped", "sink main: view tables, progress and catalog rows removed")
	if s, p := sourceObjects(t, src, "app"); s != 0 || p != 0 {
		t.Errorf("after drop: %d slots, %d publications", s, p)
	}
	sk := pgtest.Connect(t, src, "sinkdb")
	var progress, views int
	var table *string
	if err := sk.QueryRow(ctx, `SELECT (SELECT count(*) FROM ripple.progress), (SELECT count(*) FROM ripple.views), to_regclass('public.order_names')::text`).
		Scan(&progress, &views, &table); err != nil {
		t.Fatal(err)
	}
	if progress != 0 || views != 0 || table != nil {
		t.Errorf("sink keeps %d progress rows, %d catalog rows, table %v", progress, views, table)
	}

	// Idempotent.
	out.Reset()
	if err := runDrop(ctx, &out, nil, false, cfg, dropOptions{yes: true}); err != nil {
		t.Fatalf("second drop: %v", err)
	}
	wantLines(t, out.String(), "replication slot ripple: did not exist", "publication ripple: did not exist")

	// A sink ripple never wrote to is fine too.
	pgtest.CreateDB(t, src, "empty")
	cfg.Sinks[0].DSN = src.DSN("empty")
	if err := runDrop(ctx, &out, nil, false, cfg, dropOptions{yes: true, dropTables: true}); err != nil {
		t.Errorf("drop with an untouched sink: %v", err)
	}
}

// Without --drop-tables the view tables stay (their rows are the last
// state) and a foreign table of the same name is never dropped.
func TestDropKeepsTables(t *testing.T) {
	src := pgtest.Source(t)
	pgtest.CreateDB(t, src, "sinkdb")
	pgtest.Exec(t, src, "app", opsSchema)
	path := opsConfig(t, src.DSN("app"), map[string]string{"main": src.DSN("sinkdb")}, opsViews)
	cfg, stop := startPipeline(t, path)
	stop()
	var out bytes.Buffer
	if err := runDrop(context.Background(), &out, nil, false, cfg, dropOptions{yes: true}); err != nil {
		t.Fatal(err)
	}
	sk := pgtest.Connect(t, src, "sinkdb")
	var n int
	if err := sk.QueryRow(context.Background(), "SELECT count(*) FROM public.order_names").Scan(&n); err != nil || n != 300 {
		t.Errorf("view table after drop without --drop-tables: %d rows, %v", n, err)
	}
}
