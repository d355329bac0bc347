package sink

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/rippledb/ripple/internal/row"
)

var _ Forgetter = (*Postgres)(nil)

// Forget implements Forgetter: in one transaction it deletes the
// pipeline's rows from ripple.progress and ripple.views and, when
// dropTables is set, drops the view tables registered to the pipeline in
// ripple.views (only those: a table ripple did not create is never
// dropped). Running it again, or on a database ripple never wrote to, does
// nothing. The bookkeeping schema itself stays: other pipelines may use it.
func (p *Postgres) Forget(ctx context.Context, pipeline string, dropTables bool) error {
	if err := p.cfg.Validate(); err != nil {
		return err
	}
	if pipeline == "" {
		return fmt.Errorf("sink %s: forget: pipeline name is empty", p.cfg.Name)
	}
	cc, err := pgx.ParseConfig(p.cfg.DSN)
	if err != nil {
		return fmt.Errorf("sink %s: parse DSN: %w", p.cfg.Name, err)
	}
	conn, err := pgx.ConnectConfig(ctx, cc)
	if err != nil {
		return fmt.Errorf("sink %s: connect: %w", p.cfg.Name, err)
	}
	defer conn.Close(context.Background())
	err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		var hasViews, hasProgress bool
		if err := tx.QueryRow(ctx, `SELECT to_regclass('ripple.views') IS NOT NULL, to_regclass('ripple.progress') IS NOT NULL`).
			Scan(&hasViews, &hasProgress); err != nil {
			return err
		}
		if hasViews {
			if dropTables {
				// Lock the catalog rows so a concurrent Open of the same
				// pipeline cannot register a table while it is dropped.
				rows, err := tx.Query(ctx, `SELECT view_schema, view_name FROM ripple.views WHERE pipeline = $1 ORDER BY 1, 2 FOR UPDATE`, pipeline)
				if err != nil {
					return err
				}
				names, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (row.TableName, error) {
					var n row.TableName
					err := r.Scan(&n.Schema, &n.Name)
					return n, err
				})
				if err != nil {
					return err
				}
				for _, n := range names {
					if _, err := tx.Exec(ctx, "DROP TABLE IF EXISTS "+n.String()); err != nil {
						return fmt.Errorf("drop table %s: %w", n, err)
					}
					p.log.Info("dropped view table", "table", n.String())
				}
			}
			if _, err := tx.Exec(ctx, `DELETE FROM ripple.views WHERE pipeline = $1`, pipeline); err != nil {
				return err
			}
		}
		if hasProgress {
			if _, err := tx.Exec(ctx, `DELETE FROM ripple.progress WHERE pipeline = $1`, pipeline); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sink %s: forget pipeline %q: %w", p.cfg.Name, pipeline, err)
	}
	return nil
}
