// Package httpapi is Strata's HTTP surface: objectstore's HTTP API v1 over a tiered.Store.
//
// It serves HTTP and nothing else: the route table, the request pipeline below, decoding
// requests into tiered calls and encoding their answers, the one mapping from errors to
// statuses, and the request log line. The policies it applies arrive through Options and
// are owned elsewhere: tokens and pre-signed URLs (auth), killswitches and limits
// (admission), per-usecase expiration rules (usecase). It logs through the logger it is
// given, normally one from package logging, which owns the Cloud Logging line format and
// trace fields. It reads no environment: runtime builds its Options from config, which in
// turn must not import this package (config's TestLayering_ConfigDoesNotImportHTTPAPI).
//
// # Routes
//
// One table (routes.go) lists every operation as (function, method, path prefix, handler).
// It drives the local router (Server.ServeHTTP), the deployed functions (Server.Handler,
// one per function name), and the load balancer's URL map (RoutesJSON, committed as
// terraform/modules/frontend/routes.json; `make routes` regenerates it and
// TestRoutesFileUpToDate fails when it is stale). The five public prefixes are disjoint,
// so a URL map routes on prefix × ":method" alone; HEAD has its own rule and function.
//
// # A request, step by step
//
// The checks run in objectstore's order (functions/API.md §1.4):
//
//  1. Route: the raw, still percent-encoded path is matched segment by segment. No route
//     for the path: 404, empty body. A route for the path but not this method (or, on a
//     deployed function, not this function): 405, empty body.
//  2. Web concurrency limit (admission.WebLimiter): 503, empty body.
//  3. Authentication (auth.Verifier): 400/401/403 JSON.
//  4. Path: usecase, scopes and key are percent-decoded exactly once ('+' stays '+',
//     %2F is '/') and validated: 400 text/plain "Invalid URL: ...". Keys with empty, "."
//     or ".." segments are refused here, in every deployment, because Go's ServeMux (which
//     the Functions Framework serves through) redirects such raw paths, and they would not
//     survive a filesystem either.
//  5. Killswitches: 403 text/plain. Rate limits: 429 text/plain.
//  6. Operation-specific input: Range (400 JSON), multipart query (400 text/plain), the
//     complete body (415/400/422 text/plain), the batch content type (400 text/plain).
//  7. Metadata headers (400 JSON), the usecase's expiration rules (package usecase; 400
//     JSON), then the permission (403 JSON).
//  8. The store, under a concurrency permit of the request's tenant (usecase and first
//     scope; 429 JSON at capacity). A put body of at most 1 MiB is first staged in memory
//     from the budget (Options.Budget; 503 when spent), so the permit is taken only once
//     the body is complete; larger bodies (and part uploads) first take a large-upload
//     slot of the budget, which counts the routing peek and the writer's chunk (503 with
//     Retry-After when none is free), then stream under a permit capped at the tenant's
//     share (admission.Concurrency.AcquireStreamFor).
//
// No step before 8 reads the body: a refusal reaches a client that holds its body back.
// The request log wraps the body on its own copy of the request, never on net/http's,
// which would otherwise read up to 256 KiB ahead before sending the answer; and an error
// answered with the body unread carries "Connection: close" (requestlog.go).
//
// # Connections
//
// Deployed, the functions framework owns the http.Server, so every limit on a slow client
// is per request (conn.go): the body's read deadline and the response's write deadline are
// renewed through http.ResponseController from a credit of time that the client's stalls
// consume and its bytes refill (Options.ReadTimeout, WriteTimeout, MinRate). A body cut by
// its deadline is a 408 and is never committed. Once the body is read to its end the read
// deadline is lifted, since net/http's background read would otherwise cancel the request
// when it fires.
//
// errorResponse is the one place where an error becomes a status and a body.
//
// # Bodies
//
// Request bodies stream into the store; a body cut short of its Content-Length, or a
// broken chunked stream, fails the read with an error the store cannot mistake for the
// end, so nothing is committed, and the answer is 400 "error reading client stream".
// Response bodies stream out; when a backend stream fails after the headers went out, the
// connection is cut so the client sees an error, not a short object.
//
// Single PUTs have no size limit here and stream to the long-term backend; deployed, Cloud
// Run caps an HTTP/1 request at 32 MiB, and larger objects use multipart upload.
//
// # Payload copies on the small-object path
//
// BenchmarkHTTPSmall with -memprofile (alloc_space) is the reference. A small GET on
// membackend allocated 47.6 KB per request at 4 KiB and 109 KB at 64 KiB (client and server
// together): a copy of the payload in membackend, and io.Copy's 32 KiB buffer, because the
// inline body (io.NopCloser around a bytes.Reader) was not recognised as in memory. Both are
// gone (9.1 KB per request at either size): membackend hands out its stored slice
// (driver.Entry.Payload is read-only to callers; writes replace rows, never modify them),
// and an *object.BytesReader body goes to the ResponseWriter in one Write. The copies left:
//
//   - GET, localbackend: one copy out of bbolt's memory, made inside the read transaction,
//     where that memory is valid; streaming from inside the transaction would hold it open
//     for as long as the client reads, and block bbolt's remapping as the file grows.
//   - GET, any backend: net/http copies the body into the connection's buffer and the kernel
//     into the socket, as for the floor.
//   - PUT: the body is read once into a buffer charged to the memory budget (stage), as the
//     floor reads it into one slice. membackend then stores its own copy: the driver contract
//     lets the caller reuse a payload after PutNonTombstone returns (the conformance suite's
//     NoAliasing), so taking ownership would need a contract change. localbackend encodes
//     metadata and payload into one row value, and bbolt copies that into its pages at
//     commit, as it does for the floor.
//
// # Header names
//
// Response metadata headers are written under lowercase names, bypassing Go's
// canonicalisation, because the Python client compares names to lowercase literals.
// net/http sorts headers by name when it writes them, so their order on the wire is
// alphabetical rather than objectstore's; clients do not depend on it. Batch parts, which
// this package writes itself, keep objectstore's order.
package httpapi
