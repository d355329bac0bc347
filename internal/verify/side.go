package verify

import (
	"bytes"
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/rippledb/ripple/internal/row"
	"github.com/rippledb/ripple/sink"
)

// View is what verify needs to know about a view.
type View struct {
	Name    row.TableName // the sink table
	Query   string        // the view's SELECT, run on the source
	Columns row.Schema
	// Key lists columns unique among the view's rows (nil: none known);
	// rows are bucketed by them, so a changed non-key value moves no row
	// to another bucket.
	Key []int
}

// keyCols are the columns rows are bucketed by.
func (v View) keyCols() []int {
	if len(v.Key) > 0 {
		return v.Key
	}
	all := make([]int, len(v.Columns))
	for i := range all {
		all[i] = i
	}
	return all
}

// Side is one side of a comparison: the source or a sink.
type Side interface {
	// Fingerprint computes the fingerprints of v's rows split into n
	// buckets, only of the buckets listed in only when it is not nil.
	Fingerprint(ctx context.Context, v View, n int, only []int) (Fingerprint, error)
	// Rows returns the record text (RecordText) of every row of v in the
	// listed buckets, with its multiplicity.
	Rows(ctx context.Context, v View, n int, buckets []int) (map[string]int64, error)
}

// SQL is a Side computed by PostgreSQL over a relation: the view's SELECT
// on the source (Source), or the view's table in a PostgreSQL sink
// (PostgresSink). Conn must have row.SessionSettings pinned.
type SQL struct {
	Conn *pgx.Conn
	// source: evaluate the view's query instead of reading its table.
	source bool
}

// Source is the source side: the view's SELECT.
func Source(conn *pgx.Conn) *SQL { return &SQL{Conn: conn, source: true} }

// PostgresSink is a PostgreSQL sink's side: the view's table.
func PostgresSink(conn *pgx.Conn) *SQL { return &SQL{Conn: conn} }

var _ Side = (*SQL)(nil)

// relation returns the FROM item and the column references of v.
func (s *SQL) relation(v View) (string, []string) {
	cols := make([]string, len(v.Columns))
	if s.source {
		// Positional names: a view's output names need not be unique.
		for i := range cols {
			cols[i] = fmt.Sprintf("v.c%d", i+1)
		}
		names := strings.ReplaceAll(strings.Join(cols, ", "), "v.", "")
		return fmt.Sprintf("(%s) AS v (%s)", v.Query, names), cols
	}
	for i, c := range v.Columns {
		cols[i] = "v." + row.QuoteIdent(c.Name)
	}
	return v.Name.String() + " AS v", cols
}

func (s *SQL) exprs(v View, n int) (from, record, bucket string) {
	from, cols := s.relation(v)
	key := make([]string, 0, len(v.Columns))
	for _, k := range v.keyCols() {
		key = append(key, cols[k])
	}
	record = "ROW(" + strings.Join(cols, ", ") + ")"
	bucket = bucketSQL("ROW("+strings.Join(key, ", ")+")", n)
	return from, record, bucket
}

// Fingerprint implements Side.
func (s *SQL) Fingerprint(ctx context.Context, v View, n int, only []int) (Fingerprint, error) {
	from, record, bucket := s.exprs(v, n)
	version := "''" // the view's SELECT has no row versions
	if !s.source {
		version = "sum(x)::text"
	}
	q := fmt.Sprintf("SELECT b, count(*), sum(h)::text, %s FROM (SELECT %s AS b, %s AS h, %s AS x FROM %s) s",
		version, bucket, rowHashSQL(record), s.xminHash(), from)
	var args []any
	if only != nil {
		q += " WHERE b = ANY($1::int[])"
		args = append(args, only)
	}
	q += " GROUP BY b"
	rows, err := s.Conn.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("fingerprint %s: %w", v.Name, err)
	}
	defer rows.Close()
	fp := Fingerprint{}
	for rows.Next() {
		var b int
		var fb Bucket
		if err := rows.Scan(&b, &fb.Count, &fb.Sum, &fb.Version); err != nil {
			return nil, fmt.Errorf("fingerprint %s: %w", v.Name, err)
		}
		fp[b] = fb
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("fingerprint %s: %w", v.Name, err)
	}
	return fp, nil
}

