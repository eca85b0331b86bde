package admission

import (
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stratastore/strata/tiered/object"
)

// Limiter enforces RateLimits and counts admitted requests and transferred bytes. It is safe
// for concurrent use. The zero configuration limits nothing but still counts.
type Limiter struct {
	now func() time.Time

	mu         sync.Mutex
	throughput *throughputState
	bandwidth  *bandwidthState

	bytesTotal        atomic.Uint64
	requestsTotal     atomic.Uint64
	reportOnlyRefusal atomic.Uint64
	globalRPS         uint64
	globalBPS         uint64
}

// NewLimiter returns a Limiter for cfg, reading time from now (time.Now when nil). cfg should
// have passed Validate; settings that cannot take effect are ignored.
func NewLimiter(cfg RateLimits, now func() time.Time) *Limiter {
	if now == nil {
		now = time.Now
	}
	l := &Limiter{now: now}
	start := now()
	if t := cfg.Throughput; t != nil {
		l.throughput = newThroughputState(*t, start)
		if t.GlobalRPS != nil {
			l.globalRPS = *t.GlobalRPS
		}
	}
	if b := cfg.Bandwidth; b != nil && b.GlobalBPS != nil && *b.GlobalBPS > 0 {
		l.bandwidth = newBandwidthState(*b)
		l.globalBPS = *b.GlobalBPS
	}
	return l
}

// Admit reports whether a request (or one batch operation) for ctx may proceed: bandwidth
// first, then throughput (global, per usecase, per scope list, rules). Admitted requests are
// counted in RequestsTotal.
func (l *Limiter) Admit(ctx object.Context) bool {
	if l.throughput == nil && l.bandwidth == nil {
		l.requestsTotal.Add(1)
		return true
	}
	keys := keysOf(ctx)
	l.mu.Lock()
	now := l.now()
	if l.bandwidth != nil && !l.bandwidth.admit(keys, now) {
		if !l.bandwidth.reportOnly {
			l.mu.Unlock()
			return false
		}
		l.reportOnlyRefusal.Add(1)
	}
	if l.throughput != nil && !l.throughput.admit(ctx, keys, now) {
		l.mu.Unlock()
		return false
	}
	l.mu.Unlock()
	l.requestsTotal.Add(1)
	return true
}

// ChargeBytes accounts n bytes of request or response body for ctx: it adds them to
// BytesTotal and, with a bandwidth limit, to the debt of ctx's buckets.
func (l *Limiter) ChargeBytes(ctx object.Context, n int64) {
	if n <= 0 {
		return
	}
	l.charge(keysOf(ctx), n)
}

func (l *Limiter) charge(keys bucketKeys, n int64) {
	if n <= 0 {
		return
	}
	l.bytesTotal.Add(uint64(n))
	if l.bandwidth == nil {
		return
	}
	l.mu.Lock()
	l.bandwidth.charge(keys, n, l.now())
	l.mu.Unlock()
}

// CountingReader returns a reader that charges every byte read from r to ctx.
func (l *Limiter) CountingReader(ctx object.Context, r io.Reader) io.Reader {
	return &countingReader{l: l, keys: keysOf(ctx), r: r}
}

// CountingWriter returns a writer that charges every byte written to w to ctx.
func (l *Limiter) CountingWriter(ctx object.Context, w io.Writer) io.Writer {
	return &countingWriter{l: l, keys: keysOf(ctx), w: w}
}

type countingReader struct {
	l    *Limiter
	keys bucketKeys
	r    io.Reader
}

// Read reads from the underlying reader and charges what it got.
func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.l.charge(c.keys, int64(n))
	return n, err
}

type countingWriter struct {
	l    *Limiter
	keys bucketKeys
	w    io.Writer
}

// Write writes to the underlying writer and charges what it accepted.
func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.l.charge(c.keys, int64(n))
	return n, err
}

// BytesTotal returns the bytes charged since the Limiter was made.
func (l *Limiter) BytesTotal() uint64 { return l.bytesTotal.Load() }

// RequestsTotal returns the number of admitted Admit calls (batch operations included).
func (l *Limiter) RequestsTotal() uint64 { return l.requestsTotal.Load() }

// ReportOnlyRefusals returns how many requests a report-only bandwidth limit would have
// refused.
func (l *Limiter) ReportOnlyRefusals() uint64 { return l.reportOnlyRefusal.Load() }

// GlobalRPS returns the configured global throughput limit, if any.
func (l *Limiter) GlobalRPS() (uint64, bool) { return l.globalRPS, l.globalRPS > 0 }

// GlobalBPS returns the configured global bandwidth limit, if any.
func (l *Limiter) GlobalBPS() (uint64, bool) { return l.globalBPS, l.globalBPS > 0 }

