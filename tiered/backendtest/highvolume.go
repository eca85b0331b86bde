package backendtest

import (
	"bytes"
	"fmt"
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
// Each subtest checks one "must" of the driver.HighVolume contract, named after it. One file
// per clause: highvolume_put.go (PutNonTombstone), highvolume_get.go (GetTiered,
// GetTieredMetadata), highvolume_delete.go (DeleteNonTombstone), highvolume_expiry.go
// (expired rows are absent), highvolume_bump.go (the TTI bump), highvolume_cas.go
// (CompareAndWrite), highvolume_deadline.go (Write.Deadline) and highvolume_race.go (the
// races: a bump losing to a concurrent write, concurrent compare-and-writes, rows never
// mixing versions). This file holds the entry point and the shared assertions.
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
	hvTTIBumpTombstone(t, open)
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

// expectTombstoneKept checks what PutNonTombstone and DeleteNonTombstone (op) must do on a
// live tombstone to target: return it, and leave it in place.
func (h hv) expectTombstoneKept(op string, id object.ID, ts *driver.Tombstone, err error, target object.ID, policy object.ExpirationPolicy) {
	h.t.Helper()
	if err != nil {
		h.t.Fatalf("%s: %v", op, err)
	}
	if ts == nil {
		h.t.Fatalf("%s on a live tombstone returned nil", op)
	}
	if !ts.Target.Equal(target) || ts.ExpirationPolicy != policy {
		h.t.Errorf("%s returned tombstone %s (%s), want %s (%s)", op, ts.Target, ts.ExpirationPolicy, target, policy)
	}
	expectTombstone(h.t, "row after "+op, h.get(id), target, policy)
}

// expectWithin fails unless got lies in [lo, hi] at millisecond precision.
func expectWithin(t *testing.T, what string, got, lo, hi time.Time) {
	t.Helper()
	if Millis(got).Before(Millis(lo)) || Millis(got).After(hi) {
		t.Errorf("%s: %s not within [%s, %s]", what, fmtTime(got), fmtTime(Millis(lo)), fmtTime(hi))
	}
}

func ptr[T any](v T) *T { return &v }
