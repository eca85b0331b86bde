package localbackend

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/stratastore/strata/tiered/driver"
	"github.com/stratastore/strata/tiered/object"
)

// ChangeLog is the change log in bbolt bucket "changelog", one JSON record per change id.
// Every method is one transaction, so a claim is atomic by construction.
type ChangeLog struct {
	b *Backend
}

var (
	_ driver.ChangeLogReader = (*ChangeLog)(nil)
	_ driver.RunLog          = (*ChangeLog)(nil)
)

// The recovery-run record lives in a bucket of its own, never in bucketLog, so that no claim
// or scan of the log can mistake it for an entry. The bucket is created by the first
// RecordRun: a data directory written before it existed opens unchanged.
const (
	bucketRecovery = "recovery"
	keyLastRun     = "last"
)

// logRecord is the stored form of a driver.LogEntry; object ids are storage paths. Phase
// and NotBefore were added later: a record without them (written by an older version)
// decodes as PhaseRecorded with a zero NotBefore, and the encoding leaves them out at those
// values, so such a record is stored byte for byte as before.
type logRecord struct {
	ID           string       `json:"id"`
	New          string       `json:"new,omitempty"`
	Old          string       `json:"old,omitempty"`
	UploadID     string       `json:"upload_id,omitempty"`
	CleanupAfter *time.Time   `json:"cleanup_after,omitempty"`
	Phase        driver.Phase `json:"phase,omitempty"`
	NotBefore    *time.Time   `json:"not_before,omitempty"`
	Owner        string       `json:"owner"`
	Heartbeat    time.Time    `json:"heartbeat"`
}

