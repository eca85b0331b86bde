// Package telemetry sets up a Strata process's OpenTelemetry: the meter and tracer providers
// behind observe.Metrics, their exporters, and the trace-context propagation of requests.
//
// # Exporters
//
//   - "prometheus" (the local server): metrics are pulled from /metrics in the Prometheus
//     text format, through OpenTelemetry's Prometheus exporter. Every series of the catalog
//     is listed from the start, at zero (observe.Metrics.Zero; the histograms OpenTelemetry
//     cannot record empty are filled in at zero by the handler).
//   - "google" (deployed): metrics go to Cloud Monitoring and spans to Cloud Trace, through
//     Google's exporters. Terraform declares the metric descriptors, so the exporter creates
//     none (and needs only roles/monitoring.metricWriter).
//   - "none": nothing is exported.
//
// Spans go to an OTLP collector instead whenever OTEL_EXPORTER_OTLP_ENDPOINT or
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is set (the standard OpenTelemetry variables, read by the
// OTLP exporter), whatever the exporter.
//
// # When deployed metrics are exported
//
// Cloud Run may take a function's CPU away between requests (request-based billing), so a
// timer-driven exporter does not run when it should; and Cloud Monitoring accepts a point per
// series at most every 5 seconds, so exporting at every request is too often. Strata exports
// from requests at a bounded rate instead: AfterRequest, called when a request ends, starts
// an export when the last one is at least the export interval old (60 s by default). The
// export runs while the instance has CPU, which it does while requests are in flight, and a
// stalled one just finishes later. Sums and histograms are cumulative, so an export that
// fails or is late loses nothing: the next one carries the totals. The recover function
// exports synchronously at the end of its run (Flush), and SIGTERM (Cloud Run's shutdown
// notice) flushes too. What an instance that dies without SIGTERM loses is what it counted
// since its last export: at most one export interval of its own requests. Spans are batched
// and flushed on the same schedule; a span not yet flushed when an instance dies is lost.
package telemetry

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	mexporter "github.com/GoogleCloudPlatform/opentelemetry-operations-go/exporter/metric"
	texporter "github.com/GoogleCloudPlatform/opentelemetry-operations-go/exporter/trace"
	gcppropagator "github.com/GoogleCloudPlatform/opentelemetry-operations-go/propagator"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/contrib/detectors/gcp"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.37.0"
	"go.opentelemetry.io/otel/trace"
	"golang.org/x/time/rate"
	"google.golang.org/api/option"

	"github.com/stratastore/strata/tiered/observe"
)

// Exporter names (STRATA_TELEMETRY).
const (
	ExporterPrometheus = "prometheus"
	ExporterGoogle     = "google"
	ExporterNone       = "none"
)

// Defaults.
const (
	// DefaultExportInterval is the least time between two request-driven exports.
	DefaultExportInterval = 60 * time.Second
	// MinExportInterval keeps exports above Cloud Monitoring's one point per series every 5
	// seconds, with a margin for the exports of several processes of one service.
	MinExportInterval = 10 * time.Second
	// DefaultSampleRatio is the share of requests traced when the caller (the load
	// balancer) made no sampling decision.
	DefaultSampleRatio = 0.01
	// DefaultMaxFollowedPerSecond bounds, per process, the requests per second traced because
	// their caller (a client, or the load balancer) marked its trace sampled.
	DefaultMaxFollowedPerSecond = 10
	// exportTimeout bounds one export.
	exportTimeout = 30 * time.Second
)

