package cdc

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/rippledb/ripple/internal/row"
)

// Status grades one Finding of a check.
type Status int

const (
	// StatusOK: the check passed; the finding may still carry information
	// (e.g. "publication will be created").
	StatusOK Status = iota
	// StatusWarn: ripple can run, but something will go wrong or cost
	// more than the user likely expects (e.g. UPDATE on a keyless table
	// fails once the table is published).
	StatusWarn
	// StatusFail: ripple run would fail.
	StatusFail
)

func (s Status) String() string {
	switch s {
	case StatusOK:
		return "ok"
	case StatusWarn:
		return "warn"
	case StatusFail:
		return "FAIL"
	}
	return fmt.Sprintf("Status(%d)", int(s))
}

// Finding is the result of one check: what was checked (Subject, e.g.
// "source", "table public.orders", "slot ripple") and what was found.
type Finding struct {
	Status  Status
	Subject string
	Detail  string
}

func (f Finding) String() string { return fmt.Sprintf("%-4s  %s: %s", f.Status, f.Subject, f.Detail) }

func ok(subject, format string, args ...any) Finding {
	return Finding{StatusOK, subject, fmt.Sprintf(format, args...)}
}

func warn(subject, format string, args ...any) Finding {
	return Finding{StatusWarn, subject, fmt.Sprintf(format, args...)}
}

func fail(subject, format string, args ...any) Finding {
	return Finding{StatusFail, subject, fmt.Sprintf(format, args...)}
}

// Open connects to the source like Connect but without checking that it
// can replicate (wal_level, REPLICATION): for `ripple check`, which reports
// those problems itself, and `ripple drop`, which must work on a source
// that can no longer replicate. Open creates nothing on the source.
func Open(ctx context.Context, cfg Config) (*Source, error) {
	cfg.EnsureDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	conn, err := connectRegular(ctx, cfg.DSN)
	if err != nil {
		return nil, err
	}
	return &Source{cfg: cfg, log: cfg.Logger, conn: conn}, nil
}

// CheckSource checks everything about the source that `ripple run` needs
// before it creates anything, and reports every problem rather than the
// first: connectivity, wal_level, replication privilege and capacity, the
// replication slot and publication (whether they exist, are in use, which
// tables the publication covers), and for every table of cfg.Tables: that
// it exists and is a table, its REPLICA IDENTITY, SELECT privilege and
// ownership (needed to publish it). It runs only queries: it creates no
// slot, publication or other object.
func CheckSource(ctx context.Context, cfg Config) []Finding {
	cfg.EnsureDefaults()
	if err := cfg.Validate(); err != nil {
		return []Finding{fail("source", "%v", err)}
	}
	s, err := Open(ctx, cfg)
	if err != nil {
		return []Finding{fail("source", "%v", err)}
	}
	defer s.Close(context.Background())
	var out []Finding
	var version string
	if err := s.conn.QueryRow(ctx, "SHOW server_version").Scan(&version); err != nil {
		return []Finding{fail("source", "query the source: %v", err)}
	}
	out = append(out, ok("source", "connected (PostgreSQL %s)", version))
	out = append(out, s.checkServer(ctx)...)
	out = append(out, s.checkSlot(ctx)...)
	out = append(out, s.checkPublication(ctx)...)
	for _, t := range cfg.Tables {
		out = append(out, s.checkTable(ctx, t)...)
	}
	return out
}

// checkServer checks wal_level, the role's privileges and the server's
// replication capacity.
func (s *Source) checkServer(ctx context.Context) []Finding {
	var out []Finding
	var walLevel string
	switch err := s.conn.QueryRow(ctx, "SHOW wal_level").Scan(&walLevel); {
	case err != nil:
		out = append(out, fail("source", "read wal_level: %v", err))
	case walLevel != "logical":
		out = append(out, fail("source", "wal_level is '%s'; set wal_level = logical and restart PostgreSQL", walLevel))
	default:
		out = append(out, ok("source", "wal_level = logical"))
	}
	var role string
	var repl, super, canCreate bool
	err := s.conn.QueryRow(ctx, `
		SELECT rolname, rolreplication, rolsuper, has_database_privilege(current_database(), 'CREATE')
		FROM pg_roles WHERE rolname = current_user`).Scan(&role, &repl, &super, &canCreate)
	if err != nil {
		return append(out, fail("source", "read role attributes: %v", err))
	}
	switch {
	case super:
		out = append(out, ok("source", "role %s is a superuser", row.QuoteIdent(role)))
	case repl:
		out = append(out, ok("source", "role %s has REPLICATION", row.QuoteIdent(role)))
	default:
		out = append(out, fail("source", "role %s has neither REPLICATION nor SUPERUSER; run ALTER ROLE %s REPLICATION",
			row.QuoteIdent(role), row.QuoteIdent(role)))
	}
	if !canCreate && !super {
		out = append(out, warn("source", "role %s lacks CREATE on the database, which creating the publication needs (GRANT CREATE ON DATABASE ... TO %s)",
			row.QuoteIdent(role), row.QuoteIdent(role)))
	}
	var maxSlots, usedSlots, maxSenders int
	err = s.conn.QueryRow(ctx, `
		SELECT current_setting('max_replication_slots')::int, (SELECT count(*) FROM pg_replication_slots)::int,
		       current_setting('max_wal_senders')::int`).Scan(&maxSlots, &usedSlots, &maxSenders)
	if err != nil {
		return append(out, fail("source", "read replication settings: %v", err))
	}
	if maxSenders == 0 {
		out = append(out, fail("source", "max_wal_senders = 0; ripple needs a WAL sender: raise it and restart PostgreSQL"))
	}
	var slotExists bool
	if err := s.conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = $1)", s.cfg.Slot).Scan(&slotExists); err != nil {
		return append(out, fail("source", "read replication slots: %v", err))
	}
	if !slotExists && usedSlots >= maxSlots {
		out = append(out, fail("source", "all %d replication slots (max_replication_slots) are in use; drop an unused one or raise the setting", maxSlots))
	}
	return out
}