func encodeLogEntry(e driver.LogEntry) ([]byte, error) {
	// A phase without a name could not be decoded again: refuse it rather than store a
	// record that would fail every later claim.
	var p driver.Phase
	if err := p.UnmarshalText([]byte(e.Phase.String())); err != nil {
		return nil, fmt.Errorf("change %s: %w", e.ID, err)
	}
	r := logRecord{
		ID:        e.Change.ID.StoragePath(),
		UploadID:  e.Change.UploadID,
		Phase:     e.Phase,
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
	if !e.NotBefore.IsZero() {
		t := e.NotBefore.UTC()
		r.NotBefore = &t
	}
	return json.Marshal(r)
}

func decodeLogEntry(id, v []byte) (driver.LogEntry, error) {
	var r logRecord
	if err := json.Unmarshal(v, &r); err != nil {
		return driver.LogEntry{}, fmt.Errorf("%w: change %s: %v", errCorrupt, id, err)
	}
	e := driver.LogEntry{ID: driver.ChangeID(id), Phase: r.Phase, Owner: r.Owner, Heartbeat: r.Heartbeat}
	var err error
	if e.Change.ID, err = object.ParseStoragePath(r.ID); err != nil {
		return driver.LogEntry{}, fmt.Errorf("%w: change %s: %v", errCorrupt, id, err)
	}
	for _, f := range []struct {
		path string
		dst  **object.ID
	}{{r.New, &e.Change.New}, {r.Old, &e.Change.Old}} {
		if f.path == "" {
			continue
		}
		oid, err := object.ParseStoragePath(f.path)
		if err != nil {
			return driver.LogEntry{}, fmt.Errorf("%w: change %s: %v", errCorrupt, id, err)
		}
		*f.dst = &oid
	}
	e.Change.UploadID = r.UploadID
	if r.CleanupAfter != nil {
		e.Change.CleanupAfter = *r.CleanupAfter
	}
	if r.NotBefore != nil {
		e.NotBefore = *r.NotBefore
	}
	return e, nil
}

// sameLease reports whether cur is held under prev: the same owner and, unless
// prev.Heartbeat is zero, the same heartbeat at millisecond precision.
func sameLease(cur driver.LogEntry, prev driver.Lease) bool {
	return cur.Owner == prev.Owner && (prev.Heartbeat.IsZero() || cur.Heartbeat.UnixMilli() == prev.Heartbeat.UnixMilli())
}

// Record stores e; it is fsynced before Record returns. An existing entry with the same id
// is replaced whole only if e.Owner owns it (a retried Record); otherwise Record changes
// nothing and returns ErrConflict.
func (l *ChangeLog) Record(ctx context.Context, e driver.LogEntry) error {
	if e.ID == "" {
		return object.Invalidf("empty change id")
	}
	v, err := encodeLogEntry(e)
	if err != nil {
		return fmt.Errorf("localbackend: record change %s: %w", e.ID, err)
	}
	var outcome error
	err = l.b.update(ctx, func(tx *bolt.Tx) error {
		outcome = nil
		bk := tx.Bucket([]byte(bucketLog))
		if old := bk.Get([]byte(e.ID)); old != nil {
			cur, err := decodeLogEntry([]byte(e.ID), old)
			if err != nil {
				return err
			}
			if cur.Owner != e.Owner {
				outcome = fmt.Errorf("%w: held by %q", object.ErrConflict, cur.Owner)
				return nil
			}
		}
		return bk.Put([]byte(e.ID), v)
	})
	if err == nil {
		err = outcome
	}
	if err != nil {
		return fmt.Errorf("localbackend: record change %s: %w", e.ID, err)
	}
	return nil
}

// Get returns entry id, or ErrNotFound.
func (l *ChangeLog) Get(ctx context.Context, id driver.ChangeID) (driver.LogEntry, error) {
	if err := ctx.Err(); err != nil {
		return driver.LogEntry{}, err
	}
	var (
		e     driver.LogEntry
		found bool
	)
	err := l.b.view(func(tx *bolt.Tx) error {
		v := tx.Bucket([]byte(bucketLog)).Get([]byte(id))
		if v == nil {
			return nil
		}
		var err error
		e, err = decodeLogEntry([]byte(id), v)
		found = err == nil
		return err
	})
	if err == nil && !found {
		err = object.ErrNotFound
	}
	if err != nil {
		return driver.LogEntry{}, fmt.Errorf("localbackend: get change %s: %w", id, err)
	}
	return e, nil
}

// Update replaces entry e.ID whole with e, in one transaction, if its current lease matches
// prev (see sameLease): ErrConflict if it does not, ErrNotFound if the entry is gone.
func (l *ChangeLog) Update(ctx context.Context, e driver.LogEntry, prev driver.Lease) error {
	if e.ID == "" {
		return object.Invalidf("empty change id")
	}
	v, err := encodeLogEntry(e)
	if err != nil {
		return fmt.Errorf("localbackend: update change %s: %w", e.ID, err)
	}
	var outcome error
	err = l.b.update(ctx, func(tx *bolt.Tx) error {
		outcome = nil
		bk := tx.Bucket([]byte(bucketLog))
		old := bk.Get([]byte(e.ID))
		if old == nil {
			outcome = object.ErrNotFound
			return nil
		}
		cur, err := decodeLogEntry([]byte(e.ID), old)
		if err != nil {
			return err
		}
		if !sameLease(cur, prev) {
			outcome = fmt.Errorf("%w: held by %q since %s, not %q since %s", object.ErrConflict,
				cur.Owner, cur.Heartbeat.Format(time.RFC3339Nano), prev.Owner, prev.Heartbeat.Format(time.RFC3339Nano))
			return nil
		}
		return bk.Put([]byte(e.ID), v)
	})
	if err == nil {
		err = outcome
	}
	if err != nil {
		return fmt.Errorf("localbackend: update change %s: %w", e.ID, err)
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
			outcome = object.ErrNotFound
			return nil
		}
		var r logRecord
		if err := json.Unmarshal(v, &r); err != nil {
			return fmt.Errorf("%w: change %s: %v", errCorrupt, id, err)
		}
		if r.Owner != owner {
			outcome = object.ErrConflict
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
		return nil, object.Invalidf("claim limit %d < 1", c.Limit)
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

// scanPage bounds the entries one Scan read transaction decodes.
const scanPage = 256

// Scan calls fn for every entry in id order. Each page of entries is read in its own read
// transaction and fn runs outside it, so a slow fn never holds a transaction open (a long
// one would keep bbolt from reusing pages the writer frees); the next page starts after the
// last id reported.
func (l *ChangeLog) Scan(ctx context.Context, fn func(driver.LogEntry) error) error {
	var after []byte
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		page := make([]driver.LogEntry, 0, scanPage)
		err := l.b.view(func(tx *bolt.Tx) error {
			cur := tx.Bucket([]byte(bucketLog)).Cursor()
			k, v := cur.First()
			if after != nil {
				k, v = cur.Seek(after)
				if k != nil && string(k) == string(after) {
					k, v = cur.Next()
				}
			}
			for ; k != nil && len(page) < scanPage; k, v = cur.Next() {
				e, err := decodeLogEntry(k, v)
				if err != nil {
					return err
				}
				page = append(page, e)
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("localbackend: scan changes: %w", err)
		}
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
		after = []byte(page[len(page)-1].ID)
	}
}

// RecordRun replaces the recovery-run record in one transaction (fsynced), so concurrent
// calls leave one of them whole: the last to commit.
func (l *ChangeLog) RecordRun(ctx context.Context, r driver.RecoveryRun) error {
	v, err := json.Marshal(r) // driver.RecoveryRun's JSON form, at key "last" of bucket "recovery"
	if err != nil {
		return fmt.Errorf("localbackend: record recovery run: %w", err)
	}
	err = l.b.update(ctx, func(tx *bolt.Tx) error {
		bk, err := tx.CreateBucketIfNotExists([]byte(bucketRecovery))
		if err != nil {
			return err
		}
		return bk.Put([]byte(keyLastRun), v)
	})
	if err != nil {
		return fmt.Errorf("localbackend: record recovery run: %w", err)
	}
	return nil
}

// LastRun returns the recovery-run record, or ErrNotFound when none was recorded.
func (l *ChangeLog) LastRun(ctx context.Context) (driver.RecoveryRun, error) {
	if err := ctx.Err(); err != nil {
		return driver.RecoveryRun{}, err
	}
	var v []byte
	err := l.b.view(func(tx *bolt.Tx) error {
		if bk := tx.Bucket([]byte(bucketRecovery)); bk != nil {
			v = append([]byte(nil), bk.Get([]byte(keyLastRun))...)
		}
		return nil
	})
	if err != nil {
		return driver.RecoveryRun{}, fmt.Errorf("localbackend: last recovery run: %w", err)
	}
	if len(v) == 0 {
		return driver.RecoveryRun{}, fmt.Errorf("localbackend: last recovery run: %w", object.ErrNotFound)
	}
	var r driver.RecoveryRun
	if err := json.Unmarshal(v, &r); err != nil {
		return driver.RecoveryRun{}, fmt.Errorf("localbackend: last recovery run: %w: %v", errCorrupt, err)
	}
	return r, nil
}
