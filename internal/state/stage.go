package state

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sort"
	"strconv"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
	"github.com/cockroachdb/pebble/v2/objstorage/objstorageprovider"
	"github.com/cockroachdb/pebble/v2/sstable"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// A checkpoint after a large source transaction holds every row the
// transaction changed: millions, perhaps, which a pebble batch would hold
// in memory until its commit, next to the pipeline's own copy of them. So
// once a Writer's batch passes stageBatch bytes, or the pipeline moves a
// table's changes out of its memory (Writer.Stage), the changes go to a
// staging store of the writer's own: a scratch pebble store under
// state_dir/staging without a write-ahead log, where later changes of the
// same rows overwrite earlier ones and the pipeline reads back what it
// staged (StagedRow, ScanStaged). Commit then writes the staged rows into
// one sstable and the checkpoint record into another and ingests both:
// pebble ingests a set of sstables atomically, as if they were one batch,
// so the store still holds the rows and the checkpoint next to them or
// neither, and the changes are never all in memory. Nothing in a staging
// store is read after a restart: it belongs to a checkpoint not written,
// and Open removes it.
const stageBatch = 16 << 20

// stagingDir is where the staging stores live, under state_dir.
const stagingDir = "staging"

type staging struct {
	db   *pebble.DB
	fs   vfs.FS
	path string
	// truncated holds the key ranges deleted whole (DeleteTable), by start.
	truncated map[string][]byte
	buf       []byte
}

// openStaging creates the writer's staging store.
func (w *Writer) openStaging() error {
	w.s.mu.Lock()
	w.s.stagings++
	n := w.s.stagings
	w.s.mu.Unlock()
	path := filepath.Join(w.s.dir, stagingDir, strconv.Itoa(n))
	fs := w.s.fs
	if err := fs.RemoveAll(path); err != nil {
		return err
	}
	if err := fs.MkdirAll(path, 0o750); err != nil {
		return err
	}
	db, err := pebble.Open(path, &pebble.Options{
		FS:           fs,
		Logger:       pebbleLogger{w.s.log},
		DisableWAL:   true,
		MemTableSize: 8 << 20,
		CacheSize:    8 << 20,
		// Most lookups of a large transaction's rows are of rows it did
		// not touch.
		Levels: [7]pebble.LevelOptions{{FilterPolicy: bloom.FilterPolicy(10)}},
	})
	if err != nil {
		fs.RemoveAll(path)
		return fmt.Errorf("open staging store in %s: %w", path, err)
	}
	w.st = &staging{db: db, fs: fs, path: path, truncated: map[string][]byte{}}
	w.s.log.Debug("state: a checkpoint's changes are staged on disk", "path", path)
	return nil
}

func (st *staging) close(log *slog.Logger) {
	if err := st.db.Close(); err != nil {
		log.Warn("state: close staging store", "path", st.path, "err", err)
	}
	if err := st.fs.RemoveAll(st.path); err != nil {
		log.Warn("state: remove staging store", "path", st.path, "err", err)
	}
}

// Stage moves the changes collected in memory to the staging store; what
// is staged is what StagedRow and ScanStaged see.
func (w *Writer) Stage() (err error) {
	defer w.s.recoverFatal(&err)
	if err := w.s.usable(); err != nil {
		return err
	}
	if w.st == nil {
		if err := w.openStaging(); err != nil {
			return err
		}
	}
	if w.b.Empty() {
		return nil
	}
	sb := w.st.db.NewBatch()
	defer sb.Close()
	r := w.b.Reader()
	for {
		kind, k, v, ok, err := r.Next()
		if err != nil {
			return err
		}
		if !ok {
			break
		}
		switch kind {
		case pebble.InternalKeyKindSet:
			err = sb.Set(k, v, nil)
		case pebble.InternalKeyKindDelete:
			// A stored value is never empty (varint multiplicity | row):
			// empty is a deletion to be written at the commit.
			err = sb.Set(k, nil, nil)
		case pebble.InternalKeyKindRangeDelete:
			w.st.truncated[string(k)] = append([]byte(nil), v...)
			err = sb.DeleteRange(k, v, nil)
		default:
			err = fmt.Errorf("unexpected %s in a state batch", kind)
		}
		if err != nil {
			return err
		}
		// In small batches: pebble keeps a batch of more than half a
		// memtable whole in memory until it is flushed, instead of
		// copying it into the memtable.
		if sb.Len() >= stageCommit {
			if err := w.st.commit(sb); err != nil {
				return err
			}
		}
	}
	if err := w.st.commit(sb); err != nil {
		return err
	}
	w.b.Reset()
	return nil
}

// stageCommit is the size of the batches Stage commits to the staging
// store, well under half of its memtable.
const stageCommit = 1 << 20

func (st *staging) commit(sb *pebble.Batch) error {
	if err := sb.Commit(pebble.NoSync); err != nil {
		return fmt.Errorf("write staging store in %s: %w", st.path, err)
	}
	sb.Reset()
	return nil
}

