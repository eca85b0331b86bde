package httpapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	"github.com/stratastore/strata/tiered/object"
)

// UsecasePolicies holds the per-usecase expiration constraints of functions/API.md §6.3, by
// usecase name. Usecases absent from the map are unconstrained.
type UsecasePolicies map[string]UsecasePolicy

// UsecasePolicy constrains the expiration policies one usecase may write.
type UsecasePolicy struct {
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

// ParseUsecasePolicies parses the JSON form of objectstore's `usecases` configuration:
//
//	{"attachments": {"expiration": {
//	    "manual": {"allowed": false},
//	    "ttl": {"allowed": true, "max": "90d"},
//	    "tti": {"allowed": false}}}}
//
// "allowed" defaults to true and "max" is a humantime duration. Unknown fields are errors.
// Empty text means no constraints.
func ParseUsecasePolicies(text string) (UsecasePolicies, error) {
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
	policies := make(UsecasePolicies, len(raw))
	for name, u := range raw {
		var p UsecasePolicy
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

// Check returns a 400 client error when usecase may not write policy p, worded as
// objectstore words it.
func (ps UsecasePolicies) Check(usecase string, p object.ExpirationPolicy) error {
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
		return clientError(fmt.Sprintf("expiration policy '%s' is not allowed for use case '%s'", p, usecase))
	}
	if r.Max > 0 && p.Duration > r.Max {
		return clientError(fmt.Sprintf("expiration duration %s exceeds maximum of %s for use case '%s'",
			object.FormatDuration(p.Duration), object.FormatDuration(r.Max), usecase))
	}
	return nil
}
