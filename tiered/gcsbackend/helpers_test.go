package gcsbackend

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/storage"
	"github.com/fsouza/fake-gcs-server/fakestorage"
	"github.com/stratastore/strata/tiered/object"
	"google.golang.org/api/option"
)

const testBucket = "strata-test"

// request is one HTTP request the client sent to the fake.
type request struct {
	Method string
	Path   string // escaped path
	Query  string
	Body   string // compose requests only
}

func (r request) String() string { return r.Method + " " + r.Path + "?" + r.Query }

// transport counts the requests a storage client sends and can fail chosen ones before they
// reach the server.
type transport struct {
	next http.RoundTripper

	mu   sync.Mutex
	reqs []request
	fail func(r *http.Request) bool
}

func (t *transport) RoundTrip(r *http.Request) (*http.Response, error) {
	rec := request{Method: r.Method, Path: r.URL.EscapedPath(), Query: r.URL.RawQuery}
	if strings.HasSuffix(rec.Path, "/compose") && r.Body != nil {
		b, err := io.ReadAll(r.Body)
		r.Body.Close()
		if err != nil {
			return nil, err
		}
		rec.Body = string(b)
		r.Body = io.NopCloser(bytes.NewReader(b))
	}
	t.mu.Lock()
	t.reqs = append(t.reqs, rec)
	fail := t.fail
	t.mu.Unlock()
	if fail != nil && fail(r) {
		if r.Body != nil {
			r.Body.Close()
		}
		// A 403 is not retried, so one injected fault is one failed call.
		return &http.Response{
			StatusCode: http.StatusForbidden,
			Status:     "403 Forbidden",
			Header:     http.Header{"Content-Type": {"application/json"}},
			Body:       io.NopCloser(strings.NewReader(`{"error":{"code":403,"message":"injected"}}`)),
			Request:    r,
		}, nil
	}
	return t.next.RoundTrip(r)
}

// reset forgets the recorded requests.
func (t *transport) reset() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.reqs = nil
}

// requests returns a copy of the recorded requests.
func (t *transport) requests() []request {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]request(nil), t.reqs...)
}

// count returns how many recorded requests satisfy match.
func (t *transport) count(match func(request) bool) int {
	n := 0
	for _, r := range t.requests() {
		if match(r) {
			n++
		}
	}
	return n
}

func (t *transport) setFail(f func(r *http.Request) bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.fail = f
}

// fake is an in-process fake-gcs-server with a counting client.
type fake struct {
	srv    *fakestorage.Server
	tr     *transport
	client *storage.Client
}

func newFake(t testing.TB) *fake {
	t.Helper()
	srv, err := fakestorage.NewServerWithOptions(fakestorage.Options{NoListener: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	srv.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: testBucket})
	tr := &transport{next: srv.HTTPClient().Transport}
	// JSON reads, as the production client uses them.
	cl, err := storage.NewClient(context.Background(),
		option.WithHTTPClient(&http.Client{Transport: tr}),
		storage.WithJSONReads())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cl.Close() })
	return &fake{srv: srv, tr: tr, client: cl}
}

// backend returns a Backend on the fake's test bucket through its client.
func (f *fake) backend(t testing.TB, opts Options) *Backend {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	b, err := Open(context.Background(), f.client, testBucket, &opts)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// names lists the object names in the test bucket under prefix, straight from the server.
func (f *fake) names(t testing.TB, prefix string) []string {
	t.Helper()
	objs, _, err := f.srv.ListObjectsWithOptions(testBucket, fakestorage.ListOptions{Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, o := range objs {
		out = append(out, o.Name)
	}
	return out
}

// attrs returns the stored attributes of name through the bare client.
func (f *fake) attrs(t testing.TB, name string) *storage.ObjectAttrs {
	t.Helper()
	a, err := f.client.Bucket(testBucket).Object(name).Attrs(context.Background())
	if err != nil {
		t.Fatalf("attrs %q: %v", name, err)
	}
	return a
}

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock(t time.Time) *clock { return &clock{t: t} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

func testID(key string) object.ID {
	return object.NewID("testing", []object.Scope{{Name: "org", Value: "17"}}, key)
}

// payload returns n deterministic bytes that differ per seed.
func payload(n int, seed byte) []byte {
	p := make([]byte, n)
	for i := range p {
		p[i] = byte(i*31) ^ seed
	}
	return p
}

func readAll(t testing.TB, o *object.Reader) []byte {
	t.Helper()
	defer o.Body.Close()
	b, err := io.ReadAll(o.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustGet(t testing.TB, b *Backend, id object.ID, rng *object.ByteRange) (*object.Reader, []byte) {
	t.Helper()
	o, err := b.Get(context.Background(), id, rng)
	if err != nil {
		t.Fatalf("Get %s: %v", id, err)
	}
	return o, readAll(t, o)
}

func mustPut(t testing.TB, b *Backend, id object.ID, md object.Metadata, data []byte) {
	t.Helper()
	if err := b.Put(context.Background(), id, md, bytes.NewReader(data)); err != nil {
		t.Fatalf("Put %s: %v", id, err)
	}
}

// failingReader returns its data, then err.
type failingReader struct {
	data []byte
	err  error
}

func (r *failingReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, r.err
	}
	n := copy(p, r.data)
	r.data = r.data[n:]
	return n, nil
}

var errBody = errors.New("client went away")

func isObjectPath(r request, method, name string) bool {
	return r.Method == method && strings.HasSuffix(r.Path, "/o/"+escapeName(name))
}

func escapeName(name string) string { return url.PathEscape(name) }

func describe(rs []request) string {
	var b strings.Builder
	for _, r := range rs {
		fmt.Fprintln(&b, r)
	}
	return b.String()
}

func slogTo(w io.Writer) *slog.Logger { return slog.New(slog.NewTextHandler(w, nil)) }
