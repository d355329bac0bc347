// Package natstest gives tests a throwaway NATS server with JetStream
// enabled, run from the nats-server binary on the machine and killed when the
// test ends. Tests that need NATS fail — they never skip — when the binary is
// missing, like the PostgreSQL tests (internal/pgtest).
package natstest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/rippledb/ripple/internal/pgcluster"
)

// binaryPaths are tried in order after $PATH.
var binaryPaths = []string{"/usr/sbin/nats-server", "/usr/bin/nats-server", "/usr/local/bin/nats-server"}

// Binary returns the path of nats-server: $RIPPLE_NATS_SERVER if set, then
// $PATH, then the usual install locations.
func Binary() (string, error) {
	if p := os.Getenv("RIPPLE_NATS_SERVER"); p != "" {
		return p, nil
	}
	if p, err := exec.LookPath("nats-server"); err == nil {
		return p, nil
	}
	for _, p := range binaryPaths {
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p, nil
		}
	}
	return "", errors.New("nats-server not found in $PATH or " + fmt.Sprint(binaryPaths) +
		"; install it (Debian: apt-get install nats-server) or set RIPPLE_NATS_SERVER")
}

// Start runs nats-server with JetStream on 127.0.0.1 and a free port, its
// store in a temporary directory, waits until JetStream answers, and kills
// the server in t.Cleanup. It returns the client URL (nats://127.0.0.1:N).
func Start(t testing.TB) string {
	t.Helper()
	bin, err := Binary()
	if err != nil {
		t.Fatalf("start NATS: %v", err)
	}
	dir := t.TempDir()
	// The free port is found by binding and releasing it, so another
	// process can take it in between: retry a few times.
	var lastErr error
	for attempt := range 3 {
		url, err := start(t, bin, filepath.Join(dir, "store"+strconv.Itoa(attempt)))
		if err == nil {
			return url
		}
		lastErr = err
	}
	t.Fatalf("start NATS: %v", lastErr)
	return ""
}

// logBuffer collects the server's output for error messages.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.buf.Len() < 1<<20 {
		b.buf.Write(p)
	}
	return len(p), nil
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func start(t testing.TB, bin, storeDir string) (string, error) {
	port, err := pgcluster.FreePort()
	if err != nil {
		return "", err
	}
	var logs logBuffer
	cmd := exec.Command(bin, "-a", "127.0.0.1", "-p", strconv.Itoa(port), "-js", "-sd", storeDir)
	cmd.Stdout = &logs
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		return "", fmt.Errorf("run %s: %w", bin, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stop := func() {
		_ = cmd.Process.Kill()
		<-exited
	}
	url := fmt.Sprintf("nats://127.0.0.1:%d", port)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for {
		err := ping(ctx, url)
		if err == nil {
			break
		}
		select {
		case werr := <-exited:
			return "", fmt.Errorf("nats-server exited (%v) before it was ready; output:\n%s", werr, logs.String())
		case <-ctx.Done():
			stop()
			return "", fmt.Errorf("nats-server on port %d not ready after 20s (last error: %v); output:\n%s", port, err, logs.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
	t.Cleanup(func() {
		stop()
		if t.Failed() {
			t.Logf("nats-server output:\n%s", logs.String())
		}
	})
	return url, nil
}

// ping succeeds once the server accepts a client and JetStream answers.
func ping(ctx context.Context, url string) error {
	nc, err := nats.Connect(url, nats.Timeout(time.Second), nats.NoReconnect())
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	_, err = js.AccountInfo(ctx)
	return err
}
