package httpapi

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stratastore/strata/functions/internal/auth"
	"github.com/stratastore/strata/tiered"
	"github.com/stratastore/strata/tiered/backendtest"
	"github.com/stratastore/strata/tiered/membackend"
)

// testKID is the key id of the env's signing key.
const testKID = "test-kid"

// env is a Server over in-memory backends, wrapped with hooks that count every backend
// call, behind a real HTTP listener on 127.0.0.1.
type env struct {
	t     *testing.T
	hv    *backendtest.HookedHighVolume
	lt    *backendtest.HookedLongTerm
	cl    *backendtest.HookedChangeLog
	mhv   *membackend.HighVolume
	mlt   *membackend.LongTerm
	store *tiered.Store
	srv   *Server
	ts    *httptest.Server
	// admin serves the admin listener (AdminHandler).
	admin *httptest.Server
	priv  ed25519.PrivateKey
	now   time.Time
	logs  *bytes.Buffer
}

// envOption adjusts the server options before the server is built.
type envOption func(*Options)

// newEnv starts a server with enforced auth and a fixed clock.
func newEnv(t *testing.T, opts ...envOption) *env {
	t.Helper()
	e := &env{t: t, now: time.Date(2026, 7, 23, 10, 11, 12, 345678000, time.UTC), logs: &bytes.Buffer{}}
	clock := func() time.Time { return e.now }
	mem := membackend.Open(&membackend.Options{Now: clock})
	e.mhv = mem.HighVolume()
	e.mlt = mem.LongTerm()
	mcl := mem.ChangeLog()
	e.hv = &backendtest.HookedHighVolume{Inner: e.mhv}
	e.lt = &backendtest.HookedLongTerm{Inner: e.mlt}
	e.cl = &backendtest.HookedChangeLog{Inner: mcl}
	store, err := tiered.New(e.hv, e.lt, e.cl, &tiered.Options{GracePeriod: -1, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	e.store = store
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	e.priv = priv
	verifier, err := auth.NewVerifier(auth.KeyDirectory{testKID: {Versions: []ed25519.PublicKey{pub}, MaxPermissions: auth.AllPermissions}},
		auth.Options{Enforce: true, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	o := Options{Verifier: verifier, Now: clock, Logger: slog.New(slog.NewJSONHandler(e.logs, nil))}
	for _, opt := range opts {
		opt(&o)
	}
	if e.srv, err = New(store, o); err != nil {
		t.Fatal(err)
	}
	e.ts = httptest.NewServer(e.srv)
	e.admin = httptest.NewServer(e.srv.AdminHandler())
	t.Cleanup(func() {
		e.ts.Close()
		e.admin.Close()
		_ = store.Close(t.Context())
	})
	return e
}

// token signs a token for usecase "test" with scopes org=1 and every permission, unless
// changed by mods.
func (e *env) token(mods ...func(*auth.Claims)) string {
	e.t.Helper()
	c := auth.Claims{
		Usecase:     "test",
		Scopes:      map[string]string{"org": "*", "project": "*"},
		Permissions: auth.AllPermissions,
		Expires:     e.now.Add(time.Hour),
	}
	for _, m := range mods {
		m(&c)
	}
	tok, err := auth.SignToken(e.priv, testKID, c)
	if err != nil {
		e.t.Fatal(err)
	}
	return tok
}

// req is one raw request: the path is sent exactly as given (no re-encoding).
type req struct {
	method string
	path   string // raw path and query, sent verbatim
	header http.Header
	body   io.Reader
	// noAuth leaves out the default token.
	noAuth bool
	// admin sends the request to the admin listener instead of the public one.
	admin bool
}

// response is a read response.
type response struct {
	status int
	header http.Header
	body   string
}

// do sends r with a valid token unless r.noAuth, and reads the whole response.
func (e *env) do(r req) response {
	e.t.Helper()
	base := e.ts.URL
	if r.admin {
		base = e.admin.URL
	}
	hr, err := http.NewRequest(r.method, base, r.body)
	if err != nil {
		e.t.Fatal(err)
	}
	// Opaque keeps the path byte for byte as written.
	path, query, _ := strings.Cut(r.path, "?")
	hr.URL.Opaque, hr.URL.RawQuery = path, query
	for k, vs := range r.header {
		hr.Header[k] = vs
	}
	if !r.noAuth && hr.Header.Get("X-Os-Auth") == "" {
		hr.Header.Set("X-Os-Auth", "Bearer "+e.token())
	}
	res, err := e.ts.Client().Do(hr)
	if err != nil {
		e.t.Fatalf("%s %s: %v", r.method, r.path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatalf("%s %s: reading body: %v", r.method, r.path, err)
	}
	return response{status: res.StatusCode, header: res.Header, body: string(b)}
}

// put stores body at key in usecase test, scopes org=1, and fails the test otherwise.
func (e *env) put(key, body string, header http.Header) {
	e.t.Helper()
	res := e.do(req{method: "PUT", path: "/v1/objects/test/org=1/" + key, header: header, body: strings.NewReader(body)})
	if res.status != 200 {
		e.t.Fatalf("PUT %s: %d %s", key, res.status, res.body)
	}
}

// mutatingOps are the backend calls that change state.
var mutatingOps = []string{
	backendtest.OpPutNonTombstone, backendtest.OpDeleteNonTombstone, backendtest.OpCompareAndWrite,
	backendtest.OpPut, backendtest.OpDelete, backendtest.OpInitiate, backendtest.OpUpload,
	backendtest.OpComplete, backendtest.OpAbort, backendtest.OpRecord, backendtest.OpRemove,
}

// snapshot is what an error must leave unchanged.
type snapshot struct {
	mutations int
	rows      int
	blobs     []string
	uploads   int
}

func (e *env) snapshot() snapshot {
	n := 0
	for _, op := range mutatingOps {
		n += e.hv.Count(op) + e.lt.Count(op) + e.cl.Count(op)
	}
	return snapshot{mutations: n, rows: e.mhv.Len(), blobs: e.mlt.Keys(), uploads: e.mlt.Uploads()}
}

// unchanged fails the test if any backend state changed, or any mutating backend call was
// made, since before.
func (e *env) unchanged(what string, before snapshot) {
	e.t.Helper()
	after := e.snapshot()
	if after.mutations != before.mutations || after.rows != before.rows || after.uploads != before.uploads || !slices.Equal(after.blobs, before.blobs) {
		e.t.Errorf("%s: stored data changed: before %+v, after %+v", what, before, after)
	}
}

// hdrs builds an http.Header from name, value pairs, keeping names as given.
func hdrs(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Add(kv[i], kv[i+1])
	}
	return h
}
