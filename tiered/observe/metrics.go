package observe

import (
	"context"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/stratastore/strata/tiered/driver"
)

// ScopeName is the instrumentation scope of every Strata meter and tracer.
const ScopeName = "github.com/stratastore/strata"

// maxSeries bounds the distinct label-value tuples Metrics keeps precomputed. Every label
// Strata writes comes from a closed set (routes, backends, reasons), so the bound is never
// reached; should a bug feed it open values, the excess is recorded under "other" instead of
// growing without limit.
const maxSeries = 4096

// Metrics records every metric of the Catalog through OpenTelemetry instruments, and starts
// the spans of backend calls. Recording is allocation-free: the attribute set of every
// label-value tuple is built once, on first use, and reused. A nil *Metrics records nothing.
type Metrics struct {
	tracer trace.Tracer

	requests    metric.Int64Counter
	reqDuration metric.Float64Histogram
	received    metric.Int64Counter
	sent        metric.Int64Counter
	backend     metric.Float64Histogram
	rejections  metric.Int64Counter
	clEntries   metric.Int64Gauge
	clAge       metric.Float64Gauge
	runs        metric.Int64Counter
	claims      metric.Int64Counter
	failures    metric.Int64Counter
	deletes     metric.Int64Counter
	retries     metric.Int64Counter
	deadLetters metric.Int64Counter
	coldStarts  metric.Int64Counter

	mu   sync.RWMutex
	sets map[seriesKey]*series
	// declared are the label tuples of each histogram recorded as zeros up front (Zero):
	// OpenTelemetry cannot record an empty histogram, so the Prometheus endpoint fills them in.
	declared map[string][][]attribute.KeyValue
}

// seriesKey is one metric's label values, in its catalog order.
type seriesKey struct {
	metric  string
	a, b, c string
}

// series holds the precomputed options of one label tuple.
type series struct {
	add    []metric.AddOption
	record []metric.RecordOption
	// span is the span name and start options of a backend call.
	spanName string
	spanOpts []trace.SpanStartOption
}

// NewMetrics creates the catalog's instruments from mp and a tracer from tp; nil providers
// mean no-op ones.
func NewMetrics(mp metric.MeterProvider, tp trace.TracerProvider) (*Metrics, error) {
	if mp == nil {
		mp = metricnoop.NewMeterProvider()
	}
	if tp == nil {
		tp = tracenoop.NewTracerProvider()
	}
	meter := mp.Meter(ScopeName)
	m := &Metrics{tracer: tp.Tracer(ScopeName), sets: map[seriesKey]*series{}, declared: map[string][][]attribute.KeyValue{}}
	var err error
	counter := func(name string) metric.Int64Counter {
		if err != nil {
			return nil
		}
		c := mustCatalog(name)
		var inst metric.Int64Counter
		inst, err = meter.Int64Counter(c.Name, metric.WithUnit(c.Unit), metric.WithDescription(c.Description))
		return inst
	}
	histogram := func(name string) metric.Float64Histogram {
		if err != nil {
			return nil
		}
		c := mustCatalog(name)
		var inst metric.Float64Histogram
		inst, err = meter.Float64Histogram(c.Name, metric.WithUnit(c.Unit), metric.WithDescription(c.Description),
			metric.WithExplicitBucketBoundaries(c.Buckets...))
		return inst
	}
	m.requests = counter(MetricRequests)
	m.reqDuration = histogram(MetricRequestDuration)
	m.received = counter(MetricReceived)
	m.sent = counter(MetricSent)
	m.backend = histogram(MetricBackendDuration)
	m.rejections = counter(MetricRejections)
	m.runs = counter(MetricRecoveryRuns)
	m.claims = counter(MetricRecoveryClaims)
	m.failures = counter(MetricRecoveryFails)
	m.deletes = counter(MetricCleanupDeletes)
	m.retries = counter(MetricCleanupRetries)
	m.deadLetters = counter(MetricDeadLetters)
	m.coldStarts = counter(MetricColdStarts)
	if err != nil {
		return nil, err
	}
	c := mustCatalog(MetricChangeLog)
	if m.clEntries, err = meter.Int64Gauge(c.Name, metric.WithUnit(c.Unit), metric.WithDescription(c.Description)); err != nil {
		return nil, err
	}
	c = mustCatalog(MetricChangeLogAge)
	if m.clAge, err = meter.Float64Gauge(c.Name, metric.WithUnit(c.Unit), metric.WithDescription(c.Description)); err != nil {
		return nil, err
	}
	return m, nil
}

func mustCatalog(name string) Metric {
	c, ok := Lookup(name)
	if !ok {
		panic("observe: " + name + " is not in the catalog")
	}
	return c
}

