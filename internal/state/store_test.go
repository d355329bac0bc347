package state

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/rippledb/ripple/internal/row"
)

func TestStoreRoundTrip(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if cp, err := s.Checkpoint(); err != nil || cp != nil {
		t.Fatalf("new store: checkpoint %v, %v", cp, err)
	}
	w := s.NewWriter()
	// Two tables whose names are prefixes of each other must not mix.
	must(t, w.Put("public.t", "k1", row.Row{row.NewInt(1), row.NewText("a")}, 1))
	must(t, w.Put("public.t", "k2", row.Row{row.NewInt(2), row.Null}, 1))
	must(t, w.Put("public.t2", "k1", row.Row{row.NewNumeric("1.50")}, 3))
	must(t, w.Flush())
	// Rows without a checkpoint are not a state.
	if cp, _ := s.Checkpoint(); cp != nil {
		t.Fatal("checkpoint before Commit")
	}
	must(t, w.Delete("public.t", "k2"))
	must(t, w.Commit(&Checkpoint{Fingerprint: "f", LSN: 10, EndLSN: 11, Sinks: map[string]row.LSN{"pg": 10}}, false))
	if got, err := s.Sync(); err != nil || got != 11 {
		t.Fatalf("Sync = %v, %v", got, err)
	}
	must(t, s.Close())

	s, err = Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	cp, err := s.Checkpoint()
	if err != nil || cp == nil || cp.LSN != 10 || cp.EndLSN != 11 || cp.Sinks["pg"] != 10 || cp.Version != FormatVersion {
		t.Fatalf("checkpoint after reopen: %+v, %v", cp, err)
	}
	if s.Synced() != 11 {
		t.Fatalf("Synced after reopen = %v", s.Synced())
	}
	got := map[string]string{}
	for _, tbl := range []string{"public.t", "public.t2"} {
		must(t, s.Scan(tbl, func(k string, r row.Row, n int64) error {
			got[tbl+"/"+k] = fmt.Sprint(r) + "x" + string(rune('0'+n))
			return nil
		}))
	}
	want := map[string]string{"public.t/k1": fmt.Sprint(row.Row{row.NewInt(1), row.NewText("a")}) + "x1",
		"public.t2/k1": fmt.Sprint(row.Row{row.NewNumeric("1.50")}) + "x3"}
	if len(got) != len(want) || got["public.t/k1"] != want["public.t/k1"] || got["public.t2/k1"] != want["public.t2/k1"] {
		t.Fatalf("scan = %v, want %v", got, want)
	}

	must(t, s.Reset())
	if cp, _ := s.Checkpoint(); cp != nil {
		t.Fatal("checkpoint after Reset")
	}
	n := 0
	must(t, s.Scan("public.t", func(string, row.Row, int64) error { n++; return nil }))
	if n != 0 {
		t.Fatalf("%d rows after Reset", n)
	}
}

func TestStoreReadOnlyDir(t *testing.T) {
	if os.Geteuid() == 0 {
		// root ignores directory permissions; the e2e test uses a read-only
		// mount instead. Check the probe with a path that cannot be created.
		f := filepath.Join(t.TempDir(), "file")
		must(t, os.WriteFile(f, nil, 0o600))
		if _, err := Open(filepath.Join(f, "sub"), nil); err == nil {
			t.Fatal("Open under a regular file succeeded")
		}
		return
	}
	dir := t.TempDir()
	must(t, os.Chmod(dir, 0o500))
	if _, err := Open(dir, nil); err == nil {
		t.Fatal("Open of a read-only directory succeeded")
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
