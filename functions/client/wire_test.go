package client

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/md5" //nolint:gosec // test of Content-MD5
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
)

// recorded is one request as the fake server saw it.
type recorded struct {
	method string
	uri    string // the request-target exactly as sent
	header http.Header
	length int64 // Content-Length, -1 for a chunked body
	body   []byte
}

// fake is an httptest server that records every request and answers with handle.
type fake struct {
	mu     sync.Mutex
	reqs   []recorded
	handle func(w http.ResponseWriter, r *http.Request, body []byte)
	ts     *httptest.Server
}

func newFake(t *testing.T, handle func(w http.ResponseWriter, r *http.Request, body []byte)) *fake {
	t.Helper()
	f := &fake{handle: handle}
	f.ts = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		f.mu.Lock()
		f.reqs = append(f.reqs, recorded{r.Method, r.RequestURI, r.Header.Clone(), r.ContentLength, body})
		f.mu.Unlock()
		f.handle(w, r, body)
	}))
	t.Cleanup(f.ts.Close)
	return f
}

func (f *fake) requests() []recorded {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]recorded(nil), f.reqs...)
}

// testClient returns a client of f whose backoff sleeps are recorded, not slept.
func testClient(t *testing.T, f *fake, opts ...Option) (*Client, *[]time.Duration) {
	t.Helper()
	c, err := New(f.ts.URL, opts...)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	slept := &[]time.Duration{}
	c.sleep = func(ctx context.Context, d time.Duration) error {
		mu.Lock()
		*slept = append(*slept, d)
		mu.Unlock()
		return ctx.Err()
	}
	return c, slept
}

func writeJSONBody(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func TestEscapePath(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"plain", "plain"},
		{"a/b/c.json", "a/b/c.json"},
		{"with space", "with%20space"},
		{"looks%20encoded", "looks%2520encoded"},
		{"q?x#y", "q%3Fx%23y"},
		{"sub-delims:@!$&'()*+,;=", "sub-delims:@!$&'()*+,;="},
		{"unreserved-._~", "unreserved-._~"},
		{`"<>{}|\^[]` + "`", "%22%3C%3E%7B%7D%7C%5C%5E%5B%5D%60"},
		{"ü€", "%C3%BC%E2%82%AC"},
		{"tab\there", "tab%09here"},
	} {
		if got := EscapePath(tc.in); got != tc.want {
			t.Errorf("EscapePath(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestWire_PathsAndHeaders(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, _ []byte) {
		writeJSONBody(w, 200, map[string]string{"key": "k"})
	})
	c, _ := testClient(t, f, WithToken("tok"), WithCompression(false), WithUserAgent("ua/1"))
	s := c.Usecase("attachments").Scope("org", "17").Scope("project", "42")
	ctx := t.Context()
	for _, key := range []string{"a/b/c.json", "with space", "looks%20encoded", "ü?#", "semi;colon=eq"} {
		if _, err := s.Put(ctx, key, strings.NewReader("x"), ContentType("text/plain"),
			Expires(TTI(90*time.Minute)), Origin("o"), Filename("f.txt"), Meta("Trace", "abc")); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.Usecase("u").Put(ctx, "", strings.NewReader("x")); err != nil {
		t.Fatal(err)
	}
	reqs := f.requests()
	wantURIs := []string{
		"/v1/objects/attachments/org=17;project=42/a/b/c.json",
		"/v1/objects/attachments/org=17;project=42/with%20space",
		"/v1/objects/attachments/org=17;project=42/looks%2520encoded",
		"/v1/objects/attachments/org=17;project=42/%C3%BC%3F%23",
		"/v1/objects/attachments/org=17;project=42/semi;colon=eq",
		"/v1/objects/u/_/",
	}
	if len(reqs) != len(wantURIs) {
		t.Fatalf("%d requests, want %d", len(reqs), len(wantURIs))
	}
	for i, want := range wantURIs {
		if reqs[i].uri != want {
			t.Errorf("request %d: %s, want %s", i, reqs[i].uri, want)
		}
	}
	if reqs[0].length != 1 {
		t.Errorf("uncompressed upload of a known length: Content-Length %d, want 1", reqs[0].length)
	}
	if reqs[0].method != "PUT" || reqs[5].method != "POST" {
		t.Errorf("methods %s, %s; want PUT, POST", reqs[0].method, reqs[5].method)
	}
	h := reqs[0].header
	for name, want := range map[string]string{
		"X-Os-Auth": "Bearer tok", "User-Agent": "ua/1", "Content-Type": "text/plain",
		"X-Sn-Expiration": "tti:1h 30m", "X-Sn-Origin": "o", "X-Sn-Filename": "f.txt", "X-Snme-Trace": "abc",
		"Content-Encoding": "",
	} {
		if got := h.Get(name); got != want {
			t.Errorf("header %s = %q, want %q", name, got, want)
		}
	}
}

func TestSession_RejectsInvalidInputBeforeSending(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, _ []byte) { w.WriteHeader(500) })
	c, _ := testClient(t, f)
	ctx := t.Context()
	s := c.Usecase("u")
	for _, key := range []string{"", "a//b", "./a", "a/..", "a/", "/a", "ctl\x01", strings.Repeat("k", 1000)} {
		if _, err := s.Get(ctx, key); !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("Get(%q): %v, want ErrInvalidArgument", key, err)
		}
	}
	for _, bad := range []*Session{c.Usecase(""), c.Usecase("has space"), s.Scope("org", "1.5"), s.Scope("", "1"), s.Scope("a=b", "1")} {
		if err := bad.Delete(ctx, "k"); !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("Delete in %+v: %v, want ErrInvalidArgument", bad.scopeSegment(), err)
		}
	}
	if _, err := s.Put(ctx, "k", strings.NewReader("x"), Origin("ümlaut")); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("non-ASCII origin: %v", err)
	}
	if n := len(f.requests()); n != 0 {
		t.Fatalf("%d requests were sent", n)
	}
}

