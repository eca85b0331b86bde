package tiered_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/stratastore/strata/tiered"
	"github.com/stratastore/strata/tiered/backendtest"
	"github.com/stratastore/strata/tiered/driver"
	"github.com/stratastore/strata/tiered/membackend"
	"github.com/stratastore/strata/tiered/object"
	"github.com/stratastore/strata/tiered/tieredtest"
)

// These tests reproduce issue 9's faults beyond crash-stop: calls that stall and then land,
// responses lost after the write applied, deadlines that pass mid-operation, retries that
// overlap with cleanup. Each scenario runs twice: as the code is, where it must hold, and
// with the old behaviour switched back on (tiered.Regress), where it must break. That second
// run is the proof that the test can fail.

// manualClock is a virtual clock whose timers fire, in order and synchronously, when it is
// advanced past them.
type manualClock struct {
	mu     sync.Mutex
	now    time.Time
	seq    int
	timers map[int]timerAt
}

type timerAt struct {
	at  time.Time
	seq int
	f   func()
}

func newManualClock() *manualClock {
	return &manualClock{now: time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC), timers: map[int]timerAt{}}
}

func (c *manualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *manualClock) AfterFunc(d time.Duration, f func()) func() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	n := c.seq
	c.timers[n] = timerAt{at: c.now.Add(d), seq: n, f: f}
	return func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		_, ok := c.timers[n]
		delete(c.timers, n)
		return ok
	}
}

// Advance moves the clock by d in steps, firing every timer that falls due.
func (c *manualClock) Advance(d time.Duration) {
	c.mu.Lock()
	end := c.now.Add(d)
	for {
		var due []timerAt
		for _, t := range c.timers {
			if !t.at.After(end) {
				due = append(due, t)
			}
		}
		if len(due) == 0 {
			break
		}
		sort.Slice(due, func(i, j int) bool {
			return due[i].at.Before(due[j].at) || due[i].at.Equal(due[j].at) && due[i].seq < due[j].seq
		})
		t := due[0]
		delete(c.timers, t.seq)
		if t.at.After(c.now) {
			c.now = t.at
		}
		c.mu.Unlock()
		t.f()
		c.mu.Lock()
	}
	c.now = end
	c.mu.Unlock()
}

// world is one set of in-memory backends whose clock is the same virtual clock as the
// Stores', with hooks on every backend.
type world struct {
	clock *manualClock
	hv    *membackend.HighVolume
	lt    *membackend.LongTerm
	log   *membackend.ChangeLog
	hhv   *backendtest.HookedHighVolume
	hlt   *backendtest.HookedLongTerm
	hlog  *backendtest.HookedChangeLog
}

func newWorld() *world {
	c := newManualClock()
	mem := membackend.Open(&membackend.Options{Now: c.Now})
	w := &world{clock: c, hv: mem.HighVolume(), lt: mem.LongTerm(), log: mem.ChangeLog()}
	w.hhv = &backendtest.HookedHighVolume{Inner: w.hv}
	w.hlt = &backendtest.HookedLongTerm{Inner: w.lt}
	w.hlog = &backendtest.HookedChangeLog{Inner: w.log}
	return w
}

// store is a process over the world; its cleanups run inline (a not-due one stays in the log).
func (w *world) store(t *testing.T, bug int, opts tiered.Options) *tiered.Store {
	t.Helper()
	d := &inline{}
	opts.Clock, opts.Dispatcher, opts.Logger = w.clock, d, quiet
	if opts.GracePeriod == 0 {
		opts.GracePeriod = -1
	}
	s, err := tiered.New(w.hhv, w.hlt, w.hlog, &opts)
	if err != nil {
		t.Fatal(err)
	}
	tiered.Regress(s, bug)
	d.s = s
	return s
}

type inline struct{ s *tiered.Store }

func (d *inline) Dispatch(ctx context.Context, t tiered.CleanupTask) error {
	if err := d.s.Cleanup(ctx, t); err != nil && !errors.Is(err, tiered.ErrNotDue) {
		return err
	}
	return nil
}
func (d *inline) Close(context.Context) error { return nil }

