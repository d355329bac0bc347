package dataflow

import "sort"

// memSpill is a Spill held in memory, in key order, for tests of the
// spilled forms (the pipeline's tests use the real store on disk).
type memSpill struct {
	keys []string // sorted
	vals map[string][]byte
}

// newMemSpill returns an empty memSpill.
func newMemSpill() *memSpill { return &memSpill{vals: map[string][]byte{}} }

// Get implements Spill.
func (m *memSpill) Get(k []byte) ([]byte, bool, error) {
	v, ok := m.vals[string(k)]
	return v, ok, nil
}

// Set implements Spill.
func (m *memSpill) Set(k, v []byte) error {
	if _, ok := m.vals[string(k)]; !ok {
		i := sort.SearchStrings(m.keys, string(k))
		m.keys = append(m.keys, "")
		copy(m.keys[i+1:], m.keys[i:])
		m.keys[i] = string(k)
	}
	m.vals[string(k)] = append([]byte(nil), v...)
	return nil
}

// Delete implements Spill.
func (m *memSpill) Delete(k []byte) error {
	if _, ok := m.vals[string(k)]; !ok {
		return nil
	}
	delete(m.vals, string(k))
	i := sort.SearchStrings(m.keys, string(k))
	m.keys = append(m.keys[:i], m.keys[i+1:]...)
	return nil
}

// Scan implements Spill.
func (m *memSpill) Scan(prefix []byte, fn func(k, v []byte) error) error {
	for i := sort.SearchStrings(m.keys, string(prefix)); i < len(m.keys); i++ {
		k := m.keys[i]
		if len(k) < len(prefix) || k[:len(prefix)] != string(prefix) {
			return nil
		}
		if err := fn([]byte(k), m.vals[k]); err != nil {
			return err
		}
	}
	return nil
}

// Len is the number of entries held.
func (m *memSpill) Len() int { return len(m.keys) }
