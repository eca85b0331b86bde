package object_test

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stratastore/strata/tiered/object"
)

// FuzzParseExpirationPolicy parses arbitrary x-sn-expiration values: no panic, errors wrap
// ErrInvalidArgument, and an accepted policy renders (String) to a value that parses back
// to the same kind with a duration within the float rounding of ParseDuration.
func FuzzParseExpirationPolicy(f *testing.F) {
	for _, s := range []string{"manual", "ttl:1h", "tti:30days", "ttl:1h 30m", "tti:1.5h", "ttl:0", "ttl:", "tti:-1s",
		"ttl:3600 seconds", "tti:2months 29days 2h 52m 48s", "ttl:1µs", "TTL:1h", "ttl:1h:2m", "ttl:292years"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := object.ParseExpirationPolicy(s)
		if err != nil {
			if !errors.Is(err, object.ErrInvalidArgument) {
				t.Fatalf("%q: error %v does not wrap ErrInvalidArgument", s, err)
			}
			return
		}
		if p.Duration < 0 {
			return // the known overflow bug; see TestParseDuration_Overflow
		}
		q, err := object.ParseExpirationPolicy(p.String())
		if err != nil {
			t.Fatalf("%q -> %q does not parse: %v", s, p, err)
		}
		if q.Kind != p.Kind || !closeDurations(q.Duration, p.Duration) {
			t.Fatalf("%q -> %+v -> %q -> %+v", s, p, p.String(), q)
		}
	})
}

// closeDurations allows the float64 rounding of ParseDuration: 1 ns per 2^52 of magnitude.
func closeDurations(a, b time.Duration) bool {
	d := a - b
	if d < 0 {
		d = -d
	}
	return d <= max(a, b)>>51+1
}

// FuzzDurationRoundTrip formats arbitrary non-negative durations and parses them back.
func FuzzDurationRoundTrip(f *testing.F) {
	for _, d := range []int64{0, 1, 999, 1e9, 90 * 60e9, 86400e9, 2630016e9, 31557600e9, 1<<53 + 1, 1<<62 + 12345} {
		f.Add(d)
	}
	f.Fuzz(func(t *testing.T, n int64) {
		if n < 0 {
			n = -(n + 1)
		}
		d := time.Duration(n)
		s := object.FormatDuration(d)
		got, err := object.ParseDuration(s)
		if err != nil {
			t.Fatalf("FormatDuration(%d) = %q does not parse: %v", n, s, err)
		}
		if got < 0 || !closeDurations(got, d) {
			t.Fatalf("FormatDuration(%d) = %q parses to %d", n, s, got)
		}
	})
}

// FuzzParseDuration parses arbitrary durations: no panic; a result is never negative.
func FuzzParseDuration(f *testing.F) {
	for _, s := range []string{"0", "1h", "1h30m", "1.5h", "3600 seconds", "1 h 2 m", "1e9s", "1.s", ".5h", "5", "h",
		"99999999999999999999999h", "1µs", "2months", "1y 1M 1w 1d", "\t1h\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := object.ParseDuration(s)
		if err != nil {
			return
		}
		if d < 0 && d != math.MinInt64 {
			// The exact-2^63 overflow is the known bug shown by TestParseDuration_Overflow;
			// any other negative result is a new one.
			t.Fatalf("ParseDuration(%q) = %d, negative", s, d)
		}
	})
}

// TestParseDuration_Overflow shows a bug: a sum of exactly 2^63 ns passes the overflow check
// (float64(math.MaxInt64) == 2^63) and converts to math.MinInt64, so
// ParseExpirationPolicy("ttl:9223372036854775807ns") is accepted as a negative TTL.
func TestParseDuration_Overflow(t *testing.T) {
	for _, s := range []string{"9223372036854775807ns", "106751days 23h 47m 16s 854ms 775us 807ns"} {
		d, err := object.ParseDuration(s)
		if err == nil && d < 0 {
			t.Errorf("ParseDuration(%q) = %d, nil: a negative duration instead of an error", s, d)
		}
	}
}

// FuzzStoragePathRoundTrip checks that ParseStoragePath inverts StoragePath for every valid
// id, and that StoragePath inverts ParseStoragePath for every path it accepts.
func FuzzStoragePathRoundTrip(f *testing.F) {
	f.Add("testing", "org", "1", "", "", "a/b/c")
	f.Add("u", "org", "17", "project", "42", "objects/objects")
	f.Add("u", "", "", "", "", "x/objects/y")
	f.Add("u", "a", "b.c", "", "", "k")
	f.Add("u", "org", "1", "p", "2", "über/ünïcode")
	f.Fuzz(func(t *testing.T, usecase, n1, v1, n2, v2, key string) {
		var scopes []object.Scope
		if n1 != "" || v1 != "" {
			scopes = append(scopes, object.Scope{Name: n1, Value: v1})
		}
		if n2 != "" || v2 != "" {
			scopes = append(scopes, object.Scope{Name: n2, Value: v2})
		}
		id := object.NewID(usecase, scopes, key)
		if err := id.Validate(); err == nil {
			p := id.StoragePath()
			back, err := object.ParseStoragePath(p)
			if err != nil {
				t.Fatalf("valid id %+v: ParseStoragePath(%q): %v", id, p, err)
			}
			if !back.Equal(id) {
				t.Fatalf("valid id %+v -> %q -> %+v", id, p, back)
			}
			if len(p) > object.MaxStoragePathLen {
				t.Fatalf("valid id with a %d-byte storage path", len(p))
			}
		} else if !errors.Is(err, object.ErrInvalidArgument) {
			t.Fatalf("Validate error %v does not wrap ErrInvalidArgument", err)
		}
		// The raw concatenation as a path: whatever parses must print back identically.
		raw := usecase + "/" + n1 + "." + v1 + "/objects/" + key
		if back, err := object.ParseStoragePath(raw); err == nil && back.StoragePath() != raw {
			t.Fatalf("ParseStoragePath(%q) = %+v, which prints as %q", raw, back, back.StoragePath())
		}
	})
}

// FuzzValidateKey checks ValidateKey against its documented rules.
func FuzzValidateKey(f *testing.F) {
	for _, k := range []string{"a", "a/b", "a//b", "/a", "a/", ".", "..", "a/./b", "a/../b", "...", "a\x00b", "a\x7fb",
		"\xff", "ünï/cödé", "a b", strings.Repeat("k", 2000)} {
		f.Add(k)
	}
	f.Fuzz(func(t *testing.T, key string) {
		err := object.ValidateKey(key)
		want := key != "" && utf8.ValidString(key)
		for _, r := range key {
			if r < 0x20 || r == 0x7f {
				want = false
			}
		}
		for _, seg := range strings.Split(key, "/") {
			if seg == "" || seg == "." || seg == ".." {
				want = false
			}
		}
		if (err == nil) != want {
			t.Fatalf("ValidateKey(%q) = %v, want valid=%v", key, err, want)
		}
		if err != nil && !errors.Is(err, object.ErrInvalidArgument) {
			t.Fatalf("ValidateKey(%q) error %v does not wrap ErrInvalidArgument", key, err)
		}
		id := object.NewID("u", nil, key)
		if verr := id.Validate(); (verr == nil) && err != nil {
			t.Fatalf("ID.Validate accepts key %q that ValidateKey refuses", key)
		}
	})
}
