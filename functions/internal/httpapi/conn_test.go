package httpapi

// Hostile clients against a real listener (httptest's server sets no timeouts, like the
// functions framework's): every limit here comes from the per-request deadlines. Each
// test asserts a property (an answer arrived, a connection was cut, a request succeeded);
// the waits are only bounds that turn a hang into a failure.

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stratastore/strata/functions/internal/admission"
	"github.com/stratastore/strata/functions/internal/auth"
)

// hang bounds every wait of these tests: far above any configured deadline.
const hang = 10 * time.Second

// fastLimits are deadlines small enough for tests: a body or response may stall 300 ms,
// and must average 1000 bytes/s while the server waits on it.
func fastLimits(o *Options) {
	o.ReadTimeout, o.WriteTimeout, o.MinRate = 300*time.Millisecond, 300*time.Millisecond, 1000
}

// dial opens a raw connection to the env's server.
func (e *env) dial() net.Conn {
	e.t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(e.ts.URL, "http://"))
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { _ = conn.Close() })
	return conn
}

// readResponse reads one response from conn, failing the test if none comes within hang.
func readResponse(t *testing.T, conn net.Conn, method string) *http.Response {
	t.Helper()
	_ = conn.SetReadDeadline(time.Now().Add(hang))
	res, err := http.ReadResponse(bufio.NewReader(conn), &http.Request{Method: method})
	if err != nil {
		t.Fatalf("no response: %v", err)
	}
	return res
}

func TestConn_EarlyRejection_AnswersWhileBodyHeldBack(t *testing.T) {
	e := newEnv(t)
	readOnly := e.token(func(c *auth.Claims) { c.Permissions = []auth.Permission{auth.Read} })
	for _, tc := range []struct {
		name, method, path, headers string
		want                        int
	}{
		{"bad token", "PUT", "/v1/objects/test/org=1/k", "X-Os-Auth: Bearer nope\r\nContent-Length: 100000\r\n", 401},
		{"bad token, chunked", "PUT", "/v1/objects/test/org=1/k", "X-Os-Auth: Bearer nope\r\nTransfer-Encoding: chunked\r\n", 401},
		{"no write permission", "PUT", "/v1/objects/test/org=1/k", "X-Os-Auth: Bearer " + readOnly + "\r\nContent-Length: 100000\r\n", 403},
		{"bad metadata header", "PUT", "/v1/objects/test/org=1/k", "X-Os-Auth: Bearer " + e.token() + "\r\nX-Sn-Expiration: never-ish\r\nContent-Length: 100000\r\n", 400},
		{"complete too large", "POST", "/v1/objects:multipart:complete/test/org=1/k?upload_id=u", "X-Os-Auth: Bearer " + e.token() + "\r\nContent-Type: application/json\r\nContent-Length: 3000000\r\n", 413},
		{"complete without permission", "POST", "/v1/objects:multipart:complete/test/org=1/k?upload_id=u", "X-Os-Auth: Bearer " + readOnly + "\r\nContent-Type: application/json\r\nContent-Length: 100\r\n", 403},
		{"part without permission", "PUT", "/v1/objects:multipart:parts/test/org=1/k?upload_id=u&part_number=1", "X-Os-Auth: Bearer " + readOnly + "\r\nContent-Length: 100000\r\n", 403},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := e.snapshot()
			conn := e.dial()
			first := "x"
			if strings.Contains(tc.headers, "chunked") {
				first = "1\r\nx\r\n"
			}
			// Headers and one body byte; the rest is held back until the answer arrives.
			fmt.Fprintf(conn, "%s %s HTTP/1.1\r\nHost: strata\r\n%s\r\n%s", tc.method, tc.path, tc.headers, first)
			res := readResponse(t, conn, tc.method)
			if res.StatusCode != tc.want {
				t.Fatalf("status %d, want %d", res.StatusCode, tc.want)
			}
			if !res.Close {
				t.Error("a refused request with its body unread must close the connection")
			}
			e.unchanged(tc.name, before)
		})
	}
}

