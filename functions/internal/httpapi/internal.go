package httpapi

import (
	"net/http"
	"strings"

	"github.com/stratastore/strata/functions/internal/cleanup"
	"github.com/stratastore/strata/tiered"

	"github.com/stratastore/strata/functions/internal/admission"
)

// writeText answers with a text/plain body.
func writeText(w http.ResponseWriter, status int, contentType, body string) {
	setContentType(w.Header(), contentType)
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body))
}

// handleHealth is the liveness probe: 200 "OK".
func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request, _ *call) {
	writeText(w, http.StatusOK, "text/plain; charset=utf-8", "OK")
}

// handleReady is the readiness probe: 200 "OK", or 503 "Shutting down" once Drain was called.
func (s *Server) handleReady(w http.ResponseWriter, r *http.Request, _ *call) {
	if s.draining.Load() {
		writeText(w, http.StatusServiceUnavailable, "text/plain; charset=utf-8", "Shutting down")
		return
	}
	writeText(w, http.StatusOK, "text/plain; charset=utf-8", "OK")
}

// handleKeda serves objectstore's autoscaling gauges in the Prometheus text format
// (functions/API.md §13).
func (s *Server) handleKeda(w http.ResponseWriter, r *http.Request, _ *call) {
	var b strings.Builder
	_, _ = admission.Snapshot(s.opts.Limiter, s.web, s.opts.Concurrency).WriteTo(&b)
	writeText(w, http.StatusOK, admission.KedaContentType, b.String())
}

// handleMetrics serves every metric of the catalog (observe.Catalog) in the Prometheus text
// format, through OpenTelemetry's Prometheus exporter; without one (STRATA_TELEMETRY is not
// prometheus) the page is empty.
func (s *Server) handleMetrics(w http.ResponseWriter, r *http.Request, _ *call) {
	if h := s.opts.Telemetry.MetricsHandler(); h != nil {
		h.ServeHTTP(w, r)
		return
	}
	writeText(w, http.StatusOK, "text/plain; version=0.0.4; charset=utf-8", "")
}

// handleCleanup runs one dispatched cleanup task from a Pub/Sub push.
func (s *Server) handleCleanup(w http.ResponseWriter, r *http.Request, _ *call) {
	cleanup.PushHandler(s.store, s.log, cleanup.PushObserver{Metrics: s.metrics, MaxDeliveries: s.opts.CleanupMaxDeliveries}).ServeHTTP(w, r)
}

// handleRecover runs one bounded recovery pass for Cloud Scheduler and reports it as JSON.
func (s *Server) handleRecover(w http.ResponseWriter, r *http.Request, _ *call) {
	cleanup.RecoverHandler(s.opts.Recoverer, tiered.DefaultRecoverLimit, s.log).ServeHTTP(w, r)
}
