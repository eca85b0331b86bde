// Package cleanup carries Strata's cleanup tasks across processes: a tiered.Dispatcher that
// publishes them to Pub/Sub, the push handler of the `cleanup` function that runs them, and
// the handler of the `recover` function that Cloud Scheduler invokes.
//
// A request's cleanup task is published after its commit point and the publish is awaited
// before the request responds: a Cloud Run function gets no CPU after its response, so no
// work may be left in a goroutine. If the publish fails, the change-log entry stays and
// recovery dispatches it later. The push subscription redelivers a task until the cleanup
// function acknowledges it (2xx); tasks are idempotent, so redelivery is harmless, and a task
// that keeps failing ends in the dead-letter topic.
package cleanup

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"cloud.google.com/go/pubsub/v2"

	"github.com/stratastore/strata/tiered"
	"github.com/stratastore/strata/tiered/object"
	"github.com/stratastore/strata/tiered/observe"
)

// Publisher is the part of *pubsub.Publisher the dispatcher needs.
type Publisher interface {
	Publish(ctx context.Context, msg *pubsub.Message) *pubsub.PublishResult
	Stop()
}

// Dispatcher publishes cleanup tasks as JSON messages. It implements tiered.Dispatcher.
type Dispatcher struct {
	pub Publisher
}

var _ tiered.Dispatcher = (*Dispatcher)(nil)

// NewDispatcher returns a Dispatcher publishing through p. Configure p with a short
// DelayThreshold: the request path waits for each publish.
func NewDispatcher(p Publisher) *Dispatcher { return &Dispatcher{pub: p} }

// NewPublisher returns a publisher for topic tuned for the request path: small bundles
// flushed after at most 2 ms, so that concurrent requests share a publish RPC without
// waiting long for it.
func NewPublisher(c *pubsub.Client, topic string) *pubsub.Publisher {
	p := c.Publisher(topic)
	p.PublishSettings.DelayThreshold = 2 * time.Millisecond
	p.PublishSettings.CountThreshold = 100
	return p
}

// AttrChangeID is a message attribute copied from the task, for filtering and for reading
// dead letters without decoding the body.
const AttrChangeID = "change_id"

// Dispatch publishes t and waits until Pub/Sub has accepted it.
func (d *Dispatcher) Dispatch(ctx context.Context, t tiered.CleanupTask) error {
	b, err := json.Marshal(t)
	if err != nil {
		return err
	}
	res := d.pub.Publish(ctx, &pubsub.Message{
		Data:       b,
		Attributes: map[string]string{AttrChangeID: string(t.ChangeID)},
	})
	if _, err := res.Get(ctx); err != nil {
		return fmt.Errorf("publish cleanup task: %w", err)
	}
	return nil
}

