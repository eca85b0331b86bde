package localbackend

import (
	"context"
	"fmt"
	"sort"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/stratastore/strata/tiered/driver"
	"github.com/stratastore/strata/tiered/object"
)

// HighVolume is the high-volume backend: one bbolt row per storage path, holding an inline
// object or a redirect tombstone. Every write is one fsynced, group-committed transaction.
type HighVolume struct {
	b          *Backend
	beforeBump atomic.Pointer[func(object.ID)]
}

var _ driver.HighVolume = (*HighVolume)(nil)

// Name returns "local-bbolt".
func (h *HighVolume) Name() string { return "local-bbolt" }

// SetBeforeBump installs fn (nil removes it) to be called after a read decided to bump a TTI
// deadline and before the bump is written. It is the test seam of
// backendtest.BumpInterceptor; fn runs outside every lock and transaction.
func (h *HighVolume) SetBeforeBump(fn func(id object.ID)) {
	if fn == nil {
		h.beforeBump.Store(nil)
		return
	}
	h.beforeBump.Store(&fn)
}

// getRow reads and decodes the row at key; ok is false when there is none.
func getRow(tx *bolt.Tx, key []byte) (row, bool, error) {
	v := tx.Bucket([]byte(bucketRows)).Get(key)
	if v == nil {
		return row{}, false, nil
	}
	r, err := decodeRow(v)
	if err != nil {
		return row{}, false, fmt.Errorf("row %q: %w", key, err)
	}
	return r, true, nil
}

// putRow stores r at key under a fresh generation, replacing old (when hadOld) and keeping
// the expiry index in step.
func putRow(tx *bolt.Tx, key []byte, r *row, old *row) error {
	rows := tx.Bucket([]byte(bucketRows))
	gen, err := rows.NextSequence()
	if err != nil {
		return err
	}
	r.gen = gen
	return storeRow(tx, key, r, old)
}

// storeRow stores r at key as is (keeping r.gen) and updates the expiry index.
func storeRow(tx *bolt.Tx, key []byte, r *row, old *row) error {
	exp := tx.Bucket([]byte(bucketRowExp))
	if old != nil && !old.expires.IsZero() {
		if err := exp.Delete(expKey(old.expires, string(key))); err != nil {
			return err
		}
	}
	if !r.expires.IsZero() {
		if err := exp.Put(expKey(r.expires, string(key)), nil); err != nil {
			return err
		}
	}
	return tx.Bucket([]byte(bucketRows)).Put(key, encodeRow(r))
}

// deleteRow removes the row at key and its expiry index entry.
func deleteRow(tx *bolt.Tx, key []byte, old *row) error {
	if !old.expires.IsZero() {
		if err := tx.Bucket([]byte(bucketRowExp)).Delete(expKey(old.expires, string(key))); err != nil {
			return err
		}
	}
	return tx.Bucket([]byte(bucketRows)).Delete(key)
}

// tombstoneOf decodes a tombstone row into a value that does not alias bbolt memory.
func tombstoneOf(r *row) (driver.Tombstone, error) {
	target, err := object.ParseStoragePath(r.target)
	if err != nil {
		return driver.Tombstone{}, fmt.Errorf("%w: tombstone target: %v", errCorrupt, err)
	}
	policy, err := object.UnmarshalPolicyJSON(r.policy)
	if err != nil {
		return driver.Tombstone{}, fmt.Errorf("%w: tombstone policy: %v", errCorrupt, err)
	}
	return driver.Tombstone{Target: target, ExpirationPolicy: policy, Expires: r.expires}, nil
}

// objectExpires is the deadline of an inline object: TimeExpires for TTL and TTI.
func objectExpires(md object.Metadata) time.Time {
	if md.ExpirationPolicy.IsTimeout() {
		return md.TimeExpires
	}
	return time.Time{}
}

// objectRow builds the row of an inline object.
func objectRow(md object.Metadata, payload []byte) (row, error) {
	mdJSON, err := md.MarshalJSON()
	if err != nil {
		return row{}, object.Invalidf("metadata: %v", err)
	}
	return row{kind: kindObject, expires: objectExpires(md), md: mdJSON, payload: payload}, nil
}

// tombstoneRow builds the row of a tombstone written at now.
func tombstoneRow(t driver.Tombstone, now time.Time) row {
	r := row{kind: kindTombstone, target: t.Target.StoragePath(), policy: object.MarshalPolicyJSON(t.ExpirationPolicy)}
	if t.ExpirationPolicy.IsTimeout() {
		r.expires = now.Add(t.ExpirationPolicy.Duration)
	}
	return r
}

