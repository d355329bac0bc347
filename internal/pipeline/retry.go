package pipeline

import (
	"database/sql/driver"
	"errors"
	"strings"

	"github.com/rippledb/ripple/cdc"
)

// Transient reports whether err is a lost or refused connection — to the
// source or to a sink — after which Run reconnects with backoff, as
// opposed to an error that would only repeat (bad SQL, a missing table or
// slot, missing privileges, a view's runtime error, a state that needs a
// resync). PostgreSQL errors and transport errors (refused, reset, EOF,
// timeouts) are classified by cdc.IsTransient, for a PostgreSQL sink as
// for the source; what is left are the other sink drivers' own words.
func Transient(err error) bool {
	if err == nil || errors.Is(err, ErrResyncNeeded) {
		return false
	}
	if cdc.IsTransient(err) {
		return true
	}
	if errors.Is(err, driver.ErrBadConn) {
		return true
	}
	// The MySQL and Redis drivers report a dead connection only in words.
	msg := err.Error()
	for _, s := range []string{"invalid connection", "bad connection", "connection reset",
		"broken pipe", "connection refused", "server closed the connection"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}
