package httpapi

import (
	"bytes"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stratastore/strata/functions/internal/auth"
	"github.com/stratastore/strata/functions/internal/logging"
	"github.com/stratastore/strata/functions/wire"
	"github.com/stratastore/strata/tiered"
	"github.com/stratastore/strata/tiered/membackend"
)

// FuzzParsePath routes arbitrary escaped paths and parses what matches: no panic, and a
// key that parses is valid UTF-8 without empty, "." or ".." segments, and survives the
// batch key encoding.
func FuzzParsePath(f *testing.F) {
	for _, p := range []string{
		"/v1/objects/u/_/k", "/v1/objects/u/org=1;p=2/a/b%2Fc", "/v1/objects/u/s/a//b", "/v1/objects/u/s/%2E%2E",
		"/v1/objects:batch/u/_/", "/v1/objects/u/s/%C3%28", "/v1/objects/%FF/s/k", "/v1/objects/u/org=a%20b/k",
		"/v1/objects:multipart:parts/u/_/k", "/health",
	} {
		f.Add(p)
	}
	all := make([]*Route, len(routes))
	for i := range routes {
		all[i] = &routes[i]
	}
	f.Fuzz(func(t *testing.T, path string) {
		for _, method := range []string{"GET", "POST", "PUT", "DELETE", "HEAD"} {
			rt, tg, status, _ := match(all, method, path)
			if rt == nil {
				if status != 404 && status != 405 {
					t.Fatalf("%s %q: status %d", method, path, status)
				}
				continue
			}
			if !rt.objectPath {
				continue
			}
			ctx, herr := parseContext(tg)
			if herr != nil {
				if herr.status != 400 || !strings.HasPrefix(herr.detail, "Invalid URL: ") {
					t.Fatalf("context error %+v", herr)
				}
				continue
			}
			if rt.shape != shapeObject {
				continue
			}
			id, herr := parseKey(ctx, tg.key)
			if herr != nil {
				if herr.status != 400 || !strings.HasPrefix(herr.detail, "Invalid URL: ") {
					t.Fatalf("key error %+v", herr)
				}
				continue
			}
			if !utf8.ValidString(id.Key) || id.Validate() != nil {
				t.Fatalf("accepted invalid key %q", id.Key)
			}
			for _, seg := range strings.Split(id.Key, "/") {
				if seg == "" || seg == "." || seg == ".." {
					t.Fatalf("accepted key %q with segment %q", id.Key, seg)
				}
			}
			if back, herr := percentDecode(wire.EncodeBatchKey(id.Key), "key"); herr != nil || back != id.Key {
				t.Fatalf("batch key round trip of %q: %q %v", id.Key, back, herr)
			}
		}
	})
}

// FuzzParseRange checks that every accepted Range resolves inside the object or is
// unsatisfiable, never out of bounds.
func FuzzParseRange(f *testing.F) {
	for _, s := range []string{"bytes=0-4", "bytes=-9", "bytes=7-", "bytes=5-1", "items=0-1", "bytes=0-1,2-3", "bytes=-0", "bytes=99999999999999999999-"} {
		f.Add(s, int64(22))
	}
	f.Fuzz(func(t *testing.T, v string, total int64) {
		r, herr := parseRange(v, true)
		if herr != nil {
			if herr.status != 400 || !strings.HasPrefix(herr.detail, "client error: invalid Range header") {
				t.Fatalf("%q: error %+v", v, herr)
			}
			return
		}
		if r == nil || total < 0 {
			return
		}
		cr, err := r.Resolve(total)
		if err != nil {
			return
		}
		if cr.Start < 0 || cr.End < cr.Start || cr.End >= total || cr.Total != total {
			t.Fatalf("%q on %d bytes resolved to %+v", v, total, cr)
		}
	})
}

