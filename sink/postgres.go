package sink

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/rippledb/ripple/internal/row"
)

// PostgresConfig configures a PostgreSQL sink.
type PostgresConfig struct {
	// Name is the sink's name from the configuration; it prefixes errors.
	Name string
	// DSN is a libpq connection string or URL for the sink database.
	DSN string
	// Logger receives the sink's logs; nil discards them.
	Logger *slog.Logger
}

// Validate reports every problem with c at once.
func (c PostgresConfig) Validate() error {
	var errs []error
	if c.Name == "" {
		errs = append(errs, errors.New("sink: postgres sink needs a name"))
	}
	if c.DSN == "" {
		errs = append(errs, fmt.Errorf("sink %s: postgres sink needs a DSN", c.Name))
	}
	return errors.Join(errs...)
}

// Postgres is a sink that keeps each view as a table of the same name in a
// PostgreSQL database, with the bookkeeping tables ripple.progress and
// ripple.views beside them.
//
// It holds one connection, with row.SessionSettings pinned so values are
// written and compared in their canonical text form. Like every Sink it is
// used from one goroutine; it is not safe for concurrent use.
type Postgres struct {
	cfg PostgresConfig
	log *slog.Logger

	conn     *pgx.Conn // nil until Open
	pipeline string
	views    map[row.TableName]*pgView
	order    []*pgView // views in Open's order, for deterministic DDL

	// stmts caches prepared DELETE, UPDATE and INSERT statements by view
	// and NULL pattern or row count.
	stmts    map[stmtKey]string
	nextStmt int
	// progressReady means the statements of bookkeepingStmts are prepared
	// on conn.
	progressReady bool
}

// pgView is a view with the SQL fragments the sink derives from it once.
type pgView struct {
	View
	catalog []catalogColumn
	colList string // "(a, b, \"C\")"
	match   []int  // columns a retraction matches on
	// ready means the table exists with the view's registered columns (it
	// was loaded by this pipeline), so Apply may change it.
	ready bool
}

// catalogColumn is one element of ripple.views.columns.
type catalogColumn struct {
	Name   string `json:"name"`
	Type   string `json:"type"`
	OID    uint32 `json:"oid"`
	Typmod int32  `json:"typmod"`
	// Key is the column's 1-based position in the view's key; 0 if none.
	Key int `json:"key,omitempty"`
}

type stmtKey struct {
	view  row.TableName
	nulls string // one '1' or '0' per match column
}

// NewPostgres returns a sink for cfg; it connects in Open.
func NewPostgres(cfg PostgresConfig) *Postgres {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Postgres{cfg: cfg, log: log.With("sink", cfg.Name)}
}

var _ Sink = (*Postgres)(nil)

// Name implements Sink.
func (p *Postgres) Name() string { return p.cfg.Name }

// bookkeepingDDL creates the catalog. IF NOT EXISTS is not race-free in
// PostgreSQL (two sessions can both pass the check and one then fails on a
// catalog unique index), so Open retries it.
const bookkeepingDDL = `
CREATE SCHEMA IF NOT EXISTS ripple;
CREATE TABLE IF NOT EXISTS ripple.progress (
	pipeline    text PRIMARY KEY,
	lsn         pg_lsn NOT NULL,
	commit_time timestamptz,
	updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS ripple.views (
	pipeline    text NOT NULL,
	view_schema text NOT NULL,
	view_name   text NOT NULL,
	columns     jsonb NOT NULL,
	definition  text,
	created_at  timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (view_schema, view_name)
);`

