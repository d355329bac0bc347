package pipeline

import (
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/rippledb/ripple/dataflow"
)

// crashPoint kills the process with SIGKILL when the crash-test hook
// RIPPLE_TEST_CRASH_AT=point[:n] names this point (at its n-th visit,
// default 1). Only the crash tests set it: it lets them kill ripple at
// exact places (during the snapshot, between a sink commit and the
// checkpoint, between a checkpoint and its sync) besides random ones.
// Points: snapshot, loaded, sink-committed, checkpoint-written, synced,
// part (a part of a large transaction went through the graph).
func crashPoint(name string) {
	crash.once.Do(crash.parse)
	if crash.point != name {
		return
	}
	crash.mu.Lock()
	crash.seen++
	hit := crash.seen == crash.n
	crash.mu.Unlock()
	if hit {
		syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {} // the signal is on its way
	}
}

type crashHook struct {
	once  sync.Once
	point string
	n     int
	mu    sync.Mutex
	seen  int
}

var crash crashHook

func (c *crashHook) parse() {
	v := os.Getenv("RIPPLE_TEST_CRASH_AT")
	if v == "" {
		return
	}
	point, count, _ := strings.Cut(v, ":")
	c.point, c.n = point, 1
	if n, err := strconv.Atoi(count); err == nil && n > 0 {
		c.n = n
	}
}

// setTestReduceCache applies the tests' RIPPLE_TEST_REDUCE_CACHE_GROUPS:
// a small aggregate group cache (dataflow.ReduceCacheGroups), so that the
// tests' aggregates rebuild evicted groups from the spill store.
func setTestReduceCache() {
	if n, _ := strconv.Atoi(os.Getenv("RIPPLE_TEST_REDUCE_CACHE_GROUPS")); n > 0 {
		dataflow.ReduceCacheGroups = n
	}
}

// testPartChanges is the crash tests' RIPPLE_TEST_PART_CHANGES: the size of
// the parts large transactions arrive in (cdc.Config.PartChanges), small
// so that the tests' transactions are parted; 0 when unset.
func testPartChanges() int {
	n, _ := strconv.Atoi(os.Getenv("RIPPLE_TEST_PART_CHANGES"))
	return n
}
