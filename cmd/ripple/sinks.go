package main

import (
	"fmt"
	"log/slog"
	"sort"
	"strings"

	"github.com/rippledb/ripple/sink"
)

// sinkType describes one kind of sink: which config keys it needs and how
// to build it. Adding a sink type is one entry here.
type sinkType struct {
	needs []string // required keys besides name and type
	build func(sc SinkConfig) sink.Sink
}

var sinkTypes = map[string]sinkType{
	"postgres": {needs: []string{"dsn"}, build: func(sc SinkConfig) sink.Sink {
		return sink.NewPostgres(sink.PostgresConfig{Name: sc.Name, DSN: sc.DSN})
	}},
	"mysql": {needs: []string{"dsn"}, build: func(sc SinkConfig) sink.Sink {
		return sink.NewMySQL(sink.MySQLConfig{Name: sc.Name, DSN: sc.DSN, Logger: slog.Default()})
	}},
	"redis": {needs: []string{"dsn"}, build: func(sc SinkConfig) sink.Sink {
		return sink.NewRedis(sink.RedisConfig{Name: sc.Name, DSN: sc.DSN, Prefix: sc.Prefix, Logger: slog.Default()})
	}},
	"stream": {needs: []string{"path|nats"}, build: func(sc SinkConfig) sink.Sink {
		return sink.NewStream(sink.StreamConfig{Name: sc.Name, Path: sc.Path, NATSURL: sc.NATS, Subject: sc.Subject, StreamName: sc.Stream})
	}},
}

func sinkTypeNames() string {
	names := make([]string, 0, len(sinkTypes))
	for n := range sinkTypes {
		names = append(names, n)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// validateSink reports the problems of sinks[i].
func validateSink(i int, sc SinkConfig) []string {
	var problems []string
	typ := sc.Type
	if typ == "postgresql" {
		typ = "postgres"
	}
	st, ok := sinkTypes[typ]
	switch {
	case sc.Type == "":
		return []string{fmt.Sprintf("sinks[%d].type is required (%s)", i, sinkTypeNames())}
	case !ok:
		return []string{fmt.Sprintf("sinks[%d].type %q is not supported (%s)", i, sc.Type, sinkTypeNames())}
	}
	values := map[string]string{"dsn": sc.DSN, "path": sc.Path, "nats": sc.NATS}
	for _, k := range st.needs {
		if strings.Contains(k, "|") { // one of several
			any := false
			for _, alt := range strings.Split(k, "|") {
				any = any || values[alt] != ""
			}
			if !any {
				problems = append(problems, fmt.Sprintf("sinks[%d] (%s) needs one of %s", i, sc.Type, strings.ReplaceAll(k, "|", ", ")))
			}
			continue
		}
		if values[k] == "" {
			problems = append(problems, fmt.Sprintf("sinks[%d].%s is required", i, k))
		}
	}
	return problems
}

// newSink builds the sink sc describes (validated by loadConfig).
func newSink(sc SinkConfig) sink.Sink {
	typ := sc.Type
	if typ == "postgresql" {
		typ = "postgres"
	}
	return sinkTypes[typ].build(sc)
}
