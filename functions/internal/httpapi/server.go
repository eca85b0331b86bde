package httpapi

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/stratastore/strata/tiered/object"
	"github.com/stratastore/strata/tiered/observe"

	"github.com/stratastore/strata/functions/internal/cleanup"
	"github.com/stratastore/strata/functions/internal/telemetry"

	"github.com/stratastore/strata/functions/internal/admission"
	"github.com/stratastore/strata/functions/internal/auth"
	"github.com/stratastore/strata/functions/internal/usecase"
	"github.com/stratastore/strata/tiered"
)

// Options configures a Server.
type Options struct {
	// Verifier authenticates requests. Required; build one with Enforce false for an
	// unauthenticated server.
	Verifier *auth.Verifier
	// Killswitches block matching requests with 403.
	Killswitches admission.Killswitches
	// Limiter applies rate limits and counts requests and bytes for /keda; nil means a
	// Limiter without limits.
	Limiter *admission.Limiter
	// Concurrency bounds concurrent storage operations; nil means unbounded.
	Concurrency *admission.Concurrency
	// MaxRequests bounds in-flight object requests (503 beyond it); zero means
	// admission.DefaultMaxRequests.
	MaxRequests int
	// Usecases constrains expiration policies per usecase.
	Usecases usecase.Policies
	// Logger receives one line per request; nil means slog.Default().
	Logger *slog.Logger
	// TraceProject, when set, makes logged trace ids full Cloud Trace resource names.
	TraceProject string
	// Now is the clock for time_created and time_expires; nil means time.Now.
	Now func() time.Time
	// Telemetry records every request's metrics and server span, and serves /metrics; nil
	// records nothing.
	Telemetry *telemetry.Telemetry
	// Recoverer runs the recover function's pass; nil means the store's own Recover.
	Recoverer cleanup.Recoverer
	// CleanupMaxDeliveries is the cleanup subscription's maximum delivery attempts (a
	// failure on the last is counted as dead-lettered); zero means unknown.
	CleanupMaxDeliveries int
	// Invokers authenticate the callers of the deployed private functions (Handler), by
	// function name: a request they refuse gets 401 or 403 and runs nothing. A private
	// function without an entry accepts every caller (STRATA_INVOKER_AUTH=none). The local
	// admin listener (AdminHandler) does not use them.
	Invokers map[string]InvokerAuth

	// ReadTimeout bounds how long a request body may stall, and WriteTimeout a response;
	// MinRate is the rate in bytes per second either must average while the server waits
	// on the client (conn.go). Zero means DefaultReadTimeout, DefaultWriteTimeout and
	// DefaultMinRate; a negative timeout or rate turns that limit off.
	ReadTimeout, WriteTimeout time.Duration
	MinRate                   int64
	// Budget bounds the request payload bytes held in memory (uploads staged before their
	// permit, the store's routing peek, multipart complete bodies); nil means unlimited.
	Budget *admission.Budget
}

// InvokerAuth authenticates the caller of a private function; *invoker.Verifier is one. A
// refusal is an error that the error mapper turns into 401 or 403 (an *invoker.Error).
type InvokerAuth interface {
	Authenticate(r *http.Request) error
}

// Server serves objectstore's HTTP API v1 over a tiered.Store. ServeHTTP is the local router
// over every route; Handler serves one deployed function. A Server is safe for concurrent
// use.
type Server struct {
	store    *tiered.Store
	opts     Options
	log      *slog.Logger
	now      func() time.Time
	web      *admission.WebLimiter
	metrics  *observe.Metrics // nil records nothing
	draining atomic.Bool
	all      []*Route
	// public are the public listener's routes, admin the admin listener's.
	public, admin []*Route

	// Test hooks: a fixed batch boundary, and the parallelism of one batch.
	newBoundary      func() string
	batchParallelism int
}

