package client

import (
	"bytes"
	"context"
	"crypto/md5" //nolint:gosec // Content-MD5 and S3-style ETags are integrity checks, not security
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/stratastore/strata/functions/wire"
)

// Part is one uploaded part of a multipart upload, as the server lists it.
type Part struct {
	Number       int       `json:"part_number"`
	ETag         string    `json:"etag"`
	Size         int64     `json:"size"`
	LastModified time.Time `json:"last_modified"`
}

// completedPart is one entry of a complete request.
type completedPart struct {
	PartNumber int    `json:"part_number"`
	ETag       string `json:"etag"`
}

// abortTimeout bounds the abort of a failed upload, which runs even when the caller's
// context has ended.
const abortTimeout = 30 * time.Second

// maxCompleteBody bounds the complete answer: keep-alive spaces (one a second) and a small
// JSON document.
const maxCompleteBody = 1 << 20

// putMultipart uploads a payload of known size in parts.
func (s *Session) putMultipart(ctx context.Context, key string, rd io.Reader, pre []*partBuf, size int64, p *putConfig, poolSize int) (string, error) {
	return s.putMultipartPool(ctx, key, rd, pre, size, p, s.c.newPool(poolSize))
}

// putMultipartPool initiates an upload, sends pre and then the rest of rd as parts,
// completes it, and aborts it on failure unless the caller keeps failed uploads.
func (s *Session) putMultipartPool(ctx context.Context, key string, rd io.Reader, pre []*partBuf, size int64, p *putConfig, pool *partPool) (string, error) {
	if size >= 0 && (size+s.c.partSize-1)/s.c.partSize > MaxParts {
		pool.release(pre...)
		return "", invalidf("a payload of %d bytes needs more than %d parts of %d bytes; raise the part size", size, MaxParts, s.c.partSize)
	}
	key, uploadID, err := s.initiate(ctx, key, p)
	if err != nil {
		pool.release(pre...)
		return "", err
	}
	if p.onUpload != nil {
		p.onUpload(key, uploadID)
	}
	parts, err := s.uploadParts(ctx, key, uploadID, rd, pre, size, p, pool, nil)
	if err == nil {
		var got string
		if got, err = s.complete(ctx, key, uploadID, parts); err == nil {
			return got, nil
		}
	}
	ue := &UploadError{Key: key, UploadID: uploadID, Err: err}
	if !p.keepFailed {
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), abortTimeout)
		defer cancel()
		if aerr := s.AbortUpload(actx, key, uploadID); aerr != nil {
			ue.Err = errors.Join(err, fmt.Errorf("abort: %w", aerr))
		} else {
			ue.Aborted = true
		}
	}
	return "", ue
}

// initiate starts a multipart upload: PUT with a key, POST for a generated one.
func (s *Session) initiate(ctx context.Context, key string, p *putConfig) (string, string, error) {
	req := &request{method: http.MethodPut, path: s.path(epMultipart, key), header: p.header(), retry: true, scope: s.tokenScope()}
	if key == "" {
		// A retried POST could start a second upload under another generated key.
		req.method, req.retry = http.MethodPost, false
	}
	res, err := s.c.do(ctx, req)
	if err != nil {
		return "", "", err
	}
	if res.StatusCode != http.StatusOK {
		return "", "", errorFrom(res)
	}
	defer drain(res.Body)
	var doc struct {
		Key      string `json:"key"`
		UploadID string `json:"upload_id"`
	}
	if err := json.NewDecoder(io.LimitReader(res.Body, maxErrorBody)).Decode(&doc); err != nil || doc.Key == "" || doc.UploadID == "" {
		return "", "", fmt.Errorf("client: unexpected multipart initiate response: %v", err)
	}
	return doc.Key, doc.UploadID, nil
}

// partJob is one part handed to an upload worker.
type partJob struct {
	num int
	buf *partBuf
}

