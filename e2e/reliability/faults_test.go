package reliability

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/stratastore/strata/tiered"
	"github.com/stratastore/strata/tiered/backendtest"
	"github.com/stratastore/strata/tiered/membackend"
	"github.com/stratastore/strata/tiered/object"
	"github.com/stratastore/strata/tiered/tieredtest"
)

// faultHook fails pct percent of all backend calls, half of them before the call reaches
// the backend and half after it (a lost response). It counts what it injected per op.
type faultHook struct {
	mu             sync.Mutex
	r              *rand.Rand
	pct            int
	before, after  map[string]int
	calls, skipped int
}

func newFaultHook(seed uint64, pct int) *faultHook {
	return &faultHook{r: rand.New(rand.NewPCG(seed, 3)), pct: pct, before: map[string]int{}, after: map[string]int{}}
}

func (f *faultHook) hook(ctx context.Context, c *backendtest.Call, next func() error) error {
	f.mu.Lock()
	f.calls++
	roll := f.r.IntN(200)
	fail := roll < 2*f.pct
	failBefore := fail && roll%2 == 0
	switch {
	case failBefore:
		f.before[c.Op]++
	case fail:
		f.after[c.Op]++
	}
	f.mu.Unlock()
	if failBefore {
		return backendtest.ErrInjected
	}
	err := next()
	if fail {
		return errors.Join(backendtest.ErrInjected, err)
	}
	return err
}

func (f *faultHook) summary() (calls, injected int, perOp string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var b bytes.Buffer
	for op, n := range f.before {
		fmt.Fprintf(&b, "%s:%d/%d ", op, n, f.after[op])
	}
	for op, n := range f.after {
		if f.before[op] == 0 {
			fmt.Fprintf(&b, "%s:0/%d ", op, n)
		}
	}
	for _, n := range f.before {
		injected += n
	}
	for _, n := range f.after {
		injected += n
	}
	return f.calls, injected, b.String()
}

// TestReliability_FaultsUnderLoad_Memory runs concurrent put/get/delete/multipart clients
// against a Store whose every backend call (high-volume, long-term, change log) fails with
// some probability, before or after reaching the backend. Every request must end, with
// success or an error; a successful read must be a whole value written to that key. Then
// the faults stop, recovery runs with a clock past every lease, and the state must have
// converged: no orphan, empty log, no dangling tombstone, every key whole or absent.
func TestReliability_FaultsUnderLoad_Memory(t *testing.T) {
	const clients = 8
	ops := scale(400, 4000)
	keys := make([]string, 6)
	for i := range keys {
		keys[i] = fmt.Sprintf("faults/key-%d", i)
	}
	base := seed(t)
	mem := membackend.Open(nil)
	hv, lt, log := mem.HighVolume(), mem.LongTerm(), mem.ChangeLog()
	hhv := &backendtest.HookedHighVolume{Inner: hv}
	hlt := &backendtest.HookedLongTerm{Inner: lt}
	hlog := &backendtest.HookedChangeLog{Inner: log}
	faults := newFaultHook(base, 7)
	for _, h := range []*backendtest.Hooks{&hhv.Hooks, &hlt.Hooks, &hlog.Hooks} {
		h.Add(faults.hook)
	}
	s, err := tiered.New(hhv, hlt, hlog, &tiered.Options{
		GracePeriod: 20 * time.Millisecond, HeartbeatInterval: 50 * time.Millisecond, LongTermSettle: time.Second,
		Logger: slog.New(slog.DiscardHandler), // thousands of expected cleanup warnings
	})
	if err != nil {
		t.Fatal(err)
	}

	type tally struct{ ok, failed, reads, readsFound int }
	results := make([]tally, clients)
	var wg sync.WaitGroup
	start := time.Now()
	for c := range clients {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(base, uint64(c)+100))
			tl := &results[c]
			for n := range ops {
				k := keys[r.IntN(len(keys))]
				id := (c+1)*1_000_000 + n + 1
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				var err error
				switch p := r.IntN(100); {
				case p < 35:
					err = storeKV{s}.put(ctx, k, makeValue(k, id, valueSize(r, r.IntN(100) < 40)))
				case p < 70:
					var val []byte
					var found bool
					val, found, err = storeKV{s}.get(ctx, k)
					tl.reads++
					if err == nil && found {
						tl.readsFound++
						if _, derr := decodeValue(k, val); derr != nil {
							t.Errorf("client %d: successful read of %s: %v", c, k, derr)
						}
					}
				case p < 85:
					err = storeKV{s}.del(ctx, k)
				default:
					err = multipartPut(ctx, s, k, makeValue(k, id, valueSize(r, true)))
				}
				if ctx.Err() != nil {
					t.Errorf("client %d: operation %d on %s hit its 20s bound: %v", c, n, k, err)
				}
				cancel()
				if err != nil {
					tl.failed++
				} else {
					tl.ok++
				}
			}
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Minute):
		buf := make([]byte, 1<<20)
		t.Fatalf("clients still running after 5 minutes:\n%s", buf[:runtime.Stack(buf, true)])
	}
	var sum tally
	for _, tl := range results {
		sum.ok += tl.ok
		sum.failed += tl.failed
		sum.reads += tl.reads
		sum.readsFound += tl.readsFound
	}
	calls, injected, perOp := faults.summary()
	t.Logf("%d clients × %d ops in %v: %d succeeded, %d failed; %d reads (%d found, all whole)",
		clients, ops, time.Since(start).Round(time.Millisecond), sum.ok, sum.failed, sum.reads, sum.readsFound)
	t.Logf("backend calls %d, faults injected %d (before/after per op: %s)", calls, injected, perOp)
	if injected == 0 || sum.failed == 0 {
		t.Fatalf("no fault reached a request: the test exercised nothing")
	}

	for _, h := range []*backendtest.Hooks{&hhv.Hooks, &hlt.Hooks, &hlog.Hooks} {
		h.Reset()
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := s.Close(ctx); err != nil {
		t.Fatalf("close: %v", err)
	}
	b := tieredtest.Backends{HV: hv, LT: lt, Log: log, Objects: func(context.Context) ([]string, error) { return lt.Keys(), nil }}
	left := len(log.Entries())
	claimed := tieredtest.RecoverAll(t, b)
	present := checkConverged(t, b, keys)
	t.Logf("after the faults: %d change-log entries left, recovery claimed %d; %d of %d keys present; %d multipart uploads left for the lifecycle rule",
		left, claimed, present, len(keys), lt.Uploads())
}

// multipartPut stores val under k with a two-part multipart upload, aborting it on failure
// (best effort, as a client would).
func multipartPut(ctx context.Context, s *tiered.Store, k string, val []byte) error {
	id := relID(k)
	u, err := s.InitiateMultipart(ctx, id, object.Metadata{ContentType: "application/x-reliability"})
	if err != nil {
		return err
	}
	half := len(val) / 2
	var parts []object.CompletedPart
	for i, p := range [][]byte{val[:half], val[half:]} {
		etag, err := s.UploadPart(ctx, id, u, i+1, int64(len(p)), bytes.NewReader(p))
		if err != nil {
			_ = s.AbortMultipart(ctx, id, u)
			return err
		}
		parts = append(parts, object.CompletedPart{PartNumber: i + 1, ETag: etag})
	}
	ce, err := s.CompleteMultipart(ctx, id, u, parts)
	if ce != nil {
		return ce
	}
	return err
}
