package admission

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// manualTimers replaces a Concurrency's timers with channels the test fires by hand.
type manualTimers struct {
	mu      sync.Mutex
	pending []chan time.Time
}

func (m *manualTimers) install(c *Concurrency) {
	c.newTimer = func(time.Duration) (<-chan time.Time, func()) {
		ch := make(chan time.Time, 1)
		m.mu.Lock()
		m.pending = append(m.pending, ch)
		m.mu.Unlock()
		return ch, func() {}
	}
}

// created returns how many timers exist.
func (m *manualTimers) created() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.pending)
}

// fireAll fires every timer created so far. The channels are buffered, so a timer fired
// before its owner selects on it still counts.
func (m *manualTimers) fireAll() {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, ch := range m.pending {
		select {
		case ch <- time.Time{}:
		default:
		}
	}
	m.pending = nil
}

// eventually waits until cond holds. It synchronises on state, not on elapsed time: the
// deadline only turns a hang into a failure.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		runtime.Gosched()
		time.Sleep(100 * time.Microsecond)
	}
}

type result struct {
	release func()
	err     error
}

// recv waits for an acquire's result; the deadline only turns a hang into a failure.
func recv(t *testing.T, ch <-chan result) result {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("acquire did not return")
		return result{}
	}
}

// goAcquire runs acquire in a goroutine and returns its result channel.
func goAcquire(acquire func(context.Context) (func(), error), ctx context.Context) <-chan result {
	ch := make(chan result, 1)
	go func() {
		r, err := acquire(ctx)
		ch <- result{r, err}
	}()
	return ch
}

func mustAcquire(t *testing.T, acquire func(context.Context) (func(), error)) func() {
	t.Helper()
	r, err := acquire(context.Background())
	if err != nil {
		t.Fatalf("acquire: %v", err)
	}
	return r
}

func TestConcurrency_AtCapacityWithoutQueue(t *testing.T) {
	c := NewConcurrency(2, 0, time.Hour, 60)
	r1 := mustAcquire(t, c.Acquire)
	r2 := mustAcquire(t, c.Acquire)
	if c.Running() != 2 || c.Limit() != 2 {
		t.Fatalf("Running %d Limit %d", c.Running(), c.Limit())
	}
	// No queue: rejected at once, even though the timeout is an hour.
	if _, err := c.Acquire(context.Background()); !errors.Is(err, ErrAtCapacity) {
		t.Fatalf("got %v, want ErrAtCapacity", err)
	}
	r1()
	r1() // a second release is harmless
	if c.Running() != 1 {
		t.Fatalf("Running %d after a double release, want 1", c.Running())
	}
	r3 := mustAcquire(t, c.Acquire)
	r2()
	r3()
	if c.Running() != 0 {
		t.Fatalf("Running %d at the end", c.Running())
	}
}

func TestConcurrency_ZeroLimitRefusesEverything(t *testing.T) {
	c := NewConcurrency(0, 10, time.Hour, 100)
	if _, err := c.Acquire(context.Background()); !errors.Is(err, ErrAtCapacity) {
		t.Fatalf("Acquire: %v", err)
	}
	if _, err := c.AcquireBulk(context.Background()); !errors.Is(err, ErrAtCapacity) {
		t.Fatalf("AcquireBulk: %v", err)
	}
}

func TestConcurrency_QueueWaitsForRelease(t *testing.T) {
	c := NewConcurrency(1, 1, time.Hour, 60)
	holder := mustAcquire(t, c.Acquire)
	waiter := goAcquire(c.Acquire, context.Background())
	eventually(t, "the waiter to queue", func() bool { return c.Queued() == 1 })
	// max + queue are taken: the next one is refused at once.
	if _, err := c.Acquire(context.Background()); !errors.Is(err, ErrAtCapacity) {
		t.Fatalf("over max+queue: got %v", err)
	}
	holder()
	r := recv(t, waiter)
	if r.err != nil {
		t.Fatalf("waiter: %v", r.err)
	}
	if c.Queued() != 0 || c.Running() != 1 {
		t.Fatalf("Queued %d Running %d", c.Queued(), c.Running())
	}
	r.release()
}

