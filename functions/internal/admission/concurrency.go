package admission

import (
	"container/list"
	"context"
	"errors"
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
)

// ErrAtCapacity means no backend task permit could be had in time. The HTTP layer answers 429
// with "service error: concurrency limit reached".
var ErrAtCapacity = errors.New("concurrency limit reached")

// Concurrency limits concurrent backend operations (objectstore's service.max_concurrency,
// concurrency_queue, concurrency_timeout and bulk_concurrency_pct). It is safe for concurrent
// use.
type Concurrency struct {
	max, queueSize, bulkSize int
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
		tasks: newSemaphore(limit), queue: newSemaphore(queue), bulk: newSemaphore(bulk),
		newTimer: func(d time.Duration) (<-chan time.Time, func()) {
			t := time.NewTimer(d)
			return t.C, func() { t.Stop() }
		},
	}
}

// Acquire takes a task permit for a normal operation: at once if one is free; otherwise it
// takes a queue ticket (none free: ErrAtCapacity at once) and waits up to the timeout, in FIFO
// order, giving the ticket back when the wait ends. It returns ErrAtCapacity on timeout and
// ctx.Err() if ctx ends first. release gives the permit back; calling it more than once is
// harmless.
func (c *Concurrency) Acquire(ctx context.Context) (release func(), err error) {
	if c.max == 0 {
		return nil, ErrAtCapacity
	}
	if c.tasks.tryAcquire() {
		return c.releaser(false), nil
	}
	if !c.queue.tryAcquire() {
		return nil, ErrAtCapacity
	}
	defer c.queue.release()
	d := c.deadline()
	defer d.stop()
	if err := c.tasks.acquire(ctx, d.timer); err != nil {
		return nil, err
	}
	return c.releaser(false), nil
}

// AcquireBulk takes a permit for one operation of a batch: first a bulk permit, then a task
// permit, both within one timeout. It never uses the queue. Errors are as for Acquire.
func (c *Concurrency) AcquireBulk(ctx context.Context) (release func(), err error) {
	if c.max == 0 {
		return nil, ErrAtCapacity
	}
	d := c.deadline()
	defer d.stop()
	if err := c.bulk.acquire(ctx, d.timer); err != nil {
		return nil, err
	}
	if err := c.tasks.acquire(ctx, d.timer); err != nil {
		c.bulk.release()
		return nil, err
	}
	return c.releaser(true), nil
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
func (c *Concurrency) releaser(bulk bool) func() {
	var once sync.Once
	return func() {
		once.Do(func() {
			c.tasks.release()
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
type semaphore struct {
	mu      sync.Mutex
	size    int
	cur     int
	waiters list.List // of chan struct{}, closed when granted
}

func newSemaphore(size int) *semaphore { return &semaphore{size: size} }

func (s *semaphore) tryAcquire() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cur < s.size && s.waiters.Len() == 0 {
		s.cur++
		return true
	}
	return false
}

// acquire takes a unit, waiting when none is free until it is granted, the timer returned by
// timeout fires (ErrAtCapacity) or ctx ends. timeout is called only if it has to wait.
func (s *semaphore) acquire(ctx context.Context, timeout func() <-chan time.Time) error {
	s.mu.Lock()
	if s.cur < s.size && s.waiters.Len() == 0 {
		s.cur++
		s.mu.Unlock()
		return nil
	}
	ready := make(chan struct{})
	elem := s.waiters.PushBack(ready)
	s.mu.Unlock()

	var err error
	select {
	case <-ready:
		return nil
	case <-timeout():
		err = ErrAtCapacity
	case <-ctx.Done():
		err = ctx.Err()
	}
	s.mu.Lock()
	select {
	case <-ready:
		// Granted while giving up: the unit is ours, so take it rather than waste it.
		s.mu.Unlock()
		return nil
	default:
	}
	isFront := s.waiters.Front() == elem
	s.waiters.Remove(elem)
	if isFront {
		s.grantLocked() // the next waiter may fit now that the head is gone
	}
	s.mu.Unlock()
	return err
}

func (s *semaphore) release() {
	s.mu.Lock()
	if s.cur <= 0 {
		s.mu.Unlock()
		panic("admission: semaphore released more than acquired")
	}
	s.cur--
	s.grantLocked()
	s.mu.Unlock()
}

// grantLocked hands free units to waiters in order.
func (s *semaphore) grantLocked() {
	for s.cur < s.size {
		front := s.waiters.Front()
		if front == nil {
			return
		}
		s.cur++
		s.waiters.Remove(front)
		close(front.Value.(chan struct{}))
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
