package cdc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/rippledb/ripple/internal/row"
)

// Sentinel errors. Match them with errors.Is; the errors returned carry a
// message naming the slot, table or setting concerned.
var (
	// ErrNoSuchTable: a configured or looked-up table does not exist.
	ErrNoSuchTable = errors.New("cdc: no such table")
	// ErrNotATable: the name resolves to a view, materialized view, foreign
	// table or other relation that logical replication cannot publish.
	ErrNotATable = errors.New("cdc: not a table")
	// ErrSlotInUse: the replication slot is held by another connection.
	ErrSlotInUse = errors.New("cdc: replication slot in use")
	// ErrWalLevel: the source's wal_level is not logical.
	ErrWalLevel = errors.New("cdc: wal_level is not logical")
	// ErrNoReplicationPrivilege: the role may not open replication
	// connections (neither REPLICATION nor superuser).
	ErrNoReplicationPrivilege = errors.New("cdc: role lacks the REPLICATION privilege")
	// ErrSlotMissing: Stream was asked to resume from a slot that does not
	// exist (it was dropped, or Snapshot never ran). Terminal: `ripple
	// resync` rebuilds the views from a fresh snapshot and a new slot.
	ErrSlotMissing = errors.New("cdc: replication slot does not exist")
	// ErrSlotInvalidated: PostgreSQL invalidated the slot (wal_status
	// 'lost') because it retained more WAL than max_slot_wal_keep_size, and
	// removed WAL ripple had not read. Terminal, like ErrSlotMissing.
	ErrSlotInvalidated = errors.New("cdc: replication slot invalidated")
	// ErrStreamEnded: the walsender ended the replication stream, as it
	// does when the server shuts down. Transient (see IsTransient).
	ErrStreamEnded = errors.New("cdc: source ended the replication stream")
)

// kindError is an error with its own message that also matches a sentinel.
type kindError struct {
	kind error
	msg  string
}

func (e *kindError) Error() string { return e.msg }
func (e *kindError) Unwrap() error { return e.kind }

func errorOf(kind error, format string, args ...any) error {
	return &kindError{kind: kind, msg: fmt.Sprintf(format, args...)}
}

// Config configures a Source. The zero values of the optional fields take
// the defaults EnsureDefaults documents.
type Config struct {
	// DSN is the source connection string (URL or key=value). Required.
	DSN string
	// Slot is the logical replication slot name; default "ripple". A lower
	// case identifier ([a-z0-9_], at most 63 bytes), as slot names must be.
	Slot string
	// Publication is the publication name; default "ripple". Same rules as
	// Slot (so it needs no quoting in publication_names).
	Publication string
	// Tables are the tables the views read; the publication is made to cover
	// exactly these. A Schema of "" resolves through the search_path.
	Tables []row.TableName
	// StatusInterval is the period of standby status updates; default 1s.
	// Keep it well under the source's wal_sender_timeout (default 60s).
	StatusInterval time.Duration
	// HeartbeatInterval is how often Stream emits a heartbeat (a logical
	// decoding message) in the source database, so that the slot advances
	// even when the published tables are idle or every change is filtered
	// out (see Stream). 0 means the default, 10s; a negative value disables
	// heartbeats.
	HeartbeatInterval time.Duration
	// MaxRetainedWAL is the WAL, in bytes, the slot may retain on the source
	// (current WAL position − restart_lsn) before SlotLag reports it over
	// the limit, so that operators are warned before PostgreSQL invalidates
	// the slot (max_slot_wal_keep_size). 0 means the default, 1 GiB; a
	// negative value disables the limit.
	MaxRetainedWAL int64
	// Logger receives structured logs; nil means slog.Default().
	Logger *slog.Logger
	// HoldIdle, when set, keeps the flush position at what was acked
	// even while the source is idle or its changes are filtered out; the
	// position the stream could confirm then is offered through
	// IdlePosition instead, for a caller that must record it durably
	// (ripple's state checkpoint) before it is acked. Unset, Stream reports
	// the server's WAL end by itself when nothing is in flight.
	HoldIdle bool
	// PartChanges is the number of changes after which a large
	// transaction is delivered in parts (see Txn); default
	// DefaultPartChanges.
	PartChanges int
	// Whole, when set, names transactions (by commit LSN) to deliver
	// whole however large they are.
	Whole func(commitLSN row.LSN) bool
	// StreamDir, when set, makes Stream ask PostgreSQL (14 and later) to
	// stream large transactions while they are in progress (pgoutput
	// protocol version 2, streaming on) and spool their changes to files
	// in this directory until they commit (see spool.go): PostgreSQL then
	// neither spills them to its own disk nor decodes them only after their
	// commit. Transactions are still delivered whole and committed, in
	// commit order. Empty: protocol version 1.
	StreamDir string
	// DecodingWorkMem, when set, is the source's logical_decoding_work_mem
	// for ripple's replication connection (a PostgreSQL size such as
	// "64MB"): the decoded changes of one transaction PostgreSQL holds in
	// memory before it streams (or, without streaming, spills) them.
	DecodingWorkMem string
}

