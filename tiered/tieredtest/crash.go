// Package tieredtest holds Store-level test suites that every combination of backends runs:
// crash tests that abort an operation after every backend call and check that recovery
// leaves no orphan, an empty change log, and an object that is wholly old or wholly new.
package tieredtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stratastore/strata/tiered"
	"github.com/stratastore/strata/tiered/backendtest"
	"github.com/stratastore/strata/tiered/driver"
	"github.com/stratastore/strata/tiered/object"
)

// Backends is one set of backends under test, sharing state across Stores.
type Backends struct {
	HV  driver.HighVolume
	LT  driver.Multipart
	Log driver.ChangeLog
	// Objects lists the storage paths of every long-term object (not multipart parts).
	Objects func(ctx context.Context) ([]string, error)
	// Uploads, when set, counts the multipart uploads that still hold parts. After a crash
	// and recovery, an upload may only remain if its complete never assembled it (the
	// lifecycle rule reaps those).
	Uploads func() int
}

// errCrash is what a crashing backend call reports; the Store under test sees it like any
// backend error, and its cleanup tasks go nowhere, as if the process had died.
var errCrash = errors.New("simulated crash")

// quiet discards the Stores' warnings: crashes make them on purpose.
var quiet = slog.New(slog.DiscardHandler)

// dropDispatcher loses every task, as a process that dies after its commit point would.
type dropDispatcher struct{}

func (dropDispatcher) Dispatch(context.Context, tiered.CleanupTask) error { return nil }
func (dropDispatcher) Close(context.Context) error                        { return nil }

// crasher counts backend calls across the three wrappers and crashes at call number at.
type crasher struct {
	n     atomic.Int64
	at    int64
	after bool // perform the call, then crash (a lost response)
	// dead is set once the crash happened: every later call fails too, as in a dead process.
	dead atomic.Bool
}

func (c *crasher) hook(ctx context.Context, call *backendtest.Call, next func() error) error {
	if c.dead.Load() {
		return errCrash
	}
	k := c.n.Add(1)
	if k != c.at {
		return next()
	}
	c.dead.Store(true)
	if c.after {
		_ = next()
	}
	return errCrash
}

// op is one scenario: prepare sets up the old state, run performs the mutation.
type op struct {
	name string
	// old and new are the payloads before and after (nil: absent).
	old, new []byte
	prepare  func(t *testing.T, s *tiered.Store, id object.ID) (state any)
	run      func(ctx context.Context, s *tiered.Store, id object.ID, state any) error
}

const large = 3 << 19 // 1.5 MiB: routed to long-term

func ops() []op {
	oldLarge := backendtest.RandomPayload(large)
	newLarge := backendtest.RandomPayload(large + 7)
	small := backendtest.RandomPayload(1000)
	put := func(p []byte) func(ctx context.Context, s *tiered.Store, id object.ID, _ any) error {
		return func(ctx context.Context, s *tiered.Store, id object.ID, _ any) error {
			_, err := s.Put(ctx, id, object.Metadata{}, bytes.NewReader(p))
			return err
		}
	}
	seed := func(p []byte) func(t *testing.T, s *tiered.Store, id object.ID) any {
		return func(t *testing.T, s *tiered.Store, id object.ID) any {
			if p != nil {
				if _, err := s.Put(context.Background(), id, object.Metadata{}, bytes.NewReader(p)); err != nil {
					t.Fatalf("seeding: %v", err)
				}
			}
			return nil
		}
	}
	mpState := func(t *testing.T, s *tiered.Store, id object.ID) any {
		seed(oldLarge)(t, s, id)
		ctx := context.Background()
		u, err := s.InitiateMultipart(ctx, id, object.Metadata{ContentType: "application/x-parts"})
		if err != nil {
			t.Fatalf("initiate: %v", err)
		}
		half := len(newLarge) / 2
		var parts []object.CompletedPart
		for i, p := range [][]byte{newLarge[:half], newLarge[half:]} {
			etag, err := s.UploadPart(ctx, id, u, i+1, int64(len(p)), bytes.NewReader(p))
			if err != nil {
				t.Fatalf("upload part: %v", err)
			}
			parts = append(parts, object.CompletedPart{PartNumber: i + 1, ETag: etag})
		}
		return mp{u, parts}
	}
	return []op{
		{name: "PutLarge", old: nil, new: newLarge, prepare: seed(nil), run: put(newLarge)},
		{name: "OverwriteLargeWithLarge", old: oldLarge, new: newLarge, prepare: seed(oldLarge), run: put(newLarge)},
		{name: "OverwriteLargeWithSmall", old: oldLarge, new: small, prepare: seed(oldLarge), run: put(small)},
		{name: "OverwriteSmallWithLarge", old: small, new: newLarge, prepare: seed(small), run: put(newLarge)},
		{name: "DeleteLarge", old: oldLarge, new: nil, prepare: seed(oldLarge),
			run: func(ctx context.Context, s *tiered.Store, id object.ID, _ any) error { return s.Delete(ctx, id) }},
		{name: "MultipartComplete", old: oldLarge, new: newLarge, prepare: mpState,
			run: func(ctx context.Context, s *tiered.Store, id object.ID, st any) error {
				m := st.(mp)
				ce, err := s.CompleteMultipart(ctx, id, m.upload, m.parts)
				if ce != nil {
					return ce
				}
				return err
			}},
	}
}

