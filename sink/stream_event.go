package sink

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"unicode/utf8"

	"github.com/rippledb/ripple/internal/row"
)

// Event types of the change stream (stream_format.md).
const (
	streamStep     = "step"
	streamSnapshot = "snapshot"
)

// streamCommitTimeLayout is RFC 3339 in UTC with exactly microseconds, the
// precision of a PostgreSQL commit timestamp.
const streamCommitTimeLayout = "2006-01-02T15:04:05.000000Z07:00"

// streamView is a view with its name as the stream spells it.
type streamView struct {
	View
	key string // row.TableName.String(): schema.name, quoted where needed
}

// appendStreamHeader appends the opening of an event: the three fields
// recovery reads, always first and in this order.
func appendStreamHeader(buf []byte, typ, pipeline string, lsn row.LSN) []byte {
	buf = append(buf, `{"type":"`...)
	buf = append(buf, typ...)
	buf = append(buf, `","pipeline":`...)
	buf, _ = appendJSONString(buf, pipeline) // validated UTF-8 in Open
	buf = append(buf, `,"lsn":"`...)
	buf = append(buf, lsn.String()...)
	return append(buf, '"')
}

// appendStepEvent appends step as one line. Deltas of one view are merged
// under one key; byView resolves and has checked every view already.
func appendStepEvent(buf []byte, pipeline string, step Step, byView map[row.TableName]*streamView) ([]byte, error) {
	buf = appendStreamHeader(buf, streamStep, pipeline, step.LSN)
	buf = append(buf, `,"commit_time":`...)
	if step.CommitTime.IsZero() {
		buf = append(buf, "null"...)
	} else {
		buf = append(buf, '"')
		buf = step.CommitTime.UTC().AppendFormat(buf, streamCommitTimeLayout)
		buf = append(buf, '"')
	}
	buf = append(buf, `,"views":{`...)
	var order []row.TableName
	rows := make(map[row.TableName][]row.Update)
	for _, d := range step.Deltas {
		if _, ok := rows[d.View]; !ok {
			order = append(order, d.View)
		}
		rows[d.View] = append(rows[d.View], d.Rows...)
	}
	var err error
	for i, name := range order {
		v := byView[name]
		if i > 0 {
			buf = append(buf, ',')
		}
		buf, _ = appendJSONString(buf, v.key)
		buf = append(buf, `:{"added":[`...)
		if buf, err = appendStreamRows(buf, v, rows[name], 1); err != nil {
			return nil, err
		}
		buf = append(buf, `],"removed":[`...)
		if buf, err = appendStreamRows(buf, v, rows[name], -1); err != nil {
			return nil, err
		}
		buf = append(buf, "]}"...)
	}
	return append(buf, "}}\n"...), nil
}

// appendSnapshotEvent appends a snapshot of every view in views (in that
// order) as one line; rows holds the contents by view.
func appendSnapshotEvent(buf []byte, pipeline string, lsn row.LSN, views []*streamView, rows map[row.TableName][]row.Update) ([]byte, error) {
	buf = appendStreamHeader(buf, streamSnapshot, pipeline, lsn)
	buf = append(buf, `,"views":{`...)
	var err error
	for i, v := range views {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf, _ = appendJSONString(buf, v.key)
		buf = append(buf, `:{"columns":[`...)
		for j, c := range v.Columns {
			if j > 0 {
				buf = append(buf, ',')
			}
			buf = append(buf, `{"name":`...)
			buf, _ = appendJSONString(buf, c.Name)
			buf = append(buf, `,"type":`...)
			buf, _ = appendJSONString(buf, c.Type.String())
			buf = append(buf, '}')
		}
		buf = append(buf, `],"key":[`...)
		for j, k := range v.Key {
			if j > 0 {
				buf = append(buf, ',')
			}
			buf, _ = appendJSONString(buf, v.Columns[k].Name)
		}
		buf = append(buf, `],"rows":[`...)
		if buf, err = appendStreamRows(buf, v, rows[v.Name], 1); err != nil {
			return nil, err
		}
		buf = append(buf, "]}"...)
	}
	return append(buf, "}}\n"...), nil
}