// settle recovers everything as a healthy process would, much later.
func (w *world) settle(t *testing.T) {
	t.Helper()
	s := w.store(t, 0, tiered.Options{})
	w.clock.Advance(tiered.MultipartCompleteCleanupDelay)
	for range 20 {
		w.clock.Advance(time.Hour)
		r, err := s.Recover(context.Background(), 1000)
		if err != nil {
			t.Fatal(err)
		}
		if r.Claimed == 0 {
			return
		}
	}
	t.Fatal("recovery does not settle")
}

// violations returns what is wrong with the world for key k after settling: a dangling
// tombstone, orphans, or log entries.
func (w *world) violations(k object.ID) []string {
	var out []string
	ctx := context.Background()
	e, err := w.hv.GetTieredMetadata(ctx, k)
	if err != nil {
		return []string{err.Error()}
	}
	live := ""
	if e.Kind == driver.EntryTombstone {
		live = e.Tombstone.Target.StoragePath()
		if _, err := w.lt.Head(ctx, e.Tombstone.Target); err != nil {
			out = append(out, "dangling tombstone to "+live)
		}
	}
	for _, key := range w.lt.Keys() {
		if key != live {
			out = append(out, "orphan "+key)
		}
	}
	for _, en := range w.log.Entries() {
		out = append(out, fmt.Sprintf("log entry %s (%s)", en.ID, en.Phase))
	}
	return out
}

// bugScenario runs scenario with the fix and with the old behaviour, and requires that the
// first reports no violation and the second does.
func bugScenario(t *testing.T, bug int, scenario func(t *testing.T, bug int) []string) {
	t.Helper()
	if v := scenario(t, 0); len(v) > 0 {
		t.Errorf("fixed code: %v", v)
	}
	if v := scenario(t, bug); len(v) == 0 {
		t.Errorf("with bug %d switched back on the scenario shows nothing: the test cannot fail", bug)
	} else {
		t.Logf("with bug %d: %v", bug, v)
	}
}

var (
	big1 = backendtest.RandomPayload(3 << 20 / 2)
	big2 = backendtest.RandomPayload(3<<20/2 + 1)
)

func readAt(s *tiered.Store, k object.ID) ([]byte, error) { return tieredtest.ReadAll(s, k) }

// TestProtocol_StalledCommitAfterLeaseClaimed (bug 1): a large put's compare-and-write
// stalls past the lease; recovery in another process claims the entry and cleans up before
// the write lands. The write must not land (its deadline fences it), and the put must not be
// acknowledged; the key keeps its old value, with no dangling tombstone or orphan.
func TestProtocol_StalledCommitAfterLeaseClaimed(t *testing.T) {
	bugScenario(t, tiered.BugLeaseNotFence, func(t *testing.T, bug int) []string {
		w := newWorld()
		k := id("stalled")
		writer := w.store(t, bug, tiered.Options{})
		recoverer := w.store(t, 0, tiered.Options{})
		if _, err := writer.Put(context.Background(), k, object.Metadata{}, bytes.NewReader(big1)); err != nil {
			t.Fatal(err)
		}
		w.hhv.Add(backendtest.Match(backendtest.OpCompareAndWrite, func(ctx context.Context, c *backendtest.Call, next func() error) error {
			// The call stalls (a paused instance, the client's own retries), and the paused
			// writer renews nothing ...
			w.hlog.Add(backendtest.FailOn(backendtest.OpRefresh, 0))
			defer w.hlog.Reset()
			w.clock.Advance(5 * time.Minute)
			// ... long enough for recovery to take over and clean up ...
			if _, err := recoverer.Recover(ctx, 10); err != nil {
				t.Error(err)
			}
			w.clock.Advance(time.Hour)
			if _, err := recoverer.Recover(ctx, 10); err != nil {
				t.Error(err)
			}
			return next() // ... then it lands.
		}))
		_, err := writer.Put(context.Background(), k, object.Metadata{}, bytes.NewReader(big2))
		w.hhv.Reset()
		var v []string
		got, rerr := readAt(writer, k)
		switch {
		case err == nil && (rerr != nil || !bytes.Equal(got, big2)):
			v = append(v, fmt.Sprintf("acknowledged put not readable: %v", rerr))
		case err != nil && (rerr != nil || !bytes.Equal(got, big1)):
			v = append(v, fmt.Sprintf("failed put lost the old value: %v", rerr))
		}
		w.settle(t)
		return append(v, w.violations(k)...)
	})
}

