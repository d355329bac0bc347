package planner

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/rippledb/ripple/dataflow"
	"github.com/rippledb/ripple/internal/row"
)

// collector accumulates a graph's output changes per view.
type collector map[string]map[string]*accRow

type accRow struct {
	row row.Row
	w   row.Weight
}

func (c collector) apply(t *testing.T, out map[string]dataflow.Batch) {
	t.Helper()
	for view, b := range out {
		if c[view] == nil {
			c[view] = map[string]*accRow{}
		}
		for _, u := range b {
			k := u.Row.EncodeExact() // 8 and 8.00 are different rows of a view
			a := c[view][k]
			if a == nil {
				a = &accRow{row: u.Row}
				c[view][k] = a
			}
			a.w += u.W
			if a.w < 0 {
				t.Fatalf("view %s: negative multiplicity for %v", view, u.Row)
			}
			if a.w == 0 {
				delete(c[view], k)
			}
		}
	}
}

// rows renders a view's accumulated rows as "a|b|c" lines, sorted, with
// duplicates repeated.
func (c collector) rows(view string) []string {
	var out []string
	for _, a := range c[view] {
		parts := make([]string, len(a.row))
		for i, d := range a.row {
			parts[i] = d.String()
		}
		for range a.w {
			out = append(out, strings.Join(parts, "|"))
		}
	}
	slices.Sort(out)
	return out
}

func ins(rows ...row.Row) dataflow.Batch { return batch(1, rows) }
func del(rows ...row.Row) dataflow.Batch { return batch(-1, rows) }

func batch(w row.Weight, rows []row.Row) dataflow.Batch {
	b := make(dataflow.Batch, len(rows))
	for i, r := range rows {
		b[i] = row.Update{Row: r, W: w}
	}
	return b
}

func cat(bs ...dataflow.Batch) dataflow.Batch {
	var out dataflow.Batch
	for _, b := range bs {
		out = append(out, b...)
	}
	return out
}

func TestStepViews(t *testing.T) {
	const sql = `
CREATE TABLE customers (id integer PRIMARY KEY, name text, region varchar(8));
CREATE TABLE orders (id bigint PRIMARY KEY, customer_id integer, amount numeric(12,2), qty integer);

CREATE VIEW per_customer AS
SELECT c.name, count(*) AS n, sum(o.amount) AS total, max(o.qty)
FROM customers c JOIN orders o ON o.customer_id = c.id
GROUP BY c.name;

CREATE VIEW totals AS SELECT count(*), sum(amount), avg(qty) FROM orders;

CREATE VIEW big_orders AS
SELECT o.id, c.name, o.amount * o.qty AS value
FROM orders o, customers c
WHERE o.customer_id = c.id AND o.amount * o.qty > 10;

CREATE VIEW regions AS SELECT DISTINCT region FROM customers;

CREATE VIEW everyone AS
SELECT name, 'customer' AS kind FROM customers
UNION ALL
SELECT 'order ' || id, 'order' FROM orders WHERE customer_id IS NULL;
`
	c, views, err := splitSchema(sql)
	if err != nil {
		t.Fatal(err)
	}
	defs, err := ParseViews("step.sql", views)
	if err != nil {
		t.Fatal(err)
	}
	p, err := Build(context.Background(), defs, c)
	if err != nil {
		t.Fatal(err)
	}
	customers := row.TableName{Schema: "public", Name: "customers"}
	orders := row.TableName{Schema: "public", Name: "orders"}
	cust := func(id int64, name, region string) row.Row {
		return row.Row{row.NewInt(id), row.NewText(name), row.NewText(region)}
	}
	order := func(id, customer int64, amount string, qty int64) row.Row {
		cid := row.NewInt(customer)
		if customer == 0 {
			cid = row.Null
		}
		return row.Row{row.NewInt(id), cid, row.NewNumeric(amount), row.NewInt(qty)}
	}

	steps := []struct {
		name  string
		input map[row.TableName]dataflow.Batch
		want  map[string][]string
	}{
		{
			name:  "empty",
			input: nil,
			want: map[string][]string{
				"public.totals": {"0|NULL|NULL"},
			},
		},
		{
			name: "inserts",
			input: map[row.TableName]dataflow.Batch{
				customers: ins(cust(1, "ann", "eu"), cust(2, "bob", "us"), cust(4, "dan", "eu")),
				orders: ins(order(10, 1, "5.00", 1), order(11, 1, "7.50", 2), order(12, 2, "1.00", 3),
					order(13, 3, "9.99", 4), order(14, 0, "2.00", 1)),
			},
			want: map[string][]string{
				"public.per_customer": {"ann|2|12.50|2", "bob|1|1.00|3"},
				"public.totals":       {"5|25.49|2.2000000000000000"},
				"public.big_orders":   {"11|ann|15.00"},
				"public.regions":      {"eu", "us"},
				"public.everyone":     {"ann|customer", "bob|customer", "dan|customer", "order 14|order"},
			},
		},
		{
			name: "deletes and updates",
			input: map[row.TableName]dataflow.Batch{
				// bob is renamed bea and moves region; cy arrives (order 13
				// finds its customer); order 11 is deleted; order 12 grows.
				customers: cat(del(cust(2, "bob", "us")), ins(cust(2, "bea", "eu"), cust(3, "cy", "us"))),
				orders:    cat(del(order(11, 1, "7.50", 2), order(12, 2, "1.00", 3)), ins(order(12, 2, "4.00", 3))),
			},
			want: map[string][]string{
				"public.per_customer": {"ann|1|5.00|1", "bea|1|4.00|3", "cy|1|9.99|4"},
				"public.totals":       {"4|20.99|2.2500000000000000"},
				"public.big_orders":   {"12|bea|12.00", "13|cy|39.96"},
				"public.regions":      {"eu", "us"},
				"public.everyone":     {"ann|customer", "bea|customer", "cy|customer", "dan|customer", "order 14|order"},
			},
		},
		{
			name: "delete everything",
			input: map[row.TableName]dataflow.Batch{
				customers: del(cust(1, "ann", "eu"), cust(2, "bea", "eu"), cust(3, "cy", "us"), cust(4, "dan", "eu")),
				orders:    del(order(10, 1, "5.00", 1), order(12, 2, "4.00", 3), order(13, 3, "9.99", 4), order(14, 0, "2.00", 1)),
			},
			want: map[string][]string{
				"public.totals": {"0|NULL|NULL"},
			},
		},
	}
	acc := collector{}
	for _, s := range steps {
		out, err := p.Graph.Step(s.input)
		if err != nil {
			t.Fatalf("%s: step: %v", s.name, err)
		}
		acc.apply(t, out)
		for _, v := range p.Views {
			name := v.Def.Name.String()
			got, want := acc.rows(name), s.want[name]
			if !slices.Equal(got, want) {
				t.Errorf("%s: view %s = %q, want %q", s.name, name, got, want)
			}
		}
	}
}