// Open implements Sink.
func (p *Postgres) Open(ctx context.Context, pipeline string, views []View) (row.LSN, error) {
	if err := p.cfg.Validate(); err != nil {
		return 0, err
	}
	if pipeline == "" {
		return 0, fmt.Errorf("sink %s: open: pipeline name is empty", p.cfg.Name)
	}
	if err := validateViews(p.cfg.Name, views); err != nil {
		return 0, err
	}
	if p.conn == nil {
		cc, err := pgx.ParseConfig(p.cfg.DSN)
		if err != nil {
			return 0, fmt.Errorf("sink %s: parse DSN: %w", p.cfg.Name, err)
		}
		for k, v := range row.SessionSettings {
			cc.RuntimeParams[k] = v
		}
		conn, err := pgx.ConnectConfig(ctx, cc)
		if err != nil {
			return 0, fmt.Errorf("sink %s: connect: %w", p.cfg.Name, err)
		}
		p.conn = conn
	}
	p.pipeline = pipeline
	p.views = make(map[row.TableName]*pgView, len(views))
	p.order = p.order[:0]
	p.stmts = make(map[stmtKey]string)
	for _, v := range views {
		pv := newPGView(v)
		p.views[v.Name] = pv
		p.order = append(p.order, pv)
	}
	if err := p.ensureBookkeeping(ctx); err != nil {
		return 0, err
	}
	var errs []error
	for _, v := range p.order {
		st, err := p.tableState(ctx, p.conn, v.Name)
		if err != nil {
			return 0, err
		}
		if err := p.checkOwned(v, st); err != nil {
			errs = append(errs, err)
			continue
		}
		v.ready = st.exists && st.pipeline == pipeline && slices.Equal(st.columns, v.catalog)
	}
	if err := errors.Join(errs...); err != nil {
		return 0, err
	}
	lsn, err := p.Progress(ctx)
	if err != nil {
		return 0, err
	}
	p.log.Info("sink opened", "pipeline", pipeline, "views", len(views), "progress", lsn)
	return lsn, nil
}

func newPGView(v View) *pgView {
	pv := &pgView{View: v, match: matchColumns(v)}
	names := make([]string, len(v.Columns))
	for i, c := range v.Columns {
		names[i] = row.QuoteIdent(c.Name)
		pv.catalog = append(pv.catalog, catalogColumn{
			Name: c.Name, Type: c.Type.String(), OID: uint32(c.Type.OID), Typmod: c.Type.Mod,
		})
	}
	for i, k := range v.Key {
		pv.catalog[k].Key = i + 1
	}
	pv.colList = "(" + strings.Join(names, ", ") + ")"
	return pv
}

func (p *Postgres) ensureBookkeeping(ctx context.Context) error {
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		err = pgx.BeginFunc(ctx, p.conn, func(tx pgx.Tx) error {
			_, err := tx.Exec(ctx, bookkeepingDDL)
			return err
		})
		if err == nil || !isCreateRace(err) {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("sink %s: create bookkeeping schema ripple: %w", p.cfg.Name, err)
	}
	return nil
}

// isCreateRace reports the errors a concurrent CREATE ... IF NOT EXISTS of
// the same object raises.
func isCreateRace(err error) bool {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return false
	}
	switch pe.Code {
	case "23505", "42P06", "42P07", "42710": // unique_violation, duplicate_schema/table/object
		return true
	}
	return false
}

// tableState is what the sink database says about a view's table.
type tableState struct {
	exists   bool
	pipeline string // "" when not registered in ripple.views
	columns  []catalogColumn
}

type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

func (p *Postgres) tableState(ctx context.Context, q querier, name row.TableName) (tableState, error) {
	var (
		st      tableState
		pl, col *string
	)
	err := q.QueryRow(ctx, `
SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
               WHERE n.nspname = $1 AND c.relname = $2),
       v.pipeline, v.columns::text
FROM (SELECT 1) AS one
LEFT JOIN ripple.views v ON v.view_schema = $1 AND v.view_name = $2`, name.Schema, name.Name).Scan(&st.exists, &pl, &col)
	if err != nil {
		return st, fmt.Errorf("sink %s: look up table %s: %w", p.cfg.Name, name, err)
	}
	if pl != nil {
		st.pipeline = *pl
	}
	if col != nil {
		if err := json.Unmarshal([]byte(*col), &st.columns); err != nil {
			// A catalog entry we cannot read is treated as "other columns":
			// the table is re-created by Load.
			st.columns = nil
		}
	}
	return st, nil
}

