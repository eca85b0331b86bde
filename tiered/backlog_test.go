package tiered_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stratastore/strata/tiered"
	"github.com/stratastore/strata/tiered/backendtest"
	"github.com/stratastore/strata/tiered/driver"
	"github.com/stratastore/strata/tiered/object"
)

func TestStore_Backlog_CountsByPhaseAndAge_FindsOldest(t *testing.T) {
	e := newEnv(t)
	now := e.now.Now()
	ctx := context.Background()
	rec := func(key string, age time.Duration, p driver.Phase, hb time.Time) driver.LogEntry {
		le := driver.LogEntry{ID: backendtest.ChangeIDAt(now.Add(-age)), Change: driver.Change{ID: id(key)}, Phase: p, Owner: "w", Heartbeat: hb}
		if err := e.log.Record(ctx, le); err != nil {
			t.Fatal(err)
		}
		return le
	}
	rec("a", 30*time.Second, driver.PhaseRecorded, now)
	rec("b", 5*time.Minute, driver.PhaseUpdated, now.Add(-time.Hour)) // stale
	oldest := rec("c", 3*24*time.Hour, driver.PhaseUnknown, now.Add(-time.Hour))
	rec("d", 2*time.Hour, driver.PhaseUpdated, now)
	// An id that is not a UUIDv7 is aged by its heartbeat.
	le := driver.LogEntry{ID: "legacy-id", Change: driver.Change{ID: id("e")}, Owner: "w", Heartbeat: now.Add(-20 * time.Minute)}
	if err := e.log.Record(ctx, le); err != nil {
		t.Fatal(err)
	}

	b, err := e.s.Backlog(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if b.Total != 5 || b.Stale != 3 { // b, c and the legacy entry: heartbeats over 30s old
		t.Errorf("total %d stale %d, want 5 and 3", b.Total, b.Stale)
	}
	wantPhase := map[string]int{"recorded": 2, "updated": 2, "unknown": 1, "assembling": 0, "written": 0, "aborted": 0, "lost": 0, "superseded": 0}
	for p, n := range wantPhase {
		if b.ByPhase[p] != n {
			t.Errorf("ByPhase[%s] = %d, want %d", p, b.ByPhase[p], n)
		}
	}
	if len(b.ByPhase) != len(wantPhase) {
		t.Errorf("ByPhase has %d phases, want %d: %v", len(b.ByPhase), len(wantPhase), b.ByPhase)
	}
	var ages []int
	for _, a := range b.ByAge {
		ages = append(ages, a.Count)
	}
	if want := []int{1, 1, 1, 1, 1}; !equalInts(ages, want) {
		t.Errorf("ByAge = %v, want %v (<1m, <10m, <1h, <1d, ≥1d)", ages, want)
	}
	o := b.Oldest
	if o == nil || o.ID != oldest.ID || o.Phase != driver.PhaseUnknown || o.Object != id("c").StoragePath() ||
		o.Age < 3*24*time.Hour-time.Millisecond || o.Age > 3*24*time.Hour+time.Second {
		t.Fatalf("Oldest = %+v, want %s (unknown, %s, 72h)", o, oldest.ID, id("c").StoragePath())
	}
}

func TestStore_Backlog_Empty(t *testing.T) {
	e := newEnv(t)
	b, err := e.s.Backlog(context.Background())
	if err != nil || b.Total != 0 || b.Oldest != nil {
		t.Fatalf("Backlog = %+v, %v; want an empty one", b, err)
	}
}

// plainLog hides every optional capability of the log it wraps.
type plainLog struct{ driver.ChangeLog }

func TestStore_Backlog_WithoutReader_Unimplemented(t *testing.T) {
	e := newEnv(t)
	s, err := tiered.New(e.hhv, e.hlt, plainLog{e.log}, &tiered.Options{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Backlog(context.Background()); !errors.Is(err, object.ErrUnimplemented) {
		t.Fatalf("Backlog = %v, want ErrUnimplemented", err)
	}
	if _, err := s.LastRun(context.Background()); !errors.Is(err, object.ErrUnimplemented) {
		t.Fatalf("LastRun = %v, want ErrUnimplemented", err)
	}
	// Recover works without a RunLog.
	if _, err := s.Recover(context.Background(), 0); err != nil {
		t.Fatal(err)
	}
}

func TestStore_Recover_RecordsRun(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if _, err := e.s.LastRun(ctx); !errors.Is(err, object.ErrNotFound) {
		t.Fatalf("LastRun before any run = %v, want ErrNotFound", err)
	}
	s := e.store(t, &tiered.Options{Dispatcher: dropDispatcher{}})
	put(t, s, id("k"), object.Metadata{}, large2)
	put(t, s, id("k"), object.Metadata{}, large)
	e.now.Advance(time.Minute)
	r2 := e.store(t, &tiered.Options{Instance: "host-a/42"})
	started := e.now.Now()
	rep, err := r2.Recover(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	run, err := e.s.LastRun(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !run.OK() || run.Claimed != rep.Claimed || run.Settled != rep.Settled || run.Dispatched != rep.Dispatched ||
		run.Failed != 0 || !run.Started.Equal(rep.Started) || run.Duration != rep.Duration || rep.Started.Before(started) {
		t.Fatalf("run %+v does not match report %+v started at %s", run, rep, started)
	}
	if rep.Claimed == 0 || rep.Dispatched != rep.Claimed {
		t.Fatalf("report %+v, want the lost cleanups claimed and dispatched", rep)
	}
	if !strings.HasPrefix(run.Instance, "host-a/42/") {
		t.Fatalf("Instance = %q, want host-a/42/{lease token}", run.Instance)
	}
}

func TestStore_Recover_FailedRunRecordedWithError(t *testing.T) {
	e := newEnv(t)
	e.hlog.Add(backendtest.FailOn(backendtest.OpClaimStale, 0))
	_, err := e.s.Recover(context.Background(), 0)
	if err == nil {
		t.Fatal("Recover succeeded with a failing ClaimStale")
	}
	run, lerr := e.s.LastRun(context.Background())
	if lerr != nil {
		t.Fatal(lerr)
	}
	if run.OK() || !strings.Contains(run.Error, "claim stale entries") || run.Error != err.Error() {
		t.Fatalf("run error %q, want the run's error %q", run.Error, err)
	}
}

func TestStore_Recover_RecordRunFails_RunStillSucceeds(t *testing.T) {
	e := newEnv(t)
	e.hlog.Add(backendtest.FailOn(backendtest.OpRecordRun, 0))
	if _, err := e.s.Recover(context.Background(), 0); err != nil {
		t.Fatalf("Recover = %v; a failed run record must not fail the run", err)
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestStore_Recover_CountsSettled(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	now := e.now.Now()
	// An abandoned put (in progress) and a final entry whose cleanup was lost.
	for i, p := range []driver.Phase{driver.PhaseRecorded, driver.PhaseUpdated} {
		le := driver.LogEntry{ID: backendtest.ChangeIDAt(now.Add(-time.Hour)), Change: driver.Change{ID: id(string(rune('a' + i)))}, Phase: p,
			NotBefore: now.Add(-time.Hour), Owner: "crashed", Heartbeat: now.Add(-time.Hour)}
		if err := e.log.Record(ctx, le); err != nil {
			t.Fatal(err)
		}
	}
	s := e.store(t, &tiered.Options{Dispatcher: dropDispatcher{}})
	rep, err := s.Recover(ctx, 0)
	if err != nil || rep.Claimed != 2 || rep.Settled != 1 || rep.Dispatched != 2 {
		t.Fatalf("Recover = %+v, %v; want 2 claimed, 1 settled, 2 dispatched", rep, err)
	}
	if run, err := s.LastRun(ctx); err != nil || run.Settled != 1 {
		t.Fatalf("LastRun = %+v, %v; want 1 settled", run, err)
	}
}
