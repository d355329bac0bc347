package sink

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/rippledb/ripple/internal/row"
)

// MySQLConfig configures a MySQL or MariaDB sink.
type MySQLConfig struct {
	// Name is the sink's name from the configuration; it prefixes errors.
	Name string
	// DSN is a go-sql-driver/mysql DSN, e.g. "root@tcp(127.0.0.1:3306)/".
	// Its database, if any, is only where the connection starts: a view
	// s.v is kept in table v of database s.
	DSN string
	// Logger receives the sink's logs; nil discards them.
	Logger *slog.Logger
	// BatchRows is the number of rows per multi-row INSERT; 0 means 500.
	// It is lowered where a statement would pass MySQL's 65,535
	// placeholders.
	BatchRows int
}

// DefaultMySQLBatchRows is BatchRows when it is 0.
const DefaultMySQLBatchRows = 500

// EnsureDefaults fills in zero fields with their defaults.
func (c *MySQLConfig) EnsureDefaults() {
	if c.BatchRows == 0 {
		c.BatchRows = DefaultMySQLBatchRows
	}
}

// Validate reports every problem with c at once.
func (c MySQLConfig) Validate() error {
	var errs []error
	if c.Name == "" {
		errs = append(errs, errors.New("sink: mysql sink needs a name"))
	}
	if c.DSN == "" {
		errs = append(errs, fmt.Errorf("sink %s: mysql sink needs a DSN", c.Name))
	} else if _, err := mysql.ParseDSN(c.DSN); err != nil {
		errs = append(errs, fmt.Errorf("sink %s: parse DSN: %w", c.Name, err))
	}
	if c.BatchRows < 0 {
		errs = append(errs, fmt.Errorf("sink %s: batch rows must not be negative, got %d", c.Name, c.BatchRows))
	}
	return errors.Join(errs...)
}

// MySQL is a sink that keeps each view s.v as table `s`.`v` (database s,
// created when missing) in a MySQL 8.0.23+ or MariaDB 10.3+ server, with
// the bookkeeping tables ripple.progress and ripple.views. Values are
// mapped to MySQL types as sink/mysql_types.md describes; a value MySQL
// cannot hold exactly fails the step with ErrUnstorable.
//
// DDL commits implicitly in MySQL, so Load creates and re-creates tables
// before its data transaction, and only when a table is new or its shape
// changed; the data and the progress are then one transaction.
//
// It holds one connection with the session pinned to UTC and strict SQL
// mode. Like every Sink it is used from one goroutine.
type MySQL struct {
	cfg MySQLConfig
	log *slog.Logger

	db       *sql.DB
	conn     *sql.Conn // nil until Open
	flavor   mysqlFlavor
	maxBytes int // parameter bytes per INSERT before it is sent

	pipeline string
	views    map[row.TableName]*myView
	order    []*myView

	// stmts caches prepared statements on conn by their SQL.
	stmts map[string]*sql.Stmt
}

// myView is a view with what the sink derives from it once.
type myView struct {
	View
	cols    []myColumn
	catalog []myCatalogColumn
	table   string // `s`.`v`
	insert  string // "INSERT INTO `s`.`v` (`a`, ...) VALUES "
	tuple   string // "(?, ?, ...)"
	nparams int    // parameters per row
	match   []int
	ready   bool
}

// myCatalogColumn is one element of ripple.views.columns: the view column
// and the MySQL type it was created with, so that a change of either
// re-creates the table.
type myCatalogColumn struct {
	catalogColumn
	SinkType string `json:"sink_type"`
}

// NewMySQL returns a sink for cfg; it connects in Open.
func NewMySQL(cfg MySQLConfig) *MySQL {
	cfg.EnsureDefaults()
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &MySQL{cfg: cfg, log: log.With("sink", cfg.Name)}
}

var (
	_ Sink      = (*MySQL)(nil)
	_ Dumper    = (*MySQL)(nil)
	_ Forgetter = (*MySQL)(nil)
)

// Name implements Sink.
func (m *MySQL) Name() string { return m.cfg.Name }

// mysqlSession is what every connection pins: UTC for DATETIME values
// written from timestamptz, and strict mode so that a value that does not
// fit is an error, never a silent truncation.
var mysqlSession = map[string]string{
	"time_zone": "'+00:00'",
	"sql_mode":  "'STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION,ERROR_FOR_DIVISION_BY_ZERO,NO_ZERO_DATE,NO_ZERO_IN_DATE'",
}

