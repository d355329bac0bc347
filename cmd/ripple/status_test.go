package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rippledb/ripple/cdc"
	"github.com/rippledb/ripple/internal/metrics"
	"github.com/rippledb/ripple/internal/pgtest"
	"github.com/rippledb/ripple/internal/pipeline"
	"github.com/rippledb/ripple/internal/row"
	"github.com/rippledb/ripple/planner"
	"github.com/rippledb/ripple/sink"
)

func TestPrintStatus(t *testing.T) {
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	rep := pipeline.StatusReport{
		Pipeline: "ripple", Phase: pipeline.PhaseStreaming, Ready: true,
		StartedAt: now.Add(-5 * time.Minute), Now: now,
		Snapshot: pipeline.SnapshotStatus{Rows: 1500, EstimatedRows: 1400, Done: true,
			StartedAt: now.Add(-290 * time.Second), DoneAt: now.Add(-288*time.Second - 500*time.Millisecond)},
		Slot: pipeline.SlotStatus{Name: "ripple", LagBytes: 3 << 20, LagSeconds: 2.5, RetainedBytes: 64 << 20,
			CheckedAt: now.Add(-time.Second)},
		LastLSN: "0/1A2B3C4", LastCommitTime: now.Add(-3 * time.Second), LastAppliedAt: now.Add(-2 * time.Second),
		Transactions: 1234, Changes: 5678, TransactionsPerSec: 12.5, ChangesPerSec: 40,
		StateBytes: 1536, StateRows: 42, StateNote: "table arrangements only",
		Views: []pipeline.ViewStatus{
			{Name: "public.big", Sinks: []string{"main"}, Rows: 10, LastLSN: "0/1A2B3C4", LastChangeLSN: "0/1A00000", Transactions: 7, RowChanges: 9, ChangesPerSec: 0.5},
			{Name: "public.quiet", Sinks: []string{"main", "backup"}, Rows: 0, LastLSN: "0/1A2B3C4"},
		},
		Errors: 2, LastError: "slot lag: connection refused", LastErrorAt: now.Add(-time.Minute),
	}
	var b bytes.Buffer
	printStatus(&b, rep)
	got := b.String()
	t.Logf("\n%s", got)
	for _, want := range []string{
		"pipeline ripple: streaming, ready (up 5m0s)",
		"applied LSN  0/1A2B3C4 (committed 3s ago, applied 2s ago)",
		"slot ripple  lag 3.0 MiB, 2.5s; WAL retained 64.0 MiB (checked 1s ago)",
		"throughput   12.5 txn/s, 40.0 changes/s (1234 transactions, 5678 changes since start)",
		"snapshot     1500 rows, done in 1.5s",
		"state        1.5 KiB in 42 rows (table arrangements only)",
		"errors       2; last: slot lag: connection refused (1m0s ago)",
	} {
		if !strings.Contains(got, want+"\n") {
			t.Errorf("missing line %q", want)
		}
	}
	rep.Slot.MaxRetainedBytes, rep.Slot.RetainedOverLimit, rep.Slot.WALStatus = 32<<20, true, "unreserved"
	b.Reset()
	printStatus(&b, rep)
	if want := "slot ripple  lag 3.0 MiB, 2.5s; WAL retained 64.0 MiB of max 32.0 MiB — OVER LIMIT (wal_status unreserved: the next checkpoint may invalidate the slot) (checked 1s ago)\n"; !strings.Contains(b.String(), want) {
		t.Errorf("over the retained limit: missing line %q in\n%s", want, b.String())
	}
	if !regexp.MustCompile(`(?m)^ *public\.big +main +10 +0/1A2B3C4 +0/1A00000 +7 +0\.5 *$`).MatchString(got) {
		t.Error("view line of public.big is wrong")
	}
	if !regexp.MustCompile(`(?m)^ *public\.quiet +main,backup +0 +0/1A2B3C4 +- +0 +0\.0 *$`).MatchString(got) {
		t.Error("view line of public.quiet is wrong")
	}

	// Before the first lag poll and during the snapshot.
	b.Reset()
	printStatus(&b, pipeline.StatusReport{Pipeline: "p", Phase: pipeline.PhaseSnapshot, Now: now, StartedAt: now,
		Slot:     pipeline.SlotStatus{Name: "p"},
		Snapshot: pipeline.SnapshotStatus{Rows: 10, EstimatedRows: 100, RowsPerSec: 5, StartedAt: now.Add(-2 * time.Second)}})
	for _, want := range []string{"snapshot, not ready", "slot p       not polled yet", "10 rows of ~100, 5 rows/s, running", "last: none"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("missing %q in\n%s", want, b.String())
		}
	}
}

