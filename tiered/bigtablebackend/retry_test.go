package bigtablebackend

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/stratastore/strata/tiered/driver"
	"github.com/stratastore/strata/tiered/object"
)

// statusErr returns a gRPC status error with the named code.
func statusErr(code string) error {
	var c codes.Code
	if err := c.UnmarshalJSON([]byte(`"` + code + `"`)); err != nil {
		panic(err)
	}
	return status.Error(c, "injected "+code)
}

func TestRetryable_And_KindOf(t *testing.T) {
	for _, tc := range []struct {
		err       error
		retryable bool
		kind      error
	}{
		{statusErr("UNAVAILABLE"), true, object.ErrUnavailable},
		{statusErr("ABORTED"), true, object.ErrUnavailable},
		{statusErr("DEADLINE_EXCEEDED"), true, object.ErrUnavailable},
		{statusErr("INTERNAL"), true, object.ErrUnavailable},
		{statusErr("UNKNOWN"), true, object.ErrUnavailable},
		{context.DeadlineExceeded, true, object.ErrUnavailable},
		{statusErr("RESOURCE_EXHAUSTED"), false, object.ErrUnavailable},
		{status.Error(codes.ResourceExhausted, "grpc: received message larger than max (5 vs. 4)"), false, object.ErrTooLarge},
		{statusErr("INVALID_ARGUMENT"), false, object.ErrInvalidArgument},
		{statusErr("OUT_OF_RANGE"), false, object.ErrInvalidArgument},
		{statusErr("NOT_FOUND"), false, nil},
		{statusErr("PERMISSION_DENIED"), false, nil},
		{statusErr("UNAUTHENTICATED"), false, nil},
		{statusErr("FAILED_PRECONDITION"), false, nil},
		{statusErr("CANCELLED"), false, nil},
		{errors.New("plain"), true, object.ErrUnavailable}, // status.Code of a non-status error is Unknown
	} {
		if got := retryable(tc.err); got != tc.retryable {
			t.Errorf("retryable(%v) = %v, want %v", tc.err, got, tc.retryable)
		}
		if got := kindOf(tc.err); got != tc.kind {
			t.Errorf("kindOf(%v) = %v, want %v", tc.err, got, tc.kind)
		}
	}
}

func TestError_MatchesSentinelAndCause(t *testing.T) {
	cause := statusErr("UNAVAILABLE")
	err := error(&Error{Op: "PutNonTombstone", RPC: "CheckAndMutateRow", Attempts: 3, Kind: object.ErrUnavailable, Err: cause})
	if !errors.Is(err, object.ErrUnavailable) || !errors.Is(err, cause) {
		t.Errorf("%v does not match its sentinel and cause", err)
	}
	if status.Code(err) != codes.Unavailable {
		t.Errorf("status.Code(%v) = %v, want Unavailable", err, status.Code(err))
	}
	want := "bigtable PutNonTombstone (CheckAndMutateRow, 3 attempts): unavailable: rpc error: code = Unavailable desc = injected UNAVAILABLE"
	if err.Error() != want {
		t.Errorf("Error() = %q, want %q", err.Error(), want)
	}
}

// failN returns a fault that fails the first n calls of method with err.
func failN(method string, n int, err error) func(context.Context, string, int) error {
	return func(_ context.Context, m string, i int) error {
		if m == method && i <= n {
			return err
		}
		return nil
	}
}