func TestRetry_IdempotentRetriedPostNot(t *testing.T) {
	var mu sync.Mutex
	fails := map[string]int{} // method -> failures left
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, _ []byte) {
		mu.Lock()
		left := fails[r.Method]
		fails[r.Method]--
		mu.Unlock()
		if left > 0 {
			w.WriteHeader(503)
			return
		}
		switch r.Method {
		case "GET":
			w.Write([]byte("ok"))
		case "PUT", "POST":
			writeJSONBody(w, 200, map[string]string{"key": "k"})
		default:
			w.WriteHeader(204)
		}
	})
	c, slept := testClient(t, f, WithRetries(4, 10*time.Millisecond, 40*time.Millisecond), WithCompression(false))
	s := c.Usecase("u")
	ctx := t.Context()

	set := func(method string, n int) {
		mu.Lock()
		fails[method] = n
		mu.Unlock()
	}
	count := func(method string) int {
		n := 0
		for _, r := range f.requests() {
			if r.method == method {
				n++
			}
		}
		return n
	}

	set("GET", 2)
	obj, err := s.Get(ctx, "k")
	if err != nil {
		t.Fatalf("GET after two 503s: %v", err)
	}
	obj.Body.Close()
	if n := count("GET"); n != 3 {
		t.Errorf("GET sent %d times, want 3", n)
	}
	set("DELETE", 9)
	if err := s.Delete(ctx, "k"); !IsRetryable(err) || statusOf(err) != 503 {
		t.Errorf("DELETE failing forever: %v, want 503", err)
	}
	if n := count("DELETE"); n != 4 {
		t.Errorf("DELETE sent %d times, want MaxAttempts=4", n)
	}
	// PUT with a key and a replayable body: retried, the whole body each time.
	set("PUT", 1)
	if _, err := s.Put(ctx, "k", bytes.NewReader([]byte("payload"))); err != nil {
		t.Fatalf("PUT: %v", err)
	}
	puts := 0
	for _, r := range f.requests() {
		if r.method == "PUT" {
			puts++
			if string(r.body) != "payload" {
				t.Errorf("PUT attempt body %q", r.body)
			}
		}
	}
	if puts != 2 {
		t.Errorf("PUT sent %d times, want 2", puts)
	}
	// POST without a key: never retried.
	set("POST", 1)
	if _, err := s.Put(ctx, "", bytes.NewReader([]byte("payload"))); statusOf(err) != 503 {
		t.Errorf("POST: %v, want the 503", err)
	}
	if n := count("POST"); n != 1 {
		t.Errorf("POST sent %d times, want 1", n)
	}
	// PUT of a stream that cannot be replayed and has a declared size: not retried.
	set("PUT", 1)
	pr, pw := io.Pipe()
	go func() { pw.Write([]byte("stream")); pw.Close() }()
	if _, err := s.Put(ctx, "k", pr, Size(6)); statusOf(err) != 503 {
		t.Errorf("PUT of a pipe: %v, want the 503", err)
	}
	if n := count("PUT"); n != 3 {
		t.Errorf("PUT total %d, want 3 (the pipe was sent once)", n)
	}
	// Backoff: full jitter below the doubling, capped window.
	windows := []time.Duration{10, 20, 10, 20, 40, 10} // GET 2, DELETE 3, PUT 1
	if len(*slept) != len(windows) {
		t.Fatalf("slept %d times (%v), want %d", len(*slept), *slept, len(windows))
	}
	for i, d := range *slept {
		if d < 0 || d >= windows[i]*time.Millisecond {
			t.Errorf("sleep %d = %v, want in [0, %v)", i, d, windows[i]*time.Millisecond)
		}
	}
}

