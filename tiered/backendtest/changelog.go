package backendtest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/stratastore/strata/tiered/driver"
	"github.com/stratastore/strata/tiered/object"
)

// TestChangeLog runs the conformance suite for driver.ChangeLog. open must return a fresh,
// empty, isolated log for each call; the caller registers its cleanup on t.
//
// Each subtest checks one "must" of the driver.ChangeLog contract, named after it. Times
// are real and far apart (entries are an hour stale, claims use explicit Now and
// StaleBefore), so nothing sleeps, and they are compared at millisecond precision.
//
// Durability across a crash (Record's "a later crash must not lose it") cannot be checked
// through the interface; a persistent backend tests it by reopening its storage.
func TestChangeLog(t *testing.T, open func(t *testing.T) driver.ChangeLog) {
	clRecord(t, open)
	clGet(t, open)
	clUpdate(t, open)
	clClaim(t, open)
	clRefresh(t, open)
	clRemove(t, open)
	clConcurrency(t, open)
}

// NewChangeID returns a fresh UUIDv7 change id, as the Store makes them.
func NewChangeID() driver.ChangeID {
	return driver.ChangeID(uuid.Must(uuid.NewV7()).String())
}

type cl struct {
	t *testing.T
	b driver.ChangeLog
	// now is the suite's reference time: entries are stale when their heartbeat is an hour
	// before it, and claims happen at it.
	now time.Time
}

func openCL(t *testing.T, open func(t *testing.T) driver.ChangeLog) cl {
	return cl{t: t, b: open(t), now: Millis(time.Now())}
}

// record stores an entry for key owned by owner with the given heartbeat.
func (c cl) record(key, owner string, heartbeat time.Time) driver.LogEntry {
	c.t.Helper()
	id := NewID(c.t, key)
	e := driver.LogEntry{
		ID:        NewChangeID(),
		Change:    driver.Change{ID: id, New: ptr(revision(id, 1))},
		Owner:     owner,
		Heartbeat: Millis(heartbeat),
	}
	c.recordEntry(e)
	return e
}

func (c cl) recordEntry(e driver.LogEntry) {
	c.t.Helper()
	if err := c.b.Record(c.t.Context(), e); err != nil {
		c.t.Fatalf("Record(%s): %v", e.ID, err)
	}
}

// full returns an entry for key in phase p with every field set, owned by "writer" with a
// fresh heartbeat. Its CleanupAfter is past, so it does not defer a claim; its NotBefore is
// in the future and distinct per phase, and is not a claim condition: only the Store reads it.
// It is not recorded.
func (c cl) full(key string, p driver.Phase) driver.LogEntry {
	c.t.Helper()
	id := NewID(c.t, key)
	return driver.LogEntry{
		ID: NewChangeID(),
		Change: driver.Change{
			ID:           id,
			New:          ptr(revision(id, 1)),
			Old:          ptr(revision(id, 2)),
			UploadID:     "0b5e3f2a-6c1d-4e8f-9a7b-2c4d6e8f0a1b",
			CleanupAfter: c.now.Add(-time.Minute),
		},
		Phase:     p,
		NotBefore: c.now.Add(time.Duration(p+1)*time.Minute + 123*time.Millisecond),
		Owner:     "writer",
		Heartbeat: c.now.Add(-time.Second),
	}
}

// get returns entry id, failing the test on an error.
func (c cl) get(id driver.ChangeID) driver.LogEntry {
	c.t.Helper()
	e, err := c.b.Get(c.t.Context(), id)
	if err != nil {
		c.t.Fatalf("Get(%s): %v", id, err)
	}
	return e
}

// update replaces entry e.ID with e under lease prev, failing the test on an error.
func (c cl) update(e driver.LogEntry, prev driver.Lease) {
	c.t.Helper()
	if err := c.b.Update(c.t.Context(), e, prev); err != nil {
		c.t.Fatalf("Update(%s) with lease %q@%s: %v", e.ID, prev.Owner, fmtTime(prev.Heartbeat), err)
	}
}

// allPhases returns every phase, driver.PhaseRecorded to driver.PhaseSuperseded.
func allPhases() []driver.Phase {
	var ps []driver.Phase
	for p := driver.PhaseRecorded; p <= driver.PhaseSuperseded; p++ {
		ps = append(ps, p)
	}
	return ps
}

// stale records an entry whose heartbeat is an hour old.
func (c cl) stale(key string) driver.LogEntry {
	c.t.Helper()
	return c.record(key, "crashed-writer", c.now.Add(-time.Hour))
}

// claim claims as owner at c.now (plus at), treating heartbeats older than a minute as stale.
func (c cl) claim(owner string, at time.Duration, limit int) []driver.LogEntry {
	c.t.Helper()
	now := c.now.Add(at)
	es, err := c.b.ClaimStale(c.t.Context(), driver.Claim{Owner: owner, Now: now, StaleBefore: now.Add(-time.Minute), Limit: limit})
	if err != nil {
		c.t.Fatalf("ClaimStale: %v", err)
	}
	return es
}

