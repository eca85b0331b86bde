package tiered

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"
)

// ErrClosed is returned by a Worker that no longer accepts tasks.
var ErrClosed = errors.New("dispatcher closed")

// Worker is the in-process Dispatcher: a pool of goroutines that run cleanup tasks with
// retries. It is what `make run` uses; in production Pub/Sub takes its place. A task that is
// not due yet (ErrNotDue) waits on a timer without holding a goroutine, and runs again when
// due; Close waits for it too, until its context ends. Tasks that still fail after the last
// attempt, and tasks abandoned when Close's context ends, are dropped with a log line: their
// change-log entries stay, and recovery retries them later.
type Worker struct {
	run      func(context.Context, CleanupTask) error
	attempts int
	log      *slog.Logger
	observer Observer

	mu       sync.Mutex
	cond     *sync.Cond
	queue    []CleanupTask
	closed   bool
	deferred map[*time.Timer]struct{}

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// NewWorker starts workers goroutines that run each dispatched task with run, trying each
// up to attempts times with exponential backoff.
func NewWorker(run func(context.Context, CleanupTask) error, workers, attempts int, log *slog.Logger) *Worker {
	w := &Worker{run: run, attempts: max(attempts, 1), log: log, observer: nopObserver{}, deferred: map[*time.Timer]struct{}{}}
	w.cond = sync.NewCond(&w.mu)
	w.ctx, w.cancel = context.WithCancel(context.Background())
	for range max(workers, 1) {
		w.wg.Add(1)
		go w.loop()
	}
	return w
}

// Dispatch queues t. It fails with ErrClosed after Close.
func (w *Worker) Dispatch(ctx context.Context, t CleanupTask) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return ErrClosed
	}
	w.queue = append(w.queue, t)
	w.cond.Signal()
	return nil
}

// Close stops accepting tasks and waits for the queued and deferred ones to finish. If ctx
// ends first, the remaining tasks are abandoned (their entries stay for recovery) and ctx's
// error is returned.
func (w *Worker) Close(ctx context.Context) error {
	w.mu.Lock()
	w.closed = true
	w.cond.Broadcast()
	w.mu.Unlock()
	done := make(chan struct{})
	go func() { w.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		w.mu.Lock()
		for t := range w.deferred {
			t.Stop()
		}
		clear(w.deferred)
		w.cond.Broadcast()
		w.mu.Unlock()
		w.cancel()
		<-done
		return ctx.Err()
	}
}

func (w *Worker) loop() {
	defer w.wg.Done()
	for {
		w.mu.Lock()
		for len(w.queue) == 0 && (!w.closed || len(w.deferred) > 0) {
			w.cond.Wait()
		}
		if len(w.queue) == 0 {
			w.mu.Unlock()
			return
		}
		t := w.queue[0]
		w.queue = w.queue[1:]
		w.mu.Unlock()

		w.runWithRetry(t)
	}
}

func (w *Worker) runWithRetry(t CleanupTask) {
	backoff := 100 * time.Millisecond
	for attempt := 1; ; attempt++ {
		err := w.run(w.ctx, t)
		if err == nil {
			return
		}
		if nd := (*NotDueError)(nil); errors.As(err, &nd) {
			w.deferFor(t, nd.Wait)
			return
		}
		if attempt >= w.attempts || w.ctx.Err() != nil {
			w.observer.CleanupGaveUp(w.ctx)
			w.log.Error("cleanup failed; leaving the change for recovery",
				"change", t.ChangeID, "object", t.Object, "attempts", attempt, "err", err)
			return
		}
		w.observer.CleanupRetried(w.ctx)
		w.log.Warn("cleanup failed; retrying", "change", t.ChangeID, "attempt", attempt, "err", err)
		sleep := backoff/2 + rand.N(backoff/2+1)
		select {
		case <-time.After(sleep):
		case <-w.ctx.Done():
		}
		backoff = min(backoff*3/2, 30*time.Second)
	}
}

// deferFor queues t again once d has passed (plus a little slack).
func (w *Worker) deferFor(t CleanupTask, d time.Duration) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.ctx.Err() != nil {
		return
	}
	var timer *time.Timer
	timer = time.AfterFunc(d+5*time.Millisecond, func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		if _, ok := w.deferred[timer]; !ok {
			return
		}
		delete(w.deferred, timer)
		w.queue = append(w.queue, t)
		w.cond.Broadcast() // idle loops may be waiting only for the deferred tasks to end
	})
	w.deferred[timer] = struct{}{}
}
