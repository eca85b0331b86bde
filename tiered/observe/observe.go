// Package observe is Strata's telemetry vocabulary and its backend decorators.
//
// Catalog is the one list of every metric Strata emits, with the names OpenTelemetry,
// Prometheus and Cloud Monitoring give it; Metrics records them through OpenTelemetry
// instruments, allocation-free. The decorators (HighVolume, LongTerm, ChangeLog) record, for
// every backend call, the backend, the call, the outcome and the latency, and start a child
// span of the caller's when that one is sampled. Expected outcomes are not failures: a
// not-found read is "not_found", a lost compare-and-write is "conflict", and only real
// errors are "error".
//
// The decorators implement the same driver interfaces as what they wrap, so they can be
// stacked anywhere, and they pass the same conformance suites.
package observe

import (
	"context"
	"errors"
	"io"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/stratastore/strata/tiered/driver"
	"github.com/stratastore/strata/tiered/object"
)

// Outcomes of a backend call.
const (
	OutcomeOK       = "ok"
	OutcomeNotFound = "not_found"
	OutcomeConflict = "conflict"
	OutcomeError    = "error"
)

// Outcome classifies a call's error.
func Outcome(err error) string {
	switch {
	case err == nil:
		return OutcomeOK
	case errors.Is(err, object.ErrNotFound):
		return OutcomeNotFound
	case errors.Is(err, object.ErrConflict):
		return OutcomeConflict
	default:
		return OutcomeError
	}
}

