package httpapi

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stratastore/strata/functions/internal/admission"
	"github.com/stratastore/strata/functions/internal/auth"
	"github.com/stratastore/strata/tiered"
	"github.com/stratastore/strata/tiered/backendtest"
	"github.com/stratastore/strata/tiered/object"
)

// errCase is one request that must fail with an exact answer and change nothing.
type errCase struct {
	name   string
	r      req
	status int
	body   string // exact body; "" means empty
	ctype  string // expected content type, "" for none
}

func (e *env) checkErrors(cases []errCase) { e.checkErrorsCalls(cases, false) }

// checkErrorsCalls is checkErrors for requests the store sees and refuses while reading
// them (a part failing its Content-MD5) when reachStore is set: backend calls are then
// allowed, changes of stored state still not.
func (e *env) checkErrorsCalls(cases []errCase, reachStore bool) {
	e.t.Helper()
	for _, tc := range cases {
		before := e.snapshot()
		res := e.do(tc.r)
		if res.status != tc.status || res.body != tc.body || res.header.Get("Content-Type") != tc.ctype {
			e.t.Errorf("%s: %s %s\n got %d %q (content-type %q)\nwant %d %q (content-type %q)",
				tc.name, tc.r.method, tc.r.path, res.status, res.body, res.header.Get("Content-Type"), tc.status, tc.body, tc.ctype)
		}
		if reachStore {
			before.mutations = e.snapshot().mutations
		}
		e.unchanged(tc.name, before)
	}
}

const (
	ctJSON = "application/json"
	ctText = "text/plain; charset=utf-8"
)

func TestErrors_Paths(t *testing.T) {
	e := newEnv(t)
	e.put("existing", "keep me", nil)
	put := func(path string) req { return req{method: "PUT", path: path, body: strings.NewReader("new")} }
	e.checkErrors([]errCase{
		{"scope without =", put("/v1/objects/test/org/k"), 400, "Invalid URL: scope must be 'key=value'", ctText},
		{"empty scope value", put("/v1/objects/test/org=/k"), 400, "Invalid URL: key and value must be non-empty", ctText},
		{"scope with space", put("/v1/objects/test/org=a%20b/k"), 400, "Invalid URL: invalid character ' '", ctText},
		{"scope with dot", put("/v1/objects/test/org=1.5/k"), 400, "Invalid URL: invalid character '.'", ctText},
		// net/url would re-encode this path (raw '|') and turn %2F into a separator, moving
		// part of the scopes into the key; the wire path must be used.
		{"encoded slash in scopes", put("/v1/objects/test/org=a%2Fb/k|"), 400, "Invalid URL: invalid character '/'", ctText},
		{"scopes not UTF-8", put("/v1/objects/test/org=%FF/k"), 400, "Invalid URL: Invalid UTF-8 in `scopes`", ctText},
		{"key not UTF-8", put("/v1/objects/test/org=1/%C3%28"), 400, "Invalid URL: Invalid UTF-8 in `key`", ctText},
		{"raw empty segment", put("/v1/objects/test/org=1/a//b"), 400, "Invalid URL: key has an empty path segment", ctText},
		{"raw trailing slash", put("/v1/objects/test/org=1/a/"), 400, "Invalid URL: key has an empty path segment", ctText},
		{"raw dot", put("/v1/objects/test/org=1/a/./b"), 400, `Invalid URL: key has a "." path segment`, ctText},
		{"raw dotdot", put("/v1/objects/test/org=1/a/../existing"), 400, `Invalid URL: key has a ".." path segment`, ctText},
		{"encoded dot", put("/v1/objects/test/org=1/a/%2E/b"), 400, `Invalid URL: key has a "." path segment`, ctText},
		{"encoded dotdot", put("/v1/objects/test/org=1/%2E%2E/existing"), 400, `Invalid URL: key has a ".." path segment`, ctText},
		{"encoded slashes", put("/v1/objects/test/org=1/a%2F%2Fb"), 400, "Invalid URL: key has an empty path segment", ctText},
		{"control character", put("/v1/objects/test/org=1/a%0Ab"), 400, `Invalid URL: key contains control character '\n'`, ctText},
		{"usecase with dot", put("/v1/objects/te.st/org=1/k"), 400, "Invalid URL: invalid character '.' in usecase", ctText},
		{"key too long", put("/v1/objects/test/org=1/" + strings.Repeat("k", 1000)), 400,
			fmt.Sprintf("Invalid URL: storage path is %d bytes, longer than the limit of 960", len("test/org.1/objects/")+1000), ctText},
		{"dot segments on GET", req{method: "GET", path: "/v1/objects/test/org=1/a/../existing"}, 400, `Invalid URL: key has a ".." path segment`, ctText},
		{"unknown path", put("/v1/nothing/here"), 404, "", ""},
		{"no key", req{method: "GET", path: "/v1/objects/test/org=1/"}, 405, "", ""},
		{"wrong method", req{method: "PATCH", path: "/v1/objects/test/org=1/k"}, 405, "", ""},
		{"batch without slash", req{method: "POST", path: "/v1/objects:batch/test/org=1"}, 404, "", ""},
	})
	if res := e.do(req{method: "GET", path: "/v1/objects/test/org=1/existing"}); res.body != "keep me" {
		t.Errorf("existing object changed: %q", res.body)
	}
	res := e.do(req{method: "POST", path: "/v1/objects/test/org=1/k"})
	if got := res.header.Get("Allow"); got != "PUT, GET, HEAD, DELETE" {
		t.Errorf("405 Allow = %q", got)
	}
}

