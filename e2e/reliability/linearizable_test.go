package reliability

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/stratastore/strata/e2e/internal/harness"
	"github.com/stratastore/strata/functions/client"
	"github.com/stratastore/strata/tiered"
	"github.com/stratastore/strata/tiered/backendtest"
	"github.com/stratastore/strata/tiered/localbackend"
	"github.com/stratastore/strata/tiered/membackend"
	"github.com/stratastore/strata/tiered/object"
	"github.com/stratastore/strata/tiered/tieredtest"
)

// linOp is the input of one operation of the history: a put of value Value, a get, or a
// delete, on Key. The output of a get is the value id read, 0 for absent.
type linOp struct {
	Kind  byte // 'p', 'g', 'd'
	Key   string
	Value int
}

// registerModel is one register per key: put writes its value id, delete writes absent (0),
// and a get must return the current value.
var registerModel = porcupine.Model{
	Partition: func(history []porcupine.Operation) [][]porcupine.Operation {
		byKey := map[string][]porcupine.Operation{}
		var order []string
		for _, op := range history {
			k := op.Input.(linOp).Key
			if _, ok := byKey[k]; !ok {
				order = append(order, k)
			}
			byKey[k] = append(byKey[k], op)
		}
		out := make([][]porcupine.Operation, 0, len(order))
		for _, k := range order {
			out = append(out, byKey[k])
		}
		return out
	},
	Init: func() any { return 0 },
	Step: func(state, input, output any) (bool, any) {
		in, st := input.(linOp), state.(int)
		switch in.Kind {
		case 'p':
			return true, in.Value
		case 'd':
			return true, 0
		default:
			return output.(int) == st, st
		}
	},
	Equal: func(a, b any) bool { return a.(int) == b.(int) },
	DescribeOperation: func(input, output any) string {
		in := input.(linOp)
		switch in.Kind {
		case 'p':
			return fmt.Sprintf("put(%s, %d)", in.Key, in.Value)
		case 'd':
			return fmt.Sprintf("delete(%s)", in.Key)
		default:
			return fmt.Sprintf("get(%s) -> %d", in.Key, output.(int))
		}
	},
	DescribeState: func(state any) string { return fmt.Sprint(state.(int)) },
}

// linConfig sizes one linearizability run.
type linConfig struct {
	clients      int
	opsPerClient int
	keys         []string
	largePct     int // percentage of puts that are large
	// deleteKeys is how many of keys (the first ones) also see deletes. On the others a
	// 404 is never legal after the initial put, so a spurious 404 cannot hide behind a
	// concurrent delete.
	deleteKeys  int
	opTimeout   time.Duration
	maxDuration time.Duration // the run stops issuing operations after this
}

// linStats is what a run did.
type linStats struct {
	ops, puts, largePuts, gets, getsFound, deletes int
	errors                                         int
	elapsed                                        time.Duration
}

