package tiered_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stratastore/strata/tiered"
	"github.com/stratastore/strata/tiered/backendtest"
	"github.com/stratastore/strata/tiered/driver"
	"github.com/stratastore/strata/tiered/membackend"
	"github.com/stratastore/strata/tiered/object"
	"github.com/stratastore/strata/tiered/tieredtest"
)

// env is one Store over in-memory backends, with hooks on every backend.
type env struct {
	hv   *membackend.HighVolume
	lt   *membackend.LongTerm
	log  *membackend.ChangeLog
	hhv  *backendtest.HookedHighVolume
	hlt  *backendtest.HookedLongTerm
	hlog *backendtest.HookedChangeLog
	s    *tiered.Store
	now  *tieredtest.Clock
}

func newEnv(t *testing.T) *env {
	t.Helper()
	mem := membackend.Open(nil)
	e := &env{
		hv:  mem.HighVolume(),
		lt:  mem.LongTerm(),
		log: mem.ChangeLog(),
		now: &tieredtest.Clock{},
	}
	e.hhv = &backendtest.HookedHighVolume{Inner: e.hv}
	e.hlt = &backendtest.HookedLongTerm{Inner: e.lt}
	e.hlog = &backendtest.HookedChangeLog{Inner: e.log}
	e.s = e.store(t, nil)
	return e
}

