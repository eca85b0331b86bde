package tiered

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/google/uuid"
	"github.com/stratastore/strata/tiered/object"
)

// Threshold is the default routing threshold: a payload of at most Threshold bytes (exactly
// 1 MiB included) is stored inline in the high-volume tier; anything larger goes to long-term.
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
	DefaultMaxClockSkew      = 2 * time.Second
	DefaultLongTermSettle    = 15 * time.Minute
	DefaultCleanupWorkers    = 4
	DefaultCleanupAttempts   = 8
	DefaultDispatchTimeout   = 10 * time.Second
)

// Clock is the Store's source of time: the wall clock, and timers for heartbeats. Tests and
// the simulator replace it to run the protocol in virtual time.
type Clock interface {
	Now() time.Time
	// AfterFunc calls f in its own goroutine once d has passed, unless stop is called first;
	// stop reports whether it prevented the call.
	AfterFunc(d time.Duration, f func()) (stop func() bool)
}

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
	// Zero means three heartbeat intervals. It must exceed HeartbeatInterval + 2×MaxClockSkew.
	StaleAfter time.Duration
	// MaxClockSkew bounds how far the clocks of any two processes (and of the backends) may
	// disagree. Commit deadlines end 2×MaxClockSkew before a lease can be claimed. Zero means
	// DefaultMaxClockSkew; a negative value means perfectly synchronised clocks (tests).
	MaxClockSkew time.Duration
	// LongTermSettle bounds how long a long-term write (an upload or a multipart assembly)
	// whose writer lost its lease may still land. Recovery waits this long before it settles
	// such a change and deletes its revision. Zero means DefaultLongTermSettle; negative: none.
	LongTermSettle time.Duration
	// Threshold is the routing threshold in bytes. Zero means Threshold (1 MiB); a smaller
	// one makes large-object paths cheap in simulation.
	Threshold int
	// CleanupWorkers and CleanupAttempts size the default in-process Worker.
	CleanupWorkers  int
	CleanupAttempts int
	// Now is the clock. Nil means time.Now. Clock, when set, takes precedence.
	Now func() time.Time
	// Clock supplies time and heartbeat timers. Nil means the real clock (with Now, if set).
	Clock Clock
	// NewUUID generates revision and change ids. Nil means uuid.NewV7.
	NewUUID func() uuid.UUID
	// Logger receives warnings about cleanup and leases. Nil means slog.Default().
	Logger *slog.Logger
	// Observer is told of cleanup's work, for metrics. Nil means nobody.
	Observer Observer
	// Instance names this process in the recovery-run record (driver.RunLog), with the
	// Store's lease token. Empty means "{hostname}/{pid}".
	Instance string
}

// Observer is told of the Store's cleanup work, for metrics; *observe.Metrics is one. Its
// methods must be cheap and safe for concurrent use.
type Observer interface {
	// CleanupDeleted: cleanup deleted a long-term revision ("revision") or aborted a
	// multipart upload ("upload").
	CleanupDeleted(ctx context.Context, kind string)
	// CleanupRetried: a task of the in-process Worker failed and will run again.
	CleanupRetried(ctx context.Context)
	// CleanupGaveUp: a task of the in-process Worker failed its last attempt; its entry
	// stays for recovery.
	CleanupGaveUp(ctx context.Context)
}

// nopObserver observes nothing.
type nopObserver struct{}

func (nopObserver) CleanupDeleted(context.Context, string) {}
func (nopObserver) CleanupRetried(context.Context)         {}
func (nopObserver) CleanupGaveUp(context.Context)          {}

func (o *Options) withDefaults() (Options, error) {
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
	switch {
	case r.MaxClockSkew == 0:
		r.MaxClockSkew = DefaultMaxClockSkew
	case r.MaxClockSkew < 0:
		r.MaxClockSkew = 0
	}
	switch {
	case r.LongTermSettle == 0:
		r.LongTermSettle = DefaultLongTermSettle
	case r.LongTermSettle < 0:
		r.LongTermSettle = 0
	}
	if r.StaleAfter <= 0 {
		r.StaleAfter = max(3*r.HeartbeatInterval, r.HeartbeatInterval+3*r.MaxClockSkew)
	}
	if r.StaleAfter <= r.HeartbeatInterval+2*r.MaxClockSkew {
		return r, fmt.Errorf("%w: StaleAfter %s must exceed HeartbeatInterval %s + 2×MaxClockSkew %s",
			object.ErrInvalidArgument, r.StaleAfter, r.HeartbeatInterval, r.MaxClockSkew)
	}
	if r.Threshold <= 0 {
		r.Threshold = Threshold
	}
	if r.CleanupWorkers <= 0 {
		r.CleanupWorkers = DefaultCleanupWorkers
	}
	if r.CleanupAttempts <= 0 {
		r.CleanupAttempts = DefaultCleanupAttempts
	}
	if r.Clock == nil {
		r.Clock = realClock{now: r.Now}
	}
	r.Now = r.Clock.Now
	if r.NewUUID == nil {
		r.NewUUID = func() uuid.UUID { return uuid.Must(uuid.NewV7()) }
	}
	if r.Logger == nil {
		r.Logger = slog.Default()
	}
	if r.Observer == nil {
		r.Observer = nopObserver{}
	}
	if r.Instance == "" {
		host, _ := os.Hostname()
		r.Instance = fmt.Sprintf("%s/%d", cmp.Or(host, "unknown-host"), os.Getpid())
	}
	return r, nil
}

// realClock is time.Now (or a given Now) with time.AfterFunc timers.
type realClock struct{ now func() time.Time }

func (c realClock) Now() time.Time {
	if c.now != nil {
		return c.now()
	}
	return time.Now()
}

func (realClock) AfterFunc(d time.Duration, f func()) func() bool { return time.AfterFunc(d, f).Stop }
