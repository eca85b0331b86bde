// Package observe decorates backends with metrics: for every call it records the backend,
// the operation, the outcome and the latency. Expected outcomes are not failures: a
// not-found read is "not_found", a lost compare-and-write is "conflict", and only real
// errors are "error".
//
// The decorators implement the same driver interfaces as what they wrap, so they can be
// stacked anywhere, and they pass the same conformance suites.
package observe

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

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

// Key identifies one series.
type Key struct {
	Backend, Op, Outcome string
}

// Series is the count and total latency of one Key.
type Series struct {
	Count   int64
	Latency time.Duration
}

// buckets are the latency histogram's upper bounds.
var buckets = []time.Duration{
	time.Millisecond, 5 * time.Millisecond, 25 * time.Millisecond, 100 * time.Millisecond,
	500 * time.Millisecond, 2 * time.Second, 10 * time.Second,
}

type series struct {
	Series
	hist [8]int64 // len(buckets)+1, the last is +Inf
}

// Recorder collects backend-call metrics. It is safe for concurrent use.
type Recorder struct {
	mu sync.Mutex
	m  map[Key]*series
}

// NewRecorder returns an empty Recorder.
func NewRecorder() *Recorder { return &Recorder{m: map[Key]*series{}} }

// Observe records one call.
func (r *Recorder) Observe(backend, op string, err error, d time.Duration) {
	k := Key{backend, op, Outcome(err)}
	i := sort.Search(len(buckets), func(i int) bool { return d <= buckets[i] })
	r.mu.Lock()
	s := r.m[k]
	if s == nil {
		s = &series{}
		r.m[k] = s
	}
	s.Count++
	s.Latency += d
	s.hist[i]++
	r.mu.Unlock()
}

// Get returns the series for k.
func (r *Recorder) Get(k Key) Series {
	r.mu.Lock()
	defer r.mu.Unlock()
	if s := r.m[k]; s != nil {
		return s.Series
	}
	return Series{}
}

