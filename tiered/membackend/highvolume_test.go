package membackend_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stratastore/strata/tiered/backendtest"
	"github.com/stratastore/strata/tiered/driver"
	"github.com/stratastore/strata/tiered/membackend"
	"github.com/stratastore/strata/tiered/object"
)

// fakeClock is a settable clock for Options.Now.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock { return &fakeClock{t: time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func rev(id object.ID, n int) object.ID {
	id.Key += "/rev-" + strconv.Itoa(n)
	return id
}

func tombstoneWrite(target object.ID, p object.ExpirationPolicy) driver.Write {
	return driver.Write{Kind: driver.WriteTombstone, Tombstone: driver.Tombstone{Target: target, ExpirationPolicy: p}}
}

func TestHighVolume_Entry_ShowsExpiredRows(t *testing.T) {
	clk := newClock()
	hv := membackend.Open(&membackend.Options{Now: clk.Now}).HighVolume()
	ctx := t.Context()
	obj := backendtest.NewID(t, "obj")
	md := object.Metadata{ExpirationPolicy: object.TTL(time.Minute), TimeExpires: clk.Now().Add(time.Minute)}
	if _, err := hv.PutNonTombstone(ctx, obj, md, []byte("payload")); err != nil {
		t.Fatal(err)
	}
	tomb := backendtest.NewID(t, "tomb")
	if ok, err := hv.CompareAndWrite(ctx, tomb, nil, tombstoneWrite(rev(tomb, 1), object.TTL(time.Minute))); err != nil || !ok {
		t.Fatalf("CompareAndWrite = %v, %v", ok, err)
	}
	clk.Advance(time.Minute + time.Nanosecond)

	for _, id := range []object.ID{obj, tomb} {
		if e, err := hv.GetTiered(ctx, id); err != nil || e.Kind != driver.EntryNotFound {
			t.Errorf("GetTiered(%s) of an expired row = %v, %v; want EntryNotFound", id.Key, e.Kind, err)
		}
	}
	e, ok := hv.Entry(obj)
	if !ok || e.Kind != driver.EntryObject || string(e.Payload) != "payload" {
		t.Errorf("Entry(obj) = %+v, %v; want the expired object with its payload", e, ok)
	}
	e, ok = hv.Entry(tomb)
	if !ok || e.Kind != driver.EntryTombstone || !e.Tombstone.Target.Equal(rev(tomb, 1)) {
		t.Errorf("Entry(tomb) = %+v, %v; want the expired tombstone", e, ok)
	}
	if _, ok := hv.Entry(backendtest.NewID(t, "missing")); ok {
		t.Error("Entry of a missing row reports ok")
	}
	if n := hv.Len(); n != 2 {
		t.Errorf("Len = %d, want 2 (expired rows count)", n)
	}
	// An expired row is replaced by a write and removed by a delete.
	if _, err := hv.DeleteNonTombstone(ctx, tomb); err != nil {
		t.Fatal(err)
	}
	if n := hv.Len(); n != 1 {
		t.Errorf("Len after deleting the expired tombstone = %d, want 1", n)
	}
}

