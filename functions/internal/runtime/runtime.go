// Package runtime builds one process's Strata from a Config: the backends, the
// tiered.Store and the HTTP server, with the auth and admission pieces in between. It is the
// one place where backends are constructed, shared by the local binary and the deployed
// functions, and it runs once per process, so clients are created at cold start and never
// per request.
package runtime

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"runtime/debug"
	"time"

	"cloud.google.com/go/bigtable"
	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/storage"
	"google.golang.org/api/option"

	"github.com/stratastore/strata/functions/internal/admission"
	"github.com/stratastore/strata/functions/internal/auth"
	"github.com/stratastore/strata/functions/internal/cleanup"
	"github.com/stratastore/strata/functions/internal/config"
	"github.com/stratastore/strata/functions/internal/httpapi"
	"github.com/stratastore/strata/functions/internal/invoker"
	"github.com/stratastore/strata/functions/internal/telemetry"
	"github.com/stratastore/strata/tiered"
	"github.com/stratastore/strata/tiered/bigtablebackend"
	"github.com/stratastore/strata/tiered/driver"
	"github.com/stratastore/strata/tiered/gcsbackend"
	"github.com/stratastore/strata/tiered/localbackend"
	"github.com/stratastore/strata/tiered/observe"
)

// Runtime is a built Strata: the store and the HTTP server over it.
type Runtime struct {
	Config config.Config
	Store  *tiered.Store
	Server *httpapi.Server
	Logger *slog.Logger
	// closers release the backends, last opened first.
	closers []func() error
	// dispatcher publishes cleanup tasks when they go through Pub/Sub.
	dispatcher *cleanup.Dispatcher
	// Telemetry is the process's OpenTelemetry (metrics, traces, /metrics).
	Telemetry *telemetry.Telemetry
	// Recoverer runs a recovery pass and records it (the recover function, the local
	// server's recovery timer).
	Recoverer cleanup.Recoverer
}

// Service is the name the process's telemetry goes under: the deployed function it serves,
// or "strata" for the local all-in-one server.
func Service(cfg config.Config) string {
	if cfg.Function != "" {
		return cfg.Function
	}
	return "strata"
}

// openTelemetry sets up the process's telemetry, counts its cold start and records the zeros
// of every series it may write, so that a fresh process lists them all.
func (rt *Runtime) openTelemetry(ctx context.Context, b backends) (*telemetry.Telemetry, error) {
	cfg := rt.Config
	tel, err := telemetry.New(ctx, telemetry.Options{
		Exporter:             cfg.Telemetry.Exporter,
		Project:              cfg.Bigtable.Project,
		Service:              Service(cfg),
		SampleRatio:          cfg.Telemetry.SampleRatio,
		MaxFollowedPerSecond: cfg.Telemetry.FollowRate,
		ExportInterval:       cfg.Telemetry.ExportInterval,
		Logger:               rt.Logger,
	})
	if err != nil {
		return nil, fmt.Errorf("STRATA_TELEMETRY: %w", err)
	}
	rt.Telemetry = tel
	rt.closers = append(rt.closers, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return tel.Shutdown(ctx)
	})
	var ops []string
	if cfg.Function != "" {
		ops = []string{cfg.Function}
	} else {
		for _, f := range httpapi.Functions() {
			ops = append(ops, f.Name)
		}
		ops = append(ops, httpapi.OpUnrouted)
	}
	tel.Metrics.ColdStart(ctx, Service(cfg))
	tel.Metrics.Zero(ctx, observe.Series{
		Ops: ops,
		Backends: map[string][]string{
			b.hv.Name(): observe.HighVolumeCalls,
			b.lt.Name(): observe.LongTermCalls,
			"changelog": observe.ChangeLogCalls,
		},
		Function: Service(cfg),
		// Fleet-wide gauges come from the process that runs recovery only.
		Fleet: cfg.Function == "" || cfg.Function == httpapi.FnRecover,
	})
	return tel, nil
}

// backends are the three roles the Store needs.
type backends struct {
	hv  driver.HighVolume
	lt  driver.Multipart
	log driver.ChangeLog
}

