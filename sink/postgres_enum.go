package sink

import "github.com/rippledb/ripple/internal/row"

// pgColumnType is the sink column type for a view column: its own type,
// except that an enum column is text holding the label. The enum type
// exists only in the source database; creating a copy in the sink would
// have to follow every ALTER TYPE there. The order of labels is the
// source's concern: the sink keeps the values the view computed.
func pgColumnType(t row.Type) string {
	if t.Kind() == row.KindEnum {
		return "text"
	}
	return t.String()
}
