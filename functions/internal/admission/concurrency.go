package admission

import (
	"container/list"
	"context"
	"errors"
	"math"
	"sync"
	"time"
)

// Defaults of objectstore's service concurrency settings.
const (
	// DefaultMaxConcurrency is the default service.max_concurrency.
	DefaultMaxConcurrency = 500
	// DefaultConcurrencyQueue is the default concurrency_queue: no waiting room.
	DefaultConcurrencyQueue = 0
	// DefaultConcurrencyTimeout is the default concurrency_timeout.
	DefaultConcurrencyTimeout = time.Second
	// DefaultBulkPct is the default bulk_concurrency_pct.
	DefaultBulkPct = 60
	// DefaultTenantShare is the default share of the task permits one tenant may hold while
	// another tenant waits for one (STRATA_TENANT_SHARE).
	DefaultTenantShare = 0.5
)

// ErrAtCapacity means no backend task permit could be had in time. The HTTP layer answers 429
// with "service error: concurrency limit reached".
var ErrAtCapacity = errors.New("concurrency limit reached")

// Concurrency limits concurrent backend operations (objectstore's service.max_concurrency,
// concurrency_queue, concurrency_timeout and bulk_concurrency_pct). It is safe for concurrent
// use.
type Concurrency struct {
	max, queueSize, bulkSize int
	tenantCap                int
	timeout                  time.Duration

	tasks, queue, bulk *semaphore

	// newTimer is time.NewTimer behind a seam, so tests can fire timeouts by hand.
	newTimer func(time.Duration) (<-chan time.Time, func())
}

// NewConcurrency returns a limiter with limit task permits, queue waiting tickets for normal
// operations, a wait of at most timeout (zero or less: no waiting), and bulk operations capped
// at ceil(limit·bulkPct/100) permits, at least 1, with bulkPct clamped to 1..100. Negative
// sizes count as zero; a limit of zero refuses every operation.
func NewConcurrency(limit, queue int, timeout time.Duration, bulkPct int) *Concurrency {
	limit, queue = max(limit, 0), max(queue, 0)
	bulkPct = min(max(bulkPct, 1), 100)
	bulk := max((limit*bulkPct+99)/100, 1)
	return &Concurrency{
		max: limit, queueSize: queue, bulkSize: bulk, timeout: timeout,
		tasks: newTenantSemaphore(limit, 0), queue: newSemaphore(queue), bulk: newSemaphore(bulk),
		newTimer: func(d time.Duration) (<-chan time.Time, func()) {
			t := time.NewTimer(d)
			return t.C, func() { t.Stop() }
		},
	}
}

// WithTenantShare makes the task permits fair between tenants and returns c: while a tenant
// below its share waits for a permit, a tenant holding ceil(limit·share) permits or more
// (at least 1) gets no new one, and a freed permit goes to the waiter below its share. With
// nobody else waiting a tenant may hold more (work-conserving); permits are never revoked.
// A tenant below its share that finds no free permit waits up to the timeout, without a
// queue ticket, when another tenant holds more than its share, since such permits come back
// to it first. share must be in (0, 1]; 1 (or outside that range) disables the share. Call
// it before first use.
func (c *Concurrency) WithTenantShare(share float64) *Concurrency {
	if !(share > 0 && share < 1) {
		c.tenantCap = 0
	} else {
		c.tenantCap = max(int(math.Ceil(float64(c.max)*share)), 1)
	}
	c.tasks = newTenantSemaphore(c.max, c.tenantCap)
	return c
}

// TenantCap returns the number of task permits a tenant may hold while another waits (0:
// no share).
func (c *Concurrency) TenantCap() int { return c.tenantCap }

// Acquire takes a task permit for a normal operation of no particular tenant; see AcquireFor.
func (c *Concurrency) Acquire(ctx context.Context) (release func(), err error) {
	return c.AcquireFor(ctx, "")
}

