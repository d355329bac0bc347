package sink

import (
	"errors"
	"fmt"
	"strings"

	"github.com/rippledb/ripple/internal/row"
)

// ErrOutOfSync is wrapped by the error a sink returns when a retraction
// does not find the rows it removes: the sink's contents are not what the
// engine believes they are (someone wrote to a sink table, or a bug). The
// step is not applied; the fix is a fresh Load.
var ErrOutOfSync = errors.New("sink is out of sync with the engine")

// validateViews reports every problem with views at once.
func validateViews(sinkName string, views []View) error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("sink %s: "+format, append([]any{sinkName}, args...)...))
	}
	seen := make(map[row.TableName]bool, len(views))
	for _, v := range views {
		if v.Name.Schema == "" || v.Name.Name == "" {
			bad("view %q: schema and name must both be set", v.Name.Schema+"."+v.Name.Name)
			continue
		}
		if seen[v.Name] {
			bad("view %s is listed twice", v.Name)
		}
		seen[v.Name] = true
		if len(v.Columns) == 0 {
			bad("view %s has no columns", v.Name)
		}
		cols := make(map[string]bool, len(v.Columns))
		for _, c := range v.Columns {
			if c.Name == "" {
				bad("view %s has a column without a name", v.Name)
			}
			if cols[c.Name] {
				bad("view %s: column %s appears twice", v.Name, row.QuoteIdent(c.Name))
			}
			cols[c.Name] = true
			if !c.Type.Supported() {
				bad("view %s: column %s has unsupported type %s", v.Name, row.QuoteIdent(c.Name), c.Type)
			}
		}
		keys := make(map[int]bool, len(v.Key))
		for _, k := range v.Key {
			if k < 0 || k >= len(v.Columns) {
				bad("view %s: key column %d out of range (view has %d columns)", v.Name, k, len(v.Columns))
				continue
			}
			if keys[k] {
				bad("view %s: key column %s listed twice", v.Name, row.QuoteIdent(v.Columns[k].Name))
			}
			keys[k] = true
		}
	}
	return errors.Join(errs...)
}

// matchColumns are the columns a retraction is matched on: the key when
// the view has one, every column otherwise.
func matchColumns(v View) []int {
	if len(v.Key) > 0 {
		return v.Key
	}
	all := make([]int, len(v.Columns))
	for i := range all {
		all[i] = i
	}
	return all
}

// checkDelta checks that every row of d has the view's width.
func checkDelta(sinkName string, v View, d Delta) error {
	for _, u := range d.Rows {
		if len(u.Row) != len(v.Columns) {
			return fmt.Errorf("sink %s: view %s: row %s has %d columns, the view has %d",
				sinkName, v.Name, formatRow(u.Row), len(u.Row), len(v.Columns))
		}
	}
	return nil
}

// checkLoadRows checks rows loaded into view v of sink sinkName: insertions
// only (weights of at least 1), each of v's width.
func checkLoadRows(sinkName string, v View, rows []row.Update) error {
	for _, u := range rows {
		if u.W < 1 {
			return fmt.Errorf("sink %s: load view %s: row %s has weight %d; a load holds insertions only",
				sinkName, v.Name, formatRow(u.Row), u.W)
		}
	}
	if err := checkDelta(sinkName, v, Delta{View: v.Name, Rows: rows}); err != nil {
		return fmt.Errorf("load: %w", err)
	}
	return nil
}

// formatRow renders a row for error messages, bounded in length.
func formatRow(r row.Row) string {
	var b strings.Builder
	b.WriteByte('(')
	for i, d := range r {
		if i > 0 {
			b.WriteString(", ")
		}
		if d.IsNull() {
			b.WriteString("NULL")
		} else {
			s := row.FormatText(d)
			if len(s) > 64 {
				s = s[:64] + "..."
			}
			b.WriteString("'" + strings.ReplaceAll(s, "'", "''") + "'")
		}
		if b.Len() > 256 {
			b.WriteString(", ...")
			break
		}
	}
	b.WriteByte(')')
	return b.String()
}
