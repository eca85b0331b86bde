package httpapi_test

// Small-object benchmarks through the full HTTP stack (issue 6): real loopback sockets, the
// real httpapi handler with auth enforced (the server verifies the Ed25519 token of every
// request), PUT and GET of 4 KiB and 64 KiB objects by 16 and 64 concurrent clients. Each
// Strata configuration is paired with a floor measured in the same run, over the same kind of
// listener, by the same client code:
//
//   - mem: Strata = httpapi over a tiered.Store on membackend; floor = a bare net/http
//     handler storing bodies in a map under a sync.RWMutex.
//   - local: Strata = the stack runtime.Open builds for `make run` (localbackend: bbolt,
//     fsync before acknowledging, group commit); floor = the same bare handler writing into
//     a bare bbolt database (NoSync false, so every commit fsyncs) through a minimal group
//     committer: one goroutine takes every write queued while the previous commit was
//     fsyncing and applies them in one Update. A bbolt Update per request would cap the floor
//     at the disk's fsync rate and flatter Strata; bbolt's DB.Batch would delay each group
//     by its 10 ms timer. The minimal committer is the cheapest way to make concurrent
//     writes durable, so the ratio isolates what Strata adds on top of the unavoidable
//     fsync.
//
// Tokens are signed once per client before the timer starts, so the client does not measure
// Ed25519 signing; both servers receive the same header. Every sub-benchmark reports ops/s
// (ns/op over b.N requests issued by the concurrent clients) and the p50/p99 latency of one
// request in microseconds.

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/stratastore/strata/functions/client"
	"github.com/stratastore/strata/functions/internal/auth"
	"github.com/stratastore/strata/functions/internal/config"
	"github.com/stratastore/strata/functions/internal/httpapi"
	"github.com/stratastore/strata/functions/internal/logging"
	"github.com/stratastore/strata/functions/internal/runtime"
	"github.com/stratastore/strata/tiered"
	"github.com/stratastore/strata/tiered/membackend"
)

const (
	benchKID     = "bench"
	benchUsecase = "bench"
	// benchPrefix is the collection every benchmark object lives in.
	benchPrefix = "/v1/objects/" + benchUsecase + "/org=1/"
	// benchGetKeys is how many objects a GET benchmark stores before the timer and then
	// reads round-robin.
	benchGetKeys = 256
)

// benchServer is one server under test: its base URL and a token it accepts.
type benchServer struct {
	url   string
	token string
}

// benchKey is a signing key and the key directory that trusts it.
type benchKey struct {
	priv ed25519.PrivateKey
	pub  ed25519.PublicKey
}

func newBenchKey(tb testing.TB) benchKey {
	tb.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	return benchKey{priv: priv, pub: pub}
}

// token signs a token for the bench usecase with every permission, valid for a day.
func (k benchKey) token(tb testing.TB) string {
	tb.Helper()
	tok, err := auth.SignToken(k.priv, benchKID, auth.Claims{
		Usecase:     benchUsecase,
		Scopes:      map[string]string{"org": "*"},
		Permissions: auth.AllPermissions,
		Expires:     time.Now().Add(24 * time.Hour),
	})
	if err != nil {
		tb.Fatal(err)
	}
	return tok
}

// listen serves h on a fresh 127.0.0.1 listener until the benchmark ends.
func listen(tb testing.TB, h http.Handler) string {
	tb.Helper()
	ts := httptest.NewUnstartedServer(h)
	ts.Config.ReadHeaderTimeout = 30 * time.Second // as functions/cmd/strata configures it
	ts.Start()
	tb.Cleanup(ts.Close)
	return ts.URL
}

// startMemStrata serves httpapi over a tiered.Store on membackend, auth enforced.
func startMemStrata(tb testing.TB) benchServer {
	tb.Helper()
	key := newBenchKey(tb)
	verifier, err := auth.NewVerifier(auth.KeyDirectory{benchKID: {Versions: []ed25519.PublicKey{key.pub}, MaxPermissions: auth.AllPermissions}},
		auth.Options{Enforce: true})
	if err != nil {
		tb.Fatal(err)
	}
	mem := membackend.Open(nil)
	store, err := tiered.New(mem.HighVolume(), mem.LongTerm(), mem.ChangeLog(),
		&tiered.Options{GracePeriod: -1})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = store.Close(context.Background()) })
	srv, err := httpapi.New(store, httpapi.Options{Verifier: verifier, Logger: logging.New(io.Discard, nil)})
	if err != nil {
		tb.Fatal(err)
	}
	return benchServer{url: listen(tb, srv), token: key.token(tb)}
}

