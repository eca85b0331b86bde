package backendtest

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stratastore/strata/tiered/driver"
	"github.com/stratastore/strata/tiered/object"
)

// The race scenarios of the HighVolume contract, as tables: a TTI bump racing a concurrent
// write (it must never revert or alter that write), and concurrent compare-and-writes (exactly
// one wins; rows never mix versions).

// hvReader is one of the two reads that bump a due TTI deadline.
type hvReader struct {
	name string
	// payload reports whether the read returns the payload.
	payload bool
	read    func(b driver.HighVolume, ctx context.Context, id object.ID) (driver.Entry, error)
}

var hvReaders = []hvReader{
	{"GetTiered", true, driver.HighVolume.GetTiered},
	{"GetTieredMetadata", false, driver.HighVolume.GetTieredMetadata},
}

// readWith reads id with r, failing the test on an error.
func (h hv) readWith(r hvReader, id object.ID) driver.Entry {
	h.t.Helper()
	e, err := r.read(h.b, h.t.Context(), id)
	if err != nil {
		h.t.Fatalf("%s(%s): %v", r.name, id.Key, err)
	}
	return e
}

// dueRow is the row a bump race starts from: a TTI row that the read finds due for a bump.
type dueRow string

const (
	// dueObject: an inline object, TTI 1 h, expiring in a minute (put by setupDueObject).
	dueObject dueRow = "Object"
	// dueTombstone: a tombstone to revision 1, TTI 4 s, written 1.75 s before the read (the
	// backend sets its deadline; see hvTTIBumpTombstone).
	dueTombstone dueRow = "Tombstone"
)

// A bumpRace is one write that lands inside the before-bump hook: after a read decided to
// bump the due row, before the bump is written. The bump must lose: want is the only
// allowed outcome, the concurrent write exactly as written.
type bumpRace struct {
	name  string
	row   dueRow
	write func(h hv, id object.ID)
	want  func(h hv, id object.ID)
}

// bumpRaces returns the scenarios. Each concurrent write is a version that a leaked bump
// would visibly alter: a TTL object 50 minutes out (a bump would move it to about an hour),
// a TTL tombstone two hours out, or nothing.
func bumpRaces() []bumpRace {
	racePayload := []byte("the concurrent write")
	raceMD := smallMetadata("concurrent", len(racePayload))
	raceMD.ExpirationPolicy = object.TTL(time.Hour)
	raceMD.TimeExpires = Millis(time.Now().Add(50 * time.Minute))
	raceTombstone := func(id object.ID) driver.Write {
		return tombWrite(revision(id, 2), object.TTL(2*time.Hour))
	}

	// The concurrent writers. A due object has no live tombstone (current nil); a due
	// tombstone points to revision 1.
	put := func(h hv, id object.ID) {
		if ts, err := h.b.PutNonTombstone(h.t.Context(), id, raceMD, racePayload); err != nil || ts != nil {
			h.t.Errorf("PutNonTombstone inside the hook = %v, %v", ts, err)
		}
	}
	cas := func(fromTombstone bool, w func(id object.ID) driver.Write) func(h hv, id object.ID) {
		return func(h hv, id object.ID) {
			var current *object.ID
			if fromTombstone {
				current = ptr(revision(id, 1))
			}
			if ok, err := h.b.CompareAndWrite(h.t.Context(), id, current, w(id)); err != nil || !ok {
				h.t.Errorf("CompareAndWrite(%s) inside the hook = %v, %v", writeKindName(w(id).Kind), ok, err)
			}
		}
	}
	toObject := func(object.ID) driver.Write { return objWrite(raceMD, racePayload) }
	toDelete := func(object.ID) driver.Write { return deleteWrite }

	// The allowed outcomes.
	wantObject := func(h hv, id object.ID) {
		expectObject(h.t, "row after the race", h.get(id), raceMD, racePayload)
		expectObject(h.t, "metadata after the race", h.getMeta(id), raceMD, nil)
	}
	wantTombstone := func(h hv, id object.ID) {
		e := h.get(id)
		expectTombstone(h.t, "row after the race", e, revision(id, 2), object.TTL(2*time.Hour))
		if e.Tombstone.Expires.Before(time.Now().Add(90 * time.Minute)) {
			h.t.Errorf("tombstone Expires %s was altered by the bump", fmtTime(e.Tombstone.Expires))
		}
	}
	wantGone := func(h hv, id object.ID) { expectNotFound(h.t, "row after the race", h.get(id)) }

	return []bumpRace{
		{name: "Overwrite", row: dueObject, write: put, want: wantObject},
		{name: "TombstoneSwap", row: dueObject, write: cas(false, raceTombstone), want: wantTombstone},
		{name: "Delete", row: dueObject, write: cas(false, toDelete), want: wantGone},
		{name: "TombstoneSwap", row: dueTombstone, write: cas(true, raceTombstone), want: wantTombstone},
		{name: "Object", row: dueTombstone, write: cas(true, toObject), want: wantObject},
		{name: "Delete", row: dueTombstone, write: cas(true, toDelete), want: wantGone},
	}
}

