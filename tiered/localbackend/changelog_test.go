package localbackend

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/stratastore/strata/tiered/driver"
	"github.com/stratastore/strata/tiered/object"
)

func TestChangeLog_Claim_IsDurableAcrossReopen(t *testing.T) {
	dir := t.TempDir()
	ctx := t.Context()
	b, err := Open(context.Background(), dir, &Options{SweepInterval: -1})
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
	b, err = Open(context.Background(), dir, &Options{SweepInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	cl := b.ChangeLog()
	if err := cl.Refresh(ctx, "0190-a", "crashed", now); !errors.Is(err, object.ErrConflict) {
		t.Fatalf("Refresh by the old owner after reopen: %v, want ErrConflict", err)
	}
	if err := cl.Refresh(ctx, "0190-a", "recoverer", now.Add(time.Second)); err != nil {
		t.Fatalf("Refresh by the claimer after reopen: %v", err)
	}
	if err := cl.Refresh(ctx, "0190-c", "crashed", now); err != nil {
		t.Fatalf("Refresh of the unclaimed entry: %v", err)
	}
	if err := cl.Refresh(ctx, "0190-z", "x", now); !errors.Is(err, object.ErrNotFound) {
		t.Fatalf("Refresh of a missing entry: %v, want ErrNotFound", err)
	}
	// Nothing is stale any more.
	if got, err := cl.ClaimStale(ctx, driver.Claim{Owner: "r2", Now: now, StaleBefore: now.Add(-time.Minute), Limit: 10}); err != nil || len(got) != 0 {
		t.Fatalf("second ClaimStale: %+v, %v; want none", got, err)
	}
	if _, err := cl.ClaimStale(ctx, driver.Claim{Owner: "r2", Now: now, StaleBefore: now, Limit: 0}); !errors.Is(err, object.ErrInvalidArgument) {
		t.Fatalf("ClaimStale with Limit 0: %v, want ErrInvalidArgument", err)
	}
}

// oldLogRecord is a change-log value as written before LogEntry had Phase and NotBefore.
const oldLogRecord = `{"id":"testing/org.1/objects/k","new":"testing/org.1/objects/k/rev1","upload_id":"u-1",` +
	`"cleanup_after":"2026-05-01T11:00:00Z","owner":"old-writer","heartbeat":"2026-05-01T09:00:00.123Z"}`

func TestChangeLog_OldRecord_DecodesAsRecorded(t *testing.T) {
	b := openTest(t, nil)
	ctx := t.Context()
	cl := b.ChangeLog()
	const id = driver.ChangeID("0190-old")
	if err := b.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte(bucketLog)).Put([]byte(id), []byte(oldLogRecord))
	}); err != nil {
		t.Fatal(err)
	}
	hb := time.Date(2026, 5, 1, 9, 0, 0, 123e6, time.UTC)
	want := driver.LogEntry{
		ID:        id,
		Change:    driver.Change{ID: testID("k"), New: ptr(testID("k/rev1")), UploadID: "u-1", CleanupAfter: time.Date(2026, 5, 1, 11, 0, 0, 0, time.UTC)},
		Phase:     driver.PhaseRecorded,
		Owner:     "old-writer",
		Heartbeat: hb,
	}
	got, err := cl.Get(ctx, id)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("old record decodes as %+v, want %+v", got, want)
	}
	// Re-encoding an entry in PhaseRecorded with no NotBefore gives the old bytes: records
	// written now stay readable by the previous version.
	v, err := encodeLogEntry(want)
	if err != nil {
		t.Fatal(err)
	}
	if string(v) != oldLogRecord {
		t.Errorf("encoding of a recorded entry changed:\n got %s\nwant %s", v, oldLogRecord)
	}
	// Every operation accepts the old record.
	if err := cl.Record(ctx, driver.LogEntry{ID: id, Owner: "someone-else", Change: want.Change}); !errors.Is(err, object.ErrConflict) {
		t.Errorf("Record over the old record by another owner: %v, want ErrConflict", err)
	}
	next := want
	next.Phase, next.NotBefore = driver.PhaseAborted, hb.Add(time.Minute)
	if err := cl.Update(ctx, next, want.Lease()); err != nil {
		t.Fatalf("Update of the old record: %v", err)
	}
	if got, err := cl.Get(ctx, id); err != nil || !reflect.DeepEqual(got, next) {
		t.Fatalf("after Update: %+v, %v; want %+v", got, err, next)
	}
	claimed, err := cl.ClaimStale(ctx, driver.Claim{Owner: "r", Now: hb.Add(3 * time.Hour), StaleBefore: hb.Add(time.Hour), Limit: 10})
	if err != nil || len(claimed) != 1 || claimed[0].Phase != driver.PhaseAborted || !claimed[0].NotBefore.Equal(next.NotBefore) {
		t.Fatalf("ClaimStale: %+v, %v; want the aborted entry", claimed, err)
	}
}

