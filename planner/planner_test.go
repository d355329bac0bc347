package planner

import (
	"context"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	pg_query "github.com/pganalyze/pg_query_go/v5"

	"github.com/rippledb/ripple/planner/expr"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/plans")

// goldenDir is where the plan golden files live, relative to this package.
const goldenDir = "../testdata/plans"

// splitSchema returns the catalog of the CREATE TABLE statements in sql and
// sql with those statements blanked out (newlines kept, so positions in
// the views stay those of the file).
func splitSchema(sql string) (Catalog, string, error) {
	tree, err := pg_query.Parse(sql)
	if err != nil {
		return nil, sql, err
	}
	cat, err := StaticCatalog(sql)
	if err != nil {
		return nil, "", err
	}
	b := []byte(sql)
	for _, raw := range tree.GetStmts() {
		if raw.GetStmt().GetCreateStmt() == nil {
			continue
		}
		start, end := int(raw.GetStmtLocation()), len(sql)
		if raw.GetStmtLen() > 0 {
			end = start + int(raw.GetStmtLen())
		}
		if end < len(b) && b[end] == ';' {
			end++
		}
		for i := start; i < end; i++ {
			if b[i] != '\n' {
				b[i] = ' '
			}
		}
	}
	return cat, string(b), nil
}

// plan builds the views of a golden file.
func plan(file, sql string) (*Plan, error) {
	cat, views, err := splitSchema(sql)
	if err != nil {
		if views != "" {
			// A syntax error: let ParseViews report it with the file name.
			if _, perr := ParseViews(file, views); perr != nil {
				return nil, perr
			}
		}
		return nil, err
	}
	defs, err := ParseViews(file, views)
	if err != nil {
		return nil, err
	}
	return Build(context.Background(), defs, cat)
}

func golden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./planner -update)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs (run go test ./planner -update and review the diff)\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

func TestGoldenPlans(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(goldenDir, "*.sql"))
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
			p, err := plan("plans/"+filepath.Base(file), string(sql))
			if err != nil {
				t.Fatalf("plan: %v", err)
			}
			golden(t, strings.TrimSuffix(file, ".sql")+".plan", p.Explain())
		})
	}
}

func TestGoldenErrors(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(goldenDir, "errors", "*.sql"))
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
			_, err = plan("errors/"+filepath.Base(file), string(sql))
			if err == nil {
				t.Fatal("planned; want an error")
			}
			var pe *expr.Error
			if !errors.As(err, &pe) {
				t.Errorf("error %v (%T) is not an *expr.Error", err, err)
			} else if pe.Line == 0 {
				t.Errorf("error %v has no position", err)
			}
			golden(t, strings.TrimSuffix(file, ".sql")+".err", err.Error()+"\n")
		})
	}
}
