package admission

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// tenant returns AcquireFor bound to one tenant, in goAcquire's shape.
func tenant(c *Concurrency, name string) func(context.Context) (func(), error) {
	return func(ctx context.Context) (func(), error) { return c.AcquireFor(ctx, name) }
}

func TestConcurrency_TenantShare_WorkConservingThenFreedPermitGoesToOtherTenant(t *testing.T) {
	c := NewConcurrency(4, 0, time.Hour, 60).WithTenantShare(0.5)
	if got := c.TenantCap(); got != 2 {
		t.Fatalf("TenantCap = %d, want 2", got)
	}
	// Alone, tenant a may use the whole pool.
	var held []func()
	for range 4 {
		held = append(held, mustAcquire(t, tenant(c, "a")))
	}
	// b is below its share while a is above its own: b waits, even with no queue.
	b := goAcquire(tenant(c, "b"), context.Background())
	eventually(t, "b to wait", func() bool { return c.tasks.waiting() == 1 })
	// a, over its share, gets nothing more while b waits.
	if _, err := c.AcquireFor(context.Background(), "a"); !errors.Is(err, ErrAtCapacity) {
		t.Fatalf("a over its share: %v, want ErrAtCapacity", err)
	}
	held[0]()
	r := recv(t, b)
	if r.err != nil {
		t.Fatalf("b: %v", r.err)
	}
	r.release()
	for _, release := range held[1:] {
		release()
	}
	if c.Running() != 0 {
		t.Fatalf("Running = %d after every release", c.Running())
	}
}

func TestConcurrency_TenantShare_OverShareWaiterPassedOver(t *testing.T) {
	c := NewConcurrency(2, 2, time.Hour, 60).WithTenantShare(0.5) // cap 1
	a1 := mustAcquire(t, tenant(c, "a"))
	a2 := mustAcquire(t, tenant(c, "a"))
	aw := goAcquire(tenant(c, "a"), context.Background()) // queued first
	eventually(t, "a to wait", func() bool { return c.tasks.waiting() == 1 })
	bw := goAcquire(tenant(c, "b"), context.Background())
	eventually(t, "b to wait", func() bool { return c.tasks.waiting() == 2 })
	a1()
	rb := recv(t, bw)
	if rb.err != nil {
		t.Fatalf("b: %v", rb.err)
	}
	select {
	case <-aw:
		t.Fatal("a, over its share, was granted ahead of b")
	default:
	}
	// Once nobody below its share waits, a gets the next permit.
	a2()
	ra := recv(t, aw)
	if ra.err != nil {
		t.Fatalf("a: %v", ra.err)
	}
	ra.release()
	rb.release()
}

func TestConcurrency_WithoutTenantShare_OtherTenantRefused(t *testing.T) {
	c := NewConcurrency(2, 0, time.Hour, 60)
	mustAcquire(t, tenant(c, "a"))
	mustAcquire(t, tenant(c, "a"))
	if _, err := c.AcquireFor(context.Background(), "b"); !errors.Is(err, ErrAtCapacity) {
		t.Fatalf("b without a share: %v, want ErrAtCapacity at once", err)
	}
}

func TestConcurrency_TenantShare_BelowShareWaitTimesOut(t *testing.T) {
	c := NewConcurrency(2, 0, 10*time.Millisecond, 60).WithTenantShare(0.5)
	mustAcquire(t, tenant(c, "a"))
	mustAcquire(t, tenant(c, "a"))
	if _, err := c.AcquireFor(context.Background(), "b"); !errors.Is(err, ErrAtCapacity) {
		t.Fatalf("b: %v, want ErrAtCapacity after the timeout", err)
	}
	if n := c.tasks.waiting(); n != 0 {
		t.Fatalf("%d waiters left after the timeout", n)
	}
}

func TestConcurrency_TenantShare_Bulk(t *testing.T) {
	c := NewConcurrency(2, 0, time.Hour, 100).WithTenantShare(0.5)
	a1 := mustAcquire(t, func(ctx context.Context) (func(), error) { return c.AcquireBulkFor(ctx, "a") })
	a2 := mustAcquire(t, func(ctx context.Context) (func(), error) { return c.AcquireBulkFor(ctx, "a") })
	b := goAcquire(tenant(c, "b"), context.Background())
	eventually(t, "b to wait", func() bool { return c.tasks.waiting() == 1 })
	a1()
	if r := recv(t, b); r.err != nil {
		t.Fatalf("b: %v", r.err)
	} else {
		r.release()
	}
	a2()
}

func TestBudget(t *testing.T) {
	b := NewBudget(10)
	r1, err := b.Reserve(6)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Reserve(5); !errors.Is(err, ErrMemoryBudget) {
		t.Fatalf("over budget: %v, want ErrMemoryBudget", err)
	}
	r2, err := b.Reserve(4)
	if err != nil {
		t.Fatalf("exactly the rest: %v", err)
	}
	r1()
	r1() // harmless
	if got := b.Used(); got != 4 {
		t.Fatalf("Used = %d, want 4", got)
	}
	r2()
	var unlimited *Budget
	if _, err := unlimited.Reserve(1 << 40); err != nil {
		t.Fatalf("nil budget: %v", err)
	}
}

func TestConcurrency_TenantShare_StreamsCappedEvenWhenFree(t *testing.T) {
	c := NewConcurrency(4, 0, time.Hour, 60).WithTenantShare(0.5)
	stream := func(ctx context.Context) (func(), error) { return c.AcquireStreamFor(ctx, "a") }
	mustAcquire(t, stream)
	mustAcquire(t, stream)
	if _, err := c.AcquireStreamFor(context.Background(), "a"); !errors.Is(err, ErrAtCapacity) {
		t.Fatalf("a's third stream with 2 permits free: %v, want ErrAtCapacity", err)
	}
	// The rest of the pool stays for others, and for a's short operations.
	mustAcquire(t, tenant(c, "b"))
	mustAcquire(t, tenant(c, "a"))
}

// TestConcurrency_TenantShare_RacingStreamsStayWithinCap starts a tenant's streams all at
// once, many times over: however their checks and takes interleave, the tenant never holds
// more stream permits than its cap.
func TestConcurrency_TenantShare_RacingStreamsStayWithinCap(t *testing.T) {
	c := NewConcurrency(10, 0, time.Hour, 60).WithTenantShare(0.5)
	// Every stream passes the cap check before any takes its permit: the worst interleaving.
	var arrived sync.WaitGroup
	streamChecked = func() { arrived.Done(); arrived.Wait() }
	defer func() { streamChecked = nil }()
	for round := range 20 {
		arrived.Add(10)
		start := make(chan struct{})
		var mu sync.Mutex
		var held []func()
		var wg sync.WaitGroup
		for range 10 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				if release, err := c.AcquireStreamFor(context.Background(), "a"); err == nil {
					mu.Lock()
					held = append(held, release)
					mu.Unlock()
				}
			}()
		}
		close(start)
		wg.Wait()
		if len(held) > c.TenantCap() {
			t.Fatalf("round %d: the tenant holds %d stream permits, more than its cap of %d", round, len(held), c.TenantCap())
		}
		for _, release := range held {
			release()
		}
	}
}
