package backendtest

import (
	"testing"
	"time"

	"github.com/stratastore/strata/tiered/driver"
	"github.com/stratastore/strata/tiered/object"
)

// hvDeleteNonTombstone checks DeleteNonTombstone: it deletes an object or nothing, and
// returns a live tombstone, leaving it in place.
func hvDeleteNonTombstone(t *testing.T, open func(t *testing.T) driver.HighVolume) {
	del := func(h hv, id object.ID) *driver.Tombstone {
		h.t.Helper()
		ts, err := h.b.DeleteNonTombstone(h.t.Context(), id)
		if err != nil {
			h.t.Fatalf("DeleteNonTombstone: %v", err)
		}
		return ts
	}
	t.Run("DeleteNonTombstone/Missing", func(t *testing.T) {
		h := openHV(t, open)
		id := NewID(t, "missing")
		if ts := del(h, id); ts != nil {
			t.Errorf("DeleteNonTombstone of a missing row returned tombstone %s", ts.Target)
		}
		expectNotFound(t, "GetTiered", h.get(id))
	})
	t.Run("DeleteNonTombstone/Object", func(t *testing.T) {
		h := openHV(t, open)
		id := NewID(t, "object")
		h.put(id, smallMetadata("o", 2), []byte("oo"))
		if ts := del(h, id); ts != nil {
			t.Errorf("DeleteNonTombstone of an object returned tombstone %s", ts.Target)
		}
		expectNotFound(t, "GetTiered", h.get(id))
		if ts := del(h, id); ts != nil {
			t.Errorf("second DeleteNonTombstone returned tombstone %s", ts.Target)
		}
	})
	t.Run("DeleteNonTombstone/TombstoneReturnedAndKept", func(t *testing.T) {
		h := openHV(t, open)
		id := NewID(t, "tombstone")
		target := revision(id, 1)
		h.tombstone(id, target, object.TTI(time.Hour))
		ts, err := h.b.DeleteNonTombstone(t.Context(), id)
		h.expectTombstoneKept("DeleteNonTombstone", id, ts, err, target, object.TTI(time.Hour))
	})
	t.Run("DeleteNonTombstone/ExpiredTombstone", func(t *testing.T) {
		h := openHV(t, open)
		id := NewID(t, "expired-tombstone")
		h.tombstone(id, revision(id, 1), object.TTL(time.Millisecond))
		time.Sleep(expirySleep)
		if ts := del(h, id); ts != nil {
			t.Errorf("DeleteNonTombstone of an expired tombstone returned %s", ts.Target)
		}
		expectNotFound(t, "GetTiered", h.get(id))
	})
}
