package client_test

import (
	"crypto/ed25519"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stratastore/strata/functions/client"
	"github.com/stratastore/strata/functions/internal/auth"
	"github.com/stratastore/strata/tiered/object"
)

// verifier trusts pub as "kid" with every permission, at a fixed clock.
func verifier(t *testing.T, pub ed25519.PublicKey, now time.Time) *auth.Verifier {
	t.Helper()
	v, err := auth.NewVerifier(auth.KeyDirectory{"kid": {Versions: []ed25519.PublicKey{pub}, MaxPermissions: auth.AllPermissions}},
		auth.Options{Enforce: true, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestSignToken_VerifiedByServerAuth(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(nil)
	now := time.Now()
	v := verifier(t, pub, now)
	tok, err := client.SignToken(priv, "kid", client.Claims{
		Usecase:     "attachments",
		Scopes:      map[string]string{"org": "17", "project": "*"},
		Permissions: []client.Permission{client.PermRead, client.PermWrite},
		Expires:     now.Add(time.Minute),
	})
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest("GET", "/v1/objects/attachments/org=17;project=42/k", nil)
	r.Header.Set("X-Os-Auth", "Bearer "+tok)
	grant, err := v.Authenticate(r)
	if err != nil {
		t.Fatalf("the server's verifier refuses the token: %v", err)
	}
	octx := object.Context{Usecase: "attachments", Scopes: []object.Scope{{Name: "org", Value: "17"}, {Name: "project", Value: "42"}}}
	if err := grant.Authorize(octx, auth.Write); err != nil {
		t.Errorf("write: %v", err)
	}
	if err := grant.Authorize(octx, auth.Delete); err == nil {
		t.Error("delete allowed without the permission")
	}
	octx.Scopes[0].Value = "18"
	if err := grant.Authorize(octx, auth.Read); err == nil {
		t.Error("read of another org allowed")
	}
	// An expired token is refused (the server's leeway is one minute).
	old, _ := client.SignToken(priv, "kid", client.Claims{Usecase: "attachments", Permissions: client.AllPermissions, Expires: now.Add(-2 * time.Minute)})
	r.Header.Set("X-Os-Auth", "Bearer "+old)
	if _, err := v.Authenticate(r); err == nil {
		t.Error("an expired token was accepted")
	}
}

func TestPresignGet_VerifiedByServerAuth(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(nil)
	c, err := client.New("http://127.0.0.1:8888", client.WithSigningKey(priv, "kid"))
	if err != nil {
		t.Fatal(err)
	}
	s := c.Usecase("testing").Scope("org", "17").Scope("project", "42")
	u, err := s.PresignGet("foo/with space+plus", 90*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	path, query, _ := strings.Cut(strings.TrimPrefix(u, "http://127.0.0.1:8888"), "?")
	if path != "/v1/objects/testing/org=17;project=42/foo/with%20space+plus" {
		t.Errorf("path %q", path)
	}
	if !strings.HasPrefix(query, "os_kid=kid&os_timestamp=") || !strings.Contains(query, "&os_duration=5400&os_sig=") {
		t.Errorf("query %q", query)
	}
	for _, method := range []string{"GET", "HEAD"} {
		v := verifier(t, pub, time.Now())
		grant, err := v.Authenticate(httptest.NewRequest(method, u, nil))
		if err != nil {
			t.Fatalf("%s: the server's verifier refuses the URL: %v", method, err)
		}
		if err := grant.Authorize(object.Context{Usecase: "testing"}, auth.Read); err != nil {
			t.Errorf("%s: read not allowed: %v", method, err)
		}
	}
	// After its validity, the URL is refused.
	late := verifier(t, pub, time.Now().Add(91*time.Minute))
	if _, err := late.Authenticate(httptest.NewRequest("GET", u, nil)); err == nil {
		t.Error("an expired pre-signed URL was accepted")
	}
	if _, err := s.PresignGet("k", 8*24*time.Hour); err == nil {
		t.Error("a validity beyond a week was accepted")
	}
	unsigned, _ := client.New("http://127.0.0.1:8888", client.WithToken("t"))
	if _, err := unsigned.Usecase("u").PresignGet("k", time.Minute); err == nil {
		t.Error("PresignGet without a signing key succeeded")
	}
}

func TestMarshalKeyPairPEM_ReadByServer(t *testing.T) {
	_, priv, _ := ed25519.GenerateKey(nil)
	privPEM, pubPEM, err := client.MarshalKeyPairPEM(priv)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := auth.ParsePublicKeyPEM(pubPEM)
	if err != nil {
		t.Fatalf("the server cannot read the public key: %v", err)
	}
	back, err := client.ParsePrivateKeyPEM(privPEM)
	if err != nil {
		t.Fatal(err)
	}
	if !pub.Equal(priv.Public()) || !back.Equal(priv) {
		t.Fatal("keys do not round-trip")
	}
	if _, err := client.ParsePrivateKeyPEM(pubPEM); err == nil {
		t.Error("a public key parsed as a private one")
	}
}
