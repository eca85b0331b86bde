package object

import (
	"fmt"
	"math"
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

var durationUnits = map[string]float64{
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

// durationUnitNanos maps each unit to its length in nanoseconds, exactly.
var durationUnitNanos = func() map[string]int64 {
	m := make(map[string]int64, len(durationUnits))
	for u, f := range durationUnits {
		m[u] = int64(f)
	}
	return m
}()

// ParseDuration parses humantime's duration grammar: "0", or one or more items
// "<int>[.<frac>][ws]<unit>", optionally separated by whitespace ("1h 30m", "1h30m",
// "3600 seconds", "1.5h"). Whole numbers are summed exactly in integer nanoseconds;
// durations beyond Go's ~292 years are rejected.
func ParseDuration(s string) (time.Duration, error) {
	if s == "0" {
		return 0, nil
	}
	var total int64
	i, items := 0, 0
	isSpace := func(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }
	tooLong := fmt.Errorf("duration %q is too long", s)
	for {
		for i < len(s) && isSpace(s[i]) {
			i++
		}
		if i == len(s) {
			break
		}
		start := i
		for i < len(s) && '0' <= s[i] && s[i] <= '9' {
			i++
		}
		if i == start {
			return 0, fmt.Errorf("expected a number at %q", s[start:])
		}
		whole, err := strconv.ParseInt(s[start:i], 10, 64)
		if err != nil {
			return 0, tooLong
		}
		frac := ""
		if i < len(s) && s[i] == '.' {
			i++
			fracStart := i
			for i < len(s) && '0' <= s[i] && s[i] <= '9' {
				i++
			}
			if i == fracStart {
				return 0, fmt.Errorf("expected digits after '.' in %q", s[start:i])
			}
			frac = s[fracStart:i]
		}
		for i < len(s) && isSpace(s[i]) {
			i++
		}
		ustart := i
		for i < len(s) && !isSpace(s[i]) && (s[i] < '0' || s[i] > '9') {
			i++
		}
		unit := s[ustart:i]
		scale, ok := durationUnitNanos[unit]
		if !ok {
			if unit == "" {
				return 0, fmt.Errorf("missing unit after %q", s[start:ustart])
			}
			return 0, fmt.Errorf("unknown unit %q", unit)
		}
		if whole > math.MaxInt64/scale {
			return 0, tooLong
		}
		n := whole * scale
		if frac != "" {
			// The fraction of one unit, at float precision: it is below one unit.
			f, _ := strconv.ParseFloat("0."+frac, 64)
			n += int64(f * float64(scale))
		}
		if n < 0 || total > math.MaxInt64-n {
			return 0, tooLong
		}
		total += n
		items++
	}
	if items == 0 {
		return 0, fmt.Errorf("empty duration")
	}
	return time.Duration(total), nil
}

// FormatDuration renders d as humantime's format_duration does: the non-zero components among
// years, months, days, h, m, s, ms, us, ns, joined by single spaces ("1h 30m", "30days",
// "2months 29days 2h 52m 48s"); zero is "0s".
func FormatDuration(d time.Duration) string {
	if d <= 0 {
		return "0s"
	}
	secs := int64(d / time.Second)
	nanos := int64(d % time.Second)
	var parts []string
	plural := func(n int64, unit string) {
		if n == 0 {
			return
		}
		if n > 1 {
			unit += "s"
		}
		parts = append(parts, strconv.FormatInt(n, 10)+unit)
	}
	short := func(n int64, unit string) {
		if n != 0 {
			parts = append(parts, strconv.FormatInt(n, 10)+unit)
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
	short(nanos/1e6, "ms")
	short(nanos/1e3%1e3, "us")
	short(nanos%1e3, "ns")
	return strings.Join(parts, " ")
}