// AcquireFor takes a task permit for a normal operation of tenant ("" for none): at once if
// one is free; otherwise it takes a queue ticket and waits up to the timeout, in FIFO order
// (subject to the tenant share), giving the ticket back when the wait ends. With no ticket
// free it returns ErrAtCapacity at once, unless tenant is below its share while another
// tenant is above its own: then it waits without a ticket. It returns ErrAtCapacity on
// timeout and ctx.Err() if ctx ends first. release gives the permit back; calling it more
// than once is harmless.
func (c *Concurrency) AcquireFor(ctx context.Context, tenant string) (release func(), err error) {
	if c.max == 0 {
		return nil, ErrAtCapacity
	}
	if c.tasks.tryAcquireFor(tenant) {
		return c.releaser(tenant, false), nil
	}
	if c.queue.tryAcquire() {
		defer c.queue.release()
	} else if !c.tasks.overCapOther(tenant) {
		return nil, ErrAtCapacity
	}
	d := c.deadline()
	defer d.stop()
	if err := c.tasks.acquireFor(ctx, tenant, d.timer); err != nil {
		return nil, err
	}
	return c.releaser(tenant, false), nil
}

// AcquireStreamFor is AcquireFor for an operation that holds its permit while it waits on
// the client (an upload streaming its body to the store). A tenant already holding its
// share of permits gets ErrAtCapacity at once, even when permits are free: such permits come
// back only as fast as the client sends, so one tenant's slow clients must never occupy
// more than its share, and the rest of the pool stays for other tenants. Without a share
// it is AcquireFor.
func (c *Concurrency) AcquireStreamFor(ctx context.Context, tenant string) (release func(), err error) {
	if c.tasks.atCap(tenant) {
		return nil, ErrAtCapacity
	}
	if streamChecked != nil {
		streamChecked()
	}
	release, err = c.AcquireFor(ctx, tenant)
	if err != nil {
		return nil, err
	}
	// The check above and the take are not one step: streams of the tenant arriving
	// together may all pass the check. Whichever finds the tenant over its cap once it holds
	// its permit gives it back, so the cap holds (at worst a racing stream is refused).
	if c.tasks.overCap(tenant) {
		release()
		return nil, ErrAtCapacity
	}
	return release, nil
}

// streamChecked, when set (tests only), runs between AcquireStreamFor's cap check and its
// take, to widen the window in which racing streams interleave.
var streamChecked func()

// AcquireBulk takes a permit for one operation of a batch of no particular tenant; see
// AcquireBulkFor.
func (c *Concurrency) AcquireBulk(ctx context.Context) (release func(), err error) {
	return c.AcquireBulkFor(ctx, "")
}

// AcquireBulkFor takes a permit for one operation of tenant's batch: first a bulk permit,
// then a task permit (subject to the tenant share), both within one timeout. It never uses
// the queue. Errors are as for AcquireFor.
func (c *Concurrency) AcquireBulkFor(ctx context.Context, tenant string) (release func(), err error) {
	if c.max == 0 {
		return nil, ErrAtCapacity
	}
	d := c.deadline()
	defer d.stop()
	if err := c.bulk.acquire(ctx, d.timer); err != nil {
		return nil, err
	}
	if err := c.tasks.acquireFor(ctx, tenant, d.timer); err != nil {
		c.bulk.release()
		return nil, err
	}
	return c.releaser(tenant, true), nil
}

// deadline is one operation's timeout, started the first time it has to wait, so the fast
// path creates no timer.
type deadline struct {
	c      *Concurrency
	ch     <-chan time.Time
	stopFn func()
}

func (c *Concurrency) deadline() *deadline { return &deadline{c: c} }

func (d *deadline) timer() <-chan time.Time {
	if d.ch == nil {
		if d.c.timeout <= 0 {
			fired := make(chan time.Time)
			close(fired)
			d.ch = fired
		} else {
			d.ch, d.stopFn = d.c.newTimer(d.c.timeout)
		}
	}
	return d.ch
}

