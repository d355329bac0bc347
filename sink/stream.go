package sink

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/rippledb/ripple/internal/row"
)

// StreamConfig configures a change-stream sink. The event format is
// described in stream_format.md.
type StreamConfig struct {
	// Name is the sink's name from the configuration; it prefixes errors.
	Name string
	// Path is where events are written, one JSON object per line: "-" for
	// standard output, otherwise a file that is created if missing and
	// appended to. "" writes no file.
	Path string
	// NATSURL is the NATS server to publish events to through JetStream,
	// e.g. nats://127.0.0.1:4222. "" publishes nothing.
	NATSURL string
	// Subject is the JetStream subject events are published on. Default
	// "ripple.<pipeline>".
	Subject string
	// StreamName is the JetStream stream that holds Subject. Default
	// "RIPPLE". It is created if missing (file storage, Duplicates as its
	// deduplication window); an existing stream that does not cover Subject
	// gets Subject added.
	StreamName string
	// Duplicates is the deduplication window of a stream the sink creates:
	// a re-published event (same Nats-Msg-Id) within it is stored once.
	// Default 2 minutes. It does not change an existing stream.
	Duplicates time.Duration
	// Logger receives the sink's logs; nil discards them.
	Logger *slog.Logger
}

// Stream defaults.
const (
	DefaultStreamName       = "RIPPLE"
	DefaultStreamDuplicates = 2 * time.Minute
)

// withDefaults returns c with the defaults for pipeline filled in.
func (c StreamConfig) withDefaults(pipeline string) StreamConfig {
	if c.Subject == "" {
		c.Subject = "ripple." + pipeline
	}
	if c.StreamName == "" {
		c.StreamName = DefaultStreamName
	}
	if c.Duplicates == 0 {
		c.Duplicates = DefaultStreamDuplicates
	}
	return c
}

// Validate reports every problem with c at once.
func (c StreamConfig) Validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("sink %s: "+format, append([]any{c.Name}, args...)...))
	}
	if c.Name == "" {
		errs = append(errs, errors.New("sink: stream sink needs a name"))
	}
	if c.Path == "" && c.NATSURL == "" {
		bad("stream sink needs a path (a file, or - for standard output), a NATS URL, or both")
	}
	if c.Subject != "" && !validNATSSubject(c.Subject) {
		bad("NATS subject %q is not a valid subject to publish on (dot-separated tokens, no spaces or wildcards)", c.Subject)
	}
	if c.StreamName != "" && strings.ContainsAny(c.StreamName, " \t\r\n.*>/\\") {
		bad("JetStream stream name %q may not contain spaces, '.', '*', '>', '/' or '\\'", c.StreamName)
	}
	if c.Duplicates < 0 {
		bad("JetStream duplicates window %s is negative", c.Duplicates)
	}
	return errors.Join(errs...)
}

// validNATSSubject reports whether s is a literal subject (no wildcards).
func validNATSSubject(s string) bool {
	for _, tok := range strings.Split(s, ".") {
		if tok == "" || tok == "*" || tok == ">" || strings.ContainsAny(tok, " \t\r\n") {
			return false
		}
	}
	return true
}

// Stream is a sink that writes each step as one event to a change stream
// for event-driven consumers: a JSON-lines file or standard output, and/or
// a NATS JetStream subject. See stream_format.md for the format and the
// delivery guarantees of each output.
//
// Progress is kept per output and recovered from the output itself on Open:
// the last complete line of the file, the last message on the subject.
// Standard output cannot be read back, so it starts from 0 on every run
// (at-least-once across restarts). The sink's progress is the minimum over
// its outputs, and each output skips the steps it already holds.
//
// Like every Sink it is used from one goroutine; it is not safe for
// concurrent use.
type Stream struct {
	cfg    StreamConfig // defaults filled in by Open
	log    *slog.Logger
	stdout io.Writer // os.Stdout; tests replace it

	pipeline string
	views    []*streamView
	byName   map[row.TableName]*streamView
	outs     []*streamOut // nil until Open
	buf      []byte       // event encoding, reused
}

// streamOut is one output and the progress it holds.
type streamOut struct {
	streamOutput
	progress row.LSN
}

// streamOutput is where events go: a file, standard output or JetStream.
type streamOutput interface {
	String() string
	// open prepares the output and returns the LSN of the last event it
	// holds durably for pipeline (0 if none or unknowable).
	open(ctx context.Context, pipeline string) (row.LSN, error)
	// write stores one event (one line ending in '\n') durably before it
	// returns.
	write(ctx context.Context, typ string, lsn row.LSN, event []byte) error
	close() error
}

