package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

func newExplainCmd() *cobra.Command {
	var schemaPath, configPath, dsn string
	cmd := &cobra.Command{
		Use:   "explain FILE.sql...",
		Short: "Show each view's dataflow graph, the state its operators keep and which constructs are costly",
		Long: `explain prints what plan prints — the dataflow graph each view becomes — and
then, per view, every stateful operator with the state it keeps and what
that state grows with (a join: the rows of both inputs; an aggregate: its
groups, and for min/max every value of each group; DISTINCT: the distinct
rows), followed by warnings about constructs that are costly to maintain:
min/max, self-joins and joins not on a unique key (large fan-out per
change), DISTINCT over wide rows, and views without a unique key (which
key-value sinks cannot hold).
The tables come from --schema (a file of CREATE TABLE statements) or from the
live source (--config or --source-dsn / RIPPLE_SOURCE_DSN).`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			defs, err := readViewFiles(args)
			if err != nil {
				return err
			}
			plan, err := planFor(cmd.Context(), defs, schemaPath, configPath, dsn)
			if err != nil {
				return err
			}
			fmt.Fprint(cmd.OutOrStdout(), plan.Explain())
			fmt.Fprintln(cmd.OutOrStdout())
			fmt.Fprint(cmd.OutOrStdout(), plan.ExplainCost())
			return nil
		},
	}
	cmd.Flags().StringVar(&schemaPath, "schema", "", "file with CREATE TABLE statements for the tables the views read")
	cmd.Flags().StringVarP(&configPath, "config", "c", "", "config file; the tables are read from its source")
	cmd.Flags().StringVar(&dsn, "source-dsn", os.Getenv("RIPPLE_SOURCE_DSN"), "source connection string to read the tables from")
	return cmd
}