// Defaults of Config.
const (
	DefaultHeartbeatInterval       = 10 * time.Second
	DefaultMaxRetainedWAL    int64 = 1 << 30
	DefaultPartChanges             = 65536
)

// EnsureDefaults fills in the defaults of unset fields.
func (c *Config) EnsureDefaults() {
	if c.Slot == "" {
		c.Slot = "ripple"
	}
	if c.Publication == "" {
		c.Publication = "ripple"
	}
	if c.StatusInterval <= 0 {
		c.StatusInterval = time.Second
	}
	if c.HeartbeatInterval == 0 {
		c.HeartbeatInterval = DefaultHeartbeatInterval
	}
	if c.MaxRetainedWAL == 0 {
		c.MaxRetainedWAL = DefaultMaxRetainedWAL
	}
	if c.PartChanges <= 0 {
		c.PartChanges = DefaultPartChanges
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

var simpleIdent = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

// Validate reports every problem of a defaulted Config at once.
func (c *Config) Validate() error {
	var errs []error
	if c.DSN == "" {
		errs = append(errs, errors.New("cdc: source DSN is empty"))
	}
	if !simpleIdent.MatchString(c.Slot) {
		errs = append(errs, fmt.Errorf("cdc: slot name %q must be a lower-case identifier of [a-z0-9_] (at most 63 bytes)", c.Slot))
	}
	if !simpleIdent.MatchString(c.Publication) {
		errs = append(errs, fmt.Errorf("cdc: publication name %q must be a lower-case identifier of [a-z0-9_] (at most 63 bytes)", c.Publication))
	}
	for _, t := range c.Tables {
		if t.Name == "" {
			errs = append(errs, fmt.Errorf("cdc: table with empty name in Tables (schema %q)", t.Schema))
		}
	}
	return errors.Join(errs...)
}

// Source is the source side of the data path: one PostgreSQL database, its
// publication and its replication slot. Its methods other than Ack must not
// be called concurrently with each other, except Stream, which runs on its
// own replication connection while the others use the regular one.
type Source struct {
	cfg  Config
	log  *slog.Logger
	conn *pgx.Conn // regular connection, SessionSettings pinned

	// relsMu guards rels, the resolved cfg.Tables (filled by resolveTables).
	relsMu sync.Mutex
	rels   []tableInfo

	ack ackState

	stream streamStats // spool.go

	types typeMap // domains seen in the looked-up tables (types.go)
}

// ackState is the ack position shared between Ack (any goroutine) and the
// stream loop.
type ackState struct {
	mu    sync.Mutex
	acked row.LSN // highest LSN passed to Ack
	idle  row.LSN // with HoldIdle: the position the stream could confirm
}

// Connect opens the regular connection to the source (with
// row.SessionSettings pinned) and checks that the source can do logical
// replication for this role: wal_level = logical and REPLICATION (or
// superuser). Errors match ErrWalLevel and ErrNoReplicationPrivilege; a
// failure to connect at all is wrapped as "connect to source: ...".
func Connect(ctx context.Context, cfg Config) (*Source, error) {
	cfg.EnsureDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	conn, err := connectRegular(ctx, cfg.DSN)
	if err != nil {
		return nil, err
	}
	s := &Source{cfg: cfg, log: cfg.Logger, conn: conn}
	if err := s.checkSource(ctx); err != nil {
		conn.Close(ctx)
		return nil, err
	}
	return s, nil
}

// connectRegular opens a regular (non-replication) connection with
// row.SessionSettings pinned as runtime parameters.
func connectRegular(ctx context.Context, dsn string) (*pgx.Conn, error) {
	pcfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("parse source DSN: %w", err)
	}
	for k, v := range row.SessionSettings {
		pcfg.RuntimeParams[k] = v
	}
	conn, err := pgx.ConnectConfig(ctx, pcfg)
	if err != nil {
		return nil, fmt.Errorf("connect to source: %w", err)
	}
	return conn, nil
}

func (s *Source) checkSource(ctx context.Context) error {
	var walLevel string
	if err := s.conn.QueryRow(ctx, "SHOW wal_level").Scan(&walLevel); err != nil {
		return fmt.Errorf("read source wal_level: %w", err)
	}
	if walLevel != "logical" {
		return errorOf(ErrWalLevel, "source wal_level is '%s'; set wal_level = logical and restart PostgreSQL", walLevel)
	}
	var role string
	var ok bool
	err := s.conn.QueryRow(ctx,
		"SELECT rolname, rolreplication OR rolsuper FROM pg_roles WHERE rolname = current_user").Scan(&role, &ok)
	if err != nil {
		return fmt.Errorf("read source role attributes: %w", err)
	}
	if !ok {
		return errorOf(ErrNoReplicationPrivilege,
			"source role %s has neither REPLICATION nor SUPERUSER; run ALTER ROLE %s REPLICATION",
			row.QuoteIdent(role), row.QuoteIdent(role))
	}
	return nil
}

// Config returns the source's configuration, defaulted.
func (s *Source) Config() Config { return s.cfg }

// Close closes the regular connection. It does not stop a running Stream
// (cancel its context) and does not drop the slot or the publication.
func (s *Source) Close(ctx context.Context) error {
	return s.conn.Close(ctx)
}

// Collation returns pg_database.datcollate of the source database.
func (s *Source) Collation(ctx context.Context) (string, error) {
	var c string
	err := s.conn.QueryRow(ctx, "SELECT datcollate FROM pg_database WHERE datname = current_database()").Scan(&c)
	if err != nil {
		return "", fmt.Errorf("read source collation: %w", err)
	}
	return c, nil
}

// Describe returns the column names and types (OID and typmod) PostgreSQL
// gives the result of query, from the statement description of an unnamed
// prepared statement: the query is parsed and planned, never executed. A
// PostgreSQL error (*pgconn.PgError, with its Position) passes through
// wrapped.
func (s *Source) Describe(ctx context.Context, query string) (row.Schema, error) {
	sd, err := s.conn.PgConn().Prepare(ctx, "", query, nil)
	if err != nil {
		return nil, fmt.Errorf("describe query: %w", err)
	}
	sch := make(row.Schema, len(sd.Fields))
	for i, f := range sd.Fields {
		sch[i] = row.Column{Name: f.Name, Type: row.Type{OID: row.OID(f.DataTypeOID), Mod: f.TypeModifier}}
	}
	return sch, nil
}

// qualified renders a table name for SQL, quoting each part; an empty
// schema is left out so the search_path resolves it.
func qualified(schema, name string) string {
	if schema == "" {
		return pgx.Identifier{name}.Sanitize()
	}
	return pgx.Identifier{schema, name}.Sanitize()
}

func displayName(schema, name string) string {
	if schema == "" {
		return row.QuoteIdent(name)
	}
	return row.TableName{Schema: schema, Name: name}.String()
}

// LookupTable reads the catalog description of a table: its resolved
// schema-qualified name, its columns as pgoutput sends them (no dropped or
// generated columns), its replica identity and the columns of that identity
// (the primary key for DEFAULT, the index columns for USING INDEX, every
// column for FULL, none for NOTHING or a DEFAULT table without a primary
// key). Schema "" resolves through the search_path. Errors match
// ErrNoSuchTable or ErrNotATable (views, materialized views, foreign
// tables, ...). Partitioned tables are tables here: the publication
// publishes them through their root.
func (s *Source) LookupTable(ctx context.Context, schema, name string) (*Relation, error) {
	r, _, err := s.lookupTable(ctx, schema, name)
	return r, err
}

// lookupTable is LookupTable that also reports whether the table is
// partitioned.
func (s *Source) lookupTable(ctx context.Context, schema, name string) (_ *Relation, partitioned bool, _ error) {
	var (
		oid      uint32
		nsp, rel string
		relkind  string
		ident    string
	)
	err := s.conn.QueryRow(ctx, `
		SELECT c.oid, n.nspname, c.relname, c.relkind::text, c.relreplident::text
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE c.oid = to_regclass($1)`, qualified(schema, name)).Scan(&oid, &nsp, &rel, &relkind, &ident)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, false, errorOf(ErrNoSuchTable, "source table %s does not exist", displayName(schema, name))
	}
	if err != nil {
		return nil, false, fmt.Errorf("look up source table %s: %w", displayName(schema, name), err)
	}
	tn := row.TableName{Schema: nsp, Name: rel}
	switch relkind {
	case "r", "p":
	case "v":
		return nil, false, errorOf(ErrNotATable, "source relation %s is a view; ripple reads tables (define the view in ripple instead)", tn)
	case "m":
		return nil, false, errorOf(ErrNotATable, "source relation %s is a materialized view; ripple reads tables (define the view in ripple instead)", tn)
	default:
		return nil, false, errorOf(ErrNotATable, "source relation %s is not a table (relkind %q); logical replication cannot publish it", tn, relkind)
	}
	r := &Relation{ID: RelationID(oid), Name: tn, Identity: ReplicaIdentity(ident[0])}
	attnums, err := s.readColumns(ctx, r)
	if err != nil {
		return nil, false, err
	}
	if err := s.readKey(ctx, r, attnums); err != nil {
		return nil, false, err
	}
	return r, relkind == "p", nil
}