// TestKeys_RoundTrip stores and reads keys with every character class the clients send.
func TestKeys_RoundTrip(t *testing.T) {
	e := newEnv(t)
	tests := []struct{ wire, key string }{
		{"with%20space", "with space"},
		{"caf%C3%A9/%E2%9C%93", "café/✓"},
		{"looks%2520encoded", "looks%20encoded"},
		{"plus+sign", "plus+sign"},
		{"semi;colon=equals", "semi;colon=equals"},
		{"colon:separated", "colon:separated"},
		{"at@sign&amp", "at@sign&amp"},
		{"a%2Fb", "a/b"},
		{"1/shard-0.json", "1/shard-0.json"},
		{"sub!$'()*,~-._", "sub!$'()*,~-._"},
		{"q%3Fh%23", "q?h#"},
		// A raw '|' makes net/url re-encode the path; %2F must still not split the scopes.
		{"pipe|%2Fslash", "pipe|/slash"},
	}
	for i, tt := range tests {
		body := fmt.Sprintf("body-%d", i)
		res := e.do(req{method: "PUT", path: "/v1/objects/test/org=1/" + tt.wire, body: strings.NewReader(body)})
		want, _ := marshalJSON(keyResponse{Key: tt.key})
		if res.status != 200 || res.body != string(want) {
			t.Errorf("PUT %s: %d %s, want %s", tt.wire, res.status, res.body, want)
			continue
		}
		if g := e.do(req{method: "GET", path: "/v1/objects/test/org=1/" + tt.wire}); g.status != 200 || g.body != body {
			t.Errorf("GET %s: %d %q", tt.wire, g.status, g.body)
		}
	}
	// a%2Fb and a/b address the same key.
	if g := e.do(req{method: "GET", path: "/v1/objects/test/org=1/a/b"}); g.body != "body-7" {
		t.Errorf("a/b and a%%2Fb differ: %q", g.body)
	}
}

