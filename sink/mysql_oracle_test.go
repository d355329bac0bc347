package sink

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/rippledb/ripple/internal/mysqltest"
	"github.com/rippledb/ripple/internal/oracle"
	"github.com/rippledb/ripple/internal/pgcluster"
	"github.com/rippledb/ripple/internal/pgtest"
	"github.com/rippledb/ripple/internal/row"
)

// TestMySQLDumpMatchesPostgres holds the same rows in a PostgreSQL table
// and in a MySQL sink and has the oracle compare the sink's Dump with the
// table's SELECT: PostgreSQL itself must read the dump back as the same
// multiset of values.
func TestMySQLDumpMatchesPostgres(t *testing.T) {
	ctx := context.Background()
	c := pgtest.Start(t, pgcluster.Options{})
	pgtest.CreateDB(t, c, "src")
	dsn := mysqltest.Start(t)

	v, rows := myAllTypesView(t, row.TableName{Schema: "s", Name: "all"}, nil)
	rows = append(rows, row.Update{Row: rows[1].Row, W: 2}) // duplicates
	var cols []string
	for _, col := range v.Columns {
		cols = append(cols, row.QuoteIdent(col.Name)+" "+col.Type.String())
	}
	pgtest.Exec(t, c, "src", enumDDL+"CREATE TABLE t ("+strings.Join(cols, ", ")+")")
	src, err := oracle.Connect(ctx, c.DSN("src"))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close(ctx)
	if _, err := src.PgConn().CopyFrom(ctx, newCopyReader(rows), "COPY t FROM STDIN"); err != nil {
		t.Fatalf("copy into PostgreSQL: %v", err)
	}

	s, _ := openMySQL(t, dsn, v)
	if err := s.Load(ctx, 1, map[row.TableName][]row.Update{v.Name: rows}); err != nil {
		t.Fatal(err)
	}
	ov := oracle.View{Name: v.Name, Query: "SELECT * FROM t", Columns: v.Columns}
	check := func(want bool) {
		t.Helper()
		var dump bytes.Buffer
		if err := s.Dump(ctx, v.Name, &dump); err != nil {
			t.Fatal(err)
		}
		d, err := oracle.CompareDump(ctx, src, ov, &dump)
		if err != nil {
			t.Fatal(err)
		}
		if d.Equal() != want {
			t.Fatalf("oracle: %s", d)
		}
	}
	check(true)
	// The oracle notices a difference.
	if err := s.Apply(ctx, Step{LSN: 2, Deltas: []Delta{{View: v.Name, Rows: []row.Update{{Row: rows[1].Row, W: -1}}}}}); err != nil {
		t.Fatal(err)
	}
	check(false)
}
