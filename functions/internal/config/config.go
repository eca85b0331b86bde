// Package config reads Strata's configuration from the environment, once, into one
// validated Config. Every variable is named STRATA_*; a malformed value or an unknown
// STRATA_* variable is an error that names the variable, so a typo stops start-up instead
// of silently falling back to a default.
package config

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/stratastore/strata/functions/internal/admission"
	"github.com/stratastore/strata/functions/internal/auth"
	"github.com/stratastore/strata/functions/internal/usecase"
	"github.com/stratastore/strata/tiered"
)

// Storage selects the backends.
type Storage string

const (
	// StorageLocal is the embedded durable backend under DataDir: no emulators needed.
	StorageLocal Storage = "local"
	// StorageEmulators is Bigtable on the Bigtable emulator and GCS on fake-gcs-server.
	StorageEmulators Storage = "emulators"
	// StorageGCP is Cloud Bigtable and Cloud Storage.
	StorageGCP Storage = "gcp"
)

// NoGracePeriod is Config.GracePeriod for STRATA_GRACE_PERIOD=0s: superseded revisions are
// deleted at once. It is negative because a zero GracePeriod means the default, in Config
// as in tiered.Options.
const NoGracePeriod time.Duration = -1

// Defaults of the optional variables.
const (
	DefaultHTTPAddr       = "127.0.0.1:8888"
	DefaultAdminAddr      = "127.0.0.1:8889"
	DefaultDataDir        = "./data"
	DefaultMaxConcurrency = admission.DefaultMaxConcurrency

	// Connection limits (functions/API.md §12.4). The header and idle timeouts apply to the
	// local server only: deployed, the functions framework owns the listener.
	DefaultReadHeaderTimeout = 10 * time.Second
	DefaultReadTimeout       = 30 * time.Second
	DefaultWriteTimeout      = 30 * time.Second
	DefaultIdleTimeout       = 60 * time.Second
	DefaultMinTransferRate   = 1024
	DefaultTenantShare       = admission.DefaultTenantShare

	// The memory model's inputs (admission.Memory; README "Capacity and cost").
	DefaultMemoryLimit        = admission.DefaultMemoryLimit
	DefaultMemoryReserve      = admission.DefaultMemoryReserve
	DefaultRequestConcurrency = admission.DefaultRequestConcurrency
	DefaultGCSChunkSize       = 8 << 20 // gcsbackend.DefaultChunkSize; config imports no backend (a runtime test checks they agree)
)

// Where Config.Memory found the instance's memory limit.
const (
	MemoryFromSetting = "STRATA_MEMORY_LIMIT"
	MemoryFromDefault = "default"
)

// cgroupMemoryFiles are where Linux states a container's memory limit: cgroup v2, then v1.
// "max" (v2) or a value of 2^62 bytes or more (v1) means no limit.
var cgroupMemoryFiles = []string{"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"}

// Bigtable locates the high-volume table and the change-log table. Empty table names mean
// the Bigtable backend's defaults.
type Bigtable struct {
	Project        string
	Instance       string
	Table          string
	ChangeLogTable string
	// Emulator is the emulator's host:port (StorageEmulators only).
	Emulator string
}

// GCS locates the long-term bucket.
type GCS struct {
	Bucket string
	// ChunkSize is the upload chunk each in-flight GCS upload buffers, a multiple of
	// 256 KiB (STRATA_GCS_CHUNK_SIZE; default gcsbackend.DefaultChunkSize).
	ChunkSize int64
	// Endpoint is the GCS emulator (fake-gcs-server) as host:port or base URL, in
	// STORAGE_EMULATOR_HOST's format: "127.0.0.1:4443" or "http://127.0.0.1:4443"
	// (required with StorageEmulators).
	Endpoint string
}

// Topic names a Pub/Sub topic, projects/<Project>/topics/<ID>. The zero Topic means none.
type Topic struct {
	Project string
	ID      string
}

// ParseTopic parses "projects/<project>/topics/<topic>"; both names must be non-empty.
func ParseTopic(s string) (Topic, error) {
	parts := strings.Split(s, "/")
	if len(parts) != 4 || parts[0] != "projects" || parts[1] == "" || parts[2] != "topics" || parts[3] == "" {
		return Topic{}, fmt.Errorf("%q is not projects/<project>/topics/<topic>", s)
	}
	return Topic{Project: parts[1], ID: parts[3]}, nil
}

// IsZero reports whether t names no topic.
func (t Topic) IsZero() bool { return t == Topic{} }

