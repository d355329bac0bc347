package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/rippledb/ripple/cdc"
	"github.com/rippledb/ripple/internal/pipeline"
	"github.com/rippledb/ripple/internal/row"
	"github.com/rippledb/ripple/planner"
	"github.com/rippledb/ripple/sink"
)

func newCheckCmd() *cobra.Command {
	var configPath string
	var allowWarnings bool
	cmd := &cobra.Command{
		Use:   "check",
		Short: "Check the config, the source, every view and the sinks before anything is created",
		Long: `check validates the configuration and every view against the live source
and sinks, and prints one line per check (ok, warn or FAIL): the source's
wal_level, the role's privileges, the replication slot and publication, the
REPLICA IDENTITY and privileges of every table the views read, whether each
view can be maintained (and why not), and whether each sink is reachable.
It creates nothing. It exits non-zero when any check fails or warns
(--allow-warnings: only when one fails).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runCheck(cmd.Context(), cmd.OutOrStdout(), configPath, cmd.Flags(), allowWarnings)
		},
	}
	cmd.Flags().StringVarP(&configPath, "config", "c", "ripple.yaml", "config file (YAML)")
	cmd.Flags().BoolVar(&allowWarnings, "allow-warnings", false, "exit 0 when checks only warn")
	addSourceFlags(cmd.Flags())
	return cmd
}

// addSourceFlags adds the flags that override the config's source keys
// (loadConfig binds them).
func addSourceFlags(fs *pflag.FlagSet) {
	fs.String("source-dsn", "", "source connection string (overrides source.dsn)")
	fs.String("slot", "", "replication slot name (overrides source.slot)")
	fs.String("publication", "", "publication name (overrides source.publication)")
}

// errChecksFailed is returned by check when a check failed (or warned).
var errChecksFailed = errors.New("check found problems")

// checkReport collects findings and prints them as they come.
type checkReport struct {
	out          io.Writer
	fails, warns int
}

func (r *checkReport) add(fs ...cdc.Finding) {
	for _, f := range fs {
		switch f.Status {
		case cdc.StatusFail:
			r.fails++
		case cdc.StatusWarn:
			r.warns++
		}
		fmt.Fprintln(r.out, f.String())
	}
}

func runCheck(ctx context.Context, out io.Writer, configPath string, flags *pflag.FlagSet, allowWarnings bool) error {
	rep := &checkReport{out: out}
	err := checkAll(ctx, rep, configPath, flags)
	fmt.Fprintln(out)
	switch {
	case err != nil:
		return err
	case rep.fails > 0 || (rep.warns > 0 && !allowWarnings):
		fmt.Fprintf(out, "%d failed, %d warnings\n", rep.fails, rep.warns)
		return fmt.Errorf("%w: %d failed, %d warnings", errChecksFailed, rep.fails, rep.warns)
	case rep.warns > 0:
		fmt.Fprintf(out, "no failures, %d warnings\n", rep.warns)
	default:
		fmt.Fprintln(out, "all checks passed")
	}
	return nil
}

func checkAll(ctx context.Context, rep *checkReport, configPath string, flags *pflag.FlagSet) error {
	cfg, err := loadConfig(configPath, flags)
	if err != nil {
		rep.add(cdc.Finding{Status: cdc.StatusFail, Subject: "config", Detail: err.Error()})
		return nil
	}
	defs, bySink, viewsErr := cfg.loadViews()
	if viewsErr != nil {
		rep.add(cdc.Finding{Status: cdc.StatusFail, Subject: "views", Detail: viewsErr.Error()})
	} else {
		rep.add(cdc.Finding{Status: cdc.StatusOK, Subject: "config", Detail: fmt.Sprintf("%s: %d sinks, %d views", displayPath(configPath), len(cfg.Sinks), len(defs))})
	}
	srcCfg := cfg.Source.cdcConfig()

	// Plan the views against the source's catalog; the tables of the views
	// that plan are the ones the source checks look at.
	if len(defs) > 0 {
		src, err := cdc.Open(ctx, srcCfg)
		if err != nil {
			rep.add(cdc.Finding{Status: cdc.StatusFail, Subject: "views", Detail: "cannot be planned without the source's catalog: " + err.Error()})
		} else {
			srcCfg.Tables = checkViews(ctx, rep, src, defs)
			src.Close(context.Background())
		}
	}
	rep.add(cdc.CheckSource(ctx, srcCfg)...)

	for _, sc := range cfg.Sinks {
		check, ok := sinkChecks[sc.Type]
		if !ok {
			check = checkPingSink
		}
		if len(bySink[sc.Name]) == 0 && viewsErr == nil {
			rep.add(cdc.Finding{Status: cdc.StatusWarn, Subject: "sink " + sc.Name, Detail: "holds no views"})
		}
		rep.add(check(ctx, sc, cfg.Source.Slot, bySink[sc.Name])...)
	}
	return nil
}

// checkViews plans every view on its own, so that every refused view is
// reported, and returns the tables the planned views read.
func checkViews(ctx context.Context, rep *checkReport, src *cdc.Source, defs []planner.ViewDef) []row.TableName {
	var tables []row.TableName
	seen := map[row.TableName]bool{}
	addTables := func(p *planner.Plan) {
		for _, t := range p.Tables {
			if !seen[t.Name] {
				seen[t.Name] = true
				tables = append(tables, t.Name)
			}
		}
	}
	// Views may only be planned together (one graph); plan them all first,
	// and one by one only to find each one's problem.
	if p, err := pipeline.Prepare(ctx, src, defs); err == nil {
		for _, d := range defs {
			rep.add(viewFinding(p, d, nil))
		}
		addTables(p)
		return tables
	}
	for _, d := range defs {
		p, err := pipeline.Prepare(ctx, src, []planner.ViewDef{d})
		rep.add(viewFinding(p, d, err))
		if err == nil {
			addTables(p)
		}
	}
	return tables
}

func viewFinding(p *planner.Plan, d planner.ViewDef, err error) cdc.Finding {
	subject := "view " + d.Name.String()
	if err != nil {
		return cdc.Finding{Status: cdc.StatusFail, Subject: subject, Detail: "refused: " + strings.ReplaceAll(err.Error(), "\n", "\n      ")}
	}
	detail := "maintainable: " + p.Summary(d.Name)
	for _, vc := range planner.AnalyzeCost(p) {
		if vc.View == d.Name && len(vc.Warnings) > 0 {
			detail += fmt.Sprintf("; cost warnings: %d (see ripple explain)", len(vc.Warnings))
		}
	}
	return cdc.Finding{Status: cdc.StatusOK, Subject: subject, Detail: detail}
}

// sinkCheck checks one sink of a type: reachability, and that the view
// tables ripple would create do not collide with tables it does not own.
// It creates nothing.
type sinkCheck func(ctx context.Context, sc SinkConfig, pipeline string, views []row.TableName) []cdc.Finding

// sinkChecks maps sink types to their check; adding a sink type adds an
// entry.
var sinkChecks = map[string]sinkCheck{
	"postgres":   checkPostgresSink,
	"postgresql": checkPostgresSink,
}

// checkPingSink checks a sink that has no dedicated check through
// sink.Pinger: reachable, nothing created.
func checkPingSink(ctx context.Context, sc SinkConfig, _ string, _ []row.TableName) []cdc.Finding {
	subject := "sink " + sc.Name
	p, ok := newSink(sc).(sink.Pinger)
	if !ok {
		return []cdc.Finding{{Status: cdc.StatusWarn, Subject: subject, Detail: fmt.Sprintf("sink type %q cannot be checked without writing to it", sc.Type)}}
	}
	cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := p.Ping(cctx); err != nil {
		return []cdc.Finding{{Status: cdc.StatusFail, Subject: subject, Detail: err.Error()}}
	}
	return []cdc.Finding{{Status: cdc.StatusOK, Subject: subject, Detail: sc.Type + " reachable"}}
}

func checkPostgresSink(ctx context.Context, sc SinkConfig, pipeline string, views []row.TableName) []cdc.Finding {
	subject := "sink " + sc.Name
	cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	conn, err := pgx.Connect(cctx, sc.DSN)
	if err != nil {
		return []cdc.Finding{{Status: cdc.StatusFail, Subject: subject, Detail: "connect: " + err.Error()}}
	}
	defer conn.Close(context.Background())
	if err := conn.Ping(cctx); err != nil {
		return []cdc.Finding{{Status: cdc.StatusFail, Subject: subject, Detail: "ping: " + err.Error()}}
	}
	var version string
	var hasCatalog, canCreate bool
	err = conn.QueryRow(cctx, `SELECT current_setting('server_version'), to_regclass('ripple.views') IS NOT NULL,
		has_database_privilege(current_database(), 'CREATE')`).Scan(&version, &hasCatalog, &canCreate)
	if err != nil {
		return []cdc.Finding{{Status: cdc.StatusFail, Subject: subject, Detail: "query: " + err.Error()}}
	}
	out := []cdc.Finding{{Status: cdc.StatusOK, Subject: subject, Detail: fmt.Sprintf("connected (PostgreSQL %s)", version)}}
	if !hasCatalog && !canCreate {
		out = append(out, cdc.Finding{Status: cdc.StatusFail, Subject: subject, Detail: "the role may not create the bookkeeping schema ripple (needs CREATE on the database)"})
	}
	for _, v := range views {
		var exists bool
		var owner *string
		q := `SELECT to_regclass($1) IS NOT NULL, NULL::text`
		if hasCatalog {
			q = `SELECT to_regclass($1) IS NOT NULL, (SELECT pipeline FROM ripple.views WHERE view_schema = $2 AND view_name = $3)`
		}
		args := []any{v.String()}
		if hasCatalog {
			args = append(args, v.Schema, v.Name)
		}
		if err := conn.QueryRow(cctx, q, args...).Scan(&exists, &owner); err != nil {
			out = append(out, cdc.Finding{Status: cdc.StatusFail, Subject: subject, Detail: fmt.Sprintf("look up table %s: %v", v, err)})
			continue
		}
		if exists && (owner == nil || *owner != pipeline) {
			out = append(out, cdc.Finding{Status: cdc.StatusFail, Subject: subject,
				Detail: fmt.Sprintf("table %s exists and was not created by ripple pipeline %q; drop or rename it, or rename the view", v, pipeline)})
		}
	}
	return out
}
