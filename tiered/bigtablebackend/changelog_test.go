package bigtablebackend

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"testing"
	"time"

	"cloud.google.com/go/bigtable"

	"github.com/stratastore/strata/tiered/driver"
	"github.com/stratastore/strata/tiered/object"
)

// lease reads the raw lease cell of a change-log row.
func lease(t *testing.T, e *env, id driver.ChangeID) (owner string, hb bigtable.Timestamp, ok bool) {
	t.Helper()
	row, err := e.rawLog.ReadRow(context.Background(), string(id))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, it := range row[familyChange] {
		if it.Column == familyChange+":"+colLease {
			owner, hb, ok = string(it.Value), it.Timestamp, true
			n++
		}
	}
	if n > 1 {
		t.Fatalf("row %s has %d lease cells, want at most 1", id, n)
	}
	return owner, hb, ok
}

func recordAt(t *testing.T, e *env, id driver.ChangeID, owner string, hb time.Time, cleanupAfter time.Time) {
	t.Helper()
	obj := testID("cl/" + string(id))
	err := e.b.Record(context.Background(), driver.LogEntry{ID: id, Owner: owner, Heartbeat: hb,
		Change: driver.Change{ID: obj, New: ptrTo(rev(obj, 1)), CleanupAfter: cleanupAfter}})
	if err != nil {
		t.Fatal(err)
	}
}

func TestChangeLog_Record_CellLayout(t *testing.T) {
	forKinds(t, func(t *testing.T, kind serverKind) {
		e := newEnv(t, kind, envConfig{})
		hb := time.Now().Add(-time.Hour)
		ca := time.Now().Add(time.Hour)
		recordAt(t, e, "c1", "writer", hb, ca)
		row, err := e.rawLog.ReadRow(context.Background(), "c1")
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]bigtable.Timestamp{}
		for _, it := range row[familyChange] {
			got[it.Column] = it.Timestamp
		}
		want := map[string]bigtable.Timestamp{"c:e": floorTS(hb), "c:o": floorTS(hb), "c:a": floorTS(ca)}
		if !maps.Equal(got, want) || len(row) != 1 {
			t.Errorf("cells %v, want %v", got, want)
		}
	})
}