// New returns a Server over store.
func New(store *tiered.Store, opts Options) (*Server, error) {
	if store == nil {
		return nil, errors.New("httpapi: a store is required")
	}
	if opts.Verifier == nil {
		return nil, errors.New("httpapi: a verifier is required")
	}
	if opts.MaxRequests <= 0 {
		opts.MaxRequests = admission.DefaultMaxRequests
	}
	if opts.Limiter == nil {
		opts.Limiter = admission.NewLimiter(admission.RateLimits{}, nil)
	}
	opts.ReadTimeout = orDefault(opts.ReadTimeout, DefaultReadTimeout)
	opts.WriteTimeout = orDefault(opts.WriteTimeout, DefaultWriteTimeout)
	opts.MinRate = orDefault(opts.MinRate, DefaultMinRate)
	s := &Server{store: store, opts: opts, log: opts.Logger, now: opts.Now, web: admission.NewWebLimiter(opts.MaxRequests)}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.opts.Telemetry != nil {
		s.metrics = s.opts.Telemetry.Metrics
	}
	if s.opts.Recoverer == nil {
		s.opts.Recoverer = store
	}
	for i := range routes {
		rt := &routes[i]
		s.all = append(s.all, rt)
		if rt.Exposure != Private {
			s.public = append(s.public, rt)
		}
		if rt.Exposure != Public {
			s.admin = append(s.admin, rt)
		}
	}
	return s, nil
}

// orDefault is v, def when v is zero, and zero (off) when v is negative.
func orDefault[T int64 | time.Duration](v, def T) T {
	switch {
	case v == 0:
		return def
	case v < 0:
		return 0
	}
	return v
}

// Drain marks the server as shutting down: /ready answers 503 from now on, so that load
// balancers stop sending traffic while in-flight requests finish.
func (s *Server) Drain() { s.draining.Store(true) }

// ServeHTTP is the local server's public listener: the object API and the probes. The
// private functions are not there: /internal/cleanup and /internal/recover answer 404, as
// any unknown path does (functions/API.md §13).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.serve(w, r, s.public)
}

// AdminHandler is the local server's admin listener, meant for loopback only: the private
// functions at /internal/cleanup and /internal/recover, and the probes. It authenticates
// nobody; whoever can reach it can run cleanup and recovery (which act only on what the
// change log says) but reaches no object.
func (s *Server) AdminHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { s.serve(w, r, s.admin) })
}

// Handler returns the handler of one deployed function. Served at "/" for every path, as
// the functions framework does with FUNCTION_TARGET set, it serves only its own routes and
// answers anything else with 404 (unknown path) or 405 (known path, other method). A private
// function (cleanup, recover) is invoked on its own URL: it authenticates its caller with
// Options.Invokers, then checks only the method.
func (s *Server) Handler(function string) (http.Handler, error) {
	var own []*Route
	for _, rt := range s.all {
		if rt.Function == function && rt.Exposure != Local {
			own = append(own, rt)
		}
	}
	if len(own) == 0 {
		return nil, fmt.Errorf("httpapi: no function %q in the route table", function)
	}
	if own[0].Exposure == Private {
		rt := own[0]
		inv := s.opts.Invokers[function]
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s.logRequest(w, r, rt.Function, func(w http.ResponseWriter, r *http.Request) {
				defer s.recoverPanic(w, r)
				if inv != nil {
					if err := inv.Authenticate(r); err != nil {
						writeError(w, r, err)
						return
					}
				}
				if r.Method != rt.Method {
					w.Header()["allow"] = []string{rt.Method}
					writeError(w, r, &httpError{status: http.StatusMethodNotAllowed})
					return
				}
				rt.handle(s, w, r, nil)
			})
		}), nil
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { s.serve(w, r, own) }), nil
}

// wirePath returns the request's path exactly as it was on the wire, still
// percent-encoded. url.URL.EscapedPath is only the fallback (requests built in code,
// absolute-form targets): it re-encodes the decoded path when the wire form holds
// characters it considers invalid, which turns a %2F into a separator.
func wirePath(r *http.Request) string {
	if strings.HasPrefix(r.RequestURI, "/") {
		path, _, _ := strings.Cut(r.RequestURI, "?")
		return path
	}
	return r.URL.EscapedPath()
}