func TestRetry_NotOnClientErrors(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, _ []byte) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(403)
		w.Write([]byte(`{"detail":"auth error: operation not allowed","causes":["operation not allowed"]}`))
	})
	c, _ := testClient(t, f)
	_, err := c.Usecase("u").Get(t.Context(), "k")
	var e *Error
	if !errors.As(err, &e) || e.Status != 403 || e.Detail != "auth error: operation not allowed" || !IsForbidden(err) || !IsAuth(err) {
		t.Fatalf("got %#v", err)
	}
	if n := len(f.requests()); n != 1 {
		t.Fatalf("sent %d times, want 1", n)
	}
}

func TestRetry_ConnectionErrors(t *testing.T) {
	var mu sync.Mutex
	broken := 2
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, _ []byte) {
		mu.Lock()
		drop := broken > 0
		broken--
		mu.Unlock()
		if drop {
			conn, _, err := http.NewResponseController(w).Hijack()
			if err == nil {
				conn.Close()
			}
			return
		}
		w.WriteHeader(204)
	})
	c, _ := testClient(t, f)
	if _, err := c.Usecase("u").Head(t.Context(), "k"); err != nil {
		t.Fatalf("HEAD after two dropped connections: %v", err)
	}
	if n := len(f.requests()); n != 3 {
		t.Fatalf("sent %d times, want 3", n)
	}
}

func TestRetry_HonoursContext(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, _ []byte) { w.WriteHeader(503) })
	c, err := New(f.ts.URL, WithRetries(10, time.Hour, time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = c.Usecase("u").Get(ctx, "k")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want the context's deadline", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("Get returned after %v", d)
	}
}

// mpServer is a fake multipart endpoint: it keeps parts in memory and can fail a chosen
// part number, or hold part uploads until `hold` of them are in flight at once.
type mpServer struct {
	t          *testing.T
	mu         sync.Mutex
	parts      map[int][]byte
	failPart   int
	hold       int
	inflight   int
	maxFlight  int
	reached    chan struct{}
	wasReached bool
	aborted    bool
	completed  []completedPart
	pageSize   int
	listCalls  []string
	uploadedNo []int
}

