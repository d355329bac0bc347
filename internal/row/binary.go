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

// AppendBinary appends the binary encoding of r to buf.
func AppendBinary(buf []byte, r Row) []byte {
	buf = binary.AppendUvarint(buf, uint64(len(r)))
	for _, d := range r {
		var flags byte
		if d.i != 0 {
			flags |= binHasInt
		}
		fbits := math.Float64bits(d.f)
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
// after it.
func DecodeBinary(b []byte) (Row, []byte, error) {
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)) {
		return nil, nil, errBinary
	}
	b = b[k:]
	r := make(Row, n)
	for i := range r {
		if len(b) < 2 {
			return nil, nil, errBinary
		}
		kind, flags := Kind(b[0]), b[1]
		b = b[2:]
		if (int(kind) >= len(kindNames) && kind != KindArray) || flags&^(binHasInt|binHasFloat|binHasStr) != 0 ||
			(flags&binHasFloat != 0 && kind != KindFloat && kind != KindEnum) || (kind == KindNull && flags != 0) {
			return nil, nil, fmt.Errorf("%w: kind %d flags %#x", errBinary, kind, flags)
		}
		d := Datum{kind: kind}
		if flags&binHasInt != 0 {
			v, k := binary.Varint(b)
			if k <= 0 {
				return nil, nil, errBinary
			}
			d.i, b = v, b[k:]
		}
		if flags&binHasFloat != 0 {
			if len(b) < 8 {
				return nil, nil, errBinary
			}
			d.f, b = math.Float64frombits(binary.LittleEndian.Uint64(b)), b[8:]
			if kind == KindEnum && math.IsNaN(d.f) {
				return nil, nil, fmt.Errorf("%w: enum sort order NaN", errBinary)
			}
		}
		if flags&binHasStr != 0 {
			l, k := binary.Uvarint(b)
			if k <= 0 || l > uint64(len(b)-k) {
				return nil, nil, errBinary
			}
			d.s, b = string(b[k:k+int(l)]), b[k+int(l):]
		}
		r[i] = d
	}
	return r, b, nil
}
