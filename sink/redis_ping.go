package sink

import "context"

// Ping implements Pinger: it connects and sends PING.
func (r *Redis) Ping(ctx context.Context) error {
	if err := r.cfg.Validate(); err != nil {
		return err
	}
	c, err := r.connect(ctx)
	if err != nil {
		return err
	}
	return c.Close()
}

var _ Pinger = (*Redis)(nil)