// String returns the topic's resource name, projects/<project>/topics/<topic>, or "" for
// the zero Topic.
func (t Topic) String() string {
	if t.IsZero() {
		return ""
	}
	return "projects/" + t.Project + "/topics/" + t.ID
}

// InvokerAuth says how a deployed private function (cleanup, recover) authenticates its
// caller.
type InvokerAuth string

const (
	// InvokerAuthOIDC requires a Google-signed OIDC token for the configured audience and
	// service account (the default).
	InvokerAuthOIDC InvokerAuth = "oidc"
	// InvokerAuthNone accepts any caller: for the emulator topology, whose Pub/Sub emulator
	// pushes without a token. Never deploy it.
	InvokerAuthNone InvokerAuth = "none"
)

// Invoker is what a private function's caller must prove: an OIDC token with this audience,
// of this service account.
type Invoker struct {
	Audience       string
	ServiceAccount string
}

// IsZero reports whether nothing is configured.
func (i Invoker) IsZero() bool { return i == Invoker{} }

// Config is Strata's validated configuration.
type Config struct {
	// HTTPAddr is where the local server listens (STRATA_HTTP_ADDR). Deployed functions
	// listen on $PORT instead, as the functions framework does.
	HTTPAddr string
	// AdminAddr is where the local server serves the private endpoints (/internal/cleanup,
	// /internal/recover) and the probes (STRATA_ADMIN_ADDR). It should be a loopback
	// address: nothing on it is authenticated. Deployed functions do not use it.
	AdminAddr string
	// InvokerAuth is how deployed private functions authenticate their callers
	// (STRATA_INVOKER_AUTH).
	InvokerAuth InvokerAuth
	// Push is the Pub/Sub push subscription's OIDC identity, required of cleanup's callers
	// (STRATA_PUSH_AUDIENCE, STRATA_PUSH_SERVICE_ACCOUNT).
	Push Invoker
	// Scheduler is Cloud Scheduler's OIDC identity, required of recover's callers
	// (STRATA_SCHEDULER_AUDIENCE, STRATA_SCHEDULER_SERVICE_ACCOUNT).
	Scheduler Invoker
	// DataDir holds the local backend's data (STRATA_DATA_DIR).
	DataDir string
	// AuthEnforce makes auth failures errors (STRATA_AUTH_ENFORCE).
	AuthEnforce bool
	// AuthKeys are the keys that verify tokens and pre-signed URLs (STRATA_AUTH_KEYS).
	AuthKeys auth.KeyDirectory
	// Storage selects the backends (STRATA_STORAGE).
	Storage Storage
	// Bigtable and GCS configure StorageEmulators and StorageGCP.
	Bigtable Bigtable
	GCS      GCS
	// CleanupTopic is the Pub/Sub topic cleanup tasks are published to, parsed from
	// projects/<project>/topics/<topic> (STRATA_CLEANUP_TOPIC). The zero Topic means the
	// in-process cleanup worker.
	CleanupTopic Topic
	// Killswitches block matching requests (STRATA_KILLSWITCHES).
	Killswitches admission.Killswitches
	// RateLimits throttle requests and bandwidth (STRATA_RATE_LIMITS).
	RateLimits admission.RateLimits
	// Usecases constrains expiration policies per usecase (STRATA_USECASES).
	Usecases usecase.Policies
	// MaxConcurrency bounds concurrent storage operations (STRATA_MAX_CONCURRENCY).
	MaxConcurrency int
	// MaxRequests bounds in-flight object requests (STRATA_MAX_REQUESTS).
	MaxRequests int
	// GracePeriod delays deleting superseded revisions (STRATA_GRACE_PERIOD). It reads as
	// tiered.Options.GracePeriod does, so it is passed on unchanged: zero means
	// tiered.DefaultGracePeriod and a negative value means no delay. STRATA_GRACE_PERIOD=0s
	// is stored as NoGracePeriod.
	GracePeriod time.Duration
	// MaxClockSkew bounds the clock difference between any two instances and the backends
	// (STRATA_MAX_CLOCK_SKEW); commits are fenced 2× this before a lease can be claimed.
	MaxClockSkew time.Duration
	// LongTermSettle bounds how long an upload may still land after its writer lost its
	// lease (STRATA_LONG_TERM_SETTLE); recovery waits this long before deleting it.
	LongTermSettle time.Duration
	// LogLevel is the minimum level logged (STRATA_LOG_LEVEL).
	LogLevel slog.Level

	// ReadHeaderTimeout bounds reading a request's headers (STRATA_READ_HEADER_TIMEOUT) and
	// IdleTimeout an idle keep-alive connection (STRATA_IDLE_TIMEOUT): local server only.
	ReadHeaderTimeout, IdleTimeout time.Duration
	// ReadTimeout and WriteTimeout bound a stall of a request body or a response
	// (STRATA_READ_TIMEOUT, STRATA_WRITE_TIMEOUT); MinTransferRate is the bytes per second
	// either must average while the server waits on the client (STRATA_MIN_TRANSFER_RATE).
	ReadTimeout, WriteTimeout time.Duration
	MinTransferRate           int64
	// TenantShare is the share of the storage permits one tenant may hold while another
	// waits (STRATA_TENANT_SHARE), in (0, 1]; 1 turns the share off.
	TenantShare float64
	// MemoryBudget bounds the request payload bytes buffered at once (STRATA_MEMORY_BUDGET).
	// Zero means memory_limit − baseline_reserve (Memory).
	MemoryBudget int64

	// Telemetry configures metrics and traces.
	Telemetry Telemetry
	// Function is the deployed function this process serves (FUNCTION_TARGET, set by the
	// functions framework's platform); empty for the local all-in-one server.
	Function string
	// CleanupMaxDeliveries is the cleanup subscription's maximum delivery attempts
	// (STRATA_CLEANUP_MAX_DELIVERIES): a task failing its last attempt is counted as dead
	// lettered. Deployed only; Terraform sets it from the subscription's policy.
	CleanupMaxDeliveries int
	// MemoryLimit is the instance's memory in bytes (STRATA_MEMORY_LIMIT). Zero means
	// unset: Memory reads the cgroup limit, else assumes DefaultMemoryLimit.
	MemoryLimit int64
	// MemoryReserve is the baseline kept out of the payload budget: runtime, clients,
	// buffers, collector headroom (STRATA_MEMORY_RESERVE).
	MemoryReserve int64
	// RequestConcurrency is how many requests one instance serves at once; set it to the
	// function's max_instance_request_concurrency (STRATA_REQUEST_CONCURRENCY).
	RequestConcurrency int
	// StreamSlots, when positive, overrides the number of large uploads admitted at once
	// (STRATA_STREAM_SLOTS); zero means the memory model's slots.
	StreamSlots int
}

