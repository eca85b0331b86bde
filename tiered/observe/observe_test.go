package observe_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/stratastore/strata/tiered/backendtest"
	"github.com/stratastore/strata/tiered/driver"
	"github.com/stratastore/strata/tiered/membackend"
	"github.com/stratastore/strata/tiered/object"
	"github.com/stratastore/strata/tiered/observe"
)

// newMetrics returns Metrics over a real OpenTelemetry SDK whose points the returned reader
// collects.
func newMetrics(t testing.TB) (*observe.Metrics, *sdkmetric.ManualReader) {
	t.Helper()
	r := sdkmetric.NewManualReader()
	m, err := observe.NewMetrics(sdkmetric.NewMeterProvider(sdkmetric.WithReader(r)), nil)
	if err != nil {
		t.Fatal(err)
	}
	return m, r
}

// points returns the count (histograms) or value (counters, gauges) of every point of
// metric name, keyed by its label values joined with "/".
func points(t testing.TB, r *sdkmetric.ManualReader, name string) map[string]float64 {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := r.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	key := func(s attribute.Set) string {
		k := ""
		for i, kv := range s.ToSlice() {
			if i > 0 {
				k += "/"
			}
			k += kv.Value.Emit()
		}
		return k
	}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != name {
				continue
			}
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				for _, p := range d.DataPoints {
					out[key(p.Attributes)] = float64(p.Value)
				}
			case metricdata.Gauge[int64]:
				for _, p := range d.DataPoints {
					out[key(p.Attributes)] = float64(p.Value)
				}
			case metricdata.Gauge[float64]:
				for _, p := range d.DataPoints {
					out[key(p.Attributes)] = p.Value
				}
			case metricdata.Histogram[float64]:
				for _, p := range d.DataPoints {
					out[key(p.Attributes)] = float64(p.Count)
				}
			default:
				t.Fatalf("%s: unexpected data %T", name, m.Data)
			}
		}
	}
	return out
}

// The decorators must be transparent: the conformance suites pass through them.
func TestConformance_ThroughDecorators(t *testing.T) {
	m, r := newMetrics(t)
	backendtest.TestHighVolume(t, func(t *testing.T) driver.HighVolume {
		return &observe.HighVolume{Inner: membackend.Open(nil).HighVolume(), M: m}
	})
	backendtest.TestLongTerm(t, func(t *testing.T) driver.LongTerm {
		return &observe.LongTerm{Inner: membackend.Open(nil).LongTerm(), M: m}
	})
	backendtest.TestMultipart(t, func(t *testing.T) driver.Multipart {
		return &observe.LongTerm{Inner: membackend.Open(nil).LongTerm(), M: m}
	})
	backendtest.TestChangeLog(t, func(t *testing.T) driver.ChangeLog {
		return &observe.ChangeLog{Inner: membackend.Open(nil).ChangeLog(), M: m}
	})
	backendtest.TestChangeLogReader(t, func(t *testing.T) driver.ChangeLog {
		return &observe.ChangeLog{Inner: membackend.Open(nil).ChangeLog(), M: m}
	})
	backendtest.TestRunLog(t, func(t *testing.T) driver.ChangeLog {
		return &observe.ChangeLog{Inner: membackend.Open(nil).ChangeLog(), M: m}
	})
	if points(t, r, observe.MetricBackendDuration)[membackend.Name+"/CompareAndWrite/ok"] == 0 {
		t.Fatal("no calls recorded")
	}
}

// A nil *Metrics records nothing and breaks nothing.
func TestDecorators_NilMetrics(t *testing.T) {
	hv := &observe.HighVolume{Inner: membackend.Open(nil).HighVolume()}
	if _, err := hv.GetTiered(context.Background(), backendtest.NewID(t, "k")); err != nil {
		t.Fatal(err)
	}
}

func TestOutcome(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{nil, observe.OutcomeOK},
		{object.ErrNotFound, observe.OutcomeNotFound},
		{fmt.Errorf("wrapped: %w", object.ErrNotFound), observe.OutcomeNotFound},
		{object.ErrConflict, observe.OutcomeConflict},
		{errors.New("boom"), observe.OutcomeError},
		{object.ErrInvalidArgument, observe.OutcomeError},
	} {
		if got := observe.Outcome(tc.err); got != tc.want {
			t.Errorf("Outcome(%v) = %s, want %s", tc.err, got, tc.want)
		}
	}
}

// Not found and a lost race are outcomes, not errors.
func TestDecorators_ClassifyExpectedOutcomes(t *testing.T) {
	ctx := context.Background()
	m, r := newMetrics(t)
	hv := &observe.HighVolume{Inner: membackend.Open(nil).HighVolume(), M: m}
	id := backendtest.NewID(t, "k")
	if _, err := hv.GetTiered(ctx, id); err != nil {
		t.Fatal(err)
	}
	target := backendtest.NewID(t, "k/rev")
	w := driver.Write{Kind: driver.WriteTombstone, Tombstone: driver.Tombstone{Target: target}}
	if ok, err := hv.CompareAndWrite(ctx, id, nil, w); !ok || err != nil {
		t.Fatal(ok, err)
	}
	other := backendtest.NewID(t, "k/other")
	if ok, err := hv.CompareAndWrite(ctx, id, &other, driver.Write{Kind: driver.WriteDelete}); ok || err != nil {
		t.Fatal(ok, err)
	}
	lt := &observe.LongTerm{Inner: membackend.Open(nil).LongTerm(), M: m}
	if _, err := lt.Head(ctx, id); !errors.Is(err, object.ErrNotFound) {
		t.Fatal(err)
	}
	got := points(t, r, observe.MetricBackendDuration)
	for k, want := range map[string]float64{
		membackend.Name + "/GetTiered/not_found":      1,
		membackend.Name + "/CompareAndWrite/ok":       1,
		membackend.Name + "/CompareAndWrite/conflict": 1,
		membackend.Name + "/Head/not_found":           1,
		membackend.Name + "/Head/error":               0,
	} {
		if got[k] != want {
			t.Errorf("%s: %v calls, want %v (all: %v)", k, got[k], want, got)
		}
	}
}