// TestStepLateErrors: runtime errors of set-returning functions (a zero
// step) and of a correlated aggregate's value over no rows (1 / count(*)
// for a customer without orders, as PostgreSQL raises it when it runs the
// subquery for that customer) fail their view only.
func TestStepLateErrors(t *testing.T) {
	const sql = `
CREATE TABLE customers (id integer PRIMARY KEY, name text);
CREATE TABLE orders (id bigint PRIMARY KEY, customer_id integer, qty integer);

CREATE VIEW series AS SELECT o.id, g FROM orders o, generate_series(1, 3, o.qty) g;
CREATE VIEW inverse AS SELECT c.id, (SELECT 1 / count(*) FROM orders o WHERE o.customer_id = c.id) AS inv FROM customers c;
CREATE VIEW plain AS SELECT id, qty FROM orders;
`
	c, views, err := splitSchema(sql)
	if err != nil {
		t.Fatal(err)
	}
	defs, err := ParseViews("step.sql", views)
	if err != nil {
		t.Fatal(err)
	}
	p, err := Build(context.Background(), defs, c)
	if err != nil {
		t.Fatal(err)
	}
	customers := row.TableName{Schema: "public", Name: "customers"}
	orders := row.TableName{Schema: "public", Name: "orders"}
	order := func(id, cust, qty int64) row.Row { return row.Row{row.NewInt(id), row.NewInt(cust), row.NewInt(qty)} }
	acc := collector{}
	out, err := p.Graph.Step(map[row.TableName]dataflow.Batch{
		customers: ins(row.Row{row.NewInt(1), row.NewText("ann")}),
		orders:    ins(order(10, 1, 2), order(11, 1, -1)),
	})
	if err != nil {
		t.Fatal(err)
	}
	acc.apply(t, out)
	if got := acc.rows("public.series"); !slices.Equal(got, []string{"10|1", "10|3"}) {
		t.Errorf("series = %q", got)
	}
	if got := acc.rows("public.inverse"); !slices.Equal(got, []string{"1|0"}) {
		t.Errorf("inverse = %q", got)
	}
	out, err = p.Graph.Step(map[row.TableName]dataflow.Batch{
		customers: ins(row.Row{row.NewInt(2), row.NewText("bob")}),
		orders:    ins(order(12, 1, 0)),
	})
	var se *dataflow.StepError
	if !errors.As(err, &se) || len(se.Views) != 2 {
		t.Fatalf("want a StepError for two views, got %v", err)
	}
	for _, ve := range se.Views {
		switch ve.View {
		case "public.series":
			if !strings.Contains(ve.Err.Error(), "step size cannot equal zero") {
				t.Errorf("series: %v", ve.Err)
			}
		case "public.inverse":
			if !strings.Contains(ve.Err.Error(), "division by zero") {
				t.Errorf("inverse: %v", ve.Err)
			}
		default:
			t.Errorf("unexpected failed view %s: %v", ve.View, ve.Err)
		}
	}
	acc.apply(t, out)
	if got := acc.rows("public.plain"); !slices.Equal(got, []string{"10|2", "11|-1", "12|0"}) {
		t.Errorf("plain = %q", got)
	}
}
