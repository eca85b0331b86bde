package topology

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"

	gcppropagator "github.com/GoogleCloudPlatform/opentelemetry-operations-go/propagator"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"
)

// routesFile is terraform/modules/frontend/routes.json, generated from the route table: the
// data the load balancer's URL map is built from.
type routesFile struct {
	DefaultFunction string `json:"default_function"`
	Functions       []struct {
		Name     string   `json:"name"`
		Exposure string   `json:"exposure"`
		Methods  []string `json:"methods"`
	} `json:"functions"`
	RouteRules []routeRule `json:"route_rules"`
}

// routeRule is one route_rules entry: prefix_match on the path and an exact :method match.
type routeRule struct {
	Priority int    `json:"priority"`
	Prefix   string `json:"prefix"`
	Method   string `json:"method"`
	Function string `json:"function"`
}

func loadRoutes(path string) (*routesFile, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var rf routesFile
	if err := json.Unmarshal(b, &rf); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(rf.RouteRules) == 0 || rf.DefaultFunction == "" {
		return nil, fmt.Errorf("%s: no route rules or no default function", path)
	}
	return &rf, nil
}

// frontDoor stands in for the load balancer: the URL map's route rules, evaluated by
// ascending priority (the first rule whose prefix matches the path and whose method matches
// :method wins), unmatched requests to the default service, and each function's process as
// its serverless backend. The path goes to the function byte for byte as the client sent
// it, query included.
//
// Like the load balancer, it also traces: every request gets a server span (a child of the
// trace context the client sent, if any), and the function is called with that span's
// context in traceparent and in X-Cloud-Trace-Context, the load balancer's own header. The
// tracer decides the sampling, as the load balancer does; the functions follow it.
type frontDoor struct {
	rules    []routeRule
	def      string
	backends map[string]*url.URL
	proxy    *httputil.ReverseProxy
	tracer   trace.Tracer
}

type targetKey struct{}

// frontDoorPropagator reads a client's trace context the way the functions do (the load
// balancer's header or traceparent), and writes traceparent.
var frontDoorPropagator = propagation.NewCompositeTextMapPropagator(gcppropagator.CloudTraceOneWayPropagator{}, propagation.TraceContext{})

// newFrontDoor builds the front door of rf's rules to backends (function name → base URL),
// tracing with tracer (nil: no spans, and no trace context sent on).
func newFrontDoor(rf *routesFile, backends map[string]string, tracer trace.Tracer) (*frontDoor, error) {
	if tracer == nil {
		tracer = tracenoop.NewTracerProvider().Tracer("")
	}
	fd := &frontDoor{rules: slices.Clone(rf.RouteRules), def: rf.DefaultFunction, backends: make(map[string]*url.URL), tracer: tracer}
	slices.SortStableFunc(fd.rules, func(a, b routeRule) int { return a.Priority - b.Priority })
	for i := 1; i < len(fd.rules); i++ {
		if fd.rules[i].Priority == fd.rules[i-1].Priority {
			return nil, fmt.Errorf("routes.json: two rules with priority %d (the URL map requires unique priorities)", fd.rules[i].Priority)
		}
	}
	need := []string{fd.def}
	for _, r := range fd.rules {
		need = append(need, r.Function)
	}
	for _, name := range need {
		raw, ok := backends[name]
		if !ok {
			return nil, fmt.Errorf("routes.json routes to %q, which has no process", name)
		}
		u, err := url.Parse(raw)
		if err != nil {
			return nil, err
		}
		fd.backends[name] = u
	}
	fd.proxy = &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			target := pr.In.Context().Value(targetKey{}).(*url.URL)
			pr.Out.URL.Scheme = target.Scheme
			pr.Out.URL.Host = target.Host
			pr.Out.Host = "" // the serverless NEG addresses the service by its own host
			raw := wirePath(pr.In)
			if strings.HasPrefix(raw, "/") && !strings.HasPrefix(raw, "//") {
				// Opaque is sent verbatim as the request target's path: no re-encoding.
				pr.Out.URL.Opaque = raw
			} else {
				pr.Out.URL.Path, pr.Out.URL.RawPath = pr.In.URL.Path, raw
			}
			pr.Out.URL.RawQuery = pr.In.URL.RawQuery
			pr.SetXForwarded()
			if sc := trace.SpanContextFromContext(pr.In.Context()); sc.IsValid() {
				frontDoorPropagator.Inject(pr.In.Context(), propagation.HeaderCarrier(pr.Out.Header))
				pr.Out.Header.Set("X-Cloud-Trace-Context", cloudTraceContext(sc))
			}
		},
		FlushInterval: -1, // stream responses as the load balancer does
	}
	return fd, nil
}

// route returns the function a request goes to.
func (fd *frontDoor) route(method, rawPath string) string {
	for _, r := range fd.rules {
		if r.Method == method && strings.HasPrefix(rawPath, r.Prefix) {
			return r.Function
		}
	}
	return fd.def
}

func (fd *frontDoor) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	fn := fd.route(r.Method, wirePath(r))
	ctx := frontDoorPropagator.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
	ctx, span := fd.tracer.Start(ctx, r.Method+" "+fn, trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(attribute.String("strata.function", fn)))
	defer span.End()
	r = r.WithContext(context.WithValue(ctx, targetKey{}, fd.backends[fn]))
	fd.proxy.ServeHTTP(w, r)
}

// cloudTraceContext is sc as the load balancer writes X-Cloud-Trace-Context:
// TRACE_ID/SPAN_ID;o=OPTIONS, the span id in decimal.
func cloudTraceContext(sc trace.SpanContext) string {
	id := sc.SpanID()
	o := "0"
	if sc.IsSampled() {
		o = "1"
	}
	return sc.TraceID().String() + "/" + strconv.FormatUint(binary.BigEndian.Uint64(id[:]), 10) + ";o=" + o
}

// wirePath is the request's path as it was on the wire, still percent-encoded.
func wirePath(r *http.Request) string {
	if strings.HasPrefix(r.RequestURI, "/") {
		p, _, _ := strings.Cut(r.RequestURI, "?")
		return p
	}
	return r.URL.EscapedPath()
}
