package telemetry_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/monitoring/apiv3/v2/monitoringpb"
	"cloud.google.com/go/trace/apiv2/tracepb"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/stratastore/strata/functions/internal/telemetry"
	"github.com/stratastore/strata/tiered/observe"
)

// everything records at least one point of every metric of the catalog.
func everything(ctx context.Context, m *observe.Metrics) {
	m.Request(ctx, "object_get", 200, time.Millisecond, 10, 20)
	m.Backend(ctx, "bigtable", "GetTiered", nil, time.Millisecond)
	m.Rejected(ctx, observe.RejectMemory)
	m.ChangeLogBacklog(ctx, map[string]int{"recorded": 2}, time.Minute)
	m.RecoveryRun(ctx, nil, 3, 1)
	m.CleanupDeleted(ctx, observe.CleanupRevision)
	m.CleanupRetried(ctx)
	m.CleanupGaveUp(ctx)
	m.ColdStart(ctx, "object_get")
}

// series declares one op, one backend and the fleet gauges.
var series = observe.Series{
	Ops:      []string{"object_get", "object_put"},
	Backends: map[string][]string{"bigtable": observe.HighVolumeCalls},
	Function: "strata",
	Fleet:    true,
}

// A fresh process's /metrics lists every metric of the catalog, under the catalog's
// Prometheus name and with the catalog's labels, before anything was recorded.
func TestPrometheus_ListsTheCatalogFromTheStart(t *testing.T) {
	tel, err := telemetry.New(context.Background(), telemetry.Options{Exporter: telemetry.ExporterPrometheus})
	if err != nil {
		t.Fatal(err)
	}
	defer tel.Shutdown(context.Background())
	tel.Metrics.Zero(context.Background(), series)
	families := scrape(t, tel.MetricsHandler())
	for _, c := range observe.Catalog {
		mf, ok := families[c.Prometheus]
		if !ok {
			t.Errorf("%s: %s missing from /metrics (have %v)", c.Name, c.Prometheus, sortedNames(families))
			continue
		}
		for _, m := range mf.Metric {
			var got []string
			for _, l := range m.Label {
				got = append(got, l.GetName())
			}
			want := slices.Clone(c.Labels)
			sort.Strings(want)
			if !slices.Equal(got, want) {
				t.Errorf("%s: labels %v, want %v", c.Prometheus, got, want)
				break
			}
			var v float64
			switch {
			case m.Counter != nil:
				v = m.Counter.GetValue()
			case m.Gauge != nil:
				v = m.Gauge.GetValue()
			case m.Histogram != nil:
				v = float64(m.Histogram.GetSampleCount())
				if len(m.Histogram.Bucket) != len(c.Buckets)+1 { // and +Inf
					t.Errorf("%s: %d buckets, want %d", c.Prometheus, len(m.Histogram.Bucket), len(c.Buckets)+1)
				}
			}
			if v != 0 {
				t.Errorf("%s: %v on a fresh process, want 0", c.Prometheus, v)
			}
		}
		if len(mf.Metric) == 0 {
			t.Errorf("%s: no series", c.Prometheus)
		}
	}
	if n := len(families[observe.Catalog[1].Prometheus].Metric); n != 2*len(observe.StatusClasses) {
		t.Errorf("request histogram: %d series, want %d", n, 2*len(observe.StatusClasses))
	}

	// Once observed, a histogram series is the exporter's own, not a zero added twice.
	tel.Metrics.Request(context.Background(), "object_get", 200, time.Millisecond, 1, 1)
	families = scrape(t, tel.MetricsHandler())
	var n int
	for _, m := range families["strata_request_duration_seconds"].Metric {
		if labelValue(m.Label, "op") == "object_get" && labelValue(m.Label, "status_class") == "2xx" {
			n++
			if m.Histogram.GetSampleCount() != 1 {
				t.Errorf("object_get 2xx count %d, want 1", m.Histogram.GetSampleCount())
			}
		}
	}
	if n != 1 {
		t.Errorf("%d object_get/2xx series, want 1", n)
	}
}

