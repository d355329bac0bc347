package pipeline

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/rippledb/ripple/cdc"
)

func sqlStateErr(code string) error {
	return &pgconn.PgError{Severity: "FATAL", Code: code, Message: "sqlstate " + code}
}

func TestTransient(t *testing.T) {
	cases := []struct {
		err  error
		want bool
	}{
		{nil, false},
		{context.Canceled, false},
		{fmt.Errorf("apply: %w", sqlStateErr("57P01")), true},  // admin shutdown
		{fmt.Errorf("apply: %w", sqlStateErr("57P03")), true},  // cannot connect now
		{fmt.Errorf("apply: %w", sqlStateErr("08006")), true},  // connection failure
		{fmt.Errorf("apply: %w", sqlStateErr("22012")), false}, // division by zero
		{fmt.Errorf("apply: %w", sqlStateErr("42P01")), false}, // undefined table
		{fmt.Errorf("x: %w", io.ErrUnexpectedEOF), true},
		{fmt.Errorf("x: %w", syscall.ECONNREFUSED), true},
		{&net.OpError{Op: "read", Err: syscall.ECONNRESET}, true},
		{fmt.Errorf("stream: %w", cdc.ErrStreamEnded), true},
		{fmt.Errorf("start: %w", cdc.ErrSlotMissing), false},
		{fmt.Errorf("start: %w", cdc.ErrSlotInUse), false},
		{fmt.Errorf("%w: slot gone", ErrResyncNeeded), false},
		{errors.New("state in /x: pebble: fatal commit error: write: no space left on device"), false},
		{errors.New("view public.v: division by zero"), false},
		{fmt.Errorf("sink mysql: %w", driver.ErrBadConn), true},
		{errors.New("sink mysql: apply: invalid connection"), true},
	}
	for _, c := range cases {
		if got := Transient(c.err); got != c.want {
			t.Errorf("Transient(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}

func TestByteQueue(t *testing.T) {
	q := newByteQueue(100)
	ctx := context.Background()
	if !q.acquire(ctx, 60) || !q.acquire(ctx, 40) {
		t.Fatal("acquire within the budget blocked")
	}
	got := make(chan bool)
	go func() { got <- q.acquire(ctx, 10) }()
	select {
	case <-got:
		t.Fatal("acquire over the budget did not block")
	case <-time.After(50 * time.Millisecond):
	}
	q.release(60)
	if !<-got {
		t.Fatal("acquire failed after a release")
	}
	// Larger than the budget: passes once the queue is empty.
	q.release(40)
	q.release(10)
	if !q.acquire(ctx, 500) {
		t.Fatal("an oversize transaction never passes")
	}
	cctx, cancel := context.WithCancel(ctx)
	go func() { got <- q.acquire(cctx, 1) }()
	cancel()
	if <-got {
		t.Fatal("acquire succeeded after cancel with a full queue")
	}
}