// TestProtocol_InterruptedUploadClaimed (bug 1b): recovery claims a large put's entry while
// its body is still streaming (the heartbeat stalled). The upload lands afterwards; the
// revision must not be orphaned.
func TestProtocol_InterruptedUploadClaimed(t *testing.T) {
	bugScenario(t, tiered.BugLeaseNotFence, func(t *testing.T, bug int) []string {
		w := newWorld()
		k := id("streaming")
		writer := w.store(t, bug, tiered.Options{})
		recoverer := w.store(t, bug, tiered.Options{})
		w.hlt.Add(backendtest.Match(backendtest.OpPut, func(ctx context.Context, c *backendtest.Call, next func() error) error {
			w.hlog.Add(backendtest.FailOn(backendtest.OpRefresh, 0)) // no heartbeat gets through
			defer w.hlog.Reset()
			w.clock.Advance(2 * time.Minute)
			if _, err := recoverer.Recover(ctx, 10); err != nil {
				t.Error(err)
			}
			if err := next(); err != nil { // the upload completes after the claim
				return err
			}
			return errors.New("upload response lost")
		}))
		_, _ = writer.Put(context.Background(), k, object.Metadata{}, bytes.NewReader(big1))
		w.hlt.Reset()
		w.clock.Advance(2 * time.Minute)
		if _, err := recoverer.Recover(context.Background(), 10); err != nil {
			t.Fatal(err)
		}
		// Only what recovery does is counted: settle without a further pass.
		w.clock.Advance(time.Hour)
		if _, err := recoverer.Recover(context.Background(), 10); err != nil {
			t.Fatal(err)
		}
		return w.violations(k)
	})
}

// TestProtocol_OverwriteRacesExpiry (bug 2): a large put replaces a TTL object whose
// tombstone expires during the upload. No writer won, so the put must land, not be
// acknowledged and then dropped.
func TestProtocol_OverwriteRacesExpiry(t *testing.T) {
	bugScenario(t, tiered.BugExpiryIsLoss, func(t *testing.T, bug int) []string {
		w := newWorld()
		k := id("ttl")
		s := w.store(t, bug, tiered.Options{})
		ttl := func() object.Metadata {
			return object.Metadata{ExpirationPolicy: object.TTL(time.Minute), TimeExpires: w.clock.Now().Add(time.Minute)}
		}
		if _, err := s.Put(context.Background(), k, ttl(), bytes.NewReader(big1)); err != nil {
			t.Fatal(err)
		}
		w.hlt.Add(backendtest.Match(backendtest.OpPut, func(ctx context.Context, c *backendtest.Call, next func() error) error {
			w.clock.Advance(59*time.Second + 500*time.Millisecond) // the old object expires mid-upload
			return next()
		}))
		w.clock.Advance(time.Second)
		_, err := s.Put(context.Background(), k, ttl(), bytes.NewReader(big2))
		w.hlt.Reset()
		var v []string
		if err != nil {
			v = append(v, "put failed: "+err.Error())
		} else if got, rerr := readAt(s, k); rerr != nil || !bytes.Equal(got, big2) {
			v = append(v, fmt.Sprintf("acknowledged put not readable: %v", rerr))
		}
		return v
	})
}

// completeErrorOnce makes the second CompleteMultipart report a part error, as a retry does
// when the first attempt assembled the parts but its response was lost.
type completeErrorOnce struct {
	*backendtest.HookedLongTerm
	n int
}

func (c *completeErrorOnce) CompleteMultipart(ctx context.Context, id object.ID, u string, parts []object.CompletedPart) (*object.CompleteError, error) {
	c.n++
	if c.n == 2 {
		return &object.CompleteError{Code: "InvalidPart", Message: "part 1 not found"}, nil
	}
	return c.HookedLongTerm.CompleteMultipart(ctx, id, u, parts)
}

