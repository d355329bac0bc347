package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"github.com/spf13/viper"

	"github.com/rippledb/ripple/cdc"
	"github.com/rippledb/ripple/internal/row"
	"github.com/rippledb/ripple/planner"
)

// Config is the YAML configuration file. Every scalar key can also be set
// by an environment variable (RIPPLE_ + the key path in upper case with
// "." → "_", e.g. RIPPLE_SOURCE_DSN) and some by flags; flags win over the
// environment, which wins over the file.
type Config struct {
	Source   SourceConfig  `mapstructure:"source"`
	Sinks    []SinkConfig  `mapstructure:"sinks"`
	Views    []ViewsConfig `mapstructure:"views"`
	StateDir string        `mapstructure:"state_dir"`
	// GroupTransactions > 1 lets one sink transaction hold up to that many
	// whole, consecutive source transactions when ripple is behind; 0 or 1
	// keeps one sink transaction per source transaction.
	GroupTransactions int `mapstructure:"group_transactions"`
	// TableMemory bounds the memory of ripple's copies of the source
	// tables: past it, the largest move to disk under state_dir and are
	// read from there (a size as in max_retained_wal; default 1GB; "0"
	// keeps every table with a replica identity key on disk).
	TableMemory string `mapstructure:"table_memory"`
	// OperatorMemory bounds the memory of the dataflow graph's join
	// arrangements (joins, EXISTS/IN/NOT IN): past it, the largest move to
	// a scratch store under state_dir/spill (same sizes; default 1GB; "0"
	// keeps every arrangement on disk).
	OperatorMemory string `mapstructure:"operator_memory"`
	// MemoryLimit is a soft limit on the memory of the whole process, the
	// Go runtime's (runtime/debug.SetMemoryLimit, as GOMEMLIMIT sets it):
	// near it the garbage collector runs harder rather than letting the
	// heap grow to twice what is live. Unset by default, when GOMEMLIMIT
	// applies as usual; it takes precedence over GOMEMLIMIT.
	MemoryLimit string `mapstructure:"memory_limit"`
	// Tick is how often views with temporal filters (now() in WHERE) are
	// brought up to the present while the source is idle; default 1s.
	Tick time.Duration `mapstructure:"tick"`
	// HTTP is the address of run's /status, /metrics, /healthz and /readyz
	// endpoint; default 127.0.0.1:9187, "" disables it.
	HTTP string `mapstructure:"http"`

	dir string // directory of the config file; globs are relative to it
}

// SourceConfig is the PostgreSQL database ripple replicates from.
type SourceConfig struct {
	DSN         string `mapstructure:"dsn"`         // required
	Slot        string `mapstructure:"slot"`        // default "ripple"
	Publication string `mapstructure:"publication"` // default "ripple"
	// HeartbeatInterval is how often ripple writes a heartbeat message into
	// the source's WAL so that the slot advances when the published tables
	// are idle; a Go duration ("10s"), default 10s, "0" disables.
	HeartbeatInterval time.Duration `mapstructure:"heartbeat_interval"`
	// MaxRetainedWAL is the WAL the slot may retain on the source before
	// ripple warns (log, metric, /status): a size such as "1GB" (kB, MB, GB,
	// TB are powers of 1024, as in postgresql.conf) or a number of bytes;
	// default 1GB, "0" disables the warning.
	MaxRetainedWAL string `mapstructure:"max_retained_wal"`
	// Streaming lets PostgreSQL (14 and later) stream a large transaction
	// while it is in progress; ripple spools it under state_dir/stream
	// until it commits. Default true; false: each transaction is sent
	// after its commit, and PostgreSQL spills large ones to its own disk.
	Streaming bool `mapstructure:"streaming"`
	// LogicalDecodingWorkMem sets logical_decoding_work_mem for ripple's
	// replication connection: the memory of decoded changes PostgreSQL
	// holds per walsender before it streams (or spills) the largest
	// transaction. A size as in max_retained_wal, at least 64kB; default:
	// the server's setting (64MB unless changed).
	LogicalDecodingWorkMem string `mapstructure:"logical_decoding_work_mem"`
}

