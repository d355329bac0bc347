package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strings"
	"time"
)

// Report is the result of a run; it is written as JSON and Markdown.
type Report struct {
	Form            string    `json:"form"`
	Started         time.Time `json:"started"`
	Finished        time.Time `json:"finished"`
	GoVersion       string    `json:"go_version"`
	PostgresVersion string    `json:"postgres_version"`
	CPUs            int       `json:"cpus"`
	Sizes           Sizes     `json:"sizes"`
	// TableMemory and OperatorMemory are ripple's memory budgets in
	// bytes for this run (0: ripple's defaults).
	TableMemory    int64       `json:"table_memory,omitempty"`
	OperatorMemory int64       `json:"operator_memory,omitempty"`
	Scenarios      []*Scenario `json:"scenarios"`
}

// Scenario is one scenario's figures, oracle results and notes.
type Scenario struct {
	ID      string    `json:"id"`
	Title   string    `json:"title"`
	Seconds float64   `json:"seconds"`
	Figures []*Figure `json:"figures"`
	// Stages are per-stage timings and other explanations of the figures.
	Stages []string `json:"stages,omitempty"`
	// Plots are curves drawn as PNG files beside the report.
	Plots  []*Plot  `json:"plots,omitempty"`
	Oracle []string `json:"oracle"`
	Error  string   `json:"error,omitempty"`
}

// Figure is one measured figure next to its baseline.
type Figure struct {
	Name          string  `json:"name"`
	Value         float64 `json:"value"`
	Unit          string  `json:"unit"`
	Baseline      string  `json:"baseline"`
	BaselineValue float64 `json:"baseline_value"`
	// Ratio is as RatioOf says (e.g. "ripple/raw", "REFRESH/ripple"):
	// always oriented so that larger is better for ripple.
	Ratio   float64 `json:"ratio"`
	RatioOf string  `json:"ratio_of"`
	Target  string  `json:"target,omitempty"`
	// Met is nil when the figure has no target.
	Met  *bool  `json:"met,omitempty"`
	Note string `json:"note,omitempty"`
}

func (s *Scenario) add(f *Figure) *Figure {
	s.Figures = append(s.Figures, f)
	return f
}

func (s *Scenario) stage(format string, args ...any) {
	s.Stages = append(s.Stages, fmt.Sprintf(format, args...))
}

// target sets the figure's target as "ratio >= min".
func (f *Figure) atLeast(min float64) *Figure {
	f.Target = fmt.Sprintf("ratio ≥ %.3g", min)
	met := f.Ratio >= min
	f.Met = &met
	return f
}

func ratio(a, b float64) float64 {
	if b == 0 || math.IsNaN(a) || math.IsNaN(b) {
		return 0
	}
	return a / b
}

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

func num(v float64) string {
	a := math.Abs(v)
	switch {
	case v == 0:
		return "0"
	case a >= 100:
		return fmt.Sprintf("%.0f", v)
	case a >= 10:
		return fmt.Sprintf("%.1f", v)
	case a >= 0.1:
		return fmt.Sprintf("%.2f", v)
	default:
		return fmt.Sprintf("%.3g", v)
	}
}

func metText(m *bool) string {
	switch {
	case m == nil:
		return "–"
	case *m:
		return "yes"
	}
	return "**no**"
}

// Scorecard writes the table of every figure: value, baseline, ratio,
// target and whether it was met.
func (r *Report) Scorecard(w io.Writer) {
	fmt.Fprintln(w, "| scenario | figure | ripple | baseline | ratio | target | met |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|")
	for _, s := range r.Scenarios {
		for _, f := range s.Figures {
			fmt.Fprintf(w, "| %s | %s | %s %s | %s: %s %s | %s (%s) | %s | %s |\n", s.ID, f.Name,
				num(f.Value), f.Unit, f.Baseline, num(f.BaselineValue), f.Unit, num(f.Ratio), f.RatioOf,
				orDash(f.Target), metText(f.Met))
		}
		if s.Error != "" {
			fmt.Fprintf(w, "| %s | **failed** | %s | | | | |\n", s.ID, strings.ReplaceAll(s.Error, "|", "\\|"))
		}
	}
}

func orDash(s string) string {
	if s == "" {
		return "–"
	}
	return s
}

// WriteMarkdown writes the full report.
func (r *Report) WriteMarkdown(w io.Writer) {
	fmt.Fprintf(w, "# ripple benchmark report (%s form)\n\n", r.Form)
	fmt.Fprintf(w, "Run %s – %s (%.0f s) on %d CPUs, %s, PostgreSQL %s. Source, sink and ripple share the machine; "+
		"absolute figures drift with other load, ratios taken in the same run are what counts.\n\n",
		r.Started.Format(time.RFC3339), r.Finished.Format("15:04:05Z"), r.Finished.Sub(r.Started).Seconds(), r.CPUs, r.GoVersion, r.PostgresVersion)
	budget := func(n int64) string {
		if n == 0 {
			return "the default (1GB)"
		}
		return fmt.Sprintf("%d MB", n>>20)
	}
	fmt.Fprintf(w, "ripple ran with its durable state (`state_dir`), table_memory %s and operator_memory %s.\n\n",
		budget(r.TableMemory), budget(r.OperatorMemory))
	fmt.Fprintln(w, "## Scorecard")
	fmt.Fprintln(w)
	r.Scorecard(w)
	for _, s := range r.Scenarios {
		fmt.Fprintf(w, "\n## %s. %s (%.0f s)\n\n", s.ID, s.Title, s.Seconds)
		if s.Error != "" {
			fmt.Fprintf(w, "**Failed:** %s\n\n", s.Error)
		}
		for _, f := range s.Figures {
			fmt.Fprintf(w, "- **%s**: %s %s vs %s %s %s → %s = %s", f.Name, num(f.Value), f.Unit, f.Baseline,
				num(f.BaselineValue), f.Unit, f.RatioOf, num(f.Ratio))
			if f.Target != "" {
				fmt.Fprintf(w, "; target %s: %s", f.Target, metText(f.Met))
			}
			if f.Note != "" {
				fmt.Fprintf(w, ". %s", f.Note)
			}
			fmt.Fprintln(w)
		}
		for _, p := range s.Plots {
			fmt.Fprintf(w, "\n![%s](%s)\n", p.Title, p.File)
		}
		if len(s.Stages) > 0 {
			fmt.Fprintln(w, "\nWhere the time goes:")
			for _, st := range s.Stages {
				fmt.Fprintf(w, "- %s\n", st)
			}
		}
		fmt.Fprintln(w, "\nOracle (sink = view's SELECT on the source, multiset):")
		for _, o := range s.Oracle {
			fmt.Fprintf(w, "- %s\n", o)
		}
	}
}
