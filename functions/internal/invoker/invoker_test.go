package invoker_test

import (
	"crypto/rand"
	"crypto/rsa"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stratastore/strata/functions/internal/invoker"
	"github.com/stratastore/strata/functions/internal/invoker/invokertest"
)

const (
	audience = "https://cleanup-abc-uc.a.run.app"
	email    = "pubsub-push@project.iam.gserviceaccount.com"
)

func claims(change func(map[string]any)) map[string]any {
	return invokertest.Claims(audience, email, change)
}

func TestVerifier_Authenticate(t *testing.T) {
	g := invokertest.NewGoogle(t)
	v, err := invoker.NewVerifier(g.Validator(t), invoker.Expect{Audience: audience, Email: email})
	if err != nil {
		t.Fatal(err)
	}
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	valid := g.Token(t, claims(nil), nil)
	for _, tc := range []struct {
		name   string
		header string
		want   int
	}{
		{"valid", "Bearer " + valid, 0},
		{"lowercase scheme", "bearer " + valid, 0},
		{"no header", "", 401},
		{"basic auth", "Basic dXNlcjpwYXNz", 401},
		{"bearer without token", "Bearer ", 401},
		{"not a JWT", "Bearer abc", 401},
		{"signed by another key", "Bearer " + g.Token(t, claims(nil), other), 401},
		{"tampered payload", "Bearer " + tamper(valid, g.Token(t, claims(func(c map[string]any) { c["email"] = "evil@x.iam.gserviceaccount.com" }), other)), 401},
		{"expired", "Bearer " + g.Token(t, claims(func(c map[string]any) { c["exp"] = time.Now().Add(-time.Minute).Unix() }), nil), 401},
		{"not issued by Google", "Bearer " + g.Token(t, claims(func(c map[string]any) { c["iss"] = "https://evil.example" }), nil), 401},
		{"wrong audience", "Bearer " + g.Token(t, claims(func(c map[string]any) { c["aud"] = "https://other-function" }), nil), 403},
		{"wrong service account", "Bearer " + g.Token(t, claims(func(c map[string]any) { c["email"] = "attacker@evil.iam.gserviceaccount.com" }), nil), 403},
		{"email not verified", "Bearer " + g.Token(t, claims(func(c map[string]any) { c["email_verified"] = false }), nil), 403},
		{"no email", "Bearer " + g.Token(t, claims(func(c map[string]any) { delete(c, "email") }), nil), 403},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/", nil)
			if tc.header != "" {
				r.Header.Set("Authorization", tc.header)
			}
			err := v.Authenticate(r)
			got := 0
			if e, ok := err.(*invoker.Error); ok {
				got = e.Status
			} else if err != nil {
				t.Fatalf("error %v is not an *invoker.Error", err)
			}
			if got != tc.want {
				t.Errorf("status %d (%v), want %d", got, err, tc.want)
			}
		})
	}
}

// tamper puts the payload of b into a, keeping a's signature.
func tamper(a, b string) string {
	pa := splitJWT(a)
	pb := splitJWT(b)
	return pa[0] + "." + pb[1] + "." + pa[2]
}

func splitJWT(s string) [3]string {
	var out [3]string
	i := 0
	start := 0
	for j := 0; j < len(s); j++ {
		if s[j] == '.' {
			out[i] = s[start:j]
			i++
			start = j + 1
		}
	}
	out[i] = s[start:]
	return out
}

func TestNewVerifier_RequiresExpectations(t *testing.T) {
	g := invokertest.NewGoogle(t)
	for _, want := range []invoker.Expect{{Audience: audience}, {Email: email}, {}} {
		if _, err := invoker.NewVerifier(g.Validator(t), want); err == nil {
			t.Errorf("NewVerifier(%+v) accepted incomplete expectations", want)
		}
	}
}

// TestVerifier_AudienceSelf checks that AudienceSelf accepts exactly a token addressed to
// the URL the request came to, and refuses one addressed to another function.
func TestVerifier_AudienceSelf(t *testing.T) {
	g := invokertest.NewGoogle(t)
	v, err := invoker.NewVerifier(g.Validator(t), invoker.Expect{Audience: invoker.AudienceSelf, Email: email})
	if err != nil {
		t.Fatal(err)
	}
	token := g.Token(t, claims(nil), nil) // audience https://cleanup-abc-uc.a.run.app
	for _, tc := range []struct {
		host string
		want int
	}{
		{"cleanup-abc-uc.a.run.app", 0},
		{"recover-abc-uc.a.run.app", 403},
		{"cleanup-abc-uc.a.run.app:443", 403},
		{"", 403},
	} {
		r := httptest.NewRequest(http.MethodPost, "/", nil)
		r.Host = tc.host
		r.Header.Set("Authorization", "Bearer "+token)
		got := 0
		if e, ok := v.Authenticate(r).(*invoker.Error); ok {
			got = e.Status
		}
		if got != tc.want {
			t.Errorf("host %q: status %d, want %d", tc.host, got, tc.want)
		}
	}
}