// Options configures New.
type Options struct {
	// Exporter is ExporterPrometheus, ExporterGoogle or ExporterNone.
	Exporter string
	// Project is the Google Cloud project metrics and spans go to (ExporterGoogle).
	Project string
	// Service names the process (service.name): the deployed function, or "strata".
	Service string
	// SampleRatio is the share of requests traced when the caller decided nothing; a sampled
	// or unsampled caller is followed (parent-based).
	SampleRatio float64
	// MaxFollowedPerSecond bounds the requests per second traced because their caller said
	// so (beyond it, SampleRatio decides); zero means DefaultMaxFollowedPerSecond.
	MaxFollowedPerSecond float64
	// ExportInterval is the least time between request-driven exports (ExporterGoogle);
	// zero means DefaultExportInterval.
	ExportInterval time.Duration
	// MonitoringOptions and TraceOptions reach the Cloud Monitoring and Cloud Trace APIs
	// somewhere else (tests: fake servers).
	MonitoringOptions, TraceOptions []option.ClientOption
	// Logger receives export failures; nil means slog.Default().
	Logger *slog.Logger
}

// Telemetry is a process's OpenTelemetry. Its methods are safe for concurrent use, and
// those of a nil *Telemetry do nothing.
type Telemetry struct {
	// Metrics records the catalog's metrics and starts backend-call spans.
	Metrics *observe.Metrics

	propagator propagation.TextMapPropagator
	tracer     trace.Tracer
	mp         *sdkmetric.MeterProvider
	tp         *sdktrace.TracerProvider
	log        *slog.Logger

	// ExporterGoogle: a manual reader collected by export at a bounded rate.
	reader     *sdkmetric.ManualReader
	exporter   sdkmetric.Exporter
	interval   time.Duration
	lastExport atomic.Int64 // unix nanoseconds of the last export start
	exporting  atomic.Bool
	exportMu   sync.Mutex // one export at a time
	now        func() time.Time
	exports    atomic.Int64 // exports run, for tests

	// ExporterPrometheus: the /metrics handler.
	metricsHandler http.Handler
}

