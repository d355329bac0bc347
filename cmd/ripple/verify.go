package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/rippledb/ripple/cdc"
	"github.com/rippledb/ripple/internal/oracle"
	"github.com/rippledb/ripple/internal/pipeline"
	"github.com/rippledb/ripple/internal/row"
	"github.com/rippledb/ripple/internal/verify"
	"github.com/rippledb/ripple/planner"
)

// verifyOptions are the flags of `ripple verify`.
type verifyOptions struct {
	views   []string // view names to verify; all when empty
	buckets int
	maxRows int
	retries int
	timeout time.Duration
}

func newVerifyCmd() *cobra.Command {
	var configPath string
	var opts verifyOptions
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Check that every sink table equals its view's SELECT on the source",
		Long: `verify compares every view's table in every sink with the view's SELECT
evaluated on the source, while the pipeline keeps running, and prints the
rows that differ (+ in the sink only, - missing from the sink).

It splits each view's rows into buckets by their key and compares
per-bucket fingerprints (row count and sum of row hashes) computed on each
side, then only the rows of buckets that differ. To compare both sides at
the same point it reads the source's WAL position before reading the
source and waits for the pipeline's slot to confirm that position before
reading the sink; buckets that still differ are read again (--retries), so
that a transaction in flight is not reported as a difference. It exits
non-zero when any view differs.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(configPath, cmd.Flags())
			if err != nil {
				return err
			}
			return runVerify(cmd.Context(), cmd.OutOrStdout(), cfg, opts)
		},
	}
	fs := cmd.Flags()
	fs.StringVarP(&configPath, "config", "c", "ripple.yaml", "config file (YAML)")
	fs.StringSliceVar(&opts.views, "view", nil, "verify only this view (schema.name or name; repeatable)")
	fs.IntVar(&opts.buckets, "buckets", 1024, "number of hash buckets rows are split into")
	fs.IntVar(&opts.maxRows, "max-rows", 10, "differing rows to print per view")
	fs.IntVar(&opts.retries, "retries", 3, "times differing buckets are read again before a difference is reported")
	fs.DurationVar(&opts.timeout, "timeout", time.Minute, "how long to wait for the pipeline to catch up with the source")
	addSourceFlags(fs)
	return cmd
}

// errViewsDiffer is returned by verify when a view differs in a sink.
var errViewsDiffer = errors.New("verify: sink tables differ from their views")

// sinkSide opens the verify.Side of one sink; close releases it.
type sinkSide func(ctx context.Context, sc SinkConfig) (side verify.Side, close func(), err error)

// sinkSides maps sink types to how verify reads them; adding a sink type
// adds an entry (verify.Dump serves any sink.Dumper).
var sinkSides = map[string]sinkSide{
	"postgres":   postgresSide,
	"postgresql": postgresSide,
}

func postgresSide(ctx context.Context, sc SinkConfig) (verify.Side, func(), error) {
	conn, err := oracle.Connect(ctx, sc.DSN)
	if err != nil {
		return nil, nil, fmt.Errorf("sink %s: connect: %w", sc.Name, err)
	}
	return verify.PostgresSink(conn), func() { conn.Close(context.Background()) }, nil
}

func runVerify(ctx context.Context, out io.Writer, cfg *Config, opts verifyOptions) error {
	start := time.Now()
	defs, bySink, err := cfg.loadViews()
	if err != nil {
		return err
	}
	want, err := selectViews(defs, opts.views)
	if err != nil {
		return err
	}
	src, err := cdc.Connect(ctx, cdc.Config{DSN: cfg.Source.DSN, Slot: cfg.Source.Slot, Publication: cfg.Source.Publication})
	if err != nil {
		return err
	}
	plan, err := pipeline.Prepare(ctx, src, defs)
	src.Close(context.Background())
	if err != nil {
		return err
	}
	views := map[row.TableName]verify.View{}
	for _, v := range plan.Views {
		views[v.Def.Name] = verify.View{Name: v.Def.Name, Query: v.SourceQuery, Columns: v.Columns, Key: v.Key}
	}
	conn, err := oracle.Connect(ctx, cfg.Source.DSN)
	if err != nil {
		return fmt.Errorf("connect to source: %w", err)
	}
	defer conn.Close(context.Background())
	vf, err := verify.New(verify.Config{
		Source: conn, Slot: cfg.Source.Slot, Buckets: opts.buckets, MaxRows: opts.maxRows,
		Retries: opts.retries, CatchUpTimeout: opts.timeout,
	})
	if err != nil {
		return err
	}
	var nViews, nDiff, nErr int
	var srcRows, sinkRows int64
	notWaited := false
	for _, sc := range cfg.Sinks {
		var names []row.TableName
		for _, n := range bySink[sc.Name] {
			if want == nil || want[n] {
				names = append(names, n)
			}
		}
		if len(names) == 0 {
			continue
		}
		open, ok := sinkSides[sc.Type]
		if !ok {
			fmt.Fprintf(out, "sink %s: verify cannot read sinks of type %q\n", sc.Name, sc.Type)
			nErr++
			continue
		}
		side, closeSide, err := open(ctx, sc)
		if err != nil {
			fmt.Fprintf(out, "sink %s: %v\n", sc.Name, err)
			nErr++
			continue
		}
		for _, n := range names {
			nViews++
			res, err := vf.View(ctx, side, views[n])
			if err != nil {
				if ctx.Err() != nil {
					closeSide()
					return ctx.Err()
				}
				fmt.Fprintf(out, "sink %s: %s: ERROR: %v\n", sc.Name, n, err)
				nErr++
				continue
			}
			srcRows += res.SourceRows
			sinkRows += res.SinkRows
			notWaited = notWaited || !res.Waited
			if !res.Equal() {
				nDiff++
			}
			fmt.Fprint(out, "sink "+sc.Name+": "+verify.Report([]verify.Result{res}))
		}
		closeSide()
	}
	if notWaited {
		fmt.Fprintf(out, "note: slot %s was not active (pipeline stopped); sinks were compared as they are\n", cfg.Source.Slot)
	}
	fmt.Fprintf(out, "\n%d views verified in %s: %d equal, %d differ, %d errors; %d source rows, %d sink rows\n",
		nViews, time.Since(start).Round(time.Millisecond), nViews-nDiff-nErr, nDiff, nErr, srcRows, sinkRows)
	if nDiff > 0 || nErr > 0 {
		return fmt.Errorf("%w (%d differ, %d errors)", errViewsDiffer, nDiff, nErr)
	}
	return nil
}

// selectViews resolves --view names (schema.name, or name in public);
// nil means every view.
func selectViews(defs []planner.ViewDef, names []string) (map[row.TableName]bool, error) {
	if len(names) == 0 {
		return nil, nil
	}
	known := map[row.TableName]bool{}
	for _, d := range defs {
		known[d.Name] = true
	}
	want := map[row.TableName]bool{}
	for _, n := range names {
		tn := row.TableName{Schema: "public", Name: n}
		if s, name, ok := strings.Cut(n, "."); ok {
			tn = row.TableName{Schema: s, Name: name}
		}
		if !known[tn] {
			return nil, fmt.Errorf("--view %s: no such view in the configuration", n)
		}
		want[tn] = true
	}
	return want, nil
}
