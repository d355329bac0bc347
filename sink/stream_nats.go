package sink

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/rippledb/ripple/internal/row"
)

// Headers set on every published event besides Nats-Msg-Id, so consumers
// can route without parsing the body.
const (
	streamHeaderType = "Ripple-Type"
	streamHeaderLSN  = "Ripple-Lsn"
)

// streamNATS publishes events to a JetStream subject and waits for each
// PubAck: an acknowledged event is stored (and replicated, as the stream is
// configured). Each carries Nats-Msg-Id "<pipeline>:<type>:<lsn>", so an
// event re-published after a crash within the stream's deduplication
// window is stored once.
type streamNATS struct {
	sink       string
	url        string
	subject    string
	streamName string
	duplicates time.Duration
	log        *slog.Logger

	pipeline string
	nc       *nats.Conn // nil until connect
	js       jetstream.JetStream
}

func newStreamNATS(cfg StreamConfig, log *slog.Logger) *streamNATS {
	return &streamNATS{sink: cfg.Name, url: cfg.NATSURL, subject: cfg.Subject, streamName: cfg.StreamName,
		duplicates: cfg.Duplicates, log: log}
}

func (o *streamNATS) String() string {
	return fmt.Sprintf("NATS subject %s (stream %s)", o.subject, o.streamName)
}

func (o *streamNATS) connect() error {
	nc, err := nats.Connect(o.url,
		nats.Name("ripple sink "+o.sink),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				o.log.Warn("NATS connection lost", "url", o.url, "err", err)
			}
		}),
		nats.ReconnectHandler(func(*nats.Conn) { o.log.Info("NATS connection restored", "url", o.url) }),
	)
	if err != nil {
		return fmt.Errorf("connect to %s: %w", o.url, err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return err
	}
	o.nc, o.js = nc, js
	return nil
}

func (o *streamNATS) open(ctx context.Context, pipeline string) (row.LSN, error) {
	o.pipeline = pipeline
	if err := o.connect(); err != nil {
		return 0, err
	}
	st, err := o.ensureStream(ctx)
	if err != nil {
		return 0, err
	}
	msg, err := st.GetLastMsgForSubject(ctx, o.subject)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read the last message on %s: %w", o.subject, err)
	}
	h, err := readStreamHeader(bytes.NewReader(msg.Data))
	if err != nil {
		return 0, fmt.Errorf("last message on %s (sequence %d) is not a ripple event: %w", o.subject, msg.Sequence, err)
	}
	if h.Pipeline != pipeline {
		return 0, fmt.Errorf("subject %s holds events of pipeline %q, not %q", o.subject, h.Pipeline, pipeline)
	}
	return h.LSN, nil
}

// ensureStream returns the stream, creating it or adding the subject to
// it as needed.
func (o *streamNATS) ensureStream(ctx context.Context) (jetstream.Stream, error) {
	st, err := o.js.Stream(ctx, o.streamName)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		st, err = o.js.CreateStream(ctx, jetstream.StreamConfig{
			Name:        o.streamName,
			Description: "ripple change streams",
			Subjects:    []string{o.subject},
			Duplicates:  o.duplicates,
			Storage:     jetstream.FileStorage,
		})
		if err != nil {
			return nil, fmt.Errorf("create JetStream stream %s: %w", o.streamName, err)
		}
		o.log.Info("JetStream stream created", "stream", o.streamName, "subject", o.subject, "duplicates", o.duplicates)
		return st, nil
	}
	if err != nil {
		return nil, fmt.Errorf("look up JetStream stream %s: %w", o.streamName, err)
	}
	cfg := st.CachedInfo().Config
	if slices.ContainsFunc(cfg.Subjects, func(f string) bool { return natsSubjectMatches(f, o.subject) }) {
		return st, nil
	}
	cfg.Subjects = append(cfg.Subjects, o.subject)
	st, err = o.js.UpdateStream(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("add subject %s to JetStream stream %s: %w", o.subject, o.streamName, err)
	}
	o.log.Info("subject added to JetStream stream", "stream", o.streamName, "subject", o.subject)
	return st, nil
}

// natsSubjectMatches reports whether the literal subject matches filter,
// which may hold the wildcards * (one token) and > (the rest).
func natsSubjectMatches(filter, subject string) bool {
	ft, st := strings.Split(filter, "."), strings.Split(subject, ".")
	for i, f := range ft {
		if f == ">" {
			return len(st) > i
		}
		if i >= len(st) || (f != "*" && f != st[i]) {
			return false
		}
	}
	return len(ft) == len(st)
}

func (o *streamNATS) write(ctx context.Context, typ string, lsn row.LSN, event []byte) error {
	data := event[:len(event)-1] // a message is one event; the newline is for files
	if max := o.nc.MaxPayload(); int64(len(data)) > max {
		return fmt.Errorf("%s event at %s is %d bytes, over the NATS server's max_payload of %d; raise max_payload (and the stream's max_msg_size) or write this sink to a file",
			typ, lsn, len(data), max)
	}
	msg := nats.NewMsg(o.subject)
	msg.Data = data
	msg.Header.Set(streamHeaderType, typ)
	msg.Header.Set(streamHeaderLSN, lsn.String())
	ack, err := o.js.PublishMsg(ctx, msg, jetstream.WithMsgID(o.pipeline+":"+typ+":"+lsn.String()))
	if err != nil {
		return fmt.Errorf("publish to %s: %w", o.subject, err)
	}
	if ack.Duplicate {
		o.log.Debug("JetStream already held the event", "type", typ, "lsn", lsn, "seq", ack.Sequence)
	}
	return nil
}

// replay calls fn with every message on the subject, oldest first, up to
// the last one there when it starts.
func (o *streamNATS) replay(ctx context.Context, fn func([]byte) error) error {
	st, err := o.js.Stream(ctx, o.streamName)
	if err != nil {
		return err
	}
	last, err := st.GetLastMsgForSubject(ctx, o.subject)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	for seq := uint64(1); seq <= last.Sequence; {
		msg, err := st.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(o.subject))
		if err != nil {
			return fmt.Errorf("read message %d or later on %s: %w", seq, o.subject, err)
		}
		if err := fn(msg.Data); err != nil {
			return err
		}
		seq = msg.Sequence + 1
	}
	return nil
}

// forget purges the subject's messages. The stream itself, which other
// pipelines may share, stays.
func (o *streamNATS) forget(ctx context.Context) error {
	if err := o.connect(); err != nil {
		return err
	}
	defer o.close()
	st, err := o.js.Stream(ctx, o.streamName)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("look up JetStream stream %s: %w", o.streamName, err)
	}
	if err := st.Purge(ctx, jetstream.WithPurgeSubject(o.subject)); err != nil {
		return fmt.Errorf("purge subject %s from stream %s: %w", o.subject, o.streamName, err)
	}
	o.log.Info("JetStream subject purged", "stream", o.streamName, "subject", o.subject)
	return nil
}

func (o *streamNATS) close() error {
	if o.nc == nil {
		return nil
	}
	o.nc.Close()
	o.nc, o.js = nil, nil
	return nil
}
