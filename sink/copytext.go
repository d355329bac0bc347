package sink

import (
	"io"

	"github.com/rippledb/ripple/internal/row"
)

// appendCopyValue appends d in COPY's text format: \N for NULL, otherwise
// the value's canonical text with backslash, tab, newline and carriage
// return escaped (https://www.postgresql.org/docs/15/sql-copy.html#id-1.9.3.55.9.2).
func appendCopyValue(buf []byte, d row.Datum) []byte {
	if d.IsNull() {
		return append(buf, `\N`...)
	}
	s := row.FormatText(d)
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			buf = append(buf, `\\`...)
		case '\t':
			buf = append(buf, `\t`...)
		case '\n':
			buf = append(buf, `\n`...)
		case '\r':
			buf = append(buf, `\r`...)
		default:
			buf = append(buf, c)
		}
	}
	return buf
}

// appendCopyRow appends r as one line of COPY text format.
func appendCopyRow(buf []byte, r row.Row) []byte {
	for i, d := range r {
		if i > 0 {
			buf = append(buf, '\t')
		}
		buf = appendCopyValue(buf, d)
	}
	return append(buf, '\n')
}

// copyReader streams updates as COPY text, each row repeated W times. It
// encodes one row at a time, so a large load does not build its whole COPY
// payload in memory (I5). Updates with W <= 0 are skipped by the caller.
type copyReader struct {
	rows []row.Update
	i    int        // next update to encode
	left row.Weight // copies of the current line still to emit
	line []byte     // encoding of rows[i-1]
	buf  []byte     // pending bytes not yet returned
}

func newCopyReader(rows []row.Update) *copyReader { return &copyReader{rows: rows} }

func (r *copyReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	n := 0
	for n < len(p) {
		if len(r.buf) == 0 && !r.fill() {
			break
		}
		c := copy(p[n:], r.buf)
		r.buf = r.buf[c:]
		n += c
	}
	if n == 0 {
		return 0, io.EOF
	}
	return n, nil
}

// fill loads the next line (or copy of a line) into buf; false at the end.
func (r *copyReader) fill() bool {
	for r.left <= 0 {
		if r.i >= len(r.rows) {
			return false
		}
		u := r.rows[r.i]
		r.i++
		r.line = appendCopyRow(r.line[:0], u.Row)
		r.left = u.W
	}
	r.left--
	r.buf = r.line
	return true
}
