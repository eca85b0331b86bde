package backendtest

import (
	"bytes"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stratastore/strata/tiered/driver"
	"github.com/stratastore/strata/tiered/object"
)

// expirySleep is how long the suites wait for a deadline of a millisecond or two to pass.
// It is generous so that backends keeping times at millisecond precision (Bigtable) agree.
const expirySleep = 25 * time.Millisecond

// TestHighVolume runs the conformance suite for driver.HighVolume. open must return a fresh,
// empty, isolated backend for each call; the caller registers its cleanup on t. The backend
// must also implement BumpInterceptor (wrap it with WithBumpInterceptor when it is behind a
// decorator that does not forward the seam).
//
// Each subtest checks one "must" of the driver.HighVolume contract, named after it.
func TestHighVolume(t *testing.T, open func(t *testing.T) driver.HighVolume) {
	t.Run("Name", func(t *testing.T) {
		if open(t).Name() == "" {
			t.Error("Name() is empty")
		}
	})
	t.Run("BumpInterceptor", func(t *testing.T) {
		if _, ok := open(t).(BumpInterceptor); !ok {
			t.Fatal("backend does not implement backendtest.BumpInterceptor")
		}
	})
	hvPutNonTombstone(t, open)
	hvGetTiered(t, open)
	hvDeleteNonTombstone(t, open)
	hvExpiry(t, open)
	hvTTIBump(t, open)
	hvBumpRace(t, open)
	hvCompareAndWrite(t, open)
	hvDeadline(t, open)
	hvConcurrency(t, open)
}

// hv bundles a backend with the test that uses it, for terse assertions.
type hv struct {
	t *testing.T
	b driver.HighVolume
}

func openHV(t *testing.T, open func(t *testing.T) driver.HighVolume) hv {
	return hv{t: t, b: open(t)}
}

func (h hv) put(id object.ID, md object.Metadata, payload []byte) {
	h.t.Helper()
	ts, err := h.b.PutNonTombstone(h.t.Context(), id, md, payload)
	if err != nil {
		h.t.Fatalf("PutNonTombstone(%s): %v", id.Key, err)
	}
	if ts != nil {
		h.t.Fatalf("PutNonTombstone(%s) returned tombstone %s on a row without one", id.Key, ts.Target)
	}
}

func (h hv) get(id object.ID) driver.Entry {
	h.t.Helper()
	e, err := h.b.GetTiered(h.t.Context(), id)
	if err != nil {
		h.t.Fatalf("GetTiered(%s): %v", id.Key, err)
	}
	return e
}

func (h hv) getMeta(id object.ID) driver.Entry {
	h.t.Helper()
	e, err := h.b.GetTieredMetadata(h.t.Context(), id)
	if err != nil {
		h.t.Fatalf("GetTieredMetadata(%s): %v", id.Key, err)
	}
	return e
}

func (h hv) cas(id object.ID, current *object.ID, w driver.Write) bool {
	h.t.Helper()
	ok, err := h.b.CompareAndWrite(h.t.Context(), id, current, w)
	if err != nil {
		h.t.Fatalf("CompareAndWrite(%s): %v", id.Key, err)
	}
	return ok
}

// mustCAS fails the test unless the compare-and-write returns want.
func (h hv) mustCAS(what string, id object.ID, current *object.ID, w driver.Write, want bool) {
	h.t.Helper()
	if got := h.cas(id, current, w); got != want {
		h.t.Fatalf("%s: CompareAndWrite = %v, want %v", what, got, want)
	}
}

// tombstone writes a tombstone to target with policy on a row without a live tombstone.
func (h hv) tombstone(id, target object.ID, policy object.ExpirationPolicy) {
	h.t.Helper()
	h.mustCAS("create tombstone", id, nil, tombWrite(target, policy), true)
}

func objWrite(md object.Metadata, payload []byte) driver.Write {
	return driver.Write{Kind: driver.WriteObject, Metadata: md, Payload: payload}
}

func tombWrite(target object.ID, policy object.ExpirationPolicy) driver.Write {
	return driver.Write{Kind: driver.WriteTombstone, Tombstone: driver.Tombstone{Target: target, ExpirationPolicy: policy}}
}

