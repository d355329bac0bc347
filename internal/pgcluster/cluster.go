// Package pgcluster starts and removes throwaway PostgreSQL clusters from
// the server binaries installed on the machine: initdb into a temporary
// directory, a free loopback port, wal_level=logical by default. The tests
// use it through internal/pgtest, and `ripple demo` uses it directly.
//
// initdb refuses to run as root, so when the process is root the server is
// run as the "postgres" user (runuser), and the data directory is handed to
// that user.
package pgcluster

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// Options configure a cluster. The zero value is a logical-replication-ready
// cluster with fsync off (throwaway data).
type Options struct {
	// WalLevel is the wal_level setting; "" means "logical".
	WalLevel string
	// Settings are extra postgresql.conf settings.
	Settings map[string]string
	// BinDir holds initdb, pg_ctl and postgres; "" finds them (PG_BIN, then
	// /usr/lib/postgresql/<newest>/bin, then PATH).
	BinDir string
	// Dir is where the cluster lives; "" makes a temporary directory that
	// Remove deletes.
	Dir string
	// Log receives the server log lines; nil discards them (they stay in
	// Dir/server.log).
	Log func(string)
}

// Cluster is a running (or stopped) throwaway PostgreSQL cluster.
type Cluster struct {
	Port   int
	Dir    string // parent directory; data lives in Dir/data
	bin    string
	runAs  string // "" or "postgres"
	owned  bool
	mu     sync.Mutex
	closed bool
}

// ErrNoServer is returned when no PostgreSQL server binaries are found.
var ErrNoServer = errors.New("pgcluster: PostgreSQL server binaries (initdb, pg_ctl) not found; install PostgreSQL or set PG_BIN")

// FindBinDir locates the directory that holds initdb and pg_ctl.
func FindBinDir() (string, error) {
	if d := os.Getenv("PG_BIN"); d != "" {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, nil
		}
		return "", fmt.Errorf("pgcluster: PG_BIN=%s has no initdb", d)
	}
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	sort.Slice(matches, func(i, j int) bool { return verOf(matches[i]) > verOf(matches[j]) })
	if len(matches) > 0 {
		return filepath.Dir(matches[0]), nil
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p), nil
	}
	return "", ErrNoServer
}

func verOf(p string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(p))))
	return v
}

// FreePort asks the kernel for a free loopback TCP port.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Start creates and starts a new cluster.
func Start(ctx context.Context, opts Options) (*Cluster, error) {
	bin := opts.BinDir
	if bin == "" {
		var err error
		if bin, err = FindBinDir(); err != nil {
			return nil, err
		}
	}
	c := &Cluster{bin: bin, Dir: opts.Dir}
	if c.Dir == "" {
		d, err := os.MkdirTemp("", "ripple-pg-")
		if err != nil {
			return nil, fmt.Errorf("pgcluster: temp dir: %w", err)
		}
		c.Dir, c.owned = d, true
	}
	if os.Geteuid() == 0 {
		c.runAs = "postgres"
		if err := chownTo(c.Dir, "postgres"); err != nil {
			c.Remove()
			return nil, err
		}
	}
	if err := c.initdb(ctx, opts); err != nil {
		c.Remove()
		return nil, err
	}
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		if c.Port, err = FreePort(); err != nil {
			break
		}
		if err = c.Start(ctx); err == nil {
			return c, nil
		}
	}
	c.Remove()
	return nil, err
}

