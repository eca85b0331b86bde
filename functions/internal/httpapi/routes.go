package httpapi

import (
	"bytes"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
)

// Exposure says how a function is reached once deployed.
type Exposure string

const (
	// Public functions sit behind the load balancer: one route rule per (prefix, method).
	Public Exposure = "public"
	// Private functions are invoked directly on their own URL by Pub/Sub push or Cloud
	// Scheduler; the load balancer has no rule for them. Locally they are served on the
	// admin listener only (Server.AdminHandler), never on the public one.
	Private Exposure = "private"
	// Local routes are the probes (/health, /ready, /keda, /metrics) of the local server,
	// on both of its listeners. They are not deployed as functions.
	Local Exposure = "local"
)

// Route prefixes of the objectstore API. They are pairwise disjoint as path prefixes, so a
// load balancer can route on prefix × method alone.
const (
	PrefixObjects           = "/v1/objects/"
	PrefixBatch             = "/v1/objects:batch/"
	PrefixMultipart         = "/v1/objects:multipart/"
	PrefixMultipartParts    = "/v1/objects:multipart:parts/"
	PrefixMultipartComplete = "/v1/objects:multipart:complete/"
)

// shape says what the path after a route's prefix must look like.
type shape uint8

const (
	// shapeExact: the prefix is the whole path.
	shapeExact shape = iota
	// shapeCollection: {usecase}/{scopes}, with or without a trailing slash.
	shapeCollection
	// shapeCollectionSlash: {usecase}/{scopes}/, the trailing slash required (batch).
	shapeCollectionSlash
	// shapeObject: {usecase}/{scopes}/{key...} with a non-empty key.
	shapeObject
)

// handlerFunc serves one matched operation. Object-path operations receive the request
// state built by the shared pipeline (auth, path, admission); internal ones a nil *call.
type handlerFunc func(s *Server, w http.ResponseWriter, r *http.Request, c *call)

// Route is one row of the route table: a function serves Method on paths under Prefix.
type Route struct {
	// Function is the function's name. It is also its functions-framework entry point,
	// its FUNCTION_TARGET and the Cloud Run service name, so that one string names the
	// function everywhere. Local routes have no function.
	Function string
	Method   string
	Prefix   string
	Exposure Exposure

	shape shape
	// objectPath says whether the operation works on an object path and so runs the
	// shared pipeline (web concurrency limit, auth, path, killswitch, rate limit).
	objectPath bool
	handle     handlerFunc
}

// Function names. They are kebab-case, which is what Cloud Run service names require, and
// functions-framework-go accepts any string as a declarative function name.
const (
	FnObjectPost        = "object-post"
	FnObjectPut         = "object-put"
	FnObjectGet         = "object-get"
	FnObjectHead        = "object-head"
	FnObjectDelete      = "object-delete"
	FnBatch             = "object-batch"
	FnMultipartInitiate = "multipart-initiate"
	FnMultipartAbort    = "multipart-abort"
	FnMultipartPart     = "multipart-upload-part"
	FnMultipartList     = "multipart-list-parts"
	FnMultipartComplete = "multipart-complete"
	FnCleanup           = "cleanup"
	FnRecover           = "recover"
)

// Paths of the internal endpoints. The cleanup and recover paths are where the local
// router serves those functions; deployed, they answer on any path of their own URL.
const (
	PathHealth  = "/health"
	PathReady   = "/ready"
	PathKeda    = "/keda"
	PathMetrics = "/metrics"
	PathCleanup = "/internal/cleanup"
	PathRecover = "/internal/recover"
)

