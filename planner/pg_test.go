package planner

import (
	"context"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rippledb/ripple/dataflow"
	"github.com/rippledb/ripple/internal/pgtest"
	"github.com/rippledb/ripple/internal/row"
)

// TestGoldenViewsAgainstPostgres is the oracle for the golden views: each
// file's tables are created in a real PostgreSQL and filled with random
// rows (NULLs, duplicates in non-key columns, join hits and misses); the
// plan is stepped with the same changes, and after every step each view
// must equal PostgreSQL's answer for its query as a multiset, with the
// column names and types PostgreSQL reports.
func TestGoldenViewsAgainstPostgres(t *testing.T) {
	c := pgtest.Source(t)
	files, err := filepath.Glob(filepath.Join(goldenDir, "*.sql"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden files: %v", err)
	}
	for i, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".sql")
		t.Run(name, func(t *testing.T) {
			db := fmt.Sprintf("golden%d", i)
			pgtest.CreateDB(t, c, db)
			conn := pgtest.Connect(t, c, db)
			sql, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			oracle(t, conn, string(sql), int64(i))
		})
	}
}

func oracle(t *testing.T, conn *pgx.Conn, sql string, seed int64) {
	ctx := context.Background()
	for k, v := range row.SessionSettings {
		if _, err := conn.Exec(ctx, fmt.Sprintf("SET %s = '%s'", k, v)); err != nil {
			t.Fatal(err)
		}
	}
	p, err := plan("oracle.sql", sql)
	if err != nil {
		t.Fatal(err)
	}
	for _, tbl := range p.Tables {
		var cols []string
		for _, c := range tbl.Columns {
			cols = append(cols, row.QuoteIdent(c.Name)+" "+typeString(c.Type))
		}
		if len(tbl.Key) > 0 {
			var key []string
			for _, k := range tbl.Key {
				key = append(key, row.QuoteIdent(tbl.Columns[k].Name))
			}
			cols = append(cols, "PRIMARY KEY ("+strings.Join(key, ", ")+")")
		}
		ddl := fmt.Sprintf("CREATE TABLE %s (%s)", tbl.Name, strings.Join(cols, ", "))
		if _, err := conn.Exec(ctx, ddl); err != nil {
			t.Fatalf("%s: %v", ddl, err)
		}
	}
	rng := rand.New(rand.NewSource(seed))
	nextID = map[row.TableName]int64{}
	live := map[row.TableName][]row.Row{}
	acc := collector{}
	// Views with temporal filters are stepped at a logical time that
	// moves through the random timestamps (2024-01-01 to 05 at 10:00),
	// and PostgreSQL evaluates them with now() replaced by that time.
	temporal := p.Graph.Temporal()
	now := dataflow.TimeOf(time.Date(2024, 1, 1, 9, 0, 0, 0, time.UTC))
	query := func(q string) string {
		lit := "'" + now.String() + "'::timestamptz"
		for _, f := range []string{"now()", "current_timestamp", "transaction_timestamp()"} {
			q = strings.ReplaceAll(q, f, lit)
		}
		return q
	}
	step := func(what string, in map[row.TableName]dataflow.Batch) {
		t.Helper()
		for name, b := range in {
			for _, u := range b {
				if _, err := conn.Exec(ctx, dmlFor(p, name, u)); err != nil {
					t.Fatalf("%s: %v", dmlFor(p, name, u), err)
				}
			}
		}
		out, err := p.Graph.StepAt(now, in)
		if err != nil {
			t.Fatalf("%s: step: %v", what, err)
		}
		acc.apply(t, out)
		for _, v := range p.Views {
			compareView(t, conn, what, v, query(v.SourceQuery), acc)
		}
	}
	step("empty", nil)
	for round := range 4 {
		in := map[row.TableName]dataflow.Batch{}
		for _, tbl := range p.Tables {
			var b dataflow.Batch
			// Delete and update (delete + insert) some live rows, insert
			// new ones.
			var keep []row.Row
			for _, r := range live[tbl.Name] {
				switch rng.Intn(4) {
				case 0:
					b = append(b, row.Update{Row: r, W: -1})
				case 1:
					b = append(b, row.Update{Row: r, W: -1})
					nr := randomRow(rng, tbl, r)
					b = append(b, row.Update{Row: nr, W: 1})
					keep = append(keep, nr)
				default:
					keep = append(keep, r)
				}
			}
			for range 20 {
				nr := randomRow(rng, tbl, nil)
				b = append(b, row.Update{Row: nr, W: 1})
				keep = append(keep, nr)
			}
			live[tbl.Name] = keep
			in[tbl.Name] = b
		}
		if temporal {
			now = dataflow.TimeOf(time.Date(2024, 1, 2+round, 10, 0, 1, 0, time.UTC))
		}
		step(fmt.Sprintf("round %d", round), in)
		if temporal {
			// Time passes with no change: rows leave and enter the views.
			now = dataflow.TimeOf(time.Date(2024, 1, 2+round, 10, 0, 2, 500_000_000, time.UTC))
			step(fmt.Sprintf("round %d, tick at %s", round, now), nil)
			now = dataflow.TimeOf(time.Date(2024, 1, 2+round, 23, 59, 59, 999_999_000, time.UTC))
			step(fmt.Sprintf("round %d, tick at %s", round, now), nil)
		}
	}
}

