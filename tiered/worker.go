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
// retries. It is what `make run` uses; in production Pub/Sub takes its place. Tasks that
// still fail after the last attempt are dropped with a log line: their change-log entries
// stay, and recovery retries them later.
type Worker struct {
	run      func(context.Context, CleanupTask) error
	attempts int
	log      *slog.Logger

	mu     sync.Mutex
	cond   *sync.Cond
	queue  []CleanupTask
	closed bool

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// NewWorker starts workers goroutines that run each dispatched task with run, trying each
// up to attempts times with exponential backoff.
func NewWorker(run func(context.Context, CleanupTask) error, workers, attempts int, log *slog.Logger) *Worker {
	w := &Worker{run: run, attempts: max(attempts, 1), log: log}
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

// Close stops accepting tasks and waits for the queued ones to finish. If ctx ends first,
// the remaining tasks are abandoned (their entries stay for recovery) and ctx's error is
// returned.
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
		w.cancel()
		<-done
		return ctx.Err()
	}
}

func (w *Worker) loop() {
	defer w.wg.Done()
	for {
		w.mu.Lock()
		for len(w.queue) == 0 && !w.closed {
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
		if attempt >= w.attempts || w.ctx.Err() != nil {
			w.log.Error("cleanup failed; leaving the change for recovery",
				"change", t.ChangeID, "object", t.Change.ID.StoragePath(), "attempts", attempt, "err", err)
			return
		}
		w.log.Warn("cleanup failed; retrying", "change", t.ChangeID, "attempt", attempt, "err", err)
		sleep := backoff/2 + rand.N(backoff/2+1)
		select {
		case <-time.After(sleep):
		case <-w.ctx.Done():
		}
		backoff = min(backoff*3/2, 30*time.Second)
	}
}
