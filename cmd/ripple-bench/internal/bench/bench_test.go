package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestSmoke runs every scenario in its tiny form: it asserts no times, only
// that each scenario runs, produces its figures, and that the oracle holds
// at the end of every scenario.
func TestSmoke(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	env, err := Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(env.Close)
	var progress bytes.Buffer
	rep, err := Run(ctx, env, Config{Form: Tiny, Progress: &progress})
	if err != nil {
		t.Fatalf("%v\n%s", err, progress.String())
	}
	if len(rep.Scenarios) != len(scenarios) {
		t.Fatalf("%d scenarios ran, want %d", len(rep.Scenarios), len(scenarios))
	}
	for _, s := range rep.Scenarios {
		if len(s.Figures) == 0 {
			t.Errorf("scenario %s reported no figures", s.ID)
		}
		if len(s.Oracle) == 0 {
			t.Errorf("scenario %s checked nothing with the oracle", s.ID)
		}
		for _, o := range s.Oracle {
			if !strings.HasSuffix(o, ": equal") {
				t.Errorf("scenario %s: %s", s.ID, o)
			}
		}
		for _, f := range s.Figures {
			if f.Value <= 0 || f.BaselineValue <= 0 {
				t.Errorf("scenario %s: figure %q has value %v and baseline %v", s.ID, f.Name, f.Value, f.BaselineValue)
			}
		}
		if s.ID == "f" {
			// Each refresh's time is split by stage, from the pipeline's
			// own StepInfo: the engine's and the sink's times lie between
			// the commit's receipt and the report, so the rest is not
			// negative.
			split := 0
			for _, st := range s.Stages {
				if strings.Contains(st, "the engine took ") {
					split++
					if _, rest, _ := strings.Cut(st, "the rest (queue, checkpoint) "); strings.HasPrefix(rest, "-") {
						t.Errorf("scenario f: the stages add up to more than the whole: %q", st)
					}
				}
			}
			if split < 4 {
				t.Errorf("scenario f: %d refreshes split by stage, want the warm-up and the measured pair:\n%s", split, strings.Join(s.Stages, "\n"))
			}
		}
	}
	var md, js bytes.Buffer
	rep.WriteMarkdown(&md)
	if !strings.Contains(md.String(), "| scenario | figure |") {
		t.Errorf("markdown report has no scorecard:\n%s", md.String())
	}
	if err := rep.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(js.Bytes(), &back); err != nil {
		t.Fatalf("JSON report does not read back: %v", err)
	}
	// The curves: each scenario's plots are written as PNG files the
	// Markdown report shows, with a point per measurement drawn.
	dir := t.TempDir()
	if err := rep.WritePlots(dir); err != nil {
		t.Fatal(err)
	}
	files := map[string]bool{}
	for _, s := range rep.Scenarios {
		for _, p := range s.Plots {
			files[p.File] = true
			if !strings.Contains(md.String(), "]("+p.File+")") {
				t.Errorf("the Markdown report does not show %s", p.File)
			}
			points := 0
			for _, l := range p.Lines {
				points += len(l.XY)
			}
			if points == 0 {
				t.Errorf("plot %s has no points", p.File)
			}
			f, err := os.Open(filepath.Join(dir, p.File))
			if err != nil {
				t.Fatal(err)
			}
			img, err := png.Decode(f)
			f.Close()
			if err != nil {
				t.Fatalf("%s: %v", p.File, err)
			}
			if b := img.Bounds(); b.Dx() < 300 || b.Dy() < 200 {
				t.Errorf("%s is %dx%d pixels", p.File, b.Dx(), b.Dy())
			}
		}
	}
	for _, want := range []string{"b-latency.png", "c-cost.png"} {
		if !files[want] {
			t.Errorf("no plot %s (plots: %v)", want, files)
		}
	}
	t.Logf("\n%s", md.String())
}