// routes is THE route table: the single source of truth for the local router, for the
// functions that are registered and deployed, and for the load balancer's URL map.
var routes = []Route{
	{Function: FnObjectPost, Method: http.MethodPost, Prefix: PrefixObjects, Exposure: Public, shape: shapeCollection, objectPath: true, handle: (*Server).handlePost},
	{Function: FnObjectPut, Method: http.MethodPut, Prefix: PrefixObjects, Exposure: Public, shape: shapeObject, objectPath: true, handle: (*Server).handlePut},
	{Function: FnObjectGet, Method: http.MethodGet, Prefix: PrefixObjects, Exposure: Public, shape: shapeObject, objectPath: true, handle: (*Server).handleGet},
	{Function: FnObjectHead, Method: http.MethodHead, Prefix: PrefixObjects, Exposure: Public, shape: shapeObject, objectPath: true, handle: (*Server).handleHead},
	{Function: FnObjectDelete, Method: http.MethodDelete, Prefix: PrefixObjects, Exposure: Public, shape: shapeObject, objectPath: true, handle: (*Server).handleDelete},
	{Function: FnBatch, Method: http.MethodPost, Prefix: PrefixBatch, Exposure: Public, shape: shapeCollectionSlash, objectPath: true, handle: (*Server).handleBatch},
	{Function: FnMultipartInitiate, Method: http.MethodPut, Prefix: PrefixMultipart, Exposure: Public, shape: shapeObject, objectPath: true, handle: (*Server).handleInitiate},
	{Function: FnMultipartInitiate, Method: http.MethodPost, Prefix: PrefixMultipart, Exposure: Public, shape: shapeCollection, objectPath: true, handle: (*Server).handleInitiate},
	{Function: FnMultipartAbort, Method: http.MethodDelete, Prefix: PrefixMultipart, Exposure: Public, shape: shapeObject, objectPath: true, handle: (*Server).handleAbort},
	{Function: FnMultipartPart, Method: http.MethodPut, Prefix: PrefixMultipartParts, Exposure: Public, shape: shapeObject, objectPath: true, handle: (*Server).handleUploadPart},
	{Function: FnMultipartList, Method: http.MethodGet, Prefix: PrefixMultipartParts, Exposure: Public, shape: shapeObject, objectPath: true, handle: (*Server).handleListParts},
	{Function: FnMultipartComplete, Method: http.MethodPost, Prefix: PrefixMultipartComplete, Exposure: Public, shape: shapeObject, objectPath: true, handle: (*Server).handleComplete},
	{Function: FnCleanup, Method: http.MethodPost, Prefix: PathCleanup, Exposure: Private, shape: shapeExact, handle: (*Server).handleCleanup},
	{Function: FnRecover, Method: http.MethodPost, Prefix: PathRecover, Exposure: Private, shape: shapeExact, handle: (*Server).handleRecover},
	{Method: http.MethodGet, Prefix: PathHealth, Exposure: Local, shape: shapeExact, handle: (*Server).handleHealth},
	{Method: http.MethodHead, Prefix: PathHealth, Exposure: Local, shape: shapeExact, handle: (*Server).handleHealth},
	{Method: http.MethodGet, Prefix: PathReady, Exposure: Local, shape: shapeExact, handle: (*Server).handleReady},
	{Method: http.MethodHead, Prefix: PathReady, Exposure: Local, shape: shapeExact, handle: (*Server).handleReady},
	{Method: http.MethodGet, Prefix: PathKeda, Exposure: Local, shape: shapeExact, handle: (*Server).handleKeda},
	{Method: http.MethodHead, Prefix: PathKeda, Exposure: Local, shape: shapeExact, handle: (*Server).handleKeda},
	{Method: http.MethodGet, Prefix: PathMetrics, Exposure: Local, shape: shapeExact, handle: (*Server).handleMetrics},
}

// Routes returns a copy of the route table.
func Routes() []Route { return slices.Clone(routes) }

// Function describes one deployable function.
type Function struct {
	// Name is the function's name and entry point.
	Name     string   `json:"name"`
	Exposure Exposure `json:"exposure"`
	// Methods are the HTTP methods it serves, in table order.
	Methods []string `json:"methods"`
}

// Functions returns every deployable function (public and private), in table order.
func Functions() []Function {
	var fns []Function
	for _, rt := range routes {
		if rt.Exposure == Local {
			continue
		}
		i := slices.IndexFunc(fns, func(f Function) bool { return f.Name == rt.Function })
		if i < 0 {
			fns = append(fns, Function{Name: rt.Function, Exposure: rt.Exposure})
			i = len(fns) - 1
		}
		if !slices.Contains(fns[i].Methods, rt.Method) {
			fns[i].Methods = append(fns[i].Methods, rt.Method)
		}
	}
	return fns
}

// IsFunction reports whether name is a deployable function of the table.
func IsFunction(name string) bool {
	return slices.ContainsFunc(routes, func(rt Route) bool { return rt.Exposure != Local && rt.Function == name })
}

// RouteRule is one load balancer route rule: requests whose path starts with Prefix and
// whose ":method" pseudo-header equals Method go to Function. Lower priorities match first.
type RouteRule struct {
	Priority int    `json:"priority"`
	Prefix   string `json:"prefix"`
	Method   string `json:"method"`
	Function string `json:"function"`
}