func TestConcurrency_QueueTimeout(t *testing.T) {
	c := NewConcurrency(1, 1, time.Hour, 60)
	var timers manualTimers
	timers.install(c)
	holder := mustAcquire(t, c.Acquire)
	defer holder()
	waiter := goAcquire(c.Acquire, context.Background())
	eventually(t, "the waiter's timer", func() bool { return timers.created() == 1 })
	timers.fireAll()
	if r := recv(t, waiter); !errors.Is(r.err, ErrAtCapacity) {
		t.Fatalf("got %v, want ErrAtCapacity on timeout", r.err)
	}
	if c.Queued() != 0 {
		t.Fatalf("queue ticket kept after the timeout: Queued %d", c.Queued())
	}
	if c.Running() != 1 {
		t.Fatalf("Running %d", c.Running())
	}
}

func TestConcurrency_QueueTimeoutRealTimer(t *testing.T) {
	c := NewConcurrency(1, 1, 10*time.Millisecond, 60)
	holder := mustAcquire(t, c.Acquire)
	defer holder()
	if _, err := c.Acquire(context.Background()); !errors.Is(err, ErrAtCapacity) {
		t.Fatalf("got %v, want ErrAtCapacity", err)
	}
}

func TestConcurrency_ZeroTimeoutDoesNotWait(t *testing.T) {
	c := NewConcurrency(1, 5, 0, 60)
	holder := mustAcquire(t, c.Acquire)
	defer holder()
	if _, err := c.Acquire(context.Background()); !errors.Is(err, ErrAtCapacity) {
		t.Fatalf("got %v", err)
	}
	if _, err := c.AcquireBulk(context.Background()); !errors.Is(err, ErrAtCapacity) {
		t.Fatalf("bulk: got %v", err)
	}
	if c.Queued() != 0 || c.BulkRunning() != 0 {
		t.Fatalf("leaked: Queued %d BulkRunning %d", c.Queued(), c.BulkRunning())
	}
}

func TestConcurrency_CancelledWaitFreesQueueSlot(t *testing.T) {
	c := NewConcurrency(1, 1, time.Hour, 60)
	holder := mustAcquire(t, c.Acquire)
	ctx, cancel := context.WithCancel(context.Background())
	waiter := goAcquire(c.Acquire, ctx)
	eventually(t, "the waiter to queue", func() bool { return c.Queued() == 1 })
	cancel()
	if r := recv(t, waiter); !errors.Is(r.err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", r.err)
	}
	if c.Queued() != 0 {
		t.Fatalf("Queued %d", c.Queued())
	}
	// The freed slot and permit work normally.
	holder()
	mustAcquire(t, c.Acquire)()
	if c.Running() != 0 {
		t.Fatalf("Running %d", c.Running())
	}
}

func TestConcurrency_FIFO(t *testing.T) {
	c := NewConcurrency(1, 3, time.Hour, 60)
	holder := mustAcquire(t, c.Acquire)
	var order []int
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := range 3 {
		wg.Go(func() {
			r, err := c.Acquire(context.Background())
			if err != nil {
				t.Errorf("waiter %d: %v", i, err)
				return
			}
			mu.Lock()
			order = append(order, i)
			mu.Unlock()
			r()
		})
		eventually(t, "the waiter to queue", func() bool { return c.Queued() == i+1 })
	}
	holder()
	wg.Wait()
	if len(order) != 3 || order[0] != 0 || order[1] != 1 || order[2] != 2 {
		t.Fatalf("granted in order %v, want [0 1 2]", order)
	}
}

func TestConcurrency_BulkLimit(t *testing.T) {
	tests := []struct{ max, pct, want int }{
		{100, 60, 60}, {10, 90, 9}, {10, 150, 10}, {10, 0, 1}, {10, -5, 1}, {1, 60, 1},
		{500, 60, 300}, {7, 50, 4}, {3, 1, 1}, {0, 60, 1},
	}
	for _, tc := range tests {
		if got := NewConcurrency(tc.max, 0, time.Second, tc.pct).BulkLimit(); got != tc.want {
			t.Errorf("max %d pct %d: BulkLimit %d, want %d", tc.max, tc.pct, got, tc.want)
		}
	}
	c := NewConcurrency(-1, -1, time.Second, 60)
	if c.Limit() != 0 || c.QueueLimit() != 0 {
		t.Errorf("negative sizes: Limit %d QueueLimit %d", c.Limit(), c.QueueLimit())
	}
}

