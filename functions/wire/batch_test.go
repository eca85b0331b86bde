package wire

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
)

func TestStatusLine(t *testing.T) {
	for code, want := range map[int]string{
		200: "200 OK", 201: "201 Created", 204: "204 No Content", 400: "400 Bad Request",
		403: "403 Forbidden", 404: "404 Not Found", 413: "413 Payload Too Large",
		429: "429 Too Many Requests", 499: "499 Client Closed Request", 500: "500 Internal Server Error",
	} {
		if got := StatusLine(code); got != want {
			t.Errorf("StatusLine(%d) = %q, want %q", code, got, want)
		}
	}
}

func TestEncodeBatchKey(t *testing.T) {
	for in, want := range map[string]string{
		"key-1":    "key%2D1",
		"a/b c":    "a%2Fb%20c",
		"é":        "%C3%A9",
		"AZaz09":   "AZaz09",
		"100%+_.~": "100%25%2B%5F%2E%7E",
		"":         "",
	} {
		if got := EncodeBatchKey(in); got != want {
			t.Errorf("EncodeBatchKey(%q) = %q, want %q", in, got, want)
		}
		if back, err := PercentDecode(EncodeBatchKey(in)); err != nil || back != in {
			t.Errorf("round trip of %q: %q %v", in, back, err)
		}
	}
}

func TestPercentDecode(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		err      error
	}{
		{"plain", "plain", nil},
		{"a%2Fb", "a/b", nil},
		{"a%2fb", "a/b", nil},
		{"a+b", "a+b", nil},
		{"%25", "%", nil},
		{"%2525", "%25", nil},
		{"%C3%A9", "é", nil},
		{"%", "", ErrPercentEncoding},
		{"%2", "", ErrPercentEncoding},
		{"%zz", "", ErrPercentEncoding},
		{"%FF", "", ErrInvalidUTF8},
		{"\xff", "", ErrInvalidUTF8},
	} {
		got, err := PercentDecode(tc.in)
		if got != tc.want || !errors.Is(err, tc.err) {
			t.Errorf("PercentDecode(%q) = %q, %v; want %q, %v", tc.in, got, err, tc.want, tc.err)
		}
	}
}

func TestParseBatchContentType(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{`multipart/form-data; boundary="os-boundary-1"`, "os-boundary-1", true},
		{"multipart/form-data; boundary=b", "b", true},
		{"Multipart/Form-Data; boundary=b", "b", true},
		{"multipart/mixed; boundary=b", "", false},
		{"multipart/form-data", "", false},
		{"multipart/form-data; boundary=", "", false},
		{"", "", false},
	} {
		got, err := ParseBatchContentType(tc.in)
		if got != tc.want || (err == nil) != tc.ok || (err != nil && !errors.Is(err, ErrBatchContentType)) {
			t.Errorf("ParseBatchContentType(%q) = %q, %v", tc.in, got, err)
		}
	}
}

// goldenResponse is a batch response as objectstore frames it: a get with metadata (its
// content-type last), an insert, an operation refused before it ran (no key or kind), and
// the closing delimiter without a trailing CRLF.
const goldenResponse = "--B\r\n" +
	"x-sn-batch-operation-index: 1\r\n" +
	"x-sn-batch-operation-key: key%2D1\r\n" +
	"x-sn-batch-operation-kind: get\r\n" +
	"x-sn-batch-operation-status: 200 OK\r\n" +
	"x-sn-time-created: 2026-07-23T10:11:12.345678Z\r\n" +
	"x-snme-color: blue\r\n" +
	"content-disposition: form-data; name=part\r\n" +
	"content-type: text/plain\r\n" +
	"\r\n" +
	"first object\r\n" +
	"--B\r\n" +
	"x-sn-batch-operation-index: 0\r\n" +
	"x-sn-batch-operation-key: a%2Fb\r\n" +
	"x-sn-batch-operation-kind: insert\r\n" +
	"x-sn-batch-operation-status: 201 Created\r\n" +
	"content-disposition: form-data; name=part\r\n" +
	"\r\n" +
	"\r\n" +
	"--B\r\n" +
	"x-sn-batch-operation-index: 2\r\n" +
	"x-sn-batch-operation-status: 413 Payload Too Large\r\n" +
	"content-disposition: form-data; name=part\r\n" +
	"\r\n" +
	`{"detail":"batch error: too large"}` + "\r\n" +
	"--B--"

