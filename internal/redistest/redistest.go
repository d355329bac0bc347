// Package redistest gives tests a throwaway Redis server on a free loopback
// port, stopped when the test ends. It sits beside pgtest: tests that need
// Redis fail — they never skip — when redis-server is missing.
package redistest

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rippledb/ripple/internal/pgcluster"
)

// startTimeout bounds how long Start waits for the server to answer PING.
const startTimeout = 20 * time.Second

// Start runs redis-server (from PATH, else /usr/bin) on a free 127.0.0.1
// port without persistence, waits until it answers PING, and returns its
// address ("127.0.0.1:port"). The server is killed in t.Cleanup.
func Start(t testing.TB) string {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if _, serr := os.Stat("/usr/bin/redis-server"); serr != nil {
			t.Fatalf("redistest: redis-server is not installed (not in PATH, not /usr/bin/redis-server): %v", err)
		}
		bin = "/usr/bin/redis-server"
	}
	// The port is free when asked for but may be taken before the server
	// binds it; try a few times.
	var errs []error
	for range 3 {
		addr, err := start(t, bin)
		if err == nil {
			return addr
		}
		errs = append(errs, err)
	}
	t.Fatalf("redistest: start redis-server: %v", errors.Join(errs...))
	return ""
}

// start runs one server; on success it has registered its cleanup.
func start(t testing.TB, bin string) (string, error) {
	port, err := pgcluster.FreePort()
	if err != nil {
		return "", err
	}
	dir := t.TempDir()
	cmd := exec.Command(bin,
		"--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", dir, "--daemonize", "no")
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return "", fmt.Errorf("run %s: %w", bin, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stop := func() {
		_ = cmd.Process.Kill()
		<-exited
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	deadline := time.Now().Add(startTimeout)
	for {
		if ping(addr) == nil {
			break
		}
		select {
		case err := <-exited:
			exited <- err // for stop's receive
			return "", fmt.Errorf("redis-server on port %d exited: %v\n%s", port, err, out.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			stop()
			return "", fmt.Errorf("redis-server on port %d did not answer PING within %s\n%s", port, startTimeout, out.String())
		}
	}
	t.Cleanup(stop)
	return addr, nil
}

// ping sends PING in RESP and expects +PONG.
func ping(addr string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "+PONG") {
		return fmt.Errorf("PING answered %q", strings.TrimSpace(line))
	}
	return nil
}

// syncBuffer collects the server's output for error messages.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