// get returns the precomputed options of metric name with label values vals (in catalog
// order; at most three).
func (m *Metrics) get(name string, vals ...string) *series {
	k := seriesKey{metric: name}
	switch len(vals) {
	case 3:
		k.c = vals[2]
		fallthrough
	case 2:
		k.b = vals[1]
		fallthrough
	case 1:
		k.a = vals[0]
	}
	m.mu.RLock()
	s := m.sets[k]
	m.mu.RUnlock()
	if s != nil {
		return s
	}
	return m.build(k, vals)
}

func (m *Metrics) build(k seriesKey, vals []string) *series {
	m.mu.Lock()
	defer m.mu.Unlock()
	if s := m.sets[k]; s != nil {
		return s
	}
	if len(m.sets) >= maxSeries {
		k = seriesKey{metric: k.metric, a: "other", b: "other", c: "other"}
		if s := m.sets[k]; s != nil {
			return s
		}
		vals = []string{"other", "other", "other"}[:len(vals)]
	}
	opt := metric.WithAttributeSet(attribute.NewSet(labelled(k.metric, vals)...))
	s := &series{add: []metric.AddOption{opt}, record: []metric.RecordOption{opt}}
	if k.metric == MetricBackendDuration {
		s.spanName = vals[0] + "." + vals[1]
		s.spanOpts = []trace.SpanStartOption{
			trace.WithSpanKind(trace.SpanKindClient),
			trace.WithAttributes(attribute.String("strata.backend", vals[0]), attribute.String("strata.backend.call", vals[1])),
		}
	}
	m.sets[k] = s
	return s
}

// StatusClass is the status_class label of an HTTP status.
func StatusClass(status int) string {
	switch {
	case status < 300:
		return "2xx"
	case status < 400:
		return "3xx"
	case status < 500:
		return "4xx"
	}
	return "5xx"
}

// Request records one served request of operation op.
func (m *Metrics) Request(ctx context.Context, op string, status int, d time.Duration, in, out int64) {
	if m == nil {
		return
	}
	s := m.get(MetricRequests, op, StatusClass(status))
	m.requests.Add(ctx, 1, s.add...)
	m.reqDuration.Record(ctx, d.Seconds(), m.get(MetricRequestDuration, op, StatusClass(status)).record...)
	o := m.get(MetricReceived, op)
	if in > 0 {
		m.received.Add(ctx, in, o.add...)
	}
	if out > 0 {
		m.sent.Add(ctx, out, m.get(MetricSent, op).add...)
	}
}

// Backend records one backend call.
func (m *Metrics) Backend(ctx context.Context, backend, op string, err error, d time.Duration) {
	if m == nil {
		return
	}
	m.backend.Record(ctx, d.Seconds(), m.get(MetricBackendDuration, backend, op, Outcome(err)).record...)
}

// Rejected records a request admission refused for reason (one of RejectReasons).
func (m *Metrics) Rejected(ctx context.Context, reason string) {
	if m == nil {
		return
	}
	m.rejections.Add(ctx, 1, m.get(MetricRejections, reason).add...)
}

// RecoveryRun records one recovery pass: its outcome, the entries it claimed and those it
// failed to settle.
func (m *Metrics) RecoveryRun(ctx context.Context, err error, claimed, failed int) {
	if m == nil {
		return
	}
	outcome := "ok"
	if err != nil {
		outcome = "error"
	}
	m.runs.Add(ctx, 1, m.get(MetricRecoveryRuns, outcome).add...)
	if claimed > 0 {
		m.claims.Add(ctx, int64(claimed), m.get(MetricRecoveryClaims).add...)
	}
	if failed > 0 {
		m.failures.Add(ctx, int64(failed), m.get(MetricRecoveryFails).add...)
	}
}

// ChangeLogBacklog records the fleet-wide change-log gauges: entries by phase name (phases
// absent from byPhase are recorded as 0) and the age of the oldest entry.
func (m *Metrics) ChangeLogBacklog(ctx context.Context, byPhase map[string]int, oldest time.Duration) {
	if m == nil {
		return
	}
	for _, p := range Phases() {
		m.clEntries.Record(ctx, int64(byPhase[p]), m.get(MetricChangeLog, p).record...)
	}
	m.clAge.Record(ctx, oldest.Seconds(), m.get(MetricChangeLogAge).record...)
}

// CleanupDeleted records what a cleanup removed: CleanupRevision or CleanupUpload.
func (m *Metrics) CleanupDeleted(ctx context.Context, kind string) {
	if m == nil {
		return
	}
	m.deletes.Add(ctx, 1, m.get(MetricCleanupDeletes, kind).add...)
}