// TestProtocol_CompleteErrorOnRetryKeepsAssembledRevisionTracked (bug 5): the first attempt
// assembles but loses its response (and fails), the retry gets a part error, the client
// aborts. The assembled revision must still be found and deleted by recovery.
func TestProtocol_CompleteErrorOnRetryKeepsAssembledRevisionTracked(t *testing.T) {
	bugScenario(t, tiered.BugCompleteErrorRemove, func(t *testing.T, bug int) []string {
		w := newWorld()
		k := id("mp")
		lt := &completeErrorOnce{HookedLongTerm: w.hlt}
		s, err := tiered.New(w.hhv, lt, w.hlog, &tiered.Options{Clock: w.clock, GracePeriod: -1, Logger: quiet, Dispatcher: &inline{}})
		if err != nil {
			t.Fatal(err)
		}
		tiered.Regress(s, bug)
		ctx := context.Background()
		u, err := s.InitiateMultipart(ctx, k, object.Metadata{})
		if err != nil {
			t.Fatal(err)
		}
		etag, err := s.UploadPart(ctx, k, u, 1, int64(len(big1)), bytes.NewReader(big1))
		if err != nil {
			t.Fatal(err)
		}
		parts := []object.CompletedPart{{PartNumber: 1, ETag: etag}}
		w.hlt.Add(backendtest.FailAfter(backendtest.OpComplete, 0))
		w.hlt.Add(backendtest.FailOn(backendtest.OpHead, 0))
		if _, err := s.CompleteMultipart(ctx, k, u, parts); err == nil {
			t.Fatal("first attempt must fail")
		}
		w.hlt.Reset()
		if ce, err := s.CompleteMultipart(ctx, k, u, parts); ce == nil || err != nil {
			t.Fatalf("retry: %v %v", ce, err)
		}
		if err := s.AbortMultipart(ctx, k, u); err != nil {
			t.Fatal(err)
		}
		w.settle(t)
		return w.violations(k)
	})
}

// TestProtocol_RecoveryKeepsTheGracePeriod (bug 6): an overwrite's cleanup is lost; recovery
// picks the entry up once its lease is stale, but must still not delete the old revision
// before the grace period (5 minutes) ends.
func TestProtocol_RecoveryKeepsTheGracePeriod(t *testing.T) {
	bugScenario(t, tiered.BugRecoveryNoGrace, func(t *testing.T, bug int) []string {
		w := newWorld()
		k := id("grace")
		s := w.store(t, bug, tiered.Options{GracePeriod: 5 * time.Minute, Dispatcher: nil})
		if _, err := s.Put(context.Background(), k, object.Metadata{}, bytes.NewReader(big1)); err != nil {
			t.Fatal(err)
		}
		old := tombstoneOf(t, w, k)
		lost := w.store(t, bug, tiered.Options{GracePeriod: 5 * time.Minute})
		lost.Close(context.Background())
		w.hlog.Add(backendtest.Match(backendtest.OpGetEntry, func(ctx context.Context, c *backendtest.Call, next func() error) error {
			return errors.New("cleanup lost") // the dispatched cleanup never runs
		}))
		if _, err := lost.Put(context.Background(), k, object.Metadata{}, bytes.NewReader(big2)); err != nil {
			t.Fatal(err)
		}
		w.hlog.Reset()
		var v []string
		for _, after := range []time.Duration{time.Minute, time.Minute, time.Minute} {
			w.clock.Advance(after)
			if _, err := s.Recover(context.Background(), 10); err != nil {
				t.Fatal(err)
			}
			if _, err := w.lt.Head(context.Background(), old); err != nil {
				v = append(v, fmt.Sprintf("old revision deleted %s after the overwrite, inside the grace period", w.clock.Now().Sub(time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC))))
				break
			}
		}
		w.settle(t)
		return append(v, w.violations(k)...)
	})
}

func tombstoneOf(t *testing.T, w *world, k object.ID) object.ID {
	t.Helper()
	e, ok := w.hv.Entry(k)
	if !ok || e.Kind != driver.EntryTombstone {
		t.Fatal("no tombstone")
	}
	return e.Tombstone.Target
}