// cdcConfig is the cdc.Config of the source section. Call it on a
// validated Config.
func (s SourceConfig) cdcConfig() cdc.Config {
	c := cdc.Config{DSN: s.DSN, Slot: s.Slot, Publication: s.Publication, HeartbeatInterval: s.HeartbeatInterval}
	if c.HeartbeatInterval == 0 {
		c.HeartbeatInterval = -1 // "0" disables; cdc's zero means its default
	}
	c.MaxRetainedWAL, _ = parseSize(s.MaxRetainedWAL)
	if n, _ := parseSize(s.LogicalDecodingWorkMem); n > 0 {
		c.DecodingWorkMem = strconv.FormatInt(n/1024, 10) + "kB"
	}
	if c.MaxRetainedWAL == 0 {
		c.MaxRetainedWAL = -1
	}
	return c
}

// parseSize parses a size as postgresql.conf writes them: a number of
// bytes, or a number followed by B, kB, MB, GB or TB (powers of 1024; the
// IEC spellings KiB, MiB, GiB, TiB are accepted too). Case and a space
// before the unit do not matter.
func parseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	i := 0
	for i < len(t) && t[i] >= '0' && t[i] <= '9' {
		i++
	}
	if i == 0 {
		return 0, fmt.Errorf("size %q must be a number of bytes or a number with a unit (kB, MB, GB, TB)", s)
	}
	n, err := strconv.ParseInt(t[:i], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("size %q: %w", s, err)
	}
	unit := strings.ToLower(strings.TrimSpace(t[i:]))
	shift := map[string]uint{"": 0, "b": 0, "kb": 10, "kib": 10, "mb": 20, "mib": 20, "gb": 30, "gib": 30, "tb": 40, "tib": 40}
	sh, ok := shift[unit]
	if !ok {
		return 0, fmt.Errorf("size %q: unknown unit %q (use kB, MB, GB or TB)", s, t[i:])
	}
	if n > (1<<63-1)>>sh {
		return 0, fmt.Errorf("size %q is too large", s)
	}
	return n << sh, nil
}

// SinkConfig is one sink. Which keys apply depends on the type; see
// sinkTypes in sinks.go.
type SinkConfig struct {
	Name string `mapstructure:"name"` // required, unique
	Type string `mapstructure:"type"` // postgres, redis, mysql, stream
	DSN  string `mapstructure:"dsn"`  // postgres, redis, mysql: connection string
	// Prefix is the key prefix of the redis sink (default "ripple:").
	Prefix string `mapstructure:"prefix"`
	// Path is the stream sink's output: "-" for stdout or a file.
	Path string `mapstructure:"path"`
	// NATS, Subject and Stream send the stream sink's events to NATS
	// JetStream as well (or instead of Path).
	NATS    string `mapstructure:"nats"`
	Subject string `mapstructure:"subject"`
	Stream  string `mapstructure:"stream"`
}

// ViewsConfig assigns view files to a sink.
type ViewsConfig struct {
	Files []string `mapstructure:"files"` // globs relative to the config file
	Sink  string   `mapstructure:"sink"`  // sink name; may be omitted when there is one sink
}

// scalar keys that the environment and flags may set.
var envKeys = []string{"source.dsn", "source.slot", "source.publication", "source.heartbeat_interval", "source.max_retained_wal", "source.streaming", "source.logical_decoding_work_mem", "state_dir", "group_transactions", "table_memory", "operator_memory", "memory_limit", "tick", "http"}