// New sets up the providers and exporters opts selects, and installs them as the process's
// global OpenTelemetry providers and propagator (where the Bigtable and Cloud Storage
// clients find them).
func New(ctx context.Context, opts Options) (*Telemetry, error) {
	t := &Telemetry{log: opts.Logger, interval: opts.ExportInterval, now: time.Now}
	if t.log == nil {
		t.log = slog.Default()
	}
	if t.interval == 0 {
		t.interval = DefaultExportInterval
	}
	if opts.Service == "" {
		opts.Service = "strata"
	}
	res, err := newResource(ctx, opts)
	if err != nil {
		return nil, err
	}
	mopts := []sdkmetric.Option{sdkmetric.WithResource(res)}
	switch opts.Exporter {
	case ExporterPrometheus:
		reg := prometheus.NewRegistry()
		exp, err := otelprom.New(otelprom.WithRegisterer(reg), otelprom.WithoutScopeInfo(), otelprom.WithoutTargetInfo())
		if err != nil {
			return nil, fmt.Errorf("telemetry: prometheus exporter: %w", err)
		}
		mopts = append(mopts, sdkmetric.WithReader(exp))
		t.metricsHandler = promhttp.HandlerFor(&zeroFilled{reg: reg, t: t}, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
	case ExporterGoogle:
		if opts.Project == "" {
			return nil, errors.New("telemetry: the google exporter needs a project")
		}
		exp, err := mexporter.New(mexporter.WithProjectID(opts.Project),
			mexporter.WithMonitoringClientOptions(opts.MonitoringOptions...),
			mexporter.WithDisableCreateMetricDescriptors(),
			// The labels are the catalog's and nothing else, as the descriptors Terraform
			// declares: the monitored resource (generic_task: service, instance) already
			// keeps the functions' and instances' series apart.
			mexporter.WithFilteredResourceAttributes(mexporter.NoAttributes))
		if err != nil {
			return nil, fmt.Errorf("telemetry: cloud monitoring exporter: %w", err)
		}
		t.exporter = exp
		t.reader = sdkmetric.NewManualReader()
		mopts = append(mopts, sdkmetric.WithReader(t.reader))
	case ExporterNone, "":
	default:
		return nil, fmt.Errorf("telemetry: unknown exporter %q (want %s, %s or %s)", opts.Exporter, ExporterPrometheus, ExporterGoogle, ExporterNone)
	}
	t.mp = sdkmetric.NewMeterProvider(mopts...)

	spanExp, err := newSpanExporter(ctx, opts)
	if err != nil {
		return nil, err
	}
	topts := []sdktrace.TracerProviderOption{sdktrace.WithResource(res)}
	if spanExp != nil {
		ratio := sdktrace.TraceIDRatioBased(opts.SampleRatio)
		// A caller's sampled flag is followed, but only up to a rate: anyone can send
		// "traceparent: …-01", and an unbounded follow would let a client trace, and bill,
		// every request it makes.
		followed := &cappedSampler{limit: rate.NewLimiter(rate.Limit(cmp.Or(opts.MaxFollowedPerSecond, DefaultMaxFollowedPerSecond)), 10), fallback: ratio}
		topts = append(topts, sdktrace.WithBatcher(spanExp),
			sdktrace.WithSampler(sdktrace.ParentBased(ratio,
				sdktrace.WithRemoteParentSampled(followed), sdktrace.WithLocalParentSampled(sdktrace.AlwaysSample()))))
	} else {
		// Nothing would receive a span: record none, but still give every request a span
		// id for its log line, in the caller's trace.
		topts = append(topts, sdktrace.WithSampler(sdktrace.NeverSample()))
	}
	t.tp = sdktrace.NewTracerProvider(topts...)
	t.tracer = t.tp.Tracer(observe.ScopeName)
	// X-Cloud-Trace-Context is read (the load balancer's), traceparent read and written;
	// traceparent wins when both are present.
	t.propagator = propagation.NewCompositeTextMapPropagator(gcppropagator.CloudTraceOneWayPropagator{}, propagation.TraceContext{})

	if t.Metrics, err = observe.NewMetrics(t.mp, t.tp); err != nil {
		return nil, err
	}
	otel.SetMeterProvider(t.mp)
	otel.SetTracerProvider(t.tp)
	otel.SetTextMapPropagator(t.propagator)
	return t, nil
}

// newResource describes the process: its service name, and on Cloud Run what Google's
// detector finds (project, region, instance), which the Cloud Monitoring exporter turns into
// the monitored resource that keeps every instance's series apart.
//
// On Cloud Run the service name is the Cloud Run service's (K_SERVICE, which carries the
// deployment's prefix), so that two deployments in one project keep their series apart.
func newResource(ctx context.Context, opts Options) (*resource.Resource, error) {
	service := opts.Service
	if k := os.Getenv("K_SERVICE"); k != "" {
		service = k
	}
	ropts := []resource.Option{resource.WithAttributes(semconv.ServiceName(service)), resource.WithTelemetrySDK()}
	if opts.Exporter == ExporterGoogle && os.Getenv("K_SERVICE") != "" {
		ropts = append(ropts, resource.WithDetectors(gcp.NewDetector()))
	}
	res, err := resource.New(ctx, ropts...)
	if err != nil && res == nil {
		return nil, fmt.Errorf("telemetry: resource: %w", err)
	}
	return res, nil
}

// newSpanExporter returns where spans go: an OTLP collector when the standard variables name
// one, Cloud Trace for ExporterGoogle, otherwise nowhere (nil).
func newSpanExporter(ctx context.Context, opts Options) (sdktrace.SpanExporter, error) {
	if os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || os.Getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != "" {
		exp, err := otlptracegrpc.New(ctx)
		if err != nil {
			return nil, fmt.Errorf("telemetry: otlp exporter: %w", err)
		}
		return exp, nil
	}
	if opts.Exporter == ExporterGoogle {
		exp, err := texporter.New(texporter.WithProjectID(opts.Project), texporter.WithTraceClientOptions(opts.TraceOptions))
		if err != nil {
			return nil, fmt.Errorf("telemetry: cloud trace exporter: %w", err)
		}
		return exp, nil
	}
	return nil, nil
}

// MetricsHandler is the Prometheus /metrics handler; nil unless the exporter is prometheus.
func (t *Telemetry) MetricsHandler() http.Handler {
	if t == nil {
		return nil
	}
	return t.metricsHandler
}

// StartRequest starts the server span of a request named op, as a child of the trace
// context its headers carry (traceparent, or the load balancer's X-Cloud-Trace-Context).
// The span is never nil.
func (t *Telemetry) StartRequest(r *http.Request, op string) (context.Context, trace.Span) {
	ctx := r.Context()
	if t == nil {
		return ctx, trace.SpanFromContext(ctx)
	}
	ctx = t.propagator.Extract(ctx, propagation.HeaderCarrier(r.Header))
	return t.tracer.Start(ctx, op, trace.WithSpanKind(trace.SpanKindServer))
}

// Inject writes ctx's trace context into h (for a request Strata makes on its own).
func (t *Telemetry) Inject(ctx context.Context, h http.Header) {
	if t != nil {
		t.propagator.Inject(ctx, propagation.HeaderCarrier(h))
	}
}

// AfterRequest starts an export in the background when the last one started at least the
// export interval ago (ExporterGoogle; otherwise it does nothing).
func (t *Telemetry) AfterRequest() {
	if t == nil || t.reader == nil {
		return
	}
	now := t.now().UnixNano()
	last := t.lastExport.Load()
	if now-last < int64(t.interval) || !t.lastExport.CompareAndSwap(last, now) {
		return
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), exportTimeout)
		defer cancel()
		if err := t.Flush(ctx); err != nil {
			t.log.Warn("telemetry export failed; the next export carries the totals", "err", err)
		}
	}()
}