// CleanupRetried records a cleanup task that failed and will run again.
func (m *Metrics) CleanupRetried(ctx context.Context) {
	if m == nil {
		return
	}
	m.retries.Add(ctx, 1, m.get(MetricCleanupRetries).add...)
}

// CleanupGaveUp records a cleanup task abandoned after its last attempt.
func (m *Metrics) CleanupGaveUp(ctx context.Context) {
	if m == nil {
		return
	}
	m.deadLetters.Add(ctx, 1, m.get(MetricDeadLetters).add...)
}

// ColdStart records the start of a process serving function.
func (m *Metrics) ColdStart(ctx context.Context, function string) {
	if m == nil {
		return
	}
	m.coldStarts.Add(ctx, 1, m.get(MetricColdStarts, function).add...)
}

// Phases are the change-log phase names, the values of the phase label.
func Phases() []string {
	var out []string
	for p := driver.PhaseRecorded; p <= driver.PhaseSuperseded; p++ {
		out = append(out, p.String())
	}
	return out
}

// Series is the label values a process declares up front (Zero).
type Series struct {
	// Ops are the operations (route functions) the process serves.
	Ops []string
	// Backends maps a backend name to the calls the process makes on it.
	Backends map[string][]string
	// Function is the function name of strata.cold_starts.
	Function string
	// Fleet is set in the process that runs recovery: it declares the fleet-wide gauges.
	Fleet bool
}

// Zero records a zero for every counter series of the declared label values, so that a
// freshly started process already lists every metric, and remembers the histogram series
// for Declared.
func (m *Metrics) Zero(ctx context.Context, s Series) {
	if m == nil {
		return
	}
	for _, op := range s.Ops {
		for _, c := range StatusClasses {
			m.requests.Add(ctx, 0, m.get(MetricRequests, op, c).add...)
			m.declare(MetricRequestDuration, op, c)
		}
		m.received.Add(ctx, 0, m.get(MetricReceived, op).add...)
		m.sent.Add(ctx, 0, m.get(MetricSent, op).add...)
	}
	for backend, calls := range s.Backends {
		for _, call := range calls {
			for _, o := range Outcomes {
				m.declare(MetricBackendDuration, backend, call, o)
			}
		}
	}
	for _, r := range RejectReasons {
		m.rejections.Add(ctx, 0, m.get(MetricRejections, r).add...)
	}
	for _, o := range RunOutcomes {
		m.runs.Add(ctx, 0, m.get(MetricRecoveryRuns, o).add...)
	}
	m.claims.Add(ctx, 0, m.get(MetricRecoveryClaims).add...)
	m.failures.Add(ctx, 0, m.get(MetricRecoveryFails).add...)
	for _, k := range CleanupKinds {
		m.deletes.Add(ctx, 0, m.get(MetricCleanupDeletes, k).add...)
	}
	m.retries.Add(ctx, 0, m.get(MetricCleanupRetries).add...)
	m.deadLetters.Add(ctx, 0, m.get(MetricDeadLetters).add...)
	if s.Function != "" {
		m.coldStarts.Add(ctx, 0, m.get(MetricColdStarts, s.Function).add...)
	}
	if s.Fleet {
		m.ChangeLogBacklog(ctx, nil, 0)
	}
}

func (m *Metrics) declare(name string, vals ...string) {
	kvs := labelled(name, vals)
	m.mu.Lock()
	m.declared[name] = append(m.declared[name], kvs)
	m.mu.Unlock()
}

// labelled pairs metric name's catalog labels with vals, in order.
func labelled(name string, vals []string) []attribute.KeyValue {
	labels := mustCatalog(name).Labels
	kvs := make([]attribute.KeyValue, len(labels))
	for i, l := range labels {
		kvs[i] = attribute.String(l, vals[i])
	}
	return kvs
}

// Declared returns the label tuples declared for histogram name by Zero.
func (m *Metrics) Declared(name string) [][]attribute.KeyValue {
	if m == nil {
		return nil
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.declared[name]
}

// startCall starts the span of a backend call when the caller's span is recording: an
// unsampled request pays nothing for tracing its backend calls.
func (m *Metrics) startCall(ctx context.Context, backend, op string) (context.Context, trace.Span) {
	if m == nil || !trace.SpanFromContext(ctx).IsRecording() {
		return ctx, nil
	}
	s := m.get(MetricBackendDuration, backend, op, OutcomeOK)
	return m.tracer.Start(ctx, s.spanName, s.spanOpts...)
}

// Tracer returns the tracer of Strata's spans.
func (m *Metrics) Tracer() trace.Tracer {
	if m == nil {
		return tracenoop.NewTracerProvider().Tracer(ScopeName)
	}
	return m.tracer
}