// OpUnrouted is the operation of a request no route matched (404 or 405).
const OpUnrouted = "unrouted"

// serve routes a request among candidates and runs it.
func (s *Server) serve(w http.ResponseWriter, r *http.Request, candidates []*Route) {
	rt, t, status, allow := match(candidates, r.Method, wirePath(r))
	if rt != nil && rt.Exposure == Local {
		// Internal endpoints are exempt from logging, auth, admission and limits.
		rt.handle(s, w, r, nil)
		return
	}
	op := OpUnrouted
	if rt != nil {
		op = rt.Function
	}
	s.logRequest(w, r, op, func(w http.ResponseWriter, r *http.Request) {
		defer s.recoverPanic(w, r)
		switch {
		case rt == nil:
			if len(allow) > 0 {
				w.Header()["allow"] = []string{strings.Join(allow, ", ")}
			}
			writeError(w, r, &httpError{status: status})
		case rt.objectPath:
			s.pipeline(w, r, rt, t)
		default:
			rt.handle(s, w, r, nil)
		}
	})
}

// recoverPanic turns a handler panic into a 500 when nothing was sent yet, and into an
// aborted connection otherwise, so that a client never takes a truncated body for a
// complete one.
func (s *Server) recoverPanic(w http.ResponseWriter, r *http.Request) {
	v := recover()
	if v == nil {
		return
	}
	if v == http.ErrAbortHandler { //nolint:errorlint // the sentinel is panicked as is
		panic(v)
	}
	err := fmt.Errorf("panic: %v", v)
	if rec, ok := w.(*recorder); ok && rec.status != 0 {
		if info := infoFrom(r.Context()); info != nil {
			info.err, info.aborted = err, true
		}
		abort(w)
		return
	}
	writeError(w, r, &httpError{status: http.StatusInternalServerError, text: true, detail: "internal error"})
	if info := infoFrom(r.Context()); info != nil {
		info.err = err
	}
}

// abort cuts the connection of a response that has started but cannot be finished, so that
// the client sees a broken transfer instead of a short one. Hijacking works under the
// functions framework, whose panic recovery would otherwise append an error text to the
// body; where hijacking is not supported (HTTP/2), the abort panic resets the stream.
func abort(w http.ResponseWriter) {
	if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
		_ = conn.Close()
		return
	}
	panic(http.ErrAbortHandler)
}

// call is the state of one object-path request after the shared pipeline.
type call struct {
	route *Route
	grant *auth.Grant
	// octx is the request's usecase and scopes; id adds the key on object-shaped routes.
	octx object.Context
	id   object.ID
	info *reqInfo
}