// loadConfig reads the config file at path (may be "" when everything comes
// from the environment and flags), applies defaults and validates it,
// reporting every problem at once.
func loadConfig(path string, flags *pflag.FlagSet) (*Config, error) {
	v := viper.New()
	v.SetEnvPrefix("RIPPLE")
	v.SetEnvKeyReplacer(strings.NewReplacer(".", "_"))
	for _, k := range envKeys {
		_ = v.BindEnv(k)
	}
	v.SetDefault("source.slot", "ripple")
	v.SetDefault("source.publication", "ripple")
	v.SetDefault("source.heartbeat_interval", cdc.DefaultHeartbeatInterval.String())
	v.SetDefault("tick", "1s")
	v.SetDefault("source.max_retained_wal", "1GB")
	v.SetDefault("source.streaming", true)
	v.SetDefault("state_dir", "./ripple-state")
	v.SetDefault("table_memory", "1GB")
	v.SetDefault("operator_memory", "1GB")
	v.SetDefault("http", defaultHTTP)
	bind := map[string]string{"source-dsn": "source.dsn", "slot": "source.slot", "publication": "source.publication", "state-dir": "state_dir", "http": "http"}
	if flags != nil {
		for flag, key := range bind {
			if f := flags.Lookup(flag); f != nil {
				_ = v.BindPFlag(key, f)
			}
		}
	}
	cfg := &Config{}
	if path != "" {
		v.SetConfigFile(path)
		v.SetConfigType("yaml")
		if err := v.ReadInConfig(); err != nil {
			var nf viper.ConfigFileNotFoundError
			if errors.As(err, &nf) || os.IsNotExist(errors.Unwrap(err)) {
				return nil, fmt.Errorf("config %s: file not found", path)
			}
			if _, serr := os.Stat(path); serr != nil {
				return nil, fmt.Errorf("config %s: %w", path, serr)
			}
			return nil, fmt.Errorf("config %s: %w", path, err)
		}
		abs, _ := filepath.Abs(path)
		cfg.dir = filepath.Dir(abs)
	} else {
		cfg.dir, _ = os.Getwd()
	}
	if err := v.UnmarshalExact(cfg); err != nil {
		return nil, fmt.Errorf("config %s: %s", displayPath(path), cleanDecodeError(err))
	}
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("config %s: %w", displayPath(path), err)
	}
	if cfg.StateDir != "" && !filepath.IsAbs(cfg.StateDir) { // relative to the config file, like view globs
		cfg.StateDir = filepath.Join(cfg.dir, cfg.StateDir)
	}
	for i := range cfg.Sinks { // file paths are relative to the config file, like view globs
		if p := cfg.Sinks[i].Path; p != "" && p != "-" && !filepath.IsAbs(p) {
			cfg.Sinks[i].Path = filepath.Join(cfg.dir, p)
		}
	}
	return cfg, nil
}

func displayPath(p string) string {
	if p == "" {
		return "(environment and flags)"
	}
	return p
}

// cleanDecodeError turns mapstructure's error into one line per problem.
func cleanDecodeError(err error) string {
	msg := err.Error()
	msg = strings.ReplaceAll(msg, "decoding failed due to the following error(s):\n\n", "")
	msg = strings.ReplaceAll(msg, "has invalid keys:", "unknown key:")
	msg = strings.ReplaceAll(msg, "'' ", "top level: ")
	return strings.TrimSpace(msg) + " (known keys: source.dsn, source.slot, source.publication, source.heartbeat_interval, source.max_retained_wal, source.streaming, source.logical_decoding_work_mem, sinks[].name, sinks[].type, sinks[].dsn, sinks[].prefix, sinks[].path, sinks[].nats, sinks[].subject, sinks[].stream, views[].files, views[].sink, state_dir, group_transactions, table_memory, operator_memory, memory_limit, tick, http)"
}