// WritePrometheus writes every series in the Prometheus text format, as
// strata_backend_calls_total{backend,op,outcome} counters and a
// strata_backend_call_seconds histogram.
func (r *Recorder) WritePrometheus(w io.Writer) error {
	r.mu.Lock()
	keys := make([]Key, 0, len(r.m))
	for k := range r.m {
		keys = append(keys, k)
	}
	snap := make(map[Key]series, len(r.m))
	for k, s := range r.m {
		snap[k] = *s
	}
	r.mu.Unlock()
	slices.SortFunc(keys, func(a, b Key) int {
		return strings.Compare(a.Backend+"\x00"+a.Op+"\x00"+a.Outcome, b.Backend+"\x00"+b.Op+"\x00"+b.Outcome)
	})
	var b strings.Builder
	b.WriteString("# HELP strata_backend_calls_total Backend calls by backend, operation and outcome.\n# TYPE strata_backend_calls_total counter\n")
	for _, k := range keys {
		fmt.Fprintf(&b, "strata_backend_calls_total{%s} %d\n", labels(k), snap[k].Count)
	}
	b.WriteString("# HELP strata_backend_call_seconds Backend call latency.\n# TYPE strata_backend_call_seconds histogram\n")
	for _, k := range keys {
		s := snap[k]
		var cum int64
		for i, ub := range buckets {
			cum += s.hist[i]
			fmt.Fprintf(&b, "strata_backend_call_seconds_bucket{%s,le=\"%g\"} %d\n", labels(k), ub.Seconds(), cum)
		}
		fmt.Fprintf(&b, "strata_backend_call_seconds_bucket{%s,le=\"+Inf\"} %d\n", labels(k), s.Count)
		fmt.Fprintf(&b, "strata_backend_call_seconds_sum{%s} %g\n", labels(k), s.Latency.Seconds())
		fmt.Fprintf(&b, "strata_backend_call_seconds_count{%s} %d\n", labels(k), s.Count)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func labels(k Key) string {
	return fmt.Sprintf("backend=%q,op=%q,outcome=%q", k.Backend, k.Op, k.Outcome)
}

func (r *Recorder) time(backend, op string, start time.Time, err error) {
	r.Observe(backend, op, err, time.Since(start))
}

// HighVolume decorates a driver.HighVolume.
type HighVolume struct {
	Inner driver.HighVolume
	Rec   *Recorder
}

var _ driver.HighVolume = (*HighVolume)(nil)

// Name returns the inner backend's name.
func (h *HighVolume) Name() string { return h.Inner.Name() }

// PutNonTombstone records and forwards.
func (h *HighVolume) PutNonTombstone(ctx context.Context, id object.ID, md object.Metadata, p []byte) (t *driver.Tombstone, err error) {
	defer func(s time.Time) { h.Rec.time(h.Name(), "PutNonTombstone", s, err) }(time.Now())
	return h.Inner.PutNonTombstone(ctx, id, md, p)
}

// GetTiered records and forwards. An absent row is recorded as not_found.
func (h *HighVolume) GetTiered(ctx context.Context, id object.ID) (e driver.Entry, err error) {
	defer func(s time.Time) { h.Rec.time(h.Name(), "GetTiered", s, entryErr(e, err)) }(time.Now())
	return h.Inner.GetTiered(ctx, id)
}

// GetTieredMetadata records and forwards. An absent row is recorded as not_found.
func (h *HighVolume) GetTieredMetadata(ctx context.Context, id object.ID) (e driver.Entry, err error) {
	defer func(s time.Time) { h.Rec.time(h.Name(), "GetTieredMetadata", s, entryErr(e, err)) }(time.Now())
	return h.Inner.GetTieredMetadata(ctx, id)
}

// DeleteNonTombstone records and forwards.
func (h *HighVolume) DeleteNonTombstone(ctx context.Context, id object.ID) (t *driver.Tombstone, err error) {
	defer func(s time.Time) { h.Rec.time(h.Name(), "DeleteNonTombstone", s, err) }(time.Now())
	return h.Inner.DeleteNonTombstone(ctx, id)
}

// CompareAndWrite records and forwards. A lost race is recorded as conflict.
func (h *HighVolume) CompareAndWrite(ctx context.Context, id object.ID, cur *object.ID, w driver.Write) (ok bool, err error) {
	defer func(s time.Time) {
		rerr := err
		if err == nil && !ok {
			rerr = object.ErrConflict
		}
		h.Rec.time(h.Name(), "CompareAndWrite", s, rerr)
	}(time.Now())
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
	Rec   *Recorder
}

var _ driver.Multipart = (*LongTerm)(nil)

// Name returns the inner backend's name.
func (l *LongTerm) Name() string { return l.Inner.Name() }

// Put records and forwards.
func (l *LongTerm) Put(ctx context.Context, id object.ID, md object.Metadata, body io.Reader) (err error) {
	defer func(s time.Time) { l.Rec.time(l.Name(), "Put", s, err) }(time.Now())
	return l.Inner.Put(ctx, id, md, body)
}

// Get records and forwards; the latency is to the first byte.
func (l *LongTerm) Get(ctx context.Context, id object.ID, rng *object.ByteRange) (o *object.Reader, err error) {
	defer func(s time.Time) { l.Rec.time(l.Name(), "Get", s, err) }(time.Now())
	return l.Inner.Get(ctx, id, rng)
}

// Head records and forwards.
func (l *LongTerm) Head(ctx context.Context, id object.ID) (md object.Metadata, err error) {
	defer func(s time.Time) { l.Rec.time(l.Name(), "Head", s, err) }(time.Now())
	return l.Inner.Head(ctx, id)
}

// Delete records and forwards.
func (l *LongTerm) Delete(ctx context.Context, id object.ID) (err error) {
	defer func(s time.Time) { l.Rec.time(l.Name(), "Delete", s, err) }(time.Now())
	return l.Inner.Delete(ctx, id)
}

// InitiateMultipart records and forwards.
func (l *LongTerm) InitiateMultipart(ctx context.Context, id object.ID, md object.Metadata) (u string, err error) {
	defer func(s time.Time) { l.Rec.time(l.Name(), "InitiateMultipart", s, err) }(time.Now())
	return l.Inner.InitiateMultipart(ctx, id, md)
}

// UploadPart records and forwards.
func (l *LongTerm) UploadPart(ctx context.Context, id object.ID, u string, n int, size int64, body io.Reader) (etag string, err error) {
	defer func(s time.Time) { l.Rec.time(l.Name(), "UploadPart", s, err) }(time.Now())
	return l.Inner.UploadPart(ctx, id, u, n, size, body)
}

// ListParts records and forwards.
func (l *LongTerm) ListParts(ctx context.Context, id object.ID, u string, maxParts, marker int) (pl object.PartList, err error) {
	defer func(s time.Time) { l.Rec.time(l.Name(), "ListParts", s, err) }(time.Now())
	return l.Inner.ListParts(ctx, id, u, maxParts, marker)
}

// CompleteMultipart records and forwards. A reported CompleteError counts as conflict.
func (l *LongTerm) CompleteMultipart(ctx context.Context, id object.ID, u string, parts []object.CompletedPart) (ce *object.CompleteError, err error) {
	defer func(s time.Time) {
		rerr := err
		if err == nil && ce != nil {
			rerr = object.ErrConflict
		}
		l.Rec.time(l.Name(), "CompleteMultipart", s, rerr)
	}(time.Now())
	return l.Inner.CompleteMultipart(ctx, id, u, parts)
}

// AbortMultipart records and forwards.
func (l *LongTerm) AbortMultipart(ctx context.Context, id object.ID, u string) (err error) {
	defer func(s time.Time) { l.Rec.time(l.Name(), "AbortMultipart", s, err) }(time.Now())
	return l.Inner.AbortMultipart(ctx, id, u)
}

// ChangeLog decorates a driver.ChangeLog.
type ChangeLog struct {
	Inner driver.ChangeLog
	Rec   *Recorder
	// Backend names the series; default "changelog".
	Backend string
}

var _ driver.ChangeLog = (*ChangeLog)(nil)

func (c *ChangeLog) name() string {
	if c.Backend == "" {
		return "changelog"
	}
	return c.Backend
}

// Record records and forwards.
func (c *ChangeLog) Record(ctx context.Context, e driver.LogEntry) (err error) {
	defer func(s time.Time) { c.Rec.time(c.name(), "Record", s, err) }(time.Now())
	return c.Inner.Record(ctx, e)
}

// Get records and forwards.
func (c *ChangeLog) Get(ctx context.Context, id driver.ChangeID) (e driver.LogEntry, err error) {
	defer func(s time.Time) { c.Rec.time(c.name(), "Get", s, err) }(time.Now())
	return c.Inner.Get(ctx, id)
}

// Update records and forwards.
func (c *ChangeLog) Update(ctx context.Context, e driver.LogEntry, prev driver.Lease) (err error) {
	defer func(s time.Time) { c.Rec.time(c.name(), "Update", s, err) }(time.Now())
	return c.Inner.Update(ctx, e, prev)
}

// Refresh records and forwards.
func (c *ChangeLog) Refresh(ctx context.Context, id driver.ChangeID, owner string, hb time.Time) (err error) {
	defer func(s time.Time) { c.Rec.time(c.name(), "Refresh", s, err) }(time.Now())
	return c.Inner.Refresh(ctx, id, owner, hb)
}

// Remove records and forwards.
func (c *ChangeLog) Remove(ctx context.Context, id driver.ChangeID) (err error) {
	defer func(s time.Time) { c.Rec.time(c.name(), "Remove", s, err) }(time.Now())
	return c.Inner.Remove(ctx, id)
}

// ClaimStale records and forwards.
func (c *ChangeLog) ClaimStale(ctx context.Context, cl driver.Claim) (es []driver.LogEntry, err error) {
	defer func(s time.Time) { c.Rec.time(c.name(), "ClaimStale", s, err) }(time.Now())
	return c.Inner.ClaimStale(ctx, cl)
}
