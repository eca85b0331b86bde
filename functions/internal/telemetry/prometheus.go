package telemetry

import (
	"math"
	"slices"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"go.opentelemetry.io/otel/attribute"

	"github.com/stratastore/strata/tiered/observe"
)

// zeroFilled gathers the Prometheus exporter's registry and adds, at zero, the histogram
// series declared up front (observe.Metrics.Zero) that have no observation yet: an
// OpenTelemetry histogram cannot be recorded empty, and a fresh server must list every
// series.
type zeroFilled struct {
	reg *prometheus.Registry
	t   *Telemetry
}

func (z *zeroFilled) Gather() ([]*dto.MetricFamily, error) {
	mfs, err := z.reg.Gather()
	for _, c := range observe.Catalog {
		if c.Kind != observe.Histogram {
			continue
		}
		declared := z.t.Metrics.Declared(c.Name)
		if len(declared) == 0 {
			continue
		}
		i := slices.IndexFunc(mfs, func(mf *dto.MetricFamily) bool { return mf.GetName() == c.Prometheus })
		if i < 0 {
			mfs = append(mfs, &dto.MetricFamily{
				Name: ptr(c.Prometheus), Help: ptr(c.Description), Type: dto.MetricType_HISTOGRAM.Enum(),
			})
			i = len(mfs) - 1
		}
		mf := mfs[i]
		have := map[string]bool{}
		for _, m := range mf.Metric {
			have[labelKey(m.Label)] = true
		}
		for _, kvs := range declared {
			labels := promLabels(kvs)
			if have[labelKey(labels)] {
				continue
			}
			h := &dto.Histogram{SampleCount: ptr(uint64(0)), SampleSum: ptr(0.0)}
			for _, b := range c.Buckets {
				h.Bucket = append(h.Bucket, &dto.Bucket{UpperBound: ptr(b), CumulativeCount: ptr(uint64(0))})
			}
			h.Bucket = append(h.Bucket, &dto.Bucket{UpperBound: ptr(math.Inf(1)), CumulativeCount: ptr(uint64(0))})
			mf.Metric = append(mf.Metric, &dto.Metric{Label: labels, Histogram: h})
		}
	}
	slices.SortFunc(mfs, func(a, b *dto.MetricFamily) int { return strings.Compare(a.GetName(), b.GetName()) })
	return mfs, err
}

func promLabels(kvs []attribute.KeyValue) []*dto.LabelPair {
	out := make([]*dto.LabelPair, len(kvs))
	for i, kv := range kvs {
		out[i] = &dto.LabelPair{Name: ptr(string(kv.Key)), Value: ptr(kv.Value.Emit())}
	}
	slices.SortFunc(out, func(a, b *dto.LabelPair) int { return strings.Compare(a.GetName(), b.GetName()) })
	return out
}

func labelKey(ls []*dto.LabelPair) string {
	var b strings.Builder
	for _, l := range ls {
		b.WriteString(l.GetName())
		b.WriteByte('=')
		b.WriteString(l.GetValue())
		b.WriteByte(0)
	}
	return b.String()
}

func ptr[T any](v T) *T { return &v }