// liveRow reads the row at key and reports it only if it is live at now.
func liveRow(tx *bolt.Tx, key []byte, now time.Time) (row, bool, error) {
	r, ok, err := getRow(tx, key)
	if err != nil || !ok || !r.live(now) {
		return row{}, false, err
	}
	return r, true, nil
}

// PutNonTombstone writes an inline object unless a live tombstone is at id, which it returns
// instead, writing nothing.
func (h *HighVolume) PutNonTombstone(ctx context.Context, id object.ID, md object.Metadata, payload []byte) (*driver.Tombstone, error) {
	nr, err := objectRow(md, payload)
	if err != nil {
		return nil, err
	}
	key := []byte(id.StoragePath())
	now := h.b.now()
	var found *driver.Tombstone
	err = h.b.update(ctx, func(tx *bolt.Tx) error {
		found = nil
		old, ok, err := getRow(tx, key)
		if err != nil {
			return err
		}
		if ok && old.kind == kindTombstone && old.live(now) {
			t, err := tombstoneOf(&old)
			if err != nil {
				return err
			}
			found = &t
			return nil
		}
		r := nr
		if ok {
			return putRow(tx, key, &r, &old)
		}
		return putRow(tx, key, &r, nil)
	})
	if err != nil {
		return nil, fmt.Errorf("localbackend: put %s: %w", key, err)
	}
	return found, nil
}

// GetTiered returns the live row at id with its payload, bumping a TTI deadline.
func (h *HighVolume) GetTiered(ctx context.Context, id object.ID) (driver.Entry, error) {
	return h.get(ctx, id, true)
}

// GetTieredMetadata returns the live row at id without copying the payload, bumping a TTI
// deadline.
func (h *HighVolume) GetTieredMetadata(ctx context.Context, id object.ID) (driver.Entry, error) {
	return h.get(ctx, id, false)
}

func (h *HighVolume) get(ctx context.Context, id object.ID, withPayload bool) (driver.Entry, error) {
	if err := ctx.Err(); err != nil {
		return driver.Entry{}, err
	}
	key := []byte(id.StoragePath())
	now := h.b.now()
	var (
		e      driver.Entry
		gen    uint64
		newExp time.Time
		bump   bool
	)
	err := h.b.view(func(tx *bolt.Tx) error {
		r, ok, err := liveRow(tx, key, now)
		if err != nil || !ok {
			return err
		}
		gen = r.gen
		var policy object.ExpirationPolicy
		switch r.kind {
		case kindObject:
			// md.UnmarshalJSON, not json.Unmarshal: the latter scans the whole text once
			// before handing it to UnmarshalJSON, which decodes it again (a third of a small
			// GET's decoding).
			var md object.Metadata
			if err := md.UnmarshalJSON(r.md); err != nil {
				return fmt.Errorf("%w: metadata: %v", errCorrupt, err)
			}
			e = driver.Entry{Kind: driver.EntryObject, Metadata: md}
			if withPayload {
				e.Payload = append(make([]byte, 0, len(r.payload)), r.payload...)
			}
			policy = md.ExpirationPolicy
		case kindTombstone:
			t, err := tombstoneOf(&r)
			if err != nil {
				return err
			}
			e = driver.Entry{Kind: driver.EntryTombstone, Tombstone: t}
			policy = t.ExpirationPolicy
		}
		newExp, bump = policy.TTIBump(r.expires, now)
		return nil
	})
	if err != nil {
		return driver.Entry{}, fmt.Errorf("localbackend: get %s: %w", key, err)
	}
	if bump {
		h.bump(ctx, id, key, gen, newExp, now)
	}
	return e, nil
}

// bump extends the TTI deadline of the row at key to newExp, but only if the row still has
// generation gen (no write, swap or delete happened since the read) and is live; it never
// moves a deadline backwards. Failures are logged, not returned: a read must not fail
// because its bump did.
func (h *HighVolume) bump(ctx context.Context, id object.ID, key []byte, gen uint64, newExp, now time.Time) {
	if fn := h.beforeBump.Load(); fn != nil {
		(*fn)(id)
	}
	err := h.b.update(ctx, func(tx *bolt.Tx) error {
		r, ok, err := liveRow(tx, key, now)
		if err != nil || !ok || r.gen != gen || !newExp.After(r.expires) {
			return err
		}
		old := r
		nr := r
		nr.expires = newExp
		if r.kind == kindObject {
			var md object.Metadata
			if err := md.UnmarshalJSON(r.md); err != nil {
				return fmt.Errorf("%w: metadata: %v", errCorrupt, err)
			}
			md.TimeExpires = newExp
			if nr.md, err = md.MarshalJSON(); err != nil {
				return err
			}
		}
		return storeRow(tx, key, &nr, &old)
	})
	if err != nil {
		h.b.log.WarnContext(ctx, "localbackend: TTI bump failed", "key", string(key), "err", err)
	}
}

