package httpapi

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"sync"

	"github.com/google/uuid"

	"github.com/stratastore/strata/functions/wire"
	"github.com/stratastore/strata/tiered/object"
)

// batchParallelism bounds the operations of one batch that run at once, on top of the bulk
// concurrency permits, so that memory stays bounded when no limiter is configured. The
// limits of a batch (functions/API.md §8.1, §14) are the wire's: wire.MaxBatchOps, wire.MaxBatchInsert
// and wire.MaxBatchBody.
const batchParallelism = 16

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

// parseBatchOp reads one request part into an operation. Errors are per-operation.
func (s *Server) parseBatchOp(index int, part *wire.ReceivedOp, c *call) (*batchOp, error) {
	kind := part.Kind()
	if _, ok := wire.KindPermission(kind); !ok {
		if kind == "" {
			return nil, batchError(http.StatusBadRequest, "bad request: missing "+wire.HeaderBatchKind+" header")
		}
		return nil, batchError(http.StatusBadRequest, "bad request: invalid operation kind: "+part.Header.Get(wire.HeaderBatchKind))
	}
	op := &batchOp{index: index, kind: kind, id: object.ID{Context: c.octx}}
	key, hasKey, err := part.Key()
	switch {
	case hasKey:
		if err != nil {
			return nil, batchError(http.StatusBadRequest, "bad request: invalid "+wire.HeaderBatchKey+" header")
		}
		op.id.Key = key
		if err := op.id.Validate(); err != nil {
			return nil, batchError(http.StatusBadRequest, "bad request: "+object.Reason(err))
		}
	case kind == wire.KindInsert:
		op.id.Key = uuid.NewString()
	default:
		return nil, batchError(http.StatusBadRequest, "bad request: missing "+wire.HeaderBatchKey+" header for "+kind+" operation")
	}
	if kind != wire.KindInsert {
		return op, nil
	}
	md, herr := parseMetadata(part.Header, s.now())
	if herr != nil {
		return nil, herr
	}
	op.md = md
	payload, err := part.ReadPayload()
	if errors.Is(err, wire.ErrBatchInsertTooLarge) {
		return nil, errBatchInsert
	}
	if err != nil {
		return nil, err
	}
	op.payload = payload
	return op, nil
}

// handleBatch runs a batch request (functions/API.md §8). Once the request-level checks passed
// it always answers 200 with a multipart body: one part per operation, in completion
// order. Operations are read from the request as they arrive and run concurrently, bounded
// by the bulk concurrency permits.
func (s *Server) handleBatch(w http.ResponseWriter, r *http.Request, c *call) {
	reqBoundary, err := wire.ParseBatchContentType(r.Header.Get("Content-Type"))
	if err != nil {
		writeError(w, r, errBatchBoundary)
		return
	}
	if r.ContentLength > wire.MaxBatchBody {
		writeError(w, r, errBatchBody)
		return
	}
	body := s.body(r, c)
	rr := wire.NewRequestReader(body, reqBoundary)

	// Answer while the request still streams in: results go out as they complete.
	_ = http.NewResponseController(w).EnableFullDuplex()
	boundary := s.boundary()
	setContentType(w.Header(), wire.ResponseContentType(boundary))
	w.WriteHeader(http.StatusOK)

	results := make(chan batchResult, batchParallelism)
	go s.runBatch(r, c, rr, body, results)
	bw := &batchWriter{enc: wire.NewResponseWriter(w, boundary), out: s.out(w, c), rc: http.NewResponseController(w)}
	for res := range results {
		bw.part(res)
	}
	if bw.broken {
		// A get stream failed inside its part, which cannot carry an error any more: cut
		// the response so the client does not take a short payload for a whole one.
		abort(w)
		return
	}
	_ = bw.enc.Close()
}

// boundary returns the response boundary; tests may fix it.
func (s *Server) boundary() string {
	if s.newBoundary != nil {
		return s.newBoundary()
	}
	return wire.NewBoundary()
}