func TestConn_ExpectContinue(t *testing.T) {
	e := newEnv(t)
	t.Run("refused: no 100, the answer, the connection closed", func(t *testing.T) {
		conn := e.dial()
		fmt.Fprintf(conn, "PUT /v1/objects/test/org=1/k HTTP/1.1\r\nHost: strata\r\nX-Os-Auth: Bearer nope\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n")
		res := readResponse(t, conn, "PUT")
		if res.StatusCode != 401 {
			t.Fatalf("status %d, want 401 (and never 100 Continue)", res.StatusCode)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		_ = conn.SetReadDeadline(time.Now().Add(hang))
		if n, err := conn.Read(make([]byte, 1)); err == nil || n > 0 {
			t.Fatalf("connection still open after the refusal: read %d, %v", n, err)
		}
	})
	t.Run("accepted: 100, then the body, then 200", func(t *testing.T) {
		conn := e.dial()
		fmt.Fprintf(conn, "PUT /v1/objects/test/org=1/k HTTP/1.1\r\nHost: strata\r\nX-Os-Auth: Bearer %s\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n", e.token())
		br := bufio.NewReader(conn)
		_ = conn.SetReadDeadline(time.Now().Add(hang))
		line, err := br.ReadString('\n')
		if err != nil || !strings.HasPrefix(line, "HTTP/1.1 100") {
			t.Fatalf("first line %q, %v; want 100 Continue", line, err)
		}
		if _, err := br.ReadString('\n'); err != nil { // the blank line ending the 100
			t.Fatal(err)
		}
		fmt.Fprint(conn, "hello")
		res, err := http.ReadResponse(br, &http.Request{Method: "PUT"})
		if err != nil || res.StatusCode != 200 {
			t.Fatalf("after the body: %v, %v", res, err)
		}
	})
}

func TestConn_SlowBodyIsCut(t *testing.T) {
	e := newEnv(t, fastLimits)
	for _, size := range []int{100, 2 << 20} { // staged in memory; streamed under a permit
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			before := e.snapshot()
			conn := e.dial()
			fmt.Fprintf(conn, "PUT /v1/objects/test/org=1/slow HTTP/1.1\r\nHost: strata\r\nX-Os-Auth: Bearer %s\r\nContent-Length: %d\r\n\r\n", e.token(), size)
			// One byte every 50 ms: 20 bytes/s, far below the 1000 required.
			stop := make(chan struct{})
			defer close(stop)
			go func() {
				for i := 0; i < size; i++ {
					select {
					case <-stop:
						return
					case <-time.After(50 * time.Millisecond):
					}
					if _, err := conn.Write([]byte{'x'}); err != nil {
						return
					}
				}
			}()
			res := readResponse(t, conn, "PUT")
			if res.StatusCode != http.StatusRequestTimeout || !res.Close {
				t.Fatalf("status %d (close %v), want 408 and the connection closed", res.StatusCode, res.Close)
			}
			e.unchanged("slow body", before)
		})
	}
	t.Run("a body at the rate passes", func(t *testing.T) {
		res := e.do(req{method: "PUT", path: "/v1/objects/test/org=1/ok", body: strings.NewReader(strings.Repeat("x", 1000))})
		if res.status != 200 {
			t.Fatalf("status %d %s", res.status, res.body)
		}
	})
}

// smallReceiveBuffer makes the client's socket buffer tiny, so that a response it does not
// read fills the pipe quickly.
var smallReceiveBuffer = &net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
	var serr error
	err := c.Control(func(fd uintptr) { serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
	if err != nil {
		return err
	}
	return serr
}}

