package gcsbackend

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"cloud.google.com/go/storage"
	"github.com/googleapis/gax-go/v2"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/option"

	"github.com/stratastore/strata/tiered/driver"
	"github.com/stratastore/strata/tiered/object"
)

// Defaults of Options.
const (
	// DefaultChunkSize is the upload chunk size: the Writer buffers this much per upload so a
	// failed chunk can be resent. It bounds upload memory at one chunk per concurrent upload.
	DefaultChunkSize = 8 << 20
	// DefaultCallTimeout bounds every metadata call (attrs, patch, delete, compose, list).
	DefaultCallTimeout = 60 * time.Second
	// DefaultMaxAttempts is the number of attempts of one GCS request, first try included.
	DefaultMaxAttempts = 5
	// DefaultDeleteConcurrency bounds the parallel deletes of multipart complete and abort.
	DefaultDeleteConcurrency = 8
)

// Options configures a Backend. A nil *Options, or a zero field, means the documented
// default.
type Options struct {
	// ChunkSize is the upload chunk size in bytes; 0 means DefaultChunkSize. The client rounds
	// it up to a multiple of 256 KiB. Each in-flight upload holds one chunk buffer.
	ChunkSize int
	// CallTimeout bounds each metadata call; 0 means DefaultCallTimeout. Uploads and body
	// reads are bounded by the caller's context only, since their duration scales with size.
	CallTimeout time.Duration
	// MaxAttempts is the number of attempts per GCS request; 0 means DefaultMaxAttempts.
	MaxAttempts int
	// DeleteConcurrency bounds parallel deletes; 0 means DefaultDeleteConcurrency.
	DeleteConcurrency int
	// Now is the clock used for expiry and TTI bumps; nil means time.Now.
	Now func() time.Time
	// Logger receives bump and cleanup failures that do not fail the operation; nil means
	// slog.Default().
	Logger *slog.Logger
}

// Backend stores objects in one GCS bucket. It implements driver.LongTerm and
// driver.Multipart and is safe for concurrent use. It holds nothing that needs closing: the
// client it uses belongs to the caller.
type Backend struct {
	bucket    *storage.BucketHandle
	chunkSize int
	timeout   time.Duration
	deleteN   int
	now       func() time.Time
	log       *slog.Logger
}

var (
	_ driver.LongTerm  = (*Backend)(nil)
	_ driver.Multipart = (*Backend)(nil)
)

// Open returns a Backend on the GCS bucket named bucket, reached through client. A nil
// *Options means the defaults. Open makes no network call: a missing bucket shows up on the
// first operation.
//
// The caller makes and owns client: it chooses credentials and endpoint (production GCS, or
// an emulator through STORAGE_EMULATOR_HOST, option.WithEndpoint or NewEmulatorClient), and
// closes it once the Backend is no longer used; the Backend never closes it. The client
// should use the JSON API for reads (storage.WithJSONReads()), as the costs in the package
// documentation assume. The retry policy is set on the Backend's own bucket handle, so the
// client's other users are not affected.
func Open(ctx context.Context, client *storage.Client, bucket string, opts *Options) (*Backend, error) {
	_ = ctx // no call is made; ctx is there for the shape every backend's Open shares
	if client == nil {
		return nil, fmt.Errorf("gcsbackend: %w: a storage client is required", object.ErrInvalidArgument)
	}
	if bucket == "" {
		return nil, fmt.Errorf("gcsbackend: %w: a bucket name is required", object.ErrInvalidArgument)
	}
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.ChunkSize < 0 || o.CallTimeout < 0 || o.MaxAttempts < 0 || o.DeleteConcurrency < 0 {
		return nil, fmt.Errorf("gcsbackend: %w: negative option", object.ErrInvalidArgument)
	}
	b := &Backend{
		chunkSize: cmp.Or(o.ChunkSize, DefaultChunkSize),
		timeout:   cmp.Or(o.CallTimeout, DefaultCallTimeout),
		deleteN:   cmp.Or(o.DeleteConcurrency, DefaultDeleteConcurrency),
		now:       o.Now,
		log:       o.Logger,
	}
	if b.now == nil {
		b.now = time.Now
	}
	if b.log == nil {
		b.log = slog.Default()
	}
	// Every request this package issues is safe to repeat (doc.go, "Retries"), so all of them
	// retry on transient errors, not only the ones the client deems idempotent.
	b.bucket = client.Bucket(bucket).Retryer(
		storage.WithPolicy(storage.RetryAlways),
		storage.WithMaxAttempts(cmp.Or(o.MaxAttempts, DefaultMaxAttempts)),
		storage.WithBackoff(gax.Backoff{Initial: 100 * time.Millisecond, Max: 5 * time.Second, Multiplier: 2}),
	)
	return b, nil
}

// NewEmulatorClient returns a storage client for a GCS emulator such as fake-gcs-server at
// endpoint, a host:port or base URL in STORAGE_EMULATOR_HOST's format ("127.0.0.1:4443" or
// "http://127.0.0.1:4443"). The client uses no authentication and the JSON API for reads too
// (the XML read path of an emulator needs a matching -public-host). It makes a client, not a
// Backend: pass it to Open, and Close it when done.
func NewEmulatorClient(ctx context.Context, endpoint string) (*storage.Client, error) {
	if endpoint == "" {
		return nil, fmt.Errorf("gcsbackend: %w: an emulator endpoint is required", object.ErrInvalidArgument)
	}
	u := endpoint
	if !strings.Contains(u, "://") {
		u = "http://" + u
	}
	u = strings.TrimSuffix(u, "/") + "/storage/v1/"
	c, err := storage.NewClient(ctx,
		option.WithEndpoint(u),
		option.WithoutAuthentication(),
		storage.WithJSONReads(),
	)
	if err != nil {
		return nil, fmt.Errorf("gcsbackend: emulator client: %w", err)
	}
	return c, nil
}

// Name returns "gcs".
func (b *Backend) Name() string { return "gcs" }

func (b *Backend) object(name string) *storage.ObjectHandle { return b.bucket.Object(name) }

// callCtx bounds one metadata call.
func (b *Backend) callCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, b.timeout)
}

// translate maps a storage client error to the driver's sentinels, keeping the native error
// in the chain. Context errors pass through unchanged in meaning.
func translate(op, name string, err error) error {
	if err == nil {
		return nil
	}
	var sentinel error
	var gerr *googleapi.Error
	switch {
	case errors.Is(err, storage.ErrObjectNotExist):
		sentinel = object.ErrNotFound
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
	case errors.As(err, &gerr):
		switch {
		case gerr.Code == http.StatusNotFound:
			sentinel = object.ErrNotFound
		case gerr.Code == http.StatusPreconditionFailed:
			sentinel = object.ErrConflict
		case gerr.Code == http.StatusBadRequest:
			sentinel = object.ErrInvalidArgument
		case gerr.Code == http.StatusRequestTimeout || gerr.Code == http.StatusTooManyRequests || gerr.Code >= 500:
			sentinel = object.ErrUnavailable
		}
	}
	if sentinel != nil {
		return fmt.Errorf("gcs %s %q: %w: %w", op, name, sentinel, err)
	}
	return fmt.Errorf("gcs %s %q: %w", op, name, err)
}