func TestResponseWriter_Golden(t *testing.T) {
	var b bytes.Buffer
	w := NewResponseWriter(&b, "B")
	w.BeginPart(ResultHeader{Index: 1, Kind: KindGet, Key: "key-1", Status: 200, Fields: []Field{
		{"content-type", "text/plain"},
		{HeaderTimeCreated, "2026-07-23T10:11:12.345678Z"},
		{HeaderOrigin, "bad\r\nvalue"}, // left out: it would break the framing
		{HeaderCustomPrefix + "color", "blue"},
	}})
	io.WriteString(w, "first object")
	w.EndPart()
	w.BeginPart(ResultHeader{Index: 0, Kind: KindInsert, Key: "a/b", Status: 201})
	w.EndPart()
	w.BeginPart(ResultHeader{Index: 2, Key: "ignored without a kind", Status: 413})
	io.WriteString(w, `{"detail":"batch error: too large"}`)
	w.EndPart()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if got := b.String(); got != goldenResponse {
		t.Errorf("response bytes\n got %q\nwant %q", got, goldenResponse)
	}
}

func TestResponseReader_ReadsGolden(t *testing.T) {
	r := NewResponseReader(strings.NewReader(goldenResponse), "B")
	type row struct {
		index      int
		kind, key  string
		status     int
		body, ctyp string
	}
	want := []row{
		{1, "get", "key-1", 200, "first object", "text/plain"},
		{0, "insert", "a/b", 201, "", ""},
		{2, "", "", 413, `{"detail":"batch error: too large"}`, ""},
	}
	for i, w := range want {
		res, err := r.Next()
		if err != nil {
			t.Fatalf("part %d: %v", i, err)
		}
		body, _ := io.ReadAll(res.Body)
		got := row{res.Index, res.Kind, res.Key, res.Status, string(body), res.Header.Get("Content-Type")}
		if got != w {
			t.Errorf("part %d = %+v, want %+v", i, got, w)
		}
	}
	if _, err := r.Next(); err != io.EOF {
		t.Errorf("after the last part: %v, want io.EOF", err)
	}
}

func TestResponseReader_Refuses(t *testing.T) {
	for name, part := range map[string]string{
		"no index":   "x-sn-batch-operation-status: 200 OK\r\n",
		"bad index":  "x-sn-batch-operation-index: one\r\nx-sn-batch-operation-status: 200 OK\r\n",
		"no status":  "x-sn-batch-operation-index: 0\r\n",
		"bad status": "x-sn-batch-operation-index: 0\r\nx-sn-batch-operation-status: OK\r\n",
	} {
		r := NewResponseReader(strings.NewReader("--B\r\n"+part+"\r\n\r\n--B--"), "B")
		if res, err := r.Next(); err == nil {
			t.Errorf("%s: read %+v", name, res)
		}
	}
	// A key that does not decode is passed on as it came.
	r := NewResponseReader(strings.NewReader("--B\r\nx-sn-batch-operation-index: 0\r\nx-sn-batch-operation-key: 100%\r\nx-sn-batch-operation-status: 204 No Content\r\n\r\n\r\n--B--"), "B")
	if res, err := r.Next(); err != nil || res.Key != "100%" {
		t.Errorf("undecodable key: %+v, %v", res, err)
	}
}

func TestResponseWriter_ErrorSticks(t *testing.T) {
	w := NewResponseWriter(failAfter(10), "B")
	if err := w.BeginPart(ResultHeader{Index: 0, Status: 200}); err == nil {
		t.Fatal("a failed write returned no error")
	}
	if err := w.EndPart(); err == nil || w.Err() == nil {
		t.Error("a write after a failure succeeded")
	}
}

type failAfter int

func (f failAfter) Write(p []byte) (int, error) { return 0, errors.New("client gone") }

