package backendtest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/stratastore/strata/tiered/driver"
	"github.com/stratastore/strata/tiered/object"
)

// HookedHighVolume wraps a HighVolume backend with Hooks.
type HookedHighVolume struct {
	Inner driver.HighVolume
	Hooks
}

var _ driver.HighVolume = (*HookedHighVolume)(nil)

// Name returns the inner backend's name.
func (h *HookedHighVolume) Name() string { return h.Inner.Name() }

// PutNonTombstone forwards through the hooks.
func (h *HookedHighVolume) PutNonTombstone(ctx context.Context, id object.ID, md object.Metadata, payload []byte) (t *driver.Tombstone, err error) {
	err = h.run(ctx, &Call{Op: OpPutNonTombstone, ID: id}, func() error {
		t, err = h.Inner.PutNonTombstone(ctx, id, md, payload)
		return err
	})
	return t, err
}

// GetTiered forwards through the hooks.
func (h *HookedHighVolume) GetTiered(ctx context.Context, id object.ID) (e driver.Entry, err error) {
	err = h.run(ctx, &Call{Op: OpGetTiered, ID: id}, func() error {
		e, err = h.Inner.GetTiered(ctx, id)
		return err
	})
	return e, err
}

// GetTieredMetadata forwards through the hooks.
func (h *HookedHighVolume) GetTieredMetadata(ctx context.Context, id object.ID) (e driver.Entry, err error) {
	err = h.run(ctx, &Call{Op: OpGetTieredMetadata, ID: id}, func() error {
		e, err = h.Inner.GetTieredMetadata(ctx, id)
		return err
	})
	return e, err
}

// DeleteNonTombstone forwards through the hooks.
func (h *HookedHighVolume) DeleteNonTombstone(ctx context.Context, id object.ID) (t *driver.Tombstone, err error) {
	err = h.run(ctx, &Call{Op: OpDeleteNonTombstone, ID: id}, func() error {
		t, err = h.Inner.DeleteNonTombstone(ctx, id)
		return err
	})
	return t, err
}

// CompareAndWrite forwards through the hooks. A hook returning ErrLostRace yields (false, nil).
func (h *HookedHighVolume) CompareAndWrite(ctx context.Context, id object.ID, current *object.ID, w driver.Write) (ok bool, err error) {
	err = h.run(ctx, &Call{Op: OpCompareAndWrite, ID: id}, func() error {
		ok, err = h.Inner.CompareAndWrite(ctx, id, current, w)
		return err
	})
	if errors.Is(err, ErrLostRace) {
		return false, nil
	}
	return ok, err
}

// SetBeforeBump forwards the TTI-bump test seam to the inner backend, if it has one.
func (h *HookedHighVolume) SetBeforeBump(fn func(object.ID)) {
	if b, ok := h.Inner.(BumpInterceptor); ok {
		b.SetBeforeBump(fn)
	}
}

// HookedLongTerm wraps a Multipart backend with Hooks.
type HookedLongTerm struct {
	Inner driver.Multipart
	Hooks
}

var _ driver.Multipart = (*HookedLongTerm)(nil)

// Name returns the inner backend's name.
func (h *HookedLongTerm) Name() string { return h.Inner.Name() }

// Put forwards through the hooks; a hook may replace Call.Body.
func (h *HookedLongTerm) Put(ctx context.Context, id object.ID, md object.Metadata, body io.Reader) error {
	c := &Call{Op: OpPut, ID: id, Body: body}
	return h.run(ctx, c, func() error { return h.Inner.Put(ctx, id, md, c.Body) })
}

// Get forwards through the hooks.
func (h *HookedLongTerm) Get(ctx context.Context, id object.ID, rng *object.ByteRange) (o *object.Reader, err error) {
	err = h.run(ctx, &Call{Op: OpGet, ID: id}, func() error {
		o, err = h.Inner.Get(ctx, id, rng)
		return err
	})
	return o, err
}

// Head forwards through the hooks.
func (h *HookedLongTerm) Head(ctx context.Context, id object.ID) (md object.Metadata, err error) {
	err = h.run(ctx, &Call{Op: OpHead, ID: id}, func() error {
		md, err = h.Inner.Head(ctx, id)
		return err
	})
	return md, err
}

// Delete forwards through the hooks.
func (h *HookedLongTerm) Delete(ctx context.Context, id object.ID) error {
	return h.run(ctx, &Call{Op: OpDelete, ID: id}, func() error { return h.Inner.Delete(ctx, id) })
}

// InitiateMultipart forwards through the hooks.
func (h *HookedLongTerm) InitiateMultipart(ctx context.Context, id object.ID, md object.Metadata) (u string, err error) {
	err = h.run(ctx, &Call{Op: OpInitiate, ID: id}, func() error {
		u, err = h.Inner.InitiateMultipart(ctx, id, md)
		return err
	})
	return u, err
}

// UploadPart forwards through the hooks; a hook may replace Call.Body.
func (h *HookedLongTerm) UploadPart(ctx context.Context, id object.ID, uploadID string, n int, size int64, body io.Reader) (etag string, err error) {
	c := &Call{Op: OpUpload, ID: id, Body: body}
	err = h.run(ctx, c, func() error {
		etag, err = h.Inner.UploadPart(ctx, id, uploadID, n, size, c.Body)
		return err
	})
	return etag, err
}

