package topology

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/stratastore/strata/functions/client"
)

// TestTrace_FrontDoorToBackend reads a small object (its bytes in Bigtable) and a large one
// (its bytes in GCS) through the front door, each GET in a trace the test chose, and checks
// the trace the OTLP receiver collected from the separate processes: the front door's server
// span, the object-get process's server span as its child (the function followed the front
// door's sampling decision: it samples nothing on its own), and the backend calls as
// children of the function's span, bigtable.GetTiered for both and a gcs.* call for the
// large one. The function's request log line must name the same trace and the function's
// span.
func TestTrace_FrontDoorToBackend(t *testing.T) {
	ctx := context.Background()
	sc := scope(t)
	put := topo.sdk(t).Usecase(usecase).Scope("run", sc)
	for _, c := range []struct {
		name    string
		size    int
		backend string // a backend span's name, or its prefix ending in "."
	}{
		{"small", 1 << 10, "bigtable.GetTiered"}, // the bytes are in the row
		{"large", 2 << 20, "gcs."},               // the row points to the GCS object
	} {
		t.Run(c.name, func(t *testing.T) {
			key := "traced-" + c.name
			body := payload(c.size)
			if _, err := put.Put(ctx, key, strings.NewReader(string(body))); err != nil {
				t.Fatal(err)
			}
			traceID, clientSpan := newTraceIDs()
			get := topo.sdk(t, client.WithHTTPClient(&http.Client{Transport: &traceparentTransport{
				traceparent: "00-" + traceID + "-" + clientSpan + "-01",
			}})).Usecase(usecase).Scope("run", sc)
			got, err := getAll(ctx, get, key)
			if err != nil {
				t.Fatal(err)
			}
			mustEqual(t, "GET", got, body)

			// The processes export in batches: wait (bounded) until the trace is whole.
			var door, fn gotSpan
			var backends []gotSpan
			var spans []gotSpan
			waitFor(t, 15*time.Second, 100*time.Millisecond, "the GET's trace", func() bool {
				spans = topo.otlp.trace(traceID)
				door, fn, backends = joinTrace(spans)
				return door.SpanID != "" && fn.SpanID != "" && hasSpan(backends, c.backend) && hasSpan(backends, "bigtable.GetTiered")
			}, func() string {
				return fmt.Sprintf("want a frontdoor server span (parent: the client's %s), an object-get server span under it and bigtable.GetTiered and %s under that; got:\n%s",
					clientSpan, c.backend, describeSpans(spans))
			})
			if door.Parent != clientSpan {
				t.Errorf("front door span %s: parent %q, want the client's span %s", door.SpanID, door.Parent, clientSpan)
			}
			t.Logf("trace %s:\n%s", traceID, describeSpans(spans))

			// The function's request log line links to the same trace and to its span.
			lines := logLines(topo.fns["object-get"].logs(), `"op":"object-get"`, traceID)
			if len(lines) != 1 {
				t.Fatalf("object-get log lines of trace %s: %d, want 1:\n%s", traceID, len(lines), strings.Join(lines, "\n"))
			}
			var line map[string]any
			if err := json.Unmarshal([]byte(lines[0]), &line); err != nil {
				t.Fatalf("log line %q: %v", lines[0], err)
			}
			if want := "projects/" + project + "/traces/" + traceID; line["logging.googleapis.com/trace"] != want {
				t.Errorf("log line trace %v, want %s", line["logging.googleapis.com/trace"], want)
			}
			if line["logging.googleapis.com/spanId"] != fn.SpanID {
				t.Errorf("log line spanId %v, want the function span's %s", line["logging.googleapis.com/spanId"], fn.SpanID)
			}
			if line["logging.googleapis.com/trace_sampled"] != true {
				t.Errorf("log line trace_sampled %v, want true", line["logging.googleapis.com/trace_sampled"])
			}
		})
	}
}

// joinTrace finds, among one trace's spans, the front door's server span, the object-get
// server span whose parent it is, and the spans whose parent is the latter.
func joinTrace(spans []gotSpan) (door, fn gotSpan, backends []gotSpan) {
	for _, s := range spans {
		if s.Service == "frontdoor" && s.Kind == tracepb.Span_SPAN_KIND_SERVER {
			door = s
		}
	}
	for _, s := range spans {
		if door.SpanID != "" && s.Service == "object-get" && s.Name == "object-get" &&
			s.Kind == tracepb.Span_SPAN_KIND_SERVER && s.Parent == door.SpanID {
			fn = s
		}
	}
	for _, s := range spans {
		if fn.SpanID != "" && s.Service == "object-get" && s.Parent == fn.SpanID {
			backends = append(backends, s)
		}
	}
	return door, fn, backends
}

// hasSpan reports whether spans has one named name, or, for a name ending in ".", one whose
// name begins with it.
func hasSpan(spans []gotSpan, name string) bool {
	for _, s := range spans {
		if s.Name == name || strings.HasSuffix(name, ".") && strings.HasPrefix(s.Name, name) {
			return true
		}
	}
	return false
}

func describeSpans(spans []gotSpan) string {
	if len(spans) == 0 {
		return "  (no spans)"
	}
	var b strings.Builder
	for _, s := range spans {
		fmt.Fprintf(&b, "  %s\n", s)
	}
	return b.String()
}

// newTraceIDs returns a random trace id and span id, in hex.
func newTraceIDs() (traceID, spanID string) {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b[:16]), hex.EncodeToString(b[16:])
}

// traceparentTransport sends every request with a fixed traceparent: a client that traces
// its own calls.
type traceparentTransport struct{ traceparent string }

func (tt *traceparentTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("traceparent", tt.traceparent)
	return http.DefaultTransport.RoundTrip(r)
}
