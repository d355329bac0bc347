package main

import (
	"context"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/rippledb/ripple/cdc"
	"github.com/rippledb/ripple/internal/pipeline"
	"github.com/rippledb/ripple/planner"
)

func newPlanCmd(name string) *cobra.Command {
	var schemaPath, configPath, dsn string
	cmd := &cobra.Command{
		Use:   name + " FILE.sql...",
		Short: "Show the dataflow graph each view becomes and the state each operator keeps",
		Long: `plan parses the view definitions in the given files, checks them against the
tables' definitions and prints the dataflow graph each view is maintained by.
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
			return nil
		},
	}
	cmd.Flags().StringVar(&schemaPath, "schema", "", "file with CREATE TABLE statements for the tables the views read")
	cmd.Flags().StringVarP(&configPath, "config", "c", "", "config file; the tables are read from its source")
	cmd.Flags().StringVar(&dsn, "source-dsn", os.Getenv("RIPPLE_SOURCE_DSN"), "source connection string to read the tables from")
	return cmd
}

func planFor(ctx context.Context, defs []planner.ViewDef, schemaPath, configPath, dsn string) (*planner.Plan, error) {
	if schemaPath != "" {
		ddl, err := os.ReadFile(schemaPath)
		if err != nil {
			return nil, err
		}
		cat, err := planner.StaticCatalog(string(ddl))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", schemaPath, err)
		}
		return planner.Build(ctx, defs, cat)
	}
	if configPath != "" {
		cfg, err := loadConfig(configPath, nil)
		if err != nil {
			return nil, err
		}
		dsn = cfg.Source.DSN
	}
	if dsn == "" {
		return nil, fmt.Errorf("plan needs the tables' definitions: pass --schema FILE (CREATE TABLE statements), or --config / --source-dsn to read them from the source")
	}
	src, err := cdc.Connect(ctx, cdc.Config{DSN: dsn})
	if err != nil {
		return nil, err
	}
	defer src.Close(context.Background())
	return pipeline.Prepare(ctx, src, defs)
}

// readViewFiles parses the view definitions in files, in order.
func readViewFiles(files []string) ([]planner.ViewDef, error) {
	var defs []planner.ViewDef
	for _, f := range files {
		text, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		ds, err := planner.ParseViews(f, string(text))
		if err != nil {
			return nil, err
		}
		defs = append(defs, ds...)
	}
	return defs, nil
}