var deleteWrite = driver.Write{Kind: driver.WriteDelete}

// revision returns a long-term revision id of id, as the Store makes them.
func revision(id object.ID, n int) object.ID {
	r := id
	r.Key = fmt.Sprintf("%s/0190a6b2-0000-7000-8000-%012d", id.Key, n)
	return r
}

// fixedCreated is the TimeCreated of smallMetadata: fixed, so that two calls compare equal.
var fixedCreated = time.UnixMilli(1_750_000_000_123).UTC()

// smallMetadata returns manual metadata for an object of size bytes with a marker in its
// custom map. Equal arguments give equal metadata.
func smallMetadata(marker string, size int) object.Metadata {
	return object.Metadata{
		TimeCreated: fixedCreated,
		ContentType: "application/x-" + marker,
		Size:        int64(size),
		Custom:      map[string]string{"marker": marker},
	}
}

func expectNotFound(t *testing.T, what string, e driver.Entry) {
	t.Helper()
	if e.Kind != driver.EntryNotFound {
		t.Fatalf("%s: kind %v, want EntryNotFound", what, kindName(e.Kind))
	}
}

func expectObject(t *testing.T, what string, e driver.Entry, md object.Metadata, payload []byte) {
	t.Helper()
	if e.Kind != driver.EntryObject {
		t.Fatalf("%s: kind %v, want EntryObject", what, kindName(e.Kind))
	}
	checkMetadata(t, what, e.Metadata, md)
	if e.Tombstone.Target.Key != "" {
		t.Errorf("%s: object entry also carries tombstone %s", what, e.Tombstone.Target)
	}
	if payload != nil && !bytes.Equal(e.Payload, payload) {
		t.Errorf("%s: payload of %d bytes differs from the %d bytes written", what, len(e.Payload), len(payload))
	}
}

func expectTombstone(t *testing.T, what string, e driver.Entry, target object.ID, policy object.ExpirationPolicy) {
	t.Helper()
	if e.Kind != driver.EntryTombstone {
		t.Fatalf("%s: kind %v, want EntryTombstone", what, kindName(e.Kind))
	}
	if !e.Tombstone.Target.Equal(target) {
		t.Errorf("%s: tombstone target %s, want %s", what, e.Tombstone.Target, target)
	}
	if e.Tombstone.ExpirationPolicy != policy {
		t.Errorf("%s: tombstone policy %s, want %s", what, e.Tombstone.ExpirationPolicy, policy)
	}
	if len(e.Payload) != 0 {
		t.Errorf("%s: tombstone entry carries a %d-byte payload", what, len(e.Payload))
	}
}

func kindName(k driver.EntryKind) string {
	switch k {
	case driver.EntryNotFound:
		return "EntryNotFound"
	case driver.EntryObject:
		return "EntryObject"
	case driver.EntryTombstone:
		return "EntryTombstone"
	}
	return fmt.Sprintf("EntryKind(%d)", k)
}

// expectWithin fails unless got lies in [lo, hi] at millisecond precision.
func expectWithin(t *testing.T, what string, got, lo, hi time.Time) {
	t.Helper()
	if Millis(got).Before(Millis(lo)) || Millis(got).After(hi) {
		t.Errorf("%s: %s not within [%s, %s]", what, fmtTime(got), fmtTime(Millis(lo)), fmtTime(hi))
	}
}

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
		if err != nil {
			t.Fatalf("PutNonTombstone: %v", err)
		}
		if ts == nil {
			t.Fatal("PutNonTombstone over a live tombstone returned nil")
		}
		if !ts.Target.Equal(target) || ts.ExpirationPolicy != object.TTL(time.Hour) {
			t.Errorf("returned tombstone %s (%s), want %s (%s)", ts.Target, ts.ExpirationPolicy, target, object.TTL(time.Hour))
		}
		expectTombstone(t, "row after PutNonTombstone", h.get(id), target, object.TTL(time.Hour))
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
		e.Payload[1] = 'Y'
		e.Metadata.Custom["marker"] = "changed"
		expectObject(t, "GetTiered after mutating buffers", h.get(id), md, []byte("original"))
	})
}

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
		ts := del(h, id)
		if ts == nil {
			t.Fatal("DeleteNonTombstone of a live tombstone returned nil")
		}
		if !ts.Target.Equal(target) || ts.ExpirationPolicy != object.TTI(time.Hour) {
			t.Errorf("returned tombstone %s (%s), want %s (%s)", ts.Target, ts.ExpirationPolicy, target, object.TTI(time.Hour))
		}
		expectTombstone(t, "row after DeleteNonTombstone", h.get(id), target, object.TTI(time.Hour))
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