func TestErrors_Auth(t *testing.T) {
	e := newEnv(t)
	e.put("k", "secret", nil)
	path := "/v1/objects/test/org=1/k"
	tok := func(mods ...func(*auth.Claims)) http.Header { return hdrs("X-Os-Auth", "Bearer "+e.token(mods...)) }
	forbidden := `{"detail":"auth error: operation not allowed","causes":["operation not allowed"]}`
	wrongKid, err := auth.SignToken(e.priv, "other-kid", auth.Claims{Usecase: "test", Permissions: auth.AllPermissions, Expires: e.now.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	good := e.token()
	parts := strings.Split(good, ".")
	badSig := parts[0] + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(make([]byte, 64))
	hs256 := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT","kid":"test-kid"}`)) + "." + parts[1] + "." + parts[2]
	noKid := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"EdDSA","typ":"JWT"}`)) + "." + parts[1] + "." + parts[2]
	bearer := func(t string) http.Header { return hdrs("X-Os-Auth", "Bearer "+t) }
	put := func(h http.Header) req {
		return req{method: "PUT", path: path, header: h, body: strings.NewReader("overwrite"), noAuth: h == nil}
	}
	e.checkErrors([]errCase{
		{"missing token", put(nil), 400, `{"detail":"auth error: bad request: No authorization token provided","causes":["bad request: No authorization token provided"]}`, ctJSON},
		{"bare token without Bearer", put(hdrs("X-Os-Auth", good)), 400, `{"detail":"auth error: bad request: No authorization token provided","causes":["bad request: No authorization token provided"]}`, ctJSON},
		{"no kid", put(bearer(noKid)), 400, "{\"detail\":\"auth error: bad request: JWT header is missing `kid` field\",\"causes\":[\"bad request: JWT header is missing `kid` field\"]}", ctJSON},
		{"unknown kid", put(bearer(wrongKid)), 401, `{"detail":"auth error: unknown key","causes":["unknown key"]}`, ctJSON},
		{"expired", put(tok(func(c *auth.Claims) { c.Expires = e.now.Add(-time.Hour) })), 401, `{"detail":"auth error: failed to decode token: ExpiredSignature","causes":["failed to decode token: ExpiredSignature","ExpiredSignature"]}`, ctJSON},
		{"wrong alg", put(bearer(hs256)), 401, `{"detail":"auth error: failed to decode token: InvalidAlgorithm","causes":["failed to decode token: InvalidAlgorithm","InvalidAlgorithm"]}`, ctJSON},
		{"bad signature", put(bearer(badSig)), 401, `{"detail":"auth error: failed to verify token","causes":["failed to verify token"]}`, ctJSON},
		{"wrong usecase", put(tok(func(c *auth.Claims) { c.Usecase = "other" })), 403, forbidden, ctJSON},
		{"wrong scope", put(tok(func(c *auth.Claims) { c.Scopes = map[string]string{"org": "2"} })), 403, forbidden, ctJSON},
		{"missing scope", put(tok(func(c *auth.Claims) { c.Scopes = nil })), 403, forbidden, ctJSON},
		{"read-only token writes", put(tok(func(c *auth.Claims) { c.Permissions = []auth.Permission{auth.Read} })), 403, forbidden, ctJSON},
		{"write-only token deletes", req{method: "DELETE", path: path, header: tok(func(c *auth.Claims) { c.Permissions = []auth.Permission{auth.Write} })}, 403, forbidden, ctJSON},
		{"write-only token reads", req{method: "GET", path: path, header: tok(func(c *auth.Claims) { c.Permissions = []auth.Permission{auth.Write} })}, 403, forbidden, ctJSON},
		// Auth comes before the path (functions/API.md §1.4).
		{"missing token beats bad path", req{method: "PUT", path: "/v1/objects/test/org/a//b", noAuth: true}, 400, `{"detail":"auth error: bad request: No authorization token provided","causes":["bad request: No authorization token provided"]}`, ctJSON},
		// A bad metadata header beats a missing permission.
		{"bad header beats permission", req{method: "PUT", path: path, body: strings.NewReader("x"),
			header: http.Header{"X-Os-Auth": {"Bearer " + e.token(func(c *auth.Claims) { c.Permissions = []auth.Permission{auth.Read} })}, "Content-Encoding": {"gzip"}}},
			400, `{"detail":"service error: metadata error: invalid compression value","causes":["metadata error: invalid compression value","invalid compression value"]}`, ctJSON},
	})
	if res := e.do(req{method: "GET", path: path}); res.body != "secret" {
		t.Errorf("object changed: %q", res.body)
	}
	// The token may also come from Authorization and from os_auth.
	if res := e.do(req{method: "GET", path: path, header: hdrs("Authorization", "bearer "+good), noAuth: true}); res.status != 200 {
		t.Errorf("Authorization header: %d %s", res.status, res.body)
	}
	if res := e.do(req{method: "GET", path: path + "?os_auth=" + good, noAuth: true}); res.status != 200 {
		t.Errorf("os_auth query: %d %s", res.status, res.body)
	}
}

func TestPresignedURLs(t *testing.T) {
	e := newEnv(t)
	e.put("with%20space", "presigned", nil)
	path := "/v1/objects/test/org=1/with%20space"
	q, err := auth.PresignQuery(e.priv, testKID, "GET", path, "", e.now, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{"GET", "HEAD"} {
		if res := e.do(req{method: m, path: path + "?" + q, noAuth: true}); res.status/100 != 2 {
			t.Errorf("presigned %s: %d %s", m, res.status, res.body)
		}
	}
	verify := `{"detail":"auth error: failed to verify token","causes":["failed to verify token"]}`
	tampered := strings.Replace(q, "os_duration=3600", "os_duration=7200", 1)
	e.checkErrors([]errCase{
		{"tampered duration", req{method: "GET", path: path + "?" + tampered, noAuth: true}, 401, verify, ctJSON},
		{"other path", req{method: "GET", path: "/v1/objects/test/org=1/other?" + q, noAuth: true}, 401, verify, ctJSON},
		{"presigned PUT", req{method: "PUT", path: path + "?" + q, noAuth: true, body: strings.NewReader("x")}, 403,
			`{"detail":"auth error: presigned URLs are not supported for this method","causes":["presigned URLs are not supported for this method"]}`, ctJSON},
	})
}

func TestErrors_Admission(t *testing.T) {
	ks, err := admission.ParseKillswitches(`[{"usecase":"blocked"}]`)
	if err != nil {
		t.Fatal(err)
	}
	rl, err := admission.ParseRateLimits(`{"throughput":{"rules":[{"usecase":"limited","scopes":[],"rps":1}]}}`)
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, func(o *Options) {
		o.Killswitches = ks
		o.Limiter = admission.NewLimiter(rl, func() time.Time { return time.Unix(0, 0) })
	})
	anyUsecase := func(c *auth.Claims) { c.Usecase = "blocked" }
	e.checkErrors([]errCase{
		{"killswitch", req{method: "PUT", path: "/v1/objects/blocked/org=1/k", body: strings.NewReader("x"), header: hdrs("X-Os-Auth", "Bearer "+e.token(anyUsecase))},
			403, "Object access is disabled for this scope through killswitches", ctText},
	})
	limited := hdrs("X-Os-Auth", "Bearer "+e.token(func(c *auth.Claims) { c.Usecase = "limited" }))
	if res := e.do(req{method: "GET", path: "/v1/objects/limited/org=1/k", header: limited}); res.status != 404 {
		t.Fatalf("first request: %d %s", res.status, res.body)
	}
	e.checkErrors([]errCase{
		{"rate limited", req{method: "PUT", path: "/v1/objects/limited/org=1/k", body: strings.NewReader("x"), header: limited},
			429, "Object access is rate limited", ctText},
	})
}

// slowRequest starts a GET that stays in the store until the returned release is called.
func (e *env) slowRequest() (release func()) {
	gate := backendtest.NewGate()
	e.hv.Add(gate.After(backendtest.OpGetTiered))
	done := make(chan struct{})
	go func() {
		defer close(done)
		e.do(req{method: "GET", path: "/v1/objects/test/org=1/slow"})
	}()
	<-gate.Reached
	return func() {
		gate.Release()
		<-done
	}
}

func TestErrors_Capacity(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.Concurrency = admission.NewConcurrency(1, 0, 0, 60) })
	release := e.slowRequest() // holds the only storage permit
	e.checkErrors([]errCase{
		{"at capacity", req{method: "PUT", path: "/v1/objects/test/org=1/k", body: strings.NewReader("x")},
			429, `{"detail":"service error: concurrency limit reached"}`, ctJSON},
	})
	release()
	e.put("k", "fits again", nil)
}

func TestErrors_WebLimit(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.MaxRequests = 1 })
	release := e.slowRequest() // the only request slot
	e.checkErrors([]errCase{
		{"web limit", req{method: "PUT", path: "/v1/objects/test/org=1/k", body: strings.NewReader("x")}, 503, "", ""},
	})
	if res := e.do(req{method: "GET", path: "/health", noAuth: true}); res.status != 200 {
		t.Errorf("/health must bypass the web limit: %d", res.status)
	}
	release()
	e.put("k", "fits again", nil)
}

func TestErrors_Backend(t *testing.T) {
	e := newEnv(t)
	e.hv.Add(backendtest.FailOn(backendtest.OpGetTiered, 1))
	res := e.do(req{method: "GET", path: "/v1/objects/test/org=1/k"})
	if res.status != 500 || res.body != `{"detail":"service error: internal error"}` {
		t.Errorf("backend failure: %d %s", res.status, res.body)
	}
	if strings.Contains(res.body, backendtest.ErrInjected.Error()) {
		t.Error("backend error text leaked to the client")
	}
	if !strings.Contains(e.logs.String(), backendtest.ErrInjected.Error()) || !strings.Contains(e.logs.String(), `"level":"ERROR"`) {
		t.Errorf("backend failure not logged as an error:\n%s", e.logs.String())
	}
}

func TestErrorResponse_Mapping(t *testing.T) {
	wrap := func(err error) error { return &tiered.Error{Op: "put", Key: "u/objects/k", Err: err} }
	tests := []struct {
		err    error
		status int
		detail string
	}{
		{wrap(object.ErrNotFound), 404, ""},
		{wrap(fmt.Errorf("%w: part number 0", object.ErrInvalidArgument)), 400, "client error: invalid argument: part number 0"},
		{wrap(fmt.Errorf("%w: part too big", object.ErrTooLarge)), 413, "client error: too large: part too big"},
		{wrap(object.ErrUnimplemented), 501, "service error: not implemented"},
		{wrap(object.ErrUnavailable), 503, "service error: backend unavailable"},
		{wrap(&object.RangeError{Total: 22}), 416, ""},
		{fmt.Errorf("x: %w", admission.ErrAtCapacity), 429, "service error: concurrency limit reached"},
		{&clientStreamError{msg: "unexpected EOF"}, 400, "service error: error reading client stream: unexpected EOF"},
		{context.DeadlineExceeded, 504, "service error: deadline exceeded"},
		{wrap(context.Canceled), 499, "service error: request cancelled"},
		{errors.New("boom"), 500, "service error: internal error"},
	}
	for _, tt := range tests {
		got := errorResponse(tt.err)
		if got.status != tt.status || got.detail != tt.detail {
			t.Errorf("errorResponse(%v) = %d %q, want %d %q", tt.err, got.status, got.detail, tt.status, tt.detail)
		}
	}
	re := errorResponse(&object.RangeError{Total: 22})
	if len(re.header) != 2 || re.header[0] != (header{Name: "content-range", Value: "bytes */22"}) {
		t.Errorf("416 headers = %v", re.header)
	}
}
