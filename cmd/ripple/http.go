package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/rippledb/ripple/internal/metrics"
	"github.com/rippledb/ripple/internal/pipeline"
)

// defaultHTTP is the default address of run's HTTP endpoint (config key
// http, flag --http, RIPPLE_HTTP) and of `ripple status --addr`.
const defaultHTTP = "127.0.0.1:9187"

// newHTTPHandler serves a pipeline's status and metrics:
//
//	/metrics  Prometheus metrics
//	/healthz  200 while the process is alive
//	/readyz   200 once the initial load is done and the pipeline streams, 503 otherwise
//	/status   the pipeline.StatusReport as JSON (what `ripple status` prints)
//	/debug/pprof/  Go's CPU, heap and goroutine profiles, for finding where
//	          time and memory go (the endpoint listens on loopback by default)
func newHTTPHandler(st *pipeline.Status, reg prometheus.Gatherer) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		ok, why := st.Ready()
		if !ok {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintf(w, "not ready: %s\n", why)
			return
		}
		fmt.Fprintf(w, "ready: %s\n", why)
	})
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(st.Report())
	})
	mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, "ripple: /status /metrics /healthz /readyz /debug/pprof/\n")
	})
	return mux
}

// observer is what `run` adds to a pipeline for its operators: the status
// and metrics the pipeline keeps, the HTTP endpoint serving them, and the
// snapshot progress display.
type observer struct {
	status  *pipeline.Status
	metrics *metrics.Metrics
	srv     *http.Server
	served  chan struct{} // closed when the server goroutine returns
}

// startObserver starts the HTTP endpoint on addr ("" disables it). An
// address that cannot be listened on is logged and skipped: replication
// matters more than its dashboard, and `ripple status` then says that
// nothing answers.
func startObserver(addr string) *observer {
	o := &observer{status: pipeline.NewStatus(), metrics: metrics.New()}
	if addr == "" {
		return o
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		slog.Warn("HTTP endpoint (status, metrics, health) not started; set http to a free address, or \"\" to disable it", "addr", addr, "err", err)
		return o
	}
	o.srv = &http.Server{Handler: newHTTPHandler(o.status, o.metrics.Registry), ReadHeaderTimeout: 10 * time.Second}
	o.served = make(chan struct{})
	go func() {
		defer close(o.served)
		if err := o.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			slog.Warn("HTTP endpoint stopped", "addr", addr, "err", err)
		}
	}()
	slog.Info("serving status and metrics", "addr", ln.Addr().String(), "paths", "/status /metrics /healthz /readyz")
	return o
}

// configure adds the observer to a pipeline configuration.
func (o *observer) configure(c pipeline.Config) pipeline.Config {
	c.Status, c.Metrics = o.status, o.metrics
	if isTerminal(os.Stderr) {
		if _, isJSON := slog.Default().Handler().(*slog.JSONHandler); !isJSON {
			c.ProgressBar = os.Stderr
		}
	}
	return c
}

// close stops the HTTP endpoint and waits for it.
func (o *observer) close() {
	if o.srv == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = o.srv.Shutdown(ctx)
	<-o.served
}