// randomRow makes a row for tbl; key columns get fresh values, counting
// from 1 per table so that other tables' small integers join with them (or
// those of old, for an update that keeps its key).
func randomRow(rng *rand.Rand, tbl *Table, old row.Row) row.Row {
	nextID[tbl.Name]++
	id := nextID[tbl.Name]
	r := make(row.Row, len(tbl.Columns))
	for i, c := range tbl.Columns {
		if slices.Contains(tbl.Key, i) {
			if old != nil {
				r[i] = old[i]
			} else {
				r[i] = mustParse(c.Type, fmt.Sprint(id))
			}
			continue
		}
		if rng.Intn(6) == 0 || !c.Type.Supported() {
			continue // NULL
		}
		var s string
		switch c.Type.Kind() {
		case row.KindInt:
			s = fmt.Sprint(rng.Intn(12) + 1)
		case row.KindNumeric:
			if rng.Intn(2) == 0 {
				s = fmt.Sprintf("%d.00", rng.Intn(12)+1) // joins with integers
			} else {
				s = fmt.Sprintf("%d.%02d", rng.Intn(1200), rng.Intn(100))
			}
		case row.KindFloat:
			s = fmt.Sprintf("%d.5", rng.Intn(8)-2)
		case row.KindText:
			s = []string{"open", "EU", "us", "a", "bob", "x"}[rng.Intn(6)]
			if n := int(c.Type.Mod) - 4; c.Type.Mod >= 0 && len(s) > n {
				s = s[:n]
			}
		case row.KindDate:
			s = fmt.Sprintf("2024-01-%02d", rng.Intn(5)+1)
		case row.KindTimestampTZ, row.KindTimestamp:
			s = fmt.Sprintf("2024-01-%02d 10:00:00", rng.Intn(5)+1)
		case row.KindBool:
			s = []string{"t", "f"}[rng.Intn(2)]
		default:
			continue
		}
		r[i] = mustParse(c.Type, s)
	}
	return r
}

var nextID map[row.TableName]int64

func mustParse(t row.Type, s string) row.Datum {
	d, err := row.ParseText(t, s)
	if err != nil {
		panic(fmt.Sprintf("parse %q as %s: %v", s, t, err))
	}
	return d
}

func literal(d row.Datum) string {
	if d.IsNull() {
		return "NULL"
	}
	return "'" + strings.ReplaceAll(row.FormatText(d), "'", "''") + "'"
}

// dmlFor is the statement that applies u to table name in PostgreSQL.
func dmlFor(p *Plan, name row.TableName, u row.Update) string {
	var tbl *Table
	for _, t := range p.Tables {
		if t.Name == name {
			tbl = t
		}
	}
	vals := make([]string, len(u.Row))
	for i, d := range u.Row {
		vals[i] = literal(d)
	}
	if u.W > 0 {
		return fmt.Sprintf("INSERT INTO %s VALUES (%s)", name, strings.Join(vals, ", "))
	}
	var conds []string
	for i, c := range tbl.Columns {
		conds = append(conds, fmt.Sprintf("%s IS NOT DISTINCT FROM %s", row.QuoteIdent(c.Name), vals[i]))
	}
	return fmt.Sprintf("DELETE FROM %s WHERE ctid = (SELECT ctid FROM %s WHERE %s LIMIT 1)", name, name, strings.Join(conds, " AND "))
}

func compareView(t *testing.T, conn *pgx.Conn, what string, v View, query string, acc collector) {
	t.Helper()
	rows, err := conn.Query(context.Background(), query, pgx.QueryResultFormats{pgx.TextFormatCode})
	if err != nil {
		t.Fatalf("view %s: %s: %v", v.Def.Name, v.SourceQuery, err)
	}
	defer rows.Close()
	fds := rows.FieldDescriptions()
	var pgCols row.Schema
	for _, fd := range fds {
		pgCols = append(pgCols, row.Column{Name: fd.Name, Type: row.Type{OID: row.OID(fd.DataTypeOID), Mod: fd.TypeModifier}})
	}
	ours := slices.Clone(v.Columns)
	for i := range ours {
		if i < len(v.Def.ColumnNames) {
			// The query PostgreSQL runs has the SELECT's own names.
			ours[i].Name = pgCols[min(i, len(pgCols)-1)].Name
		}
	}
	if fmt.Sprint(ours) != fmt.Sprint(pgCols) {
		t.Errorf("view %s: columns %v, PostgreSQL says %v", v.Def.Name, ours, pgCols)
	}
	var want []string
	for rows.Next() {
		raw := rows.RawValues()
		parts := make([]string, len(raw))
		for i, b := range raw {
			if b == nil {
				parts[i] = "NULL"
			} else {
				parts[i] = string(b)
			}
		}
		want = append(want, strings.Join(parts, "|"))
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("view %s: %v", v.Def.Name, err)
	}
	slices.Sort(want)
	got := acc.rows(v.Def.Name.String())
	if testing.Verbose() {
		t.Logf("%s: view %s: %d rows", what, v.Def.Name, len(got))
	}
	if !slices.Equal(got, want) {
		t.Errorf("%s: view %s differs from PostgreSQL\n got: %q\nwant: %q", what, v.Def.Name, got, want)
	}
}
