package state

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/rippledb/ripple/internal/row"
)

// FormatVersion is the version of the on-disk layout; a store written by
// another version is not read (the pipeline then takes a fresh snapshot).
const FormatVersion = 1

// Key space: one checkpoint record, and one key per stored row of a table.
var (
	checkpointKey = []byte("c")
	tablePrefix   = byte('t')
)

// Checkpoint says which source transaction the stored tables reflect.
type Checkpoint struct {
	Version int `json:"version"`
	// Fingerprint identifies the views, tables and sinks the state was
	// built for; state built for other views is not reused.
	Fingerprint string `json:"fingerprint"`
	Slot        string `json:"slot"`
	// LSN is the commit LSN of the last source transaction in the state
	// (the snapshot's consistent point right after the initial load).
	LSN row.LSN `json:"lsn"`
	// EndLSN is the position streaming resumes from and the slot may be
	// acknowledged up to once this checkpoint is synced.
	EndLSN row.LSN `json:"end_lsn"`
	// Sinks holds, per sink, the progress LSN ripple last committed to it
	// at or before this checkpoint. A sink found below it on restart lost
	// committed data (restored from a backup, progress row deleted).
	Sinks map[string]row.LSN `json:"sinks"`
	// FailedViews are the views stopped by a runtime error, with the error
	// and the LSN of the transaction that failed them: their sink tables
	// are frozen until a resync, also across restarts.
	FailedViews map[string]FailedView `json:"failed_views,omitempty"`
	// Now is the logical time (now() in views with temporal filters, in
	// microseconds since 2000-01-01 UTC) of the last step in the state:
	// the graph is rebuilt at it on resume, so that it equals the sinks.
	Now int64 `json:"now,omitempty"`
	// TickPending is set while a tick's changes (a step at Now with no
	// source transaction) are being committed to the sinks: resuming from
	// such a checkpoint cannot tell which sinks hold them, so the sinks
	// holding views with temporal filters are loaded again.
	TickPending bool `json:"tick_pending,omitempty"`
	// Rows is the number of stored table rows (with multiplicity).
	Rows int64     `json:"rows"`
	Time time.Time `json:"time"`
}

// FailedView is a view stopped by a runtime error.
type FailedView struct {
	Error string  `json:"error"`
	LSN   row.LSN `json:"lsn"`
}

// Store is an open state directory.
type Store struct {
	db   *pebble.DB
	dir  string
	opts *pebble.Options
	// fs holds the store and its staging stores: the operating system's
	// file system (a crashable one in memory in tests, see openFS).
	fs  vfs.FS
	log *slog.Logger
	// stagings numbers the writers' staging stores.
	stagings int

	mu      sync.Mutex
	written row.LSN // EndLSN of the last committed checkpoint
	synced  row.LSN // EndLSN of the last checkpoint known durable
	failed  error   // set after pebble failed fatally; the store is unusable
}

// Open opens (creating if needed) the store in dir/engine.
func Open(dir string, log *slog.Logger) (*Store, error) {
	return openFS(dir, log, vfs.Default)
}

func openFS(dir string, log *slog.Logger, fs vfs.FS) (*Store, error) {
	if log == nil {
		log = slog.Default()
	}
	path := filepath.Join(dir, "engine")
	if err := mkdirAllSynced(fs, path); err != nil {
		return nil, fmt.Errorf("state_dir %s: %w", dir, err)
	}
	if fs == vfs.Default {
		if err := writable(path); err != nil {
			return nil, fmt.Errorf("state_dir %s is not writable: %w", dir, err)
		}
	}
	opts := &pebble.Options{
		FS:           fs,
		Logger:       pebbleLogger{log},
		MemTableSize: 16 << 20,
		CacheSize:    64 << 20,
		// Tables kept on disk (see pipeline's table memory budget) look
		// up a row for every change; a Bloom filter answers most lookups
		// of absent keys without reading a block.
		Levels: [7]pebble.LevelOptions{{FilterPolicy: bloom.FilterPolicy(10)}},
	}
	opts.EnsureDefaults() // as pebble.Open does: the staged sstables are written with them
	// A large transaction's staging stores (see Writer) are scratch.
	if err := fs.RemoveAll(filepath.Join(dir, stagingDir)); err != nil {
		return nil, fmt.Errorf("state_dir %s: remove the staging area: %w", dir, err)
	}
	db, err := pebble.Open(path, opts)
	if err != nil {
		return nil, fmt.Errorf("open state in %s: %w", path, err)
	}
	s := &Store{db: db, dir: dir, opts: opts, fs: fs, log: log}
	cp, err := s.Checkpoint()
	if err != nil {
		db.Close()
		return nil, err
	}
	if cp != nil {
		// What the write-ahead log replay recovered may still be only in
		// the page cache (a NoSync write before a crash of the process):
		// flush it before it counts as durable.
		if err := db.Flush(); err != nil {
			db.Close()
			return nil, fmt.Errorf("flush recovered state in %s: %w", path, err)
		}
		s.written, s.synced = cp.EndLSN, cp.EndLSN
	}
	return s, nil
}