func hvTTIBump(t *testing.T, open func(t *testing.T) driver.HighVolume) {
	for _, reader := range []string{"GetTiered", "GetTieredMetadata"} {
		t.Run("TTIBump/Object/"+reader, func(t *testing.T) {
			h := openHV(t, open)
			read := h.get
			if reader == "GetTieredMetadata" {
				read = h.getMeta
			}
			id := NewID(t, "tti")
			payload := RandomPayload(777)
			md := fullMetadata(object.TTI(time.Hour), time.Now().Add(time.Minute), int64(len(payload)))
			h.put(id, md, payload)

			before := time.Now()
			first := read(id)
			after := time.Now()
			// The read returns the pre-bump metadata.
			expectObject(t, "first "+reader, first, md, nil)

			second := h.getMeta(id)
			bumped := md.Clone()
			bumped.TimeExpires = second.Metadata.TimeExpires
			expectObject(t, "after the bump", second, bumped, nil)
			expectWithin(t, "bumped deadline", second.Metadata.TimeExpires, before.Add(time.Hour), after.Add(time.Hour))

			// The payload and every other field survive the bump, and a fresh deadline is not
			// bumped again.
			third := h.get(id)
			expectObject(t, "GetTiered after the bump", third, bumped, payload)
		})
	}
	t.Run("TTIBump/Object/NoBumpWhenFresh", func(t *testing.T) {
		h := openHV(t, open)
		id := NewID(t, "tti-fresh")
		md := smallMetadata("fresh", 4)
		md.ExpirationPolicy = object.TTI(time.Hour)
		md.TimeExpires = Millis(time.Now().Add(time.Hour))
		h.put(id, md, []byte("four"))
		for range 3 {
			expectObject(t, "GetTiered", h.get(id), md, []byte("four"))
			expectObject(t, "GetTieredMetadata", h.getMeta(id), md, nil)
		}
	})
	t.Run("TTIBump/Object/TTLNeverBumped", func(t *testing.T) {
		h := openHV(t, open)
		id := NewID(t, "ttl-no-bump")
		md := smallMetadata("ttl", 4)
		md.ExpirationPolicy = object.TTL(time.Hour)
		md.TimeExpires = Millis(time.Now().Add(time.Minute))
		h.put(id, md, []byte("four"))
		for range 2 {
			expectObject(t, "GetTiered", h.get(id), md, []byte("four"))
			expectObject(t, "GetTieredMetadata", h.getMeta(id), md, nil)
		}
	})
}

