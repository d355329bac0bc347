// Package logx holds log/slog helpers shared by ripple's packages. It sits
// beside the data path: nothing in it touches replication or sinks.
package logx

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// RateLimit returns a handler that passes records below minLevel straight
// to h and lets through at most one record per interval for each message at
// or above it (keyed by level, message and the attributes and groups added
// with WithAttrs/WithGroup, not by the record's own attributes, which
// usually carry the varying detail such as an error). When a message is let
// through again after some were dropped, the record carries a "suppressed"
// attribute with their number. Drops that are never followed by another
// record of the same message are not reported.
//
// An interval <= 0 disables the limit. Handlers derived with WithAttrs and
// WithGroup share the limiter's state.
func RateLimit(h slog.Handler, interval time.Duration, minLevel slog.Level) slog.Handler {
	return &limited{h: h, st: &limitState{interval: interval, min: minLevel, now: time.Now, seen: map[string]*seen{}}}
}

type limited struct {
	h      slog.Handler
	st     *limitState
	prefix string // WithAttrs/WithGroup, as part of the key
}

type limitState struct {
	interval time.Duration
	min      slog.Level
	now      func() time.Time // replaced in tests

	mu   sync.Mutex
	seen map[string]*seen // guarded by mu
}

type seen struct {
	last       time.Time // when a record was last let through
	suppressed int       // dropped since then
}

// Enabled implements slog.Handler.
func (l *limited) Enabled(ctx context.Context, lvl slog.Level) bool { return l.h.Enabled(ctx, lvl) }

// Handle implements slog.Handler.
func (l *limited) Handle(ctx context.Context, r slog.Record) error {
	if r.Level < l.st.min || l.st.interval <= 0 {
		return l.h.Handle(ctx, r)
	}
	n, ok := l.st.allow(l.prefix + "\x00" + r.Level.String() + "\x00" + r.Message)
	if !ok {
		return nil
	}
	if n > 0 {
		r = r.Clone()
		r.AddAttrs(slog.Int("suppressed", n))
	}
	return l.h.Handle(ctx, r)
}

// allow reports whether a record with key may pass now, and how many were
// dropped since the last one that did.
func (st *limitState) allow(key string) (int, bool) {
	now := st.now()
	st.mu.Lock()
	defer st.mu.Unlock()
	s, ok := st.seen[key]
	if !ok {
		if len(st.seen) > 10000 { // bound memory if messages are built dynamically
			st.seen = map[string]*seen{}
		}
		st.seen[key] = &seen{last: now}
		return 0, true
	}
	if now.Sub(s.last) < st.interval {
		s.suppressed++
		return 0, false
	}
	n := s.suppressed
	s.last, s.suppressed = now, 0
	return n, true
}

// WithAttrs implements slog.Handler.
func (l *limited) WithAttrs(as []slog.Attr) slog.Handler {
	var b strings.Builder
	b.WriteString(l.prefix)
	for _, a := range as {
		b.WriteString(a.String())
		b.WriteByte(' ')
	}
	return &limited{h: l.h.WithAttrs(as), st: l.st, prefix: b.String()}
}

// WithGroup implements slog.Handler.
func (l *limited) WithGroup(name string) slog.Handler {
	return &limited{h: l.h.WithGroup(name), st: l.st, prefix: l.prefix + name + "."}
}
