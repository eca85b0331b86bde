package auth

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// t0 is the fixed "now" of every test clock.
var t0 = time.Date(2026, 7, 23, 10, 0, 0, 0, time.UTC)

func fixedClock(t time.Time) func() time.Time { return func() time.Time { return t } }

// testKey returns a deterministic key pair derived from seed.
func testKey(seed byte) (ed25519.PublicKey, ed25519.PrivateKey) {
	priv := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed}, ed25519.SeedSize))
	return priv.Public().(ed25519.PublicKey), priv
}

const testKid = "test_kid"

// testDirectory has one kid with one version and every permission.
func testDirectory(pub ed25519.PublicKey) KeyDirectory {
	return KeyDirectory{testKid: {Versions: []ed25519.PublicKey{pub}, MaxPermissions: AllPermissions}}
}

func mustVerifier(t *testing.T, keys KeyDirectory, opts Options) *Verifier {
	t.Helper()
	if opts.Now == nil {
		opts.Now = fixedClock(t0)
	}
	v, err := NewVerifier(keys, opts)
	if err != nil {
		t.Fatalf("NewVerifier: %v", err)
	}
	return v
}

// validClaims are claims the test directory accepts at t0.
func validClaims() Claims {
	return Claims{
		Usecase:     "attachments",
		Scopes:      map[string]string{"org": "17", "project": "42"},
		Permissions: []Permission{Read, Write, Delete},
		Expires:     t0.Add(time.Minute),
	}
}

func mustSign(t *testing.T, priv ed25519.PrivateKey, kid string, c Claims) string {
	t.Helper()
	tok, err := SignToken(priv, kid, c)
	if err != nil {
		t.Fatalf("SignToken: %v", err)
	}
	return tok
}

// signRaw signs arbitrary header and payload values (marshalled unless already []byte or
// string), for tokens SignToken refuses to make.
func signRaw(priv ed25519.PrivateKey, header, payload any) string {
	enc := func(v any) string {
		switch x := v.(type) {
		case []byte:
			return b64.EncodeToString(x)
		case string:
			return b64.EncodeToString([]byte(x))
		}
		b, err := json.Marshal(v)
		if err != nil {
			panic(err)
		}
		return b64.EncodeToString(b)
	}
	in := enc(header) + "." + enc(payload)
	return in + "." + b64.EncodeToString(ed25519.Sign(priv, []byte(in)))
}

// edHeader is a valid token header for kid.
func edHeader(kid string) map[string]any {
	return map[string]any{"alg": "EdDSA", "typ": "JWT", "kid": kid}
}

// validPayload is a valid claims object at t0, as a map a test may modify.
func validPayload() map[string]any {
	return map[string]any{
		"res":         map[string]any{"os:usecase": "attachments", "org": "17", "project": "42"},
		"permissions": []string{"object.read", "object.write", "object.delete"},
		"exp":         t0.Add(time.Minute).Unix(),
	}
}

// req builds a server-side request; headers come in name, value pairs.
func req(method, target string, headers ...string) *http.Request {
	r := httptest.NewRequest(method, target, nil)
	for i := 0; i+1 < len(headers); i += 2 {
		r.Header.Add(headers[i], headers[i+1])
	}
	return r
}

// asAuthError unwraps err into *Error or fails the test.
func asAuthError(t *testing.T, err error) *Error {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not an *auth.Error", err, err)
	}
	return e
}

// wantError checks that err is an *Error with the status and detail.
func wantError(t *testing.T, err error, status int, detail string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %d %q", status, detail)
	}
	e := asAuthError(t, err)
	if e.Status != status || e.Detail != detail {
		t.Fatalf("got %d %q, want %d %q", e.Status, e.Detail, status, detail)
	}
	if len(e.Causes) == 0 || "auth error: "+e.Causes[0] != e.Detail {
		t.Fatalf("causes %q do not start with the detail's message %q", e.Causes, e.Detail)
	}
}
