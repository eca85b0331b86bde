package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/stratastore/strata/tiered/object"
)

// ContentRange is the byte range a ranged Get returned: [Start, End] of Total bytes.
type ContentRange = object.ContentRange

// Object is an object being read. The caller must close Body.
type Object struct {
	Metadata Metadata
	// Body streams the payload: decompressed when the object is zstd-compressed, unless
	// the read was Raw or ranged.
	Body io.ReadCloser
	// Range is set for a ranged read (206): the bytes of the stored payload in Body.
	Range *ContentRange
}

// GetOption configures one Get.
type GetOption func(*getConfig)

type getConfig struct {
	rng string
	raw bool
}

// Range reads bytes start..end (inclusive) of the stored payload.
func Range(start, end int64) GetOption {
	return func(g *getConfig) { g.rng = fmt.Sprintf("bytes=%d-%d", start, end) }
}

// RangeFrom reads the stored payload from byte start to its end.
func RangeFrom(start int64) GetOption {
	return func(g *getConfig) { g.rng = fmt.Sprintf("bytes=%d-", start) }
}

// RangeLast reads the last n bytes of the stored payload.
func RangeLast(n int64) GetOption {
	return func(g *getConfig) { g.rng = fmt.Sprintf("bytes=-%d", n) }
}

// Raw returns the stored bytes as they are, without decompressing a zstd object.
// Ranged reads are always raw: a range of a compressed payload cannot be decompressed
// on its own.
func Raw() GetOption { return func(g *getConfig) { g.raw = true } }

// Get reads the object at key. A missing object is an *Error for which IsNotFound is true;
// a range beyond the object's end one for which IsRangeNotSatisfiable is true. Requests
// are retried until the response starts; a failure while reading Body is returned by Read.
func (s *Session) Get(ctx context.Context, key string, opts ...GetOption) (*Object, error) {
	if err := s.checkKey(key); err != nil {
		return nil, err
	}
	var g getConfig
	for _, o := range opts {
		o(&g)
	}
	h := http.Header{"Accept-Encoding": {"identity"}}
	if g.rng != "" {
		h.Set("Range", g.rng)
	}
	res, err := s.c.do(ctx, &request{method: http.MethodGet, path: s.path(epObjects, key), header: h, retry: true, scope: s.tokenScope()})
	if err != nil {
		return nil, err
	}
	if res.StatusCode != http.StatusOK && res.StatusCode != http.StatusPartialContent {
		return nil, errorFrom(res)
	}
	obj := &Object{Metadata: metadataFrom(res.Header), Body: res.Body}
	if res.StatusCode == http.StatusPartialContent {
		cr, err := parseContentRange(res.Header.Get("Content-Range"))
		if err != nil {
			res.Body.Close()
			return nil, err
		}
		obj.Range = &cr
		return obj, nil
	}
	if obj.Metadata.Compression == CompressionZstd && !g.raw {
		d, err := zstd.NewReader(res.Body, zstd.WithDecoderConcurrency(1))
		if err != nil {
			res.Body.Close()
			return nil, err
		}
		obj.Body = &zstdBody{d: d, rc: res.Body}
		obj.Metadata.Compression = ""
	}
	return obj, nil
}

// zstdBody decompresses a response body.
type zstdBody struct {
	d  *zstd.Decoder
	rc io.ReadCloser
}

func (z *zstdBody) Read(p []byte) (int, error) { return z.d.Read(p) }

func (z *zstdBody) Close() error {
	z.d.Close()
	return z.rc.Close()
}

// parseContentRange parses "bytes S-E/T".
func parseContentRange(v string) (ContentRange, error) {
	var cr ContentRange
	spec, ok := strings.CutPrefix(v, "bytes ")
	se, total, ok2 := strings.Cut(spec, "/")
	a, b, ok3 := strings.Cut(se, "-")
	var errs [3]error
	cr.Start, errs[0] = strconv.ParseInt(a, 10, 64)
	cr.End, errs[1] = strconv.ParseInt(b, 10, 64)
	cr.Total, errs[2] = strconv.ParseInt(total, 10, 64)
	if !ok || !ok2 || !ok3 || errors.Join(errs[:]...) != nil {
		return ContentRange{}, fmt.Errorf("client: malformed content-range %q", v)
	}
	return cr, nil
}

// Head returns the metadata of the object at key.
func (s *Session) Head(ctx context.Context, key string) (*Metadata, error) {
	if err := s.checkKey(key); err != nil {
		return nil, err
	}
	res, err := s.c.do(ctx, &request{method: http.MethodHead, path: s.path(epObjects, key), retry: true, scope: s.tokenScope()})
	if err != nil {
		return nil, err
	}
	if res.StatusCode/100 != 2 {
		return nil, errorFrom(res)
	}
	drain(res.Body)
	md := metadataFrom(res.Header)
	return &md, nil
}