func (m *mpServer) handle(w http.ResponseWriter, r *http.Request, body []byte) {
	path := r.URL.EscapedPath()
	q := r.URL.Query()
	switch {
	case strings.HasPrefix(path, epMultipartParts+"/") && r.Method == "PUT":
		var n int
		fmt.Sscan(q.Get("part_number"), &n)
		sum := md5.Sum(body) //nolint:gosec // test
		if r.Header.Get("Content-Md5") != base64.StdEncoding.EncodeToString(sum[:]) || r.ContentLength != int64(len(body)) {
			http.Error(w, "bad md5 or length", 400)
			return
		}
		m.mu.Lock()
		m.inflight++
		m.maxFlight = max(m.maxFlight, m.inflight)
		if m.hold > 0 && m.inflight == m.hold && !m.wasReached {
			m.wasReached = true
			close(m.reached)
		}
		hold := m.hold > 0
		m.mu.Unlock()
		if hold {
			select {
			case <-m.reached:
			case <-time.After(10 * time.Second):
				m.t.Error("the parallel part uploads never reached the parallelism")
			}
		}
		m.mu.Lock()
		m.inflight--
		m.uploadedNo = append(m.uploadedNo, n)
		if n == m.failPart {
			m.mu.Unlock()
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(400)
			w.Write([]byte(`{"detail":"client error: nope"}`))
			return
		}
		m.parts[n] = body
		m.mu.Unlock()
		writeJSONBody(w, 200, map[string]string{"etag": `"` + hex.EncodeToString(sum[:]) + `"`})
	case strings.HasPrefix(path, epMultipartParts+"/") && r.Method == "GET":
		m.mu.Lock()
		defer m.mu.Unlock()
		m.listCalls = append(m.listCalls, r.URL.RawQuery)
		var marker int
		fmt.Sscan(q.Get("part_number_marker"), &marker)
		var page []Part
		truncated := false
		for n := marker + 1; n <= MaxParts; n++ {
			data, ok := m.parts[n]
			if !ok {
				continue
			}
			if len(page) == m.pageSize {
				truncated = true
				break
			}
			sum := md5.Sum(data) //nolint:gosec // test
			page = append(page, Part{Number: n, ETag: `"` + hex.EncodeToString(sum[:]) + `"`, Size: int64(len(data)), LastModified: time.Now()})
		}
		doc := map[string]any{"parts": page, "is_truncated": truncated}
		if truncated {
			doc["next_part_number_marker"] = page[len(page)-1].Number
		}
		writeJSONBody(w, 200, doc)
	case strings.HasPrefix(path, epMultipartComplete+"/"):
		var doc struct {
			Parts []completedPart `json:"parts"`
		}
		json.Unmarshal(body, &doc)
		m.mu.Lock()
		m.completed = doc.Parts
		m.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte("   \n {\"key\":\"big\"}"))
	case strings.HasPrefix(path, epMultipart+"/") && r.Method == "DELETE":
		m.mu.Lock()
		m.aborted = true
		m.mu.Unlock()
		w.WriteHeader(204)
	case strings.HasPrefix(path, epMultipart+"/"):
		writeJSONBody(w, 200, map[string]string{"key": "big", "upload_id": "up/1"})
	default:
		http.Error(w, "unexpected "+r.Method+" "+path, 500)
	}
}

// assembled concatenates the parts the complete request listed.
func (m *mpServer) assembled() []byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	var b []byte
	for _, p := range m.completed {
		b = append(b, m.parts[p.PartNumber]...)
	}
	return b
}

func newMPServer(t *testing.T) (*mpServer, *fake) {
	m := &mpServer{t: t, parts: map[int][]byte{}, reached: make(chan struct{}), pageSize: 1000}
	return m, newFake(t, m.handle)
}

// bufferGauge counts part buffers taken out of a client's pools.
type bufferGauge struct {
	mu       sync.Mutex
	cur, max int
}

func (g *bufferGauge) hook(delta int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.cur += delta
	g.max = max(g.max, g.cur)
}

func TestMultipart_SplitsInParallelWithBoundedBuffers(t *testing.T) {
	m, f := newMPServer(t)
	m.hold = 3
	c, _ := testClient(t, f, WithMultipart(10, 100, 3), WithCompression(false))
	g := &bufferGauge{}
	c.bufferOut = g.hook
	data := bytes.Repeat([]byte("0123456789abcdefghijklmnopqrstuvwxyz"), 30) // 1080 bytes: 11 parts
	// An unknown-length stream.
	key, err := c.Usecase("u").Put(t.Context(), "big", io.MultiReader(bytes.NewReader(data)))
	if err != nil {
		t.Fatal(err)
	}
	if key != "big" {
		t.Fatalf("key %q", key)
	}
	if got := m.assembled(); !bytes.Equal(got, data) {
		t.Fatalf("assembled %d bytes, want %d", len(got), len(data))
	}
	if len(m.completed) != 11 {
		t.Fatalf("%d parts, want 11", len(m.completed))
	}
	for i, p := range m.completed {
		if p.PartNumber != i+1 || len(m.parts[p.PartNumber]) != min(100, len(data)-i*100) {
			t.Errorf("part %d: %+v, %d bytes", i, p, len(m.parts[p.PartNumber]))
		}
	}
	if m.maxFlight != 3 {
		t.Errorf("at most %d parts were in flight, want the parallelism 3", m.maxFlight)
	}
	if g.max > 3 || g.max < 1 || g.cur != 0 {
		t.Errorf("buffers: max %d in use (want 1..3), %d not returned", g.max, g.cur)
	}
	for _, r := range f.requests() {
		if strings.HasPrefix(r.uri, epMultipartParts) && !strings.Contains(r.uri, "upload_id=up%2F1&part_number=") {
			t.Errorf("part request %s: upload id not query-encoded", r.uri)
		}
	}
}

