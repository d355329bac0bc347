package expr

import (
	"strings"
	"testing"

	pg_query "github.com/pganalyze/pg_query_go/v5"

	"github.com/rippledb/ripple/internal/row"
)

func testScope() *Scope {
	return &Scope{Columns: []ScopeColumn{
		{Table: "a", Name: "id", Type: row.Int4, Index: 0},
		{Table: "a", Name: "name", Type: row.Text, Index: 1},
		{Table: "b", Name: "id", Type: row.Int4, Index: 2},
		{Table: "b", Name: "x", Type: row.Int8, Index: 3},
	}}
}

func target(t *testing.T, sql string) *pg_query.Node {
	t.Helper()
	tree, err := pg_query.Parse(sql)
	if err != nil {
		t.Fatal(err)
	}
	return tree.Stmts[0].Stmt.GetSelectStmt().TargetList[0].GetResTarget().Val
}

// TestCompileErrors checks refusals and name-resolution errors, with their
// positions (line 2 so that line counting is exercised).
func TestCompileErrors(t *testing.T) {
	for _, tc := range []struct {
		expr, collation, where string
		want                   string
	}{
		{"id", "C", "", `line 2, column 1: column reference "id" is ambiguous`},
		{"zz", "C", "", `line 2, column 1: column "zz" does not exist`},
		{"c.id", "C", "", `line 2, column 1: missing FROM-clause entry for table "c"`},
		{"a.x", "C", "", `line 2, column 1: column a.x does not exist`},
		{"name < 'b'", "en_US.UTF-8", "", `line 2, column 6: ordering text under collation "en_US.UTF-8" is not supported yet; add COLLATE "C"`},
		{"1 + count(*)", "C", "WHERE", `line 2, column 5: aggregate functions are not allowed in WHERE`},
		{"(SELECT 1)", "C", "", `line 2, column 1: subqueries are not supported yet`},
		{"now()", "C", "", "line 2, column 1: now() is not supported in WHERE: " + TemporalForm},
		{"clock_timestamp()", "C", "", `line 2, column 1: clock_timestamp() is not supported: its value changes over time, so a view using it cannot be maintained incrementally`},
		{"sum(b.x) OVER ()", "C", "", `line 2, column 1: window functions are not supported yet (sum ... OVER)`},
		{"ARRAY[1]", "C", "", `line 2, column 1: arrays are not supported yet`},
		{"ROW(1, 2)", "C", "", `line 2, column 1: row constructors are not supported yet`},
		{"b.x::interval", "C", "", `line 2, column 4: cannot cast type bigint to interval`},
		{"b.x::money", "C", "", `line 2, column 6: type money is not supported yet`},
		{"b.x ^ 2", "C", "", `line 2, column 5: operator ^ is not supported yet`},
		{"name SIMILAR TO 'x'", "C", "", `line 2, column 6: SIMILAR TO is not supported yet`},
	} {
		sql := "SELECT\n" + tc.expr + " FROM a, b"
		c := &Compiler{Scope: testScope(), Src: Source{Text: sql}, Collation: tc.collation, Where: tc.where}
		_, err := c.Compile(target(t, sql))
		if err == nil || err.Error() != tc.want {
			t.Errorf("%s:\n got  %v\n want %s", tc.expr, err, tc.want)
		}
	}
}

func TestCollateC(t *testing.T) {
	sql := `SELECT name COLLATE "C" < 'b' FROM a`
	c := &Compiler{Scope: testScope(), Src: Source{Text: sql}, Collation: "en_US.UTF-8"}
	e, err := c.Compile(target(t, sql))
	if err != nil {
		t.Fatal(err)
	}
	d, err := e.Eval(row.Row{row.NewInt(1), row.NewText("a"), row.NewInt(1), row.NewInt(1)})
	if err != nil || !d.Bool() {
		t.Fatalf("got %v, %v", d, err)
	}
	// Equality needs no byte-order collation.
	sql = `SELECT name = 'b' FROM a`
	if _, err := c.Compile(target(t, sql)); err != nil {
		t.Fatal(err)
	}
}

func TestPredicate(t *testing.T) {
	sql := "SELECT b.x + 1 FROM a, b"
	c := &Compiler{Scope: testScope(), Src: Source{Text: sql}, Collation: "C", Where: "WHERE"}
	if _, _, err := c.Predicate(target(t, sql)); err == nil || !strings.Contains(err.Error(), "argument of WHERE must be type boolean, not type bigint") {
		t.Errorf("err = %v", err)
	}
	sql = "SELECT b.x > 1 FROM a, b"
	c.Src = Source{Text: sql}
	pred, _, err := c.Predicate(target(t, sql))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		x    row.Datum
		want bool
	}{{row.NewInt(2), true}, {row.NewInt(1), false}, {row.Null, false}} {
		got, err := pred(row.Row{row.Null, row.Null, row.Null, tc.x})
		if err != nil || got != tc.want {
			t.Errorf("x=%v: %v, %v", tc.x, got, err)
		}
	}
}

func TestLikeMatch(t *testing.T) {
	for _, tc := range []struct {
		s, p string
		want bool
	}{
		{"abc", "a%", true}, {"abc", "%c", true}, {"abc", "_b_", true}, {"abc", "a_", false},
		{"a%b", `a\%b`, true}, {"axb", `a\%b`, false}, {"", "%", true}, {"", "", true}, {"x", "", false},
		{"ééa", "__a", true}, {"aaa", "%a%a%a%", true}, {"aa", "%a%a%a%", false},
	} {
		m, err := likeMatch([]rune(tc.s), []rune(tc.p), '\\')
		if err != nil || (m == likeTrue) != tc.want {
			t.Errorf("%q LIKE %q = %v, %v", tc.s, tc.p, m, err)
		}
	}
}
