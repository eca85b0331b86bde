package httpapi

import (
	"strings"
	"testing"
	"time"

	"github.com/stratastore/strata/tiered/object"
)

func TestUsecasePolicies(t *testing.T) {
	ps, err := ParseUsecasePolicies(`{"attachments":{"expiration":{"manual":{"allowed":false},"ttl":{"max":"90d"},"tti":{"allowed":false}}}}`)
	if err != nil {
		t.Fatal(err)
	}
	day := 24 * time.Hour
	tests := []struct {
		usecase string
		policy  object.ExpirationPolicy
		err     string
	}{
		{"attachments", object.TTL(90 * day), ""},
		{"attachments", object.TTL(day), ""},
		{"attachments", object.ExpirationPolicy{}, "client error: expiration policy 'manual' is not allowed for use case 'attachments'"},
		{"attachments", object.TTI(day), "client error: expiration policy 'tti:1day' is not allowed for use case 'attachments'"},
		{"attachments", object.TTL(100 * day), "client error: expiration duration 3months 8days 16h 19m 12s exceeds maximum of 2months 29days 2h 52m 48s for use case 'attachments'"},
		{"other", object.ExpirationPolicy{}, ""},
		{"other", object.TTI(1000 * day), ""},
	}
	for _, tt := range tests {
		err := ps.Check(tt.usecase, tt.policy)
		got := ""
		if err != nil {
			he := errorResponse(err)
			if he.status != 400 || he.causes != nil || he.text {
				t.Errorf("%s %s: answer %+v, want 400 JSON without causes", tt.usecase, tt.policy, he)
			}
			got = he.detail
		}
		if got != tt.err {
			t.Errorf("Check(%s, %s) = %q, want %q", tt.usecase, tt.policy, got, tt.err)
		}
	}
}

func TestParseUsecasePolicies_Errors(t *testing.T) {
	for _, bad := range []string{
		`[]`,
		`{"a":{"expiration":{"ttl":{"max":"forever"}}}}`,
		`{"a":{"expiration":{"manual":{"max":"1d"}}}}`,
		`{"a":{"expiraton":{}}}`,
		`{"a":{"expiration":{"ttl":{"allowed":"yes"}}}}`,
		`{"a":{}} {}`,
	} {
		if _, err := ParseUsecasePolicies(bad); err == nil {
			t.Errorf("ParseUsecasePolicies(%s) accepted", bad)
		}
	}
	ps, err := ParseUsecasePolicies("")
	if err != nil || ps.Check("x", object.ExpirationPolicy{}) != nil {
		t.Errorf("empty text: %v, %v", ps, err)
	}
	if _, err := ParseUsecasePolicies(`{"a":{"expiration":{"ttl":{"max":"bad"}}}}`); err == nil || !strings.Contains(err.Error(), `"a"`) {
		t.Errorf("error does not name the usecase: %v", err)
	}
}
