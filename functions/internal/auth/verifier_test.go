package auth

import (
	"bytes"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stratastore/strata/tiered/object"
)

func TestAuthenticate_Inactive(t *testing.T) {
	v := mustVerifier(t, nil, Options{})
	for _, r := range []*http.Request{
		req("PUT", "/v1/objects/u/_/k"),
		req("GET", "/v1/objects/u/_/k", "x-os-auth", "Bearer garbage"),
		req("DELETE", "/v1/objects/u/_/k?os_sig=zzz"),
	} {
		g, err := v.Authenticate(r)
		if err != nil || g.Kind != AllowAllGrant {
			t.Fatalf("%s %s: got %+v, %v; want allow-all", r.Method, r.RequestURI, g, err)
		}
		for _, p := range AllPermissions {
			if err := g.Authorize(objCtx, p); err != nil {
				t.Fatalf("allow-all grant denied %s: %v", p, err)
			}
		}
	}
}

func TestAuthenticate_NotEnforced(t *testing.T) {
	pub, priv := testKey(1)
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	v := mustVerifier(t, testDirectory(pub), Options{Logger: logger})
	if !v.Active() || v.Enforced() {
		t.Fatal("want active, not enforced")
	}

	// A failing credential is logged and the request proceeds with an allow-all grant.
	g, err := v.Authenticate(req("GET", "/v1/objects/u/_/k", "x-os-auth", "Bearer garbage"))
	if err != nil || g.Kind != AllowAllGrant {
		t.Fatalf("got %+v, %v; want allow-all", g, err)
	}
	if !strings.Contains(logs.String(), "failed to decode token") {
		t.Fatalf("failure not logged: %q", logs.String())
	}
	g, err = v.Authenticate(req("GET", "/v1/objects/u/_/k"))
	if err != nil || g.Kind != AllowAllGrant {
		t.Fatalf("no token: got %+v, %v; want allow-all", g, err)
	}

	// A valid token's denials are logged, not returned.
	logs.Reset()
	c := validClaims()
	c.Permissions = []Permission{Read}
	g, err = authToken(v, mustSign(t, priv, testKid, c))
	if err != nil || g.Kind != TokenGrant {
		t.Fatalf("got %+v, %v; want a token grant", g, err)
	}
	if err := g.Authorize(objCtx, Delete); err != nil {
		t.Fatalf("not enforced, Authorize returned %v", err)
	}
	if !strings.Contains(logs.String(), "operation not allowed") {
		t.Fatalf("denial not logged: %q", logs.String())
	}
}

func TestAuthenticate_EnforcedGrantRefuses(t *testing.T) {
	// The same token under enforcement: the denial is an error.
	pub, priv := testKey(1)
	v := mustVerifier(t, testDirectory(pub), Options{Enforce: true})
	c := validClaims()
	c.Permissions = []Permission{Read}
	g, err := authToken(v, mustSign(t, priv, testKid, c))
	if err != nil {
		t.Fatal(err)
	}
	wantError(t, g.Authorize(objCtx, Delete), 403, detailNotAllowed)
}

func TestAuthenticate_UsesClock(t *testing.T) {
	pub, priv := testKey(1)
	now := t0
	v := mustVerifier(t, testDirectory(pub), Options{Enforce: true, Now: func() time.Time { return now }})
	tok := mustSign(t, priv, testKid, validClaims()) // expires t0+1m
	if _, err := authToken(v, tok); err != nil {
		t.Fatal(err)
	}
	now = t0.Add(2*time.Minute + time.Second) // past exp + 60 s leeway
	_, err := authToken(v, tok)
	wantError(t, err, 401, detailDecode+"ExpiredSignature")
}

func TestRequestTarget(t *testing.T) {
	r := req("GET", "/v1/objects/u/org=1/a%2Fb%2fc?x=%41&y")
	p, q := requestTarget(r)
	if p != "/v1/objects/u/org=1/a%2Fb%2fc" || q != "x=%41&y" {
		t.Fatalf("got %q %q", p, q)
	}
	// A request built in code, without RequestURI.
	r2, _ := http.NewRequest("GET", "http://h/v1/objects/u/_/a%2Fb?x=1", nil)
	p, q = requestTarget(r2)
	if p != "/v1/objects/u/_/a%2Fb" || q != "x=1" {
		t.Fatalf("got %q %q", p, q)
	}
}

