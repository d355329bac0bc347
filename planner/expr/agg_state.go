package expr

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/big"

	"github.com/cockroachdb/apd/v3"

	"github.com/rippledb/ripple/dataflow"
)

// The running states of the invertible aggregates (count, sum, avg,
// bool_and/bool_or, the variances, sum and avg of interval) are written
// out and read back exactly (dataflow.EncodableState), so a Reduce over
// them keeps its groups' states, not its input rows. min/max, string_agg,
// array_agg, json_agg and the DISTINCT aggregates hold a multiset of
// values and are not encodable.

var (
	_ dataflow.EncodableState = (*countState)(nil)
	_ dataflow.EncodableState = (*sumState)(nil)
	_ dataflow.EncodableState = (*boolState)(nil)
	_ dataflow.EncodableState = (*varianceState)(nil)
	_ dataflow.EncodableState = (*intervalSum)(nil)
	_ dataflow.EncodableState = (*encFilterState)(nil)
)

var errState = errors.New("malformed aggregate state")

func putInts(b []byte, vs ...int64) []byte {
	for _, v := range vs {
		b = binary.AppendVarint(b, v)
	}
	return b
}

func putBytes(b, p []byte) []byte { return append(binary.AppendUvarint(b, uint64(len(p))), p...) }

func putBigInt(b []byte, x *big.Int) []byte {
	p, _ := x.GobEncode() // never fails for a big.Int
	return putBytes(b, p)
}

func putDecimal(b []byte, d *apd.Decimal) []byte { return putBytes(b, []byte(d.String())) }

func putScales(b []byte, s scaleSet) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	for _, c := range s {
		b = putInts(b, int64(c.scale), c.n)
	}
	return b
}

// stateReader reads what the put functions wrote; the first error sticks.
type stateReader struct {
	b   []byte
	err error
}

func (r *stateReader) int() int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.err = errState
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *stateReader) bytes() []byte {
	if r.err != nil {
		return nil
	}
	l, n := binary.Uvarint(r.b)
	if n <= 0 || uint64(len(r.b)-n) < l {
		r.err = errState
		return nil
	}
	p := r.b[n : n+int(l)]
	r.b = r.b[n+int(l):]
	return p
}

func (r *stateReader) bigInt(x *big.Int) {
	if p := r.bytes(); r.err == nil {
		r.fail(x.GobDecode(p))
	}
}

func (r *stateReader) decimal(d *apd.Decimal) {
	if p := r.bytes(); r.err == nil {
		_, _, err := d.SetString(string(p))
		r.fail(err)
	}
}

func (r *stateReader) scales() scaleSet {
	if r.err != nil {
		return nil
	}
	l, n := binary.Uvarint(r.b)
	if n <= 0 || l > uint64(len(r.b)) {
		r.err = errState
		return nil
	}
	r.b = r.b[n:]
	var s scaleSet
	for range l {
		sc, c := r.int(), r.int()
		s = append(s, scaleCount{int32(sc), c})
	}
	return s
}

func (r *stateReader) fail(err error) {
	if err != nil && r.err == nil {
		r.err = err
	}
}

// done reports the first error, or an error when bytes are left over.
func (r *stateReader) done(what string) error {
	if r.err == nil && len(r.b) != 0 {
		r.err = errState
	}
	if r.err != nil {
		return fmt.Errorf("%s: %w", what, r.err)
	}
	return nil
}

func (s *countState) AppendState(buf []byte) []byte { return putInts(buf, s.n) }
func (s *countState) LoadState(b []byte) error {
	r := stateReader{b: b}
	s.n = r.int()
	return r.done("count state")
}

func (s *sumState) AppendState(buf []byte) []byte {
	buf = putInts(buf, s.n, s.nan, s.pinf, s.ninf)
	buf = putBigInt(buf, &s.isum)
	buf = putDecimal(buf, &s.dsum)
	buf = putScales(buf, s.scales)
	if s.fsum == nil {
		return putBytes(buf, nil)
	}
	p, _ := s.fsum.GobEncode() // never fails for a finite big.Float
	return putBytes(buf, p)
}

func (s *sumState) LoadState(b []byte) error {
	r := stateReader{b: b}
	s.n, s.nan, s.pinf, s.ninf = r.int(), r.int(), r.int(), r.int()
	r.bigInt(&s.isum)
	r.decimal(&s.dsum)
	s.scales = r.scales()
	if p := r.bytes(); r.err == nil && len(p) > 0 {
		s.fsum = new(big.Float)
		r.fail(s.fsum.GobDecode(p))
	}
	return r.done("sum state")
}

func (s *boolState) AppendState(buf []byte) []byte { return putInts(buf, s.trues, s.alls) }
func (s *boolState) LoadState(b []byte) error {
	r := stateReader{b: b}
	s.trues, s.alls = r.int(), r.int()
	return r.done("bool state")
}

func (s *varianceState) AppendState(buf []byte) []byte {
	buf = putInts(buf, s.n, s.nan, s.inf)
	buf = putDecimal(buf, &s.sum)
	buf = putDecimal(buf, &s.sum2)
	return putScales(buf, s.scales)
}

func (s *varianceState) LoadState(b []byte) error {
	r := stateReader{b: b}
	s.n, s.nan, s.inf = r.int(), r.int(), r.int()
	r.decimal(&s.sum)
	r.decimal(&s.sum2)
	s.scales = r.scales()
	return r.done("variance state")
}

func (s *intervalSum) AppendState(buf []byte) []byte {
	buf = putInts(buf, s.n)
	buf = putBigInt(buf, &s.months)
	buf = putBigInt(buf, &s.days)
	return putBigInt(buf, &s.micros)
}

func (s *intervalSum) LoadState(b []byte) error {
	r := stateReader{b: b}
	s.n = r.int()
	r.bigInt(&s.months)
	r.bigInt(&s.days)
	r.bigInt(&s.micros)
	return r.done("interval sum state")
}

// encFilterState is a filterState over an encodable state.
type encFilterState struct{ filterState }

func (s *encFilterState) AppendState(buf []byte) []byte {
	return s.inner.(dataflow.EncodableState).AppendState(buf)
}

func (s *encFilterState) LoadState(b []byte) error {
	return s.inner.(dataflow.EncodableState).LoadState(b)
}
