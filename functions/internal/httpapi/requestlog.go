package httpapi

// The request log: one line per request, written through the logger of Options (normally
// one from package logging), with logging's Cloud Logging trace fields.

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/stratastore/strata/functions/internal/logging"
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
		attrs = append(attrs, logging.TraceAttrs(r.Header, s.opts.TraceProject)...)
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