// Telemetry exporters (STRATA_TELEMETRY).
const (
	TelemetryPrometheus = "prometheus"
	TelemetryGoogle     = "google"
	TelemetryNone       = "none"
)

// Telemetry configures metrics and traces (package telemetry).
type Telemetry struct {
	// Exporter is where metrics go (STRATA_TELEMETRY): prometheus (/metrics on the local
	// server), google (Cloud Monitoring and Cloud Trace) or none.
	Exporter string
	// SampleRatio is the share of requests traced when the caller decided nothing
	// (STRATA_TRACE_SAMPLE_RATIO), in [0, 1].
	SampleRatio float64
	// FollowRate bounds the requests per second one process traces because their caller
	// marked its trace sampled (STRATA_TRACE_FOLLOW_RATE); beyond it SampleRatio decides.
	FollowRate float64
	// ExportInterval is the least time between request-driven exports to Cloud Monitoring
	// (STRATA_METRICS_EXPORT_INTERVAL), at least MinMetricsExportInterval.
	ExportInterval time.Duration
}

// Telemetry defaults and bounds.
const (
	DefaultTraceSampleRatio      = 0.01
	DefaultTraceFollowRate       = 10
	DefaultMetricsExportInterval = 60 * time.Second
	// MinMetricsExportInterval keeps exports well above Cloud Monitoring's limit of one point
	// per time series every 5 seconds.
	MinMetricsExportInterval    = 10 * time.Second
	DefaultCleanupMaxDeliveries = 10
)

// variable is one STRATA_* variable: its name and how it sets its part of Config.
type variable struct {
	name  string
	parse func(c *Config, v string) error
}