// connector builds the driver configuration from the DSN with the session
// settings pinned and server-side prepared statements (binary protocol:
// floats and decimals travel exactly, never through literal text).
func (m *MySQL) connector() (*sql.DB, error) {
	dc, err := mysql.ParseDSN(m.cfg.DSN)
	if err != nil {
		return nil, fmt.Errorf("sink %s: parse DSN: %w", m.cfg.Name, err)
	}
	if dc.Params == nil {
		dc.Params = map[string]string{}
	}
	for k, v := range mysqlSession {
		dc.Params[k] = v
	}
	dc.InterpolateParams = false
	dc.ParseTime = false
	dc.MultiStatements = false
	dc.ClientFoundRows = false // RowsAffected counts deleted rows
	dc.MaxAllowedPacket = 0    // ask the server
	dc.Loc = time.UTC
	conn, err := mysql.NewConnector(dc)
	if err != nil {
		return nil, fmt.Errorf("sink %s: DSN: %w", m.cfg.Name, err)
	}
	return sql.OpenDB(conn), nil
}

// Open implements Sink.
func (m *MySQL) Open(ctx context.Context, pipeline string, views []View) (row.LSN, error) {
	if err := m.cfg.Validate(); err != nil {
		return 0, err
	}
	if pipeline == "" {
		return 0, fmt.Errorf("sink %s: open: pipeline name is empty", m.cfg.Name)
	}
	if err := validateViews(m.cfg.Name, views); err != nil {
		return 0, err
	}
	if err := validateMySQLViews(m.cfg.Name, views); err != nil {
		return 0, err
	}
	if m.conn == nil {
		if err := m.connect(ctx); err != nil {
			return 0, err
		}
	}
	m.closeStatements()
	m.pipeline = pipeline
	m.views = make(map[row.TableName]*myView, len(views))
	m.order = m.order[:0]
	for _, v := range views {
		mv := newMyView(v, m.flavor)
		m.views[v.Name] = mv
		m.order = append(m.order, mv)
	}
	if err := m.ensureBookkeeping(ctx); err != nil {
		return 0, err
	}
	var errs []error
	for _, v := range m.order {
		st, err := m.tableState(ctx, v.Name)
		if err != nil {
			return 0, err
		}
		if err := m.checkOwned(v, st); err != nil {
			errs = append(errs, err)
			continue
		}
		v.ready = st.exists && st.loaded && st.pipeline == pipeline && slices.Equal(st.columns, v.catalog)
	}
	if err := errors.Join(errs...); err != nil {
		return 0, err
	}
	lsn, err := m.Progress(ctx)
	if err != nil {
		return 0, err
	}
	m.log.Info("sink opened", "pipeline", pipeline, "views", len(views), "progress", lsn)
	return lsn, nil
}

func (m *MySQL) connect(ctx context.Context) error {
	db, err := m.connector()
	if err != nil {
		return err
	}
	conn, err := db.Conn(ctx)
	if err == nil {
		if err = conn.PingContext(ctx); err != nil {
			conn.Close()
		}
	}
	if err != nil {
		db.Close()
		return fmt.Errorf("sink %s: connect: %w", m.cfg.Name, err)
	}
	var version string
	var maxPacket int64
	if err := conn.QueryRowContext(ctx, `SELECT VERSION(), @@max_allowed_packet`).Scan(&version, &maxPacket); err != nil {
		conn.Close()
		db.Close()
		return fmt.Errorf("sink %s: read server version: %w", m.cfg.Name, err)
	}
	m.flavor = flavorMySQL
	if strings.Contains(strings.ToLower(version), "mariadb") {
		m.flavor = flavorMariaDB
	}
	m.maxBytes = int(min(maxPacket/4, 8<<20))
	m.db, m.conn = db, conn
	m.log.Debug("connected", "version", version, "max_allowed_packet", maxPacket)
	return nil
}

// validateMySQLViews reports names MySQL cannot hold.
func validateMySQLViews(sinkName string, views []View) error {
	var errs []error
	for _, v := range views {
		for _, n := range []string{v.Name.Schema, v.Name.Name} {
			if len([]rune(n)) > mysqlMaxIdent {
				errs = append(errs, fmt.Errorf("sink %s: view %s: name %q is longer than MySQL's %d characters", sinkName, v.Name, n, mysqlMaxIdent))
			}
			if strings.HasSuffix(n, " ") {
				errs = append(errs, fmt.Errorf("sink %s: view %s: MySQL names cannot end with a space: %q", sinkName, v.Name, n))
			}
		}
		if v.Name.Schema == "ripple" {
			errs = append(errs, fmt.Errorf("sink %s: view %s: database ripple holds the sink's bookkeeping; choose another schema", sinkName, v.Name))
		}
		for _, c := range v.Columns {
			if len([]rune(c.Name)) > mysqlMaxIdent {
				errs = append(errs, fmt.Errorf("sink %s: view %s: column name %q is longer than MySQL's %d characters", sinkName, v.Name, c.Name, mysqlMaxIdent))
			}
			if strings.HasPrefix(c.Name, "_ripple_scale_") {
				errs = append(errs, fmt.Errorf("sink %s: view %s: column name %s is reserved for the sink's hidden columns", sinkName, v.Name, row.QuoteIdent(c.Name)))
			}
		}
	}
	return errors.Join(errs...)
}