// appendStreamRows appends, comma-separated, every update of us whose
// weight has sign's sign, as many times as its weight's magnitude.
func appendStreamRows(buf []byte, v *streamView, us []row.Update, sign row.Weight) ([]byte, error) {
	first := true
	for _, u := range us {
		n := u.W * sign
		if n <= 0 {
			continue
		}
		start := len(buf)
		if !first {
			buf = append(buf, ',')
		}
		buf = append(buf, '{')
		for i, d := range u.Row {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf, _ = appendJSONString(buf, v.Columns[i].Name)
			buf = append(buf, ':')
			if d.IsNull() {
				buf = append(buf, "null"...)
				continue
			}
			var ok bool
			if buf, ok = appendJSONString(buf, row.FormatText(d)); !ok {
				return nil, fmt.Errorf("view %s: column %s of row %s is not valid UTF-8, which JSON cannot carry",
					v.Name, row.QuoteIdent(v.Columns[i].Name), formatRow(u.Row))
			}
		}
		buf = append(buf, '}')
		first = false
		// The other copies repeat the bytes just written, with a comma.
		one := buf[start:]
		if one[0] != ',' {
			one = append([]byte{','}, one...)
		} else {
			one = append([]byte(nil), one...)
		}
		for range n - 1 {
			buf = append(buf, one...)
		}
	}
	return buf, nil
}

// appendJSONString appends s as a JSON string. It reports false, appending
// nothing, when s is not valid UTF-8: JSON text is Unicode, and replacing
// the bytes would break the exact round trip the format promises.
func appendJSONString(buf []byte, s string) ([]byte, bool) {
	if !utf8.ValidString(s) {
		return buf, false
	}
	const hex = "0123456789abcdef"
	buf = append(buf, '"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"':
			buf = append(buf, `\"`...)
		case c == '\\':
			buf = append(buf, `\\`...)
		case c == '\n':
			buf = append(buf, `\n`...)
		case c == '\r':
			buf = append(buf, `\r`...)
		case c == '\t':
			buf = append(buf, `\t`...)
		case c < 0x20:
			buf = append(buf, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		default:
			buf = append(buf, c)
		}
	}
	return append(buf, '"'), true
}

// streamHeader is what recovery needs of an event.
type streamHeader struct {
	Type     string
	Pipeline string
	LSN      row.LSN
}

// readStreamHeader reads the leading type, pipeline and lsn fields of the
// event in r and then checks, token by token, that the rest of r is one
// complete JSON object and nothing more. Its memory does not grow with the
// event's size, so a large snapshot line costs time but not memory.
func readStreamHeader(r io.Reader) (streamHeader, error) {
	var h streamHeader
	dec := json.NewDecoder(bufio.NewReaderSize(r, 64<<10))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return h, fmt.Errorf("event does not start with a JSON object (%v)", err)
	}
	var lsn string
	for _, want := range []string{"type", "pipeline", "lsn"} {
		key, err := dec.Token()
		if err != nil {
			return h, fmt.Errorf("read event field %q: %w", want, err)
		}
		if key != want {
			return h, fmt.Errorf("event field %v where %q was expected", key, want)
		}
		val, err := dec.Token()
		if err != nil {
			return h, fmt.Errorf("read event field %q: %w", want, err)
		}
		s, ok := val.(string)
		if !ok {
			return h, fmt.Errorf("event field %q is %v, not a string", want, val)
		}
		switch want {
		case "type":
			h.Type = s
		case "pipeline":
			h.Pipeline = s
		case "lsn":
			lsn = s
		}
	}
	if h.Type != streamStep && h.Type != streamSnapshot {
		return h, fmt.Errorf("event type %q is not %q or %q", h.Type, streamStep, streamSnapshot)
	}
	var err error
	if h.LSN, err = row.ParseLSN(lsn); err != nil {
		return h, err
	}
	for depth := 1; depth > 0; {
		tok, err := dec.Token()
		if err != nil {
			return h, fmt.Errorf("event at %s is incomplete: %w", lsn, err)
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			depth++
		case json.Delim('}'), json.Delim(']'):
			depth--
		}
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return h, fmt.Errorf("event at %s: trailing data after the object", lsn)
	}
	return h, nil
}

// streamEventJSON is a decoded event, for replay.
type streamEventJSON struct {
	Type     string                    `json:"type"`
	Pipeline string                    `json:"pipeline"`
	LSN      string                    `json:"lsn"`
	Views    map[string]streamViewJSON `json:"views"`
}