// runLinearizable drives kv with cfg.clients concurrent clients, records the history, fails
// the test on any torn or foreign read and on any error, and checks the history with
// porcupine.
func runLinearizable(t *testing.T, target kv, cfg linConfig) linStats {
	t.Helper()
	base := seed(t)
	var (
		mu      sync.Mutex
		history []porcupine.Operation
		stats   linStats
		nextID  atomic.Int64
		wg      sync.WaitGroup
	)
	start := time.Now()
	deadline := start.Add(cfg.maxDuration)
	now := func() int64 { return int64(time.Since(start)) }
	record := func(client int, in linOp, call int64, out int, ret int64) {
		mu.Lock()
		defer mu.Unlock()
		history = append(history, porcupine.Operation{ClientId: client, Input: in, Call: call, Output: out, Return: ret})
	}
	// Every key starts with a value, so that a spurious 404 is visible.
	for _, key := range cfg.keys {
		id := int(nextID.Add(1))
		call := now()
		if err := target.put(context.Background(), key, makeValue(key, id, smallMin)); err != nil {
			t.Fatalf("initial put %s: %v", key, err)
		}
		record(0, linOp{Kind: 'p', Key: key, Value: id}, call, 0, now())
	}
	for c := range cfg.clients {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(base, uint64(c)))
			var st linStats
			defer func() {
				mu.Lock()
				stats.ops += st.ops
				stats.puts += st.puts
				stats.largePuts += st.largePuts
				stats.gets += st.gets
				stats.getsFound += st.getsFound
				stats.deletes += st.deletes
				stats.errors += st.errors
				mu.Unlock()
			}()
			for range cfg.opsPerClient {
				if time.Now().After(deadline) {
					return
				}
				ki := r.IntN(len(cfg.keys))
				key := cfg.keys[ki]
				ctx, cancel := context.WithTimeout(context.Background(), cfg.opTimeout)
				st.ops++
				p := r.IntN(100)
				if ki >= cfg.deleteKeys && p >= 85 {
					p -= 50 // no deletes on this key: a get instead
				}
				switch {
				case p < 40:
					id := int(nextID.Add(1))
					large := r.IntN(100) < cfg.largePct
					val := makeValue(key, id, valueSize(r, large))
					st.puts++
					if large {
						st.largePuts++
					}
					call := now()
					err := target.put(ctx, key, val)
					ret := now()
					if err != nil {
						// The put may or may not have taken effect: it stays open forever.
						st.errors++
						t.Errorf("client %d: put %s #%d: %v", c, key, id, err)
						ret = math.MaxInt64
					}
					record(c, linOp{Kind: 'p', Key: key, Value: id}, call, 0, ret)
				case p < 85:
					st.gets++
					call := now()
					val, found, err := target.get(ctx, key)
					ret := now()
					if err != nil {
						st.errors++
						t.Errorf("client %d: get %s: %v", c, key, err)
						break // a failed read constrains nothing
					}
					out := 0
					if !found && ki >= cfg.deleteKeys {
						t.Errorf("client %d: get %s answered 404 after %v, but %s is never deleted",
							c, key, time.Duration(ret-call).Round(time.Millisecond), key)
					}
					if found {
						st.getsFound++
						id, err := decodeValue(key, val)
						if err != nil {
							st.errors++
							t.Errorf("client %d: get %s: %v", c, key, err)
							break
						}
						out = id
					}
					record(c, linOp{Kind: 'g', Key: key}, call, out, ret)
				default:
					st.deletes++
					call := now()
					err := target.del(ctx, key)
					ret := now()
					if err != nil {
						st.errors++
						t.Errorf("client %d: delete %s: %v", c, key, err)
						ret = math.MaxInt64
					}
					record(c, linOp{Kind: 'd', Key: key}, call, 0, ret)
				}
				cancel()
			}
		})
	}
	wg.Wait()
	stats.elapsed = time.Since(start)
	checkStart := time.Now()
	res, info := porcupine.CheckOperationsVerbose(registerModel, history, 2*time.Minute)
	t.Logf("history: %d ops (%d puts, %d large; %d gets, %d found; %d deletes) by %d clients on %d keys in %v; porcupine: %v in %v",
		stats.ops, stats.puts, stats.largePuts, stats.gets, stats.getsFound, stats.deletes, cfg.clients, len(cfg.keys),
		stats.elapsed.Round(time.Millisecond), res, time.Since(checkStart).Round(time.Millisecond))
	switch res {
	case porcupine.Illegal:
		dir, err := os.MkdirTemp("", "strata-linearizability-")
		if err == nil {
			path := filepath.Join(dir, "history.html")
			if err := porcupine.VisualizePath(registerModel, info, path); err == nil {
				t.Logf("visualization of the history: %s", path)
			}
		}
		t.Fatalf("the history is not linearizable")
	case porcupine.Unknown:
		t.Errorf("porcupine could not decide within its timeout: make the history smaller")
	}
	return stats
}

// linKeys returns n keys for one run.
func linKeys(n int) []string {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("lin/key-%d", i)
	}
	return keys
}

// firstReadKey marks the context of one Store.Get; slowLongTermReads delays only the first
// long-term read under it. Delaying the re-reads too would let three consecutive misses
// exhaust Store.Get's redirects, the bug TestReliability_GetUnderOverwrites_No404 shows.
type firstReadKey struct{}

type firstRead struct{ done atomic.Bool }

