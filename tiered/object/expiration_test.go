package object

import (
	"testing"
	"time"
)

func TestParseDuration(t *testing.T) {
	const day = 24 * time.Hour
	for _, tc := range []struct {
		in   string
		want time.Duration
	}{
		{"0", 0},
		{"30s", 30 * time.Second},
		{"1h", time.Hour},
		{"7d", 7 * day},
		{"1 days", day},
		{"3600 seconds", time.Hour},
		{"1 days 30 seconds", day + 30*time.Second},
		{"1.5h", 90 * time.Minute},
		{"1h30m", 90 * time.Minute},
		{"1h 30m", 90 * time.Minute},
		{"2w", 14 * day},
		{"1M", 2630016 * time.Second},
		{"1y", 31557600 * time.Second},
		{"250ms", 250 * time.Millisecond},
		{"5us", 5 * time.Microsecond},
		{"5µs", 5 * time.Microsecond},
		{"7ns", 7},
	} {
		got, err := ParseDuration(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", " ", "garbage", "10", "h", "1x", "1.h", "-1s", "1e3s", "99999999999y"} {
		if _, err := ParseDuration(bad); err == nil {
			t.Errorf("ParseDuration(%q) succeeded", bad)
		}
	}
}

func TestFormatDuration(t *testing.T) {
	const day = 24 * time.Hour
	for _, tc := range []struct {
		in   time.Duration
		want string
	}{
		{0, "0s"},
		{30 * time.Second, "30s"},
		{5400 * time.Second, "1h 30m"},
		{day, "1day"},
		{30 * day, "30days"},
		{90 * day, "2months 29days 2h 52m 48s"},
		{100 * day, "3months 8days 16h 19m 12s"},
		{1500 * time.Millisecond, "1s 500ms"},
		{31557600 * time.Second, "1year"},
	} {
		if got := FormatDuration(tc.in); got != tc.want {
			t.Errorf("FormatDuration(%v) = %q, want %q", tc.in, got, tc.want)
		}
		if back, err := ParseDuration(FormatDuration(tc.in)); err != nil || back != tc.in {
			t.Errorf("ParseDuration(FormatDuration(%v)) = %v, %v", tc.in, back, err)
		}
	}
}

func TestParseExpirationPolicy(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want ExpirationPolicy
		wire string
	}{
		{"manual", ExpirationPolicy{}, "manual"},
		{"ttl:30s", TTL(30 * time.Second), "ttl:30s"},
		{"tti:1h", TTI(time.Hour), "tti:1h"},
		{"ttl:1h 30m", TTL(90 * time.Minute), "ttl:1h 30m"},
		{"ttl:1 days", TTL(24 * time.Hour), "ttl:1day"},
	} {
		got, err := ParseExpirationPolicy(tc.in)
		if err != nil || got != tc.want || got.String() != tc.wire {
			t.Errorf("ParseExpirationPolicy(%q) = %v (%s), %v", tc.in, got, got, err)
		}
	}
	for _, bad := range []string{"", "ttl:", "ttl", "garbage", "Manual", "ttx:1h", "TTL:1h", "tti:xyz"} {
		if _, err := ParseExpirationPolicy(bad); err == nil {
			t.Errorf("ParseExpirationPolicy(%q) succeeded", bad)
		}
	}
}

func TestTTIBump(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	for _, tc := range []struct {
		name    string
		p       ExpirationPolicy
		expires time.Time
		bump    bool
	}{
		{"fresh 2h", TTI(2 * time.Hour), now.Add(2 * time.Hour), false},
		{"within debounce", TTI(2 * time.Hour), now.Add(2*time.Hour - 29*time.Minute), false},
		{"past debounce", TTI(2 * time.Hour), now.Add(2*time.Hour - 31*time.Minute), true},
		{"long tti capped at 24h", TTI(30 * 24 * time.Hour), now.Add(29*24*time.Hour + time.Minute), false},
		{"long tti past 24h", TTI(30 * 24 * time.Hour), now.Add(28 * 24 * time.Hour), true},
		{"ttl never", TTL(time.Hour), now, false},
		{"manual never", ExpirationPolicy{}, now, false},
		{"no deadline", TTI(time.Hour), time.Time{}, false},
	} {
		next, ok := tc.p.TTIBump(tc.expires, now)
		if ok != tc.bump || (ok && !next.Equal(now.Add(tc.p.Duration))) {
			t.Errorf("%s: TTIBump = %v, %v", tc.name, next, ok)
		}
	}
}
