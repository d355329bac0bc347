// Package e2e holds ripple's end-to-end tests: the oracle test (random DML
// against many views, sinks compared with the views' SELECT on the source
// after every quiet point), the atomicity test, the SIGKILL restart test and
// the bad-input tests of the ripple binary. They start their own throwaway
// PostgreSQL clusters; nothing here is skipped by default.
package e2e
