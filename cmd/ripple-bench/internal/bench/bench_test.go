package bench

import (
	"bytes"
	"context"
	"encoding/json"
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
	t.Logf("\n%s", md.String())
}
