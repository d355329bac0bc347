package metrics

import (
	"encoding/json"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestRegistration(t *testing.T) {
	m := New()
	m.Init([]string{"public.a", "public.b"}, []string{"main", "backup"})
	// Every ripple metric is registered and lints clean.
	problems, err := testutil.GatherAndLint(m.Registry)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		if strings.HasPrefix(p.Metric, Namespace+"_") {
			t.Errorf("lint %s: %s", p.Metric, p.Text)
		}
	}
	mfs, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]int{}
	for _, mf := range mfs {
		if strings.HasPrefix(mf.GetName(), Namespace+"_") {
			names[mf.GetName()] = len(mf.GetMetric())
		}
	}
	want := map[string]int{
		"ripple_view_transactions_total": 2, "ripple_view_row_changes_total": 2, "ripple_view_rows": 2,
		"ripple_source_transactions_total": 1, "ripple_source_row_changes_total": 1, "ripple_applied_lsn": 1,
		"ripple_slot_lag_bytes": 1, "ripple_slot_lag_seconds": 1, "ripple_slot_retained_wal_bytes": 1,
		"ripple_slot_max_retained_wal_bytes": 1, "ripple_slot_retained_wal_over_limit": 1,
		"ripple_sink_commit_seconds": 2, "ripple_state_bytes": 1, "ripple_state_rows": 1,
		"ripple_snapshot_rows": 1, "ripple_snapshot_estimated_rows": 1, "ripple_snapshot_done": 1,
		"ripple_ready": 1, "ripple_errors_total": 2,
	}
	for name, n := range want {
		if names[name] != n {
			t.Errorf("%s: %d series, want %d", name, names[name], n)
		}
	}
	for name := range names {
		if _, ok := want[name]; !ok {
			t.Errorf("unexpected metric %s (add it to this test)", name)
		}
	}
	// The Go runtime and process collectors are there too.
	if n, err := testutil.GatherAndCount(m.Registry, "go_goroutines"); err != nil || n != 1 {
		t.Errorf("go_goroutines: %d, %v", n, err)
	}
}

func TestValues(t *testing.T) {
	m := New()
	m.Init([]string{"public.a"}, []string{"main"})
	m.ViewStep("public.a", 3, 10)
	m.ViewStep("public.a", 2, 9)
	m.SourceStep(7, 0x1_0000_0010)
	m.SinkCommit("main", 3*time.Millisecond)
	m.SinkCommit("main", 2*time.Second)
	m.Lag(100, 4096, 1.5)
	m.SlotRetained(1<<30, true)
	m.Error(StageLag)
	m.Ready(true)
	m.Snapshot(50, 60, true)

	check := func(name string, got, want float64) {
		t.Helper()
		if got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	check("view_transactions_total", testutil.ToFloat64(m.viewTxns.WithLabelValues("public.a")), 2)
	check("view_row_changes_total", testutil.ToFloat64(m.viewRowChanges.WithLabelValues("public.a")), 5)
	check("view_rows", testutil.ToFloat64(m.viewRows.WithLabelValues("public.a")), 9)
	check("source_row_changes_total", testutil.ToFloat64(m.sourceChanges), 7)
	check("applied_lsn", testutil.ToFloat64(m.appliedLSN), 0x1_0000_0010)
	check("slot_lag_seconds", testutil.ToFloat64(m.lagSeconds), 1.5)
	check("slot_retained_wal_bytes", testutil.ToFloat64(m.retainedBytes), 4096)
	check("slot_max_retained_wal_bytes", testutil.ToFloat64(m.retainedMax), 1<<30)
	check("slot_retained_wal_over_limit", testutil.ToFloat64(m.retainedOver), 1)
	m.SlotRetained(-1, false)
	check("slot_max_retained_wal_bytes without a limit", testutil.ToFloat64(m.retainedMax), 0)
	check("slot_retained_wal_over_limit under the limit", testutil.ToFloat64(m.retainedOver), 0)
	check("errors_total{lag}", testutil.ToFloat64(m.errors.WithLabelValues(StageLag)), 1)
	check("errors_total{pipeline}", testutil.ToFloat64(m.errors.WithLabelValues(StagePipeline)), 0)
	check("ready", testutil.ToFloat64(m.ready), 1)
	check("snapshot_done", testutil.ToFloat64(m.snapshotDone), 1)

	want := `
# HELP ripple_sink_commit_seconds Time to apply one step (or the initial load) to a sink, commit included.
# TYPE ripple_sink_commit_seconds histogram
`
	if err := testutil.GatherAndCompare(m.Registry, strings.NewReader(want+histogramText()), "ripple_sink_commit_seconds"); err != nil {
		t.Error(err)
	}
}

// histogramText is the expected exposition of two commits (3ms and 2s) on
// sink main with the buckets New uses.
func histogramText() string {
	var b strings.Builder
	bound := 0.0005
	for i := 0; i < 16; i++ {
		n := 0
		if bound >= 0.003 {
			n++
		}
		if bound >= 2 {
			n++
		}
		b.WriteString(`ripple_sink_commit_seconds_bucket{sink="main",le="` + strconv.FormatFloat(bound, 'f', -1, 64) + `"} ` + strconv.Itoa(n) + "\n")
		bound *= 2
	}
	b.WriteString(`ripple_sink_commit_seconds_bucket{sink="main",le="+Inf"} 2` + "\n")
	b.WriteString(`ripple_sink_commit_seconds_sum{sink="main"} 2.003` + "\n")
	b.WriteString(`ripple_sink_commit_seconds_count{sink="main"} 2` + "\n")
	return b.String()
}

// TestDashboardUsesRegisteredMetrics keeps docs/grafana-dashboard.json in
// step with the metrics: every ripple_ name it queries must exist.
func TestDashboardUsesRegisteredMetrics(t *testing.T) {
	text, err := os.ReadFile("../../docs/grafana-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(text, &dash); err != nil {
		t.Fatalf("dashboard is not JSON: %v", err)
	}
	m := New()
	m.Init([]string{"v"}, []string{"s"})
	mfs, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	known := map[string]bool{}
	for _, mf := range mfs {
		known[mf.GetName()] = true
	}
	used := 0
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			for _, name := range regexp.MustCompile(`ripple_[a-z_]+`).FindAllString(tg.Expr, -1) {
				used++
				base := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(name, "_bucket"), "_count"), "_sum")
				if !known[base] {
					t.Errorf("panel %q queries %s, which ripple does not export", p.Title, name)
				}
			}
		}
	}
	if used < 10 {
		t.Errorf("dashboard queries only %d ripple metrics", used)
	}
}