// FuzzMetadataHeaders parses arbitrary metadata headers; accepted metadata must validate,
// and rendering it as response headers and parsing those back must give the same metadata.
func FuzzMetadataHeaders(f *testing.F) {
	f.Add("text/plain; charset=utf-8", "zstd", "ttl:1 days", "10.0.0.1", "a.txt", "color", "blue")
	f.Add("", "", "manual", "", "", "", "")
	f.Add("text", "identity", "tti:30days", "o", `q"uote`, "Key", "v")
	f.Add("application/json", "", "ttl:1h30m", "o\xff", "f", "k", "\x01")
	now := time.Date(2026, 7, 23, 10, 11, 12, 345678000, time.UTC)
	f.Fuzz(func(t *testing.T, ct, enc, exp, origin, filename, customName, customValue string) {
		h := http.Header{}
		for name, v := range map[string]string{"Content-Type": ct, "Content-Encoding": enc, "X-Sn-Expiration": exp, "X-Sn-Origin": origin, "X-Sn-Filename": filename} {
			if v != "" {
				h.Set(name, v)
			}
		}
		if customName != "" {
			h[http.CanonicalHeaderKey("X-Snme-"+customName)] = []string{customValue}
		}
		md, herr := parseMetadata(h, now)
		if herr != nil {
			if herr.status != 400 || !strings.HasPrefix(herr.detail, "service error: metadata error: ") {
				t.Fatalf("error %+v", herr)
			}
			return
		}
		if err := md.Validate(); err != nil {
			t.Fatalf("accepted metadata fails Validate: %v", err)
		}
		back := http.Header{}
		for _, kv := range metadataHeaders(md) {
			back[http.CanonicalHeaderKey(kv.Name)] = []string{kv.Value}
		}
		md2, herr := parseMetadata(back, now)
		if herr != nil {
			t.Fatalf("response headers of %+v do not parse back: %v", md, herr)
		}
		if md2.EffectiveContentType() != md.EffectiveContentType() || md2.Compression != md.Compression ||
			md2.ExpirationPolicy != md.ExpirationPolicy || md2.Origin != md.Origin || md2.Filename != md.Filename || len(md2.Custom) != len(md.Custom) {
			t.Fatalf("round trip changed metadata:\n%+v\n%+v", md, md2)
		}
		for k, v := range md.Custom {
			if md2.Custom[k] != v {
				t.Fatalf("custom %q: %q -> %q", k, v, md2.Custom[k])
			}
		}
	})
}

// FuzzBatchRequest sends arbitrary bodies to the batch endpoint: the answer is a 400 or a
// well-formed multipart response with one part per answered operation.
func FuzzBatchRequest(f *testing.F) {
	ct, body := batchBody(f, []batchPart{
		{[]string{"x-sn-batch-operation-kind", "insert", "x-sn-batch-operation-key", "k"}, "v"},
		{[]string{"x-sn-batch-operation-kind", "get", "x-sn-batch-operation-key", "k"}, ""},
	})
	f.Add(ct, body.Bytes())
	f.Add("multipart/form-data; boundary=b", []byte("--b\r\nx-sn-batch-operation-kind: head\r\n\r\n\r\n--b--"))
	f.Add("multipart/form-data; boundary=b", []byte("--b\r\nbroken\r\n\r\n"))
	f.Add("multipart/form-data", []byte(""))
	mem := membackend.Open(nil)
	store, err := tiered.New(mem.HighVolume(), mem.LongTerm(), mem.ChangeLog(), &tiered.Options{GracePeriod: -1})
	if err != nil {
		f.Fatal(err)
	}
	verifier, err := auth.NewVerifier(nil, auth.Options{})
	if err != nil {
		f.Fatal(err)
	}
	srv, err := New(store, Options{Verifier: verifier, Logger: logging.New(io.Discard, nil)})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, contentType string, body []byte) {
		r := httptest.NewRequest("POST", "/v1/objects:batch/fuzz/_/", bytes.NewReader(body))
		r.Header.Set("Content-Type", contentType)
		w := httptest.NewRecorder()
		srv.ServeHTTP(w, r)
		if w.Code == 400 {
			return
		}
		if w.Code != 200 {
			t.Fatalf("status %d: %s", w.Code, w.Body.String())
		}
		ct := strings.Join(w.Header()[hdrContentType], ",")
		_, params, err := mime.ParseMediaType(ct)
		if err != nil {
			t.Fatalf("content type %q: %v", ct, err)
		}
		mr := multipart.NewReader(w.Body, params["boundary"])
		seen := map[int]bool{}
		for {
			p, err := mr.NextRawPart()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("malformed response: %v\n%q", err, w.Body.String())
			}
			idx, err := strconv.Atoi(p.Header.Get(wire.HeaderBatchIndex))
			if err != nil || seen[idx] || idx < 0 || p.Header.Get(wire.HeaderBatchStatus) == "" {
				t.Fatalf("bad part header %v", p.Header)
			}
			seen[idx] = true
		}
		for i := range len(seen) {
			if !seen[i] {
				t.Fatalf("indexes are not 0..%d: %v", len(seen)-1, seen)
			}
		}
	})
}
