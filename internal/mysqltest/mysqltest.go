// Package mysqltest gives tests throwaway MariaDB (or MySQL) servers: a
// fresh data directory, a server on a free loopback port with a root user
// without password, stopped and removed when the test ends. Tests that need
// it fail — they never skip — when the server binaries are missing.
package mysqltest

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/rippledb/ripple/internal/pgcluster"
)

// runUser is the account the server runs as when the tests run as root:
// mariadbd refuses to run as root without --user.
const runUser = "mysql"

// Start starts a server for t and returns a go-sql-driver DSN for its root
// user with no default database ("root@tcp(127.0.0.1:N)/"). The server is
// killed and its files removed in t.Cleanup.
func Start(t testing.TB) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s, err := start(ctx)
	if err != nil {
		t.Fatalf("start MariaDB: %v", err)
	}
	t.Cleanup(s.stop)
	return s.dsn
}

type server struct {
	dir  string
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has exited
	dsn  string
}

// findBinary returns the first of names found in PATH or the sbin
// directories (which a non-root PATH often lacks).
func findBinary(names ...string) (string, error) {
	for _, n := range names {
		if p, err := exec.LookPath(n); err == nil {
			return p, nil
		}
		for _, d := range []string{"/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin", "/usr/local/mysql/bin"} {
			p := filepath.Join(d, n)
			if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
				return p, nil
			}
		}
	}
	return "", fmt.Errorf("none of %s found in PATH or the sbin directories; install the MariaDB server (apt-get install mariadb-server)", strings.Join(names, ", "))
}

func start(ctx context.Context) (*server, error) {
	installDB, err := findBinary("mariadb-install-db", "mysql_install_db")
	if err != nil {
		return nil, err
	}
	mariadbd, err := findBinary("mariadbd", "mysqld")
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "ripple-mysql-")
	if err != nil {
		return nil, fmt.Errorf("temp dir: %w", err)
	}
	s := &server{dir: dir}
	var userArgs []string
	if os.Geteuid() == 0 {
		if err := chownTo(dir, runUser); err != nil {
			s.remove()
			return nil, err
		}
		userArgs = []string{"--user=" + runUser}
	}
	data := filepath.Join(dir, "data")
	install := exec.CommandContext(ctx, installDB, append([]string{
		"--no-defaults", "--datadir=" + data, "--auth-root-authentication-method=normal", "--skip-test-db",
	}, userArgs...)...)
	if out, err := install.CombinedOutput(); err != nil {
		s.remove()
		return nil, fmt.Errorf("%s: %w\n%s", installDB, err, tail(string(out), 2000))
	}
	for attempt := 0; attempt < 5; attempt++ {
		if err = s.run(ctx, mariadbd, data, userArgs); err == nil {
			return s, nil
		}
	}
	s.remove()
	return nil, err
}

// run starts the server on a free port and waits until it answers.
func (s *server) run(ctx context.Context, mariadbd, data string, userArgs []string) error {
	port, err := pgcluster.FreePort()
	if err != nil {
		return err
	}
	logFile := filepath.Join(s.dir, "error.log")
	_ = os.Remove(logFile)
	args := append([]string{
		"--no-defaults",
		"--datadir=" + data,
		"--port=" + strconv.Itoa(port),
		"--bind-address=127.0.0.1",
		"--socket=" + filepath.Join(s.dir, "sock"),
		"--pid-file=" + filepath.Join(s.dir, "pid"),
		"--log-error=" + logFile,
		"--skip-name-resolve",
		"--innodb-buffer-pool-size=32M",
		"--innodb-log-file-size=16M",
		"--innodb-flush-log-at-trx-commit=2",
		"--max-connections=200",
	}, userArgs...)
	cmd := exec.Command(mariadbd, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", mariadbd, err)
	}
	s.cmd, s.done = cmd, make(chan struct{})
	go func() { _ = cmd.Wait(); close(s.done) }()

	cfg := mysql.NewConfig()
	cfg.User, cfg.Net, cfg.Addr = "root", "tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	cfg.Timeout = 2 * time.Second
	dsn := cfg.FormatDSN()
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		s.kill()
		return err
	}
	defer db.Close()
	for {
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		err = db.PingContext(pctx)
		cancel()
		if err == nil {
			s.dsn = dsn
			return nil
		}
		select {
		case <-s.done:
			log, _ := os.ReadFile(logFile)
			return fmt.Errorf("%s exited before accepting connections on port %d: %s", mariadbd, port, tail(string(log), 2000))
		case <-ctx.Done():
			s.kill()
			log, _ := os.ReadFile(logFile)
			return fmt.Errorf("%s did not accept connections on port %d: %w (last error %v)\n%s", mariadbd, port, ctx.Err(), err, tail(string(log), 2000))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// kill stops the server: SIGTERM, then SIGKILL if it is still running
// after 20 seconds. The data is thrown away, so a clean shutdown is not
// needed; it is only faster on the disk.
func (s *server) kill() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(20 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
	s.cmd = nil
}

func (s *server) remove() { _ = os.RemoveAll(s.dir) }

func (s *server) stop() {
	s.kill()
	s.remove()
}

func chownTo(dir, name string) error {
	u, err := user.Lookup(name)
	if err != nil {
		return fmt.Errorf("running as root needs the %q user to run the server: %w", name, err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if err := os.Chown(dir, uid, gid); err != nil {
		return fmt.Errorf("chown %s: %w", dir, err)
	}
	return os.Chmod(dir, 0o700)
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

// Exec runs statements (one per argument) on the server at dsn and fails
// the test on error.
func Exec(t testing.TB, dsn string, stmts ...string) {
	t.Helper()
	db := Open(t, dsn)
	for _, q := range stmts {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("exec %q: %v", q, err)
		}
	}
}

// Open opens a database handle on dsn, closed at cleanup.
func Open(t testing.TB, dsn string) *sql.DB {
	t.Helper()
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatalf("open %s: %v", dsn, err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// Wipe drops every database but the server's own, so that the next test
// starts from an empty server without the cost of a new one.
func Wipe(t testing.TB, dsn string) {
	t.Helper()
	db := Open(t, dsn)
	rows, err := db.Query(`SELECT schema_name FROM information_schema.schemata
WHERE schema_name NOT IN ('mysql', 'information_schema', 'performance_schema', 'sys')`)
	if err != nil {
		t.Fatalf("list databases: %v", err)
	}
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		names = append(names, n)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		if _, err := db.Exec("DROP DATABASE `" + strings.ReplaceAll(n, "`", "``") + "`"); err != nil {
			t.Fatalf("drop database %s: %v", n, err)
		}
	}
}
