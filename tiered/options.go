package tiered

import (
	"log/slog"
	"time"
)

// Threshold is the routing threshold: a payload of at most Threshold bytes (exactly 1 MiB
// included) is stored inline in the high-volume tier; anything larger goes to long-term.
const Threshold = 1 << 20

// MultipartCompleteCleanupDelay is how long a failed multipart complete stays retryable: its
// change-log entry, and with it the assembled revision, is left alone for this long before
// recovery may delete an unreferenced revision.
const MultipartCompleteCleanupDelay = 24 * time.Hour

// Defaults for Options.
const (
	DefaultGracePeriod       = 30 * time.Second
	DefaultHeartbeatInterval = 10 * time.Second
	DefaultStaleAfter        = 3 * DefaultHeartbeatInterval
	DefaultCleanupWorkers    = 4
	DefaultCleanupAttempts   = 8
	DefaultDispatchTimeout   = 10 * time.Second
)

// Options configures a Store. A nil *Options means every default.
type Options struct {
	// Dispatcher carries cleanup tasks from commit points to Store.Cleanup. Nil means an
	// in-process Worker owned by the Store and drained by Close.
	Dispatcher Dispatcher
	// GracePeriod delays the deletion of revisions that may have been readable, so that
	// readers already streaming them can finish. Zero means DefaultGracePeriod; a negative
	// value means no delay (unit tests).
	GracePeriod time.Duration
	// HeartbeatInterval is how often an in-flight change renews its change-log lease.
	// Zero means DefaultHeartbeatInterval.
	HeartbeatInterval time.Duration
	// StaleAfter is how long a lease may go unrenewed before recovery may claim the entry.
	// Zero means three heartbeat intervals.
	StaleAfter time.Duration
	// CleanupWorkers and CleanupAttempts size the default in-process Worker.
	CleanupWorkers  int
	CleanupAttempts int
	// Now is the clock. Nil means time.Now.
	Now func() time.Time
	// Logger receives warnings about cleanup and leases. Nil means slog.Default().
	Logger *slog.Logger
}

func (o *Options) withDefaults() Options {
	var r Options
	if o != nil {
		r = *o
	}
	switch {
	case r.GracePeriod == 0:
		r.GracePeriod = DefaultGracePeriod
	case r.GracePeriod < 0:
		r.GracePeriod = 0
	}
	if r.HeartbeatInterval <= 0 {
		r.HeartbeatInterval = DefaultHeartbeatInterval
	}
	if r.StaleAfter <= 0 {
		r.StaleAfter = 3 * r.HeartbeatInterval
	}
	if r.CleanupWorkers <= 0 {
		r.CleanupWorkers = DefaultCleanupWorkers
	}
	if r.CleanupAttempts <= 0 {
		r.CleanupAttempts = DefaultCleanupAttempts
	}
	if r.Now == nil {
		r.Now = time.Now
	}
	if r.Logger == nil {
		r.Logger = slog.Default()
	}
	return r
}
