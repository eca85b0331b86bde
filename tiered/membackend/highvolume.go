package membackend

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/stratastore/strata/tiered/driver"
	"github.com/stratastore/strata/tiered/object"
)

// HighVolume is an in-memory driver.HighVolume. The zero value is not usable; get one from
// Open.
type HighVolume struct {
	now func() time.Time

	mu         sync.RWMutex    // reads share it; writes and bumps hold it alone
	rows       map[string]*row // by storage path
	version    uint64          // last version handed out
	beforeBump func(object.ID)
}

var _ driver.HighVolume = (*HighVolume)(nil)

// row is one high-volume row: an inline object or a tombstone.
type row struct {
	version uint64
	kind    driver.EntryKind // EntryObject or EntryTombstone
	md      object.Metadata
	payload []byte
	tomb    driver.Tombstone
}

// live reports whether r is visible at now.
func (r *row) live(now time.Time) bool {
	if r.kind == driver.EntryTombstone {
		t := r.tomb
		return !t.ExpirationPolicy.IsTimeout() || t.Expires.IsZero() || !t.Expires.Before(now)
	}
	return !r.md.Expired(now)
}

// entry returns a copy of r as an Entry, with the payload when withPayload.
func (r *row) entry(withPayload bool) driver.Entry {
	e := driver.Entry{Kind: r.kind}
	switch r.kind {
	case driver.EntryObject:
		e.Metadata = r.md.Clone()
		if withPayload {
			e.Payload = slices.Clone(r.payload)
			if e.Payload == nil {
				e.Payload = []byte{}
			}
		}
	case driver.EntryTombstone:
		e.Tombstone = cloneTombstone(r.tomb)
	}
	return e
}

func cloneTombstone(t driver.Tombstone) driver.Tombstone {
	t.Target = cloneID(t.Target)
	return t
}

// Name returns "memory".
func (h *HighVolume) Name() string { return Name }

// SetBeforeBump installs fn to run after a read has decided to bump a TTI deadline and
// before the bump is applied, without the backend's lock held (fn may call the backend).
// nil removes it. It implements backendtest.BumpInterceptor.
func (h *HighVolume) SetBeforeBump(fn func(id object.ID)) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.beforeBump = fn
}

// Entry returns the raw row at id, expired or not, with its payload; ok is false when there
// is no row. Expired rows stay until overwritten or deleted, as in Bigtable before GC.
func (h *HighVolume) Entry(id object.ID) (e driver.Entry, ok bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	r := h.rows[id.StoragePath()]
	if r == nil {
		return driver.Entry{}, false
	}
	return r.entry(true), true
}

// Len returns the number of rows, expired ones included.
func (h *HighVolume) Len() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.rows)
}

// liveRow returns the live row at key, or nil. Callers hold h.mu.
func (h *HighVolume) liveRow(key string, now time.Time) *row {
	r := h.rows[key]
	if r == nil || !r.live(now) {
		return nil
	}
	return r
}

func (h *HighVolume) nextVersion() uint64 {
	h.version++
	return h.version
}

// putObject replaces the row at key with an inline object. Callers hold h.mu.
func (h *HighVolume) putObject(key string, md object.Metadata, payload []byte) {
	md = md.Clone()
	md.Size = int64(len(payload))
	p := slices.Clone(payload)
	if p == nil {
		p = []byte{}
	}
	h.rows[key] = &row{version: h.nextVersion(), kind: driver.EntryObject, md: md, payload: p}
}

// putTombstone replaces the row at key with a tombstone whose deadline runs from now.
// Callers hold h.mu.
func (h *HighVolume) putTombstone(key string, t driver.Tombstone, now time.Time) {
	t = cloneTombstone(t)
	t.Expires = time.Time{}
	if t.ExpirationPolicy.IsTimeout() {
		t.Expires = now.Add(t.ExpirationPolicy.Duration)
	}
	h.rows[key] = &row{version: h.nextVersion(), kind: driver.EntryTombstone, tomb: t}
}

// PutNonTombstone writes an inline object unless a live tombstone is at id, which it returns.
func (h *HighVolume) PutNonTombstone(ctx context.Context, id object.ID, md object.Metadata, payload []byte) (*driver.Tombstone, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	key := id.StoragePath()
	if r := h.liveRow(key, h.now()); r != nil && r.kind == driver.EntryTombstone {
		t := cloneTombstone(r.tomb)
		return &t, nil
	}
	h.putObject(key, md, payload)
	return nil, nil
}

// GetTiered returns the live row at id with its payload, bumping a due TTI deadline.
func (h *HighVolume) GetTiered(ctx context.Context, id object.ID) (driver.Entry, error) {
	return h.get(ctx, id, true)
}