// Close flushes and stops the publisher.
func (d *Dispatcher) Close(ctx context.Context) error {
	done := make(chan struct{})
	go func() { d.pub.Stop(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// PushEnvelope is the body of a Pub/Sub push request (the wrapped form).
type PushEnvelope struct {
	Message struct {
		Data        []byte            `json:"data"`
		Attributes  map[string]string `json:"attributes"`
		MessageID   string            `json:"messageId"`
		PublishTime time.Time         `json:"publishTime"`
	} `json:"message"`
	Subscription string `json:"subscription"`
	// DeliveryAttempt is set when the subscription has a dead-letter policy.
	DeliveryAttempt int `json:"deliveryAttempt"`
}

// maxPushBody bounds a push request; a task is a few hundred bytes.
const maxPushBody = 64 << 10

// Runner runs one cleanup task; *tiered.Store is one.
type Runner interface {
	Cleanup(ctx context.Context, t tiered.CleanupTask) error
}

// PushHandler returns the `cleanup` function's handler. It acknowledges (204) a task it ran,
// asks for redelivery (500) when the task failed, and answers 429 with Retry-After when the
// task's entry is not due yet (a grace period): the function never sleeps it out, Pub/Sub
// redelivers with backoff, and if it gives up, recovery dispatches the entry once it is due. A message that is not a task at all
// gets 400: it will never succeed, and after the subscription's maximum delivery attempts it
// lands in the dead-letter topic for a human to look at.
//
// A failed task is counted as a retry (strata.cleanup.retries), or, on the subscription's
// last delivery attempt (o.MaxDeliveries), as dead-lettered (strata.cleanup.dead_letters).
func PushHandler(r Runner, log *slog.Logger, o PushObserver) http.HandlerFunc {
	return func(w http.ResponseWriter, req *http.Request) {
		if req.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		body, err := io.ReadAll(io.LimitReader(req.Body, maxPushBody+1))
		if err != nil {
			http.Error(w, "reading body: "+err.Error(), http.StatusBadRequest)
			return
		}
		if len(body) > maxPushBody {
			http.Error(w, "push body too large", http.StatusRequestEntityTooLarge)
			return
		}
		var env PushEnvelope
		if err := json.Unmarshal(body, &env); err != nil {
			log.Error("cleanup: malformed push envelope", "err", err)
			http.Error(w, "malformed push envelope", http.StatusBadRequest)
			return
		}
		var t tiered.CleanupTask
		if err := json.Unmarshal(env.Message.Data, &t); err != nil {
			log.Error("cleanup: message is not a cleanup task", "message_id", env.Message.MessageID, "err", err)
			http.Error(w, "message is not a cleanup task: "+err.Error(), http.StatusBadRequest)
			return
		}
		start := time.Now()
		if err := r.Cleanup(req.Context(), t); err != nil {
			if nd := (*tiered.NotDueError)(nil); errors.As(err, &nd) {
				w.Header().Set("Retry-After", strconv.Itoa(int(max(1, nd.Wait.Round(time.Second)/time.Second))))
				http.Error(w, "cleanup not due yet", http.StatusTooManyRequests)
				return
			}
			status := http.StatusInternalServerError
			if errors.Is(err, object.ErrInvalidArgument) {
				status = http.StatusBadRequest
			}
			if o.MaxDeliveries > 0 && env.DeliveryAttempt >= o.MaxDeliveries {
				o.Metrics.CleanupGaveUp(req.Context())
				log.Error("cleanup failed its last delivery attempt; the task goes to the dead-letter topic and recovery settles its entry",
					"change", t.ChangeID, "object", t.Object, "attempt", env.DeliveryAttempt, "err", err)
			} else {
				o.Metrics.CleanupRetried(req.Context())
				log.Warn("cleanup failed; Pub/Sub will redeliver", "change", t.ChangeID,
					"object", t.Object, "attempt", env.DeliveryAttempt, "err", err)
			}
			http.Error(w, "cleanup failed", status)
			return
		}
		log.Info("cleanup done", "change", t.ChangeID, "object", t.Object,
			"message_id", env.Message.MessageID, "latency_ms", time.Since(start).Milliseconds())
		w.WriteHeader(http.StatusNoContent)
	}
}

// PushObserver is what PushHandler records failed tasks with.
type PushObserver struct {
	// Metrics receives the retries and dead letters; nil records nothing.
	Metrics *observe.Metrics
	// MaxDeliveries is the subscription's maximum delivery attempts; zero means unknown (every
	// failure counts as a retry).
	MaxDeliveries int
}

// Recoverer runs one bounded recovery pass; *tiered.Store is one.
type Recoverer interface {
	Recover(ctx context.Context, limit int) (tiered.RecoverReport, error)
}

// RecoverHandler returns the `recover` function's handler: one bounded pass that claims stale
// change-log entries and dispatches their cleanup. It answers with the report as JSON; a
// partial failure is 500 with the report, so that Scheduler records the failed run.
func RecoverHandler(r Recoverer, limit int, log *slog.Logger) http.HandlerFunc {
	return func(w http.ResponseWriter, req *http.Request) {
		if req.Method != http.MethodPost && req.Method != http.MethodGet {
			w.Header().Set("Allow", "GET, POST")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		start := time.Now()
		rep, err := r.Recover(req.Context(), limit)
		out := struct {
			tiered.RecoverReport
			Error     string `json:"error,omitempty"`
			LatencyMS int64  `json:"latency_ms"`
		}{RecoverReport: rep, LatencyMS: time.Since(start).Milliseconds()}
		status := http.StatusOK
		if err != nil {
			out.Error = err.Error()
			status = http.StatusInternalServerError
			log.Error("recovery pass failed", "claimed", rep.Claimed, "dispatched", rep.Dispatched, "failed", rep.Failed, "err", err)
		} else {
			log.Info("recovery pass", "claimed", rep.Claimed, "dispatched", rep.Dispatched, "latency_ms", out.LatencyMS)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(out)
	}
}

// Observed is a Recoverer that records every run: strata.recovery.* after the pass, then the
// fleet-wide change-log gauges, then an export. The recover function (and the local server's
// recovery timer) runs through it, so the fleet-wide gauges come from one place on a
// schedule, not from every instance.
type Observed struct {
	Recoverer
	Metrics *observe.Metrics
	// Backlog, when set, measures the change log after the pass: entries by phase name and
	// the age of the oldest.
	Backlog func(ctx context.Context) (byPhase map[string]int, oldest time.Duration, err error)
	// Flush, when set, exports at once: the recover function's instance may lose its CPU as
	// soon as it answers.
	Flush func(ctx context.Context) error
	Log   *slog.Logger
}

// Recover runs the pass and records it.
func (o Observed) Recover(ctx context.Context, limit int) (tiered.RecoverReport, error) {
	rep, err := o.Recoverer.Recover(ctx, limit)
	o.Metrics.RecoveryRun(ctx, err, rep.Claimed, rep.Failed)
	if o.Backlog != nil {
		if byPhase, oldest, berr := o.Backlog(ctx); berr != nil {
			o.logger().Warn("recovery: measuring the change-log backlog failed", "err", berr)
		} else {
			o.Metrics.ChangeLogBacklog(ctx, byPhase, oldest)
		}
	}
	if o.Flush != nil {
		if ferr := o.Flush(ctx); ferr != nil {
			o.logger().Warn("recovery: exporting telemetry failed; the next export carries the totals", "err", ferr)
		}
	}
	return rep, err
}

func (o Observed) logger() *slog.Logger {
	if o.Log == nil {
		return slog.Default()
	}
	return o.Log
}