// goldenRequest is the request RequestWriter writes for a get, an insert with metadata and
// an insert without a key, with the boundary replaced by B: mime/multipart sorts the
// headers of each part.
const goldenRequest = "--B\r\n" +
	"Content-Disposition: form-data; name=\"part\"\r\n" +
	"X-Sn-Batch-Operation-Key: key%2D1\r\n" +
	"X-Sn-Batch-Operation-Kind: get\r\n" +
	"\r\n" +
	"\r\n--B\r\n" +
	"Content-Disposition: form-data; name=\"part\"\r\n" +
	"Content-Type: text/plain\r\n" +
	"X-Sn-Batch-Operation-Key: key%2F2\r\n" +
	"X-Sn-Batch-Operation-Kind: insert\r\n" +
	"X-Sn-Expiration: ttl:1h\r\n" +
	"\r\n" +
	"payload" +
	"\r\n--B\r\n" +
	"Content-Disposition: form-data; name=\"part\"\r\n" +
	"X-Sn-Batch-Operation-Kind: insert\r\n" +
	"\r\n" +
	"generated" +
	"\r\n--B--\r\n"

func TestRequestWriter_Golden(t *testing.T) {
	var b bytes.Buffer
	w := NewRequestWriter(&b)
	md := http.Header{}
	md.Set("Content-Type", "text/plain")
	md.Set(HeaderExpiration, "ttl:1h")
	for _, op := range []struct {
		op      Op
		payload string
	}{
		{Op{Kind: KindGet, Key: "key-1"}, ""},
		{Op{Kind: KindInsert, Key: "key/2", Header: md}, "payload"},
		{Op{Kind: KindInsert}, "generated"},
	} {
		if err := w.WriteOp(op.op, []byte(op.payload)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	boundary, err := ParseBatchContentType(w.ContentType())
	if err != nil {
		t.Fatalf("content type %q: %v", w.ContentType(), err)
	}
	if got := strings.ReplaceAll(b.String(), boundary, "B"); got != goldenRequest {
		t.Errorf("request bytes\n got %q\nwant %q", got, goldenRequest)
	}
}

func TestRequestReader_ReadsWhatRequestWriterWrote(t *testing.T) {
	var b bytes.Buffer
	w := NewRequestWriter(&b)
	md := http.Header{}
	md.Set(HeaderOrigin, "o")
	ops := []Op{{Kind: KindDelete, Key: "ümlaut/ key"}, {Kind: KindInsert, Key: "k", Header: md}, {Kind: KindInsert}}
	for _, op := range ops {
		if err := w.WriteOp(op, []byte(op.Key)); err != nil {
			t.Fatal(err)
		}
	}
	w.Close()
	boundary, _ := ParseBatchContentType(w.ContentType())
	r := NewRequestReader(&b, boundary)
	for i, want := range ops {
		op, err := r.Next()
		if err != nil {
			t.Fatalf("op %d: %v", i, err)
		}
		key, hasKey, err := op.Key()
		payload, perr := op.ReadPayload()
		if op.Kind() != want.Kind || key != want.Key || hasKey != (want.Key != "") || err != nil ||
			perr != nil || string(payload) != want.Key || op.Header.Get(HeaderOrigin) != want.Header.Get(HeaderOrigin) {
			t.Errorf("op %d: kind %q key %q (%v, %v) payload %q (%v)", i, op.Kind(), key, hasKey, err, payload, perr)
		}
	}
	if _, err := r.Next(); err != io.EOF {
		t.Errorf("after the last op: %v, want io.EOF", err)
	}
}

func TestReceivedOp_KindAndKey(t *testing.T) {
	for _, tc := range []struct {
		name, headers string
		kind, key     string
		hasKey        bool
		keyErr        error
	}{
		{"upper-case kind", "x-sn-batch-operation-kind: GET\r\nx-sn-batch-operation-key: k\r\n", "get", "k", true, nil},
		{"no kind", "x-sn-batch-operation-key: k\r\n", "", "k", true, nil},
		{"empty key is present", "x-sn-batch-operation-kind: get\r\nx-sn-batch-operation-key: \r\n", "get", "", true, nil},
		{"first key wins", "x-sn-batch-operation-kind: head\r\nx-sn-batch-operation-key: a\r\nx-sn-batch-operation-key: b\r\n", "head", "a", true, nil},
		{"bad escape", "x-sn-batch-operation-kind: get\r\nx-sn-batch-operation-key: a%zz\r\n", "get", "", true, ErrPercentEncoding},
		{"no key", "x-sn-batch-operation-kind: insert\r\n", "insert", "", false, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			op, err := NewRequestReader(strings.NewReader("--B\r\n"+tc.headers+"\r\n\r\n--B--"), "B").Next()
			if err != nil {
				t.Fatal(err)
			}
			key, hasKey, err := op.Key()
			if op.Kind() != tc.kind || key != tc.key || hasKey != tc.hasKey || !errors.Is(err, tc.keyErr) {
				t.Errorf("kind %q, key %q, %v, %v", op.Kind(), key, hasKey, err)
			}
		})
	}
}

func TestReceivedOp_ReadPayload_Limit(t *testing.T) {
	for _, tc := range []struct {
		size int
		err  error
	}{{MaxBatchInsert, nil}, {MaxBatchInsert + 1, ErrBatchInsertTooLarge}} {
		body := "--B\r\nx-sn-batch-operation-kind: insert\r\n\r\n" + strings.Repeat("x", tc.size) + "\r\n--B--"
		op, err := NewRequestReader(strings.NewReader(body), "B").Next()
		if err != nil {
			t.Fatal(err)
		}
		payload, err := op.ReadPayload()
		if !errors.Is(err, tc.err) || (err == nil && len(payload) != tc.size) {
			t.Errorf("payload of %d bytes: %d bytes, %v; want %v", tc.size, len(payload), err, tc.err)
		}
	}
}

// TestBodyLimit pins the limit reader: one read may return up to the limit without an
// error, and any read after the limit is reached fails, even when the body has ended.
func TestBodyLimit(t *testing.T) {
	for _, tc := range []struct {
		name       string
		size, left int64
		n          int
		err, next  error
	}{
		{"under", 9, 10, 9, nil, io.EOF},
		{"exactly full", 10, 10, 10, nil, ErrBatchBodyTooLarge},
		{"one over", 11, 10, 11, ErrBatchBodyTooLarge, ErrBatchBodyTooLarge},
		{"far over", 1000, 10, 11, ErrBatchBodyTooLarge, ErrBatchBodyTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := &bodyLimit{r: strings.NewReader(strings.Repeat("x", int(tc.size))), left: tc.left}
			buf := make([]byte, 4096)
			n, err := l.Read(buf)
			if n != tc.n || !errors.Is(err, tc.err) {
				t.Errorf("read %d bytes, %v; want %d, %v", n, err, tc.n, tc.err)
			}
			if _, err := l.Read(buf); !errors.Is(err, tc.next) {
				t.Errorf("next read: %v, want %v", err, tc.next)
			}
		})
	}
}