// readColumns fills r.Columns and returns the attnum of each column.
func (s *Source) readColumns(ctx context.Context, r *Relation) ([]int16, error) {
	rows, err := s.conn.Query(ctx, `
		SELECT attname, atttypid, atttypmod, attnum FROM pg_attribute
		WHERE attrelid = $1 AND attnum > 0 AND NOT attisdropped AND attgenerated = ''
		ORDER BY attnum`, uint32(r.ID))
	if err != nil {
		return nil, fmt.Errorf("read columns of %s: %w", r.Name, err)
	}
	var attnums []int16
	for rows.Next() {
		var (
			c      row.Column
			typ    uint32
			attnum int16
		)
		if err := rows.Scan(&c.Name, &typ, &c.Type.Mod, &attnum); err != nil {
			return nil, fmt.Errorf("read columns of %s: %w", r.Name, err)
		}
		c.Type.OID = row.OID(typ)
		r.Columns = append(r.Columns, c)
		attnums = append(attnums, attnum)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read columns of %s: %w", r.Name, err)
	}
	for i := range r.Columns {
		if err := s.resolveDomain(ctx, &r.Columns[i].Type); err != nil {
			return nil, fmt.Errorf("read columns of %s: column %s: %w", r.Name, row.QuoteIdent(r.Columns[i].Name), err)
		}
	}
	return attnums, nil
}