// hvBumpRace checks that a TTI bump never reverts or alters a write that lands between the
// read that decided the bump and the bump itself.
func hvBumpRace(t *testing.T, open func(t *testing.T) driver.HighVolume) {
	type race struct {
		name string
		// write runs inside the before-bump hook.
		write func(h hv, id object.ID)
		// check inspects the row afterwards, with the hook removed.
		check func(h hv, id object.ID)
	}
	newPayload := []byte("the concurrent write")
	newMD := smallMetadata("concurrent", len(newPayload))
	// A TTL deadline 50 minutes out: a bump that leaked into this version would move it to
	// about an hour, and a TTL row is never bumped by the verifying reads.
	newMD.ExpirationPolicy = object.TTL(time.Hour)
	newMD.TimeExpires = Millis(time.Now().Add(50 * time.Minute))
	races := []race{
		{
			name: "Overwrite",
			write: func(h hv, id object.ID) {
				if ts, err := h.b.PutNonTombstone(h.t.Context(), id, newMD, newPayload); err != nil || ts != nil {
					h.t.Errorf("PutNonTombstone inside the hook = %v, %v", ts, err)
				}
			},
			check: func(h hv, id object.ID) {
				expectObject(h.t, "row after the race", h.get(id), newMD, newPayload)
				expectObject(h.t, "metadata after the race", h.getMeta(id), newMD, nil)
			},
		},
		{
			name: "TombstoneSwap",
			write: func(h hv, id object.ID) {
				if ok, err := h.b.CompareAndWrite(h.t.Context(), id, nil, tombWrite(revision(id, 2), object.TTL(2*time.Hour))); err != nil || !ok {
					h.t.Errorf("CompareAndWrite inside the hook = %v, %v", ok, err)
				}
			},
			check: func(h hv, id object.ID) {
				e := h.get(id)
				expectTombstone(h.t, "row after the race", e, revision(id, 2), object.TTL(2*time.Hour))
				if e.Tombstone.Expires.Before(time.Now().Add(90 * time.Minute)) {
					h.t.Errorf("tombstone Expires %s was altered by the bump", fmtTime(e.Tombstone.Expires))
				}
			},
		},
		{
			name: "Delete",
			write: func(h hv, id object.ID) {
				if ok, err := h.b.CompareAndWrite(h.t.Context(), id, nil, deleteWrite); err != nil || !ok {
					h.t.Errorf("CompareAndWrite(delete) inside the hook = %v, %v", ok, err)
				}
			},
			check: func(h hv, id object.ID) {
				expectNotFound(h.t, "row after the race", h.get(id))
			},
		},
	}
	for _, reader := range []string{"GetTiered", "GetTieredMetadata"} {
		for _, rc := range races {
			t.Run("TTIBump/LosesToConcurrentWrite/Object/"+reader+"/"+rc.name, func(t *testing.T) {
				h := openHV(t, open)
				bi, ok := h.b.(BumpInterceptor)
				if !ok {
					t.Fatal("backend does not implement backendtest.BumpInterceptor")
				}
				id := NewID(t, "bump-race")
				payload := []byte("the version that was read")
				md := smallMetadata("read", len(payload))
				md.ExpirationPolicy = object.TTI(time.Hour)
				md.TimeExpires = Millis(time.Now().Add(time.Minute))
				h.put(id, md, payload)

				var calls atomic.Int32
				bi.SetBeforeBump(func(got object.ID) {
					if calls.Add(1) > 1 {
						return
					}
					if !got.Equal(id) {
						t.Errorf("before-bump hook got id %s, want %s", got, id)
					}
					rc.write(h, id)
				})
				t.Cleanup(func() { bi.SetBeforeBump(nil) })

				var e driver.Entry
				var err error
				if reader == "GetTiered" {
					e, err = h.b.GetTiered(t.Context(), id)
				} else {
					e, err = h.b.GetTieredMetadata(t.Context(), id)
				}
				bi.SetBeforeBump(nil)
				if err != nil {
					t.Fatalf("%s failed when its bump lost: %v", reader, err)
				}
				if n := calls.Load(); n != 1 {
					t.Fatalf("before-bump hook ran %d times, want 1 (the read must decide to bump a due TTI row)", n)
				}
				// The read returns the version it read, pre-bump.
				if reader == "GetTiered" {
					expectObject(t, reader, e, md, payload)
				} else {
					expectObject(t, reader, e, md, nil)
				}
				rc.check(h, id)
			})
		}
	}
	tombRaces := []race{
		{
			name: "TombstoneSwap",
			write: func(h hv, id object.ID) {
				if ok, err := h.b.CompareAndWrite(h.t.Context(), id, ptr(revision(id, 1)), tombWrite(revision(id, 2), object.TTL(2*time.Hour))); err != nil || !ok {
					h.t.Errorf("CompareAndWrite inside the hook = %v, %v", ok, err)
				}
			},
			check: races[1].check,
		},
		{
			name: "Object",
			write: func(h hv, id object.ID) {
				if ok, err := h.b.CompareAndWrite(h.t.Context(), id, ptr(revision(id, 1)), objWrite(newMD, newPayload)); err != nil || !ok {
					h.t.Errorf("CompareAndWrite(object) inside the hook = %v, %v", ok, err)
				}
			},
			check: races[0].check,
		},
		{
			name: "Delete",
			write: func(h hv, id object.ID) {
				if ok, err := h.b.CompareAndWrite(h.t.Context(), id, ptr(revision(id, 1)), deleteWrite); err != nil || !ok {
					h.t.Errorf("CompareAndWrite(delete) inside the hook = %v, %v", ok, err)
				}
			},
			check: races[2].check,
		},
	}
	t.Run("TTIBump/Tombstone", func(t *testing.T) {
		// A backend computes a tombstone's deadline itself (now + duration), so the only way
		// to make one due for a bump is to let a quarter of its TTI pass: 1.75 s of 4 s. All
		// tombstone cases share that one wait.
		h := openHV(t, open)
		bi, ok := h.b.(BumpInterceptor)
		if !ok {
			t.Fatal("backend does not implement backendtest.BumpInterceptor")
		}
		const tti = 4 * time.Second
		policy := object.TTI(tti)
		readers := []string{"GetTiered", "GetTieredMetadata"}
		bumpID := func(reader string) object.ID { return NewID(t, "tti-tombstone/"+reader) }
		raceID := func(reader, name string) object.ID { return NewID(t, "tomb-race/"+reader+"/"+name) }
		initial := map[string]time.Time{}
		for _, reader := range readers {
			id := bumpID(reader)
			h.tombstone(id, revision(id, 1), policy)
			// Fresh: this read must not bump, which the check after the wait confirms.
			initial[reader] = h.getMeta(id).Tombstone.Expires
			for _, rc := range tombRaces {
				id := raceID(reader, rc.name)
				h.tombstone(id, revision(id, 1), policy)
			}
		}
		time.Sleep(tti/4 + 750*time.Millisecond)

		for _, reader := range readers {
			t.Run("Bump/"+reader, func(t *testing.T) {
				h := hv{t: t, b: h.b}
				id := bumpID(reader)
				read := h.get
				if reader == "GetTieredMetadata" {
					read = h.getMeta
				}
				before := time.Now()
				first := read(id)
				after := time.Now()
				expectTombstone(t, reader, first, revision(id, 1), policy)
				if !SameMillis(first.Tombstone.Expires, initial[reader]) {
					t.Errorf("%s returned Expires %s, want the pre-bump (and unbumped fresh) %s", reader, fmtTime(first.Tombstone.Expires), fmtTime(initial[reader]))
				}
				second := h.getMeta(id)
				expectTombstone(t, "after the bump", second, revision(id, 1), policy)
				expectWithin(t, "bumped Expires", second.Tombstone.Expires, before.Add(tti), after.Add(tti))
			})
		}
		for _, reader := range readers {
			for _, rc := range tombRaces {
				t.Run("LosesToConcurrentWrite/"+reader+"/"+rc.name, func(t *testing.T) {
					h := hv{t: t, b: h.b}
					id := raceID(reader, rc.name)
					var calls atomic.Int32
					bi.SetBeforeBump(func(got object.ID) {
						if calls.Add(1) > 1 {
							return
						}
						if !got.Equal(id) {
							t.Errorf("before-bump hook got id %s, want %s", got, id)
						}
						rc.write(h, id)
					})
					t.Cleanup(func() { bi.SetBeforeBump(nil) })
					var e driver.Entry
					var err error
					if reader == "GetTiered" {
						e, err = h.b.GetTiered(t.Context(), id)
					} else {
						e, err = h.b.GetTieredMetadata(t.Context(), id)
					}
					bi.SetBeforeBump(nil)
					if err != nil {
						t.Fatalf("%s failed when its bump lost: %v", reader, err)
					}
					if n := calls.Load(); n != 1 {
						t.Fatalf("before-bump hook ran %d times, want 1 (the read must decide to bump a due TTI tombstone)", n)
					}
					expectTombstone(t, reader, e, revision(id, 1), policy)
					rc.check(h, id)
				})
			}
		}
	})
}

