package main

import (
	"bytes"
	"testing"
)

func TestExplainCommand(t *testing.T) {
	dir := t.TempDir()
	schema := writeFile(t, dir, "schema.sql", `CREATE TABLE orders (id int PRIMARY KEY, customer_id int, product text, qty int);
CREATE TABLE customers (id int PRIMARY KEY, region text);`)
	views := writeFile(t, dir, "views.sql", `CREATE VIEW stats AS SELECT customer_id, min(qty) AS lo, count(*) FROM orders GROUP BY customer_id;
CREATE VIEW pairs AS SELECT a.id, b.id AS other FROM orders a JOIN orders b ON a.product = b.product;`)
	var out bytes.Buffer
	cmd := newExplainCmd()
	cmd.SetOut(&out)
	cmd.SetArgs([]string{"--schema", schema, views})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	wantLines(t, out.String(),
		"view public.stats", "#2 Reduce group by customer_id", // the plan
		"cost of view public.stats", "grows with: the number of groups",
		"warning: #2 Reduce: min/max aggregates (min(qty))",
		"is a self-join of public.orders")
}