// uploadParts sends pre, then the rest of rd, as parts numbered from 1: the calling
// goroutine reads parts sequentially into buffers from pool, and parallelism workers
// compress and upload them, so at most the pool's buffers are in memory. A part whose
// number is in known with matching content is not sent again. It returns the parts for
// complete, in order.
func (s *Session) uploadParts(ctx context.Context, key, uploadID string, rd io.Reader, pre []*partBuf, size int64, p *putConfig, pool *partPool, known map[int]Part) ([]completedPart, error) {
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu       sync.Mutex
		firstErr error
		etags    = make(map[int]string)
		progress = &progressTracker{fn: p.progress}
		wg       sync.WaitGroup
	)
	fail := func(err error) {
		mu.Lock()
		if firstErr == nil {
			firstErr = err
		}
		mu.Unlock()
		cancel()
	}
	jobs := make(chan partJob)
	for range s.c.parallelism {
		wg.Go(func() {
			for j := range jobs {
				etag, err := s.sendPart(wctx, key, uploadID, j.num, j.buf, *p.compress, known)
				if err != nil {
					fail(fmt.Errorf("part %d: %w", j.num, err))
				} else {
					mu.Lock()
					etags[j.num] = etag
					mu.Unlock()
					progress.add(j.buf.n)
				}
				pool.release(j.buf)
			}
		})
	}

	num, total := 0, int64(0)
	send := func(b *partBuf) bool {
		if num == MaxParts {
			pool.release(b)
			fail(invalidf("the payload needs more than %d parts of %d bytes; raise the part size", MaxParts, s.c.partSize))
			return false
		}
		num++
		total += int64(b.n)
		select {
		case jobs <- partJob{num: num, buf: b}:
			return true
		case <-wctx.Done():
			pool.release(b)
			return false
		}
	}
	ok := true
	for i, b := range pre {
		if ok = send(b); !ok {
			pool.release(pre[i+1:]...)
			break
		}
	}
	for ok {
		b, err := pool.get(wctx)
		if err != nil {
			break
		}
		n, err := io.ReadFull(rd, b.data)
		b.n = n
		end := errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
		if err != nil && !end {
			pool.release(b)
			fail(&bodyError{err})
			break
		}
		if n == 0 {
			pool.release(b)
			break
		}
		if !send(b) || end {
			break
		}
	}
	close(jobs)
	wg.Wait()

	if firstErr == nil && ctx.Err() != nil {
		firstErr = ctx.Err()
	}
	if firstErr == nil && num == 0 {
		firstErr = &bodyError{errors.New("the payload is empty")}
	}
	if firstErr == nil && size >= 0 && total != size {
		firstErr = &bodyError{fmt.Errorf("read %d bytes, want %d", total, size)}
	}
	if firstErr != nil {
		return nil, firstErr
	}
	parts := make([]completedPart, num)
	for i := range parts {
		parts[i] = completedPart{PartNumber: i + 1, ETag: etags[i+1]}
	}
	return parts, nil
}

// sendPart uploads one part, compressed as an independent zstd frame when compress is set,
// with its Content-MD5. When known lists this part number with the same content, it is
// not sent again and the server's ETag is returned.
func (s *Session) sendPart(ctx context.Context, key, uploadID string, num int, b *partBuf, compress bool, known map[int]Part) (string, error) {
	data := b.data[:b.n]
	if compress {
		b.packed = s.c.encoder().EncodeAll(data, b.packed[:0])
		data = b.packed
	}
	sum := md5.Sum(data) //nolint:gosec // see import
	if have, ok := known[num]; ok && partMatches(have, sum, len(data)) {
		return have.ETag, nil
	}
	res, err := s.c.do(ctx, &request{
		method: http.MethodPut,
		path:   s.path(epMultipartParts, key),
		query:  "upload_id=" + wire.EscapeQueryValue(uploadID) + "&part_number=" + strconv.Itoa(num),
		header: http.Header{"Content-Md5": {base64.StdEncoding.EncodeToString(sum[:])}},
		body:   func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil },
		size:   int64(len(data)),
		retry:  true,
		scope:  s.tokenScope(),
	})
	if err != nil {
		return "", err
	}
	if res.StatusCode != http.StatusOK {
		return "", errorFrom(res)
	}
	defer drain(res.Body)
	var doc struct {
		ETag string `json:"etag"`
	}
	if err := json.NewDecoder(io.LimitReader(res.Body, maxErrorBody)).Decode(&doc); err != nil || doc.ETag == "" {
		return "", fmt.Errorf("client: unexpected part upload response: %v", err)
	}
	return doc.ETag, nil
}