func TestConn_StalledReaderIsCut(t *testing.T) {
	e := newEnv(t, fastLimits)
	e.put("big", strings.Repeat("x", 16<<20), nil)
	conn, err := smallReceiveBuffer.Dial("tcp", strings.TrimPrefix(e.ts.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "GET /v1/objects/test/org=1/big HTTP/1.1\r\nHost: strata\r\nX-Os-Auth: Bearer %s\r\n\r\n", e.token())
	// Never read. The request must end on the server side: the write deadline cuts it.
	eventuallyWithin(t, hang, "the GET to start", func() bool { return e.srv.web.InFlight() == 1 })
	eventuallyWithin(t, hang, "the stalled GET to end", func() bool { return e.srv.web.InFlight() == 0 })
}

func TestConn_TenantIsolation(t *testing.T) {
	// Four storage permits, half per tenant, and a queue for the requests that find none
	// free (without one, org=2's 20 concurrent clients sharing two permits were refused
	// whenever both were taken at that instant: a flaky 429); generous deadlines, so that
	// the flood holds on for the whole test.
	e := newEnv(t, func(o *Options) {
		o.Concurrency = admission.NewConcurrency(4, 64, time.Second, 60).WithTenantShare(0.5)
		o.ReadTimeout, o.WriteTimeout, o.MinRate = hang, hang, 1
	})
	e.put("big", strings.Repeat("x", 16<<20), nil)
	org1 := e.token(func(c *auth.Claims) { c.Scopes = map[string]string{"org": "1"} })
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			_ = c.Close()
		}
	}()
	// Tenant org=1: 8 small and 8 large uploads that send one byte and then hold back,
	// and 4 reads of a large object that are never read.
	for i := range 16 {
		size := 100
		if i%2 == 1 {
			size = 2 << 20
		}
		conn := e.dial()
		conns = append(conns, conn)
		fmt.Fprintf(conn, "PUT /v1/objects/test/org=1/flood%d HTTP/1.1\r\nHost: strata\r\nX-Os-Auth: Bearer %s\r\nContent-Length: %d\r\n\r\nx", i, org1, size)
	}
	for range 4 {
		conn, err := smallReceiveBuffer.Dial("tcp", strings.TrimPrefix(e.ts.URL, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, conn)
		fmt.Fprintf(conn, "GET /v1/objects/test/org=1/big HTTP/1.1\r\nHost: strata\r\nX-Os-Auth: Bearer %s\r\n\r\n", org1)
	}
	// The small uploads and the reads stay in flight; the large uploads beyond org=1's share
	// of stream permits are refused (429) at once.
	eventuallyWithin(t, hang, "the flood to be in flight", func() bool { return e.srv.web.InFlight() >= 12 })
	// Tenant org=2 writes and reads: every request is admitted.
	org2 := e.token(func(c *auth.Claims) { c.Scopes = map[string]string{"org": "2"} })
	var wg sync.WaitGroup
	errs := make(chan string, 40)
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			key := fmt.Sprintf("/v1/objects/test/org=2/k%d", i)
			h := hdrs("X-Os-Auth", "Bearer "+org2)
			if res := e.do(req{method: "PUT", path: key, header: h, body: strings.NewReader("payload")}); res.status != 200 {
				errs <- fmt.Sprintf("PUT %s: %d %s", key, res.status, res.body)
				return
			}
			if res := e.do(req{method: "GET", path: key, header: h}); res.status != 200 || res.body != "payload" {
				errs <- fmt.Sprintf("GET %s: %d %s", key, res.status, res.body)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for msg := range errs {
		t.Error(msg)
	}
}

func TestConn_MemoryBudget(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.Budget = admission.NewBudget(200 << 10) })
	if res := e.do(req{method: "PUT", path: "/v1/objects/test/org=1/fits", body: strings.NewReader(strings.Repeat("x", 100<<10))}); res.status != 200 {
		t.Fatalf("within the budget: %d %s", res.status, res.body)
	}
	if used := e.srv.opts.Budget.Used(); used != 0 {
		t.Fatalf("%d bytes still reserved after the put", used)
	}
	res := e.do(req{method: "PUT", path: "/v1/objects/test/org=1/over", body: strings.NewReader(strings.Repeat("x", 300<<10))})
	if res.status != http.StatusServiceUnavailable || res.header.Get("Retry-After") != "1" {
		t.Fatalf("over the budget: %d %v %s, want 503 with retry-after", res.status, res.header, res.body)
	}
}

func TestConn_StagingChargesWhatArrived(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.Budget = admission.NewBudget(1 << 30) })
	conn := e.dial()
	// A 1 MiB body declared, one byte sent: the budget holds one step, not the megabyte.
	fmt.Fprintf(conn, "PUT /v1/objects/test/org=1/k HTTP/1.1\r\nHost: strata\r\nX-Os-Auth: Bearer %s\r\nContent-Length: %d\r\n\r\nx", e.token(), 1<<20)
	eventuallyWithin(t, hang, "the upload to be staged", func() bool { return e.srv.opts.Budget.Used() > 0 })
	if used := e.srv.opts.Budget.Used(); used > 2*stageChunk {
		t.Fatalf("%d bytes reserved for one byte received", used)
	}
}