func TestChangeLog_Claim_LostResponse_StillClaimed(t *testing.T) {
	e := newEnv(t, kindBttest, envConfig{opts: Options{RetryBackoff: time.Millisecond}})
	now := time.Now()
	recordAt(t, e, "lost", "crashed", now.Add(-time.Hour), time.Time{})
	e.rec.setFault(func(ctx context.Context, m string, n int) error {
		if m == "CheckAndMutateRow" && n == 1 {
			return errLoseResponse
		}
		return nil
	})
	es, err := e.b.ClaimStale(context.Background(), driver.Claim{Owner: "recovery", Now: now, StaleBefore: now.Add(-time.Minute), Limit: 5})
	counts := e.rec.snapshot()
	e.rec.setFault(nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 1 || es[0].ID != "lost" || es[0].Owner != "recovery" {
		t.Fatalf("ClaimStale = %+v, want the entry claimed by recovery after the retry", es)
	}
	if counts["CheckAndMutateRow"] != 2 {
		t.Errorf("claim attempts %d, want 2", counts["CheckAndMutateRow"])
	}
	if owner, hb, _ := lease(t, e, "lost"); owner != "recovery" || hb != floorTS(now) {
		t.Errorf("lease %q@%d, want recovery@%d", owner, hb, floorTS(now))
	}
}

// TestChangeLog_Claim_RefreshBetweenScanAndClaim_NotClaimed refreshes the lease after the scan
// found it stale and before the claim: the claim's predicate re-checks staleness.
func TestChangeLog_Claim_RefreshBetweenScanAndClaim_NotClaimed(t *testing.T) {
	forKinds(t, func(t *testing.T, kind serverKind) {
		e := newEnv(t, kind, envConfig{})
		now := time.Now()
		recordAt(t, e, "live", "writer", now.Add(-time.Hour), time.Time{})
		e.rec.setFault(func(ctx context.Context, m string, n int) error {
			if m == "CheckAndMutateRow" && n == 1 {
				return e.rawLog.Apply(ctx, "live", leaseWrite("writer", now).mutation())
			}
			return nil
		})
		es, err := e.b.ClaimStale(context.Background(), driver.Claim{Owner: "recovery", Now: now, StaleBefore: now.Add(-time.Minute), Limit: 5})
		e.rec.setFault(nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(es) != 0 {
			t.Errorf("claimed %+v although its owner refreshed it in time", es)
		}
		if owner, hb, _ := lease(t, e, "live"); owner != "writer" || hb != floorTS(now) {
			t.Errorf("lease %q@%d, want writer@%d", owner, hb, floorTS(now))
		}
	})
}

// TestChangeLog_Claim_LostRacesMoveToNextPage makes a competitor claim the first page's
// entries between scan and claim; the claimer continues with the next page.
func TestChangeLog_Claim_LostRacesMoveToNextPage(t *testing.T) {
	e := newEnv(t, kindBttest, envConfig{})
	now := time.Now()
	for i := 1; i <= 4; i++ {
		recordAt(t, e, driver.ChangeID(fmt.Sprintf("e%d", i)), "crashed", now.Add(-time.Hour), time.Time{})
	}
	e.rec.setFault(func(ctx context.Context, m string, n int) error {
		if m == "CheckAndMutateRow" && n <= 2 {
			return e.rawLog.Apply(ctx, fmt.Sprintf("e%d", n), leaseWrite("competitor", now).mutation())
		}
		return nil
	})
	es, err := e.b.ClaimStale(context.Background(), driver.Claim{Owner: "recovery", Now: now, StaleBefore: now.Add(-time.Minute), Limit: 2})
	counts := e.rec.snapshot()
	e.rec.setFault(nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 2 || es[0].ID != "e3" || es[1].ID != "e4" {
		t.Fatalf("ClaimStale = %+v, want e3 and e4", es)
	}
	if want := map[string]int{"ReadRows": 2, "CheckAndMutateRow": 4}; !maps.Equal(counts, want) {
		t.Errorf("RPCs %v, want %v", counts, want)
	}
	for id, want := range map[driver.ChangeID]string{"e1": "competitor", "e2": "competitor", "e3": "recovery", "e4": "recovery"} {
		if owner, _, _ := lease(t, e, id); owner != want {
			t.Errorf("%s owned by %q, want %q", id, owner, want)
		}
	}
}

// TestChangeLog_Claim_DeferredFilteredOnServer checks that entries whose CleanupAfter is in the
// future never reach the client: with Limit 1, one page holds the eligible entry although
// three deferred ones sort before it.
func TestChangeLog_Claim_DeferredFilteredOnServer(t *testing.T) {
	forKinds(t, func(t *testing.T, kind serverKind) {
		e := newEnv(t, kind, envConfig{})
		now := time.Now()
		for i := 1; i <= 3; i++ {
			recordAt(t, e, driver.ChangeID(fmt.Sprintf("a%d", i)), "crashed", now.Add(-time.Hour), now.Add(time.Hour))
		}
		recordAt(t, e, "b", "crashed", now.Add(-time.Hour), now.Add(-time.Second))
		e.rec.reset()
		es, err := e.b.ClaimStale(context.Background(), driver.Claim{Owner: "recovery", Now: now, StaleBefore: now.Add(-time.Minute), Limit: 1})
		if err != nil {
			t.Fatal(err)
		}
		if len(es) != 1 || es[0].ID != "b" {
			t.Fatalf("ClaimStale = %+v, want only b", es)
		}
		if got := e.rec.snapshot(); got["ReadRows"] != 1 {
			t.Errorf("ReadRows %d, want 1 page", got["ReadRows"])
		}
	})
}

func TestChangeLog_InvalidInput(t *testing.T) {
	e := newEnv(t, kindBttest, envConfig{})
	ctx := context.Background()
	e.rec.reset()
	if err := e.b.Record(ctx, driver.LogEntry{Change: driver.Change{ID: testID("x")}}); !errors.Is(err, object.ErrInvalidArgument) {
		t.Errorf("Record with an empty id: %v, want ErrInvalidArgument", err)
	}
	if err := e.b.Record(ctx, driver.LogEntry{ID: "x"}); !errors.Is(err, object.ErrInvalidArgument) {
		t.Errorf("Record with an empty object id: %v, want ErrInvalidArgument", err)
	}
	if _, err := e.b.ClaimStale(ctx, driver.Claim{Owner: "o", Now: time.Now(), StaleBefore: time.Now()}); !errors.Is(err, object.ErrInvalidArgument) {
		t.Errorf("ClaimStale with Limit 0: %v, want ErrInvalidArgument", err)
	}
	if err := e.b.Refresh(ctx, "", "o", time.Now()); !errors.Is(err, object.ErrInvalidArgument) {
		t.Errorf("Refresh with an empty id: %v, want ErrInvalidArgument", err)
	}
	if got := e.rec.snapshot(); len(got) != 0 {
		t.Errorf("rejected inputs sent RPCs: %v", got)
	}
}

// TestChangeLog_Refresh_LeavesOneLeaseVersion moves the heartbeat forwards and backwards:
// the lease column must hold exactly the new version each time, or a stale older one could
// satisfy a claim's staleness filter.
func TestChangeLog_Refresh_LeavesOneLeaseVersion(t *testing.T) {
	forKinds(t, func(t *testing.T, kind serverKind) {
		e := newEnv(t, kind, envConfig{})
		now := time.Now()
		recordAt(t, e, "r", "writer", now, time.Time{})
		for _, hb := range []time.Time{now.Add(time.Minute), now.Add(-time.Hour), now} {
			if err := e.b.Refresh(context.Background(), "r", "writer", hb); err != nil {
				t.Fatal(err)
			}
			owner, ts, ok := lease(t, e, "r") // fails on more than one version
			if !ok || owner != "writer" || ts != floorTS(hb) {
				t.Errorf("after Refresh(%s): lease %q@%d (present %v), want writer@%d", hb, owner, ts, ok, floorTS(hb))
			}
		}
	})
}

// TestChangeLog_GetUpdateRecord exercises the lease-conditional writes of the change log:
// Record only over its own owner's entry, Update only under the expected lease, and Get and
// ClaimStale returning the phase and NotBefore.
func TestChangeLog_GetUpdateRecord(t *testing.T) {
	forKinds(t, func(t *testing.T, kind serverKind) {
		e := newEnv(t, kind, envConfig{})
		ctx := context.Background()
		obj := testID("cl/update")
		hb := time.Now().Truncate(time.Millisecond).Add(-time.Hour)
		nb := time.Now().Add(time.Minute + 123)
		base := driver.LogEntry{ID: "u1", Owner: "a", Heartbeat: hb, Phase: driver.PhaseAssembling,
			Change: driver.Change{ID: obj, New: ptrTo(rev(obj, 1)), UploadID: "up"}}
		get := func() driver.LogEntry {
			t.Helper()
			got, err := e.b.Get(ctx, "u1")
			if err != nil {
				t.Fatal(err)
			}
			return got
		}
		same := func(got, want driver.LogEntry) bool {
			return got.ID == want.ID && got.Owner == want.Owner && got.Heartbeat.UnixMilli() == want.Heartbeat.UnixMilli() &&
				got.Phase == want.Phase && got.NotBefore.Equal(want.NotBefore) && got.Change.ID.Equal(want.Change.ID) &&
				(got.Change.New == nil) == (want.Change.New == nil) && (got.Change.Old == nil) == (want.Change.Old == nil) &&
				got.Change.UploadID == want.Change.UploadID && got.Change.CleanupAfter.Equal(want.Change.CleanupAfter)
		}

		if _, err := e.b.Get(ctx, "u1"); !errors.Is(err, object.ErrNotFound) {
			t.Fatalf("Get of a missing entry = %v, want ErrNotFound", err)
		}
		if err := e.b.Update(ctx, base, base.Lease()); !errors.Is(err, object.ErrNotFound) {
			t.Fatalf("Update of a missing entry = %v, want ErrNotFound", err)
		}
		if err := e.b.Record(ctx, base); err != nil {
			t.Fatal(err)
		}
		if got := get(); !same(got, base) {
			t.Fatalf("Get = %+v, want %+v", got, base)
		}
		// Another owner's Record changes nothing; the same owner's replaces the entry.
		intruder := base
		intruder.Owner, intruder.Phase = "b", driver.PhaseRecorded
		if err := e.b.Record(ctx, intruder); !errors.Is(err, object.ErrConflict) {
			t.Fatalf("Record over a's entry by b = %v, want ErrConflict", err)
		}
		if got := get(); !same(got, base) {
			t.Fatalf("after a conflicting Record: %+v, want %+v", got, base)
		}
		base.Change.UploadID = "up2"
		if err := e.b.Record(ctx, base); err != nil {
			t.Fatalf("Record repeated by its owner: %v", err)
		}
		if got := get(); !same(got, base) {
			t.Fatalf("after a repeated Record: %+v, want %+v", got, base)
		}

		// Update under the exact lease, with a deferral: every field moves, a is written.
		upd := base
		upd.Phase, upd.NotBefore, upd.Heartbeat = driver.PhaseUnknown, nb, hb.Add(time.Second)
		upd.Change.CleanupAfter = nb
		if err := e.b.Update(ctx, upd, driver.Lease{Owner: "a", Heartbeat: hb.Add(999 * time.Microsecond)}); err != nil {
			t.Fatalf("Update under the current lease (same ms): %v", err)
		}
		if got := get(); !same(got, upd) {
			t.Fatalf("after Update: %+v, want %+v", got, upd)
		}
		row, err := e.rawLog.ReadRow(ctx, "u1")
		if err != nil {
			t.Fatal(err)
		}
		if n := len(row[familyChange]); n != 3 {
			t.Errorf("row has %d cells after Update with CleanupAfter, want 3 (e, o, a)", n)
		}
		// Stale heartbeat, other owner: ErrConflict, nothing changes.
		for _, prev := range []driver.Lease{{Owner: "a", Heartbeat: hb}, {Owner: "b"}, {Owner: "", Heartbeat: upd.Heartbeat}} {
			bad := upd
			bad.Phase = driver.PhaseLost
			if err := e.b.Update(ctx, bad, prev); !errors.Is(err, object.ErrConflict) {
				t.Errorf("Update under lease %+v = %v, want ErrConflict", prev, err)
			}
		}
		if got := get(); !same(got, upd) {
			t.Fatalf("after conflicting Updates: %+v, want %+v", got, upd)
		}
		// Release with a zero prev heartbeat (owner only), clearing the deferral: a is gone.
		rel := upd
		rel.Owner, rel.Phase, rel.Change.CleanupAfter = "", driver.PhaseUpdated, time.Time{}
		if err := e.b.Update(ctx, rel, driver.Lease{Owner: "a"}); err != nil {
			t.Fatalf("release: %v", err)
		}
		if got := get(); !same(got, rel) {
			t.Fatalf("after release: %+v, want %+v", got, rel)
		}
		if row, err = e.rawLog.ReadRow(ctx, "u1"); err != nil || len(row[familyChange]) != 2 {
			t.Errorf("row after release: %v, %v; want e and o only", row, err)
		}
		// A released entry is nobody's: a's Record conflicts; Update under the empty lease works.
		if err := e.b.Record(ctx, base); !errors.Is(err, object.ErrConflict) {
			t.Errorf("Record over a released entry = %v, want ErrConflict", err)
		}
		if err := e.b.Update(ctx, rel, rel.Lease()); err != nil {
			t.Errorf("Update under the released lease: %v", err)
		}
		// ClaimStale returns the phase and NotBefore too.
		now := time.Now()
		es, err := e.b.ClaimStale(ctx, driver.Claim{Owner: "rec", Now: now, StaleBefore: now.Add(-time.Minute), Limit: 5})
		if err != nil {
			t.Fatal(err)
		}
		want := rel
		want.Owner, want.Heartbeat = "rec", now
		if len(es) != 1 || !same(es[0], want) {
			t.Errorf("ClaimStale = %+v, want [%+v]", es, want)
		}
		if err := e.b.Remove(ctx, "u1"); err != nil {
			t.Fatal(err)
		}
		if err := e.b.Update(ctx, rel, want.Lease()); !errors.Is(err, object.ErrNotFound) {
			t.Errorf("Update of a removed entry = %v, want ErrNotFound", err)
		}
	})
}

// TestChangeLog_Record_LostResponse_Retried: a Record whose response was lost is retried and
// succeeds, because the retry finds the owner's own entry.
func TestChangeLog_Record_LostResponse_Retried(t *testing.T) {
	e := newEnv(t, kindBttest, envConfig{opts: Options{RetryBackoff: time.Millisecond}})
	e.rec.setFault(func(ctx context.Context, m string, n int) error {
		if m == "CheckAndMutateRow" && n == 1 {
			return errLoseResponse
		}
		return nil
	})
	err := e.b.Record(context.Background(), driver.LogEntry{ID: "rl", Owner: "a", Heartbeat: time.Now(), Change: driver.Change{ID: testID("rl")}})
	counts := e.rec.snapshot()
	e.rec.setFault(nil)
	if err != nil {
		t.Fatalf("Record after a lost response: %v", err)
	}
	if counts["CheckAndMutateRow"] != 2 {
		t.Errorf("attempts %d, want 2", counts["CheckAndMutateRow"])
	}
	if owner, _, ok := lease(t, e, "rl"); !ok || owner != "a" {
		t.Errorf("lease %q (present %v), want a", owner, ok)
	}
}