type mp struct {
	upload string
	parts  []object.CompletedPart
}

// TestCrash runs every scenario, crashing before and after each backend call the scenario
// makes, then recovers with a fresh Store and checks the three promises: no orphan
// long-term object, an empty change log, and an object that is wholly old or wholly new.
func TestCrash(t *testing.T, open func(t *testing.T) Backends) {
	for _, o := range ops() {
		t.Run(o.name, func(t *testing.T) {
			steps := countSteps(t, open(t), o)
			if steps < 2 {
				t.Fatalf("scenario makes %d backend calls; expected a cross-tier mutation", steps)
			}
			for k := 1; k <= steps; k++ {
				for _, after := range []bool{false, true} {
					name := fmt.Sprintf("crash_before_call_%d", k)
					if after {
						name = fmt.Sprintf("crash_after_call_%d", k)
					}
					t.Run(name, func(t *testing.T) {
						crashAndRecover(t, open(t), o, &crasher{at: int64(k), after: after})
					})
				}
			}
		})
	}
}

func storeOpts(d tiered.Dispatcher) *tiered.Options {
	return &tiered.Options{Dispatcher: d, GracePeriod: -1, HeartbeatInterval: time.Hour, Logger: quiet}
}

func hooked(b Backends, h backendtest.Hook) (driver.HighVolume, driver.Multipart, driver.ChangeLog) {
	hv := &backendtest.HookedHighVolume{Inner: b.HV}
	lt := &backendtest.HookedLongTerm{Inner: b.LT}
	log := &backendtest.HookedChangeLog{Inner: b.Log}
	if h != nil {
		hv.Add(h)
		lt.Add(h)
		log.Add(h)
	}
	return hv, lt, log
}

// countSteps runs the scenario without faults and counts its backend calls.
func countSteps(t *testing.T, b Backends, o op) int {
	var n atomic.Int64
	count := func(ctx context.Context, call *backendtest.Call, next func() error) error {
		n.Add(1)
		return next()
	}
	setup := mustStore(t, b.HV, b.LT, b.Log, storeOpts(nil))
	id := backendtest.NewID(t, "crash/"+o.name)
	st := o.prepare(t, setup, id)
	closeStore(t, setup)
	hv, lt, log := hooked(b, count)
	s := mustStore(t, hv, lt, log, storeOpts(dropDispatcher{}))
	if err := o.run(context.Background(), s, id, st); err != nil {
		t.Fatalf("fault-free run: %v", err)
	}
	return int(n.Load())
}

