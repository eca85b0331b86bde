package backendtest

import (
	"testing"
	"time"

	"github.com/stratastore/strata/tiered/driver"
	"github.com/stratastore/strata/tiered/object"
)

// hvCompareAndWrite checks CompareAndWrite one call at a time: the redirect-state predicate,
// idempotence (true when the row is already in the target state) and (false, nil) for a
// lost predicate. Concurrent writers are in highvolume_race.go, Write.Deadline in
// highvolume_deadline.go.
func hvCompareAndWrite(t *testing.T, open func(t *testing.T) driver.HighVolume) {
	t.Run("CompareAndWrite/CreateTombstoneOnEmpty", func(t *testing.T) {
		h := openHV(t, open)
		id := NewID(t, "create")
		a := revision(id, 1)
		h.mustCAS("create", id, nil, tombWrite(a, object.TTL(time.Hour)), true)
		expectTombstone(t, "after create", h.get(id), a, object.TTL(time.Hour))
		// Idempotent retry: the row already points to a.
		h.mustCAS("retry", id, nil, tombWrite(a, object.TTL(time.Hour)), true)
		expectTombstone(t, "after retry", h.get(id), a, object.TTL(time.Hour))
	})
	t.Run("CompareAndWrite/CreateTombstoneOverObject", func(t *testing.T) {
		h := openHV(t, open)
		id := NewID(t, "create-over-object")
		h.put(id, smallMetadata("o", 1), []byte("o"))
		a := revision(id, 1)
		h.mustCAS("create", id, nil, tombWrite(a, object.ExpirationPolicy{}), true)
		e := h.get(id)
		expectTombstone(t, "after create", e, a, object.ExpirationPolicy{})
		if e.Metadata.Custom != nil || e.Metadata.ContentType != "" {
			t.Errorf("tombstone row still carries object metadata %+v", e.Metadata)
		}
	})
	t.Run("CompareAndWrite/CreateTombstoneOverOtherTombstoneFails", func(t *testing.T) {
		h := openHV(t, open)
		id := NewID(t, "create-over-tombstone")
		a, b := revision(id, 1), revision(id, 2)
		h.tombstone(id, a, object.TTL(time.Hour))
		h.mustCAS("create over a live tombstone", id, nil, tombWrite(b, object.TTL(time.Hour)), false)
		expectTombstone(t, "row", h.get(id), a, object.TTL(time.Hour))
	})
	t.Run("CompareAndWrite/SwapTombstone", func(t *testing.T) {
		h := openHV(t, open)
		id := NewID(t, "swap")
		a, b := revision(id, 1), revision(id, 2)
		h.tombstone(id, a, object.TTL(time.Hour))
		h.mustCAS("swap", id, &a, tombWrite(b, object.TTI(time.Hour)), true)
		expectTombstone(t, "after swap", h.get(id), b, object.TTI(time.Hour))
		h.mustCAS("retried swap", id, &a, tombWrite(b, object.TTI(time.Hour)), true)
		expectTombstone(t, "after retried swap", h.get(id), b, object.TTI(time.Hour))
	})
	t.Run("CompareAndWrite/WrongCurrentFails", func(t *testing.T) {
		h := openHV(t, open)
		id := NewID(t, "wrong-current")
		a, b, x := revision(id, 1), revision(id, 2), revision(id, 99)
		h.tombstone(id, a, object.TTL(time.Hour))
		for _, tc := range []struct {
			name string
			w    driver.Write
		}{
			{"tombstone", tombWrite(b, object.TTL(time.Hour))},
			{"object", objWrite(smallMetadata("o", 1), []byte("o"))},
			{"delete", deleteWrite},
		} {
			h.mustCAS(tc.name+" with wrong current", id, &x, tc.w, false)
			expectTombstone(t, tc.name+": row", h.get(id), a, object.TTL(time.Hour))
		}
	})
	t.Run("CompareAndWrite/SwapWithoutTombstoneFails", func(t *testing.T) {
		h := openHV(t, open)
		// current names a tombstone, but the row has none: a tombstone write is not in its
		// target state and must not be applied, on an empty row or over an inline object.
		empty := NewID(t, "swap-empty")
		a, b := revision(empty, 1), revision(empty, 2)
		h.mustCAS("swap on an empty row", empty, &a, tombWrite(b, object.TTL(time.Hour)), false)
		expectNotFound(t, "empty row", h.get(empty))

		obj := NewID(t, "swap-object")
		md := smallMetadata("kept", 4)
		h.put(obj, md, []byte("kept"))
		h.mustCAS("swap over an object", obj, &a, tombWrite(b, object.TTL(time.Hour)), false)
		expectObject(t, "object row", h.get(obj), md, []byte("kept"))
	})
	t.Run("CompareAndWrite/TombstoneToObject", func(t *testing.T) {
		h := openHV(t, open)
		id := NewID(t, "to-object")
		a := revision(id, 1)
		h.tombstone(id, a, object.TTL(time.Hour))
		payload := RandomPayload(2048)
		md := fullMetadata(object.TTL(time.Hour), time.Now().Add(time.Hour), int64(len(payload)))
		h.mustCAS("tombstone to object", id, &a, objWrite(md, payload), true)
		expectObject(t, "GetTiered", h.get(id), md, payload)
		expectObject(t, "GetTieredMetadata", h.getMeta(id), md, nil)
		// Idempotent retry: no live tombstone is left.
		h.mustCAS("retry", id, &a, objWrite(md, payload), true)
		expectObject(t, "after retry", h.get(id), md, payload)
	})
	t.Run("CompareAndWrite/TombstoneToDelete", func(t *testing.T) {
		h := openHV(t, open)
		id := NewID(t, "to-delete")
		a := revision(id, 1)
		h.tombstone(id, a, object.TTI(time.Hour))
		h.mustCAS("delete", id, &a, deleteWrite, true)
		expectNotFound(t, "after delete", h.get(id))
		h.mustCAS("retried delete", id, &a, deleteWrite, true)
		expectNotFound(t, "after retried delete", h.get(id))
	})
	t.Run("CompareAndWrite/ExpectTombstoneOnObjectRow", func(t *testing.T) {
		// current != nil with an object or delete write is in its target state whenever there
		// is no live tombstone, so it returns true (re-applying the write or not).
		h := openHV(t, open)
		id := NewID(t, "expect-tombstone-object")
		a := revision(id, 1)
		h.put(id, smallMetadata("old", 3), []byte("old"))
		md := smallMetadata("new", 3)
		h.mustCAS("object write", id, &a, objWrite(md, []byte("new")), true)
		if e := h.get(id); e.Kind != driver.EntryObject {
			t.Errorf("row kind %s, want EntryObject", kindName(e.Kind))
		}
		h.mustCAS("delete", id, &a, deleteWrite, true)
		if e := h.get(id); e.Kind == driver.EntryTombstone {
			t.Error("delete left a tombstone")
		}
	})
	t.Run("CompareAndWrite/ObjectWithoutTombstone", func(t *testing.T) {
		h := openHV(t, open)
		id := NewID(t, "object")
		md1 := smallMetadata("one", 3)
		h.mustCAS("object on an empty row", id, nil, objWrite(md1, []byte("one")), true)
		expectObject(t, "after first write", h.get(id), md1, []byte("one"))
		md2 := smallMetadata("two", 3)
		h.mustCAS("object over an object", id, nil, objWrite(md2, []byte("two")), true)
		expectObject(t, "after second write", h.get(id), md2, []byte("two"))
	})
	t.Run("CompareAndWrite/ObjectOverTombstoneFails", func(t *testing.T) {
		h := openHV(t, open)
		id := NewID(t, "object-over-tombstone")
		a := revision(id, 1)
		h.tombstone(id, a, object.TTL(time.Hour))
		h.mustCAS("object with current nil", id, nil, objWrite(smallMetadata("o", 1), []byte("o")), false)
		h.mustCAS("delete with current nil", id, nil, deleteWrite, false)
		expectTombstone(t, "row", h.get(id), a, object.TTL(time.Hour))
	})
	t.Run("CompareAndWrite/DeleteWithoutTombstone", func(t *testing.T) {
		h := openHV(t, open)
		id := NewID(t, "delete")
		h.put(id, smallMetadata("o", 1), []byte("o"))
		h.mustCAS("delete an object", id, nil, deleteWrite, true)
		expectNotFound(t, "after delete", h.get(id))
		h.mustCAS("delete an empty row", id, nil, deleteWrite, true)
		expectNotFound(t, "after second delete", h.get(id))
	})
	t.Run("CompareAndWrite/ExpiredTombstoneCountsAsAbsent", func(t *testing.T) {
		h := openHV(t, open)
		names := []string{"object", "tombstone", "swap", "object-expect", "delete"}
		ids := map[string]object.ID{}
		for _, n := range names {
			ids[n] = NewID(t, "expired/"+n)
			h.tombstone(ids[n], revision(ids[n], 1), object.TTL(time.Millisecond))
		}
		time.Sleep(expirySleep)

		md := smallMetadata("o", 1)
		id := ids["object"]
		h.mustCAS("object with current nil", id, nil, objWrite(md, []byte("o")), true)
		expectObject(t, "object row", h.get(id), md, []byte("o"))

		id = ids["tombstone"]
		h.mustCAS("tombstone with current nil", id, nil, tombWrite(revision(id, 2), object.TTL(time.Hour)), true)
		expectTombstone(t, "tombstone row", h.get(id), revision(id, 2), object.TTL(time.Hour))

		id = ids["swap"]
		old := revision(id, 1)
		h.mustCAS("swap from the expired target", id, &old, tombWrite(revision(id, 2), object.TTL(time.Hour)), false)
		expectNotFound(t, "swap row", h.get(id))

		id = ids["object-expect"]
		old = revision(id, 1)
		h.mustCAS("object expecting the expired target", id, &old, objWrite(md, []byte("o")), true)
		if e := h.get(id); e.Kind == driver.EntryTombstone {
			t.Error("object expecting the expired target left a tombstone")
		}

		id = ids["delete"]
		h.mustCAS("delete with current nil", id, nil, deleteWrite, true)
		expectNotFound(t, "delete row", h.get(id))
	})
}
