package state

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"math/rand"
	"slices"
	"testing"
)

// spillKey is dataflow's layout of a spilled arrangement's entry: id |
// uvarint(len(key)) | key | row.
func spillKey(id uint32, key, rest string) []byte {
	k := binary.BigEndian.AppendUint32(nil, id)
	k = binary.AppendUvarint(k, uint64(len(key)))
	return append(append(k, key...), rest...)
}

// TestSpillScanBuckets checks that a bucket's scan, sought through the
// bucket Bloom filters, returns exactly that bucket's entries, from the
// memtable and from flushed tables, next to buckets whose keys extend or
// share its bytes, and that an arrangement's whole scan returns all of its
// entries in order.
func TestSpillScanBuckets(t *testing.T) {
	s, err := OpenSpill(t.TempDir(), 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rng := rand.New(rand.NewSource(1))
	keys := []string{"", "a", "ab", "abc", "b", "\x00", "\x00\x00", string(make([]byte, 200)), "\xff"}
	want := map[string][]string{} // id:key → its entries' row parts
	var all [][]byte
	put := func(id uint32, key string) {
		rest := fmt.Sprintf("row-%d", rng.Intn(1000000))
		k := spillKey(id, key, rest)
		if err := s.Set(k, []byte{2}); err != nil {
			t.Fatal(err)
		}
		b := fmt.Sprint(id, ":", key)
		if !slices.Contains(want[b], rest) {
			want[b] = append(want[b], rest)
			all = append(all, k)
		}
	}
	check := func(stage string) {
		t.Helper()
		for _, id := range []uint32{0, 1, 256} {
			for _, key := range keys {
				prefix := spillKey(id, key, "")
				var got []string
				if err := s.Scan(prefix, func(k, v []byte) error {
					got = append(got, string(k[len(prefix):]))
					return nil
				}); err != nil {
					t.Fatal(err)
				}
				w := slices.Clone(want[fmt.Sprint(id, ":", key)])
				slices.Sort(w)
				if !slices.Equal(got, w) {
					t.Fatalf("%s: bucket %d:%q: got %q, want %q", stage, id, key, got, w)
				}
			}
			var got [][]byte
			idp := binary.BigEndian.AppendUint32(nil, id)
			if err := s.Scan(idp, func(k, _ []byte) error {
				got = append(got, bytes.Clone(k))
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			var w [][]byte
			for _, k := range all {
				if bytes.HasPrefix(k, idp) {
					w = append(w, k)
				}
			}
			slices.SortFunc(w, bytes.Compare)
			if !slices.EqualFunc(got, w, bytes.Equal) {
				t.Fatalf("%s: arrangement %d: got %d entries, want %d", stage, id, len(got), len(w))
			}
		}
	}
	for i := 0; i < 3000; i++ {
		put([]uint32{0, 1, 256}[rng.Intn(3)], keys[rng.Intn(len(keys)-1)]) // "\xff" stays empty
	}
	check("memtable")
	if err := s.db.Flush(); err != nil {
		t.Fatal(err)
	}
	check("flushed")
	for i := 0; i < 500; i++ {
		put(1, keys[rng.Intn(len(keys)-1)])
	}
	check("flushed and memtable")
	// Gets find flushed entries and miss absent ones in present buckets.
	for _, k := range all[:100] {
		if _, ok, err := s.Get(k); err != nil || !ok {
			t.Fatalf("Get %x: ok %v, %v", k, ok, err)
		}
		if _, ok, err := s.Get(append(slices.Clone(k), 'x')); err != nil || ok {
			t.Fatalf("Get of an absent entry %x: ok %v, %v", k, ok, err)
		}
	}
}

// TestSpillShareCache checks the cache's reservation for the memory the
// arrangements in memory hold: clamped so the cache keeps
// DefaultSpillCache, small changes ignored, and given back at zero.
func TestSpillShareCache(t *testing.T) {
	const size = 1 << 30
	s, err := OpenSpill(t.TempDir(), size, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got := s.cache.MaxSize(); got != size {
		t.Fatalf("cache size %d, want %d", got, size)
	}
	for _, c := range []struct{ held, want int64 }{
		{100 << 20, 100 << 20},
		{101 << 20, 100 << 20}, // under 1/64 of the cache: ignored
		{200 << 20, 200 << 20},
		{2 << 30, size - DefaultSpillCache},
		{-5, 0},
		{1, 1}, // from nothing to something is never ignored
		{0, 0},
	} {
		s.ShareCache(c.held)
		if s.held != c.want || (s.release != nil) != (c.want > 0) {
			t.Fatalf("ShareCache(%d): reserved %d (release %v), want %d", c.held, s.held, s.release != nil, c.want)
		}
	}
	small, err := OpenSpill(t.TempDir(), 1<<20, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer small.Close()
	if got := small.cache.MaxSize(); got != DefaultSpillCache {
		t.Fatalf("cache of a 1 MiB budget: %d, want DefaultSpillCache", got)
	}
	small.ShareCache(1 << 30)
	if small.held != 0 {
		t.Fatalf("a DefaultSpillCache cache gave back %d", small.held)
	}
}

// TestSpillAdd checks the blind additions: they sum with what Set wrote
// and with each other, in the memtable and across flushes and compactions
// (an entry that sums to 0 stays, holding 0, until it is deleted).
func TestSpillAdd(t *testing.T) {
	s, err := OpenSpill(t.TempDir(), 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rng := rand.New(rand.NewSource(2))
	want := map[string]int64{}
	key := func(i int) []byte { return spillKey(7, fmt.Sprint(i%13), fmt.Sprint(i)) }
	check := func(stage string) {
		t.Helper()
		for i := 0; i < 200; i++ {
			v, ok, err := s.Get(key(i))
			if err != nil {
				t.Fatal(err)
			}
			var got int64
			if ok {
				var n int
				if got, n = binary.Varint(v); n != len(v) {
					t.Fatalf("%s: entry %d holds %x", stage, i, v)
				}
			}
			if _, written := want[string(key(i))]; ok != written || got != want[string(key(i))] {
				t.Fatalf("%s: entry %d: %d, want %d", stage, i, got, want[string(key(i))])
			}
		}
		n := 0
		if err := s.Scan(binary.BigEndian.AppendUint32(nil, 7), func(k, v []byte) error {
			if w, _ := binary.Varint(v); w != want[string(k)] {
				t.Fatalf("%s: scan: %x holds %d, want %d", stage, k, w, want[string(k)])
			}
			n++
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if n != len(want) {
			t.Fatalf("%s: scan returned %d entries, want %d", stage, n, len(want))
		}
	}
	for round := 0; round < 4; round++ {
		for j := 0; j < 2000; j++ {
			i := rng.Intn(200)
			k := key(i)
			if j%50 == 0 {
				if err := s.Delete(k); err != nil {
					t.Fatal(err)
				}
				delete(want, string(k))
				continue
			}
			if j%10 == 0 {
				w := int64(rng.Intn(3) + 1)
				if err := s.Set(k, binary.AppendVarint(nil, w)); err != nil {
					t.Fatal(err)
				}
				want[string(k)] = w
				continue
			}
			w := int64(rng.Intn(5) - 2)
			if err := s.Add(k, w); err != nil {
				t.Fatal(err)
			}
			want[string(k)] += w
		}
		check(fmt.Sprintf("round %d", round))
		if err := s.db.Flush(); err != nil {
			t.Fatal(err)
		}
		check(fmt.Sprintf("round %d, flushed", round))
	}
	if err := s.db.Compact(context.Background(), []byte{0}, []byte{0xff}, true); err != nil {
		t.Fatal(err)
	}
	check("compacted")
}
