package sink

import (
	"testing"

	"github.com/rippledb/ripple/internal/row"
)

func TestStepApplied(t *testing.T) {
	cases := []struct {
		lsn, progress row.LSN
		tick          bool
		want          bool
	}{
		{lsn: 10, progress: 20, want: true},
		{lsn: 20, progress: 20, want: true},
		{lsn: 30, progress: 20, want: false},
		{lsn: 10, progress: 20, tick: true, want: true},
		{lsn: 20, progress: 20, tick: true, want: false}, // a tick at the progress is new
		{lsn: 30, progress: 20, tick: true, want: false},
	}
	for _, c := range cases {
		if got := (Step{LSN: c.lsn, Tick: c.tick}).Applied(c.progress); got != c.want {
			t.Errorf("step at %s (tick %v), progress %s: Applied = %v, want %v", c.lsn, c.tick, c.progress, got, c.want)
		}
	}
}