// checkOwned refuses a table that exists and is not ripple's for this
// pipeline: the sink never writes to or drops a table it did not create.
func (p *Postgres) checkOwned(v *pgView, st tableState) error {
	if st.exists && st.pipeline != p.pipeline {
		return fmt.Errorf("sink %s: table %s exists and was not created by ripple pipeline %q; drop or rename it, or choose another view name",
			p.cfg.Name, v.Name, p.pipeline)
	}
	return nil
}

// Progress implements Sink.
func (p *Postgres) Progress(ctx context.Context) (row.LSN, error) {
	if p.conn == nil {
		return 0, fmt.Errorf("sink %s: read progress: sink is not open", p.cfg.Name)
	}
	lsn, _, err := p.readProgress(ctx, p.conn, false)
	return lsn, err
}

// readProgress reads the pipeline's progress LSN, locking the row when
// forUpdate is set; ok is false when there is none.
func (p *Postgres) readProgress(ctx context.Context, q querier, forUpdate bool) (row.LSN, bool, error) {
	sql := `SELECT lsn::text FROM ripple.progress WHERE pipeline = $1`
	if forUpdate {
		sql += ` FOR UPDATE`
	}
	var s string
	err := q.QueryRow(ctx, sql, p.pipeline).Scan(&s)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("sink %s: read progress of pipeline %q: %w", p.cfg.Name, p.pipeline, err)
	}
	lsn, err := row.ParseLSN(s)
	if err != nil {
		return 0, false, fmt.Errorf("sink %s: read progress of pipeline %q: %w", p.cfg.Name, p.pipeline, err)
	}
	return lsn, true, nil
}

func (p *Postgres) writeProgress(ctx context.Context, tx pgx.Tx, lsn row.LSN, commit time.Time) error {
	var ct any
	if !commit.IsZero() {
		ct = commit
	}
	_, err := tx.Exec(ctx, `
INSERT INTO ripple.progress (pipeline, lsn, commit_time, updated_at) VALUES ($1, $2::text::pg_lsn, $3, now())
ON CONFLICT (pipeline) DO UPDATE SET lsn = excluded.lsn, commit_time = excluded.commit_time, updated_at = excluded.updated_at`,
		p.pipeline, lsn.String(), ct)
	if err != nil {
		return fmt.Errorf("sink %s: write progress %s: %w", p.cfg.Name, lsn, err)
	}
	return nil
}

// Load implements Sink.
func (p *Postgres) Load(ctx context.Context, lsn row.LSN, rows map[row.TableName][]row.Update) error {
	if p.conn == nil {
		return fmt.Errorf("sink %s: load: sink is not open", p.cfg.Name)
	}
	// Every row is checked before the tables are emptied or re-created
	// (and locked): a refused Load takes no lock.
	for name, us := range rows {
		v, ok := p.views[name]
		if !ok {
			return fmt.Errorf("sink %s: load: view %s is not one of the sink's views", p.cfg.Name, name)
		}
		if err := checkLoadRows(p.cfg.Name, v.View, us); err != nil {
			return err
		}
	}
	lp, err := p.BeginLoad(ctx, lsn)
	if err != nil {
		return err
	}
	defer lp.Abort()
	lp.(*pgLoad).checked = true
	for _, v := range p.order {
		if err := lp.Write(ctx, v.Name, rows[v.Name]); err != nil {
			return err
		}
	}
	return lp.Commit(ctx)
}

