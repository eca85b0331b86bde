package admission

import (
	"bytes"
	"fmt"
	"io"
)

// KedaContentType is the content type of the /keda response.
const KedaContentType = "text/plain; version=0.0.4; charset=utf-8"

// KedaMetrics are the values the /keda endpoint reports, for KEDA-style autoscaling.
type KedaMetrics struct {
	BytesTotal       uint64 // bytes transferred since start-up (Limiter.BytesTotal)
	RequestsTotal    uint64 // admitted rate-limit checks (Limiter.RequestsTotal)
	RequestsInFlight int    // in-flight HTTP requests (WebLimiter.InFlight)
	RequestsLimit    int    // http.max_requests (WebLimiter.Limit)
	TasksRunning     int    // backend tasks running (Concurrency.Running)
	TasksLimit       int    // service.max_concurrency (Concurrency.Limit)
	// BandwidthLimit and ThroughputLimit are the global limits, reported only when set.
	BandwidthLimit, ThroughputLimit *uint64
}

// Snapshot collects KedaMetrics from the limiters; any of them may be nil.
func Snapshot(l *Limiter, web *WebLimiter, c *Concurrency) KedaMetrics {
	var m KedaMetrics
	if l != nil {
		m.BytesTotal, m.RequestsTotal = l.BytesTotal(), l.RequestsTotal()
		if bps, ok := l.GlobalBPS(); ok {
			m.BandwidthLimit = &bps
		}
		if rps, ok := l.GlobalRPS(); ok {
			m.ThroughputLimit = &rps
		}
	}
	if web != nil {
		m.RequestsInFlight, m.RequestsLimit = web.InFlight(), web.Limit()
	}
	if c != nil {
		m.TasksRunning, m.TasksLimit = c.Running(), c.Limit()
	}
	return m
}

// WriteTo writes m in objectstore's /keda text format (Prometheus exposition, every line
// ending in '\n'): bytes and requests counters, in-flight and task gauges with their limits,
// then the global bandwidth and throughput limits when configured.
func (m KedaMetrics) WriteTo(w io.Writer) (int64, error) {
	var b bytes.Buffer
	metric := func(name, kind, help string, v any) {
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s %s\n%s %v\n", name, help, name, kind, name, v)
	}
	metric("objectstore_bytes_total", "counter", "Total bytes transferred since startup", m.BytesTotal)
	metric("objectstore_requests_total", "counter", "Total admitted requests since startup", m.RequestsTotal)
	metric("objectstore_requests_in_flight", "gauge", "Current in-flight HTTP requests", m.RequestsInFlight)
	metric("objectstore_requests_limit", "gauge", "Configured maximum concurrent HTTP requests", m.RequestsLimit)
	metric("objectstore_tasks_running", "gauge", "Current running backend tasks", m.TasksRunning)
	metric("objectstore_tasks_limit", "gauge", "Configured maximum concurrent backend tasks", m.TasksLimit)
	if m.BandwidthLimit != nil {
		metric("objectstore_bandwidth_limit", "gauge", "Configured global bandwidth limit in bytes/s", *m.BandwidthLimit)
	}
	if m.ThroughputLimit != nil {
		metric("objectstore_throughput_limit", "gauge", "Configured global throughput limit in requests/s", *m.ThroughputLimit)
	}
	return b.WriteTo(w)
}
