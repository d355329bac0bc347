package row

import (
	"fmt"
	"hash/maphash"
	"strconv"
	"strings"
)

// LSN is a PostgreSQL WAL position (pg_lsn). Logical time in ripple is the
// commit LSN of a source transaction. The zero LSN means "nothing yet".
type LSN uint64

// String renders the LSN as PostgreSQL prints pg_lsn ("16/B374D848").
func (l LSN) String() string { return fmt.Sprintf("%X/%X", uint64(l)>>32, uint32(l)) }

// ParseLSN reads the pg_lsn text form.
func ParseLSN(s string) (LSN, error) {
	hi, lo, ok := strings.Cut(s, "/")
	if !ok {
		return 0, fmt.Errorf("parse LSN %q: missing '/'", s)
	}
	h, err := strconv.ParseUint(hi, 16, 32)
	if err != nil {
		return 0, fmt.Errorf("parse LSN %q: %w", s, err)
	}
	l, err := strconv.ParseUint(lo, 16, 32)
	if err != nil {
		return 0, fmt.Errorf("parse LSN %q: %w", s, err)
	}
	return LSN(h<<32 | l), nil
}

// Update is one element of a Z-set: a row and its weight.
type Update struct {
	Row Row
	W   Weight
}

// consolidateHash is maphash.Bytes; tests replace it to force collisions.
var consolidateHash = maphash.Bytes

// Consolidate merges updates of identical rows (EncodeExact) by
// adding their weights and drops rows whose weight sums to zero. The
// result keeps the first-seen order of surviving rows; it is a new slice
// unless us has at most one update.
func Consolidate(us []Update) []Update {
	if len(us) <= 1 {
		if len(us) == 1 && us[0].W == 0 {
			return us[:0]
		}
		return us
	}
	// Rows are found by a hash of their exact encoding (8 bytes a row
	// rather than the encoding itself, for large batches); rows whose hashes
	// collide are told apart by the encoding.
	seed := maphash.MakeSeed()
	idx := make(map[uint64]int32, len(us))
	var spill map[string]int32 // rows whose hash another row had first
	out := us[:0:0]
	var buf []byte
	for _, u := range us {
		buf = buf[:0]
		for _, d := range u.Row {
			buf = AppendExact(buf, d)
		}
		h := consolidateHash(seed, buf)
		if i, ok := idx[h]; ok {
			if RowsIdentical(out[i].Row, u.Row) {
				out[i].W += u.W
				continue
			}
			if j, ok := spill[string(buf)]; ok {
				out[j].W += u.W
				continue
			}
			if spill == nil {
				spill = map[string]int32{}
			}
			spill[string(buf)] = int32(len(out))
			out = append(out, u)
			continue
		}
		idx[h] = int32(len(out))
		out = append(out, u)
	}
	n := 0
	for _, u := range out {
		if u.W != 0 {
			out[n] = u
			n++
		}
	}
	return out[:n]
}