type streamViewJSON struct {
	Rows    []map[string]*string `json:"rows"`
	Added   []map[string]*string `json:"added"`
	Removed []map[string]*string `json:"removed"`
}

// streamReplay rebuilds one view's contents from a sequence of events: the
// last snapshot, then every later step's removals and additions.
type streamReplay struct {
	sink     string
	pipeline string
	view     *streamView
	rows     map[string]*streamReplayRow // by encoded values
	events   int
}

type streamReplayRow struct {
	vals []*string
	n    int64
}

func newStreamReplay(sinkName, pipeline string, v *streamView) *streamReplay {
	return &streamReplay{sink: sinkName, pipeline: pipeline, view: v, rows: map[string]*streamReplayRow{}}
}

// add replays one event (one line or message).
func (r *streamReplay) add(data []byte) error {
	r.events++
	var ev streamEventJSON
	if err := json.Unmarshal(data, &ev); err != nil {
		return fmt.Errorf("event %d: %w", r.events, err)
	}
	if ev.Pipeline != r.pipeline {
		return fmt.Errorf("event %d at %s belongs to pipeline %q, not %q", r.events, ev.LSN, ev.Pipeline, r.pipeline)
	}
	vj := ev.Views[r.view.key]
	switch ev.Type {
	case streamSnapshot:
		r.rows = map[string]*streamReplayRow{}
		return r.apply(ev.LSN, vj.Rows, 1)
	case streamStep:
		if err := r.apply(ev.LSN, vj.Removed, -1); err != nil {
			return err
		}
		return r.apply(ev.LSN, vj.Added, 1)
	}
	return fmt.Errorf("event %d at %s: unknown type %q", r.events, ev.LSN, ev.Type)
}

func (r *streamReplay) apply(lsn string, objs []map[string]*string, w int64) error {
	cols := r.view.Columns
	for _, obj := range objs {
		if len(obj) != len(cols) {
			return fmt.Errorf("event at %s: view %s: row has %d columns, the view has %d", lsn, r.view.Name, len(obj), len(cols))
		}
		vals := make([]*string, len(cols))
		var key []byte
		for i, c := range cols {
			v, ok := obj[c.Name]
			if !ok {
				return fmt.Errorf("event at %s: view %s: row lacks column %s", lsn, r.view.Name, row.QuoteIdent(c.Name))
			}
			vals[i] = v
			if v == nil {
				key = append(key, 'n')
				continue
			}
			key = append(key, 's')
			key = strconv.AppendInt(key, int64(len(*v)), 10)
			key = append(key, ':')
			key = append(key, *v...)
		}
		e := r.rows[string(key)]
		if e == nil {
			if w < 0 {
				return fmt.Errorf("sink %s: replay event at %s: view %s: removed row %v is not held: %w",
					r.sink, lsn, r.view.Name, showVals(vals), ErrOutOfSync)
			}
			e = &streamReplayRow{vals: vals}
			r.rows[string(key)] = e
		}
		e.n += w
		if e.n == 0 {
			delete(r.rows, string(key))
		}
	}
	return nil
}

func showVals(vals []*string) string {
	r := make(row.Row, len(vals))
	for i, v := range vals {
		if v != nil {
			r[i] = row.NewText(*v)
		}
	}
	return formatRow(r)
}

// dump writes the replayed contents as COPY text, parsing every value as
// its column's type so a value that would not round-trip is reported.
func (r *streamReplay) dump(w io.Writer) error {
	out := make([]row.Update, 0, len(r.rows))
	for _, e := range r.rows {
		rw := make(row.Row, len(e.vals))
		for i, v := range e.vals {
			if v == nil {
				continue
			}
			d, err := row.ParseText(r.view.Columns[i].Type, *v)
			if err != nil {
				return fmt.Errorf("sink %s: view %s: column %s: %w", r.sink, r.view.Name, row.QuoteIdent(r.view.Columns[i].Name), err)
			}
			rw[i] = d
		}
		out = append(out, row.Update{Row: rw, W: row.Weight(e.n)})
	}
	slices.SortFunc(out, func(a, b row.Update) int { return row.CompareRows(a.Row, b.Row) })
	bw := bufio.NewWriter(w)
	var line []byte
	for _, u := range out {
		line = appendCopyRow(line[:0], u.Row)
		for range u.W {
			if _, err := bw.Write(line); err != nil {
				return err
			}
		}
	}
	return bw.Flush()
}
