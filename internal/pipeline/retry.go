package pipeline

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/rippledb/ripple/cdc"
)

// Transient reports whether err is a lost or refused connection — to the
// source or to a sink — after which Run reconnects with backoff, as
// opposed to an error that would only repeat (bad SQL, a missing table or
// slot, missing privileges, a view's runtime error, a state that needs a
// resync).
func Transient(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	for _, permanent := range []error{ErrResyncNeeded, cdc.ErrSlotMissing, cdc.ErrSlotInvalidated, cdc.ErrSlotInUse, cdc.ErrNoSuchTable,
		cdc.ErrWalLevel, cdc.ErrNoReplicationPrivilege, cdc.ErrMalformed, cdc.ErrNotATable} {
		if errors.Is(err, permanent) {
			return false
		}
	}
	if cdc.IsTransient(err) {
		return true
	}
	// PostgreSQL (source or sink) and MySQL errors with an SQLSTATE.
	var coded interface{ SQLState() string }
	if errors.As(err, &coded) {
		code := coded.SQLState()
		switch {
		case strings.HasPrefix(code, "08"): // connection exception
			return true
		case code == "57P01", code == "57P02", code == "57P03": // admin/crash shutdown, cannot connect now
			return true
		case code == "53300": // too many connections
			return true
		}
		return false
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, net.ErrClosed) {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	// Drivers that report a dead connection only in words.
	msg := err.Error()
	for _, s := range []string{"conn closed", "connection reset", "broken pipe", "connection refused",
		"unexpected EOF", "server closed the connection", "invalid connection", "bad connection",
		"the database system is shutting down", "the database system is starting up",
		"terminating connection due to administrator command"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}
