package sink

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rippledb/ripple/internal/row"
)

// streamTestView has a column of every supported type.
var streamTestView = View{
	Name: row.TableName{Schema: "public", Name: "every_type"},
	Columns: row.Schema{
		{Name: "id", Type: row.Int4},
		{Name: "i8", Type: row.Int8},
		{Name: "t", Type: row.Text},
		{Name: "b", Type: row.Bool},
		{Name: "f8", Type: row.Float8},
		{Name: "f4", Type: row.Float4},
		{Name: "n", Type: row.Numeric},
		{Name: "d", Type: row.Date},
		{Name: "ts", Type: row.Timestamp},
		{Name: "tz", Type: row.TimestampTZ},
		{Name: "u", Type: row.UUID},
		{Name: "j", Type: row.JSON},
		{Name: "jb", Type: row.JSONB},
		{Name: "by", Type: row.Bytea},
		{Name: "vc", Type: row.Type{OID: row.OIDVarchar, Mod: 14}},
		{Name: "Odd \"name\"", Type: row.Int2},
	},
	Key: []int{0},
}

// streamOtherView is a keyless multiset view.
var streamOtherView = View{
	Name:    row.TableName{Schema: "app", Name: "Counts"},
	Columns: row.Schema{{Name: "k", Type: row.Text}, {Name: "n", Type: row.Int8}},
}

// streamRow parses one text value per column of v; "<null>" is NULL.
func streamRow(t *testing.T, v View, vals ...string) row.Row {
	t.Helper()
	if len(vals) != len(v.Columns) {
		t.Fatalf("streamRow: %d values for %d columns", len(vals), len(v.Columns))
	}
	r := make(row.Row, len(vals))
	for i, s := range vals {
		if s == "<null>" {
			continue
		}
		d, err := row.ParseText(v.Columns[i].Type, s)
		if err != nil {
			t.Fatalf("streamRow: column %s: %v", v.Columns[i].Name, err)
		}
		r[i] = d
	}
	return r
}

func everyTypeRow(t *testing.T, id string, text string) row.Row {
	return streamRow(t, streamTestView, id, "9223372036854775807", text, "t", "NaN", "3.4028235e+38", "1.500",
		"2024-02-29", "2024-01-01 12:34:56.789012", "1999-12-31 23:59:59.5+00",
		"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", `{"a": [1, "x\ty"],  "b":null}`, `{"a": 1}`, `\x00ff5c0a`, "abc  ", "-32768")
}

func nullRow(t *testing.T, id string) row.Row {
	vals := make([]string, len(streamTestView.Columns))
	for i := range vals {
		vals[i] = "<null>"
	}
	vals[0] = id
	return streamRow(t, streamTestView, vals...)
}

func otherRow(t *testing.T, k, n string) row.Row { return streamRow(t, streamOtherView, k, n) }

// streamScript is a load and steps with every kind of value and change.
func streamScript(t *testing.T) (row.LSN, map[row.TableName][]row.Update, []Step) {
	ev, ot := streamTestView.Name, streamOtherView.Name
	load := map[row.TableName][]row.Update{
		ev: {
			{Row: everyTypeRow(t, "1", "tab\there, line\nbreak, back\\slash, \"quoted\", \x01ctrl, ünïcødé ✓"), W: 1},
			{Row: everyTypeRow(t, "2", ""), W: 1}, // empty text, not NULL
			{Row: nullRow(t, "3"), W: 1},
			{Row: streamRow(t, streamTestView, "4", "-1", "<null>", "f", "-0", "-Infinity", "-0.000", "infinity",
				"-infinity", "0044-03-15 00:00:00+00 BC", "00000000-0000-0000-0000-000000000000", "null", "[]", `\x`, "", "0"), W: 1},
		},
		ot: {{Row: otherRow(t, "a", "1"), W: 3}, {Row: otherRow(t, "<null>", "<null>"), W: 1}},
	}
	commit := time.Date(2026, 3, 1, 10, 20, 30, 123456000, time.UTC)
	steps := []Step{
		{LSN: 0x16B3748, CommitTime: commit, Deltas: []Delta{
			{View: ot, Rows: []row.Update{{Row: otherRow(t, "a", "1"), W: -2}, {Row: otherRow(t, "b", "2"), W: 2}}},
		}},
		{LSN: 0x1_0000_0000, CommitTime: commit.Add(time.Second), Deltas: []Delta{
			{View: ev, Rows: []row.Update{{Row: nullRow(t, "3"), W: -1}, {Row: nullRow(t, "5"), W: 1}}},
			{View: ot, Rows: []row.Update{{Row: otherRow(t, "<null>", "<null>"), W: -1}}},
		}},
		{LSN: 0x1_0000_0100, Deltas: []Delta{ // no commit time: null
			{View: ev, Rows: []row.Update{{Row: everyTypeRow(t, "2", ""), W: -1}, {Row: everyTypeRow(t, "2", "two"), W: 1}}},
		}},
	}
	return 0x16B3000, load, steps
}