func TestConcurrency_BulkCapsAtBudget(t *testing.T) {
	c := NewConcurrency(10, 0, time.Hour, 90)
	var timers manualTimers
	timers.install(c)
	var releases []func()
	for range 9 {
		releases = append(releases, mustAcquire(t, c.AcquireBulk))
	}
	// The tenth bulk operation waits for a bulk permit, though a task permit is free...
	bulk := goAcquire(c.AcquireBulk, context.Background())
	// ...and a normal operation takes that last permit.
	releases = append(releases, mustAcquire(t, c.Acquire))
	if c.Running() != 10 || c.BulkRunning() != 9 {
		t.Fatalf("Running %d BulkRunning %d", c.Running(), c.BulkRunning())
	}
	eventually(t, "the bulk operation's timer", func() bool { return timers.created() == 1 })
	timers.fireAll()
	if r := recv(t, bulk); !errors.Is(r.err, ErrAtCapacity) {
		t.Fatalf("tenth bulk: got %v, want ErrAtCapacity", r.err)
	}
	for _, r := range releases {
		r()
	}
	if c.Running() != 0 || c.BulkRunning() != 0 {
		t.Fatalf("Running %d BulkRunning %d at the end", c.Running(), c.BulkRunning())
	}
}

func TestConcurrency_NormalUsesAllPermitsWhenBulkIdle(t *testing.T) {
	c := NewConcurrency(5, 0, time.Hour, 20)
	for range 5 {
		mustAcquire(t, c.Acquire)
	}
	if c.Running() != 5 {
		t.Fatalf("Running %d", c.Running())
	}
}

func TestConcurrency_BulkWaitsForTaskPermit(t *testing.T) {
	c := NewConcurrency(2, 0, time.Hour, 100)
	n1 := mustAcquire(t, c.Acquire)
	n2 := mustAcquire(t, c.Acquire)
	bulk := goAcquire(c.AcquireBulk, context.Background())
	// It holds its bulk permit while it waits for a task permit.
	eventually(t, "the bulk operation to hold its bulk permit", func() bool { return c.BulkRunning() == 1 })
	// Bulk waiters do not use the queue: with queue 0 a normal request is refused at once.
	if _, err := c.Acquire(context.Background()); !errors.Is(err, ErrAtCapacity) {
		t.Fatalf("normal acquire: got %v", err)
	}
	n1()
	r := recv(t, bulk)
	if r.err != nil {
		t.Fatalf("bulk: %v", r.err)
	}
	r.release()
	n2()
	if c.Running() != 0 || c.BulkRunning() != 0 {
		t.Fatalf("Running %d BulkRunning %d", c.Running(), c.BulkRunning())
	}
}

func TestConcurrency_BulkTimeoutSpansBothWaits(t *testing.T) {
	c := NewConcurrency(1, 1, time.Hour, 100) // one task permit, one bulk permit
	var timers manualTimers
	timers.install(c)
	b1 := mustAcquire(t, c.AcquireBulk)
	if timers.created() != 0 {
		t.Fatal("the fast path created a timer")
	}
	b2 := goAcquire(c.AcquireBulk, context.Background()) // waits for the bulk permit
	eventually(t, "b2's timer", func() bool { return timers.created() == 1 })
	n1 := goAcquire(c.Acquire, context.Background()) // queues for the task permit
	eventually(t, "n1's timer", func() bool { return timers.created() == 2 })
	// Releasing b1 hands the task permit to n1 (first in line for it) and the bulk permit to
	// b2, which then waits for a task permit under the timer it already has.
	b1()
	r1 := recv(t, n1)
	if r1.err != nil {
		t.Fatalf("n1: %v", r1.err)
	}
	eventually(t, "b2 to wait for a task permit", func() bool { return c.tasks.waiting() == 1 })
	if got := timers.created(); got != 2 {
		t.Fatalf("%d timers, want 2: b2's second wait must reuse its first timer", got)
	}
	timers.fireAll()
	if r := recv(t, b2); !errors.Is(r.err, ErrAtCapacity) {
		t.Fatalf("b2: got %v, want ErrAtCapacity", r.err)
	}
	if c.BulkRunning() != 0 {
		t.Fatalf("bulk permit leaked: BulkRunning %d", c.BulkRunning())
	}
	r1.release()
	if c.Running() != 0 || c.Queued() != 0 {
		t.Fatalf("Running %d Queued %d", c.Running(), c.Queued())
	}
}