func TestBackend_Retry(t *testing.T) {
	opts := Options{RPCTimeout: 300 * time.Millisecond, MaxAttempts: 3, RetryBackoff: time.Millisecond}
	e := newEnv(t, kindBttest, envConfig{opts: opts})
	ctx := context.Background()
	id := testID("retry")
	put := func(ctx context.Context) error {
		_, err := e.b.PutNonTombstone(ctx, id, manualMD("r"), []byte("r"))
		return err
	}
	// Internal is not retried by the client library for reads, only by the backend, so the
	// attempt count is deterministic.
	get := func(ctx context.Context) error { _, err := e.b.GetTiered(ctx, id); return err }

	for _, tc := range []struct {
		name     string
		op       func(context.Context) error
		fault    func(context.Context, string, int) error
		method   string
		attempts int
		fails    bool
		wantErr  error // the sentinel a failure matches, if any
	}{
		{"CAS: transient twice, then ok", put, failN("CheckAndMutateRow", 2, statusErr("UNAVAILABLE")), "CheckAndMutateRow", 3, false, nil},
		{"CAS: transient every time", put, failN("CheckAndMutateRow", 99, statusErr("UNAVAILABLE")), "CheckAndMutateRow", 3, true, object.ErrUnavailable},
		{"CAS: aborted, then ok", put, failN("CheckAndMutateRow", 1, statusErr("ABORTED")), "CheckAndMutateRow", 2, false, nil},
		{"CAS: invalid argument is not retried", put, failN("CheckAndMutateRow", 99, statusErr("INVALID_ARGUMENT")), "CheckAndMutateRow", 1, true, object.ErrInvalidArgument},
		{"CAS: permission denied is not retried", put, failN("CheckAndMutateRow", 99, statusErr("PERMISSION_DENIED")), "CheckAndMutateRow", 1, true, nil},
		{"CAS: resource exhausted is not retried", put, failN("CheckAndMutateRow", 99, statusErr("RESOURCE_EXHAUSTED")), "CheckAndMutateRow", 1, true, object.ErrUnavailable},
		{"read: internal twice, then ok", get, failN("ReadRows", 2, statusErr("INTERNAL")), "ReadRows", 3, false, nil},
		{"read: internal every time", get, failN("ReadRows", 99, statusErr("INTERNAL")), "ReadRows", 3, true, object.ErrUnavailable},
		{"CAS: attempt timeout, then ok", put, func(ctx context.Context, m string, n int) error {
			if m == "CheckAndMutateRow" && n == 1 {
				<-ctx.Done() // the attempt's own deadline
				return status.FromContextError(ctx.Err()).Err()
			}
			return nil
		}, "CheckAndMutateRow", 2, false, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.rec.setFault(tc.fault)
			err := tc.op(ctx)
			counts := e.rec.snapshot()
			e.rec.setFault(nil)
			if got := counts[tc.method]; got != tc.attempts {
				t.Errorf("%s attempts: %d, want %d", tc.method, got, tc.attempts)
			}
			switch {
			case !tc.fails && err != nil:
				t.Errorf("error %v, want success", err)
			case tc.fails && err == nil:
				t.Error("succeeded, want an error")
			case tc.wantErr != nil && !errors.Is(err, tc.wantErr):
				t.Errorf("error %v, want %v", err, tc.wantErr)
			}
			var be *Error
			if err != nil && (!errors.As(err, &be) || be.Attempts != tc.attempts) {
				t.Errorf("error %#v does not report %d attempts", err, tc.attempts)
			}
		})
	}
}

func TestBackend_Retry_CallerCancel_NotRetried(t *testing.T) {
	e := newEnv(t, kindBttest, envConfig{opts: Options{RPCTimeout: 10 * time.Second, RetryBackoff: time.Millisecond}})
	ctx, cancel := context.WithCancel(context.Background())
	e.rec.setFault(func(ctx context.Context, m string, n int) error {
		if m == "CheckAndMutateRow" {
			cancel()
			<-ctx.Done()
			return status.FromContextError(ctx.Err()).Err()
		}
		return nil
	})
	start := time.Now()
	_, err := e.b.PutNonTombstone(ctx, testID("cancel"), manualMD("c"), []byte("c"))
	counts := e.rec.snapshot()
	e.rec.setFault(nil)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("error %v, want one matching context.Canceled", err)
	}
	if counts["CheckAndMutateRow"] != 1 {
		t.Errorf("attempts after the caller cancelled: %d, want 1", counts["CheckAndMutateRow"])
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v after cancellation", d)
	}
}

func TestBackend_Retry_CallerDeadlineDuringBackoff(t *testing.T) {
	e := newEnv(t, kindBttest, envConfig{opts: Options{RetryBackoff: time.Hour}})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	e.rec.setFault(failN("CheckAndMutateRow", 99, statusErr("UNAVAILABLE")))
	start := time.Now()
	_, err := e.b.PutNonTombstone(ctx, testID("deadline"), manualMD("d"), []byte("d"))
	counts := e.rec.snapshot()
	e.rec.setFault(nil)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error %v, want one matching context.DeadlineExceeded", err)
	}
	if counts["CheckAndMutateRow"] != 1 || time.Since(start) > 5*time.Second {
		t.Errorf("%d attempts in %v; the backoff must end with the caller's deadline", counts["CheckAndMutateRow"], time.Since(start))
	}
}

