package cdc

import (
	"testing"

	"github.com/rippledb/ripple/internal/row"
)

// BenchmarkCopyRow measures decoding one COPY text line of a typical
// table (int, int, numeric, text, timestamptz, NULL) into a row: the
// snapshot's per-row cost on top of PostgreSQL's COPY.
func BenchmarkCopyRow(b *testing.B) {
	rel := &Relation{Columns: row.Schema{
		{Name: "id", Type: row.Int4}, {Name: "v", Type: row.Int8}, {Name: "price", Type: row.Numeric},
		{Name: "note", Type: row.Text}, {Name: "ts", Type: row.TimestampTZ}, {Name: "flag", Type: row.Bool},
	}}
	line := []byte("123456\t-42\t1234.50\tsome note text here\t2024-02-29 12:34:56.789+00\t\\N")
	var buf []copyField
	b.ReportAllocs()
	for b.Loop() {
		if _, err := copyRow(rel, line, &buf); err != nil {
			b.Fatal(err)
		}
	}
}
