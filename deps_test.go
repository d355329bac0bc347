package ripple_test

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/rippledb/ripple"

// rules are the import rules of ARCHITECTURE.md: for each package (prefix),
// what it must not depend on, directly or transitively.
var rules = []struct {
	pkg       string
	forbidden []string
	stdOnly   bool // only the standard library and the listed allowed module packages
	allowed   []string
}{
	{pkg: module + "/internal/row", stdOnly: true},
	{pkg: module + "/internal/bytemap", stdOnly: true},
	// dataflow is a pure library: the leaf types and pure data-structure
	// libraries (no I/O, nothing of the other stages).
	{pkg: module + "/dataflow", stdOnly: true, allowed: []string{module + "/internal/row", module + "/internal/bytemap", "github.com/google/btree"}},
	{pkg: module + "/planner", forbidden: []string{module + "/cdc", module + "/sink", module + "/internal/pipeline", "github.com/spf13/viper", "github.com/jackc/pgx", "github.com/jackc/pglogrepl"}},
	{pkg: module + "/cdc", forbidden: []string{module + "/dataflow", module + "/planner", module + "/sink", "github.com/pganalyze/pg_query_go", "github.com/spf13/viper"}},
	{pkg: module + "/sink", forbidden: []string{module + "/cdc", module + "/planner", module + "/dataflow", "github.com/pganalyze/pg_query_go", "github.com/spf13/viper", "github.com/jackc/pglogrepl"}},
	{pkg: module + "/internal/pipeline", forbidden: []string{"github.com/spf13/viper"}},
}

type listed struct {
	ImportPath string
	Imports    []string
	Deps       []string
	Standard   bool
}

// TestImportRules fails when a package imports what ARCHITECTURE.md says it
// must not, so the layering holds without anyone remembering it.
func TestImportRules(t *testing.T) {
	out, err := exec.Command("go", "list", "-json", "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	var pkgs []listed
	for dec.More() {
		var p listed
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	if len(pkgs) < 6 {
		t.Fatalf("go list found only %d packages", len(pkgs))
	}
	isStd := func(path string) bool { return !strings.Contains(strings.SplitN(path, "/", 2)[0], ".") }
	checked := 0
	for _, p := range pkgs {
		for _, r := range rules {
			if p.ImportPath != r.pkg && !strings.HasPrefix(p.ImportPath, r.pkg+"/") {
				continue
			}
			checked++
			for _, d := range p.Deps {
				for _, f := range r.forbidden {
					if d == f || strings.HasPrefix(d, f+"/") {
						t.Errorf("%s depends on %s, which ARCHITECTURE.md forbids", p.ImportPath, d)
					}
				}
				if r.stdOnly && !isStd(d) {
					ok := false
					for _, a := range r.allowed {
						if d == a {
							ok = true
						}
					}
					if !ok {
						t.Errorf("%s depends on %s; it may import only the standard library%s", p.ImportPath, d, strings.Join(append([]string{""}, r.allowed...), " and "))
					}
				}
			}
		}
		// pg_query_go (cgo) stays inside the planner and what wires it up.
		if !strings.HasPrefix(p.ImportPath, module+"/planner") && !strings.HasPrefix(p.ImportPath, module+"/cmd/") &&
			p.ImportPath != module+"/internal/pipeline" && !strings.HasPrefix(p.ImportPath, "github.com/pganalyze") {
			for _, d := range p.Deps {
				if strings.HasPrefix(d, "github.com/pganalyze/pg_query_go") {
					t.Errorf("%s depends on pg_query_go; only the planner may", p.ImportPath)
				}
			}
		}
		// viper only in cmd/.
		if !strings.HasPrefix(p.ImportPath, module+"/cmd/") {
			for _, d := range p.Imports {
				if strings.HasPrefix(d, "github.com/spf13/viper") {
					t.Errorf("%s imports viper; configuration is loaded only in cmd/", p.ImportPath)
				}
			}
		}
	}
	if checked < len(rules) {
		t.Fatalf("only %d packages matched the %d rules; is a package missing?", checked, len(rules))
	}
}
