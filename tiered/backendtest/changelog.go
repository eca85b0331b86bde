package backendtest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/stratastore/strata/tiered/driver"
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

func optIDDiff(name string, got, want *driver.ObjectID) string {
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
		c := openCL(t, open)
		first := c.stale("replaced")
		first.Change.CleanupAfter = c.now.Add(24 * time.Hour) // deferred, like an assembling complete
		c.recordEntry(first)
		id := first.Change.ID
		second := driver.LogEntry{
			ID:        first.ID,
			Change:    driver.Change{ID: id, Old: ptr(revision(id, 2)), UploadID: "u-2"},
			Owner:     "retry",
			Heartbeat: c.now.Add(-time.Hour),
		}
		c.recordEntry(second)
		got := c.claim("recovery", 0, 10)
		if len(got) != 1 || got[0].ID != first.ID {
			t.Fatalf("claimed %v, want the one entry %s (the deferral must be gone with the old entry)", idSet(got), first.ID)
		}
		if d := changeDiff(got[0].Change, second.Change); d != "" {
			t.Errorf("entry after the second Record: %s", d)
		}
		if err := c.b.Refresh(t.Context(), first.ID, "retry", c.now); !errors.Is(err, driver.ErrConflict) {
			t.Errorf("Refresh by the replaced owner after a claim: %v, want ErrConflict", err)
		}
	})
	t.Run("Record/AllChangeFieldsRoundTrip", func(t *testing.T) {
		c := openCL(t, open)
		id := driver.NewObjectID("attachments", []driver.Scope{{Name: "org", Value: "17"}, {Name: "project", Value: "42"}}, "dir/ünï cödé+%;=:@&")
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
	t.Run("Refresh/AfterClaimConflict", func(t *testing.T) {
		c := openCL(t, open)
		e := c.stale("stolen")
		if got := c.claim("recovery", 0, 10); len(got) != 1 {
			t.Fatalf("claim returned %d entries, want 1", len(got))
		}
		if err := c.b.Refresh(t.Context(), e.ID, e.Owner, c.now); !errors.Is(err, driver.ErrConflict) {
			t.Errorf("Refresh by the previous owner: %v, want ErrConflict", err)
		}
		if err := c.b.Refresh(t.Context(), e.ID, "recovery", c.now.Add(time.Second)); err != nil {
			t.Errorf("Refresh by the new owner: %v", err)
		}
	})
	t.Run("Refresh/NonOwnerConflict", func(t *testing.T) {
		c := openCL(t, open)
		e := c.record("owned", "writer", c.now)
		if err := c.b.Refresh(t.Context(), e.ID, "intruder", c.now); !errors.Is(err, driver.ErrConflict) {
			t.Errorf("Refresh by a non-owner: %v, want ErrConflict", err)
		}
	})
	t.Run("Refresh/GoneNotFound", func(t *testing.T) {
		c := openCL(t, open)
		if err := c.b.Refresh(t.Context(), NewChangeID(), "writer", c.now); !errors.Is(err, driver.ErrNotFound) {
			t.Errorf("Refresh of an unknown entry: %v, want ErrNotFound", err)
		}
		e := c.record("removed", "writer", c.now)
		if err := c.b.Remove(t.Context(), e.ID); err != nil {
			t.Fatalf("Remove: %v", err)
		}
		if err := c.b.Refresh(t.Context(), e.ID, "writer", c.now); !errors.Is(err, driver.ErrNotFound) {
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
