package httpapi

import (
	"crypto/md5"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stratastore/strata/functions/internal/auth"
	"github.com/stratastore/strata/tiered/backendtest"
)

// initiate starts an upload for key (or a server key when key is "") and returns key and
// upload id.
func (e *env) initiate(key string, h http.Header) (string, string) {
	e.t.Helper()
	r := req{method: "PUT", path: "/v1/objects:multipart/test/org=1/" + key, header: h}
	if key == "" {
		r = req{method: "POST", path: "/v1/objects:multipart/test/org=1", header: h}
	}
	res := e.do(r)
	var out struct {
		Key      string `json:"key"`
		UploadID string `json:"upload_id"`
	}
	if res.status != 200 || json.Unmarshal([]byte(res.body), &out) != nil || out.UploadID == "" {
		e.t.Fatalf("initiate %q: %d %s", key, res.status, res.body)
	}
	return out.Key, out.UploadID
}

func (e *env) uploadPart(key, upload string, n int, data string, h http.Header) response {
	e.t.Helper()
	return e.do(req{method: "PUT", path: "/v1/objects:multipart:parts/test/org=1/" + key + "?upload_id=" + upload + "&part_number=" + strconv.Itoa(n),
		header: h, body: strings.NewReader(data)})
}

func (e *env) complete(key, upload, body string) response {
	e.t.Helper()
	return e.do(req{method: "POST", path: "/v1/objects:multipart:complete/test/org=1/" + key + "?upload_id=" + upload,
		header: hdrs("Content-Type", "application/json"), body: strings.NewReader(body)})
}

func etagOf(t *testing.T, res response) string {
	t.Helper()
	var out struct {
		ETag string `json:"etag"`
	}
	if res.status != 200 || json.Unmarshal([]byte(res.body), &out) != nil || out.ETag == "" {
		t.Fatalf("upload part: %d %s", res.status, res.body)
	}
	return out.ETag
}

func TestMultipart_Flow(t *testing.T) {
	e := newEnv(t)
	key, upload := e.initiate("mp/key", hdrs("Content-Type", "text/plain", "X-Sn-Expiration", "ttl:2h", "X-Snme-Origin", "mp"))
	if key != "mp/key" {
		t.Errorf("key = %q", key)
	}
	sum := md5.Sum([]byte("hello "))
	e1 := etagOf(t, e.uploadPart(key, upload, 1, "hello ", hdrs("Content-Md5", base64.StdEncoding.EncodeToString(sum[:]))))
	e2 := etagOf(t, e.uploadPart(key, upload, 2, "world", nil))
	_ = etagOf(t, e.uploadPart(key, upload, 3, "unused", nil))

	res := e.do(req{method: "GET", path: "/v1/objects:multipart:parts/test/org=1/" + key + "?upload_id=" + upload + "&max_parts=2"})
	wantList := `{"parts":[{"part_number":1,"etag":` + strconv.Quote(e1) + `,"last_modified":"2026-07-23T10:11:12.345678000Z","size":6},` +
		`{"part_number":2,"etag":` + strconv.Quote(e2) + `,"last_modified":"2026-07-23T10:11:12.345678000Z","size":5}],"is_truncated":true,"next_part_number_marker":2}`
	if res.status != 200 || res.body != wantList {
		t.Errorf("list parts:\n got %d %s\nwant %s", res.status, res.body, wantList)
	}
	res = e.do(req{method: "GET", path: "/v1/objects:multipart:parts/test/org=1/" + key + "?upload_id=" + upload + "&part_number_marker=2"})
	if res.status != 200 || !strings.Contains(res.body, `"part_number":3`) || !strings.HasSuffix(res.body, `"is_truncated":false}`) {
		t.Errorf("list parts page 2: %d %s", res.status, res.body)
	}

	res = e.complete(key, upload, `{"parts":[{"part_number":1,"etag":`+strconv.Quote(e1)+`},{"part_number":2,"etag":`+strconv.Quote(e2)+`}]}`)
	if res.status != 200 || strings.TrimLeft(res.body, " ") != `{"key":"mp/key"}` {
		t.Fatalf("complete: %d %q", res.status, res.body)
	}
	get := e.do(req{method: "GET", path: "/v1/objects/test/org=1/mp/key"})
	if get.body != "hello world" || get.header.Get("Content-Type") != "text/plain" || get.header.Get("X-Sn-Expiration") != "ttl:2h" ||
		get.header.Get("X-Snme-Origin") != "mp" || get.header.Get("X-Sn-Time-Created") != "2026-07-23T10:11:12.345678Z" {
		t.Errorf("completed object: %q %v", get.body, get.header)
	}
}