// partMatches reports whether a listed part holds the bytes whose MD5 is sum. Strata's
// ETags are the quoted hex MD5 of the part, so they are compared; for an ETag that is not an
// MD5 (objectstore's filesystem backend answers "etag-N-LEN"), only the size can be.
func partMatches(p Part, sum [md5.Size]byte, size int) bool {
	tag := strings.Trim(p.ETag, `"`)
	if raw, err := hex.DecodeString(tag); err == nil && len(raw) == md5.Size {
		return bytes.Equal(raw, sum[:])
	}
	return p.Size == int64(size)
}

// complete finishes an upload. The server answers 200 at once and streams spaces until a
// single JSON document, {"key":...} or {"error":{...}}; so the body decides. Completing is
// idempotent on the server, so a broken answer is retried.
func (s *Session) complete(ctx context.Context, key, uploadID string, parts []completedPart) (string, error) {
	body, err := json.Marshal(struct {
		Parts []completedPart `json:"parts"`
	}{parts})
	if err != nil {
		return "", err
	}
	req := &request{
		method: http.MethodPost,
		path:   s.path(epMultipartComplete, key),
		query:  "upload_id=" + wire.EscapeQueryValue(uploadID),
		header: http.Header{"Content-Type": {"application/json"}},
		body:   func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil },
		size:   int64(len(body)),
		retry:  true,
		scope:  s.tokenScope(),
	}
	attempts := max(1, s.c.retry.MaxAttempts)
	for n := 1; ; n++ {
		res, err := s.c.do(ctx, req)
		if err != nil {
			return "", err
		}
		if res.StatusCode != http.StatusOK {
			return "", errorFrom(res)
		}
		b, err := io.ReadAll(io.LimitReader(res.Body, maxCompleteBody))
		res.Body.Close()
		if err != nil {
			if n >= attempts || ctx.Err() != nil {
				return "", fmt.Errorf("client: reading the complete answer: %w", err)
			}
			if err := s.c.sleep(ctx, s.c.backoff(n)); err != nil {
				return "", err
			}
			continue
		}
		return parseComplete(b)
	}
}