// TestBackend_LostResponse_IdempotentCAS applies each CheckAndMutateRow but loses its response
// once: the retry must report the success the first attempt committed.
func TestBackend_LostResponse_IdempotentCAS(t *testing.T) {
	e := newEnv(t, kindBttest, envConfig{opts: Options{RetryBackoff: time.Millisecond}})
	ctx := context.Background()
	for i, tc := range []struct {
		name  string
		setup string
		op    func(id object.ID) (bool, error)
		after string
	}{
		{"put", "absent", func(id object.ID) (bool, error) {
			ts, err := e.b.PutNonTombstone(ctx, id, manualMD("new"), []byte("n"))
			return ts == nil, err
		}, "object:new"},
		{"delete", "object", func(id object.ID) (bool, error) {
			ts, err := e.b.DeleteNonTombstone(ctx, id)
			return ts == nil, err
		}, "absent"},
		{"create tombstone", "object", func(id object.ID) (bool, error) {
			return e.b.CompareAndWrite(ctx, id, nil, driver.Write{Kind: driver.WriteTombstone, Tombstone: driver.Tombstone{Target: rev(id, 1)}})
		}, "tomb:1"},
		{"swap tombstone", "tombA", func(id object.ID) (bool, error) {
			return e.b.CompareAndWrite(ctx, id, ptrTo(rev(id, 1)), driver.Write{Kind: driver.WriteTombstone, Tombstone: driver.Tombstone{Target: rev(id, 2)}})
		}, "tomb:2"},
		{"tombstone to object", "tombA", func(id object.ID) (bool, error) {
			return e.b.CompareAndWrite(ctx, id, ptrTo(rev(id, 1)), driver.Write{Kind: driver.WriteObject, Metadata: manualMD("new"), Payload: []byte("n")})
		}, "object:new"},
		{"delete tombstone", "tombA", func(id object.ID) (bool, error) {
			return e.b.CompareAndWrite(ctx, id, ptrTo(rev(id, 1)), driver.Write{Kind: driver.WriteDelete})
		}, "absent"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id := testID(fmt.Sprintf("lost/%d", i))
			stateSetup(tc.setup, id)(t, e, id)
			e.rec.setFault(func(ctx context.Context, m string, n int) error {
				if m == "CheckAndMutateRow" && n == 1 {
					return errLoseResponse // commit, then lose the response
				}
				return nil
			})
			ok, err := tc.op(id)
			counts := e.rec.snapshot()
			e.rec.setFault(nil)
			// Compare-and-writes other than a swap between tombstones are not retried (see
			// TestBackend_CompareAndWrite_OnlySwapsRetry): the lost response is an unknown
			// outcome, and the write applied once.
			single := strings.HasPrefix(tc.name, "create tombstone") || strings.HasPrefix(tc.name, "tombstone to") || tc.name == "delete tombstone"
			switch {
			case single && (ok || !errors.Is(err, object.ErrUnavailable)):
				t.Fatalf("= %v, %v after a lost response; want an unknown outcome", ok, err)
			case single && counts["CheckAndMutateRow"] != 1:
				t.Errorf("CheckAndMutateRow attempts %d, want 1", counts["CheckAndMutateRow"])
			case !single && (err != nil || !ok):
				t.Fatalf("= %v, %v after a lost response; want success", ok, err)
			case !single && counts["CheckAndMutateRow"] != 2:
				t.Errorf("CheckAndMutateRow attempts %d, want 2", counts["CheckAndMutateRow"])
			}
			want := tc.after
			if n, ok := strings.CutPrefix(want, "tomb:"); ok {
				want = "tomb:" + rev(id, int(n[0]-'0')).Key
			}
			if got := view(t, e.b, id); got != want {
				t.Errorf("row %s, want %s", got, want)
			}
		})
	}
}

