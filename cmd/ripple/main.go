// Command ripple keeps SQL views over a PostgreSQL database incrementally
// maintained in sink databases.
//
//	ripple demo                      a live demo on a throwaway local PostgreSQL
//	ripple run --config ripple.yaml  replicate: snapshot, then stream changes
//	ripple plan views.sql            show the dataflow graph a view becomes
//	ripple version
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"sort"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/rippledb/ripple/internal/pipeline"
	"github.com/rippledb/ripple/internal/row"
)

// version is set at build time with -ldflags "-X main.version=v1.2.3".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := newRoot().ExecuteContext(ctx)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "ripple:", err)
		os.Exit(1)
	}
}

func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:           "ripple",
		Short:         "Incrementally maintained SQL views from PostgreSQL into sink databases",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	var logFormat, logLevel string
	root.PersistentFlags().StringVar(&logFormat, "log-format", "text", "log format: text or json")
	root.PersistentFlags().StringVar(&logLevel, "log-level", "info", "log level: debug, info, warn, error")
	root.PersistentPreRunE = func(cmd *cobra.Command, _ []string) error {
		var lvl slog.Level
		if err := lvl.UnmarshalText([]byte(logLevel)); err != nil {
			return fmt.Errorf("--log-level %q: %w", logLevel, err)
		}
		opts := &slog.HandlerOptions{Level: lvl}
		switch logFormat {
		case "text":
			slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, opts)))
		case "json":
			slog.SetDefault(slog.New(slog.NewJSONHandler(os.Stderr, opts)))
		default:
			return fmt.Errorf("--log-format %q: want text or json", logFormat)
		}
		return nil
	}
	root.AddCommand(newRunCmd(), newPlanCmd("plan"), newExplainCmd(), newVersionCmd(), newDemoCmd(), newStatusCmd(),
		newCheckCmd(), newVerifyCmd(), newDropCmd(), newResyncCmd())
	return root
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print ripple's version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			v := version
			if bi, ok := debug.ReadBuildInfo(); ok {
				if v == "dev" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
					v = bi.Main.Version
				}
				for _, s := range bi.Settings {
					if s.Key == "vcs.revision" && len(s.Value) >= 12 {
						v += " (" + s.Value[:12] + ")"
					}
				}
				fmt.Fprintf(cmd.OutOrStdout(), "ripple %s %s\n", v, bi.GoVersion)
				return nil
			}
			fmt.Fprintf(cmd.OutOrStdout(), "ripple %s\n", v)
			return nil
		},
	}
}