func TestMultipart_UnknownLengthAtExactMultipleOfPartSize(t *testing.T) {
	m, f := newMPServer(t)
	// Deciding needs threshold/partSize+1 = 3 buffers, more than the parallelism.
	c, _ := testClient(t, f, WithMultipart(200, 100, 2), WithCompression(false))
	g := &bufferGauge{}
	c.bufferOut = g.hook
	data := bytes.Repeat([]byte{7}, 1000)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if _, err := c.Usecase("u").Put(ctx, "big", io.MultiReader(bytes.NewReader(data))); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(m.assembled(), data) || len(m.completed) != 10 {
		t.Fatalf("assembled %d bytes in %d parts", len(m.assembled()), len(m.completed))
	}
	if g.max != 3 || g.cur != 0 {
		t.Errorf("buffers: max %d (want 3), %d not returned", g.max, g.cur)
	}
}

func TestMultipart_KnownSizeAbortsOnFailure(t *testing.T) {
	m, f := newMPServer(t)
	m.failPart = 3
	c, _ := testClient(t, f, WithMultipart(100, 100, 2), WithCompression(false))
	g := &bufferGauge{}
	c.bufferOut = g.hook
	data := make([]byte, 1000)
	_, err := c.Usecase("u").Put(t.Context(), "big", bytes.NewReader(data))
	var ue *UploadError
	if !errors.As(err, &ue) || !ue.Aborted || ue.UploadID != "up/1" || statusOf(err) != 400 {
		t.Fatalf("got %v, want an aborted *UploadError carrying the 400", err)
	}
	if !m.aborted || m.completed != nil {
		t.Fatalf("aborted %v, completed %v", m.aborted, m.completed)
	}
	if g.max > 2 || g.cur != 0 {
		t.Errorf("buffers: max %d (want <= 2), %d not returned", g.max, g.cur)
	}
	if !strings.Contains(err.Error(), "part 3:") {
		t.Errorf("error %q does not name part 3", err)
	}
}