// TestBackend_LostResponse_ThenReplaced_OutcomeUnknown is the lost-response race of the
// CompareAndWrite contract: attempt 1 commits but its response is lost, another writer
// replaces the row (its current is our target), and the retry finds neither our current nor
// our target. The call must not report (false, nil), a lost race, which would make the Store
// delete our revision although the row referenced it, and orphan the one we replaced: it must
// fail with ErrUnavailable (outcome unknown).
func TestBackend_LostResponse_ThenReplaced_OutcomeUnknown(t *testing.T) {
	forKinds(t, func(t *testing.T, kind serverKind) {
		e := newEnv(t, kind, envConfig{opts: Options{RetryBackoff: time.Millisecond}})
		other := e.second(t)
		ctx := context.Background()
		tomb := func(target object.ID) driver.Write {
			return driver.Write{Kind: driver.WriteTombstone, Tombstone: driver.Tombstone{Target: target}}
		}
		for i, tc := range []struct {
			name string
			// ours is the call under test, from tombstone A; theirs replaces what ours wrote.
			ours            driver.Write
			theirsCurrent   func(id object.ID) *object.ID
			theirs          func(id object.ID) driver.Write
			afterOurs, want string
		}{
			// Only a swap between tombstones is retried (TestBackend_CompareAndWrite_OnlySwapsRetry).
			{"swap A→B, then B→C", tomb(object.ID{}), func(id object.ID) *object.ID { return ptrTo(rev(id, 2)) },
				func(id object.ID) driver.Write { return tomb(rev(id, 3)) }, "tomb:2", "tomb:3"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				id := testID(fmt.Sprintf("lost-replaced/%d", i))
				setupTomb(rev(id, 1), object.ExpirationPolicy{})(t, e, id)
				ours := tc.ours
				if ours.Kind == driver.WriteTombstone {
					ours.Tombstone.Target = rev(id, 2)
				}
				var between string
				var theirsErr error
				e.rec.setFault(func(_ context.Context, m string, n int) error {
					if m != "CheckAndMutateRow" {
						return nil
					}
					switch n {
					case 1:
						return errLoseResponse // attempt 1 commits; the client sees Unavailable
					case 2: // before the retry is sent: another writer replaces our write
						between = view(t, other, id)
						ok, err := other.CompareAndWrite(context.Background(), id, tc.theirsCurrent(id), tc.theirs(id))
						if err == nil && !ok {
							err = errors.New("the other writer's CompareAndWrite did not apply")
						}
						theirsErr = err
					}
					return nil
				})
				ok, err := e.b.CompareAndWrite(ctx, id, ptrTo(rev(id, 1)), ours)
				counts := e.rec.snapshot()
				e.rec.setFault(nil)
				if theirsErr != nil {
					t.Fatalf("other writer: %v", theirsErr)
				}
				if want := tc.afterOurs; strings.HasPrefix(want, "tomb:") {
					tc.afterOurs = "tomb:" + rev(id, int(want[5]-'0')).Key
				}
				if between != tc.afterOurs {
					t.Fatalf("row after the lost attempt: %s, want %s (attempt 1 must have committed)", between, tc.afterOurs)
				}
				if counts["CheckAndMutateRow"] != 2 {
					t.Errorf("CheckAndMutateRow attempts %d, want 2", counts["CheckAndMutateRow"])
				}
				if err == nil {
					t.Fatalf("CompareAndWrite = (%v, nil) after its first attempt committed and was replaced; want an error matching ErrUnavailable (outcome unknown)", ok)
				}
				if !errors.Is(err, object.ErrUnavailable) || ok {
					t.Fatalf("CompareAndWrite = (%v, %v); want (false, an error matching ErrUnavailable)", ok, err)
				}
				if !strings.Contains(err.Error(), "outcome unknown") {
					t.Errorf("error %q does not say that the outcome is unknown", err)
				}
				if got, want := view(t, e.b, id), "tomb:"+rev(id, 3).Key; got != want {
					t.Errorf("row %s, want the other writer's %s", got, want)
				}
			})
		}
	})
}