// streamDumpLines dumps view from d as sorted COPY lines: the two sinks may
// order rows that compare equal (numeric 1.5 and 1.50) differently.
func streamDumpLines(t *testing.T, d Dumper, view row.TableName) []string {
	t.Helper()
	var buf bytes.Buffer
	if err := d.Dump(context.Background(), view, &buf); err != nil {
		t.Fatalf("dump %s: %v", view, err)
	}
	lines := strings.SplitAfter(buf.String(), "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	slices.Sort(lines)
	return lines
}

// checkStreamDumps compares every view's dump of got with want's.
func checkStreamDumps(t *testing.T, got Dumper, want *Memory) {
	t.Helper()
	for _, v := range []row.TableName{streamTestView.Name, streamOtherView.Name} {
		g, w := streamDumpLines(t, got, v), streamDumpLines(t, want, v)
		if !slices.Equal(g, w) {
			t.Errorf("dump of %s:\n got %q\nwant %q", v, g, w)
		}
	}
}

func openStream(t *testing.T, cfg StreamConfig, pipeline string) (*Stream, row.LSN) {
	t.Helper()
	if cfg.Name == "" {
		cfg.Name = "events"
	}
	s := NewStream(cfg)
	lsn, err := s.Open(context.Background(), pipeline, []View{streamTestView, streamOtherView})
	if err != nil {
		t.Fatalf("open stream: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s, lsn
}

func streamFileLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) > 0 && b[len(b)-1] != '\n' {
		t.Fatalf("%s does not end with a newline", path)
	}
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}

func TestStreamFileRoundTrip(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "events.jsonl")
	s, lsn := openStream(t, StreamConfig{Path: path}, "ripple")
	if lsn != 0 {
		t.Fatalf("progress of a new file = %s, want 0", lsn)
	}
	mem := NewMemory("mem")
	if _, err := mem.Open(ctx, "ripple", []View{streamTestView, streamOtherView}); err != nil {
		t.Fatal(err)
	}
	loadLSN, load, steps := streamScript(t)
	for _, sk := range []Sink{s, mem} {
		if err := sk.Load(ctx, loadLSN, load); err != nil {
			t.Fatalf("%s: load: %v", sk.Name(), err)
		}
	}
	checkStreamDumps(t, s, mem)
	for _, st := range steps {
		for _, sk := range []Sink{s, mem} {
			if err := sk.Apply(ctx, st); err != nil {
				t.Fatalf("%s: apply %s: %v", sk.Name(), st.LSN, err)
			}
		}
		checkStreamDumps(t, s, mem)
	}
	if n, m := len(streamDumpLines(t, s, streamTestView.Name)), len(streamDumpLines(t, s, streamOtherView.Name)); n != 4 || m != 3 {
		t.Errorf("dumps hold %d and %d rows, want 4 and 3", n, m)
	}
	if p, _ := s.Progress(ctx); p != steps[len(steps)-1].LSN {
		t.Errorf("progress = %s, want %s", p, steps[len(steps)-1].LSN)
	}

	lines := streamFileLines(t, path)
	if len(lines) != 1+len(steps) {
		t.Fatalf("file has %d lines, want %d", len(lines), 1+len(steps))
	}
	// The first step's line exactly: duplicates written out, removed rows
	// by weight, values as strings.
	want := `{"type":"step","pipeline":"ripple","lsn":"0/16B3748","commit_time":"2026-03-01T10:20:30.123456Z",` +
		`"views":{"app.\"Counts\"":{"added":[{"k":"b","n":"2"},{"k":"b","n":"2"}],"removed":[{"k":"a","n":"1"},{"k":"a","n":"1"}]}}}`
	if lines[1] != want {
		t.Errorf("step line:\n got %s\nwant %s", lines[1], want)
	}
	if !strings.Contains(lines[3], `"commit_time":null`) {
		t.Errorf("step without a commit time: %s", lines[3])
	}
	// The snapshot carries every view's columns, key and rows; every value
	// is a string or null and parses back to the value written.
	var snap struct {
		Type  string
		LSN   string
		Views map[string]struct {
			Columns []struct{ Name, Type string }
			Key     []string
			Rows    []map[string]*string
		}
	}
	if err := json.Unmarshal([]byte(lines[0]), &snap); err != nil {
		t.Fatal(err)
	}
	if snap.Type != "snapshot" || snap.LSN != "0/16B3000" {
		t.Errorf("snapshot type %q lsn %q", snap.Type, snap.LSN)
	}
	ev := snap.Views[`public.every_type`]
	if len(ev.Columns) != len(streamTestView.Columns) || ev.Columns[14].Type != "character varying(10)" ||
		!slices.Equal(ev.Key, []string{"id"}) || len(ev.Rows) != 4 {
		t.Errorf("snapshot of every_type: columns %v key %v, %d rows", ev.Columns, ev.Key, len(ev.Rows))
	}
	if other := snap.Views[`app."Counts"`]; len(other.Rows) != 4 || other.Key == nil || len(other.Key) != 0 {
		t.Errorf("snapshot of Counts: %d rows (want 4: weight 3 written 3 times), key %v", len(other.Rows), other.Key)
	}
	for _, r := range ev.Rows {
		if r["id"] == nil || *r["id"] != "3" {
			continue
		}
		for c, v := range r {
			if c != "id" && v != nil {
				t.Errorf("NULL column %s written as %q", c, *v)
			}
		}
	}
}