// BeginLoad implements PartsLoader: the load's transaction begins and every
// view's table is emptied (TRUNCATE) or created anew (DROP and CREATE when
// its columns changed) at once; the rows of each Write go in by COPY; Commit
// builds a new table's index after its rows are in, analyzes the tables,
// records them in ripple.views, sets the progress and commits.
func (p *Postgres) BeginLoad(ctx context.Context, lsn row.LSN) (LoadParts, error) {
	if p.conn == nil {
		return nil, fmt.Errorf("sink %s: load: sink is not open", p.cfg.Name)
	}
	// Re-created tables invalidate cached plans; start afresh.
	p.dropStatements(ctx)
	tx, err := p.conn.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("sink %s: load: begin: %w", p.cfg.Name, err)
	}
	lp := &pgLoad{p: p, lsn: lsn, tx: tx, fresh: map[*pgView]bool{}, rows: map[*pgView]int64{}}
	schemas := map[string]bool{}
	for _, v := range p.order {
		if !schemas[v.Name.Schema] {
			schemas[v.Name.Schema] = true
			if _, err := tx.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+row.QuoteIdent(v.Name.Schema)); err != nil {
				lp.Abort()
				return nil, fmt.Errorf("sink %s: load: create schema %s: %w", p.cfg.Name, row.QuoteIdent(v.Name.Schema), err)
			}
		}
		fresh, err := p.emptyView(ctx, tx, v)
		if err != nil {
			lp.Abort()
			return nil, err
		}
		lp.fresh[v] = fresh
	}
	return lp, nil
}

// pgLoad is one open load of a Postgres sink.
type pgLoad struct {
	p       *Postgres
	lsn     row.LSN
	tx      pgx.Tx
	fresh   map[*pgView]bool // tables created by this load, without their index yet
	rows    map[*pgView]int64
	checked bool // Load checked every row before it began
	done    bool
}

// Write copies rows, insertions only, into view's table. After an error
// the load is over: it is rolled back at once, and a later Commit fails.
func (lp *pgLoad) Write(ctx context.Context, view row.TableName, rows []row.Update) error {
	err := lp.write(ctx, view, rows)
	if err != nil {
		lp.Abort()
	}
	return err
}

func (lp *pgLoad) write(ctx context.Context, view row.TableName, rows []row.Update) error {
	p := lp.p
	if lp.done {
		return fmt.Errorf("sink %s: load at %s: write after the end of the load", p.cfg.Name, lp.lsn)
	}
	v, ok := p.views[view]
	if !ok {
		return fmt.Errorf("sink %s: load: view %s is not one of the sink's views", p.cfg.Name, view)
	}
	if !lp.checked {
		if err := checkLoadRows(p.cfg.Name, v.View, rows); err != nil {
			return err
		}
	}
	n, err := p.copyRows(ctx, v, rows)
	if err != nil {
		return fmt.Errorf("sink %s: load view %s: %w", p.cfg.Name, v.Name, err)
	}
	lp.rows[v] += n
	return nil
}

func (lp *pgLoad) Commit(ctx context.Context) error {
	p := lp.p
	if lp.done {
		return fmt.Errorf("sink %s: load at %s: commit after the end of the load", p.cfg.Name, lp.lsn)
	}
	fail := func(err error) error {
		lp.Abort()
		return err
	}
	for _, v := range p.order {
		if err := p.finishView(ctx, lp.tx, v, lp.fresh[v]); err != nil {
			return fail(err)
		}
		p.log.Debug("view loaded", "view", v.Name.String(), "rows", lp.rows[v])
	}
	if err := p.writeProgress(ctx, lp.tx, lp.lsn, time.Time{}); err != nil {
		return fail(fmt.Errorf("load: %w", err))
	}
	if err := lp.tx.Commit(ctx); err != nil {
		return fail(fmt.Errorf("sink %s: load at %s: commit: %w", p.cfg.Name, lp.lsn, err))
	}
	lp.done = true
	for _, v := range p.order {
		v.ready = true
	}
	p.log.Info("sink loaded", "views", len(p.order), "lsn", lp.lsn)
	return nil
}

func (lp *pgLoad) Abort() {
	if lp.done {
		return
	}
	lp.done = true
	rollback(lp.tx)
}

