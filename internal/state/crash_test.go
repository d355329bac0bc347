package state

import (
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/rippledb/ripple/internal/row"
)

// TestCheckpointCrash cuts the power under the store (pebble's crashable
// in-memory file system, which keeps only what was synced and, in some
// rounds, a random part of what was not) after every kind of checkpoint:
// one committed with a sync, one without (as between the slot's flushes),
// and one whose changes were staged and are ingested. After each crash the
// store must hold exactly the rows of the checkpoint it reports, no more
// and no less, and never a checkpoint older than the last synced one. The
// staged checkpoint's ingest is synced, so it survives whole, and with it
// every checkpoint committed before it. Half the synced and staged commits
// also get a cut at a random one of their file system operations (cutFS;
// an unsynced commit makes none).
func TestCheckpointCrash(t *testing.T) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	tables := []string{"a", "b", "c"}
	r := func(i, v int) row.Row { return row.Row{row.NewInt(int64(i)), row.NewInt(int64(v))} }
	for round := range 12 {
		t.Run(fmt.Sprint(round), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(round), 11))
			fs := vfs.NewCrashableMem()
			cut := &cutFS{FS: fs, mem: fs, cfg: crashCfg(round, rng)}
			s, err := openFS("/state", quiet, cut)
			must(t, err)
			// states[lsn] is what the store holds at each checkpoint.
			states := map[row.LSN][]string{0: nil}
			model := map[string]string{}
			snapshot := func() []string {
				var out []string
				for k, v := range model {
					out = append(out, k+"="+v)
				}
				slices.Sort(out)
				return out
			}
			put := func(w *Writer, tbl string, i, v int) {
				must(t, w.Put(tbl, fmt.Sprint(i), r(i, v), 1))
				model[fmt.Sprintf("%s/%d", tbl, i)] = fmt.Sprintf("%v×1", r(i, v))
			}
			del := func(w *Writer, tbl string, i int) {
				must(t, w.Delete(tbl, fmt.Sprint(i)))
				delete(model, fmt.Sprintf("%s/%d", tbl, i))
			}
			synced, cuts := row.LSN(0), 0
			// check opens a crashed copy of the file system and checks
			// what it holds after checkpoint lsn.
			check := func(crashed *vfs.MemFS, lsn row.LSN) {
				t.Helper()
				c, err := openFS("/state", quiet, crashed)
				if err != nil {
					t.Fatalf("after checkpoint %d: reopen: %v", lsn, err)
				}
				defer c.Close()
				cp, err := c.Checkpoint()
				must(t, err)
				var got row.LSN
				if cp != nil {
					got = cp.LSN
				}
				if got < synced || got > lsn {
					t.Fatalf("crash after checkpoint %d (synced %d): the store holds checkpoint %d", lsn, synced, got)
				}
				if have, want := dump(t, c, tables...), states[got]; !slices.Equal(have, want) {
					t.Fatalf("crash after checkpoint %d: checkpoint %d with rows\n%v\nwant\n%v", lsn, got, have, want)
				}
			}
			crash := func(lsn row.LSN) {
				t.Helper()
				check(fs.CrashClone(crashCfg(round, rng)), lsn)
			}
			lsn := row.LSN(0)
			for step := range 50 {
				lsn++
				w := s.NewWriter()
				kind := rng.IntN(3) // 0 synced, 1 not synced, 2 staged
				for range 1 + rng.IntN(40) {
					tbl, i := tables[rng.IntN(len(tables))], rng.IntN(30)
					if rng.IntN(4) == 0 {
						del(w, tbl, i)
					} else {
						put(w, tbl, i, step)
					}
				}
				if kind == 2 {
					must(t, w.Stage())
					if rng.IntN(3) == 0 {
						tbl := tables[rng.IntN(len(tables))]
						must(t, w.DeleteTable(tbl))
						for k := range model {
							if k[:2] == tbl+"/" {
								delete(model, k)
							}
						}
					}
					put(w, tables[rng.IntN(len(tables))], rng.IntN(30), step)
				}
				states[lsn] = snapshot()
				cp := &Checkpoint{LSN: lsn, EndLSN: lsn}
				if kind != 1 && rng.IntN(2) == 0 {
					// The power cut at one of the commit's file system
					// operations: the store holds this checkpoint or an
					// earlier one.
					ops := 1 // a synced commit syncs the log
					if kind == 2 {
						// 12 to 19: the sstables created and synced, the
						// log synced, the links, the manifest and
						// directory syncs.
						ops = 16
					}
					cut.arm(1 + rng.IntN(ops))
					must(t, w.Commit(cp, kind == 0))
					if c := cut.take(); c != nil {
						check(c, lsn)
						if kind == 2 {
							cuts++
						}
					}
				} else {
					must(t, w.Commit(cp, kind == 0))
				}
				if kind != 1 {
					synced = lsn
				}
				crash(lsn)
			}
			must(t, s.Close())
			if cuts == 0 {
				t.Fatal("no power cut came during a staged commit")
			}
		})
	}
}