func TestConcurrency_BulkCancellationLeaksNothing(t *testing.T) {
	c := NewConcurrency(1, 1, time.Hour, 100)
	holder := mustAcquire(t, c.Acquire)
	ctx, cancel := context.WithCancel(context.Background())
	bulk := goAcquire(c.AcquireBulk, ctx)
	eventually(t, "the bulk operation to wait", func() bool { return c.BulkRunning() == 1 })
	cancel()
	if r := recv(t, bulk); !errors.Is(r.err, context.Canceled) {
		t.Fatalf("got %v", r.err)
	}
	holder()
	if c.Running() != 0 || c.BulkRunning() != 0 || c.Queued() != 0 {
		t.Fatalf("leaked: Running %d BulkRunning %d Queued %d", c.Running(), c.BulkRunning(), c.Queued())
	}
	mustAcquire(t, c.AcquireBulk)()
}

func TestConcurrency_QueueZeroRejectsWhenBulkHoldsAll(t *testing.T) {
	c := NewConcurrency(2, 0, time.Hour, 100)
	b1 := mustAcquire(t, c.AcquireBulk)
	b2 := mustAcquire(t, c.AcquireBulk)
	if _, err := c.Acquire(context.Background()); !errors.Is(err, ErrAtCapacity) {
		t.Fatalf("got %v", err)
	}
	b1()
	b2()
}

func TestConcurrency_QueueBoundedUnderBulkLoad(t *testing.T) {
	// Many bulk waiters leave the queue to normal requests.
	c := NewConcurrency(1, 1, time.Hour, 100)
	holder := mustAcquire(t, c.Acquire)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var bulks []<-chan result
	for range 5 {
		bulks = append(bulks, goAcquire(c.AcquireBulk, ctx))
	}
	eventually(t, "a bulk operation to wait for a task permit", func() bool { return c.BulkRunning() == 1 })
	if c.Queued() != 0 {
		t.Fatalf("bulk operations took queue tickets: Queued %d", c.Queued())
	}
	normal := goAcquire(c.Acquire, ctx)
	eventually(t, "the normal request to queue", func() bool { return c.Queued() == 1 })
	cancel()
	for _, b := range bulks {
		recv(t, b)
	}
	recv(t, normal)
	holder()
	if c.Running() != 0 || c.BulkRunning() != 0 || c.Queued() != 0 {
		t.Fatalf("leaked: Running %d BulkRunning %d Queued %d", c.Running(), c.BulkRunning(), c.Queued())
	}
}

func TestConcurrency_Stress(t *testing.T) {
	const limit = 4
	c := NewConcurrency(limit, 64, time.Hour, 50)
	var held, peak atomic.Int64
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Go(func() {
			for i := range 200 {
				acquire := c.Acquire
				if (g+i)%3 == 0 {
					acquire = c.AcquireBulk
				}
				r, err := acquire(context.Background())
				if err != nil {
					continue // over max+queue: allowed
				}
				n := held.Add(1)
				for {
					p := peak.Load()
					if n <= p || peak.CompareAndSwap(p, n) {
						break
					}
				}
				if c.BulkRunning() > c.BulkLimit() {
					t.Errorf("BulkRunning %d > %d", c.BulkRunning(), c.BulkLimit())
				}
				runtime.Gosched()
				held.Add(-1)
				r()
			}
		})
	}
	wg.Wait()
	if p := peak.Load(); p > limit {
		t.Fatalf("%d permits held at once, limit %d", p, limit)
	}
	if c.Running() != 0 || c.Queued() != 0 || c.BulkRunning() != 0 {
		t.Fatalf("leaked: Running %d Queued %d BulkRunning %d", c.Running(), c.Queued(), c.BulkRunning())
	}
}

func TestSemaphore_OverReleasePanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("no panic")
		}
	}()
	newSemaphore(1).release()
}