func newMyView(v View, fl mysqlFlavor) *myView {
	mv := &myView{View: v, table: mysqlTable(v.Name), match: matchColumns(v)}
	var names, marks []string
	for i, c := range v.Columns {
		mc := mapColumn(c, i, fl)
		mv.cols = append(mv.cols, mc)
		mv.catalog = append(mv.catalog, myCatalogColumn{
			catalogColumn: catalogColumn{Name: c.Name, Type: c.Type.String(), OID: uint32(c.Type.OID), Typmod: c.Type.Mod},
			SinkType:      mc.ddl,
		})
		names = append(names, quoteMySQL(c.Name))
		marks = append(marks, "?")
		if mc.scaleCol != "" {
			names = append(names, quoteMySQL(mc.scaleCol))
			marks = append(marks, "?")
		}
	}
	for i, k := range v.Key {
		mv.catalog[k].Key = i + 1
	}
	mv.nparams = len(marks)
	mv.insert = "INSERT INTO " + mv.table + " (" + strings.Join(names, ", ") + ") VALUES "
	mv.tuple = "(" + strings.Join(marks, ", ") + ")"
	return mv
}

// createTableSQL builds the view's table with its key index (not unique:
// NULLs may repeat in a key, and text keys are indexed by a prefix).
func (v *myView) createTableSQL() string {
	var b strings.Builder
	b.WriteString("CREATE TABLE " + v.table + " (")
	for i, c := range v.cols {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(quoteMySQL(c.Name) + " " + c.ddl)
		if c.scaleCol != "" {
			b.WriteString(", " + quoteMySQL(c.scaleCol) + " SMALLINT UNSIGNED INVISIBLE")
		}
	}
	if len(v.Key) > 0 {
		if parts := indexParts(v.cols, v.Key); len(parts) > 0 {
			b.WriteString(", INDEX `ripple_key` (" + strings.Join(parts, ", ") + ")")
		}
	}
	b.WriteString(") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4")
	return b.String()
}

// bookkeepingMySQL creates the catalog. Every statement is idempotent and
// commits on its own; Open retries a concurrent creation.
var bookkeepingMySQL = []string{
	"CREATE DATABASE IF NOT EXISTS ripple CHARACTER SET utf8mb4 COLLATE utf8mb4_bin",
	`CREATE TABLE IF NOT EXISTS ripple.progress (
	pipeline    VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL PRIMARY KEY,
	lsn         VARCHAR(32) NOT NULL,
	lsn_num     BIGINT UNSIGNED NOT NULL,
	commit_time DATETIME(6) NULL,
	updated_at  DATETIME(6) NOT NULL
) ENGINE=InnoDB`,
	`CREATE TABLE IF NOT EXISTS ripple.views (
	pipeline    VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
	view_schema VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
	view_name   VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
	columns     LONGTEXT NOT NULL,
	definition  LONGTEXT,
	loaded      BOOLEAN NOT NULL DEFAULT FALSE,
	created_at  DATETIME(6) NOT NULL,
	PRIMARY KEY (view_schema, view_name)
) ENGINE=InnoDB`,
}

func (m *MySQL) ensureBookkeeping(ctx context.Context) error {
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		err = nil
		for _, q := range bookkeepingMySQL {
			if _, err = m.conn.ExecContext(ctx, q); err != nil {
				break
			}
		}
		if err == nil || !isMySQLRetryable(err) {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("sink %s: create bookkeeping database ripple: %w", m.cfg.Name, err)
	}
	return nil
}

// MySQL error numbers the sink reacts to.
const (
	erDBCreateExists  = 1007
	erTableExists     = 1050
	erLockWaitTimeout = 1205
	erLockDeadlock    = 1213
)

