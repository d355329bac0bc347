package sink

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/rippledb/ripple/internal/natstest"
	"github.com/rippledb/ripple/internal/row"
)

// natsMessages returns the events stored on subject of stream RIPPLE.
func natsMessages(t *testing.T, url, subject string) []*jetstream.RawStreamMsg {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	st, err := js.Stream(ctx, DefaultStreamName)
	if err != nil {
		t.Fatal(err)
	}
	var out []*jetstream.RawStreamMsg
	for seq := uint64(1); ; {
		m, err := st.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(subject))
		if err != nil {
			if err == jetstream.ErrMsgNotFound {
				return out
			}
			t.Fatal(err)
		}
		out = append(out, m)
		seq = m.Sequence + 1
	}
}

func checkMessageLSNs(t *testing.T, msgs []*jetstream.RawStreamMsg, want ...row.LSN) {
	t.Helper()
	var got []string
	for _, m := range msgs {
		got = append(got, m.Header.Get(streamHeaderType)+"@"+m.Header.Get(streamHeaderLSN))
	}
	var ws []string
	for i, l := range want {
		typ := streamStep
		if i == 0 {
			typ = streamSnapshot
		}
		ws = append(ws, typ+"@"+l.String())
	}
	if strings.Join(got, " ") != strings.Join(ws, " ") {
		t.Errorf("messages on the subject: %v, want %v", got, ws)
	}
}

func TestStreamNATS(t *testing.T) {
	ctx := context.Background()
	url := natstest.Start(t)
	cfg := StreamConfig{NATSURL: url, Duplicates: time.Minute}
	loadLSN, load, steps := streamScript(t)
	mem := NewMemory("mem")
	if _, err := mem.Open(ctx, "ripple", []View{streamTestView, streamOtherView}); err != nil {
		t.Fatal(err)
	}

	s1, lsn := openStream(t, cfg, "ripple")
	if lsn != 0 {
		t.Fatalf("progress of an empty subject = %s", lsn)
	}
	for _, sk := range []Sink{s1, mem} {
		if err := sk.Load(ctx, loadLSN, load); err != nil {
			t.Fatal(err)
		}
		for _, st := range steps[:2] {
			if err := sk.Apply(ctx, st); err != nil {
				t.Fatal(err)
			}
		}
	}
	checkStreamDumps(t, s1, mem)
	msgs := natsMessages(t, url, "ripple.ripple")
	checkMessageLSNs(t, msgs, loadLSN, steps[0].LSN, steps[1].LSN)
	if id := msgs[1].Header.Get(nats.MsgIdHdr); id != "ripple:step:0/16B3748" {
		t.Errorf("Nats-Msg-Id = %q", id)
	}
	s1.Close()

	// Restart: progress comes back from the last message, and what the
	// pipeline resends at or below it is skipped.
	s2, lsn := openStream(t, cfg, "ripple")
	if lsn != steps[1].LSN {
		t.Fatalf("recovered progress %s, want %s", lsn, steps[1].LSN)
	}
	for _, st := range steps[:2] {
		if err := s2.Apply(ctx, st); err != nil {
			t.Fatal(err)
		}
	}
	// A crash after the server stored an event but before the sink learnt
	// it (the PubAck lost): the event is published again, and JetStream's
	// deduplication on Nats-Msg-Id keeps one copy.
	s2.outs[0].progress = steps[0].LSN
	if err := s2.Apply(ctx, steps[1]); err != nil {
		t.Fatal(err)
	}
	checkMessageLSNs(t, natsMessages(t, url, "ripple.ripple"), loadLSN, steps[0].LSN, steps[1].LSN)
	if err := s2.Apply(ctx, steps[2]); err != nil {
		t.Fatal(err)
	}
	if err := mem.Apply(ctx, steps[2]); err != nil {
		t.Fatal(err)
	}
	checkStreamDumps(t, s2, mem)
	checkMessageLSNs(t, natsMessages(t, url, "ripple.ripple"), loadLSN, steps[0].LSN, steps[1].LSN, steps[2].LSN)
	s2.Close()

	// A second pipeline shares the stream: its subject is added to it.
	q, _ := openStream(t, cfg, "q")
	if err := q.Load(ctx, 5, nil); err != nil {
		t.Fatal(err)
	}
	checkMessageLSNs(t, natsMessages(t, url, "ripple.q"), 5)
	// A subject holding another pipeline's events is refused.
	other := NewStream(StreamConfig{Name: "events", NATSURL: url, Subject: "ripple.ripple"})
	if _, err := other.Open(ctx, "q", []View{streamTestView}); err == nil || !strings.Contains(err.Error(), `pipeline "ripple"`) {
		t.Errorf("open another pipeline's subject: err = %v", err)
	}

	// Forget purges the pipeline's subject only.
	if err := NewStream(StreamConfig{Name: "events", NATSURL: url}).Forget(ctx, "ripple", false); err != nil {
		t.Fatal(err)
	}
	if n := len(natsMessages(t, url, "ripple.ripple")); n != 0 {
		t.Errorf("%d messages left after Forget", n)
	}
	checkMessageLSNs(t, natsMessages(t, url, "ripple.q"), 5)
}

// TestStreamFileAndNATS: each output keeps its own progress; the sink's is
// the minimum, and each output skips what it already holds.
func TestStreamFileAndNATS(t *testing.T) {
	ctx := context.Background()
	url := natstest.Start(t)
	path := filepath.Join(t.TempDir(), "events.jsonl")
	both := StreamConfig{Path: path, NATSURL: url}
	loadLSN, load, steps := streamScript(t)

	s, _ := openStream(t, both, "ripple")
	if err := s.Load(ctx, loadLSN, load); err != nil {
		t.Fatal(err)
	}
	if err := s.Apply(ctx, steps[0]); err != nil {
		t.Fatal(err)
	}
	s.Close()
	// The file gets ahead of JetStream (as when the NATS publish failed).
	f, _ := openStream(t, StreamConfig{Path: path}, "ripple")
	if err := f.Apply(ctx, steps[1]); err != nil {
		t.Fatal(err)
	}
	f.Close()

	s, lsn := openStream(t, both, "ripple")
	if lsn != steps[0].LSN {
		t.Fatalf("progress = %s, want the minimum %s", lsn, steps[0].LSN)
	}
	for _, st := range steps[1:] {
		if err := s.Apply(ctx, st); err != nil {
			t.Fatal(err)
		}
	}
	if p, _ := s.Progress(ctx); p != steps[2].LSN {
		t.Errorf("progress = %s", p)
	}
	if n := len(streamFileLines(t, path)); n != 1+len(steps) {
		t.Errorf("file has %d lines, want %d", n, 1+len(steps))
	}
	checkMessageLSNs(t, natsMessages(t, url, "ripple.ripple"), loadLSN, steps[0].LSN, steps[1].LSN, steps[2].LSN)
	// Dump reads the file; the JetStream replay must agree with it.
	n, _ := openStream(t, StreamConfig{NATSURL: url}, "ripple")
	for _, v := range []row.TableName{streamTestView.Name, streamOtherView.Name} {
		if a, b := streamDumpLines(t, s, v), streamDumpLines(t, n, v); strings.Join(a, "") != strings.Join(b, "") {
			t.Errorf("%s: file replay %q, JetStream replay %q", v, a, b)
		}
	}
}