// RouteRules returns the load balancer's route rules for every public route. HEAD has
// rules of its own: the URL map matches ":method" exactly, and HEAD is a separate function.
// Longer prefixes get lower priorities; the prefixes are disjoint, so this only makes the
// order deterministic and safe should a prefix ever nest in another.
func RouteRules() []RouteRule {
	var pub []Route
	for _, rt := range routes {
		if rt.Exposure == Public {
			pub = append(pub, rt)
		}
	}
	slices.SortStableFunc(pub, func(a, b Route) int { return len(b.Prefix) - len(a.Prefix) })
	rules := make([]RouteRule, len(pub))
	for i, rt := range pub {
		rules[i] = RouteRule{Priority: i + 1, Prefix: rt.Prefix, Method: rt.Method, Function: rt.Function}
	}
	return rules
}

// DefaultFunction receives what no route rule matches. Every public function answers a
// request that is not its own with objectstore's 404 (unknown path) or 405 (known path,
// other method), judged against the whole table, so any of them would do.
const DefaultFunction = FnObjectGet

// RoutesFile is the document that Terraform reads with
// jsondecode(file("${path.module}/routes.json")) in terraform/modules/frontend, and that
// the deploy tooling reads for the list of functions.
type RoutesFile struct {
	Comment         string      `json:"comment"`
	DefaultFunction string      `json:"default_function"`
	Functions       []Function  `json:"functions"`
	RouteRules      []RouteRule `json:"route_rules"`
}

//go:generate go test -run TestRoutesFileUpToDate -update

// RoutesFilePath is where `make routes` writes RoutesJSON, relative to the repository root.
const RoutesFilePath = "terraform/modules/frontend/routes.json"

// RoutesJSON renders the routes file: the functions to deploy and the load balancer's route
// rules, indented, with a trailing newline.
func RoutesJSON() ([]byte, error) {
	doc := RoutesFile{
		Comment:         "Generated from functions/internal/httpapi/routes.go by `make routes`. DO NOT EDIT.",
		DefaultFunction: DefaultFunction,
		Functions:       Functions(),
		RouteRules:      RouteRules(),
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// target is the raw (still percent-encoded) object path of a matched request.
type target struct {
	usecase, scopes, key string
}

// matchShape reports whether the escaped path matches a route's prefix and shape, and
// splits the object path. Matching works on raw segments, exactly like objectstore's
// router: a %2F inside a segment is not a separator.
func matchShape(rt *Route, path string) (target, bool) {
	if rt.shape == shapeExact {
		return target{}, path == rt.Prefix
	}
	rest, ok := strings.CutPrefix(path, rt.Prefix)
	if !ok {
		return target{}, false
	}
	usecase, rest, ok := strings.Cut(rest, "/")
	if !ok || usecase == "" {
		return target{}, false
	}
	scopes, key, slash := strings.Cut(rest, "/")
	if scopes == "" {
		return target{}, false
	}
	t := target{usecase: usecase, scopes: scopes, key: key}
	switch rt.shape {
	case shapeCollection:
		return t, key == ""
	case shapeCollectionSlash:
		return t, slash && key == ""
	case shapeObject:
		return t, key != ""
	}
	return target{}, false
}

// match finds the route among candidates for a request. It returns the route, or the
// status to answer: 404 when no route of the whole table has this path, 405 when one has
// but no candidate serves it with this method; allow then lists the table's other methods
// for the path. A deployed function passes only its own routes as candidates, so it
// answers 405 to a request the load balancer should have sent to another function.
func match(candidates []*Route, method, path string) (rt *Route, t target, status int, allow []string) {
	for _, c := range candidates {
		if c.Method != method {
			continue
		}
		if t, ok := matchShape(c, path); ok {
			return c, t, 0, nil
		}
	}
	// A path counts as known only among the exposures served here: the public listener and
	// the public functions have no private or local endpoints (/internal/* is 404 there,
	// as objectstore answers an unknown path), the admin listener no public ones.
	serves := func(e Exposure) bool {
		return slices.ContainsFunc(candidates, func(c *Route) bool { return c.Exposure == e })
	}
	known := false
	for i := range routes {
		if !serves(routes[i].Exposure) {
			continue
		}
		if _, ok := matchShape(&routes[i], path); ok {
			known = true
			if m := routes[i].Method; m != method && !slices.Contains(allow, m) {
				allow = append(allow, m)
			}
		}
	}
	if !known {
		return nil, target{}, http.StatusNotFound, nil
	}
	return nil, target{}, http.StatusMethodNotAllowed, allow
}
