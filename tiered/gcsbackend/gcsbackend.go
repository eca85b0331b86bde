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

// Options configures a Backend. Zero fields take the documented defaults.
type Options struct {
	// Bucket is the GCS bucket holding the objects. Required.
	Bucket string
	// Client is the storage client to use; the caller owns it and Close leaves it open.
	// When nil, New creates one (see Endpoint) and Close closes it.
	Client *storage.Client
	// Endpoint selects emulator mode when Client is nil: a host:port or URL of a GCS emulator
	// such as fake-gcs-server, in STORAGE_EMULATOR_HOST's format. The client then uses no
	// authentication and the JSON API for reads too (the XML read path of an emulator needs a
	// matching -public-host). Empty means production GCS with application default
	// credentials, or STORAGE_EMULATOR_HOST when that variable is set.
	Endpoint string
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
// driver.Multipart and is safe for concurrent use.
type Backend struct {
	client     *storage.Client
	ownsClient bool
	bucket     *storage.BucketHandle
	chunkSize  int
	timeout    time.Duration
	deleteN    int
	now        func() time.Time
	log        *slog.Logger
}

var (
	_ driver.LongTerm  = (*Backend)(nil)
	_ driver.Multipart = (*Backend)(nil)
)

// New returns a Backend on opts.Bucket. It makes no network call: a missing bucket shows up
// on the first operation.
func New(ctx context.Context, opts Options) (*Backend, error) {
	if opts.Bucket == "" {
		return nil, fmt.Errorf("gcsbackend: %w: Options.Bucket is required", object.ErrInvalidArgument)
	}
	if opts.ChunkSize < 0 || opts.CallTimeout < 0 || opts.MaxAttempts < 0 || opts.DeleteConcurrency < 0 {
		return nil, fmt.Errorf("gcsbackend: %w: negative option", object.ErrInvalidArgument)
	}
	b := &Backend{
		client:    opts.Client,
		chunkSize: cmp.Or(opts.ChunkSize, DefaultChunkSize),
		timeout:   cmp.Or(opts.CallTimeout, DefaultCallTimeout),
		deleteN:   cmp.Or(opts.DeleteConcurrency, DefaultDeleteConcurrency),
		now:       opts.Now,
		log:       opts.Logger,
	}
	if b.now == nil {
		b.now = time.Now
	}
	if b.log == nil {
		b.log = slog.Default()
	}
	if b.client == nil {
		cl, err := newClient(ctx, opts.Endpoint)
		if err != nil {
			return nil, fmt.Errorf("gcsbackend: %w", err)
		}
		b.client, b.ownsClient = cl, true
	}
	// Every request this package issues is safe to repeat (doc.go, "Retries"), so all of them
	// retry on transient errors, not only the ones the client deems idempotent.
	b.bucket = b.client.Bucket(opts.Bucket).Retryer(
		storage.WithPolicy(storage.RetryAlways),
		storage.WithMaxAttempts(cmp.Or(opts.MaxAttempts, DefaultMaxAttempts)),
		storage.WithBackoff(gax.Backoff{Initial: 100 * time.Millisecond, Max: 5 * time.Second, Multiplier: 2}),
	)
	return b, nil
}

func newClient(ctx context.Context, endpoint string) (*storage.Client, error) {
	if endpoint == "" {
		return storage.NewClient(ctx, storage.WithJSONReads())
	}
	u := endpoint
	if !strings.Contains(u, "://") {
		u = "http://" + u
	}
	u = strings.TrimSuffix(u, "/") + "/storage/v1/"
	return storage.NewClient(ctx,
		option.WithEndpoint(u),
		option.WithoutAuthentication(),
		storage.WithJSONReads(),
	)
}

// Close releases the client when New created it. It does not wait for open readers.
func (b *Backend) Close() error {
	if b.ownsClient {
		return b.client.Close()
	}
	return nil
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