// startLocalStrata serves the stack `make run` builds (runtime.Open over config.Load) on a
// fresh data directory, auth enforced. Request logs are formatted as in the binary but
// discarded.
func startLocalStrata(tb testing.TB) benchServer {
	tb.Helper()
	key := newBenchKey(tb)
	_, pubPEM, err := client.MarshalKeyPairPEM(key.priv)
	if err != nil {
		tb.Fatal(err)
	}
	dir := tb.TempDir()
	pubFile := filepath.Join(dir, "bench.pub.pem")
	if err := os.WriteFile(pubFile, pubPEM, 0o600); err != nil {
		tb.Fatal(err)
	}
	cfg, err := config.Load([]string{
		"STRATA_DATA_DIR=" + filepath.Join(dir, "data"),
		"STRATA_AUTH_ENFORCE=true",
		fmt.Sprintf(`STRATA_AUTH_KEYS={%q:{"key_files":[%q],"max_permissions":["object.read","object.write","object.delete"]}}`, benchKID, pubFile),
	})
	if err != nil {
		tb.Fatal(err)
	}
	rt, err := runtime.Open(context.Background(), cfg, logging.New(io.Discard, cfg.LogLevel))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = rt.Close(ctx)
	})
	return benchServer{url: listen(tb, rt.Server), token: key.token(tb)}
}

// floorStore is where the floor handler keeps objects.
type floorStore interface {
	put(key string, value []byte) error
	// get returns the value, or nil if there is none.
	get(key string) ([]byte, error)
}

// floorHandler is the bare net/http handler the floors use: PUT stores the body under the
// URL path and answers {"key":...} like Strata; GET answers the stored bytes. It checks
// nothing: no auth, no path grammar, no metadata.
type floorHandler struct{ store floorStore }