func idSet(es []driver.LogEntry) map[driver.ChangeID]bool {
	m := map[driver.ChangeID]bool{}
	for _, e := range es {
		m[e.ID] = true
	}
	return m
}

func optIDDiff(name string, got, want *object.ID) string {
	switch {
	case got == nil && want == nil:
		return ""
	case got == nil || want == nil:
		return fmt.Sprintf("%s %v, want %v", name, got, want)
	case !got.Equal(*want):
		return fmt.Sprintf("%s %s, want %s", name, got, want)
	}
	return ""
}

// changeDiff describes the first difference between two changes, or "".
func changeDiff(got, want driver.Change) string {
	if !got.ID.Equal(want.ID) {
		return fmt.Sprintf("ID %s, want %s", got.ID, want.ID)
	}
	if d := optIDDiff("New", got.New, want.New); d != "" {
		return d
	}
	if d := optIDDiff("Old", got.Old, want.Old); d != "" {
		return d
	}
	if got.UploadID != want.UploadID {
		return fmt.Sprintf("UploadID %q, want %q", got.UploadID, want.UploadID)
	}
	if !SameMillis(got.CleanupAfter, want.CleanupAfter) {
		return fmt.Sprintf("CleanupAfter %s, want %s", fmtTime(got.CleanupAfter), fmtTime(want.CleanupAfter))
	}
	return ""
}

// entryDiff describes the first difference between two log entries, or "".
func entryDiff(got, want driver.LogEntry) string {
	if got.ID != want.ID {
		return fmt.Sprintf("ID %s, want %s", got.ID, want.ID)
	}
	if d := changeDiff(got.Change, want.Change); d != "" {
		return d
	}
	if got.Phase != want.Phase {
		return fmt.Sprintf("Phase %s, want %s", got.Phase, want.Phase)
	}
	if !SameMillis(got.NotBefore, want.NotBefore) {
		return fmt.Sprintf("NotBefore %s, want %s", fmtTime(got.NotBefore), fmtTime(want.NotBefore))
	}
	if got.Owner != want.Owner {
		return fmt.Sprintf("Owner %q, want %q", got.Owner, want.Owner)
	}
	if !SameMillis(got.Heartbeat, want.Heartbeat) {
		return fmt.Sprintf("Heartbeat %s, want %s", fmtTime(got.Heartbeat), fmtTime(want.Heartbeat))
	}
	return ""
}