// readKey fills r.KeyCols from the replica identity.
func (s *Source) readKey(ctx context.Context, r *Relation, attnums []int16) error {
	var cond string
	switch r.Identity {
	case 'f':
		for i := range r.Columns {
			r.KeyCols = append(r.KeyCols, i)
		}
		return nil
	case 'n':
		return nil
	case 'd':
		cond = "indisprimary"
	case 'i':
		cond = "indisreplident"
	default:
		return fmt.Errorf("read key of %s: unknown replica identity %q", r.Name, r.Identity)
	}
	rows, err := s.conn.Query(ctx,
		"SELECT unnest(indkey)::int2 FROM pg_index WHERE indrelid = $1 AND "+cond, uint32(r.ID))
	if err != nil {
		return fmt.Errorf("read replica identity of %s: %w", r.Name, err)
	}
	keys, err := pgx.CollectRows(rows, pgx.RowTo[int16])
	if err != nil {
		return fmt.Errorf("read replica identity of %s: %w", r.Name, err)
	}
	for _, k := range keys {
		for i, a := range attnums {
			if a == k {
				r.KeyCols = append(r.KeyCols, i)
			}
		}
	}
	sort.Ints(r.KeyCols)
	return nil
}

// tableInfo is a resolved configured table.
type tableInfo struct {
	rel         *Relation
	partitioned bool
}

