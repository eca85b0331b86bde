package object

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"
)

// ExpirationKind says how an object expires.
type ExpirationKind uint8

const (
	// Manual objects never expire on their own.
	Manual ExpirationKind = iota
	// TimeToLive objects expire a fixed time after they were written.
	TimeToLive
	// TimeToIdle objects expire a fixed time after they were last read or written.
	TimeToIdle
)

// ExpirationPolicy is an expiration kind plus, for TTL and TTI, its duration.
// The zero value is Manual.
type ExpirationPolicy struct {
	Kind     ExpirationKind
	Duration time.Duration
}

// TTL returns a time-to-live policy.
func TTL(d time.Duration) ExpirationPolicy { return ExpirationPolicy{Kind: TimeToLive, Duration: d} }

// TTI returns a time-to-idle policy.
func TTI(d time.Duration) ExpirationPolicy { return ExpirationPolicy{Kind: TimeToIdle, Duration: d} }

// IsTimeout reports whether the policy expires objects (TTL or TTI).
func (p ExpirationPolicy) IsTimeout() bool { return p.Kind != Manual }

// MaxTTIDebounce caps the TTI debounce.
const MaxTTIDebounce = 24 * time.Hour

// TTIBump returns the new deadline if an access at now should extend a TTI object whose
// current deadline is expires. A bump happens when the deadline has fallen more than the
// debounce, min(tti/4, 24h), behind now+tti. Non-TTI policies and a zero expires never bump.
func (p ExpirationPolicy) TTIBump(expires, now time.Time) (time.Time, bool) {
	if p.Kind != TimeToIdle || expires.IsZero() {
		return time.Time{}, false
	}
	next := now.Add(p.Duration)
	debounce := min(p.Duration/4, MaxTTIDebounce)
	if expires.Before(next.Add(-debounce)) {
		return next, true
	}
	return time.Time{}, false
}

// String renders the policy in objectstore's wire form: "manual", "ttl:1h 30m", "tti:30days".
func (p ExpirationPolicy) String() string {
	switch p.Kind {
	case TimeToLive:
		return "ttl:" + FormatDuration(p.Duration)
	case TimeToIdle:
		return "tti:" + FormatDuration(p.Duration)
	default:
		return "manual"
	}
}

// ParseExpirationPolicy parses objectstore's x-sn-expiration grammar: "manual",
// "ttl:<duration>" or "tti:<duration>", with durations in ParseDuration's grammar.
func ParseExpirationPolicy(s string) (ExpirationPolicy, error) {
	if s == "manual" {
		return ExpirationPolicy{}, nil
	}
	kind, dur, ok := strings.Cut(s, ":")
	if !ok {
		return ExpirationPolicy{}, Invalidf("invalid expiration policy value %q", s)
	}
	var k ExpirationKind
	switch kind {
	case "ttl":
		k = TimeToLive
	case "tti":
		k = TimeToIdle
	default:
		return ExpirationPolicy{}, Invalidf("invalid expiration policy value %q", s)
	}
	d, err := ParseDuration(dur)
	if err != nil {
		return ExpirationPolicy{}, Invalidf("invalid expiration policy value %q: %v", s, err)
	}
	return ExpirationPolicy{Kind: k, Duration: d}, nil
}

// Seconds in humantime's month and year.
const (
	secondsPerMonth = 2_630_016
	secondsPerYear  = 31_557_600
)

