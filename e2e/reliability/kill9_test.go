package reliability

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stratastore/strata/e2e/internal/harness"
	"github.com/stratastore/strata/functions/client"
	"github.com/stratastore/strata/tiered"
	"github.com/stratastore/strata/tiered/localbackend"
	"github.com/stratastore/strata/tiered/tieredtest"
)

// ackState is what the writers know about one key: the last acknowledged state (a value id,
// 0 for absent) and the one write that was in flight when the server died, if any.
type ackState struct {
	acked    int
	inFlight *int
}

// allowed reports whether reading id is consistent with what was acknowledged.
func (s *ackState) allowed(id int) bool {
	return id == s.acked || (s.inFlight != nil && id == *s.inFlight)
}

// TestReliability_Kill9UnderLoad kills the strata binary with SIGKILL at a random moment
// while writers put small and large objects and delete them, restarts it on the same data
// directory, and checks that every acknowledged write survived whole (or was superseded by
// the write in flight at the kill on that key). At the end it stops the server, runs
// recovery in process with a clock past every lease, and checks: no orphan blob, an empty
// change log, no dangling tombstone, and the acknowledged values still there.
func TestReliability_Kill9UnderLoad(t *testing.T) {
	const (
		writers       = 8
		keysPerWriter = 3
	)
	rounds := scale(3, 20)
	opsPerRound := scale(200, 1000) // per writer: a bound in count; the kill bounds the time
	dir := t.TempDir()
	key := harness.NewKeyPair(t)
	r := rand.New(rand.NewPCG(seed(t), 1))

	state := map[string]*ackState{}
	var keys []string
	for w := range writers {
		for k := range keysPerWriter {
			name := fmt.Sprintf("kill/w%d/k%d", w, k)
			keys = append(keys, name)
			state[name] = &ackState{}
		}
	}

	verify := func(srv *harness.Server, when string) {
		t.Helper()
		target := newSDKKV(t, srv, key)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		present := 0
		for _, k := range keys {
			val, found, err := target.get(ctx, k)
			if err != nil {
				t.Fatalf("%s: read %s: %v", when, k, err)
			}
			id := 0
			if found {
				present++
				if id, err = decodeValue(k, val); err != nil {
					t.Fatalf("%s: %s: %v", when, k, err)
				}
			}
			st := state[k]
			if !st.allowed(id) {
				t.Fatalf("%s: %s holds value %d; acknowledged %d, in flight %v", when, k, id, st.acked, st.inFlight)
			}
			st.acked, st.inFlight = id, nil
		}
		t.Logf("%s: all %d keys consistent with the acknowledged writes (%d present)", when, len(keys), present)
	}

	var totalAcked, totalInFlight int
	for round := range rounds {
		srv := startServer(t, dir, key)
		if round > 0 {
			verify(srv, fmt.Sprintf("after kill %d", round))
		}
		target := newSDKKV(t, srv, key, client.WithRetries(1, time.Millisecond, time.Millisecond))
		ctx, cancel := context.WithCancel(context.Background())
		var (
			killed   atomic.Bool
			acked    atomic.Int64
			inFlight atomic.Int64
			wg       sync.WaitGroup
		)
		for w := range writers {
			wr := rand.New(rand.NewPCG(r.Uint64(), uint64(w)))
			wg.Go(func() {
				for n := range opsPerRound {
					if ctx.Err() != nil {
						return
					}
					k := fmt.Sprintf("kill/w%d/k%d", w, wr.IntN(keysPerWriter))
					st := state[k] // only this writer touches k while the server runs
					id := (round+1)*1_000_000 + w*10_000 + n + 1
					var err error
					if wr.IntN(100) < 20 {
						zero := 0
						st.inFlight = &zero
						err = target.del(ctx, k)
						id = 0
					} else {
						st.inFlight = &id
						err = target.put(ctx, k, makeValue(k, id, valueSize(wr, wr.IntN(100) < 40)))
					}
					if err != nil {
						if !killed.Load() {
							t.Errorf("writer %d before the kill: %v", w, err)
						}
						inFlight.Add(1)
						return // the outcome is unknown: st.inFlight stays
					}
					st.acked, st.inFlight = id, nil
					acked.Add(1)
				}
			})
		}
		time.Sleep(300*time.Millisecond + time.Duration(r.IntN(1200))*time.Millisecond)
		killed.Store(true)
		srv.Stop(t, syscall.SIGKILL)
		cancel()
		wg.Wait()
		t.Logf("round %d: killed after %d acknowledged writes, %d in flight", round+1, acked.Load(), inFlight.Load())
		totalAcked += int(acked.Load())
		totalInFlight += int(inFlight.Load())
		if t.Failed() {
			t.FailNow()
		}
	}

	srv := startServer(t, dir, key)
	verify(srv, fmt.Sprintf("after kill %d", rounds))
	checkNoPanic(t, srv)
	if err := srv.Stop(t, syscall.SIGTERM); err != nil {
		t.Fatalf("graceful stop: %v\n%s", err, srv.Logs)
	}
	t.Logf("%d rounds: %d acknowledged writes, %d writes in flight at the kills", rounds, totalAcked, totalInFlight)

	lb, err := localbackend.Open(context.Background(), dir, &localbackend.Options{SweepInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer lb.Close()
	b := localBackends(lb)
	claimed := tieredtest.RecoverAll(t, b)
	present := checkConverged(t, b, keys)
	t.Logf("recovery claimed %d change-log entries; %d of %d keys present", claimed, present, len(keys))

	s, err := tiered.New(lb.HighVolume(), lb.LongTerm(), lb.ChangeLog(), &tiered.Options{GracePeriod: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	for _, k := range keys {
		val, found, err := storeKV{s}.get(context.Background(), k)
		if err != nil {
			t.Fatalf("after recovery: %s: %v", k, err)
		}
		id := 0
		if found {
			id, _ = decodeValue(k, val)
		}
		if id != state[k].acked {
			t.Errorf("after recovery: %s holds %d, acknowledged %d", k, id, state[k].acked)
		}
	}
}
