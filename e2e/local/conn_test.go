package local

// Connection handling of `strata serve` (functions/API.md §12.4): the server-level timeouts
// the local binary sets, and, as a benchmark (make conn-report), the security review's flood
// scenario measured end to end.

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stratastore/strata/functions/client"
)

// connBound bounds every wait of these tests; it is far above the configured timeouts.
const connBound = 15 * time.Second

func hostOf(s *server) string { return strings.TrimPrefix(s.URL, "http://") }

// closedWithin reports whether the server closes conn within d (reading and discarding
// anything it still sends).
func closedWithin(conn net.Conn, d time.Duration) bool {
	_ = conn.SetReadDeadline(time.Now().Add(d))
	_, err := io.Copy(io.Discard, conn)
	var ne net.Error
	return err == nil || !(asNetError(err, &ne) && ne.Timeout())
}

func asNetError(err error, target *net.Error) bool {
	ne, ok := err.(net.Error) //nolint:errorlint // the conn's own error
	*target = ne
	return ok
}

func TestServe_ConnectionTimeouts(t *testing.T) {
	k := newKeys(t)
	s := start(t, t.TempDir(), k, "STRATA_IDLE_TIMEOUT=1s", "STRATA_READ_HEADER_TIMEOUT=1s",
		"STRATA_READ_TIMEOUT=1s", "STRATA_WRITE_TIMEOUT=1s")
	t.Run("idle keep-alive connection closed", func(t *testing.T) {
		conn, err := net.Dial("tcp", hostOf(s))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		fmt.Fprint(conn, "GET /health HTTP/1.1\r\nHost: strata\r\n\r\n")
		res, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil || res.StatusCode != 200 || res.Close {
			t.Fatalf("health: %v %v", res, err)
		}
		if !closedWithin(conn, connBound) {
			t.Fatal("an idle keep-alive connection stayed open")
		}
	})
	t.Run("slow headers cut", func(t *testing.T) {
		conn, err := net.Dial("tcp", hostOf(s))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		fmt.Fprint(conn, "GET /health HTTP/1.1\r\nHost: str")
		if !closedWithin(conn, connBound) {
			t.Fatal("a connection that never finished its headers stayed open")
		}
	})
	t.Run("trickling upload cut, nothing stored", func(t *testing.T) {
		conn, err := net.Dial("tcp", hostOf(s))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		fmt.Fprintf(conn, "PUT /v1/objects/%s/%s/trickle HTTP/1.1\r\nHost: strata\r\nX-Os-Auth: Bearer %s\r\nContent-Length: 100\r\n\r\nx",
			usecase, scopePath, token(t, k.Full.Priv, k.Full.KID))
		_ = conn.SetReadDeadline(time.Now().Add(connBound))
		res, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil || res.StatusCode != http.StatusRequestTimeout {
			t.Fatalf("trickling upload: %v %v, want 408", res, err)
		}
		res, _ = rawDo(t, "GET", objectURL(s, "trickle"), bearer(t, k.Full), nil)
		if res.StatusCode != 404 {
			t.Fatalf("the cut upload was stored: GET %d", res.StatusCode)
		}
	})
	t.Run("bad token answered before the body", func(t *testing.T) {
		conn, err := net.Dial("tcp", hostOf(s))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		fmt.Fprintf(conn, "PUT /v1/objects/%s/%s/k HTTP/1.1\r\nHost: strata\r\nX-Os-Auth: Bearer nope\r\nContent-Length: 100\r\n\r\nx", usecase, scopePath)
		_ = conn.SetReadDeadline(time.Now().Add(connBound))
		res, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil || res.StatusCode != 401 {
			t.Fatalf("bad token: %v %v, want 401", res, err)
		}
	})
	stopTerm(t, s)
}