// variables lists every variable Strata reads. A STRATA_* variable not listed here is an
// error.
var variables = []variable{
	{"STRATA_HTTP_ADDR", func(c *Config, v string) error {
		if err := checkAddr(v); err != nil {
			return err
		}
		c.HTTPAddr = v
		return nil
	}},
	{"STRATA_ADMIN_ADDR", func(c *Config, v string) error {
		if err := checkAddr(v); err != nil {
			return err
		}
		c.AdminAddr = v
		return nil
	}},
	{"STRATA_INVOKER_AUTH", func(c *Config, v string) error {
		switch a := InvokerAuth(v); a {
		case InvokerAuthOIDC, InvokerAuthNone:
			c.InvokerAuth = a
			return nil
		}
		return fmt.Errorf("%q is not one of oidc, none", v)
	}},
	{"STRATA_PUSH_AUDIENCE", setString(func(c *Config) *string { return &c.Push.Audience })},
	{"STRATA_PUSH_SERVICE_ACCOUNT", setEmail(func(c *Config) *string { return &c.Push.ServiceAccount })},
	{"STRATA_SCHEDULER_AUDIENCE", setString(func(c *Config) *string { return &c.Scheduler.Audience })},
	{"STRATA_SCHEDULER_SERVICE_ACCOUNT", setEmail(func(c *Config) *string { return &c.Scheduler.ServiceAccount })},
	{"STRATA_DATA_DIR", func(c *Config, v string) error {
		if v == "" {
			return errors.New("must not be empty")
		}
		c.DataDir = v
		return nil
	}},
	{"STRATA_AUTH_ENFORCE", func(c *Config, v string) (err error) {
		c.AuthEnforce, err = parseBool(v)
		return err
	}},
	{"STRATA_AUTH_KEYS", func(c *Config, v string) (err error) {
		c.AuthKeys, err = auth.ParseKeyDirectory(v)
		return err
	}},
	{"STRATA_STORAGE", func(c *Config, v string) error {
		switch s := Storage(v); s {
		case StorageLocal, StorageEmulators, StorageGCP:
			c.Storage = s
			return nil
		}
		return fmt.Errorf("%q is not one of local, emulators, gcp", v)
	}},
	{"STRATA_BIGTABLE_PROJECT", setString(func(c *Config) *string { return &c.Bigtable.Project })},
	{"STRATA_BIGTABLE_INSTANCE", setString(func(c *Config) *string { return &c.Bigtable.Instance })},
	{"STRATA_BIGTABLE_TABLE", setString(func(c *Config) *string { return &c.Bigtable.Table })},
	{"STRATA_BIGTABLE_CHANGELOG_TABLE", setString(func(c *Config) *string { return &c.Bigtable.ChangeLogTable })},
	{"STRATA_BIGTABLE_EMULATOR", func(c *Config, v string) error {
		if _, _, err := net.SplitHostPort(v); err != nil {
			return err
		}
		c.Bigtable.Emulator = v
		return nil
	}},
	{"STRATA_GCS_BUCKET", setString(func(c *Config) *string { return &c.GCS.Bucket })},
	{"STRATA_GCS_ENDPOINT", func(c *Config, v string) error {
		if strings.Contains(v, "://") {
			u, err := url.Parse(v)
			if err != nil {
				return err
			}
			if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				return fmt.Errorf("%q is neither host:port nor an http(s) URL", v)
			}
		} else if _, _, err := net.SplitHostPort(v); err != nil {
			return fmt.Errorf("%q is neither host:port nor an http(s) URL", v)
		}
		c.GCS.Endpoint = v
		return nil
	}},
	{"STRATA_CLEANUP_TOPIC", func(c *Config, v string) (err error) {
		c.CleanupTopic, err = ParseTopic(v)
		return err
	}},
	{"STRATA_KILLSWITCHES", func(c *Config, v string) (err error) {
		c.Killswitches, err = admission.ParseKillswitches(v)
		return err
	}},
	{"STRATA_RATE_LIMITS", func(c *Config, v string) (err error) {
		c.RateLimits, err = admission.ParseRateLimits(v)
		return err
	}},
	{"STRATA_USECASES", func(c *Config, v string) (err error) {
		c.Usecases, err = usecase.ParsePolicies(v)
		return err
	}},
	{"STRATA_MAX_CONCURRENCY", setPositive(func(c *Config) *int { return &c.MaxConcurrency })},
	{"STRATA_MAX_REQUESTS", setPositive(func(c *Config) *int { return &c.MaxRequests })},
	{"STRATA_GRACE_PERIOD", func(c *Config, v string) error {
		d, err := time.ParseDuration(v)
		if err != nil {
			return err
		}
		switch {
		case d < 0:
			return errors.New("must not be negative")
		case d == 0:
			c.GracePeriod = NoGracePeriod
		default:
			c.GracePeriod = d
		}
		return nil
	}},
	{"STRATA_MAX_CLOCK_SKEW", setDuration(func(c *Config) *time.Duration { return &c.MaxClockSkew })},
	{"STRATA_LONG_TERM_SETTLE", setDuration(func(c *Config) *time.Duration { return &c.LongTermSettle })},
	{"STRATA_READ_HEADER_TIMEOUT", setDuration(func(c *Config) *time.Duration { return &c.ReadHeaderTimeout })},
	{"STRATA_READ_TIMEOUT", setDuration(func(c *Config) *time.Duration { return &c.ReadTimeout })},
	{"STRATA_WRITE_TIMEOUT", setDuration(func(c *Config) *time.Duration { return &c.WriteTimeout })},
	{"STRATA_IDLE_TIMEOUT", setDuration(func(c *Config) *time.Duration { return &c.IdleTimeout })},
	{"STRATA_MIN_TRANSFER_RATE", func(c *Config, v string) error {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 {
			return fmt.Errorf("%q is not a positive number of bytes per second", v)
		}
		c.MinTransferRate = n
		return nil
	}},
	{"STRATA_TELEMETRY", func(c *Config, v string) error {
		switch v {
		case TelemetryPrometheus, TelemetryGoogle, TelemetryNone:
			c.Telemetry.Exporter = v
			return nil
		}
		return fmt.Errorf("%q is not one of prometheus, google, none", v)
	}},
	{"STRATA_TRACE_SAMPLE_RATIO", func(c *Config, v string) error {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || !(f >= 0 && f <= 1) {
			return fmt.Errorf("%q is not a fraction in [0, 1]", v)
		}
		c.Telemetry.SampleRatio = f
		return nil
	}},
	{"STRATA_TRACE_FOLLOW_RATE", func(c *Config, v string) error {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || !(f > 0 && f <= 1e6) {
			return fmt.Errorf("%q is not a rate in (0, 1e6] per second", v)
		}
		c.Telemetry.FollowRate = f
		return nil
	}},
	{"STRATA_METRICS_EXPORT_INTERVAL", func(c *Config, v string) error {
		d, err := time.ParseDuration(v)
		if err != nil {
			return err
		}
		if d < MinMetricsExportInterval {
			return fmt.Errorf("%s is below the minimum %s (Cloud Monitoring accepts a point per series every 5 s at most)", d, MinMetricsExportInterval)
		}
		c.Telemetry.ExportInterval = d
		return nil
	}},
	{"STRATA_CLEANUP_MAX_DELIVERIES", func(c *Config, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return fmt.Errorf("%q is not a positive count", v)
		}
		c.CleanupMaxDeliveries = n
		return nil
	}},
	{"STRATA_TENANT_SHARE", func(c *Config, v string) error {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || !(f > 0 && f <= 1) {
			return fmt.Errorf("%q is not a fraction in (0, 1]", v)
		}
		c.TenantShare = f
		return nil
	}},
	{"STRATA_MEMORY_BUDGET", func(c *Config, v string) error {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 4<<20 {
			return fmt.Errorf("%q is not a number of bytes of at least 4194304 (4 MiB: room for a few 1 MiB uploads)", v)
		}
		c.MemoryBudget = n
		return nil
	}},
	{"STRATA_MEMORY_LIMIT", func(c *Config, v string) error {
		n, err := admission.ParseBytes(v)
		if err != nil {
			return err
		}
		if n < 64<<20 {
			return fmt.Errorf("%q is less than 64Mi", v)
		}
		c.MemoryLimit = n
		return nil
	}},
	{"STRATA_MEMORY_RESERVE", func(c *Config, v string) error {
		n, err := admission.ParseBytes(v)
		if err != nil {
			return err
		}
		if n < 16<<20 {
			return fmt.Errorf("%q is less than 16Mi: the Go runtime and the clients alone need more", v)
		}
		c.MemoryReserve = n
		return nil
	}},
	{"STRATA_REQUEST_CONCURRENCY", setPositive(func(c *Config) *int { return &c.RequestConcurrency })},
	{"STRATA_STREAM_SLOTS", setPositive(func(c *Config) *int { return &c.StreamSlots })},
	{"STRATA_GCS_CHUNK_SIZE", func(c *Config, v string) error {
		n, err := admission.ParseBytes(v)
		if err != nil {
			return err
		}
		if n < 256<<10 || n%(256<<10) != 0 || n > 1<<30 {
			return fmt.Errorf("%q is not a multiple of 256Ki between 256Ki and 1Gi", v)
		}
		c.GCS.ChunkSize = n
		return nil
	}},
	{"STRATA_LOG_LEVEL", func(c *Config, v string) error {
		switch strings.ToLower(v) {
		case "debug":
			c.LogLevel = slog.LevelDebug
		case "info":
			c.LogLevel = slog.LevelInfo
		case "warn", "warning":
			c.LogLevel = slog.LevelWarn
		case "error":
			c.LogLevel = slog.LevelError
		default:
			return fmt.Errorf("%q is not one of debug, info, warning, error", v)
		}
		return nil
	}},
}