// emptyView empties one view's table inside tx, or creates it (without its
// index) when it is missing or its columns changed, which it reports.
func (p *Postgres) emptyView(ctx context.Context, tx pgx.Tx, v *pgView) (fresh bool, err error) {
	st, err := p.tableState(ctx, tx, v.Name)
	if err != nil {
		return false, err
	}
	// Re-checked here: a table may have appeared since Open, and Load must
	// never drop a table ripple did not create.
	if err := p.checkOwned(v, st); err != nil {
		return false, err
	}
	fail := func(what string, err error) (bool, error) {
		return false, fmt.Errorf("sink %s: load view %s: %s: %w", p.cfg.Name, v.Name, what, err)
	}
	if st.exists && slices.Equal(st.columns, v.catalog) {
		// TRUNCATE holds an ACCESS EXCLUSIVE lock until commit: readers wait
		// and then see the new contents, never an empty table.
		if _, err := tx.Exec(ctx, "TRUNCATE "+v.Name.String()); err != nil {
			return fail("truncate", err)
		}
		return false, nil
	}
	if _, err := tx.Exec(ctx, "DROP TABLE IF EXISTS "+v.Name.String()); err != nil {
		return fail("drop old table", err)
	}
	if _, err := tx.Exec(ctx, createTableSQL(v)); err != nil {
		return fail("create table", err)
	}
	return true, nil
}

// finishView ends one view's load inside tx, once its rows are in: a new
// table's index, fresh statistics, and its entry in ripple.views.
func (p *Postgres) finishView(ctx context.Context, tx pgx.Tx, v *pgView, fresh bool) error {
	fail := func(what string, err error) error {
		return fmt.Errorf("sink %s: load view %s: %s: %w", p.cfg.Name, v.Name, what, err)
	}
	if fresh {
		// A new table's index is built after its rows are in: one sort
		// instead of an index insertion per row (benchmark scenario d).
		if len(v.Key) > 0 {
			if _, err := tx.Exec(ctx, createIndexSQL(v)); err != nil {
				return fail("create key index", err)
			}
		} else if sql := lookupIndexSQL(v); sql != "" {
			if _, err := tx.Exec(ctx, sql); err != nil {
				return fail("create lookup index", err)
			}
		}
	}
	// Fresh statistics so the retraction DELETEs use the key index.
	if _, err := tx.Exec(ctx, "ANALYZE "+v.Name.String()); err != nil {
		return fail("analyze", err)
	}
	cols, err := json.Marshal(v.catalog)
	if err != nil {
		return fail("encode catalog columns", err)
	}
	_, err = tx.Exec(ctx, `
INSERT INTO ripple.views (pipeline, view_schema, view_name, columns, definition, created_at)
VALUES ($1, $2, $3, $4::text::jsonb, $5, now())
ON CONFLICT (view_schema, view_name) DO UPDATE
SET pipeline = excluded.pipeline, columns = excluded.columns, definition = excluded.definition,
    created_at = CASE WHEN ripple.views.columns = excluded.columns THEN ripple.views.created_at ELSE now() END`,
		p.pipeline, v.Name.Schema, v.Name.Name, string(cols), v.Definition)
	if err != nil {
		return fail("register in ripple.views", err)
	}
	return nil
}

func createTableSQL(v *pgView) string {
	var b strings.Builder
	b.WriteString("CREATE TABLE ")
	b.WriteString(v.Name.String())
	b.WriteString(" (")
	for i, c := range v.Columns {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(row.QuoteIdent(c.Name))
		b.WriteByte(' ')
		b.WriteString(pgColumnType(c.Type))
	}
	b.WriteByte(')')
	return b.String()
}

// createIndexSQL builds a plain (not unique) btree index on the key: the
// key is unique as the view's result, but NULLs may repeat in it. json has
// no btree operator class, so json key columns are indexed by their text,
// the same expression retractions compare.
func createIndexSQL(v *pgView) string {
	parts := make([]string, len(v.Key))
	for i, k := range v.Key {
		parts[i] = matchExpr(v.Columns[k])
	}
	return "CREATE INDEX ON " + v.Name.String() + " (" + strings.Join(parts, ", ") + ")"
}

