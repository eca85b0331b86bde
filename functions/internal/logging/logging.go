// Package logging owns how a Strata process logs: JSON lines on the container's output in
// the shape Cloud Logging reads ("severity" and "message" instead of slog's "level" and
// "msg"), and the Cloud Logging trace fields taken from a request's trace headers.
//
// Every process-wide logger comes from New: the local binary's, the deployed functions',
// and the start-up errors written before a Config exists. What a log line says about a
// request (operation, status, bytes, latency) belongs to the HTTP server, which logs
// through a logger from here and adds TraceAttrs to its lines.
//
// # Buffered output
//
// A server logs one INFO line per request; a write(2) per line cost more than the rest of
// a small request's logging. NewBuffered's logger therefore collects lines in a Buffer and
// writes them out in batches: when DefaultBufferSize (32 KiB) have collected, at most
// DefaultFlushInterval (100 ms) after the first of them (a timer), at every line at WARNING
// or above (which goes out before the logging call returns, after everything buffered
// before it), and at Buffer.Close, which the process calls on shutdown.
//
// What a crash (SIGKILL, an unrecovered panic, running out of memory) can lose is the INFO
// and DEBUG lines not yet written out: under 32 KiB, plus at most one line per request that
// is itself waiting on a write-out in progress; normally no more than the last 100 ms of
// them. On Cloud Run the CPU may be throttled once a response is sent, so the timer may
// not run until the next request: lines of an idle instance can then wait longer than
// 100 ms, yet they are still written when the buffer fills, at the next timer run, or at
// Close during the SIGTERM shutdown. WARNING and ERROR lines are never lost this way.
//
// StartLine writes a line without slog's attribute machinery, appending JSON into a pooled
// buffer; its bytes are those slog's handler would write for the same record.
package logging

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"

	"go.opentelemetry.io/otel/trace"
)

// New returns a JSON logger in the shape Cloud Logging reads from a container's output:
// "severity" (DEBUG, INFO, WARNING, ERROR) instead of "level", and "message" instead of
// "msg". Attributes inside groups keep their names. A nil level means slog.LevelInfo. Every
// line is one write to w, made before the logging call returns; NewBuffered batches them.
func New(w io.Writer, level slog.Leveler) *slog.Logger {
	return slog.New(newHandler(&lockedWriter{w: w}, level, nil))
}

// NewBuffered is New writing through a Buffer over w (nil opts: the Buffer defaults): lines
// below WARNING wait in memory and go out in batches, lines at WARNING and above go out
// with everything buffered before them before the logging call returns. The caller must
// Close the Buffer on shutdown, after the last line, or lose what it holds; see Buffer for
// what a crash can lose.
func NewBuffered(w io.Writer, level slog.Leveler, opts *BufferOptions) (*slog.Logger, *Buffer) {
	b := NewBuffer(w, opts)
	return slog.New(newHandler(b, level, b)), b
}

// handler is the slog.Handler of New and NewBuffered: slog's JSON handler with Cloud
// Logging's field names, plus what StartLine needs to write a line without it.
type handler struct {
	slog.Handler
	out   io.Writer
	level slog.Leveler
	// buf is the Buffer of NewBuffered, flushed after every line at WARNING or above.
	buf *Buffer
	// derived is set by WithAttrs and WithGroup: StartLine cannot reproduce their
	// attributes and groups, so it leaves such loggers to slog.
	derived bool
}

func newHandler(out io.Writer, level slog.Leveler, buf *Buffer) *handler {
	if level == nil {
		level = slog.LevelInfo
	}
	return &handler{Handler: slog.NewJSONHandler(out, &slog.HandlerOptions{
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
	}), out: out, level: level, buf: buf}
}

func (h *handler) Handle(ctx context.Context, r slog.Record) error {
	err := h.Handler.Handle(ctx, r)
	if h.buf != nil && r.Level >= slog.LevelWarn {
		if ferr := h.buf.Flush(); err == nil {
			err = ferr
		}
	}
	return err
}

func (h *handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &handler{Handler: h.Handler.WithAttrs(attrs), out: h.out, level: h.level, buf: h.buf, derived: true}
}

func (h *handler) WithGroup(name string) slog.Handler {
	return &handler{Handler: h.Handler.WithGroup(name), out: h.out, level: h.level, buf: h.buf, derived: true}
}

// lockedWriter serialises the writes of slog's handler and of StartLine's lines, which
// do not share slog's lock, on a writer that may not be safe for concurrent use.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
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
	trace, span := TraceIDs(h, project)
	if trace == "" {
		return nil
	}
	attrs := []slog.Attr{slog.String(TraceKey, trace)}
	if span != "" {
		attrs = append(attrs, slog.String(SpanIDKey, span))
	}
	return attrs
}

// TraceKey and SpanIDKey are the names of Cloud Logging's trace fields.
const (
	TraceKey  = "logging.googleapis.com/trace"
	SpanIDKey = "logging.googleapis.com/spanId"
)

// TraceIDs returns the values of TraceAttrs' fields: the trace ("" when there is none, and
// then no span either) and the span id ("" when the header carries none).
func TraceIDs(h http.Header, project string) (trace, span string) {
	if v := h.Get("X-Cloud-Trace-Context"); v != "" {
		trace, span, _ = strings.Cut(v, "/")
		span, _, _ = strings.Cut(span, ";")
	} else if v := h.Get("Traceparent"); v != "" {
		if parts := strings.Split(v, "-"); len(parts) == 4 {
			trace, span = parts[1], parts[2]
		}
	}
	if !isHex(trace) {
		return "", ""
	}
	if project != "" {
		trace = "projects/" + project + "/traces/" + trace
	}
	return trace, span
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

// SpanIDs returns the Cloud Logging trace fields of a request served under span context sc:
// its trace (a full resource name when project is known), its span id, so that the log line
// links to Strata's own span, and whether the trace is sampled (known is true). Without a
// valid sc they come from the request's trace headers h (TraceIDs), and known is false.
func SpanIDs(sc trace.SpanContext, h http.Header, project string) (tr, span string, sampled, known bool) {
	if !sc.IsValid() {
		tr, span = TraceIDs(h, project)
		return tr, span, false, false
	}
	tr = sc.TraceID().String()
	if project != "" {
		tr = "projects/" + project + "/traces/" + tr
	}
	return tr, sc.SpanID().String(), sc.IsSampled(), true
}

// TraceSampledKey is the name of Cloud Logging's trace-sampled field.
const TraceSampledKey = "logging.googleapis.com/trace_sampled"
