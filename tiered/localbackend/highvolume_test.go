package localbackend

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stratastore/strata/tiered/driver"
	"github.com/stratastore/strata/tiered/object"
)

func TestHighVolume_ExpiredRow_AbsentEverywhere(t *testing.T) {
	clk := newClock()
	b := openTest(t, &Options{Now: clk.Now})
	hv := b.HighVolume()
	ctx := t.Context()
	obj, tomb := testID("obj"), testID("tomb")
	md := object.Metadata{ExpirationPolicy: object.TTL(time.Minute), TimeExpires: clk.Now().Add(time.Minute), Size: 1}
	if ts, err := hv.PutNonTombstone(ctx, obj, md, []byte("x")); err != nil || ts != nil {
		t.Fatalf("PutNonTombstone: %v, %v", ts, err)
	}
	target := testID("tomb/rev1")
	ok, err := hv.CompareAndWrite(ctx, tomb, nil, driver.Write{Kind: driver.WriteTombstone, Tombstone: driver.Tombstone{Target: target, ExpirationPolicy: object.TTL(time.Minute)}})
	if err != nil || !ok {
		t.Fatalf("CompareAndWrite tombstone: %v, %v", ok, err)
	}
	e, err := hv.GetTieredMetadata(ctx, tomb)
	if err != nil || e.Kind != driver.EntryTombstone || !e.Tombstone.Expires.Equal(clk.Now().Add(time.Minute)) {
		t.Fatalf("tombstone before expiry: %+v, %v (want Expires now+1m)", e, err)
	}

	clk.Add(time.Minute + time.Nanosecond)
	for _, id := range []object.ID{obj, tomb} {
		e, err := hv.GetTiered(ctx, id)
		if err != nil || e.Kind != driver.EntryNotFound {
			t.Fatalf("GetTiered %s after expiry: %+v, %v", id.Key, e, err)
		}
	}
	// The expired tombstone no longer blocks inline writes, and a predicate naming it fails.
	other := driver.Write{Kind: driver.WriteTombstone, Tombstone: driver.Tombstone{Target: testID("tomb/rev2")}}
	if ok, err := hv.CompareAndWrite(ctx, tomb, &target, other); err != nil || ok {
		t.Fatalf("CAS naming the expired tombstone's target: %v, %v; want false", ok, err)
	}
	if e, err := hv.GetTiered(ctx, tomb); err != nil || e.Kind != driver.EntryNotFound {
		t.Fatalf("a failed CAS wrote: %+v, %v", e, err)
	}
	if ts, err := hv.DeleteNonTombstone(ctx, tomb); err != nil || ts != nil {
		t.Fatalf("DeleteNonTombstone on expired tombstone: %v, %v", ts, err)
	}
	rows, index := rawCounts(t, b)
	if rows != 1 || index != 1 {
		t.Fatalf("after deleting the expired tombstone: %d rows, %d index entries; want 1, 1", rows, index)
	}
}