// pipeline runs objectstore's request-level checks in its order (functions/API.md §1.4): the web
// concurrency limit, authentication, the path, killswitches, rate limits; then the handler.
func (s *Server) pipeline(w http.ResponseWriter, r *http.Request, rt *Route, t target) {
	leave, ok := s.web.TryEnter()
	if !ok {
		writeError(w, r, errOverloaded)
		return
	}
	defer leave()

	grant, err := s.opts.Verifier.Authenticate(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	c := &call{route: rt, grant: grant, info: infoFrom(r.Context())}
	octx, herr := parseContext(t)
	if herr != nil {
		writeError(w, r, herr)
		return
	}
	c.octx = octx
	if c.info != nil {
		c.info.usecase = octx.Usecase
	}
	if rt.shape == shapeObject {
		if c.id, herr = parseKey(octx, t.key); herr != nil {
			writeError(w, r, herr)
			return
		}
	} else {
		c.id.Context = octx
	}
	if s.opts.Killswitches.Blocked(octx, r.Header.Get("X-Downstream-Service")) {
		writeError(w, r, errKillswitch)
		return
	}
	if !s.opts.Limiter.Admit(octx) {
		writeError(w, r, errRateLimited)
		return
	}
	rt.handle(s, w, r, c)
}

// tenant is the unit of the concurrency share: the usecase and the first (top) scope, as
// in "attachments/org=1".
func (c *call) tenant() string {
	t := c.octx.Usecase
	if len(c.octx.Scopes) > 0 {
		t += "/" + c.octx.Scopes[0].Name + "=" + c.octx.Scopes[0].Value
	}
	return t
}

// acquire takes a storage concurrency permit for c's tenant (bulk for batch operations).
func (s *Server) acquire(r *http.Request, c *call, bulk bool) (func(), error) {
	switch {
	case s.opts.Concurrency == nil:
		return func() {}, nil
	case bulk:
		return s.opts.Concurrency.AcquireBulkFor(r.Context(), c.tenant())
	}
	return s.opts.Concurrency.AcquireFor(r.Context(), c.tenant())
}

// permittedStream is permitted for a store call that reads the client's body as it goes
// (a large put, a part upload): the tenant may hold no more than its share of such permits
// (admission.Concurrency.AcquireStreamFor).
func (s *Server) permittedStream(r *http.Request, c *call, call func() error) error {
	release := func() {}
	if s.opts.Concurrency != nil {
		var err error
		if release, err = s.opts.Concurrency.AcquireStreamFor(r.Context(), c.tenant()); err != nil {
			return err
		}
	}
	defer release()
	return call()
}

// reserve takes n bytes of the memory budget; at the limit the answer is 503.
func (s *Server) reserve(n int64) (func(), error) {
	release, err := s.opts.Budget.Reserve(n)
	if err != nil {
		return nil, errBudget
	}
	return release, nil
}

// reserveStream takes one of the budget's large-upload slots and the memory a streamed
// upload holds (n bytes of its own, at least the budget's stream cost: routing peek plus
// writer chunk). It never waits: with no slot or bytes free the answer is 503 with
// Retry-After, before any of the body is read.
func (s *Server) reserveStream(n int64) (func(), error) {
	release, err := s.opts.Budget.ReserveStream(n)
	switch {
	case errors.Is(err, admission.ErrStreamSlots):
		return nil, errStreamSlots
	case err != nil:
		return nil, errBudget
	}
	return release, nil
}

// permitted runs a store call under a concurrency permit, released as soon as the call
// returns (streaming a body out afterwards holds none, as in objectstore). A refused permit
// is returned like a store error: the one error mapper turns it into a 429.
func (s *Server) permitted(r *http.Request, c *call, call func() error) error {
	release, err := s.acquire(r, c, false)
	if err != nil {
		return err
	}
	defer release()
	return call()
}

// body returns the request body for the store: read errors become *clientStreamError, and
// bytes count against the bandwidth limit.
func (s *Server) body(r *http.Request, c *call) *clientBody {
	var src io.Reader = r.Body
	if r.Body == nil {
		src = http.NoBody
	}
	return &clientBody{r: s.opts.Limiter.CountingReader(c.octx, src)}
}

// out returns the response writer for object bytes, counted against the bandwidth limit.
func (s *Server) out(w io.Writer, c *call) io.Writer {
	return s.opts.Limiter.CountingWriter(c.octx, w)
}

// clientBody reads a request body on behalf of the store. Every read error other than
// io.EOF is replaced by a *clientStreamError and remembered: net/http reports a body cut
// short of its Content-Length as io.ErrUnexpectedEOF, which a reader using io.ReadFull
// would take for a clean end, committing a truncated object.
type clientBody struct {
	r   io.Reader
	err error
}

func (b *clientBody) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	n, err := b.r.Read(p)
	if err != nil && err != io.EOF { //nolint:errorlint // io.EOF is returned unwrapped by contract
		b.err = &clientStreamError{msg: err.Error(), tooSlow: isDeadline(err)}
		return n, b.err
	}
	return n, err
}

// failed maps a store error, preferring the client's broken stream when there was one.
func (b *clientBody) failed(err error) error {
	if b.err != nil {
		return b.err
	}
	return err
}
