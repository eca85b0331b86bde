package tieredtest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stratastore/strata/tiered"
)

// Clock is a clock a test can move forward, so that recovery can claim change-log entries
// without waiting for their leases to go stale. The zero value reads the wall clock.
type Clock struct {
	mu  sync.Mutex
	off time.Duration
}

// Now returns the wall-clock time plus every Advance so far.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.off)
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.off += d
}

// RecoverAll runs recovery over b as a fresh process would once every lease is stale and
// every deferral has passed: a Store whose clock is 25 hours ahead (past the 24-hour hold
// of failed multipart completes) recovers until a pass claims nothing, then drains its
// cleanups. It fails the test if recovery does not settle within 100 passes, and returns
// how many entries it claimed.
func RecoverAll(t testing.TB, b Backends) int {
	t.Helper()
	c := &Clock{}
	c.Advance(tiered.MultipartCompleteCleanupDelay + time.Hour)
	s, err := tiered.New(b.HV, b.LT, b.Log, &tiered.Options{GracePeriod: -1, Now: c.Now, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	total := 0
	for pass := 0; ; pass++ {
		if pass == 100 {
			t.Fatalf("recovery still claims entries after %d passes", pass)
		}
		rep, err := s.Recover(ctx, 1000)
		if err != nil {
			t.Fatalf("recover: %v", err)
		}
		total += rep.Claimed
		if rep.Claimed == 0 {
			break
		}
	}
	if err := s.Close(ctx); err != nil {
		t.Fatalf("close the recovery store: %v", err)
	}
	return total
}