func labelValue(ls []*dtoLabel, name string) string {
	for _, l := range ls {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

func scrape(t *testing.T, h http.Handler) map[string]*dtoFamily {
	t.Helper()
	if h == nil {
		t.Fatal("no /metrics handler")
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 200 {
		t.Fatalf("/metrics: %d %s", rec.Code, rec.Body)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	families, err := p.TextToMetricFamilies(strings.NewReader(rec.Body.String()))
	if err != nil {
		t.Fatalf("/metrics is not the Prometheus text format: %v\n%s", err, rec.Body)
	}
	return families
}

func sortedNames[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// fakeGoogle is a fake Cloud Monitoring and Cloud Trace on one gRPC server.
type fakeGoogle struct {
	monitoringpb.UnimplementedMetricServiceServer
	tracepb.UnimplementedTraceServiceServer
	mu     sync.Mutex
	series []*monitoringpb.TimeSeries
	spans  []*tracepb.Span
	writes int
	addr   string
}

func (f *fakeGoogle) CreateTimeSeries(_ context.Context, r *monitoringpb.CreateTimeSeriesRequest) (*emptypb.Empty, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.writes++
	f.series = append(f.series, r.TimeSeries...)
	return &emptypb.Empty{}, nil
}

func (f *fakeGoogle) BatchWriteSpans(_ context.Context, r *tracepb.BatchWriteSpansRequest) (*emptypb.Empty, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.spans = append(f.spans, r.Spans...)
	return &emptypb.Empty{}, nil
}

func startFakeGoogle(t *testing.T) *fakeGoogle {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeGoogle{addr: ln.Addr().String()}
	s := grpc.NewServer()
	monitoringpb.RegisterMetricServiceServer(s, f)
	tracepb.RegisterTraceServiceServer(s, f)
	go func() { _ = s.Serve(ln) }()
	t.Cleanup(s.Stop)
	return f
}

func (f *fakeGoogle) clientOptions() []option.ClientOption {
	return []option.ClientOption{
		option.WithEndpoint(f.addr), option.WithoutAuthentication(),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())),
	}
}

func newGoogle(t *testing.T, f *fakeGoogle, interval time.Duration) *telemetry.Telemetry {
	t.Helper()
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "")
	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "")
	tel, err := telemetry.New(context.Background(), telemetry.Options{
		Exporter: telemetry.ExporterGoogle, Project: "strata-test", Service: "object_get", SampleRatio: 1,
		ExportInterval: interval, MonitoringOptions: f.clientOptions(), TraceOptions: f.clientOptions(),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tel.Shutdown(context.Background()) })
	return tel
}

// Google's exporters write every catalog metric under the catalog's Cloud Monitoring type,
// kind and labels, and spans to Cloud Trace, against fake services (no network).
func TestGoogle_ExportsTheCatalogAndSpans(t *testing.T) {
	f := startFakeGoogle(t)
	tel := newGoogle(t, f, time.Hour)
	ctx := context.Background()
	everything(ctx, tel.Metrics)
	r := httptest.NewRequest("GET", "/v1/objects/u/o=1/k", nil)
	r.Header.Set("X-Cloud-Trace-Context", "0123456789abcdef0123456789abcdef/1;o=1")
	_, span := tel.StartRequest(r, "object_get")
	span.End()
	if err := tel.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	byType := map[string]*monitoringpb.TimeSeries{}
	for _, ts := range f.series {
		byType[ts.Metric.Type] = ts
	}
	for _, c := range observe.Catalog {
		ts, ok := byType[c.Monitoring]
		if !ok {
			t.Errorf("%s: no time series of type %s (got %v)", c.Name, c.Monitoring, sortedNames(byType))
			continue
		}
		var keys []string
		for k := range ts.Metric.Labels {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		want := slices.Clone(c.Labels)
		sort.Strings(want)
		if !slices.Equal(keys, want) {
			t.Errorf("%s: labels %v, want %v", c.Monitoring, keys, want)
		}
		kind := "CUMULATIVE"
		if c.Kind == observe.Gauge {
			kind = "GAUGE"
		}
		if ts.MetricKind.String() != kind || ts.ValueType.String() != c.ValueType {
			t.Errorf("%s: %s %s, want %s %s", c.Monitoring, ts.MetricKind, ts.ValueType, kind, c.ValueType)
		}
	}
	if len(f.spans) != 1 {
		t.Fatalf("%d spans exported, want 1", len(f.spans))
	}
	if got := f.spans[0].Name; !strings.Contains(got, "/traces/0123456789abcdef0123456789abcdef/spans/") {
		t.Errorf("span %s is not in the load balancer's trace", got)
	}
}

// Request-driven exports are rate-limited: a burst of requests within one interval exports
// once.
func TestAfterRequest_ExportsAtABoundedRate(t *testing.T) {
	f := startFakeGoogle(t)
	tel := newGoogle(t, f, time.Hour)
	everything(context.Background(), tel.Metrics)
	var wg sync.WaitGroup
	for range 64 {
		wg.Go(tel.AfterRequest)
	}
	wg.Wait()
	deadline := time.Now().Add(10 * time.Second)
	for {
		f.mu.Lock()
		writes := f.writes
		f.mu.Unlock()
		if writes > 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond) // a second export, if one were started, lands by now
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.writes != 1 {
		t.Errorf("%d exports after 64 requests in one interval, want 1", f.writes)
	}
}

// The server span joins the caller's trace: traceparent first, the load balancer's
// X-Cloud-Trace-Context otherwise, with the caller's sampling decision.
func TestStartRequest_JoinsTheCallersTrace(t *testing.T) {
	tel, err := telemetry.New(context.Background(), telemetry.Options{Exporter: telemetry.ExporterNone})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		header, value, trace string
	}{
		{"Traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "4bf92f3577b34da6a3ce929d0e0e4736"},
		{"X-Cloud-Trace-Context", "105445aa7843bc8bf206b12000100000/1;o=1", "105445aa7843bc8bf206b12000100000"},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set(tc.header, tc.value)
		_, span := tel.StartRequest(r, "object_get")
		sc := span.SpanContext()
		if sc.TraceID().String() != tc.trace || !sc.SpanID().IsValid() {
			t.Errorf("%s: span in trace %s (span %s), want trace %s", tc.header, sc.TraceID(), sc.SpanID(), tc.trace)
		}
		span.End()
	}
	_, span := tel.StartRequest(httptest.NewRequest("GET", "/", nil), "object_get")
	if !span.SpanContext().IsValid() {
		t.Error("a request without a trace context gets no trace id")
	}
	_ = trace.SpanFromContext
	_ = io.Discard
}

type (
	dtoFamily = dto.MetricFamily
	dtoLabel  = dto.LabelPair
)

// A synchronous flush (the recover function's) counts as the interval's export: the request
// ending right after it does not export the same series again.
func TestFlush_CountsAsTheIntervalsExport(t *testing.T) {
	f := startFakeGoogle(t)
	tel := newGoogle(t, f, time.Hour)
	everything(context.Background(), tel.Metrics)
	if err := tel.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	tel.AfterRequest()
	time.Sleep(300 * time.Millisecond) // an export started by AfterRequest lands by now
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.writes != 1 {
		t.Errorf("%d exports, want the flush's only", f.writes)
	}
}

// A caller's sampled flag is followed only up to a rate: a client cannot have every one of
// its requests traced.
func TestSampling_FollowingTheCallerIsCapped(t *testing.T) {
	f := startFakeGoogle(t)
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "")
	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "")
	tel, err := telemetry.New(context.Background(), telemetry.Options{
		Exporter: telemetry.ExporterGoogle, Project: "strata-test", SampleRatio: 0, MaxFollowedPerSecond: 1,
		MonitoringOptions: f.clientOptions(), TraceOptions: f.clientOptions(),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer tel.Shutdown(context.Background())
	sampled := 0
	for i := range 200 {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Traceparent", fmt.Sprintf("00-%032x-00f067aa0ba902b7-01", i+1))
		_, span := tel.StartRequest(r, "object_get")
		if span.SpanContext().IsSampled() {
			sampled++
		}
		span.End()
	}
	// The limiter's burst (10) and at most a couple more at 1/s while the loop runs.
	if sampled == 0 || sampled > 15 {
		t.Errorf("%d of 200 caller-sampled requests traced, want the capped few (1..15)", sampled)
	}
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00")
	if _, span := tel.StartRequest(r, "object_get"); span.SpanContext().IsSampled() {
		t.Error("a caller's unsampled decision was overridden")
	}
}