func TestStreamFileRestart(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "events.jsonl")
	loadLSN, load, steps := streamScript(t)
	mem := NewMemory("mem")
	if _, err := mem.Open(ctx, "ripple", []View{streamTestView, streamOtherView}); err != nil {
		t.Fatal(err)
	}
	s1, _ := openStream(t, StreamConfig{Path: path}, "ripple")
	for _, sk := range []Sink{s1, mem} {
		if err := sk.Load(ctx, loadLSN, load); err != nil {
			t.Fatal(err)
		}
		if err := sk.Apply(ctx, steps[0]); err != nil {
			t.Fatal(err)
		}
	}
	s1.Close()
	before := streamFileLines(t, path)

	// A crash in the middle of writing the next step leaves a torn line.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(`{"type":"step","pipeline":"ripple","lsn":"1/0","commit_ti`); err != nil {
		t.Fatal(err)
	}
	f.Close()

	s2, lsn := openStream(t, StreamConfig{Path: path}, "ripple")
	if lsn != steps[0].LSN {
		t.Fatalf("recovered progress %s, want %s", lsn, steps[0].LSN)
	}
	if after := streamFileLines(t, path); !slices.Equal(after, before) {
		t.Fatalf("torn line not truncated away: %d lines, want %d", len(after), len(before))
	}
	// The pipeline resends from before the progress: steps at or below it
	// are skipped.
	for _, st := range []Step{{LSN: loadLSN}, steps[0]} {
		if err := s2.Apply(ctx, st); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(streamFileLines(t, path)); n != len(before) {
		t.Fatalf("re-applied steps were written again: %d lines, want %d", n, len(before))
	}
	for _, st := range steps[1:] {
		for _, sk := range []Sink{s2, mem} {
			if err := sk.Apply(ctx, st); err != nil {
				t.Fatal(err)
			}
		}
	}
	checkStreamDumps(t, s2, mem)
	if n := len(streamFileLines(t, path)); n != 1+len(steps) {
		t.Fatalf("%d lines, want %d", n, 1+len(steps))
	}
	s2.Close()

	// Another pipeline's file is refused.
	other := NewStream(StreamConfig{Name: "events", Path: path})
	if _, err := other.Open(ctx, "other", []View{streamTestView}); err == nil || !strings.Contains(err.Error(), `pipeline "ripple"`) {
		t.Errorf("open another pipeline's file: err = %v", err)
	}
	// A damaged last line (complete, but not an event) is an error, not a
	// guess.
	if err := os.WriteFile(path, []byte("{\"type\":\"step\"}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := NewStream(StreamConfig{Name: "events", Path: path}).Open(ctx, "ripple", []View{streamTestView}); err == nil {
		t.Error("open with a damaged last line succeeded")
	}
}

func TestStreamFileTornOnly(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.jsonl")
	if err := os.WriteFile(path, []byte(`{"type":"snapsh`), 0o644); err != nil {
		t.Fatal(err)
	}
	_, lsn := openStream(t, StreamConfig{Path: path}, "ripple")
	if lsn != 0 {
		t.Errorf("progress = %s, want 0", lsn)
	}
	if fi, err := os.Stat(path); err != nil || fi.Size() != 0 {
		t.Errorf("torn first line not truncated: %v, %v", fi, err)
	}
}

func TestStreamFileForget(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "events.jsonl")
	s, _ := openStream(t, StreamConfig{Path: path}, "ripple")
	if err := s.Load(ctx, 10, nil); err != nil {
		t.Fatal(err)
	}
	s.Close()
	f := NewStream(StreamConfig{Name: "events", Path: path})
	if err := f.Forget(ctx, "ripple", false); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("file still there after Forget: %v", err)
	}
	if lines := streamFileLines(t, path+".dropped"); len(lines) != 1 {
		t.Errorf("dropped file has %d lines", len(lines))
	}
	if err := f.Forget(ctx, "ripple", true); err != nil {
		t.Errorf("forget again: %v", err)
	}
	_, lsn := openStream(t, StreamConfig{Path: path}, "ripple")
	if lsn != 0 {
		t.Errorf("progress after Forget = %s", lsn)
	}
}