// Open builds the runtime for cfg. log receives the server's request lines and the store's
// warnings.
func Open(ctx context.Context, cfg config.Config, log *slog.Logger) (*Runtime, error) {
	rt := &Runtime{Config: cfg, Logger: log}
	b, err := rt.openBackends(ctx)
	if err != nil {
		return nil, errors.Join(err, rt.closeBackends())
	}
	// A Cloud Run function gets no CPU after its response, so deployed functions hand their
	// cleanup to Pub/Sub; the local server keeps the Store's in-process worker.
	dispatcher, err := rt.openDispatcher(ctx)
	if err != nil {
		return nil, errors.Join(err, rt.closeBackends())
	}
	tel, err := rt.openTelemetry(ctx, b)
	if err != nil {
		return nil, errors.Join(err, rt.closeBackends())
	}
	// Every backend call is measured (backend, call, outcome, latency) and, under a sampled
	// request, traced.
	m := tel.Metrics
	hv := &observe.HighVolume{Inner: b.hv, M: m}
	lt := &observe.LongTerm{Inner: b.lt, M: m}
	clog := &observe.ChangeLog{Inner: b.log, M: m}
	rt.Store, err = tiered.New(hv, lt, clog, &tiered.Options{Dispatcher: dispatcher, GracePeriod: cfg.GracePeriod,
		MaxClockSkew: cfg.MaxClockSkew, LongTermSettle: cfg.LongTermSettle, Logger: log, Observer: m})
	if err != nil {
		return nil, errors.Join(err, rt.closeBackends())
	}
	rt.Recoverer = cleanup.Observed{Recoverer: rt.Store, Metrics: m, Backlog: rt.backlog, Flush: tel.Flush, Log: log}
	verifier, err := auth.NewVerifier(cfg.AuthKeys, auth.Options{Enforce: cfg.AuthEnforce, Logger: log})
	if err != nil {
		return nil, errors.Join(fmt.Errorf("STRATA_AUTH_KEYS: %w", err), rt.closeBackends())
	}
	if !cfg.AuthEnforce {
		log.Warn("AUTH IS NOT ENFORCED: every request is allowed, whatever its credentials (STRATA_AUTH_ENFORCE=false). Never run like this outside local development.")
	}
	invokers, err := Invokers(ctx, cfg)
	if err != nil {
		return nil, errors.Join(err, rt.closeBackends())
	}
	budget, err := memoryBudget(cfg, log)
	if err != nil {
		return nil, errors.Join(err, rt.closeBackends())
	}
	rt.Server, err = httpapi.New(rt.Store, httpapi.Options{
		Verifier:     verifier,
		Killswitches: cfg.Killswitches,
		Limiter:      admission.NewLimiter(cfg.RateLimits, nil),
		Concurrency: admission.NewConcurrency(cfg.MaxConcurrency, admission.DefaultConcurrencyQueue, admission.DefaultConcurrencyTimeout, admission.DefaultBulkPct).
			WithTenantShare(cfg.TenantShare),
		MaxRequests:          cfg.MaxRequests,
		Usecases:             cfg.Usecases,
		Logger:               log,
		TraceProject:         cfg.Bigtable.Project,
		Telemetry:            tel,
		Recoverer:            rt.Recoverer,
		CleanupMaxDeliveries: cfg.CleanupMaxDeliveries,
		Invokers:             invokers,
		ReadTimeout:          cfg.ReadTimeout,
		WriteTimeout:         cfg.WriteTimeout,
		MinRate:              cfg.MinTransferRate,
		Budget:               budget,
	})
	if err != nil {
		return nil, errors.Join(err, rt.closeBackends())
	}
	return rt, nil
}

// backlog measures the change log for the fleet-wide gauges: entries by phase and the age of
// the oldest.
func (rt *Runtime) backlog(ctx context.Context) (map[string]int, time.Duration, error) {
	b, err := rt.Store.Backlog(ctx)
	if err != nil || b.Oldest == nil {
		return b.ByPhase, 0, err
	}
	return b.ByPhase, b.Oldest.Age, nil
}