// mkdirAllSynced creates path and the directories above it that are
// missing, and syncs the parent of each one it created: a directory entry
// is durable only once its parent is synced, so without this a power loss
// after the first checkpoint could take the whole new state directory.
func mkdirAllSynced(fs vfs.FS, path string) error {
	top := path // the highest directory that is missing
	for d := path; ; {
		if _, err := fs.Stat(d); err == nil {
			break
		}
		top = d
		up := filepath.Dir(d)
		if up == d {
			break
		}
		d = up
	}
	if top == path {
		// Already there: its entry and its parent's are synced again, in
		// case a start that created them stopped before syncing.
		top = filepath.Dir(path)
	}
	if err := fs.MkdirAll(path, 0o750); err != nil {
		return err
	}
	for d := path; ; d = filepath.Dir(d) {
		parent, err := fs.OpenDir(filepath.Dir(d))
		if err != nil {
			return err
		}
		err = parent.Sync()
		parent.Close()
		if err != nil {
			return fmt.Errorf("sync directory %s: %w", filepath.Dir(d), err)
		}
		if d == top {
			return nil
		}
	}
}

// writable checks that a file can be created in path, so that a read-only
// directory is reported clearly at start rather than at the first write.
func writable(path string) error {
	f, err := os.CreateTemp(path, ".probe-*")
	if err != nil {
		return err
	}
	name := f.Name()
	f.Close()
	return os.Remove(name)
}

// Close closes the store.
func (s *Store) Close() (err error) {
	defer s.recoverFatal(&err)
	if s.usable() != nil {
		return nil // pebble cannot be closed cleanly after a fatal error; the process ends
	}
	return s.db.Close()
}

// Dir is the state directory.
func (s *Store) Dir() string { return s.dir }

// Checkpoint reads the checkpoint record, or nil when the store holds no
// complete state (new, reset, or an initial load that did not finish).
func (s *Store) Checkpoint() (*Checkpoint, error) {
	v, closer, err := s.db.Get(checkpointKey)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read checkpoint in %s: %w", s.dir, err)
	}
	defer closer.Close()
	var cp Checkpoint
	if err := json.Unmarshal(v, &cp); err != nil {
		return nil, fmt.Errorf("state in %s: checkpoint record is unreadable: %w", s.dir, err)
	}
	return &cp, nil
}

// Reset forgets the checkpoint (durably, first) and every stored row.
func (s *Store) Reset() (err error) {
	defer s.recoverFatal(&err)
	if err := s.usable(); err != nil {
		return err
	}
	if err := s.db.Delete(checkpointKey, pebble.Sync); err != nil {
		return fmt.Errorf("reset state in %s: %w", s.dir, err)
	}
	b := s.db.NewBatch()
	defer b.Close()
	if err := b.DeleteRange([]byte{tablePrefix}, []byte{tablePrefix + 1}, nil); err != nil {
		return err
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return fmt.Errorf("reset state in %s: %w", s.dir, err)
	}
	s.mu.Lock()
	s.written, s.synced = 0, 0
	s.mu.Unlock()
	return nil
}

// Sync makes every committed checkpoint durable and returns the EndLSN of
// the last one.
func (s *Store) Sync() (_ row.LSN, err error) {
	defer s.recoverFatal(&err)
	if err := s.usable(); err != nil {
		return 0, err
	}
	s.mu.Lock()
	w := s.written
	s.mu.Unlock()
	if err := s.db.LogData(nil, pebble.Sync); err != nil {
		return 0, fmt.Errorf("sync state in %s: %w", s.dir, err)
	}
	s.mu.Lock()
	s.synced = max(s.synced, w)
	synced := s.synced
	s.mu.Unlock()
	return synced, nil
}

// Synced is the EndLSN of the last checkpoint known durable.
func (s *Store) Synced() row.LSN {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.synced
}

// DiskSize is the size of the store's files in bytes.
func (s *Store) DiskSize() int64 {
	m := s.db.Metrics()
	return int64(m.DiskSpaceUsage())
}

func tableKeyPrefix(table string) []byte {
	k := []byte{tablePrefix}
	k = binary.AppendUvarint(k, uint64(len(table)))
	return append(k, table...)
}

// prefixEnd is the smallest key above every key starting with prefix.
func prefixEnd(prefix []byte) []byte {
	end := append([]byte(nil), prefix...)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil // prefix is all 0xff: no upper bound
}

