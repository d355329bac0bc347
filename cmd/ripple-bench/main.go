// Command ripple-bench runs ripple's benchmark suite (./internal/bench): it
// starts throwaway source and sink clusters, runs scenarios a–f, checks
// every scenario with the oracle and writes report.md and report.json.
//
//	go run ./cmd/ripple-bench            # short form, a few minutes
//	go run ./cmd/ripple-bench -long      # the full sizes
//	go run ./cmd/ripple-bench -only a,c -profile prof/
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/rippledb/ripple/cmd/ripple-bench/internal/bench"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "ripple-bench:", err)
		os.Exit(1)
	}
}

func run() error {
	long := flag.Bool("long", false, "run the issue's full sizes (1M-row backlogs, 10M-row tables, TPC-H scale 1)")
	tiny := flag.Bool("tiny", false, "run the CI smoke sizes")
	only := flag.String("only", "", "comma-separated scenarios to run (a,b,c,d,e,f); default all")
	out := flag.String("out", "docs/bench", "directory for report.md, report.json and the plots (PNG)")
	prof := flag.String("profile", "", "directory for CPU and allocation profiles of scenario a (identity view) and of each TPC-H refresh (f), and heap profiles of scenario e")
	verbose := flag.Bool("v", false, "log the pipeline's messages")
	tableMB := flag.Int64("table-memory-mb", 0, "ripple's table_memory in MiB (0: its default, 1GB)")
	operatorMB := flag.Int64("operator-memory-mb", 0, "ripple's operator_memory in MiB (0: its default, 1GB)")
	flag.Parse()

	form := bench.Short
	switch {
	case *long:
		form = bench.Long
	case *tiny:
		form = bench.Tiny
	}
	cfg := bench.Config{Form: form, ProfileDir: *prof, Progress: os.Stderr,
		TableMemory: *tableMB << 20, OperatorMemory: *operatorMB << 20}
	if *only != "" {
		cfg.Scenarios = strings.Split(*only, ",")
	}
	if *verbose {
		cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	env, err := bench.Start(ctx)
	if err != nil {
		return err
	}
	defer env.Close()
	rep, runErr := bench.Run(ctx, env, cfg)
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	if err := rep.WritePlots(*out); err != nil {
		return err
	}
	md, err := os.Create(filepath.Join(*out, "report.md"))
	if err != nil {
		return err
	}
	rep.WriteMarkdown(md)
	if err := md.Close(); err != nil {
		return err
	}
	js, err := os.Create(filepath.Join(*out, "report.json"))
	if err != nil {
		return err
	}
	if err := rep.WriteJSON(js); err != nil {
		return err
	}
	if err := js.Close(); err != nil {
		return err
	}
	rep.Scorecard(os.Stdout)
	fmt.Fprintf(os.Stderr, "report written to %s\n", filepath.Join(*out, "report.md"))
	return runErr
}
