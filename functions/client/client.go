package client

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/stratastore/strata/functions/wire"
)

// Defaults of a Client. DefaultPartSize and DefaultMultipartThreshold stay well below Cloud
// Run's 32 MB cap on one HTTP/1 request body, leaving room for headers and for zstd's
// worst-case expansion of incompressible data.
const (
	// DefaultMultipartThreshold is the payload size above which Put uploads in parts.
	DefaultMultipartThreshold = 24 << 20
	// DefaultPartSize is the size of one part of an automatic multipart upload.
	DefaultPartSize = 16 << 20
	// DefaultParallelism is the number of parts uploaded at once.
	DefaultParallelism = 4
	// DefaultMaxAttempts is how often an idempotent request is tried in total.
	DefaultMaxAttempts = 4
	// DefaultBackoffBase is the backoff before the first retry; it doubles per retry.
	DefaultBackoffBase = 100 * time.Millisecond
	// DefaultBackoffCap bounds the backoff of one retry.
	DefaultBackoffCap = 5 * time.Second
	// DefaultUserAgent is the User-Agent of every request.
	DefaultUserAgent = "strata-go-client/1"
)

// Wire limits the client enforces before sending.
const (
	// MaxPartSize is the largest part size a Client accepts: the server stores parts of up
	// to 32 MiB, and a compressed part may grow by a few bytes.
	MaxPartSize = 30 << 20
	// MaxParts is the largest part number of a multipart upload.
	MaxParts = 10000
)

// Client talks objectstore's HTTP API v1 to one Strata (or objectstore) server. It is safe
// for concurrent use; create one per server and reuse it, so connections are pooled.
type Client struct {
	base        string // scheme://host[:port]
	basePath    string // path prefix without a trailing slash, already escaped
	hc          *http.Client
	tokens      TokenSource
	retry       RetryPolicy
	compress    bool
	threshold   int64
	partSize    int64
	parallelism int
	userAgent   string

	// Hooks for tests: the clock, the backoff sleep, and buffer accounting.
	now       func() time.Time
	sleep     func(ctx context.Context, d time.Duration) error
	bufferOut func(delta int)

	encOnce sync.Once
	enc     *zstd.Encoder
	decOnce sync.Once
	dec     *zstd.Decoder
}

// RetryPolicy says how idempotent requests are retried: at most MaxAttempts tries in
// total, sleeping a uniformly random time in [0, min(Cap, Base·2^retry)) before each retry
// ("full jitter").
type RetryPolicy struct {
	MaxAttempts int
	Base, Cap   time.Duration
}

// Option configures a Client in New.
type Option func(*Client) error

// WithHTTPClient makes the Client send its requests with hc instead of a default
// *http.Client. hc should have no overall Timeout, since object bodies stream; bound
// requests with their contexts instead.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *Client) error {
		if hc == nil {
			return errors.New("client: WithHTTPClient: nil *http.Client")
		}
		c.hc = hc
		return nil
	}
}

// WithToken sends token verbatim as "x-os-auth: Bearer <token>" on every request.
func WithToken(token string) Option {
	return WithTokenSource(StaticToken(token))
}

// WithSigningKey signs a fresh short-lived token for every request, as objectstore's Python
// client does with a secret key: the token names the request's usecase and scopes and
// carries perms (every permission when none are given). It also enables pre-signed URLs.
func WithSigningKey(priv ed25519.PrivateKey, kid string, perms ...Permission) Option {
	return func(c *Client) error {
		k, err := NewKeySigner(priv, kid, perms...)
		if err != nil {
			return err
		}
		c.tokens = k
		return nil
	}
}

// WithTokenSource asks ts for the token of every request.
func WithTokenSource(ts TokenSource) Option {
	return func(c *Client) error {
		c.tokens = ts
		return nil
	}
}