func clRecord(t *testing.T, open func(t *testing.T) driver.ChangeLog) {
	t.Run("Record/ThenClaimStale", func(t *testing.T) {
		c := openCL(t, open)
		e := c.stale("recorded")
		got := c.claim("recovery", 0, 10)
		if len(got) != 1 {
			t.Fatalf("claimed %d entries, want 1", len(got))
		}
		if got[0].ID != e.ID {
			t.Errorf("claimed %s, want %s", got[0].ID, e.ID)
		}
		if d := changeDiff(got[0].Change, e.Change); d != "" {
			t.Errorf("claimed change differs: %s", d)
		}
		// The claim takes the lease: new owner, heartbeat = Claim.Now.
		if got[0].Owner != "recovery" {
			t.Errorf("claimed entry owner %q, want %q", got[0].Owner, "recovery")
		}
		if !SameMillis(got[0].Heartbeat, c.now) {
			t.Errorf("claimed entry heartbeat %s, want %s", fmtTime(got[0].Heartbeat), fmtTime(c.now))
		}
		// The claim renewed the heartbeat, so the entry is no longer stale.
		if again := c.claim("other", 0, 10); len(again) != 0 {
			t.Errorf("a second claim returned %d entries, want 0", len(again))
		}
	})
	t.Run("Record/SameIDReplacesWholeEntry", func(t *testing.T) {
		// A retried Record (same id, same owner) replaces the entry whole: fields the second
		// entry leaves zero are gone, not merged.
		c := openCL(t, open)
		first := c.stale("replaced")
		first.Change.UploadID = "u-1"
		first.Change.CleanupAfter = c.now.Add(24 * time.Hour) // deferred, like an assembling complete
		first.Phase = driver.PhaseAssembling
		first.NotBefore = c.now.Add(time.Hour)
		c.recordEntry(first)
		if d := entryDiff(c.get(first.ID), first); d != "" {
			t.Fatalf("entry after re-recording it with more fields: %s", d)
		}
		id := first.Change.ID
		second := driver.LogEntry{
			ID:        first.ID,
			Change:    driver.Change{ID: id, Old: ptr(revision(id, 2)), UploadID: "u-2"},
			Owner:     first.Owner,
			Heartbeat: c.now.Add(-2 * time.Hour),
		}
		c.recordEntry(second)
		if d := entryDiff(c.get(first.ID), second); d != "" {
			t.Errorf("entry after the second Record: %s", d)
		}
		got := c.claim("recovery", 0, 10)
		if len(got) != 1 || got[0].ID != first.ID {
			t.Fatalf("claimed %v, want the one entry %s (the deferral must be gone with the old entry)", idSet(got), first.ID)
		}
		if d := changeDiff(got[0].Change, second.Change); d != "" {
			t.Errorf("claimed entry after the second Record: %s", d)
		}
		if err := c.b.Refresh(t.Context(), first.ID, first.Owner, c.now); !errors.Is(err, object.ErrConflict) {
			t.Errorf("Refresh by the replaced owner after a claim: %v, want ErrConflict", err)
		}
	})
	t.Run("Record/OtherOwnerConflict", func(t *testing.T) {
		// An entry held by another owner is never overwritten: Record fails and changes
		// nothing, whether the other owner recorded it, claimed it, or released it.
		c := openCL(t, open)
		held := c.full("held", driver.PhaseRecorded)
		c.recordEntry(held)

		claimed := c.full("claimed", driver.PhaseWritten)
		claimed.Heartbeat = c.now.Add(-time.Hour)
		c.recordEntry(claimed)
		if got := c.claim("recovery", 0, 10); len(got) != 1 || got[0].ID != claimed.ID {
			t.Fatalf("claimed %v, want %s", idSet(got), claimed.ID)
		}
		claimed.Owner, claimed.Heartbeat = "recovery", c.now

		released := c.full("released", driver.PhaseUpdated)
		c.recordEntry(released)
		releasedBy := released.Lease()
		released.Owner = ""
		c.update(released, releasedBy)

		for _, tc := range []struct {
			name    string
			current driver.LogEntry
			owner   string
		}{
			{"held by another writer", held, "intruder"},
			{"claimed by recovery, retried by the original writer", claimed, "writer"},
			{"released, retried by the original writer", released, "writer"},
		} {
			other := c.full("other", driver.PhaseAborted)
			other.ID = tc.current.ID
			other.Owner = tc.owner
			if err := c.b.Record(t.Context(), other); !errors.Is(err, object.ErrConflict) {
				t.Errorf("%s: Record by %q: %v, want ErrConflict", tc.name, tc.owner, err)
			}
			if d := entryDiff(c.get(tc.current.ID), tc.current); d != "" {
				t.Errorf("%s: entry changed by a conflicting Record: %s", tc.name, d)
			}
		}
	})
	t.Run("Record/PhaseAndNotBeforeRoundTrip", func(t *testing.T) {
		c := openCL(t, open)
		for _, p := range allPhases() {
			e := c.full("phase/"+p.String(), p)
			c.recordEntry(e)
			if d := entryDiff(c.get(e.ID), e); d != "" {
				t.Errorf("phase %s: %s", p, d)
			}
		}
	})
	t.Run("Record/AllChangeFieldsRoundTrip", func(t *testing.T) {
		c := openCL(t, open)
		id := object.NewID("attachments", []object.Scope{{Name: "org", Value: "17"}, {Name: "project", Value: "42"}}, "dir/ünï cödé+%;=:@&")
		if err := id.Validate(); err != nil {
			t.Fatal(err)
		}
		rev1, rev2 := revision(id, 1), revision(id, 2)
		changes := []driver.Change{
			{ID: id},
			{ID: id, New: &rev1},
			{ID: id, Old: &rev2},
			{ID: id, New: &rev1, Old: &rev2},
			{ID: id, New: &rev1, UploadID: "0b5e3f2a-6c1d-4e8f-9a7b-2c4d6e8f0a1b", CleanupAfter: c.now.Add(-time.Minute)},
			{ID: NewID(t, "plain"), Old: ptr(revision(NewID(t, "plain"), 3)), CleanupAfter: c.now.Add(-24 * time.Hour)},
		}
		want := map[driver.ChangeID]driver.Change{}
		for _, ch := range changes {
			e := driver.LogEntry{ID: NewChangeID(), Change: ch, Owner: "writer", Heartbeat: c.now.Add(-time.Hour)}
			c.recordEntry(e)
			want[e.ID] = ch
		}
		got := c.claim("recovery", 0, 100)
		if len(got) != len(changes) {
			t.Fatalf("claimed %d entries, want %d", len(got), len(changes))
		}
		for _, e := range got {
			ch, ok := want[e.ID]
			if !ok {
				t.Errorf("claimed unknown entry %s", e.ID)
				continue
			}
			if d := changeDiff(e.Change, ch); d != "" {
				t.Errorf("entry %s: %s", e.ID, d)
			}
		}
	})
}

