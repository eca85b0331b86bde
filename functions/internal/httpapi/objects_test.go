package httpapi

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stratastore/strata/functions/internal/usecase"
	"github.com/stratastore/strata/tiered"
	"github.com/stratastore/strata/tiered/backendtest"
)

// rawExchange sends a request byte for byte and returns the response's status line, its
// header lines exactly as received (names in their wire case, in wire order) and its body.
func (e *env) rawExchange(request string) (status string, headers []string, body string) {
	e.t.Helper()
	conn, err := net.Dial("tcp", e.ts.Listener.Addr().String())
	if err != nil {
		e.t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(conn, request); err != nil {
		e.t.Fatal(err)
	}
	var wire bytes.Buffer
	res, err := http.ReadResponse(bufio.NewReader(io.TeeReader(conn, &wire)), nil)
	if err != nil {
		e.t.Fatal(err)
	}
	b, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	head, _, _ := strings.Cut(wire.String(), "\r\n\r\n")
	lines := strings.Split(head, "\r\n")
	return lines[0], lines[1:], string(b)
}

func TestPutGet_WireHeaders(t *testing.T) {
	e := newEnv(t)
	res := e.do(req{method: "PUT", path: "/v1/objects/test/org=1;project=2/dir/report.txt", body: strings.NewReader("hello"),
		header: hdrs(
			"Content-Type", "text/plain; charset=utf-8",
			"Content-Encoding", "zstd",
			"X-Sn-Expiration", "ttl:1 days",
			"X-Sn-Origin", "10.0.0.1",
			"X-Sn-Filename", `my "report".txt`,
			"X-Snme-B-Key", "two",
			"X-Snme-A-Key", "one",
		)})
	if res.status != 200 || res.body != `{"key":"dir/report.txt"}` || res.header.Get("Content-Type") != "application/json" {
		t.Fatalf("PUT: %d %q %v", res.status, res.body, res.header)
	}
	status, headers, body := e.rawExchange("GET /v1/objects/test/org=1;project=2/dir/report.txt HTTP/1.1\r\nHost: x\r\n" +
		"x-os-auth: Bearer " + e.token() + "\r\nConnection: close\r\n\r\n")
	if status != "HTTP/1.1 200 OK" || body != "hello" {
		t.Fatalf("GET: %s %q", status, body)
	}
	want := map[string]string{
		"content-type":        "text/plain; charset=utf-8",
		"content-encoding":    "zstd",
		"x-sn-expiration":     "ttl:1day",
		"x-sn-time-created":   "2026-07-23T10:11:12.345678Z",
		"x-sn-time-expires":   "2026-07-24T10:11:12.345678Z",
		"x-sn-origin":         "10.0.0.1",
		"x-sn-filename":       `my "report".txt`,
		"x-snme-a-key":        "one",
		"x-snme-b-key":        "two",
		"accept-ranges":       "bytes",
		"content-disposition": `attachment; filename="my \"report\".txt"`,
	}
	got := map[string]string{}
	for _, line := range headers {
		name, value, _ := strings.Cut(line, ": ")
		if _, dup := got[name]; dup {
			t.Errorf("header %q sent twice", name)
		}
		got[name] = value
		if strings.EqualFold(name, "content-type") && name != "content-type" {
			t.Errorf("content-type sent as %q (sniffed or canonical duplicate)", name)
		}
	}
	for name, value := range want {
		if got[name] != value {
			t.Errorf("header %s = %q, want %q (wire headers: %q)", name, got[name], value, headers)
		}
	}
}

func TestPost_GeneratesUUIDv4(t *testing.T) {
	e := newEnv(t)
	uuidV4 := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	for _, path := range []string{"/v1/objects/test/org=1", "/v1/objects/test/org=1/"} {
		res := e.do(req{method: "POST", path: path, body: strings.NewReader("posted")})
		var got keyResponse
		if res.status != 201 || json.Unmarshal([]byte(res.body), &got) != nil || !uuidV4.MatchString(got.Key) {
			t.Fatalf("POST %s: %d %q", path, res.status, res.body)
		}
		if g := e.do(req{method: "GET", path: "/v1/objects/test/org=1/" + got.Key}); g.status != 200 || g.body != "posted" {
			t.Errorf("GET generated key: %d %q", g.status, g.body)
		}
	}
}

func TestHeadDelete(t *testing.T) {
	e := newEnv(t)
	e.put("k", "data", hdrs("X-Sn-Filename", "a/b.txt"))
	status, headers, body := e.rawExchange("HEAD /v1/objects/test/org=1/k HTTP/1.1\r\nHost: x\r\nx-os-auth: Bearer " + e.token() + "\r\nRange: bytes=0-1\r\nConnection: close\r\n\r\n")
	if status != "HTTP/1.1 204 No Content" || body != "" {
		t.Fatalf("HEAD: %s %q", status, body)
	}
	joined := strings.Join(headers, "\n")
	for _, want := range []string{"content-type: application/octet-stream", "accept-ranges: bytes", `content-disposition: attachment; filename="a-b.txt"`, "x-sn-time-created: "} {
		if !strings.Contains(joined, want) {
			t.Errorf("HEAD headers lack %q:\n%s", want, joined)
		}
	}
	if strings.Contains(strings.ToLower(joined), "content-range") {
		t.Errorf("HEAD must ignore Range:\n%s", joined)
	}
	for i := 0; i < 2; i++ { // idempotent
		if res := e.do(req{method: "DELETE", path: "/v1/objects/test/org=1/k"}); res.status != 204 || res.body != "" {
			t.Errorf("DELETE #%d: %d %q", i+1, res.status, res.body)
		}
	}
	res := e.do(req{method: "GET", path: "/v1/objects/test/org=1/k"})
	if res.status != 404 || res.body != "" || res.header.Get("Content-Type") != "" {
		t.Errorf("GET after DELETE: %d %q %v", res.status, res.body, res.header)
	}
	if res := e.do(req{method: "HEAD", path: "/v1/objects/test/org=1/k"}); res.status != 404 {
		t.Errorf("HEAD after DELETE: %d", res.status)
	}
}

func TestGet_Ranges(t *testing.T) {
	e := newEnv(t)
	e.put("r", "Hello, Range Requests!", nil)
	tests := []struct {
		rng, status, body, contentRange string
	}{
		{"bytes=0-4", "206", "Hello", "bytes 0-4/22"},
		{"bytes=-9", "206", "Requests!", "bytes 13-21/22"},
		{"bytes=7-", "206", "Range Requests!", "bytes 7-21/22"},
		{"bytes=20-100", "206", "s!", "bytes 20-21/22"},
		{"bytes=100-200", "416", "", "bytes */22"},
		{"bytes=22-", "416", "", "bytes */22"},
		{"bytes=0-1,5-6", "200", "Hello, Range Requests!", ""},
		{"bytes=5-1", "400", `{"detail":"client error: invalid Range header: invalid byte range"}`, ""},
		{"items=0-1", "400", `{"detail":"client error: invalid Range header: invalid range unit: items, expected: bytes"}`, ""},
	}
	for _, tt := range tests {
		res := e.do(req{method: "GET", path: "/v1/objects/test/org=1/r", header: hdrs("Range", tt.rng)})
		if strconv.Itoa(res.status) != tt.status || res.body != tt.body || res.header.Get("Content-Range") != tt.contentRange {
			t.Errorf("Range %s: %d %q content-range %q; want %s %q %q", tt.rng, res.status, res.body, res.header.Get("Content-Range"), tt.status, tt.body, tt.contentRange)
		}
		switch tt.status {
		case "206":
			if res.header.Get("Content-Length") != strconv.Itoa(len(tt.body)) || res.header.Get("Accept-Ranges") != "bytes" || res.header.Get("X-Sn-Time-Created") == "" {
				t.Errorf("Range %s: 206 headers %v", tt.rng, res.header)
			}
		case "416":
			if res.header.Get("Accept-Ranges") != "bytes" || res.header.Get("X-Sn-Time-Created") != "" {
				t.Errorf("Range %s: 416 headers %v", tt.rng, res.header)
			}
		}
	}
	if res := e.do(req{method: "GET", path: "/v1/objects/test/org=1/missing", header: hdrs("Range", "bytes=0-1")}); res.status != 404 {
		t.Errorf("missing object with Range: %d", res.status)
	}
}

func TestPut_LargeObjectStreamsToLongTerm(t *testing.T) {
	e := newEnv(t)
	payload := backendtest.RandomPayload(2 * tiered.Threshold)
	res := e.do(req{method: "PUT", path: "/v1/objects/test/org=1/big", body: bytes.NewReader(payload), header: hdrs("Content-Encoding", "zstd")})
	if res.status != 200 {
		t.Fatalf("PUT: %d %s", res.status, res.body)
	}
	if e.mlt.Len() != 1 {
		t.Errorf("long-term objects = %d, want 1", e.mlt.Len())
	}
	get := e.do(req{method: "GET", path: "/v1/objects/test/org=1/big"})
	if get.status != 200 || get.body != string(payload) || get.header.Get("Content-Encoding") != "zstd" {
		t.Errorf("GET: %d, %d bytes, encoding %q", get.status, len(get.body), get.header.Get("Content-Encoding"))
	}
	if !strings.Contains(e.logs.String(), `"backend":"long-term"`) {
		t.Errorf("request log does not name the backend:\n%s", e.logs.String())
	}
}

// TestPut_ShortBody_StoresNothing sends fewer bytes than Content-Length and half-closes: the
// store must not commit the truncated body, and the answer is 400 "error reading client
// stream" (functions/API.md §11.3).
func TestPut_ShortBody_StoresNothing(t *testing.T) {
	for _, size := range []int{10, tiered.Threshold + 100, -1} {
		e := newEnv(t)
		before := e.snapshot()
		conn, err := net.Dial("tcp", e.ts.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		head := "PUT /v1/objects/test/org=1/short HTTP/1.1\r\nHost: x\r\nx-os-auth: Bearer " + e.token() +
			"\r\nContent-Length: " + strconv.Itoa(size) + "\r\n\r\n" + strings.Repeat("x", size/2)
		if size < 0 { // a chunked stream that stops mid-chunk
			head = "PUT /v1/objects/test/org=1/short HTTP/1.1\r\nHost: x\r\nx-os-auth: Bearer " + e.token() +
				"\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n10\r\nabc"
		}
		if _, err := io.WriteString(conn, head); err != nil {
			t.Fatal(err)
		}
		_ = conn.(*net.TCPConn).CloseWrite()
		_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		res, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		conn.Close()
		if res.StatusCode != 400 || !strings.HasPrefix(string(body), `{"detail":"service error: error reading client stream: unexpected EOF"`) {
			t.Errorf("size %d: %d %s", size, res.StatusCode, body)
		}
		if g := e.do(req{method: "GET", path: "/v1/objects/test/org=1/short"}); g.status != 404 {
			t.Errorf("size %d: truncated object is visible: %d", size, g.status)
		}
		after := e.snapshot()
		if after.rows != before.rows || len(after.blobs) != len(before.blobs) {
			t.Errorf("size %d: stored data changed: %+v -> %+v", size, before, after)
		}
	}
}

func TestPut_ExpirationAndUsecasePolicy(t *testing.T) {
	policies, err := usecase.ParsePolicies(`{"test":{"expiration":{"manual":{"allowed":false},"ttl":{"max":"7d"}}}}`)
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, func(o *Options) { o.Usecases = policies })
	before := e.snapshot()
	for _, tt := range []struct{ exp, detail string }{
		{"", `{"detail":"client error: expiration policy 'manual' is not allowed for use case 'test'"}`},
		{"ttl:30d", `{"detail":"client error: expiration duration 30days exceeds maximum of 7days for use case 'test'"}`},
	} {
		h := http.Header{}
		if tt.exp != "" {
			h.Set("X-Sn-Expiration", tt.exp)
		}
		res := e.do(req{method: "PUT", path: "/v1/objects/test/org=1/k", header: h, body: strings.NewReader("x")})
		if res.status != 400 || res.body != tt.detail {
			t.Errorf("expiration %q: %d %s", tt.exp, res.status, res.body)
		}
	}
	e.unchanged("policy violations", before)
	e.put("k", "x", hdrs("X-Sn-Expiration", "tti:7d"))
	res := e.do(req{method: "GET", path: "/v1/objects/test/org=1/k"})
	if res.header.Get("X-Sn-Expiration") != "tti:7days" || res.header.Get("X-Sn-Time-Expires") != "2026-07-30T10:11:12.345678Z" {
		t.Errorf("TTI headers: %v", res.header)
	}
}

func TestInternalEndpoints(t *testing.T) {
	e := newEnv(t)
	for _, p := range []string{"/health", "/ready"} {
		res := e.do(req{method: "GET", path: p, noAuth: true})
		if res.status != 200 || res.body != "OK" || res.header.Get("Content-Type") != "text/plain; charset=utf-8" {
			t.Errorf("%s: %d %q %v", p, res.status, res.body, res.header)
		}
	}
	e.put("k", "12345", nil)
	res := e.do(req{method: "GET", path: "/keda", noAuth: true})
	if res.status != 200 || res.header.Get("Content-Type") != "text/plain; version=0.0.4; charset=utf-8" {
		t.Fatalf("/keda: %d %v", res.status, res.header)
	}
	for _, want := range []string{
		"# TYPE objectstore_bytes_total counter\nobjectstore_bytes_total 5\n",
		"objectstore_requests_total 1\n",
		"objectstore_requests_in_flight 0\n",
		"objectstore_requests_limit 10000\n",
	} {
		if !strings.Contains(res.body, want) {
			t.Errorf("/keda lacks %q:\n%s", want, res.body)
		}
	}
	e.srv.Drain()
	if res := e.do(req{method: "GET", path: "/ready", noAuth: true}); res.status != 503 || res.body != "Shutting down" {
		t.Errorf("/ready while draining: %d %q", res.status, res.body)
	}
	if res := e.do(req{method: "GET", path: "/health", noAuth: true}); res.status != 200 {
		t.Errorf("/health while draining: %d", res.status)
	}
}

// TestCleanupRecover_Internal: the private endpoints answer on the admin listener, and are
// unknown paths (404, as objectstore answers them) on the public one, with or without
// credentials and whatever the method.
func TestCleanupRecover_Internal(t *testing.T) {
	e := newEnv(t)
	task := `{"change_id":"c1","id":"test/org.1/objects/k","phase":"recorded"}`
	envelope := `{"message":{"data":"` + base64.StdEncoding.EncodeToString([]byte(task)) + `","messageId":"1"}}`
	for _, tc := range []struct {
		path, body string
		status     int
		contains   string
	}{
		{PathCleanup, "", 400, "malformed push envelope"},
		{PathCleanup, envelope, 204, ""},
		{PathRecover, "", 200, `"claimed":0`},
	} {
		res := e.do(req{method: "POST", path: tc.path, body: strings.NewReader(tc.body), admin: true})
		if res.status != tc.status || !strings.Contains(res.body, tc.contains) {
			t.Errorf("admin %s %q: %d %s", tc.path, tc.body, res.status, res.body)
		}
		for _, m := range []string{"POST", "GET", "PUT"} {
			for _, noAuth := range []bool{false, true} {
				res := e.do(req{method: m, path: tc.path, body: strings.NewReader(tc.body), noAuth: noAuth})
				if res.status != 404 || res.body != "" {
					t.Errorf("public %s %s (no auth %t): %d %q, want 404 with no body", m, tc.path, noAuth, res.status, res.body)
				}
			}
		}
	}
	// The admin listener serves no object API, and both serve the probes.
	if res := e.do(req{method: "GET", path: "/v1/objects/test/org=1/k", admin: true}); res.status != 404 {
		t.Errorf("admin GET of an object: %d, want 404", res.status)
	}
	for _, admin := range []bool{false, true} {
		if res := e.do(req{method: "GET", path: PathHealth, noAuth: true, admin: admin}); res.status != 200 {
			t.Errorf("/health (admin %t): %d", admin, res.status)
		}
	}
}

func TestRequestLog(t *testing.T) {
	e := newEnv(t)
	e.do(req{method: "PUT", path: "/v1/objects/test/org=1/k", body: strings.NewReader("abc"),
		header: hdrs("X-Cloud-Trace-Context", "0123456789abcdef0123456789abcdef/123;o=1")})
	var line map[string]any
	dec := json.NewDecoder(strings.NewReader(e.logs.String()))
	for dec.More() {
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			t.Fatal(err)
		}
		if m["msg"] == "request" {
			line = m
		}
	}
	if line == nil {
		t.Fatalf("no request line in:\n%s", e.logs.String())
	}
	want := map[string]any{
		"op": "object-put", "usecase": "test", "status": 200.0, "bytes_in": 3.0, "bytes_out": 11.0,
		"backend": "high-volume", "logging.googleapis.com/trace": "0123456789abcdef0123456789abcdef",
		"logging.googleapis.com/spanId": "123",
	}
	for k, v := range want {
		if line[k] != v {
			t.Errorf("log %s = %v, want %v", k, line[k], v)
		}
	}
	if _, ok := line["latency_ms"].(float64); !ok {
		t.Errorf("log lacks latency_ms: %v", line)
	}
}

// TestPut_RoutingThreshold checks the tier of objects at the 1 MiB boundary when the body
// arrives with a Content-Length, where net/http returns the last bytes together with io.EOF.
func TestPut_RoutingThreshold(t *testing.T) {
	for _, tt := range []struct {
		size    int
		backend string
	}{
		{tiered.Threshold, tiered.BackendHighVolume},
		{tiered.Threshold + 1, tiered.BackendLongTerm},
	} {
		e := newEnv(t)
		e.put("edge", strings.Repeat("e", tt.size), nil)
		if !strings.Contains(e.logs.String(), `"backend":"`+tt.backend+`"`) || (tt.backend == tiered.BackendLongTerm) != (e.mlt.Len() == 1) {
			t.Errorf("%d bytes: want backend %s; long-term objects %d; log:\n%s", tt.size, tt.backend, e.mlt.Len(), e.logs.String())
		}
	}
}