// isMySQLRetryable reports the errors of a concurrent CREATE ... IF NOT
// EXISTS of the same object, or of lock conflicts between two of them.
func isMySQLRetryable(err error) bool {
	var me *mysql.MySQLError
	if !errors.As(err, &me) {
		return false
	}
	switch me.Number {
	case erDBCreateExists, erTableExists, erLockDeadlock, erLockWaitTimeout:
		return true
	}
	return false
}

// myTableState is what the sink database says about a view's table.
type myTableState struct {
	exists   bool
	pipeline string // "" when not registered in ripple.views
	columns  []myCatalogColumn
	loaded   bool
}

func (m *MySQL) tableState(ctx context.Context, name row.TableName) (myTableState, error) {
	var st myTableState
	// information_schema compares names case-insensitively; compare in Go.
	rows, err := m.conn.QueryContext(ctx, `SELECT table_schema, table_name FROM information_schema.tables WHERE table_schema = ? AND table_name = ?`,
		name.Schema, name.Name)
	if err != nil {
		return st, fmt.Errorf("sink %s: look up table %s: %w", m.cfg.Name, name, err)
	}
	for rows.Next() {
		var s, n string
		if err := rows.Scan(&s, &n); err != nil {
			rows.Close()
			return st, fmt.Errorf("sink %s: look up table %s: %w", m.cfg.Name, name, err)
		}
		st.exists = st.exists || (s == name.Schema && n == name.Name)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return st, fmt.Errorf("sink %s: look up table %s: %w", m.cfg.Name, name, err)
	}
	var cols string
	err = m.conn.QueryRowContext(ctx, `SELECT pipeline, columns, loaded FROM ripple.views WHERE view_schema = ? AND view_name = ?`,
		name.Schema, name.Name).Scan(&st.pipeline, &cols, &st.loaded)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return st, nil
	case err != nil:
		return st, fmt.Errorf("sink %s: look up table %s in ripple.views: %w", m.cfg.Name, name, err)
	}
	if err := json.Unmarshal([]byte(cols), &st.columns); err != nil {
		// Unreadable: treated as "other columns", so Load re-creates it.
		st.columns = nil
	}
	return st, nil
}

// checkOwned refuses a table that exists and is not ripple's for this
// pipeline: the sink never writes to or drops a table it did not create.
func (m *MySQL) checkOwned(v *myView, st myTableState) error {
	if st.exists && st.pipeline != m.pipeline {
		return fmt.Errorf("sink %s: table %s exists and was not created by ripple pipeline %q; drop or rename it, or choose another view name",
			m.cfg.Name, v.Name, m.pipeline)
	}
	return nil
}

// Progress implements Sink.
func (m *MySQL) Progress(ctx context.Context) (row.LSN, error) {
	if m.conn == nil {
		return 0, fmt.Errorf("sink %s: read progress: sink is not open", m.cfg.Name)
	}
	lsn, _, err := m.readProgress(ctx, false)
	return lsn, err
}

// readProgress reads the pipeline's progress LSN, locking the row when
// forUpdate is set; ok is false when there is none.
func (m *MySQL) readProgress(ctx context.Context, forUpdate bool) (row.LSN, bool, error) {
	q := `SELECT lsn_num FROM ripple.progress WHERE pipeline = ?`
	if forUpdate {
		q += ` FOR UPDATE`
	}
	var n uint64
	err := m.conn.QueryRowContext(ctx, q, m.pipeline).Scan(&n)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("sink %s: read progress of pipeline %q: %w", m.cfg.Name, m.pipeline, err)
	}
	return row.LSN(n), true, nil
}

func (m *MySQL) writeProgress(ctx context.Context, lsn row.LSN, commit time.Time) error {
	var ct any
	if !commit.IsZero() {
		ct = commit.UTC()
	}
	_, err := m.conn.ExecContext(ctx, `
INSERT INTO ripple.progress (pipeline, lsn, lsn_num, commit_time, updated_at) VALUES (?, ?, ?, ?, UTC_TIMESTAMP(6))
ON DUPLICATE KEY UPDATE lsn = VALUES(lsn), lsn_num = VALUES(lsn_num), commit_time = VALUES(commit_time), updated_at = VALUES(updated_at)`,
		m.pipeline, lsn.String(), uint64(lsn), ct)
	if err != nil {
		return fmt.Errorf("sink %s: write progress %s: %w", m.cfg.Name, lsn, err)
	}
	return nil
}

// begin starts a transaction on the pinned connection. database/sql's Tx
// would re-prepare the cached statements on every transaction, so the
// transaction is driven by statements; the connection is never shared.
func (m *MySQL) begin(ctx context.Context) error {
	_, err := m.conn.ExecContext(ctx, "START TRANSACTION")
	return err
}

