package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/rippledb/ripple/internal/pipeline"
)

func newStatusCmd() *cobra.Command {
	var addr string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show the state of a running pipeline: lag, views, throughput, errors",
		Long: `status asks a running "ripple run" for its state over its HTTP endpoint
(config key http, default ` + defaultHTTP + `) and prints, per view, its rows,
last applied LSN and changes per second; for the replication slot, the lag
in bytes and seconds and the WAL the source retains; the engine's state
size, throughput and the last error. It exits non-zero when nothing answers.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !cmd.Flags().Changed("addr") {
				if env := os.Getenv("RIPPLE_HTTP"); env != "" {
					addr = env
				}
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), 10*time.Second)
			defer cancel()
			rep, raw, err := fetchStatus(ctx, addr)
			if err != nil {
				return err
			}
			if asJSON {
				_, err := cmd.OutOrStdout().Write(raw)
				return err
			}
			printStatus(cmd.OutOrStdout(), rep)
			return nil
		},
	}
	cmd.Flags().StringVar(&addr, "addr", defaultHTTP, "address of ripple run's HTTP endpoint (host:port or URL; default from RIPPLE_HTTP when set)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the raw JSON status")
	return cmd
}

// statusURL turns host:port (or a URL) into the /status URL.
func statusURL(addr string) string {
	if !strings.Contains(addr, "://") {
		addr = "http://" + addr
	}
	return strings.TrimSuffix(addr, "/") + "/status"
}

// fetchStatus GETs /status from a running ripple.
func fetchStatus(ctx context.Context, addr string) (pipeline.StatusReport, []byte, error) {
	var rep pipeline.StatusReport
	url := statusURL(addr)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return rep, nil, fmt.Errorf("status address %q: %w", addr, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return rep, nil, fmt.Errorf("no ripple answers at %s (%v); is \"ripple run\" running with http: %s?", addr, err, addr)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return rep, nil, fmt.Errorf("read status from %s: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return rep, nil, fmt.Errorf("status from %s: HTTP %s: %.200s", url, resp.Status, raw)
	}
	if err := json.Unmarshal(raw, &rep); err != nil {
		return rep, nil, fmt.Errorf("status from %s is not ripple's (%v); is another service listening there?", url, err)
	}
	return rep, raw, nil
}

// printStatus renders a status report for people.
func printStatus(w io.Writer, r pipeline.StatusReport) {
	now := r.Now
	if now.IsZero() {
		now = time.Now()
	}
	ready := "not ready"
	if r.Ready {
		ready = "ready"
	}
	fmt.Fprintf(w, "pipeline %s: %s, %s (up %s)\n\n", r.Pipeline, r.Phase, ready, since(now, r.StartedAt))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	applied := r.LastLSN
	if applied == "" {
		applied = "-"
	}
	if !r.LastCommitTime.IsZero() {
		applied += fmt.Sprintf(" (committed %s ago, applied %s ago)", since(now, r.LastCommitTime), since(now, r.LastAppliedAt))
	}
	fmt.Fprintf(tw, "applied LSN\t%s\n", applied)
	switch {
	case r.Slot.CheckedAt.IsZero() && r.Slot.Error == "":
		fmt.Fprintf(tw, "slot %s\tnot polled yet\n", r.Slot.Name)
	case r.Slot.Error != "":
		fmt.Fprintf(tw, "slot %s\tlag unknown: %s\n", r.Slot.Name, r.Slot.Error)
	default:
		fmt.Fprintf(tw, "slot %s\tlag %s, %s; WAL retained %s%s (checked %s ago)\n", r.Slot.Name,
			bytesText(r.Slot.LagBytes), secondsText(r.Slot.LagSeconds), bytesText(r.Slot.RetainedBytes),
			retainedLimitText(r.Slot), since(now, r.Slot.CheckedAt))
	}
	fmt.Fprintf(tw, "throughput\t%.1f txn/s, %.1f changes/s (%d transactions, %d changes since start)\n",
		r.TransactionsPerSec, r.ChangesPerSec, r.Transactions, r.Changes)
	sn := r.Snapshot
	snap := fmt.Sprintf("%d rows", sn.Rows)
	if sn.EstimatedRows > 0 && !sn.Done {
		snap += fmt.Sprintf(" of ~%d", sn.EstimatedRows)
	}
	switch {
	case sn.Done:
		snap += fmt.Sprintf(", done in %s", sn.DoneAt.Sub(sn.StartedAt).Round(time.Millisecond))
	case !sn.StartedAt.IsZero():
		snap += fmt.Sprintf(", %.0f rows/s, running", sn.RowsPerSec)
	default:
		snap = "not started"
	}
	fmt.Fprintf(tw, "snapshot\t%s\n", snap)
	fmt.Fprintf(tw, "state\t%s in %d rows (%s)\n", bytesText(r.StateBytes), r.StateRows, r.StateNote)
	if r.State.Dir != "" {
		how := "loaded from a fresh snapshot"
		if r.State.Resumed {
			how = "resumed from its checkpoint"
		}
		fmt.Fprintf(tw, "checkpoint\t%s, synced %s ago; %s on disk in %s (%s)\n", dash(r.State.CheckpointLSN),
			since(now, r.State.SyncedAt), bytesText(r.State.DiskBytes), r.State.Dir, how)
		if len(r.State.OnDisk) > 0 {
			fmt.Fprintf(tw, "tables on disk\t%s (their copies outgrew table_memory)\n", strings.Join(r.State.OnDisk, ", "))
		}
		if r.State.ArrangementsOnDisk > 0 {
			fmt.Fprintf(tw, "operator state on disk\t%d of %d join arrangements (they outgrew operator_memory)\n", r.State.ArrangementsOnDisk, r.State.Arrangements)
		}
	}
	if r.Reconnects > 0 {
		fmt.Fprintf(tw, "reconnects\t%d\n", r.Reconnects)
	}
	lastErr := "none"
	if r.LastError != "" {
		lastErr = fmt.Sprintf("%s (%s ago)", r.LastError, since(now, r.LastErrorAt))
	}
	fmt.Fprintf(tw, "errors\t%d; last: %s\n", r.Errors, lastErr)
	tw.Flush()

	if len(r.Views) == 0 {
		return
	}
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "VIEW\tSINKS\tROWS\tLAST LSN\tLAST CHANGE\tTXNS\tCHANGES/S\t")
	for _, v := range r.Views {
		change := v.LastChangeLSN
		if change == "" {
			change = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%d\t%.1f\t\n", v.Name, strings.Join(v.Sinks, ","), v.Rows, dash(v.LastLSN), change, v.Transactions, v.ChangesPerSec)
	}
	tw.Flush()
	for _, v := range r.Views {
		if v.Failed != "" {
			fmt.Fprintf(w, "\nview %s FAILED at %s: %s\n  its sink tables keep their contents from before that transaction; fix the data, then run `ripple resync --view %s` (or change the view and run `ripple resync`)\n",
				v.Name, v.FailedLSN, v.Failed, v.Name)
		}
	}
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// since renders now − t for people ("-" for an unset time).
func since(now, t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	d := now.Sub(t)
	switch {
	case d < 0:
		return "0s"
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	default:
		return d.Round(time.Second).String()
	}
}

func secondsText(s float64) string {
	return (time.Duration(s * float64(time.Second))).Round(time.Millisecond).String()
}

// bytesText renders a byte count in binary units.
func bytesText(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 5; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// retainedLimitText is what status adds after the retained WAL: the
// configured limit, and a warning when the slot is over it.
func retainedLimitText(s pipeline.SlotStatus) string {
	var b strings.Builder
	if s.MaxRetainedBytes > 0 {
		fmt.Fprintf(&b, " of max %s", bytesText(s.MaxRetainedBytes))
	}
	if s.RetainedOverLimit {
		b.WriteString(" — OVER LIMIT")
		if s.WALStatus == "unreserved" {
			b.WriteString(" (wal_status unreserved: the next checkpoint may invalidate the slot)")
		}
	}
	return b.String()
}
