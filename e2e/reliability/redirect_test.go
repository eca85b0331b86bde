package reliability

import (
	"bytes"
	"context"
	"testing"

	"github.com/stratastore/strata/tiered"
	"github.com/stratastore/strata/tiered/backendtest"
	"github.com/stratastore/strata/tiered/membackend"
	"github.com/stratastore/strata/tiered/object"
)

// syncDispatcher runs every cleanup at once, in the request.
type syncDispatcher struct{ s *tiered.Store }

func (d *syncDispatcher) Dispatch(ctx context.Context, t tiered.CleanupTask) error {
	return d.s.Cleanup(ctx, t)
}
func (d *syncDispatcher) Close(context.Context) error { return nil }

type readerKey struct{}

// TestReliability_GetUnderOverwrites_No404 shows a bug in Store.Get (and Head): a reader
// whose long-term read loses the race against an overwrite (the revision it found in the
// row was superseded and deleted in between) re-reads the row, but only maxRedirects = 3
// times; then it answers ErrNotFound (HTTP 404) although the object existed at every
// moment of the read. A read that keeps losing should follow the new tombstone again or
// fail with a retryable error, never 404. The linearizability runs hit it at random when
// several consecutive long-term reads are slower than the grace period.
//
// Deterministically: before each of the reader's long-term reads, a large overwrite
// commits and its cleanup (synchronous, no grace period) deletes the revision the reader
// is about to open.
func TestReliability_GetUnderOverwrites_No404(t *testing.T) {
	mem := membackend.Open(nil)
	hv, lt, log := mem.HighVolume(), mem.LongTerm(), mem.ChangeLog()
	hlt := &backendtest.HookedLongTerm{Inner: lt}
	d := &syncDispatcher{}
	s, err := tiered.New(hv, hlt, log, &tiered.Options{Dispatcher: d, GracePeriod: -1})
	if err != nil {
		t.Fatal(err)
	}
	d.s = s
	id := relID("redirects")
	n := 1
	put := func() {
		n++
		if _, err := s.Put(context.Background(), id, object.Metadata{}, bytes.NewReader(makeValue(id.Key, n, largeMin))); err != nil {
			t.Fatal(err)
		}
	}
	put()
	overwrites := 0
	hlt.Add(backendtest.Match(backendtest.OpGet, func(ctx context.Context, c *backendtest.Call, next func() error) error {
		if ctx.Value(readerKey{}) != nil && overwrites < 3 {
			overwrites++
			put() // supersedes and deletes the revision this read is about to open
		}
		return next()
	}))
	o, err := s.Get(context.WithValue(context.Background(), readerKey{}, true), id, nil)
	if err != nil {
		t.Fatalf("Get while the object was overwritten %d times (it existed throughout): %v", overwrites, err)
	}
	o.Body.Close()
}
