package state

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/rippledb/ripple/internal/row"
)

// dump is every stored row of the tables as "table/key=row×n".
func dump(t *testing.T, s *Store, tables ...string) []string {
	t.Helper()
	var out []string
	for _, tbl := range tables {
		must(t, s.Scan(tbl, func(k string, r row.Row, n int64) error {
			out = append(out, fmt.Sprintf("%s/%s=%v×%d", tbl, k, r, n))
			return nil
		}))
	}
	sort.Strings(out)
	return out
}

func stagingEntries(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(dir, stagingDir))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

// TestStagedCommit commits a checkpoint whose changes were staged: rows
// written, overwritten and deleted before and after staging, a table
// truncated before staging and one after, with rows written after each
// truncation. The store must show none of it before the commit and
// exactly the result after it, also after a reopen.
func TestStagedCommit(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	tables := []string{"a", "b", "c"}
	r := func(i int) row.Row { return row.Row{row.NewInt(int64(i)), row.NewText(strings.Repeat("x", i%7))} }
	w := s.NewWriter()
	for _, tbl := range tables {
		for i := 0; i < 5; i++ {
			must(t, w.Put(tbl, fmt.Sprint(i), r(i), 1))
		}
	}
	must(t, w.Commit(&Checkpoint{LSN: 1, EndLSN: 2}, true))
	before := dump(t, s, tables...)

	w = s.NewWriter()
	must(t, w.Put("a", "9", r(9), 1))
	must(t, w.Delete("a", "0"))
	must(t, w.Put("a", "1", r(11), 2))
	must(t, w.DeleteTable("b")) // truncated before staging
	must(t, w.Put("b", "7", r(7), 1))
	must(t, w.Stage())
	if enc, n, ok, err := w.StagedRow("a", "1"); err != nil || !ok || n != 2 || enc != string(row.AppendBinary(nil, r(11))) {
		t.Fatalf("StagedRow(a, 1) = %q, %d, %v, %v", enc, n, ok, err)
	}
	if _, n, ok, err := w.StagedRow("a", "0"); err != nil || !ok || n != 0 {
		t.Fatalf("StagedRow(a, 0) of a deletion = %d, %v, %v", n, ok, err)
	}
	if _, _, ok, err := w.StagedRow("a", "2"); err != nil || ok {
		t.Fatalf("StagedRow(a, 2) of an untouched row = %v, %v", ok, err)
	}
	var staged []string
	must(t, w.ScanStaged("a", func(k, _ string, n int64) error {
		staged = append(staged, fmt.Sprintf("%s×%d", k, n))
		return nil
	}))
	if got := strings.Join(staged, " "); got != "0×0 1×2 9×1" {
		t.Fatalf("ScanStaged(a) = %s", got)
	}
	must(t, w.Put("a", "9", r(19), 1)) // overwrites a staged row
	must(t, w.Put("c", "8", r(8), 1))
	must(t, w.DeleteTable("c")) // truncated after staging: drops c/8 too
	must(t, w.Put("c", "3", r(33), 1))
	must(t, w.Stage())
	must(t, w.Delete("a", "4")) // still in the batch at the commit
	if got := dump(t, s, tables...); strings.Join(got, "\n") != strings.Join(before, "\n") {
		t.Fatalf("staged changes visible before the commit:\n%v", got)
	}
	if names := stagingEntries(t, dir); len(names) != 1 {
		t.Fatalf("staging stores while staging: %v", names)
	}
	must(t, w.Commit(&Checkpoint{LSN: 3, EndLSN: 4}, false))
	if s.Synced() != 4 {
		t.Fatalf("a staged commit is durable, Synced = %v", s.Synced())
	}
	if names := stagingEntries(t, dir); len(names) != 0 {
		t.Fatalf("staging stores left after the commit: %v", names)
	}
	want := []string{
		fmt.Sprintf("a/1=%v×2", r(11)), fmt.Sprintf("a/2=%v×1", r(2)), fmt.Sprintf("a/3=%v×1", r(3)),
		fmt.Sprintf("a/9=%v×1", r(19)), fmt.Sprintf("b/7=%v×1", r(7)), fmt.Sprintf("c/3=%v×1", r(33)),
	}
	sort.Strings(want)
	check := func(when string) {
		if got := dump(t, s, tables...); strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Fatalf("%s:\n got %v\nwant %v", when, got, want)
		}
		if cp, err := s.Checkpoint(); err != nil || cp == nil || cp.LSN != 3 {
			t.Fatalf("%s: checkpoint %+v, %v", when, cp, err)
		}
	}
	check("after the staged commit")

	// An aborted staged writer leaves nothing, and neither does one a
	// crash left behind (Open removes its store).
	w = s.NewWriter()
	must(t, w.Put("a", "5", r(5), 1))
	must(t, w.Stage())
	w.Abort()
	check("after an aborted staged writer")
	w = s.NewWriter()
	must(t, w.DeleteTable("a"))
	must(t, w.Stage())
	must(t, s.Close())
	if names := stagingEntries(t, dir); len(names) != 1 {
		t.Fatalf("the test expects the abandoned staging store on disk: %v", names)
	}
	if s, err = Open(dir, nil); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if names := stagingEntries(t, dir); len(names) != 0 {
		t.Fatalf("Open left staging stores: %v", names)
	}
	check("after a reopen")
}

// TestWriterStagesLargeBatch: a writer whose batch passes stageBatch moves
// it to staging by itself, so a checkpoint of many rows is not held in
// memory, and the commit writes every row.
func TestWriterStagesLargeBatch(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	w := s.NewWriter()
	pad := row.NewText(strings.Repeat("p", 100))
	const n = 300000 // about 35 MB of entries
	for i := 0; i < n; i++ {
		must(t, w.Put("big", fmt.Sprintf("%08d", i), row.Row{row.NewInt(int64(i)), pad}, 1))
		if w.Size() > stageBatch {
			t.Fatalf("batch of %d bytes after %d rows: not staged", w.Size(), i)
		}
	}
	if w.st == nil {
		t.Fatal("no staging store after writing more than stageBatch")
	}
	must(t, w.Commit(&Checkpoint{LSN: 1, EndLSN: 2}, false))
	count := 0
	must(t, s.Scan("big", func(k string, r row.Row, m int64) error {
		if k != fmt.Sprintf("%08d", count) || m != 1 || r[0] != row.NewInt(int64(count)) {
			return fmt.Errorf("row %d: %s %v ×%d", count, k, r, m)
		}
		count++
		return nil
	}))
	if count != n {
		t.Fatalf("%d rows stored, want %d", count, n)
	}
}

// TestLoadWriterNeverStages: the initial load's writer flushes a row larger
// than stageBatch, and rows after it, without staging (a staged writer
// cannot Flush).
func TestLoadWriterNeverStages(t *testing.T) {
	s, err := Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	w := s.NewLoadWriter()
	must(t, w.Put("t", "big", row.Row{row.NewText(strings.Repeat("b", stageBatch+1<<20))}, 1))
	must(t, w.Put("t", "small", row.Row{row.NewInt(1)}, 1))
	if w.st != nil {
		t.Fatal("the load writer staged")
	}
	must(t, w.Flush())
	must(t, w.Commit(&Checkpoint{LSN: 1, EndLSN: 1}, true))
	if got := len(dump(t, s, "t")); got != 2 {
		t.Fatalf("%d rows stored, want 2", got)
	}
}
