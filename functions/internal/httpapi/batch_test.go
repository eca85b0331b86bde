package httpapi

import (
	"bytes"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stratastore/strata/functions/internal/auth"
	"github.com/stratastore/strata/functions/internal/usecase"
	"github.com/stratastore/strata/functions/wire"
)

// batchPart is one operation of a test batch request.
type batchPart struct {
	header []string // name, value pairs
	body   string
}

// batchBody encodes parts as multipart/form-data with boundary "b".
func batchBody(t testing.TB, parts []batchPart) (string, *bytes.Buffer) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	if err := mw.SetBoundary("b"); err != nil {
		t.Fatal(err)
	}
	for _, p := range parts {
		h := textproto.MIMEHeader{}
		for i := 0; i+1 < len(p.header); i += 2 {
			h.Add(p.header[i], p.header[i+1])
		}
		w, err := mw.CreatePart(h)
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(w, p.body)
	}
	mw.Close()
	return mw.FormDataContentType(), &buf
}

// resultPart is one parsed response part.
type resultPart struct {
	header textproto.MIMEHeader
	body   string
}

// parseBatchResponse parses a batch response body, checking its content type.
func parseBatchResponse(t *testing.T, res response) map[int]resultPart {
	t.Helper()
	mt, params, err := mime.ParseMediaType(res.header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" || !strings.HasPrefix(params["boundary"], "os-boundary-") {
		t.Fatalf("batch content type %q", res.header.Get("Content-Type"))
	}
	mr := multipart.NewReader(strings.NewReader(res.body), params["boundary"])
	out := map[int]resultPart{}
	for {
		p, err := mr.NextRawPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("response: %v\n%s", err, res.body)
		}
		b, _ := io.ReadAll(p)
		idx, err := strconv.Atoi(p.Header.Get(wire.HeaderBatchIndex))
		if err != nil {
			t.Fatalf("part without index: %v", p.Header)
		}
		if _, dup := out[idx]; dup {
			t.Fatalf("index %d answered twice", idx)
		}
		out[idx] = resultPart{p.Header, string(b)}
	}
	return out
}

func (e *env) batch(parts []batchPart, h http.Header) response {
	e.t.Helper()
	ct, body := batchBody(e.t, parts)
	if h == nil {
		h = http.Header{}
	}
	h.Set("Content-Type", ct)
	return e.do(req{method: "POST", path: "/v1/objects:batch/test/org=1/", header: h, body: body})
}

