package bytemap

import (
	"bytes"
	"fmt"
	"math/rand"
	"runtime"
	"strings"
	"testing"
)

// check compares m with the model, through Get, Len and Range.
func check(t *testing.T, m *Map, model map[string]string, when string) {
	t.Helper()
	if m.Len() != len(model) {
		t.Fatalf("%s: Len %d, want %d", when, m.Len(), len(model))
	}
	for k, want := range model {
		v, ok := m.Get(k)
		if !ok || string(v) != want {
			t.Fatalf("%s: Get(%q) = %q, %v; want %q", when, k, v, ok, want)
		}
		if v, ok := m.GetBytes([]byte(k)); !ok || string(v) != want {
			t.Fatalf("%s: GetBytes(%q) = %q, %v; want %q", when, k, v, ok, want)
		}
	}
	seen := map[string]bool{}
	m.Range(func(k, v []byte) bool {
		if seen[string(k)] {
			t.Fatalf("%s: Range gave %q twice", when, k)
		}
		seen[string(k)] = true
		if want, ok := model[string(k)]; !ok || want != string(v) {
			t.Fatalf("%s: Range gave %q = %q; model has %q, %v", when, k, v, want, ok)
		}
		return true
	})
	if len(seen) != len(model) {
		t.Fatalf("%s: Range gave %d entries, want %d", when, len(seen), len(model))
	}
}

// TestRandomAgainstMap runs random Sets (same-length overwrites, longer
// and shorter values, empty keys and values), Deletes and Clears against a
// Go map, with the real hash and with one that makes most keys collide,
// across enough churn to compact several times.
func TestRandomAgainstMap(t *testing.T) {
	for _, weak := range []bool{false, true} {
		t.Run(fmt.Sprintf("collisions=%v", weak), func(t *testing.T) {
			rng := rand.New(rand.NewSource(1))
			m := New()
			if weak {
				m.weak = true
			}
			model := map[string]string{}
			key := func() string {
				if rng.Intn(50) == 0 {
					return ""
				}
				return fmt.Sprintf("k%d", rng.Intn(3000))
			}
			val := func() string { return strings.Repeat(string(rune('a'+rng.Intn(26))), rng.Intn(40)) }
			for i := 0; i < 200000; i++ {
				k := key()
				switch r := rng.Intn(20); {
				case r < 12:
					v := val()
					if r%2 == 0 {
						m.SetBytes([]byte(k), []byte(v))
					} else {
						m.Set(k, []byte(v))
					}
					model[k] = v
				case r < 16:
					if old, ok := model[k]; ok { // same length: in place
						v := []byte(old)
						for j := range v {
							v[j]++
						}
						m.Set(k, v)
						model[k] = string(v)
					}
				case r < 19:
					_, had := model[k]
					del := m.Delete
					if r == 17 {
						del = func(k string) bool { return m.DeleteBytes([]byte(k)) }
					}
					if got := del(k); got != had {
						t.Fatalf("op %d: Delete(%q) = %v, want %v", i, k, got, had)
					}
					delete(model, k)
				default:
					if rng.Intn(2000) == 0 {
						m.Clear()
						clear(model)
					}
				}
				if i%5000 == 0 {
					check(t, m, model, fmt.Sprintf("op %d", i))
				}
			}
			check(t, m, model, "end")
			if m.deadBytes > 2*chunkSize && m.deadBytes > 2*m.live {
				t.Fatalf("dead bytes %d outweigh live %d: compaction does not keep up", m.deadBytes, m.live)
			}
			if m.compacted == 0 {
				t.Fatal("no chunk was compacted")
			}
			if weak && len(m.coll) == 0 {
				t.Fatal("the weak hash made no collisions")
			}
		})
	}
}

// TestCompactionKeepsEntries: overwriting every value with a longer one,
// again and again, compacts (memory stays within a few times the live
// bytes) and loses nothing.
func TestCompactionKeepsEntries(t *testing.T) {
	m := New()
	model := map[string]string{}
	for round := 0; round < 20; round++ {
		for i := 0; i < 20000; i++ {
			k := fmt.Sprintf("key-%d", i)
			v := fmt.Sprintf("%d-%s", round, strings.Repeat("v", round%7+10))
			m.Set(k, []byte(v))
			model[k] = v
		}
	}
	check(t, m, model, "after 20 rounds")
	if m.capacity > 3*m.live+4*chunkSize || len(m.free) == 0 {
		t.Fatalf("%d bytes of chunks for %d live, %d chunks freed: dead records were not compacted away", m.capacity, m.live, len(m.free))
	}
}