func ptr[T any](v T) *T { return &v }

// entryConsistent checks that e is one whole version as written by Concurrent/RowsNeverMix.
func entryConsistent(e driver.Entry) error {
	switch e.Kind {
	case driver.EntryObject:
		if m := e.Metadata.Custom["marker"]; m != string(e.Payload) || e.Tombstone.Target.Key != "" {
			return fmt.Errorf("object row mixes versions: metadata marker %q, payload %q, tombstone %q", m, e.Payload, e.Tombstone.Target.Key)
		}
	case driver.EntryTombstone:
		if e.Metadata.Custom != nil || len(e.Payload) != 0 {
			return fmt.Errorf("tombstone row to %s carries object fields", e.Tombstone.Target)
		}
	}
	return nil
}

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

func hvConcurrency(t *testing.T, open func(t *testing.T) driver.HighVolume) {
	const n = 16
	run := func(t *testing.T, h hv, id object.ID, current *object.ID) {
		var wg sync.WaitGroup
		wins := make([]bool, n)
		errs := make([]error, n)
		start := make(chan struct{})
		for i := range n {
			wg.Go(func() {
				<-start
				wins[i], errs[i] = h.b.CompareAndWrite(t.Context(), id, current, tombWrite(revision(id, 100+i), object.TTL(time.Hour)))
			})
		}
		close(start)
		wg.Wait()
		winner := -1
		for i := range n {
			if errs[i] != nil {
				t.Fatalf("CompareAndWrite %d: %v", i, errs[i])
			}
			if wins[i] {
				if winner >= 0 {
					t.Fatalf("CompareAndWrite %d and %d both won", winner, i)
				}
				winner = i
			}
		}
		if winner < 0 {
			t.Fatal("no CompareAndWrite won")
		}
		expectTombstone(t, "row", h.get(id), revision(id, 100+winner), object.TTL(time.Hour))
	}
	t.Run("CompareAndWrite/Concurrent/SwapFromSameCurrent", func(t *testing.T) {
		h := openHV(t, open)
		id := NewID(t, "concurrent-swap")
		a := revision(id, 1)
		h.tombstone(id, a, object.TTL(time.Hour))
		run(t, h, id, &a)
	})
	t.Run("CompareAndWrite/Concurrent/CreateOnEmpty", func(t *testing.T) {
		h := openHV(t, open)
		run(t, h, NewID(t, "concurrent-create"), nil)
	})
	t.Run("Concurrent/RowsNeverMix", func(t *testing.T) {
		// Every write replaces the whole row atomically, so a read always sees one version:
		// an object whose payload names its own metadata, or a tombstone without object
		// fields.
		h := openHV(t, open)
		id := NewID(t, "mixed-ops")
		const workers, ops = 8, 40
		var wg sync.WaitGroup
		errs := make([]error, workers)
		for w := range workers {
			wg.Go(func() {
				ctx := t.Context()
				for i := range ops {
					marker := fmt.Sprintf("w%d-op%d", w, i)
					md := smallMetadata(marker, len(marker))
					var err error
					switch (w + i) % 5 {
					case 0:
						_, err = h.b.PutNonTombstone(ctx, id, md, []byte(marker))
					case 1:
						_, err = h.b.CompareAndWrite(ctx, id, nil, tombWrite(revision(id, w*ops+i), object.TTL(time.Hour)))
					case 2:
						var e driver.Entry
						if e, err = h.b.GetTieredMetadata(ctx, id); err == nil && e.Kind == driver.EntryTombstone {
							cur := e.Tombstone.Target
							_, err = h.b.CompareAndWrite(ctx, id, &cur, objWrite(md, []byte(marker)))
						}
					case 3:
						_, err = h.b.DeleteNonTombstone(ctx, id)
					default:
						var e driver.Entry
						if e, err = h.b.GetTiered(ctx, id); err == nil {
							err = entryConsistent(e)
						}
					}
					if err != nil {
						errs[w] = err
						return
					}
				}
			})
		}
		wg.Wait()
		for w, err := range errs {
			if err != nil {
				t.Errorf("worker %d: %v", w, err)
			}
		}
		if err := entryConsistent(h.get(id)); err != nil {
			t.Error(err)
		}
	})
}
