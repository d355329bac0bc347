package row

import (
	"encoding/binary"
	"math"
	"strings"
)

// AppendOrderKey appends an order-preserving encoding of d to buf: for two
// datums of one column, bytes.Compare of their encodings has the sign of
// Compare (SQL equality gives equal bytes: numeric 1.0 and 1.00, float -0
// and 0, every NaN), reversed when desc, with NULL before every value when
// nullsFirst and after every value otherwise. An encoding is never a
// prefix of another, so encodings of several columns concatenated order as
// ORDER BY orders rows. A spilled top-k keeps its rows under such keys, so
// that the store's key order is the ORDER BY order.
//
// Text orders bytewise, as Compare orders it (the C collation).
func AppendOrderKey(buf []byte, d Datum, desc, nullsFirst bool) []byte {
	if d.kind == KindNull {
		if nullsFirst {
			return append(buf, 0x00)
		}
		return append(buf, 0x02)
	}
	buf = append(buf, 0x01)
	start := len(buf)
	switch d.kind {
	case KindBool, KindInt, KindDate, KindTimestamp, KindTimestampTZ:
		buf = appendOrderInt(buf, d.i)
	case KindFloat:
		buf = appendOrderFloat(buf, d.f)
	case KindNumeric:
		buf = appendOrderNumeric(buf, d.s)
	case KindInterval:
		s := d.Interval().span()
		buf = appendOrderInt(buf, s.hi)
		buf = binary.BigEndian.AppendUint64(buf, s.lo)
	case KindEnum:
		buf = appendOrderFloat(buf, d.f)
		buf = appendOrderString(buf, d.s)
	default:
		buf = appendOrderString(buf, d.s)
	}
	if desc {
		for i := start; i < len(buf); i++ {
			buf[i] = ^buf[i]
		}
	}
	return buf
}

// appendOrderInt: big-endian with the sign bit flipped.
func appendOrderInt(buf []byte, i int64) []byte {
	return binary.BigEndian.AppendUint64(buf, uint64(i)^(1<<63))
}

// appendOrderFloat orders as CompareFloat: -0 as 0, NaN above +Inf.
func appendOrderFloat(buf []byte, f float64) []byte {
	var u uint64
	switch {
	case math.IsNaN(f):
		u = math.MaxUint64
	case f == 0:
		u = 1 << 63
	default:
		u = math.Float64bits(f)
		if u&(1<<63) != 0 {
			u = ^u
		} else {
			u |= 1 << 63
		}
	}
	return binary.BigEndian.AppendUint64(buf, u)
}

// appendOrderString: the bytes with 0x00 escaped as 0x00 0xFF, ended by
// 0x00 0x01, so that a string sorts before its extensions.
func appendOrderString(buf []byte, s string) []byte {
	for {
		i := strings.IndexByte(s, 0)
		if i < 0 {
			break
		}
		buf = append(append(buf, s[:i]...), 0x00, 0xFF)
		s = s[i+1:]
	}
	return append(append(buf, s...), 0x00, 0x01)
}

// Numeric classes, in order.
const (
	numNegInf byte = iota + 1
	numNeg
	numZero
	numPos
	numPosInf
	numNaN
)

// appendOrderNumeric orders numeric text as CompareNumeric: -Infinity <
// numbers < Infinity < NaN. A number other than 0 is its class, then, as
// 0.d1d2... × 10^e with d1 ≠ 0, e (8 bytes, sign flipped) and its
// significant digits ended by 0x00; for a negative number those bytes are
// inverted. Text that is not a number orders as 0 (CompareNumeric reads it
// so).
func appendOrderNumeric(buf []byte, s string) []byte {
	switch s {
	case "NaN":
		return append(buf, numNaN)
	case "Infinity":
		return append(buf, numPosInf)
	case "-Infinity":
		return append(buf, numNegInf)
	}
	neg, digits, exp, ok := decimalParts(s)
	if !ok || digits == "" {
		return append(buf, numZero)
	}
	class := numPos
	if neg {
		class = numNeg
	}
	buf = append(buf, class)
	start := len(buf)
	buf = appendOrderInt(buf, exp)
	buf = append(append(buf, digits...), 0x00)
	if neg {
		for i := start; i < len(buf); i++ {
			buf[i] = ^buf[i]
		}
	}
	return buf
}

// decimalParts splits decimal text ([+-]digits[.digits][e[+-]digits]) into
// its sign, its significant digits (no leading or trailing zeros; empty for
// zero) and the exponent e of 0.digits × 10^e.
func decimalParts(s string) (neg bool, digits string, exp int64, ok bool) {
	if s != "" && (s[0] == '-' || s[0] == '+') {
		neg, s = s[0] == '-', s[1:]
	}
	mant, e, hasExp := s, "", false
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		mant, e, hasExp = s[:i], s[i+1:], true
	}
	intPart, frac := mant, ""
	if i := strings.IndexByte(mant, '.'); i >= 0 {
		intPart, frac = mant[:i], mant[i+1:]
	}
	if intPart == "" && frac == "" || intPart != "" && !allDigits(intPart) || frac != "" && !allDigits(frac) {
		return false, "", 0, false
	}
	if hasExp {
		eneg := false
		if e != "" && (e[0] == '-' || e[0] == '+') {
			eneg, e = e[0] == '-', e[1:]
		}
		if !allDigits(e) || len(e) > 15 {
			return false, "", 0, false
		}
		for _, c := range e {
			exp = exp*10 + int64(c-'0')
		}
		if eneg {
			exp = -exp
		}
	}
	all := strings.TrimLeft(intPart, "0")
	exp += int64(len(all))
	if all == "" {
		// 0.000ddd: the leading zeros of the fraction lower the exponent.
		t := strings.TrimLeft(frac, "0")
		exp -= int64(len(frac) - len(t))
		frac = t
	}
	digits = strings.TrimRight(all+frac, "0")
	if digits == "" {
		exp = 0
	}
	return neg, digits, exp, true
}