// TestProtocol_InvertedRangeIsAnError (bug 7): Bounded(5, 2) is an error, never a panic.
func TestProtocol_InvertedRangeIsAnError(t *testing.T) {
	bugScenario(t, tiered.BugInvertedRange, func(t *testing.T, bug int) (v []string) {
		w := newWorld()
		s := w.store(t, bug, tiered.Options{})
		k := id("small")
		if _, err := s.Put(context.Background(), k, object.Metadata{}, bytes.NewReader([]byte("0123456789"))); err != nil {
			t.Fatal(err)
		}
		defer func() {
			if r := recover(); r != nil {
				v = append(v, fmt.Sprint("panic: ", r))
			}
		}()
		r := object.Bounded(5, 2)
		if _, err := s.Get(context.Background(), k, &r); !errors.Is(err, object.ErrInvalidArgument) {
			v = append(v, fmt.Sprintf("Get(5-2) = %v, want ErrInvalidArgument", err))
		}
		return v
	})
}

// TestProtocol_HeartbeatKeepsLeaseFresh: a put whose body streams for longer than the stale
// time keeps its lease by heartbeats: recovery claims nothing meanwhile, and the put commits.
func TestProtocol_HeartbeatKeepsLeaseFresh(t *testing.T) {
	bugScenario(t, tiered.BugFrozenHeartbeat, func(t *testing.T, bug int) []string {
		w := newWorld()
		k := id("slow")
		s := w.store(t, bug, tiered.Options{})
		other := w.store(t, 0, tiered.Options{})
		var v []string
		body := &slowBody{r: bytes.NewReader(big1), each: func() {
			w.clock.Advance(5 * time.Second) // 2 minutes of streaming in all
			if r, err := other.Recover(context.Background(), 10); err != nil || r.Claimed != 0 {
				v = append(v, fmt.Sprintf("recovery claimed a live put's entry: %+v %v", r, err))
			}
		}}
		if _, err := s.Put(context.Background(), k, object.Metadata{}, body); err != nil {
			v = append(v, "put failed: "+err.Error())
		}
		return v
	})
}

type slowBody struct {
	r    io.Reader
	each func()
	n    int
}

func (b *slowBody) Read(p []byte) (int, error) {
	if b.n < 24 {
		b.n++
		b.each()
	}
	return b.r.Read(p[:min(len(p), 64<<10)])
}

// TestProtocol_ForgedTasksDeleteNothing: a cleanup task is a pointer; what it points to
// decides. A task naming a change in progress (fresh lease), or a finished one before its
// grace period ends, deletes nothing.
func TestProtocol_ForgedTasksDeleteNothing(t *testing.T) {
	w := newWorld()
	k := id("victim")
	s := w.store(t, 0, tiered.Options{GracePeriod: time.Hour})
	if _, err := s.Put(context.Background(), k, object.Metadata{}, bytes.NewReader(big1)); err != nil {
		t.Fatal(err)
	}
	old := tombstoneOf(t, w, k)
	var inProgress driver.ChangeID
	w.hlt.Add(backendtest.Match(backendtest.OpPut, func(ctx context.Context, c *backendtest.Call, next func() error) error {
		for _, e := range w.log.Entries() {
			inProgress = e.ID
			// Every forged variant of a task for the live entry: the id alone counts.
			if err := s.Cleanup(ctx, tiered.CleanupTask{ChangeID: e.ID, Object: k.StoragePath()}); err != nil {
				t.Errorf("cleanup of an in-progress entry: %v", err)
			}
		}
		return next()
	}))
	if _, err := s.Put(context.Background(), k, object.Metadata{}, bytes.NewReader(big2)); err != nil {
		t.Fatal(err)
	}
	w.hlt.Reset()
	if inProgress == "" {
		t.Fatal("no entry was in progress")
	}
	if _, err := w.lt.Head(context.Background(), old); err != nil {
		t.Fatal("a task for an in-progress change deleted the live revision")
	}
	// The finished entry: its cleanup is due in an hour; a task now deletes nothing.
	for _, e := range w.log.Entries() {
		if err := s.Cleanup(context.Background(), tiered.CleanupTask{ChangeID: e.ID}); !errors.Is(err, tiered.ErrNotDue) {
			t.Errorf("early cleanup: %v, want ErrNotDue", err)
		}
	}
	if _, err := w.lt.Head(context.Background(), old); err != nil {
		t.Fatal("an early task deleted the old revision inside its grace period")
	}
	if got, err := readAt(s, k); err != nil || !bytes.Equal(got, big2) {
		t.Fatalf("live object damaged: %v", err)
	}
}