// lookupIndexSQL builds, for a view without a known key, a hash index on
// its first column of a hashable, usually selective type, so that a
// retraction finds its rows without scanning the table (a sequential scan
// per retracted row made keyless views quadratic; benchmark scenario c).
// A hash index stores only the hash, so values of any length fit, unlike
// a btree entry. "" when no column qualifies.
func lookupIndexSQL(v *pgView) string {
	for _, c := range v.Columns {
		switch c.Type.OID {
		case row.OIDInt2, row.OIDInt4, row.OIDInt8, row.OIDText, row.OIDVarchar, row.OIDBpchar, row.OIDNumeric,
			row.OIDDate, row.OIDTimestamp, row.OIDTimestampTZ, row.OIDUUID, row.OIDFloat8, row.OIDJSON, row.OIDJSONB, row.OIDBytea:
			return "CREATE INDEX ON " + v.Name.String() + " USING hash (" + matchExpr(c) + ")"
		}
	}
	return ""
}

// matchExpr is how a column is compared in a retraction. json has no
// equality operator; its text is kept as written, so text equality is
// value identity.
func matchExpr(c row.Column) string {
	if c.Type.OID == row.OIDJSON {
		return "((" + row.QuoteIdent(c.Name) + ")::text)"
	}
	return row.QuoteIdent(c.Name)
}

// paramOID is the OID a retraction parameter is sent with.
func paramOID(c row.Column) uint32 {
	switch c.Type.OID {
	case row.OIDJSON, row.OIDUnknown:
		return uint32(row.OIDText)
	}
	if c.Type.Kind() == row.KindEnum {
		return uint32(row.OIDText)
	}
	return uint32(c.Type.OID)
}

// copyRows writes us (each row W times) into v's table with COPY.
func (p *Postgres) copyRows(ctx context.Context, v *pgView, us []row.Update) (int64, error) {
	if len(us) == 0 {
		return 0, nil
	}
	tag, err := p.conn.PgConn().CopyFrom(ctx, newCopyReader(us), "COPY "+v.Name.String()+" "+v.colList+" FROM STDIN")
	if err != nil {
		return 0, fmt.Errorf("copy rows: %w", err)
	}
	return tag.RowsAffected(), nil
}

// retractParams are the parameters of r's DELETE (see deleteStmt): the
// non-NULL match columns as text, then the number of rows to delete.
func retractParams(v *pgView, r row.Row, n row.Weight) [][]byte {
	params := make([][]byte, 0, len(v.match)+1)
	for _, c := range v.match {
		if !r[c].IsNull() {
			params = append(params, []byte(row.FormatText(r[c])))
		}
	}
	return append(params, []byte(strconv.FormatInt(int64(n), 10)))
}

// insertChunks are the row counts of the prepared multi-row INSERTs an
// insertion is cut into (largest first, so at most one of each below 64):
// at most seven statements per view, each parsed and planned once per
// connection, where an INSERT of exactly n rows would be a new statement
// for every n. Parsing and planning a 100-row INSERT anew for every step
// cost more than twice as much as running the prepared ones.
var insertChunks = []int{64, 32, 16, 8, 4, 2, 1}

// insertStmt returns the prepared INSERT of n rows into v. Parameters are
// untyped text, so PostgreSQL reads each as the target column's type, as
// COPY would.
func (p *Postgres) insertStmt(ctx context.Context, v *pgView, n int) (string, error) {
	key := stmtKey{view: v.Name, nulls: "i" + strconv.Itoa(n)}
	if name, ok := p.stmts[key]; ok {
		return name, nil
	}
	var b strings.Builder
	b.WriteString("INSERT INTO ")
	b.WriteString(v.Name.String())
	b.WriteByte(' ')
	b.WriteString(v.colList)
	b.WriteString(" VALUES ")
	param := 0
	for r := 0; r < n; r++ {
		if r > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('(')
		for i := range v.Columns {
			if i > 0 {
				b.WriteString(", ")
			}
			param++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(param))
		}
		b.WriteByte(')')
	}
	sql := b.String()
	p.nextStmt++
	name := "ripple_sink_insert_" + strconv.Itoa(p.nextStmt)
	if _, err := p.conn.PgConn().Prepare(ctx, name, sql, nil); err != nil {
		return "", fmt.Errorf("prepare %q: %w", sql, err)
	}
	p.stmts[key] = name
	return name, nil
}