// TestBackend_CompareAndWrite_RetryNoMatch_Unknown: a retry that finds the predicate false
// after any failed attempt reports an unknown outcome, even when (as here) the failed attempt
// never reached the server, because gRPC cannot tell the two apart. A first attempt that
// finds it false reports (false, nil), and PutNonTombstone keeps its contract.
func TestBackend_CompareAndWrite_RetryNoMatch_Unknown(t *testing.T) {
	e := newEnv(t, kindBttest, envConfig{opts: Options{RetryBackoff: time.Millisecond}})
	ctx := context.Background()
	id := testID("retry-nomatch")
	setupTomb(rev(id, 1), object.ExpirationPolicy{})(t, e, id)
	w := driver.Write{Kind: driver.WriteTombstone, Tombstone: driver.Tombstone{Target: rev(id, 3)}}

	e.rec.reset()
	if ok, err := e.b.CompareAndWrite(ctx, id, ptrTo(rev(id, 2)), w); ok || err != nil {
		t.Errorf("first-attempt mismatch = (%v, %v), want (false, nil)", ok, err)
	}
	e.rec.setFault(failN("CheckAndMutateRow", 1, statusErr("UNAVAILABLE")))
	ok, err := e.b.CompareAndWrite(ctx, id, ptrTo(rev(id, 2)), w)
	e.rec.setFault(nil)
	var be *Error
	if ok || !errors.Is(err, object.ErrUnavailable) || !errors.As(err, &be) || be.Attempts != 2 {
		t.Errorf("mismatch on a retry = (%v, %v), want an ErrUnavailable *Error after 2 attempts", ok, err)
	}
	e.rec.setFault(failN("CheckAndMutateRow", 1, statusErr("UNAVAILABLE")))
	ts, err := e.b.PutNonTombstone(ctx, id, manualMD("p"), []byte("p"))
	e.rec.setFault(nil)
	if err != nil || ts == nil || !ts.Target.Equal(rev(id, 1)) {
		t.Errorf("PutNonTombstone over a tombstone after a failed attempt = %v, %v; want the tombstone", ts, err)
	}
}

// TestBackend_CompareAndWrite_Deadline checks the write fence: no attempt starts at or after
// w.Deadline by the backend's clock, and an attempt's gRPC deadline is at most w.Deadline.
func TestBackend_CompareAndWrite_Deadline(t *testing.T) {
	ctx := context.Background()
	write := func(id object.ID, deadline time.Time) driver.Write {
		return driver.Write{Kind: driver.WriteTombstone, Tombstone: driver.Tombstone{Target: rev(id, 1)}, Deadline: deadline}
	}
	check := func(t *testing.T, e *env, id object.ID, ok bool, err error, attempts int) {
		t.Helper()
		counts := e.rec.snapshot()
		e.rec.setFault(nil)
		if ok || !errors.Is(err, object.ErrUnavailable) {
			t.Errorf("CompareAndWrite = (%v, %v), want an error matching ErrUnavailable", ok, err)
		}
		if errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("error %v matches context.DeadlineExceeded although the caller's context is live", err)
		}
		if counts["CheckAndMutateRow"] != attempts {
			t.Errorf("CheckAndMutateRow attempts %d, want %d", counts["CheckAndMutateRow"], attempts)
		}
		if got := view(t, e.b, id); got != "absent" {
			t.Errorf("row %s after a call past its deadline, want absent", got)
		}
	}

	t.Run("past deadline: no RPC", func(t *testing.T) {
		e := newEnv(t, kindBttest, envConfig{clock: true})
		id := testID("deadline/past")
		for _, d := range []time.Duration{0, -time.Second} {
			e.rec.reset()
			ok, err := e.b.CompareAndWrite(ctx, id, nil, write(id, e.clock.Now().Add(d)))
			check(t, e, id, ok, err, 0)
		}
	})
	t.Run("future deadline: applies", func(t *testing.T) {
		e := newEnv(t, kindBttest, envConfig{clock: true})
		id := testID("deadline/future")
		if ok, err := e.b.CompareAndWrite(ctx, id, nil, write(id, e.clock.Now().Add(10*time.Second))); !ok || err != nil {
			t.Fatalf("CompareAndWrite before its deadline = (%v, %v)", ok, err)
		}
	})
	t.Run("clock passes the deadline after a failed attempt: no retry", func(t *testing.T) {
		e := newEnv(t, kindBttest, envConfig{clock: true, opts: Options{RetryBackoff: time.Millisecond}})
		id := testID("deadline/retry")
		deadline := e.clock.Now().Add(time.Second)
		e.rec.setFault(func(_ context.Context, m string, n int) error {
			if m == "CheckAndMutateRow" {
				e.clock.Advance(time.Second)
				return statusErr("UNAVAILABLE")
			}
			return nil
		})
		ok, err := e.b.CompareAndWrite(ctx, id, nil, write(id, deadline))
		check(t, e, id, ok, err, 1)
	})
	t.Run("backoff would end past the deadline: no wait, no retry", func(t *testing.T) {
		e := newEnv(t, kindBttest, envConfig{opts: Options{RetryBackoff: time.Hour}})
		id := testID("deadline/backoff")
		e.rec.setFault(failN("CheckAndMutateRow", 99, statusErr("UNAVAILABLE")))
		start := time.Now()
		ok, err := e.b.CompareAndWrite(ctx, id, nil, write(id, time.Now().Add(10*time.Second)))
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("took %v; a backoff past the deadline must not be waited out", d)
		}
		check(t, e, id, ok, err, 1)
	})
	t.Run("attempt deadline is the write deadline", func(t *testing.T) {
		e := newEnv(t, kindBttest, envConfig{opts: Options{RPCTimeout: time.Minute, RetryBackoff: time.Millisecond}})
		id := testID("deadline/attempt")
		deadline := time.Now().Add(300 * time.Millisecond)
		var attemptDeadline time.Time
		e.rec.setFault(func(ctx context.Context, m string, n int) error {
			if m == "CheckAndMutateRow" {
				attemptDeadline, _ = ctx.Deadline()
				<-ctx.Done() // a stalled attempt: gRPC would send its deadline with it
				return status.FromContextError(ctx.Err()).Err()
			}
			return nil
		})
		start := time.Now()
		ok, err := e.b.CompareAndWrite(ctx, id, nil, write(id, deadline))
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("took %v, want about 300ms (RPCTimeout is a minute)", d)
		}
		if attemptDeadline.IsZero() || attemptDeadline.After(deadline) {
			t.Errorf("attempt context deadline %s, want one by the write deadline %s", attemptDeadline, deadline)
		}
		check(t, e, id, ok, err, 1)
	})
}