func TestChangeLog_PhaseAndNotBefore_DurableAcrossReopen(t *testing.T) {
	dir := t.TempDir()
	ctx := t.Context()
	b, err := Open(context.Background(), dir, &Options{SweepInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	e := driver.LogEntry{ID: "0190-p", Owner: "w", Heartbeat: now, Phase: driver.PhaseWritten,
		Change: driver.Change{ID: testID("k"), New: ptr(testID("k/rev1")), Old: ptr(testID("k/rev0"))}}
	if err := b.ChangeLog().Record(ctx, e); err != nil {
		t.Fatal(err)
	}
	next := e
	next.Phase, next.NotBefore, next.Heartbeat = driver.PhaseUnknown, now.Add(7*time.Second+250*time.Millisecond), now.Add(time.Second)
	if err := b.ChangeLog().Update(ctx, next, e.Lease()); err != nil {
		t.Fatal(err)
	}
	var raw string
	if err := b.view(func(tx *bolt.Tx) error {
		raw = string(tx.Bucket([]byte(bucketLog)).Get([]byte(e.ID)))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{`"phase":"unknown"`, `"not_before":"2026-05-01T10:00:07.25Z"`} {
		if !strings.Contains(raw, s) {
			t.Errorf("stored record %s lacks %s", raw, s)
		}
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	b, err = Open(context.Background(), dir, &Options{SweepInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if got, err := b.ChangeLog().Get(ctx, e.ID); err != nil || !reflect.DeepEqual(got, next) {
		t.Fatalf("after reopen: %+v, %v; want %+v", got, err, next)
	}
}

func TestChangeLog_UnknownPhase_Rejected(t *testing.T) {
	b := openTest(t, nil)
	ctx := t.Context()
	cl := b.ChangeLog()
	e := driver.LogEntry{ID: "0190-x", Owner: "w", Heartbeat: time.Unix(1000, 0).UTC(), Change: driver.Change{ID: testID("k")}}
	bad := e
	bad.Phase = driver.PhaseSuperseded + 1
	if err := cl.Record(ctx, bad); !errors.Is(err, object.ErrInvalidArgument) {
		t.Fatalf("Record with phase %s: %v, want ErrInvalidArgument", bad.Phase, err)
	}
	if _, err := cl.Get(ctx, e.ID); !errors.Is(err, object.ErrNotFound) {
		t.Fatalf("Get after a rejected Record: %v, want ErrNotFound", err)
	}
	if err := cl.Record(ctx, e); err != nil {
		t.Fatal(err)
	}
	if err := cl.Update(ctx, bad, e.Lease()); !errors.Is(err, object.ErrInvalidArgument) {
		t.Fatalf("Update to phase %s: %v, want ErrInvalidArgument", bad.Phase, err)
	}
	if got, err := cl.Get(ctx, e.ID); err != nil || !reflect.DeepEqual(got, e) {
		t.Fatalf("after a rejected Update: %+v, %v; want %+v", got, err, e)
	}
}