func writeKindName(k driver.WriteKind) string {
	switch k {
	case driver.WriteObject:
		return "object"
	case driver.WriteTombstone:
		return "tombstone"
	case driver.WriteDelete:
		return "delete"
	}
	return fmt.Sprintf("WriteKind(%d)", k)
}

// runBumpRace reads id, a row due for a bump, with r while rc.write lands in the before-bump
// hook. The read must succeed and return the version it read (checked by wantRead); then the
// row must be exactly rc's write.
func runBumpRace(h hv, r hvReader, id object.ID, rc bumpRace, wantRead func(e driver.Entry)) {
	t := h.t
	t.Helper()
	bi, ok := h.b.(BumpInterceptor)
	if !ok {
		t.Fatal("backend does not implement backendtest.BumpInterceptor")
	}
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
	e, err := r.read(h.b, t.Context(), id)
	bi.SetBeforeBump(nil)
	if err != nil {
		t.Fatalf("%s failed when its bump lost: %v", r.name, err)
	}
	if n := calls.Load(); n != 1 {
		t.Fatalf("before-bump hook ran %d times, want 1 (the read must decide to bump a due TTI %s)", n, rc.row)
	}
	wantRead(e)
	rc.want(h, id)
}

// hvBumpRace runs the races on a due object, each on a fresh backend. The races on a due
// tombstone run in hvTTIBumpTombstone, which shares one wait among them.
func hvBumpRace(t *testing.T, open func(t *testing.T) driver.HighVolume) {
	for _, r := range hvReaders {
		for _, rc := range bumpRaces() {
			if rc.row != dueObject {
				continue
			}
			t.Run("TTIBump/LosesToConcurrentWrite/Object/"+r.name+"/"+rc.name, func(t *testing.T) {
				h := openHV(t, open)
				id := NewID(t, "bump-race")
				payload := []byte("the version that was read")
				md := smallMetadata("read", len(payload))
				md.ExpirationPolicy = object.TTI(time.Hour)
				md.TimeExpires = Millis(time.Now().Add(time.Minute))
				h.put(id, md, payload)
				if !r.payload {
					payload = nil
				}
				runBumpRace(h, r, id, rc, func(e driver.Entry) {
					expectObject(t, r.name+" (the version it read, pre-bump)", e, md, payload)
				})
			})
		}
	}
}

// A casRace is concurrent compare-and-writes of distinct tombstones from one initial state:
// exactly one must win, and the row must be the winner's.
type casRace struct {
	name string
	// setup writes the initial state and returns the current every writer expects.
	setup func(h hv, id object.ID) *object.ID
}

var casRaces = []casRace{
	{"SwapFromSameCurrent", func(h hv, id object.ID) *object.ID {
		a := revision(id, 1)
		h.tombstone(id, a, object.TTL(time.Hour))
		return &a
	}},
	{"CreateOnEmpty", func(hv, object.ID) *object.ID { return nil }},
}

// hvConcurrency checks that CompareAndWrite is atomic under concurrent writers, and that row
// writes replace the whole row.
func hvConcurrency(t *testing.T, open func(t *testing.T) driver.HighVolume) {
	const writers = 16
	for _, rc := range casRaces {
		t.Run("CompareAndWrite/Concurrent/"+rc.name, func(t *testing.T) {
			h := openHV(t, open)
			id := NewID(t, "concurrent/"+rc.name)
			current := rc.setup(h, id)
			var wg sync.WaitGroup
			wins := make([]bool, writers)
			errs := make([]error, writers)
			start := make(chan struct{})
			for i := range writers {
				wg.Go(func() {
					<-start
					wins[i], errs[i] = h.b.CompareAndWrite(t.Context(), id, current, tombWrite(revision(id, 100+i), object.TTL(time.Hour)))
				})
			}
			close(start)
			wg.Wait()
			winner := -1
			for i := range writers {
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
		})
	}
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