// streamReplayer is an output whose events can be read back, oldest first.
type streamReplayer interface {
	replay(ctx context.Context, fn func(event []byte) error) error
}

// NewStream returns a stream sink for cfg; it opens its outputs in Open.
func NewStream(cfg StreamConfig) *Stream {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Stream{cfg: cfg, log: log.With("sink", cfg.Name), stdout: os.Stdout}
}

var (
	_ Sink      = (*Stream)(nil)
	_ Dumper    = (*Stream)(nil)
	_ Forgetter = (*Stream)(nil)
)

// Name implements Sink.
func (s *Stream) Name() string { return s.cfg.Name }

// outputs builds the configured outputs (not opened).
func (s *Stream) outputs(cfg StreamConfig) []streamOutput {
	var outs []streamOutput
	switch cfg.Path {
	case "":
	case "-":
		outs = append(outs, &streamStdout{w: s.stdout})
	default:
		outs = append(outs, &streamFile{sink: cfg.Name, path: cfg.Path, log: s.log})
	}
	if cfg.NATSURL != "" {
		outs = append(outs, newStreamNATS(cfg, s.log))
	}
	return outs
}

// Open implements Sink. It opens every output and recovers its progress;
// it refuses a file or subject whose last event belongs to another
// pipeline. It writes nothing: the first event is Load's snapshot or a step.
func (s *Stream) Open(ctx context.Context, pipeline string, views []View) (row.LSN, error) {
	if s.outs != nil {
		return 0, fmt.Errorf("sink %s: open: already open", s.cfg.Name)
	}
	if err := s.cfg.Validate(); err != nil {
		return 0, err
	}
	if pipeline == "" || !utf8.ValidString(pipeline) {
		return 0, fmt.Errorf("sink %s: open: pipeline name %q is empty or not UTF-8", s.cfg.Name, pipeline)
	}
	if err := validateViews(s.cfg.Name, views); err != nil {
		return 0, err
	}
	cfg := s.cfg.withDefaults(pipeline)
	if !validNATSSubject(cfg.Subject) {
		return 0, fmt.Errorf("sink %s: open: default NATS subject %q is not valid; set the subject", cfg.Name, cfg.Subject)
	}
	s.cfg = cfg
	s.pipeline = pipeline
	s.views = make([]*streamView, len(views))
	s.byName = make(map[row.TableName]*streamView, len(views))
	for i, v := range views {
		sv := &streamView{View: v, key: v.Name.String()}
		s.views[i] = sv
		s.byName[v.Name] = sv
	}
	var outs []*streamOut
	for _, o := range s.outputs(cfg) {
		lsn, err := o.open(ctx, pipeline)
		if err != nil {
			for _, prev := range outs {
				_ = prev.close()
			}
			_ = o.close()
			return 0, fmt.Errorf("sink %s: open %s: %w", cfg.Name, o, err)
		}
		s.log.Info("stream output open", "output", o.String(), "progress", lsn)
		outs = append(outs, &streamOut{streamOutput: o, progress: lsn})
	}
	s.outs = outs
	return s.minProgress(), nil
}

func (s *Stream) minProgress() row.LSN {
	var m row.LSN
	for i, o := range s.outs {
		if i == 0 || o.progress < m {
			m = o.progress
		}
	}
	return m
}

// Load implements Sink: it writes a snapshot event holding every view's
// full contents (consumers replace what they hold) to every output.
func (s *Stream) Load(ctx context.Context, lsn row.LSN, rows map[row.TableName][]row.Update) error {
	if s.outs == nil {
		return fmt.Errorf("sink %s: load: sink is not open", s.cfg.Name)
	}
	for name, us := range rows {
		v, ok := s.byName[name]
		if !ok {
			return fmt.Errorf("sink %s: load: view %s is not one of the sink's views", s.cfg.Name, name)
		}
		if err := checkLoadRows(s.cfg.Name, v.View, us); err != nil {
			return err
		}
	}
	ev, err := appendSnapshotEvent(s.buf[:0], s.pipeline, lsn, s.views, rows)
	if err != nil {
		return fmt.Errorf("sink %s: load at %s: %w", s.cfg.Name, lsn, err)
	}
	s.buf = ev
	for _, o := range s.outs {
		if err := o.write(ctx, streamSnapshot, lsn, ev); err != nil {
			return fmt.Errorf("sink %s: load at %s: write to %s: %w", s.cfg.Name, lsn, o, err)
		}
		o.progress = lsn
	}
	return nil
}

