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
	// aborted: the response failed after its status went out (a backend stream error, a
	// panic) and the connection was cut. The client saw a broken transfer, so the request is
	// measured as a server error (5xx), whatever status was sent.
	aborted bool
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
		measured := status
		if info.aborted {
			measured = http.StatusInternalServerError
		}
		s.metrics.Request(ctx, info.op, measured, latency, body.n.Load(), rec.bytes)
		if reason := rejectReason(info.err); reason != "" {
			s.metrics.Rejected(ctx, reason)
		}
		endSpan(span, r, measured, info.err)
		defer s.opts.Telemetry.AfterRequest()
		line := requestLine{
			op:        info.op,
			status:    status,
			bytesIn:   body.n.Load(),
			bytesOut:  rec.bytes,
			latency:   latency,
			method:    r.Method,
			url:       wirePath(r),
			remoteIP:  r.RemoteAddr,
			userAgent: r.UserAgent(),
			usecase:   info.usecase,
			backend:   info.backend,
			err:       info.err,
		}
		line.trace, line.spanID, line.sampled, line.sampledKnown = logging.SpanIDs(span.SpanContext(), r.Header, s.opts.TraceProject)
		level := slog.LevelInfo
		if measured >= 500 && measured != statusClientClosed {
			level = slog.LevelError
		}
		s.writeRequestLine(r.Context(), level, &line)
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
	case errors.Is(err, errStreamSlots):
		return observe.RejectLargeUploads
	case errors.Is(err, admission.ErrAtCapacity):
		return observe.RejectConcurrency
	case errors.As(err, &cse) && cse.tooSlow:
		return observe.RejectSlowClient
	}
	return ""
}

// requestLine is what the log line of one request says.
type requestLine struct {
	op                string
	status            int
	bytesIn, bytesOut int64
	latency           time.Duration
	method, url       string
	remoteIP          string
	userAgent         string
	usecase, backend  string
	// trace and spanID are the Cloud Logging trace fields (logging.SpanIDs), "" for none;
	// sampled is the trace's sampling decision, written when sampledKnown.
	trace, spanID         string
	sampled, sampledKnown bool
	err                   error
}

// writeRequestLine logs l. With a logger of package logging (the binary's and the
// functions'), the line is appended as JSON into a pooled buffer (logging.StartLine): a
// request's slog attributes and slog's JSON handler cost more than the rest of its logging.
// Any other logger gets the same fields as slog attributes (attrs), the reference the fast
// line is tested against.
func (s *Server) writeRequestLine(ctx context.Context, level slog.Level, l *requestLine) {
	ln := logging.StartLine(ctx, s.log, level, "request")
	if ln == nil {
		if s.log.Enabled(ctx, level) {
			s.log.LogAttrs(ctx, level, "request", l.attrs()...)
		}
		return
	}
	ln.String("op", l.op)
	ln.Int("status", int64(l.status))
	ln.Int("bytes_in", l.bytesIn)
	ln.Int("bytes_out", l.bytesOut)
	ln.Float("latency_ms", latencyMS(l.latency))
	ln.OpenGroup("httpRequest")
	ln.String("requestMethod", l.method)
	ln.String("requestUrl", l.url)
	var num [24]byte
	ln.String("status", string(strconv.AppendInt(num[:0], int64(l.status), 10)))
	ln.String("requestSize", string(strconv.AppendInt(num[:0], l.bytesIn, 10)))
	ln.String("responseSize", string(strconv.AppendInt(num[:0], l.bytesOut, 10)))
	ln.String("latency", cloudLatency(l.latency))
	ln.String("remoteIp", l.remoteIP)
	ln.String("userAgent", l.userAgent)
	ln.CloseGroup()
	if l.usecase != "" {
		ln.String("usecase", l.usecase)
	}
	if l.backend != "" {
		ln.String("backend", l.backend)
	}
	if l.trace != "" {
		ln.String(logging.TraceKey, l.trace)
		if l.spanID != "" {
			ln.String(logging.SpanIDKey, l.spanID)
		}
		if l.sampledKnown {
			ln.Bool(logging.TraceSampledKey, l.sampled)
		}
	}
	if l.err != nil {
		ln.String("error", l.err.Error())
	}
	_ = ln.End()
}

// attrs returns l's fields as slog attributes, in the order of the fast line.
func (l *requestLine) attrs() []slog.Attr {
	attrs := []slog.Attr{
		slog.String("op", l.op),
		slog.Int("status", l.status),
		slog.Int64("bytes_in", l.bytesIn),
		slog.Int64("bytes_out", l.bytesOut),
		slog.Float64("latency_ms", latencyMS(l.latency)),
		slog.Group("httpRequest",
			slog.String("requestMethod", l.method),
			slog.String("requestUrl", l.url),
			slog.String("status", strconv.Itoa(l.status)),
			slog.String("requestSize", strconv.FormatInt(l.bytesIn, 10)),
			slog.String("responseSize", strconv.FormatInt(l.bytesOut, 10)),
			slog.String("latency", cloudLatency(l.latency)),
			slog.String("remoteIp", l.remoteIP),
			slog.String("userAgent", l.userAgent),
		),
	}
	if l.usecase != "" {
		attrs = append(attrs, slog.String("usecase", l.usecase))
	}
	if l.backend != "" {
		attrs = append(attrs, slog.String("backend", l.backend))
	}
	if l.trace != "" {
		attrs = append(attrs, slog.String(logging.TraceKey, l.trace))
		if l.spanID != "" {
			attrs = append(attrs, slog.String(logging.SpanIDKey, l.spanID))
		}
		if l.sampledKnown {
			attrs = append(attrs, slog.Bool(logging.TraceSampledKey, l.sampled))
		}
	}
	if l.err != nil {
		attrs = append(attrs, slog.String("error", l.err.Error()))
	}
	return attrs
}

// latencyMS is the latency_ms field: milliseconds with microsecond precision.
func latencyMS(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// cloudLatency is httpRequest.latency: seconds with a trailing "s", as Cloud Logging's
// HttpRequest expects.
func cloudLatency(d time.Duration) string {
	return strconv.FormatFloat(d.Seconds(), 'f', 6, 64) + "s"
}