// durationUnitNanos maps each of humantime's unit spellings to its length in nanoseconds.
var durationUnitNanos = map[string]int64{
	"nanos": 1, "nsec": 1, "ns": 1,
	"usec": 1e3, "us": 1e3, "µs": 1e3,
	"millis": 1e6, "msec": 1e6, "ms": 1e6,
	"seconds": 1e9, "second": 1e9, "secs": 1e9, "sec": 1e9, "s": 1e9,
	"minutes": 60e9, "minute": 60e9, "min": 60e9, "mins": 60e9, "m": 60e9,
	"hours": 3600e9, "hour": 3600e9, "hr": 3600e9, "hrs": 3600e9, "h": 3600e9,
	"days": 86400e9, "day": 86400e9, "d": 86400e9,
	"weeks": 604800e9, "week": 604800e9, "wk": 604800e9, "wks": 604800e9, "w": 604800e9,
	"months": secondsPerMonth * 1e9, "month": secondsPerMonth * 1e9, "M": secondsPerMonth * 1e9,
	"years": secondsPerYear * 1e9, "year": secondsPerYear * 1e9, "yr": secondsPerYear * 1e9,
	"yrs": secondsPerYear * 1e9, "y": secondsPerYear * 1e9,
}

// ErrDurationTooLong is wrapped by ParseDuration and UnmarshalPolicyJSON for a duration that
// objectstore accepts but time.Duration cannot hold.
//
// objectstore's durations are Rust Durations: up to 2^64-1 seconds (584 billion years).
// Strata's are time.Duration, at most 2^63-1 nanoseconds (about 292 years). Strata rejects
// longer ones with this error rather than clamping them: a clamped policy would be rendered
// back (x-sn-expiration, the m and t JSON) as a different value than the one stored. A PUT
// with such a policy is a 400 (objectstore accepts it, although adding it to the current time
// overflows objectstore's SystemTime); a stored row or GCS object carrying one fails to read
// with this error. No objectstore client sends such policies in practice.
var ErrDurationTooLong = errors.New("duration longer than Strata supports (292 years)")

// errDurationOverflow is humantime's NumberOverflow: the duration exceeds 2^64-1 seconds or
// is not a whole number of nanoseconds.
var errDurationOverflow = errors.New("number is too large or cannot be represented without a lack of precision (values below 1ns are not supported)")

var (
	bigNanosPerSecond = big.NewInt(1e9)
	bigMaxSecs        = new(big.Int).SetUint64(math.MaxUint64)
)

// parseHumanDuration parses humantime 2.4's duration grammar exactly, as objectstore does:
// "0", or one or more items "<digits>[.<digits>][spaces]<unit>", separated by optional
// whitespace ("1h 30m", "1h30m", "3600 seconds", "1.5h"). A fraction must come out as a
// whole number of nanoseconds, and the total must fit in 2^64-1 seconds. It returns the
// duration as Rust's Duration holds it: whole seconds and nanoseconds.
func parseHumanDuration(s string) (secs uint64, nanos uint32, err error) {
	isSpace := func(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }
	isDigit := func(c byte) bool { return '0' <= c && c <= '9' }
	i := 0
	for i < len(s) && isSpace(s[i]) {
		i++
	}
	if i == len(s) {
		return 0, 0, errors.New("value was empty")
	}
	if s[i:] == "0" || strings.TrimRight(s[i:], " \t\n\r") == "0" {
		return 0, 0, nil
	}
	if !isDigit(s[i]) {
		return 0, 0, fmt.Errorf("expected number at %d", i)
	}
	total := new(big.Int)
	for i < len(s) {
		start := i
		for i < len(s) && isDigit(s[i]) {
			i++
		}
		whole := s[start:i]
		frac := ""
		if i < len(s) && s[i] == '.' {
			if i+1 == len(s) || !isDigit(s[i+1]) {
				return 0, 0, fmt.Errorf("invalid character at %d", i)
			}
			i++
			fs := i
			for i < len(s) && isDigit(s[i]) {
				i++
			}
			frac = s[fs:i]
		}
		for i < len(s) && isSpace(s[i]) {
			i++
		}
		us := i
		for i < len(s) && !isSpace(s[i]) && !isDigit(s[i]) && s[i] != ',' && s[i] != '.' {
			i++
		}
		unit := s[us:i]
		if unit == "" {
			if i == len(s) {
				return 0, 0, fmt.Errorf("time unit needed, for example %ssec or %sms", whole, whole)
			}
			return 0, 0, fmt.Errorf("invalid character at %d", i)
		}
		scale, ok := durationUnitNanos[unit]
		if !ok {
			return 0, 0, fmt.Errorf("unknown time unit %q", unit)
		}
		// value = (whole.frac) * scale nanoseconds, exactly.
		num, _ := new(big.Int).SetString(whole+frac, 10)
		num.Mul(num, big.NewInt(scale))
		den := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(len(frac))), nil)
		q, r := new(big.Int).QuoRem(num, den, new(big.Int))
		if r.Sign() != 0 {
			return 0, 0, errDurationOverflow
		}
		total.Add(total, q)
		if i == len(s) {
			break
		}
		if !isSpace(s[i]) && !isDigit(s[i]) {
			return 0, 0, fmt.Errorf("invalid character at %d", i)
		}
		for i < len(s) && isSpace(s[i]) {
			i++
		}
	}
	sec, ns := new(big.Int).QuoRem(total, bigNanosPerSecond, new(big.Int))
	if sec.Cmp(bigMaxSecs) > 0 {
		return 0, 0, errDurationOverflow
	}
	return sec.Uint64(), uint32(ns.Uint64()), nil
}

