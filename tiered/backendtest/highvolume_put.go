package backendtest

import (
	"testing"
	"time"

	"github.com/stratastore/strata/tiered/driver"
	"github.com/stratastore/strata/tiered/object"
)

// hvPutNonTombstone checks PutNonTombstone: it writes an inline object, whole, unless a live
// tombstone is at the id, which it then returns and leaves in place.
func hvPutNonTombstone(t *testing.T, open func(t *testing.T) driver.HighVolume) {
	t.Run("PutNonTombstone/RoundTripAllFields", func(t *testing.T) {
		h := openHV(t, open)
		for _, tc := range []struct {
			name   string
			policy object.ExpirationPolicy
			exp    time.Time
		}{
			{"ttl", object.TTL(2 * time.Hour), time.Now().Add(90 * time.Minute)},
			{"manual", object.ExpirationPolicy{}, time.Time{}},
			{"tti", object.TTI(24 * time.Hour), time.Now().Add(24 * time.Hour)},
		} {
			id := NewID(t, "roundtrip/"+tc.name)
			payload := RandomPayload(1000)
			md := fullMetadata(tc.policy, tc.exp, int64(len(payload)))
			h.put(id, md, payload)
			expectObject(t, tc.name+": GetTiered", h.get(id), md, payload)
			expectObject(t, tc.name+": GetTieredMetadata", h.getMeta(id), md, nil)
		}
	})
	t.Run("PutNonTombstone/ExactlyOneMiB", func(t *testing.T) {
		h := openHV(t, open)
		id := NewID(t, "one-mib")
		payload := RandomPayload(1 << 20)
		md := smallMetadata("mib", len(payload))
		h.put(id, md, payload)
		expectObject(t, "GetTiered", h.get(id), md, payload)
	})
	t.Run("PutNonTombstone/EmptyPayload", func(t *testing.T) {
		h := openHV(t, open)
		id := NewID(t, "empty")
		md := smallMetadata("empty", 0)
		h.put(id, md, []byte{})
		e := h.get(id)
		expectObject(t, "GetTiered", e, md, nil)
		if len(e.Payload) != 0 {
			t.Errorf("payload has %d bytes, want 0", len(e.Payload))
		}
		expectObject(t, "GetTieredMetadata", h.getMeta(id), md, nil)
	})
	t.Run("PutNonTombstone/OverwriteReplacesAllFields", func(t *testing.T) {
		h := openHV(t, open)
		id := NewID(t, "overwrite")
		p1 := RandomPayload(300)
		h.put(id, fullMetadata(object.TTL(time.Hour), time.Now().Add(time.Hour), int64(len(p1))), p1)
		p2 := RandomPayload(200)
		md2 := object.Metadata{TimeCreated: Millis(time.Now()), Size: int64(len(p2)), Custom: map[string]string{"new": "only"}}
		h.put(id, md2, p2)
		expectObject(t, "GetTiered after overwrite", h.get(id), md2, p2)
		expectObject(t, "GetTieredMetadata after overwrite", h.getMeta(id), md2, nil)
	})
	t.Run("PutNonTombstone/OverTombstoneReturnsItAndWritesNothing", func(t *testing.T) {
		h := openHV(t, open)
		id := NewID(t, "over-tombstone")
		target := revision(id, 1)
		h.tombstone(id, target, object.TTL(time.Hour))
		ts, err := h.b.PutNonTombstone(t.Context(), id, smallMetadata("x", 3), []byte("abc"))
		h.expectTombstoneKept("PutNonTombstone", id, ts, err, target, object.TTL(time.Hour))
	})
	t.Run("PutNonTombstone/OverExpiredTombstoneWrites", func(t *testing.T) {
		h := openHV(t, open)
		id := NewID(t, "over-expired-tombstone")
		h.tombstone(id, revision(id, 1), object.TTL(time.Millisecond))
		time.Sleep(expirySleep)
		md := smallMetadata("fresh", 5)
		h.put(id, md, []byte("fresh"))
		expectObject(t, "GetTiered", h.get(id), md, []byte("fresh"))
	})
	t.Run("PutNonTombstone/NoAliasing", func(t *testing.T) {
		h := openHV(t, open)
		id := NewID(t, "aliasing")
		payload := []byte("original")
		md := smallMetadata("alias", len(payload))
		h.put(id, md.Clone(), payload)
		payload[0] = 'X'
		e := h.get(id)
		e.Metadata.Custom["marker"] = "changed"
		expectObject(t, "GetTiered after mutating buffers", h.get(id), md, []byte("original"))
		// A payload handed out is read-only to its caller but must stay as it was when a
		// later write replaces the row (a backend may share it, never reuse it).
		held := h.get(id)
		h.put(id, smallMetadata("alias", len("replaced")), []byte("replaced"))
		if string(held.Payload) != "original" {
			t.Errorf("payload read before an overwrite now reads %q, want %q", held.Payload, "original")
		}
	})
}
