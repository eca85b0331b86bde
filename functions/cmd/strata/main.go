// Command strata is Strata's all-in-one binary: the local server, the command-line client
// (put, get, head, rm, presign, token, keygen) and the operator's scan-keys (see
// functions/internal/cli). With no arguments, or with "serve", it serves every function of
// the route table from one process, over the storage STRATA_STORAGE selects (the embedded
// local backend under STRATA_DATA_DIR by default), with the cleanup worker in-process and
// recovery on a timer. The object API and the probes are
// on STRATA_HTTP_ADDR; the private functions (/internal/cleanup, /internal/recover) only on
// STRATA_ADMIN_ADDR (127.0.0.1:8889 by default), which should stay on loopback.
//
// On SIGINT or SIGTERM it marks /ready unavailable, lets in-flight requests finish, drains
// the cleanup worker and exits 0.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/stratastore/strata/functions/internal/cleanup"
	"github.com/stratastore/strata/functions/internal/cli"
	"github.com/stratastore/strata/functions/internal/config"
	"github.com/stratastore/strata/functions/internal/logging"
	"github.com/stratastore/strata/functions/internal/runtime"
	"github.com/stratastore/strata/tiered"
)

// Timing of the serve command.
const (
	// recoverInterval is how often the local server runs a bounded recovery pass; deployed,
	// Cloud Scheduler triggers the recover function instead.
	recoverInterval = 30 * time.Second
	// shutdownTimeout bounds the drain of in-flight requests.
	shutdownTimeout = 30 * time.Second
	// cleanupDrainTimeout bounds the wait for queued cleanup work. Tasks still waiting then
	// (a superseded revision's grace period, say) keep their change-log entries, and the
	// recovery pass of the next start completes them: nothing is lost by not waiting.
	cleanupDrainTimeout = 5 * time.Second
)

const usage = `usage: strata [command] [arguments]

server:
  serve   serve the API on STRATA_HTTP_ADDR and the private endpoints on
          STRATA_ADMIN_ADDR (the default command)

client (run "strata help" for their flags and exit codes):
  put, get, head, rm, presign, token, keygen

operator:
  scan-keys  list stored keys Strata cannot serve (before a cutover from objectstore)
  status     the change-log backlog, the last recovery run and the dead-letter depth
             (--json, --watch INTERVAL; run "strata status -h")
`

func main() {
	os.Exit(run(os.Args[1:], os.Environ(), os.Stdout, os.Stderr))
}

// run dispatches the command line and returns the exit status.
func run(args, environ []string, stdout, stderr io.Writer) int {
	cmd := "serve"
	if len(args) > 0 {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		if len(args) > 0 {
			fmt.Fprintf(stderr, "strata serve: unexpected arguments %q\n\n%s", args, usage)
			return 2
		}
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		if err := serve(ctx, environ, stdout, serveOptions{recoverEvery: recoverInterval}); err != nil {
			fmt.Fprintf(stderr, "strata: %v\n", err)
			return 1
		}
		return 0
	case "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	case "put", "get", "head", "rm", "presign", "token", "keygen", "scan-keys", "status", "help":
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		if cmd == "help" {
			fmt.Fprint(stdout, usage+"\n")
		}
		return cli.Run(ctx, append([]string{cmd}, args...), os.Stdin, stdout, stderr)
	}
	fmt.Fprintf(stderr, "strata: unknown command %q\n\n%s", cmd, usage)
	return 2
}

// serveOptions are the knobs tests turn.
type serveOptions struct {
	recoverEvery time.Duration
}