func TestMultipart_KeepFailedUploadAndResume(t *testing.T) {
	m, f := newMPServer(t)
	m.pageSize = 2 // force list paging
	c, _ := testClient(t, f, WithMultipart(100, 100, 2), WithCompression(true))
	s := c.Usecase("u")
	data := bytes.Repeat([]byte("strata "), 150) // 1050 bytes: 11 parts
	// Parts 1..4 are on the server from an earlier attempt, part 2 with other content.
	for n := 1; n <= 4; n++ {
		part := data[(n-1)*100 : n*100]
		if n == 2 {
			part = []byte("stale")
		}
		m.parts[n] = c.encoder().EncodeAll(part, nil)
	}
	key, err := s.ResumeUpload(t.Context(), "big", "up/1", bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	if key != "big" {
		t.Fatalf("key %q", key)
	}
	want := []int{2, 5, 6, 7, 8, 9, 10, 11}
	got := slices.Sorted(slices.Values(m.uploadedNo))
	if !slices.Equal(got, want) {
		t.Errorf("uploaded parts %v, want %v", got, want)
	}
	if len(m.listCalls) != 2 || m.listCalls[1] != "upload_id=up%2F1&part_number_marker=2" {
		t.Errorf("list calls %q, want two pages, the second after marker 2", m.listCalls)
	}
	dec, err := zstd.NewReader(bytes.NewReader(m.assembled()))
	if err != nil {
		t.Fatal(err)
	}
	defer dec.Close()
	plain, err := io.ReadAll(dec)
	if err != nil || !bytes.Equal(plain, data) {
		t.Fatalf("the concatenated frames decompress to %d bytes (%v), want the payload", len(plain), err)
	}
}

func TestPartMatches(t *testing.T) {
	sum := md5.Sum([]byte("abc")) //nolint:gosec // test
	tag := hex.EncodeToString(sum[:])
	for _, tc := range []struct {
		p    Part
		want bool
	}{
		{Part{ETag: `"` + tag + `"`, Size: 99}, true},
		{Part{ETag: tag}, true},
		{Part{ETag: `"` + strings.Repeat("0", 32) + `"`, Size: 3}, false},
		{Part{ETag: `"etag-1-3"`, Size: 3}, true}, // not an MD5: compared by size
		{Part{ETag: `"etag-1-4"`, Size: 4}, false},
	} {
		if got := partMatches(tc.p, sum, 3); got != tc.want {
			t.Errorf("partMatches(%+v) = %v, want %v", tc.p, got, tc.want)
		}
	}
}

func TestParseComplete(t *testing.T) {
	if key, err := parseComplete([]byte("  \n  {\"key\":\"k\"}")); err != nil || key != "k" {
		t.Errorf("success: %q %v", key, err)
	}
	_, err := parseComplete([]byte(` {"error":{"code":"InvalidPart","message":"part number 99 was not uploaded"}}`))
	var e *Error
	if !errors.As(err, &e) || e.Status != 200 || e.Code != "InvalidPart" || e.Detail != "part number 99 was not uploaded" {
		t.Errorf("error document: %#v", err)
	}
	if _, err := parseComplete([]byte("   ")); err == nil {
		t.Error("whitespace only: no error")
	}
}

func TestZstd_RoundTrip(t *testing.T) {
	var stored []byte
	var storedEncoding string
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, body []byte) {
		switch r.Method {
		case "PUT":
			stored, storedEncoding = body, r.Header.Get("Content-Encoding")
			writeJSONBody(w, 200, map[string]string{"key": "k"})
		case "GET":
			w.Header()["content-type"] = []string{"text/plain"}
			w.Header()["content-encoding"] = []string{storedEncoding}
			w.Write(stored)
		}
	})
	c, _ := testClient(t, f)
	s := c.Usecase("u")
	data := bytes.Repeat([]byte("compress me "), 10000)
	if _, err := s.Put(t.Context(), "k", bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	if storedEncoding != "zstd" || len(stored) >= len(data)/10 {
		t.Fatalf("stored %d bytes with encoding %q", len(stored), storedEncoding)
	}
	if r := f.requests()[0]; r.length != -1 {
		t.Errorf("compressed upload sent Content-Length %d, want a chunked stream", r.length)
	}
	obj, err := s.Get(t.Context(), "k")
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(obj.Body)
	obj.Body.Close()
	if err != nil || !bytes.Equal(got, data) || obj.Metadata.Compression != "" || obj.Metadata.ContentType != "text/plain" {
		t.Fatalf("Get: %d bytes, %v, metadata %+v", len(got), err, obj.Metadata)
	}
	// Multi-frame payloads (a compressed multipart object) decompress as one stream.
	enc := c.encoder()
	stored = append(enc.EncodeAll([]byte("first "), nil), enc.EncodeAll([]byte("second"), nil)...)
	obj, err = s.Get(t.Context(), "k")
	if err != nil {
		t.Fatal(err)
	}
	got, _ = io.ReadAll(obj.Body)
	obj.Body.Close()
	if string(got) != "first second" {
		t.Fatalf("multi-frame Get = %q", got)
	}
}

