package backendtest

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stratastore/strata/tiered/driver"
	"github.com/stratastore/strata/tiered/object"
)

// TestUsecase is the usecase of every id NewID returns.
const TestUsecase = "testing"

// BumpInterceptor is the test seam every HighVolume backend implements so that TestHighVolume
// can race a TTI bump against a concurrent write deterministically.
//
// SetBeforeBump installs fn (nil removes it). A backend must call fn after a read
// (GetTiered or GetTieredMetadata) has decided to bump a TTI deadline and before the bump is
// written, outside any lock the backend's own methods need: fn performs writes on the same
// backend. The suite then checks that the bump lost to those writes.
type BumpInterceptor interface {
	SetBeforeBump(fn func(id object.ID))
}

// WithBumpInterceptor returns hv extended with SetBeforeBump delegated to bi. It lets
// TestHighVolume run through a wrapper that does not forward the seam itself
// (*HookedHighVolume does forward it).
func WithBumpInterceptor(hv driver.HighVolume, bi BumpInterceptor) driver.HighVolume {
	return bumpForwarder{HighVolume: hv, bi: bi}
}

type bumpForwarder struct {
	driver.HighVolume
	bi BumpInterceptor
}

func (b bumpForwarder) SetBeforeBump(fn func(id object.ID)) { b.bi.SetBeforeBump(fn) }

// NewID returns the id of key in usecase "testing" with the single scope org=1. It fails the
// test if the id is invalid (object.ID.Validate).
func NewID(t testing.TB, key string) object.ID {
	t.Helper()
	id := object.NewID(TestUsecase, []object.Scope{{Name: "org", Value: "1"}}, key)
	if err := id.Validate(); err != nil {
		t.Fatalf("NewID(%q): %v", key, err)
	}
	return id
}

// RandomPayload returns n pseudo-random bytes, different on every call.
func RandomPayload(n int) []byte {
	b := make([]byte, n)
	r := rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	for i := 0; i < n; i += 8 {
		v := r.Uint64()
		for j := 0; j < 8 && i+j < n; j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	return b
}

// ChunkedReader returns a reader over b whose every Read returns at most chunk bytes
// (chunk < 1 counts as 1). It does not copy b, and does not implement io.WriterTo, so a
// backend under test really sees many short reads.
func ChunkedReader(b []byte, chunk int) io.Reader {
	return &chunkedReader{b: b, chunk: max(chunk, 1)}
}

type chunkedReader struct {
	b     []byte
	chunk int
}

func (r *chunkedReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p[:min(len(p), r.chunk)], r.b)
	r.b = r.b[n:]
	return n, nil
}