// TestBackend_CompareAndWrite_OnlySwapsRetry: a compare-and-write whose predicate also
// matches "no live tombstone" is not retried after a failed attempt, because that state can
// come back: a retry could apply the write a second time over a later writer's. Its failure
// is an unknown outcome (an error matching ErrUnavailable).
func TestBackend_CompareAndWrite_OnlySwapsRetry(t *testing.T) {
	forKinds(t, func(t *testing.T, kind serverKind) {
		e := newEnv(t, kind, envConfig{opts: Options{RetryBackoff: time.Millisecond}})
		ctx := context.Background()
		for i, w := range []driver.Write{
			{Kind: driver.WriteObject, Metadata: manualMD("ours"), Payload: []byte("o")},
			{Kind: driver.WriteDelete},
			{Kind: driver.WriteTombstone, Tombstone: driver.Tombstone{Target: rev(testID("only-swaps"), 9)}},
		} {
			id := testID(fmt.Sprintf("only-swaps/%d", i))
			setupTomb(rev(id, 1), object.ExpirationPolicy{})(t, e, id)
			current := ptrTo(rev(id, 1))
			if w.Kind == driver.WriteTombstone {
				current = nil // nil → tombstone: matches "no live tombstone" too
				w.Tombstone.Target = rev(id, 9)
			}
			e.rec.reset()
			e.rec.setFault(func(_ context.Context, m string, n int) error {
				if m == "CheckAndMutateRow" && n == 1 {
					return errLoseResponse
				}
				return nil
			})
			ok, err := e.b.CompareAndWrite(ctx, id, current, w)
			counts := e.rec.snapshot()
			e.rec.setFault(nil)
			if ok || !errors.Is(err, object.ErrUnavailable) {
				t.Errorf("write %d: CompareAndWrite = (%v, %v); want an error matching ErrUnavailable", i, ok, err)
			}
			if counts["CheckAndMutateRow"] != 1 {
				t.Errorf("write %d: %d CheckAndMutateRow attempts, want 1 (no retry)", i, counts["CheckAndMutateRow"])
			}
		}
	})
}
