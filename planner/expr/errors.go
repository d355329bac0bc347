package expr

import (
	"fmt"
	"strings"
)

// Error is a problem with a view definition, reported against the view and
// the position in its file. Every error the planner returns for bad user
// input is an *Error (I6).
type Error struct {
	View string // schema-qualified view name, "" before it is known
	File string // file the SQL came from, "" for SQL given inline
	Line int    // 1-based line of the position in File, 0 when unknown
	Col  int    // 1-based column (in characters) of the position, 0 when unknown
	Msg  string // what is wrong, lower case, no trailing period
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		if e.Line > 0 {
			fmt.Fprintf(&b, ":%d:%d", e.Line, e.Col)
		}
		b.WriteString(": ")
	} else if e.Line > 0 {
		fmt.Fprintf(&b, "line %d, column %d: ", e.Line, e.Col)
	}
	if e.View != "" {
		fmt.Fprintf(&b, "view %s: ", e.View)
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Source is a piece of SQL text with its origin, used to turn byte offsets
// (pg_query node locations) into file positions.
type Source struct {
	File string // "" for inline SQL
	Text string // the whole file's text
	// Base is the byte offset of the text being parsed within Text (when a
	// statement is re-parsed on its own); node locations are relative to it.
	Base int
}

// Position converts a byte offset (relative to Base; -1 = unknown) into a
// 1-based line and column.
func (s Source) Position(offset int) (line, col int) {
	if offset < 0 {
		return 0, 0
	}
	off := s.Base + offset
	if off > len(s.Text) {
		off = len(s.Text)
	}
	line, col = 1, 1
	for _, r := range s.Text[:off] {
		if r == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
	}
	return line, col
}

// Errorf builds an *Error for view at byte offset loc of src.
func (s Source) Errorf(view string, loc int, format string, args ...any) *Error {
	line, col := s.Position(loc)
	return &Error{View: view, File: s.File, Line: line, Col: col, Msg: fmt.Sprintf(format, args...)}
}
