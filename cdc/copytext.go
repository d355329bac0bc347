package cdc

import (
	"bytes"
	"fmt"
	"strings"
)

// COPY text format (https://www.postgresql.org/docs/15/sql-copy.html,
// "Text Format"): one row per line, columns separated by a tab, \N for NULL,
// backslash escapes for the separator, newline and backslash in values.

// copyField is one column of a COPY text line; Null is true for \N.
type copyField struct {
	Null bool
	Text string
}

// splitCopyLine splits one line (without its trailing newline) into its
// unescaped fields. A literal tab always separates fields: a tab inside a
// value is escaped by COPY.
func splitCopyLine(line []byte) ([]copyField, error) { return appendCopyFields(nil, line) }

// appendCopyFields is splitCopyLine appending to dst (reused between
// lines). The line becomes one string that the fields share; only a field
// with escapes gets a string of its own.
func appendCopyFields(dst []copyField, line []byte) ([]copyField, error) {
	dst = dst[:0]
	s := string(line)
	for n := 1; ; n++ {
		i := strings.IndexByte(s, '\t')
		f := s
		if i >= 0 {
			f = s[:i]
		}
		switch {
		case f == `\N`:
			dst = append(dst, copyField{Null: true})
		case strings.IndexByte(f, '\\') >= 0:
			u, err := unescapeCopy([]byte(f))
			if err != nil {
				return nil, fmt.Errorf("column %d: %w", n, err)
			}
			dst = append(dst, copyField{Text: u})
		default:
			dst = append(dst, copyField{Text: f})
		}
		if i < 0 {
			return dst, nil
		}
		s = s[i+1:]
	}
}

// unescapeCopy decodes COPY text escapes: \b \f \n \r \t \v, \ followed by
// one to three octal digits, \x followed by one or two hex digits, and a
// backslash before any other character standing for that character.
func unescapeCopy(p []byte) (string, error) {
	i := bytes.IndexByte(p, '\\')
	if i < 0 {
		return string(p), nil
	}
	out := make([]byte, 0, len(p))
	out = append(out, p[:i]...)
	for ; i < len(p); i++ {
		c := p[i]
		if c != '\\' {
			out = append(out, c)
			continue
		}
		i++
		if i >= len(p) {
			return "", fmt.Errorf("COPY text ends in a lone backslash")
		}
		c = p[i]
		switch {
		case c == 'b':
			out = append(out, '\b')
		case c == 'f':
			out = append(out, '\f')
		case c == 'n':
			out = append(out, '\n')
		case c == 'r':
			out = append(out, '\r')
		case c == 't':
			out = append(out, '\t')
		case c == 'v':
			out = append(out, '\v')
		case c >= '0' && c <= '7':
			v := int(c - '0')
			for n := 1; n < 3 && i+1 < len(p) && p[i+1] >= '0' && p[i+1] <= '7'; n++ {
				i++
				v = v*8 + int(p[i]-'0')
			}
			out = append(out, byte(v))
		case c == 'x' && i+1 < len(p) && isHex(p[i+1]):
			i++
			v := hexVal(p[i])
			if i+1 < len(p) && isHex(p[i+1]) {
				i++
				v = v*16 + hexVal(p[i])
			}
			out = append(out, byte(v))
		default:
			out = append(out, c)
		}
	}
	return string(out), nil
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func hexVal(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	default:
		return int(c-'A') + 10
	}
}