// GetTieredMetadata returns the live row at id without its payload, bumping a due TTI
// deadline.
func (h *HighVolume) GetTieredMetadata(ctx context.Context, id object.ID) (driver.Entry, error) {
	return h.get(ctx, id, false)
}

func (h *HighVolume) get(ctx context.Context, id object.ID, withPayload bool) (driver.Entry, error) {
	if err := ctx.Err(); err != nil {
		return driver.Entry{}, err
	}
	key := id.StoragePath()
	h.mu.RLock()
	now := h.now()
	r := h.liveRow(key, now)
	if r == nil {
		h.mu.RUnlock()
		return driver.Entry{Kind: driver.EntryNotFound}, nil
	}
	e := r.entry(false)
	payload := r.payload // never modified in place: writes replace whole rows
	next, bump := r.dueBump(now)
	version, hook := r.version, h.beforeBump
	h.mu.RUnlock()
	if withPayload && e.Kind == driver.EntryObject {
		// Shared, not copied (driver.Entry.Payload is read-only to callers): writes never
		// modify a stored payload in place, they replace the whole row, and putObject
		// stores its own copy of what it is given.
		e.Payload = payload
		if e.Payload == nil {
			e.Payload = []byte{}
		}
	}
	if !bump {
		return e, nil
	}
	// The bump is a separate step, like the conditional write a remote backend sends after
	// its read. It applies only to the version that was read, so a write landing in between
	// (simulated by the hook) wins.
	if hook != nil {
		hook(cloneID(id))
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if cur := h.liveRow(key, h.now()); cur != nil && cur.version == version {
		cur.version = h.nextVersion()
		if cur.kind == driver.EntryTombstone {
			cur.tomb.Expires = next
		} else {
			cur.md.TimeExpires = next
		}
	}
	return e, nil
}

// dueBump returns the new TTI deadline if a read at now should bump r.
func (r *row) dueBump(now time.Time) (time.Time, bool) {
	if r.kind == driver.EntryTombstone {
		return r.tomb.ExpirationPolicy.TTIBump(r.tomb.Expires, now)
	}
	return r.md.ExpirationPolicy.TTIBump(r.md.TimeExpires, now)
}

// DeleteNonTombstone deletes the row at id unless it is a live tombstone, which it returns.
func (h *HighVolume) DeleteNonTombstone(ctx context.Context, id object.ID) (*driver.Tombstone, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	key := id.StoragePath()
	if r := h.liveRow(key, h.now()); r != nil && r.kind == driver.EntryTombstone {
		t := cloneTombstone(r.tomb)
		return &t, nil
	}
	delete(h.rows, key)
	return nil, nil
}

// CompareAndWrite applies w if the row's redirect state matches current, or re-applies it
// if the row is already in the state w produces; see driver.HighVolume.
func (h *HighVolume) CompareAndWrite(ctx context.Context, id object.ID, current *object.ID, w driver.Write) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	switch w.Kind {
	case driver.WriteObject, driver.WriteTombstone, driver.WriteDelete:
	default:
		return false, object.Invalidf("unknown write kind %d", w.Kind)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	key := id.StoragePath()
	now := h.now()
	if !w.Deadline.IsZero() && !now.Before(w.Deadline) {
		return false, fmt.Errorf("%w: compare-and-write past its deadline %s", object.ErrUnavailable, w.Deadline.Format(time.RFC3339Nano))
	}

	// The redirect state: the target of a live tombstone, or nil.
	var target *object.ID
	if r := h.liveRow(key, now); r != nil && r.kind == driver.EntryTombstone {
		target = &r.tomb.Target
	}
	matches := func(want *object.ID) bool {
		if want == nil || target == nil {
			return want == nil && target == nil
		}
		return target.Equal(*want)
	}
	// Already in the target state: for a tombstone write, a live tombstone to its target;
	// for an object write or delete that expected a tombstone, no live tombstone (the
	// expected one is gone, so an earlier attempt applied). Bigtable's predicates re-apply
	// the write in both cases, and so does this backend.
	var done bool
	if w.Kind == driver.WriteTombstone {
		done = matches(w.Target())
	} else {
		done = current != nil && target == nil
	}
	if !matches(current) && !done {
		return false, nil
	}
	switch w.Kind {
	case driver.WriteObject:
		h.putObject(key, w.Metadata, w.Payload)
	case driver.WriteTombstone:
		h.putTombstone(key, w.Tombstone, now)
	case driver.WriteDelete:
		delete(h.rows, key)
	}
	return true, nil
}