func TestBatch_EncodeDecode(t *testing.T) {
	const boundary = "os-boundary-000000000000000000000000deadbeef"
	var reqParts []map[string]string
	var reqBodies []string
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, body []byte) {
		req, _ := http.NewRequest("POST", "/", bytes.NewReader(body))
		req.Header.Set("Content-Type", r.Header.Get("Content-Type"))
		mr, err := req.MultipartReader()
		if err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		for {
			p, err := mr.NextRawPart()
			if err != nil {
				break
			}
			h := map[string]string{}
			for k := range p.Header {
				h[strings.ToLower(k)] = p.Header.Get(k)
			}
			b, _ := io.ReadAll(p)
			reqParts = append(reqParts, h)
			reqBodies = append(reqBodies, string(b))
		}
		w.Header()["content-type"] = []string{`multipart/form-data; boundary="` + boundary + `"`}
		w.WriteHeader(200)
		crlf := "\r\n"
		io.WriteString(w, "--"+boundary+crlf+
			"x-sn-batch-operation-index: 1"+crlf+
			"x-sn-batch-operation-key: key%2F2"+crlf+
			"x-sn-batch-operation-kind: insert"+crlf+
			"x-sn-batch-operation-status: 201 Created"+crlf+
			"content-disposition: form-data; name=part"+crlf+crlf+crlf+
			"--"+boundary+crlf+
			"x-sn-batch-operation-index: 0"+crlf+
			"x-sn-batch-operation-key: key%2D1"+crlf+
			"x-sn-batch-operation-kind: get"+crlf+
			"x-sn-batch-operation-status: 200 OK"+crlf+
			"x-sn-time-created: 2026-07-23T10:11:12.345678Z"+crlf+
			"x-snme-color: blue"+crlf+
			"content-disposition: form-data; name=part"+crlf+
			"content-type: text/plain"+crlf+crlf+
			"first object"+crlf+
			"--"+boundary+crlf+
			"x-sn-batch-operation-index: 2"+crlf+
			"x-sn-batch-operation-status: 403 Forbidden"+crlf+
			"content-disposition: form-data; name=part"+crlf+crlf+
			`{"detail":"auth error: operation not allowed","causes":["operation not allowed"]}`+crlf+
			"--"+boundary+crlf+
			"x-sn-batch-operation-index: 3"+crlf+
			"x-sn-batch-operation-status: 404 Not Found"+crlf+
			"content-disposition: form-data; name=part"+crlf+crlf+crlf+
			"--"+boundary+"--")
	})
	c, _ := testClient(t, f, WithCompression(false))
	res, err := c.Usecase("u").Scope("org", "1").Batch(t.Context(), []BatchOp{
		BatchGet("key-1"),
		BatchInsert("key/2", []byte("payload"), ContentType("text/plain"), Expires(TTL(time.Hour))),
		BatchDelete("key 3"),
		BatchHead("ümlaut"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if r := f.requests()[0]; r.uri != "/v1/objects:batch/u/org=1/" || r.method != "POST" {
		t.Errorf("request %s %s", r.method, r.uri)
	}
	wantReq := []map[string]string{
		{"x-sn-batch-operation-kind": "get", "x-sn-batch-operation-key": "key%2D1"},
		{"x-sn-batch-operation-kind": "insert", "x-sn-batch-operation-key": "key%2F2", "content-type": "text/plain", "x-sn-expiration": "ttl:1h"},
		{"x-sn-batch-operation-kind": "delete", "x-sn-batch-operation-key": "key%203"},
		{"x-sn-batch-operation-kind": "head", "x-sn-batch-operation-key": "%C3%BCmlaut"},
	}
	if len(reqParts) != len(wantReq) {
		t.Fatalf("%d request parts", len(reqParts))
	}
	for i, want := range wantReq {
		for k, v := range want {
			if reqParts[i][k] != v {
				t.Errorf("request part %d header %s = %q, want %q", i, k, reqParts[i][k], v)
			}
		}
	}
	if reqBodies[1] != "payload" || reqBodies[0] != "" {
		t.Errorf("request bodies %q", reqBodies)
	}
	if r := res[0]; r.Err != nil || string(r.Body) != "first object" || r.Key != "key-1" || r.Status != 200 ||
		r.Metadata.ContentType != "text/plain" || r.Metadata.Custom["color"] != "blue" || r.Metadata.TimeCreated.IsZero() {
		t.Errorf("get result %+v", r)
	}
	if r := res[1]; r.Err != nil || r.Key != "key/2" || r.Status != 201 || r.Kind != KindInsert {
		t.Errorf("insert result %+v", r)
	}
	var e *Error
	if r := res[2]; !errors.As(r.Err, &e) || e.Status != 403 || e.Detail != "auth error: operation not allowed" || r.Key != "key 3" || r.Kind != KindDelete {
		t.Errorf("delete result %+v", r)
	}
	if r := res[3]; !IsNotFound(r.Err) || r.Index != 3 {
		t.Errorf("head result %+v", r)
	}
}

func TestBatch_SplitsAtTheOperationLimit(t *testing.T) {
	var sizes []int
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, body []byte) {
		n := bytes.Count(body, []byte("X-Sn-Batch-Operation-Kind"))
		sizes = append(sizes, n)
		mw := newPartWriter(w)
		for i := range n {
			mw.part(i, "204 No Content")
		}
		mw.close()
	})
	c, _ := testClient(t, f)
	ops := make([]BatchOp, 2500)
	for i := range ops {
		ops[i] = BatchDelete(fmt.Sprint("k", i))
	}
	res, err := c.Usecase("u").Batch(t.Context(), ops)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(sizes) != "[1000 1000 500]" {
		t.Fatalf("request sizes %v", sizes)
	}
	for i, r := range res {
		if r.Err != nil || r.Index != i || r.Key != fmt.Sprint("k", i) {
			t.Fatalf("result %d: %+v", i, r)
		}
	}
}