// durationFromParts converts a Rust-style duration to time.Duration, or ErrDurationTooLong.
func durationFromParts(secs uint64, nanos uint32) (time.Duration, error) {
	const maxSecs = uint64(math.MaxInt64 / int64(time.Second))
	if secs > maxSecs || secs == maxSecs && int64(nanos) > math.MaxInt64%int64(time.Second) {
		return 0, ErrDurationTooLong
	}
	return time.Duration(secs)*time.Second + time.Duration(nanos), nil
}

// ParseDuration parses objectstore's duration grammar (humantime's; see parseHumanDuration).
// A duration objectstore accepts but time.Duration cannot hold wraps ErrDurationTooLong.
func ParseDuration(s string) (time.Duration, error) {
	secs, nanos, err := parseHumanDuration(s)
	if err != nil {
		return 0, err
	}
	d, err := durationFromParts(secs, nanos)
	if err != nil {
		return 0, fmt.Errorf("duration %q: %w", s, err)
	}
	return d, nil
}

// FormatDuration renders d as humantime's format_duration does: the non-zero components among
// years, months, days, h, m, s, ms, us, ns, joined by single spaces ("1h 30m", "30days",
// "2months 29days 2h 52m 48s"); zero is "0s".
func FormatDuration(d time.Duration) string {
	if d <= 0 {
		return "0s"
	}
	return formatHumanDuration(uint64(d/time.Second), uint32(d%time.Second))
}

// formatHumanDuration is FormatDuration over a Rust-style duration (any u64 seconds).
func formatHumanDuration(secs uint64, nanos uint32) string {
	if secs == 0 && nanos == 0 {
		return "0s"
	}
	var parts []string
	plural := func(n uint64, unit string) {
		if n == 0 {
			return
		}
		if n > 1 {
			unit += "s"
		}
		parts = append(parts, strconv.FormatUint(n, 10)+unit)
	}
	short := func(n uint64, unit string) {
		if n != 0 {
			parts = append(parts, strconv.FormatUint(n, 10)+unit)
		}
	}
	plural(secs/secondsPerYear, "year")
	secs %= secondsPerYear
	plural(secs/secondsPerMonth, "month")
	secs %= secondsPerMonth
	plural(secs/86400, "day")
	secs %= 86400
	short(secs/3600, "h")
	secs %= 3600
	short(secs/60, "m")
	short(secs%60, "s")
	n := uint64(nanos)
	short(n/1e6, "ms")
	short(n/1e3%1e3, "us")
	short(n%1e3, "ns")
	return strings.Join(parts, " ")
}