// checkSlot reports the replication slot's state.
func (s *Source) checkSlot(ctx context.Context) []Finding {
	subject := "slot " + s.cfg.Slot
	var (
		plugin, kind, db *string
		pid              *int32
		confirmed        *string
		walStatus        *string
		retained         *int64
	)
	err := s.conn.QueryRow(ctx, `
		SELECT plugin, slot_type, database, active_pid, confirmed_flush_lsn::text, wal_status,
		       greatest(pg_wal_lsn_diff(CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() END, restart_lsn), 0)::int8
		FROM pg_replication_slots WHERE slot_name = $1`, s.cfg.Slot).Scan(&plugin, &kind, &db, &pid, &confirmed, &walStatus, &retained)
	if errors.Is(err, pgx.ErrNoRows) {
		return []Finding{ok(subject, "does not exist yet; ripple run creates it")}
	}
	if err != nil {
		return []Finding{fail(subject, "read pg_replication_slots: %v", err)}
	}
	var cur string
	if err := s.conn.QueryRow(ctx, "SELECT current_database()").Scan(&cur); err != nil {
		return []Finding{fail(subject, "read current database: %v", err)}
	}
	switch {
	case kind == nil || *kind != "logical":
		return []Finding{fail(subject, "exists but is a physical slot; choose another source.slot")}
	case plugin == nil || *plugin != "pgoutput":
		return []Finding{fail(subject, "exists with output plugin %s, not pgoutput; drop it or choose another source.slot", deref(plugin))}
	case db == nil || *db != cur:
		return []Finding{fail(subject, "exists in database %s, not in %s; choose another source.slot", deref(db), cur)}
	case deref(walStatus) == "lost":
		return []Finding{fail(subject, "was invalidated by the source (wal_status lost: it retained more WAL than max_slot_wal_keep_size); "+
			"run `ripple resync` to rebuild the views from a fresh snapshot")}
	case pid != nil:
		return []Finding{fail(subject, "is in use by PID %d; is another ripple (or consumer) running with this slot?", *pid)}
	}
	var out []Finding
	if deref(walStatus) == "unreserved" {
		out = append(out, warn(subject, "retains WAL beyond max_slot_wal_keep_size (wal_status unreserved): the next checkpoint may invalidate it"))
	}
	if retained != nil && s.cfg.MaxRetainedWAL > 0 && *retained > s.cfg.MaxRetainedWAL {
		out = append(out, warn(subject, "retains %d bytes of WAL, more than source.max_retained_wal (%d)", *retained, s.cfg.MaxRetainedWAL))
	}
	return append(out, ok(subject, "exists, idle, confirmed up to %s", deref(confirmed)))
}

