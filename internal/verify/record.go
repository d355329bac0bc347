package verify

import (
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"math/big"
	"strconv"
	"strings"
)

// RecordText renders a row the way PostgreSQL's record_out prints
// ROW(v1, v2, ...)::text: "(" + values joined by "," + ")", a NULL as
// nothing, and a value in double quotes when it is empty or holds a double
// quote, backslash, parenthesis, comma or white space (C isspace), with
// every double quote and backslash inside doubled
// (src/backend/utils/adt/rowtypes.c). A nil element is NULL.
func RecordText(values []*string) string {
	var b strings.Builder
	b.WriteByte('(')
	for i, v := range values {
		if i > 0 {
			b.WriteByte(',')
		}
		if v == nil {
			continue
		}
		appendRecordValue(&b, *v)
	}
	b.WriteByte(')')
	return b.String()
}

func appendRecordValue(b *strings.Builder, s string) {
	quote := s == ""
	for i := 0; i < len(s) && !quote; i++ {
		switch s[i] {
		case '"', '\\', '(', ')', ',', ' ', '\t', '\n', '\r', '\v', '\f':
			quote = true
		}
	}
	if !quote {
		b.WriteString(s)
		return
	}
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == '"' || c == '\\' {
			b.WriteByte(c)
		}
		b.WriteByte(s[i])
	}
	b.WriteByte('"')
}

// ParseCopyLine splits one line of COPY text format (without its newline)
// into values, undoing COPY's escapes; \N is NULL (nil)
// (https://www.postgresql.org/docs/current/sql-copy.html#id-1.9.3.55.9.2).
func ParseCopyLine(line string) ([]*string, error) {
	fields := strings.Split(line, "\t")
	out := make([]*string, len(fields))
	for i, f := range fields {
		if f == `\N` {
			continue
		}
		s, err := unescapeCopy(f)
		if err != nil {
			return nil, fmt.Errorf("column %d: %w", i+1, err)
		}
		out[i] = &s
	}
	return out, nil
}

func unescapeCopy(f string) (string, error) {
	if !strings.Contains(f, `\`) {
		return f, nil
	}
	var b strings.Builder
	for i := 0; i < len(f); i++ {
		c := f[i]
		if c != '\\' {
			b.WriteByte(c)
			continue
		}
		i++
		if i >= len(f) {
			return "", fmt.Errorf("copy text %q ends in a backslash", f)
		}
		switch c = f[i]; c {
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case 'v':
			b.WriteByte('\v')
		case 'x':
			j := i + 1
			for j < len(f) && j < i+3 && isHex(f[j]) {
				j++
			}
			if j == i+1 {
				b.WriteByte('x')
				continue
			}
			v, _ := strconv.ParseUint(f[i+1:j], 16, 8)
			b.WriteByte(byte(v))
			i = j - 1
		case '0', '1', '2', '3', '4', '5', '6', '7':
			j := i
			for j < len(f) && j < i+3 && f[j] >= '0' && f[j] <= '7' {
				j++
			}
			v, _ := strconv.ParseUint(f[i:j], 8, 16)
			b.WriteByte(byte(v))
			i = j - 1
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), nil
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// RowHash is the 64-bit hash of a row's record text, as the SQL
// expression rowHashSQL computes it: the first 16 hex digits of its md5,
// read as a two's complement bigint.
func RowHash(record string) int64 {
	sum := md5.Sum([]byte(record))
	return int64(uint64FromHex(sum[:8]))
}

// BucketOf is the bucket of a row whose key's record text is keyRecord:
// the first 8 hex digits of its md5, unsigned, modulo n (bucketSQL).
func BucketOf(keyRecord string, n int) int {
	sum := md5.Sum([]byte(keyRecord))
	return int(uint64FromHex(sum[:4]) % uint64(n))
}

func uint64FromHex(b []byte) uint64 {
	v, _ := strconv.ParseUint(hex.EncodeToString(b), 16, 64)
	return v
}

// rowHashSQL and bucketSQL are the SQL forms of RowHash and BucketOf over a
// ROW(...) expression.
func rowHashSQL(record string) string {
	return "('x' || substr(md5(" + record + "::text), 1, 16))::bit(64)::bigint"
}

func bucketSQL(keyRecord string, n int) string {
	return fmt.Sprintf("(('x' || substr(md5(%s::text), 1, 8))::bit(32)::bigint %% %d)::int", keyRecord, n)
}

// Bucket is the fingerprint of one bucket: how many rows it holds and the
// sum of their RowHash, as decimal text (the sum does not fit 64 bits).
// Version, where a side can tell (a PostgreSQL sink: the sum of a hash of
// each row's xmin), changes whenever a transaction inserts, updates or
// deletes one of the bucket's rows, even one that leaves the same rows
// (a duplicate row replaced by another); it is not part of the
// comparison of two sides, only of two readings of one side.
type Bucket struct {
	Count   int64
	Sum     string
	Version string
}

// sameRows reports whether two buckets hold the same rows (up to hash
// collisions), whatever their versions.
func (b Bucket) sameRows(o Bucket) bool { return b.Count == o.Count && b.Sum == o.Sum }

// Fingerprint maps bucket numbers to their fingerprints; empty buckets
// are absent.
type Fingerprint map[int]Bucket

// accumulator computes a Fingerprint in Go.
type accumulator struct {
	counts map[int]int64
	sums   map[int]*big.Int
}

func newAccumulator() *accumulator {
	return &accumulator{counts: map[int]int64{}, sums: map[int]*big.Int{}}
}

func (a *accumulator) add(bucket int, h int64) {
	a.counts[bucket]++
	s := a.sums[bucket]
	if s == nil {
		s = new(big.Int)
		a.sums[bucket] = s
	}
	s.Add(s, big.NewInt(h))
}

func (a *accumulator) fingerprint() Fingerprint {
	fp := make(Fingerprint, len(a.counts))
	for b, n := range a.counts {
		fp[b] = Bucket{Count: n, Sum: a.sums[b].String()}
	}
	return fp
}