func TestStreamStdout(t *testing.T) {
	ctx := context.Background()
	loadLSN, load, steps := streamScript(t)
	var out bytes.Buffer
	for run := range 2 {
		s := NewStream(StreamConfig{Name: "events", Path: "-"})
		s.stdout = &out
		lsn, err := s.Open(ctx, "ripple", []View{streamTestView, streamOtherView})
		if err != nil {
			t.Fatal(err)
		}
		if lsn != 0 {
			t.Fatalf("run %d: standard output recovered progress %s", run, lsn)
		}
		if err := s.Load(ctx, loadLSN, load); err != nil {
			t.Fatal(err)
		}
		for _, st := range steps {
			if err := s.Apply(ctx, st); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.Apply(ctx, steps[0]); err != nil { // at or below progress: skipped
			t.Fatal(err)
		}
		if err := s.Dump(ctx, streamTestView.Name, &bytes.Buffer{}); err == nil {
			t.Error("dump of a stdout-only stream succeeded")
		}
		s.Close()
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != 2*(1+len(steps)) {
		t.Fatalf("%d lines, want %d", len(lines), 2*(1+len(steps)))
	}
	for i, l := range lines {
		var ev struct{ Type, LSN string }
		if err := json.Unmarshal([]byte(l), &ev); err != nil {
			t.Fatalf("line %d is not JSON: %v", i, err)
		}
		if want := map[bool]string{true: "snapshot", false: "step"}[i%(1+len(steps)) == 0]; ev.Type != want {
			t.Errorf("line %d type %q, want %q", i, ev.Type, want)
		}
	}
}

func TestStreamRejects(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "events.jsonl")
	s, _ := openStream(t, StreamConfig{Path: path}, "ripple")
	bad := []struct {
		name string
		do   func() error
	}{
		{"invalid UTF-8", func() error {
			return s.Apply(ctx, Step{LSN: 20, Deltas: []Delta{{View: streamOtherView.Name,
				Rows: []row.Update{{Row: row.Row{row.NewText("ok"), row.NewInt(1)}, W: 1}, {Row: row.Row{row.NewText("\xff"), row.NewInt(1)}, W: 1}}}}})
		}},
		{"unknown view", func() error {
			return s.Apply(ctx, Step{LSN: 20, Deltas: []Delta{{View: row.TableName{Schema: "x", Name: "y"}}}})
		}},
		{"wrong width", func() error {
			return s.Apply(ctx, Step{LSN: 20, Deltas: []Delta{{View: streamOtherView.Name, Rows: []row.Update{{Row: row.Row{row.Null}, W: 1}}}}})
		}},
		{"load retraction", func() error {
			return s.Load(ctx, 20, map[row.TableName][]row.Update{streamOtherView.Name: {{Row: otherRow(t, "a", "1"), W: -1}}})
		}},
	}
	for _, tc := range bad {
		if err := tc.do(); err == nil {
			t.Errorf("%s: no error", tc.name)
		}
	}
	if b, _ := os.ReadFile(path); len(b) != 0 {
		t.Errorf("a refused step wrote %q", b)
	}
	if p, _ := s.Progress(ctx); p != 0 {
		t.Errorf("progress %s after refused steps", p)
	}

	for _, cfg := range []StreamConfig{
		{Name: "x"},
		{Path: "-"},
		{Name: "x", NATSURL: "nats://h", Subject: "a.*"},
		{Name: "x", NATSURL: "nats://h", StreamName: "a.b"},
		{Name: "x", Path: "-", Duplicates: -time.Second},
	} {
		if err := cfg.Validate(); err == nil {
			t.Errorf("Validate(%+v) = nil", cfg)
		}
	}
}

func TestNATSSubjectMatches(t *testing.T) {
	for _, tc := range []struct {
		filter, subject string
		want            bool
	}{
		{"ripple.p", "ripple.p", true},
		{"ripple.*", "ripple.p", true},
		{"ripple.>", "ripple.p", true},
		{">", "ripple.p", true},
		{"ripple.>", "ripple", false},
		{"ripple.*", "ripple.p.q", false},
		{"ripple.q", "ripple.p", false},
		{"ripple.p.q", "ripple.p", false},
	} {
		if got := natsSubjectMatches(tc.filter, tc.subject); got != tc.want {
			t.Errorf("natsSubjectMatches(%q, %q) = %v", tc.filter, tc.subject, got)
		}
	}
}
