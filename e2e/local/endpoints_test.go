package local

import (
	"bufio"
	"bytes"
	"context"
	"crypto/md5" //nolint:gosec // Content-MD5 is what the API verifies
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"net/textproto"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stratastore/strata/e2e/internal/harness"
	"github.com/stratastore/strata/functions/client"
	"github.com/stratastore/strata/tiered/object"
)

var (
	uuidV4      = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	timeMicros  = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$`)
	batchBounds = regexp.MustCompile(`^multipart/form-data; boundary="(os-boundary-[0-9a-f]{32})"$`)
)

// TestLocal_Endpoints_SDK drives every object operation through the Go SDK against the
// real binary with auth on: put/get/head/delete of small and large objects with metadata,
// ranges, a generated key, a batch, an automatic multipart upload, list parts, resume and
// abort of an upload, and pre-signed URLs.
func TestLocal_Endpoints_SDK(t *testing.T) {
	k := newKeys(t)
	dir := t.TempDir()
	s := start(t, dir, k)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	sess := sdk(t, s, k.Full)
	var live []object.ID

	t.Run("SmallObjectWithMetadata", func(t *testing.T) {
		data := []byte("hello, strata: a small object")
		key, err := sess.Put(ctx, "docs/small.txt", bytes.NewReader(data),
			client.ContentType("text/plain"), client.Expires(client.TTL(time.Hour)),
			client.Origin("10.0.0.1"), client.Filename("small.txt"), client.Meta("team", "storage"))
		if err != nil || key != "docs/small.txt" {
			t.Fatalf("put: %q, %v", key, err)
		}
		md, err := sess.Head(ctx, key)
		if err != nil {
			t.Fatalf("head: %v", err)
		}
		if md.ContentType != "text/plain" || md.Expiration != client.TTL(time.Hour) || md.Origin != "10.0.0.1" ||
			md.Filename != "small.txt" || md.Custom["team"] != "storage" {
			t.Errorf("head metadata = %+v", md)
		}
		if md.TimeCreated.IsZero() || !md.TimeExpires.After(md.TimeCreated.Add(59*time.Minute)) {
			t.Errorf("head times: created %v, expires %v", md.TimeCreated, md.TimeExpires)
		}
		if got := getBytes(ctx, t, sess, key); !bytes.Equal(got, data) {
			t.Errorf("get = %q, want %q", got, data)
		}
		for _, c := range []struct {
			opt        client.GetOption
			want       string
			start, end int64
		}{
			{client.Range(0, 4), "hello", 0, 4},
			{client.RangeFrom(23), "object", 23, 28},
			{client.RangeLast(6), "object", 23, 28},
			{client.Range(7, 1000), "strata: a small object", 7, 28},
		} {
			obj, err := sess.Get(ctx, key, c.opt)
			if err != nil {
				t.Fatalf("ranged get: %v", err)
			}
			b, _ := io.ReadAll(obj.Body)
			obj.Body.Close()
			if string(b) != c.want || obj.Range == nil || obj.Range.Start != c.start || obj.Range.End != c.end || obj.Range.Total != int64(len(data)) {
				t.Errorf("ranged get = %q %+v, want %q [%d-%d/%d]", b, obj.Range, c.want, c.start, c.end, len(data))
			}
		}
		if _, err := sess.Get(ctx, key, client.Range(100, 200)); !client.IsRangeNotSatisfiable(err) {
			t.Errorf("range beyond the end: %v, want 416", err)
		}
		if err := sess.Delete(ctx, key); err != nil {
			t.Fatalf("delete: %v", err)
		}
		if _, err := sess.Get(ctx, key); !client.IsNotFound(err) {
			t.Errorf("get after delete: %v, want 404", err)
		}
		if _, err := sess.Head(ctx, key); !client.IsNotFound(err) {
			t.Errorf("head after delete: %v, want 404", err)
		}
		if err := sess.Delete(ctx, key); err != nil {
			t.Errorf("deleting a missing object: %v, want success", err)
		}
	})

	t.Run("GeneratedKeyAndLargeObject", func(t *testing.T) {
		small := payload(1, 10_000)
		key, err := sess.Put(ctx, "", bytes.NewReader(small))
		if err != nil || !uuidV4.MatchString(key) {
			t.Fatalf("put without key: %q, %v; want a UUID v4", key, err)
		}
		if got := getBytes(ctx, t, sess, key); !bytes.Equal(got, small) {
			t.Errorf("generated-key object differs")
		}
		large := payload(2, 3<<20+5) // above the 1 MiB threshold: long-term tier
		if _, err := sess.Put(ctx, "large.bin", bytes.NewReader(large)); err != nil {
			t.Fatalf("put large: %v", err)
		}
		live = append(live, objectID("large.bin"))
		if got := getBytes(ctx, t, sess, "large.bin"); digest(got) != digest(large) {
			t.Errorf("large object differs: %d bytes back, want %d", len(got), len(large))
		}
		obj, err := sess.Get(ctx, "large.bin", client.Range(1<<20, 1<<20+9))
		if err != nil {
			t.Fatalf("ranged get of the large object: %v", err)
		}
		b, _ := io.ReadAll(obj.Body)
		obj.Body.Close()
		if !bytes.Equal(b, large[1<<20:1<<20+10]) {
			t.Errorf("range of the large object = %x, want %x", b, large[1<<20:1<<20+10])
		}
	})

	t.Run("Batch", func(t *testing.T) {
		if _, err := sess.Put(ctx, "batch/existing", bytes.NewReader([]byte("existing"))); err != nil {
			t.Fatal(err)
		}
		if _, err := sess.Put(ctx, "batch/doomed", bytes.NewReader([]byte("doomed"))); err != nil {
			t.Fatal(err)
		}
		res, err := sess.Batch(ctx, []client.BatchOp{
			client.BatchInsert("batch/new", []byte("inserted"), client.ContentType("text/plain")),
			client.BatchInsert("", []byte("generated")),
			client.BatchGet("batch/existing"),
			client.BatchHead("batch/existing"),
			client.BatchDelete("batch/doomed"),
			client.BatchGet("batch/missing"),
		})
		if err != nil {
			t.Fatalf("batch: %v", err)
		}
		wantStatus := []int{201, 201, 200, 204, 204, 404}
		for i, r := range res {
			if r.Status != wantStatus[i] {
				t.Errorf("op %d (%s %s): status %d, want %d (%v)", i, r.Kind, r.Key, r.Status, wantStatus[i], r.Err)
			}
		}
		if !uuidV4.MatchString(res[1].Key) {
			t.Errorf("batch insert without key: key %q, want a UUID v4", res[1].Key)
		}
		if string(res[2].Body) != "existing" || res[3].Metadata == nil {
			t.Errorf("batch get/head: body %q, metadata %v", res[2].Body, res[3].Metadata)
		}
		if !client.IsNotFound(res[5].Err) {
			t.Errorf("batch get of a missing key: %v, want not found", res[5].Err)
		}
		if got := getBytes(ctx, t, sess, "batch/new"); string(got) != "inserted" {
			t.Errorf("batch-inserted object = %q", got)
		}
		if _, err := sess.Get(ctx, "batch/doomed"); !client.IsNotFound(err) {
			t.Errorf("batch-deleted object: %v, want 404", err)
		}
	})

	t.Run("MultipartListResumeAbort", func(t *testing.T) {
		const part = 512 << 10
		mp := harness.SDK(t, s.URL, k.Full, client.WithCompression(false), client.WithMultipart(1<<20, part, 2)).
			Usecase(usecase).Scope(scopeName, scopeValue)
		data := payload(3, 3*part+77) // four parts, the last short
		var started string
		if _, err := mp.Put(ctx, "mp/auto", bytes.NewReader(data), client.OnUploadStarted(func(_, id string) { started = id })); err != nil {
			t.Fatalf("multipart put: %v", err)
		}
		if started == "" {
			t.Errorf("a %d-byte put with a 1 MiB threshold did not go multipart", len(data))
		}
		live = append(live, objectID("mp/auto"))
		if got := getBytes(ctx, t, mp, "mp/auto"); digest(got) != digest(data) {
			t.Errorf("multipart object differs")
		}

		// An upload with its first part sent by hand: ListParts sees it, ResumeUpload
		// sends only the rest and completes.
		uploadID := rawInitiate(t, s, k.Full, http.MethodPut, "mp/resumed")
		etag := rawUploadPart(t, s, k.Full, "mp/resumed", uploadID, 1, data[:part])
		parts, err := mp.ListParts(ctx, "mp/resumed", uploadID)
		if err != nil || len(parts) != 1 || parts[0].Number != 1 || parts[0].ETag != etag || parts[0].Size != part {
			t.Fatalf("list parts = %+v, %v; want part 1 with etag %s", parts, err, etag)
		}
		if _, err := mp.ResumeUpload(ctx, "mp/resumed", uploadID, bytes.NewReader(data), int64(len(data))); err != nil {
			t.Fatalf("resume: %v", err)
		}
		live = append(live, objectID("mp/resumed"))
		if got := getBytes(ctx, t, mp, "mp/resumed"); digest(got) != digest(data) {
			t.Errorf("resumed object differs")
		}

		abortID := rawInitiate(t, s, k.Full, http.MethodPut, "mp/aborted")
		rawUploadPart(t, s, k.Full, "mp/aborted", abortID, 1, data[:1000])
		if err := mp.AbortUpload(ctx, "mp/aborted", abortID); err != nil {
			t.Fatalf("abort: %v", err)
		}
		if err := mp.AbortUpload(ctx, "mp/aborted", abortID); err != nil {
			t.Errorf("aborting again: %v, want success", err)
		}
		if _, err := mp.ListParts(ctx, "mp/aborted", abortID); err == nil {
			t.Errorf("list parts of an aborted upload succeeded")
		}
		if _, err := mp.Get(ctx, "mp/aborted"); !client.IsNotFound(err) {
			t.Errorf("aborted upload's object: %v, want 404", err)
		}
	})

	t.Run("PresignedGet", func(t *testing.T) {
		data := []byte("shared by link")
		if _, err := sess.Put(ctx, "shared.txt", bytes.NewReader(data)); err != nil {
			t.Fatal(err)
		}
		u, err := sess.PresignGet("shared.txt", time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		res, body := rawDo(t, http.MethodGet, u, nil, nil)
		wantStatus(t, "presigned GET", res, body, http.StatusOK)
		if !bytes.Equal(body, data) {
			t.Errorf("presigned GET body = %q", body)
		}
		res, body = rawDo(t, http.MethodHead, u, nil, nil)
		wantStatus(t, "presigned HEAD", res, body, http.StatusNoContent)
	})

	stopTerm(t, s)
	checkClean(t, dir, live)
}

// getBytes reads key whole through the SDK.
func getBytes(ctx context.Context, t testing.TB, s *client.Session, key string) []byte {
	t.Helper()
	obj, err := s.Get(ctx, key)
	if err != nil {
		t.Fatalf("get %s: %v", key, err)
	}
	defer obj.Body.Close()
	b, err := io.ReadAll(obj.Body)
	if err != nil {
		t.Fatalf("get %s: %v", key, err)
	}
	return b
}

// multipartURL is the URL of key under a multipart endpoint prefix.
func multipartURL(s *server, prefix, key, query string) string {
	u := s.URL + prefix + usecase + "/" + scopePath + "/" + key
	if query != "" {
		u += "?" + query
	}
	return u
}

// rawInitiate starts an upload with a raw request (PUT with key, POST without) and returns
// its upload id.
func rawInitiate(t testing.TB, s *server, k harness.KeyPair, method, key string) string {
	t.Helper()
	res, body := rawDo(t, method, multipartURL(s, "/v1/objects:multipart/", key, ""), bearer(t, k), nil)
	wantStatus(t, method+" initiate", res, body, http.StatusOK)
	var doc struct {
		Key      string `json:"key"`
		UploadID string `json:"upload_id"`
	}
	if err := json.Unmarshal(body, &doc); err != nil || doc.UploadID == "" {
		t.Fatalf("initiate answer %q: %v", body, err)
	}
	if key != "" && doc.Key != key {
		t.Fatalf("initiate answered key %q, want %q", doc.Key, key)
	}
	return doc.UploadID
}

// rawUploadPart uploads one part with Content-Length and Content-MD5 and returns its ETag.
func rawUploadPart(t testing.TB, s *server, k harness.KeyPair, key, uploadID string, n int, data []byte) string {
	t.Helper()
	sum := md5.Sum(data) //nolint:gosec // see import
	h := bearer(t, k)
	h.Set("Content-Md5", base64.StdEncoding.EncodeToString(sum[:]))
	q := "upload_id=" + url.QueryEscape(uploadID) + "&part_number=" + strconv.Itoa(n)
	res, body := rawDo(t, http.MethodPut, multipartURL(s, "/v1/objects:multipart:parts/", key, q), h, bytes.NewReader(data))
	wantStatus(t, "upload part", res, body, http.StatusOK)
	var doc struct {
		ETag string `json:"etag"`
	}
	if err := json.Unmarshal(body, &doc); err != nil || doc.ETag == "" {
		t.Fatalf("upload part answer %q: %v", body, err)
	}
	if want := `"` + hex.EncodeToString(sum[:]) + `"`; doc.ETag != want {
		t.Errorf("part %d etag %s, want the quoted MD5 %s", n, doc.ETag, want)
	}
	return doc.ETag
}

// TestLocal_Endpoints_RawHTTP checks on the wire what the SDK hides: HEAD's 204 and
// headers (lowercase names), Range 206/416, the batch response body, every multipart
// endpoint with list paging and complete's streamed answer, and the internal endpoints.
func TestLocal_Endpoints_RawHTTP(t *testing.T) {
	k := newKeys(t)
	dir := t.TempDir()
	s := start(t, dir, k)
	var live []object.ID

	// The 22-byte object of the examples in functions/API.md §7.
	const text = "Hello, Range Requests!"
	h := bearer(t, k.Full)
	h.Set("Content-Type", "text/plain")
	h.Set("X-Sn-Expiration", "ttl:1h")
	h.Set("X-Sn-Origin", "203.0.113.9")
	h.Set("X-Sn-Filename", "path/to/greeting.txt")
	h.Set("X-Snme-Color", "blue")
	res, body := rawDo(t, http.MethodPut, objectURL(s, "greeting"), h, strings.NewReader(text))
	wantStatus(t, "PUT", res, body, http.StatusOK)
	if string(body) != `{"key":"greeting"}` || res.Header.Get("Content-Type") != "application/json" {
		t.Errorf("PUT answer %q (%s), want {\"key\":\"greeting\"}", body, res.Header.Get("Content-Type"))
	}

	t.Run("Head204", func(t *testing.T) {
		res, body := rawDo(t, http.MethodHead, objectURL(s, "greeting"), bearer(t, k.Full), nil)
		wantStatus(t, "HEAD", res, body, http.StatusNoContent)
		want := map[string]string{
			"Content-Type":        "text/plain",
			"X-Sn-Expiration":     "ttl:1h",
			"X-Sn-Origin":         "203.0.113.9",
			"X-Sn-Filename":       "path/to/greeting.txt",
			"X-Snme-Color":        "blue",
			"Accept-Ranges":       "bytes",
			"Content-Disposition": `attachment; filename="path-to-greeting.txt"`,
		}
		for name, v := range want {
			if got := res.Header.Get(name); got != v {
				t.Errorf("HEAD %s = %q, want %q", name, got, v)
			}
		}
		for _, name := range []string{"X-Sn-Time-Created", "X-Sn-Time-Expires"} {
			if v := res.Header.Get(name); !timeMicros.MatchString(v) {
				t.Errorf("HEAD %s = %q, want RFC 3339 with 6 fractional digits", name, v)
			}
		}
		if len(body) != 0 || res.Header.Get("Content-Length") != "" {
			t.Errorf("HEAD has a body (%d bytes) or content-length %q", len(body), res.Header.Get("Content-Length"))
		}
		// The Python client needs lowercase names: read them off the socket.
		names := rawHeaderNames(t, s, "HEAD /v1/objects/"+usecase+"/"+scopePath+"/greeting", bearer(t, k.Full))
		for _, n := range []string{"content-type", "x-sn-expiration", "x-sn-time-created", "x-sn-origin", "x-snme-color", "accept-ranges"} {
			if !slices.Contains(names, n) {
				t.Errorf("HEAD response header names %q lack lowercase %q", names, n)
			}
		}
	})

	t.Run("Range206And416", func(t *testing.T) {
		for _, c := range []struct{ rng, body, cr string }{
			{"bytes=0-4", "Hello", "bytes 0-4/22"},
			{"bytes=-9", "Requests!", "bytes 13-21/22"},
			{"bytes=7-", "Range Requests!", "bytes 7-21/22"},
			{"bytes=0-1,5-6", text, ""}, // multiple ranges are ignored: 200
		} {
			h := bearer(t, k.Full)
			h.Set("Range", c.rng)
			res, body := rawDo(t, http.MethodGet, objectURL(s, "greeting"), h, nil)
			status := http.StatusPartialContent
			if c.cr == "" {
				status = http.StatusOK
			}
			wantStatus(t, "GET "+c.rng, res, body, status)
			if string(body) != c.body || res.Header.Get("Content-Range") != c.cr {
				t.Errorf("GET %s = %q (content-range %q), want %q (%q)", c.rng, body, res.Header.Get("Content-Range"), c.body, c.cr)
			}
			if c.cr != "" && res.Header.Get("Content-Length") != strconv.Itoa(len(c.body)) {
				t.Errorf("GET %s content-length %q, want %d", c.rng, res.Header.Get("Content-Length"), len(c.body))
			}
		}
		h := bearer(t, k.Full)
		h.Set("Range", "bytes=100-200")
		res, body := rawDo(t, http.MethodGet, objectURL(s, "greeting"), h, nil)
		wantStatus(t, "GET bytes=100-200", res, body, http.StatusRequestedRangeNotSatisfiable)
		if res.Header.Get("Content-Range") != "bytes */22" || len(body) != 0 {
			t.Errorf("416: content-range %q, body %q; want bytes */22 and no body", res.Header.Get("Content-Range"), body)
		}
		h.Set("Range", "bytes=500-100")
		res, body = rawDo(t, http.MethodGet, objectURL(s, "greeting"), h, nil)
		wantStatus(t, "GET bytes=500-100", res, body, http.StatusBadRequest)
	})

	t.Run("BatchBody", func(t *testing.T) {
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		ops := []struct {
			kind, key, body string
		}{
			{"insert", "batch key/one", "first object"},
			{"get", "greeting", ""},
			{"head", "greeting", ""},
			{"get", "no-such-key", ""},
			{"frobnicate", "greeting", ""},
		}
		for _, op := range ops {
			ph := textproto.MIMEHeader{}
			ph.Set("X-Sn-Batch-Operation-Kind", op.kind)
			ph.Set("X-Sn-Batch-Operation-Key", url.PathEscape(op.key))
			ph.Set("Content-Disposition", `form-data; name="part"`)
			if op.kind == "insert" {
				ph.Set("Content-Type", "text/plain")
			}
			pw, _ := mw.CreatePart(ph)
			_, _ = pw.Write([]byte(op.body))
		}
		mw.Close()
		h := bearer(t, k.Full)
		h.Set("Content-Type", mw.FormDataContentType())
		res, body := rawDo(t, http.MethodPost, s.URL+"/v1/objects:batch/"+usecase+"/"+scopePath+"/", h, &buf)
		wantStatus(t, "batch", res, body, http.StatusOK)
		m := batchBounds.FindStringSubmatch(res.Header.Get("Content-Type"))
		if m == nil {
			t.Fatalf("batch content-type %q, want a quoted os-boundary", res.Header.Get("Content-Type"))
		}
		if !bytes.HasSuffix(body, []byte("--"+m[1]+"--")) {
			t.Errorf("batch body does not end with the closing delimiter and no CRLF: %q", clip(body[max(0, len(body)-80):]))
		}
		_, params, _ := mime.ParseMediaType(res.Header.Get("Content-Type"))
		mr := multipart.NewReader(bytes.NewReader(body), params["boundary"])
		got := map[int]string{}
		for {
			p, err := mr.NextPart()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("batch part: %v", err)
			}
			b, _ := io.ReadAll(p)
			idx, err := strconv.Atoi(p.Header.Get("X-Sn-Batch-Operation-Index"))
			if err != nil {
				t.Fatalf("batch part without index: %v", p.Header)
			}
			got[idx] = p.Header.Get("X-Sn-Batch-Operation-Status") + "|" + p.Header.Get("X-Sn-Batch-Operation-Kind") + "|" + string(b)
		}
		want := map[int]string{
			0: "201 Created|insert|",
			1: "200 OK|get|" + text,
			2: "204 No Content|head|",
		}
		for i, w := range want {
			if got[i] != w {
				t.Errorf("batch op %d = %q, want %q", i, got[i], w)
			}
		}
		if !strings.HasPrefix(got[3], "404 Not Found|") || !strings.HasSuffix(got[3], "|") {
			t.Errorf("batch op 3 (missing key) = %q, want an empty 404 part", got[3])
		}
		if !strings.HasPrefix(got[4], "400 Bad Request||") {
			t.Errorf("batch op 4 (unknown kind) = %q, want a 400 part", got[4])
		}
		res, body = rawDo(t, http.MethodGet, objectURL(s, "batch%20key/one"), bearer(t, k.Full), nil)
		wantStatus(t, "GET the batch-inserted object", res, body, http.StatusOK)
		if string(body) != "first object" || res.Header.Get("Content-Type") != "text/plain" {
			t.Errorf("batch-inserted object = %q (%s)", body, res.Header.Get("Content-Type"))
		}
	})

	t.Run("Multipart", func(t *testing.T) {
		uploadID := rawInitiate(t, s, k.Full, http.MethodPut, "assembled")
		parts := [][]byte{payload(10, 600<<10), payload(11, 700<<10), []byte("tail!")}
		etags := make([]string, len(parts))
		for i, p := range parts {
			etags[i] = rawUploadPart(t, s, k.Full, "assembled", uploadID, i+1, p)
		}
		// A part without Content-Length (chunked) is refused.
		q := "upload_id=" + url.QueryEscape(uploadID) + "&part_number=9"
		res, body := rawDo(t, http.MethodPut, multipartURL(s, "/v1/objects:multipart:parts/", "assembled", q), bearer(t, k.Full),
			io.MultiReader(strings.NewReader("chunked")))
		wantStatus(t, "part without content-length", res, body, http.StatusBadRequest)

		// List parts one per page, following next_part_number_marker.
		var listed []int
		marker := 0
		for page := 0; ; page++ {
			if page > 5 {
				t.Fatalf("list parts did not end after %d pages", page)
			}
			q := "upload_id=" + url.QueryEscape(uploadID) + "&max_parts=1"
			if marker > 0 {
				q += "&part_number_marker=" + strconv.Itoa(marker)
			}
			res, body := rawDo(t, http.MethodGet, multipartURL(s, "/v1/objects:multipart:parts/", "assembled", q), bearer(t, k.Full), nil)
			wantStatus(t, "list parts", res, body, http.StatusOK)
			var doc struct {
				Parts []struct {
					PartNumber   int    `json:"part_number"`
					ETag         string `json:"etag"`
					LastModified string `json:"last_modified"`
					Size         int64  `json:"size"`
				} `json:"parts"`
				IsTruncated bool `json:"is_truncated"`
				Next        *int `json:"next_part_number_marker"`
			}
			if err := json.Unmarshal(body, &doc); err != nil {
				t.Fatalf("list parts answer %q: %v", body, err)
			}
			for _, p := range doc.Parts {
				listed = append(listed, p.PartNumber)
				if i := p.PartNumber - 1; p.ETag != etags[i] || p.Size != int64(len(parts[i])) {
					t.Errorf("listed part %d: etag %s size %d, want %s %d", p.PartNumber, p.ETag, p.Size, etags[i], len(parts[i]))
				}
				if _, err := time.Parse(time.RFC3339Nano, p.LastModified); err != nil {
					t.Errorf("part %d last_modified %q: %v", p.PartNumber, p.LastModified, err)
				}
			}
			if len(doc.Parts) > 1 {
				t.Errorf("max_parts=1 returned %d parts", len(doc.Parts))
			}
			if !doc.IsTruncated {
				if doc.Next != nil || bytes.Contains(body, []byte("next_part_number_marker")) {
					t.Errorf("last page carries next_part_number_marker: %s", body)
				}
				break
			}
			if doc.Next == nil || len(doc.Parts) == 0 || *doc.Next != doc.Parts[len(doc.Parts)-1].PartNumber {
				t.Fatalf("truncated page without a marker at its last part: %s", body)
			}
			marker = *doc.Next
		}
		if !slices.Equal(listed, []int{1, 2, 3}) {
			t.Errorf("paged listing = %v, want [1 2 3]", listed)
		}

		var cb strings.Builder
		cb.WriteString(`{"parts":[`)
		for i, e := range etags {
			if i > 0 {
				cb.WriteByte(',')
			}
			fmt.Fprintf(&cb, `{"part_number":%d,"etag":%q}`, i+1, e)
		}
		cb.WriteString(`]}`)
		ch := bearer(t, k.Full)
		ch.Set("Content-Type", "application/json")
		res, body = rawDo(t, http.MethodPost, multipartURL(s, "/v1/objects:multipart:complete/", "assembled", "upload_id="+url.QueryEscape(uploadID)), ch, strings.NewReader(cb.String()))
		wantStatus(t, "complete", res, body, http.StatusOK)
		if !regexp.MustCompile(`^ *\{"key":"assembled"\}$`).Match(body) || res.Header.Get("Content-Type") != "application/json" {
			t.Errorf("complete answer %q (%s), want spaces then {\"key\":\"assembled\"}", body, res.Header.Get("Content-Type"))
		}
		t.Logf("complete answered %d keep-alive spaces", bytes.Count(body, []byte(" ")))
		live = append(live, objectID("assembled"))
		res, body = rawDo(t, http.MethodGet, objectURL(s, "assembled"), bearer(t, k.Full), nil)
		wantStatus(t, "GET assembled", res, body, http.StatusOK)
		if digest(body) != digest(bytes.Join(parts, nil)) {
			t.Errorf("assembled object (%d bytes) is not the parts in order", len(body))
		}

		// POST initiates under a generated key; abort is 204, twice.
		res, body = rawDo(t, http.MethodPost, s.URL+"/v1/objects:multipart/"+usecase+"/"+scopePath, bearer(t, k.Full), nil)
		wantStatus(t, "POST initiate", res, body, http.StatusOK)
		var doc struct {
			Key      string `json:"key"`
			UploadID string `json:"upload_id"`
		}
		if err := json.Unmarshal(body, &doc); err != nil || !uuidV4.MatchString(doc.Key) || doc.UploadID == "" {
			t.Fatalf("POST initiate answer %q: %v", body, err)
		}
		rawUploadPart(t, s, k.Full, doc.Key, doc.UploadID, 1, []byte("never completed"))
		for range 2 {
			res, body = rawDo(t, http.MethodDelete, multipartURL(s, "/v1/objects:multipart/", doc.Key, "upload_id="+url.QueryEscape(doc.UploadID)), bearer(t, k.Full), nil)
			wantStatus(t, "abort", res, body, http.StatusNoContent)
		}
		res, body = rawDo(t, http.MethodGet, multipartURL(s, "/v1/objects:multipart:parts/", doc.Key, "upload_id="+url.QueryEscape(doc.UploadID)), bearer(t, k.Full), nil)
		if res.StatusCode/100 == 2 {
			t.Errorf("list parts after abort: %d %q, want an error", res.StatusCode, body)
		}
	})

	t.Run("Internal", func(t *testing.T) {
		for _, c := range []struct{ method, path, ctype, body string }{
			{http.MethodGet, "/health", "text/plain; charset=utf-8", "OK"},
			{http.MethodHead, "/health", "text/plain; charset=utf-8", ""},
			{http.MethodGet, "/ready", "text/plain; charset=utf-8", "OK"},
		} {
			res, body := rawDo(t, c.method, s.URL+c.path, nil, nil)
			wantStatus(t, c.method+" "+c.path, res, body, http.StatusOK)
			if string(body) != c.body || res.Header.Get("Content-Type") != c.ctype {
				t.Errorf("%s %s = %q (%s), want %q (%s)", c.method, c.path, body, res.Header.Get("Content-Type"), c.body, c.ctype)
			}
		}
		res, body := rawDo(t, http.MethodGet, s.URL+"/keda", nil, nil)
		wantStatus(t, "GET /keda", res, body, http.StatusOK)
		if res.Header.Get("Content-Type") != "text/plain; version=0.0.4; charset=utf-8" {
			t.Errorf("/keda content-type %q", res.Header.Get("Content-Type"))
		}
		for _, m := range []string{"objectstore_bytes_total", "objectstore_requests_total", "objectstore_requests_in_flight",
			"objectstore_requests_limit", "objectstore_tasks_running", "objectstore_tasks_limit"} {
			if !regexp.MustCompile(`(?m)^# TYPE ` + m + ` (counter|gauge)\n` + m + ` \d+$`).Match(body) {
				t.Errorf("/keda lacks %s:\n%s", m, body)
			}
		}
		if keda(t, s, "objectstore_requests_total") == 0 || keda(t, s, "objectstore_bytes_total") == 0 {
			t.Errorf("/keda counted no requests or bytes after this test's traffic:\n%s", body)
		}
	})

	stopTerm(t, s)
	checkClean(t, dir, live)
}

// rawHeaderNames sends "<request line> HTTP/1.1" with h over a fresh connection and returns
// the response's header names exactly as they came over the wire.
func rawHeaderNames(t testing.TB, s *server, requestLine string, h http.Header) []string {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(s.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	var req bytes.Buffer
	fmt.Fprintf(&req, "%s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n", requestLine, strings.TrimPrefix(s.URL, "http://"))
	_ = h.Write(&req)
	req.WriteString("\r\n")
	if _, err := conn.Write(req.Bytes()); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	status, err := br.ReadString('\n')
	if err != nil {
		t.Fatalf("reading the status line: %v", err)
	}
	if !strings.HasPrefix(status, "HTTP/1.1 2") {
		t.Fatalf("%s: %q", requestLine, status)
	}
	var names []string
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("reading headers: %v", err)
		}
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			return names
		}
		name, _, _ := strings.Cut(line, ":")
		names = append(names, name)
	}
}