func TestGrant_Authorize(t *testing.T) {
	scopes := func(kv ...string) []object.Scope {
		var s []object.Scope
		for i := 0; i+1 < len(kv); i += 2 {
			s = append(s, object.Scope{Name: kv[i], Value: kv[i+1]})
		}
		return s
	}
	token := func(usecase string, sc map[string]string, perms ...Permission) *Grant {
		return &Grant{Kind: TokenGrant, Usecase: usecase, Scopes: sc, Permissions: perms}
	}
	orgProj := map[string]string{"org": "17", "project": "42"}
	tests := []struct {
		name  string
		g     *Grant
		ctx   object.Context
		perm  Permission
		allow bool
	}{
		{"exact scopes", token("att", orgProj, Read), object.Context{Usecase: "att", Scopes: scopes("org", "17", "project", "42")}, Read, true},
		{"scope order irrelevant", token("att", orgProj, Read), object.Context{Usecase: "att", Scopes: scopes("project", "42", "org", "17")}, Read, true},
		{"fewer scopes in request", token("att", orgProj, Read), object.Context{Usecase: "att", Scopes: scopes("org", "17")}, Read, true},
		{"no scopes in request", token("att", orgProj, Read), object.Context{Usecase: "att"}, Read, true},
		{"more scopes in request", token("att", map[string]string{"org": "17"}, Read), object.Context{Usecase: "att", Scopes: scopes("org", "17", "project", "42")}, Read, false},
		{"scope value differs", token("att", orgProj, Read), object.Context{Usecase: "att", Scopes: scopes("org", "18")}, Read, false},
		{"wildcard value", token("att", map[string]string{"org": "17", "project": "*"}, Read), object.Context{Usecase: "att", Scopes: scopes("org", "17", "project", "99")}, Read, true},
		{"wildcard org", token("att", map[string]string{"org": "*"}, Read), object.Context{Usecase: "att", Scopes: scopes("org", "1")}, Read, true},
		{"wildcard needs the name", token("att", map[string]string{"org": "*"}, Read), object.Context{Usecase: "att", Scopes: scopes("project", "1")}, Read, false},
		{"star value in request is literal", token("att", map[string]string{"org": "17"}, Read), object.Context{Usecase: "att", Scopes: scopes("org", "*")}, Read, false},
		{"usecase differs", token("att", orgProj, Read), object.Context{Usecase: "other", Scopes: scopes("org", "17")}, Read, false},
		{"usecase is not a wildcard", token("*", orgProj, Read), object.Context{Usecase: "att"}, Read, false},
		{"permission missing", token("att", orgProj, Read), object.Context{Usecase: "att"}, Write, false},
		{"permission present", token("att", orgProj, Read, Delete), object.Context{Usecase: "att"}, Delete, true},
		{"unknown permission asked", token("att", orgProj, Read), object.Context{Usecase: "att"}, "object.list", false},
		{"presigned read", &Grant{Kind: PresignedGrant, Permissions: []Permission{Read}}, object.Context{Usecase: "x", Scopes: scopes("a", "b")}, Read, true},
		{"presigned write", &Grant{Kind: PresignedGrant, Permissions: []Permission{Read}}, object.Context{Usecase: "x"}, Write, false},
		{"presigned delete", &Grant{Kind: PresignedGrant, Permissions: []Permission{Read}}, object.Context{Usecase: "x"}, Delete, false},
		{"allow all", &Grant{Kind: AllowAllGrant}, object.Context{Usecase: "x"}, Delete, true},
		{"zero grant", &Grant{}, object.Context{Usecase: "x"}, Read, false},
		{"nil grant", nil, object.Context{Usecase: "x"}, Read, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.g.Authorize(tc.ctx, tc.perm)
			if tc.allow && err != nil {
				t.Fatalf("denied: %v", err)
			}
			if !tc.allow {
				wantError(t, err, 403, detailNotAllowed)
			}
		})
	}
}

// TestTokenCache_HitsAreExactAndBounded: a verified token is remembered by its exact bytes
// (a one-byte change is verified afresh and fails), every hit returns its own Grant, and
// the cache never grows past its bound.
func TestTokenCache_HitsAreExactAndBounded(t *testing.T) {
	pub, priv := testKey(1)
	v := mustVerifier(t, testDirectory(pub), Options{Enforce: true})
	tok := mustSign(t, priv, testKid, validClaims())
	g1, err := authToken(v, tok)
	if err != nil {
		t.Fatal(err)
	}
	g1.Permissions = nil // a caller scribbling on its grant must not affect the next one
	g2, err := authToken(v, tok)
	if err != nil || len(g2.Permissions) != 3 {
		t.Fatalf("cached grant: %+v, %v", g2, err)
	}
	last := tok[len(tok)-1]
	flipped := byte('A')
	if last == 'A' {
		flipped = 'B'
	}
	_, err = authToken(v, tok[:len(tok)-1]+string(flipped))
	wantError(t, err, 401, "auth error: failed to verify token")

	for i := range tokenCacheSize + 100 {
		c := validClaims()
		c.Expires = c.Expires.Add(time.Duration(i) * time.Second)
		if _, err := authToken(v, mustSign(t, priv, testKid, c)); err != nil {
			t.Fatal(err)
		}
	}
	v.cache.mu.Lock()
	n := len(v.cache.m)
	v.cache.mu.Unlock()
	if n > tokenCacheSize {
		t.Fatalf("cache holds %d tokens, bound %d", n, tokenCacheSize)
	}
}

