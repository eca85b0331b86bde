// Package functions registers Strata's functions with the Functions Framework for Go: one
// function per operation of the route table (functions/internal/httpapi), all deployed from
// one source zip and told apart by their entry point, which is the function's name.
//
// Deployed, the framework serves the one function named by FUNCTION_TARGET at "/" for every
// path and method; that function answers only its own routes, with objectstore's 404 or
// 405 for anything else.
//
// # Start-up
//
// The framework offers no hook between registration and serving. So that a misconfigured
// deployment fails at once instead of answering 500 to every request, init validates the
// configuration when FUNCTION_TARGET names one of these functions and exits the process
// with a log line naming the bad variable. Cloud Run then never sees the instance become
// ready and keeps serving the previous revision. Validation reads only the environment (and
// the key files STRATA_AUTH_KEYS names); it opens no connection. The private functions
// (cleanup, recover) also need their caller's OIDC identity (STRATA_PUSH_* or
// STRATA_SCHEDULER_*), unless STRATA_INVOKER_AUTH=none: each verifies that its caller's
// Google-signed token carries it (functions/internal/invoker), on top of Cloud Run's
// ingress and IAM.
//
// The backends and their clients are built once per process, at the first request, and
// shared by every later one. Should that build fail (a backend unreachable at cold start),
// the request gets a 500 and the next request tries again.
package functions

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/GoogleCloudPlatform/functions-framework-go/functions"

	"github.com/stratastore/strata/functions/internal/config"
	"github.com/stratastore/strata/functions/internal/httpapi"
	"github.com/stratastore/strata/functions/internal/logging"
	"github.com/stratastore/strata/functions/internal/runtime"
)

func init() {
	for _, f := range httpapi.Functions() {
		functions.HTTP(f.Name, handler(f.Name))
	}
	if target := os.Getenv("FUNCTION_TARGET"); httpapi.IsFunction(target) {
		cfg, err := config.FromEnv()
		if err == nil {
			err = cfg.CheckFunction(target)
		}
		if err != nil {
			startupFailure(target, err)
		}
		startupConfig = &cfg
		go flushOnTerm()
	}
}

// flushOnTerm waits for SIGTERM, Cloud Run's notice that the instance is going away (it has
// 10 seconds), exports what telemetry the instance holds and writes out the buffered log
// lines, then lets the signal end the process as it would have.
func flushOnTerm() {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM)
	<-sig
	if in := current.Load(); in != nil && in.rt != nil {
		ctx, cancel := context.WithTimeout(context.Background(), termFlushTimeout)
		if err := in.rt.Telemetry.Shutdown(ctx); err != nil {
			logging.New(os.Stderr, slog.LevelInfo).Warn("telemetry flush at shutdown failed", "err", err.Error())
		}
		cancel()
		_ = in.logs.Close()
	}
	signal.Reset(syscall.SIGTERM)
	_ = syscall.Kill(os.Getpid(), syscall.SIGTERM)
}

// termFlushTimeout bounds the export at SIGTERM, inside Cloud Run's 10 seconds.
const termFlushTimeout = 5 * time.Second

// startupConfig is the configuration init validated, reused by the first build.
var startupConfig *config.Config

// startupFailure logs a configuration error as one Cloud Logging line and exits.
func startupFailure(target string, err error) {
	logging.New(os.Stderr, slog.LevelInfo).Error("strata cannot start: invalid configuration",
		"function", target, "error", err.Error())
	os.Exit(1)
}

// instance is the process's built Strata: the server and a handler per function.
type instance struct {
	server   *httpapi.Server
	handlers map[string]http.Handler
	// rt is the runtime the server runs on, and logs the buffer of its log lines; nil in
	// tests that build a server alone.
	rt   *runtime.Runtime
	logs *logging.Buffer
}

var (
	current atomic.Pointer[instance]
	buildMu sync.Mutex
	// build constructs the instance; tests replace it.
	build = buildFromEnv
)

// buildFromEnv opens the runtime with the configuration init validated, or reads it now
// when init did not (no FUNCTION_TARGET: the framework serving every function locally).
func buildFromEnv() (*instance, error) {
	var cfg config.Config
	if startupConfig != nil {
		cfg = *startupConfig
	} else {
		var err error
		if cfg, err = config.FromEnv(); err != nil {
			return nil, err
		}
	}
	// Request lines are buffered (logging.NewBuffered: written out at 32 KiB, after 100 ms,
	// at every warning and at SIGTERM), not written one syscall per request.
	log, logs := logging.NewBuffered(os.Stdout, cfg.LogLevel, nil)
	rt, err := runtime.Open(context.Background(), cfg, log)
	if err != nil {
		_ = logs.Close()
		return nil, err
	}
	in, err := newInstance(rt.Server)
	if err != nil {
		return nil, err
	}
	in.rt, in.logs = rt, logs
	return in, nil
}

// newInstance prepares the handler of every function over server.
func newInstance(server *httpapi.Server) (*instance, error) {
	in := &instance{server: server, handlers: make(map[string]http.Handler)}
	for _, f := range httpapi.Functions() {
		h, err := server.Handler(f.Name)
		if err != nil {
			return nil, err
		}
		in.handlers[f.Name] = h
	}
	return in, nil
}

// shared returns the process's instance, building it on first use. A failed build is not
// cached, so a later request retries it.
func shared() (*instance, error) {
	if in := current.Load(); in != nil {
		return in, nil
	}
	buildMu.Lock()
	defer buildMu.Unlock()
	if in := current.Load(); in != nil {
		return in, nil
	}
	in, err := build()
	if err != nil {
		return nil, err
	}
	current.Store(in)
	return in, nil
}

// handler returns the function registered as name: it builds the shared instance on first
// use and serves name's routes with it.
func handler(name string) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) {
		in, err := shared()
		if err != nil {
			logging.New(os.Stderr, slog.LevelInfo).Error("strata is not available: building the runtime failed",
				"function", name, "error", err.Error())
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.WriteHeader(http.StatusInternalServerError)
			fmt.Fprint(w, "internal error: the service is not configured correctly")
			return
		}
		in.handlers[name].ServeHTTP(w, r)
	}
}