// store returns a Store over the hooked backends; opts' zero fields get test defaults.
func (e *env) store(t *testing.T, opts *tiered.Options) *tiered.Store {
	t.Helper()
	o := tiered.Options{}
	if opts != nil {
		o = *opts
	}
	if o.GracePeriod == 0 {
		o.GracePeriod = -1
	}
	if o.Now == nil {
		o.Now = e.now.Now
	}
	if o.Logger == nil {
		o.Logger = quiet
	}
	s, err := tiered.New(e.hhv, e.hlt, e.hlog, &o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	return s
}

func (e *env) join(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := e.s.Close(ctx); err != nil {
		t.Fatalf("close: %v", err)
	}
}

// settle ends the Store and lets recovery finish what it left: changes whose outcome was
// unknown, or whose long-term write may still land, wait past their lease and the settle
// time, which a recovering process with a later clock does not.
func (e *env) settle(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_ = e.s.Close(ctx) // what is not due yet stays in the log
	tieredtest.RecoverAll(t, tieredtest.Backends{HV: e.hv, LT: e.lt, Log: e.log, Objects: memObjects(e.lt)})
}

func (e *env) resetCounts() {
	e.hhv.Reset()
	e.hlt.Reset()
	e.hlog.Reset()
}

func id(key string) object.ID {
	return object.NewID("testing", []object.Scope{{Name: "testing", Value: "value"}}, key)
}

func put(t *testing.T, s *tiered.Store, oid object.ID, md object.Metadata, p []byte) tiered.PutResult {
	t.Helper()
	r, err := s.Put(context.Background(), oid, md, bytes.NewReader(p))
	if err != nil {
		t.Fatalf("put %s: %v", oid.Key, err)
	}
	return r
}

func read(t *testing.T, s *tiered.Store, oid object.ID) []byte {
	t.Helper()
	b, err := tieredtest.ReadAll(s, oid)
	if err != nil {
		t.Fatalf("get %s: %v", oid.Key, err)
	}
	return b
}

func tombstone(t *testing.T, e *env, oid object.ID) driver.Tombstone {
	t.Helper()
	en, ok := e.hv.Entry(oid)
	if !ok || en.Kind != driver.EntryTombstone {
		t.Fatalf("row %s: want a tombstone, got %+v (present %v)", oid.Key, en.Kind, ok)
	}
	return en.Tombstone
}

func expectKind(t *testing.T, e *env, oid object.ID, want driver.EntryKind) {
	t.Helper()
	en, ok := e.hv.Entry(oid)
	got := driver.EntryNotFound
	if ok {
		got = en.Kind
	}
	if got != want {
		t.Fatalf("row %s: kind %d, want %d", oid.Key, got, want)
	}
}

func hasLT(e *env, rev object.ID) bool {
	return slices.Contains(e.lt.Keys(), rev.StoragePath())
}

var quiet = slog.New(slog.DiscardHandler)

var (
	large  = backendtest.RandomPayload(2 << 20)
	large2 = backendtest.RandomPayload(2<<20 + 3)
)

// --- basic behaviour ---

func TestStore_GetMissing_NotFound(t *testing.T) {
	e := newEnv(t)
	if _, err := e.s.Get(context.Background(), id("nope"), nil); !errors.Is(err, object.ErrNotFound) {
		t.Fatalf("get: %v", err)
	}
	if _, err := e.s.Head(context.Background(), id("nope")); !errors.Is(err, object.ErrNotFound) {
		t.Fatalf("head: %v", err)
	}
	var te *tiered.Error
	_, err := e.s.Head(context.Background(), id("nope"))
	if !errors.As(err, &te) || te.Op != "head" || !strings.HasSuffix(te.Key, "/objects/nope") {
		t.Fatalf("error is not a *tiered.Error with op and key: %#v", err)
	}
}

func TestStore_DeleteMissing_Succeeds(t *testing.T) {
	e := newEnv(t)
	if err := e.s.Delete(context.Background(), id("nope")); err != nil {
		t.Fatal(err)
	}
}

func TestStore_InvalidIDAndMetadata_Rejected(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	bad := []object.ID{id(""), id("a//b"), id("a/../b"), id(strings.Repeat("k", object.MaxStoragePathLen))}
	for _, b := range bad {
		if _, err := e.s.Put(ctx, b, object.Metadata{}, strings.NewReader("x")); !errors.Is(err, object.ErrInvalidArgument) {
			t.Errorf("put %q: %v", b.Key, err)
		}
		if _, err := e.s.Get(ctx, b, nil); !errors.Is(err, object.ErrInvalidArgument) {
			t.Errorf("get %q: %v", b.Key, err)
		}
	}
	noExpiry := object.Metadata{ExpirationPolicy: object.TTL(time.Hour)}
	if _, err := e.s.Put(ctx, id("k"), noExpiry, strings.NewReader("x")); !errors.Is(err, object.ErrInvalidArgument) {
		t.Errorf("TTL without time_expires: %v", err)
	}
	if e.hhv.Total()+e.hlt.Total() != 0 {
		t.Fatalf("invalid input reached the backends: %v %v", e.hhv.Counts(), e.hlt.Counts())
	}
}

// --- routing ---

func TestStore_PutSmall_StoresInline(t *testing.T) {
	e := newEnv(t)
	p := []byte("small payload")
	r := put(t, e.s, id("small"), object.Metadata{}, p)
	if r.Backend != tiered.BackendHighVolume || r.Size != int64(len(p)) {
		t.Fatalf("result %+v", r)
	}
	expectKind(t, e, id("small"), driver.EntryObject)
	if e.lt.Len() != 0 {
		t.Fatalf("leaked to long-term: %v", e.lt.Keys())
	}
	if got := read(t, e.s, id("small")); !bytes.Equal(got, p) {
		t.Fatalf("got %q", got)
	}
	md, err := e.s.Head(context.Background(), id("small"))
	if err != nil || md.Size != int64(len(p)) {
		t.Fatalf("head = %+v, %v; want size %d", md, err, len(p))
	}
}

func TestStore_PutRouting_Threshold(t *testing.T) {
	for _, tc := range []struct {
		size int
		want string
	}{
		{0, tiered.BackendHighVolume},
		{1, tiered.BackendHighVolume},
		{tiered.Threshold - 1, tiered.BackendHighVolume},
		{tiered.Threshold, tiered.BackendHighVolume},
		{tiered.Threshold + 1, tiered.BackendLongTerm},
		{3 * tiered.Threshold, tiered.BackendLongTerm},
	} {
		e := newEnv(t)
		p := backendtest.RandomPayload(tc.size)
		// One-byte chunks at the boundary prove the peek does not depend on chunking.
		r, err := e.s.Put(context.Background(), id("k"), object.Metadata{}, backendtest.ChunkedReader(p, 4093))
		if err != nil {
			t.Fatal(err)
		}
		if r.Backend != tc.want || r.Size != int64(tc.size) {
			t.Errorf("size %d: %+v, want %s", tc.size, r, tc.want)
		}
		if got := read(t, e.s, id("k")); !bytes.Equal(got, p) {
			t.Errorf("size %d: payload differs", tc.size)
		}
		// net/http's body reader returns the last bytes together with io.EOF.
		r, err = e.s.Put(context.Background(), id("eager"), object.Metadata{}, &eagerEOF{b: p})
		if err != nil || r.Backend != tc.want || r.Size != int64(tc.size) {
			t.Errorf("size %d with data+EOF reads: %+v, %v; want %s", tc.size, r, err, tc.want)
		}
		// An in-memory *bytes.Buffer routes the same way, inline ones without a peek.
		r, err = e.s.Put(context.Background(), id("buffered"), object.Metadata{}, bytes.NewBuffer(bytes.Clone(p)))
		if err != nil || r.Backend != tc.want || r.Size != int64(tc.size) {
			t.Errorf("size %d from a bytes.Buffer: %+v, %v; want %s", tc.size, r, err, tc.want)
		}
		if got := read(t, e.s, id("buffered")); !bytes.Equal(got, p) {
			t.Errorf("size %d from a bytes.Buffer: payload differs", tc.size)
		}
	}
}

// eagerEOF returns io.EOF together with the last bytes, as net/http's body reader does.
type eagerEOF struct{ b []byte }

func (r *eagerEOF) Read(p []byte) (int, error) {
	n := copy(p, r.b)
	r.b = r.b[n:]
	if len(r.b) == 0 {
		return n, io.EOF
	}
	return n, nil
}

func TestStore_PutLarge_CreatesTombstone(t *testing.T) {
	e := newEnv(t)
	md := object.Metadata{ContentType: "image/png", ExpirationPolicy: object.TTL(time.Hour), TimeExpires: time.Now().Add(time.Hour), Origin: "10.0.0.1"}
	put(t, e.s, id("large"), md, large)
	ts := tombstone(t, e, id("large"))
	if ts.ExpirationPolicy != md.ExpirationPolicy {
		t.Fatalf("tombstone policy %v", ts.ExpirationPolicy)
	}
	if !strings.HasPrefix(ts.Target.Key, "large/") {
		t.Fatalf("target %q is not a revision of the key", ts.Target.Key)
	}
	lmd, err := e.lt.Head(context.Background(), ts.Target)
	if err != nil || lmd.ContentType != "image/png" || lmd.ExpirationPolicy != md.ExpirationPolicy {
		t.Fatalf("long-term metadata %+v, %v", lmd, err)
	}
	if got := read(t, e.s, id("large")); !bytes.Equal(got, large) {
		t.Fatal("payload differs")
	}
	hmd, err := e.s.Head(context.Background(), id("large"))
	if err != nil || hmd.ContentType != "image/png" || hmd.Size != int64(len(large)) {
		t.Fatalf("head %+v, %v", hmd, err)
	}
}

func TestStore_PutLarge_MultiChunkKeepsOrder(t *testing.T) {
	e := newEnv(t)
	var p []byte
	for i := range 4 {
		p = append(p, bytes.Repeat([]byte{byte(i)}, 512<<10)...)
	}
	if _, err := e.s.Put(context.Background(), id("multi"), object.Metadata{}, backendtest.ChunkedReader(p, 512<<10)); err != nil {
		t.Fatal(err)
	}
	ts := tombstone(t, e, id("multi"))
	o, err := e.lt.Get(context.Background(), ts.Target, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(o.Body)
	o.Body.Close()
	if !bytes.Equal(got, p) {
		t.Fatalf("long-term payload differs (%d bytes)", len(got))
	}
}

// --- overwrites and deletes ---

func TestStore_PutSmallOverLarge_SwapsToInlineAndDeletesRevision(t *testing.T) {
	e := newEnv(t)
	put(t, e.s, id("k"), object.Metadata{}, large)
	old := tombstone(t, e, id("k")).Target
	put(t, e.s, id("k"), object.Metadata{}, []byte("tiny"))
	expectKind(t, e, id("k"), driver.EntryObject)
	e.join(t)
	if hasLT(e, old) {
		t.Fatal("old revision not cleaned up")
	}
	if got := read(t, e.s, id("k")); string(got) != "tiny" {
		t.Fatalf("got %q", got)
	}
	tieredtest.CheckEmptyLog(t, e.log, time.Now())
}

func TestStore_PutLargeOverLarge_ReplacesRevision(t *testing.T) {
	e := newEnv(t)
	put(t, e.s, id("k"), object.Metadata{}, large)
	r1 := tombstone(t, e, id("k")).Target
	put(t, e.s, id("k"), object.Metadata{}, large2)
	r2 := tombstone(t, e, id("k")).Target
	if r1.Equal(r2) {
		t.Fatal("second write reused the revision")
	}
	e.join(t)
	if hasLT(e, r1) || !hasLT(e, r2) {
		t.Fatalf("long-term keys %v", e.lt.Keys())
	}
	if got := read(t, e.s, id("k")); !bytes.Equal(got, large2) {
		t.Fatal("payload differs")
	}
}

func TestStore_PutLargeOverSmall_Tombstones(t *testing.T) {
	e := newEnv(t)
	put(t, e.s, id("k"), object.Metadata{}, []byte("tiny"))
	put(t, e.s, id("k"), object.Metadata{}, large)
	tombstone(t, e, id("k"))
	if got := read(t, e.s, id("k")); !bytes.Equal(got, large) {
		t.Fatal("payload differs")
	}
}

func TestStore_DeleteSmall(t *testing.T) {
	e := newEnv(t)
	put(t, e.s, id("k"), object.Metadata{}, []byte("tiny"))
	if err := e.s.Delete(context.Background(), id("k")); err != nil {
		t.Fatal(err)
	}
	expectKind(t, e, id("k"), driver.EntryNotFound)
	if _, err := e.s.Get(context.Background(), id("k"), nil); !errors.Is(err, object.ErrNotFound) {
		t.Fatal(err)
	}
}

func TestStore_DeleteLarge_CleansBothTiers(t *testing.T) {
	e := newEnv(t)
	put(t, e.s, id("k"), object.Metadata{}, large)
	rev := tombstone(t, e, id("k")).Target
	if err := e.s.Delete(context.Background(), id("k")); err != nil {
		t.Fatal(err)
	}
	e.join(t)
	expectKind(t, e, id("k"), driver.EntryNotFound)
	if hasLT(e, rev) || e.lt.Len() != 0 {
		t.Fatalf("long-term not cleaned: %v", e.lt.Keys())
	}
	tieredtest.CheckEmptyLog(t, e.log, time.Now())
}

func TestStore_DeleteLarge_CleanupFails_StillSucceedsAndRecoveryFinishes(t *testing.T) {
	e := newEnv(t)
	put(t, e.s, id("k"), object.Metadata{}, large)
	rev := tombstone(t, e, id("k")).Target
	e.hlt.Add(backendtest.FailOn(backendtest.OpDelete, 0))
	if err := e.s.Delete(context.Background(), id("k")); err != nil {
		t.Fatalf("delete must succeed although cleanup fails: %v", err)
	}
	e.join(t)
	expectKind(t, e, id("k"), driver.EntryNotFound)
	if _, err := e.s.Get(context.Background(), id("k"), nil); !errors.Is(err, object.ErrNotFound) {
		t.Fatalf("object still reachable: %v", err)
	}
	if !hasLT(e, rev) || len(e.log.Entries()) != 1 {
		t.Fatalf("want the blob and its log entry kept for recovery; lt %v, log %d", e.lt.Keys(), len(e.log.Entries()))
	}
	// The fault clears; once the lease is stale, recovery finishes the job.
	e.hlt.Reset()
	e.now.Advance(time.Hour)
	s2 := e.store(t, nil)
	r, err := s2.Recover(context.Background(), 0)
	if err != nil || r.Claimed != 1 || r.Dispatched != 1 {
		t.Fatalf("recover = %+v, %v", r, err)
	}
	if err := s2.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if e.lt.Len() != 0 {
		t.Fatalf("orphan left: %v", e.lt.Keys())
	}
	tieredtest.CheckEmptyLog(t, e.log, time.Now())
}

// --- compare-and-swap outcomes ---

func TestStore_PutLarge_CASConflict_DeletesNewBlob(t *testing.T) {
	e := newEnv(t)
	e.hhv.Add(backendtest.LoseRace(0))
	if _, err := e.s.Put(context.Background(), id("k"), object.Metadata{}, bytes.NewReader(large)); err != nil {
		t.Fatalf("a lost race is not an error: %v", err)
	}
	e.join(t)
	if e.lt.Len() != 0 {
		t.Fatalf("new blob not cleaned up: %v", e.lt.Keys())
	}
	tieredtest.CheckEmptyLog(t, e.log, time.Now())
}

func TestStore_PutSmallOverTombstone_CASConflict_Succeeds(t *testing.T) {
	e := newEnv(t)
	put(t, e.s, id("k"), object.Metadata{}, large)
	rev := tombstone(t, e, id("k")).Target
	e.hhv.Add(backendtest.LoseRace(0))
	if _, err := e.s.Put(context.Background(), id("k"), object.Metadata{}, strings.NewReader("tiny")); err != nil {
		t.Fatal(err)
	}
	e.join(t)
	// The winner (simulated) owns the old revision's cleanup; we must not delete it.
	if !hasLT(e, rev) {
		t.Fatal("loser deleted the revision the row still references")
	}
	tieredtest.CheckEmptyLog(t, e.log, time.Now())
}

func TestStore_PutLarge_CASError_FailsAndLeavesNoOrphan(t *testing.T) {
	e := newEnv(t)
	e.hhv.Add(backendtest.FailOn(backendtest.OpCompareAndWrite, 0))
	if _, err := e.s.Put(context.Background(), id("k"), object.Metadata{}, bytes.NewReader(large)); !errors.Is(err, backendtest.ErrInjected) {
		t.Fatalf("put: %v", err)
	}
	e.settle(t)
	if e.lt.Len() != 0 {
		t.Fatalf("orphan: %v", e.lt.Keys())
	}
	tieredtest.CheckEmptyLog(t, e.log, time.Now())
}

// TestStore_LostCASResponse_CleansUpTheRightBlob: the compare-and-write commits but its
// response is lost. The caller sees an error; cleanup reads the row and deletes whichever
// revision it no longer references.
func TestStore_LostCASResponse_CleansUpTheRightBlob(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	put(t, e.s, id("obj"), object.Metadata{}, large)
	r1 := tombstone(t, e, id("obj")).Target
	e.hhv.Add(backendtest.FailAfter(backendtest.OpCompareAndWrite, 0))

	if _, err := e.s.Put(ctx, id("obj"), object.Metadata{}, bytes.NewReader(large2)); err == nil {
		t.Fatal("put must fail when the response is lost")
	}
	r2 := tombstone(t, e, id("obj")).Target
	if r1.Equal(r2) {
		t.Fatal("the write did not commit")
	}
	if err := e.s.Delete(ctx, id("obj")); err == nil {
		t.Fatal("delete must fail when the response is lost")
	}
	expectKind(t, e, id("obj"), driver.EntryNotFound)

	e.hhv.Reset()
	put(t, e.s, id("obj2"), object.Metadata{}, large)
	r3 := tombstone(t, e, id("obj2")).Target
	e.hhv.Add(backendtest.FailAfter(backendtest.OpCompareAndWrite, 0))
	if _, err := e.s.Put(ctx, id("obj2"), object.Metadata{}, strings.NewReader("small")); err == nil {
		t.Fatal("small put must fail when the response is lost")
	}
	expectKind(t, e, id("obj2"), driver.EntryObject)

	e.settle(t)
	for _, r := range []object.ID{r1, r2, r3} {
		if hasLT(e, r) {
			t.Errorf("revision %s not cleaned up", r.Key)
		}
	}
	tieredtest.CheckEmptyLog(t, e.log, time.Now())
}

func TestStore_CASRetryIsIdempotent(t *testing.T) {
	// A backend retry of a committed CAS must report success, so no committed data is
	// mistaken for a lost race and deleted.
	e := newEnv(t)
	e.hhv.Add(backendtest.Match(backendtest.OpCompareAndWrite, func(ctx context.Context, c *backendtest.Call, next func() error) error {
		if err := next(); err != nil {
			return err
		}
		return next() // the retry
	}))
	put(t, e.s, id("k"), object.Metadata{}, large)
	e.join(t)
	if got := read(t, e.s, id("k")); !bytes.Equal(got, large) {
		t.Fatal("committed object lost after an idempotent retry")
	}
}

// --- reads across tiers ---

func TestStore_OrphanTombstone_NotFound(t *testing.T) {
	e := newEnv(t)
	put(t, e.s, id("k"), object.Metadata{}, large)
	rev := tombstone(t, e, id("k")).Target
	if err := e.lt.Delete(context.Background(), rev); err != nil {
		t.Fatal(err)
	}
	if _, err := e.s.Get(context.Background(), id("k"), nil); !errors.Is(err, object.ErrNotFound) {
		t.Fatalf("get: %v", err)
	}
	if _, err := e.s.Head(context.Background(), id("k")); !errors.Is(err, object.ErrNotFound) {
		t.Fatalf("head: %v", err)
	}
}

func TestStore_TombstoneTarget_UsedForReadsAndDeletes(t *testing.T) {
	// objectstore's legacy tombstones point to a blob at the object's own path, not at a
	// revision; reads follow them and deletes clean them up.
	e := newEnv(t)
	ctx := context.Background()
	oid := id("legacy")
	p := backendtest.RandomPayload(100)
	if err := e.lt.Put(ctx, oid, object.Metadata{}, bytes.NewReader(p)); err != nil {
		t.Fatal(err)
	}
	if ok, err := e.hv.CompareAndWrite(ctx, oid, nil, driver.Write{Kind: driver.WriteTombstone, Tombstone: driver.Tombstone{Target: oid}}); !ok || err != nil {
		t.Fatal(ok, err)
	}
	if got := read(t, e.s, oid); !bytes.Equal(got, p) {
		t.Fatal("did not follow the target")
	}
	if err := e.s.Delete(ctx, oid); err != nil {
		t.Fatal(err)
	}
	e.join(t)
	expectKind(t, e, oid, driver.EntryNotFound)
	if e.lt.Len() != 0 {
		t.Fatalf("target not deleted: %v", e.lt.Keys())
	}
}

// TestStore_Cleanup_ForgedTaskWithoutEntryDoesNothing: a cleanup task arrives from outside
// the process (a Pub/Sub push). One that names no entry does nothing, whatever else the
// message says.
func TestStore_Cleanup_ForgedTaskWithoutEntryDoesNothing(t *testing.T) {
	e := newEnv(t)
	put(t, e.s, id("victim"), object.Metadata{}, large)
	victim := tombstone(t, e, id("victim")).Target
	var forged tiered.CleanupTask
	msg := `{"change_id":"forged","id":"` + id("victim").StoragePath() + `","old":"` + victim.StoragePath() + `","phase":"updated"}`
	if err := json.Unmarshal([]byte(msg), &forged); err != nil {
		t.Fatal(err)
	}
	if err := e.s.Cleanup(context.Background(), forged); err != nil {
		t.Fatal(err)
	}
	if got := read(t, e.s, id("victim")); !bytes.Equal(got, large) {
		t.Fatal("a forged cleanup task deleted another object's revision")
	}
}

// TestStore_Get_ReReadsTombstoneWhenTargetVanishes: a reader loads the tombstone, a
// concurrent overwrite swaps it and deletes the old revision, then the reader's long-term
// read misses. It must follow the new tombstone instead of answering 404.
func TestStore_Get_ReReadsTombstoneWhenTargetVanishes(t *testing.T) {
	e := newEnv(t)
	put(t, e.s, id("k"), object.Metadata{}, large)
	old := tombstone(t, e, id("k")).Target
	var once sync.Once
	e.hlt.Add(func(ctx context.Context, c *backendtest.Call, next func() error) error {
		if c.Op == backendtest.OpGet || c.Op == backendtest.OpHead {
			once.Do(func() {
				// The overwrite lands between the row read and the long-term read.
				s2, _ := tiered.New(e.hv, e.lt, e.log, &tiered.Options{GracePeriod: -1})
				if _, err := s2.Put(ctx, id("k"), object.Metadata{}, bytes.NewReader(large2)); err != nil {
					t.Error(err)
				}
				_ = s2.Close(ctx)
				if hasLT(e, old) {
					t.Error("setup: old revision survived")
				}
			})
		}
		return next()
	})
	if got := read(t, e.s, id("k")); !bytes.Equal(got, large2) {
		t.Fatal("reader did not follow the new tombstone")
	}
	// Head takes the same path.
	once = sync.Once{}
	put(t, e.s, id("k"), object.Metadata{}, large)
	old = tombstone(t, e, id("k")).Target
	if _, err := e.s.Head(context.Background(), id("k")); err != nil {
		t.Fatalf("head: %v", err)
	}
}

func TestStore_Get_Ranges(t *testing.T) {
	e := newEnv(t)
	small := []byte("Hello, Range Requests!")
	put(t, e.s, id("small"), object.Metadata{}, small)
	put(t, e.s, id("large"), object.Metadata{}, large)
	for _, tc := range []struct {
		key        string
		rng        object.ByteRange
		start, end int64
		total      int64
	}{
		{"small", object.Bounded(0, 4), 0, 4, 22},
		{"small", object.Last(9), 13, 21, 22},
		{"small", object.From(7), 7, 21, 22},
		{"small", object.Bounded(20, 999), 20, 21, 22},
		{"large", object.Bounded(1<<20, 1<<20+9), 1 << 20, 1<<20 + 9, int64(len(large))},
	} {
		o, err := e.s.Get(context.Background(), id(tc.key), &tc.rng)
		if err != nil {
			t.Fatalf("%s %+v: %v", tc.key, tc.rng, err)
		}
		got, _ := io.ReadAll(o.Body)
		o.Body.Close()
		src := small
		if tc.key == "large" {
			src = large
		}
		if o.Range == nil || o.Range.Start != tc.start || o.Range.End != tc.end || o.Range.Total != tc.total || !bytes.Equal(got, src[tc.start:tc.end+1]) {
			t.Errorf("%s %+v: range %+v, %d bytes", tc.key, tc.rng, o.Range, len(got))
		}
	}
	var re *object.RangeError
	_, err := e.s.Get(context.Background(), id("small"), &object.ByteRange{Start: 100, End: 200})
	if !errors.As(err, &re) || re.Total != 22 || !errors.Is(err, object.ErrRangeNotSatisfiable) {
		t.Fatalf("unsatisfiable: %v", err)
	}
}

// --- cancellation, join, memory ---

// TestStore_CancelledLargePut_CleansUpAndRemovesLogEntry: the request is cancelled after
// the long-term write finished but before the tombstone is set.
func TestStore_CancelledLargePut_CleansUpAndRemovesLogEntry(t *testing.T) {
	e := newEnv(t)
	gate := backendtest.NewGate()
	e.hlt.Add(gate.After(backendtest.OpPut))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := e.s.Put(ctx, id("k"), object.Metadata{}, bytes.NewReader(large))
		done <- err
	}()
	<-gate.Reached
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("put: %v", err)
	}
	e.settle(t) // the upload failed: recovery waits until it cannot land any more
	if e.lt.Len() != 0 {
		t.Fatalf("orphan: %v", e.lt.Keys())
	}
	expectKind(t, e, id("k"), driver.EntryNotFound)
	tieredtest.CheckEmptyLog(t, e.log, time.Now())
}

