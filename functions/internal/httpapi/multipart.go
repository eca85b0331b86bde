package httpapi

import (
	"bytes"
	"context"
	"crypto/md5" //nolint:gosec // Content-MD5 is an integrity check, not a security one
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/stratastore/strata/functions/internal/auth"
	"github.com/stratastore/strata/tiered/object"
)

// queryError is a 400 for a bad multipart query string, text/plain as axum's Query
// extractor answers (functions/API.md §9.1).
func queryError(msg string) *httpError {
	return &httpError{status: http.StatusBadRequest, text: true, detail: "Failed to deserialize query string: " + msg}
}

// multipartQuery is the parsed query of a multipart request.
type multipartQuery struct {
	uploadID         string
	partNumber       int
	maxParts, marker int
}

// parseMultipartQuery parses upload_id and, as asked, part_number, max_parts and
// part_number_marker. Values are form-decoded; other parameters (os_auth, ...) are ignored.
func parseMultipartQuery(raw string, wantPart, wantList bool) (multipartQuery, *httpError) {
	var q multipartQuery
	vals, err := url.ParseQuery(raw)
	if err != nil {
		return q, queryError(err.Error())
	}
	one := func(name string) (string, bool, *httpError) {
		v, ok := vals[name]
		if !ok {
			return "", false, nil
		}
		if len(v) > 1 {
			return "", false, queryError("duplicate field `" + name + "`")
		}
		return v[0], true, nil
	}
	number := func(name string, nonzero bool) (int, bool, *httpError) {
		v, ok, herr := one(name)
		if herr != nil || !ok {
			return 0, ok, herr
		}
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			return 0, true, queryError(fmt.Sprintf("%s: invalid value %q, expected a u32", name, v))
		}
		if nonzero && n == 0 {
			return 0, true, queryError(name + ": invalid value: integer `0`, expected a nonzero u32")
		}
		return int(n), true, nil
	}
	v, ok, herr := one("upload_id")
	if herr != nil {
		return q, herr
	}
	if !ok {
		return q, queryError("missing field `upload_id`")
	}
	q.uploadID = v
	if wantPart {
		n, ok, herr := number("part_number", true)
		if herr != nil {
			return q, herr
		}
		if !ok {
			return q, queryError("missing field `part_number`")
		}
		q.partNumber = n
	}
	if wantList {
		if q.maxParts, _, herr = number("max_parts", false); herr != nil {
			return q, herr
		}
		if q.marker, _, herr = number("part_number_marker", false); herr != nil {
			return q, herr
		}
	}
	return q, nil
}

// handleInitiate starts a multipart upload: PUT with a key, or POST for a server key.
// 200 {"key":...,"upload_id":...} (functions/API.md §9.2).
func (s *Server) handleInitiate(w http.ResponseWriter, r *http.Request, c *call) {
	if c.route.shape != shapeObject {
		c.id.Key = uuid.NewString()
	}
	md, err := s.writeMetadata(r, c)
	if err != nil {
		writeError(w, r, err)
		return
	}
	var uploadID string
	err = s.permitted(r, c, func() (err error) {
		uploadID, err = s.store.InitiateMultipart(r.Context(), c.id, md)
		return err
	})
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, struct {
		Key      string `json:"key"`
		UploadID string `json:"upload_id"`
	}{c.id.Key, uploadID})
}

// handleUploadPart stores one part. Content-Length is required; a Content-MD5, when given,
// is verified before the last byte reaches the store, so a corrupted part is never stored.
func (s *Server) handleUploadPart(w http.ResponseWriter, r *http.Request, c *call) {
	q, herr := parseMultipartQuery(r.URL.RawQuery, true, false)
	if herr != nil {
		writeError(w, r, herr)
		return
	}
	if r.ContentLength < 0 {
		writeError(w, r, clientError("Content-Length header is required"))
		return
	}
	var want []byte
	if v, ok := first(r.Header, "Content-Md5"); ok {
		d, err := base64.StdEncoding.DecodeString(v)
		if err != nil || len(d) != md5.Size {
			writeError(w, r, clientError("invalid Content-MD5 header"))
			return
		}
		want = d
	}
	if err := c.grant.Authorize(c.octx, auth.Write); err != nil {
		writeError(w, r, err)
		return
	}
	body := s.body(r, c)
	var src io.Reader = body
	var sum *md5Reader
	if want != nil {
		sum = &md5Reader{r: body, h: md5.New(), want: want, left: r.ContentLength} //nolint:gosec // see import
		src = sum
	}
	// The part streams into a long-term writer that buffers a chunk: a large-upload slot.
	mem, err := s.reserveStream(0)
	if err != nil {
		writeError(w, r, err)
		return
	}
	defer mem()
	var etag string
	err = s.permittedStream(r, c, func() (err error) {
		etag, err = s.store.UploadPart(r.Context(), c.id, q.uploadID, q.partNumber, r.ContentLength, src)
		return err
	})
	if err != nil {
		if sum != nil && sum.err != nil {
			writeError(w, r, clientError("Content-MD5 mismatch"))
			return
		}
		writeError(w, r, body.failed(err))
		return
	}
	writeJSON(w, http.StatusOK, struct {
		ETag string `json:"etag"`
	}{etag})
}