func TestBytesText(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 1536: "1.5 KiB", 5 << 30: "5.0 GiB"} {
		if got := bytesText(n); got != want {
			t.Errorf("bytesText(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestStatusUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	root := newRoot()
	root.SetArgs([]string{"status", "--addr", addr})
	root.SetOut(io.Discard)
	err = root.ExecuteContext(context.Background())
	if err == nil || !strings.Contains(err.Error(), "no ripple answers at "+addr) {
		t.Fatalf("got %v, want a clear 'no ripple answers' error", err)
	}
}

// TestHTTPEndpointLive runs a pipeline against a real source with the HTTP
// endpoint on a free port and checks /readyz, /metrics, /status and
// `ripple status` against the transactions applied.
func TestHTTPEndpointLive(t *testing.T) {
	src := pgtest.Source(t)
	pgtest.Exec(t, src, "app", `
		CREATE TABLE orders (id int PRIMARY KEY, cust int NOT NULL, qty int NOT NULL);
		CREATE TABLE events (kind text, n int);
		ALTER TABLE events REPLICA IDENTITY FULL;
		INSERT INTO orders SELECT g, g % 3, g FROM generate_series(1, 1000) g;
		INSERT INTO events VALUES ('a', 1), ('a', 1), ('b', 2);`)
	const views = `
CREATE VIEW public.by_cust AS SELECT cust, count(*) AS n, sum(qty) AS total FROM orders GROUP BY cust;
CREATE VIEW public.big AS SELECT id, qty FROM orders WHERE qty > 990;
CREATE VIEW public.ev AS SELECT kind, n FROM events;`
	defs, err := planner.ParseViews("views.sql", views)
	if err != nil {
		t.Fatal(err)
	}
	var names []row.TableName
	for _, d := range defs {
		names = append(names, d.Name)
	}
	st, m := pipeline.NewStatus(), metrics.New()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: newHTTPHandler(st, m.Registry)}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	base := "http://" + ln.Addr().String()

	if code, body := get(t, base+"/readyz"); code != http.StatusServiceUnavailable {
		t.Errorf("/readyz before start: %d %s, want 503", code, body)
	}
	if code, _ := get(t, base+"/healthz"); code != http.StatusOK {
		t.Errorf("/healthz: %d", code)
	}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- pipeline.Run(ctx, pipeline.Config{
			Source: cdc.Config{DSN: src.DSN("app")}, Views: defs,
			Targets: []pipeline.Target{{Sink: sink.NewMemory("mem"), Views: names}},
			Status:  st, Metrics: m, LagInterval: 100 * time.Millisecond,
		})
	}()
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			cancel()
			<-done
		}
	})
	waitFor(t, 60*time.Second, "/readyz 200", func() bool {
		code, _ := get(t, base+"/readyz")
		return code == http.StatusOK
	})
	rep := status(t, base)
	if !rep.Snapshot.Done || rep.Snapshot.Rows != 1003 {
		t.Errorf("snapshot: %+v, want done with 1003 rows", rep.Snapshot)
	}
	if rep.Snapshot.EstimatedRows < 100 || rep.Snapshot.EstimatedRows > 100000 {
		t.Errorf("snapshot estimate %d is far from 1003", rep.Snapshot.EstimatedRows)
	}
	if rep.StateRows != 1003 || rep.StateBytes <= 0 {
		t.Errorf("state: %d rows, %d bytes; want 1003 rows", rep.StateRows, rep.StateBytes)
	}

	for _, q := range []string{
		"INSERT INTO orders VALUES (1001, 0, 995)",  // by_cust ±1 (cust 0), big +1
		"UPDATE orders SET qty = 1 WHERE id = 1000", // by_cust ±1 (cust 1), big -1
		"DELETE FROM events WHERE kind = 'b'",       // ev -1
		"TRUNCATE events",                           // ev -2 (one row twice)
		"UPDATE orders SET qty = qty WHERE id = 1",  // no view changes
	} {
		pgtest.Exec(t, src, "app", q)
	}
	waitFor(t, 60*time.Second, "5 transactions applied", func() bool { return status(t, base).Transactions == 5 })

	_, text := get(t, base+"/metrics")
	for _, want := range []string{
		`ripple_view_transactions_total{view="public.big"} 2`,
		`ripple_view_transactions_total{view="public.by_cust"} 2`,
		`ripple_view_transactions_total{view="public.ev"} 2`,
		`ripple_view_row_changes_total{view="public.big"} 2`,
		`ripple_view_row_changes_total{view="public.by_cust"} 4`,
		`ripple_view_row_changes_total{view="public.ev"} 3`,
		`ripple_view_rows{view="public.big"} 10`,
		`ripple_view_rows{view="public.by_cust"} 3`,
		`ripple_view_rows{view="public.ev"} 0`,
		`ripple_source_transactions_total 5`,
		`ripple_sink_commit_seconds_count{sink="mem"} 5`, // the load and the 4 steps that changed a view
		`ripple_snapshot_rows 1003`,
		`ripple_snapshot_done 1`,
		`ripple_ready 1`,
		`ripple_errors_total{stage="pipeline"} 0`,
		`ripple_state_rows 1001`,
	} {
		if !strings.Contains(text, "\n"+want+"\n") {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	for _, name := range []string{"ripple_slot_lag_bytes", "ripple_slot_lag_seconds", "ripple_slot_retained_wal_bytes", "ripple_state_bytes", "ripple_applied_lsn"} {
		if !strings.Contains(text, "\n"+name+" ") {
			t.Errorf("/metrics lacks %s", name)
		}
	}

	rep = status(t, base)
	wantRows := map[string]int64{"public.big": 10, "public.by_cust": 3, "public.ev": 0}
	if len(rep.Views) != 3 {
		t.Fatalf("status has %d views, want 3", len(rep.Views))
	}
	for _, v := range rep.Views {
		if v.Rows != wantRows[v.Name] {
			t.Errorf("view %s: %d rows, want %d", v.Name, v.Rows, wantRows[v.Name])
		}
		if v.LastLSN != rep.LastLSN || v.LastChangeLSN == "" || v.Transactions != 2 {
			t.Errorf("view %s: %+v (pipeline last LSN %s)", v.Name, v, rep.LastLSN)
		}
	}
	if rep.LastCommitTime.IsZero() || rep.Changes < 5 || rep.TransactionsPerSec <= 0 {
		t.Errorf("throughput: %+v", rep)
	}
	// Once every transaction is acknowledged, the slot catches up: no lag.
	waitFor(t, 30*time.Second, "slot lag 0", func() bool {
		rep = status(t, base)
		return rep.Slot.Error == "" && !rep.Slot.CheckedAt.IsZero() && rep.Slot.LagBytes == 0 && rep.Slot.LagSeconds == 0
	})
	if rep.Slot.Name != "ripple" || rep.Slot.RetainedBytes <= 0 {
		t.Errorf("slot: %+v", rep.Slot)
	}

	// `ripple status` renders it.
	var out bytes.Buffer
	root := newRoot()
	root.SetArgs([]string{"status", "--addr", ln.Addr().String()})
	root.SetOut(&out)
	if err := root.ExecuteContext(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Logf("ripple status:\n%s", out.String())
	for _, want := range []string{"pipeline ripple: streaming, ready", "slot ripple  lag 0 B, 0s; WAL retained", "public.by_cust", "5 transactions"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("ripple status output lacks %q", want)
		}
	}
	out.Reset()
	root = newRoot()
	root.SetArgs([]string{"status", "--addr", base, "--json"})
	root.SetOut(&out)
	if err := root.ExecuteContext(context.Background()); err != nil {
		t.Fatal(err)
	}
	var parsed pipeline.StatusReport
	if err := json.Unmarshal(out.Bytes(), &parsed); err != nil || parsed.Transactions != 5 {
		t.Errorf("--json: %v, %d transactions", err, parsed.Transactions)
	}

	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	stopped = true
	if code, body := get(t, base+"/readyz"); code != http.StatusServiceUnavailable || !strings.Contains(body, "stopped") {
		t.Errorf("/readyz after stop: %d %s", code, body)
	}
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return resp.StatusCode, string(b)
}

func status(t *testing.T, base string) pipeline.StatusReport {
	t.Helper()
	rep, _, err := fetchStatus(context.Background(), base)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func waitFor(t *testing.T, d time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