func newRunCmd() *cobra.Command {
	var configPath string
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Replicate: create slot and publication, snapshot, load the sinks, then stream changes",
		Long: `run keeps every configured view up to date in its sink until interrupted
(SIGINT or SIGTERM stop it cleanly). The first start takes a consistent
snapshot and loads the sink tables atomically; then each source transaction
becomes one sink transaction that also records its LSN, and ripple's own
state is checkpointed in state_dir. Later starts — after a clean stop or a
crash — resume from that checkpoint without reading the source tables
again. Lost connections to the source or a sink are retried with backoff.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(configPath, cmd.Flags())
			if err != nil {
				return err
			}
			return runPipeline(cmd.Context(), cfg, runOptions{})
		},
	}
	cmd.Flags().StringVarP(&configPath, "config", "c", "ripple.yaml", "config file (YAML)")
	cmd.Flags().String("source-dsn", "", "source connection string (overrides source.dsn)")
	cmd.Flags().String("slot", "", "replication slot name (overrides source.slot)")
	cmd.Flags().String("publication", "", "publication name (overrides source.publication)")
	cmd.Flags().String("state-dir", "", "state directory (overrides state_dir)")
	cmd.Flags().String("http", "", `address of the /status, /metrics, /healthz and /readyz endpoint (overrides http; "" disables it)`)
	return cmd
}

// runOptions are what the commands that run a pipeline add to the config.
type runOptions struct {
	onStep func(pipeline.StepInfo)
	// resync discards the state and takes a fresh snapshot; with
	// stopAfterLoad the run ends once every sink holds it.
	resync, stopAfterLoad bool
	// resyncViews, from `resync --view`, rebuild only those views' sinks.
	resyncViews []string
}

// runPipeline builds the pipeline configuration from cfg and runs it.
func runPipeline(ctx context.Context, cfg *Config, opts runOptions) error {
	defs, bySink, err := cfg.loadViews()
	if err != nil {
		return err
	}
	var resyncViews []string
	for _, name := range opts.resyncViews {
		v, err := findView(bySink, name)
		if err != nil {
			return err
		}
		resyncViews = append(resyncViews, v.String())
	}
	unlock, err := lockStateDir(cfg)
	if err != nil {
		return err
	}
	defer unlock()
	var targets []pipeline.Target
	for _, sc := range cfg.Sinks {
		if len(bySink[sc.Name]) == 0 {
			slog.Warn("sink has no views", "sink", sc.Name)
			continue
		}
		targets = append(targets, pipeline.Target{Sink: newSink(sc), Views: bySink[sc.Name]})
	}
	defer applyMemoryLimit(cfg)()
	obs := startObserver(cfg.HTTP)
	defer obs.close()
	return pipeline.Run(ctx, obs.configure(pipeline.Config{
		Source: cfg.Source.cdcConfig(),
		Views:  defs, Targets: targets, OnStep: opts.onStep,
		NoStreaming: !cfg.Source.Streaming,
		StateDir:    cfg.StateDir, GroupTxns: cfg.GroupTransactions, TableMemory: cfg.tableMemory(), OperatorMemory: cfg.operatorMemory(), Tick: cfg.Tick,
		Resync: opts.resync, ResyncViews: resyncViews, StopAfterLoad: opts.stopAfterLoad,
	}))
}

// findView finds the configured view a user named, as schema.name or, when
// that is unambiguous, by its name alone.
func findView(bySink map[string][]row.TableName, name string) (row.TableName, error) {
	var all []string
	var found []row.TableName
	seen := map[row.TableName]bool{}
	for _, views := range bySink {
		for _, v := range views {
			if seen[v] {
				continue
			}
			seen[v] = true
			all = append(all, v.String())
			if v.String() == name || v.Schema+"."+v.Name == name || v.Name == name {
				found = append(found, v)
			}
		}
	}
	sort.Strings(all)
	switch {
	case len(found) == 1:
		return found[0], nil
	case len(found) > 1:
		return row.TableName{}, fmt.Errorf("--view %s: more than one view has that name; name it with its schema (views: %s)", name, strings.Join(all, ", "))
	}
	return row.TableName{}, fmt.Errorf("--view %s: the configuration has no such view (views: %s)", name, strings.Join(all, ", "))
}

func newResyncCmd() *cobra.Command {
	var configPath string
	var keepRunning bool
	var views []string
	cmd := &cobra.Command{
		Use:   "resync [--view NAME]...",
		Short: "Rebuild ripple's state and every sink from a fresh snapshot, or only some views' sinks",
		Long: `resync discards ripple's state in state_dir, recreates the replication slot,
takes a fresh consistent snapshot of the source and replaces every view's
sink table with it — each sink in one transaction, so readers see the old
contents until the new ones are complete. Use it when ripple reports that
the slot was dropped or invalidated, or that a sink lost data, or whenever
you want the sinks rebuilt. ripple must not be running (state_dir is locked).

With --view NAME (repeatable; schema.name, or the name alone when it is
unambiguous) only the sinks holding those views are rebuilt, and the slot,
the state and the other sinks are left as they are: the views are computed
again from ripple's copy of the source tables in state_dir — the rows a
snapshot at ripple's checkpoint would read — and each such sink is loaded
in one transaction, all its views together, then streaming catches up from
the checkpoint. Use it for a view stopped by a runtime error once the data
is fixed, or for a sink table that was damaged. It needs state that can be
resumed: when the slot is gone or the views changed, run resync without
--view.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(configPath, cmd.Flags())
			if err != nil {
				return err
			}
			opts := runOptions{resync: len(views) == 0, resyncViews: views, stopAfterLoad: !keepRunning}
			if err := runPipeline(cmd.Context(), cfg, opts); err != nil {
				return err
			}
			switch {
			case keepRunning || cmd.Context().Err() != nil:
			case len(views) > 0:
				fmt.Fprintf(cmd.OutOrStdout(), "resync done: the sinks of %s rebuilt from ripple's state; start `ripple run` to stream from it\n", strings.Join(views, ", "))
			default:
				fmt.Fprintln(cmd.OutOrStdout(), "resync done: state and sinks rebuilt from a fresh snapshot; start `ripple run` to stream from it")
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&configPath, "config", "c", "ripple.yaml", "config file (YAML)")
	cmd.Flags().BoolVar(&keepRunning, "run", false, "keep running (streaming) after the resync, like ripple run")
	cmd.Flags().StringArrayVar(&views, "view", nil, "rebuild only the sinks holding view `NAME`, from ripple's state (repeatable)")
	cmd.Flags().String("source-dsn", "", "source connection string (overrides source.dsn)")
	cmd.Flags().String("state-dir", "", "state directory (overrides state_dir)")
	cmd.Flags().String("http", "", `address of the /status, /metrics, /healthz and /readyz endpoint (overrides http; "" disables it)`)
	return cmd
}

// lockStateDir creates state_dir and takes an exclusive lock on it, so that
// two ripple processes never run the same pipeline from one directory.
func lockStateDir(cfg *Config) (func(), error) {
	dir := cfg.StateDir
	if !filepath.IsAbs(dir) {
		dir = filepath.Join(cfg.dir, dir)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("state_dir %s: %w", dir, err)
	}
	f, err := os.OpenFile(filepath.Join(dir, "LOCK"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("state_dir %s: %w", dir, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("state_dir %s is locked by another ripple process", dir)
		}
		return nil, fmt.Errorf("lock state_dir %s: %w", dir, err)
	}
	return func() { f.Close() }, nil
}

func isTerminal(f *os.File) bool { return term.IsTerminal(int(f.Fd())) }