func TestStore_BrokenBody_CommitsNothing(t *testing.T) {
	e := newEnv(t)
	put(t, e.s, id("k"), object.Metadata{}, []byte("old"))
	for _, n := range []int64{10, 5 << 20} {
		_, err := e.s.Put(context.Background(), id("k"), object.Metadata{}, io.MultiReader(bytes.NewReader(large), backendtest.FailingReader(0, io.ErrUnexpectedEOF)))
		if n == 10 {
			_, err = e.s.Put(context.Background(), id("k"), object.Metadata{}, io.MultiReader(strings.NewReader("0123456789"), backendtest.FailingReader(0, io.ErrUnexpectedEOF)))
		}
		if !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("put with a broken body: %v", err)
		}
	}
	e.join(t)
	if got := read(t, e.s, id("k")); string(got) != "old" {
		t.Fatalf("stored data changed: %q", got)
	}
	if e.lt.Len() != 0 {
		t.Fatalf("partial blob kept: %v", e.lt.Keys())
	}
}

func TestStore_Close_WaitsForCleanup(t *testing.T) {
	e := newEnv(t)
	put(t, e.s, id("k"), object.Metadata{}, large)
	gate := backendtest.NewGate()
	e.hlt.Add(gate.After(backendtest.OpDelete))
	if err := e.s.Delete(context.Background(), id("k")); err != nil {
		t.Fatal(err)
	}
	<-gate.Reached // cleanup is running and paused
	closed := make(chan error, 1)
	go func() { closed <- e.s.Close(context.Background()) }()
	select {
	case err := <-closed:
		t.Fatalf("Close returned (%v) while cleanup was still running", err)
	case <-time.After(50 * time.Millisecond):
	}
	gate.Release()
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	tieredtest.CheckEmptyLog(t, e.log, time.Now())
}

