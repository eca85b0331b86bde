package reliability

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stratastore/strata/e2e/internal/harness"
	"github.com/stratastore/strata/tiered/localbackend"
)

// maxServerHWM bounds the server's peak resident set size under the load test.
const maxServerHWM = 256 << 20

// TestReliability_Load runs 32 concurrent SDK clients against the binary for a bounded time
// (10 s; 60 s under STRATA_SOAK=1) and a bounded operation count: 70% gets, 20% small puts,
// 5% large puts, 5% deletes on 64 keys. It requires zero errors, whole values on every read,
// and a server peak RSS (VmHWM) under maxServerHWM, and logs throughput and latencies.
func TestReliability_Load(t *testing.T) {
	const (
		clients = 32
		nkeys   = 64
	)
	duration := scale(10*time.Second, 60*time.Second)
	maxOpsPerClient := scale(20_000, 200_000)
	key := harness.NewKeyPair(t)
	dir := t.TempDir()
	srv := startServer(t, dir, key)
	target := newSDKKV(t, srv, key)
	base := seed(t)
	keys := make([]string, nkeys)
	ctx := context.Background()
	for i := range keys {
		keys[i] = fmt.Sprintf("load/key-%d", i)
		if err := target.put(ctx, keys[i], makeValue(keys[i], i+1, 2000)); err != nil {
			t.Fatal(err)
		}
	}

	type result struct {
		lat    map[byte][]time.Duration
		errors int
	}
	results := make([]result, clients)
	var wg sync.WaitGroup
	start := time.Now()
	deadline := start.Add(duration)
	for c := range clients {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(base, uint64(c)))
			res := &results[c]
			res.lat = map[byte][]time.Duration{}
			for n := range maxOpsPerClient {
				if time.Now().After(deadline) {
					return
				}
				k := keys[r.IntN(nkeys)]
				octx, cancel := context.WithTimeout(ctx, 30*time.Second)
				var kind byte
				var err error
				t0 := time.Now()
				switch p := r.IntN(100); {
				case p < 70:
					kind = 'g'
					var val []byte
					var found bool
					val, found, err = target.get(octx, k)
					if err == nil && found {
						if _, derr := decodeValue(k, val); derr != nil {
							err = derr
						}
					}
				case p < 90:
					kind = 'p'
					err = target.put(octx, k, makeValue(k, (c+1)*1_000_000+n+1, valueSize(r, false)))
				case p < 95:
					kind = 'L'
					err = target.put(octx, k, makeValue(k, (c+1)*1_000_000+n+1, valueSize(r, true)))
				default:
					kind = 'd'
					err = target.del(octx, k)
				}
				res.lat[kind] = append(res.lat[kind], time.Since(t0))
				cancel()
				if err != nil {
					res.errors++
					if res.errors <= 3 {
						t.Errorf("client %d: %c %s: %v", c, kind, k, err)
					}
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	hwm, err := harness.PeakRSS(srv.Cmd.Process.Pid)
	if err != nil {
		t.Fatalf("read the server's VmHWM: %v", err)
	}

	all := map[byte][]time.Duration{}
	total, errs := 0, 0
	for _, res := range results {
		errs += res.errors
		for k, l := range res.lat {
			all[k] = append(all[k], l...)
			total += len(l)
		}
	}
	t.Logf("%d clients for %v: %d ops, %.0f ops/s, %d errors; server VmHWM %d MiB (bound %d MiB)",
		clients, elapsed.Round(time.Millisecond), total, float64(total)/elapsed.Seconds(), errs, hwm>>20, maxServerHWM>>20)
	names := map[byte]string{'g': "get", 'p': "put small", 'L': "put large", 'd': "delete"}
	for _, k := range []byte{'g', 'p', 'L', 'd'} {
		l := all[k]
		if len(l) == 0 {
			continue
		}
		slices.Sort(l)
		t.Logf("  %-9s %6d ops  p50 %8v  p99 %8v  max %8v", names[k], len(l),
			l[len(l)/2].Round(10*time.Microsecond), l[len(l)*99/100].Round(10*time.Microsecond), l[len(l)-1].Round(10*time.Microsecond))
	}
	if errs > 0 {
		t.Errorf("%d requests failed under load", errs)
	}
	if hwm > maxServerHWM {
		t.Errorf("server peak RSS %d MiB exceeds the bound of %d MiB", hwm>>20, maxServerHWM>>20)
	}
	checkNoPanic(t, srv)
	if err := srv.Stop(t, syscall.SIGTERM); err != nil {
		t.Fatalf("graceful stop: %v", err)
	}
	lb, err := localbackend.Open(context.Background(), dir, &localbackend.Options{SweepInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer lb.Close()
	entries, err := lb.ChangeLog().Entries()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("change-log entries left after a graceful stop (recovery's work at the next start): %d", len(entries))
}