func TestHighVolume_TTIBump_IsDurableAndForwardOnly(t *testing.T) {
	clk := newClock()
	dir := t.TempDir()
	b, err := Open(context.Background(), dir, &Options{Now: clk.Now, SweepInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	hv := b.HighVolume()
	ctx := t.Context()
	id := testID("tti")
	exp0 := clk.Now().Add(time.Hour)
	md := object.Metadata{ExpirationPolicy: object.TTI(time.Hour), TimeExpires: exp0, Size: 3}
	if _, err := hv.PutNonTombstone(ctx, id, md, []byte("abc")); err != nil {
		t.Fatal(err)
	}
	bumps := 0
	hv.SetBeforeBump(func(object.ID) { bumps++ })
	// Inside the debounce (15 min): no bump.
	clk.Add(10 * time.Minute)
	if e, err := hv.GetTiered(ctx, id); err != nil || !e.Metadata.TimeExpires.Equal(exp0) {
		t.Fatalf("GetTiered: %+v, %v", e, err)
	}
	if bumps != 0 {
		t.Fatalf("bumped inside the debounce window")
	}
	clk.Add(20 * time.Minute)
	e, err := hv.GetTiered(ctx, id)
	if err != nil || !e.Metadata.TimeExpires.Equal(exp0) || !bytes.Equal(e.Payload, []byte("abc")) {
		t.Fatalf("GetTiered must return pre-bump metadata: %+v, %v", e, err)
	}
	if bumps != 1 {
		t.Fatalf("bumps = %d, want 1", bumps)
	}
	want := clk.Now().Add(time.Hour)
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	b, err = Open(context.Background(), dir, &Options{Now: clk.Now, SweepInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	e, err = b.HighVolume().GetTieredMetadata(ctx, id)
	if err != nil || !e.Metadata.TimeExpires.Equal(want) {
		t.Fatalf("after reopen: TimeExpires %v, %v; want bumped %v", e.Metadata.TimeExpires, err, want)
	}
	// The row's deadline moved too: it is alive past the original deadline.
	clk.Add(45 * time.Minute) // 75 min after the put, 45 after the bump
	if e, err := b.HighVolume().GetTieredMetadata(ctx, id); err != nil || e.Kind != driver.EntryObject {
		t.Fatalf("past the original deadline: %+v, %v; want alive", e, err)
	}
	if _, index := rawCounts(t, b); index != 1 {
		t.Fatalf("index entries = %d, want 1 (old deadline replaced)", index)
	}
}

func TestHighVolume_TTIBump_LosesToConcurrentDelete(t *testing.T) {
	clk := newClock()
	b := openTest(t, &Options{Now: clk.Now})
	hv := b.HighVolume()
	ctx := t.Context()
	id := testID("tti-del")
	md := object.Metadata{ExpirationPolicy: object.TTI(time.Hour), TimeExpires: clk.Now().Add(time.Hour)}
	if _, err := hv.PutNonTombstone(ctx, id, md, []byte("abc")); err != nil {
		t.Fatal(err)
	}
	clk.Add(30 * time.Minute)
	hv.SetBeforeBump(func(id object.ID) {
		if ts, err := hv.DeleteNonTombstone(ctx, id); err != nil || ts != nil {
			t.Errorf("DeleteNonTombstone in seam: %v, %v", ts, err)
		}
	})
	if e, err := hv.GetTiered(ctx, id); err != nil || e.Kind != driver.EntryObject {
		t.Fatalf("GetTiered: %+v, %v", e, err)
	}
	hv.SetBeforeBump(nil)
	if e, err := hv.GetTiered(ctx, id); err != nil || e.Kind != driver.EntryNotFound {
		t.Fatalf("bump resurrected a deleted row: %+v, %v", e, err)
	}
	if rows, index := rawCounts(t, b); rows != 0 || index != 0 {
		t.Fatalf("rows %d, index %d; want 0, 0", rows, index)
	}
}

func TestHighVolume_CompareAndWrite_Matrix(t *testing.T) {
	a, c := testID("k/rev-a"), testID("k/rev-c")
	obj := driver.Write{Kind: driver.WriteObject, Metadata: object.Metadata{Size: 1}, Payload: []byte("o")}
	tombA := driver.Write{Kind: driver.WriteTombstone, Tombstone: driver.Tombstone{Target: a}}
	tombC := driver.Write{Kind: driver.WriteTombstone, Tombstone: driver.Tombstone{Target: c}}
	del := driver.Write{Kind: driver.WriteDelete}
	type state int
	const (
		absent state = iota
		inline
		tombstoneA
	)
	for _, tc := range []struct {
		name    string
		initial state
		current *object.ID
		w       driver.Write
		want    bool
		after   driver.EntryKind
		target  *object.ID
	}{
		{"absent, nil, tombstone", absent, nil, tombA, true, driver.EntryTombstone, &a},
		{"absent, nil, object", absent, nil, obj, true, driver.EntryObject, nil},
		{"absent, nil, delete", absent, nil, del, true, driver.EntryNotFound, nil},
		{"absent, a, tombstone c", absent, &a, tombC, false, driver.EntryNotFound, nil},
		{"absent, a, delete (already in target state)", absent, &a, del, true, driver.EntryNotFound, nil},
		// The predicate fails, but the row already has no live tombstone: true, nothing written.
		{"absent, a, object (no live tombstone)", absent, &a, obj, true, driver.EntryNotFound, nil},
		{"object, nil, tombstone", inline, nil, tombA, true, driver.EntryTombstone, &a},
		{"object, nil, delete", inline, nil, del, true, driver.EntryNotFound, nil},
		{"object, a, tombstone c", inline, &a, tombC, false, driver.EntryObject, nil},
		{"tombstone a, a, tombstone c", tombstoneA, &a, tombC, true, driver.EntryTombstone, &c},
		{"tombstone a, a, object", tombstoneA, &a, obj, true, driver.EntryObject, nil},
		{"tombstone a, a, delete", tombstoneA, &a, del, true, driver.EntryNotFound, nil},
		{"tombstone a, nil, tombstone a (retry)", tombstoneA, nil, tombA, true, driver.EntryTombstone, &a},
		{"tombstone a, c, tombstone a (retry)", tombstoneA, &c, tombA, true, driver.EntryTombstone, &a},
		{"tombstone a, nil, tombstone c", tombstoneA, nil, tombC, false, driver.EntryTombstone, &a},
		{"tombstone a, nil, object", tombstoneA, nil, obj, false, driver.EntryTombstone, &a},
		{"tombstone a, c, delete", tombstoneA, &c, del, false, driver.EntryTombstone, &a},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hv := openTest(t, nil).HighVolume()
			ctx := t.Context()
			id := testID("k")
			switch tc.initial {
			case inline:
				if _, err := hv.PutNonTombstone(ctx, id, object.Metadata{Size: 1}, []byte("i")); err != nil {
					t.Fatal(err)
				}
			case tombstoneA:
				if ok, err := hv.CompareAndWrite(ctx, id, nil, tombA); err != nil || !ok {
					t.Fatal(ok, err)
				}
			}
			ok, err := hv.CompareAndWrite(ctx, id, tc.current, tc.w)
			if err != nil || ok != tc.want {
				t.Fatalf("CompareAndWrite = %v, %v; want %v", ok, err, tc.want)
			}
			e, err := hv.GetTiered(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if e.Kind != tc.after {
				t.Fatalf("row kind %v, want %v", e.Kind, tc.after)
			}
			if tc.target != nil && !e.Tombstone.Target.Equal(*tc.target) {
				t.Fatalf("tombstone target %s, want %s", e.Tombstone.Target, tc.target)
			}
		})
	}
}

func TestHighVolume_CompareAndWrite_DeadlineOnBackendClock(t *testing.T) {
	// The fake clock is far behind the wall clock, so these deadlines only mean anything on
	// the backend's clock. A write at its deadline ("reads Deadline or later") fails.
	clk := newClock()
	b := openTest(t, &Options{Now: clk.Now})
	hv := b.HighVolume()
	ctx := t.Context()
	id := testID("deadline")
	target := testID("deadline/rev1")
	w := driver.Write{Kind: driver.WriteTombstone, Tombstone: driver.Tombstone{Target: target, ExpirationPolicy: object.TTL(time.Hour)}}
	w.Deadline = clk.Now()
	if ok, err := hv.CompareAndWrite(ctx, id, nil, w); !errors.Is(err, object.ErrUnavailable) {
		t.Fatalf("CompareAndWrite at its deadline = %v, %v; want ErrUnavailable", ok, err)
	}
	if rows, index := rawCounts(t, b); rows != 0 || index != 0 {
		t.Fatalf("a write at its deadline stored %d rows, %d index entries", rows, index)
	}
	w.Deadline = clk.Now().Add(time.Nanosecond)
	if ok, err := hv.CompareAndWrite(ctx, id, nil, w); err != nil || !ok {
		t.Fatalf("CompareAndWrite a nanosecond before its deadline = %v, %v; want true", ok, err)
	}

	// The clock is read in the transaction, not when the call is made: a write that waits
	// in the commit queue past its deadline does not apply.
	var once sync.Once
	late := func(int) { once.Do(func() { clk.Add(time.Minute) }) }
	b.beforeCommit.Store(&late)
	del := driver.Write{Kind: driver.WriteDelete, Deadline: clk.Now().Add(30 * time.Second)}
	if ok, err := hv.CompareAndWrite(ctx, id, &target, del); !errors.Is(err, object.ErrUnavailable) {
		t.Fatalf("delete whose deadline passed while queued = %v, %v; want ErrUnavailable", ok, err)
	}
	b.beforeCommit.Store(nil)
	e, err := hv.GetTieredMetadata(ctx, id)
	if err != nil || e.Kind != driver.EntryTombstone || !e.Tombstone.Target.Equal(target) {
		t.Fatalf("row after the late delete: %+v, %v; want the tombstone", e, err)
	}
}