// A backend call gets a child span only under a sampled parent, named backend.call, with
// its outcome.
func TestDecorators_SpanUnderSampledParent(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	m, err := observe.NewMetrics(nil, tp)
	if err != nil {
		t.Fatal(err)
	}
	hv := &observe.HighVolume{Inner: membackend.Open(nil).HighVolume(), M: m}
	id := backendtest.NewID(t, "k")
	if _, err := hv.GetTiered(context.Background(), id); err != nil { // no parent: no span
		t.Fatal(err)
	}
	if n := len(rec.Ended()); n != 0 {
		t.Fatalf("%d spans without a parent, want 0", n)
	}
	ctx, parent := tp.Tracer("test").Start(context.Background(), "request")
	if _, err := hv.GetTiered(ctx, id); err != nil {
		t.Fatal(err)
	}
	parent.End()
	ended := rec.Ended()
	if len(ended) != 2 {
		t.Fatalf("%d spans, want the call's and the parent's", len(ended))
	}
	call := ended[0]
	if call.Name() != membackend.Name+".GetTiered" || call.Parent().SpanID() != parent.SpanContext().SpanID() {
		t.Errorf("span %q parent %s, want %s.GetTiered under %s", call.Name(), call.Parent().SpanID(), membackend.Name, parent.SpanContext().SpanID())
	}
	var outcome string
	for _, kv := range call.Attributes() {
		if kv.Key == "strata.outcome" {
			outcome = kv.Value.AsString()
		}
	}
	if outcome != observe.OutcomeNotFound {
		t.Errorf("span outcome %q, want %q", outcome, observe.OutcomeNotFound)
	}
}

// Recording is allocation-free once a series exists: the hot path records a request and its
// backend calls on every request.
func TestMetrics_RecordingAllocatesNothing(t *testing.T) {
	m, _ := newMetrics(t)
	ctx := context.Background()
	boom := errors.New("boom")
	record := func() {
		m.Request(ctx, "object_get", 200, time.Millisecond, 10, 4096)
		m.Backend(ctx, "bigtable", "GetTiered", nil, time.Millisecond)
		m.Backend(ctx, "bigtable", "GetTiered", boom, time.Millisecond)
		m.Rejected(ctx, observe.RejectRateLimited)
	}
	record() // the first use builds the series
	if n := testing.AllocsPerRun(200, record); n != 0 {
		t.Errorf("recording allocates %v times per request, want 0", n)
	}
}

// Zero declares every series up front: counters read zero before anything happened.
func TestMetrics_Zero(t *testing.T) {
	m, r := newMetrics(t)
	m.Zero(context.Background(), observe.Series{
		Ops:      []string{"object_get"},
		Backends: map[string][]string{"bigtable": observe.HighVolumeCalls},
		Function: "strata",
		Fleet:    true,
	})
	for name, key := range map[string]string{
		observe.MetricRequests:       "object_get/4xx",
		observe.MetricRejections:     observe.RejectMemory,
		observe.MetricRecoveryRuns:   "error",
		observe.MetricCleanupDeletes: observe.CleanupUpload,
		observe.MetricColdStarts:     "strata",
		observe.MetricChangeLog:      "superseded",
		observe.MetricChangeLogAge:   "",
	} {
		if v, ok := points(t, r, name)[key]; !ok || v != 0 {
			t.Errorf("%s{%s} = %v (present %v), want a zero", name, key, v, ok)
		}
	}
	if got := len(m.Declared(observe.MetricBackendDuration)); got != len(observe.HighVolumeCalls)*len(observe.Outcomes) {
		t.Errorf("%d backend histogram series declared, want %d", got, len(observe.HighVolumeCalls)*len(observe.Outcomes))
	}
}

// The catalog is consistent: unique names, at most three labels (Metrics keys series by
// three values), histograms with buckets, counters named _total in Prometheus.
func TestCatalog(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range observe.Catalog {
		if seen[c.Name] || seen[c.Prometheus] {
			t.Errorf("%s: duplicate name", c.Name)
		}
		seen[c.Name], seen[c.Prometheus] = true, true
		if len(c.Labels) > 3 {
			t.Errorf("%s: %d labels, at most 3", c.Name, len(c.Labels))
		}
		if (c.Kind == observe.Histogram) != (len(c.Buckets) > 0) {
			t.Errorf("%s: a %s with %d buckets", c.Name, c.Kind, len(c.Buckets))
		}
		if c.Monitoring != "workload.googleapis.com/"+c.Name {
			t.Errorf("%s: monitoring type %q", c.Name, c.Monitoring)
		}
	}
	if _, err := observe.NewMetrics(nil, nil); err != nil {
		t.Fatal(err)
	}
}
