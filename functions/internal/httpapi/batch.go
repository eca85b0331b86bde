package httpapi

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/google/uuid"

	"github.com/stratastore/strata/functions/internal/auth"
	"github.com/stratastore/strata/tiered/object"
)

// Batch limits (functions/API.md §8.1, §14).
const (
	// MaxBatchOps is the number of operations one batch request may carry.
	MaxBatchOps = 1000
	// MaxBatchInsert is the largest insert payload in a batch.
	MaxBatchInsert = 1 << 20
	// MaxBatchBody is the largest batch request body.
	MaxBatchBody = 1 << 30
	// batchParallelism bounds the operations of one batch that run at once, on top of the
	// bulk concurrency permits, so that memory stays bounded when no limiter is configured.
	batchParallelism = 16
)

// Batch part header names.
const (
	hdrBatchIndex  = "x-sn-batch-operation-index"
	hdrBatchKey    = "x-sn-batch-operation-key"
	hdrBatchKind   = "x-sn-batch-operation-kind"
	hdrBatchStatus = "x-sn-batch-operation-status"
)

// statusLine renders a batch part status the way hyper names it ("413 Payload Too Large").
func statusLine(code int) string {
	reason := http.StatusText(code)
	switch code {
	case http.StatusRequestEntityTooLarge:
		reason = "Payload Too Large"
	case statusClientClosed:
		reason = "Client Closed Request"
	}
	return strconv.Itoa(code) + " " + reason
}

// batchError is a per-operation batch failure with objectstore's "batch error: " detail.
func batchError(status int, msg string) *httpError {
	return &httpError{status: status, detail: "batch error: " + msg}
}

var (
	errBatchTooMany  = batchError(http.StatusRequestEntityTooLarge, "batch limit exceeded: exceeded 1000 operations per batch request")
	errBatchInsert   = batchError(http.StatusRequestEntityTooLarge, "batch limit exceeded: individual request in batch exceeds body size limit of 1048576 bytes")
	errBatchBody     = batchError(http.StatusRequestEntityTooLarge, "batch limit exceeded: request body exceeds the limit of 1073741824 bytes")
	errBatchLimited  = batchError(http.StatusTooManyRequests, "rate limited")
	errBatchBoundary = &httpError{status: http.StatusBadRequest, text: true, detail: "Invalid `boundary` for `multipart/form-data` request"}
)