// bucketKeys are the map keys of a context's per-usecase and per-scope-list buckets.
type bucketKeys struct {
	usecase string
	scopes  string
}

// keysOf encodes ctx's scope list unambiguously (length-prefixed), whatever its bytes.
func keysOf(ctx object.Context) bucketKeys {
	var b strings.Builder
	for _, s := range ctx.Scopes {
		b.WriteString(strconv.Itoa(len(s.Name)))
		b.WriteByte(':')
		b.WriteString(s.Name)
		b.WriteString(strconv.Itoa(len(s.Value)))
		b.WriteByte(':')
		b.WriteString(s.Value)
	}
	return bucketKeys{usecase: ctx.Usecase, scopes: b.String()}
}

// minSweep is the map size at which idle entries are first swept.
const minSweep = 1024

// bucketMap holds buckets by key and drops idle ones (equivalent to missing) when it grows.
type bucketMap[B any] struct {
	m         map[string]*B
	nextSweep int
	idle      func(b *B, now time.Time) bool
}

func newBucketMap[B any](idle func(*B, time.Time) bool) *bucketMap[B] {
	return &bucketMap[B]{m: make(map[string]*B), nextSweep: minSweep, idle: idle}
}

// get returns the bucket for key, creating it with mk when missing.
func (bm *bucketMap[B]) get(key string, now time.Time, mk func() *B) *B {
	if b, ok := bm.m[key]; ok {
		return b
	}
	if len(bm.m) >= bm.nextSweep {
		for k, b := range bm.m {
			if bm.idle(b, now) {
				delete(bm.m, k)
			}
		}
		bm.nextSweep = max(minSweep, 2*len(bm.m))
	}
	b := mk()
	bm.m[key] = b
	return b
}

// lookup returns the bucket for key without creating one.
func (bm *bucketMap[B]) lookup(key string) (*B, bool) {
	b, ok := bm.m[key]
	return b, ok
}

// tokenBucket is objectstore's throughput bucket: capacity rate+burst, starting full,
// refilled continuously at rate per second, the refill applied only when it yields at least
// one more whole token (so fractions are never lost, only deferred).
type tokenBucket struct {
	rate, capacity, tokens float64
	last                   time.Time
}

func newTokenBucket(rate, burst float64, now time.Time) *tokenBucket {
	return &tokenBucket{rate: rate, capacity: rate + burst, tokens: rate + burst, last: now}
}

func (b *tokenBucket) refilled(now time.Time) float64 {
	elapsed := now.Sub(b.last).Seconds()
	return math.Min(b.tokens+elapsed*b.rate, b.capacity)
}

func (b *tokenBucket) tryAcquire(now time.Time) bool {
	if r := b.refilled(now); math.Floor(r) > math.Floor(b.tokens) {
		b.tokens, b.last = r, now
	}
	if b.tokens >= 1 {
		b.tokens--
		return true
	}
	return false
}

// full reports whether the bucket would be full now, making it equivalent to a new one.
func (b *tokenBucket) full(now time.Time) bool { return b.refilled(now) >= b.capacity }

type throughputRule struct {
	usecase string
	scopes  [][]string
	bucket  *tokenBucket
}

func (r *throughputRule) matches(ctx object.Context) bool {
	if r.usecase != "" && r.usecase != ctx.Usecase {
		return false
	}
	for _, pair := range r.scopes {
		if v, ok := scopeValue(ctx, pair[0]); !ok || v != pair[1] {
			return false
		}
	}
	return true
}

type throughputState struct {
	burst      float64
	global     *tokenBucket
	usecaseRPS float64 // 0: no per-usecase buckets
	scopeRPS   float64 // 0: no per-scope buckets
	usecases   *bucketMap[tokenBucket]
	scopes     *bucketMap[tokenBucket]
	rules      []throughputRule
}

func newThroughputState(cfg ThroughputConfig, now time.Time) *throughputState {
	idle := func(b *tokenBucket, now time.Time) bool { return b.full(now) }
	s := &throughputState{
		burst:    float64(cfg.Burst),
		usecases: newBucketMap(idle),
		scopes:   newBucketMap(idle),
	}
	if cfg.GlobalRPS != nil && *cfg.GlobalRPS > 0 {
		g := *cfg.GlobalRPS
		s.global = newTokenBucket(float64(g), s.burst, now)
		if cfg.UsecasePct != nil {
			s.usecaseRPS = pctOf(g, *cfg.UsecasePct)
		}
		if cfg.ScopePct != nil {
			s.scopeRPS = pctOf(g, *cfg.ScopePct)
		}
	}
	for _, r := range cfg.Rules {
		rate := math.Inf(1)
		if r.RPS != nil && *r.RPS > 0 {
			rate = float64(*r.RPS)
		}
		if r.Pct != nil && cfg.GlobalRPS != nil && *cfg.GlobalRPS > 0 {
			rate = math.Min(rate, pctOf(*cfg.GlobalRPS, *r.Pct))
		}
		if math.IsInf(rate, 1) {
			continue // no effective rate: the rule limits nothing
		}
		s.rules = append(s.rules, throughputRule{
			usecase: r.Usecase,
			scopes:  slices.Clone(r.Scopes),
			bucket:  newTokenBucket(rate, s.burst, now),
		})
	}
	return s
}