// orgToken signs a full-permission token for the test usecase with scope org=value.
func orgToken(t testing.TB, k keySet, value string) string {
	t.Helper()
	tok, err := client.SignToken(k.Full.Priv, k.Full.KID, client.Claims{
		Usecase: usecase, Scopes: map[string]string{scopeName: value},
		Permissions: client.AllPermissions, Expires: time.Now().Add(time.Hour),
	})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// BenchmarkReport_ConnectionFlood reproduces the security review's scenario against `strata
// serve` with auth enforced and the default limits: tenant org=1 keeps 500 uploads
// trickling one byte every 5 s (reconnecting when cut) and 20 reads of a 48 MiB object
// that it never reads, while tenant org=17 reads a small object in a loop and bad-token
// one-byte uploads probe the early rejection. It reports org=17's success rate and p99
// latency, how long the slow connections lasted, and the 401 latency. It is a measurement
// of about 75 s, not a test: `make conn-report` runs it once (-benchtime=1x).
func BenchmarkReport_ConnectionFlood(b *testing.B) {
	var t testing.TB = b
	const (
		tricklers = 500
		stalled   = 20
		readers   = 8
		duration  = 65 * time.Second
		deadline  = 30 * time.Second // STRATA_READ_TIMEOUT and STRATA_WRITE_TIMEOUT defaults
	)
	k := newKeys(t)
	s := start(t, t.TempDir(), k)
	org1, org17 := orgToken(t, k, "1"), orgToken(t, k, scopeValue)
	put := func(scope, tok, key string, size int) {
		req, _ := http.NewRequest("PUT", s.URL+"/v1/objects/"+usecase+"/"+scopeName+"="+scope+"/"+key, strings.NewReader(strings.Repeat("x", size)))
		req.Header.Set("X-Os-Auth", "Bearer "+tok)
		res, err := http.DefaultClient.Do(req)
		if err != nil || res.StatusCode != 200 {
			t.Fatalf("PUT %s: %v %v", key, res, err)
		}
		res.Body.Close()
	}
	put("1", org1, "big", 48<<20)
	put(scopeValue, org17, "small", 1024)

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	var cutAfter []time.Duration // how long each slow connection lasted
	var statuses = map[int]int{}
	record := func(d time.Duration, status int) {
		mu.Lock()
		cutAfter = append(cutAfter, d)
		statuses[status]++
		mu.Unlock()
	}
	// org=1: trickling uploads, one byte every 5 s, reconnecting when cut.
	for i := range tricklers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				conn, err := net.Dial("tcp", hostOf(s))
				if err != nil {
					time.Sleep(time.Second)
					continue
				}
				began := time.Now()
				fmt.Fprintf(conn, "PUT /v1/objects/%s/org=1/t%d-%d HTTP/1.1\r\nHost: strata\r\nX-Os-Auth: Bearer %s\r\nContent-Length: 1048576\r\n\r\n", usecase, i, n, org1)
				answered := make(chan int, 1)
				go func() {
					_ = conn.SetReadDeadline(time.Now().Add(duration + deadline))
					res, err := http.ReadResponse(bufio.NewReader(conn), nil)
					if err != nil {
						answered <- 0
						return
					}
					answered <- res.StatusCode
				}()
				tick := time.NewTicker(5 * time.Second)
			trickle:
				for {
					select {
					case status := <-answered:
						record(time.Since(began), status)
						break trickle
					case <-stop:
						break trickle
					case <-tick.C:
						_, _ = conn.Write([]byte{'x'})
					}
				}
				tick.Stop()
				conn.Close()
			}
		}()
	}
	// org=1: reads of a 48 MiB object that are never read.
	var stalledCut []time.Duration
	var stalledMu sync.Mutex
	for range stalled {
		wg.Add(1)
		go func() {
			defer wg.Done()
			conn, err := smallBuffer.Dial("tcp", hostOf(s))
			if err != nil {
				return
			}
			defer conn.Close()
			began := time.Now()
			fmt.Fprintf(conn, "GET /v1/objects/%s/org=1/big HTTP/1.1\r\nHost: strata\r\nX-Os-Auth: Bearer %s\r\n\r\n", usecase, org1)
			// Stall for a while, then drain to see when the server cut the response.
			select {
			case <-stop:
			case <-time.After(deadline + 10*time.Second):
			}
			_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
			n, _ := io.Copy(io.Discard, conn)
			if n < 48<<20 {
				stalledMu.Lock()
				stalledCut = append(stalledCut, time.Since(began))
				stalledMu.Unlock()
			}
		}()
	}
	time.Sleep(3 * time.Second) // let the flood build up
	// org=17: reads in a loop; bad-token probes every second.
	var ok, failed atomic.Int64
	var latMu sync.Mutex
	var lat, probes []time.Duration
	client17 := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: readers}, Timeout: 10 * time.Second}
	end := time.Now().Add(duration - 3*time.Second)
	var rwg sync.WaitGroup
	for range readers {
		rwg.Add(1)
		go func() {
			defer rwg.Done()
			for time.Now().Before(end) {
				req, _ := http.NewRequest("GET", objectURL(s, "small"), nil)
				req.Header.Set("X-Os-Auth", "Bearer "+org17)
				began := time.Now()
				res, err := client17.Do(req)
				if err == nil {
					_, err = io.Copy(io.Discard, res.Body)
					res.Body.Close()
				}
				d := time.Since(began)
				if err != nil || res.StatusCode != 200 {
					failed.Add(1)
				} else {
					ok.Add(1)
				}
				latMu.Lock()
				lat = append(lat, d)
				latMu.Unlock()
				time.Sleep(20 * time.Millisecond)
			}
		}()
	}
	rwg.Add(1)
	go func() {
		defer rwg.Done()
		for time.Now().Before(end) {
			conn, err := net.Dial("tcp", hostOf(s))
			if err == nil {
				began := time.Now()
				fmt.Fprintf(conn, "PUT /v1/objects/%s/%s/probe HTTP/1.1\r\nHost: strata\r\nX-Os-Auth: Bearer bad\r\nContent-Length: 100\r\n\r\nx", usecase, scopePath)
				_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
				res, err := http.ReadResponse(bufio.NewReader(conn), nil)
				d := time.Since(began)
				if err != nil || res.StatusCode != 401 {
					d = -1
				}
				latMu.Lock()
				probes = append(probes, d)
				latMu.Unlock()
				conn.Close()
			}
			time.Sleep(time.Second)
		}
	}()
	rwg.Wait()
	close(stop)
	wg.Wait()

	pct := func(ds []time.Duration, p float64) time.Duration {
		if len(ds) == 0 {
			return 0
		}
		ds = slices.Clone(ds)
		slices.Sort(ds)
		return ds[min(len(ds)-1, int(float64(len(ds))*p))]
	}
	total := ok.Load() + failed.Load()
	rate := float64(ok.Load()) / float64(max(total, 1)) * 100
	badProbes := 0
	for _, d := range probes {
		if d < 0 {
			badProbes++
		}
	}
	t.Logf("org=17 reads: %d, success %.2f%%, p50 %v, p99 %v, max %v", total, rate, pct(lat, 0.5), pct(lat, 0.99), pct(lat, 1))
	t.Logf("org=1 trickling uploads cut: %d (statuses %v), lasted p50 %v, max %v (deadline %v)", len(cutAfter), statuses, pct(cutAfter, 0.5), pct(cutAfter, 1), deadline)
	t.Logf("org=1 stalled 48 MiB reads cut short: %d of %d", len(stalledCut), stalled)
	t.Logf("bad-token 1-byte uploads: %d probes, %d without a 401, 401 latency p50 %v, max %v", len(probes), badProbes, pct(probes, 0.5), pct(probes, 1))
	if rate < 99 || pct(lat, 0.99) >= time.Second {
		t.Errorf("org=17 targets missed: success %.2f%% (want ≥ 99%%), p99 %v (want < 1s)", rate, pct(lat, 0.99))
	}
	if pct(cutAfter, 1) > deadline+5*time.Second || len(cutAfter) == 0 {
		t.Errorf("slow uploads not cut within the deadline: %d cut, longest %v", len(cutAfter), pct(cutAfter, 1))
	}
	if badProbes > 0 || pct(probes, 1) >= time.Second {
		t.Errorf("bad-token uploads: %d without a 401, slowest %v (want < 1s)", badProbes, pct(probes, 1))
	}
	stopTerm(t, s)
}

// smallBuffer dials with a 4 KiB receive buffer, so that an unread response fills the pipe.
var smallBuffer = &net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
	var serr error
	if err := c.Control(func(fd uintptr) { serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) }); err != nil {
		return err
	}
	return serr
}}
