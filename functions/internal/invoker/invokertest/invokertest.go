// Package invokertest fakes Google's ID-token signer for tests of invoker checks: tokens
// signed by a test key, and that key served as Google's certificates to the real idtoken
// validator.
package invokertest

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"google.golang.org/api/idtoken"
	"google.golang.org/api/option"

	"github.com/stratastore/strata/functions/internal/invoker"
)

// Google is a stand-in for Google's token signer: it signs RS256 ID tokens with a test key
// and serves that key as Google's certificates (JWKS) to idtoken's validator, whose HTTP
// client it replaces. The validator under test is the real one.
type Google struct {
	key *rsa.PrivateKey
	kid string
}

// NewGoogle returns a signer with a fresh test key.
func NewGoogle(t testing.TB) *Google {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return &Google{key: key, kid: "test-kid"}
}

// RoundTrip answers every request (idtoken asks https://www.googleapis.com/oauth2/v3/certs)
// with the JWKS of the test key.
func (g *Google) RoundTrip(r *http.Request) (*http.Response, error) {
	b64 := base64.RawURLEncoding.EncodeToString
	body, _ := json.Marshal(map[string]any{"keys": []map[string]string{{
		"kty": "RSA", "alg": "RS256", "use": "sig", "kid": g.kid,
		"n": b64(g.key.N.Bytes()), "e": b64(big.NewInt(int64(g.key.E)).Bytes()),
	}}})
	rec := httptest.NewRecorder()
	rec.Header().Set("Content-Type", "application/json")
	rec.Header().Set("Cache-Control", "public, max-age=3600")
	_, _ = rec.Write(body)
	res := rec.Result()
	res.Request = r
	return res, nil
}

// Validator returns idtoken's validator over the test key.
func (g *Google) Validator(t testing.TB) invoker.TokenValidator {
	t.Helper()
	v, err := idtoken.NewValidator(context.Background(), option.WithHTTPClient(&http.Client{Transport: g}))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// Token signs claims; a nil key signs with the Google test key.
func (g *Google) Token(t testing.TB, claims map[string]any, key *rsa.PrivateKey) string {
	t.Helper()
	if key == nil {
		key = g.key
	}
	b64 := base64.RawURLEncoding.EncodeToString
	h, _ := json.Marshal(map[string]string{"alg": "RS256", "typ": "JWT", "kid": g.kid})
	p, _ := json.Marshal(claims)
	signed := b64(h) + "." + b64(p)
	sum := sha256.Sum256([]byte(signed))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	return signed + "." + b64(sig)
}

// Claims are the claims of a valid Google ID token for audience and email, with changes
// applied.
func Claims(audience, email string, change func(map[string]any)) map[string]any {
	now := time.Now()
	c := map[string]any{
		"iss": "https://accounts.google.com", "aud": audience, "sub": "1234567890",
		"email": email, "email_verified": true,
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
	}
	if change != nil {
		change(c)
	}
	return c
}
