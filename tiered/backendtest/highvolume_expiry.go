package backendtest

import (
	"testing"
	"time"

	"github.com/stratastore/strata/tiered/driver"
	"github.com/stratastore/strata/tiered/object"
)

// hvExpiry checks the contract's "live": an expired row counts as absent in every read,
// immediately, whether or not the backend has collected it. (Every predicate: see
// PutNonTombstone/OverExpiredTombstoneWrites, DeleteNonTombstone/ExpiredTombstone and
// CompareAndWrite/ExpiredTombstoneCountsAsAbsent.)
func hvExpiry(t *testing.T, open func(t *testing.T) driver.HighVolume) {
	t.Run("Expiry/ExpiredObjectInvisible", func(t *testing.T) {
		h := openHV(t, open)
		for _, policy := range []object.ExpirationPolicy{object.TTL(time.Hour), object.TTI(time.Hour)} {
			id := NewID(t, "expired/"+policy.String())
			md := smallMetadata("e", 3)
			md.ExpirationPolicy = policy
			md.TimeExpires = Millis(time.Now().Add(-time.Second))
			h.put(id, md, []byte("eee"))
			expectNotFound(t, policy.String()+": GetTiered", h.get(id))
			expectNotFound(t, policy.String()+": GetTieredMetadata", h.getMeta(id))
			// A read must not revive it (a TTI bump applies to live rows only).
			expectNotFound(t, policy.String()+": second GetTiered", h.get(id))
		}
	})
	t.Run("Expiry/ZeroTTLInvisibleImmediately", func(t *testing.T) {
		h := openHV(t, open)
		id := NewID(t, "zero-ttl")
		md := smallMetadata("z", 1)
		md.ExpirationPolicy = object.TTL(0)
		md.TimeExpires = Millis(time.Now().Add(-time.Millisecond))
		h.put(id, md, []byte("z"))
		expectNotFound(t, "GetTiered", h.get(id))
	})
	t.Run("Expiry/TombstoneTTLAndTTI", func(t *testing.T) {
		h := openHV(t, open)
		policies := []object.ExpirationPolicy{object.TTL(time.Millisecond), object.TTI(time.Millisecond)}
		for _, p := range policies {
			id := NewID(t, "tombstone/"+p.String())
			h.tombstone(id, revision(id, 1), p)
		}
		time.Sleep(expirySleep)
		for _, p := range policies {
			id := NewID(t, "tombstone/"+p.String())
			expectNotFound(t, p.String()+": GetTiered", h.get(id))
			expectNotFound(t, p.String()+": GetTieredMetadata", h.getMeta(id))
			expectNotFound(t, p.String()+": second GetTiered", h.get(id))
		}
	})
}