// WithRetries sets the retry policy of idempotent requests: maxAttempts tries in total (1
// disables retries), with exponential backoff from base, each sleep capped at cap.
func WithRetries(maxAttempts int, base, cap time.Duration) Option {
	return func(c *Client) error {
		if maxAttempts < 1 || base < 0 || cap < base {
			return fmt.Errorf("client: WithRetries(%d, %v, %v): want maxAttempts >= 1 and 0 <= base <= cap", maxAttempts, base, cap)
		}
		c.retry = RetryPolicy{MaxAttempts: maxAttempts, Base: base, Cap: cap}
		return nil
	}
}

// WithCompression turns zstd compression of uploads on (the default) or off. Per upload,
// the Compress put option overrides it.
func WithCompression(on bool) Option {
	return func(c *Client) error {
		c.compress = on
		return nil
	}
}

// WithMultipart sets when and how Put splits an upload: payloads larger than threshold
// bytes go up in parts of partSize bytes, parallelism parts at a time. Memory held by one
// upload is bounded by max(parallelism, ⌊threshold/partSize⌋+1) part buffers.
func WithMultipart(threshold, partSize int64, parallelism int) Option {
	return func(c *Client) error {
		if threshold < 0 || partSize < 1 || partSize > MaxPartSize || parallelism < 1 {
			return fmt.Errorf("client: WithMultipart(%d, %d, %d): want threshold >= 0, 1 <= partSize <= %d, parallelism >= 1",
				threshold, partSize, parallelism, MaxPartSize)
		}
		c.threshold, c.partSize, c.parallelism = threshold, partSize, parallelism
		return nil
	}
}

// WithUserAgent sets the User-Agent header of every request.
func WithUserAgent(ua string) Option {
	return func(c *Client) error {
		c.userAgent = ua
		return nil
	}
}

