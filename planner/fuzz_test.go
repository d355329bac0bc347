package planner

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/rippledb/ripple/planner/expr"
)

const fuzzSchema = `
CREATE TABLE customers (id integer PRIMARY KEY, name text, region varchar(8));
CREATE TABLE orders (id bigint PRIMARY KEY, customer_id integer, amount numeric(12,2), qty integer,
                     status char(3), created timestamptz, note interval);
CREATE TABLE items (order_id bigint, line integer, sku text, price double precision, PRIMARY KEY (order_id, line));
`

// FuzzBuild feeds arbitrary SQL to ParseViews and Build: the answer is a
// plan or an error (an *expr.Error when the SQL is at fault), never a
// panic. Seeds: testdata/fuzz/FuzzBuild and the golden files.
func FuzzBuild(f *testing.F) {
	cat, err := StaticCatalog(fuzzSchema)
	if err != nil {
		f.Fatal(err)
	}
	for _, pattern := range []string{"*.sql", "errors/*.sql"} {
		files, _ := filepath.Glob(filepath.Join(goldenDir, pattern))
		for _, file := range files {
			sql, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			if _, views, err := splitSchema(string(sql)); err == nil {
				f.Add(views)
			}
		}
	}
	f.Fuzz(func(t *testing.T, sql string) {
		ctx := context.Background()
		defs, err := ParseViews("fuzz.sql", sql)
		if err != nil {
			var pe *expr.Error
			if !errors.As(err, &pe) {
				t.Fatalf("ParseViews error %v is not an *expr.Error", err)
			}
			return
		}
		p, err := Build(ctx, defs, cat)
		if err != nil {
			var pe *expr.Error
			if !errors.As(err, &pe) {
				t.Fatalf("Build error %v is not an *expr.Error", err)
			}
			return
		}
		_ = p.Explain()
		// The first step primes every operator (global aggregates emit
		// their row); it must not fail on empty input.
		if _, err := p.Graph.Step(nil); err != nil {
			t.Fatalf("step over empty input: %v", err)
		}
	})
}
