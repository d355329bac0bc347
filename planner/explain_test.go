package planner

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// explainDir holds the cost-analysis golden files: NAME.sql (tables and
// views) and NAME.explain (Plan.ExplainCost's output).
const explainDir = "../testdata/explain"

func TestGoldenExplainCost(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(explainDir, "*.sql"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden files: %v", err)
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".sql")
		t.Run(name, func(t *testing.T) {
			sql, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			p, err := plan("explain/"+filepath.Base(file), string(sql))
			if err != nil {
				t.Fatalf("plan: %v", err)
			}
			golden(t, strings.TrimSuffix(file, ".sql")+".explain", p.ExplainCost())
		})
	}
}

func TestSummary(t *testing.T) {
	p, err := plan("s.sql", `CREATE TABLE t (id int PRIMARY KEY, g int, v int);
CREATE VIEW s AS SELECT g, sum(v) FROM t GROUP BY g;
CREATE VIEW ident AS SELECT * FROM t;`)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range p.Views {
		t.Log(p.Summary(v.Def.Name))
	}
	if got := p.Summary(p.Views[0].Def.Name); !strings.Contains(got, "Reduce") || !strings.Contains(got, "reads public.t") || !strings.Contains(got, "key (g)") {
		t.Errorf("summary = %q", got)
	}
	if got := p.Summary(p.Views[1].Def.Name); !strings.HasPrefix(got, "reads public.t") {
		t.Errorf("summary = %q", got)
	}
}