func TestStore_Close_HonoursDeadline(t *testing.T) {
	e := newEnv(t)
	put(t, e.s, id("k"), object.Metadata{}, large)
	gate := backendtest.NewGate()
	defer gate.Release()
	e.hlt.Add(gate.After(backendtest.OpDelete))
	if err := e.s.Delete(context.Background(), id("k")); err != nil {
		t.Fatal(err)
	}
	<-gate.Reached
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if err := e.s.Close(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("close: %v", err)
	}
	// The abandoned cleanup left its entry for recovery.
	if len(e.log.Entries()) != 1 {
		t.Fatalf("log entries: %d", len(e.log.Entries()))
	}
}

func TestStore_GracePeriod_DelaysDeletionOfOldRevision(t *testing.T) {
	e := newEnv(t)
	s := e.store(t, &tiered.Options{GracePeriod: 200 * time.Millisecond})
	put(t, s, id("k"), object.Metadata{}, large)
	old := tombstone(t, e, id("k")).Target
	// A reader opens the old revision, then the object is overwritten.
	o, err := s.Get(context.Background(), id("k"), nil)
	if err != nil {
		t.Fatal(err)
	}
	put(t, s, id("k"), object.Metadata{}, large2)
	if !hasLT(e, old) {
		t.Fatal("old revision deleted without a grace period")
	}
	got, _ := io.ReadAll(o.Body)
	if !bytes.Equal(got, large) {
		t.Fatal("reader saw a torn value")
	}
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if hasLT(e, old) {
		t.Fatal("old revision not deleted after the grace period")
	}
}