// ListParts forwards through the hooks.
func (h *HookedLongTerm) ListParts(ctx context.Context, id object.ID, uploadID string, maxParts, marker int) (l object.PartList, err error) {
	err = h.run(ctx, &Call{Op: OpList, ID: id}, func() error {
		l, err = h.Inner.ListParts(ctx, id, uploadID, maxParts, marker)
		return err
	})
	return l, err
}

// CompleteMultipart forwards through the hooks.
func (h *HookedLongTerm) CompleteMultipart(ctx context.Context, id object.ID, uploadID string, parts []object.CompletedPart) (ce *object.CompleteError, err error) {
	err = h.run(ctx, &Call{Op: OpComplete, ID: id}, func() error {
		ce, err = h.Inner.CompleteMultipart(ctx, id, uploadID, parts)
		return err
	})
	return ce, err
}

// AbortMultipart forwards through the hooks.
func (h *HookedLongTerm) AbortMultipart(ctx context.Context, id object.ID, uploadID string) error {
	return h.run(ctx, &Call{Op: OpAbort, ID: id}, func() error { return h.Inner.AbortMultipart(ctx, id, uploadID) })
}

// HookedChangeLog wraps a ChangeLog with Hooks.
type HookedChangeLog struct {
	Inner driver.ChangeLog
	Hooks
}

// HookedChangeLog forwards the optional driver.ChangeLogReader and driver.RunLog; when its
// inner log lacks one, those methods return object.ErrUnimplemented (see the contracts).
var (
	_ driver.ChangeLogReader = (*HookedChangeLog)(nil)
	_ driver.RunLog          = (*HookedChangeLog)(nil)
)

// Record forwards through the hooks.
func (h *HookedChangeLog) Record(ctx context.Context, e driver.LogEntry) error {
	return h.run(ctx, &Call{Op: OpRecord, ID: e.Change.ID}, func() error { return h.Inner.Record(ctx, e) })
}

// Get forwards through the hooks.
func (h *HookedChangeLog) Get(ctx context.Context, id driver.ChangeID) (e driver.LogEntry, err error) {
	err = h.run(ctx, &Call{Op: OpGetEntry}, func() error {
		e, err = h.Inner.Get(ctx, id)
		return err
	})
	return e, err
}

// Update forwards through the hooks.
func (h *HookedChangeLog) Update(ctx context.Context, e driver.LogEntry, prev driver.Lease) error {
	return h.run(ctx, &Call{Op: OpUpdate, ID: e.Change.ID}, func() error { return h.Inner.Update(ctx, e, prev) })
}

// Refresh forwards through the hooks.
func (h *HookedChangeLog) Refresh(ctx context.Context, id driver.ChangeID, owner string, hb time.Time) error {
	return h.run(ctx, &Call{Op: OpRefresh}, func() error { return h.Inner.Refresh(ctx, id, owner, hb) })
}

// Remove forwards through the hooks.
func (h *HookedChangeLog) Remove(ctx context.Context, id driver.ChangeID) error {
	return h.run(ctx, &Call{Op: OpRemove}, func() error { return h.Inner.Remove(ctx, id) })
}

// ClaimStale forwards through the hooks.
func (h *HookedChangeLog) ClaimStale(ctx context.Context, c driver.Claim) (es []driver.LogEntry, err error) {
	err = h.run(ctx, &Call{Op: OpClaimStale}, func() error {
		es, err = h.Inner.ClaimStale(ctx, c)
		return err
	})
	return es, err
}

// Scan forwards through the hooks, or returns ErrUnimplemented when Inner cannot scan.
func (h *HookedChangeLog) Scan(ctx context.Context, fn func(driver.LogEntry) error) error {
	r, ok := h.Inner.(driver.ChangeLogReader)
	if !ok {
		return fmt.Errorf("%T cannot scan: %w", h.Inner, object.ErrUnimplemented)
	}
	return h.run(ctx, &Call{Op: OpScan}, func() error { return r.Scan(ctx, fn) })
}

// RecordRun forwards through the hooks, or returns ErrUnimplemented when Inner has no RunLog.
func (h *HookedChangeLog) RecordRun(ctx context.Context, run driver.RecoveryRun) error {
	rl, ok := h.Inner.(driver.RunLog)
	if !ok {
		return fmt.Errorf("%T keeps no recovery runs: %w", h.Inner, object.ErrUnimplemented)
	}
	return h.run(ctx, &Call{Op: OpRecordRun}, func() error { return rl.RecordRun(ctx, run) })
}

// LastRun forwards through the hooks, or returns ErrUnimplemented when Inner has no RunLog.
func (h *HookedChangeLog) LastRun(ctx context.Context) (r driver.RecoveryRun, err error) {
	rl, ok := h.Inner.(driver.RunLog)
	if !ok {
		return driver.RecoveryRun{}, fmt.Errorf("%T keeps no recovery runs: %w", h.Inner, object.ErrUnimplemented)
	}
	err = h.run(ctx, &Call{Op: OpLastRun}, func() error {
		r, err = rl.LastRun(ctx)
		return err
	})
	return r, err
}
