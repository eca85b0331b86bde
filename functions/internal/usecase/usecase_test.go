package usecase

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stratastore/strata/tiered/object"
)

func TestPolicies_Check(t *testing.T) {
	ps, err := ParsePolicies(`{"attachments":{"expiration":{"manual":{"allowed":false},"ttl":{"max":"90d"},"tti":{"allowed":false}}}}`)
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
		{"attachments", object.ExpirationPolicy{}, "expiration policy 'manual' is not allowed for use case 'attachments'"},
		{"attachments", object.TTI(day), "expiration policy 'tti:1day' is not allowed for use case 'attachments'"},
		{"attachments", object.TTL(100 * day), "expiration duration 3months 8days 16h 19m 12s exceeds maximum of 2months 29days 2h 52m 48s for use case 'attachments'"},
		{"other", object.ExpirationPolicy{}, ""},
		{"other", object.TTI(1000 * day), ""},
	}
	for _, tt := range tests {
		err := ps.Check(tt.usecase, tt.policy)
		got := ""
		if err != nil {
			if !errors.Is(err, object.ErrInvalidArgument) {
				t.Errorf("%s %s: %v does not match ErrInvalidArgument", tt.usecase, tt.policy, err)
			}
			got = object.Reason(err)
		}
		if got != tt.err {
			t.Errorf("Check(%s, %s) = %q, want %q", tt.usecase, tt.policy, got, tt.err)
		}
	}
}

func TestParsePolicies_Errors(t *testing.T) {
	for _, bad := range []string{
		`[]`,
		`{"a":{"expiration":{"ttl":{"max":"forever"}}}}`,
		`{"a":{"expiration":{"manual":{"max":"1d"}}}}`,
		`{"a":{"expiraton":{}}}`,
		`{"a":{"expiration":{"ttl":{"allowed":"yes"}}}}`,
		`{"a":{}} {}`,
	} {
		if _, err := ParsePolicies(bad); err == nil {
			t.Errorf("ParsePolicies(%s) accepted", bad)
		}
	}
	ps, err := ParsePolicies("")
	if err != nil || ps.Check("x", object.ExpirationPolicy{}) != nil {
		t.Errorf("empty text: %v, %v", ps, err)
	}
	if _, err := ParsePolicies(`{"a":{"expiration":{"ttl":{"max":"bad"}}}}`); err == nil || !strings.Contains(err.Error(), `"a"`) {
		t.Errorf("error does not name the usecase: %v", err)
	}
}

func ExamplePolicies_Check() {
	ps, _ := ParsePolicies(`{"attachments": {"expiration": {"ttl": {"max": "90d"}}}}`)
	fmt.Println(ps.Check("attachments", object.TTL(30*24*time.Hour)))
	fmt.Println(object.Reason(ps.Check("attachments", object.TTL(100*24*time.Hour))))
	fmt.Println(ps.Check("other", object.TTL(100*24*time.Hour)))
	// Output:
	// <nil>
	// expiration duration 3months 8days 16h 19m 12s exceeds maximum of 2months 29days 2h 52m 48s for use case 'attachments'
	// <nil>
}