func TestStore_DefaultGracePeriodIs30s(t *testing.T) {
	if tiered.DefaultGracePeriod != 30*time.Second {
		t.Fatal(tiered.DefaultGracePeriod)
	}
}

// TestStore_PutLarge_StreamsWithBoundedMemory streams 64 MiB through a long-term backend
// that discards what it reads, and checks how far the source ever ran ahead of the sink:
// that gap is the payload the Store holds, and it must stay about one peek (1 MiB).
func TestStore_PutLarge_StreamsWithBoundedMemory(t *testing.T) {
	e := newEnv(t)
	const total = 64 << 20
	src := &genReader{left: total}
	var sunk atomic.Int64
	var maxGap atomic.Int64
	e.hlt.Add(backendtest.Match(backendtest.OpPut, func(ctx context.Context, c *backendtest.Call, next func() error) error {
		buf := make([]byte, 32<<10)
		for {
			n, err := c.Body.Read(buf)
			sunk.Add(int64(n))
			if gap := src.produced.Load() - sunk.Load(); gap > maxGap.Load() {
				maxGap.Store(gap)
			}
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return err
			}
		}
	}))
	r, err := e.s.Put(context.Background(), id("big"), object.Metadata{}, src)
	if err != nil {
		t.Fatal(err)
	}
	if r.Backend != tiered.BackendLongTerm || r.Size != total || sunk.Load() != total {
		t.Fatalf("result %+v, sunk %d", r, sunk.Load())
	}
	if limit := int64(tiered.Threshold + 64<<10); maxGap.Load() > limit {
		t.Fatalf("the Store held up to %d bytes of payload; want at most %d", maxGap.Load(), limit)
	}
	t.Logf("peak payload held: %d bytes for a %d-byte put", maxGap.Load(), total)
}