// errMD5Mismatch fails the last read of a part whose Content-MD5 does not match.
var errMD5Mismatch = errors.New("Content-MD5 mismatch")

// md5Reader hashes a part body and fails the read that delivers its last byte when the
// digest differs, so the store sees an error instead of a clean end and stores nothing.
type md5Reader struct {
	r    io.Reader
	h    hash.Hash
	want []byte
	left int64
	err  error
}

func (m *md5Reader) Read(p []byte) (int, error) {
	if m.err != nil {
		return 0, m.err
	}
	n, err := m.r.Read(p)
	m.h.Write(p[:n])
	m.left -= int64(n)
	if m.left <= 0 && (err == nil || err == io.EOF) && !bytes.Equal(m.h.Sum(nil), m.want) { //nolint:errorlint // io.EOF by contract
		m.err = errMD5Mismatch
		return n, m.err
	}
	return n, err
}

// partJSON is one part of a list-parts answer.
type partJSON struct {
	PartNumber   int    `json:"part_number"`
	ETag         string `json:"etag"`
	LastModified string `json:"last_modified"`
	Size         int64  `json:"size"`
}

// lastModified renders a part time as objectstore does: RFC 3339 in UTC, with no fraction
// when the nanoseconds are zero and nine digits otherwise.
func lastModified(t time.Time) string {
	t = t.UTC()
	if t.Nanosecond() == 0 {
		return t.Format("2006-01-02T15:04:05Z")
	}
	return t.Format("2006-01-02T15:04:05.000000000Z")
}

// handleListParts lists an upload's parts (functions/API.md §9.4).
func (s *Server) handleListParts(w http.ResponseWriter, r *http.Request, c *call) {
	q, herr := parseMultipartQuery(r.URL.RawQuery, false, true)
	if herr != nil {
		writeError(w, r, herr)
		return
	}
	if err := c.grant.Authorize(c.octx, auth.Write); err != nil {
		writeError(w, r, err)
		return
	}
	var l object.PartList
	err := s.permitted(r, c, func() (err error) {
		l, err = s.store.ListParts(r.Context(), c.id, q.uploadID, q.maxParts, q.marker)
		return err
	})
	if err != nil {
		writeError(w, r, err)
		return
	}
	out := struct {
		Parts       []partJSON `json:"parts"`
		IsTruncated bool       `json:"is_truncated"`
		NextMarker  *int       `json:"next_part_number_marker,omitempty"`
	}{Parts: make([]partJSON, 0, len(l.Parts)), IsTruncated: l.IsTruncated}
	for _, p := range l.Parts {
		out.Parts = append(out.Parts, partJSON{p.PartNumber, p.ETag, lastModified(p.LastModified), p.Size})
	}
	if l.IsTruncated {
		out.NextMarker = &l.NextPartNumberMarker
	}
	writeJSON(w, http.StatusOK, out)
}

// maxCompleteBody is axum's default JSON body limit, which bounds a complete request.
const maxCompleteBody = 2 << 20

// completeKeepAlive is the interval of the space bytes a running complete sends.
var completeKeepAlive = time.Second

// parseCompleteBody decodes {"parts":[{"part_number":N,"etag":"..."},...]}, with axum's
// Json extractor's statuses: 415 without a JSON content type, 400 for malformed JSON, 422
// for a well-formed document of the wrong shape.
// The complete body's size is checked against the declared Content-Length before the body
// is read, and again while it is read (a chunked body declares none).
var errCompleteTooLarge = &httpError{status: http.StatusRequestEntityTooLarge, text: true, detail: "Failed to buffer the request body: length limit exceeded"}

// checkCompleteHeaders checks what a complete's headers say about its body: the content
// type (415) and the declared length (413). It reads nothing.
func checkCompleteHeaders(r *http.Request) error {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || !(mt == "application/json" || strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json")) {
		return &httpError{status: http.StatusUnsupportedMediaType, text: true, detail: "Expected request with `Content-Type: application/json`"}
	}
	if r.ContentLength > maxCompleteBody {
		return errCompleteTooLarge
	}
	return nil
}

