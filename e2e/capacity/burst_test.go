package capacity

import (
	"bufio"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/fsouza/fake-gcs-server/fakestorage"

	"github.com/stratastore/strata/e2e/internal/harness"
	"github.com/stratastore/strata/functions/client"
	"github.com/stratastore/strata/tiered/backendtest"
)

const (
	mib = 1 << 20
	// The instance the test models: 256 MiB serving 40 requests at once, so that
	// slots = floor((256 − 64 − 40 × 2) MiB / (8 MiB + 1 MiB + 1 B)) = 12.
	memoryLimit = 256 * mib
	concurrency = 40
	wantSlots   = 12
	// The burst: 40 uploads of 24 MiB at once, each three GCS chunks.
	uploads    = 40
	uploadSize = 24 * mib
	bucket     = "capacity"
)

// TestCapacity_LargeUploadBurst_RSSStaysUnderMemoryLimit fires a burst of concurrent large
// uploads at a strata serve told it has 256 MiB and checks that its resident set never
// reaches that, that refused uploads are 503 with Retry-After and stored nothing, and that
// every accepted one reads back byte for byte.
func TestCapacity_LargeUploadBurst_RSSStaysUnderMemoryLimit(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	btAddr := startBigtableEmulator(t)
	gcsURL := startFakeGCS(t)
	key := harness.NewKeyPair(t)
	srv := harness.StartServer(t, t.TempDir(), key,
		"STRATA_STORAGE=emulators",
		"STRATA_BIGTABLE_PROJECT=capacity",
		"STRATA_BIGTABLE_INSTANCE=capacity",
		"STRATA_BIGTABLE_EMULATOR="+btAddr,
		"STRATA_GCS_BUCKET="+bucket,
		"STRATA_GCS_ENDPOINT="+gcsURL,
		"STRATA_INVOKER_AUTH=none",
		"STRATA_LOG_LEVEL=warning",
		"STRATA_MEMORY_LIMIT="+strconv.Itoa(memoryLimit),
		"STRATA_REQUEST_CONCURRENCY="+strconv.Itoa(concurrency),
	)
	pid := srv.Cmd.Process.Pid
	tok := token(t, key)
	idle := procStatus(t, pid)

	// Sample the server's resident set every 2 ms while the burst runs.
	var peakRSS atomic.Int64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			if st, err := readProcStatus(pid); err == nil && st.rss > peakRSS.Load() {
				peakRSS.Store(st.rss)
			}
			select {
			case <-stop:
				return
			case <-time.After(2 * time.Millisecond):
			}
		}
	}()

	hc := &http.Client{Transport: &http.Transport{MaxConnsPerHost: 0, MaxIdleConnsPerHost: uploads}}
	statuses := make([]int, uploads)
	retryAfter := make([]string, uploads)
	bodies := make([]string, uploads)
	start := make(chan struct{})
	var wg sync.WaitGroup
	began := time.Now()
	for i := range uploads {
		wg.Go(func() {
			<-start
			req, err := http.NewRequestWithContext(ctx, http.MethodPut, srv.URL+objectPath(i), newPayload(i))
			if err != nil {
				t.Error(err)
				return
			}
			req.ContentLength = uploadSize
			req.Header.Set("X-Os-Auth", "Bearer "+tok)
			res, err := hc.Do(req)
			if err != nil {
				t.Errorf("PUT %d: %v", i, err)
				return
			}
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			statuses[i], retryAfter[i], bodies[i] = res.StatusCode, res.Header.Get("Retry-After"), string(b)
		})
	}
	close(start)
	wg.Wait()
	burst := time.Since(began)
	close(stop)
	<-sampled
	after := procStatus(t, pid)

	var accepted, refused []int
	for i, st := range statuses {
		switch {
		case st == http.StatusOK:
			accepted = append(accepted, i)
		case st == http.StatusServiceUnavailable && retryAfter[i] != "" && strings.Contains(bodies[i], "too many large uploads"):
			refused = append(refused, i)
		default:
			t.Errorf("PUT %d: %d (retry-after %q) %s; want 200, or 503 with Retry-After", i, st, retryAfter[i], bodies[i])
		}
	}
	t.Logf("memory limit %s, %d slots expected; idle RSS %s; burst of %d × %s in %v: %d accepted, %d refused (503); peak RSS sampled %s, VmHWM %s",
		mibs(memoryLimit), wantSlots, mibs(idle.rss), uploads, mibs(uploadSize), burst.Round(time.Millisecond),
		len(accepted), len(refused), mibs(peakRSS.Load()), mibs(after.hwm))
	if len(accepted) == 0 {
		t.Errorf("no upload was accepted")
	}
	if len(refused) == 0 {
		t.Errorf("no upload was refused: the burst did not reach the %d slots", wantSlots)
	}
	if peak := max(peakRSS.Load(), after.hwm); peak >= memoryLimit {
		t.Errorf("peak RSS %s reached the memory limit %s", mibs(peak), mibs(memoryLimit))
	}

	// Every accepted upload reads back byte for byte; every refused one stored nothing.
	for _, i := range accepted {
		got, n := get(ctx, t, hc, srv.URL+objectPath(i), tok, http.StatusOK)
		want := sha256.New()
		_, _ = io.Copy(want, newPayload(i))
		if n != uploadSize || got != fmt.Sprintf("%x", want.Sum(nil)) {
			t.Errorf("GET %d: %d bytes, sha256 %s; want %d bytes, %x", i, n, got, uploadSize, want.Sum(nil))
		}
	}
	for _, i := range refused {
		get(ctx, t, hc, srv.URL+objectPath(i), tok, http.StatusNotFound)
	}
}

