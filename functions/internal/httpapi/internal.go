package httpapi

import (
	"net/http"
	"strings"

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
// (http-api.md §13).
func (s *Server) handleKeda(w http.ResponseWriter, r *http.Request, _ *call) {
	var b strings.Builder
	_, _ = admission.Snapshot(s.opts.Limiter, s.web, s.opts.Concurrency).WriteTo(&b)
	writeText(w, http.StatusOK, admission.KedaContentType, b.String())
}

// handleCleanup will run one dispatched cleanup task from a Pub/Sub push.
//
// TODO(issue 5): decode the push envelope and call Store.Cleanup.
func (s *Server) handleCleanup(w http.ResponseWriter, r *http.Request, _ *call) {
	writeError(w, r, &httpError{status: http.StatusNotImplemented, detail: "service error: not implemented: cleanup (issue 5)"})
}

// handleRecover will run one bounded recovery pass for Cloud Scheduler.
//
// TODO(issue 5): call Store.Recover and report the RecoverReport.
func (s *Server) handleRecover(w http.ResponseWriter, r *http.Request, _ *call) {
	writeError(w, r, &httpError{status: http.StatusNotImplemented, detail: "service error: not implemented: recover (issue 5)"})
}