func (m *MySQL) commit(ctx context.Context) error {
	_, err := m.conn.ExecContext(ctx, "COMMIT")
	return err
}

// rollback ends the transaction if one is open. It runs after the
// caller's context may have been cancelled, so it has its own deadline; a
// failure means the connection is gone, and the server rolls back then.
func (m *MySQL) rollback() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := m.conn.ExecContext(ctx, "ROLLBACK"); err != nil {
		m.log.Warn("rollback", "err", err)
	}
}

// checkRows checks every row of us for view v: width, and that each value
// can be stored exactly. It runs before anything is written; what says
// what was being done ("load", "apply step 0/6") for the error.
func (m *MySQL) checkRows(what string, v *myView, us []row.Update) error {
	if err := checkDelta(m.cfg.Name, v.View, Delta{View: v.Name, Rows: us}); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	args := make([]any, 0, v.nparams)
	for _, u := range us {
		for i := range v.cols {
			var why string
			if args, why = v.cols[i].appendParams(args[:0], u.Row[i]); why != "" {
				return fmt.Errorf("sink %s: %s: %w", m.cfg.Name, what, &unstorableError{
					view: v.Name, column: v.cols[i].Name, value: row.FormatText(u.Row[i]), reason: why,
				})
			}
		}
	}
	return nil
}

// rowParams appends the parameters of r; checkRows has vetted it.
func (v *myView) rowParams(args []any, r row.Row) []any {
	for i := range v.cols {
		args, _ = v.cols[i].appendParams(args, r[i])
	}
	return args
}

// Load implements Sink.
func (m *MySQL) Load(ctx context.Context, lsn row.LSN, rows map[row.TableName][]row.Update) error {
	if m.conn == nil {
		return fmt.Errorf("sink %s: load: sink is not open", m.cfg.Name)
	}
	for name, us := range rows {
		v, ok := m.views[name]
		if !ok {
			return fmt.Errorf("sink %s: load: view %s is not one of the sink's views", m.cfg.Name, name)
		}
		if err := checkLoadRows(m.cfg.Name, v.View, us); err != nil {
			return err
		}
		if err := m.checkRows("load", v, us); err != nil {
			return err
		}
	}
	// Every row is checked before any DDL, which cannot be rolled back: a
	// refused Load leaves nothing behind.
	lp, err := m.BeginLoad(ctx, lsn)
	if err != nil {
		return err
	}
	defer lp.Abort()
	lp.(*myLoad).checked = true
	for _, v := range m.order {
		if err := lp.Write(ctx, v.Name, rows[v.Name]); err != nil {
			return err
		}
	}
	return lp.Commit(ctx)
}

// prepareTable makes v's table exist with v's shape. A table that has it
// already is left alone (its rows are replaced in the data transaction);
// otherwise it is registered as not loaded, then (re-)created, so that a
// crash in between leaves a table that is ripple's and needs a Load.
func (m *MySQL) prepareTable(ctx context.Context, v *myView, st myTableState) error {
	if st.exists && slices.Equal(st.columns, v.catalog) {
		return nil
	}
	fail := func(what string, err error) error {
		return fmt.Errorf("sink %s: load view %s: %s: %w", m.cfg.Name, v.Name, what, err)
	}
	v.ready = false
	m.closeStatements() // they may name the old table
	if _, err := m.conn.ExecContext(ctx, "CREATE DATABASE IF NOT EXISTS "+quoteMySQL(v.Name.Schema)+" CHARACTER SET utf8mb4"); err != nil {
		return fail("create database "+quoteMySQL(v.Name.Schema), err)
	}
	if err := m.register(ctx, v, false); err != nil {
		return fail("register in ripple.views", err)
	}
	if st.exists {
		if _, err := m.conn.ExecContext(ctx, "DROP TABLE "+v.table); err != nil {
			return fail("drop old table", err)
		}
	}
	if _, err := m.conn.ExecContext(ctx, v.createTableSQL()); err != nil {
		return fail("create table", err)
	}
	m.log.Info("view table created", "view", v.Name.String(), "recreated", st.exists)
	return nil
}