type genReader struct {
	left     int64
	produced atomic.Int64
}

func (g *genReader) Read(p []byte) (int, error) {
	if g.left == 0 {
		return 0, io.EOF
	}
	n := min(int64(len(p)), g.left, 16<<10)
	for i := range p[:n] {
		p[i] = byte(i)
	}
	g.left -= n
	g.produced.Add(n)
	return int(n), nil
}

// --- backend call counts ---

func TestStore_CallCounts(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	put(t, e.s, id("small"), object.Metadata{}, []byte("x"))
	put(t, e.s, id("large"), object.Metadata{}, large)
	e.join(t)
	// Cleanup runs asynchronously and reads the row; keep it out of the counts.
	e.s = e.store(t, &tiered.Options{Dispatcher: dropDispatcher{}})
	cases := []struct {
		name     string
		op       func() error
		hv, lt   int
		log      int
		hvOpName string
	}{
		{"small put", func() error {
			_, err := e.s.Put(ctx, id("small"), object.Metadata{}, strings.NewReader("y"))
			return err
		}, 1, 0, 0, backendtest.OpPutNonTombstone},
		{"small get", func() error { _, err := tieredtest.ReadAll(e.s, id("small")); return err }, 1, 0, 0, backendtest.OpGetTiered},
		{"small head", func() error { _, err := e.s.Head(ctx, id("small")); return err }, 1, 0, 0, backendtest.OpGetTieredMetadata},
		{"small delete", func() error { return e.s.Delete(ctx, id("small")) }, 1, 0, 0, backendtest.OpDeleteNonTombstone},
		{"missing get", func() error { _, err := e.s.Get(ctx, id("small"), nil); return ignoreNotFound(err) }, 1, 0, 0, backendtest.OpGetTiered},
		{"large get", func() error { _, err := tieredtest.ReadAll(e.s, id("large")); return err }, 1, 1, 0, backendtest.OpGetTiered},
		{"large head", func() error { _, err := e.s.Head(ctx, id("large")); return err }, 1, 1, 0, backendtest.OpGetTieredMetadata},
	}
	for _, tc := range cases {
		e.resetCounts()
		if err := tc.op(); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if e.hhv.Total() != tc.hv || e.hhv.Count(tc.hvOpName) != tc.hv || e.hlt.Total() != tc.lt || e.hlog.Total() != tc.log {
			t.Errorf("%s: high-volume %v, long-term %v, log %v; want %d %s, %d long-term, %d log",
				tc.name, e.hhv.Counts(), e.hlt.Counts(), e.hlog.Counts(), tc.hv, tc.hvOpName, tc.lt, tc.log)
		}
	}
	// A large put: one row read, one log record, one long-term write, one CAS.
	e.resetCounts()
	put(t, e.s, id("large"), object.Metadata{}, large2)
	if e.hhv.Total() != 2 || e.hlt.Count(backendtest.OpPut) != 1 || e.hlog.Count(backendtest.OpRecord) != 1 {
		t.Errorf("large put: %v %v %v", e.hhv.Counts(), e.hlt.Counts(), e.hlog.Counts())
	}
}

func ignoreNotFound(err error) error {
	if errors.Is(err, object.ErrNotFound) {
		return nil
	}
	return err
}

// --- concurrency ---

func TestStore_ConcurrentWriters_OneValueSurvivesNoOrphans(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	payloads := make([][]byte, 16)
	for i := range payloads {
		n := 100 + i
		if i%2 == 0 {
			n = tiered.Threshold + 1 + i
		}
		payloads[i] = backendtest.RandomPayload(n)
	}
	var wg sync.WaitGroup
	for i, p := range payloads {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := e.s.Put(ctx, id("hot"), object.Metadata{}, bytes.NewReader(p)); err != nil {
				t.Errorf("writer %d: %v", i, err)
			}
		}()
	}
	wg.Wait()
	e.join(t)
	got := read(t, e.s, id("hot"))
	if !slices.ContainsFunc(payloads, func(p []byte) bool { return bytes.Equal(p, got) }) {
		t.Fatal("surviving value is none of the written ones")
	}
	tieredtest.CheckNoOrphans(t, tieredtest.Backends{HV: e.hv, LT: e.lt, Log: e.log, Objects: memObjects(e.lt)}, []object.ID{id("hot")})
	tieredtest.CheckEmptyLog(t, e.log, time.Now())
}

func memObjects(lt *membackend.LongTerm) func(context.Context) ([]string, error) {
	return func(context.Context) ([]string, error) { return lt.Keys(), nil }
}

// --- change-log leases ---

// TestStore_LeaseLostBeforeCommit_DoesNotCommit: recovery claimed the entry while the
// request was still uploading (its heartbeats failed). The request must not commit a
// tombstone to a revision the claimer may be deleting.
func TestStore_LeaseLostBeforeCommit_DoesNotCommit(t *testing.T) {
	e := newEnv(t)
	s := e.store(t, &tiered.Options{HeartbeatInterval: 10 * time.Millisecond})
	e.hlog.Add(backendtest.FailOn(backendtest.OpRefresh, 0))
	gate := backendtest.NewGate()
	e.hlt.Add(gate.After(backendtest.OpPut))
	done := make(chan error, 1)
	go func() {
		_, err := s.Put(context.Background(), id("k"), object.Metadata{}, bytes.NewReader(large))
		done <- err
	}()
	<-gate.Reached
	e.now.Advance(time.Minute) // the lease is now stale
	gate.Release()
	if err := <-done; err == nil {
		t.Fatal("put committed without a valid lease")
	}
	expectKind(t, e, id("k"), driver.EntryNotFound)
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if e.lt.Len() != 0 {
		t.Fatalf("orphan: %v", e.lt.Keys())
	}
}

