package row

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// Binary row encoding, for ripple's on-disk state (internal/state). It
// stores a Datum's physical fields as they are, so that decoding gives back
// a row Identical to the one encoded (numeric display scale, float width,
// -0, NaN, infinities). It is not an order-preserving key encoding; use
// AppendKey / AppendExact for keys.
//
// Layout per datum: a kind byte, a flags byte saying which of the integer,
// float and string fields follow, then those fields (zig-zag varint, 8
// bytes IEEE 754, uvarint length + bytes). A row is a uvarint column count
// followed by its datums.

const (
	binHasInt   = 1 << 0
	binHasFloat = 1 << 1
	binHasStr   = 1 << 2
)

// AppendBinary appends the binary encoding of r to buf. Rows that are
// Identical column by column encode to the same bytes, so the encoding
// also serves as a row's identity (dataflow arrangements key on it).
func AppendBinary(buf []byte, r Row) []byte {
	buf = binary.AppendUvarint(buf, uint64(len(r)))
	for _, d := range r {
		var flags byte
		if d.i != 0 {
			flags |= binHasInt
		}
		fbits := math.Float64bits(d.f)
		if math.IsNaN(d.f) {
			fbits = canonicalNaN // NaN payloads are not part of a value's identity
		}
		if fbits != 0 {
			flags |= binHasFloat
		}
		if d.s != "" {
			flags |= binHasStr
		}
		buf = append(buf, byte(d.kind), flags)
		if flags&binHasInt != 0 {
			buf = binary.AppendVarint(buf, d.i)
		}
		if flags&binHasFloat != 0 {
			buf = binary.LittleEndian.AppendUint64(buf, fbits)
		}
		if flags&binHasStr != 0 {
			buf = binary.AppendUvarint(buf, uint64(len(d.s)))
			buf = append(buf, d.s...)
		}
	}
	return buf
}

var errBinary = errors.New("row: malformed binary row")

// DecodeBinary decodes a row written by AppendBinary and returns the bytes
// after it. The row does not share memory with b.
func DecodeBinary(b []byte) (Row, []byte, error) {
	r, rest, err := decodeBinary(string(b))
	if err != nil {
		return nil, nil, err
	}
	return r, b[len(b)-len(rest):], nil
}

// DecodeBinaryString decodes a row written by AppendBinary from s and
// returns the rest of s. The row's strings share s's memory (no copies).
func DecodeBinaryString(s string) (Row, string, error) { return decodeBinary(s) }

// decodeBinary decodes a row written by AppendBinary from s and returns the
// rest of s. The row's strings are substrings of s.
func decodeBinary(b string) (Row, string, error) {
	n, k := uvarint(b)
	if k <= 0 || n > uint64(len(b)) {
		return nil, "", errBinary
	}
	b = b[k:]
	r := make(Row, n)
	for i := range r {
		if len(b) < 2 {
			return nil, "", errBinary
		}
		kind, flags := Kind(b[0]), b[1]
		b = b[2:]
		if (int(kind) >= len(kindNames) && kind != KindArray) || flags&^(binHasInt|binHasFloat|binHasStr) != 0 ||
			(flags&binHasFloat != 0 && kind != KindFloat && kind != KindEnum) || (kind == KindNull && flags != 0) {
			return nil, "", fmt.Errorf("%w: kind %d flags %#x", errBinary, kind, flags)
		}
		d := Datum{kind: kind}
		if flags&binHasInt != 0 {
			v, k := varint(b)
			if k <= 0 {
				return nil, "", errBinary
			}
			d.i, b = v, b[k:]
		}
		if flags&binHasFloat != 0 {
			if len(b) < 8 {
				return nil, "", errBinary
			}
			d.f, b = math.Float64frombits(leUint64(b)), b[8:]
			if kind == KindEnum && math.IsNaN(d.f) {
				return nil, "", fmt.Errorf("%w: enum sort order NaN", errBinary)
			}
		}
		if flags&binHasStr != 0 {
			l, k := uvarint(b)
			if k <= 0 || l > uint64(len(b)-k) {
				return nil, "", errBinary
			}
			d.s, b = b[k:k+int(l)], b[k+int(l):]
		}
		r[i] = d
	}
	return r, b, nil
}

// String forms of encoding/binary's readers, so that decoding a string
// does not copy it.

func uvarint(s string) (uint64, int) {
	var x uint64
	var shift uint
	for i := 0; i < len(s); i++ {
		if i == binary.MaxVarintLen64 {
			return 0, -(i + 1) // overflow
		}
		c := s[i]
		if c < 0x80 {
			if i == binary.MaxVarintLen64-1 && c > 1 {
				return 0, -(i + 1) // overflow
			}
			return x | uint64(c)<<shift, i + 1
		}
		x |= uint64(c&0x7f) << shift
		shift += 7
	}
	return 0, 0
}

func varint(s string) (int64, int) {
	ux, n := uvarint(s)
	x := int64(ux >> 1)
	if ux&1 != 0 {
		x = ^x
	}
	return x, n
}

func leUint64(s string) uint64 {
	_ = s[7]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}
