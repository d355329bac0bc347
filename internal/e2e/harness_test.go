package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rippledb/ripple/internal/oracle"
	"github.com/rippledb/ripple/internal/pgcluster"
	"github.com/rippledb/ripple/internal/row"
	"github.com/rippledb/ripple/planner"
)

// seed returns the seed for randomized tests: RIPPLE_SEED when set, else
// the time. Tests print it so a failure can be replayed.
func seed(t *testing.T) int64 {
	t.Helper()
	if s := os.Getenv("RIPPLE_SEED"); s != "" {
		var v int64
		fmt.Sscan(s, &v)
		return v
	}
	return time.Now().UnixNano()
}

// oracleViews turns view SQL into the oracle's view descriptions, with the
// columns PostgreSQL reports for each view's SELECT on the source.
func oracleViews(t *testing.T, src *pgx.Conn, viewSQL string) []oracle.View {
	t.Helper()
	defs, err := planner.ParseViews("views.sql", viewSQL)
	if err != nil {
		t.Fatal(err)
	}
	var out []oracle.View
	for _, d := range defs {
		desc, err := src.Prepare(context.Background(), "", d.Query)
		if err != nil {
			t.Fatalf("describe %s: %v", d.Name, err)
		}
		v := oracle.View{Name: d.Name, Query: d.Query}
		for _, f := range desc.Fields {
			v.Columns = append(v.Columns, columnOf(f.Name, f.DataTypeOID, f.TypeModifier))
		}
		out = append(out, v)
	}
	return out
}

// checkAll waits for the pipeline to catch up and compares every view in
// every sink; it reports every difference.
func checkAll(t *testing.T, src *pgx.Conn, slot string, sinks map[string]*pgx.Conn, views []oracle.View, when string) bool {
	t.Helper()
	ctx := context.Background()
	if err := oracle.WaitCaughtUp(ctx, src, slot, 60*time.Second); err != nil {
		t.Fatalf("%s: %v", when, err)
	}
	ok := true
	for name, snk := range sinks {
		for _, v := range views {
			d, err := oracle.Compare(ctx, src, snk, v)
			if err != nil {
				t.Fatalf("%s: sink %s: %v", when, name, err)
			}
			if !d.Equal() {
				ok = false
				t.Errorf("%s: sink %s: %s", when, name, d)
			}
		}
	}
	return ok
}

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// rippleBinary builds cmd/ripple once per test process.
func rippleBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "ripple-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "ripple")
		out, err := exec.Command("go", "build", "-o", binPath, "github.com/rippledb/ripple/cmd/ripple").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// writeConfig writes a ripple.yaml and the views file into a temp dir.
func writeConfig(t *testing.T, srcDSN string, sinks map[string]string, views string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "views"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "views", "views.sql"), []byte(views), 0o644); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "source:\n  dsn: %s\nsinks:\n", srcDSN)
	for name, dsn := range sinks {
		fmt.Fprintf(&b, "  - name: %s\n    type: postgres\n    dsn: %s\n", name, dsn)
	}
	b.WriteString("views:\n")
	for name := range sinks {
		fmt.Fprintf(&b, "  - files: [\"views/*.sql\"]\n    sink: %s\n", name)
	}
	b.WriteString("state_dir: ./state\n")
	path := filepath.Join(dir, "ripple.yaml")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func connect(t *testing.T, c *pgcluster.Cluster, db string) *pgx.Conn {
	t.Helper()
	conn, err := oracle.Connect(context.Background(), c.DSN(db))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func columnOf(name string, oid uint32, mod int32) row.Column {
	return row.Column{Name: name, Type: row.Type{OID: row.OID(oid), Mod: mod}}
}
