// Package logging owns how a Strata process logs: JSON lines on the container's output in
// the shape Cloud Logging reads ("severity" and "message" instead of slog's "level" and
// "msg"), and the Cloud Logging trace fields taken from a request's trace headers.
//
// Every process-wide logger comes from New: the local binary's, the deployed functions',
// and the start-up errors written before a Config exists. What a log line says about a
// request (operation, status, bytes, latency) belongs to the HTTP server, which logs
// through a logger from here and adds TraceAttrs to its lines.
package logging

import (
	"io"
	"log/slog"
	"net/http"
	"strings"

	"go.opentelemetry.io/otel/trace"
)

// New returns a JSON logger in the shape Cloud Logging reads from a container's output:
// "severity" (DEBUG, INFO, WARNING, ERROR) instead of "level", and "message" instead of
// "msg". Attributes inside groups keep their names. A nil level means slog.LevelInfo.
func New(w io.Writer, level slog.Leveler) *slog.Logger {
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

// TraceAttrs returns the Cloud Logging trace fields of a request with headers h, taken from
// X-Cloud-Trace-Context ("TRACE/SPAN;o=1") or W3C traceparent ("00-TRACE-SPAN-FLAGS"); none
// when neither carries a hex trace id. project, when known, makes the trace a full
// resource name as Cloud Logging expects.
func TraceAttrs(h http.Header, project string) []slog.Attr {
	var trace, span string
	if v := h.Get("X-Cloud-Trace-Context"); v != "" {
		trace, span, _ = strings.Cut(v, "/")
		span, _, _ = strings.Cut(span, ";")
	} else if v := h.Get("Traceparent"); v != "" {
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

// isHex reports whether s is 1 to 64 hex digits.
func isHex(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case '0' <= c && c <= '9', 'a' <= c && c <= 'f', 'A' <= c && c <= 'F':
		default:
			return false
		}
	}
	return true
}

// SpanAttrs returns the Cloud Logging trace fields of a request served under span context
// sc: its trace, its span id (so that the log line links to Strata's own span) and whether
// the trace is sampled. Without a valid sc it falls back to the request's trace headers h
// (TraceAttrs).
func SpanAttrs(sc trace.SpanContext, h http.Header, project string) []slog.Attr {
	if !sc.IsValid() {
		return TraceAttrs(h, project)
	}
	tr := sc.TraceID().String()
	if project != "" {
		tr = "projects/" + project + "/traces/" + tr
	}
	return []slog.Attr{
		slog.String("logging.googleapis.com/trace", tr),
		slog.String("logging.googleapis.com/spanId", sc.SpanID().String()),
		slog.Bool("logging.googleapis.com/trace_sampled", sc.IsSampled()),
	}
}
