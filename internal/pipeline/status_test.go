package pipeline

import (
	"bytes"
	"errors"
	"log/slog"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/rippledb/ripple/cdc"
	"github.com/rippledb/ripple/internal/metrics"
	"github.com/rippledb/ripple/internal/row"
)

func TestRate(t *testing.T) {
	start := time.Unix(1000, 0)
	var r rate
	for i := 0; i < 10; i++ { // 10 events a second for 10 seconds
		r.add(start.Add(time.Duration(i)*time.Second), 10)
	}
	near := func(got, want float64) bool { return math.Abs(got-want) < 0.01 }
	if got := r.perSecond(start.Add(10*time.Second), start); !near(got, 10) {
		t.Errorf("after 10s: %v/s, want 10", got)
	}
	// Only a second in: no extrapolation from less than a second.
	var r2 rate
	r2.add(start.Add(100*time.Millisecond), 5)
	if got := r2.perSecond(start.Add(200*time.Millisecond), start); !near(got, 5) {
		t.Errorf("first second: %v/s, want 5", got)
	}
	// Long after the last event the rate falls to 0, and stale buckets
	// are reused.
	later := start.Add(time.Hour)
	if got := r.perSecond(later, start); got != 0 {
		t.Errorf("an hour later: %v/s, want 0", got)
	}
	r.add(later, 30)
	if got := r.perSecond(later.Add(500*time.Millisecond), start); !near(got, 30/29.5) { // the window began 29.5s ago
		t.Errorf("30 events in the window: %v/s, want 30/29.5", got)
	}
}

func TestStatusLifecycle(t *testing.T) {
	s := NewStatus()
	if ok, why := s.Ready(); ok || !strings.Contains(why, "starting") {
		t.Errorf("new: ready %v (%s)", ok, why)
	}
	s.begin("slot1")
	s.setViews(map[string][]string{"public.a": {"main"}, "public.b": {"main", "backup"}})
	s.snapshotStarted(100)
	s.snapshotRows(60, false)
	if r := s.Report(); r.Phase != PhaseSnapshot || r.Snapshot.Rows != 60 || r.Snapshot.EstimatedRows != 100 || r.Ready {
		t.Errorf("during snapshot: %+v", r)
	}
	s.snapshotRows(90, true)
	s.loaded(row.LSN(0x100), map[string]int64{"public.a": 5, "public.b": 7}, 1000, 12)
	if ok, _ := s.Ready(); !ok {
		t.Error("not ready after the load")
	}
	s.applied(StepInfo{LSN: row.LSN(0x200), CommitTime: time.Now(), Changes: 3, ViewRows: map[string]int{"public.a": 2}},
		map[string]int64{"public.a": 6, "public.b": 7}, 1100, 13)
	r := s.Report()
	if !r.Ready || r.Pipeline != "slot1" || r.Slot.Name != "slot1" || r.LastLSN != "0/200" || r.Transactions != 1 || r.Changes != 3 ||
		r.StateBytes != 1100 || r.StateRows != 13 || !r.Snapshot.Done || r.Snapshot.Rows != 90 {
		t.Errorf("after a step: %+v", r)
	}
	if len(r.Views) != 2 || r.Views[0].Name != "public.a" || r.Views[1].Name != "public.b" {
		t.Fatalf("views: %+v", r.Views)
	}
	if a := r.Views[0]; a.Rows != 6 || a.LastLSN != "0/200" || a.LastChangeLSN != "0/200" || a.Transactions != 1 || a.RowChanges != 2 || a.ChangesPerSec <= 0 {
		t.Errorf("view a: %+v", a)
	}
	if b := r.Views[1]; b.Rows != 7 || b.LastLSN != "0/200" || b.LastChangeLSN != "" || b.Transactions != 0 || len(b.Sinks) != 2 {
		t.Errorf("view b: %+v", b)
	}
	s.lagError(errors.New("boom"))
	s.lag(cdc.SlotHealth{LagBytes: 10, RetainedBytes: 20, WALStatus: "reserved", MaxRetained: 15}, 1.5, time.Now())
	if r := s.Report(); r.Errors != 1 || r.LastError != "slot lag: boom" || r.LastErrorIsTerminal || r.Slot.Error != "" || r.Slot.LagBytes != 10 || !r.Ready ||
		r.Slot.MaxRetainedBytes != 15 || !r.Slot.RetainedOverLimit || r.Slot.WALStatus != "reserved" {
		t.Errorf("after a lag error and a good poll over the retained limit: %+v", r)
	}
	s.lag(cdc.SlotHealth{LagBytes: 10, RetainedBytes: 20, WALStatus: "reserved", MaxRetained: -1}, 1.5, time.Now())
	if r := s.Report(); r.Slot.MaxRetainedBytes != 0 || r.Slot.RetainedOverLimit {
		t.Errorf("without a retained limit: %+v", r.Slot)
	}
	s.end(errors.New("sink gone"))
	if ok, why := s.Ready(); ok || why != "failed: sink gone" {
		t.Errorf("failed: ready %v (%s)", ok, why)
	}
	if r := s.Report(); r.Phase != PhaseFailed || r.Errors != 2 || !r.LastErrorIsTerminal {
		t.Errorf("failed: %+v", r)
	}
	s2 := NewStatus()
	s2.end(nil)
	if ok, why := s2.Ready(); ok || why != "stopped" {
		t.Errorf("stopped: ready %v (%s)", ok, why)
	}
}