// Delete deletes the object at key. Deleting a missing object succeeds.
func (s *Session) Delete(ctx context.Context, key string) error {
	if err := s.checkKey(key); err != nil {
		return err
	}
	res, err := s.c.do(ctx, &request{method: http.MethodDelete, path: s.path(epObjects, key), retry: true, scope: s.tokenScope()})
	if err != nil {
		return err
	}
	if res.StatusCode/100 != 2 {
		return errorFrom(res)
	}
	drain(res.Body)
	return nil
}

// ObjectURL returns the URL of the object at key, without credentials.
func (s *Session) ObjectURL(key string) (string, error) {
	if err := s.checkKey(key); err != nil {
		return "", err
	}
	return s.c.base + s.c.basePath + s.path(epObjects, key), nil
}

// PresignGet returns a pre-signed URL that lets anyone GET (or HEAD) the object at key for
// validity (rounded up to whole seconds, at most MaxPresignValidity), in objectstore's
// canonical form. The client must sign with a key (WithSigningKey). The signature covers
// the path exactly as this client sends it, including any base path.
func (s *Session) PresignGet(key string, validity time.Duration) (string, error) {
	if err := s.checkKey(key); err != nil {
		return "", err
	}
	k, ok := s.c.tokens.(*KeySigner)
	if !ok {
		return "", invalidf("pre-signed URLs need a signing key (WithSigningKey)")
	}
	path := s.c.basePath + s.path(epObjects, key)
	q, err := k.PresignedQuery(http.MethodGet, path, s.c.now(), validity)
	if err != nil {
		return "", err
	}
	return s.c.base + path + "?" + q, nil
}

// Put stores the bytes of r at key and returns the key. With an empty key the server
// generates one (a UUID), which is returned.
//
// Payloads up to the multipart threshold go up in one request; larger ones, and streams of
// unknown length that turn out larger, are split into parts uploaded in parallel, with at
// most a bounded number of part buffers in memory. With compression on (the default), the
// payload is zstd-compressed, in multipart uploads part by part as independent frames.
//
// A single-request Put with a key is retried when r can be replayed: it is an io.Seeker
// (read from its current offset), or a stream short enough to have been buffered. A Put
// without a key is never retried, since a retry could store the payload twice.
func (s *Session) Put(ctx context.Context, key string, r io.Reader, opts ...PutOption) (string, error) {
	if key != "" {
		if err := s.checkKey(key); err != nil {
			return "", err
		}
	} else if s.err != nil {
		return "", s.err
	}
	p := s.c.putSettings(opts)
	if err := p.validate(); err != nil {
		return "", err
	}
	src, err := detectSource(r, p.size)
	if err != nil {
		return "", err
	}
	if src.size >= 0 {
		if src.size <= s.c.threshold {
			return s.putSingle(ctx, key, src, p)
		}
		return s.putMultipart(ctx, key, src.reader(), nil, src.size, p, s.c.parallelism)
	}
	// Unknown length: buffer up to the threshold to decide.
	// Deciding takes up to threshold/partSize+1 buffers: one more byte than the threshold.
	pool := s.c.newPool(max(s.c.parallelism, int(s.c.threshold/s.c.partSize)+1))
	var pre []*partBuf
	var total int64
	eof := false
	for !eof && total <= s.c.threshold {
		buf, err := pool.get(ctx)
		if err != nil {
			pool.release(pre...)
			return "", err
		}
		n, err := io.ReadFull(r, buf.data)
		buf.n = n
		total += int64(n)
		switch {
		case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
			eof = true
		case err != nil:
			pool.release(append(pre, buf)...)
			return "", &bodyError{err}
		}
		if n > 0 {
			pre = append(pre, buf)
		} else {
			pool.release(buf)
		}
	}
	if eof && total <= s.c.threshold {
		defer pool.release(pre...)
		parts := make([][]byte, len(pre))
		for i, b := range pre {
			parts[i] = b.data[:b.n]
		}
		return s.putSingle(ctx, key, &source{size: total, bufs: parts}, p)
	}
	var rest io.Reader = r
	if eof {
		rest = eofReader{}
	}
	return s.putMultipartPool(ctx, key, rest, pre, -1, p, pool)
}

// eofReader is an empty reader.
type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }

// source is a payload and how to read it again.
type source struct {
	r    io.Reader
	size int64 // -1 when unknown
	// Exactly one of these makes the payload replayable.
	at     io.ReaderAt
	seeker io.Seeker
	bufs   [][]byte
	start  int64 // offset of the payload in at or seeker
	used   bool
}

// detectSource finds out r's length and whether it can be read again.
func detectSource(r io.Reader, declared int64) (*source, error) {
	src := &source{r: r, size: declared}
	if sk, ok := r.(io.Seeker); ok {
		if cur, err := sk.Seek(0, io.SeekCurrent); err == nil {
			end, err := sk.Seek(0, io.SeekEnd)
			if err != nil {
				return nil, &bodyError{err}
			}
			if _, err := sk.Seek(cur, io.SeekStart); err != nil {
				return nil, &bodyError{err}
			}
			if declared < 0 {
				src.size = end - cur
			}
			src.start = cur
			if at, ok := r.(io.ReaderAt); ok {
				src.at = at
			} else {
				src.seeker = sk
			}
			return src, nil
		}
	}
	if l, ok := r.(interface{ Len() int }); ok && declared < 0 {
		src.size = int64(l.Len())
	}
	return src, nil
}

