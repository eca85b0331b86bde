package backendtest

import (
	"context"
	"errors"
	"io"
	"sync"
	"time"

	"github.com/stratastore/strata/tiered/object"
)

// Operation names used by Hooks and Counts. Each is the driver method's name.
const (
	OpPutNonTombstone    = "PutNonTombstone"
	OpGetTiered          = "GetTiered"
	OpGetTieredMetadata  = "GetTieredMetadata"
	OpDeleteNonTombstone = "DeleteNonTombstone"
	OpCompareAndWrite    = "CompareAndWrite"

	OpPut      = "Put"
	OpGet      = "Get"
	OpHead     = "Head"
	OpDelete   = "Delete"
	OpInitiate = "InitiateMultipart"
	OpUpload   = "UploadPart"
	OpList     = "ListParts"
	OpComplete = "CompleteMultipart"
	OpAbort    = "AbortMultipart"

	OpRecord     = "Record"
	OpGetEntry   = "GetEntry" // ChangeLog.Get; named apart from LongTerm's Get
	OpUpdate     = "Update"
	OpRefresh    = "Refresh"
	OpRemove     = "Remove"
	OpClaimStale = "ClaimStale"
	OpScan       = "Scan"
	OpRecordRun  = "RecordRun"
	OpLastRun    = "LastRun"
)

// ErrInjected is the error the helper hooks inject.
var ErrInjected = errors.New("injected fault")

// Call describes one intercepted backend call.
type Call struct {
	Op string
	// N counts calls of Op through this wrapper, starting at 1.
	N int
	// ID is the object the call is about (zero for change-log calls).
	ID object.ID
	// Body is the payload reader of Put and UploadPart; a hook may replace it.
	Body io.Reader
}

// Hook intercepts a backend call. next performs the real call on the inner backend and
// returns its error. A hook may fail before (return an error without calling next), fail
// after (call next, then return an error: a lost response), delay, or skip the call.
//
// For CompareAndWrite, a hook that returns ErrLostRace without calling next makes the wrapper
// report (false, nil): a lost compare-and-swap.
type Hook func(ctx context.Context, c *Call, next func() error) error

// ErrLostRace, returned by a hook for CompareAndWrite, reports a lost race: (false, nil).
var ErrLostRace = errors.New("backendtest: lost race")

// Hooks holds the interceptors of one wrapper and counts calls. The zero value forwards
// everything. It is safe for concurrent use.
type Hooks struct {
	mu     sync.Mutex
	counts map[string]int
	hooks  []Hook
}

// Add installs h after the hooks already present. Hooks run outermost first.
func (h *Hooks) Add(hook Hook) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.hooks = append(h.hooks, hook)
}

// Reset removes every hook and zeroes the counts.
func (h *Hooks) Reset() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.hooks = nil
	h.counts = nil
}

// Count returns how many times op was called.
func (h *Hooks) Count(op string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.counts[op]
}

// Total returns the number of calls of every op.
func (h *Hooks) Total() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, c := range h.counts {
		n += c
	}
	return n
}

// Counts returns a copy of the per-op counts.
func (h *Hooks) Counts() map[string]int {
	h.mu.Lock()
	defer h.mu.Unlock()
	m := make(map[string]int, len(h.counts))
	for k, v := range h.counts {
		m[k] = v
	}
	return m
}

func (h *Hooks) run(ctx context.Context, c *Call, call func() error) error {
	h.mu.Lock()
	if h.counts == nil {
		h.counts = map[string]int{}
	}
	h.counts[c.Op]++
	c.N = h.counts[c.Op]
	hooks := h.hooks
	h.mu.Unlock()
	next := call
	for i := len(hooks) - 1; i >= 0; i-- {
		hook, inner := hooks[i], next
		next = func() error { return hook(ctx, c, inner) }
	}
	return next()
}

// FailOn fails the n-th call of op (n <= 0: every call) before it reaches the backend.
func FailOn(op string, n int) Hook {
	return func(ctx context.Context, c *Call, next func() error) error {
		if c.Op == op && (n <= 0 || c.N == n) {
			return ErrInjected
		}
		return next()
	}
}

// FailAfter lets the n-th call of op (n <= 0: every call) reach the backend, then reports
// ErrInjected as if the response had been lost.
func FailAfter(op string, n int) Hook {
	return func(ctx context.Context, c *Call, next func() error) error {
		err := next()
		if c.Op == op && (n <= 0 || c.N == n) {
			return errors.Join(ErrInjected, err)
		}
		return err
	}
}

// LoseRace makes the n-th CompareAndWrite (n <= 0: every one) report a lost race without
// touching the backend.
func LoseRace(n int) Hook {
	return func(ctx context.Context, c *Call, next func() error) error {
		if c.Op == OpCompareAndWrite && (n <= 0 || c.N == n) {
			return ErrLostRace
		}
		return next()
	}
}

// Match returns a hook that runs fn around every call of op; fn decides what happens.
func Match(op string, fn Hook) Hook {
	return func(ctx context.Context, c *Call, next func() error) error {
		if c.Op != op {
			return next()
		}
		return fn(ctx, c, next)
	}
}

// Gate pauses calls of op after they reached the backend, until released.
type Gate struct {
	// Reached receives one value each time a paused call has completed on the backend.
	Reached chan struct{}
	release chan struct{}
	once    sync.Once
}

// NewGate returns a closed-until-released gate.
func NewGate() *Gate {
	return &Gate{Reached: make(chan struct{}, 16), release: make(chan struct{})}
}

// Release lets every paused and future call proceed.
func (g *Gate) Release() { g.once.Do(func() { close(g.release) }) }

// After returns a hook that performs calls of op, signals Reached, then waits for Release or
// for the call's context to end (returning its error).
func (g *Gate) After(op string) Hook {
	return Match(op, func(ctx context.Context, c *Call, next func() error) error {
		if err := next(); err != nil {
			return err
		}
		g.Reached <- struct{}{}
		select {
		case <-g.release:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	})
}

// Delay returns a hook that sleeps d before calls of op.
func Delay(op string, d time.Duration) Hook {
	return Match(op, func(ctx context.Context, c *Call, next func() error) error {
		select {
		case <-time.After(d):
		case <-ctx.Done():
			return ctx.Err()
		}
		return next()
	})
}
