package httpapi

// The request log: one line per request, written through the logger of Options (normally
// one from package logging), with logging's Cloud Logging trace fields.

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.37.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/stratastore/strata/functions/internal/admission"
	"github.com/stratastore/strata/functions/internal/logging"
	"github.com/stratastore/strata/tiered/observe"
)

// reqInfo collects what the request log line reports beyond the HTTP facts.
type reqInfo struct {
	op      string
	usecase string
	backend string
	err     error
}

type infoKey struct{}

// infoFrom returns the request's log info, or nil outside the logging middleware.
func infoFrom(ctx context.Context) *reqInfo {
	i, _ := ctx.Value(infoKey{}).(*reqInfo)
	return i
}

// recorder is the ResponseWriter of the logging middleware: it records the status and
// counts bytes. Unwrap lets http.ResponseController reach Flush, Hijack and
// EnableFullDuplex of the real writer.
type recorder struct {
	http.ResponseWriter
	status int
	bytes  int64
	// body is the request body; an error answered before it was read to its end closes
	// the connection (see WriteHeader).
	body *guardedBody
}

// WriteHeader records the status. An error status sent while the request body is still
// unread also sends "Connection: close": net/http would otherwise read the rest of the
// body (up to 256 KiB) before sending the answer, so that a client holding its body back
// would never see it; closing instead leaves the unread bytes on a connection nobody
// reuses (net/http half-closes it and lingers briefly, so the answer is not lost to a
// reset).
func (rw *recorder) WriteHeader(code int) {
	if rw.status == 0 && code >= 200 {
		rw.status = code
		if code >= 400 && rw.body != nil && !rw.body.eof.Load() {
			rw.Header().Set("Connection", "close")
		}
	}
	rw.ResponseWriter.WriteHeader(code)
}

func (rw *recorder) Write(p []byte) (int, error) {
	if rw.status == 0 {
		rw.status = http.StatusOK
	}
	n, err := rw.ResponseWriter.Write(p)
	rw.bytes += int64(n)
	return n, err
}

func (rw *recorder) Unwrap() http.ResponseWriter { return rw.ResponseWriter }

// logRequest serves r through next and writes one log line for it: the operation, usecase,
// status, bytes in and out, latency and, for puts, the backend the object went to.
//
// It is also where a request is measured: its server span (a child of the caller's trace
// context, observe's backend-call spans below it), strata.requests and
// strata.request.duration by operation and status class, the bytes in and out, and the
// admission rejection, if any, by reason.
func (s *Server) logRequest(w http.ResponseWriter, r *http.Request, op string, next func(http.ResponseWriter, *http.Request)) {
	start := time.Now()
	info := &reqInfo{op: op}
	ctx, span := s.opts.Telemetry.StartRequest(r, op)
	// The handler gets its own copy of the request (WithContext) before its body is
	// wrapped: net/http decides after the handler whether the body was read by looking
	// at its own copy's Body, and it reads ahead into any body it does not recognise.
	r = r.WithContext(context.WithValue(ctx, infoKey{}, info))
	gw, body, finish := s.guard(w, r)
	defer finish()
	rec := &recorder{ResponseWriter: gw, body: body}
	defer func() {
		latency := time.Since(start)
		status := rec.status
		if status == 0 {
			status = http.StatusOK
		}
		s.metrics.Request(ctx, info.op, status, latency, body.n.Load(), rec.bytes)
		if reason := rejectReason(info.err); reason != "" {
			s.metrics.Rejected(ctx, reason)
		}
		endSpan(span, r, status, info.err)
		defer s.opts.Telemetry.AfterRequest()
		attrs := []slog.Attr{
			slog.String("op", info.op),
			slog.Int("status", status),
			slog.Int64("bytes_in", body.n.Load()),
			slog.Int64("bytes_out", rec.bytes),
			slog.Float64("latency_ms", float64(latency.Microseconds())/1000),
			slog.Group("httpRequest",
				slog.String("requestMethod", r.Method),
				slog.String("requestUrl", wirePath(r)),
				slog.String("status", strconv.Itoa(status)),
				slog.String("requestSize", strconv.FormatInt(body.n.Load(), 10)),
				slog.String("responseSize", strconv.FormatInt(rec.bytes, 10)),
				slog.String("latency", strconv.FormatFloat(latency.Seconds(), 'f', 6, 64)+"s"),
				slog.String("remoteIp", r.RemoteAddr),
				slog.String("userAgent", r.UserAgent()),
			),
		}
		if info.usecase != "" {
			attrs = append(attrs, slog.String("usecase", info.usecase))
		}
		if info.backend != "" {
			attrs = append(attrs, slog.String("backend", info.backend))
		}
		attrs = append(attrs, logging.SpanAttrs(span.SpanContext(), r.Header, s.opts.TraceProject)...)
		level := slog.LevelInfo
		if status >= 500 && status != statusClientClosed {
			level = slog.LevelError
		}
		if info.err != nil {
			attrs = append(attrs, slog.String("error", info.err.Error()))
		}
		s.log.LogAttrs(r.Context(), level, "request", attrs...)
	}()
	next(rec, r)
}

// endSpan completes a request's server span with its HTTP facts, when it is recorded.
func endSpan(span trace.Span, r *http.Request, status int, err error) {
	if span.IsRecording() {
		span.SetAttributes(
			semconv.HTTPRequestMethodKey.String(r.Method),
			semconv.HTTPResponseStatusCode(status),
			semconv.URLPath(wirePath(r)),
		)
		if status >= 500 && status != statusClientClosed {
			msg := http.StatusText(status)
			if err != nil {
				msg = err.Error()
			}
			span.SetStatus(codes.Error, msg)
		}
	}
	span.End()
}

// rejectReason is the admission rejection reason of a request's error (observe.Reject*),
// or "" when admission did not refuse it.
func rejectReason(err error) string {
	var cse *clientStreamError
	switch {
	case err == nil:
		return ""
	case errors.Is(err, errRateLimited):
		return observe.RejectRateLimited
	case errors.Is(err, errKillswitch):
		return observe.RejectKillswitch
	case errors.Is(err, errOverloaded):
		return observe.RejectOverloaded
	case errors.Is(err, errBudget):
		return observe.RejectMemory
	case errors.Is(err, admission.ErrAtCapacity):
		return observe.RejectConcurrency
	case errors.As(err, &cse) && cse.tooSlow:
		return observe.RejectSlowClient
	}
	return ""
}