// xminHash is the SQL of a 64-bit hash of each row's version: of its xmin
// in a sink table, a constant for the view's SELECT.
func (s *SQL) xminHash() string {
	if s.source {
		return "0"
	}
	return rowHashSQL("v.xmin")
}

// Rows implements Side.
func (s *SQL) Rows(ctx context.Context, v View, n int, buckets []int) (map[string]int64, error) {
	from, record, bucket := s.exprs(v, n)
	q := fmt.Sprintf("SELECT r, count(*) FROM (SELECT %s::text AS r, %s AS b FROM %s) s WHERE b = ANY($1::int[]) GROUP BY r", record, bucket, from)
	rows, err := s.Conn.Query(ctx, q, buckets)
	if err != nil {
		return nil, fmt.Errorf("read rows of %s: %w", v.Name, err)
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var r string
		var c int64
		if err := rows.Scan(&r, &c); err != nil {
			return nil, fmt.Errorf("read rows of %s: %w", v.Name, err)
		}
		out[r] = c
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read rows of %s: %w", v.Name, err)
	}
	return out, nil
}

// Dump is the Side of a sink that can only dump its rows (sink.Dumper):
// fingerprints and rows are computed in Go from the dump, one line at a
// time (memory holds one line plus the per-bucket sums, or the rows of
// the buckets asked for).
type Dump struct {
	Sink sink.Dumper
}

var _ Side = Dump{}

// scan dumps v and calls fn with each row's bucket and record text.
func (d Dump) scan(ctx context.Context, v View, n int, fn func(bucket int, record string)) error {
	keys := v.keyCols()
	w := &lineWriter{fn: func(line string) error {
		vals, err := ParseCopyLine(line)
		if err != nil {
			return fmt.Errorf("dump of %s: %w", v.Name, err)
		}
		if len(vals) != len(v.Columns) {
			return fmt.Errorf("dump of %s: a row has %d columns, the view %d", v.Name, len(vals), len(v.Columns))
		}
		key := make([]*string, len(keys))
		for i, k := range keys {
			key[i] = vals[k]
		}
		fn(BucketOf(RecordText(key), n), RecordText(vals))
		return nil
	}}
	if err := d.Sink.Dump(ctx, v.Name, w); err != nil {
		return err
	}
	if w.err != nil {
		return w.err
	}
	if len(w.partial) > 0 {
		return fmt.Errorf("dump of %s: last line has no newline", v.Name)
	}
	return nil
}

// Fingerprint implements Side.
func (d Dump) Fingerprint(ctx context.Context, v View, n int, only []int) (Fingerprint, error) {
	want := bucketSet(only)
	acc := newAccumulator()
	err := d.scan(ctx, v, n, func(b int, rec string) {
		if want == nil || want[b] {
			acc.add(b, RowHash(rec))
		}
	})
	if err != nil {
		return nil, err
	}
	return acc.fingerprint(), nil
}

// Rows implements Side.
func (d Dump) Rows(ctx context.Context, v View, n int, buckets []int) (map[string]int64, error) {
	want := bucketSet(buckets)
	out := map[string]int64{}
	err := d.scan(ctx, v, n, func(b int, rec string) {
		if want[b] {
			out[rec]++
		}
	})
	return out, err
}

func bucketSet(bs []int) map[int]bool {
	if bs == nil {
		return nil
	}
	m := make(map[int]bool, len(bs))
	for _, b := range bs {
		m[b] = true
	}
	return m
}

// lineWriter calls fn with every complete line written to it. After fn
// fails, it keeps the error and discards the rest (the dump still ends
// normally; scan reports the error).
type lineWriter struct {
	fn      func(line string) error
	partial []byte
	err     error
}

func (w *lineWriter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 && w.err == nil {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			w.partial = append(w.partial, p...)
			break
		}
		line := p[:i]
		if len(w.partial) > 0 {
			line = append(w.partial, line...)
			w.partial = w.partial[:0]
		}
		w.err = w.fn(string(line))
		p = p[i+1:]
	}
	return n, nil
}