// parseComplete interprets the body of a complete answer.
func parseComplete(b []byte) (string, error) {
	trimmed := bytes.TrimSpace(b)
	var doc struct {
		Key   string `json:"key"`
		Error *struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(trimmed, &doc); err != nil {
		return "", &Error{Status: http.StatusOK, Detail: "malformed complete answer: " + err.Error(), Body: string(trimmed)}
	}
	if doc.Error != nil {
		return "", &Error{Status: http.StatusOK, Code: doc.Error.Code, Detail: doc.Error.Message, Body: string(trimmed)}
	}
	if doc.Key == "" {
		return "", &Error{Status: http.StatusOK, Detail: "complete answer without a key", Body: string(trimmed)}
	}
	return doc.Key, nil
}

// AbortUpload abandons a multipart upload and deletes its parts. Aborting an unknown
// upload succeeds.
func (s *Session) AbortUpload(ctx context.Context, key, uploadID string) error {
	if err := s.checkKey(key); err != nil {
		return err
	}
	res, err := s.c.do(ctx, &request{
		method: http.MethodDelete, path: s.path(epMultipart, key),
		query: "upload_id=" + wire.EscapeQueryValue(uploadID), retry: true, scope: s.tokenScope(),
	})
	if err != nil {
		return err
	}
	if res.StatusCode/100 != 2 {
		return errorFrom(res)
	}
	drain(res.Body)
	return nil
}

// ListParts returns every part uploaded so far, in ascending order, following the
// server's pages (part_number_marker) to the end.
func (s *Session) ListParts(ctx context.Context, key, uploadID string) ([]Part, error) {
	if err := s.checkKey(key); err != nil {
		return nil, err
	}
	var all []Part
	marker := 0
	for range MaxParts + 1 { // each page advances the marker by at least one part
		q := "upload_id=" + wire.EscapeQueryValue(uploadID)
		if marker > 0 {
			q += "&part_number_marker=" + strconv.Itoa(marker)
		}
		res, err := s.c.do(ctx, &request{method: http.MethodGet, path: s.path(epMultipartParts, key), query: q, retry: true, scope: s.tokenScope()})
		if err != nil {
			return nil, err
		}
		if res.StatusCode != http.StatusOK {
			return nil, errorFrom(res)
		}
		var page struct {
			Parts       []Part `json:"parts"`
			IsTruncated bool   `json:"is_truncated"`
			NextMarker  *int   `json:"next_part_number_marker"`
		}
		err = json.NewDecoder(res.Body).Decode(&page)
		drain(res.Body)
		if err != nil {
			return nil, fmt.Errorf("client: unexpected list parts response: %w", err)
		}
		all = append(all, page.Parts...)
		if !page.IsTruncated {
			return all, nil
		}
		next := marker
		if page.NextMarker != nil {
			next = *page.NextMarker
		} else if len(page.Parts) > 0 {
			next = page.Parts[len(page.Parts)-1].Number
		}
		if next <= marker {
			return nil, fmt.Errorf("client: list parts page after marker %d does not advance", marker)
		}
		marker = next
	}
	return nil, errors.New("client: list parts did not end")
}

// ResumeUpload finishes a multipart upload that an earlier Put (with KeepFailedUpload or
// OnUploadStarted) or ResumeUpload left unfinished: it lists the parts already on the
// server, uploads only the parts of r (size bytes) that are missing or differ, and
// completes the upload. It must be called with the client's part size and the compression
// setting of the original Put, which decide how r is split and encoded. A part's content is
// compared by MD5 when the server's ETag is one, otherwise by size. On failure the upload is
// kept, and the error is an *UploadError.
func (s *Session) ResumeUpload(ctx context.Context, key, uploadID string, r io.ReaderAt, size int64, opts ...PutOption) (string, error) {
	if err := s.checkKey(key); err != nil {
		return "", err
	}
	if uploadID == "" || size <= 0 {
		return "", invalidf("ResumeUpload needs an upload id and a positive size")
	}
	if (size+s.c.partSize-1)/s.c.partSize > MaxParts {
		return "", invalidf("a payload of %d bytes needs more than %d parts of %d bytes", size, MaxParts, s.c.partSize)
	}
	p := s.c.putSettings(opts)
	fail := func(err error) (string, error) {
		return "", &UploadError{Key: key, UploadID: uploadID, Err: err}
	}
	listed, err := s.ListParts(ctx, key, uploadID)
	if err != nil {
		return fail(err)
	}
	known := make(map[int]Part, len(listed))
	for _, part := range listed {
		known[part.Number] = part
	}
	parts, err := s.uploadParts(ctx, key, uploadID, io.NewSectionReader(r, 0, size), nil, size, p, s.c.newPool(s.c.parallelism), known)
	if err != nil {
		return fail(err)
	}
	got, err := s.complete(ctx, key, uploadID, parts)
	if err != nil {
		return fail(err)
	}
	return got, nil
}