// crashCfg keeps only what was synced in a third of the rounds, and a
// random part of the rest in the others.
func crashCfg(round int, rng *rand.Rand) vfs.CrashCloneCfg {
	if round%3 == 0 {
		return vfs.CrashCloneCfg{}
	}
	return vfs.CrashCloneCfg{UnsyncedDataPercent: 100 * (round % 3) / 3, RNG: rng}
}

// cutFS takes a crash clone of mem just before its armed operation (a
// file created, linked, renamed or removed, a directory opened for its
// sync, or a file synced), in the goroutine making it: MemFS cannot clone
// while another goroutine is in Link.
type cutFS struct {
	vfs.FS
	mem *vfs.MemFS
	mu  sync.Mutex
	in  int // operations until the cut; 0 = not armed
	got *vfs.MemFS
	cfg vfs.CrashCloneCfg
}

func (c *cutFS) arm(n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.in, c.got = n, nil
}

// take returns the clone taken since arm, if the operations reached it, and
// disarms.
func (c *cutFS) take() *vfs.MemFS {
	c.mu.Lock()
	defer c.mu.Unlock()
	got := c.got
	c.in, c.got = 0, nil
	return got
}

func (c *cutFS) op() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.in == 0 {
		return
	}
	if c.in--; c.in == 0 {
		c.got = c.mem.CrashClone(c.cfg)
	}
}

func (c *cutFS) Create(name string, cat vfs.DiskWriteCategory) (vfs.File, error) {
	c.op()
	f, err := c.FS.Create(name, cat)
	return c.wrap(f, err)
}

func (c *cutFS) Link(oldname, newname string) error {
	c.op()
	return c.FS.Link(oldname, newname)
}

func (c *cutFS) Rename(oldname, newname string) error {
	c.op()
	return c.FS.Rename(oldname, newname)
}

func (c *cutFS) Remove(name string) error {
	c.op()
	return c.FS.Remove(name)
}

func (c *cutFS) OpenDir(name string) (vfs.File, error) {
	c.op()
	f, err := c.FS.OpenDir(name)
	return c.wrap(f, err)
}

func (c *cutFS) ReuseForWrite(oldname, newname string, cat vfs.DiskWriteCategory) (vfs.File, error) {
	c.op()
	f, err := c.FS.ReuseForWrite(oldname, newname, cat)
	return c.wrap(f, err)
}

func (c *cutFS) wrap(f vfs.File, err error) (vfs.File, error) {
	if err != nil {
		return nil, err
	}
	return cutFile{f, c}, nil
}

type cutFile struct {
	vfs.File
	c *cutFS
}

func (f cutFile) Sync() error {
	f.c.op()
	return f.File.Sync()
}

func (f cutFile) SyncData() error {
	f.c.op()
	return f.File.SyncData()
}

func (f cutFile) SyncTo(n int64) (bool, error) {
	f.c.op()
	return f.File.SyncTo(n)
}