func clGet(t *testing.T, open func(t *testing.T) driver.ChangeLog) {
	t.Run("Get/AllFields", func(t *testing.T) {
		c := openCL(t, open)
		odd := object.NewID("attachments", []object.Scope{{Name: "org", Value: "17"}, {Name: "project", Value: "42"}}, "dir/ünï cödé+%;=:@&")
		if err := odd.Validate(); err != nil {
			t.Fatal(err)
		}
		plain := NewID(t, "plain")
		entries := []driver.LogEntry{
			c.full("full", driver.PhaseWritten),
			{ID: NewChangeID(), Change: driver.Change{ID: plain}, Owner: "w", Heartbeat: c.now},
			{
				ID:        NewChangeID(),
				Change:    driver.Change{ID: odd, New: ptr(revision(odd, 1)), UploadID: "u-odd", CleanupAfter: c.now.Add(24 * time.Hour)},
				Phase:     driver.PhaseAssembling,
				Owner:     "writer/ü",
				Heartbeat: c.now.Add(-time.Hour),
			},
			{ID: NewChangeID(), Change: driver.Change{ID: plain, Old: ptr(revision(plain, 3))}, Phase: driver.PhaseUnknown, NotBefore: c.now.Add(-time.Hour), Owner: "w", Heartbeat: c.now.Add(time.Second)},
		}
		for _, e := range entries {
			c.recordEntry(e)
		}
		for i, e := range entries {
			if d := entryDiff(c.get(e.ID), e); d != "" {
				t.Errorf("entry %d (%s): %s", i, e.ID, d)
			}
		}
	})
	t.Run("Get/NotFound", func(t *testing.T) {
		c := openCL(t, open)
		if _, err := c.b.Get(t.Context(), NewChangeID()); !errors.Is(err, object.ErrNotFound) {
			t.Errorf("Get of an unknown entry: %v, want ErrNotFound", err)
		}
		e := c.record("removed", "writer", c.now)
		keep := c.record("kept", "writer", c.now)
		if err := c.b.Remove(t.Context(), e.ID); err != nil {
			t.Fatalf("Remove: %v", err)
		}
		if _, err := c.b.Get(t.Context(), e.ID); !errors.Is(err, object.ErrNotFound) {
			t.Errorf("Get of a removed entry: %v, want ErrNotFound", err)
		}
		if d := entryDiff(c.get(keep.ID), keep); d != "" {
			t.Errorf("the other entry: %s", d)
		}
	})
}