// TestTokenCache_TimeClaimsCheckedOnEveryHit: a cached token is refused once the server's
// clock passes its exp (plus leeway), and when the clock steps back before its nbf (minus
// leeway): the cache spares the signature, never the time checks.
func TestTokenCache_TimeClaimsCheckedOnEveryHit(t *testing.T) {
	pub, priv := testKey(1)
	now := t0
	v := mustVerifier(t, testDirectory(pub), Options{Enforce: true, Now: func() time.Time { return now }})
	c := validClaims()
	c.NotBefore = t0.Add(-10 * time.Second)
	tok := mustSign(t, priv, testKid, c)
	if _, err := authToken(v, tok); err != nil {
		t.Fatal(err)
	}
	now = c.Expires.Add(DefaultLeeway + 2*time.Second)
	_, err := authToken(v, tok)
	wantError(t, err, 401, detailDecode+reasonExpired)
	now = c.NotBefore.Add(-DefaultLeeway - 2*time.Second) // a clock stepped back
	_, err = authToken(v, tok)
	wantError(t, err, 401, detailDecode+reasonImmature)
	now = t0
	if _, err := authToken(v, tok); err != nil {
		t.Fatalf("back within its window: %v", err)
	}
}

// TestTokenCache_RotatedKeyIsNotHonoured: the cache belongs to one Verifier, whose key
// directory never changes; a rotation builds a new Verifier, which verifies afresh, so a
// token cached under the retired key is refused.
func TestTokenCache_RotatedKeyIsNotHonoured(t *testing.T) {
	oldPub, oldPriv := testKey(1)
	newPub, _ := testKey(2)
	before := mustVerifier(t, testDirectory(oldPub), Options{Enforce: true})
	tok := mustSign(t, oldPriv, testKid, validClaims())
	if _, err := authToken(before, tok); err != nil {
		t.Fatal(err)
	}
	after := mustVerifier(t, testDirectory(newPub), Options{Enforce: true})
	_, err := authToken(after, tok)
	wantError(t, err, 401, "auth error: failed to verify token")
	if _, err := authToken(before, tok); err != nil {
		t.Fatalf("the old verifier's own cache: %v", err)
	}
}

// TestTokenCache_Concurrent: goroutines verifying a few shared tokens, forged ones and a
// stream of distinct ones (evictions) at once get the right verdicts (run under -race).
func TestTokenCache_Concurrent(t *testing.T) {
	pub, priv := testKey(1)
	v := mustVerifier(t, testDirectory(pub), Options{Enforce: true})
	shared := []string{mustSign(t, priv, testKid, validClaims())}
	c := validClaims()
	c.Usecase = "other"
	shared = append(shared, mustSign(t, priv, testKid, c))
	forged := shared[0][:len(shared[0])-2] + "AA"
	if forged == shared[0] {
		forged = shared[0][:len(shared[0])-2] + "BB"
	}
	distinct := make([]string, 2*tokenCacheSize/8+50)
	for i := range distinct {
		c := validClaims()
		c.Expires = c.Expires.Add(time.Duration(i) * time.Second)
		distinct[i] = mustSign(t, priv, testKid, c)
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 300 {
				tok := shared[i%2]
				gr, err := authToken(v, tok)
				if err != nil || (i%2 == 0) != (gr.Usecase == "attachments") {
					t.Errorf("shared token %d: %+v, %v", i%2, gr, err)
					return
				}
				if _, err := authToken(v, forged); err == nil {
					t.Error("a forged token was accepted")
					return
				}
				if _, err := authToken(v, distinct[(g*300+i)%len(distinct)]); err != nil {
					t.Errorf("distinct token: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	v.cache.mu.Lock()
	n := len(v.cache.m)
	v.cache.mu.Unlock()
	if n > tokenCacheSize {
		t.Fatalf("cache holds %d tokens, bound %d", n, tokenCacheSize)
	}
}