// Scan calls fn for every stored row of table, in key order.
func (s *Store) Scan(table string, fn func(key string, r row.Row, n int64) error) error {
	return s.Table(table).Scan(func(key, enc string, n int64) error {
		r, rest, err := row.DecodeBinaryString(enc)
		if err != nil || rest != "" {
			return fmt.Errorf("state of table %s: malformed row", table)
		}
		return fn(key, r, n)
	})
}

// TableReader reads the committed rows of one table. It is not safe for
// concurrent use.
type TableReader struct {
	s      *Store
	table  string
	prefix []byte
	buf    []byte
}

// Table returns a reader of table's rows.
func (s *Store) Table(table string) *TableReader {
	return &TableReader{s: s, table: table, prefix: tableKeyPrefix(table)}
}

// Get reads the row stored under key: its row.AppendBinary encoding and
// multiplicity, or ok false.
func (t *TableReader) Get(key string) (enc string, n int64, ok bool, err error) {
	defer t.s.recoverFatal(&err)
	if err := t.s.usable(); err != nil {
		return "", 0, false, err
	}
	t.buf = append(append(t.buf[:0], t.prefix...), key...)
	v, closer, err := t.s.db.Get(t.buf)
	if errors.Is(err, pebble.ErrNotFound) {
		return "", 0, false, nil
	}
	if err != nil {
		return "", 0, false, fmt.Errorf("read state of table %s: %w", t.table, err)
	}
	defer closer.Close()
	n, m := binary.Varint(v)
	if m <= 0 {
		return "", 0, false, fmt.Errorf("state of table %s: malformed row", t.table)
	}
	return string(v[m:]), n, true, nil
}

// Scan calls fn for every stored row of the table in key order, with the
// row in its row.AppendBinary encoding (key and enc are fresh copies).
func (t *TableReader) Scan(fn func(key, enc string, n int64) error) (err error) {
	defer t.s.recoverFatal(&err)
	if err := t.s.usable(); err != nil {
		return err
	}
	it, err := t.s.db.NewIter(&pebble.IterOptions{LowerBound: t.prefix, UpperBound: prefixEnd(t.prefix)})
	if err != nil {
		return err
	}
	defer it.Close()
	for ok := it.First(); ok; ok = it.Next() {
		k := it.Key()
		v, err := it.ValueAndErr()
		if err != nil {
			return fmt.Errorf("read state of table %s: %w", t.table, err)
		}
		n, m := binary.Varint(v)
		if m <= 0 {
			return fmt.Errorf("state of table %s: malformed row", t.table)
		}
		if err := fn(string(k[len(t.prefix):]), string(v[m:]), n); err != nil {
			return err
		}
	}
	return it.Error()
}

// Writer collects row changes and commits them atomically with a
// checkpoint. The changes are collected in a pebble batch, in memory,
// until the batch passes stageBatch bytes or Stage is called; from then on
// they move to a staging store of the writer's own (see staging), and
// Commit writes them into the store by ingesting sstables built from it.
type Writer struct {
	s  *Store
	b  *pebble.Batch
	st *staging // nil until the changes are staged
	// load: an initial load's writer, which Flushes its rows to the store
	// in chunks and never stages (a single row may pass stageBatch).
	load     bool
	prefixes map[string][]byte
	buf      []byte // value being encoded; pebble copies it into the batch
	kbuf     []byte // key being built, likewise
}

// NewWriter starts a batch.
func (s *Store) NewWriter() *Writer {
	return &Writer{s: s, b: s.db.NewBatch(), prefixes: map[string][]byte{}}
}

// NewLoadWriter starts the initial load's writer (see Flush): its batch
// is never staged.
func (s *Store) NewLoadWriter() *Writer {
	w := s.NewWriter()
	w.load = true
	return w
}

func (w *Writer) prefix(table string) []byte {
	p, ok := w.prefixes[table]
	if !ok {
		p = tableKeyPrefix(table)
		w.prefixes[table] = p
	}
	return p
}

// Put stores row r with multiplicity n under key in table.
func (w *Writer) Put(table, key string, r row.Row, n int64) error {
	w.buf = binary.AppendVarint(w.buf[:0], n)
	w.buf = row.AppendBinary(w.buf, r)
	return w.set(w.key(table, key), w.buf)
}

// PutEncoded is Put for a row already in row.AppendBinary form.
func (w *Writer) PutEncoded(table, key, enc string, n int64) error {
	w.buf = binary.AppendVarint(w.buf[:0], n)
	w.buf = append(w.buf, enc...)
	return w.set(w.key(table, key), w.buf)
}