// resolveTables looks up every configured table (once per call), reporting
// every missing one at once.
func (s *Source) resolveTables(ctx context.Context) ([]tableInfo, error) {
	if len(s.cfg.Tables) == 0 {
		return nil, errors.New("cdc: no source tables configured")
	}
	var rels []tableInfo
	var errs []error
	for _, t := range s.cfg.Tables {
		r, p, err := s.lookupTable(ctx, t.Schema, t.Name)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		rels = append(rels, tableInfo{rel: r, partitioned: p})
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	s.relsMu.Lock()
	s.rels = rels
	s.relsMu.Unlock()
	return rels, nil
}

// EnsurePublication makes the publication cover exactly cfg.Tables, with
// publish_via_partition_root = true (a partitioned table's changes arrive
// under the root's name) and every operation published. It creates the
// publication or alters an existing one. Call it before Snapshot: pgoutput
// reads the publication as of each change's position, so changes made before
// the publication existed could not be decoded.
func (s *Source) EnsurePublication(ctx context.Context) error {
	rels, err := s.resolveTables(ctx)
	if err != nil {
		return err
	}
	names := make([]string, len(rels))
	for i, r := range rels {
		// ONLY for plain tables: the snapshot reads them with ONLY, and a
		// child's changes would arrive under the child's name anyway.
		names[i] = "ONLY " + qualified(r.rel.Name.Schema, r.rel.Name.Name)
		if r.partitioned {
			names[i] = qualified(r.rel.Name.Schema, r.rel.Name.Name)
		}
	}
	list := strings.Join(names, ", ")
	pub := pgx.Identifier{s.cfg.Publication}.Sanitize()
	const opts = "publish = 'insert, update, delete, truncate', publish_via_partition_root = true"
	var exists bool
	if err := s.conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_publication WHERE pubname = $1)",
		s.cfg.Publication).Scan(&exists); err != nil {
		return fmt.Errorf("check publication %s: %w", s.cfg.Publication, err)
	}
	stmts := []string{"CREATE PUBLICATION " + pub + " FOR TABLE " + list + " WITH (" + opts + ")"}
	if exists {
		stmts = []string{"ALTER PUBLICATION " + pub + " SET TABLE " + list, "ALTER PUBLICATION " + pub + " SET (" + opts + ")"}
	}
	for _, q := range stmts {
		if _, err := s.conn.Exec(ctx, q); err != nil {
			return fmt.Errorf("set up publication %s: %w", s.cfg.Publication, err)
		}
	}
	s.log.Info("publication ready", "publication", s.cfg.Publication, "tables", list, "created", !exists)
	return nil
}

// DropPublication drops the publication if it exists.
func (s *Source) DropPublication(ctx context.Context) error {
	if _, err := s.conn.Exec(ctx, "DROP PUBLICATION IF EXISTS "+pgx.Identifier{s.cfg.Publication}.Sanitize()); err != nil {
		return fmt.Errorf("drop publication %s: %w", s.cfg.Publication, err)
	}
	return nil
}

// SetTables replaces the tables the publication and the snapshot cover
// (cfg.Tables): the pipeline learns them from the planner, which needs the
// connection Connect opened.
func (s *Source) SetTables(tables []row.TableName) {
	s.relsMu.Lock()
	defer s.relsMu.Unlock()
	s.cfg.Tables = append([]row.TableName(nil), tables...)
	s.rels = nil
}

// DropSlot drops the replication slot if it exists. An active slot is not
// dropped: the error matches ErrSlotInUse.
func (s *Source) DropSlot(ctx context.Context) error {
	if err := s.checkSlotIdle(ctx); err != nil {
		return err
	}
	_, err := s.conn.Exec(ctx,
		"SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1", s.cfg.Slot)
	if err != nil {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "55006" { // object_in_use: became active meanwhile
			return errorOf(ErrSlotInUse, "replication slot %s is in use: %s", s.cfg.Slot, pgErr.Message)
		}
		return fmt.Errorf("drop replication slot %s: %w", s.cfg.Slot, err)
	}
	return nil
}

// checkSlotIdle fails with ErrSlotInUse when a connection holds the slot.
func (s *Source) checkSlotIdle(ctx context.Context) error {
	var pid *int32
	err := s.conn.QueryRow(ctx, "SELECT active_pid FROM pg_replication_slots WHERE slot_name = $1", s.cfg.Slot).Scan(&pid)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("check replication slot %s: %w", s.cfg.Slot, err)
	}
	if pid != nil {
		return errorOf(ErrSlotInUse, "replication slot %s is in use by PID %d; is another ripple running?", s.cfg.Slot, *pid)
	}
	return nil
}

// replicationConn opens a walsender connection (replication=database) to
// the source database with row.SessionSettings as startup options: the
// walsender formats values under its own session GUCs, and startup options
// override database and role defaults.
func (s *Source) replicationConn(ctx context.Context) (*pgconn.PgConn, error) {
	pcfg, err := pgconn.ParseConfig(s.cfg.DSN)
	if err != nil {
		return nil, fmt.Errorf("parse source DSN: %w", err)
	}
	for k, v := range row.SessionSettings {
		pcfg.RuntimeParams[k] = v
	}
	pcfg.RuntimeParams["replication"] = "database"
	if s.cfg.DecodingWorkMem != "" {
		pcfg.RuntimeParams["logical_decoding_work_mem"] = s.cfg.DecodingWorkMem
	}
	conn, err := pgconn.ConnectConfig(ctx, pcfg)
	if err != nil {
		return nil, fmt.Errorf("open replication connection to source: %w", err)
	}
	return conn, nil
}