func TestSnapshotProgress(t *testing.T) {
	t.Run("log lines without a terminal", func(t *testing.T) {
		var logs bytes.Buffer
		cfg := Config{Logger: slog.New(slog.NewTextHandler(&logs, nil)), ProgressInterval: time.Nanosecond, Metrics: metrics.New()}
		cfg.setDefaults()
		p := newSnapshotProgress(&cfg, 10*progressCheck)
		for i := 0; i < 4*progressCheck; i++ {
			p.add()
		}
		p.read()
		if !strings.Contains(logs.String(), `msg="snapshot progress" rows=256 rows_per_sec=`) ||
			!strings.Contains(logs.String(), "estimated_rows=2560") || !strings.Contains(logs.String(), "eta=") {
			t.Errorf("logs:\n%s", logs.String())
		}
		if r := cfg.Status.Report(); r.Snapshot.Rows != 4*progressCheck || r.Snapshot.EstimatedRows != 10*progressCheck || r.Phase != PhaseLoading {
			t.Errorf("status: %+v", r.Snapshot)
		}
	})
	t.Run("bar on a terminal", func(t *testing.T) {
		var bar, logs bytes.Buffer
		cfg := Config{Logger: slog.New(slog.NewTextHandler(&logs, nil)), ProgressBar: &bar, ProgressInterval: time.Nanosecond}
		cfg.setDefaults()
		p := newSnapshotProgress(&cfg, progressCheck) // fewer than read: the bar grows
		for i := 0; i < 3*progressCheck; i++ {
			p.add()
			if i == progressCheck {
				time.Sleep(250 * time.Millisecond) // let the next check update
			}
		}
		p.read()
		out := bar.String()
		if !strings.Contains(out, "snapshot") || !strings.Contains(out, "768/768") || !strings.Contains(out, "rows/s") || !strings.HasSuffix(out, "\n") {
			t.Errorf("bar output: %q", out)
		}
		if strings.Contains(logs.String(), "snapshot progress") {
			t.Errorf("logged progress although a bar is shown:\n%s", logs.String())
		}
	})
	t.Run("unknown estimate and empty tables", func(t *testing.T) {
		var bar bytes.Buffer
		cfg := Config{ProgressBar: &bar}
		cfg.setDefaults()
		p := newSnapshotProgress(&cfg, 0)
		p.read() // must not panic
	})
}

func TestLagSeconds(t *testing.T) {
	now := time.Unix(10000, 0)
	ago := func(s int) time.Time { return now.Add(-time.Duration(s) * time.Second) }
	for _, tc := range []struct {
		name               string
		lagBytes           int64
		lastCommit, caught time.Time
		want               float64
	}{
		{"caught up", 0, ago(3600), ago(1), 0},
		{"behind since the last applied commit", 100, ago(7), ago(60), 7},
		{"idle source, then a new transaction", 100, ago(3600), ago(2), 2},
		{"never caught up", 100, ago(5), time.Time{}, 5},
		{"source clock ahead", 100, now.Add(time.Second), time.Time{}, 0},
	} {
		if got := lagSeconds(now, tc.lagBytes, tc.lastCommit, tc.caught); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}
