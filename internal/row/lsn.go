package row

import (
	"fmt"
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

// Consolidate merges updates of identical rows (EncodeExact) by
// adding their weights and drops rows whose weight sums to zero. The
// result keeps the first-seen order of surviving rows; the input slice is
// reused.
func Consolidate(us []Update) []Update {
	if len(us) <= 1 {
		if len(us) == 1 && us[0].W == 0 {
			return us[:0]
		}
		return us
	}
	idx := make(map[string]int, len(us))
	out := us[:0:0]
	for _, u := range us {
		k := u.Row.EncodeExact()
		if i, ok := idx[k]; ok {
			out[i].W += u.W
			continue
		}
		idx[k] = len(out)
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
