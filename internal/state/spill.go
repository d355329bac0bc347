package state

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
)

// Spill is the scratch store the dataflow graph's arrangements move to
// once they outgrow the operator memory budget (it implements
// dataflow.Spill). It lives in state_dir/spill, apart from the engine's
// durable state: nothing in it is ever read back after a restart (the
// graph is rebuilt from the stored table copies), so it has no write-ahead
// log, and it is emptied when it is opened and removed when it is closed.
// Pebble's block cache keeps the hot part of it in memory.
type Spill struct {
	db     *pebble.DB
	path   string
	val    []byte // Get's result, valid until the next call
	failed error
}

// OpenSpill opens an empty spill store in dir/spill with a 64 MiB block
// cache.
func OpenSpill(dir string, log *slog.Logger) (*Spill, error) {
	if log == nil {
		log = slog.Default()
	}
	path := filepath.Join(dir, "spill")
	if err := os.RemoveAll(path); err != nil {
		return nil, fmt.Errorf("state_dir %s: empty the operator spill store: %w", dir, err)
	}
	if err := os.MkdirAll(path, 0o750); err != nil {
		return nil, fmt.Errorf("state_dir %s: %w", dir, err)
	}
	db, err := pebble.Open(path, &pebble.Options{
		Logger:       pebbleLogger{log},
		DisableWAL:   true,
		MemTableSize: 32 << 20,
		CacheSize:    64 << 20,
		// Most writes are read-modify-writes of one entry: a Bloom filter
		// answers the lookups of entries that are not there yet.
		Levels: [7]pebble.LevelOptions{{FilterPolicy: bloom.FilterPolicy(10)}},
	})
	if err != nil {
		return nil, fmt.Errorf("open operator spill store in %s: %w", path, err)
	}
	return &Spill{db: db, path: path}, nil
}

// guard turns a pebble fatal error (pebbleLogger.Fatalf panics) into *err;
// the store refuses every later use.
func (s *Spill) guard(err *error) {
	if r := recover(); r != nil {
		f, ok := r.(fatalError)
		if !ok {
			panic(r)
		}
		s.failed = fmt.Errorf("operator spill store in %s: %s", s.path, f.msg)
		*err = s.failed
	}
}

// Get returns the value under key; it is valid until the next call.
func (s *Spill) Get(key []byte) (_ []byte, ok bool, err error) {
	defer s.guard(&err)
	if s.failed != nil {
		return nil, false, s.failed
	}
	v, closer, err := s.db.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("read operator spill store: %w", err)
	}
	s.val = append(s.val[:0], v...)
	closer.Close()
	return s.val, true, nil
}

// Set writes value under key (not durably: see Spill).
func (s *Spill) Set(key, value []byte) (err error) {
	defer s.guard(&err)
	if s.failed != nil {
		return s.failed
	}
	if err := s.db.Set(key, value, pebble.NoSync); err != nil {
		return fmt.Errorf("write operator spill store: %w", err)
	}
	return nil
}

// Delete removes key.
func (s *Spill) Delete(key []byte) (err error) {
	defer s.guard(&err)
	if s.failed != nil {
		return s.failed
	}
	if err := s.db.Delete(key, pebble.NoSync); err != nil {
		return fmt.Errorf("write operator spill store: %w", err)
	}
	return nil
}

// Scan calls fn for every key with prefix, in key order; key and value are
// valid only during the call.
func (s *Spill) Scan(prefix []byte, fn func(key, value []byte) error) (err error) {
	defer s.guard(&err)
	if s.failed != nil {
		return s.failed
	}
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: prefixEnd(prefix)})
	if err != nil {
		return fmt.Errorf("read operator spill store: %w", err)
	}
	defer it.Close()
	for ok := it.First(); ok; ok = it.Next() {
		v, err := it.ValueAndErr()
		if err != nil {
			return fmt.Errorf("read operator spill store: %w", err)
		}
		if err := fn(it.Key(), v); err != nil {
			return err
		}
	}
	return it.Error()
}

// Close closes the store and removes its files.
func (s *Spill) Close() (err error) {
	defer func() {
		if rerr := os.RemoveAll(s.path); rerr != nil && err == nil {
			err = fmt.Errorf("remove operator spill store: %w", rerr)
		}
	}()
	defer s.guard(&err)
	return s.db.Close()
}