// New returns a Client for the server at baseURL, for example "http://127.0.0.1:8888". A
// path in baseURL is kept as a prefix of every request path.
func New(baseURL string, opts ...Option) (*Client, error) {
	u, err := url.Parse(baseURL)
	if err != nil {
		return nil, fmt.Errorf("client: base URL: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("client: base URL %q: want http(s)://host[:port][/path]", baseURL)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("client: base URL %q must have no query or fragment", baseURL)
	}
	c := &Client{
		base:        u.Scheme + "://" + u.Host,
		basePath:    strings.TrimRight(u.EscapedPath(), "/"),
		hc:          &http.Client{},
		retry:       RetryPolicy{MaxAttempts: DefaultMaxAttempts, Base: DefaultBackoffBase, Cap: DefaultBackoffCap},
		compress:    true,
		threshold:   DefaultMultipartThreshold,
		partSize:    DefaultPartSize,
		parallelism: DefaultParallelism,
		userAgent:   DefaultUserAgent,
		now:         time.Now,
		sleep:       sleepCtx,
	}
	for _, o := range opts {
		if err := o(c); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// sleepCtx sleeps for d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// encoder returns the shared zstd encoder for whole buffers (EncodeAll is safe for
// concurrent use).
func (c *Client) encoder() *zstd.Encoder {
	c.encOnce.Do(func() {
		c.enc, _ = zstd.NewWriter(nil)
	})
	return c.enc
}

// decoder returns the shared zstd decoder for whole buffers.
func (c *Client) decoder() *zstd.Decoder {
	c.decOnce.Do(func() {
		c.dec, _ = zstd.NewReader(nil, zstd.WithDecoderConcurrency(0))
	})
	return c.dec
}

// request is one API call, possibly sent several times.
type request struct {
	method string
	path   string // escaped path below the base, starting with "/v1/"
	query  string // raw query
	header http.Header
	// body returns a fresh body for each attempt; nil sends none. size is its length, or -1
	// for a chunked body.
	body func() (io.ReadCloser, error)
	size int64
	// retry allows retries: the call is idempotent and body can be replayed.
	retry bool
	// scope is what a signed token must grant.
	scope TokenScope
}

// retryableStatus reports whether a response status is worth another try.
func retryableStatus(status int) bool {
	switch status {
	case http.StatusTooManyRequests, http.StatusInternalServerError, http.StatusBadGateway,
		http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// backoff returns the sleep before retry number n (1-based): full jitter over an
// exponentially growing, capped window.
func (c *Client) backoff(n int) time.Duration {
	window := c.retry.Base << min(n-1, 30)
	if window <= 0 || window > c.retry.Cap {
		window = c.retry.Cap
	}
	if window <= 0 {
		return 0
	}
	return rand.N(window)
}

// do sends req, retrying when req.retry allows it, and returns the last response; the
// caller owns its body. Responses of every status are returned; only transport failures
// are errors.
func (c *Client) do(ctx context.Context, req *request) (*http.Response, error) {
	attempts := 1
	if req.retry {
		attempts = max(1, c.retry.MaxAttempts)
	}
	var lastErr error
	for n := 1; ; n++ {
		res, err := c.send(ctx, req)
		if err == nil && (n >= attempts || !retryableStatus(res.StatusCode)) {
			return res, nil
		}
		if err != nil {
			if ctx.Err() != nil || !retryableError(err) || n >= attempts {
				return nil, err
			}
			lastErr = err
		} else {
			drain(res.Body)
		}
		if serr := c.sleep(ctx, c.backoff(n)); serr != nil {
			if lastErr != nil {
				return nil, errors.Join(serr, lastErr)
			}
			return nil, serr
		}
	}
}

// retryableError reports whether a transport error may go away on a retry: anything but a
// malformed request or an error from the caller's own body.
func retryableError(err error) bool {
	var be *bodyError
	if errors.As(err, &be) {
		return false
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		var ne net.Error
		if errors.As(ue.Err, &ne) {
			return true
		}
		return !errors.Is(ue.Err, context.Canceled)
	}
	return true
}

// bodyError marks a failure to produce a request body (a local read error).
type bodyError struct{ err error }

func (e *bodyError) Error() string { return "client: reading the upload: " + e.err.Error() }
func (e *bodyError) Unwrap() error { return e.err }

// send makes one attempt.
func (c *Client) send(ctx context.Context, req *request) (*http.Response, error) {
	var body io.ReadCloser
	if req.body != nil {
		b, err := req.body()
		if err != nil {
			return nil, &bodyError{err}
		}
		body = &trackedBody{rc: b}
	}
	hr, err := http.NewRequestWithContext(ctx, req.method, c.base, body)
	if err != nil {
		if body != nil {
			body.Close()
		}
		return nil, err
	}
	// Opaque keeps the escaped path byte for byte: it is what the server routes on and
	// what a pre-signature covers.
	hr.URL.Opaque = c.basePath + req.path
	hr.URL.RawQuery = req.query
	if body != nil {
		hr.ContentLength = req.size
		if req.size == 0 {
			hr.Body = http.NoBody
		}
	}
	for k, vs := range req.header {
		hr.Header[k] = vs
	}
	hr.Header.Set("User-Agent", c.userAgent)
	if c.tokens != nil {
		tok, err := c.tokens.Token(ctx, req.scope)
		if err != nil {
			if body != nil {
				body.Close()
			}
			return nil, fmt.Errorf("client: token: %w", err)
		}
		if tok != "" {
			hr.Header.Set(wire.HeaderAuth, wire.BearerPrefix+tok)
		}
	}
	res, err := c.hc.Do(hr)
	if err != nil {
		if tb, ok := body.(*trackedBody); ok && tb.err != nil {
			return nil, &bodyError{tb.err}
		}
		return nil, err
	}
	return res, nil
}

// trackedBody remembers a read error of the caller's body, so that do does not retry it
// as if the network had failed.
type trackedBody struct {
	rc  io.ReadCloser
	err error
}

func (t *trackedBody) Read(p []byte) (int, error) {
	n, err := t.rc.Read(p)
	if err != nil && err != io.EOF { //nolint:errorlint // io.EOF is returned unwrapped by contract
		t.err = err
	}
	return n, err
}

func (t *trackedBody) Close() error { return t.rc.Close() }

// drain reads a little of an unwanted body and closes it, so the connection can be reused.
func drain(rc io.ReadCloser) {
	_, _ = io.CopyN(io.Discard, rc, 64<<10)
	_ = rc.Close()
}
