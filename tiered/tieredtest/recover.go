package tieredtest

import (
	"context"
	"errors"
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
// every deferral has passed: a Store whose clock starts 25 hours ahead (past the 24-hour hold
// of failed multipart completes) recovers, running each cleanup inline, and moves its clock
// an hour on between passes, so that changes recovery had to settle first (and whose cleanup
// was not due yet) are claimed again and finished. It stops when a pass claims nothing. It
// fails the test if recovery does not settle within 100 passes, and returns how many entries
// it claimed.
func RecoverAll(t testing.TB, b Backends) int {
	t.Helper()
	c := &Clock{}
	c.Advance(tiered.MultipartCompleteCleanupDelay + time.Hour)
	d := &inlineDispatcher{}
	s, err := tiered.New(b.HV, b.LT, b.Log, &tiered.Options{GracePeriod: -1, Now: c.Now, Logger: quiet, Dispatcher: d})
	if err != nil {
		t.Fatal(err)
	}
	d.s = s
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
		c.Advance(time.Hour)
	}
	return total
}

// inlineDispatcher runs each cleanup at once; one that is not due yet is left in the log
// for a later recovery pass.
type inlineDispatcher struct{ s *tiered.Store }

func (d *inlineDispatcher) Dispatch(ctx context.Context, t tiered.CleanupTask) error {
	if err := d.s.Cleanup(ctx, t); err != nil && !errors.Is(err, tiered.ErrNotDue) {
		return err
	}
	return nil
}

func (d *inlineDispatcher) Close(context.Context) error { return nil }