// memoryBudget builds the payload budget and its large-upload slots from the instance's
// memory (config.Config.Memory; README "Capacity and cost"), and, when the limit is known
// (set or read from the cgroup) and GOMEMLIMIT is not set, gives the Go runtime a soft
// memory limit below it, so the collector runs before the heap outgrows the instance.
func memoryBudget(cfg config.Config, log *slog.Logger) (*admission.Budget, error) {
	m, from, budget, slots, err := cfg.Memory(os.ReadFile)
	if err != nil {
		return nil, err
	}
	goLimit := int64(-1)
	if _, set := os.LookupEnv("GOMEMLIMIT"); !set && from != config.MemoryFromDefault {
		goLimit = m.GoMemLimit()
		debug.SetMemoryLimit(goLimit)
	}
	log.Info("memory model", "limit_bytes", m.Limit, "limit_from", from, "model", m.String(),
		"budget_bytes", budget, "stream_slots", slots, "stream_cost_bytes", m.StreamCost(), "go_memory_limit_bytes", goLimit)
	return admission.NewBudget(budget).WithStreams(slots, m.StreamCost()), nil
}

// Invokers builds the caller checks of the deployed private functions. With
// STRATA_INVOKER_AUTH=none there are none. Otherwise cleanup requires Pub/Sub's push token
// and recover Scheduler's; a function whose identity is not configured refuses every caller
// (fail closed; deployed, config.CheckFunction stops it at start-up before that).
func Invokers(ctx context.Context, cfg config.Config) (map[string]httpapi.InvokerAuth, error) {
	if cfg.InvokerAuth == config.InvokerAuthNone {
		return nil, nil
	}
	validator, err := invoker.NewGoogleValidator(ctx)
	if err != nil {
		return nil, fmt.Errorf("STRATA_INVOKER_AUTH: %w", err)
	}
	out := make(map[string]httpapi.InvokerAuth)
	for fn, want := range map[string]config.Invoker{httpapi.FnCleanup: cfg.Push, httpapi.FnRecover: cfg.Scheduler} {
		if want.Audience == "" || want.ServiceAccount == "" {
			out[fn] = refuseAll{}
			continue
		}
		v, err := invoker.NewVerifier(validator, invoker.Expect{Audience: want.Audience, Email: want.ServiceAccount})
		if err != nil {
			return nil, err
		}
		out[fn] = v
	}
	return out, nil
}

// refuseAll is the caller check of a private function whose invoker is not configured.
type refuseAll struct{}

func (refuseAll) Authenticate(*http.Request) error {
	return &invoker.Error{Status: http.StatusUnauthorized, Reason: "no invoker identity configured (STRATA_INVOKER_AUTH=oidc)"}
}

// openBackends constructs the backends cfg.Storage selects.
func (rt *Runtime) openBackends(ctx context.Context) (backends, error) {
	cfg := rt.Config
	switch cfg.Storage {
	case config.StorageLocal:
		lb, err := localbackend.Open(ctx, cfg.DataDir, &localbackend.Options{Logger: rt.Logger})
		if err != nil {
			return backends{}, fmt.Errorf("STRATA_DATA_DIR: %w", err)
		}
		rt.closers = append(rt.closers, lb.Close)
		return backends{hv: lb.HighVolume(), lt: lb.LongTerm(), log: lb.ChangeLog()}, nil
	case config.StorageEmulators, config.StorageGCP:
		bt, err := rt.openBigtable(ctx)
		if err != nil {
			return backends{}, err
		}
		gcs, err := rt.openGCS(ctx)
		if err != nil {
			return backends{}, err
		}
		return backends{hv: bt, lt: gcs, log: bt}, nil
	}
	return backends{}, fmt.Errorf("STRATA_STORAGE: unknown storage %q", cfg.Storage)
}