func clUpdate(t *testing.T, open func(t *testing.T) driver.ChangeLog) {
	// conflict fails the test unless Update(e, prev) returns ErrConflict and leaves the entry
	// equal to want.
	conflict := func(c cl, what string, e driver.LogEntry, prev driver.Lease, want driver.LogEntry) {
		c.t.Helper()
		if err := c.b.Update(c.t.Context(), e, prev); !errors.Is(err, object.ErrConflict) {
			c.t.Errorf("%s: Update with lease %q@%s: %v, want ErrConflict", what, prev.Owner, fmtTime(prev.Heartbeat), err)
		}
		if d := entryDiff(c.get(want.ID), want); d != "" {
			c.t.Errorf("%s: entry changed by a conflicting Update: %s", what, d)
		}
	}
	t.Run("Update/MatchingLeaseReplacesWholeEntry", func(t *testing.T) {
		c := openCL(t, open)
		e := c.full("update", driver.PhaseRecorded)
		c.recordEntry(e)
		id := e.Change.ID
		// Fields the new entry leaves zero are cleared, not merged.
		second := driver.LogEntry{
			ID:        e.ID,
			Change:    driver.Change{ID: id, Old: ptr(revision(id, 3))},
			Phase:     driver.PhaseUpdated,
			NotBefore: c.now.Add(30 * time.Second),
			Owner:     e.Owner,
			Heartbeat: c.now,
		}
		c.update(second, e.Lease())
		if d := entryDiff(c.get(e.ID), second); d != "" {
			t.Fatalf("entry after Update: %s", d)
		}
		// The stored lease is the new one: it matches, the replaced one does not.
		conflict(c, "the replaced lease", e, e.Lease(), second)
		// Update may hand the entry to another owner.
		third := second
		third.Owner, third.Heartbeat, third.Phase = "successor", c.now.Add(time.Second), driver.PhaseSuperseded
		c.update(third, second.Lease())
		if d := entryDiff(c.get(e.ID), third); d != "" {
			t.Fatalf("entry after the second Update: %s", d)
		}
		if err := c.b.Refresh(t.Context(), e.ID, e.Owner, c.now); !errors.Is(err, object.ErrConflict) {
			t.Errorf("Refresh by the owner the entry was handed away from: %v, want ErrConflict", err)
		}
	})
	t.Run("Update/ZeroHeartbeatMatchesOwner", func(t *testing.T) {
		c := openCL(t, open)
		e := c.full("zero-heartbeat", driver.PhaseRecorded)
		c.recordEntry(e)
		// The owner refreshed since the caller last read the entry; a zero prev.Heartbeat
		// matches any heartbeat of the same owner.
		if err := c.b.Refresh(t.Context(), e.ID, e.Owner, c.now.Add(5*time.Second)); err != nil {
			t.Fatalf("Refresh: %v", err)
		}
		next := e
		next.Phase, next.NotBefore, next.Heartbeat = driver.PhaseLost, time.Time{}, c.now.Add(6*time.Second)
		c.update(next, driver.Lease{Owner: e.Owner})
		if d := entryDiff(c.get(e.ID), next); d != "" {
			t.Errorf("entry after Update: %s", d)
		}
	})
	t.Run("Update/HeartbeatComparedAtMillis", func(t *testing.T) {
		c := openCL(t, open)
		e := c.full("millis", driver.PhaseRecorded)
		c.recordEntry(e)
		next := e
		next.Phase = driver.PhaseAborted
		// The stored heartbeat is whole milliseconds; a lease read back from a backend that
		// keeps more precision, or none, matches it within the same millisecond.
		c.update(next, driver.Lease{Owner: e.Owner, Heartbeat: e.Heartbeat.Add(999 * time.Microsecond)})
		if d := entryDiff(c.get(e.ID), next); d != "" {
			t.Errorf("entry after Update: %s", d)
		}
	})
	t.Run("Update/OtherOwnerConflict", func(t *testing.T) {
		c := openCL(t, open)
		e := c.full("other-owner", driver.PhaseWritten)
		c.recordEntry(e)
		next := e
		next.Phase, next.Owner = driver.PhaseUpdated, "intruder"
		conflict(c, "other owner, same heartbeat", next, driver.Lease{Owner: "intruder", Heartbeat: e.Heartbeat}, e)
		conflict(c, "other owner, zero heartbeat", next, driver.Lease{Owner: "intruder"}, e)
		conflict(c, "empty owner, zero heartbeat", next, driver.Lease{}, e)
	})
	t.Run("Update/OtherHeartbeatConflict", func(t *testing.T) {
		c := openCL(t, open)
		e := c.full("other-heartbeat", driver.PhaseWritten)
		c.recordEntry(e)
		next := e
		next.Phase, next.Heartbeat = driver.PhaseUpdated, c.now.Add(time.Minute)
		for _, d := range []time.Duration{time.Millisecond, -time.Millisecond, time.Hour} {
			conflict(c, fmt.Sprintf("heartbeat off by %s", d), next, driver.Lease{Owner: e.Owner, Heartbeat: e.Heartbeat.Add(d)}, e)
		}
		// After the owner refreshed, its earlier lease no longer matches.
		refreshed := e
		refreshed.Heartbeat = c.now.Add(10 * time.Second)
		if err := c.b.Refresh(t.Context(), e.ID, e.Owner, refreshed.Heartbeat); err != nil {
			t.Fatalf("Refresh: %v", err)
		}
		conflict(c, "lease from before a Refresh", next, e.Lease(), refreshed)
	})
	t.Run("Update/AfterClaim", func(t *testing.T) {
		c := openCL(t, open)
		e := c.full("claimed", driver.PhaseWritten)
		e.Heartbeat = c.now.Add(-time.Hour)
		c.recordEntry(e)
		got := c.claim("recovery", 0, 10)
		if len(got) != 1 || got[0].ID != e.ID {
			t.Fatalf("claimed %v, want %s", idSet(got), e.ID)
		}
		claimed := e
		claimed.Owner, claimed.Heartbeat = "recovery", c.now
		next := e
		next.Phase = driver.PhaseUpdated
		conflict(c, "the writer's lease", next, e.Lease(), claimed)
		conflict(c, "the writer, zero heartbeat", next, driver.Lease{Owner: e.Owner}, claimed)
		// The lease ClaimStale returned is the stored one.
		settled := claimed
		settled.Phase, settled.NotBefore = driver.PhaseUnknown, c.now.Add(time.Minute)
		c.update(settled, got[0].Lease())
		if d := entryDiff(c.get(e.ID), settled); d != "" {
			t.Errorf("entry after Update with the claimed lease: %s", d)
		}
	})
	t.Run("Update/GoneNotFound", func(t *testing.T) {
		c := openCL(t, open)
		missing := c.full("missing", driver.PhaseUpdated)
		if err := c.b.Update(t.Context(), missing, missing.Lease()); !errors.Is(err, object.ErrNotFound) {
			t.Errorf("Update of an unknown entry: %v, want ErrNotFound", err)
		}
		e := c.full("removed", driver.PhaseRecorded)
		c.recordEntry(e)
		if err := c.b.Remove(t.Context(), e.ID); err != nil {
			t.Fatalf("Remove: %v", err)
		}
		next := e
		next.Phase = driver.PhaseAborted
		if err := c.b.Update(t.Context(), next, e.Lease()); !errors.Is(err, object.ErrNotFound) {
			t.Errorf("Update of a removed entry: %v, want ErrNotFound", err)
		}
		if _, err := c.b.Get(t.Context(), e.ID); !errors.Is(err, object.ErrNotFound) {
			t.Errorf("Get after an Update of a removed entry: %v, want ErrNotFound (Update must not recreate it)", err)
		}
	})
	t.Run("Update/PhaseAndNotBeforeRoundTrip", func(t *testing.T) {
		// One entry walks through every phase; NotBefore is set and cleared on the way.
		c := openCL(t, open)
		e := c.full("phases", driver.PhaseRecorded)
		e.NotBefore = time.Time{}
		c.recordEntry(e)
		for i, p := range allPhases() {
			next := e
			next.Phase = p
			next.NotBefore = time.Time{}
			if i%2 == 0 {
				next.NotBefore = c.now.Add(time.Duration(i+1)*time.Minute + 7*time.Millisecond)
			}
			next.Heartbeat = c.now.Add(time.Duration(i) * time.Second)
			c.update(next, e.Lease())
			if d := entryDiff(c.get(e.ID), next); d != "" {
				t.Errorf("after the Update to phase %s: %s", p, d)
			}
			e = next
		}
	})
	t.Run("Update/ReleasedEntryClaimedOnceStale", func(t *testing.T) {
		c := openCL(t, open)
		e := c.full("released", driver.PhaseLost)
		c.recordEntry(e)
		released := e
		released.Owner, released.Heartbeat = "", c.now
		c.update(released, e.Lease())
		if d := entryDiff(c.get(e.ID), released); d != "" {
			t.Fatalf("entry after the release: %s", d)
		}
		// A released entry's heartbeat still counts: fresh, it is not claimed.
		if got := c.claim("recovery", 0, 10); len(got) != 0 {
			t.Fatalf("claimed %v right after the release, want none", idSet(got))
		}
		got := c.claim("recovery", time.Hour, 10)
		if len(got) != 1 || got[0].ID != e.ID {
			t.Fatalf("claim an hour after the release returned %v, want %s", idSet(got), e.ID)
		}
		want := released
		want.Owner, want.Heartbeat = "recovery", c.now.Add(time.Hour)
		if d := entryDiff(got[0], want); d != "" {
			t.Errorf("claimed entry: %s", d)
		}
	})
}