// encodeBatchKey percent-encodes every byte of a key that is not ASCII alphanumeric, as
// objectstore does in x-sn-batch-operation-key.
func encodeBatchKey(key string) string {
	var b strings.Builder
	for i := 0; i < len(key); i++ {
		c := key[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}

// batchOp is one parsed operation of a batch request.
type batchOp struct {
	index   int
	kind    string
	id      object.ID
	md      object.Metadata
	payload []byte
}

// batchResult is one response part. A failed operation has err set and no key, kind or
// headers; a get's body is streamed by the writer, which then calls done.
type batchResult struct {
	index   int
	kind    string
	key     string
	status  int
	headers []header
	body    io.ReadCloser
	err     error
	done    func()
}

// batchKindPerm maps an operation kind to the permission it needs.
var batchKindPerm = map[string]auth.Permission{
	"get": auth.Read, "head": auth.Read, "insert": auth.Write, "delete": auth.Delete,
}

// parseBatchOp reads one request part into an operation. Errors are per-operation.
func (s *Server) parseBatchOp(index int, part *multipart.Part, c *call) (*batchOp, error) {
	h := http.Header(part.Header)
	kind := strings.ToLower(h.Get(hdrBatchKind))
	if _, ok := batchKindPerm[kind]; !ok {
		if kind == "" {
			return nil, batchError(http.StatusBadRequest, "bad request: missing "+hdrBatchKind+" header")
		}
		return nil, batchError(http.StatusBadRequest, "bad request: invalid operation kind: "+h.Get(hdrBatchKind))
	}
	op := &batchOp{index: index, kind: kind, id: object.ID{Context: c.octx}}
	rawKey, hasKey := first(h, http.CanonicalHeaderKey(hdrBatchKey))
	switch {
	case hasKey:
		key, herr := percentDecode(rawKey, "key")
		if herr != nil {
			return nil, batchError(http.StatusBadRequest, "bad request: invalid "+hdrBatchKey+" header")
		}
		op.id.Key = key
		if err := op.id.Validate(); err != nil {
			return nil, batchError(http.StatusBadRequest, "bad request: "+object.Reason(err))
		}
	case kind == "insert":
		op.id.Key = uuid.NewString()
	default:
		return nil, batchError(http.StatusBadRequest, "bad request: missing "+hdrBatchKey+" header for "+kind+" operation")
	}
	if kind != "insert" {
		return op, nil
	}
	md, herr := parseMetadata(h, s.now())
	if herr != nil {
		return nil, herr
	}
	op.md = md
	payload, err := io.ReadAll(io.LimitReader(part, MaxBatchInsert+1))
	if err != nil {
		return nil, err
	}
	if len(payload) > MaxBatchInsert {
		return nil, errBatchInsert
	}
	op.payload = payload
	return op, nil
}

// batchBodyLimit fails reads beyond MaxBatchBody bytes.
type batchBodyLimit struct {
	r    io.Reader
	left int64
}

var errBatchBodyTooLarge = errors.New("batch body too large")

func (l *batchBodyLimit) Read(p []byte) (int, error) {
	if l.left <= 0 {
		return 0, errBatchBodyTooLarge
	}
	if int64(len(p)) > l.left {
		p = p[:l.left+1] // read one byte past the limit to tell "exactly full" from "over"
	}
	n, err := l.r.Read(p)
	l.left -= int64(n)
	if l.left < 0 {
		return n, errBatchBodyTooLarge
	}
	return n, err
}

// newBoundary returns a fresh response boundary, "os-boundary-" and 32 hex digits.
func newBoundary() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return "os-boundary-" + hex.EncodeToString(b[:])
}

// handleBatch runs a batch request (functions/API.md §8). Once the request-level checks passed
// it always answers 200 with a multipart body: one part per operation, in completion
// order. Operations are read from the request as they arrive and run concurrently, bounded
// by the bulk concurrency permits.
func (s *Server) handleBatch(w http.ResponseWriter, r *http.Request, c *call) {
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" || params["boundary"] == "" {
		writeError(w, r, errBatchBoundary)
		return
	}
	if r.ContentLength > MaxBatchBody {
		writeError(w, r, errBatchBody)
		return
	}
	body := s.body(r, c)
	mr := multipart.NewReader(&batchBodyLimit{r: body, left: MaxBatchBody}, params["boundary"])

	// Answer while the request still streams in: results go out as they complete.
	_ = http.NewResponseController(w).EnableFullDuplex()
	boundary := s.boundary()
	setContentType(w.Header(), `multipart/form-data; boundary="`+boundary+`"`)
	w.WriteHeader(http.StatusOK)

	results := make(chan batchResult, batchParallelism)
	go s.runBatch(r, c, mr, body, results)
	bw := &batchWriter{w: w, out: s.out(w, c), rc: http.NewResponseController(w), boundary: boundary}
	for res := range results {
		bw.part(res)
	}
	if bw.broken {
		// A get stream failed inside its part, which cannot carry an error any more: cut
		// the response so the client does not take a short payload for a whole one.
		abort(w)
		return
	}
	bw.close()
}

// boundary returns the response boundary; tests may fix it.
func (s *Server) boundary() string {
	if s.newBoundary != nil {
		return s.newBoundary()
	}
	return newBoundary()
}

// runBatch reads and dispatches the operations, then closes results when all are done. A
// slot is taken before an operation is read and given back once its result is written, so
// at most batchParallelism operations (with their insert payloads or get streams) are in
// progress at once.
func (s *Server) runBatch(r *http.Request, c *call, mr *multipart.Reader, body *clientBody, results chan<- batchResult) {
	var wg sync.WaitGroup
	defer func() {
		wg.Wait()
		close(results)
	}()
	parallel := s.batchParallelism
	if parallel <= 0 {
		parallel = batchParallelism
	}
	slots := make(chan struct{}, parallel)
	free := func() { <-slots }
	for index := 0; ; index++ {
		slots <- struct{}{}
		op, more, err := s.nextBatchOp(index, mr, c)
		if op == nil && err == nil { // the end of the request
			free()
			return
		}
		if err != nil {
			switch {
			case errors.Is(err, errBatchBodyTooLarge):
				err = errBatchBody
			case body.err != nil:
				err = body.err
			}
			results <- batchResult{index: index, err: err, done: free}
			if !more {
				return
			}
			continue
		}
		release, err := s.acquire(r, true)
		if err != nil {
			results <- batchResult{index: index, err: err, done: free}
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			res := s.execBatchOp(r, op)
			res.done = func() {
				release()
				free()
			}
			results <- res
		}()
	}
}

