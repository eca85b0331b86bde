package topology

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"slices"
	"strings"
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
type frontDoor struct {
	rules    []routeRule
	def      string
	backends map[string]*url.URL
	proxy    *httputil.ReverseProxy
}

type targetKey struct{}

func newFrontDoor(rf *routesFile, backends map[string]string) (*frontDoor, error) {
	fd := &frontDoor{rules: slices.Clone(rf.RouteRules), def: rf.DefaultFunction, backends: make(map[string]*url.URL)}
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
	r = r.WithContext(context.WithValue(r.Context(), targetKey{}, fd.backends[fn]))
	fd.proxy.ServeHTTP(w, r)
}

// wirePath is the request's path as it was on the wire, still percent-encoded.
func wirePath(r *http.Request) string {
	if strings.HasPrefix(r.RequestURI, "/") {
		p, _, _ := strings.Cut(r.RequestURI, "?")
		return p
	}
	return r.URL.EscapedPath()
}
