package bench

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strings"
)

// runMemory measures the live Go heap that ripple's state takes after the
// initial load, per source row for a join and per group for an aggregate,
// against the raw payload of a row and PostgreSQL's heap bytes per row;
// then once more with the table copies and the operator state on disk
// (table_memory 0, operator_memory 0): the heap left, and the bytes under
// state_dir per source row.
func runMemory(ctx context.Context, env *Env, res *Scenario) error {
	var errs []error
	n := env.sizes.MemoryRows
	groups := max(n/10, 1)
	cases := []struct {
		name, view string
		perGroup   bool
	}{
		{"join m ⋈ dim", "CREATE VIEW v AS SELECT m.id, m.val, m.note, d.name FROM m JOIN dim d ON d.id = m.grp", false},
		{fmt.Sprintf("aggregate, %d groups", groups), "CREATE VIEW v AS SELECT bucket, count(*) AS n, sum(val) AS s FROM m GROUP BY bucket", true},
	}
	for _, c := range cases {
		for _, onDisk := range []bool{false, true} {
			if err := env.memoryOf(ctx, res, c.name, c.view, n, groups, c.perGroup, onDisk); err != nil {
				errs = append(errs, fmt.Errorf("%s (on disk %v): %w", c.name, onDisk, err))
			}
		}
	}
	return errors.Join(errs...)
}

func liveHeap() uint64 {
	runtime.GC()
	debug.FreeOSMemory()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

func (e *Env) memoryOf(ctx context.Context, res *Scenario, name, view string, n, groups int, perGroup, onDisk bool) error {
	db, err := e.freshDBs(ctx, "mem")
	if err != nil {
		return err
	}
	defer e.dropDBs(ctx, db)
	schema := fmt.Sprintf(`
CREATE TABLE dim (id int PRIMARY KEY, name text NOT NULL);
INSERT INTO dim SELECT g, 'dim ' || g FROM generate_series(0, 99) g;
CREATE TABLE m (id int PRIMARY KEY, grp int NOT NULL, bucket int NOT NULL, val numeric(12,2), note text);
INSERT INTO m SELECT g, g %% 100, g %% %d, g * 0.5, 'note ' || g FROM generate_series(1, %d) g;
ANALYZE m;`, groups, n)
	if err := e.Src.Exec(ctx, db, schema); err != nil {
		return err
	}
	src, err := e.connect(ctx, e.Src, db)
	if err != nil {
		return err
	}
	defer src.Close(ctx)
	var payload, heap float64
	if err := src.QueryRow(ctx, `SELECT avg(pg_column_size(id) + pg_column_size(grp) + pg_column_size(bucket) + pg_column_size(val) + pg_column_size(note))::float8,
		pg_relation_size('m')::float8 / count(*) FROM m`).Scan(&payload, &heap); err != nil {
		return err
	}
	before := liveHeap()
	rssBefore := selfRSS()
	r, err := e.startRipple(ctx, db, view, rippleOpts{onDisk: onDisk})
	if err != nil {
		return err
	}
	defer r.stop()
	after := liveHeap()
	total := float64(after) - float64(before)
	perRow := total / float64(n)
	if onDisk {
		disk, err := dirBytes(r.stateDir)
		if err != nil {
			return err
		}
		rss := float64(selfRSS()) - float64(rssBefore)
		res.add(&Figure{Name: name + ", state on disk: live Go heap per source row", Value: perRow, Unit: "B", Baseline: "raw row payload",
			BaselineValue: payload, Ratio: ratio(payload, perRow), RatioOf: "payload/ripple",
			Note: "table_memory 0, operator_memory 0: the table copies and the operator state in pebble; its memtables and block caches are outside the Go heap (see the RSS figure)"})
		res.add(&Figure{Name: name + ", state on disk: process RSS growth per source row", Value: rss / float64(n), Unit: "B", Baseline: "raw row payload",
			BaselineValue: payload, Ratio: ratio(payload, rss/float64(n)), RatioOf: "payload/ripple",
			Note: "includes pebble's memtables (the spill store's data may sit there, not yet on disk) and block caches"})
		res.add(&Figure{Name: name + ", state on disk: state_dir bytes per source row", Value: float64(disk) / float64(n), Unit: "B", Baseline: "raw row payload",
			BaselineValue: payload, Ratio: ratio(payload, float64(disk)/float64(n)), RatioOf: "payload/ripple",
			Note: "files under state_dir right after the initial load: mostly the state store's write-ahead log, uncompressed, before any flush; the spill store keeps no log"})
		res.stage("%s, state on disk: %d rows, live heap grew %.1f MB, RSS %.1f MB, state_dir holds %.1f MB", name, n, total/1e6, rss/1e6, float64(disk)/1e6)
		return r.check(ctx, e, res, name+", state on disk")
	}
	if e.profDir != "" {
		if err := writeHeapProfile(e.profDir, "memory-"+strings.Fields(name)[0]); err != nil {
			return err
		}
	}
	res.add(&Figure{Name: name + ": live heap per source row", Value: perRow, Unit: "B", Baseline: "raw row payload",
		BaselineValue: payload, Ratio: ratio(payload, perRow), RatioOf: "payload/ripple"}).atLeast(1 / 1.5)
	res.add(&Figure{Name: name + ": live heap per source row vs PostgreSQL heap", Value: perRow, Unit: "B", Baseline: "pg_relation_size / rows",
		BaselineValue: heap, Ratio: ratio(heap, perRow), RatioOf: "pg heap/ripple"})
	if perGroup {
		res.add(&Figure{Name: name + ": live heap per group", Value: total / float64(groups), Unit: "B", Baseline: "raw row payload",
			BaselineValue: payload, Ratio: ratio(payload, total/float64(groups)), RatioOf: "payload/ripple",
			Note: "includes the table arrangement of every source row (REPLICA IDENTITY DEFAULT needs the old rows)"})
	}
	st := r.status.Report()
	res.stage("%s: %d rows, live heap grew %.1f MB; ripple's own estimate of the table arrangements: %.1f MB (%d rows)",
		name, n, total/1e6, float64(st.StateBytes)/1e6, st.StateRows)
	return r.check(ctx, e, res, name)
}

// writeHeapProfile writes the live heap (inuse_space) for -profile, so the
// state's bytes per row can be traced to the structures holding them.
func writeHeapProfile(dir, name string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.Create(filepath.Join(dir, name+".heap.pprof"))
	if err != nil {
		return err
	}
	defer f.Close()
	return pprof.Lookup("heap").WriteTo(f, 0)
}

// dirBytes is the size of the files under dir.
func dirBytes(dir string) (int64, error) {
	var n int64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		n += info.Size()
		return nil
	})
	return n, err
}

// selfRSS is this process's resident set size in bytes (0 if unknown).
func selfRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			var kb int64
			fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), &kb)
			return kb << 10
		}
	}
	return 0
}