// runBatch reads and dispatches the operations, then closes results when all are done. A
// slot is taken before an operation is read and given back once its result is written, so
// at most batchParallelism operations (with their insert payloads or get streams) are in
// progress at once.
func (s *Server) runBatch(r *http.Request, c *call, rr *wire.RequestReader, body *clientBody, results chan<- batchResult) {
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
		op, more, err := s.nextBatchOp(index, rr, c)
		if op == nil && err == nil { // the end of the request
			free()
			return
		}
		if err != nil {
			switch {
			case errors.Is(err, wire.ErrBatchBodyTooLarge):
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
		release, err := s.acquire(r, c, true)
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
func (s *Server) nextBatchOp(index int, rr *wire.RequestReader, c *call) (op *batchOp, more bool, err error) {
	part, err := rr.Next()
	if errors.Is(err, io.EOF) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, batchError(http.StatusBadRequest, "bad request: "+err.Error())
	}
	if index >= wire.MaxBatchOps {
		return nil, true, errBatchTooMany
	}
	if op, err = s.parseBatchOp(index, part, c); err != nil {
		return nil, true, err
	}
	if !s.opts.Limiter.Admit(c.octx) {
		return nil, true, errBatchLimited
	}
	perm, _ := wire.KindPermission(op.kind)
	if err := c.grant.Authorize(c.octx, perm); err != nil {
		return nil, true, err
	}
	if op.kind == wire.KindInsert {
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
	case wire.KindGet:
		obj, err := s.store.Get(ctx, op.id, nil)
		switch {
		case errors.Is(err, object.ErrNotFound):
			res.status = http.StatusNotFound
		case err != nil:
			return batchResult{index: op.index, err: err}
		default:
			res.status, res.headers, res.body = http.StatusOK, metadataHeaders(obj.Metadata), obj.Body
		}
	case wire.KindHead:
		md, err := s.store.Head(ctx, op.id)
		switch {
		case errors.Is(err, object.ErrNotFound):
			res.status = http.StatusNotFound
		case err != nil:
			return batchResult{index: op.index, err: err}
		default:
			res.status, res.headers = http.StatusNoContent, metadataHeaders(md)
		}
	case wire.KindInsert:
		if _, err := s.store.Put(ctx, op.id, op.md, bytes.NewReader(op.payload)); err != nil {
			return batchResult{index: op.index, err: err}
		}
		res.status = http.StatusCreated
	case wire.KindDelete:
		if err := s.store.Delete(ctx, op.id); err != nil {
			return batchResult{index: op.index, err: err}
		}
		res.status = http.StatusNoContent
	}
	return res
}

// batchWriter writes the multipart response; wire frames it, this streams the bodies and
// flushes. After a write error (the client left) it only drains results, closing bodies and
// releasing permits.
type batchWriter struct {
	enc *wire.ResponseWriter
	out io.Writer
	rc  *http.ResponseController
	// broken is set when a get body failed mid-part; the response must then be cut.
	broken bool
}

// part writes one result: its header block (see wire.ResponseWriter.BeginPart), the body
// and a CRLF, then flushes.
func (b *batchWriter) part(res batchResult) {
	defer func() {
		if res.body != nil {
			res.body.Close()
		}
		if res.done != nil {
			res.done()
		}
	}()
	if b.broken || b.enc.Err() != nil {
		return
	}
	h := wire.ResultHeader{Index: res.index, Fields: res.headers}
	var errBody []byte
	if res.err != nil {
		e := errorResponse(res.err)
		h.Status = e.status
		errBody, _ = e.body()
	} else {
		h.Kind, h.Key, h.Status = res.kind, res.key, res.status
	}
	if b.enc.BeginPart(h) != nil {
		return
	}
	switch {
	case errBody != nil:
		_, _ = b.enc.Write(errBody)
	case res.body != nil:
		if _, err := io.Copy(b.out, res.body); err != nil {
			b.broken = true
			return
		}
	}
	if b.enc.EndPart() == nil {
		_ = b.rc.Flush()
	}
}
