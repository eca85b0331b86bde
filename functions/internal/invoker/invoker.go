// Package invoker authenticates the callers of Strata's private functions once deployed:
// Pub/Sub's authenticated push to `cleanup` and Cloud Scheduler's OIDC call to `recover`.
// Both send a Google-signed OIDC ID token in "Authorization: Bearer". A Verifier accepts a
// request only when that token is signed by Google (checked by google.golang.org/api/idtoken
// against Google's published keys), unexpired, issued by accounts.google.com, addressed to
// the expected audience, and asserts the expected service account's verified email.
//
// Cloud Run's ingress (internal only) and IAM invoker bindings already keep other callers
// out; this check is the function's own, so that a mistake in either, or anyone allowed to
// publish to the cleanup topic with a push subscription of their own, cannot invoke it.
package invoker

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"google.golang.org/api/idtoken"
)

// TokenValidator checks a token's signature and expiry and returns its claims; audience ""
// skips the audience check. *idtoken.Validator is one; tests use one whose HTTP client serves
// a test key as Google's certificates.
type TokenValidator interface {
	Validate(ctx context.Context, token, audience string) (*idtoken.Payload, error)
}

// Expect is what a caller's token must assert.
type Expect struct {
	// Audience is the token's required "aud": the push subscription's (or the scheduler
	// job's) OIDC audience, by default the function's URL. AudienceSelf means exactly that
	// URL, "https://" and the request's host: Terraform cannot write a function's own URL
	// into its environment (the URL exists only once the function does), and behind Cloud
	// Run the host is the service's own, since Cloud Run routes requests by host.
	Audience string
	// Email is the invoking service account's email; the token must carry it as "email"
	// with "email_verified": true.
	Email string
}

// AudienceSelf as Expect.Audience requires the token's audience to be the URL the request
// was addressed to: "https://" followed by its host.
const AudienceSelf = "self"

// googleIssuers are the "iss" values of Google-signed ID tokens.
var googleIssuers = []string{"https://accounts.google.com", "accounts.google.com"}

// Error is a refused request: Status is 401 (no token, or not a valid Google token) or 403
// (a valid token of someone else: wrong audience or service account).
type Error struct {
	Status int
	Reason string
}

func (e *Error) Error() string { return fmt.Sprintf("invoker: %s", e.Reason) }

// Verifier checks the OIDC token of a private function's caller.
type Verifier struct {
	v    TokenValidator
	want Expect
}

// NewVerifier returns a Verifier of tokens for want, validated by v. Both of want's fields
// are required.
func NewVerifier(v TokenValidator, want Expect) (*Verifier, error) {
	if v == nil {
		return nil, errors.New("invoker: a token validator is required")
	}
	if want.Audience == "" || want.Email == "" {
		return nil, errors.New("invoker: an audience and a service account email are required")
	}
	return &Verifier{v: v, want: want}, nil
}

// NewGoogleValidator returns the validator of Google-signed ID tokens. It opens no
// connection; Google's certificates are fetched, and cached, at the first validation.
func NewGoogleValidator(ctx context.Context) (TokenValidator, error) {
	return idtoken.NewValidator(ctx)
}

// Authenticate returns nil when r carries a token that satisfies the Verifier, else an
// *Error.
func (v *Verifier) Authenticate(r *http.Request) error {
	h := r.Header.Get("Authorization")
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return &Error{Status: http.StatusUnauthorized, Reason: "no bearer token"}
	}
	p, err := v.v.Validate(r.Context(), strings.TrimSpace(token), "")
	if err != nil {
		return &Error{Status: http.StatusUnauthorized, Reason: "token not valid: " + err.Error()}
	}
	if !contains(googleIssuers, p.Issuer) {
		return &Error{Status: http.StatusUnauthorized, Reason: fmt.Sprintf("token issued by %q, not Google", p.Issuer)}
	}
	want := v.want.Audience
	if want == AudienceSelf {
		want = "https://" + r.Host
	}
	if p.Audience != want {
		return &Error{Status: http.StatusForbidden, Reason: fmt.Sprintf("token audience %q is not %q", p.Audience, want)}
	}
	email, _ := p.Claims["email"].(string)
	verified, _ := p.Claims["email_verified"].(bool)
	if email != v.want.Email || !verified {
		return &Error{Status: http.StatusForbidden, Reason: fmt.Sprintf("token of %q (verified %t), not of %q", email, verified, v.want.Email)}
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
