// Package oracle is ripple's correctness judge: it compares a sink table
// with the view's SELECT evaluated on the source, as multisets, the way
// PostgreSQL itself compares rows (EXCEPT ALL in both directions). The
// tests, the demo and `ripple verify` use it; it is the definition of I1.
package oracle

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rippledb/ripple/internal/row"
)

// View is what the oracle needs to know about a view.
type View struct {
	Name    row.TableName // the sink table
	Query   string        // the view's SELECT, run on the source
	Columns row.Schema
}

// Diff is the difference between a sink table and its view.
type Diff struct {
	View    row.TableName
	Extra   int64    // rows in the sink that the view does not have (counting duplicates)
	Missing int64    // rows of the view that the sink lacks
	Samples []string // a few differing rows, prefixed with "+" (extra) or "-" (missing)
}

// Equal reports whether the sink equals the view.
func (d Diff) Equal() bool { return d.Extra == 0 && d.Missing == 0 }

func (d Diff) String() string {
	if d.Equal() {
		return fmt.Sprintf("%s: equal", d.View)
	}
	return fmt.Sprintf("%s: %d extra and %d missing rows in the sink; e.g. %s", d.View, d.Extra, d.Missing, strings.Join(d.Samples, " "))
}

// Connect opens a connection with ripple's pinned session settings, so that
// values travel between the two databases as exact text.
func Connect(ctx context.Context, dsn string) (*pgx.Conn, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, err
	}
	for k, v := range row.SessionSettings {
		cfg.RuntimeParams[k] = v
	}
	return pgx.ConnectConfig(ctx, cfg)
}

// selectList renders the view's columns for comparison: json has no
// equality operator, so it is compared as text.
func selectList(cols row.Schema) string {
	parts := make([]string, len(cols))
	for i, c := range cols {
		parts[i] = row.QuoteIdent(c.Name)
		if c.Type.OID == row.OIDJSON {
			parts[i] += "::text"
		}
	}
	return strings.Join(parts, ", ")
}

// Compare reads the sink table's rows from a PostgreSQL sink and compares
// them with the view's SELECT on the source (see CompareDump). The caller
// makes sure both sides are at the same logical time (see WaitCaughtUp).
func Compare(ctx context.Context, src, snk *pgx.Conn, v View) (Diff, error) {
	var buf bytes.Buffer
	if _, err := snk.PgConn().CopyTo(ctx, &buf, fmt.Sprintf("COPY (SELECT %s FROM %s) TO STDOUT", selectList(v.Columns), v.Name)); err != nil {
		return Diff{View: v.Name}, fmt.Errorf("oracle: read sink table %s: %w", v.Name, err)
	}
	return CompareDump(ctx, src, v, &buf)
}

// CompareDump compares rows read back from any sink (COPY text format,
// columns in view order; json columns may be json text) with the view's
// SELECT on the source: it loads them into a temporary table on the source
// connection and runs EXCEPT ALL both ways there, so equality is
// PostgreSQL's own. src must not be inside a transaction.
func CompareDump(ctx context.Context, src *pgx.Conn, v View, dump io.Reader) (Diff, error) {
	d := Diff{View: v.Name}
	list := selectList(v.Columns)
	names := make([]string, len(v.Columns))
	for i, c := range v.Columns {
		names[i] = row.QuoteIdent(c.Name)
	}
	tx, err := src.Begin(ctx)
	if err != nil {
		return d, err
	}
	defer tx.Rollback(ctx)
	stmts := []string{
		fmt.Sprintf("CREATE TEMP TABLE ripple_oracle_expected ON COMMIT DROP AS SELECT %s FROM (%s) AS v (%s)", list, v.Query, strings.Join(names, ", ")),
		"CREATE TEMP TABLE ripple_oracle_actual ON COMMIT DROP AS SELECT * FROM ripple_oracle_expected LIMIT 0",
	}
	for _, s := range stmts {
		if _, err := tx.Exec(ctx, s); err != nil {
			return d, fmt.Errorf("oracle: view %s: %w", v.Name, err)
		}
	}
	if _, err := tx.Conn().PgConn().CopyFrom(ctx, dump, "COPY ripple_oracle_actual FROM STDIN"); err != nil {
		return d, fmt.Errorf("oracle: load sink rows of %s: %w", v.Name, err)
	}
	count := func(q string) (int64, []string, error) {
		rows, err := tx.Query(ctx, "SELECT x::text FROM ("+q+") x LIMIT 5")
		if err != nil {
			return 0, nil, err
		}
		samples, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return 0, nil, err
		}
		var n int64
		err = tx.QueryRow(ctx, "SELECT count(*) FROM ("+q+") x").Scan(&n)
		return n, samples, err
	}
	var extra, missing []string
	if d.Extra, extra, err = count("TABLE ripple_oracle_actual EXCEPT ALL TABLE ripple_oracle_expected"); err != nil {
		return d, fmt.Errorf("oracle: compare %s: %w", v.Name, err)
	}
	if d.Missing, missing, err = count("TABLE ripple_oracle_expected EXCEPT ALL TABLE ripple_oracle_actual"); err != nil {
		return d, fmt.Errorf("oracle: compare %s: %w", v.Name, err)
	}
	for _, s := range extra {
		d.Samples = append(d.Samples, "+"+s)
	}
	for _, s := range missing {
		d.Samples = append(d.Samples, "-"+s)
	}
	return d, nil
}

// WaitCaughtUp waits until ripple is streaming from the replication slot
// (its walsender has started replication, which ripple does only after the
// initial load) and the slot has confirmed everything the source has
// inserted into WAL so far: every committed transaction is then in every
// sink. It returns an error when timeout passes first.
func WaitCaughtUp(ctx context.Context, src *pgx.Conn, slot string, timeout time.Duration) error {
	// The insert position, not pg_current_wal_lsn(): with
	// synchronous_commit=off the write position may still be before the
	// last commit records.
	var target string
	if err := src.QueryRow(ctx, "SELECT pg_current_wal_insert_lsn()::text").Scan(&target); err != nil {
		return err
	}
	deadline := time.Now().Add(timeout)
	for {
		var done bool
		var flushed string
		err := src.QueryRow(ctx, `SELECT coalesce(s.confirmed_flush_lsn::text, 'none'),
			coalesce(s.active AND s.confirmed_flush_lsn >= $1::pg_lsn AND r.state IN ('streaming', 'catchup'), false)
			FROM pg_replication_slots s LEFT JOIN pg_stat_replication r ON r.pid = s.active_pid
			WHERE s.slot_name = $2`, target, slot).Scan(&flushed, &done)
		if err != nil && err != pgx.ErrNoRows {
			return err
		}
		if done {
			return nil
		}
		if time.Now().After(deadline) {
			if flushed == "" {
				flushed = "no slot"
			}
			return fmt.Errorf("oracle: slot %s did not catch up to %s within %s (confirmed %s)", slot, target, timeout, flushed)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}