func crashAndRecover(t *testing.T, b Backends, o op, cr *crasher) {
	ctx := context.Background()
	id := backendtest.NewID(t, "crash/"+o.name)
	setup := mustStore(t, b.HV, b.LT, b.Log, storeOpts(nil))
	st := o.prepare(t, setup, id)
	closeStore(t, setup) // the seed's own cleanups have run

	hv, lt, log := hooked(b, cr.hook)
	crashed := mustStore(t, hv, lt, log, storeOpts(dropDispatcher{}))
	runErr := o.run(ctx, crashed, id, st)
	if !cr.dead.Load() {
		t.Fatalf("the crash point was never reached (run error: %v)", runErr)
	}

	// The process is gone. Later, past every lease and deferral, a fresh process recovers.
	RecoverAll(t, b)
	checkWhole(t, mustStore(t, b.HV, b.LT, b.Log, storeOpts(nil)), id, o.old, o.new)
	if b.Uploads != nil && o.name == "MultipartComplete" {
		got, _ := ReadAll(mustStore(t, b.HV, b.LT, b.Log, storeOpts(nil)), id)
		if n := b.Uploads(); n > 0 && bytes.Equal(got, o.new) {
			t.Errorf("%d multipart uploads hold parts after the complete committed", n)
		}
	}
	CheckNoOrphans(t, b, []object.ID{id})
	CheckEmptyLog(t, b.Log, time.Now())
}

func mustStore(t *testing.T, hv driver.HighVolume, lt driver.Multipart, log driver.ChangeLog, opts *tiered.Options) *tiered.Store {
	t.Helper()
	s, err := tiered.New(hv, lt, log, opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func closeStore(t *testing.T, s *tiered.Store) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := s.Close(ctx); err != nil {
		t.Fatalf("close: %v", err)
	}
}

// checkWhole asserts that id reads as exactly old or exactly new (nil: absent).
func checkWhole(t *testing.T, s *tiered.Store, id object.ID, old, new []byte) {
	t.Helper()
	got, err := ReadAll(s, id)
	if errors.Is(err, object.ErrNotFound) {
		if old != nil && new != nil {
			t.Fatalf("object is gone; want the old (%d bytes) or new (%d bytes) payload", len(old), len(new))
		}
		return
	}
	if err != nil {
		t.Fatalf("read after recovery: %v", err)
	}
	if (old == nil || !bytes.Equal(got, old)) && (new == nil || !bytes.Equal(got, new)) {
		t.Fatalf("object is torn: %d bytes, neither old (%d) nor new (%d)", len(got), len(old), len(new))
	}
}

// ReadAll reads an object's whole payload through s.
func ReadAll(s *tiered.Store, id object.ID) ([]byte, error) {
	o, err := s.Get(context.Background(), id, nil)
	if err != nil {
		return nil, err
	}
	defer o.Body.Close()
	return io.ReadAll(o.Body)
}

// CheckNoOrphans asserts that every long-term object is the tombstone target of one of ids.
func CheckNoOrphans(t *testing.T, b Backends, ids []object.ID) {
	t.Helper()
	ctx := context.Background()
	var live []string
	for _, id := range ids {
		e, err := b.HV.GetTieredMetadata(ctx, id)
		if err != nil {
			t.Fatalf("read row: %v", err)
		}
		if e.Kind == driver.EntryTombstone {
			live = append(live, e.Tombstone.Target.StoragePath())
		}
	}
	objs, err := b.Objects(ctx)
	if err != nil {
		t.Fatalf("list long-term objects: %v", err)
	}
	for _, p := range objs {
		if !slices.Contains(live, p) {
			t.Errorf("orphan long-term object %s (live: %s)", p, strings.Join(live, ", "))
		}
	}
}

// CheckEmptyLog asserts that the change log holds no entry at all, whatever its lease or
// deferral, by claiming every entry as of a time far beyond now.
func CheckEmptyLog(t *testing.T, log driver.ChangeLog, now time.Time) {
	t.Helper()
	far := now.Add(365 * 24 * time.Hour)
	es, err := log.ClaimStale(context.Background(), driver.Claim{Owner: "checker", Now: far, StaleBefore: far, Limit: 1000})
	if err != nil {
		t.Fatalf("claim: %v", err)
	}
	for _, e := range es {
		t.Errorf("change-log entry left: %s %+v", e.ID, e.Change)
	}
}
