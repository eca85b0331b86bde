package admission

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzParseKillswitches checks the STRATA_KILLSWITCHES parser: no panic; a parsed list has no
// empty fields and only valid globs; it survives a JSON round trip unchanged; and Blocked
// evaluates it without panicking.
func FuzzParseKillswitches(f *testing.F) {
	f.Add(specKillswitches)
	f.Add(`[{"service": "{relay,sentry}-[a-z]*"}]`)
	f.Add(`[{"usecase": ""}]`)
	f.Fuzz(func(t *testing.T, text string) {
		ks, err := ParseKillswitches(text)
		if err != nil {
			if ks != nil {
				t.Fatal("rules returned with an error")
			}
			return
		}
		for _, k := range ks {
			if k.Service != "" {
				if _, err := compileGlob(k.Service); err != nil {
					t.Fatalf("invalid glob %q accepted", k.Service)
				}
			}
			for n, v := range k.Scopes {
				if n == "" || v == "" {
					t.Fatalf("empty scope accepted: %q=%q", n, v)
				}
			}
		}
		if len(ks) > 0 {
			b, err := json.Marshal(ks)
			if err != nil {
				t.Fatal(err)
			}
			again, err := ParseKillswitches(string(b))
			if err != nil || !reflect.DeepEqual(again, ks) {
				t.Fatalf("round trip of %s: %#v, %v; want %#v", b, again, err, ks)
			}
		}
		for _, svc := range []string{"", "relay", "test-runner-7d8f9c5b6d-abc12"} {
			ks.Blocked(ctxOf("attachments", "org", "42"), svc)
		}
	})
}

// FuzzParseRateLimits checks the STRATA_RATE_LIMITS parser: no panic; a parsed config
// validates, survives a JSON round trip, and drives a Limiter without panicking.
func FuzzParseRateLimits(f *testing.F) {
	f.Add(`{"throughput": {"global_rps": 1000, "burst": 100, "usecase_pct": 50, "scope_pct": 25, "rules": [{"usecase": "hp", "scopes": [["org", "123"]], "rps": 500}, {"scopes": [], "pct": 10}]}, "bandwidth": {"global_bps": 1048576, "burst_ms": 2000, "usecase_pct": 50, "scope_pct": 25, "report_only": true}}`)
	f.Add(`{"throughput": {"usecase_pct": 10}}`)
	f.Add(`{"bandwidth": {"global_bps": 18446744073709551615, "burst_ms": 0}}`)
	f.Fuzz(func(t *testing.T, text string) {
		rl, err := ParseRateLimits(text)
		if err != nil {
			return
		}
		if err := rl.Validate(); err != nil {
			t.Fatalf("parsed config fails Validate: %v", err)
		}
		b, err := json.Marshal(rl)
		if err != nil {
			t.Fatal(err)
		}
		again, err := ParseRateLimits(string(b))
		if err != nil || !reflect.DeepEqual(again, rl) {
			t.Fatalf("round trip of %s: %+v, %v", b, again, err)
		}
		c := newClock()
		l := NewLimiter(rl, c.now)
		for i := range 5 {
			ctx := ctxOf("u"+strings.Repeat("x", i%2), "org", "123", "project", "789")
			l.Admit(ctx)
			l.ChargeBytes(ctx, 1<<40)
		}
		if l.RequestsTotal() > 5 {
			t.Fatalf("RequestsTotal %d after 5 checks", l.RequestsTotal())
		}
	})
}

// FuzzGlob checks the glob translation: no panic; a pattern without metacharacters matches
// exactly itself; '*' appended to a valid pattern still matches everything it did.
func FuzzGlob(f *testing.F) {
	f.Add("relay-*", "relay-1")
	f.Add("[!a-c]?{x,y}", "dzx")
	f.Add(`\[lit\]`, "[lit]")
	f.Fuzz(func(t *testing.T, pattern, s string) {
		re, err := compileGlob(pattern)
		if err != nil {
			return
		}
		if !utf8.ValidString(s) {
			return
		}
		if !strings.ContainsAny(pattern, `*?[]{},\`) && re.MatchString(s) != (s == pattern) {
			t.Fatalf("literal %q vs %q: match %v", pattern, s, re.MatchString(s))
		}
		if re.MatchString(s) {
			if strings.HasSuffix(pattern, `\`) {
				return
			}
			star, err := compileGlob(pattern + "*")
			if err != nil {
				return // e.g. the pattern ends inside an escape
			}
			if !star.MatchString(s) || !star.MatchString(s+"suffix") {
				t.Fatalf("%q* does not extend %q", pattern, s)
			}
		}
	})
}
