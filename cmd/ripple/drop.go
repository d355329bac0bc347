package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/rippledb/ripple/cdc"
	"github.com/rippledb/ripple/sink"
)

// dropOptions are the flags of `ripple drop`.
type dropOptions struct {
	yes        bool // do not ask for confirmation
	dropTables bool // drop the view tables in the sinks too
}

func newDropCmd() *cobra.Command {
	var configPath string
	var opts dropOptions
	cmd := &cobra.Command{
		Use:   "drop",
		Short: "Remove the pipeline's replication slot, publication and sink progress (after confirmation)",
		Long: `drop removes what a pipeline keeps outside its sink tables: the replication
slot (so the source stops retaining WAL for it), the publication, and in
every sink the pipeline's progress and catalog rows (and with --drop-tables
the view tables ripple created). The next ripple run starts from scratch.

It asks for the pipeline name (the slot name) on a terminal; --yes skips
the question, and without a terminal --yes is required. It refuses while the
slot is in use (another ripple is running). Running it again is harmless.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(configPath, cmd.Flags())
			if err != nil {
				return err
			}
			return runDrop(cmd.Context(), cmd.OutOrStdout(), cmd.InOrStdin(), isTerminal(os.Stdin), cfg, opts)
		},
	}
	fs := cmd.Flags()
	fs.StringVarP(&configPath, "config", "c", "ripple.yaml", "config file (YAML)")
	fs.BoolVarP(&opts.yes, "yes", "y", false, "do not ask for confirmation")
	fs.BoolVar(&opts.dropTables, "drop-tables", false, "also drop the view tables ripple created in the sinks")
	addSourceFlags(fs)
	return cmd
}

// sinkForgetters maps sink types to the sink.Forgetter that drop uses;
// adding a sink type adds an entry.
var sinkForgetters = map[string]func(SinkConfig) sink.Forgetter{
	"postgres":   postgresForgetter,
	"postgresql": postgresForgetter,
}

func postgresForgetter(sc SinkConfig) sink.Forgetter {
	return sink.NewPostgres(sink.PostgresConfig{Name: sc.Name, DSN: sc.DSN})
}

// errNotConfirmed is returned when drop was not confirmed.
var errNotConfirmed = errors.New("drop: not confirmed; nothing was changed")

func runDrop(ctx context.Context, out io.Writer, in io.Reader, tty bool, cfg *Config, opts dropOptions) error {
	pipeline := cfg.Source.Slot
	var forgetters []sink.Forgetter
	var problems []string
	for _, sc := range cfg.Sinks {
		mk, ok := sinkForgetters[sc.Type]
		if !ok {
			problems = append(problems, fmt.Sprintf("sink %s: type %q cannot forget a pipeline", sc.Name, sc.Type))
			continue
		}
		forgetters = append(forgetters, mk(sc))
	}
	if len(problems) > 0 {
		return fmt.Errorf("drop: %s", strings.Join(problems, "; "))
	}
	if !opts.yes {
		if !tty {
			return errors.New("drop: standard input is not a terminal; pass --yes to drop without confirmation")
		}
		what := "the replication slot, the publication, ripple's state and the sinks' progress"
		if opts.dropTables {
			what += " and view tables"
		}
		fmt.Fprintf(out, "This removes %s of pipeline %s.\nType the pipeline name (%s) to confirm: ", what, pipeline, pipeline)
		answer, err := bufio.NewReader(in).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("drop: read confirmation: %w", err)
		}
		if strings.TrimSpace(answer) != pipeline {
			return errNotConfirmed
		}
	}

	// The state is dropped too; a ripple running on it holds the lock.
	unlock, err := lockStateDir(cfg)
	if err != nil {
		return fmt.Errorf("drop: %w; stop it first (nothing was changed)", err)
	}
	defer unlock()
	src, err := cdc.Open(ctx, cdc.Config{DSN: cfg.Source.DSN, Slot: cfg.Source.Slot, Publication: cfg.Source.Publication})
	if err != nil {
		return fmt.Errorf("drop: %w", err)
	}
	defer src.Close(context.Background())
	// The slot first: it refuses while another ripple streams from it, and
	// then nothing else is touched.
	exists, err := src.SlotExists(ctx)
	if err != nil {
		return fmt.Errorf("drop: %w", err)
	}
	if err := src.DropSlot(ctx); err != nil {
		if errors.Is(err, cdc.ErrSlotInUse) {
			return fmt.Errorf("drop: %w; stop it first (nothing was changed)", err)
		}
		return fmt.Errorf("drop: %w", err)
	}
	fmt.Fprintf(out, "replication slot %s: %s\n", cfg.Source.Slot, doneOrAbsent(exists, "dropped"))

	if exists, err = src.PublicationExists(ctx); err != nil {
		return fmt.Errorf("drop: %w", err)
	}
	if err := src.DropPublication(ctx); err != nil {
		return fmt.Errorf("drop: %w", err)
	}
	fmt.Fprintf(out, "publication %s: %s\n", cfg.Source.Publication, doneOrAbsent(exists, "dropped"))

	for i, f := range forgetters {
		if err := f.Forget(ctx, pipeline, opts.dropTables); err != nil {
			return fmt.Errorf("drop: %w", err)
		}
		what := "progress and catalog rows removed"
		if opts.dropTables {
			what = "view tables, progress and catalog rows removed"
		}
		fmt.Fprintf(out, "sink %s: %s\n", cfg.Sinks[i].Name, what)
	}
	engine := filepath.Join(cfg.StateDir, "engine")
	_, serr := os.Stat(engine)
	if err := os.RemoveAll(engine); err != nil {
		return fmt.Errorf("drop: remove the state in %s: %w", cfg.StateDir, err)
	}
	// The operator spill store of a ripple that was killed (a clean stop
	// removes it itself).
	if err := os.RemoveAll(filepath.Join(cfg.StateDir, "spill")); err != nil {
		return fmt.Errorf("drop: remove the operator spill store in %s: %w", cfg.StateDir, err)
	}
	// Spools of streamed transactions the killed ripple had open.
	if err := os.RemoveAll(filepath.Join(cfg.StateDir, "stream")); err != nil {
		return fmt.Errorf("drop: remove the spools of streamed transactions in %s: %w", cfg.StateDir, err)
	}
	fmt.Fprintf(out, "state in %s: %s\n", cfg.StateDir, doneOrAbsent(serr == nil, "removed"))
	fmt.Fprintf(out, "pipeline %s dropped\n", pipeline)
	return nil
}

func doneOrAbsent(existed bool, done string) string {
	if existed {
		return done
	}
	return "did not exist"
}