func TestMultipart_InitiateWithServerKey(t *testing.T) {
	e := newEnv(t)
	uuidV4 := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	key, upload := e.initiate("", nil)
	if !uuidV4.MatchString(key) {
		t.Errorf("server key %q", key)
	}
	res := e.do(req{method: "POST", path: "/v1/objects:multipart/test/org=1/"})
	if res.status != 200 || !strings.Contains(res.body, `"upload_id"`) {
		t.Errorf("POST with slash: %d %s", res.status, res.body)
	}
	if res := e.do(req{method: "DELETE", path: "/v1/objects:multipart/test/org=1/" + key + "?upload_id=" + upload}); res.status != 204 || res.body != "" {
		t.Errorf("abort: %d %q", res.status, res.body)
	}
	if res := e.do(req{method: "DELETE", path: "/v1/objects:multipart/test/org=1/" + key + "?upload_id=" + upload}); res.status != 204 {
		t.Errorf("abort twice: %d %q", res.status, res.body)
	}
}

// TestMultipart_CompleteKeepAlive checks the streamed answer of a slow complete: 200 at
// once, space bytes while it runs, then one JSON document.
func TestMultipart_CompleteKeepAlive(t *testing.T) {
	defer func(d time.Duration) { completeKeepAlive = d }(completeKeepAlive)
	completeKeepAlive = 5 * time.Millisecond
	e := newEnv(t)
	key, upload := e.initiate("slow", nil)
	et := etagOf(t, e.uploadPart(key, upload, 1, "data", nil))
	gate := backendtest.NewGate()
	e.lt.Add(gate.After(backendtest.OpComplete))
	go func() {
		<-gate.Reached
		time.Sleep(60 * time.Millisecond)
		gate.Release()
	}()
	res := e.complete(key, upload, `{"parts":[{"part_number":1,"etag":`+strconv.Quote(et)+`}]}`)
	json := strings.TrimLeft(res.body, " ")
	if res.status != 200 || json != `{"key":"slow"}` || len(res.body)-len(json) < 2 || res.header.Get("Content-Type") != "application/json" {
		t.Errorf("complete: %d %q", res.status, res.body)
	}
}

func TestMultipart_CompleteFailures(t *testing.T) {
	e := newEnv(t)
	key, upload := e.initiate("k", nil)
	et := etagOf(t, e.uploadPart(key, upload, 1, "data", nil))
	// Reported by the store: 200 with an error document; the upload survives.
	res := e.complete(key, upload, `{"parts":[{"part_number":1,"etag":"\"wrong\""}]}`)
	var doc struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	if res.status != 200 || json.Unmarshal([]byte(strings.TrimSpace(res.body)), &doc) != nil || doc.Error.Code == "" {
		t.Errorf("etag mismatch: %d %s", res.status, res.body)
	}
	if g := e.do(req{method: "GET", path: "/v1/objects/test/org=1/k"}); g.status != 404 {
		t.Errorf("failed complete made the object visible: %d", g.status)
	}
	before := e.snapshot()
	path := "/v1/objects:multipart:complete/test/org=1/k?upload_id=" + upload
	readOnly := "Bearer " + e.token(func(c *auth.Claims) { c.Permissions = []auth.Permission{auth.Read} })
	e.checkErrors([]errCase{
		{"no content type", req{method: "POST", path: path, body: strings.NewReader(`{"parts":[]}`)}, 415, "Expected request with `Content-Type: application/json`", ctText},
		{"bad json", req{method: "POST", path: path, header: hdrs("Content-Type", "application/json"), body: strings.NewReader(`{"parts":`)}, 400,
			"Failed to parse the request body as JSON: unexpected end of JSON input", ctText},
		{"missing parts", req{method: "POST", path: path, header: hdrs("Content-Type", "application/json"), body: strings.NewReader(`{}`)}, 422,
			"Failed to deserialize the JSON body into the target type: missing field `parts`", ctText},
		{"part number 0", req{method: "POST", path: path, header: hdrs("Content-Type", "application/json"), body: strings.NewReader(`{"parts":[{"part_number":0,"etag":"x"}]}`)}, 422,
			"Failed to deserialize the JSON body into the target type: parts[0].part_number: invalid value: integer `0`, expected a nonzero u32", ctText},
		{"string part number", req{method: "POST", path: path, header: hdrs("Content-Type", "application/json"), body: strings.NewReader(`{"parts":[{"part_number":"1","etag":"x"}]}`)}, 422,
			"Failed to deserialize the JSON body into the target type: json: cannot unmarshal string into Go struct field .parts.part_number of type uint32", ctText},
		{"body over 2 MB", req{method: "POST", path: path, header: hdrs("Content-Type", "application/json"), body: strings.NewReader(strings.Repeat(" ", maxCompleteBody+1))}, 413,
			"Failed to buffer the request body: length limit exceeded", ctText},
		{"missing upload id", req{method: "POST", path: "/v1/objects:multipart:complete/test/org=1/k", header: hdrs("Content-Type", "application/json"), body: strings.NewReader(`{"parts":[]}`)}, 400,
			"Failed to deserialize query string: missing field `upload_id`", ctText},
		{"permission", req{method: "POST", path: path, header: hdrs("Content-Type", "application/json", "X-Os-Auth", readOnly), body: strings.NewReader(`{"parts":[{"part_number":1,"etag":"x"}]}`)}, 403,
			`{"detail":"auth error: operation not allowed","causes":["operation not allowed"]}`, ctJSON},
	})
	e.unchanged("refused completes", before)
	// The upload survived and completes.
	res = e.complete(key, upload, `{"parts":[{"part_number":1,"etag":`+strconv.Quote(et)+`}]}`)
	if strings.TrimSpace(res.body) != `{"key":"k"}` {
		t.Errorf("retry complete: %s", res.body)
	}
}