func TestHighVolume_Size_IsPayloadLength(t *testing.T) {
	hv := membackend.Open(nil).HighVolume()
	ctx := t.Context()
	for _, tc := range []struct {
		name    string
		given   int64
		payload []byte
	}{
		{"unknown size", -1, []byte("abc")},
		{"wrong size", 99, []byte("abcd")},
		{"empty", 5, nil},
	} {
		id := backendtest.NewID(t, tc.name)
		if _, err := hv.PutNonTombstone(ctx, id, object.Metadata{Size: tc.given}, tc.payload); err != nil {
			t.Fatal(err)
		}
		e, err := hv.GetTieredMetadata(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if e.Metadata.Size != int64(len(tc.payload)) {
			t.Errorf("%s: Size %d, want %d", tc.name, e.Metadata.Size, len(tc.payload))
		}
	}
}

func TestHighVolume_TombstoneExpires_IsWriteTimePlusDuration(t *testing.T) {
	clk := newClock()
	hv := membackend.Open(&membackend.Options{Now: clk.Now}).HighVolume()
	ctx := t.Context()
	id := backendtest.NewID(t, "k")
	// The caller's Expires is ignored: the backend computes it.
	w := tombstoneWrite(rev(id, 1), object.TTL(time.Hour))
	w.Tombstone.Expires = clk.Now().Add(-time.Hour)
	if ok, err := hv.CompareAndWrite(ctx, id, nil, w); err != nil || !ok {
		t.Fatalf("CompareAndWrite = %v, %v", ok, err)
	}
	e, _ := hv.GetTieredMetadata(ctx, id)
	if want := clk.Now().Add(time.Hour); !e.Tombstone.Expires.Equal(want) {
		t.Errorf("Expires %s, want %s", e.Tombstone.Expires, want)
	}
	// The idempotent retry re-applies the write, like Bigtable's predicates: the deadline
	// restarts from the retry.
	clk.Advance(10 * time.Minute)
	if ok, err := hv.CompareAndWrite(ctx, id, nil, w); err != nil || !ok {
		t.Fatalf("retry = %v, %v", ok, err)
	}
	e, _ = hv.GetTieredMetadata(ctx, id)
	if want := clk.Now().Add(time.Hour); !e.Tombstone.Expires.Equal(want) {
		t.Errorf("Expires after retry %s, want %s", e.Tombstone.Expires, want)
	}
}

func TestHighVolume_CompareAndWrite_ReappliesObjectWhenNoTombstone(t *testing.T) {
	// current != nil and no live tombstone: the write is re-applied, so it replaces whatever
	// inline object is there (storage-internals §14.3: accepted as last writer wins).
	hv := membackend.Open(nil).HighVolume()
	ctx := t.Context()
	id := backendtest.NewID(t, "k")
	if _, err := hv.PutNonTombstone(ctx, id, object.Metadata{}, []byte("newer object")); err != nil {
		t.Fatal(err)
	}
	old := rev(id, 1)
	ok, err := hv.CompareAndWrite(ctx, id, &old, driver.Write{Kind: driver.WriteObject, Payload: []byte("late retry")})
	if err != nil || !ok {
		t.Fatalf("CompareAndWrite = %v, %v; want true", ok, err)
	}
	if e, _ := hv.GetTiered(ctx, id); string(e.Payload) != "late retry" {
		t.Errorf("payload %q, want the re-applied write", e.Payload)
	}
}

func TestHighVolume_CompareAndWrite_UnknownKind(t *testing.T) {
	hv := membackend.Open(nil).HighVolume()
	id := backendtest.NewID(t, "k")
	ok, err := hv.CompareAndWrite(t.Context(), id, nil, driver.Write{Kind: 42})
	if ok || !errors.Is(err, object.ErrInvalidArgument) {
		t.Errorf("CompareAndWrite with an unknown kind = %v, %v; want false, ErrInvalidArgument", ok, err)
	}
	if hv.Len() != 0 {
		t.Error("an invalid write changed the store")
	}
}

func TestHighVolume_TTIBump_ExactDeadline(t *testing.T) {
	clk := newClock()
	hv := membackend.Open(&membackend.Options{Now: clk.Now}).HighVolume()
	ctx := t.Context()
	id := backendtest.NewID(t, "k")
	md := object.Metadata{ExpirationPolicy: object.TTI(time.Hour), TimeExpires: clk.Now().Add(time.Hour)}
	if _, err := hv.PutNonTombstone(ctx, id, md, []byte("x")); err != nil {
		t.Fatal(err)
	}
	var bumps int
	hv.SetBeforeBump(func(object.ID) { bumps++ })
	// Within the debounce (tti/4 = 15 min): no bump.
	clk.Advance(15 * time.Minute)
	if _, err := hv.GetTiered(ctx, id); err != nil {
		t.Fatal(err)
	}
	if bumps != 0 {
		t.Fatalf("bumped %d times within the debounce", bumps)
	}
	clk.Advance(time.Nanosecond)
	if _, err := hv.GetTieredMetadata(ctx, id); err != nil {
		t.Fatal(err)
	}
	e, _ := hv.Entry(id)
	if want := clk.Now().Add(time.Hour); bumps != 1 || !e.Metadata.TimeExpires.Equal(want) {
		t.Errorf("after %d bumps TimeExpires %s, want 1 bump to %s", bumps, e.Metadata.TimeExpires, want)
	}
}

func TestHighVolume_TTIBump_SkippedWhenRowExpiresBeforeBump(t *testing.T) {
	clk := newClock()
	hv := membackend.Open(&membackend.Options{Now: clk.Now}).HighVolume()
	ctx := t.Context()
	id := backendtest.NewID(t, "k")
	deadline := clk.Now().Add(time.Minute)
	md := object.Metadata{ExpirationPolicy: object.TTI(time.Hour), TimeExpires: deadline}
	if _, err := hv.PutNonTombstone(ctx, id, md, []byte("x")); err != nil {
		t.Fatal(err)
	}
	// The deadline passes between the read and the bump: the bump must not revive the row.
	hv.SetBeforeBump(func(object.ID) { clk.Advance(2 * time.Minute) })
	e, err := hv.GetTiered(ctx, id)
	if err != nil || e.Kind != driver.EntryObject {
		t.Fatalf("GetTiered = %v, %v; want the object as read", e.Kind, err)
	}
	hv.SetBeforeBump(nil)
	if e, _ := hv.GetTiered(ctx, id); e.Kind != driver.EntryNotFound {
		t.Errorf("row is %v after its deadline passed; a late bump revived it", e.Kind)
	}
	if raw, _ := hv.Entry(id); !raw.Metadata.TimeExpires.Equal(deadline) {
		t.Errorf("raw deadline %s, want the unbumped %s", raw.Metadata.TimeExpires, deadline)
	}
}

func TestHighVolume_CancelledContext(t *testing.T) {
	hv := membackend.Open(nil).HighVolume()
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	id := backendtest.NewID(t, "k")
	if _, err := hv.PutNonTombstone(ctx, id, object.Metadata{}, []byte("x")); !errors.Is(err, context.Canceled) {
		t.Errorf("PutNonTombstone: %v, want context.Canceled", err)
	}
	if _, err := hv.GetTiered(ctx, id); !errors.Is(err, context.Canceled) {
		t.Errorf("GetTiered: %v, want context.Canceled", err)
	}
	if _, err := hv.CompareAndWrite(ctx, id, nil, driver.Write{Kind: driver.WriteDelete}); !errors.Is(err, context.Canceled) {
		t.Errorf("CompareAndWrite: %v, want context.Canceled", err)
	}
	if hv.Len() != 0 {
		t.Error("a cancelled call wrote a row")
	}
}

// TestHighVolume_ConcurrentMixedOps_ReadsNeverMixVersions hammers a few TTI keys with
// writes, swaps, deletes and bumping reads, and checks every read returns one consistent
// version: the payload names the metadata it was written with. Run it with -race.
func TestHighVolume_ConcurrentMixedOps_ReadsNeverMixVersions(t *testing.T) {
	clk := newClock()
	hv := membackend.Open(&membackend.Options{Now: clk.Now}).HighVolume()
	ctx := t.Context()
	const workers, ops, keys = 8, 300, 3
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(w), 1))
			for i := range ops {
				id := backendtest.NewID(t, fmt.Sprintf("k%d", r.IntN(keys)))
				marker := fmt.Sprintf("w%d-op%d", w, i)
				md := object.Metadata{
					ExpirationPolicy: object.TTI(time.Hour),
					TimeExpires:      clk.Now().Add(time.Minute), // always due for a bump
					Custom:           map[string]string{"marker": marker},
				}
				var err error
				switch r.IntN(6) {
				case 0:
					_, err = hv.PutNonTombstone(ctx, id, md, []byte(marker))
				case 1:
					_, err = hv.CompareAndWrite(ctx, id, nil, tombstoneWrite(rev(id, i), object.TTI(time.Hour)))
				case 2:
					_, err = hv.DeleteNonTombstone(ctx, id)
				case 3:
					var e driver.Entry
					if e, err = hv.GetTieredMetadata(ctx, id); err == nil && e.Kind == driver.EntryTombstone {
						cur := e.Tombstone.Target
						_, err = hv.CompareAndWrite(ctx, id, &cur, driver.Write{Kind: driver.WriteObject, Metadata: md, Payload: []byte(marker)})
					}
				default:
					var e driver.Entry
					if e, err = hv.GetTiered(ctx, id); err == nil && e.Kind == driver.EntryObject {
						if got := e.Metadata.Custom["marker"]; got != string(e.Payload) || e.Metadata.Size != int64(len(e.Payload)) {
							err = fmt.Errorf("read mixed versions: metadata %q (size %d), payload %q", got, e.Metadata.Size, e.Payload)
						}
					}
				}
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestHighVolume_CompareAndWrite_DeadlineOnBackendClock(t *testing.T) {
	// The fake clock is far behind the wall clock: a deadline just after it applies, so the
	// backend reads its own clock, and one equal to it ("reads Deadline or later") does not.
	clk := newClock()
	hv := membackend.Open(&membackend.Options{Now: clk.Now}).HighVolume()
	ctx := t.Context()
	id := backendtest.NewID(t, "deadline")
	w := tombstoneWrite(rev(id, 1), object.TTL(time.Hour))
	w.Deadline = clk.Now()
	if ok, err := hv.CompareAndWrite(ctx, id, nil, w); !errors.Is(err, object.ErrUnavailable) {
		t.Fatalf("CompareAndWrite at its deadline = %v, %v; want ErrUnavailable", ok, err)
	}
	if _, ok := hv.Entry(id); ok {
		t.Fatal("a write at its deadline was applied")
	}
	w.Deadline = clk.Now().Add(time.Nanosecond)
	if ok, err := hv.CompareAndWrite(ctx, id, nil, w); err != nil || !ok {
		t.Fatalf("CompareAndWrite a nanosecond before its deadline = %v, %v; want true", ok, err)
	}
	clk.Advance(time.Nanosecond)
	del := driver.Write{Kind: driver.WriteDelete, Deadline: w.Deadline}
	target := rev(id, 1)
	if ok, err := hv.CompareAndWrite(ctx, id, &target, del); !errors.Is(err, object.ErrUnavailable) {
		t.Fatalf("delete once the clock reached its deadline = %v, %v; want ErrUnavailable", ok, err)
	}
	if e, ok := hv.Entry(id); !ok || e.Kind != driver.EntryTombstone {
		t.Fatalf("row after a delete past its deadline: %+v, %v; want the tombstone", e, ok)
	}
}