func (f floorHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodPut:
		var body []byte
		var err error
		if r.ContentLength >= 0 {
			body = make([]byte, r.ContentLength)
			_, err = io.ReadFull(r.Body, body)
		} else {
			body, err = io.ReadAll(r.Body)
		}
		if err == nil {
			err = f.store.put(r.URL.Path, body)
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		key := r.URL.Path[strings.LastIndexByte(r.URL.Path, '/')+1:]
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"key":`+strconv.Quote(key)+`}`)
	case http.MethodGet:
		v, err := f.store.get(r.URL.Path)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		if v == nil {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(v)))
		_, _ = w.Write(v)
	default:
		w.WriteHeader(http.StatusMethodNotAllowed)
	}
}

// mapStore is the in-memory floor: a map under a sync.RWMutex.
type mapStore struct {
	mu sync.RWMutex
	m  map[string][]byte
}

func (s *mapStore) put(key string, v []byte) error {
	s.mu.Lock()
	s.m[key] = v
	s.mu.Unlock()
	return nil
}

func (s *mapStore) get(key string) ([]byte, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.m[key], nil
}

// boltStore is the durable floor: a bare bbolt database (fsync on every commit) written
// through a minimal group committer.
type boltStore struct {
	db   *bolt.DB
	reqs chan *boltPut
}

type boltPut struct {
	key, value []byte
	done       chan error
}

var floorBucket = []byte("objects")

func openBoltStore(tb testing.TB) *boltStore {
	tb.Helper()
	db, err := bolt.Open(filepath.Join(tb.TempDir(), "floor.db"), 0o600, nil)
	if err != nil {
		tb.Fatal(err)
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(floorBucket)
		return err
	}); err != nil {
		tb.Fatal(err)
	}
	s := &boltStore{db: db, reqs: make(chan *boltPut, 1024)}
	stopped := make(chan struct{})
	go s.commitLoop(stopped)
	tb.Cleanup(func() {
		close(s.reqs)
		<-stopped
		_ = db.Close()
	})
	return s
}

// commitLoop applies every write queued while the previous commit ran in one transaction.
func (s *boltStore) commitLoop(stopped chan<- struct{}) {
	defer close(stopped)
	group := make([]*boltPut, 0, 1024)
	for first := range s.reqs {
		group = append(group[:0], first)
	drain:
		for len(group) < cap(group) {
			select {
			case p, ok := <-s.reqs:
				if !ok {
					break drain
				}
				group = append(group, p)
			default:
				break drain
			}
		}
		err := s.db.Update(func(tx *bolt.Tx) error {
			b := tx.Bucket(floorBucket)
			for _, p := range group {
				if err := b.Put(p.key, p.value); err != nil {
					return err
				}
			}
			return nil
		})
		for _, p := range group {
			p.done <- err
		}
	}
}

func (s *boltStore) put(key string, v []byte) error {
	p := &boltPut{key: []byte(key), value: v, done: make(chan error, 1)}
	s.reqs <- p
	return <-p.done
}

func (s *boltStore) get(key string) ([]byte, error) {
	var out []byte
	err := s.db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(floorBucket).Get([]byte(key)); v != nil {
			out = bytes.Clone(v)
		}
		return nil
	})
	return out, err
}

// startFloor serves the bare handler over store. Its token is sent but never checked.
func startFloor(tb testing.TB, store floorStore) benchServer {
	tb.Helper()
	return benchServer{url: listen(tb, floorHandler{store: store}), token: newBenchKey(tb).token(tb)}
}

// benchBackends are the two Strata configurations with their floors.
var benchBackends = []struct {
	name   string
	strata func(testing.TB) benchServer
	floor  func(testing.TB) benchServer
}{
	{"mem", startMemStrata, func(tb testing.TB) benchServer { return startFloor(tb, &mapStore{m: map[string][]byte{}}) }},
	{"local", startLocalStrata, func(tb testing.TB) benchServer { return startFloor(tb, openBoltStore(tb)) }},
}

// loadClient is the client of every benchmark: one keep-alive connection per concurrent
// worker, no compression.
type loadClient struct {
	http  *http.Client
	base  string
	token string
}

func newLoadClient(tb testing.TB, s benchServer, conc int) *loadClient {
	tr := &http.Transport{MaxIdleConns: conc, MaxIdleConnsPerHost: conc, DisableCompression: true, IdleConnTimeout: time.Minute}
	tb.Cleanup(tr.CloseIdleConnections)
	return &loadClient{http: &http.Client{Transport: tr}, base: s.url, token: s.token}
}

// put stores body at key and checks the status.
func (c *loadClient) put(ctx context.Context, key string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, c.base+benchPrefix+key, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("X-Os-Auth", "Bearer "+c.token)
	res, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return err
	}
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("PUT %s: %d %s", key, res.StatusCode, b)
	}
	return nil
}

// get reads key into buf (reused) and returns the bytes read.
func (c *loadClient) get(ctx context.Context, key string, buf *bytes.Buffer) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+benchPrefix+key, nil)
	if err != nil {
		return err
	}
	req.Header.Set("X-Os-Auth", "Bearer "+c.token)
	res, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	buf.Reset()
	if _, err := buf.ReadFrom(res.Body); err != nil {
		return err
	}
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %d %s", key, res.StatusCode, buf.Bytes())
	}
	return nil
}

// runConcurrent runs b.N operations on conc workers, timing each one, and reports p50-us
// and p99-us. op gets the worker number and the operation's sequence number.
func runConcurrent(b *testing.B, conc int, op func(worker, i int) error) {
	lat := make([][]time.Duration, conc)
	var next atomic.Int64
	var failed atomic.Bool
	var wg sync.WaitGroup
	b.ResetTimer()
	for w := range conc {
		wg.Go(func() {
			for !failed.Load() {
				i := int(next.Add(1) - 1)
				if i >= b.N {
					return
				}
				start := time.Now()
				err := op(w, i)
				lat[w] = append(lat[w], time.Since(start))
				if err != nil {
					failed.Store(true)
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	all := slices.Concat(lat...)
	slices.Sort(all)
	b.ReportMetric(percentile(all, 50).Seconds()*1e6, "p50-us")
	b.ReportMetric(percentile(all, 99).Seconds()*1e6, "p99-us")
}

// percentile returns the p-th percentile of sorted (nearest rank).
func percentile(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := (len(sorted)*p + 99) / 100 // ceil(n·p/100)
	return sorted[max(rank, 1)-1]
}

// payload returns size bytes that differ per object.
func payload(size int, seed int) []byte {
	b := make([]byte, size)
	for i := range b {
		b[i] = byte(i*7 + seed)
	}
	return b
}

// BenchmarkHTTPSmall is issue 6's small-object benchmark:
// {mem,local}/{put,get}/{4KiB,64KiB}/c{16,64}/{floor,strata}.
func BenchmarkHTTPSmall(b *testing.B) {
	for _, be := range benchBackends {
		for _, op := range []string{"put", "get"} {
			for _, size := range []int{4 << 10, 64 << 10} {
				for _, conc := range []int{16, 64} {
					for _, side := range []string{"floor", "strata"} {
						start := be.strata
						if side == "floor" {
							start = be.floor
						}
						name := fmt.Sprintf("%s/%s/%dKiB/c%d/%s", be.name, op, size>>10, conc, side)
						b.Run(name, func(b *testing.B) { benchSmall(b, start(b), op, size, conc) })
					}
				}
			}
		}
	}
}

func benchSmall(b *testing.B, s benchServer, op string, size, conc int) {
	c := newLoadClient(b, s, conc)
	ctx := context.Background()
	body := payload(size, 1)
	switch op {
	case "put":
		// Keys are fresh per run of the benchmark function, so every PUT inserts.
		run := strconv.FormatInt(time.Now().UnixNano(), 36)
		runConcurrent(b, conc, func(_, i int) error {
			return c.put(ctx, "p"+run+"-"+strconv.Itoa(i), body)
		})
	case "get":
		if err := fill(ctx, c, conc, body); err != nil {
			b.Fatal(err)
		}
		bufs := make([]bytes.Buffer, conc)
		for i := range bufs {
			bufs[i].Grow(size + 512)
		}
		runConcurrent(b, conc, func(w, i int) error {
			if err := c.get(ctx, "g"+strconv.Itoa(i%benchGetKeys), &bufs[w]); err != nil {
				return err
			}
			if bufs[w].Len() != size {
				return fmt.Errorf("GET returned %d bytes, want %d", bufs[w].Len(), size)
			}
			return nil
		})
	}
}

// fill stores the objects a GET benchmark reads, conc at a time.
func fill(ctx context.Context, c *loadClient, conc int, body []byte) error {
	var wg sync.WaitGroup
	errs := make(chan error, benchGetKeys)
	sem := make(chan struct{}, conc)
	for i := range benchGetKeys {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := c.put(ctx, "g"+strconv.Itoa(i), body); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// TestBenchFloorsMatchStrata checks that the benchmarks compare like with like: for each
// backend, the floor and Strata accept the same PUT (same client, same token header) and
// return the same bytes for the GET, and Strata really enforces auth.
func TestBenchFloorsMatchStrata(t *testing.T) {
	ctx := t.Context()
	for _, be := range benchBackends {
		t.Run(be.name, func(t *testing.T) {
			floor, strata := be.floor(t), be.strata(t)
			for _, size := range []int{4 << 10, 64 << 10} {
				body := payload(size, size)
				var got [2]bytes.Buffer
				for i, s := range []benchServer{floor, strata} {
					c := newLoadClient(t, s, 1)
					if err := c.put(ctx, "same", body); err != nil {
						t.Fatal(err)
					}
					if err := c.get(ctx, "same", &got[i]); err != nil {
						t.Fatal(err)
					}
				}
				if !bytes.Equal(got[0].Bytes(), body) || !bytes.Equal(got[1].Bytes(), body) {
					t.Errorf("%d bytes: floor returned %d bytes, strata %d, neither may differ from the %d stored", size, got[0].Len(), got[1].Len(), size)
				}
			}
			bad := newLoadClient(t, strata, 1)
			bad.token = newBenchKey(t).token(t) // signed by a key the server does not trust
			if err := bad.put(ctx, "denied", []byte("x")); err == nil || !strings.Contains(err.Error(), ": 401") && !strings.Contains(err.Error(), ": 403") {
				t.Errorf("PUT with an untrusted token: %v, want 401/403", err)
			}
		})
	}
}

// TestPercentile pins the nearest-rank percentile the benchmarks report.
func TestPercentile(t *testing.T) {
	var d []time.Duration
	for i := 1; i <= 100; i++ {
		d = append(d, time.Duration(i))
	}
	if p50, p99 := percentile(d, 50), percentile(d, 99); p50 != 50 || p99 != 99 {
		t.Errorf("p50 = %d, p99 = %d; want 50, 99", p50, p99)
	}
	if p := percentile(d[:1], 99); p != 1 {
		t.Errorf("p99 of one sample = %d", p)
	}
	if p := percentile(nil, 50); p != 0 {
		t.Errorf("p50 of nothing = %d", p)
	}
}