func chownTo(dir, name string) error {
	u, err := user.Lookup(name)
	if err != nil {
		return fmt.Errorf("pgcluster: running as root needs the %q user to run the server: %w", name, err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if err := os.Chown(dir, uid, gid); err != nil {
		return fmt.Errorf("pgcluster: chown %s: %w", dir, err)
	}
	// The parent temp dir must be traversable by that user.
	return os.Chmod(dir, 0o700)
}

func (c *Cluster) command(ctx context.Context, name string, args ...string) *exec.Cmd {
	path := filepath.Join(c.bin, name)
	if c.runAs != "" {
		return exec.CommandContext(ctx, "runuser", append([]string{"-u", c.runAs, "--", path}, args...)...)
	}
	return exec.CommandContext(ctx, path, args...)
}

// DataDir is the cluster's data directory.
func (c *Cluster) DataDir() string { return filepath.Join(c.Dir, "data") }

func (c *Cluster) initdb(ctx context.Context, opts Options) error {
	cmd := c.command(ctx, "initdb", "-D", c.DataDir(), "-U", "postgres", "--auth=trust",
		"--encoding=UTF8", "--locale=C", "--no-sync")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("pgcluster: initdb: %w: %s", err, out)
	}
	wal := opts.WalLevel
	if wal == "" {
		wal = "logical"
	}
	settings := map[string]string{
		"wal_level":               wal,
		"listen_addresses":        "'127.0.0.1'",
		"unix_socket_directories": "'" + c.Dir + "'",
		"max_replication_slots":   "20",
		"max_wal_senders":         "20",
		"max_connections":         "100",
		"fsync":                   "off",
		"synchronous_commit":      "off",
		"full_page_writes":        "off",
		"shared_buffers":          "64MB",
		"logging_collector":       "off",
		"wal_sender_timeout":      "60s",
	}
	for k, v := range opts.Settings {
		settings[k] = v
	}
	var conf strings.Builder
	conf.WriteString("\n# ripple pgcluster\n")
	keys := make([]string, 0, len(settings))
	for k := range settings {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&conf, "%s = %s\n", k, settings[k])
	}
	if err := appendFile(filepath.Join(c.DataDir(), "postgresql.conf"), conf.String()); err != nil {
		return err
	}
	// Password-checked role for auth tests first; everything else trusted.
	hba := "host all ripple_pw 127.0.0.1/32 scram-sha-256\n" +
		"local all all trust\nhost all all 127.0.0.1/32 trust\nhost all all ::1/128 trust\n" +
		"local replication all trust\nhost replication ripple_pw 127.0.0.1/32 scram-sha-256\nhost replication all 127.0.0.1/32 trust\n"
	return os.WriteFile(filepath.Join(c.DataDir(), "pg_hba.conf"), []byte(hba), 0o600)
}

func appendFile(path, s string) error {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("pgcluster: %w", err)
	}
	defer f.Close()
	_, err = f.WriteString(s)
	return err
}

// Start starts a stopped cluster and waits until it accepts connections.
func (c *Cluster) Start(ctx context.Context) error {
	cmd := c.command(ctx, "pg_ctl", "-D", c.DataDir(), "-l", filepath.Join(c.Dir, "server.log"),
		"-o", fmt.Sprintf("-p %d", c.Port), "-w", "-t", "60", "start")
	if out, err := cmd.CombinedOutput(); err != nil {
		log, _ := os.ReadFile(filepath.Join(c.Dir, "server.log"))
		return fmt.Errorf("pgcluster: pg_ctl start on port %d: %w: %s\n%s", c.Port, err, out, tail(string(log), 2000))
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		conn, err := pgx.Connect(ctx, c.DSN("postgres"))
		if err == nil {
			conn.Close(ctx)
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("pgcluster: server on port %d not ready: %w", c.Port, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// Running reports whether the server of c is running (its postmaster.pid
// exists).
func (c *Cluster) Running() bool {
	_, err := os.Stat(filepath.Join(c.DataDir(), "postmaster.pid"))
	return err == nil
}

// Stop stops the server; mode is "smart", "fast" or "immediate".
func (c *Cluster) Stop(ctx context.Context, mode string) error {
	cmd := c.command(ctx, "pg_ctl", "-D", c.DataDir(), "-m", mode, "-w", "-t", "60", "stop")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("pgcluster: pg_ctl stop -m %s: %w: %s", mode, err, out)
	}
	return nil
}

// Remove stops the server (immediately) and deletes the cluster's files when
// this package created the directory. It is safe to call more than once.
func (c *Cluster) Remove() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	c.closed = true
	if _, err := os.Stat(filepath.Join(c.DataDir(), "postmaster.pid")); err == nil {
		_ = c.Stop(context.Background(), "immediate")
	}
	if c.owned {
		_ = os.RemoveAll(c.Dir)
	}
}

// DSN is a connection string for database db as the superuser postgres.
func (c *Cluster) DSN(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", c.Port, db)
}

// Exec runs SQL statements in database db.
func (c *Cluster) Exec(ctx context.Context, db, sql string, args ...any) error {
	conn, err := pgx.Connect(ctx, c.DSN(db))
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, sql, args...)
	return err
}

// CreateDB creates a database.
func (c *Cluster) CreateDB(ctx context.Context, name string) error {
	return c.Exec(ctx, "postgres", "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
}