// insertParams are the parameters of an INSERT of rows (see insertStmt).
func insertParams(rows []row.Row) [][]byte {
	var params [][]byte
	for _, r := range rows {
		for _, d := range r {
			if d.IsNull() {
				params = append(params, nil)
			} else {
				params = append(params, []byte(row.FormatText(d)))
			}
		}
	}
	return params
}

// deleteStmt returns the prepared DELETE for v and r's NULL pattern,
// checked (see checked) to delete as many rows as asked. The
// predicate says "c IS NULL" for NULLs so that it is NULL-aware and still
// uses the key index, which "c IS NOT DISTINCT FROM $1" would not.
func (p *Postgres) deleteStmt(ctx context.Context, v *pgView, r row.Row) (string, error) {
	pattern := make([]byte, len(v.match))
	for i, c := range v.match {
		pattern[i] = '0'
		if r[c].IsNull() {
			pattern[i] = '1'
		}
	}
	key := stmtKey{view: v.Name, nulls: string(pattern)}
	if name, ok := p.stmts[key]; ok {
		return name, nil
	}
	var (
		conds []string
		oids  []uint32
	)
	for _, c := range v.match {
		col := v.Columns[c]
		if r[c].IsNull() {
			conds = append(conds, row.QuoteIdent(col.Name)+" IS NULL")
			continue
		}
		oids = append(oids, paramOID(col))
		conds = append(conds, fmt.Sprintf("%s = $%d", matchExpr(col), len(oids)))
	}
	oids = append(oids, uint32(row.OIDInt8))
	sql := checked(fmt.Sprintf("DELETE FROM %[1]s WHERE ctid = ANY (ARRAY(SELECT ctid FROM %[1]s WHERE %[2]s LIMIT $%[3]d))",
		v.Name, strings.Join(conds, " AND "), len(oids)), "$"+strconv.Itoa(len(oids)))
	p.nextStmt++
	name := "ripple_sink_delete_" + strconv.Itoa(p.nextStmt)
	if _, err := p.conn.PgConn().Prepare(ctx, name, sql, oids); err != nil {
		return "", fmt.Errorf("prepare %q: %w", sql, err)
	}
	p.stmts[key] = name
	return name, nil
}

// dropStatements deallocates the cached DELETE statements. Failures are
// only logged: a leftover statement costs memory, not correctness.
func (p *Postgres) dropStatements(ctx context.Context) {
	for k, name := range p.stmts {
		if err := p.conn.PgConn().Deallocate(ctx, name); err != nil {
			p.log.Warn("deallocate statement", "statement", name, "err", err)
		}
		delete(p.stmts, k)
	}
}

// rollback ends tx if it is still open. It runs after the caller's context
// may have been cancelled, so it uses its own short deadline.
func rollback(tx pgx.Tx) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = tx.Rollback(ctx)
}

// Dump implements Dumper with COPY ... TO STDOUT of the view's table.
func (p *Postgres) Dump(ctx context.Context, view row.TableName, w io.Writer) error {
	v, ok := p.views[view]
	if !ok {
		return fmt.Errorf("sink %s: dump: view %s is not in this sink", p.cfg.Name, view)
	}
	cols := make([]string, len(v.Columns))
	for i, c := range v.Columns {
		cols[i] = row.QuoteIdent(c.Name)
	}
	sql := fmt.Sprintf("COPY (SELECT %s FROM %s) TO STDOUT", strings.Join(cols, ", "), view)
	if _, err := p.conn.PgConn().CopyTo(ctx, w, sql); err != nil {
		return fmt.Errorf("sink %s: dump view %s: %w", p.cfg.Name, view, err)
	}
	return nil
}

// Close implements Sink.
func (p *Postgres) Close() error {
	if p.conn == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := p.conn.Close(ctx)
	p.conn = nil
	p.progressReady = false
	if err != nil {
		return fmt.Errorf("sink %s: close: %w", p.cfg.Name, err)
	}
	return nil
}