func clClaim(t *testing.T, open func(t *testing.T) driver.ChangeLog) {
	t.Run("ClaimStale/FreshNotClaimed", func(t *testing.T) {
		c := openCL(t, open)
		c.record("fresh", "live-writer", c.now.Add(-time.Second))
		c.record("future", "live-writer", c.now.Add(time.Second))
		stale := c.stale("stale")
		got := c.claim("recovery", 0, 10)
		if len(got) != 1 || got[0].ID != stale.ID {
			t.Errorf("claimed %v, want only the stale entry %s", idSet(got), stale.ID)
		}
	})
	t.Run("ClaimStale/HeartbeatAtStaleBeforeNotClaimed", func(t *testing.T) {
		// "before StaleBefore" is strict.
		c := openCL(t, open)
		c.record("edge", "writer", c.now.Add(-time.Minute))
		if got := c.claim("recovery", 0, 10); len(got) != 0 {
			t.Errorf("claimed %d entries whose heartbeat equals StaleBefore", len(got))
		}
	})
	t.Run("ClaimStale/CleanupAfterDefers", func(t *testing.T) {
		c := openCL(t, open)
		id := NewID(t, "deferred")
		deferred := driver.LogEntry{
			ID:        NewChangeID(),
			Change:    driver.Change{ID: id, New: ptr(revision(id, 1)), UploadID: "u", CleanupAfter: c.now.Add(time.Hour)},
			Owner:     "writer",
			Heartbeat: c.now.Add(-2 * time.Hour),
		}
		c.recordEntry(deferred)
		if got := c.claim("recovery", 0, 10); len(got) != 0 {
			t.Fatalf("claimed %d entries before CleanupAfter", len(got))
		}
		// At CleanupAfter exactly, the deferral is over ("not after Now").
		got := c.claim("recovery", time.Hour, 10)
		if len(got) != 1 || got[0].ID != deferred.ID {
			t.Fatalf("claimed %v at CleanupAfter, want %s", idSet(got), deferred.ID)
		}
		if d := changeDiff(got[0].Change, deferred.Change); d != "" {
			t.Errorf("claimed change differs: %s", d)
		}
	})
	t.Run("ClaimStale/LimitRespected", func(t *testing.T) {
		c := openCL(t, open)
		const n = 10
		for i := range n {
			c.stale(fmt.Sprintf("limit/%d", i))
		}
		seen := map[driver.ChangeID]bool{}
		for _, want := range []int{3, 3, 3, 1, 0} {
			got := c.claim("recovery", 0, 3)
			if len(got) != want {
				t.Fatalf("claim returned %d entries, want %d", len(got), want)
			}
			for _, e := range got {
				if seen[e.ID] {
					t.Fatalf("entry %s claimed twice", e.ID)
				}
				seen[e.ID] = true
			}
		}
		if len(seen) != n {
			t.Errorf("claimed %d distinct entries, want %d", len(seen), n)
		}
	})
	t.Run("ClaimStale/KeepsPhaseAndNotBefore", func(t *testing.T) {
		// A claim sets owner and heartbeat only. NotBefore is no claim condition: every entry
		// here has one in the future, and every one is claimed.
		c := openCL(t, open)
		want := map[driver.ChangeID]driver.LogEntry{}
		for _, p := range allPhases() {
			e := c.full("claim-phase/"+p.String(), p)
			e.Heartbeat = c.now.Add(-time.Hour)
			c.recordEntry(e)
			e.Owner, e.Heartbeat = "recovery", c.now
			want[e.ID] = e
		}
		zero := c.full("claim-phase/zero-not-before", driver.PhaseRecorded)
		zero.NotBefore, zero.Heartbeat = time.Time{}, c.now.Add(-time.Hour)
		c.recordEntry(zero)
		zero.Owner, zero.Heartbeat = "recovery", c.now
		want[zero.ID] = zero

		got := c.claim("recovery", 0, 100)
		if len(got) != len(want) {
			t.Fatalf("claimed %d entries, want %d", len(got), len(want))
		}
		for _, e := range got {
			w, ok := want[e.ID]
			if !ok {
				t.Errorf("claimed unknown entry %s", e.ID)
				continue
			}
			if d := entryDiff(e, w); d != "" {
				t.Errorf("claimed entry in phase %s: %s", w.Phase, d)
			}
			if d := entryDiff(c.get(e.ID), w); d != "" {
				t.Errorf("stored entry in phase %s after the claim: %s", w.Phase, d)
			}
		}
	})
	t.Run("ClaimStale/ClaimedEntryStaleAgainLater", func(t *testing.T) {
		// A claimant that dies in turn leaves the entry to the next one.
		c := openCL(t, open)
		e := c.stale("reclaim")
		if got := c.claim("first", 0, 1); len(got) != 1 {
			t.Fatalf("first claim returned %d entries", len(got))
		}
		got := c.claim("second", time.Hour, 1)
		if len(got) != 1 || got[0].ID != e.ID || got[0].Owner != "second" {
			t.Fatalf("second claim an hour later returned %+v, want %s owned by second", got, e.ID)
		}
	})
}