// register records v in ripple.views as the pipeline's, loaded or not.
func (m *MySQL) register(ctx context.Context, v *myView, loaded bool) error {
	cols, err := json.Marshal(v.catalog)
	if err != nil {
		return err
	}
	_, err = m.conn.ExecContext(ctx, `
INSERT INTO ripple.views (pipeline, view_schema, view_name, columns, definition, loaded, created_at)
VALUES (?, ?, ?, ?, ?, ?, UTC_TIMESTAMP(6))
ON DUPLICATE KEY UPDATE pipeline = VALUES(pipeline), definition = VALUES(definition), loaded = VALUES(loaded),
	created_at = IF(columns = VALUES(columns), created_at, VALUES(created_at)), columns = VALUES(columns)`,
		m.pipeline, v.Name.Schema, v.Name.Name, string(cols), v.Definition, loaded)
	return err
}

// batchRows is the number of rows per INSERT statement for v.
func (m *MySQL) batchRows(v *myView) int {
	return max(1, min(m.cfg.BatchRows, 65535/max(v.nparams, 1)))
}

// insertRows inserts us (each row W times, W > 0 only) with multi-row
// INSERTs of at most batchRows rows or about maxBytes of parameters.
func (m *MySQL) insertRows(ctx context.Context, v *myView, us []row.Update) (int64, error) {
	per := m.batchRows(v)
	args := make([]any, 0, min(per, 64)*v.nparams)
	var total int64
	n, size := 0, 0
	flush := func() error {
		if n == 0 {
			return nil
		}
		q := v.insert + strings.Repeat(v.tuple+", ", n-1) + v.tuple
		var err error
		if n == per {
			err = m.execCached(ctx, q, args...)
		} else {
			_, err = m.conn.ExecContext(ctx, q, args...)
		}
		if err != nil {
			return err
		}
		total += int64(n)
		args, n, size = args[:0], 0, 0
		return nil
	}
	var one []any
	for _, u := range us {
		if u.W <= 0 {
			continue
		}
		one = v.rowParams(one[:0], u.Row)
		for range u.W {
			args = append(args, one...)
			n++
			size += paramBytes(one)
			if n == per || size >= m.maxBytes {
				if err := flush(); err != nil {
					return total, err
				}
			}
		}
	}
	return total, flush()
}

// paramBytes estimates the bytes args take on the wire.
func paramBytes(args []any) int {
	n := 0
	for _, a := range args {
		switch x := a.(type) {
		case string:
			n += len(x) + 4
		case []byte:
			n += len(x) + 4
		default:
			n += 9
		}
	}
	return n
}

// maxMySQLStatements bounds the statement cache.
const maxMySQLStatements = 256

// execCached runs q as a statement prepared once per connection.
func (m *MySQL) execCached(ctx context.Context, q string, args ...any) error {
	_, err := m.execCachedResult(ctx, q, args...)
	return err
}

func (m *MySQL) execCachedResult(ctx context.Context, q string, args ...any) (sql.Result, error) {
	st, ok := m.stmts[q]
	if !ok {
		if len(m.stmts) >= maxMySQLStatements {
			// Retractions prepare one statement per NULL pattern; keep
			// well below the server's max_prepared_stmt_count.
			m.closeStatements()
		}
		var err error
		if st, err = m.conn.PrepareContext(ctx, q); err != nil {
			return nil, fmt.Errorf("prepare %q: %w", q, err)
		}
		if m.stmts == nil {
			m.stmts = make(map[string]*sql.Stmt)
		}
		m.stmts[q] = st
	}
	return st.ExecContext(ctx, args...)
}

// closeStatements closes the cached statements. Failures are only
// logged: a leftover statement costs server memory, not correctness.
func (m *MySQL) closeStatements() {
	for q, st := range m.stmts {
		if err := st.Close(); err != nil {
			m.log.Warn("close statement", "err", err)
		}
		delete(m.stmts, q)
	}
}

// Apply implements Sink.
func (m *MySQL) Apply(ctx context.Context, step Step) error {
	if m.conn == nil {
		return fmt.Errorf("sink %s: apply: sink is not open", m.cfg.Name)
	}
	if err := m.checkDeltas(step.LSN, step.Deltas); err != nil {
		return err
	}
	if err := m.begin(ctx); err != nil {
		return fmt.Errorf("sink %s: apply step %s: begin: %w", m.cfg.Name, step.LSN, err)
	}
	applied, err := m.applyLocked(ctx, step)
	if err != nil || !applied {
		m.rollback()
		return err
	}
	if err := m.commit(ctx); err != nil {
		m.rollback()
		return fmt.Errorf("sink %s: apply step %s: commit: %w", m.cfg.Name, step.LSN, err)
	}
	return nil
}