// Variables returns the names of every variable Strata reads, in documentation order.
func Variables() []string {
	names := make([]string, len(variables))
	for i, v := range variables {
		names[i] = v.name
	}
	return names
}

// checkAddr validates a host:port listen address.
func checkAddr(v string) error {
	_, port, err := net.SplitHostPort(v)
	if err != nil {
		return err
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return fmt.Errorf("invalid port %q", port)
	}
	return nil
}

// setEmail sets a service account email: something@something.
func setEmail(field func(*Config) *string) func(*Config, string) error {
	return func(c *Config, v string) error {
		if local, domain, ok := strings.Cut(v, "@"); !ok || local == "" || domain == "" || strings.ContainsAny(v, " \t") {
			return fmt.Errorf("%q is not a service account email", v)
		}
		*field(c) = v
		return nil
	}
}

func parseBool(v string) (bool, error) {
	switch v {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, fmt.Errorf("%q is not true or false", v)
}

func setString(field func(*Config) *string) func(*Config, string) error {
	return func(c *Config, v string) error {
		if v == "" {
			return errors.New("must not be empty")
		}
		*field(c) = v
		return nil
	}
}

func setPositive(field func(*Config) *int) func(*Config, string) error {
	return func(c *Config, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			return fmt.Errorf("%q is not a positive integer", v)
		}
		*field(c) = n
		return nil
	}
}