// slowLongTermReads delays pct percent of long-term Gets by 60 to 120 ms, longer than the
// grace period of the in-process runs, so that overwrites regularly delete a revision
// between a reader's row lookup and its long-term read: the tombstone re-read path. It
// counts the long-term reads that found their revision gone.
func slowLongTermReads(seed uint64, pct int, missing *counter) backendtest.Hook {
	var mu sync.Mutex
	r := rand.New(rand.NewPCG(seed, 7))
	return backendtest.Match(backendtest.OpGet, func(ctx context.Context, c *backendtest.Call, next func() error) error {
		fr, _ := ctx.Value(firstReadKey{}).(*firstRead)
		first := fr != nil && !fr.done.Swap(true)
		mu.Lock()
		d := time.Duration(0)
		if r.IntN(100) < pct && first {
			d = 60*time.Millisecond + time.Duration(r.IntN(60))*time.Millisecond
		}
		mu.Unlock()
		if d > 0 {
			select {
			case <-time.After(d):
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		err := next()
		if errors.Is(err, object.ErrNotFound) {
			missing.add()
		}
		return err
	})
}

func defaultLinConfig() linConfig {
	return linConfig{
		clients:      8,
		opsPerClient: scale(60*3, 600), // ~480 operations per key partition
		keys:         linKeys(3),
		deleteKeys:   1,
		largePct:     35,
		opTimeout:    30 * time.Second,
		maxDuration:  scale(90*time.Second, 10*time.Minute),
	}
}

// TestReliability_Linearizable_Memory checks linearizability in process over the memory
// backend with a 50 ms grace period and slow long-term reads, which exercises the re-read of
// a tombstone whose revision vanished. Afterwards the Store is drained: no orphan, empty log.
func TestReliability_Linearizable_Memory(t *testing.T) {
	mem := membackend.Open(nil)
	hv, lt, log := mem.HighVolume(), mem.LongTerm(), mem.ChangeLog()
	hlt := &backendtest.HookedLongTerm{Inner: lt}
	var missing counter
	hlt.Add(slowLongTermReads(rand.Uint64(), 25, &missing))
	s, err := tiered.New(hv, hlt, log, &tiered.Options{GracePeriod: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	cfg := defaultLinConfig()
	runLinearizable(t, storeKV{s}, cfg)
	t.Logf("long-term reads that found their revision deleted (re-read path): %d", missing.get())
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	b := tieredtest.Backends{HV: hv, LT: lt, Log: log, Objects: func(context.Context) ([]string, error) { return lt.Keys(), nil }}
	checkConverged(t, b, cfg.keys)
}

// TestReliability_Linearizable_Local is the same run over the embedded durable backend.
func TestReliability_Linearizable_Local(t *testing.T) {
	lb, err := localbackend.Open(context.Background(), t.TempDir(), &localbackend.Options{SweepInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer lb.Close()
	hlt := &backendtest.HookedLongTerm{Inner: lb.LongTerm()}
	var missing counter
	hlt.Add(slowLongTermReads(rand.Uint64(), 25, &missing))
	s, err := tiered.New(lb.HighVolume(), hlt, lb.ChangeLog(), &tiered.Options{GracePeriod: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	cfg := defaultLinConfig()
	runLinearizable(t, storeKV{s}, cfg)
	t.Logf("long-term reads that found their revision deleted (re-read path): %d", missing.get())
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	checkConverged(t, localBackends(lb), cfg.keys)
}

// localBackends describes an open local backend for the tieredtest checks.
func localBackends(lb *localbackend.Backend) tieredtest.Backends {
	return tieredtest.Backends{
		HV: lb.HighVolume(), LT: lb.LongTerm(), Log: lb.ChangeLog(),
		Objects: func(context.Context) ([]string, error) { return lb.LongTerm().Keys() },
	}
}

// sdkKV drives the strata binary through the Go SDK, uncompressed so that sizes route as
// written, and without retries so that every answer belongs to exactly one attempt.
type sdkKV struct{ s *client.Session }

const relUsecase = "testing"

func newSDKKV(t *testing.T, srv *harness.Server, key harness.KeyPair, opts ...client.Option) sdkKV {
	c := harness.SDK(t, srv.URL, key, append([]client.Option{client.WithCompression(false)}, opts...)...)
	return sdkKV{c.Usecase(relUsecase).Scope("org", "1")}
}

func (k sdkKV) put(ctx context.Context, key string, val []byte) error {
	_, err := k.s.Put(ctx, key, bytesReader(val))
	return err
}

func (k sdkKV) get(ctx context.Context, key string) ([]byte, bool, error) {
	o, err := k.s.Get(ctx, key)
	if client.IsNotFound(err) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	defer o.Body.Close()
	b, err := readAllLimit(o.Body, largeMax+1<<20)
	if err != nil {
		return nil, false, err
	}
	return b, true, nil
}

func (k sdkKV) del(ctx context.Context, key string) error { return k.s.Delete(ctx, key) }

// TestReliability_Linearizable_HTTP checks linearizability through HTTP against the real
// binary (auth on, no grace period: superseded revisions go at once).
func TestReliability_Linearizable_HTTP(t *testing.T) {
	key := harness.NewKeyPair(t)
	srv := startServer(t, t.TempDir(), key)
	target := newSDKKV(t, srv, key, client.WithRetries(1, time.Millisecond, time.Millisecond))
	cfg := defaultLinConfig()
	cfg.opsPerClient = scale(40, 300)
	runLinearizable(t, target, cfg)
	checkNoPanic(t, srv)
}