func (c *Config) validate() error {
	var problems []string
	if c.Source.DSN == "" {
		problems = append(problems, "source.dsn is required (or set RIPPLE_SOURCE_DSN)")
	}
	if c.Source.Slot == "" || !validSlotName(c.Source.Slot) {
		problems = append(problems, fmt.Sprintf("source.slot %q must be lower-case letters, digits and underscores", c.Source.Slot))
	}
	if c.Source.Publication == "" {
		problems = append(problems, "source.publication must not be empty")
	}
	if c.GroupTransactions < 0 {
		problems = append(problems, fmt.Sprintf("group_transactions %d must be 0 (strict) or more", c.GroupTransactions))
	}
	if _, err := parseSize(c.TableMemory); err != nil {
		problems = append(problems, "table_memory: "+err.Error()+" (0 keeps the tables on disk)")
	}
	if _, err := parseSize(c.OperatorMemory); err != nil {
		problems = append(problems, "operator_memory: "+err.Error()+" (0 keeps the join arrangements on disk)")
	}
	if c.MemoryLimit != "" {
		n, err := parseSize(c.MemoryLimit)
		switch {
		case err != nil:
			problems = append(problems, "memory_limit: "+err.Error()+" (leave it unset for no limit)")
		case n < minMemoryLimit:
			problems = append(problems, fmt.Sprintf("memory_limit %s is below %dMB, less than ripple needs besides its budgets (leave it unset for no limit)", c.MemoryLimit, minMemoryLimit>>20))
		}
	}
	if c.Tick <= 0 {
		problems = append(problems, fmt.Sprintf("tick %s must be positive", c.Tick))
	}
	if c.Source.HeartbeatInterval < 0 {
		problems = append(problems, fmt.Sprintf("source.heartbeat_interval %s must not be negative (0 disables heartbeats)", c.Source.HeartbeatInterval))
	}
	if _, err := parseSize(c.Source.MaxRetainedWAL); err != nil {
		problems = append(problems, "source.max_retained_wal: "+err.Error()+" (0 disables the warning)")
	}
	if m := c.Source.LogicalDecodingWorkMem; m != "" {
		if n, err := parseSize(m); err != nil {
			problems = append(problems, "source.logical_decoding_work_mem: "+err.Error())
		} else if n < 64<<10 {
			problems = append(problems, fmt.Sprintf("source.logical_decoding_work_mem %q must be at least 64kB (PostgreSQL's minimum)", m))
		}
	}
	if len(c.Sinks) == 0 {
		problems = append(problems, "sinks: at least one sink is required")
	}
	names := map[string]bool{}
	for i, s := range c.Sinks {
		switch {
		case s.Name == "":
			problems = append(problems, fmt.Sprintf("sinks[%d].name is required", i))
		case names[s.Name]:
			problems = append(problems, fmt.Sprintf("sinks[%d].name %q is used twice", i, s.Name))
		}
		names[s.Name] = true
		problems = append(problems, validateSink(i, s)...)
	}
	if c.HTTP != "" {
		if _, _, err := net.SplitHostPort(c.HTTP); err != nil {
			problems = append(problems, fmt.Sprintf("http %q must be host:port, e.g. 127.0.0.1:9187 (or \"\" to disable the endpoint)", c.HTTP))
		}
	}
	if len(c.Views) == 0 {
		problems = append(problems, "views: at least one entry with files is required")
	}
	for i, vc := range c.Views {
		if len(vc.Files) == 0 {
			problems = append(problems, fmt.Sprintf("views[%d].files is required", i))
		}
		switch {
		case vc.Sink == "" && len(c.Sinks) > 1:
			problems = append(problems, fmt.Sprintf("views[%d].sink is required when there are several sinks", i))
		case vc.Sink != "" && !names[vc.Sink]:
			problems = append(problems, fmt.Sprintf("views[%d].sink %q is not a configured sink", i, vc.Sink))
		}
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}

func validSlotName(s string) bool {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_') {
			return false
		}
	}
	return len(s) <= 63
}

// viewFiles expands the globs of one views entry, relative to the config.
func (c *Config) viewFiles(vc ViewsConfig) ([]string, error) {
	var files []string
	for _, pattern := range vc.Files {
		if !filepath.IsAbs(pattern) {
			pattern = filepath.Join(c.dir, pattern)
		}
		m, err := filepath.Glob(pattern)
		if err != nil {
			return nil, fmt.Errorf("views: bad glob %q: %w", pattern, err)
		}
		if len(m) == 0 {
			return nil, fmt.Errorf("views: %q matches no file", pattern)
		}
		files = append(files, m...)
	}
	sort.Strings(files)
	return files, nil
}

