package sink

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/nats-io/nats.go"
)

// Ping implements Pinger: the file's directory must exist and be writable
// (the file itself is not created), and the NATS server must accept a
// connection with JetStream enabled.
func (s *Stream) Ping(ctx context.Context) error {
	if s.cfg.Path != "" && s.cfg.Path != "-" {
		dir := filepath.Dir(s.cfg.Path)
		st, err := os.Stat(dir)
		if err != nil {
			return fmt.Errorf("sink %s: output directory: %w", s.cfg.Name, err)
		}
		if !st.IsDir() {
			return fmt.Errorf("sink %s: %s is not a directory", s.cfg.Name, dir)
		}
		probe, err := os.CreateTemp(dir, ".ripple-check-*")
		if err != nil {
			return fmt.Errorf("sink %s: output directory %s is not writable: %w", s.cfg.Name, dir, err)
		}
		probe.Close()
		os.Remove(probe.Name())
	}
	if s.cfg.NATSURL != "" {
		nc, err := nats.Connect(s.cfg.NATSURL, nats.Name("ripple check "+s.cfg.Name))
		if err != nil {
			return fmt.Errorf("sink %s: connect to %s: %w", s.cfg.Name, s.cfg.NATSURL, err)
		}
		defer nc.Close()
		js, err := nc.JetStream()
		if err == nil {
			_, err = js.AccountInfo(nats.Context(ctx))
		}
		if err != nil {
			return fmt.Errorf("sink %s: JetStream is not available on %s: %w", s.cfg.Name, s.cfg.NATSURL, err)
		}
	}
	return nil
}

var _ Pinger = (*Stream)(nil)