// Apply implements Sink: it writes one step event to every output that
// does not hold it yet.
func (s *Stream) Apply(ctx context.Context, step Step) error {
	if s.outs == nil {
		return fmt.Errorf("sink %s: apply: sink is not open", s.cfg.Name)
	}
	if step.Applied(s.minProgress()) {
		return nil
	}
	for _, d := range step.Deltas {
		v, ok := s.byName[d.View]
		if !ok {
			return fmt.Errorf("sink %s: apply step %s: view %s is not one of the sink's views", s.cfg.Name, step.LSN, d.View)
		}
		if err := checkDelta(s.cfg.Name, v.View, d); err != nil {
			return fmt.Errorf("apply step %s: %w", step.LSN, err)
		}
	}
	ev, err := appendStepEvent(s.buf[:0], s.pipeline, step, s.byName)
	if err != nil {
		return fmt.Errorf("sink %s: apply step %s: %w", s.cfg.Name, step.LSN, err)
	}
	s.buf = ev
	for _, o := range s.outs {
		if step.Applied(o.progress) {
			continue
		}
		if err := o.write(ctx, streamStep, step.LSN, ev); err != nil {
			return fmt.Errorf("sink %s: apply step %s: write to %s: %w", s.cfg.Name, step.LSN, o, err)
		}
		o.progress = step.LSN
	}
	if cap(s.buf) > 1<<20 {
		s.buf = nil // do not keep one large step's buffer for the whole run
	}
	return nil
}

// Progress implements Sink: the minimum over the outputs of the last LSN
// each holds durably.
func (s *Stream) Progress(context.Context) (row.LSN, error) {
	if s.outs == nil {
		return 0, fmt.Errorf("sink %s: progress: sink is not open", s.cfg.Name)
	}
	return s.minProgress(), nil
}

// Close implements Sink.
func (s *Stream) Close() error {
	var errs []error
	for _, o := range s.outs {
		if err := o.close(); err != nil {
			errs = append(errs, fmt.Errorf("sink %s: close %s: %w", s.cfg.Name, o, err))
		}
	}
	s.outs = nil
	return errors.Join(errs...)
}

// Dump implements Dumper by replaying the file, or the JetStream subject
// when there is no file: the last snapshot, then every later step. Standard
// output cannot be read back. It holds the view's contents in memory.
func (s *Stream) Dump(ctx context.Context, view row.TableName, w io.Writer) error {
	if s.outs == nil {
		return fmt.Errorf("sink %s: dump: sink is not open", s.cfg.Name)
	}
	v, ok := s.byName[view]
	if !ok {
		return fmt.Errorf("sink %s: dump: view %s is not one of the sink's views", s.cfg.Name, view)
	}
	var src streamReplayer
	var srcName string
	for _, o := range s.outs {
		if r, ok := o.streamOutput.(streamReplayer); ok {
			src, srcName = r, o.String()
			break // the file comes first when there is one
		}
	}
	if src == nil {
		return fmt.Errorf("sink %s: dump: the sink writes only to standard output, which cannot be read back", s.cfg.Name)
	}
	rp := newStreamReplay(s.cfg.Name, s.pipeline, v)
	if err := src.replay(ctx, rp.add); err != nil {
		return fmt.Errorf("sink %s: dump view %s from %s: %w", s.cfg.Name, view, srcName, err)
	}
	return rp.dump(w)
}

// Forget implements Forgetter. A stream's progress lives in its events, so
// forgetting it removes them whatever dropTables says: the file is renamed
// to path+".dropped" (replacing an earlier one), and the pipeline's
// messages are purged from the JetStream subject. Standard output has
// nothing to forget.
func (s *Stream) Forget(ctx context.Context, pipeline string, _ bool) error {
	if err := s.cfg.Validate(); err != nil {
		return err
	}
	if pipeline == "" {
		return fmt.Errorf("sink %s: forget: pipeline name is empty", s.cfg.Name)
	}
	cfg := s.cfg.withDefaults(pipeline)
	var errs []error
	for _, o := range s.outputs(cfg) {
		f, ok := o.(interface {
			forget(ctx context.Context) error
		})
		if !ok {
			continue
		}
		if err := f.forget(ctx); err != nil {
			errs = append(errs, fmt.Errorf("sink %s: forget %s: %w", cfg.Name, o, err))
		}
	}
	return errors.Join(errs...)
}

// streamStdout writes events to standard output. It holds nothing it can
// read back, so its progress is 0 on every run.
type streamStdout struct {
	w io.Writer
}

func (o *streamStdout) String() string                                { return "standard output" }
func (o *streamStdout) open(context.Context, string) (row.LSN, error) { return 0, nil }
func (o *streamStdout) close() error                                  { return nil }

func (o *streamStdout) write(_ context.Context, _ string, _ row.LSN, event []byte) error {
	_, err := o.w.Write(event)
	return err
}
