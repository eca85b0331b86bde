package topology

// The test's OTLP trace receiver: every function process and the front door export their
// spans to it, as they would to a collector, so that one request's spans from separate
// processes can be joined by trace id.

import (
	"context"
	"encoding/hex"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"

	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/grpc"
)

// gotSpan is one span the receiver got, with its resource's service.name; ids are hex, as
// traceparent and the log lines write them, and a root span's parent is "".
type gotSpan struct {
	Service string
	TraceID string
	SpanID  string
	Parent  string
	Name    string
	Kind    tracepb.Span_SpanKind
}

func (s gotSpan) String() string {
	return fmt.Sprintf("%s/%s %s span %s parent %q", s.Service, s.Name, strings.TrimPrefix(s.Kind.String(), "SPAN_KIND_"), s.SpanID, s.Parent)
}

// otlpReceiver is an OTLP/gRPC trace service on 127.0.0.1 that keeps every span it gets.
type otlpReceiver struct {
	collectortrace.UnimplementedTraceServiceServer
	addr string
	srv  *grpc.Server

	mu    sync.Mutex
	spans []gotSpan
}

// startOTLPReceiver listens on a free loopback port and serves until stop.
func startOTLPReceiver() (*otlpReceiver, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	r := &otlpReceiver{addr: l.Addr().String(), srv: grpc.NewServer()}
	collectortrace.RegisterTraceServiceServer(r.srv, r)
	go func() { _ = r.srv.Serve(l) }()
	return r, nil
}

func (r *otlpReceiver) stop() { r.srv.Stop() }

// Export keeps the request's spans.
func (r *otlpReceiver) Export(_ context.Context, req *collectortrace.ExportTraceServiceRequest) (*collectortrace.ExportTraceServiceResponse, error) {
	var got []gotSpan
	for _, rs := range req.GetResourceSpans() {
		service := ""
		for _, kv := range rs.GetResource().GetAttributes() {
			if kv.GetKey() == "service.name" {
				service = kv.GetValue().GetStringValue()
			}
		}
		for _, ss := range rs.GetScopeSpans() {
			for _, s := range ss.GetSpans() {
				got = append(got, gotSpan{
					Service: service,
					TraceID: hex.EncodeToString(s.GetTraceId()),
					SpanID:  hex.EncodeToString(s.GetSpanId()),
					Parent:  hex.EncodeToString(s.GetParentSpanId()),
					Name:    s.GetName(),
					Kind:    s.GetKind(),
				})
			}
		}
	}
	r.mu.Lock()
	r.spans = append(r.spans, got...)
	r.mu.Unlock()
	return &collectortrace.ExportTraceServiceResponse{}, nil
}

// trace returns the spans received so far of trace id (hex).
func (r *otlpReceiver) trace(id string) []gotSpan {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.DeleteFunc(slices.Clone(r.spans), func(s gotSpan) bool { return s.TraceID != id })
}
