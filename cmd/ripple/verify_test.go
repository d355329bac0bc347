package main

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rippledb/ripple/internal/oracle"
	"github.com/rippledb/ripple/internal/pgtest"
)

// TestVerify runs a pipeline in-process and checks that verify passes on
// clean sinks (also while the source is being written to) and reports rows
// inserted, deleted or modified in a sink behind ripple's back.
func TestVerify(t *testing.T) {
	src := pgtest.Source(t)
	pgtest.CreateDB(t, src, "sinkdb")
	pgtest.Exec(t, src, "app", opsSchema)
	path := opsConfig(t, src.DSN("app"), map[string]string{"main": src.DSN("sinkdb")}, opsViews)
	cfg, _ := startPipeline(t, path)
	ctx := context.Background()

	var out bytes.Buffer
	if err := runVerify(ctx, &out, cfg, verifyOptions{}); err != nil {
		t.Fatalf("verify on clean sinks: %v\n%s", err, out.String())
	}
	t.Log("\n" + out.String())
	wantLines(t, out.String(), "sink main: public.order_names: equal (300 rows", "3 views verified", "3 equal, 0 differ")

	// The source keeps changing while verify runs: in-flight transactions
	// must not be reported. (qty only grows, so that no aggregate returns
	// to an earlier value and makes a changing bucket look settled.)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if err := src.Exec(ctx, "app", "UPDATE orders SET qty = qty + 1 WHERE id = $1", 1+i%300); err != nil {
				t.Errorf("workload: %v", err)
				return
			}
		}
	}()
	for i := 0; i < 2; i++ {
		out.Reset()
		if err := runVerify(ctx, &out, cfg, verifyOptions{buckets: 64}); err != nil {
			// Where each side was right after: which one was behind.
			var slot, progress string
			_ = pgtest.Connect(t, src, "app").QueryRow(ctx, "SELECT confirmed_flush_lsn::text || ' active ' || active FROM pg_replication_slots WHERE slot_name = 'ripple'").Scan(&slot)
			_ = pgtest.Connect(t, src, "sinkdb").QueryRow(ctx, "SELECT string_agg(lsn::text, ',') FROM ripple.progress").Scan(&progress)
			t.Errorf("verify under load: %v (then: slot confirmed %s, sink progress %s)\n%s", err, slot, progress, out.String())
		}
	}
	close(stop)
	wg.Wait()
	conn, err := oracle.Connect(ctx, src.DSN("app"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if err := oracle.WaitCaughtUp(ctx, conn, "ripple", 30*time.Second); err != nil {
		t.Fatal(err)
	}

	// Behind ripple's back: one row added, one deleted, one modified.
	pgtest.Exec(t, src, "sinkdb", `INSERT INTO public.qtys VALUES (6, 'intruder')`)
	pgtest.Exec(t, src, "sinkdb", `DELETE FROM public.order_names WHERE id = 7`)
	pgtest.Exec(t, src, "sinkdb", `UPDATE public.by_country SET n = n + 1 WHERE country = 'FR'`)
	out.Reset()
	err = runVerify(ctx, &out, cfg, verifyOptions{})
	t.Log("\n" + out.String())
	if !errors.Is(err, errViewsDiffer) {
		t.Fatalf("verify returned %v, want errViewsDiffer", err)
	}
	wantLines(t, out.String(),
		"public.qtys: DIFFERS: 1 extra and 0 missing",
		"    +(6,intruder)",
		"public.order_names: DIFFERS: 0 extra and 1 missing",
		`    -(7,"customer 8",`,
		"public.by_country: DIFFERS: 1 extra and 1 missing",
		"    -(FR,", "    +(FR,",
		"0 equal, 3 differ")

	// --view restricts the check to one view.
	out.Reset()
	pgtest.Exec(t, src, "sinkdb", `DELETE FROM public.qtys WHERE note = 'intruder'`)
	if err := runVerify(ctx, &out, cfg, verifyOptions{views: []string{"qtys"}}); err != nil {
		t.Errorf("--view qtys after repair: %v\n%s", err, out.String())
	}
	if strings.Contains(out.String(), "order_names") {
		t.Errorf("--view qtys verified other views:\n%s", out.String())
	}
	if err := runVerify(ctx, &out, cfg, verifyOptions{views: []string{"nope"}}); err == nil || !strings.Contains(err.Error(), "no such view") {
		t.Errorf("--view nope: %v", err)
	}
}