// checkDeltas checks deltas of the step at lsn before anything is
// written: each view is a loaded view of the sink and its rows fit.
func (m *MySQL) checkDeltas(lsn row.LSN, deltas []Delta) error {
	for _, d := range deltas {
		v, ok := m.views[d.View]
		if !ok {
			return fmt.Errorf("sink %s: apply step %s: view %s is not one of the sink's views", m.cfg.Name, lsn, d.View)
		}
		if !v.ready {
			return fmt.Errorf("sink %s: apply step %s: view %s has not been loaded into this sink (its table is missing or has other columns); a Load is needed",
				m.cfg.Name, lsn, d.View)
		}
		if err := m.checkRows("apply step "+lsn.String(), v, d.Rows); err != nil {
			return err
		}
	}
	return nil
}

// applyLocked runs the step inside the open transaction; applied is false
// when the step is at or below the progress (I3).
func (m *MySQL) applyLocked(ctx context.Context, step Step) (applied bool, err error) {
	cur, ok, err := m.readProgress(ctx, true)
	if err != nil {
		return false, fmt.Errorf("apply step %s: %w", step.LSN, err)
	}
	if ok && step.Applied(cur) {
		m.log.Debug("step already applied; skipped", "lsn", step.LSN, "progress", cur)
		return false, nil
	}
	for _, d := range step.Deltas {
		if err := m.applyDelta(ctx, m.views[d.View], d); err != nil {
			return false, fmt.Errorf("sink %s: apply step %s to view %s: %w", m.cfg.Name, step.LSN, d.View, err)
		}
	}
	if err := m.writeProgress(ctx, step.LSN, step.CommitTime); err != nil {
		return false, fmt.Errorf("apply step: %w", err)
	}
	return true, nil
}

// applyDelta deletes the retractions, then inserts the insertions.
func (m *MySQL) applyDelta(ctx context.Context, v *myView, d Delta) error {
	var ins []row.Update
	for _, u := range d.Rows {
		switch {
		case u.W < 0:
			if err := m.retract(ctx, v, u.Row, -u.W); err != nil {
				return err
			}
		case u.W > 0:
			ins = append(ins, u)
		}
	}
	_, err := m.insertRows(ctx, v, ins)
	return err
}

// retract deletes exactly n rows matching r. The predicate says "c IS
// NULL" for NULLs and "c = ?" otherwise, so that it is NULL-aware and
// still uses the key index.
func (m *MySQL) retract(ctx context.Context, v *myView, r row.Row, n row.Weight) error {
	var (
		conds []string
		args  []any
	)
	keyless := len(v.Key) == 0
	for _, i := range v.match {
		c := &v.cols[i]
		if r[i].IsNull() {
			conds = append(conds, quoteMySQL(c.Name)+" IS NULL")
			continue
		}
		p, _ := c.appendParams(nil, r[i])
		conds = append(conds, quoteMySQL(c.Name)+" = "+fmt.Sprintf(c.cast, "?"))
		args = append(args, p[0])
		// Matching every column, a row's identity includes the numeric's
		// display scale (1.5 and 1.50 are different rows of a bag).
		if c.scaleCol != "" && keyless {
			conds = append(conds, quoteMySQL(c.scaleCol)+" = ?")
			args = append(args, p[1])
		}
	}
	args = append(args, int64(n))
	q := "DELETE FROM " + v.table + " WHERE " + strings.Join(conds, " AND ") + " LIMIT ?"
	res, err := m.execCachedResult(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("retract row %s: %w", formatRow(r), err)
	}
	got, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("retract row %s: %w", formatRow(r), err)
	}
	if got < int64(n) {
		return fmt.Errorf("retract %d× row %s: found only %d matching row(s): %w", n, formatRow(r), got, ErrOutOfSync)
	}
	return nil
}