// TestBatch_Golden pins the exact bytes of a batch response (functions/API.md §8.3, §A.2).
func TestBatch_Golden(t *testing.T) {
	e := newEnv(t)
	e.srv.newBoundary = func() string { return "os-boundary-000000000000000000000000deadbeef" }
	e.srv.batchParallelism = 1 // completion order = request order
	e.put("key-1", "first object", hdrs("Content-Type", "text/plain", "X-Snme-Note", "n", "X-Sn-Expiration", "ttl:1h"))
	res := e.batch([]batchPart{
		{[]string{"X-Sn-Batch-Operation-Kind", "insert", "X-Sn-Batch-Operation-Key", "key%2D2", "Content-Type", "text/plain"}, "second"},
		{[]string{"X-Sn-Batch-Operation-Kind", "get", "X-Sn-Batch-Operation-Key", "key%2D1"}, ""},
		{[]string{"X-Sn-Batch-Operation-Kind", "HEAD", "X-Sn-Batch-Operation-Key", "key-1"}, ""},
		{[]string{"X-Sn-Batch-Operation-Kind", "get", "X-Sn-Batch-Operation-Key", "missing"}, ""},
		{[]string{"X-Sn-Batch-Operation-Kind", "delete", "X-Sn-Batch-Operation-Key", "key-2"}, ""},
		{[]string{"X-Sn-Batch-Operation-Kind", "foo", "X-Sn-Batch-Operation-Key", "k"}, ""},
		{[]string{"X-Sn-Batch-Operation-Kind", "get"}, ""},
		{[]string{"X-Sn-Batch-Operation-Kind", "insert", "X-Sn-Batch-Operation-Key", "k", "Content-Encoding", "gzip"}, "x"},
		{[]string{"X-Sn-Batch-Operation-Kind", "get", "X-Sn-Batch-Operation-Key", "a%2F%2Fb"}, ""},
	}, nil)
	if res.status != 200 || res.header.Get("Content-Type") != `multipart/form-data; boundary="os-boundary-000000000000000000000000deadbeef"` {
		t.Fatalf("batch: %d %v", res.status, res.header)
	}
	golden := filepath.Join("testdata", "batch_response.golden")
	if *update {
		if err := os.WriteFile(golden, []byte(res.body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if res.body != string(want) {
		t.Errorf("batch response differs from %s:\n%s", golden, res.body)
	}
}

func TestBatch_Operations(t *testing.T) {
	e := newEnv(t)
	e.put("existing", "old", nil)
	large := strings.Repeat("L", 3<<20)
	e.put("large", large, nil)
	res := e.batch([]batchPart{
		{[]string{"x-sn-batch-operation-kind", "insert"}, "generated"},
		{[]string{"x-sn-batch-operation-kind", "insert", "x-sn-batch-operation-key", "existing", "x-sn-expiration", "tti:1d"}, "new"},
		{[]string{"x-sn-batch-operation-kind", "get", "x-sn-batch-operation-key", "existing"}, ""},
		{[]string{"x-sn-batch-operation-kind", "get", "x-sn-batch-operation-key", "large"}, ""},
	}, nil)
	parts := parseBatchResponse(t, res)
	if len(parts) != 4 {
		t.Fatalf("got %d parts:\n%s", len(parts), res.body)
	}
	gen := parts[0].header.Get(wire.HeaderBatchKey)
	if parts[0].header.Get(wire.HeaderBatchStatus) != "201 Created" || len(gen) != 36+4*2 { // 4 hyphens encoded as %2D
		t.Errorf("insert without key: %v", parts[0].header)
	}
	key, _ := percentDecode(gen, "key")
	if g := e.do(req{method: "GET", path: "/v1/objects/test/org=1/" + key}); g.body != "generated" {
		t.Errorf("generated key %q: %d %q", key, g.status, g.body)
	}
	if parts[1].header.Get(wire.HeaderBatchStatus) != "201 Created" {
		t.Errorf("overwriting insert: %v", parts[1].header)
	}
	// The get may run before or after the overwrite: both are fine, but it must be whole.
	if b := parts[2].body; b != "old" && b != "new" {
		t.Errorf("get body %q", b)
	}
	if parts[3].body != large || parts[3].header.Get(wire.HeaderBatchStatus) != "200 OK" {
		t.Errorf("large get: %v, %d bytes", parts[3].header, len(parts[3].body))
	}
	if g := e.do(req{method: "GET", path: "/v1/objects/test/org=1/existing"}); g.body != "new" || g.header.Get("X-Sn-Expiration") != "tti:1day" {
		t.Errorf("after batch: %q %v", g.body, g.header)
	}
}

func TestBatch_Limits(t *testing.T) {
	e := newEnv(t)
	before := e.snapshot()
	var ops []batchPart
	for i := 0; i < wire.MaxBatchOps+2; i++ {
		ops = append(ops, batchPart{[]string{"x-sn-batch-operation-kind", "head", "x-sn-batch-operation-key", "k" + strconv.Itoa(i)}, ""})
	}
	parts := parseBatchResponse(t, e.batch(ops, nil))
	if len(parts) != wire.MaxBatchOps+2 {
		t.Fatalf("%d parts", len(parts))
	}
	for i := wire.MaxBatchOps; i < wire.MaxBatchOps+2; i++ {
		p := parts[i]
		if p.header.Get(wire.HeaderBatchStatus) != "413 Payload Too Large" || p.header.Get(wire.HeaderBatchKey) != "" ||
			p.body != `{"detail":"batch error: batch limit exceeded: exceeded 1000 operations per batch request"}` {
			t.Errorf("op %d: %v %s", i, p.header, p.body)
		}
	}
	if p := parts[wire.MaxBatchOps-1]; p.header.Get(wire.HeaderBatchStatus) != "404 Not Found" || p.header.Get(wire.HeaderBatchKind) != "head" {
		t.Errorf("op 999: %v", p.header)
	}
	big := strings.Repeat("x", wire.MaxBatchInsert+1)
	parts = parseBatchResponse(t, e.batch([]batchPart{
		{[]string{"x-sn-batch-operation-kind", "insert", "x-sn-batch-operation-key", "big"}, big},
		{[]string{"x-sn-batch-operation-kind", "insert", "x-sn-batch-operation-key", "fits"}, big[1:]},
	}, nil))
	if p := parts[0]; p.header.Get(wire.HeaderBatchStatus) != "413 Payload Too Large" ||
		p.body != `{"detail":"batch error: batch limit exceeded: individual request in batch exceeds body size limit of 1048576 bytes"}` {
		t.Errorf("oversized insert: %v %s", p.header, p.body)
	}
	if p := parts[1]; p.header.Get(wire.HeaderBatchStatus) != "201 Created" {
		t.Errorf("1 MiB insert: %v %s", p.header, p.body)
	}
	after := e.snapshot()
	if after.rows != before.rows+1 {
		t.Errorf("rows %d -> %d, want exactly the 1 MiB insert stored", before.rows, after.rows)
	}
}

func TestBatch_PerOperationPermissions(t *testing.T) {
	e := newEnv(t)
	e.put("k", "v", nil)
	before := e.snapshot()
	readOnly := hdrs("X-Os-Auth", "Bearer "+e.token(func(c *auth.Claims) { c.Permissions = []auth.Permission{auth.Read} }))
	parts := parseBatchResponse(t, e.batch([]batchPart{
		{[]string{"x-sn-batch-operation-kind", "get", "x-sn-batch-operation-key", "k"}, ""},
		{[]string{"x-sn-batch-operation-kind", "insert", "x-sn-batch-operation-key", "k"}, "overwrite"},
		{[]string{"x-sn-batch-operation-kind", "delete", "x-sn-batch-operation-key", "k"}, ""},
	}, readOnly))
	if parts[0].body != "v" || parts[0].header.Get(wire.HeaderBatchStatus) != "200 OK" {
		t.Errorf("get: %v %q", parts[0].header, parts[0].body)
	}
	for _, i := range []int{1, 2} {
		if p := parts[i]; p.header.Get(wire.HeaderBatchStatus) != "403 Forbidden" ||
			p.body != `{"detail":"auth error: operation not allowed","causes":["operation not allowed"]}` {
			t.Errorf("op %d: %v %s", i, p.header, p.body)
		}
	}
	e.unchanged("denied batch operations", before)
}

// TestBatch_UsecasePolicy: a batch insert that breaks its usecase's expiration rules fails
// in its own part with the single PUT's 400 body, and stores nothing.
func TestBatch_UsecasePolicy(t *testing.T) {
	policies, err := usecase.ParsePolicies(`{"test":{"expiration":{"ttl":{"max":"7d"}}}}`)
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, func(o *Options) { o.Usecases = policies })
	before := e.snapshot()
	parts := parseBatchResponse(t, e.batch([]batchPart{
		{[]string{"x-sn-batch-operation-kind", "insert", "x-sn-batch-operation-key", "k", "x-sn-expiration", "ttl:30d"}, "x"},
	}, nil))
	if p := parts[0]; p.header.Get(wire.HeaderBatchStatus) != "400 Bad Request" ||
		p.body != `{"detail":"client error: expiration duration 30days exceeds maximum of 7days for use case 'test'"}` {
		t.Errorf("policy violation: %v %s", p.header, p.body)
	}
	e.unchanged("batch policy violation", before)
}

func TestBatch_RequestErrors(t *testing.T) {
	e := newEnv(t)
	e.put("k", "v", nil)
	_, body := batchBody(t, []batchPart{{[]string{"x-sn-batch-operation-kind", "delete", "x-sn-batch-operation-key", "k"}, ""}})
	boundaryErr := "Invalid `boundary` for `multipart/form-data` request"
	e.checkErrors([]errCase{
		{"no content type", req{method: "POST", path: "/v1/objects:batch/test/org=1/", body: bytes.NewReader(body.Bytes())}, 400, boundaryErr, ctText},
		{"no boundary", req{method: "POST", path: "/v1/objects:batch/test/org=1/", header: hdrs("Content-Type", "multipart/form-data"), body: bytes.NewReader(body.Bytes())}, 400, boundaryErr, ctText},
		{"not multipart", req{method: "POST", path: "/v1/objects:batch/test/org=1/", header: hdrs("Content-Type", "application/json"), body: bytes.NewReader(body.Bytes())}, 400, boundaryErr, ctText},
		{"missing token", req{method: "POST", path: "/v1/objects:batch/test/org=1/", noAuth: true, header: hdrs("Content-Type", "multipart/form-data; boundary=b"), body: bytes.NewReader(body.Bytes())}, 400,
			`{"detail":"auth error: bad request: No authorization token provided","causes":["bad request: No authorization token provided"]}`, ctJSON},
	})
	// A malformed body fails the operation it reaches, inside a 200.
	before := e.snapshot()
	res := e.do(req{method: "POST", path: "/v1/objects:batch/test/org=1/", header: hdrs("Content-Type", "multipart/form-data; boundary=b"),
		body: strings.NewReader("--b\r\nx-sn-batch-operation-kind: head\r\nx-sn-batch-operation-key: k\r\n\r\n\r\n--b\r\nbroken header line\r\n\r\n")})
	parts := parseBatchResponse(t, res)
	if res.status != 200 || len(parts) < 2 || parts[1].header.Get(wire.HeaderBatchStatus) != "400 Bad Request" ||
		!strings.HasPrefix(parts[1].body, `{"detail":"batch error: bad request: `) {
		t.Errorf("malformed part: %d %v", res.status, parts)
	}
	e.unchanged("malformed batch body", before)
	// Empty batch: just the closing delimiter.
	res = e.do(req{method: "POST", path: "/v1/objects:batch/test/org=1/", header: hdrs("Content-Type", "multipart/form-data; boundary=b"), body: strings.NewReader("--b--\r\n")})
	_, params, _ := mime.ParseMediaType(res.header.Get("Content-Type"))
	if res.status != 200 || res.body != "--"+params["boundary"]+"--" {
		t.Errorf("empty batch: %d %q", res.status, res.body)
	}
}

func ExampleRoutesJSON() {
	b, _ := RoutesJSON()
	fmt.Println(strings.Contains(string(b), `"prefix": "/v1/objects:batch/"`))
	// Output: true
}

// TestBatchLimitErrors_NameTheWireLimits keeps objectstore's fixed error texts in step with
// the limits the codec enforces.
func TestBatchLimitErrors_NameTheWireLimits(t *testing.T) {
	for _, tc := range []struct {
		err   *httpError
		limit int
	}{{errBatchTooMany, wire.MaxBatchOps}, {errBatchInsert, wire.MaxBatchInsert}, {errBatchBody, wire.MaxBatchBody}} {
		if !strings.Contains(tc.err.detail, " "+strconv.Itoa(tc.limit)+" ") || tc.err.status != http.StatusRequestEntityTooLarge {
			t.Errorf("%d %q does not name the limit %d", tc.err.status, tc.err.detail, tc.limit)
		}
	}
}
