package backendtest

import (
	"testing"
	"time"

	"github.com/stratastore/strata/tiered/driver"
	"github.com/stratastore/strata/tiered/object"
)

// hvGetTiered checks GetTiered and GetTieredMetadata on rows at rest: the live row, or
// EntryNotFound; GetTieredMetadata without the payload. The TTI bump they make is in
// highvolume_bump.go, expiry in highvolume_expiry.go.
func hvGetTiered(t *testing.T, open func(t *testing.T) driver.HighVolume) {
	t.Run("GetTiered/NotFound", func(t *testing.T) {
		h := openHV(t, open)
		expectNotFound(t, "GetTiered", h.get(NewID(t, "missing")))
		expectNotFound(t, "GetTieredMetadata", h.getMeta(NewID(t, "missing")))
	})
	t.Run("GetTiered/NotFoundAfterDelete", func(t *testing.T) {
		h := openHV(t, open)
		id := NewID(t, "deleted")
		h.put(id, smallMetadata("d", 1), []byte("d"))
		if ts, err := h.b.DeleteNonTombstone(t.Context(), id); err != nil || ts != nil {
			t.Fatalf("DeleteNonTombstone = %v, %v; want nil, nil", ts, err)
		}
		expectNotFound(t, "GetTiered", h.get(id))
		expectNotFound(t, "GetTieredMetadata", h.getMeta(id))
	})
	t.Run("GetTieredMetadata/NoPayload", func(t *testing.T) {
		h := openHV(t, open)
		id := NewID(t, "meta-only")
		payload := RandomPayload(4096)
		md := smallMetadata("m", len(payload))
		h.put(id, md, payload)
		e := h.getMeta(id)
		expectObject(t, "GetTieredMetadata", e, md, nil)
		if len(e.Payload) != 0 {
			t.Errorf("GetTieredMetadata returned a %d-byte payload", len(e.Payload))
		}
	})
	t.Run("GetTiered/Tombstone", func(t *testing.T) {
		h := openHV(t, open)
		for _, tc := range []struct {
			name   string
			policy object.ExpirationPolicy
		}{
			{"manual", object.ExpirationPolicy{}},
			{"ttl", object.TTL(time.Hour)},
			{"tti", object.TTI(2 * time.Hour)},
		} {
			id := NewID(t, "tombstone/"+tc.name)
			target := revision(id, 7)
			before := time.Now()
			h.tombstone(id, target, tc.policy)
			after := time.Now()
			for _, e := range []driver.Entry{h.get(id), h.getMeta(id)} {
				expectTombstone(t, tc.name, e, target, tc.policy)
				if !tc.policy.IsTimeout() {
					if !e.Tombstone.Expires.IsZero() {
						t.Errorf("%s: manual tombstone has Expires %s, want zero", tc.name, fmtTime(e.Tombstone.Expires))
					}
					continue
				}
				// Expires = time of the write + policy duration.
				expectWithin(t, tc.name+": tombstone Expires", e.Tombstone.Expires,
					before.Add(tc.policy.Duration), after.Add(tc.policy.Duration))
			}
		}
	})
}