// Dump implements Dumper. Values are read with the binary protocol (a
// prepared statement), so floats arrive as their bits, and converted back
// to PostgreSQL's text for the view's column types.
func (m *MySQL) Dump(ctx context.Context, view row.TableName, w io.Writer) error {
	v, ok := m.views[view]
	if !ok {
		return fmt.Errorf("sink %s: dump: view %s is not in this sink", m.cfg.Name, view)
	}
	if m.conn == nil {
		return fmt.Errorf("sink %s: dump: sink is not open", m.cfg.Name)
	}
	fail := func(err error) error { return fmt.Errorf("sink %s: dump view %s: %w", m.cfg.Name, view, err) }
	var names []string
	for _, c := range v.cols {
		names = append(names, quoteMySQL(c.Name))
		if c.scaleCol != "" {
			names = append(names, quoteMySQL(c.scaleCol))
		}
	}
	st, err := m.conn.PrepareContext(ctx, "SELECT "+strings.Join(names, ", ")+" FROM "+v.table)
	if err != nil {
		return fail(err)
	}
	defer st.Close()
	rows, err := st.QueryContext(ctx)
	if err != nil {
		return fail(err)
	}
	defer rows.Close()
	vals := make([]any, len(names))
	ptrs := make([]any, len(names))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	r := make(row.Row, len(v.cols))
	var line []byte
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return fail(err)
		}
		j := 0
		for i := range v.cols {
			c := &v.cols[i]
			var scale any
			if c.scaleCol != "" {
				scale = vals[j+1]
			}
			d, err := c.decode(vals[j], scale)
			if err != nil {
				return fail(err)
			}
			r[i] = d
			j += c.nparams()
		}
		line = appendCopyRow(line[:0], r)
		if _, err := bw.Write(line); err != nil {
			return fail(err)
		}
	}
	if err := rows.Err(); err != nil {
		return fail(err)
	}
	if err := bw.Flush(); err != nil {
		return fail(err)
	}
	return nil
}

// Forget implements Forgetter: it drops the view tables registered to the
// pipeline in ripple.views when dropTables is set (only those: a table
// ripple did not create is never dropped), then deletes the pipeline's
// rows from ripple.views and ripple.progress in one transaction. Tables go
// first: a crash in between leaves catalog rows without tables, which is
// harmless, never tables without their catalog rows, which would look
// foreign. Running it again, or on a server ripple never wrote to, does
// nothing. The databases stay: other tables may live in them.
func (m *MySQL) Forget(ctx context.Context, pipeline string, dropTables bool) error {
	if err := m.cfg.Validate(); err != nil {
		return err
	}
	if pipeline == "" {
		return fmt.Errorf("sink %s: forget: pipeline name is empty", m.cfg.Name)
	}
	db, err := m.connector()
	if err != nil {
		return err
	}
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("sink %s: connect: %w", m.cfg.Name, err)
	}
	defer conn.Close()
	fail := func(err error) error { return fmt.Errorf("sink %s: forget pipeline %q: %w", m.cfg.Name, pipeline, err) }
	var n int
	if err := conn.QueryRowContext(ctx, `SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = 'ripple' AND table_name IN ('views', 'progress')`).Scan(&n); err != nil {
		return fail(err)
	}
	if n < 2 {
		return nil // never opened here
	}
	if dropTables {
		rows, err := conn.QueryContext(ctx, `SELECT view_schema, view_name FROM ripple.views WHERE pipeline = ? ORDER BY 1, 2`, pipeline)
		if err != nil {
			return fail(err)
		}
		var names []row.TableName
		for rows.Next() {
			var t row.TableName
			if err := rows.Scan(&t.Schema, &t.Name); err != nil {
				rows.Close()
				return fail(err)
			}
			names = append(names, t)
		}
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			return fail(err)
		}
		for _, t := range names {
			if _, err := conn.ExecContext(ctx, "DROP TABLE IF EXISTS "+mysqlTable(t)); err != nil {
				return fail(fmt.Errorf("drop table %s: %w", t, err))
			}
			m.log.Info("dropped view table", "table", t.String())
		}
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return fail(err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `DELETE FROM ripple.views WHERE pipeline = ?`, pipeline); err != nil {
		return fail(err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM ripple.progress WHERE pipeline = ?`, pipeline); err != nil {
		return fail(err)
	}
	if err := tx.Commit(); err != nil {
		return fail(err)
	}
	return nil
}

// Ping checks that the server is reachable with the configured DSN, on a
// connection of its own, without creating or changing anything.
func (m *MySQL) Ping(ctx context.Context) error {
	if err := m.cfg.Validate(); err != nil {
		return err
	}
	db, err := m.connector()
	if err != nil {
		return err
	}
	defer db.Close()
	var version string
	if err := db.QueryRowContext(ctx, `SELECT VERSION()`).Scan(&version); err != nil {
		return fmt.Errorf("sink %s: connect: %w", m.cfg.Name, err)
	}
	return nil
}

// Close implements Sink.
func (m *MySQL) Close() error {
	if m.conn == nil {
		return nil
	}
	m.closeStatements()
	err := errors.Join(m.conn.Close(), m.db.Close())
	m.conn, m.db = nil, nil
	if err != nil {
		return fmt.Errorf("sink %s: close: %w", m.cfg.Name, err)
	}
	return nil
}

var _ Pinger = (*MySQL)(nil)