// Flush exports the metrics and the batched spans now.
func (t *Telemetry) Flush(ctx context.Context) error {
	if t == nil {
		return nil
	}
	var errs []error
	if t.reader != nil {
		// A flush counts as the interval's export: a request ending right after it (the
		// recover function's own) must not export the same series again within Cloud
		// Monitoring's 5 s.
		t.lastExport.Store(t.now().UnixNano())
		t.exportMu.Lock()
		var rm metricdata.ResourceMetrics
		err := t.reader.Collect(ctx, &rm)
		if err == nil {
			err = t.exporter.Export(ctx, &rm)
		}
		t.exports.Add(1)
		t.exportMu.Unlock()
		if err != nil {
			errs = append(errs, fmt.Errorf("metrics: %w", err))
		}
	}
	if err := t.tp.ForceFlush(ctx); err != nil {
		errs = append(errs, fmt.Errorf("spans: %w", err))
	}
	return errors.Join(errs...)
}

// Shutdown flushes everything and stops the exporters.
func (t *Telemetry) Shutdown(ctx context.Context) error {
	if t == nil {
		return nil
	}
	err := t.Flush(ctx)
	if t.exporter != nil {
		err = errors.Join(err, t.exporter.Shutdown(ctx))
	}
	return errors.Join(err, t.tp.Shutdown(ctx), t.mp.Shutdown(ctx))
}

// cappedSampler follows a remote parent's "sampled" decision up to a rate; beyond it, the
// fallback (the configured ratio) decides.
type cappedSampler struct {
	limit    *rate.Limiter
	fallback sdktrace.Sampler
}

func (c *cappedSampler) ShouldSample(p sdktrace.SamplingParameters) sdktrace.SamplingResult {
	if c.limit.Allow() {
		return sdktrace.AlwaysSample().ShouldSample(p)
	}
	return c.fallback.ShouldSample(p)
}

func (c *cappedSampler) Description() string {
	return fmt.Sprintf("CappedRemoteSampled{%g/s, else %s}", float64(c.limit.Limit()), c.fallback.Description())
}
