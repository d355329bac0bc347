package main

import (
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

func writeFile(t *testing.T, dir, name, text string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

const goodConfig = `
source:
  dsn: postgres://postgres@127.0.0.1:5432/app
sinks:
  - name: main
    type: postgres
    dsn: postgres://postgres@127.0.0.1:5432/warehouse
views:
  - files: ["views/*.sql"]
`

func TestLoadConfigDefaultsAndViews(t *testing.T) {
	dir := t.TempDir()
	path := writeFile(t, dir, "ripple.yaml", goodConfig)
	writeFile(t, dir, "views/a.sql", "CREATE VIEW s.a AS SELECT 1 AS x FROM t;\nCREATE MATERIALIZED VIEW s.b AS SELECT 2 AS y FROM t;")
	writeFile(t, dir, "views/b.sql", "CREATE OR REPLACE VIEW c AS SELECT 3 AS z FROM t;")
	cfg, err := loadConfig(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Source.Slot != "ripple" || cfg.Source.Publication != "ripple" || cfg.StateDir != filepath.Join(dir, "ripple-state") {
		t.Errorf("defaults not applied: %+v", cfg)
	}
	defs, bySink, err := cfg.loadViews()
	if err != nil {
		t.Fatal(err)
	}
	if len(defs) != 3 || len(bySink["main"]) != 3 {
		t.Fatalf("got %d views, %v by sink", len(defs), bySink)
	}
	if got := defs[2].Name.String(); got != "public.c" {
		t.Errorf("unqualified view name = %s, want public.c", got)
	}
}

// Flags win over the environment, which wins over the file.
func TestLoadConfigPrecedence(t *testing.T) {
	dir := t.TempDir()
	path := writeFile(t, dir, "ripple.yaml", goodConfig+"state_dir: /from/file\n")
	t.Setenv("RIPPLE_SOURCE_DSN", "postgres://env/app")
	t.Setenv("RIPPLE_SOURCE_SLOT", "env_slot")
	t.Setenv("RIPPLE_STATE_DIR", "/from/env")
	flags := pflag.NewFlagSet("run", pflag.ContinueOnError)
	flags.String("source-dsn", "", "")
	flags.String("slot", "", "")
	flags.String("publication", "", "")
	flags.String("state-dir", "", "")
	if err := flags.Parse([]string{"--slot", "flag_slot"}); err != nil {
		t.Fatal(err)
	}
	cfg, err := loadConfig(path, flags)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Source.DSN != "postgres://env/app" {
		t.Errorf("dsn = %q, want the environment's", cfg.Source.DSN)
	}
	if cfg.Source.Slot != "flag_slot" {
		t.Errorf("slot = %q, want the flag's", cfg.Source.Slot)
	}
	if cfg.StateDir != "/from/env" {
		t.Errorf("state_dir = %q, want the environment's", cfg.StateDir)
	}
	if cfg.Source.Publication != "ripple" {
		t.Errorf("publication = %q, want the default", cfg.Source.Publication)
	}
}

func TestLoadConfigErrors(t *testing.T) {
	cases := []struct {
		name, text string
		want       []string
	}{
		{"unknown top-level key", goodConfig + "sate_dir: x\n", []string{"unknown key", "sate_dir"}},
		{"unknown nested key", strings.Replace(goodConfig, "    type: postgres", "    type: postgres\n    dns: x", 1), []string{"unknown key", "dns"}},
		{"every missing key at once", "sinks:\n  - type: postgres\nviews: []\n", []string{"source.dsn is required", "sinks[0].name is required", "sinks[0].dsn is required", "views: at least one"}},
		{"bad slot name", strings.Replace(goodConfig, "source:\n", "source:\n  slot: My-Slot\n", 1), []string{"source.slot", "My-Slot"}},
		{"unknown sink reference", goodConfig + "  - files: [x.sql]\n    sink: nope\n", []string{`views[1].sink "nope"`}},
		{"duplicate sink", strings.Replace(goodConfig, "views:", "  - name: main\n    type: postgres\n    dsn: x\nviews:", 1), []string{`"main" is used twice`}},
		{"yaml syntax", "source: [\n", []string{"ripple.yaml"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := writeFile(t, dir, "ripple.yaml", tc.text)
			_, err := loadConfig(path, nil)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
	if _, err := loadConfig(filepath.Join(t.TempDir(), "missing.yaml"), nil); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Errorf("missing file: %v", err)
	}
}

func TestLoadViewsErrors(t *testing.T) {
	dir := t.TempDir()
	path := writeFile(t, dir, "ripple.yaml", goodConfig)
	cfg, err := loadConfig(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := cfg.loadViews(); err == nil || !strings.Contains(err.Error(), "matches no file") {
		t.Errorf("empty glob: %v", err)
	}
	writeFile(t, dir, "views/a.sql", "CREATE VIEW v AS SELECT 1 AS x FROM t;")
	writeFile(t, dir, "views/b.sql", "CREATE VIEW public.v AS SELECT 2 AS x FROM t;")
	if _, _, err := cfg.loadViews(); err == nil || !strings.Contains(err.Error(), "defined twice") {
		t.Errorf("duplicate view: %v", err)
	}
}

func TestLoadConfigSourceHealthKeys(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "views/a.sql", "CREATE VIEW a AS SELECT 1 AS x FROM t;")
	cfg, err := loadConfig(writeFile(t, dir, "ripple.yaml", goodConfig), nil)
	if err != nil {
		t.Fatal(err)
	}
	if c := cfg.Source.cdcConfig(); c.HeartbeatInterval != 10*time.Second || c.MaxRetainedWAL != 1<<30 {
		t.Errorf("defaults: heartbeat %v, max retained %d; want 10s, 1GiB", c.HeartbeatInterval, c.MaxRetainedWAL)
	}
	set := strings.Replace(goodConfig, "source:\n", "source:\n  heartbeat_interval: 0\n  max_retained_wal: 0\n", 1)
	cfg, err = loadConfig(writeFile(t, dir, "off.yaml", set), nil)
	if err != nil {
		t.Fatal(err)
	}
	if c := cfg.Source.cdcConfig(); c.HeartbeatInterval >= 0 || c.MaxRetainedWAL >= 0 {
		t.Errorf("0 must disable both: heartbeat %v, max retained %d", c.HeartbeatInterval, c.MaxRetainedWAL)
	}
	set = strings.Replace(goodConfig, "source:\n", "source:\n  heartbeat_interval: 2s\n  max_retained_wal: 512 MB\n", 1)
	cfg, err = loadConfig(writeFile(t, dir, "set.yaml", set), nil)
	if err != nil {
		t.Fatal(err)
	}
	if c := cfg.Source.cdcConfig(); c.HeartbeatInterval != 2*time.Second || c.MaxRetainedWAL != 512<<20 {
		t.Errorf("set: heartbeat %v, max retained %d", c.HeartbeatInterval, c.MaxRetainedWAL)
	}
	bad := strings.Replace(goodConfig, "source:\n", "source:\n  heartbeat_interval: -1s\n  max_retained_wal: 1 parsec\n", 1)
	_, err = loadConfig(writeFile(t, dir, "bad.yaml", bad), nil)
	if err == nil || !strings.Contains(err.Error(), "source.heartbeat_interval") || !strings.Contains(err.Error(), `source.max_retained_wal: size "1 parsec"`) {
		t.Errorf("bad values: %v", err)
	}
}

func TestLoadConfigStreamingKeys(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "views/a.sql", "CREATE VIEW a AS SELECT 1 AS x FROM t;")
	cfg, err := loadConfig(writeFile(t, dir, "ripple.yaml", goodConfig), nil)
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.Source.Streaming || cfg.Source.cdcConfig().DecodingWorkMem != "" {
		t.Errorf("defaults: streaming %v, logical_decoding_work_mem %q; want on and the server's", cfg.Source.Streaming, cfg.Source.cdcConfig().DecodingWorkMem)
	}
	set := strings.Replace(goodConfig, "source:\n", "source:\n  streaming: false\n  logical_decoding_work_mem: 4MB\n", 1)
	cfg, err = loadConfig(writeFile(t, dir, "set.yaml", set), nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Source.Streaming || cfg.Source.cdcConfig().DecodingWorkMem != "4096kB" {
		t.Errorf("set: streaming %v, logical_decoding_work_mem %q; want off and 4096kB", cfg.Source.Streaming, cfg.Source.cdcConfig().DecodingWorkMem)
	}
	t.Setenv("RIPPLE_SOURCE_STREAMING", "false")
	if cfg, err = loadConfig(writeFile(t, dir, "env.yaml", goodConfig), nil); err != nil || cfg.Source.Streaming {
		t.Errorf("RIPPLE_SOURCE_STREAMING=false: streaming %v, err %v", cfg != nil && cfg.Source.Streaming, err)
	}
	for _, v := range []string{"32kB", "lots"} {
		bad := strings.Replace(goodConfig, "source:\n", "source:\n  logical_decoding_work_mem: "+v+"\n", 1)
		_, err = loadConfig(writeFile(t, dir, "bad.yaml", bad), nil)
		if err == nil || !strings.Contains(err.Error(), "source.logical_decoding_work_mem") {
			t.Errorf("logical_decoding_work_mem %s: %v", v, err)
		}
	}
}

func TestParseSize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"0", 0, true}, {"1048576", 1 << 20, true}, {"1GB", 1 << 30, true}, {"1 gb", 1 << 30, true},
		{"64kB", 64 << 10, true}, {"2MiB", 2 << 20, true}, {"3TB", 3 << 40, true}, {"10B", 10, true},
		{"", 0, false}, {"GB", 0, false}, {"1.5GB", 0, false}, {"-1GB", 0, false}, {"1XB", 0, false},
		{"99999999999TB", 0, false},
	} {
		got, err := parseSize(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("parseSize(%q) = %d, %v; want %d, ok %v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

// TestLoadConfigMemoryBudgets: table_memory and operator_memory default to
// 1GB, "0" keeps everything on disk (a negative pipeline budget), and a bad
// size names its key.
func TestLoadConfigMemoryBudgets(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "views/a.sql", "CREATE VIEW a AS SELECT 1 AS x FROM t;")
	cfg, err := loadConfig(writeFile(t, dir, "ripple.yaml", goodConfig), nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.tableMemory() != 1<<30 || cfg.operatorMemory() != 1<<30 {
		t.Errorf("defaults: table %d, operator %d; want 1GiB each", cfg.tableMemory(), cfg.operatorMemory())
	}
	cfg, err = loadConfig(writeFile(t, dir, "disk.yaml", goodConfig+"table_memory: 0\noperator_memory: 0\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.tableMemory() >= 0 || cfg.operatorMemory() >= 0 {
		t.Errorf("0 must keep all on disk: table %d, operator %d", cfg.tableMemory(), cfg.operatorMemory())
	}
	cfg, err = loadConfig(writeFile(t, dir, "set.yaml", goodConfig+"operator_memory: 256MB\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.operatorMemory() != 256<<20 || cfg.tableMemory() != 1<<30 {
		t.Errorf("set: operator %d, table %d", cfg.operatorMemory(), cfg.tableMemory())
	}
	_, err = loadConfig(writeFile(t, dir, "bad.yaml", goodConfig+"operator_memory: lots\n"), nil)
	if err == nil || !strings.Contains(err.Error(), "operator_memory:") {
		t.Errorf("bad operator_memory: %v", err)
	}
}

// TestLoadConfigMemoryLimit: memory_limit is unset by default, sets the Go
// runtime's soft memory limit while ripple runs (also from
// RIPPLE_MEMORY_LIMIT), and a bad or too small size names its key.
func TestLoadConfigMemoryLimit(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "views/a.sql", "CREATE VIEW a AS SELECT 1 AS x FROM t;")
	cfg, err := loadConfig(writeFile(t, dir, "ripple.yaml", goodConfig), nil)
	if err != nil {
		t.Fatal(err)
	}
	before := debug.SetMemoryLimit(-1)
	if cfg.memoryLimit() != 0 {
		t.Errorf("default memory_limit %d, want none", cfg.memoryLimit())
	}
	applyMemoryLimit(cfg)()
	if got := debug.SetMemoryLimit(-1); got != before {
		t.Errorf("an unset memory_limit changed the limit from %d to %d", before, got)
	}
	cfg, err = loadConfig(writeFile(t, dir, "set.yaml", goodConfig+"memory_limit: 3GB\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	restore := applyMemoryLimit(cfg)
	if got := debug.SetMemoryLimit(-1); got != 3<<30 {
		t.Errorf("memory_limit 3GB set the limit to %d", got)
	}
	restore()
	if got := debug.SetMemoryLimit(-1); got != before {
		t.Errorf("the limit was not put back: %d, was %d", got, before)
	}
	t.Setenv("RIPPLE_MEMORY_LIMIT", "512MB")
	cfg, err = loadConfig(writeFile(t, dir, "env.yaml", goodConfig), nil)
	if err != nil || cfg.memoryLimit() != 512<<20 {
		t.Errorf("RIPPLE_MEMORY_LIMIT=512MB: %d, %v", cfg.memoryLimit(), err)
	}
	// 512MB is below the default budgets (1GB each), which bound memory
	// only when the state can move to disk (state_dir defaults to one).
	if !cfg.belowBudgets(cfg.memoryLimit()) {
		t.Errorf("with the default state_dir %q the 512MB limit is not reported below the default 1GB budgets", cfg.StateDir)
	}
	cfg.StateDir = ""
	if cfg.belowBudgets(cfg.memoryLimit()) {
		t.Errorf("without state_dir the 512MB limit is reported below the budgets")
	}
	cfg.StateDir = dir
	cfg.TableMemory, cfg.OperatorMemory = "128MB", "128MB"
	if cfg.belowBudgets(cfg.memoryLimit()) {
		t.Errorf("512MB reported below budgets of 128MB + 128MB")
	}
	for in, want := range map[string]string{"lots": "memory_limit: size", "100MB": "memory_limit 100MB is below 256MB"} {
		t.Setenv("RIPPLE_MEMORY_LIMIT", in)
		_, err = loadConfig(writeFile(t, dir, "bad.yaml", goodConfig), nil)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("memory_limit %s: %v, want %q", in, err, want)
		}
	}
}