func (w *Writer) set(k, v []byte) error {
	if err := w.b.Set(k, v, nil); err != nil {
		return err
	}
	return w.grown()
}

// grown stages the batch once it passes stageBatch bytes.
func (w *Writer) grown() error {
	if w.load || w.b.Len() < stageBatch {
		return nil
	}
	return w.Stage()
}

// key builds table's key for key in the writer's reused buffer.
func (w *Writer) key(table, key string) []byte {
	w.kbuf = append(append(w.kbuf[:0], w.prefix(table)...), key...)
	return w.kbuf
}

// Delete removes key from table.
func (w *Writer) Delete(table, key string) error {
	if err := w.b.Delete(w.key(table, key), nil); err != nil {
		return err
	}
	return w.grown()
}

// DeleteTable removes every row of table (TRUNCATE): the rows stored
// before and those written to w so far.
func (w *Writer) DeleteTable(table string) error {
	p := w.prefix(table)
	return w.b.DeleteRange(p, prefixEnd(p), nil)
}

// Size is the batch's size in bytes.
func (w *Writer) Size() int { return w.b.Len() }

// Flush commits the rows collected so far without a checkpoint (for the
// initial load, which is written in chunks and becomes valid only with the
// checkpoint its last Commit writes).
func (w *Writer) Flush() (err error) {
	defer w.s.recoverFatal(&err)
	if err := w.s.usable(); err != nil {
		return err
	}
	if w.st != nil {
		return errors.New("state: Flush of a writer whose changes are staged")
	}
	if w.b.Empty() {
		return nil
	}
	if err := w.b.Commit(pebble.NoSync); err != nil {
		return fmt.Errorf("write state in %s: %w", w.s.dir, err)
	}
	w.b.Close()
	w.b = w.s.db.NewBatch()
	return nil
}

// Commit writes the collected rows and cp atomically; with sync the
// write-ahead log is synced before Commit returns (staged changes are
// always durable when it returns). The writer is finished afterwards.
func (w *Writer) Commit(cp *Checkpoint, sync bool) (err error) {
	defer w.Abort()
	defer w.s.recoverFatal(&err)
	if err := w.s.usable(); err != nil {
		return err
	}
	cp.Version = FormatVersion
	cp.Time = time.Now().UTC()
	v, err := json.Marshal(cp)
	if err != nil {
		return err
	}
	if w.st != nil {
		if err := w.ingest(v); err != nil {
			return fmt.Errorf("write state in %s: %w", w.s.dir, err)
		}
		sync = true
	} else {
		if err := w.b.Set(checkpointKey, v, nil); err != nil {
			return err
		}
		opt := pebble.NoSync
		if sync {
			opt = pebble.Sync
		}
		if err := w.b.Commit(opt); err != nil {
			return fmt.Errorf("write state in %s: %w", w.s.dir, err)
		}
	}
	w.s.mu.Lock()
	w.s.written = cp.EndLSN
	if sync {
		w.s.synced = cp.EndLSN
	}
	w.s.mu.Unlock()
	return nil
}

// Abort drops the collected changes (after Commit: releases the writer).
func (w *Writer) Abort() {
	if w.b != nil {
		w.b.Close()
		w.b = nil
	}
	if w.st != nil {
		w.st.close(w.s.log)
		w.st = nil
	}
}

// pebbleLogger sends pebble's messages to slog; pebble calls Fatalf only
// for conditions it cannot continue from, and expects it not to return.
type pebbleLogger struct{ log *slog.Logger }

func (l pebbleLogger) Infof(format string, args ...any) {
	l.log.Debug("state store: " + fmt.Sprintf(format, args...))
}
func (l pebbleLogger) Errorf(format string, args ...any) {
	l.log.Error("state store: " + fmt.Sprintf(format, args...))
}
func (l pebbleLogger) Fatalf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	l.log.Error("state store: fatal: " + msg)
	panic(fatalError{msg})
}

// fatalError is what pebble's Fatalf panics with. A commit that fails (the
// disk is full, the directory became read-only) calls Fatalf in the
// committing goroutine: the Store methods recover it into an error, and
// the store refuses every later use. What was committed before is intact
// (the write-ahead log is replayed as a prefix on the next open).
type fatalError struct{ msg string }

// recoverFatal turns a fatalError panic into *err and marks s failed.
func (s *Store) recoverFatal(err *error) {
	if r := recover(); r != nil {
		f, ok := r.(fatalError)
		if !ok {
			panic(r)
		}
		s.mu.Lock()
		s.failed = fmt.Errorf("state in %s: %s", s.dir, f.msg)
		*err = s.failed
		s.mu.Unlock()
	}
}

// usable returns the error that made the store unusable, if any.
func (s *Store) usable() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.failed
}