// StagedRow reads what is staged under key in table: ok false when
// nothing is, n 0 for a deletion.
func (w *Writer) StagedRow(table, key string) (enc string, n int64, ok bool, err error) {
	defer w.s.recoverFatal(&err)
	if w.st == nil {
		return "", 0, false, nil
	}
	v, closer, err := w.st.db.Get(w.key(table, key))
	if errors.Is(err, pebble.ErrNotFound) {
		return "", 0, false, nil
	}
	if err != nil {
		return "", 0, false, fmt.Errorf("read staging store of table %s: %w", table, err)
	}
	defer closer.Close()
	return decodeStaged(table, v)
}

func decodeStaged(table string, v []byte) (enc string, n int64, ok bool, err error) {
	if len(v) == 0 {
		return "", 0, true, nil
	}
	n, m := binary.Varint(v)
	if m <= 0 {
		return "", 0, false, fmt.Errorf("staging store of table %s: malformed row", table)
	}
	return string(v[m:]), n, true, nil
}

// ScanStaged calls fn for every key staged in table, in key order (n 0
// for a deletion).
func (w *Writer) ScanStaged(table string, fn func(key, enc string, n int64) error) (err error) {
	defer w.s.recoverFatal(&err)
	if w.st == nil {
		return nil
	}
	p := w.prefix(table)
	it, err := w.st.db.NewIter(&pebble.IterOptions{LowerBound: p, UpperBound: prefixEnd(p)})
	if err != nil {
		return err
	}
	defer it.Close()
	for ok := it.First(); ok; ok = it.Next() {
		v, err := it.ValueAndErr()
		if err != nil {
			return fmt.Errorf("read staging store of table %s: %w", table, err)
		}
		enc, n, _, err := decodeStaged(table, v)
		if err != nil {
			return err
		}
		if err := fn(string(it.Key()[len(p):]), enc, n); err != nil {
			return err
		}
	}
	return it.Error()
}

// ingest writes the staged changes and the checkpoint record rec into the
// store at once (see stageBatch).
func (w *Writer) ingest(rec []byte) error {
	if err := w.Stage(); err != nil {
		return err
	}
	opts := w.s.opts.MakeWriterOptions(0, w.s.db.TableFormat())
	rows := filepath.Join(w.st.path, "rows.sst")
	n, err := w.st.writeRows(rows, opts)
	if err != nil {
		return err
	}
	cp := filepath.Join(w.st.path, "checkpoint.sst")
	if _, err := writeSST(w.s.fs, cp, opts, func(sw *sstable.Writer) (int, error) {
		return 1, sw.Set(checkpointKey, rec)
	}); err != nil {
		return err
	}
	paths := []string{cp}
	if n > 0 {
		paths = append(paths, rows)
	}
	// What was committed before must be durable before what is ingested,
	// so that a crash leaves a prefix of the writes. Pebble (v2.1) does
	// this itself when the ingest overlaps the memtable, which holds the
	// previous checkpoint record if it is not flushed yet: it moves to a
	// new write-ahead log, closing the old one. The sync here keeps the
	// order without relying on that (TestCheckpointCrash).
	if err := w.s.db.LogData(nil, pebble.Sync); err != nil {
		return err
	}
	return w.s.db.Ingest(context.Background(), paths)
}

// writeRows writes the staged changes into an sstable at path: the
// truncated tables as range deletions (the rows staged after a truncation
// are in the same sstable, at the same sequence number, which a range
// deletion does not cover), the rest as sets and point deletions. It
// returns how many entries it wrote.
func (st *staging) writeRows(path string, opts sstable.WriterOptions) (int, error) {
	return writeSST(st.fs, path, opts, func(sw *sstable.Writer) (int, error) {
		starts := make([]string, 0, len(st.truncated))
		for s := range st.truncated {
			starts = append(starts, s)
		}
		sort.Strings(starts)
		n := 0
		for _, s := range starts {
			if err := sw.DeleteRange([]byte(s), st.truncated[s]); err != nil {
				return n, err
			}
			n++
		}
		it, err := st.db.NewIter(nil)
		if err != nil {
			return n, err
		}
		defer it.Close()
		for ok := it.First(); ok; ok = it.Next() {
			v, err := it.ValueAndErr()
			if err != nil {
				return n, err
			}
			if len(v) == 0 {
				err = sw.Delete(it.Key())
			} else {
				err = sw.Set(it.Key(), v)
			}
			if err != nil {
				return n, err
			}
			n++
		}
		return n, it.Error()
	})
}

// writeSST writes the sstable fill fills at path and returns fill's count.
func writeSST(fs vfs.FS, path string, opts sstable.WriterOptions, fill func(*sstable.Writer) (int, error)) (int, error) {
	f, err := fs.Create(path, vfs.WriteCategoryUnspecified)
	if err != nil {
		return 0, err
	}
	sw := sstable.NewWriter(objstorageprovider.NewFileWritable(f), opts)
	n, err := fill(sw)
	if err != nil {
		sw.Close()
		return 0, err
	}
	return n, sw.Close() // syncs the file, as Ingest requires
}