func TestStore_Heartbeat_KeepsLeaseFresh(t *testing.T) {
	e := newEnv(t)
	s := e.store(t, &tiered.Options{HeartbeatInterval: 5 * time.Millisecond, StaleAfter: time.Hour})
	gate := backendtest.NewGate()
	e.hlt.Add(gate.After(backendtest.OpPut))
	done := make(chan error, 1)
	go func() {
		_, err := s.Put(context.Background(), id("k"), object.Metadata{}, bytes.NewReader(large))
		done <- err
	}()
	<-gate.Reached
	deadline := time.Now().Add(10 * time.Second)
	for e.hlog.Count(backendtest.OpRefresh) < 2 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if n := e.hlog.Count(backendtest.OpRefresh); n < 2 {
		t.Fatalf("heartbeats: %d", n)
	}
	// A recoverer looking for entries stale for more than a minute finds nothing.
	now := time.Now()
	es, err := e.log.ClaimStale(context.Background(), driver.Claim{Owner: "other", Now: now, StaleBefore: now.Add(-time.Minute), Limit: 10})
	if err != nil || len(es) != 0 {
		t.Fatalf("claimed a live entry: %v %v", es, err)
	}
	gate.Release()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestStore_Recover_SkipsFreshEntriesAndIsBounded(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	// Three large overwrites whose cleanups were lost.
	s := e.store(t, &tiered.Options{Dispatcher: dropDispatcher{}})
	for i := range 3 {
		put(t, e.s, id("k"+string(rune('a'+i))), object.Metadata{}, large2)
		put(t, s, id("k"+string(rune('a'+i))), object.Metadata{}, large)
	}
	if n := len(e.log.Entries()); n != 3 {
		t.Fatalf("entries: %d", n)
	}
	r, err := e.s.Recover(ctx, 10)
	if err != nil || r.Claimed != 0 {
		t.Fatalf("fresh entries claimed: %+v %v", r, err)
	}
	e.now.Advance(time.Minute)
	r, err = e.s.Recover(ctx, 2)
	if err != nil || r.Claimed != 2 || r.Dispatched != 2 {
		t.Fatalf("first run: %+v %v", r, err)
	}
	r, err = e.s.Recover(ctx, 2)
	if err != nil || r.Claimed != 1 {
		t.Fatalf("second run: %+v %v", r, err)
	}
	e.join(t)
	tieredtest.CheckEmptyLog(t, e.log, time.Now())
	for i := range 3 {
		if got := read(t, e.s, id("k"+string(rune('a'+i)))); !bytes.Equal(got, large) {
			t.Fatal("recovery changed committed data")
		}
	}
}

func TestStore_Recover_DispatchFailureReported(t *testing.T) {
	e := newEnv(t)
	s := e.store(t, &tiered.Options{Dispatcher: dropDispatcher{}})
	put(t, e.s, id("k"), object.Metadata{}, large2)
	put(t, s, id("k"), object.Metadata{}, large)
	e.now.Advance(time.Minute)
	s2 := e.store(t, &tiered.Options{Dispatcher: failDispatcher{}})
	r, err := s2.Recover(context.Background(), 0)
	if err == nil || r.Claimed != 1 || r.Failed != 1 {
		t.Fatalf("recover = %+v, %v", r, err)
	}
}

func TestStore_Cleanup_IsIdempotent(t *testing.T) {
	e := newEnv(t)
	var tasks []tiered.CleanupTask
	rec := &recordDispatcher{tasks: &tasks}
	s := e.store(t, &tiered.Options{Dispatcher: rec})
	put(t, s, id("k"), object.Metadata{}, large)
	put(t, s, id("k"), object.Metadata{}, large2)
	if len(tasks) != 1 { // the first put replaced nothing: its entry went without a task
		t.Fatalf("tasks: %d", len(tasks))
	}
	for range 2 { // redelivery
		for _, task := range tasks {
			if err := s.Cleanup(context.Background(), task); err != nil {
				t.Fatal(err)
			}
		}
	}
	if got := read(t, s, id("k")); !bytes.Equal(got, large2) {
		t.Fatal("redelivered cleanup damaged the live object")
	}
	if e.lt.Len() != 1 {
		t.Fatalf("long-term: %v", e.lt.Keys())
	}
	tieredtest.CheckEmptyLog(t, e.log, time.Now())
	if err := s.Cleanup(context.Background(), tiered.CleanupTask{ChangeID: "x"}); err != nil {
		t.Fatalf("cleanup of a task without an entry: %v", err)
	}
}

func TestStore_RecordFails_NoSideEffects(t *testing.T) {
	e := newEnv(t)
	e.hlog.Add(backendtest.FailOn(backendtest.OpRecord, 0))
	if _, err := e.s.Put(context.Background(), id("k"), object.Metadata{}, bytes.NewReader(large)); !errors.Is(err, backendtest.ErrInjected) {
		t.Fatalf("put: %v", err)
	}
	if e.hlt.Count(backendtest.OpPut) != 0 || e.lt.Len() != 0 {
		t.Fatal("long-term was written without a log record")
	}
}

func TestStore_New_RejectsNilBackends(t *testing.T) {
	mem := membackend.Open(nil)
	if _, err := tiered.New(nil, mem.LongTerm(), mem.ChangeLog(), nil); !errors.Is(err, object.ErrInvalidArgument) {
		t.Fatal(err)
	}
}

// longTermOnly hides every method of its backend but driver.LongTerm's.
type longTermOnly struct{ driver.LongTerm }

// TestStore_LongTermWithoutMultipart_MultipartUnimplemented: Multipart is optional. A Store
// over a LongTerm without it is built, stores and reads large objects, and answers every
// multipart operation with ErrUnimplemented.
func TestStore_LongTermWithoutMultipart_MultipartUnimplemented(t *testing.T) {
	mem := membackend.Open(nil)
	s, err := tiered.New(mem.HighVolume(), longTermOnly{mem.LongTerm()}, mem.ChangeLog(), &tiered.Options{GracePeriod: -1})
	if err != nil {
		t.Fatalf("New with a LongTerm without Multipart: %v", err)
	}
	t.Cleanup(func() { s.Close(context.Background()) })
	ctx := context.Background()
	oid := id("no-multipart")
	big := bytes.Repeat([]byte("x"), tiered.Threshold+1)
	if r, err := s.Put(ctx, oid, object.Metadata{}, bytes.NewReader(big)); err != nil || r.Backend != tiered.BackendLongTerm {
		t.Fatalf("large put: %+v, %v", r, err)
	}
	o, err := s.Get(ctx, oid, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(o.Body)
	o.Body.Close()
	if !bytes.Equal(got, big) {
		t.Fatalf("read %d bytes, want %d", len(got), len(big))
	}
	if _, err := s.InitiateMultipart(ctx, oid, object.Metadata{}); !errors.Is(err, object.ErrUnimplemented) {
		t.Errorf("InitiateMultipart: %v, want ErrUnimplemented", err)
	}
	// Any upload id: the capability is checked first.
	const u = "eyJyZXZpc2lvbiI6IngiLCJ1cGxvYWRfaWQiOiJ5In0"
	if _, err := s.UploadPart(ctx, oid, u, 1, 1, strings.NewReader("x")); !errors.Is(err, object.ErrUnimplemented) {
		t.Errorf("UploadPart: %v, want ErrUnimplemented", err)
	}
	if _, err := s.ListParts(ctx, oid, u, 0, 0); !errors.Is(err, object.ErrUnimplemented) {
		t.Errorf("ListParts: %v, want ErrUnimplemented", err)
	}
	if _, err := s.CompleteMultipart(ctx, oid, u, []object.CompletedPart{{PartNumber: 1, ETag: "e"}}); !errors.Is(err, object.ErrUnimplemented) {
		t.Errorf("CompleteMultipart: %v, want ErrUnimplemented", err)
	}
	if err := s.AbortMultipart(ctx, oid, u); !errors.Is(err, object.ErrUnimplemented) {
		t.Errorf("AbortMultipart: %v, want ErrUnimplemented", err)
	}
}

type dropDispatcher struct{}

func (dropDispatcher) Dispatch(context.Context, tiered.CleanupTask) error { return nil }
func (dropDispatcher) Close(context.Context) error                        { return nil }

type failDispatcher struct{}

func (failDispatcher) Dispatch(context.Context, tiered.CleanupTask) error {
	return errors.New("publish failed")
}
func (failDispatcher) Close(context.Context) error { return nil }

type recordDispatcher struct {
	mu    sync.Mutex
	tasks *[]tiered.CleanupTask
}

func (r *recordDispatcher) Dispatch(_ context.Context, t tiered.CleanupTask) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	*r.tasks = append(*r.tasks, t)
	return nil
}
func (r *recordDispatcher) Close(context.Context) error { return nil }

// TestStore_Get_EndlessChurn_UnavailableNot404: if every long-term read loses its race with
// an overwrite, the read gives up with a retryable error, never a 404 for an object that
// exists.
func TestStore_Get_EndlessChurn_UnavailableNot404(t *testing.T) {
	e := newEnv(t)
	put(t, e.s, id("k"), object.Metadata{}, large)
	writer, err := tiered.New(e.hv, e.lt, e.log, &tiered.Options{GracePeriod: -1, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	churn := func(ctx context.Context, c *backendtest.Call, next func() error) error {
		if _, err := writer.Put(ctx, id("k"), object.Metadata{}, bytes.NewReader(large2)); err != nil {
			return err
		}
		if err := writer.Close(ctx); err != nil { // its cleanup deletes the revision we hold
			return err
		}
		return next()
	}
	e.hlt.Add(backendtest.Match(backendtest.OpGet, churn))
	e.hlt.Add(backendtest.Match(backendtest.OpHead, churn))
	// Close drains the worker; later overwrites need a fresh one each time.
	e.hlt.Add(func(ctx context.Context, c *backendtest.Call, next func() error) error {
		writer, _ = tiered.New(e.hv, e.lt, e.log, &tiered.Options{GracePeriod: -1, Logger: quiet})
		return next()
	})
	_, err = e.s.Get(context.Background(), id("k"), nil)
	if !errors.Is(err, object.ErrUnavailable) || errors.Is(err, object.ErrNotFound) {
		t.Fatalf("get under endless churn: %v; want ErrUnavailable", err)
	}
	_, err = e.s.Head(context.Background(), id("k"))
	if !errors.Is(err, object.ErrUnavailable) || errors.Is(err, object.ErrNotFound) {
		t.Fatalf("head under endless churn: %v; want ErrUnavailable", err)
	}
}

// TestStore_GracePeriod_OnlyWhenSomethingReadableGoes: a large put to a new key replaces
// nothing, so its cleanup has nothing to wait for; only a replaced revision waits.
func TestStore_GracePeriod_OnlyWhenSomethingReadableGoes(t *testing.T) {
	e := newEnv(t)
	var tasks []tiered.CleanupTask
	s := e.store(t, &tiered.Options{GracePeriod: time.Hour, Dispatcher: &recordDispatcher{tasks: &tasks}})
	put(t, s, id("k"), object.Metadata{}, large) // new key: nothing readable replaced
	if len(tasks) != 0 || len(e.log.Entries()) != 0 {
		t.Errorf("the first put left %d tasks and %d entries with nothing to delete", len(tasks), len(e.log.Entries()))
	}
	put(t, s, id("k"), object.Metadata{}, large2) // replaces the first revision
	if len(tasks) != 1 {
		t.Fatalf("tasks: %d", len(tasks))
	}
	en, err := e.log.Get(context.Background(), tasks[0].ChangeID)
	if err != nil {
		t.Fatal(err)
	}
	if en.Phase != tiered.PhaseUpdated {
		t.Errorf("phase %s, want updated", en.Phase)
	}
	if wait := en.NotBefore.Sub(e.now.Now()); wait < 59*time.Minute {
		t.Errorf("the overwrite's cleanup waits only %v, want the grace period", wait)
	}
	if err := s.Cleanup(context.Background(), tasks[0]); !errors.Is(err, tiered.ErrNotDue) {
		t.Errorf("cleanup before the grace period ended: %v, want ErrNotDue", err)
	}
}