// TestSetFromOwnSlice: a value Get returned may be passed back to Set,
// for the same key or another one, whatever its new length.
func TestSetFromOwnSlice(t *testing.T) {
	m := New()
	m.Set("a", []byte("hello"))
	v, _ := m.Get("a")
	m.Set("b", v)
	v, _ = m.Get("a")
	m.Set("a", v[:3])
	check(t, m, map[string]string{"a": "hel", "b": "hello"}, "after")
}

// TestLargeValue: a record larger than a chunk gets a chunk of its own.
func TestLargeValue(t *testing.T) {
	m := New()
	big := bytes.Repeat([]byte("x"), 3*chunkSize)
	m.Set("small", []byte("s"))
	m.Set("big", big)
	m.Set("small2", []byte("t"))
	check(t, m, map[string]string{"small": "s", "big": string(big), "small2": "t"}, "after")
}

// TestBytesPerEntry reports, and bounds loosely, the memory of a map of
// table-copy-sized entries against the same in a map[string]string: the
// point of the package.
func TestBytesPerEntry(t *testing.T) {
	const n = 200000
	key := func(i int) string { return fmt.Sprintf("%08d", i) }
	val := []byte(strings.Repeat("r", 40))
	heap := func() uint64 {
		runtime.GC()
		var s runtime.MemStats
		runtime.ReadMemStats(&s)
		return s.HeapAlloc
	}
	h0 := heap()
	m := New()
	for i := 0; i < n; i++ {
		m.Set(key(i), val)
	}
	h1 := heap()
	g := map[string]string{}
	for i := 0; i < n; i++ {
		g[key(i)] = string(val)
	}
	h2 := heap()
	per, perGo := float64(h1-h0)/n, float64(h2-h1)/n
	t.Logf("%d entries of an 8-byte key and a 40-byte value: %.1f B each in a Map (estimate %.1f), %.1f B in a map[string]string",
		n, per, float64(m.Bytes())/n, perGo)
	if per > perGo {
		t.Errorf("a Map takes %.1f B per entry, more than a map[string]string's %.1f", per, perGo)
	}
	runtime.KeepAlive(m)
	runtime.KeepAlive(g)
}

// TestCompactionIsIncremental: churn on a map of many chunks never
// compacts more than one chunk per call, and keeps the dead bytes within a
// few chunks of the live ones.
func TestCompactionIsIncremental(t *testing.T) {
	m := New()
	val := func(i, round int) []byte { return []byte(strings.Repeat("v", 30+(i+round)%20)) }
	const n = 100000
	for i := 0; i < n; i++ {
		m.Set(fmt.Sprintf("key-%d", i), val(i, 0))
	}
	for round := 1; round < 6; round++ {
		for i := 0; i < n; i++ {
			before := m.compacted
			m.Set(fmt.Sprintf("key-%d", i), val(i, round))
			if m.compacted-before > 1 {
				t.Fatalf("one Set compacted %d chunks", m.compacted-before)
			}
		}
		if m.deadBytes > m.live+2*chunkSize {
			t.Fatalf("round %d: %d dead bytes for %d live", round, m.deadBytes, m.live)
		}
	}
	if m.compacted == 0 {
		t.Fatal("no chunk was compacted")
	}
	model := map[string]string{}
	for i := 0; i < n; i++ {
		model[fmt.Sprintf("key-%d", i)] = string(val(i, 5))
	}
	check(t, m, model, "after the churn")
}

// TestSmallMapChurn: a map of a few entries that keep being replaced stays
// a few times their size, not a chunk of a megabyte.
func TestSmallMapChurn(t *testing.T) {
	m := New()
	model := map[string]string{}
	for i := 0; i < 20000; i++ {
		k := fmt.Sprintf("row-%d", i%20)
		m.Delete(k)
		v := strings.Repeat("x", 100+i%10)
		m.Set(k, []byte(v))
		model[k] = v
	}
	check(t, m, model, "after the churn")
	if b := m.Bytes(); b > 16*m.live+4*minChunk {
		t.Fatalf("%d bytes held for %d live bytes", b, m.live)
	}
}

// TestCompactionAmortized: random churn on a map past the compaction
// threshold (dead records spread over every chunk) copies, in all, a small
// multiple of the bytes written, not a chunk at every call.
func TestCompactionAmortized(t *testing.T) {
	m := New()
	rng := rand.New(rand.NewSource(3))
	const n = 50000
	var written int64
	for i := 0; i < 8*n; i++ {
		k := fmt.Sprintf("key-%d", rng.Intn(n))
		v := []byte(strings.Repeat("w", 40+rng.Intn(2)))
		m.Set(k, v)
		written += int64(recordSize(k, v))
	}
	t.Logf("%d compactions moved %d bytes for %d written", m.compacted, m.moved, written)
	if m.compacted == 0 || m.moved > 3*written {
		t.Fatalf("%d compactions moved %d bytes for %d written", m.compacted, m.moved, written)
	}
}
