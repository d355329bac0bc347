package verify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rippledb/ripple/internal/row"
)

// Config configures a Verifier. Zero values take the documented defaults.
type Config struct {
	// Source is a connection to the source database with
	// row.SessionSettings pinned (oracle.Connect). Required.
	Source *pgx.Conn
	// Slot is the pipeline's replication slot, whose confirmed_flush_lsn
	// says what every sink holds. Default "ripple".
	Slot string
	// Buckets is the number of buckets rows are split into; default 1024.
	// More buckets make the row-by-row phase read fewer rows per
	// difference.
	Buckets int
	// MaxRows is how many differing rows are reported per view; default 10.
	MaxRows int
	// Retries is how many times differing buckets are read again before a
	// difference is reported (see the package comment); default 3.
	Retries int
	// CatchUpTimeout bounds each wait for the slot to reach the source's
	// position; default 1 minute.
	CatchUpTimeout time.Duration
	// Logger receives progress logs; nil means slog.Default().
	Logger *slog.Logger
}

func (c *Config) setDefaults() {
	if c.Slot == "" {
		c.Slot = "ripple"
	}
	if c.Buckets <= 0 {
		c.Buckets = 1024
	}
	if c.MaxRows <= 0 {
		c.MaxRows = 10
	}
	if c.Retries < 0 {
		c.Retries = 0
	} else if c.Retries == 0 {
		c.Retries = 3
	}
	if c.CatchUpTimeout <= 0 {
		c.CatchUpTimeout = time.Minute
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// Result is the outcome of verifying one view.
type Result struct {
	View       row.TableName
	SourceRows int64 // rows of the view on the source (first reading)
	SinkRows   int64 // rows of the sink table (first reading)
	// DiffBuckets is the number of buckets that still differed after the
	// retries.
	DiffBuckets int
	Extra       int64    // rows in the sink that the view does not have (counting duplicates)
	Missing     int64    // rows of the view that the sink lacks
	Samples     []string // up to MaxRows differing rows: "+" extra, "-" missing, then the record text
	Rounds      int      // fingerprint readings taken (1 + retries used, + the readings after the rows were read)
	// Unsettled counts buckets that differed in every reading but changed
	// on the source or the sink between the last two readings: under constant writes
	// they could not be compared at one point, and are not reported as
	// differences (their rows are not verified).
	Unsettled int
	// Waited is false when the slot was not active, so the sink was
	// compared without waiting for it to catch up.
	Waited bool
	// At is the source WAL position of the last reading: the sink was read
	// once the slot had confirmed it (unless Waited is false).
	At      string
	Elapsed time.Duration
}

// Equal reports whether the sink table equals the view.
func (r Result) Equal() bool { return r.Extra == 0 && r.Missing == 0 }

func (r Result) String() string {
	if r.Equal() {
		s := fmt.Sprintf("%s: equal (%d rows, %s)", r.View, r.SourceRows, r.Elapsed.Round(time.Millisecond))
		if r.Unsettled > 0 {
			s += fmt.Sprintf("; %d buckets not verified: they changed between every two readings", r.Unsettled)
		}
		return s
	}
	at := "at source position " + r.At
	if !r.Waited {
		at += ", slot not active"
	}
	return fmt.Sprintf("%s: DIFFERS: %d extra and %d missing rows in the sink (view %d rows, sink %d; %d buckets differ after %d readings, the last %s; %s)",
		r.View, r.Extra, r.Missing, r.SourceRows, r.SinkRows, r.DiffBuckets, r.Rounds, at, r.Elapsed.Round(time.Millisecond))
}

// Verifier compares views between the source and one sink.
type Verifier struct {
	cfg Config
	// seenActive is set once the slot was seen active: a slot inactive
	// after that is a pipeline reconnecting (or stopped since), waited for
	// up to CatchUpTimeout rather than taken as stopped at once.
	seenActive bool
}

// New returns a Verifier for cfg.
func New(cfg Config) (*Verifier, error) {
	cfg.setDefaults()
	if cfg.Source == nil {
		return nil, errors.New("verify: no source connection")
	}
	return &Verifier{cfg: cfg}, nil
}

// View compares view v in sink snk with v's SELECT on the source.
func (vf *Verifier) View(ctx context.Context, snk Side, v View) (Result, error) {
	start := time.Now()
	res := Result{View: v.Name, Waited: true}
	src := Source(vf.cfg.Source)

	var only []int // nil: every bucket
	var prevSrc, prevSink Fingerprint
	for round := 0; ; round++ {
		res.Rounds = round + 1
		sfp, kfp, waited, at, err := vf.reading(ctx, src, snk, v, only)
		if err != nil {
			return res, err
		}
		res.Waited = res.Waited && waited
		res.At = at
		if round == 0 {
			res.SourceRows, res.SinkRows = total(sfp), total(kfp)
		}
		only = differing(sfp, kfp)
		if len(only) == 0 || round >= vf.cfg.Retries {
			if round > 0 {
				// A bucket that changed on either side since the previous
				// reading is being written to: its difference may be a
				// transaction in flight, so it is not reported as one.
				var settled []int
				for _, b := range only {
					if sfp[b] == prevSrc[b] && kfp[b] == prevSink[b] {
						settled = append(settled, b)
					} else {
						res.Unsettled++
					}
				}
				only = settled
			}
			prevSrc, prevSink = sfp, kfp
			break
		}
		prevSrc, prevSink = sfp, kfp
		vf.cfg.Logger.Debug("buckets differ; reading them again", "view", v.Name.String(), "buckets", len(only), "round", round+1)
		select {
		case <-ctx.Done():
			return res, ctx.Err()
		case <-time.After(time.Duration(50*(round+1)) * time.Millisecond):
		}
	}
	// The rows of the settled differing buckets are read, then their
	// fingerprints once more: a bucket that changed meanwhile (on either
	// side, or in its sink rows' versions) was being written to while its
	// rows were read, and is unsettled after all; the rows of the others
	// are read again.
	for len(only) > 0 {
		res.Extra, res.Missing, res.Samples = 0, 0, nil
		if err := vf.diffRows(ctx, src, snk, v, only, &res); err != nil {
			return res, fmt.Errorf("verify %s: %w", v.Name, err)
		}
		if res.Equal() {
			// The rows agreed on this last reading: the difference was in
			// flight after all.
			only = nil
			break
		}
		sfp, kfp, waited, at, err := vf.reading(ctx, src, snk, v, only)
		if err != nil {
			return res, err
		}
		res.Waited, res.At, res.Rounds = res.Waited && waited, at, res.Rounds+1
		var still []int
		for _, b := range only {
			if sfp[b] == prevSrc[b] && kfp[b] == prevSink[b] {
				still = append(still, b)
			} else {
				res.Unsettled++
			}
		}
		if len(still) == len(only) {
			break
		}
		only, prevSrc, prevSink = still, sfp, kfp
	}
	if len(only) == 0 {
		res.Extra, res.Missing, res.Samples = 0, 0, nil
	}
	res.DiffBuckets = len(only)
	res.Elapsed = time.Since(start)
	return res, nil
}

// reading takes the fingerprints of the buckets only (nil: all) of both
// sides at a consistent point (see consistent).
func (vf *Verifier) reading(ctx context.Context, src *SQL, snk Side, v View, only []int) (sfp, kfp Fingerprint, waited bool, at string, err error) {
	n := vf.cfg.Buckets
	waited, at, err = vf.consistent(ctx, func() (err error) {
		sfp, err = src.Fingerprint(ctx, v, n, only)
		return err
	}, func() (err error) {
		kfp, err = snk.Fingerprint(ctx, v, n, only)
		return err
	})
	if err != nil {
		return nil, nil, false, "", fmt.Errorf("verify %s: %w", v.Name, err)
	}
	return sfp, kfp, waited, at, nil
}

// diffRows reads the rows of the differing buckets from both sides and
// records their multiset difference in res.
func (vf *Verifier) diffRows(ctx context.Context, src *SQL, snk Side, v View, buckets []int, res *Result) error {
	var want, have map[string]int64
	waited, at, err := vf.consistent(ctx, func() (err error) {
		want, err = src.Rows(ctx, v, vf.cfg.Buckets, buckets)
		return err
	}, func() (err error) {
		have, err = snk.Rows(ctx, v, vf.cfg.Buckets, buckets)
		return err
	})
	if err != nil {
		return err
	}
	res.Waited = res.Waited && waited
	res.At = at
	keys := make([]string, 0, len(want)+len(have))
	for r := range want {
		keys = append(keys, r)
	}
	for r := range have {
		if _, ok := want[r]; !ok {
			keys = append(keys, r)
		}
	}
	sort.Strings(keys)
	var extra, missing []string
	for _, r := range keys {
		switch d := have[r] - want[r]; {
		case d > 0:
			res.Extra += d
			for i := int64(0); i < d; i++ {
				extra = append(extra, "+"+r)
			}
		case d < 0:
			res.Missing -= d
			for i := int64(0); i < -d; i++ {
				missing = append(missing, "-"+r)
			}
		}
	}
	// Interleave so that a modified row shows as its -old/+new pair.
	for len(res.Samples) < vf.cfg.MaxRows && (len(extra) > 0 || len(missing) > 0) {
		if len(missing) > 0 {
			res.Samples = append(res.Samples, missing[0])
			missing = missing[1:]
		}
		if len(extra) > 0 && len(res.Samples) < vf.cfg.MaxRows {
			res.Samples = append(res.Samples, extra[0])
			extra = extra[1:]
		}
	}
	return nil
}

// consistent runs readSource and then readSink so that the sink reading
// includes every transaction the source reading saw: it reads the
// source's WAL position just before readSource and waits for the slot to
// confirm it before readSink. waited is false when the slot was not active
// (pipeline stopped) and the sink was read without waiting; at is the
// source position.
func (vf *Verifier) consistent(ctx context.Context, readSource, readSink func() error) (waited bool, at string, err error) {
	// The WAL position and the source reading share one REPEATABLE READ
	// snapshot, taken by the statement that reads the position: every
	// transaction the reading sees committed (its commit record inserted)
	// before that statement ran, so below the insert position it returns.
	// Without the shared snapshot the reading could include transactions
	// committed after the position, which the sink need not hold yet.
	tx, err := vf.cfg.Source.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return false, "", fmt.Errorf("read source: %w", err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	var lsn string
	if err := tx.QueryRow(ctx, "SELECT pg_current_wal_insert_lsn()::text").Scan(&lsn); err != nil {
		return false, "", fmt.Errorf("read source WAL position: %w", err)
	}
	if err := readSource(); err != nil { // on the same connection, so in tx
		return false, "", fmt.Errorf("source: %w", err)
	}
	if err := tx.Rollback(ctx); err != nil {
		return false, "", fmt.Errorf("read source: %w", err)
	}
	waited, err = vf.waitFlushed(ctx, lsn)
	if err != nil {
		return false, "", err
	}
	if err := readSink(); err != nil {
		return false, "", fmt.Errorf("sink: %w", err)
	}
	return waited, lsn, nil
}

// ErrNoSlot is returned when the pipeline's replication slot does not
// exist: the pipeline was never run or was dropped.
var ErrNoSlot = errors.New("verify: replication slot does not exist")

// waitFlushed waits until the slot's confirmed_flush_lsn reaches lsn and
// reports whether it did. A slot that is not active means a stopped
// pipeline, and the sink is compared as it is (false) -- unless the slot
// was active before in this run of the verifier: then the pipeline is
// probably reconnecting (after a source restart or a killed connection),
// and it is waited for until CatchUpTimeout. A pipeline that stays away
// that long is taken as stopped from then on.
func (vf *Verifier) waitFlushed(ctx context.Context, lsn string) (bool, error) {
	deadline := time.Now().Add(vf.cfg.CatchUpTimeout)
	for {
		var active, done bool
		var confirmed *string
		err := vf.cfg.Source.QueryRow(ctx, `
			SELECT active, coalesce(confirmed_flush_lsn >= $1::pg_lsn, false), confirmed_flush_lsn::text
			FROM pg_replication_slots WHERE slot_name = $2`, lsn, vf.cfg.Slot).Scan(&active, &done, &confirmed)
		if errors.Is(err, pgx.ErrNoRows) {
			return false, fmt.Errorf("%w: %s (is the pipeline set up? run ripple run)", ErrNoSlot, vf.cfg.Slot)
		}
		if err != nil {
			return false, fmt.Errorf("read replication slot %s: %w", vf.cfg.Slot, err)
		}
		if active {
			vf.seenActive = true
		}
		if done {
			return true, nil
		}
		if !active && !vf.seenActive {
			return false, nil
		}
		if time.Now().After(deadline) {
			if !active {
				vf.cfg.Logger.Warn("verify: the pipeline's slot has not been active for the catch-up timeout; comparing without waiting for it from now on",
					"slot", vf.cfg.Slot, "timeout", vf.cfg.CatchUpTimeout)
				vf.seenActive = false
				return false, nil
			}
			c := "none"
			if confirmed != nil {
				c = *confirmed
			}
			return false, fmt.Errorf("the pipeline did not catch up to source position %s within %s (slot %s confirmed %s)",
				lsn, vf.cfg.CatchUpTimeout, vf.cfg.Slot, c)
		}
		select {
		case <-ctx.Done():
			return false, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func total(fp Fingerprint) int64 {
	var n int64
	for _, b := range fp {
		n += b.Count
	}
	return n
}

// differing lists the buckets whose fingerprints differ, in order.
func differing(a, b Fingerprint) []int {
	var out []int
	for k, x := range a {
		if y, ok := b[k]; !ok || !x.sameRows(y) {
			out = append(out, k)
		}
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			out = append(out, k)
		}
	}
	sort.Ints(out)
	return out
}

// Report renders results as `ripple verify` prints them.
func Report(results []Result) string {
	var b strings.Builder
	for _, r := range results {
		b.WriteString(r.String())
		b.WriteByte('\n')
		for _, s := range r.Samples {
			b.WriteString("    " + s + "\n")
		}
		if r.Extra+r.Missing > int64(len(r.Samples)) && len(r.Samples) > 0 {
			fmt.Fprintf(&b, "    ... and %d more\n", r.Extra+r.Missing-int64(len(r.Samples)))
		}
	}
	return b.String()
}