// TestRequestReader_BodyLimitSurfaces checks that a body past MaxBatchBody fails the read
// with ErrBatchBodyTooLarge, wrapped by mime/multipart, with its text kept.
func TestRequestReader_BodyLimitSurfaces(t *testing.T) {
	r := NewRequestReader(io.MultiReader(strings.NewReader("--B\r\nx-sn-batch-operation-kind: insert\r\n\r\n"), zeros{}), "B")
	op, err := r.Next()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := op.ReadPayload(); !errors.Is(err, ErrBatchInsertTooLarge) {
		t.Fatalf("payload: %v", err)
	}
	_, err = r.Next()
	if !errors.Is(err, ErrBatchBodyTooLarge) || !strings.HasSuffix(err.Error(), "batch body too large") {
		t.Fatalf("next after %d bytes: %v", MaxBatchBody, err)
	}
}

// zeros is an endless body of zero bytes.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

func TestNewBoundary(t *testing.T) {
	a, b := NewBoundary(), NewBoundary()
	if a == b || len(a) != len("os-boundary-")+32 || !strings.HasPrefix(a, "os-boundary-") {
		t.Errorf("boundaries %q, %q", a, b)
	}
	if got, err := ParseBatchContentType(ResponseContentType(a)); err != nil || got != a {
		t.Errorf("ResponseContentType does not round-trip: %q, %v", got, err)
	}
}