// eventuallyWithin polls cond until it holds, failing the test after bound.
func eventuallyWithin(t *testing.T, bound time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(bound)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestConn_KeepAliveSurvivesRequests checks that a connection stays usable after requests
// whose bodies were read: the functions framework's server sets no idle timeout, so a read
// deadline a request leaves behind would close the idle connection, and a proxy reusing it
// (the load balancer) would answer the next request 502.
func TestConn_KeepAliveSurvivesRequests(t *testing.T) {
	e := newEnv(t, fastLimits)
	conn := e.dial()
	br := bufio.NewReader(conn)
	tok := e.token()
	for _, req := range []struct{ method, path, body string }{
		{"PUT", "/v1/objects/test/org=1/small", "hello"},
		{"PUT", "/v1/objects/test/org=1/empty", ""},
		{"GET", "/v1/objects/test/org=1/small", ""},
		{"HEAD", "/v1/objects/test/org=1/small", ""},
		{"DELETE", "/v1/objects/test/org=1/empty", ""},
		{"GET", "/v1/objects/test/org=1/small", ""},
	} {
		// Longer than the read timeout: a deadline left behind has passed by now.
		time.Sleep(400 * time.Millisecond)
		fmt.Fprintf(conn, "%s %s HTTP/1.1\r\nHost: strata\r\nX-Os-Auth: Bearer %s\r\nContent-Length: %d\r\n\r\n%s",
			req.method, req.path, tok, len(req.body), req.body)
		_ = conn.SetReadDeadline(time.Now().Add(hang))
		res, err := http.ReadResponse(br, &http.Request{Method: req.method})
		if err != nil {
			t.Fatalf("%s %s on a kept-alive connection: %v", req.method, req.path, err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		_ = res.Body.Close()
		if res.StatusCode >= 300 || res.Close {
			t.Fatalf("%s %s: status %d, close %t", req.method, req.path, res.StatusCode, res.Close)
		}
	}
}

// TestConn_BehindProxy sends a mix of requests through a reverse proxy that keeps its
// connections to the server alive, as a load balancer does, pausing longer than the read
// timeout between them. The server (like the functions framework's) sets no idle timeout:
// a read deadline left behind by one request, or a connection reset with body bytes
// unread, would turn a later request into the proxy's 502.
func TestConn_BehindProxy(t *testing.T) {
	e := newEnv(t, fastLimits)
	target, err := url.Parse(e.ts.URL)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httptest.NewServer(httputil.NewSingleHostReverseProxy(target))
	defer proxy.Close()
	tok := e.token()
	big := strings.Repeat("b", 2<<20)
	for i, req := range []struct {
		method, path, token, body string
		want                      int
	}{
		{"PUT", "/v1/objects/test/org=1/small", tok, "hello", 200},
		{"PUT", "/v1/objects/test/org=1/big", tok, big, 200},
		{"PUT", "/v1/objects/test/org=1/x", "nope", "y", 401},
		{"PUT", "/v1/objects/test/org=1/x", "nope", strings.Repeat("y", 100<<10), 401},
		{"GET", "/v1/objects/test/org=1/big", tok, "", 200},
		{"PUT", "/v1/objects/test/org=1/small", tok, "again", 200},
		{"PUT", "/v1/objects/test/org=1/x", "nope", "y", 401},
		{"PUT", "/v1/objects/test/org=1/small", tok, "third", 200},
	} {
		time.Sleep(400 * time.Millisecond)
		r, err := http.NewRequest(req.method, proxy.URL+req.path, strings.NewReader(req.body))
		if err != nil {
			t.Fatal(err)
		}
		r.Header.Set("X-Os-Auth", "Bearer "+req.token)
		res, err := proxy.Client().Do(r)
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		_ = res.Body.Close()
		if res.StatusCode != req.want {
			t.Fatalf("request %d (%s %s): status %d through the proxy, want %d", i, req.method, req.path, res.StatusCode, req.want)
		}
	}
}

// TestConn_LargeUploadSlots: a large put and a part upload each take a large-upload slot
// that counts the routing peek and the writer's chunk; with every slot taken both are 503
// with Retry-After before the store is called, nothing is stored, and a freed slot admits
// the next one.
func TestConn_LargeUploadSlots(t *testing.T) {
	const cost = 9 << 20
	budget := admission.NewBudget(1<<30).WithStreams(1, cost)
	e := newEnv(t, func(o *Options) { o.Budget = budget })
	_, upload := e.initiate("parts", nil)
	large := strings.Repeat("x", 2<<20)

	held, err := budget.ReserveStream(0) // another upload holds the only slot
	if err != nil {
		t.Fatal(err)
	}
	before := e.snapshot()
	res := e.do(req{method: "PUT", path: "/v1/objects/test/org=1/large", body: strings.NewReader(large)})
	if res.status != http.StatusServiceUnavailable || res.header.Get("Retry-After") != "1" || !strings.Contains(res.body, "too many large uploads") {
		t.Fatalf("large put without a slot: %d %v %s, want 503 with retry-after", res.status, res.header, res.body)
	}
	if res := e.uploadPart("parts", upload, 1, large, nil); res.status != http.StatusServiceUnavailable || res.header.Get("Retry-After") != "1" {
		t.Fatalf("part upload without a slot: %d %v %s, want 503 with retry-after", res.status, res.header, res.body)
	}
	e.unchanged("uploads refused for want of a slot", before)
	// A small put needs no slot.
	e.put("small", "fits", nil)
	if got := budget.Used(); got != cost {
		t.Errorf("Used() = %d with one slot held, want %d", got, cost)
	}

	held()
	if res := e.do(req{method: "PUT", path: "/v1/objects/test/org=1/large", body: strings.NewReader(large)}); res.status != 200 {
		t.Fatalf("large put with a free slot: %d %s", res.status, res.body)
	}
	if res := e.uploadPart("parts", upload, 1, large, nil); res.status != 200 {
		t.Fatalf("part upload with a free slot: %d %s", res.status, res.body)
	}
	if res := e.do(req{method: "GET", path: "/v1/objects/test/org=1/large"}); res.status != 200 || res.body != large {
		t.Fatalf("GET large: %d, %d bytes", res.status, len(res.body))
	}
	if budget.Used() != 0 || budget.Streams() != 0 {
		t.Errorf("after the uploads: Used() = %d, Streams() = %d, want 0, 0", budget.Used(), budget.Streams())
	}
}
