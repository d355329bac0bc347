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
		{"correlated scalar expression", `CREATE VIEW x AS SELECT (SELECT max(k) + 1 FROM b WHERE b.id = a.v) FROM a;`, "?column? integer"},
		{"correlated scalar ungrouped inner column", `CREATE VIEW x AS SELECT (SELECT k + count(*) FROM b WHERE b.id = a.v) FROM a;`, `error: column "b.k" must appear in the GROUP BY clause`},
		{"correlated scalar HAVING", `CREATE VIEW x AS SELECT (SELECT count(*) FROM b WHERE b.id = a.v HAVING count(*) > 1) FROM a;`, "error: a scalar subquery is supported only as one aggregate without GROUP BY or HAVING"},
		{"lateral aggregate names", `CREATE VIEW x AS SELECT * FROM a, LATERAL (SELECT count(*), max(w) AS mw FROM b WHERE b.k = a.v) s;`, "id integer, v integer, label text, count bigint, mw numeric"},
		{"lateral aggregate column list", `CREATE VIEW x AS SELECT s.* FROM a, LATERAL (SELECT count(*), max(w) FROM b WHERE b.k = a.v) s (c1);`, "c1 bigint, max numeric"},
		{"lateral aggregate too many names", `CREATE VIEW x AS SELECT 1 FROM a, LATERAL (SELECT count(*) FROM b WHERE b.k = a.v) s (c1, c2);`, "error: has 1 columns available but 2 columns specified"},
		{"lateral aggregate ungrouped", `CREATE VIEW x AS SELECT 1 FROM a, LATERAL (SELECT k, count(*) FROM b WHERE b.k = a.v) s;`, `error: column "b.k" must appear in the GROUP BY clause`},
		{"lateral aggregate under nullable side", `CREATE VIEW x AS SELECT 1 FROM a LEFT JOIN (b CROSS JOIN LATERAL (SELECT count(*) FROM a a2 WHERE a2.v = b.k) s) ON b.k = a.id;`, "error: a LATERAL subquery with aggregates or a function in FROM is supported only where no outer join"},
		{"lateral aggregate left join condition", `CREATE VIEW x AS SELECT 1 FROM a LEFT JOIN LATERAL (SELECT count(*) AS n FROM b WHERE b.k = a.v) s ON s.n > 1;`, "error: supported only with ON true"},
		{"lateral aggregate HAVING", `CREATE VIEW x AS SELECT 1 FROM a, LATERAL (SELECT count(*) FROM b WHERE b.k = a.v HAVING count(*) > 2) s;`, "error: with aggregates and HAVING but no GROUP BY"},
		{"lateral grouped limit", `CREATE VIEW x AS SELECT 1 FROM a, LATERAL (SELECT k, count(*) FROM b WHERE b.id = a.v GROUP BY k ORDER BY k LIMIT 1) s;`, "error: LIMIT/OFFSET in a correlated LATERAL subquery with GROUP BY"},
		{"series names", `CREATE VIEW x AS SELECT * FROM a, generate_series(1, a.v) WITH ORDINALITY;`, "id integer, v integer, label text, generate_series integer, ordinality bigint"},
		{"series int8", `CREATE VIEW x AS SELECT g FROM b, generate_series(b.id, 10) g;`, "g bigint"},
		{"series alias columns", `CREATE VIEW x AS SELECT s.* FROM a, generate_series(1, 3) WITH ORDINALITY s (val, pos);`, "val integer, pos bigint"},
		{"series date is timestamptz", `CREATE VIEW x AS SELECT g FROM a, generate_series(date '2024-01-01', date '2024-01-03', '1 day') g;`, "g timestamp with time zone"},
		{"series numeric", `CREATE VIEW x AS SELECT g FROM b, generate_series(1, b.w) g;`, "error: generate_series over numeric values is not supported yet"},
		{"series two timestamps", `CREATE VIEW x AS SELECT g FROM a, generate_series(timestamp '2024-01-01', timestamp '2024-01-03') g;`, "error: function generate_series(timestamp without time zone, timestamp without time zone) does not exist"},
		{"series ambiguous literals", `CREATE VIEW x AS SELECT g FROM a, generate_series('2024-01-01', '2024-01-03', interval '1 day') g;`, "error: is not unique"},
		{"series other function", `CREATE VIEW x AS SELECT g FROM a, generate_subscripts(ARRAY[1], 1) g;`, "error: function generate_subscripts in FROM is not supported (generate_series and unnest are)"},
		{"series rows from", `CREATE VIEW x AS SELECT g FROM a, ROWS FROM (generate_series(1, 2)) g;`, "error: ROWS FROM (...) is not supported yet"},
		{"series too many names", `CREATE VIEW x AS SELECT 1 FROM a, generate_series(1, 2) g (p, q);`, "error: has 1 columns available but 2 columns specified"},
		{"series alone", `CREATE VIEW x AS SELECT g FROM generate_series(1, 2) g;`, "error: a FROM clause with only set-returning functions"},
		{"series under nullable side", `CREATE VIEW x AS SELECT 1 FROM a LEFT JOIN (b CROSS JOIN generate_series(1, b.k) g) ON b.k = a.id;`, "error: supported only where no outer join"},
		{"series read by outer join", `CREATE VIEW x AS SELECT 1 FROM a CROSS JOIN generate_series(1, a.v) g LEFT JOIN b ON b.k = g;`, "error: supported only where no outer join"},
		{"series outer join beside", `CREATE VIEW x AS SELECT a.id, g, b.w FROM a CROSS JOIN generate_series(1, a.v) g LEFT JOIN b ON b.k = a.v;`, "id integer, g integer, w numeric(10,2)"},
		{"series duplicate name", `CREATE VIEW x AS SELECT 1 FROM a, generate_series(1, 2) a;`, "error: specified more than once"},
		{"series named args", `CREATE VIEW x AS SELECT 1 FROM a, generate_series(start => 1, stop => 2) g;`, "error: named arguments are not supported here"},
		{"unnest not array", `CREATE VIEW x AS SELECT 1 FROM a, unnest(a.v) u;`, "error: function unnest(integer) does not exist"},
		{"series later relation", `CREATE VIEW x AS SELECT g, b.id FROM a, generate_series(1, a.v) g, b WHERE b.k = g;`, "g integer, id bigint"},
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