// openBigtable makes the Bigtable client (the emulator at STRATA_BIGTABLE_EMULATOR, or Cloud
// Bigtable) and the backend on it. The runtime owns the client and closes it at Close. On an
// emulator it first creates the tables, which an emulator starts without; in production
// Terraform creates them.
func (rt *Runtime) openBigtable(ctx context.Context) (*bigtablebackend.Backend, error) {
	cfg := rt.Config.Bigtable
	table := cmp.Or(cfg.Table, bigtablebackend.DefaultTable)
	opts := &bigtablebackend.Options{ChangeLogTable: cfg.ChangeLogTable, Logger: rt.Logger}
	var client *bigtable.Client
	if rt.Config.Storage == config.StorageEmulators {
		if err := createEmulatorTables(ctx, cfg, table, opts); err != nil {
			return nil, fmt.Errorf("STRATA_BIGTABLE_EMULATOR: create tables: %w", err)
		}
		conn, err := bigtablebackend.DialEmulator(cfg.Emulator)
		if err != nil {
			return nil, fmt.Errorf("STRATA_BIGTABLE_EMULATOR: %w", err)
		}
		if client, err = bigtablebackend.NewEmulatorClient(ctx, conn, cfg.Project, cfg.Instance); err != nil {
			_ = conn.Close()
			return nil, fmt.Errorf("STRATA_BIGTABLE_EMULATOR: %w", err)
		}
	} else {
		var err error
		if client, err = bigtable.NewClient(ctx, cfg.Project, cfg.Instance); err != nil {
			return nil, fmt.Errorf("bigtable client: %w", err)
		}
	}
	rt.closers = append(rt.closers, client.Close)
	return bigtablebackend.Open(ctx, client, table, opts)
}

// createEmulatorTables creates the tables on the emulator through an admin client of its
// own, closed before it returns.
func createEmulatorTables(ctx context.Context, cfg config.Bigtable, table string, opts *bigtablebackend.Options) error {
	conn, err := bigtablebackend.DialEmulator(cfg.Emulator)
	if err != nil {
		return err
	}
	defer conn.Close()
	admin, err := bigtable.NewAdminClient(ctx, cfg.Project, cfg.Instance, option.WithGRPCConn(conn))
	if err != nil {
		return err
	}
	defer admin.Close()
	return bigtablebackend.CreateTables(ctx, admin, table, opts)
}

// openGCS makes the storage client (fake GCS at STRATA_GCS_ENDPOINT with emulators, else
// production GCS with application default credentials, or STORAGE_EMULATOR_HOST when set)
// and the long-term backend on it. The runtime owns the client and closes it last.
func (rt *Runtime) openGCS(ctx context.Context) (*gcsbackend.Backend, error) {
	cfg := rt.Config
	var client *storage.Client
	var err error
	if cfg.Storage == config.StorageEmulators {
		client, err = gcsbackend.NewEmulatorClient(ctx, cfg.GCS.Endpoint)
	} else {
		client, err = storage.NewClient(ctx, storage.WithJSONReads())
	}
	if err != nil {
		return nil, fmt.Errorf("gcs client: %w", err)
	}
	rt.closers = append(rt.closers, client.Close)
	return gcsbackend.Open(ctx, client, cfg.GCS.Bucket, &gcsbackend.Options{Logger: rt.Logger, ChunkSize: int(cfg.GCS.ChunkSize)})
}

// openDispatcher returns a Pub/Sub dispatcher when STRATA_CLEANUP_TOPIC is set, else nil (the
// Store's in-process worker). The Pub/Sub client honours PUBSUB_EMULATOR_HOST.
func (rt *Runtime) openDispatcher(ctx context.Context) (tiered.Dispatcher, error) {
	topic := rt.Config.CleanupTopic
	if topic.IsZero() {
		return nil, nil
	}
	c, err := pubsub.NewClient(ctx, topic.Project)
	if err != nil {
		return nil, fmt.Errorf("STRATA_CLEANUP_TOPIC: pubsub client: %w", err)
	}
	d := cleanup.NewDispatcher(cleanup.NewPublisher(c, topic.ID))
	rt.closers = append(rt.closers, c.Close)
	rt.dispatcher = d
	return d, nil
}

// Close drains the store's cleanup work until ctx ends, then releases the backends.
func (rt *Runtime) Close(ctx context.Context) error {
	var err error
	if rt.Store != nil {
		err = rt.Store.Close(ctx)
	}
	if rt.dispatcher != nil {
		err = errors.Join(err, rt.dispatcher.Close(ctx))
	}
	return errors.Join(err, rt.closeBackends())
}

func (rt *Runtime) closeBackends() error {
	var errs []error
	for i := len(rt.closers) - 1; i >= 0; i-- {
		errs = append(errs, rt.closers[i]())
	}
	rt.closers = nil
	return errors.Join(errs...)
}