// endCall records a finished backend call and ends its span, if it has one.
func (m *Metrics) endCall(ctx context.Context, span trace.Span, backend, op string, start time.Time, err error) {
	m.Backend(ctx, backend, op, err, time.Since(start))
	if span == nil {
		return
	}
	outcome := Outcome(err)
	span.SetAttributes(attribute.String("strata.outcome", outcome))
	if outcome == OutcomeError {
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}

// HighVolume decorates a driver.HighVolume.
type HighVolume struct {
	Inner driver.HighVolume
	M     *Metrics
}

var _ driver.HighVolume = (*HighVolume)(nil)

// Name returns the inner backend's name.
func (h *HighVolume) Name() string { return h.Inner.Name() }

// PutNonTombstone records and forwards.
func (h *HighVolume) PutNonTombstone(ctx context.Context, id object.ID, md object.Metadata, p []byte) (t *driver.Tombstone, err error) {
	start := time.Now()
	ctx, span := h.M.startCall(ctx, h.Name(), "PutNonTombstone")
	defer func() { h.M.endCall(ctx, span, h.Name(), "PutNonTombstone", start, err) }()
	return h.Inner.PutNonTombstone(ctx, id, md, p)
}

// GetTiered records and forwards. An absent row is recorded as not_found.
func (h *HighVolume) GetTiered(ctx context.Context, id object.ID) (e driver.Entry, err error) {
	start := time.Now()
	ctx, span := h.M.startCall(ctx, h.Name(), "GetTiered")
	defer func() { h.M.endCall(ctx, span, h.Name(), "GetTiered", start, entryErr(e, err)) }()
	return h.Inner.GetTiered(ctx, id)
}

// GetTieredMetadata records and forwards. An absent row is recorded as not_found.
func (h *HighVolume) GetTieredMetadata(ctx context.Context, id object.ID) (e driver.Entry, err error) {
	start := time.Now()
	ctx, span := h.M.startCall(ctx, h.Name(), "GetTieredMetadata")
	defer func() { h.M.endCall(ctx, span, h.Name(), "GetTieredMetadata", start, entryErr(e, err)) }()
	return h.Inner.GetTieredMetadata(ctx, id)
}

// DeleteNonTombstone records and forwards.
func (h *HighVolume) DeleteNonTombstone(ctx context.Context, id object.ID) (t *driver.Tombstone, err error) {
	start := time.Now()
	ctx, span := h.M.startCall(ctx, h.Name(), "DeleteNonTombstone")
	defer func() { h.M.endCall(ctx, span, h.Name(), "DeleteNonTombstone", start, err) }()
	return h.Inner.DeleteNonTombstone(ctx, id)
}

// CompareAndWrite records and forwards. A lost race is recorded as conflict.
func (h *HighVolume) CompareAndWrite(ctx context.Context, id object.ID, cur *object.ID, w driver.Write) (ok bool, err error) {
	start := time.Now()
	ctx, span := h.M.startCall(ctx, h.Name(), "CompareAndWrite")
	defer func() {
		rerr := err
		if err == nil && !ok {
			rerr = object.ErrConflict
		}
		h.M.endCall(ctx, span, h.Name(), "CompareAndWrite", start, rerr)
	}()
	return h.Inner.CompareAndWrite(ctx, id, cur, w)
}

// SetBeforeBump forwards the test seam when the inner backend has it.
func (h *HighVolume) SetBeforeBump(fn func(object.ID)) {
	if b, ok := h.Inner.(interface{ SetBeforeBump(func(object.ID)) }); ok {
		b.SetBeforeBump(fn)
	}
}

func entryErr(e driver.Entry, err error) error {
	if err == nil && e.Kind == driver.EntryNotFound {
		return object.ErrNotFound
	}
	return err
}

// LongTerm decorates a driver.Multipart.
type LongTerm struct {
	Inner driver.Multipart
	M     *Metrics
}

var _ driver.Multipart = (*LongTerm)(nil)

// Name returns the inner backend's name.
func (l *LongTerm) Name() string { return l.Inner.Name() }

// Put records and forwards.
func (l *LongTerm) Put(ctx context.Context, id object.ID, md object.Metadata, body io.Reader) (err error) {
	start := time.Now()
	ctx, span := l.M.startCall(ctx, l.Name(), "Put")
	defer func() { l.M.endCall(ctx, span, l.Name(), "Put", start, err) }()
	return l.Inner.Put(ctx, id, md, body)
}

// Get records and forwards; the latency is to the first byte.
func (l *LongTerm) Get(ctx context.Context, id object.ID, rng *object.ByteRange) (o *object.Reader, err error) {
	start := time.Now()
	ctx, span := l.M.startCall(ctx, l.Name(), "Get")
	defer func() { l.M.endCall(ctx, span, l.Name(), "Get", start, err) }()
	return l.Inner.Get(ctx, id, rng)
}

// Head records and forwards.
func (l *LongTerm) Head(ctx context.Context, id object.ID) (md object.Metadata, err error) {
	start := time.Now()
	ctx, span := l.M.startCall(ctx, l.Name(), "Head")
	defer func() { l.M.endCall(ctx, span, l.Name(), "Head", start, err) }()
	return l.Inner.Head(ctx, id)
}

// Delete records and forwards.
func (l *LongTerm) Delete(ctx context.Context, id object.ID) (err error) {
	start := time.Now()
	ctx, span := l.M.startCall(ctx, l.Name(), "Delete")
	defer func() { l.M.endCall(ctx, span, l.Name(), "Delete", start, err) }()
	return l.Inner.Delete(ctx, id)
}

// InitiateMultipart records and forwards.
func (l *LongTerm) InitiateMultipart(ctx context.Context, id object.ID, md object.Metadata) (u string, err error) {
	start := time.Now()
	ctx, span := l.M.startCall(ctx, l.Name(), "InitiateMultipart")
	defer func() { l.M.endCall(ctx, span, l.Name(), "InitiateMultipart", start, err) }()
	return l.Inner.InitiateMultipart(ctx, id, md)
}

// UploadPart records and forwards.
func (l *LongTerm) UploadPart(ctx context.Context, id object.ID, u string, n int, size int64, body io.Reader) (etag string, err error) {
	start := time.Now()
	ctx, span := l.M.startCall(ctx, l.Name(), "UploadPart")
	defer func() { l.M.endCall(ctx, span, l.Name(), "UploadPart", start, err) }()
	return l.Inner.UploadPart(ctx, id, u, n, size, body)
}

// ListParts records and forwards.
func (l *LongTerm) ListParts(ctx context.Context, id object.ID, u string, maxParts, marker int) (pl object.PartList, err error) {
	start := time.Now()
	ctx, span := l.M.startCall(ctx, l.Name(), "ListParts")
	defer func() { l.M.endCall(ctx, span, l.Name(), "ListParts", start, err) }()
	return l.Inner.ListParts(ctx, id, u, maxParts, marker)
}

// CompleteMultipart records and forwards. A reported CompleteError counts as conflict.
func (l *LongTerm) CompleteMultipart(ctx context.Context, id object.ID, u string, parts []object.CompletedPart) (ce *object.CompleteError, err error) {
	start := time.Now()
	ctx, span := l.M.startCall(ctx, l.Name(), "CompleteMultipart")
	defer func() {
		rerr := err
		if err == nil && ce != nil {
			rerr = object.ErrConflict
		}
		l.M.endCall(ctx, span, l.Name(), "CompleteMultipart", start, rerr)
	}()
	return l.Inner.CompleteMultipart(ctx, id, u, parts)
}

// AbortMultipart records and forwards.
func (l *LongTerm) AbortMultipart(ctx context.Context, id object.ID, u string) (err error) {
	start := time.Now()
	ctx, span := l.M.startCall(ctx, l.Name(), "AbortMultipart")
	defer func() { l.M.endCall(ctx, span, l.Name(), "AbortMultipart", start, err) }()
	return l.Inner.AbortMultipart(ctx, id, u)
}

// ChangeLog decorates a driver.ChangeLog.
type ChangeLog struct {
	Inner driver.ChangeLog
	M     *Metrics
	// Backend names the series; default "changelog".
	Backend string
}

var (
	_ driver.ChangeLogReader = (*ChangeLog)(nil)
	_ driver.RunLog          = (*ChangeLog)(nil)
)

func (c *ChangeLog) name() string {
	if c.Backend == "" {
		return "changelog"
	}
	return c.Backend
}

// Record records and forwards.
func (c *ChangeLog) Record(ctx context.Context, e driver.LogEntry) (err error) {
	start := time.Now()
	ctx, span := c.M.startCall(ctx, c.name(), "Record")
	defer func() { c.M.endCall(ctx, span, c.name(), "Record", start, err) }()
	return c.Inner.Record(ctx, e)
}

// Get records and forwards.
func (c *ChangeLog) Get(ctx context.Context, id driver.ChangeID) (e driver.LogEntry, err error) {
	start := time.Now()
	ctx, span := c.M.startCall(ctx, c.name(), "Get")
	defer func() { c.M.endCall(ctx, span, c.name(), "Get", start, err) }()
	return c.Inner.Get(ctx, id)
}

// Update records and forwards.
func (c *ChangeLog) Update(ctx context.Context, e driver.LogEntry, prev driver.Lease) (err error) {
	start := time.Now()
	ctx, span := c.M.startCall(ctx, c.name(), "Update")
	defer func() { c.M.endCall(ctx, span, c.name(), "Update", start, err) }()
	return c.Inner.Update(ctx, e, prev)
}

// Refresh records and forwards.
func (c *ChangeLog) Refresh(ctx context.Context, id driver.ChangeID, owner string, hb time.Time) (err error) {
	start := time.Now()
	ctx, span := c.M.startCall(ctx, c.name(), "Refresh")
	defer func() { c.M.endCall(ctx, span, c.name(), "Refresh", start, err) }()
	return c.Inner.Refresh(ctx, id, owner, hb)
}

// Remove records and forwards.
func (c *ChangeLog) Remove(ctx context.Context, id driver.ChangeID) (err error) {
	start := time.Now()
	ctx, span := c.M.startCall(ctx, c.name(), "Remove")
	defer func() { c.M.endCall(ctx, span, c.name(), "Remove", start, err) }()
	return c.Inner.Remove(ctx, id)
}

// ClaimStale records and forwards.
func (c *ChangeLog) ClaimStale(ctx context.Context, cl driver.Claim) (es []driver.LogEntry, err error) {
	start := time.Now()
	ctx, span := c.M.startCall(ctx, c.name(), "ClaimStale")
	defer func() { c.M.endCall(ctx, span, c.name(), "ClaimStale", start, err) }()
	return c.Inner.ClaimStale(ctx, cl)
}

// The calls each decorator records, for Series.Backends.
var (
	HighVolumeCalls = []string{"PutNonTombstone", "GetTiered", "GetTieredMetadata", "DeleteNonTombstone", "CompareAndWrite"}
	LongTermCalls   = []string{"Put", "Get", "Head", "Delete", "InitiateMultipart", "UploadPart", "ListParts", "CompleteMultipart", "AbortMultipart"}
	ChangeLogCalls  = []string{"Record", "Get", "Update", "Refresh", "Remove", "ClaimStale", "Scan", "RecordRun", "LastRun"}
)

// Scan records and forwards, or returns ErrUnimplemented when Inner cannot scan.
func (c *ChangeLog) Scan(ctx context.Context, fn func(driver.LogEntry) error) (err error) {
	r, ok := c.Inner.(driver.ChangeLogReader)
	if !ok {
		return object.ErrUnimplemented
	}
	start := time.Now()
	ctx, span := c.M.startCall(ctx, c.name(), "Scan")
	defer func() { c.M.endCall(ctx, span, c.name(), "Scan", start, err) }()
	return r.Scan(ctx, fn)
}

// RecordRun records and forwards, or returns ErrUnimplemented when Inner has no RunLog.
func (c *ChangeLog) RecordRun(ctx context.Context, run driver.RecoveryRun) (err error) {
	rl, ok := c.Inner.(driver.RunLog)
	if !ok {
		return object.ErrUnimplemented
	}
	start := time.Now()
	ctx, span := c.M.startCall(ctx, c.name(), "RecordRun")
	defer func() { c.M.endCall(ctx, span, c.name(), "RecordRun", start, err) }()
	return rl.RecordRun(ctx, run)
}

// LastRun records and forwards, or returns ErrUnimplemented when Inner has no RunLog.
func (c *ChangeLog) LastRun(ctx context.Context) (r driver.RecoveryRun, err error) {
	rl, ok := c.Inner.(driver.RunLog)
	if !ok {
		return driver.RecoveryRun{}, object.ErrUnimplemented
	}
	start := time.Now()
	ctx, span := c.M.startCall(ctx, c.name(), "LastRun")
	defer func() { c.M.endCall(ctx, span, c.name(), "LastRun", start, err) }()
	return rl.LastRun(ctx)
}
