package localbackend

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/stratastore/strata/tiered/driver"
)

// ChangeLog is the change log in bbolt bucket "changelog", one JSON record per change id.
// Every method is one transaction, so a claim is atomic by construction.
type ChangeLog struct {
	b *Backend
}

var _ driver.ChangeLog = (*ChangeLog)(nil)

// logRecord is the stored form of a driver.LogEntry; object ids are storage paths.
type logRecord struct {
	ID           string     `json:"id"`
	New          string     `json:"new,omitempty"`
	Old          string     `json:"old,omitempty"`
	UploadID     string     `json:"upload_id,omitempty"`
	CleanupAfter *time.Time `json:"cleanup_after,omitempty"`
	Owner        string     `json:"owner"`
	Heartbeat    time.Time  `json:"heartbeat"`
}

func encodeLogEntry(e driver.LogEntry) ([]byte, error) {
	r := logRecord{
		ID:        e.Change.ID.StoragePath(),
		UploadID:  e.Change.UploadID,
		Owner:     e.Owner,
		Heartbeat: e.Heartbeat.UTC(),
	}
	if e.Change.New != nil {
		r.New = e.Change.New.StoragePath()
	}
	if e.Change.Old != nil {
		r.Old = e.Change.Old.StoragePath()
	}
	if !e.Change.CleanupAfter.IsZero() {
		t := e.Change.CleanupAfter.UTC()
		r.CleanupAfter = &t
	}
	return json.Marshal(r)
}

func decodeLogEntry(id, v []byte) (driver.LogEntry, error) {
	var r logRecord
	if err := json.Unmarshal(v, &r); err != nil {
		return driver.LogEntry{}, fmt.Errorf("%w: change %s: %v", errCorrupt, id, err)
	}
	e := driver.LogEntry{ID: driver.ChangeID(id), Owner: r.Owner, Heartbeat: r.Heartbeat}
	var err error
	if e.Change.ID, err = driver.ParseStoragePath(r.ID); err != nil {
		return driver.LogEntry{}, fmt.Errorf("%w: change %s: %v", errCorrupt, id, err)
	}
	for _, f := range []struct {
		path string
		dst  **driver.ObjectID
	}{{r.New, &e.Change.New}, {r.Old, &e.Change.Old}} {
		if f.path == "" {
			continue
		}
		oid, err := driver.ParseStoragePath(f.path)
		if err != nil {
			return driver.LogEntry{}, fmt.Errorf("%w: change %s: %v", errCorrupt, id, err)
		}
		*f.dst = &oid
	}
	e.Change.UploadID = r.UploadID
	if r.CleanupAfter != nil {
		e.Change.CleanupAfter = *r.CleanupAfter
	}
	return e, nil
}

// Record stores e; it is fsynced before Record returns. Recording an id again replaces the
// entry.
func (l *ChangeLog) Record(ctx context.Context, e driver.LogEntry) error {
	if e.ID == "" {
		return fmt.Errorf("%w: empty change id", driver.ErrInvalidArgument)
	}
	v, err := encodeLogEntry(e)
	if err != nil {
		return err
	}
	err = l.b.update(ctx, func(tx *bolt.Tx) error {
		return tx.Bucket([]byte(bucketLog)).Put([]byte(e.ID), v)
	})
	if err != nil {
		return fmt.Errorf("localbackend: record change %s: %w", e.ID, err)
	}
	return nil
}

// Refresh sets the heartbeat of entry id while owner holds its lease: ErrConflict if
// another owner claimed it, ErrNotFound if it is gone.
func (l *ChangeLog) Refresh(ctx context.Context, id driver.ChangeID, owner string, heartbeat time.Time) error {
	var outcome error
	err := l.b.update(ctx, func(tx *bolt.Tx) error {
		outcome = nil
		bk := tx.Bucket([]byte(bucketLog))
		v := bk.Get([]byte(id))
		if v == nil {
			outcome = driver.ErrNotFound
			return nil
		}
		var r logRecord
		if err := json.Unmarshal(v, &r); err != nil {
			return fmt.Errorf("%w: change %s: %v", errCorrupt, id, err)
		}
		if r.Owner != owner {
			outcome = driver.ErrConflict
			return nil
		}
		r.Heartbeat = heartbeat.UTC()
		nv, err := json.Marshal(r)
		if err != nil {
			return err
		}
		return bk.Put([]byte(id), nv)
	})
	if err == nil {
		err = outcome
	}
	if err != nil {
		return fmt.Errorf("localbackend: refresh change %s: %w", id, err)
	}
	return nil
}

// Remove deletes entry id; removing a missing entry succeeds.
func (l *ChangeLog) Remove(ctx context.Context, id driver.ChangeID) error {
	err := l.b.update(ctx, func(tx *bolt.Tx) error {
		return tx.Bucket([]byte(bucketLog)).Delete([]byte(id))
	})
	if err != nil {
		return fmt.Errorf("localbackend: remove change %s: %w", id, err)
	}
	return nil
}

// ClaimStale returns up to c.Limit entries, oldest id first, whose heartbeat is before
// c.StaleBefore and whose CleanupAfter is zero or not after c.Now, and makes c.Owner their
// owner with heartbeat c.Now, in the same transaction.
func (l *ChangeLog) ClaimStale(ctx context.Context, c driver.Claim) ([]driver.LogEntry, error) {
	if c.Limit < 1 {
		return nil, fmt.Errorf("%w: claim limit %d < 1", driver.ErrInvalidArgument, c.Limit)
	}
	var claimed []driver.LogEntry
	err := l.b.update(ctx, func(tx *bolt.Tx) error {
		claimed = claimed[:0]
		bk := tx.Bucket([]byte(bucketLog))
		type upd struct{ k, v []byte }
		var puts []upd
		cur := bk.Cursor()
		for k, v := cur.First(); k != nil && len(claimed) < c.Limit; k, v = cur.Next() {
			e, err := decodeLogEntry(k, v)
			if err != nil {
				return err
			}
			if !e.Heartbeat.Before(c.StaleBefore) {
				continue
			}
			if !e.Change.CleanupAfter.IsZero() && e.Change.CleanupAfter.After(c.Now) {
				continue
			}
			e.Owner = c.Owner
			e.Heartbeat = c.Now
			nv, err := encodeLogEntry(e)
			if err != nil {
				return err
			}
			e.Heartbeat = c.Now.UTC()
			claimed = append(claimed, e)
			puts = append(puts, upd{append([]byte(nil), k...), nv})
		}
		// Write after iterating: bbolt cursors must not be used across Puts.
		for _, p := range puts {
			if err := bk.Put(p.k, p.v); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("localbackend: claim stale changes: %w", err)
	}
	return claimed, nil
}

// Entries returns every entry of the log in id order. It is a test and tooling helper.
func (l *ChangeLog) Entries() ([]driver.LogEntry, error) {
	var out []driver.LogEntry
	err := l.b.view(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte(bucketLog)).ForEach(func(k, v []byte) error {
			e, err := decodeLogEntry(k, v)
			if err != nil {
				return err
			}
			out = append(out, e)
			return nil
		})
	})
	return out, err
}