// partWriter writes a minimal batch answer.
type partWriter struct {
	w        http.ResponseWriter
	boundary string
}

func newPartWriter(w http.ResponseWriter) *partWriter {
	p := &partWriter{w: w, boundary: "b0undary"}
	w.Header().Set("Content-Type", `multipart/form-data; boundary="b0undary"`)
	return p
}

func (p *partWriter) part(index int, status string) {
	fmt.Fprintf(p.w, "--%s\r\nx-sn-batch-operation-index: %d\r\nx-sn-batch-operation-status: %s\r\n\r\n\r\n", p.boundary, index, status)
}

func (p *partWriter) close() { fmt.Fprintf(p.w, "--%s--", p.boundary) }

func TestKeySigner_TokenNamesRequestScope(t *testing.T) {
	_, priv, _ := ed25519.GenerateKey(nil)
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, _ []byte) { w.WriteHeader(204) })
	c, _ := testClient(t, f, WithSigningKey(priv, "kid-1", PermRead))
	if _, err := c.Usecase("att").Scope("org", "7").Head(t.Context(), "k"); err != nil {
		t.Fatal(err)
	}
	tok, ok := strings.CutPrefix(f.requests()[0].header.Get("X-Os-Auth"), "Bearer ")
	if !ok {
		t.Fatal("no bearer token")
	}
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("token %q", tok)
	}
	hdr, _ := base64.RawURLEncoding.DecodeString(parts[0])
	claims, _ := base64.RawURLEncoding.DecodeString(parts[1])
	var h map[string]string
	var cl struct {
		Res         map[string]string `json:"res"`
		Permissions []string          `json:"permissions"`
		Exp         int64             `json:"exp"`
	}
	json.Unmarshal(hdr, &h)
	json.Unmarshal(claims, &cl)
	if h["alg"] != "EdDSA" || h["kid"] != "kid-1" || h["typ"] != "JWT" {
		t.Errorf("header %v", h)
	}
	if cl.Res["os:usecase"] != "att" || cl.Res["org"] != "7" || len(cl.Res) != 2 || fmt.Sprint(cl.Permissions) != "[object.read]" {
		t.Errorf("claims %+v", cl)
	}
	if d := time.Until(time.Unix(cl.Exp, 0)); d <= 0 || d > DefaultTokenTTL+time.Second {
		t.Errorf("token expires in %v", d)
	}
}

func TestNew_Validation(t *testing.T) {
	for _, tc := range []struct {
		url  string
		opts []Option
	}{
		{"127.0.0.1:8888", nil},
		{"ftp://host", nil},
		{"http://host?q=1", nil},
		{"http://host", []Option{WithMultipart(10, MaxPartSize+1, 1)}},
		{"http://host", []Option{WithMultipart(10, 10, 0)}},
		{"http://host", []Option{WithRetries(0, 0, 0)}},
		{"http://host", []Option{WithSigningKey(nil, "k")}},
		{"http://host", []Option{WithHTTPClient(nil)}},
	} {
		if _, err := New(tc.url, tc.opts...); err == nil {
			t.Errorf("New(%q, %d options) succeeded", tc.url, len(tc.opts))
		}
	}
	c, err := New("http://host:1/prefix/")
	if err != nil {
		t.Fatal(err)
	}
	u, err := c.Usecase("u").ObjectURL("a b")
	if err != nil || u != "http://host:1/prefix/v1/objects/u/_/a%20b" {
		t.Errorf("ObjectURL = %q, %v", u, err)
	}
}