func objectPath(i int) string { return "/v1/objects/capacity/org=1/large-" + strconv.Itoa(i) }

// newPayload streams upload i's bytes: a seeded ChaCha8 stream, so each upload differs and
// the test holds none of them.
func newPayload(i int) io.Reader {
	var seed [32]byte
	seed[0] = byte(i)
	return io.LimitReader(rand.NewChaCha8(seed), uploadSize)
}

// get reads url and returns the body's sha256 and length, failing unless the status is want.
func get(ctx context.Context, t *testing.T, hc *http.Client, url, tok string, want int) (string, int64) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Os-Auth", "Bearer "+tok)
	res, err := hc.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer res.Body.Close()
	h := sha256.New()
	n, err := io.Copy(h, res.Body)
	if err != nil || res.StatusCode != want {
		t.Errorf("GET %s: %d (%v), want %d", url, res.StatusCode, err, want)
	}
	return fmt.Sprintf("%x", h.Sum(nil)), n
}

// token signs one hour-long token for the capacity usecase.
func token(t *testing.T, key harness.KeyPair) string {
	t.Helper()
	s, err := client.NewKeySigner(key.Priv, key.KID)
	if err != nil {
		t.Fatal(err)
	}
	s.TTL = time.Hour
	tok, err := s.Token(context.Background(), client.TokenScope{Usecase: "capacity", Scopes: []client.Scope{{Name: "org", Value: "*"}}})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// startBigtableEmulator starts the Bigtable emulator binary on a free port and returns its
// address; it is killed when the test ends.
func startBigtableEmulator(t *testing.T) string {
	t.Helper()
	bin, err := backendtest.LookupEmulator(backendtest.EnvCBTEmulator, backendtest.CBTEmulatorName)
	if err != nil {
		t.Fatal(err)
	}
	addr := harness.FreeAddr(t)
	host, port, _ := net.SplitHostPort(addr)
	cmd := exec.Command(bin, "-host", host, "-port", port)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return addr
		}
		if time.Now().After(deadline) {
			t.Fatalf("cbtemulator did not listen on %s", addr)
		}
	}
}

// startFakeGCS serves fake-gcs-server (in memory, in this process: its memory is not the
// server's) on a loopback listener and returns its URL.
func startFakeGCS(t *testing.T) string {
	t.Helper()
	fake, err := fakestorage.NewServerWithOptions(fakestorage.Options{NoListener: true, Writer: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	fake.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: bucket})
	ts := httptest.NewServer(fake.HTTPHandler())
	t.Cleanup(func() { ts.Close(); fake.Stop() })
	return ts.URL
}

// status is what the test reads of /proc/<pid>/status: the resident set and its peak.
type status struct{ rss, hwm int64 }

func procStatus(t *testing.T, pid int) status {
	t.Helper()
	st, err := readProcStatus(pid)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func readProcStatus(pid int) (status, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return status{}, err
	}
	defer f.Close()
	var st status
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok || (name != "VmRSS" && name != "VmHWM") {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
		if err != nil {
			return status{}, fmt.Errorf("%s: %w", name, err)
		}
		if name == "VmRSS" {
			st.rss = kb << 10
		} else {
			st.hwm = kb << 10
		}
	}
	return st, sc.Err()
}

func mibs(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/mib) }