// serve runs the server until ctx ends, then shuts it down gracefully.
func serve(ctx context.Context, environ []string, stdout io.Writer, opts serveOptions) error {
	cfg, err := config.Load(environ)
	if err != nil {
		return err
	}
	// Buffered: request lines go out in batches; Close writes the rest after shutdown.
	log, logBuf := logging.NewBuffered(stdout, cfg.LogLevel, nil)
	defer logBuf.Close()
	rt, err := runtime.Open(ctx, cfg, log)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return errors.Join(fmt.Errorf("STRATA_HTTP_ADDR: %w", err), rt.Close(context.Background()))
	}
	// The private endpoints (/internal/cleanup, /internal/recover) are served on a listener
	// of their own, loopback by default, never on the public one.
	adminLn, err := net.Listen("tcp", cfg.AdminAddr)
	if err != nil {
		_ = ln.Close()
		return errors.Join(fmt.Errorf("STRATA_ADMIN_ADDR: %w", err), rt.Close(context.Background()))
	}
	if host, _, _ := net.SplitHostPort(cfg.AdminAddr); !isLoopback(host) {
		log.Warn("the admin listener is not on a loopback address: anyone who reaches it can run cleanup and recovery",
			"addr", adminLn.Addr().String())
	}
	where := string(cfg.Storage)
	if cfg.Storage == config.StorageLocal {
		if abs, err := filepath.Abs(cfg.DataDir); err == nil {
			where = "local data in " + abs
		}
	}
	log.Info("strata is serving", "url", "http://"+ln.Addr().String(), "admin_url", "http://"+adminLn.Addr().String(), "storage", where)

	// The server-level timeouts guard what the per-request deadlines of httpapi do not see
	// (headers, idle keep-alive connections, the internal endpoints); the API routes renew
	// the read and write deadlines as their bodies make progress.
	errorLog := slog.NewLogLogger(log.Handler(), slog.LevelWarn)
	newServer := func(h http.Handler) *http.Server {
		return &http.Server{
			Handler:           h,
			ReadHeaderTimeout: cfg.ReadHeaderTimeout,
			ReadTimeout:       cfg.ReadHeaderTimeout + cfg.ReadTimeout,
			WriteTimeout:      cfg.WriteTimeout,
			IdleTimeout:       cfg.IdleTimeout,
			ErrorLog:          errorLog,
		}
	}
	srv := newServer(rt.Server)
	// The admin listener also answers `strata status` (GET /internal/status), which cannot
	// open the data directory while this process holds its lock. It is not a deployed
	// function: the route table does not list it.
	adminMux := http.NewServeMux()
	adminMux.Handle("GET "+cli.PathStatus, runtime.StatusHandler(rt.Store))
	adminMux.Handle("/", rt.Server.AdminHandler())
	admin := newServer(adminMux)
	served := make(chan error, 2)
	go func() { served <- srv.Serve(ln) }()
	go func() { served <- admin.Serve(adminLn) }()

	recoverDone := make(chan struct{})
	recoverCtx, stopRecover := context.WithCancel(context.Background())
	go func() {
		defer close(recoverDone)
		recoverLoop(recoverCtx, rt.Recoverer, log, opts.recoverEvery)
	}()

	select {
	case <-ctx.Done():
	case err = <-served:
		err = fmt.Errorf("serving: %w", err)
	}
	log.Info("strata is shutting down: draining requests and cleanup")
	rt.Server.Drain()
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if serr := srv.Shutdown(sctx); errors.Is(serr, context.DeadlineExceeded) {
		// A client that stalls mid-upload must not keep the process alive: its request is
		// cut, and a cut upload commits nothing.
		log.Warn("requests still in flight after the drain timeout; closing their connections", "waited", shutdownTimeout.String())
		_ = srv.Close()
	} else if serr != nil {
		err = errors.Join(err, fmt.Errorf("shutdown: %w", serr))
	}
	// The admin listener stops after the public one: a drain may still want a recovery pass.
	if serr := admin.Shutdown(sctx); serr != nil {
		_ = admin.Close()
	}
	stopRecover()
	<-recoverDone
	cctx, ccancel := context.WithTimeout(context.Background(), cleanupDrainTimeout)
	defer ccancel()
	if cerr := rt.Close(cctx); errors.Is(cerr, context.DeadlineExceeded) {
		log.Warn("cleanup work not finished in time; recovery completes it after the next start", "waited", cleanupDrainTimeout.String())
	} else if cerr != nil {
		err = errors.Join(err, fmt.Errorf("close: %w", cerr))
	}
	if err == nil {
		log.Info("strata stopped")
	}
	return err
}

// isLoopback reports whether host is a loopback address or localhost.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// recoverLoop runs a bounded recovery pass every interval until ctx ends, so that change-log
// entries a crash left behind get cleaned up.
// Each pass is recorded (strata.recovery.*, and the change-log gauges) as the deployed
// recover function's are.
func recoverLoop(ctx context.Context, store cleanup.Recoverer, log *slog.Logger, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		rep, err := store.Recover(ctx, tiered.DefaultRecoverLimit)
		switch {
		case err != nil && ctx.Err() == nil:
			log.Error("recovery pass failed", "error", err.Error(), "claimed", rep.Claimed, "dispatched", rep.Dispatched)
		case rep.Claimed > 0:
			log.Info("recovery pass", "claimed", rep.Claimed, "dispatched", rep.Dispatched)
		}
	}
}