func (s *throughputState) admit(ctx object.Context, keys bucketKeys, now time.Time) bool {
	if s.global != nil && !s.global.tryAcquire(now) {
		return false
	}
	if s.usecaseRPS > 0 {
		b := s.usecases.get(keys.usecase, now, func() *tokenBucket { return newTokenBucket(s.usecaseRPS, s.burst, now) })
		if !b.tryAcquire(now) {
			return false
		}
	}
	if s.scopeRPS > 0 {
		b := s.scopes.get(keys.scopes, now, func() *tokenBucket { return newTokenBucket(s.scopeRPS, s.burst, now) })
		if !b.tryAcquire(now) {
			return false
		}
	}
	for i := range s.rules {
		if s.rules[i].matches(ctx) && !s.rules[i].bucket.tryAcquire(now) {
			return false
		}
	}
	return true
}

// gcra is a debt-based bandwidth bucket: tat is the theoretical arrival time, the moment its
// debt is paid off at rate bytes per second.
type gcra struct {
	rate float64
	tat  time.Time
}

// maxDebt caps one bucket's debt, far beyond any real transfer, to keep time arithmetic safe.
const maxDebt = 100 * 365 * 24 * time.Hour

func (g *gcra) charge(n int64, now time.Time) {
	if g.tat.Before(now) {
		g.tat = now
	}
	d := float64(n) / g.rate * float64(time.Second)
	if d > float64(maxDebt) || g.tat.Sub(now)+time.Duration(d) > maxDebt {
		g.tat = now.Add(maxDebt)
		return
	}
	g.tat = g.tat.Add(time.Duration(d))
}

// over reports whether the debt runs more than burst ahead of now.
func (g *gcra) over(now time.Time, burst time.Duration) bool { return g.tat.Sub(now) > burst }

type bandwidthState struct {
	burst      time.Duration
	reportOnly bool
	global     *gcra
	usecaseBPS float64
	scopeBPS   float64
	usecases   *bucketMap[gcra]
	scopes     *bucketMap[gcra]
}

func newBandwidthState(cfg BandwidthConfig) *bandwidthState {
	burst := uint64(DefaultBurstMillis)
	if cfg.BurstMillis != nil {
		burst = min(*cfg.BurstMillis, maxBurstMillis)
	}
	idle := func(g *gcra, now time.Time) bool { return !g.tat.After(now) }
	s := &bandwidthState{
		burst:      time.Duration(burst) * time.Millisecond,
		reportOnly: cfg.ReportOnly,
		global:     &gcra{rate: float64(*cfg.GlobalBPS)},
		usecases:   newBucketMap(idle),
		scopes:     newBucketMap(idle),
	}
	if cfg.UsecasePct != nil {
		s.usecaseBPS = pctOf(*cfg.GlobalBPS, *cfg.UsecasePct)
	}
	if cfg.ScopePct != nil {
		s.scopeBPS = pctOf(*cfg.GlobalBPS, *cfg.ScopePct)
	}
	return s
}

// admit reports whether no bucket of keys is over its burst. Missing buckets carry no debt.
func (s *bandwidthState) admit(keys bucketKeys, now time.Time) bool {
	if s.global.over(now, s.burst) {
		return false
	}
	if s.usecaseBPS > 0 {
		if g, ok := s.usecases.lookup(keys.usecase); ok && g.over(now, s.burst) {
			return false
		}
	}
	if s.scopeBPS > 0 {
		if g, ok := s.scopes.lookup(keys.scopes); ok && g.over(now, s.burst) {
			return false
		}
	}
	return true
}

func (s *bandwidthState) charge(keys bucketKeys, n int64, now time.Time) {
	s.global.charge(n, now)
	if s.usecaseBPS > 0 {
		s.usecases.get(keys.usecase, now, func() *gcra { return &gcra{rate: s.usecaseBPS} }).charge(n, now)
	}
	if s.scopeBPS > 0 {
		s.scopes.get(keys.scopes, now, func() *gcra { return &gcra{rate: s.scopeBPS} }).charge(n, now)
	}
}
