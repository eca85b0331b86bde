package admission

import (
	"bytes"
	"io"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stratastore/strata/tiered/object"
)

var t0 = time.Date(2026, 7, 23, 10, 0, 0, 0, time.UTC)

// clock is a manual clock for the Limiter.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: t0} }

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func u(n uint64) *uint64 { return &n }

func mustParseRateLimits(t *testing.T, text string) RateLimits {
	t.Helper()
	rl, err := ParseRateLimits(text)
	if err != nil {
		t.Fatalf("ParseRateLimits: %v", err)
	}
	return rl
}

// admits calls Admit n times and returns how many were admitted.
func admits(l *Limiter, ctx object.Context, n int) int {
	ok := 0
	for range n {
		if l.Admit(ctx) {
			ok++
		}
	}
	return ok
}

func TestParseRateLimits(t *testing.T) {
	// The example of functions/API.md §12.2.
	got := mustParseRateLimits(t, `{
	  "throughput": {"global_rps": 1000, "burst": 100, "usecase_pct": 50, "scope_pct": 25,
	    "rules": [{"usecase": "high_priority", "scopes": [["org", "123"]], "rps": 500},
	              {"scopes": [["org", "456"], ["project", "789"]], "pct": 10}]},
	  "bandwidth": {"global_bps": 1048576, "burst_ms": 2000, "usecase_pct": 50, "scope_pct": 25, "report_only": true}
	}`)
	want := RateLimits{
		Throughput: &ThroughputConfig{GlobalRPS: u(1000), Burst: 100, UsecasePct: u(50), ScopePct: u(25),
			Rules: []ThroughputRule{
				{Usecase: "high_priority", Scopes: [][]string{{"org", "123"}}, RPS: u(500)},
				{Scopes: [][]string{{"org", "456"}, {"project", "789"}}, Pct: u(10)},
			}},
		Bandwidth: &BandwidthConfig{GlobalBPS: u(1048576), BurstMillis: u(2000), UsecasePct: u(50), ScopePct: u(25), ReportOnly: true},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
	for _, blank := range []string{"", "  "} {
		if rl := mustParseRateLimits(t, blank); rl.Throughput != nil || rl.Bandwidth != nil {
			t.Fatalf("blank text gave %+v", rl)
		}
	}
	if rl := mustParseRateLimits(t, `{"throughput": {"rules": [{"scopes": [], "rps": 5}]}}`); len(rl.Throughput.Rules[0].Scopes) != 0 {
		t.Fatal("empty rule scopes")
	}
}

func TestParseRateLimits_Errors(t *testing.T) {
	tests := []struct{ name, text, want string }{
		{"not JSON", `{`, "rate limits"},
		{"array", `[]`, "cannot unmarshal"},
		{"unknown section", `{"latency": {}}`, `$: unknown key "latency"`},
		{"unknown throughput field", `{"throughput": {"global_qps": 1}}`, `$.throughput: unknown key "global_qps"`},
		{"unknown bandwidth field", `{"bandwidth": {"global_bps": 1, "burst": 2}}`, `$.bandwidth: unknown key "burst"`},
		{"unknown rule field", `{"throughput": {"rules": [{"scopes": [], "rps": 1}, {"scopes": [], "rate": 1}]}}`, `$.throughput.rules[1]: unknown key "rate"`},
		{"field in other case", `{"throughput": {"Global_RPS": 1}}`, `unknown key "Global_RPS"`},
		{"repeated field", `{"throughput": {"global_rps": 1, "global_rps": 1000}}`, `repeated key "global_rps"`},
		{"trailing data", `{} {}`, "trailing"},
		{"negative rps", `{"throughput": {"global_rps": -1}}`, "cannot unmarshal"},
		{"fractional rps", `{"throughput": {"global_rps": 1.5}}`, "cannot unmarshal"},
		{"zero rps", `{"throughput": {"global_rps": 0}}`, "global_rps must be positive"},
		{"pct over 100", `{"throughput": {"global_rps": 10, "usecase_pct": 101}}`, "usecase_pct must be between 1 and 100"},
		{"pct zero", `{"throughput": {"global_rps": 10, "scope_pct": 0}}`, "scope_pct must be between 1 and 100"},
		{"pct without global", `{"throughput": {"usecase_pct": 10}}`, "needs throughput.global_rps"},
		{"rule without scopes", `{"throughput": {"rules": [{"rps": 5}]}}`, "rules[0].scopes is required"},
		{"rule scope not a pair", `{"throughput": {"rules": [{"scopes": [["org"]], "rps": 5}]}}`, "rules[0].scopes[0]"},
		{"rule scope triple", `{"throughput": {"rules": [{"scopes": [["a","b","c"]], "rps": 5}]}}`, "rules[0].scopes[0]"},
		{"rule scope empty value", `{"throughput": {"rules": [{"scopes": [["org",""]], "rps": 5}]}}`, "non-empty"},
		{"rule without rate", `{"throughput": {"rules": [{"scopes": []}]}}`, "needs rps or pct"},
		{"rule zero rps", `{"throughput": {"rules": [{"scopes": [], "rps": 0}]}}`, "rps must be positive"},
		{"rule pct without global", `{"throughput": {"rules": [{"scopes": [], "pct": 5}]}}`, "rules[0].pct needs"},
		{"zero bps", `{"bandwidth": {"global_bps": 0}}`, "global_bps must be positive"},
		{"bandwidth pct without global", `{"bandwidth": {"scope_pct": 5}}`, "needs bandwidth.global_bps"},
		{"burst_ms too large", `{"bandwidth": {"global_bps": 1, "burst_ms": 86400001}}`, "burst_ms"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseRateLimits(tc.text)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestThroughput_GlobalBucket(t *testing.T) {
	c := newClock()
	l := NewLimiter(RateLimits{Throughput: &ThroughputConfig{GlobalRPS: u(2), Burst: 1}}, c.now)
	ctx := ctxOf("u")
	if got := admits(l, ctx, 5); got != 3 {
		t.Fatalf("full bucket admitted %d, want capacity rps+burst = 3", got)
	}
	c.advance(400 * time.Millisecond) // 0.8 tokens: not a whole one
	if l.Admit(ctx) {
		t.Fatal("admitted on a fractional token")
	}
	c.advance(100 * time.Millisecond) // 1.0 tokens
	if got := admits(l, ctx, 2); got != 1 {
		t.Fatalf("after 0.5 s admitted %d, want 1", got)
	}
	c.advance(time.Hour) // refill caps at capacity
	if got := admits(l, ctx, 10); got != 3 {
		t.Fatalf("after an hour admitted %d, want 3", got)
	}
	if got := l.RequestsTotal(); got != 7 {
		t.Fatalf("RequestsTotal = %d, want the 7 admitted", got)
	}
}

func TestThroughput_FractionsAreDeferredNotLost(t *testing.T) {
	c := newClock()
	l := NewLimiter(RateLimits{Throughput: &ThroughputConfig{GlobalRPS: u(1)}}, c.now)
	ctx := ctxOf("u")
	if !l.Admit(ctx) || l.Admit(ctx) {
		t.Fatal("want exactly one admitted from a full 1-token bucket")
	}
	for i := range 3 { // 0.3, 0.6, 0.9 s
		c.advance(300 * time.Millisecond)
		if l.Admit(ctx) {
			t.Fatalf("admitted after %d00 ms", 3*(i+1))
		}
	}
	c.advance(100 * time.Millisecond) // 1.0 s since the bucket was drained
	if !l.Admit(ctx) {
		t.Fatal("refill elapsed across refused checks was lost")
	}
}

func TestThroughput_UsecaseAndScopeBuckets(t *testing.T) {
	c := newClock()
	l := NewLimiter(mustParseRateLimits(t, `{"throughput": {"global_rps": 100, "usecase_pct": 10, "scope_pct": 5}}`), c.now)
	// usecase bucket 10 rps, scope bucket 5 rps.
	if got := admits(l, ctxOf("a", "org", "1"), 5); got != 5 {
		t.Fatalf("one scope list: admitted %d, want 5", got)
	}
	// The scope bucket is empty, and shared across usecases.
	if l.Admit(ctxOf("b", "org", "1")) {
		t.Fatal("scope bucket not shared across usecases")
	}
	// Other scope lists, including a reordering, have their own buckets; usecase a has 5 left.
	if got := admits(l, ctxOf("a", "org", "2"), 3) + admits(l, ctxOf("a", "project", "1", "org", "1"), 3); got != 5 {
		t.Fatalf("admitted %d, want the 5 left in usecase a's bucket", got)
	}
	if !l.Admit(ctxOf("b", "org", "3")) {
		t.Fatal("usecase b refused")
	}
}

func TestThroughput_EarlierBucketsKeepTheirTokens(t *testing.T) {
	// As in objectstore, a request refused by the usecase bucket has already taken a global
	// token.
	c := newClock()
	l := NewLimiter(mustParseRateLimits(t, `{"throughput": {"global_rps": 4, "usecase_pct": 25}}`), c.now)
	if got := admits(l, ctxOf("a"), 4); got != 1 {
		t.Fatalf("usecase a admitted %d, want 1", got)
	}
	if l.Admit(ctxOf("b")) {
		t.Fatal("global bucket should be empty: refused requests took its tokens")
	}
}

func TestThroughput_Rules(t *testing.T) {
	c := newClock()
	l := NewLimiter(mustParseRateLimits(t, `{"throughput": {"global_rps": 100, "burst": 1, "rules": [
	  {"usecase": "hp", "scopes": [["org", "1"]], "rps": 2},
	  {"scopes": [["org", "2"], ["project", "3"]], "rps": 50, "pct": 4},
	  {"scopes": [], "pct": 50}]}}`), c.now)
	// Rule 0: usecase hp and org=1 share one bucket of 2+1.
	if got := admits(l, ctxOf("hp", "org", "1"), 2) + admits(l, ctxOf("hp", "project", "9", "org", "1"), 2); got != 3 {
		t.Fatalf("rule 0 admitted %d, want 3", got)
	}
	// Rule 0 does not apply to other usecases (rule 2, 50+1, still does).
	if !l.Admit(ctxOf("other", "org", "1")) {
		t.Fatal("rule 0 applied to another usecase")
	}
	// Rule 1: min(50, 4% of 100) = 4, plus burst 1.
	if got := admits(l, ctxOf("x", "org", "2", "project", "3"), 10); got != 5 {
		t.Fatalf("rule 1 admitted %d, want 5", got)
	}
	if !l.Admit(ctxOf("x", "org", "2")) {
		t.Fatal("rule 1 applied without all its scopes")
	}
	// Rule 2 matches everything: 51 in total, of which 3+1+5+1 are spent... and the
	// refused ones took rule-2 tokens only when rules 0 and 1 admitted them (rules are
	// checked in order).
	admitted := admits(l, ctxOf("y"), 100)
	if admitted != 51-3-1-5-1 {
		t.Fatalf("rule 2 admitted %d more, want %d", admitted, 51-3-1-5-1)
	}
}

func TestPctOf(t *testing.T) {
	tests := []struct {
		global, pct uint64
		want        float64
	}{
		{1000, 50, 500}, {10, 33, 3}, {1, 50, 1}, {3, 1, 1}, {1 << 63, 100, 1 << 63},
	}
	for _, tc := range tests {
		if got := pctOf(tc.global, tc.pct); got != tc.want {
			t.Errorf("pctOf(%d, %d) = %v, want %v", tc.global, tc.pct, got, tc.want)
		}
	}
}

func TestBandwidth_DebtBased(t *testing.T) {
	// functions/API.md §12.2: at 100 B/s with burst 0, the first 100-byte upload is admitted, the
	// next is refused, and it recovers after one second.
	c := newClock()
	l := NewLimiter(mustParseRateLimits(t, `{"bandwidth": {"global_bps": 100, "burst_ms": 0}}`), c.now)
	ctx := ctxOf("u")
	if !l.Admit(ctx) {
		t.Fatal("first request refused")
	}
	if _, err := io.Copy(io.Discard, l.CountingReader(ctx, strings.NewReader(strings.Repeat("x", 100)))); err != nil {
		t.Fatal(err)
	}
	if l.Admit(ctx) {
		t.Fatal("second request admitted while in debt")
	}
	c.advance(999 * time.Millisecond)
	if l.Admit(ctx) {
		t.Fatal("admitted before the debt was paid")
	}
	c.advance(time.Millisecond)
	if !l.Admit(ctx) {
		t.Fatal("refused after the debt was paid")
	}
	if got := l.BytesTotal(); got != 100 {
		t.Fatalf("BytesTotal = %d", got)
	}
}

func TestBandwidth_BurstAndIdle(t *testing.T) {
	c := newClock()
	l := NewLimiter(mustParseRateLimits(t, `{"bandwidth": {"global_bps": 100}}`), c.now) // burst 1000 ms
	ctx := ctxOf("u")
	l.ChargeBytes(ctx, 100) // debt 1 s: not more than the burst
	if !l.Admit(ctx) {
		t.Fatal("refused at exactly burst_ms of debt")
	}
	l.ChargeBytes(ctx, 50) // 1.5 s
	if l.Admit(ctx) {
		t.Fatal("admitted with debt beyond burst")
	}
	c.advance(500 * time.Millisecond)
	if !l.Admit(ctx) {
		t.Fatal("refused after the debt fell back to burst")
	}
	// Idle time is not banked: after a long pause the debt starts from now.
	c.advance(time.Hour)
	l.ChargeBytes(ctx, 150)
	if l.Admit(ctx) {
		t.Fatal("idle time was banked as credit")
	}
}

func TestBandwidth_UsecaseAndScopeBuckets(t *testing.T) {
	c := newClock()
	l := NewLimiter(mustParseRateLimits(t, `{"bandwidth": {"global_bps": 1000, "burst_ms": 0, "usecase_pct": 10, "scope_pct": 20}}`), c.now)
	// Usecase a: 100 B/s. 100 bytes put it 1 s in debt; the global bucket only 0.1 s.
	l.ChargeBytes(ctxOf("a", "org", "1"), 100)
	if l.Admit(ctxOf("a", "org", "2")) {
		t.Fatal("usecase bucket not enforced")
	}
	c.advance(100 * time.Millisecond) // global debt paid; scope org=1 (200 B/s) still owes 0.4 s
	if !l.Admit(ctxOf("b", "org", "9")) {
		t.Fatal("another usecase and scope refused")
	}
	if l.Admit(ctxOf("b", "org", "1")) {
		t.Fatal("scope bucket not shared across usecases")
	}
	c.advance(400 * time.Millisecond)
	if !l.Admit(ctxOf("b", "org", "1")) {
		t.Fatal("scope debt should be paid after 0.5 s")
	}
	if l.Admit(ctxOf("a")) {
		t.Fatal("usecase a should still owe 0.5 s")
	}
}

func TestBandwidth_ReportOnly(t *testing.T) {
	c := newClock()
	l := NewLimiter(mustParseRateLimits(t, `{"bandwidth": {"global_bps": 10, "burst_ms": 0, "report_only": true}}`), c.now)
	l.ChargeBytes(ctxOf("u"), 1000)
	if got := admits(l, ctxOf("u"), 3); got != 3 {
		t.Fatalf("report-only refused %d requests", 3-got)
	}
	if got := l.ReportOnlyRefusals(); got != 3 {
		t.Fatalf("ReportOnlyRefusals = %d, want 3", got)
	}
}

func TestAdmit_BandwidthBeforeThroughput(t *testing.T) {
	// A request refused for bandwidth takes no throughput token.
	c := newClock()
	l := NewLimiter(mustParseRateLimits(t, `{"throughput": {"global_rps": 1, "burst": 2},
	  "bandwidth": {"global_bps": 1000, "burst_ms": 0}}`), c.now)
	ctx := ctxOf("u")
	l.ChargeBytes(ctx, 1) // 1 ms of debt
	if got := admits(l, ctx, 5); got != 0 {
		t.Fatalf("admitted %d while in bandwidth debt", got)
	}
	c.advance(time.Millisecond) // debt paid; throughput refilled by 0.001 tokens only
	if got := admits(l, ctx, 5); got != 3 {
		t.Fatalf("admitted %d, want the full 3 tokens", got)
	}
	if got := l.RequestsTotal(); got != 3 {
		t.Fatalf("RequestsTotal = %d", got)
	}
}

func TestLimiter_NoLimitsStillCounts(t *testing.T) {
	l := NewLimiter(RateLimits{}, nil)
	ctx := ctxOf("u")
	if got := admits(l, ctx, 1000); got != 1000 {
		t.Fatalf("admitted %d", got)
	}
	var out bytes.Buffer
	w := l.CountingWriter(ctx, &out)
	if _, err := w.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(io.Discard, l.CountingReader(ctx, strings.NewReader("abc"))); err != nil {
		t.Fatal(err)
	}
	l.ChargeBytes(ctx, 0)
	l.ChargeBytes(ctx, -5)
	if got := l.BytesTotal(); got != 8 {
		t.Fatalf("BytesTotal = %d, want 8", got)
	}
	if got := l.RequestsTotal(); got != 1000 {
		t.Fatalf("RequestsTotal = %d", got)
	}
	if _, ok := l.GlobalRPS(); ok {
		t.Fatal("GlobalRPS reported without a limit")
	}
	if out.String() != "hello" {
		t.Fatalf("writer passed through %q", out.String())
	}
}

// shortWriter accepts at most n bytes per call and then fails.
type shortWriter struct{ n int }

func (s shortWriter) Write(p []byte) (int, error) {
	if len(p) > s.n {
		return s.n, io.ErrShortWrite
	}
	return len(p), nil
}

func TestCountingWriter_ChargesOnlyWrittenBytes(t *testing.T) {
	l := NewLimiter(RateLimits{}, nil)
	w := l.CountingWriter(ctxOf("u"), shortWriter{n: 3})
	if n, err := w.Write([]byte("abcdef")); n != 3 || err != io.ErrShortWrite {
		t.Fatalf("Write = %d, %v", n, err)
	}
	if got := l.BytesTotal(); got != 3 {
		t.Fatalf("BytesTotal = %d, want 3", got)
	}
}

func TestBucketMap_SweepsOnlyIdleBuckets(t *testing.T) {
	c := newClock()
	l := NewLimiter(mustParseRateLimits(t, `{"throughput": {"global_rps": 1000000, "usecase_pct": 1}}`), c.now)
	// usecase buckets: 10000 rps. Drain one usecase completely.
	drained := ctxOf("drained")
	for l.Admit(drained) {
	}
	for i := range minSweep - 1 {
		l.Admit(ctxOf("u" + string(rune('a'+i%26)) + strings.Repeat("x", i/26)))
	}
	if n := len(l.throughput.usecases.m); n != minSweep {
		t.Fatalf("%d usecase buckets before the sweep, want %d", n, minSweep)
	}
	// Only 1 ms passes: the drained bucket refills 10 tokens, far from full; the others,
	// which spent one token each, are full again. The next new key triggers the sweep.
	c.advance(time.Millisecond)
	l.Admit(ctxOf("newcomer"))
	if n := len(l.throughput.usecases.m); n > 3 {
		t.Fatalf("%d usecase buckets after the sweep, want the drained one and the new one", n)
	}
	if got := admits(l, drained, 20); got != 10 {
		t.Fatalf("drained usecase admitted %d after 1 ms, want 10: its bucket was swept", got)
	}
}

func TestLimiter_ConcurrentAdmit(t *testing.T) {
	c := newClock() // frozen: exactly capacity requests may pass
	l := NewLimiter(mustParseRateLimits(t, `{"throughput": {"global_rps": 50, "burst": 25, "usecase_pct": 100},
	  "bandwidth": {"global_bps": 1000000000}}`), c.now)
	var admitted atomic.Int64
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			ctx := ctxOf("u", "g", string(rune('0'+g)))
			for range 100 {
				if l.Admit(ctx) {
					admitted.Add(1)
				}
				l.ChargeBytes(ctx, 10)
			}
		})
	}
	wg.Wait()
	if got := admitted.Load(); got != 75 {
		t.Fatalf("admitted %d, want capacity 75", got)
	}
	if got := l.BytesTotal(); got != 8*100*10 {
		t.Fatalf("BytesTotal = %d", got)
	}
}

func TestKeysOf_Unambiguous(t *testing.T) {
	a := keysOf(ctxOf("u", "ab", "c"))
	b := keysOf(ctxOf("u", "a", "bc"))
	c := keysOf(ctxOf("u", "a", "b", "c", "d"))
	d := keysOf(ctxOf("u", "c", "d", "a", "b"))
	if a.scopes == b.scopes || c.scopes == d.scopes {
		t.Fatalf("scope keys collide: %q %q %q %q", a.scopes, b.scopes, c.scopes, d.scopes)
	}
	if keysOf(ctxOf("x", "a", "b")).scopes != keysOf(ctxOf("y", "a", "b")).scopes {
		t.Fatal("scope key depends on the usecase")
	}
}