func (d *deadline) stop() {
	if d.stopFn != nil {
		d.stopFn()
	}
}

// releaser returns the permit's release func: the task permit first, then the bulk one.
func (c *Concurrency) releaser(tenant string, bulk bool) func() {
	var once sync.Once
	return func() {
		once.Do(func() {
			c.tasks.releaseFor(tenant)
			if bulk {
				c.bulk.release()
			}
		})
	}
}

// Running returns the number of task permits held.
func (c *Concurrency) Running() int { return c.tasks.held() }

// Limit returns the maximum number of task permits.
func (c *Concurrency) Limit() int { return c.max }

// Queued returns the number of normal operations waiting for a permit.
func (c *Concurrency) Queued() int { return c.queue.held() }

// QueueLimit returns the number of queue tickets.
func (c *Concurrency) QueueLimit() int { return c.queueSize }

// BulkRunning returns the number of bulk permits held (including bulk operations still
// waiting for their task permit).
func (c *Concurrency) BulkRunning() int { return c.bulk.held() }

// BulkLimit returns the number of bulk permits.
func (c *Concurrency) BulkLimit() int { return c.bulkSize }

// semaphore is a counting semaphore that grants waiters in FIFO order. tryAcquire fails while
// anyone waits, so a newcomer never overtakes the queue.
//
// With a tenant cap (capPer > 0), units are also counted per tenant, and a tenant holding
// capPer or more units is passed over while a waiter of another tenant below its cap waits:
// the freed unit goes to that waiter instead. A tenant may hold more than capPer units when
// nobody else waits (the semaphore is work-conserving); units are never taken back. The
// empty tenant is not counted and never passed over.
type semaphore struct {
	mu      sync.Mutex
	size    int
	cur     int
	waiters list.List // of *waiter

	capPer    int            // per-tenant cap while others wait; 0: none
	perTenant map[string]int // units held per tenant (capPer > 0 only)
	waitingBy map[string]int // waiters per tenant (capPer > 0 only)
}

// waiter is one blocked acquire: ready is closed when it is granted.
type waiter struct {
	tenant string
	ready  chan struct{}
}

func newSemaphore(size int) *semaphore { return &semaphore{size: size} }

// newTenantSemaphore returns a semaphore of size units that caps each tenant at capPer units
// while another tenant below its cap waits.
func newTenantSemaphore(size, capPer int) *semaphore {
	return &semaphore{size: size, capPer: capPer, perTenant: map[string]int{}, waitingBy: map[string]int{}}
}

func (s *semaphore) tryAcquire() bool { return s.tryAcquireFor("") }

// tryAcquireFor takes a unit for tenant if one is free and nobody waits. Free units and
// waiters never coexist (grantLocked hands out every unit a waiter may take, and a waiter
// below its cap may take any), so the cap needs no check here.
func (s *semaphore) tryAcquireFor(tenant string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cur < s.size && s.waiters.Len() == 0 {
		s.takeLocked(tenant)
		return true
	}
	return false
}

func (s *semaphore) takeLocked(tenant string) {
	s.cur++
	if s.capPer > 0 && tenant != "" {
		s.perTenant[tenant]++
	}
}

// belowCapLocked reports whether tenant holds fewer units than the cap (always true without
// a cap or for the empty tenant).
func (s *semaphore) belowCapLocked(tenant string) bool {
	return s.capPer == 0 || tenant == "" || s.perTenant[tenant] < s.capPer
}

// eligibleLocked reports whether a waiter of tenant may be granted a free unit: it is below
// its cap, or no other tenant below its cap is waiting.
func (s *semaphore) eligibleLocked(tenant string) bool {
	if s.belowCapLocked(tenant) {
		return true
	}
	for t, n := range s.waitingBy {
		if n > 0 && t != tenant && s.belowCapLocked(t) {
			return false
		}
	}
	return true
}