// DeleteNonTombstone deletes the row at id unless it is a live tombstone, which it returns
// and leaves in place.
func (h *HighVolume) DeleteNonTombstone(ctx context.Context, id object.ID) (*driver.Tombstone, error) {
	key := []byte(id.StoragePath())
	now := h.b.now()
	var found *driver.Tombstone
	err := h.b.update(ctx, func(tx *bolt.Tx) error {
		found = nil
		old, ok, err := getRow(tx, key)
		if err != nil || !ok {
			return err
		}
		if old.kind == kindTombstone && old.live(now) {
			t, err := tombstoneOf(&old)
			if err != nil {
				return err
			}
			found = &t
			return nil
		}
		return deleteRow(tx, key, &old)
	})
	if err != nil {
		return nil, fmt.Errorf("localbackend: delete %s: %w", key, err)
	}
	return found, nil
}

// CompareAndWrite applies w if the row's redirect state matches current (nil: no live
// tombstone; otherwise a live tombstone to *current) and reports whether the row is now in
// the state w produces. It is idempotent: a row already in that state reports true.
//
// A set w.Deadline is checked against the backend's clock inside the write transaction,
// after the committer picked it up: once the clock reads the deadline, the call fails with
// ErrUnavailable and writes nothing, whatever the row holds.
func (h *HighVolume) CompareAndWrite(ctx context.Context, id object.ID, current *object.ID, w driver.Write) (bool, error) {
	key := []byte(id.StoragePath())
	now := h.b.now()
	var nr row
	switch w.Kind {
	case driver.WriteObject:
		var err error
		if nr, err = objectRow(w.Metadata, w.Payload); err != nil {
			return false, err
		}
	case driver.WriteTombstone:
		nr = tombstoneRow(w.Tombstone, now)
	case driver.WriteDelete:
	default:
		return false, object.Invalidf("unknown write kind %d", w.Kind)
	}
	var curPath, wantTarget string
	if current != nil {
		curPath = current.StoragePath()
	}
	if w.Kind == driver.WriteTombstone {
		wantTarget = nr.target
	}
	var (
		done bool
		late error
	)
	err := h.b.update(ctx, func(tx *bolt.Tx) error {
		done, late = false, nil
		// The fence: read the clock here, not before the write was queued, since it may
		// wait behind a commit (and runs again if its group rolls back).
		if !w.Deadline.IsZero() {
			if t := h.b.now(); !t.Before(w.Deadline) {
				late = fmt.Errorf("%w: past its deadline %s (now %s)", object.ErrUnavailable,
					w.Deadline.UTC().Format(time.RFC3339Nano), t.UTC().Format(time.RFC3339Nano))
				return nil
			}
		}
		old, exists, err := getRow(tx, key)
		if err != nil {
			return err
		}
		liveTomb := exists && old.kind == kindTombstone && old.live(now)
		var matches bool
		if current == nil {
			matches = !liveTomb
		} else {
			matches = liveTomb && old.target == curPath
		}
		if !matches {
			// Idempotence: report success if the row already is what w would make it.
			if w.Kind == driver.WriteTombstone {
				done = liveTomb && old.target == wantTarget
			} else {
				done = current != nil && !liveTomb
			}
			return nil
		}
		done = true
		var oldp *row
		if exists {
			oldp = &old
		}
		switch w.Kind {
		case driver.WriteDelete:
			if exists {
				return deleteRow(tx, key, &old)
			}
			return nil
		default:
			r := nr
			return putRow(tx, key, &r, oldp)
		}
	})
	if err == nil {
		err = late
	}
	if err != nil {
		return false, fmt.Errorf("localbackend: compare-and-write %s: %w", key, err)
	}
	return done, nil
}

// Keys returns the storage paths of every live row, sorted. It is a test helper.
func (h *HighVolume) Keys() ([]string, error) {
	now := h.b.now()
	var keys []string
	err := h.b.view(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte(bucketRows)).ForEach(func(k, v []byte) error {
			r, err := decodeRow(v)
			if err != nil {
				return fmt.Errorf("row %q: %w", k, err)
			}
			if r.live(now) {
				keys = append(keys, string(k))
			}
			return nil
		})
	})
	sort.Strings(keys)
	return keys, err
}
