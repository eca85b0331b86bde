package backendtest

import (
	"errors"
	"testing"
	"time"

	"github.com/stratastore/strata/tiered/driver"
	"github.com/stratastore/strata/tiered/object"
)

// hvDeadline checks driver.Write.Deadline: CompareAndWrite must not apply a write once the
// backend's clock reads its deadline, and fails such a call with an error matching
// object.ErrUnavailable. The suite cannot read or set the backend's clock, so the deadlines
// are an hour away from the test's clock; the boundary itself (a deadline equal to the
// backend's now) is left to each backend's own tests, with its injected clock.
func hvDeadline(t *testing.T, open func(t *testing.T) driver.HighVolume) {
	// A deadlineCase is a compare-and-write whose predicate holds on the row it sets up.
	type deadlineCase struct {
		name    string
		setup   func(h hv, id object.ID)
		current func(id object.ID) *object.ID
		write   func(id object.ID) driver.Write
		// check verifies the row after the write applied.
		check func(t *testing.T, h hv, id object.ID)
	}
	objMD := smallMetadata("deadline", 8)
	cases := []deadlineCase{
		{
			name:    "TombstoneOnEmpty",
			setup:   func(hv, object.ID) {},
			current: func(object.ID) *object.ID { return nil },
			write:   func(id object.ID) driver.Write { return tombWrite(revision(id, 2), object.TTL(time.Hour)) },
			check: func(t *testing.T, h hv, id object.ID) {
				expectTombstone(t, "row", h.get(id), revision(id, 2), object.TTL(time.Hour))
			},
		},
		{
			name:    "TombstoneOverObject",
			setup:   func(h hv, id object.ID) { h.put(id, smallMetadata("old", 3), []byte("old")) },
			current: func(object.ID) *object.ID { return nil },
			write:   func(id object.ID) driver.Write { return tombWrite(revision(id, 2), object.TTL(time.Hour)) },
			check: func(t *testing.T, h hv, id object.ID) {
				expectTombstone(t, "row", h.get(id), revision(id, 2), object.TTL(time.Hour))
			},
		},
		{
			name:    "SwapTombstone",
			setup:   func(h hv, id object.ID) { h.tombstone(id, revision(id, 1), object.TTL(time.Hour)) },
			current: func(id object.ID) *object.ID { return ptr(revision(id, 1)) },
			write:   func(id object.ID) driver.Write { return tombWrite(revision(id, 2), object.TTI(time.Hour)) },
			check: func(t *testing.T, h hv, id object.ID) {
				expectTombstone(t, "row", h.get(id), revision(id, 2), object.TTI(time.Hour))
			},
		},
		{
			name:    "ObjectOverTombstone",
			setup:   func(h hv, id object.ID) { h.tombstone(id, revision(id, 1), object.TTL(time.Hour)) },
			current: func(id object.ID) *object.ID { return ptr(revision(id, 1)) },
			write:   func(object.ID) driver.Write { return objWrite(objMD, []byte("deadline")) },
			check: func(t *testing.T, h hv, id object.ID) {
				expectObject(t, "row", h.get(id), objMD, []byte("deadline"))
			},
		},
		{
			name:    "ObjectOnEmpty",
			setup:   func(hv, object.ID) {},
			current: func(object.ID) *object.ID { return nil },
			write:   func(object.ID) driver.Write { return objWrite(objMD, []byte("deadline")) },
			check: func(t *testing.T, h hv, id object.ID) {
				expectObject(t, "row", h.get(id), objMD, []byte("deadline"))
			},
		},
		{
			name:    "DeleteTombstone",
			setup:   func(h hv, id object.ID) { h.tombstone(id, revision(id, 1), object.TTL(time.Hour)) },
			current: func(id object.ID) *object.ID { return ptr(revision(id, 1)) },
			write:   func(object.ID) driver.Write { return deleteWrite },
			check: func(t *testing.T, h hv, id object.ID) {
				expectNotFound(t, "row", h.get(id))
			},
		},
		{
			name:    "DeleteObject",
			setup:   func(h hv, id object.ID) { h.put(id, smallMetadata("old", 3), []byte("old")) },
			current: func(object.ID) *object.ID { return nil },
			write:   func(object.ID) driver.Write { return deleteWrite },
			check: func(t *testing.T, h hv, id object.ID) {
				expectNotFound(t, "row", h.get(id))
			},
		},
	}

	for _, tc := range cases {
		t.Run("CompareAndWrite/Deadline/PastFailsAndAppliesNothing/"+tc.name, func(t *testing.T) {
			h := openHV(t, open)
			id := NewID(t, "deadline-past")
			tc.setup(h, id)
			before := h.get(id)
			w := tc.write(id)
			w.Deadline = Millis(time.Now().Add(-time.Hour))
			ok, err := h.b.CompareAndWrite(t.Context(), id, tc.current(id), w)
			if !errors.Is(err, object.ErrUnavailable) {
				t.Errorf("CompareAndWrite an hour past its deadline = %v, %v; want an error matching ErrUnavailable", ok, err)
			}
			expectSameEntry(t, "row after a write past its deadline", h.get(id), before)
		})
	}
	for _, tc := range cases {
		t.Run("CompareAndWrite/Deadline/FutureApplies/"+tc.name, func(t *testing.T) {
			h := openHV(t, open)
			id := NewID(t, "deadline-future")
			tc.setup(h, id)
			w := tc.write(id)
			w.Deadline = Millis(time.Now().Add(time.Hour))
			h.mustCAS("write an hour before its deadline", id, tc.current(id), w, true)
			tc.check(t, h, id)
			// The idempotent retry, still before the deadline, reports the target state.
			h.mustCAS("retry an hour before its deadline", id, tc.current(id), w, true)
			tc.check(t, h, id)
		})
	}
	t.Run("CompareAndWrite/Deadline/PastFailsWhateverTheRow", func(t *testing.T) {
		// "A call past its deadline fails": also when the row is already in the write's
		// target state (which would otherwise report true) or another writer won (false).
		h := openHV(t, open)
		past := Millis(time.Now().Add(-time.Hour))

		done := NewID(t, "deadline-done")
		h.tombstone(done, revision(done, 2), object.TTL(time.Hour))
		w := tombWrite(revision(done, 2), object.TTL(time.Hour))
		w.Deadline = past
		if ok, err := h.b.CompareAndWrite(t.Context(), done, ptr(revision(done, 1)), w); !errors.Is(err, object.ErrUnavailable) {
			t.Errorf("retry of an applied swap past its deadline = %v, %v; want an error matching ErrUnavailable", ok, err)
		}
		expectTombstone(t, "row already in the target state", h.get(done), revision(done, 2), object.TTL(time.Hour))

		lost := NewID(t, "deadline-lost")
		h.tombstone(lost, revision(lost, 3), object.TTL(time.Hour))
		w = tombWrite(revision(lost, 2), object.TTL(time.Hour))
		w.Deadline = past
		if ok, err := h.b.CompareAndWrite(t.Context(), lost, ptr(revision(lost, 1)), w); !errors.Is(err, object.ErrUnavailable) {
			t.Errorf("swap from a replaced target past its deadline = %v, %v; want an error matching ErrUnavailable", ok, err)
		}
		expectTombstone(t, "row another writer holds", h.get(lost), revision(lost, 3), object.TTL(time.Hour))
	})
}

// expectSameEntry fails unless got is the same row as want: kind, metadata, payload and
// tombstone (target, policy and deadline at millisecond precision).
func expectSameEntry(t *testing.T, what string, got, want driver.Entry) {
	t.Helper()
	switch want.Kind {
	case driver.EntryNotFound:
		expectNotFound(t, what, got)
	case driver.EntryObject:
		expectObject(t, what, got, want.Metadata, want.Payload)
	case driver.EntryTombstone:
		expectTombstone(t, what, got, want.Tombstone.Target, want.Tombstone.ExpirationPolicy)
		if !SameMillis(got.Tombstone.Expires, want.Tombstone.Expires) {
			t.Errorf("%s: tombstone deadline %s, want %s", what, fmtTime(got.Tombstone.Expires), fmtTime(want.Tombstone.Expires))
		}
	}
}