// atCap reports whether tenant holds its cap of units or more.
func (s *semaphore) atCap(tenant string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return !s.belowCapLocked(tenant)
}

// overCap reports whether tenant holds more units than its cap.
func (s *semaphore) overCap(tenant string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.capPer > 0 && tenant != "" && s.perTenant[tenant] > s.capPer
}

// overCapOther reports whether some tenant other than tenant holds more units than the cap,
// so that a unit it holds beyond its share will come back to tenant's benefit.
func (s *semaphore) overCapOther(tenant string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.capPer == 0 || tenant == "" || !s.belowCapLocked(tenant) {
		return false
	}
	for t, n := range s.perTenant {
		if t != tenant && n > s.capPer {
			return true
		}
	}
	return false
}

// acquire takes a unit, waiting when none is free until it is granted, the timer returned by
// timeout fires (ErrAtCapacity) or ctx ends. timeout is called only if it has to wait.
func (s *semaphore) acquire(ctx context.Context, timeout func() <-chan time.Time) error {
	return s.acquireFor(ctx, "", timeout)
}

// acquireFor is acquire on behalf of tenant.
func (s *semaphore) acquireFor(ctx context.Context, tenant string, timeout func() <-chan time.Time) error {
	s.mu.Lock()
	if s.cur < s.size && s.waiters.Len() == 0 {
		s.takeLocked(tenant)
		s.mu.Unlock()
		return nil
	}
	w := &waiter{tenant: tenant, ready: make(chan struct{})}
	elem := s.waiters.PushBack(w)
	if s.capPer > 0 {
		s.waitingBy[tenant]++
	}
	s.mu.Unlock()

	var err error
	select {
	case <-w.ready:
		return nil
	case <-timeout():
		err = ErrAtCapacity
	case <-ctx.Done():
		err = ctx.Err()
	}
	s.mu.Lock()
	select {
	case <-w.ready:
		// Granted while giving up: the unit is ours, so take it rather than waste it.
		s.mu.Unlock()
		return nil
	default:
	}
	s.removeLocked(elem)
	s.grantLocked() // a waiter passed over for this one may fit now
	s.mu.Unlock()
	return err
}

func (s *semaphore) removeLocked(elem *list.Element) {
	w := s.waiters.Remove(elem).(*waiter)
	if s.capPer > 0 {
		if s.waitingBy[w.tenant]--; s.waitingBy[w.tenant] <= 0 {
			delete(s.waitingBy, w.tenant)
		}
	}
}

func (s *semaphore) release() { s.releaseFor("") }

// releaseFor gives back a unit tenant holds.
func (s *semaphore) releaseFor(tenant string) {
	s.mu.Lock()
	if s.cur <= 0 {
		s.mu.Unlock()
		panic("admission: semaphore released more than acquired")
	}
	s.cur--
	if s.capPer > 0 && tenant != "" {
		if s.perTenant[tenant]--; s.perTenant[tenant] <= 0 {
			delete(s.perTenant, tenant)
		}
	}
	s.grantLocked()
	s.mu.Unlock()
}

// grantLocked hands free units to waiters in order, passing over a tenant at its cap while
// another tenant below its cap waits. It always makes progress while units are free: a
// waiter below its cap is always eligible, and without one every waiter is.
func (s *semaphore) grantLocked() {
	for s.cur < s.size {
		var next *list.Element
		for e := s.waiters.Front(); e != nil; e = e.Next() {
			if s.eligibleLocked(e.Value.(*waiter).tenant) {
				next = e
				break
			}
		}
		if next == nil {
			return
		}
		w := next.Value.(*waiter)
		s.removeLocked(next)
		s.takeLocked(w.tenant)
		close(w.ready)
	}
}

// waiting returns the number of waiters.
func (s *semaphore) waiting() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.waiters.Len()
}

func (s *semaphore) held() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cur
}
