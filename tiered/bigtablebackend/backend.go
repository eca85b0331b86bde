package bigtablebackend

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"cloud.google.com/go/bigtable"

	"github.com/stratastore/strata/tiered/driver"
	"github.com/stratastore/strata/tiered/object"
)

// Defaults of Options.
const (
	// DefaultTable is the objects table objectstore's development setup uses. Open has no
	// default name; callers that want this one pass it.
	DefaultTable = "objectstore"
	// DefaultChangeLogTable is the change-log table.
	DefaultChangeLogTable = "objectstore_changelog"
	// DefaultRPCTimeout bounds each attempt of an RPC.
	DefaultRPCTimeout = 10 * time.Second
	// DefaultMaxAttempts bounds the attempts of an RPC, the first included.
	DefaultMaxAttempts = 3
	// DefaultRetryBackoff is the first pause between attempts.
	DefaultRetryBackoff = 50 * time.Millisecond
)

// MaxMessageSize is the gRPC message limit set on every connection, the server-side limit of
// Bigtable (256 MiB). gRPC's default of 4 MiB would fail reads of large rows.
const MaxMessageSize = 1 << 28

// MaxPayloadSize bounds an inline payload. Strata's tiering threshold is 1 MiB; the bound
// only stops a misuse from writing huge cells (Bigtable recommends at most 10 MB per cell).
const MaxPayloadSize = 32 << 20

// maxRowKeySize is Bigtable's row key limit.
const maxRowKeySize = 4 << 10

// Options configures a Backend (and the tables CreateTables makes). A nil *Options, or a zero
// field, means the documented default.
type Options struct {
	// ChangeLogTable holds the change log (family c), in the same instance as the objects
	// table. Default DefaultChangeLogTable. It must differ from the objects table.
	ChangeLogTable string
	// RPCTimeout bounds each attempt of each RPC. Default 10s.
	RPCTimeout time.Duration
	// MaxAttempts bounds the attempts of each RPC, the first included. Default 3.
	MaxAttempts int
	// RetryBackoff is the first backoff between attempts; it doubles per retry (capped at 2s)
	// with jitter. Default 50ms.
	RetryBackoff time.Duration
	// Now is the clock for deadlines, liveness and TTI bumps. Default time.Now.
	Now func() time.Time
	// Logger receives retries and TTI bump failures. Default slog.Default().
	Logger *slog.Logger
}

// resolve applies the defaults and checks the table names.
func (opts *Options) resolve(table string) (Options, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if table == "" {
		return o, object.Invalidf("bigtablebackend: the objects table name is required (objectstore's is %q)", DefaultTable)
	}
	if o.ChangeLogTable == "" {
		o.ChangeLogTable = DefaultChangeLogTable
	}
	if o.ChangeLogTable == table {
		return o, object.Invalidf("bigtablebackend: the change-log table must differ from the objects table %q", table)
	}
	if o.RPCTimeout <= 0 {
		o.RPCTimeout = DefaultRPCTimeout
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = DefaultMaxAttempts
	}
	if o.RetryBackoff <= 0 {
		o.RetryBackoff = DefaultRetryBackoff
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o, nil
}

// Backend implements driver.HighVolume on the objects table and driver.ChangeLog on the
// change-log table of one Bigtable instance. It is safe for concurrent use. Create it once
// per process and share it. It holds nothing that needs closing: the client belongs to the
// caller.
type Backend struct {
	opts    Options
	client  *bigtable.Client
	objects *bigtable.Table
	changes *bigtable.Table
	log     *slog.Logger
	now     func() time.Time

	beforeBump atomic.Pointer[func(object.ID)]
}

var (
	_ driver.HighVolume      = (*Backend)(nil)
	_ driver.ChangeLog       = (*Backend)(nil)
	_ driver.ChangeLogReader = (*Backend)(nil)
	_ driver.RunLog          = (*Backend)(nil)
)

// Open returns a Backend on the objects table named table and the change-log table
// Options.ChangeLogTable, both in the instance client was made for. A nil *Options means the
// defaults. Open makes no RPC (see Prime): a missing table shows up on the first operation.
//
// The caller makes and owns client, and closes it once the Backend is no longer used; the
// Backend never closes it. For production, bigtable.NewClient (or NewClientWithConfig, for an
// app profile or channel pool size) gives the library's transport; for an emulator, see
// NewEmulatorClient.
func Open(ctx context.Context, client *bigtable.Client, table string, opts *Options) (*Backend, error) {
	_ = ctx // no RPC is made; ctx is there for the shape every backend's Open shares
	if client == nil {
		return nil, object.Invalidf("bigtablebackend: a Bigtable client is required")
	}
	o, err := opts.resolve(table)
	if err != nil {
		return nil, err
	}
	return &Backend{
		opts:    o,
		client:  client,
		objects: client.Open(table),
		changes: client.Open(o.ChangeLogTable),
		log:     o.Logger,
		now:     o.Now,
	}, nil
}

// Prime sends one PingAndWarm, which opens the connection (gRPC dials lazily) and warms the
// server's caches, so that the first real request does not pay for it. The production
// client's channel pool already primes each channel; Prime is for emulator connections and
// for callers that want a cold start to fail fast on a bad configuration.
func (b *Backend) Prime(ctx context.Context) error {
	return b.do(ctx, "Prime", "PingAndWarm", func(ctx context.Context) error { return b.client.PingAndWarm(ctx) })
}

// Name identifies the backend in logs and metrics.
func (b *Backend) Name() string { return "bigtable" }

// SetBeforeBump installs a test seam: fn runs after a read has decided to bump a TTI deadline
// and before the conditional bump is written. nil removes it. The conformance suite uses it
// to race an overwrite against the bump.
func (b *Backend) SetBeforeBump(fn func(id object.ID)) {
	if fn == nil {
		b.beforeBump.Store(nil)
		return
	}
	b.beforeBump.Store(&fn)
}