// FailingReader returns a reader that yields after pseudo-random bytes and then fails every
// further Read with err. It never returns io.EOF.
func FailingReader(after int64, err error) io.Reader {
	return io.MultiReader(bytes.NewReader(RandomPayload(int(after))), errReader{err})
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

// CancelReader returns a reader that yields b in chunks of at most 64 KiB and calls cancel
// once after bytes have been read, then keeps yielding the rest of b. It simulates a
// request context that ends while the body is still streaming.
func CancelReader(b []byte, after int64, cancel func()) io.Reader {
	return &cancelReader{r: ChunkedReader(b, 64<<10), after: after, cancel: cancel}
}

type cancelReader struct {
	r      io.Reader
	n      int64
	after  int64
	cancel func()
	done   bool
}

func (r *cancelReader) Read(p []byte) (int, error) {
	if !r.done && r.n >= r.after {
		r.done = true
		r.cancel()
	}
	n, err := r.r.Read(p)
	r.n += int64(n)
	return n, err
}

// Millis truncates t to millisecond precision, the precision Bigtable keeps, and strips the
// monotonic clock reading. The suites write times already truncated with it and compare
// times after truncating both sides.
func Millis(t time.Time) time.Time { return t.Truncate(time.Millisecond) }

// SameMillis reports whether a and b are equal at millisecond precision.
func SameMillis(a, b time.Time) bool { return Millis(a).Equal(Millis(b)) }

// metadataDiff returns a description of the first field where got differs from want, or "".
// Times are compared at millisecond precision, content types by their effective value, and
// a nil custom map equals an empty one.
func metadataDiff(got, want object.Metadata) string {
	switch {
	case got.ExpirationPolicy != want.ExpirationPolicy:
		return fmt.Sprintf("expiration policy %s, want %s", got.ExpirationPolicy, want.ExpirationPolicy)
	case !SameMillis(got.TimeCreated, want.TimeCreated):
		return fmt.Sprintf("time_created %s, want %s", fmtTime(got.TimeCreated), fmtTime(want.TimeCreated))
	case !SameMillis(got.TimeExpires, want.TimeExpires):
		return fmt.Sprintf("time_expires %s, want %s", fmtTime(got.TimeExpires), fmtTime(want.TimeExpires))
	case got.EffectiveContentType() != want.EffectiveContentType():
		return fmt.Sprintf("content type %q, want %q", got.EffectiveContentType(), want.EffectiveContentType())
	case got.Compression != want.Compression:
		return fmt.Sprintf("compression %q, want %q", got.Compression, want.Compression)
	case got.Origin != want.Origin:
		return fmt.Sprintf("origin %q, want %q", got.Origin, want.Origin)
	case got.Filename != want.Filename:
		return fmt.Sprintf("filename %q, want %q", got.Filename, want.Filename)
	case got.Size != want.Size:
		return fmt.Sprintf("size %d, want %d", got.Size, want.Size)
	case !maps.Equal(got.Custom, want.Custom):
		return fmt.Sprintf("custom %v, want %v", got.Custom, want.Custom)
	}
	return ""
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "(zero)"
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// ltMetadataDiff is metadataDiff for a long-term backend, which may keep two fields in its
// own terms (driver.LongTerm): TimeCreated may be the backend's own creation time, no earlier
// than the given one and not after now, and TimeExpires may be rounded up by less than a
// second, never down.
func ltMetadataDiff(got, want object.Metadata, now time.Time) string {
	if !SameMillis(got.TimeCreated, want.TimeCreated) &&
		!got.TimeCreated.Before(Millis(want.TimeCreated)) && !got.TimeCreated.After(now) {
		got.TimeCreated = want.TimeCreated
	}
	if !SameMillis(got.TimeExpires, want.TimeExpires) && !want.TimeExpires.IsZero() &&
		!got.TimeExpires.Before(Millis(want.TimeExpires)) && got.TimeExpires.Before(want.TimeExpires.Add(time.Second)) {
		got.TimeExpires = want.TimeExpires
	}
	return metadataDiff(got, want)
}

// checkLTMetadata fails t when got differs from want (see ltMetadataDiff).
func checkLTMetadata(t testing.TB, what string, got, want object.Metadata) {
	t.Helper()
	if d := ltMetadataDiff(got, want, time.Now()); d != "" {
		t.Errorf("%s: metadata differs: %s", what, d)
	}
}

// checkMetadata fails t when got differs from want (see metadataDiff).
func checkMetadata(t testing.TB, what string, got, want object.Metadata) {
	t.Helper()
	if d := metadataDiff(got, want); d != "" {
		t.Errorf("%s: metadata differs: %s", what, d)
	}
}

// fullMetadata returns metadata with every field set, times at millisecond precision, and
// Size set to size.
func fullMetadata(policy object.ExpirationPolicy, expires time.Time, size int64) object.Metadata {
	return object.Metadata{
		ExpirationPolicy: policy,
		TimeCreated:      Millis(time.Now().Add(-time.Second)),
		TimeExpires:      Millis(expires),
		ContentType:      "text/plain; charset=utf-8",
		Compression:      object.CompressionZstd,
		Origin:           "203.0.113.7",
		Filename:         "report 2024 ü.txt",
		Size:             size,
		Custom:           map[string]string{"color": "blue", "owner": "team-a", "empty": ""},
	}
}

// ChangeIDAt returns a fresh UUIDv7 change id whose embedded time is at (to the
// millisecond), as the Store would have made at that time: backlog ages derive from it.
func ChangeIDAt(at time.Time) driver.ChangeID {
	u := uuid.Must(uuid.NewV7())
	var ms [8]byte
	binary.BigEndian.PutUint64(ms[:], uint64(at.UnixMilli()))
	copy(u[0:6], ms[2:8])
	return driver.ChangeID(u.String())
}