func TestMultipart_Errors(t *testing.T) {
	e := newEnv(t)
	key, upload := e.initiate("k", nil)
	partPath := "/v1/objects:multipart:parts/test/org=1/k?upload_id=" + upload
	readOnly := hdrs("X-Os-Auth", "Bearer "+e.token(func(c *auth.Claims) { c.Permissions = []auth.Permission{auth.Read} }))
	forbidden := `{"detail":"auth error: operation not allowed","causes":["operation not allowed"]}`
	wrongSum := md5.Sum([]byte("other"))
	e.checkErrors([]errCase{
		{"no part number", req{method: "PUT", path: partPath, body: strings.NewReader("x")}, 400, "Failed to deserialize query string: missing field `part_number`", ctText},
		{"part number 0", req{method: "PUT", path: partPath + "&part_number=0", body: strings.NewReader("x")}, 400,
			"Failed to deserialize query string: part_number: invalid value: integer `0`, expected a nonzero u32", ctText},
		{"part number text", req{method: "PUT", path: partPath + "&part_number=one", body: strings.NewReader("x")}, 400,
			`Failed to deserialize query string: part_number: invalid value "one", expected a u32`, ctText},
		{"part number beyond the store's limit", req{method: "PUT", path: partPath + "&part_number=10001", body: strings.NewReader("x")}, 400,
			`{"detail":"client error: invalid argument: part number 10001 is outside 1..10000"}`, ctJSON},
		{"duplicate upload id", req{method: "PUT", path: partPath + "&upload_id=x&part_number=1", body: strings.NewReader("x")}, 400,
			"Failed to deserialize query string: duplicate field `upload_id`", ctText},
		{"chunked part", req{method: "PUT", path: partPath + "&part_number=1", body: io.MultiReader(strings.NewReader("x"))}, 400,
			`{"detail":"client error: Content-Length header is required"}`, ctJSON},
		{"md5 malformed", req{method: "PUT", path: partPath + "&part_number=1", body: strings.NewReader("data"), header: hdrs("Content-Md5", "nope")}, 400,
			`{"detail":"client error: invalid Content-MD5 header"}`, ctJSON},
		{"forged upload id", req{method: "PUT", path: "/v1/objects:multipart:parts/test/org=1/k?upload_id=Zm9v&part_number=1", body: strings.NewReader("x")}, 400,
			`{"detail":"client error: invalid argument: invalid upload id: not a tiered upload token"}`, ctJSON},
		{"read-only initiate", req{method: "PUT", path: "/v1/objects:multipart/test/org=1/k2", header: readOnly}, 403, forbidden, ctJSON},
		{"read-only part", req{method: "PUT", path: partPath + "&part_number=1", header: readOnly, body: strings.NewReader("x")}, 403, forbidden, ctJSON},
		{"read-only list", req{method: "GET", path: partPath, header: readOnly}, 403, forbidden, ctJSON},
		{"read-only abort", req{method: "DELETE", path: "/v1/objects:multipart/test/org=1/k?upload_id=" + upload, header: readOnly}, 403, forbidden, ctJSON},
		{"abort without upload id", req{method: "DELETE", path: "/v1/objects:multipart/test/org=1/k"}, 400, "Failed to deserialize query string: missing field `upload_id`", ctText},
		{"bad metadata on initiate", req{method: "PUT", path: "/v1/objects:multipart/test/org=1/k3", header: hdrs("X-Sn-Expiration", "never")}, 400,
			`{"detail":"service error: metadata error: invalid expiration policy value","causes":["metadata error: invalid expiration policy value","invalid expiration policy value"]}`, ctJSON},
	})
	e.checkErrorsCalls([]errCase{
		{"md5 mismatch", req{method: "PUT", path: partPath + "&part_number=1", body: strings.NewReader("data"),
			header: hdrs("Content-Md5", base64.StdEncoding.EncodeToString(wrongSum[:]))}, 400, `{"detail":"client error: Content-MD5 mismatch"}`, ctJSON},
	}, true)
	res := e.do(req{method: "GET", path: partPath})
	if res.status != 200 || res.body != `{"parts":[],"is_truncated":false}` {
		t.Errorf("parts after failed uploads: %d %s", res.status, res.body)
	}
	_ = key
}