func clRefresh(t *testing.T, open func(t *testing.T) driver.ChangeLog) {
	t.Run("Refresh/ByOwnerKeepsEntry", func(t *testing.T) {
		c := openCL(t, open)
		e := c.stale("refreshed")
		if err := c.b.Refresh(t.Context(), e.ID, e.Owner, c.now); err != nil {
			t.Fatalf("Refresh by the owner: %v", err)
		}
		if got := c.claim("recovery", 0, 10); len(got) != 0 {
			t.Fatalf("claimed %d entries refreshed in time", len(got))
		}
		// The refreshed heartbeat is what the lease runs from: an hour later it is stale.
		got := c.claim("recovery", time.Hour, 10)
		if len(got) != 1 || got[0].ID != e.ID {
			t.Fatalf("claim an hour after the refresh returned %v, want %s", idSet(got), e.ID)
		}
	})
	t.Run("Refresh/KeepsOtherFields", func(t *testing.T) {
		c := openCL(t, open)
		e := c.full("refresh-fields", driver.PhaseUnknown)
		c.recordEntry(e)
		e.Heartbeat = c.now.Add(time.Second)
		if err := c.b.Refresh(t.Context(), e.ID, e.Owner, e.Heartbeat); err != nil {
			t.Fatalf("Refresh: %v", err)
		}
		if d := entryDiff(c.get(e.ID), e); d != "" {
			t.Errorf("entry after Refresh: %s", d)
		}
	})
	t.Run("Refresh/AfterClaimConflict", func(t *testing.T) {
		c := openCL(t, open)
		e := c.stale("stolen")
		if got := c.claim("recovery", 0, 10); len(got) != 1 {
			t.Fatalf("claim returned %d entries, want 1", len(got))
		}
		if err := c.b.Refresh(t.Context(), e.ID, e.Owner, c.now); !errors.Is(err, object.ErrConflict) {
			t.Errorf("Refresh by the previous owner: %v, want ErrConflict", err)
		}
		if err := c.b.Refresh(t.Context(), e.ID, "recovery", c.now.Add(time.Second)); err != nil {
			t.Errorf("Refresh by the new owner: %v", err)
		}
	})
	t.Run("Refresh/NonOwnerConflict", func(t *testing.T) {
		c := openCL(t, open)
		e := c.record("owned", "writer", c.now)
		if err := c.b.Refresh(t.Context(), e.ID, "intruder", c.now); !errors.Is(err, object.ErrConflict) {
			t.Errorf("Refresh by a non-owner: %v, want ErrConflict", err)
		}
	})
	t.Run("Refresh/GoneNotFound", func(t *testing.T) {
		c := openCL(t, open)
		if err := c.b.Refresh(t.Context(), NewChangeID(), "writer", c.now); !errors.Is(err, object.ErrNotFound) {
			t.Errorf("Refresh of an unknown entry: %v, want ErrNotFound", err)
		}
		e := c.record("removed", "writer", c.now)
		if err := c.b.Remove(t.Context(), e.ID); err != nil {
			t.Fatalf("Remove: %v", err)
		}
		if err := c.b.Refresh(t.Context(), e.ID, "writer", c.now); !errors.Is(err, object.ErrNotFound) {
			t.Errorf("Refresh of a removed entry: %v, want ErrNotFound", err)
		}
	})
}