// nextBatchOp reads the next operation and runs its checks in objectstore's order: parse,
// rate limit, permission, usecase policy. It returns nil, nil at the end of the request,
// and more=false when the request cannot be read any further.
func (s *Server) nextBatchOp(index int, mr *multipart.Reader, c *call) (op *batchOp, more bool, err error) {
	part, err := mr.NextRawPart()
	if errors.Is(err, io.EOF) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, batchError(http.StatusBadRequest, "bad request: "+err.Error())
	}
	if index >= MaxBatchOps {
		return nil, true, errBatchTooMany
	}
	if op, err = s.parseBatchOp(index, part, c); err != nil {
		return nil, true, err
	}
	if !s.opts.Limiter.Admit(c.octx) {
		return nil, true, errBatchLimited
	}
	if err := c.grant.Authorize(c.octx, batchKindPerm[op.kind]); err != nil {
		return nil, true, err
	}
	if op.kind == "insert" {
		if err := s.checkUsecase(c.octx.Usecase, op.md.ExpirationPolicy); err != nil {
			return nil, true, err
		}
	}
	return op, true, nil
}

// execBatchOp runs one operation against the store.
func (s *Server) execBatchOp(r *http.Request, op *batchOp) batchResult {
	res := batchResult{index: op.index, kind: op.kind, key: op.id.Key}
	ctx := r.Context()
	switch op.kind {
	case "get":
		obj, err := s.store.Get(ctx, op.id, nil)
		switch {
		case errors.Is(err, object.ErrNotFound):
			res.status = http.StatusNotFound
		case err != nil:
			return batchResult{index: op.index, err: err}
		default:
			res.status, res.headers, res.body = http.StatusOK, metadataHeaders(obj.Metadata), obj.Body
		}
	case "head":
		md, err := s.store.Head(ctx, op.id)
		switch {
		case errors.Is(err, object.ErrNotFound):
			res.status = http.StatusNotFound
		case err != nil:
			return batchResult{index: op.index, err: err}
		default:
			res.status, res.headers = http.StatusNoContent, metadataHeaders(md)
		}
	case "insert":
		if _, err := s.store.Put(ctx, op.id, op.md, bytes.NewReader(op.payload)); err != nil {
			return batchResult{index: op.index, err: err}
		}
		res.status = http.StatusCreated
	case "delete":
		if err := s.store.Delete(ctx, op.id); err != nil {
			return batchResult{index: op.index, err: err}
		}
		res.status = http.StatusNoContent
	}
	return res
}

// batchWriter writes the multipart response. After a write error (the client left) it only
// drains results, closing bodies and releasing permits.
type batchWriter struct {
	w        io.Writer
	out      io.Writer
	rc       *http.ResponseController
	boundary string
	err      error
	// broken is set when a get body failed mid-part; the response must then be cut.
	broken bool
}

func (b *batchWriter) write(s string) {
	if b.err == nil {
		_, b.err = io.WriteString(b.w, s)
	}
}

// part writes one result: the delimiter, the headers in objectstore's order (index, key,
// kind, status, metadata, content-disposition, content-type), a blank line, the body and a
// CRLF.
func (b *batchWriter) part(res batchResult) {
	defer func() {
		if res.body != nil {
			res.body.Close()
		}
		if res.done != nil {
			res.done()
		}
	}()
	var sb strings.Builder
	line := func(name, value string) {
		sb.WriteString(name)
		sb.WriteString(": ")
		sb.WriteString(value)
		sb.WriteString("\r\n")
	}
	sb.WriteString("--" + b.boundary + "\r\n")
	line(hdrBatchIndex, strconv.Itoa(res.index))
	var errBody []byte
	if res.err != nil {
		e := errorResponse(res.err)
		line(hdrBatchStatus, statusLine(e.status))
		errBody, _ = e.body()
	} else {
		line(hdrBatchKey, encodeBatchKey(res.key))
		line(hdrBatchKind, res.kind)
		line(hdrBatchStatus, statusLine(res.status))
	}
	contentType := ""
	for _, h := range res.headers {
		if h.name == hdrContentType {
			contentType = h.value
			continue
		}
		if validHeaderValue(h.value) {
			line(h.name, h.value)
		}
	}
	line(hdrContentDisposition, "form-data; name=part")
	if contentType != "" {
		line(hdrContentType, contentType)
	}
	sb.WriteString("\r\n")
	b.write(sb.String())
	switch {
	case errBody != nil:
		b.write(string(errBody))
	case res.body != nil && b.err == nil:
		if _, err := io.Copy(b.out, res.body); err != nil {
			b.err, b.broken = err, true
		}
	}
	b.write("\r\n")
	if b.err == nil {
		_ = b.rc.Flush()
	}
}

// close writes the closing delimiter, without a trailing CRLF as objectstore does.
func (b *batchWriter) close() {
	b.write("--" + b.boundary + "--")
}
