package bigtablebackend

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"cloud.google.com/go/bigtable"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/stratastore/strata/tiered/driver"
	"github.com/stratastore/strata/tiered/object"
)

// Defaults of Options.
const (
	// DefaultTable is the objects table: objectstore's name for it in development.
	DefaultTable = "objectstore"
	// DefaultChangeLogTable is the change-log table.
	DefaultChangeLogTable = "objectstore_changelog"
	// DefaultRPCTimeout bounds each attempt of an RPC.
	DefaultRPCTimeout = 10 * time.Second
	// DefaultMaxAttempts bounds the attempts of an RPC, the first included.
	DefaultMaxAttempts = 3
	// DefaultRetryBackoff is the first pause between attempts.
	DefaultRetryBackoff = 50 * time.Millisecond
	// emulatorProject and emulatorInstance name the instance on an emulator when Options
	// leaves them empty; the emulator accepts any name.
	emulatorProject  = "strata"
	emulatorInstance = "strata"
)

// MaxMessageSize is the gRPC message limit set on every connection, the server-side limit of
// Bigtable (256 MiB). gRPC's default of 4 MiB would fail reads of large rows.
const MaxMessageSize = 1 << 28

// MaxPayloadSize bounds an inline payload. Strata's tiering threshold is 1 MiB; the bound
// only stops a misuse from writing huge cells (Bigtable recommends at most 10 MB per cell).
const MaxPayloadSize = 32 << 20

// maxRowKeySize is Bigtable's row key limit.
const maxRowKeySize = 4 << 10

// Options configures a Backend. The zero value of each field means its documented default.
type Options struct {
	// Project and Instance name the Bigtable instance. New requires them; NewWithConn defaults
	// them to "strata", which any emulator accepts.
	Project, Instance string
	// Table holds the objects (families fg and fm). Default DefaultTable ("objectstore", the
	// name objectstore's dev setup uses).
	Table string
	// ChangeLogTable holds the change log (family c). Default DefaultChangeLogTable.
	ChangeLogTable string
	// AppProfile is the app profile of every data request; empty means the instance default.
	AppProfile string
	// ChannelPoolSize is the number of gRPC channels of the production client
	// (option.WithGRPCConnectionPool); 0 keeps the library's default (10 in v1.58.0).
	ChannelPoolSize int
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
	// ClientOptions are extra options for the production client (credentials, endpoint).
	ClientOptions []option.ClientOption
}

func (o Options) withDefaults() Options {
	if o.Table == "" {
		o.Table = DefaultTable
	}
	if o.ChangeLogTable == "" {
		o.ChangeLogTable = DefaultChangeLogTable
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
	return o
}

// Backend implements driver.HighVolume on the objects table and driver.ChangeLog on the
// change-log table of one Bigtable instance. It is safe for concurrent use. Create it once
// per process and share it.
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
	_ driver.HighVolume = (*Backend)(nil)
	_ driver.ChangeLog  = (*Backend)(nil)
)

// New connects to a production Bigtable instance with the library's default transport:
// Application Default Credentials, a pool of ChannelPoolSize channels, 256 MiB messages, and
// channel priming (the v1.58.0 pool sends PingAndWarm on every channel it dials, before the
// channel takes traffic, and recycles channels ahead of the server's hourly close).
func New(ctx context.Context, o Options) (*Backend, error) {
	if o.Project == "" || o.Instance == "" {
		return nil, object.Invalidf("bigtablebackend: Project and Instance are required")
	}
	o = o.withDefaults()
	var copts []option.ClientOption
	if o.ChannelPoolSize > 0 {
		copts = append(copts, option.WithGRPCConnectionPool(o.ChannelPoolSize))
	}
	copts = append(copts, o.ClientOptions...)
	c, err := bigtable.NewClientWithConfig(ctx, o.Project, o.Instance, bigtable.ClientConfig{AppProfile: o.AppProfile}, copts...)
	if err != nil {
		return nil, fmt.Errorf("bigtablebackend: new client: %w", err)
	}
	return newBackend(c, o), nil
}

// NewWithConn returns a Backend that sends every RPC over conn, typically a connection to the
// emulator or an in-process bttest server made with DialEmulator. Close closes conn too (the
// client library closes a connection passed with option.WithGRPCConn). Client metrics are off.
//
// The connection should allow MaxMessageSize messages (DialEmulator does); gRPC's default
// of 4 MiB fails reads of rows above it.
func NewWithConn(ctx context.Context, conn *grpc.ClientConn, o Options) (*Backend, error) {
	if o.Project == "" {
		o.Project = emulatorProject
	}
	if o.Instance == "" {
		o.Instance = emulatorInstance
	}
	o = o.withDefaults()
	c, err := bigtable.NewClientWithConfig(ctx, o.Project, o.Instance,
		bigtable.ClientConfig{AppProfile: o.AppProfile, MetricsProvider: bigtable.NoopMetricsProvider{}},
		option.WithGRPCConn(conn))
	if err != nil {
		return nil, fmt.Errorf("bigtablebackend: new client: %w", err)
	}
	return newBackend(c, o), nil
}

// NewEmulator dials an emulator (cbtemulator or bttest) at addr with DialEmulator and returns
// a Backend on that connection; Close closes it.
func NewEmulator(ctx context.Context, addr string, o Options) (*Backend, error) {
	conn, err := DialEmulator(addr)
	if err != nil {
		return nil, err
	}
	b, err := NewWithConn(ctx, conn, o)
	if err != nil {
		_ = conn.Close()
		return nil, err
	}
	return b, nil
}

// DialEmulator dials an emulator address without credentials and with MaxMessageSize call
// options, which the client library leaves at gRPC's 4 MiB when BIGTABLE_EMULATOR_HOST is
// used. extra dial options (interceptors, for example) are appended.
func DialEmulator(addr string, extra ...grpc.DialOption) (*grpc.ClientConn, error) {
	opts := append([]grpc.DialOption{
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(MaxMessageSize), grpc.MaxCallSendMsgSize(MaxMessageSize)),
	}, extra...)
	conn, err := grpc.NewClient(addr, opts...)
	if err != nil {
		return nil, fmt.Errorf("bigtablebackend: dial %s: %w", addr, err)
	}
	return conn, nil
}

func newBackend(c *bigtable.Client, o Options) *Backend {
	return &Backend{
		opts:    o,
		client:  c,
		objects: c.Open(o.Table),
		changes: c.Open(o.ChangeLogTable),
		log:     o.Logger,
		now:     o.Now,
	}
}

// Prime sends one PingAndWarm, which opens the connection (gRPC dials lazily) and warms the
// server's caches, so that the first real request does not pay for it. New's channel pool
// already primes each channel; Prime is for NewWithConn connections and for callers that
// want a cold start to fail fast on a bad configuration.
func (b *Backend) Prime(ctx context.Context) error {
	return b.do(ctx, "Prime", "PingAndWarm", func(ctx context.Context) error { return b.client.PingAndWarm(ctx) })
}

// Close releases the client and its connections.
func (b *Backend) Close() error { return b.client.Close() }

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
