// Package usecase owns the per-usecase storage policy: which expiration policies each
// usecase may write, and the longest TTL and TTI it may ask for (functions/API.md §6.3, the
// `usecases` configuration of objectstore). Usecases without a policy are unconstrained.
//
// The expiration grammar itself (policies, durations, their text forms) is tiered/object's;
// this package only constrains it. config parses STRATA_USECASES into Policies once, at
// start-up; the HTTP server calls Check before every write, single or batched, and turns
// its error into a 400.
//
// The policies live here rather than in config or httpapi because both use them: config
// builds them from the environment and httpapi enforces them, and the server must not
// depend on how the environment is read, nor the configuration on the server.
package usecase

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	"github.com/stratastore/strata/tiered/object"
)

// Policies holds the per-usecase expiration constraints of functions/API.md §6.3, by usecase
// name. Usecases absent from the map are unconstrained; a nil Policies constrains nothing.
type Policies map[string]Policy

// Policy constrains the expiration policies one usecase may write.
type Policy struct {
	Manual KindRule
	TTL    KindRule
	TTI    KindRule
}

// KindRule constrains one expiration kind: whether it is allowed and, for TTL and TTI, the
// longest duration (zero: no cap).
type KindRule struct {
	Allowed bool
	Max     time.Duration
}

// ParsePolicies parses the JSON form of objectstore's `usecases` configuration:
//
//	{"attachments": {"expiration": {
//	    "manual": {"allowed": false},
//	    "ttl": {"allowed": true, "max": "90d"},
//	    "tti": {"allowed": false}}}}
//
// "allowed" defaults to true and "max" is a humantime duration. Unknown fields are errors.
// Empty text means no constraints.
func ParsePolicies(text string) (Policies, error) {
	if text == "" {
		return nil, nil
	}
	type kindJSON struct {
		Allowed *bool   `json:"allowed"`
		Max     *string `json:"max"`
	}
	type usecaseJSON struct {
		Expiration struct {
			Manual *kindJSON `json:"manual"`
			TTL    *kindJSON `json:"ttl"`
			TTI    *kindJSON `json:"tti"`
		} `json:"expiration"`
	}
	var raw map[string]usecaseJSON
	dec := json.NewDecoder(bytes.NewReader([]byte(text)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&raw); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, fmt.Errorf("trailing data after the JSON object")
	}
	rule := func(usecase, kind string, k *kindJSON) (KindRule, error) {
		r := KindRule{Allowed: true}
		if k == nil {
			return r, nil
		}
		if k.Allowed != nil {
			r.Allowed = *k.Allowed
		}
		if k.Max != nil {
			if kind == "manual" {
				return r, fmt.Errorf("usecase %q: manual has no duration to cap", usecase)
			}
			d, err := object.ParseDuration(*k.Max)
			if err != nil {
				return r, fmt.Errorf("usecase %q: %s.max: %v", usecase, kind, err)
			}
			r.Max = d
		}
		return r, nil
	}
	policies := make(Policies, len(raw))
	for name, u := range raw {
		var p Policy
		var err error
		if p.Manual, err = rule(name, "manual", u.Expiration.Manual); err != nil {
			return nil, err
		}
		if p.TTL, err = rule(name, "ttl", u.Expiration.TTL); err != nil {
			return nil, err
		}
		if p.TTI, err = rule(name, "tti", u.Expiration.TTI); err != nil {
			return nil, err
		}
		policies[name] = p
	}
	return policies, nil
}

// Check returns an *object.InvalidError (matching object.ErrInvalidArgument) when usecase
// may not write policy p. Its Reason is objectstore's wording, which the HTTP server sends
// as "client error: " + Reason.
func (ps Policies) Check(usecase string, p object.ExpirationPolicy) error {
	u, ok := ps[usecase]
	if !ok {
		return nil
	}
	r := u.Manual
	switch p.Kind {
	case object.TimeToLive:
		r = u.TTL
	case object.TimeToIdle:
		r = u.TTI
	}
	if !r.Allowed {
		return object.Invalidf("expiration policy '%s' is not allowed for use case '%s'", p, usecase)
	}
	if r.Max > 0 && p.Duration > r.Max {
		return object.Invalidf("expiration duration %s exceeds maximum of %s for use case '%s'",
			object.FormatDuration(p.Duration), object.FormatDuration(r.Max), usecase)
	}
	return nil
}
