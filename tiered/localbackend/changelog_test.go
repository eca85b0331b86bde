package localbackend

import (
	"errors"
	"testing"
	"time"

	"github.com/stratastore/strata/tiered/driver"
)

func TestChangeLog_Claim_IsDurableAcrossReopen(t *testing.T) {
	dir := t.TempDir()
	ctx := t.Context()
	b, err := Open(dir, &Options{SweepInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	old := testID("k/rev0")
	for _, id := range []driver.ChangeID{"0190-a", "0190-b", "0190-c"} {
		e := driver.LogEntry{ID: id, Owner: "crashed", Heartbeat: now.Add(-time.Hour), Change: driver.Change{ID: testID("k"), Old: &old}}
		if err := b.ChangeLog().Record(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	got, err := b.ChangeLog().ClaimStale(ctx, driver.Claim{Owner: "recoverer", Now: now, StaleBefore: now.Add(-time.Minute), Limit: 2})
	if err != nil || len(got) != 2 || got[0].ID != "0190-a" || got[1].ID != "0190-b" {
		t.Fatalf("ClaimStale: %+v, %v; want the two oldest ids", got, err)
	}
	if got[0].Owner != "recoverer" || !got[0].Heartbeat.Equal(now) || got[0].Change.Old == nil || !got[0].Change.Old.Equal(old) {
		t.Fatalf("claimed entry %+v", got[0])
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	b, err = Open(dir, &Options{SweepInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	cl := b.ChangeLog()
	if err := cl.Refresh(ctx, "0190-a", "crashed", now); !errors.Is(err, driver.ErrConflict) {
		t.Fatalf("Refresh by the old owner after reopen: %v, want ErrConflict", err)
	}
	if err := cl.Refresh(ctx, "0190-a", "recoverer", now.Add(time.Second)); err != nil {
		t.Fatalf("Refresh by the claimer after reopen: %v", err)
	}
	if err := cl.Refresh(ctx, "0190-c", "crashed", now); err != nil {
		t.Fatalf("Refresh of the unclaimed entry: %v", err)
	}
	if err := cl.Refresh(ctx, "0190-z", "x", now); !errors.Is(err, driver.ErrNotFound) {
		t.Fatalf("Refresh of a missing entry: %v, want ErrNotFound", err)
	}
	// Nothing is stale any more.
	if got, err := cl.ClaimStale(ctx, driver.Claim{Owner: "r2", Now: now, StaleBefore: now.Add(-time.Minute), Limit: 10}); err != nil || len(got) != 0 {
		t.Fatalf("second ClaimStale: %+v, %v; want none", got, err)
	}
	if _, err := cl.ClaimStale(ctx, driver.Claim{Owner: "r2", Now: now, StaleBefore: now, Limit: 0}); !errors.Is(err, driver.ErrInvalidArgument) {
		t.Fatalf("ClaimStale with Limit 0: %v, want ErrInvalidArgument", err)
	}
}
