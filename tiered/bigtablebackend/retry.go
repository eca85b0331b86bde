package bigtablebackend

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/stratastore/strata/tiered/object"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// retryable reports whether a failed attempt is worth repeating. Every RPC this package sends
// is safe to repeat (CheckAndMutateRow predicates are built to match again after their own
// write; see filters.go), so the only question is whether the failure is transient. A retried
// failure may hide an applied write: a compare-and-write that then finds its predicate false
// reports its outcome as unknown (CompareAndWrite), never as a lost race.
//
//   - Unavailable, Aborted: the classic transient codes.
//   - DeadlineExceeded: only the attempt's own timeout (the caller's context is checked
//     separately and never retried).
//   - Internal, Unknown: Bigtable returns these for RST_STREAM, connection resets and
//     server-side hiccups; objectstore retries them too.
//
// Not retried: ResourceExhausted (quota or a message over the size limit; hammering it does
// not help, and the caller sees ErrUnavailable or ErrTooLarge), Canceled, InvalidArgument,
// NotFound (a missing table), PermissionDenied, Unauthenticated, FailedPrecondition.
func retryable(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	switch status.Code(err) {
	case codes.Unavailable, codes.Aborted, codes.DeadlineExceeded, codes.Internal, codes.Unknown:
		return true
	}
	return false
}

// Error is a Bigtable RPC failure translated at the driver boundary. It matches the driver
// sentinel in Kind (when there is one) as well as the original gRPC error.
type Error struct {
	// Op is the driver operation, RPC is the Bigtable method.
	Op, RPC string
	// Attempts is how many times the RPC was sent.
	Attempts int
	// Kind is the driver sentinel (ErrUnavailable, ErrInvalidArgument, ...) or nil.
	Kind error
	// Err is the last error from the client library.
	Err error
}

// Error describes the failure: operation, RPC, attempts, sentinel and cause.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("bigtable ")
	b.WriteString(e.Op)
	b.WriteString(" (")
	b.WriteString(e.RPC)
	if e.Attempts > 1 {
		fmt.Fprintf(&b, ", %d attempts", e.Attempts)
	}
	b.WriteString("): ")
	if e.Kind != nil {
		b.WriteString(e.Kind.Error())
		b.WriteString(": ")
	}
	b.WriteString(e.Err.Error())
	return b.String()
}

// Unwrap returns the sentinel and the client error, so errors.Is works for both.
func (e *Error) Unwrap() []error {
	if e.Kind == nil {
		return []error{e.Err}
	}
	return []error{e.Kind, e.Err}
}

// kindOf maps a client error to a driver sentinel.
func kindOf(err error) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return object.ErrUnavailable
	}
	switch status.Code(err) {
	case codes.InvalidArgument, codes.OutOfRange:
		return object.ErrInvalidArgument
	case codes.ResourceExhausted:
		if strings.Contains(err.Error(), "larger than max") {
			return object.ErrTooLarge
		}
		return object.ErrUnavailable
	case codes.Unavailable, codes.Aborted, codes.DeadlineExceeded, codes.Internal, codes.Unknown:
		return object.ErrUnavailable
	}
	return nil
}

// do runs one RPC with a per-attempt timeout and bounded retries with exponential backoff and
// jitter. It never retries once the caller's context is done, and then returns an error that
// wraps the context's error.
func (b *Backend) do(ctx context.Context, op, rpc string, fn func(ctx context.Context) error) error {
	return b.doAttempts(ctx, op, rpc, b.opts.MaxAttempts, time.Time{}, fn)
}

// doAttempts is do with an explicit attempt bound and an optional deadline by the backend's
// clock (Options.Now): when deadline is set, no attempt starts at or after it, each attempt's
// context ends by it (min(RPCTimeout, deadline - now)), so that gRPC deadline propagation
// makes the server drop an attempt still in flight at the deadline, and a backoff that would
// end after it returns at once. Reaching the deadline fails with an error matching
// object.ErrUnavailable.
func (b *Backend) doAttempts(ctx context.Context, op, rpc string, attempts int, deadline time.Time, fn func(ctx context.Context) error) error {
	backoff := b.opts.RetryBackoff
	var last error // the error of the previous attempt
	for attempt := 1; ; attempt++ {
		// The real clock is read before the backend's, so that with Options.Now = time.Now
		// the attempt's deadline is never later than the write deadline.
		start := time.Now()
		timeout := b.opts.RPCTimeout
		if !deadline.IsZero() {
			left := deadline.Sub(b.now())
			if left <= 0 {
				return pastDeadline(op, rpc, attempt-1, deadline, last)
			}
			timeout = min(timeout, left)
		}
		actx, cancel := context.WithDeadline(ctx, start.Add(timeout))
		err := fn(actx)
		cancel()
		if err == nil {
			return nil
		}
		if cerr := ctx.Err(); cerr != nil {
			return &Error{Op: op, RPC: rpc, Attempts: attempt, Kind: cerr, Err: err}
		}
		if attempt >= attempts || !retryable(err) {
			return &Error{Op: op, RPC: rpc, Attempts: attempt, Kind: kindOf(err), Err: err}
		}
		last = err
		// Equal jitter: half the backoff fixed, half random, so retries spread out but still
		// grow exponentially.
		d := backoff/2 + rand.N(backoff/2+1)
		if !deadline.IsZero() && !b.now().Add(d).Before(deadline) {
			return pastDeadline(op, rpc, attempt, deadline, err)
		}
		b.log.DebugContext(ctx, "bigtable retry", "op", op, "rpc", rpc, "attempt", attempt, "delay", d, "err", err)
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return &Error{Op: op, RPC: rpc, Attempts: attempt, Kind: ctx.Err(), Err: err}
		}
		backoff = min(backoff*2, maxRetryBackoff)
	}
}

// pastDeadline is the failure of a call whose deadline came before another attempt could
// start. sent attempts were made; last is the error of the latest one (nil if none was sent).
// Last is rendered, not wrapped, so that the error does not match context.DeadlineExceeded
// while the caller's context is still live.
func pastDeadline(op, rpc string, sent int, deadline time.Time, last error) error {
	err := fmt.Errorf("write deadline %s reached before an attempt could start", deadline.UTC().Format(time.RFC3339Nano))
	if last != nil {
		err = fmt.Errorf("%v; outcome unknown: attempt %d failed: %v", err, sent, last)
	}
	return &Error{Op: op, RPC: rpc, Attempts: sent, Kind: object.ErrUnavailable, Err: err}
}

// maxRetryBackoff caps the exponential backoff between attempts.
const maxRetryBackoff = 2 * time.Second
