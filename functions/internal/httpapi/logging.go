package httpapi

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// NewLogger returns a JSON logger in the shape Cloud Logging reads from a container's
// output: "severity" (DEBUG, INFO, WARNING, ERROR) instead of "level", and "message"
// instead of "msg".
func NewLogger(w io.Writer, level slog.Leveler) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{
		Level: level,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) > 0 {
				return a
			}
			switch a.Key {
			case slog.LevelKey:
				a.Key = "severity"
				if l, ok := a.Value.Any().(slog.Level); ok {
					a.Value = slog.StringValue(severity(l))
				}
			case slog.MessageKey:
				a.Key = "message"
			}
			return a
		},
	}))
}

// severity maps a slog level to a Cloud Logging severity.
func severity(l slog.Level) string {
	switch {
	case l < slog.LevelInfo:
		return "DEBUG"
	case l < slog.LevelWarn:
		return "INFO"
	case l < slog.LevelError:
		return "WARNING"
	default:
		return "ERROR"
	}
}

// traceAttrs returns the Cloud Logging trace fields of a request, taken from
// X-Cloud-Trace-Context ("TRACE/SPAN;o=1") or W3C traceparent ("00-TRACE-SPAN-FLAGS").
// project, when known, makes the trace a full resource name as Cloud Logging expects.
func traceAttrs(r *http.Request, project string) []slog.Attr {
	var trace, span string
	if v := r.Header.Get("X-Cloud-Trace-Context"); v != "" {
		trace, span, _ = strings.Cut(v, "/")
		span, _, _ = strings.Cut(span, ";")
	} else if v := r.Header.Get("Traceparent"); v != "" {
		if parts := strings.Split(v, "-"); len(parts) == 4 {
			trace, span = parts[1], parts[2]
		}
	}
	if !isHex(trace) {
		return nil
	}
	if project != "" {
		trace = "projects/" + project + "/traces/" + trace
	}
	attrs := []slog.Attr{slog.String("logging.googleapis.com/trace", trace)}
	if span != "" {
		attrs = append(attrs, slog.String("logging.googleapis.com/spanId", span))
	}
	return attrs
}

func isHex(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !strings.Contains("0123456789abcdefABCDEF", s[i:i+1]) {
			return false
		}
	}
	return true
}

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
}

func (rw *recorder) WriteHeader(code int) {
	if rw.status == 0 && code >= 200 {
		rw.status = code
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

// countingBody counts the request body bytes read.
type countingBody struct {
	io.ReadCloser
	n atomic.Int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n.Add(int64(n))
	return n, err
}

// logRequest serves r through next and writes one log line for it: the operation, usecase,
// status, bytes in and out, latency and, for puts, the backend the object went to.
func (s *Server) logRequest(w http.ResponseWriter, r *http.Request, op string, next func(http.ResponseWriter, *http.Request)) {
	start := time.Now()
	info := &reqInfo{op: op}
	rec := &recorder{ResponseWriter: w}
	body := &countingBody{ReadCloser: r.Body}
	if r.Body != nil && r.Body != http.NoBody {
		r.Body = body
	}
	r = r.WithContext(context.WithValue(r.Context(), infoKey{}, info))
	defer func() {
		latency := time.Since(start)
		status := rec.status
		if status == 0 {
			status = http.StatusOK
		}
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
		attrs = append(attrs, traceAttrs(r, s.opts.TraceProject)...)
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