// loadViews parses every view file and returns the definitions and, per
// sink, the views it holds.
func (c *Config) loadViews() ([]planner.ViewDef, map[string][]row.TableName, error) {
	var defs []planner.ViewDef
	bySink := map[string][]row.TableName{}
	seen := map[row.TableName]string{}
	parsed := map[string][]planner.ViewDef{} // a file may feed several sinks
	for _, vc := range c.Views {
		sinkName := vc.Sink
		if sinkName == "" {
			sinkName = c.Sinks[0].Name
		}
		files, err := c.viewFiles(vc)
		if err != nil {
			return nil, nil, err
		}
		for _, f := range files {
			if ds, ok := parsed[f]; ok {
				for _, d := range ds {
					bySink[sinkName] = appendUnique(bySink[sinkName], d.Name)
				}
				continue
			}
			text, err := os.ReadFile(f)
			if err != nil {
				return nil, nil, fmt.Errorf("read view file: %w", err)
			}
			rel, _ := filepath.Rel(c.dir, f)
			ds, err := planner.ParseViews(rel, string(text))
			if err != nil {
				return nil, nil, err
			}
			for _, d := range ds {
				if prev, dup := seen[d.Name]; dup {
					return nil, nil, fmt.Errorf("%s: view %s is defined twice (also in %s)", rel, d.Name, prev)
				}
				seen[d.Name] = rel
				defs = append(defs, d)
				bySink[sinkName] = appendUnique(bySink[sinkName], d.Name)
			}
			parsed[f] = ds
		}
	}
	return defs, bySink, nil
}

func appendUnique(names []row.TableName, n row.TableName) []row.TableName {
	for _, m := range names {
		if m == n {
			return names
		}
	}
	return append(names, n)
}

// tableMemory is pipeline.Config.TableMemory for the table_memory key of a
// validated Config: "0" (every table on disk) becomes negative.
func (c *Config) tableMemory() int64 { return memoryBudget(c.TableMemory) }

// operatorMemory is pipeline.Config.OperatorMemory for the operator_memory
// key, likewise.
func (c *Config) operatorMemory() int64 { return memoryBudget(c.OperatorMemory) }

// minMemoryLimit is the smallest memory_limit accepted: the replication
// queue, pebble's caches and memtables and the runtime take about this
// much before any table or arrangement.
const minMemoryLimit = 256 << 20

// memoryLimit is the memory_limit key in bytes, 0 when unset.
func (c *Config) memoryLimit() int64 {
	n, _ := parseSize(c.MemoryLimit)
	return n
}

// applyMemoryLimit sets the process's soft memory limit from memory_limit
// and returns what it was, for the caller to put back (0: nothing set). A
// limit below the two budgets is allowed, but logged when there is a
// state_dir (belowBudgets): the collector then runs often, for nothing
// once the live heap passes it.
func applyMemoryLimit(c *Config) (restore func()) {
	n := c.memoryLimit()
	if n <= 0 {
		return func() {}
	}
	prev := debug.SetMemoryLimit(n)
	if c.belowBudgets(n) {
		slog.Warn("memory_limit is below table_memory plus operator_memory: the garbage collector will run often; lower the budgets or raise the limit",
			"memory_limit", c.MemoryLimit, "table_memory", c.TableMemory, "operator_memory", c.OperatorMemory)
	} else {
		slog.Info("process memory limit set", "memory_limit", c.MemoryLimit)
	}
	return func() { debug.SetMemoryLimit(prev) }
}

// belowBudgets reports whether a memory limit of n bytes is below what the
// state may hold in memory. Without a state_dir nothing moves to disk and
// the two budgets bound nothing, so there is nothing to compare.
func (c *Config) belowBudgets(n int64) bool {
	if c.StateDir == "" {
		return false
	}
	return n < max(c.tableMemory(), 0)+max(c.operatorMemory(), 0)
}

func memoryBudget(size string) int64 {
	n, _ := parseSize(size)
	if n == 0 {
		return -1
	}
	return n
}
