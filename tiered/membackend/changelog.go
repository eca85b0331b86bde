package membackend

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/stratastore/strata/tiered/driver"
	"github.com/stratastore/strata/tiered/object"
)

// ChangeLog is an in-memory driver.ChangeLog. "Durable" here means: until the value is
// dropped. The zero value is not usable; get one from Open.
type ChangeLog struct {
	mu      sync.Mutex
	entries map[driver.ChangeID]driver.LogEntry
	// lastRun is RunLog's record, kept apart from entries so that no claim or scan sees it.
	lastRun *driver.RecoveryRun
}

var (
	_ driver.ChangeLogReader = (*ChangeLog)(nil)
	_ driver.RunLog          = (*ChangeLog)(nil)
)

func cloneEntry(e driver.LogEntry) driver.LogEntry {
	e.Change.ID = cloneID(e.Change.ID)
	e.Change.New = cloneIDPtr(e.Change.New)
	e.Change.Old = cloneIDPtr(e.Change.Old)
	return e
}

// Entries returns a copy of every entry, ordered by id.
func (c *ChangeLog) Entries() []driver.LogEntry {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]driver.LogEntry, 0, len(c.entries))
	for _, id := range slices.Sorted(maps.Keys(c.entries)) {
		out = append(out, cloneEntry(c.entries[id]))
	}
	return out
}

// Record stores e. An existing entry with the same id is replaced only when e.Owner owns it.
func (c *ChangeLog) Record(ctx context.Context, e driver.LogEntry) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if e.ID == "" {
		return object.Invalidf("change id must be non-empty")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.entries[e.ID]; ok && old.Owner != e.Owner {
		return fmt.Errorf("%w: change %s is held by %q", object.ErrConflict, e.ID, old.Owner)
	}
	c.entries[e.ID] = cloneEntry(e)
	return nil
}

// Get returns entry id, or ErrNotFound.
func (c *ChangeLog) Get(ctx context.Context, id driver.ChangeID) (driver.LogEntry, error) {
	if err := ctx.Err(); err != nil {
		return driver.LogEntry{}, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[id]
	if !ok {
		return driver.LogEntry{}, fmt.Errorf("%w: change %s", object.ErrNotFound, id)
	}
	return cloneEntry(e), nil
}

// Update replaces entry e.ID with e if its lease matches prev (the heartbeat at millisecond
// precision, unless prev.Heartbeat is zero).
func (c *ChangeLog) Update(ctx context.Context, e driver.LogEntry, prev driver.Lease) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	cur, ok := c.entries[e.ID]
	if !ok {
		return fmt.Errorf("%w: change %s", object.ErrNotFound, e.ID)
	}
	if cur.Owner != prev.Owner || (!prev.Heartbeat.IsZero() && cur.Heartbeat.UnixMilli() != prev.Heartbeat.UnixMilli()) {
		return fmt.Errorf("%w: change %s is held by %q since %s, not %q since %s", object.ErrConflict, e.ID,
			cur.Owner, cur.Heartbeat.Format(time.RFC3339Nano), prev.Owner, prev.Heartbeat.Format(time.RFC3339Nano))
	}
	c.entries[e.ID] = cloneEntry(e)
	return nil
}

// Refresh sets the heartbeat of entry id while owner holds its lease.
func (c *ChangeLog) Refresh(ctx context.Context, id driver.ChangeID, owner string, heartbeat time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[id]
	if !ok {
		return fmt.Errorf("%w: change %s", object.ErrNotFound, id)
	}
	if e.Owner != owner {
		return fmt.Errorf("%w: change %s is owned by %q, not %q", object.ErrConflict, id, e.Owner, owner)
	}
	e.Heartbeat = heartbeat
	c.entries[id] = e
	return nil
}

// Remove deletes entry id; a missing entry is not an error.
func (c *ChangeLog) Remove(ctx context.Context, id driver.ChangeID) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.entries, id)
	return nil
}

// ClaimStale takes over up to cl.Limit abandoned entries, oldest id first. The whole claim
// runs under the lock, so concurrent claims never return the same entry.
func (c *ChangeLog) ClaimStale(ctx context.Context, cl driver.Claim) ([]driver.LogEntry, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if cl.Limit < 1 {
		return nil, object.Invalidf("claim limit %d is below 1", cl.Limit)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []driver.LogEntry
	for _, id := range slices.Sorted(maps.Keys(c.entries)) {
		if len(out) == cl.Limit {
			break
		}
		e := c.entries[id]
		if !e.Heartbeat.Before(cl.StaleBefore) {
			continue
		}
		if !e.Change.CleanupAfter.IsZero() && e.Change.CleanupAfter.After(cl.Now) {
			continue
		}
		e.Owner = cl.Owner
		e.Heartbeat = cl.Now
		c.entries[id] = e
		out = append(out, cloneEntry(e))
	}
	return out, nil
}

// scanPage bounds the entries Scan copies under the lock at a time.
const scanPage = 256

// Scan calls fn for every entry in id order. It copies a page of entries under the lock and
// calls fn without it, so fn may be slow; each page starts after the last id reported, so an
// id is never reported twice.
func (c *ChangeLog) Scan(ctx context.Context, fn func(driver.LogEntry) error) error {
	var after driver.ChangeID
	first := true
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		c.mu.Lock()
		var ids []driver.ChangeID
		for id := range c.entries {
			if first || id > after {
				ids = append(ids, id)
			}
		}
		slices.Sort(ids)
		if len(ids) > scanPage {
			ids = ids[:scanPage]
		}
		page := make([]driver.LogEntry, len(ids))
		for i, id := range ids {
			page[i] = cloneEntry(c.entries[id])
		}
		c.mu.Unlock()
		for _, e := range page {
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := fn(e); err != nil {
				return err
			}
		}
		if len(page) < scanPage {
			return nil
		}
		after, first = page[len(page)-1].ID, false
	}
}

// RecordRun replaces the recovery-run record.
func (c *ChangeLog) RecordRun(ctx context.Context, r driver.RecoveryRun) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lastRun = &r
	return nil
}

// LastRun returns the recovery-run record, or ErrNotFound.
func (c *ChangeLog) LastRun(ctx context.Context) (driver.RecoveryRun, error) {
	if err := ctx.Err(); err != nil {
		return driver.RecoveryRun{}, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.lastRun == nil {
		return driver.RecoveryRun{}, fmt.Errorf("%w: no recovery run recorded", object.ErrNotFound)
	}
	return *c.lastRun, nil
}