// Default returns the configuration with no variable set: local storage under ./data on
// 127.0.0.1:8888 (private endpoints on 127.0.0.1:8889), auth enforced (which Load then
// refuses without keys), and OIDC required of deployed private functions' callers.
func Default() Config {
	return Config{
		HTTPAddr:       DefaultHTTPAddr,
		AdminAddr:      DefaultAdminAddr,
		InvokerAuth:    InvokerAuthOIDC,
		DataDir:        DefaultDataDir,
		AuthEnforce:    true,
		Storage:        StorageLocal,
		MaxConcurrency: DefaultMaxConcurrency,
		MaxRequests:    admission.DefaultMaxRequests,
		GracePeriod:    tiered.DefaultGracePeriod,
		MaxClockSkew:   tiered.DefaultMaxClockSkew,
		LongTermSettle: tiered.DefaultLongTermSettle,
		LogLevel:       slog.LevelInfo,

		ReadHeaderTimeout: DefaultReadHeaderTimeout,
		ReadTimeout:       DefaultReadTimeout,
		WriteTimeout:      DefaultWriteTimeout,
		IdleTimeout:       DefaultIdleTimeout,
		MinTransferRate:   DefaultMinTransferRate,
		TenantShare:       DefaultTenantShare,

		Telemetry: Telemetry{
			Exporter:       TelemetryPrometheus,
			SampleRatio:    DefaultTraceSampleRatio,
			FollowRate:     DefaultTraceFollowRate,
			ExportInterval: DefaultMetricsExportInterval,
		},
		CleanupMaxDeliveries: DefaultCleanupMaxDeliveries,

		MemoryReserve:      DefaultMemoryReserve,
		RequestConcurrency: DefaultRequestConcurrency,
		GCS:                GCS{ChunkSize: DefaultGCSChunkSize},
	}
}

// FromEnv reads the process environment; see Load.
func FromEnv() (Config, error) { return Load(os.Environ()) }

// toolVariables are STRATA_* variables of Strata's other tools (the CLI, the deploy tool,
// the end-to-end tests). The server ignores them, so that a shell set up for those tools can
// still start it.
var toolVariables = []string{
	"STRATA_URL", "STRATA_USECASE", "STRATA_KEY_FILE", "STRATA_KID", "STRATA_TOKEN",
	"STRATA_PROJECT", "STRATA_REGION", "STRATA_ENV",
	"STRATA_E2E_URL", "STRATA_E2E_KEY_FILE", "STRATA_E2E_KID",
}

