package row

import (
	"bytes"
	"math"
	"math/rand"
	"strings"
	"testing"
)

// randomOrderDatums returns datums of each kind that AppendOrderKey encodes,
// edge cases first: the values a column of that kind can hold.
func randomOrderDatums(rng *rand.Rand) map[string][]Datum {
	out := map[string][]Datum{}
	ints := []int64{0, 1, -1, math.MaxInt64, math.MinInt64, 255, 256, -256}
	for range 40 {
		ints = append(ints, rng.Int63()-rng.Int63(), int64(rng.Intn(1000)-500))
	}
	for _, i := range ints {
		out["int"] = append(out["int"], NewInt(i))
		out["timestamp"] = append(out["timestamp"], NewTimestamp(i))
	}
	out["bool"] = []Datum{NewBool(false), NewBool(true)}
	floats := []float64{0, math.Copysign(0, -1), 1, -1, math.Inf(1), math.Inf(-1), math.NaN(), math.Float64frombits(0x7ff8000000000001),
		math.SmallestNonzeroFloat64, -math.SmallestNonzeroFloat64, math.MaxFloat64, -math.MaxFloat64, 0.1, 1e-300}
	for range 40 {
		floats = append(floats, rng.NormFloat64()*math.Pow(10, float64(rng.Intn(40)-20)))
	}
	for _, f := range floats {
		out["float"] = append(out["float"], NewFloat(f))
	}
	nums := []string{"0", "-0", "0.000", "1", "1.0", "1.00", "-1", "-1.000", "10", "100", "0.1", "0.01", "0.0100", "-0.01",
		"1e3", "1000", "1.5E-2", "0.015", "-2e+2", "-200.0", "NaN", "Infinity", "-Infinity", "123456789012345678901234567890.5",
		"0.000000000000000000000000001", "9.99", "10.01", "-9.99", "-10.01"}
	for range 60 {
		var b strings.Builder
		if rng.Intn(2) == 0 {
			b.WriteByte('-')
		}
		for range 1 + rng.Intn(4) {
			b.WriteByte(byte('0' + rng.Intn(10)))
		}
		if rng.Intn(2) == 0 {
			b.WriteByte('.')
			for range rng.Intn(5) {
				b.WriteByte(byte('0' + rng.Intn(10)))
			}
		}
		nums = append(nums, b.String())
	}
	for _, s := range nums {
		out["numeric"] = append(out["numeric"], NewNumeric(s))
	}
	for range 40 {
		iv := IntervalValue{Months: int32(rng.Intn(25) - 12), Days: int32(rng.Intn(61) - 30), Micros: rng.Int63n(2*86400e6) - 86400e6}
		out["interval"] = append(out["interval"], NewInterval(iv))
	}
	out["interval"] = append(out["interval"], NewInterval(IntervalValue{Days: 1}), NewInterval(IntervalValue{Micros: 86400e6}),
		NewInterval(IntervalValue{Months: 1}), NewInterval(IntervalValue{Days: 30}))
	texts := []string{"", "a", "ab", "a\x00", "a\x00b", "\x00", "\x00\x00", "\xff", "a\xff", "b", "B", "é"}
	for range 40 {
		n := rng.Intn(4)
		var b []byte
		for range n {
			b = append(b, []byte{0, 1, 'a', 'b', 0xfe, 0xff}[rng.Intn(6)])
		}
		texts = append(texts, string(b))
	}
	for _, s := range texts {
		out["text"] = append(out["text"], NewText(s))
	}
	for i, l := range []string{"sad", "ok", "happy", "ok"} {
		out["enum"] = append(out["enum"], NewEnum(l, float64(i%3)+0.5))
	}
	for k := range out {
		out[k] = append(out[k], Null)
	}
	return out
}

func sign(c int) int {
	switch {
	case c < 0:
		return -1
	case c > 0:
		return 1
	}
	return 0
}

// orderCompare is the order AppendOrderKey must preserve: Compare, with
// NULLs placed and the direction applied as ORDER BY does.
func orderCompare(a, b Datum, desc, nullsFirst bool) int {
	an, bn := a.IsNull(), b.IsNull()
	switch {
	case an && bn:
		return 0
	case an:
		if nullsFirst {
			return -1
		}
		return 1
	case bn:
		if nullsFirst {
			return 1
		}
		return -1
	}
	c := Compare(a, b)
	if desc {
		c = -c
	}
	return c
}

// TestOrderKey checks AppendOrderKey against Compare for every pair of
// values of each kind, in each direction and NULL placement, and for pairs
// of two-column rows (so that no encoding is a prefix of another that
// would let the second column decide wrongly).
func TestOrderKey(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	for kind, ds := range randomOrderDatums(rng) {
		for _, dir := range []struct{ desc, nullsFirst bool }{{false, false}, {true, true}, {false, true}, {true, false}} {
			enc := make([][]byte, len(ds))
			for i, d := range ds {
				enc[i] = AppendOrderKey(nil, d, dir.desc, dir.nullsFirst)
			}
			for i, a := range ds {
				for j, b := range ds {
					want := orderCompare(a, b, dir.desc, dir.nullsFirst)
					if got := sign(bytes.Compare(enc[i], enc[j])); got != want {
						t.Fatalf("%s desc=%v nullsFirst=%v: %v vs %v: encodings compare %d, values %d (%x, %x)",
							kind, dir.desc, dir.nullsFirst, a, b, got, want, enc[i], enc[j])
					}
				}
			}
			// Two columns: (a, x) against (b, y).
			for range 2000 {
				i, j := rng.Intn(len(ds)), rng.Intn(len(ds))
				x, y := rng.Intn(len(ds)), rng.Intn(len(ds))
				want := orderCompare(ds[i], ds[j], dir.desc, dir.nullsFirst)
				if want == 0 {
					want = orderCompare(ds[x], ds[y], false, false)
				}
				ka := AppendOrderKey(append([]byte(nil), enc[i]...), ds[x], false, false)
				kb := AppendOrderKey(append([]byte(nil), enc[j]...), ds[y], false, false)
				if got := sign(bytes.Compare(ka, kb)); got != want {
					t.Fatalf("%s desc=%v: (%v, %v) vs (%v, %v): encodings compare %d, rows %d",
						kind, dir.desc, ds[i], ds[x], ds[j], ds[y], got, want)
				}
			}
		}
	}
}

func TestDecimalParts(t *testing.T) {
	for _, c := range []struct {
		in     string
		neg    bool
		digits string
		exp    int64
	}{
		{"0", false, "", 0}, {"-0.00", true, "", 0}, {"12.50", false, "125", 2}, {"0.00123", false, "123", -2},
		{"1e3", false, "1", 4}, {"-1.5E-2", true, "15", -1}, {"100", false, "1", 3}, {"007.0700", false, "707", 1},
	} {
		neg, digits, exp, ok := decimalParts(c.in)
		if !ok || neg != c.neg || digits != c.digits || exp != c.exp {
			t.Errorf("decimalParts(%q) = %v %q %d %v, want %v %q %d", c.in, neg, digits, exp, ok, c.neg, c.digits, c.exp)
		}
	}
	for _, bad := range []string{"", "-", ".", "1e", "1.2.3", "abc", "1e+"} {
		if _, _, _, ok := decimalParts(bad); ok {
			t.Errorf("decimalParts(%q) accepted", bad)
		}
	}
}
