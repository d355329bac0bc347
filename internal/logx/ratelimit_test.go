package logx

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }
func lines(b *bytes.Buffer) []string     { return strings.Split(strings.TrimSpace(b.String()), "\n") }
func newTest(interval time.Duration) (*slog.Logger, *bytes.Buffer, *clock) {
	var buf bytes.Buffer
	h := RateLimit(slog.NewTextHandler(&buf, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		}}), interval, slog.LevelWarn)
	c := &clock{t: time.Unix(1000, 0)}
	h.(*limited).st.now = c.now
	return slog.New(h), &buf, c
}

func TestRateLimit(t *testing.T) {
	log, buf, c := newTest(time.Minute)
	for i := 0; i < 5; i++ {
		log.Warn("lag poll failed", "attempt", i)
		log.Info("info passes", "i", i)
	}
	log.Warn("another message") // its own key
	c.advance(30 * time.Second)
	log.Warn("lag poll failed", "attempt", 5) // still inside the interval
	c.advance(31 * time.Second)
	log.Warn("lag poll failed", "attempt", 6)
	log.Error("lag poll failed", "attempt", 7) // other level, other key

	want := []string{
		`level=WARN msg="lag poll failed" attempt=0`,
		`level=INFO msg="info passes" i=0`,
		`level=INFO msg="info passes" i=1`,
		`level=INFO msg="info passes" i=2`,
		`level=INFO msg="info passes" i=3`,
		`level=INFO msg="info passes" i=4`,
		`level=WARN msg="another message"`,
		`level=WARN msg="lag poll failed" attempt=6 suppressed=5`,
		`level=ERROR msg="lag poll failed" attempt=7`,
	}
	got := lines(buf)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestRateLimitWithAttrsAndDisabled(t *testing.T) {
	log, buf, _ := newTest(time.Minute)
	a, b := log.With("sink", "a"), log.With("sink", "b")
	a.Warn("slow commit")
	b.Warn("slow commit") // other logger attributes: not the same warning
	a.Warn("slow commit") // suppressed
	a.WithGroup("g").Warn("slow commit")
	if got := len(lines(buf)); got != 3 {
		t.Errorf("got %d lines, want 3:\n%s", got, buf)
	}

	log, buf, _ = newTest(0)
	for i := 0; i < 3; i++ {
		log.Warn("same")
	}
	if got := len(lines(buf)); got != 3 {
		t.Errorf("interval 0: got %d lines, want 3", got)
	}
}