// replayable reports whether the payload can be sent more than once.
func (s *source) replayable() bool { return s.at != nil || s.seeker != nil || s.bufs != nil }

// reader returns the payload for one sequential read.
func (s *source) reader() io.Reader {
	switch {
	case s.at != nil:
		return io.NewSectionReader(s.at, s.start, s.size)
	case s.bufs != nil:
		rs := make([]io.Reader, len(s.bufs))
		for i, b := range s.bufs {
			rs[i] = bytes.NewReader(b)
		}
		return io.MultiReader(rs...)
	case s.size >= 0:
		return io.LimitReader(s.r, s.size)
	}
	return s.r
}

// open returns the payload for one attempt of a request.
func (s *source) open() (io.Reader, error) {
	if s.seeker != nil {
		if _, err := s.seeker.Seek(s.start, io.SeekStart); err != nil {
			return nil, err
		}
	} else if !s.replayable() {
		if s.used {
			return nil, errors.New("the payload cannot be read twice")
		}
		s.used = true
	}
	return s.reader(), nil
}

// putSingle uploads the payload in one request.
func (s *Session) putSingle(ctx context.Context, key string, src *source, p *putConfig) (string, error) {
	req := &request{path: s.path(epObjects, key), header: p.header(), size: src.size, scope: s.tokenScope()}
	if key == "" {
		req.method = http.MethodPost
	} else {
		req.method = http.MethodPut
		req.retry = src.replayable()
	}
	if *p.compress {
		req.size = -1
	}
	req.body = func() (io.ReadCloser, error) {
		rd, err := src.open()
		if err != nil {
			return nil, err
		}
		if p.progress != nil {
			rd = &countingReader{r: rd, fn: p.progress}
		}
		if *p.compress {
			return compressStream(rd), nil
		}
		return io.NopCloser(rd), nil
	}
	res, err := s.c.do(ctx, req)
	if err != nil {
		return "", err
	}
	return keyFrom(res)
}

// keyFrom reads the {"key":...} answer of an insert.
func keyFrom(res *http.Response) (string, error) {
	if res.StatusCode != http.StatusOK && res.StatusCode != http.StatusCreated {
		return "", errorFrom(res)
	}
	defer drain(res.Body)
	var doc struct {
		Key string `json:"key"`
	}
	if err := json.NewDecoder(io.LimitReader(res.Body, maxErrorBody)).Decode(&doc); err != nil || doc.Key == "" {
		return "", fmt.Errorf("client: unexpected insert response: %v", err)
	}
	return doc.Key, nil
}

// compressStream returns a reader of rd's bytes as one zstd frame, compressed on the fly.
func compressStream(rd io.Reader) io.ReadCloser {
	pr, pw := io.Pipe()
	go func() {
		enc, err := zstd.NewWriter(pw, zstd.WithEncoderConcurrency(1))
		if err == nil {
			_, err = io.Copy(enc, rd)
			if cerr := enc.Close(); err == nil {
				err = cerr
			}
		}
		pw.CloseWithError(err)
	}()
	return pr
}

// countingReader reports the bytes read so far.
type countingReader struct {
	r  io.Reader
	n  int64
	fn func(int64)
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if n > 0 {
		c.n += int64(n)
		c.fn(c.n)
	}
	return n, err
}

// partBuf is one part's buffer: the payload, and its compressed form.
type partBuf struct {
	data   []byte
	n      int
	packed []byte
}

// partPool hands out at most cap part buffers, allocating them on first use.
type partPool struct {
	free chan *partBuf
	size int64
	out  func(int)
}

func (c *Client) newPool(n int) *partPool {
	p := &partPool{free: make(chan *partBuf, n), size: c.partSize, out: c.bufferOut}
	for range n {
		p.free <- &partBuf{}
	}
	return p
}

// get waits for a free buffer.
func (p *partPool) get(ctx context.Context) (*partBuf, error) {
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case b := <-p.free:
		if b.data == nil {
			b.data = make([]byte, p.size)
		}
		b.n = 0
		if p.out != nil {
			p.out(1)
		}
		return b, nil
	}
}

// release returns buffers to the pool.
func (p *partPool) release(bs ...*partBuf) {
	for _, b := range bs {
		if p.out != nil {
			p.out(-1)
		}
		p.free <- b
	}
}

// progressTracker serialises progress calls from parallel part uploads.
type progressTracker struct {
	mu   sync.Mutex
	done int64
	fn   func(int64)
}

func (t *progressTracker) add(n int) {
	if t == nil || t.fn == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.done += int64(n)
	t.fn(t.done)
}