func clRemove(t *testing.T, open func(t *testing.T) driver.ChangeLog) {
	t.Run("Remove/Idempotent", func(t *testing.T) {
		c := openCL(t, open)
		if err := c.b.Remove(t.Context(), NewChangeID()); err != nil {
			t.Errorf("Remove of an unknown entry: %v", err)
		}
		e := c.stale("remove")
		keep := c.stale("keep")
		for i := range 2 {
			if err := c.b.Remove(t.Context(), e.ID); err != nil {
				t.Fatalf("Remove #%d: %v", i+1, err)
			}
		}
		got := c.claim("recovery", 0, 10)
		if len(got) != 1 || got[0].ID != keep.ID {
			t.Errorf("claimed %v after Remove, want only %s", idSet(got), keep.ID)
		}
	})
}

func clConcurrency(t *testing.T, open func(t *testing.T) driver.ChangeLog) {
	t.Run("Update/ConcurrentSameLeaseOneWins", func(t *testing.T) {
		// Update checks the lease and writes atomically: of many updates from one lease that
		// each hand the entry to a different owner, exactly one applies.
		c := openCL(t, open)
		e := c.full("concurrent-update", driver.PhaseWritten)
		c.recordEntry(e)
		const n = 8
		errs := make([]error, n)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for g := range n {
			wg.Go(func() {
				<-start
				next := e
				next.Owner, next.Phase = fmt.Sprintf("successor-%d", g), driver.PhaseUpdated
				errs[g] = c.b.Update(t.Context(), next, e.Lease())
			})
		}
		close(start)
		wg.Wait()
		winner := -1
		for g, err := range errs {
			switch {
			case err == nil && winner >= 0:
				t.Errorf("updates %d and %d both applied", winner, g)
			case err == nil:
				winner = g
			case !errors.Is(err, object.ErrConflict):
				t.Errorf("update %d: %v, want nil or ErrConflict", g, err)
			}
		}
		if winner < 0 {
			t.Fatal("no update applied")
		}
		want := e
		want.Owner, want.Phase = fmt.Sprintf("successor-%d", winner), driver.PhaseUpdated
		if d := entryDiff(c.get(e.ID), want); d != "" {
			t.Errorf("entry after the concurrent updates: %s", d)
		}
	})
	t.Run("ClaimStale/ConcurrentClaimersNeverShare", func(t *testing.T) {
		c := openCL(t, open)
		const entries, claimers = 50, 8
		want := map[driver.ChangeID]bool{}
		for i := range entries {
			want[c.stale(fmt.Sprintf("concurrent/%d", i)).ID] = true
		}
		claimed := make([][]driver.LogEntry, claimers)
		errs := make([]error, claimers)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for g := range claimers {
			wg.Go(func() {
				<-start
				owner := fmt.Sprintf("claimer-%d", g)
				// Bounded: 50 entries need at most 50 successful claims in all.
				for range entries + 1 {
					es, err := c.b.ClaimStale(t.Context(), driver.Claim{Owner: owner, Now: c.now, StaleBefore: c.now.Add(-time.Minute), Limit: 3})
					if err != nil {
						errs[g] = err
						return
					}
					if len(es) == 0 {
						return
					}
					for _, e := range es {
						if e.Owner != owner {
							errs[g] = fmt.Errorf("claimer %s got entry %s with owner %q", owner, e.ID, e.Owner)
							return
						}
					}
					claimed[g] = append(claimed[g], es...)
				}
			})
		}
		close(start)
		wg.Wait()
		owner := map[driver.ChangeID]int{}
		for g := range claimers {
			if errs[g] != nil {
				t.Fatalf("claimer %d: %v", g, errs[g])
			}
			for _, e := range claimed[g] {
				if prev, dup := owner[e.ID]; dup {
					t.Errorf("entry %s claimed twice: by claimer %d and by claimer %d", e.ID, prev, g)
				}
				owner[e.ID] = g
				if !want[e.ID] {
					t.Errorf("claimed unknown entry %s", e.ID)
				}
			}
		}
		if len(owner) != entries {
			t.Errorf("claimed %d distinct entries, want all %d", len(owner), entries)
		}
	})
}
