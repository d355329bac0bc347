package planner

import (
	"strings"
	"testing"
)

// TestSubqueryResolution checks name resolution and refusals around
// subqueries, WITH queries and views over views: the columns a view gets,
// or the error it is refused with.
func TestSubqueryResolution(t *testing.T) {
	const schema = `
CREATE TABLE a (id integer PRIMARY KEY, v integer, label text);
CREATE TABLE b (id bigint PRIMARY KEY, w numeric(10,2), k integer);
`
	cases := []struct {
		name, views string
		want        string // "name type, ..." of the last view, or "error: <substring>"
	}{
		{"cte shadows table", `CREATE VIEW x AS WITH a AS (SELECT k AS z FROM b) SELECT * FROM a;`, "z integer"},
		{"cte body sees the table of its own name", `CREATE VIEW x AS WITH a AS (SELECT label FROM a) SELECT * FROM a;`, "label text"},
		{"cte sees earlier sibling", `CREATE VIEW x AS WITH p AS (SELECT v FROM a), q AS (SELECT v + 1 AS w FROM p) SELECT w FROM q;`, "w integer"},
		{"cte not visible to earlier sibling", `CREATE VIEW x AS WITH p AS (SELECT * FROM q), q AS (SELECT v FROM a) SELECT * FROM p;`, "error: relation"},
		{"cte too many column names", `CREATE VIEW x AS WITH p (c1, c2) AS (SELECT v FROM a) SELECT * FROM p;`, `error: WITH query "p" has 1 columns available but 2 columns specified`},
		{"duplicate cte", `CREATE VIEW x AS WITH p AS (SELECT v FROM a), p AS (SELECT v FROM a) SELECT * FROM p;`, "error: specified more than once"},
		{"subquery needs alias", `CREATE VIEW x AS SELECT * FROM (SELECT v FROM a);`, "error: subquery in FROM must have an alias"},
		{"subquery unknown literal is text", `CREATE VIEW x AS SELECT s.c FROM (SELECT 'lit' AS c FROM a) s;`, "c text"},
		{"subquery column list", `CREATE VIEW x AS SELECT * FROM (SELECT id, v FROM a) s (p);`, "p integer, v integer"},
		{"subquery too many column names", `CREATE VIEW x AS SELECT * FROM (SELECT id FROM a) s (p, q);`, "error: has 1 columns available but 2 columns specified"},
		{"scalar name", `CREATE VIEW x AS SELECT id, (SELECT max(w) FROM b), (SELECT count(*) AS n FROM b) FROM a;`, "id integer, max numeric, n bigint"},
		{"scalar not visible to star", `CREATE VIEW x AS SELECT *, (SELECT max(w) FROM b) FROM a;`, "id integer, v integer, label text, max numeric"},
		{"scalar several rows", `CREATE VIEW x AS SELECT (SELECT k FROM b) FROM a;`, "error: more than one row returned by a subquery"},
		{"scalar group by", `CREATE VIEW x AS SELECT (SELECT max(k) FROM b GROUP BY id) FROM a;`, "error: more than one row returned by a subquery"},
		{"in too many columns", `CREATE VIEW x AS SELECT id FROM a WHERE v IN (SELECT k, id FROM b);`, "error: subquery has too many columns"},
		{"in too few columns", `CREATE VIEW x AS SELECT id FROM a WHERE (v, id) IN (SELECT k FROM b);`, "error: subquery has too few columns"},
		{"exists in select list", `CREATE VIEW x AS SELECT EXISTS (SELECT 1 FROM b) FROM a;`, "error: subqueries are supported only as top-level WHERE conditions"},
		{"in under OR", `CREATE VIEW x AS SELECT id FROM a WHERE v > 1 OR v IN (SELECT k FROM b);`, "error: subqueries are supported only as top-level WHERE conditions"},
		{"in in ON", `CREATE VIEW x AS SELECT a.id FROM a JOIN b ON b.k = a.v AND a.v IN (SELECT k FROM b);`, "error: subqueries are not supported"},
		{"any other operator", `CREATE VIEW x AS SELECT id FROM a WHERE v < ANY (SELECT k FROM b);`, "error: subqueries are supported only as top-level WHERE conditions"},
		{"all other operator", `CREATE VIEW x AS SELECT id FROM a WHERE v = ALL (SELECT k FROM b);`, "error: op ALL (subquery) is supported only as <> ALL"},
		{"array subquery", `CREATE VIEW x AS SELECT ARRAY(SELECT k FROM b) FROM a;`, "error: ARRAY(subquery) is not supported yet"},
		{"correlated in select list", `CREATE VIEW x AS SELECT id FROM a WHERE v IN (SELECT a.id FROM b);`, "error: a correlated subquery may use outer columns only in equalities"},
		{"correlated aggregate", `CREATE VIEW x AS SELECT id FROM a WHERE EXISTS (SELECT count(*) FROM b WHERE b.k = a.v);`, "error: correlated EXISTS over an aggregate"},
		{"correlated group by", `CREATE VIEW x AS SELECT id FROM a WHERE v IN (SELECT max(k) FROM b WHERE b.id = a.id GROUP BY w);`, "error: correlated subqueries with GROUP BY"},
		{"inner name wins", `CREATE VIEW x AS SELECT id FROM a WHERE EXISTS (SELECT 1 FROM b WHERE id = 3);`, "id integer"},
		{"correlated scalar", `CREATE VIEW x AS SELECT id, (SELECT count(*) FROM b WHERE b.k = a.v) AS n, (SELECT max(w) FROM b WHERE k = id) FROM a;`, "id integer, n bigint, max numeric"},
		{"correlated scalar in WHERE", `CREATE VIEW x AS SELECT id FROM a WHERE v > (SELECT max(k) FROM b WHERE b.id = a.id) AND v > 0;`, "id integer"},
		{"correlated scalar in WHERE under OR", `CREATE VIEW x AS SELECT label, count(*) FROM a WHERE v IS NULL OR v > (SELECT max(k) FROM b WHERE b.id = a.id) GROUP BY label;`, "label text, count bigint"},
		{"scalar in WHERE of a global aggregate", `CREATE VIEW x AS SELECT count(*) FROM a WHERE v > (SELECT avg(k) FROM b);`, "count bigint"},
		{"correlated scalar in HAVING", `CREATE VIEW x AS SELECT v FROM a GROUP BY v HAVING v > (SELECT max(k) FROM b WHERE b.id = a.v);`, "error: correlated scalar subqueries are supported only in"},
		{"correlated scalar in grouped query", `CREATE VIEW x AS SELECT v, (SELECT max(k) FROM b WHERE b.id = a.v) FROM a GROUP BY v;`, "error: correlated scalar subqueries are supported only in"},
		{"correlated scalar expression", `CREATE VIEW x AS SELECT (SELECT max(k) + 1 FROM b WHERE b.id = a.v) FROM a;`, "error: a correlated scalar subquery is supported only when its select list is one aggregate call"},
		{"correlated scalar outer in aggregate", `CREATE VIEW x AS SELECT (SELECT max(k + a.v) FROM b WHERE b.id = a.v) FROM a;`, "error: a correlated subquery may use outer columns only in equalities"},
		{"correlated both sides", `CREATE VIEW x AS SELECT id FROM a WHERE EXISTS (SELECT 1 FROM b WHERE b.k + a.v = 3);`, "error: a correlated subquery may use outer columns only in equalities"},
		{"with recursive", `CREATE VIEW x AS WITH RECURSIVE r AS (SELECT v FROM a INTERSECT SELECT v FROM r) SELECT * FROM r;`, "error: does not have the form non-recursive-term UNION [ALL] recursive-term"},
		{"view later in the set", "CREATE VIEW x AS SELECT n + 1 AS m FROM y;\nCREATE VIEW y (n) AS SELECT v FROM a;", "n integer"},
		{"view self reference", `CREATE VIEW x AS SELECT * FROM x;`, "error: infinite recursion"},
		{"view through cte", "CREATE VIEW y AS SELECT v FROM a;\nCREATE VIEW x AS WITH c AS (SELECT * FROM public.y) SELECT c.v FROM c, y AS yy WHERE yy.v = c.v;", "v integer"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := plan("test.sql", schema+c.views)
			if strings.HasPrefix(c.want, "error: ") {
				if err == nil {
					t.Fatalf("planned; want an error containing %q", c.want[7:])
				}
				if !strings.Contains(err.Error(), c.want[7:]) {
					t.Fatalf("error %q does not contain %q", err, c.want[7:])
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			v := p.Views[len(p.Views)-1]
			var cols []string
			for _, col := range v.Columns {
				cols = append(cols, col.Name+" "+typeString(col.Type))
			}
			if got := strings.Join(cols, ", "); got != c.want {
				t.Fatalf("columns %q, want %q", got, c.want)
			}
			if _, err := p.Graph.Step(nil); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestSourceQuery checks that views reading other views of the set are
// described to the source with those views inlined.
func TestSourceQuery(t *testing.T) {
	defs, err := ParseViews("v.sql", `
CREATE VIEW x AS SELECT n FROM y AS yy (n) WHERE n > (SELECT count(*) FROM public.z);
CREATE VIEW y (m) AS SELECT v FROM a;
CREATE VIEW z AS WITH y AS (SELECT 1 AS one FROM a) SELECT one FROM y;`)
	if err != nil {
		t.Fatal(err)
	}
	got := SourceQueries(defs)
	want := []string{
		"SELECT n FROM (SELECT v FROM a) yy(n) WHERE n > (SELECT count(*) FROM (WITH y AS (SELECT 1 AS one FROM a) SELECT one FROM y) z)",
		"SELECT v FROM a",
		"WITH y AS (SELECT 1 AS one FROM a) SELECT one FROM y",
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("view %d:\n got  %s\n want %s", i, got[i], want[i])
		}
	}
}