func parseCompleteBody(r *http.Request, body io.Reader) ([]object.CompletedPart, error) {
	if err := checkCompleteHeaders(r); err != nil {
		return nil, err
	}
	b, err := io.ReadAll(io.LimitReader(body, maxCompleteBody+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxCompleteBody {
		return nil, errCompleteTooLarge
	}
	if !json.Valid(b) {
		var v any
		err := json.Unmarshal(b, &v)
		return nil, &httpError{status: http.StatusBadRequest, text: true, detail: "Failed to parse the request body as JSON: " + err.Error()}
	}
	shape := func(msg string) error {
		return &httpError{status: http.StatusUnprocessableEntity, text: true, detail: "Failed to deserialize the JSON body into the target type: " + msg}
	}
	var doc struct {
		Parts *[]struct {
			PartNumber *uint32 `json:"part_number"`
			ETag       *string `json:"etag"`
		} `json:"parts"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, shape(err.Error())
	}
	if doc.Parts == nil {
		return nil, shape("missing field `parts`")
	}
	parts := make([]object.CompletedPart, 0, len(*doc.Parts))
	for i, p := range *doc.Parts {
		switch {
		case p.PartNumber == nil:
			return nil, shape(fmt.Sprintf("parts[%d]: missing field `part_number`", i))
		case *p.PartNumber == 0:
			return nil, shape(fmt.Sprintf("parts[%d].part_number: invalid value: integer `0`, expected a nonzero u32", i))
		case p.ETag == nil:
			return nil, shape(fmt.Sprintf("parts[%d]: missing field `etag`", i))
		}
		parts = append(parts, object.CompletedPart{PartNumber: int(*p.PartNumber), ETag: *p.ETag})
	}
	return parts, nil
}

// completeFailure is the body of a complete that failed after streaming started.
type completeFailure struct {
	Error object.CompleteError `json:"error"`
}

// handleComplete completes an upload (functions/API.md §9.5). Errors found before the work
// starts (query, body, permission) are ordinary 4xx answers. Then it answers 200 at once
// and sends one space byte every second while the store works, keeping proxies from timing
// out, and finally exactly one JSON document: {"key":...} or {"error":{...}}.
func (s *Server) handleComplete(w http.ResponseWriter, r *http.Request, c *call) {
	q, herr := parseMultipartQuery(r.URL.RawQuery, false, false)
	if herr != nil {
		writeError(w, r, herr)
		return
	}
	// Headers and the permission are checked before any body byte is read, so that a
	// refused client gets its answer without sending the body.
	if err := checkCompleteHeaders(r); err != nil {
		writeError(w, r, err)
		return
	}
	if err := c.grant.Authorize(c.octx, auth.Write); err != nil {
		writeError(w, r, err)
		return
	}
	reserve := int64(maxCompleteBody + 1)
	if r.ContentLength >= 0 {
		reserve = r.ContentLength + 1
	}
	mem, err := s.reserve(reserve)
	if err != nil {
		writeError(w, r, err)
		return
	}
	body := s.body(r, c)
	parts, err := parseCompleteBody(r, body)
	mem() // the parsed parts are small; the raw body is garbage now
	if err != nil {
		writeError(w, r, body.failed(err))
		return
	}
	release, err := s.acquire(r, c, false)
	if err != nil {
		writeError(w, r, err)
		return
	}
	defer release()

	type result struct {
		ce  *object.CompleteError
		err error
	}
	done := make(chan result, 1)
	go func() {
		ce, err := s.store.CompleteMultipart(r.Context(), c.id, q.uploadID, parts)
		done <- result{ce, err}
	}()

	setContentType(w.Header(), "application/json")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	_ = rc.Flush()
	tick := time.NewTicker(completeKeepAlive)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
			if _, err := w.Write([]byte{' '}); err == nil {
				_ = rc.Flush()
			}
		case res := <-done:
			var doc any = keyResponse{Key: c.id.Key}
			switch {
			case res.err != nil:
				if c.info != nil {
					c.info.err = res.err
				}
				if errors.Is(res.err, context.Canceled) {
					return
				}
				doc = completeFailure{object.CompleteError{Code: "internal error", Message: errorResponse(res.err).Error()}}
			case res.ce != nil:
				doc = completeFailure{*res.ce}
			}
			b, _ := marshalJSON(doc)
			_, _ = w.Write(b)
			return
		}
	}
}

// handleAbort aborts an upload: 204, also for an unknown upload.
func (s *Server) handleAbort(w http.ResponseWriter, r *http.Request, c *call) {
	q, herr := parseMultipartQuery(r.URL.RawQuery, false, false)
	if herr != nil {
		writeError(w, r, herr)
		return
	}
	if err := c.grant.Authorize(c.octx, auth.Write); err != nil {
		writeError(w, r, err)
		return
	}
	if err := s.permitted(r, c, func() error { return s.store.AbortMultipart(r.Context(), c.id, q.uploadID) }); err != nil {
		writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
