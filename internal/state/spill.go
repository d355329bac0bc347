package state

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
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
	db    *pebble.DB
	path  string
	cache *pebble.Cache
	// held is the memory the cache has given back (ShareCache); release
	// undoes that reservation.
	held    int64
	release func()
	val     []byte // Get's result, valid until the next call
	abuf    []byte // Add's operand
	failed  error
}

// DefaultSpillCache is the spill store's block cache when OpenSpill is
// given none, and the least ShareCache leaves it.
const DefaultSpillCache = 64 << 20

// OpenSpill opens an empty spill store in dir/spill with a block cache of
// at most cache bytes (DefaultSpillCache if less).
func OpenSpill(dir string, cache int64, log *slog.Logger) (*Spill, error) {
	cache = max(cache, DefaultSpillCache)
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
	c := pebble.NewCache(cache)
	defer c.Unref() // the store holds its own reference
	db, err := pebble.Open(path, &pebble.Options{
		Logger:       pebbleLogger{log},
		DisableWAL:   true,
		MemTableSize: 32 << 20,
		Cache:        c,
		Comparer:     spillComparer,
		Merger:       weightMerger,
		// The Bloom filters are of buckets (spillComparer's Split): a
		// bucket's scan, and a retraction's read of its entry, look only
		// at the levels that may hold the bucket.
		Levels: [7]pebble.LevelOptions{{FilterPolicy: bloom.FilterPolicy(10)}},
	})
	if err != nil {
		return nil, fmt.Errorf("open operator spill store in %s: %w", path, err)
	}
	return &Spill{db: db, path: path, cache: c}, nil
}

// ShareCache tells the store that held bytes of the memory budget its
// cache was sized by are in use elsewhere (by the arrangements still in
// memory): the cache shrinks by as much, to no less than
// DefaultSpillCache, so that the two together stay within the budget.
// Changes of less than 1/64 of the cache are ignored.
func (s *Spill) ShareCache(held int64) {
	size := s.cache.MaxSize()
	held = max(min(held, size-DefaultSpillCache), 0)
	if d := held - s.held; d < size/64 && -d < size/64 && (held == 0) == (s.held == 0) {
		return
	}
	if s.release != nil {
		s.release()
		s.release = nil
	}
	if s.held = held; held > 0 {
		s.release = s.cache.Reserve(int(held))
	}
}

// spillComparer orders keys as bytes, as pebble's default comparer, and
// splits them after their bucket: the layout of dataflow's spilled
// arrangements is id (4 bytes) | uvarint(n) | n bytes of key | row, and
// a bucket is one arrangement's rows of one key. The prefix encoding is
// self-delimiting, so ordering by bytes orders by bucket first, as pebble
// requires of a Split.
var spillComparer = func() *pebble.Comparer {
	c := *pebble.DefaultComparer
	c.Name = "ripple.spill.bucket.v1"
	c.Split = func(k []byte) int {
		if n, ok := bucketLen(k); ok {
			return n
		}
		return len(k)
	}
	return &c
}()

// bucketLen is the length of k's bucket prefix, if k has one.
func bucketLen(k []byte) (int, bool) {
	if len(k) <= 4 {
		return 0, false
	}
	l, m := binary.Uvarint(k[4:])
	if m <= 0 || l > uint64(len(k)-4-m) {
		return 0, false
	}
	return 4 + m + int(l), true
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

// Add adds w to the varint multiplicity under key without reading it: the
// addition is a pebble merge operand, summed (weightMerger) when the entry
// is read or compacted.
func (s *Spill) Add(key []byte, w int64) (err error) {
	defer s.guard(&err)
	if s.failed != nil {
		return s.failed
	}
	s.abuf = binary.AppendVarint(s.abuf[:0], w)
	if err := s.db.Merge(key, s.abuf, pebble.NoSync); err != nil {
		return fmt.Errorf("write operator spill store: %w", err)
	}
	return nil
}

// AddBatch is Add of every key and weight fill passes to add, written in
// pebble batches of about 8 MiB (not atomically: see Spill).
func (s *Spill) AddBatch(fill func(add func(key []byte, w int64) error) error) (err error) {
	defer s.guard(&err)
	if s.failed != nil {
		return s.failed
	}
	b := s.db.NewBatch()
	defer func() { b.Close() }()
	err = fill(func(key []byte, w int64) error {
		s.abuf = binary.AppendVarint(s.abuf[:0], w)
		if err := b.Merge(key, s.abuf, nil); err != nil {
			return err
		}
		if b.Len() < 8<<20 {
			return nil
		}
		if err := b.Commit(pebble.NoSync); err != nil {
			return err
		}
		b.Reset()
		return nil
	})
	if err == nil {
		err = b.Commit(pebble.NoSync)
	}
	if err != nil {
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

// DeletePrefix removes every key with prefix (a range deletion: pebble
// drops the keys' data as it compacts).
func (s *Spill) DeletePrefix(prefix []byte) (err error) {
	defer s.guard(&err)
	if s.failed != nil {
		return s.failed
	}
	end := prefixEnd(prefix)
	if end == nil {
		return fmt.Errorf("delete from operator spill store: prefix %x has no end", prefix)
	}
	if err := s.db.DeleteRange(prefix, end, pebble.NoSync); err != nil {
		return fmt.Errorf("write operator spill store: %w", err)
	}
	return nil
}

// weightMerger sums the varint multiplicities of the spill store's
// entries. A sum of 0 stays an entry (pebble's DeletableValueMerger would
// drop it, but its compactions can resurrect or panic on such merges over
// a base value: cockroachdb/pebble#6168); dataflow deletes entries that
// reach 0 itself.
var weightMerger = &pebble.Merger{
	Name: "ripple.spill.weight.v1",
	Merge: func(_, value []byte) (pebble.ValueMerger, error) {
		m := &weightSum{}
		return m, m.add(value)
	},
}

type weightSum struct {
	w   int64
	buf [binary.MaxVarintLen64]byte
}

func (m *weightSum) add(v []byte) error {
	w, n := binary.Varint(v)
	if n <= 0 || n != len(v) {
		return fmt.Errorf("undecodable multiplicity %x", v)
	}
	m.w += w
	return nil
}

func (m *weightSum) MergeNewer(v []byte) error { return m.add(v) }
func (m *weightSum) MergeOlder(v []byte) error { return m.add(v) }

func (m *weightSum) Finish(bool) ([]byte, io.Closer, error) {
	return binary.AppendVarint(m.buf[:0], m.w), nil, nil
}

// Scan calls fn for every key with prefix, in key order; key and value are
// valid only during the call. A prefix that is a whole bucket is sought
// through the Bloom filters.
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
	var ok bool
	if n, isBucket := bucketLen(prefix); isBucket && n == len(prefix) {
		ok = it.SeekPrefixGE(prefix)
	} else {
		ok = it.First()
	}
	for ; ok; ok = it.Next() {
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
	if s.release != nil {
		s.release()
		s.release = nil
	}
	return s.db.Close()
}