// Load parses environ ("NAME=value" entries, as os.Environ returns them) into a validated
// Config. Every problem is reported, each naming its variable; an unknown STRATA_*
// variable is one of them.
func Load(environ []string) (Config, error) {
	c := Default()
	var errs []error
	env := make(map[string]string)
	for _, kv := range environ {
		name, value, _ := strings.Cut(kv, "=")
		if name == "FUNCTION_TARGET" {
			c.Function = value
		}
		if !strings.HasPrefix(name, "STRATA_") {
			continue
		}
		env[name] = value
		if slices.Contains(toolVariables, name) {
			continue
		}
		if !slices.ContainsFunc(variables, func(v variable) bool { return v.name == name }) {
			errs = append(errs, fmt.Errorf("%s: unknown variable (known: %s)", name, strings.Join(Variables(), ", ")))
		}
	}
	for _, v := range variables {
		value, ok := env[v.name]
		if !ok {
			continue
		}
		if err := v.parse(&c, value); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", v.name, err))
		}
	}
	if len(errs) == 0 {
		errs = append(errs, c.check(env)...)
	}
	if len(errs) > 0 {
		return Config{}, fmt.Errorf("configuration: %w", errors.Join(errs...))
	}
	return c, nil
}

// check validates the combination of values.
func (c *Config) check(env map[string]string) []error {
	var errs []error
	if c.AuthEnforce && len(c.AuthKeys) == 0 {
		errs = append(errs, errors.New("STRATA_AUTH_KEYS: no keys configured while STRATA_AUTH_ENFORCE is true (configure keys, or set STRATA_AUTH_ENFORCE=false for local development)"))
	}
	require := func(name, value string) {
		if value == "" {
			errs = append(errs, fmt.Errorf("%s: required with STRATA_STORAGE=%s", name, c.Storage))
		}
	}
	forbid := func(name string) {
		if _, ok := env[name]; ok {
			errs = append(errs, fmt.Errorf("%s: not used with STRATA_STORAGE=%s", name, c.Storage))
		}
	}
	switch c.Storage {
	case StorageLocal:
		for _, name := range []string{"STRATA_BIGTABLE_PROJECT", "STRATA_BIGTABLE_INSTANCE", "STRATA_BIGTABLE_TABLE",
			"STRATA_BIGTABLE_CHANGELOG_TABLE", "STRATA_BIGTABLE_EMULATOR", "STRATA_GCS_BUCKET", "STRATA_GCS_ENDPOINT",
			"STRATA_GCS_CHUNK_SIZE", "STRATA_CLEANUP_TOPIC"} {
			forbid(name)
		}
	case StorageEmulators:
		require("STRATA_BIGTABLE_PROJECT", c.Bigtable.Project)
		require("STRATA_BIGTABLE_INSTANCE", c.Bigtable.Instance)
		require("STRATA_BIGTABLE_EMULATOR", c.Bigtable.Emulator)
		require("STRATA_GCS_BUCKET", c.GCS.Bucket)
		require("STRATA_GCS_ENDPOINT", c.GCS.Endpoint)
	case StorageGCP:
		require("STRATA_BIGTABLE_PROJECT", c.Bigtable.Project)
		require("STRATA_BIGTABLE_INSTANCE", c.Bigtable.Instance)
		require("STRATA_GCS_BUCKET", c.GCS.Bucket)
		forbid("STRATA_BIGTABLE_EMULATOR")
	}
	for _, p := range []struct {
		aud, sa string
		inv     Invoker
	}{{"STRATA_PUSH_AUDIENCE", "STRATA_PUSH_SERVICE_ACCOUNT", c.Push}, {"STRATA_SCHEDULER_AUDIENCE", "STRATA_SCHEDULER_SERVICE_ACCOUNT", c.Scheduler}} {
		switch {
		case c.InvokerAuth == InvokerAuthNone && !p.inv.IsZero():
			errs = append(errs, fmt.Errorf("STRATA_INVOKER_AUTH: none, but %s and %s are set: choose one", p.aud, p.sa))
		case p.inv.Audience == "" && p.inv.ServiceAccount != "":
			errs = append(errs, fmt.Errorf("%s: required with %s", p.aud, p.sa))
		case p.inv.Audience != "" && p.inv.ServiceAccount == "":
			errs = append(errs, fmt.Errorf("%s: required with %s", p.sa, p.aud))
		}
	}
	if c.Telemetry.Exporter == TelemetryGoogle && c.Bigtable.Project == "" {
		errs = append(errs, errors.New("STRATA_TELEMETRY: google needs the project (STRATA_BIGTABLE_PROJECT)"))
	}
	if c.Bigtable.Table != "" && c.Bigtable.Table == c.Bigtable.ChangeLogTable {
		errs = append(errs, errors.New("STRATA_BIGTABLE_CHANGELOG_TABLE: must differ from STRATA_BIGTABLE_TABLE"))
	}
	if c.MemoryLimit > 0 {
		if err := c.checkMemory(c.model(c.MemoryLimit)); err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

// model is the memory model for an instance of limit bytes. Only the GCS writer buffers a
// chunk per upload; the local backend streams a large upload to its file, so there a large
// upload holds only the routing peek.
func (c *Config) model(limit int64) admission.Memory {
	chunk := c.GCS.ChunkSize
	if c.Storage == StorageLocal {
		chunk = 0
	}
	return admission.Memory{
		Limit: limit, Reserve: c.MemoryReserve, Concurrency: c.RequestConcurrency,
		SmallPeak: admission.DefaultSmallRequestPeak, Chunk: chunk, Peek: tiered.Threshold + 1,
	}
}

// checkMemory refuses a model that admits no large upload, unless STRATA_STREAM_SLOTS
// overrides it.
func (c *Config) checkMemory(m admission.Memory) error {
	if c.StreamSlots > 0 || m.StreamSlots() > 0 {
		return nil
	}
	return fmt.Errorf("STRATA_MEMORY_LIMIT: leaves no room for a single large upload (%v): raise the memory, "+
		"or lower STRATA_REQUEST_CONCURRENCY, STRATA_MEMORY_RESERVE or STRATA_GCS_CHUNK_SIZE", m)
}

// Memory returns the instance's memory model, where its limit came from
// (MemoryFromSetting, a cgroup file's path, or MemoryFromDefault), the payload budget
// (STRATA_MEMORY_BUDGET, else memory_limit − baseline_reserve) and the number of large
// uploads admitted at once (STRATA_STREAM_SLOTS, else the model's slots). With
// STRATA_MEMORY_LIMIT unset it reads the cgroup limit through readFile (os.ReadFile in
// production). It fails when the model admits no large upload.
func (c *Config) Memory(readFile func(string) ([]byte, error)) (m admission.Memory, from string, budget int64, slots int, err error) {
	limit, from := c.MemoryLimit, MemoryFromSetting
	if limit == 0 {
		limit, from = DefaultMemoryLimit, MemoryFromDefault
		for _, path := range cgroupMemoryFiles {
			if n, ok := readCgroupLimit(readFile, path); ok {
				limit, from = n, path
				break
			}
		}
	}
	m = c.model(limit)
	if err := c.checkMemory(m); err != nil {
		return m, from, 0, 0, fmt.Errorf("configuration: memory limit from %s: %w", from, err)
	}
	budget, slots = cmp.Or(c.MemoryBudget, m.Budget()), cmp.Or(c.StreamSlots, m.StreamSlots())
	return m, from, budget, slots, nil
}

// readCgroupLimit reads a cgroup memory limit file; ok is false when the file is missing,
// malformed or states no limit.
func readCgroupLimit(readFile func(string) ([]byte, error), path string) (int64, bool) {
	b, err := readFile(path)
	if err != nil {
		return 0, false
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil || n <= 0 || n >= 1<<62 {
		return 0, false
	}
	return n, true
}

// setDuration parses a positive duration into the field f selects.
func setDuration(f func(*Config) *time.Duration) func(*Config, string) error {
	return func(c *Config, v string) error {
		d, err := time.ParseDuration(v)
		if err != nil {
			return err
		}
		if d <= 0 {
			return errors.New("must be positive")
		}
		*f(c) = d
		return nil
	}
}

// CheckFunction validates what one deployed function needs beyond Load's checks: a private
// function (cleanup, recover) needs its caller's OIDC identity unless STRATA_INVOKER_AUTH
// is none. The functions package calls it at start-up with FUNCTION_TARGET.
func (c *Config) CheckFunction(function string) error {
	if c.InvokerAuth == InvokerAuthNone {
		return nil
	}
	var inv Invoker
	var names string
	switch function {
	case "cleanup":
		inv, names = c.Push, "STRATA_PUSH_AUDIENCE and STRATA_PUSH_SERVICE_ACCOUNT"
	case "recover":
		inv, names = c.Scheduler, "STRATA_SCHEDULER_AUDIENCE and STRATA_SCHEDULER_SERVICE_ACCOUNT"
	default:
		return nil
	}
	if inv.Audience == "" || inv.ServiceAccount == "" {
		return fmt.Errorf("configuration: %s: required for the %s function with STRATA_INVOKER_AUTH=oidc (the default); "+
			"set STRATA_INVOKER_AUTH=none only for the emulator topology", names, function)
	}
	return nil
}