// checkPublication reports whether the publication exists and which
// tables it covers; ripple run makes it cover exactly the views' tables.
func (s *Source) checkPublication(ctx context.Context) []Finding {
	subject := "publication " + s.cfg.Publication
	var owner bool
	err := s.conn.QueryRow(ctx, `
		SELECT pg_has_role(pubowner, 'USAGE') FROM pg_publication WHERE pubname = $1`, s.cfg.Publication).Scan(&owner)
	if errors.Is(err, pgx.ErrNoRows) {
		return []Finding{ok(subject, "does not exist yet; ripple run creates it")}
	}
	if err != nil {
		return []Finding{fail(subject, "read pg_publication: %v", err)}
	}
	rows, err := s.conn.Query(ctx, `SELECT schemaname, tablename FROM pg_publication_tables WHERE pubname = $1`, s.cfg.Publication)
	if err != nil {
		return []Finding{fail(subject, "read pg_publication_tables: %v", err)}
	}
	var have []string
	haveSet := map[row.TableName]bool{}
	for rows.Next() {
		var n row.TableName
		if err := rows.Scan(&n.Schema, &n.Name); err != nil {
			rows.Close()
			return []Finding{fail(subject, "read pg_publication_tables: %v", err)}
		}
		have = append(have, n.String())
		haveSet[n] = true
	}
	if err := rows.Err(); err != nil {
		return []Finding{fail(subject, "read pg_publication_tables: %v", err)}
	}
	sort.Strings(have)
	list := strings.Join(have, ", ")
	if list == "" {
		list = "no tables"
	}
	var out []Finding
	if !owner {
		out = append(out, fail(subject, "exists but is owned by another role; ripple must be able to ALTER it"))
	}
	// A difference is no problem: run sets the table list. Say so, since
	// it changes what other subscribers of the publication receive.
	differs := len(have) != len(s.cfg.Tables)
	for _, t := range s.cfg.Tables {
		differs = differs || (t.Schema != "" && !haveSet[t])
	}
	note := ""
	if differs {
		note = "; ripple run will set it to the views' tables"
	}
	return append(out, ok(subject, "exists, covers %s%s", list, note))
}

// checkTable checks one table the views read.
func (s *Source) checkTable(ctx context.Context, t row.TableName) []Finding {
	subject := "table " + displayName(t.Schema, t.Name)
	r, _, err := s.lookupTable(ctx, t.Schema, t.Name)
	if err != nil {
		return []Finding{fail(subject, "%v", err)}
	}
	subject = "table " + r.Name.String()
	var out []Finding
	var canSelect, owns, super bool
	err = s.conn.QueryRow(ctx, `
		SELECT has_table_privilege($1::oid, 'SELECT'),
		       pg_has_role((SELECT relowner FROM pg_class WHERE oid = $1::oid), 'USAGE'),
		       (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)`, uint32(r.ID)).Scan(&canSelect, &owns, &super)
	if err != nil {
		return []Finding{fail(subject, "read privileges: %v", err)}
	}
	if !canSelect {
		out = append(out, fail(subject, "the role lacks SELECT, which the initial snapshot needs (GRANT SELECT ON %s TO ...)", r.Name))
	}
	if !owns && !super {
		out = append(out, warn(subject, "the role does not own the table; adding it to the publication needs ownership (or an administrator creating the publication)"))
	}
	switch r.Identity {
	case ReplicaIdentity('d'):
		if len(r.KeyCols) == 0 {
			out = append(out, warn(subject, "REPLICA IDENTITY DEFAULT without a primary key: once the table is published, UPDATE and DELETE on it fail on the source; add a primary key or ALTER TABLE %s REPLICA IDENTITY FULL", r.Name))
		} else {
			out = append(out, ok(subject, "REPLICA IDENTITY DEFAULT, primary key %s", keyNames(r)))
		}
	case ReplicaIdentity('i'):
		out = append(out, ok(subject, "REPLICA IDENTITY USING INDEX %s", keyNames(r)))
	case ReplicaIdentity('f'):
		out = append(out, ok(subject, "REPLICA IDENTITY FULL"))
	case ReplicaIdentity('n'):
		out = append(out, warn(subject, "REPLICA IDENTITY NOTHING: once the table is published, UPDATE and DELETE on it fail on the source; ALTER TABLE %s REPLICA IDENTITY DEFAULT (with a primary key) or FULL", r.Name))
	}
	return out
}

func keyNames(r *Relation) string {
	parts := make([]string, len(r.KeyCols))
	for i, k := range r.KeyCols {
		parts[i] = row.QuoteIdent(r.Columns[k].Name)
	}
	return "(" + strings.Join(parts, ", ") + ")"
}

func deref(s *string) string {
	if s == nil {
		return "(none)"
	}
	return *s
}

// SlotExists reports whether the replication slot exists.
func (s *Source) SlotExists(ctx context.Context) (bool, error) {
	var ok bool
	err := s.conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = $1)", s.cfg.Slot).Scan(&ok)
	if err != nil {
		return false, fmt.Errorf("check replication slot %s: %w", s.cfg.Slot, err)
	}
	return ok, nil
}

// PublicationExists reports whether the publication exists.
func (s *Source) PublicationExists(ctx context.Context) (bool, error) {
	var ok bool
	err := s.conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_publication WHERE pubname = $1)", s.cfg.Publication).Scan(&ok)
	if err != nil {
		return false, fmt.Errorf("check publication %s: %w", s.cfg.Publication, err)
	}
	return ok, nil
}
