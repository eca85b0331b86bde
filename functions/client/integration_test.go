package client_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stratastore/strata/functions/client"
	"github.com/stratastore/strata/functions/internal/testserver"
)

// startServer runs the real Strata handler in-process for one test.
func startServer(t *testing.T) *testserver.Server {
	t.Helper()
	srv, err := testserver.Start(testserver.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	return srv
}

// newClient returns a client that signs with the server's key.
func newClient(t *testing.T, srv *testserver.Server, opts ...client.Option) *client.Client {
	t.Helper()
	c, err := client.New(srv.URL, append([]client.Option{client.WithSigningKey(srv.Key, testserver.KeyID)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// randomBytes returns n deterministic pseudo-random (incompressible) bytes.
func randomBytes(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed))
	b := make([]byte, n)
	for i := 0; i+8 <= n; i += 8 {
		v := r.Uint64()
		for j := range 8 {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	return b
}

func readAll(t *testing.T, obj *client.Object) []byte {
	t.Helper()
	defer obj.Body.Close()
	b, err := io.ReadAll(obj.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestIntegration_SmallAndLarge_PutGetHeadDelete(t *testing.T) {
	srv := startServer(t)
	ctx := t.Context()
	for _, compress := range []bool{true, false} {
		c := newClient(t, srv, client.WithCompression(compress))
		s := c.Usecase("attachments").Scope("org", "17").Scope("project", "42")
		for _, tc := range []struct {
			name string
			data []byte
		}{
			{"small", []byte("hello, strata")},
			{"large-3MiB", randomBytes(3<<20, 7)},
			{"empty", nil},
		} {
			key := "dir/" + tc.name + " ü%20?#"
			got, err := s.Put(ctx, key, bytes.NewReader(tc.data), client.ContentType("text/plain"),
				client.Expires(client.TTL(24*time.Hour)), client.Origin("10.0.0.1"), client.Filename("a.txt"), client.Meta("Color", "blue"))
			if err != nil {
				t.Fatalf("compress=%v %s: Put: %v", compress, tc.name, err)
			}
			if got != key {
				t.Fatalf("Put returned key %q, want %q", got, key)
			}
			obj, err := s.Get(ctx, key)
			if err != nil {
				t.Fatalf("%s: Get: %v", tc.name, err)
			}
			if body := readAll(t, obj); !bytes.Equal(body, tc.data) {
				t.Fatalf("compress=%v %s: Get returned %d bytes, want %d", compress, tc.name, len(body), len(tc.data))
			}
			md := obj.Metadata
			if md.ContentType != "text/plain" || md.Origin != "10.0.0.1" || md.Filename != "a.txt" || md.Custom["color"] != "blue" ||
				md.Expiration != client.TTL(24*time.Hour) || md.Compression != "" || md.TimeCreated.IsZero() ||
				md.TimeExpires.Sub(md.TimeCreated) != 24*time.Hour {
				t.Errorf("%s: metadata %+v", tc.name, md)
			}
			head, err := s.Head(ctx, key)
			if err != nil {
				t.Fatalf("Head: %v", err)
			}
			wantCompression := ""
			if compress {
				wantCompression = client.CompressionZstd
			}
			if head.Compression != wantCompression || head.ContentType != "text/plain" {
				t.Errorf("%s: Head metadata %+v, want compression %q", tc.name, head, wantCompression)
			}
			raw, err := s.Get(ctx, key, client.Raw())
			if err != nil {
				t.Fatal(err)
			}
			rawBody := readAll(t, raw)
			if compress == bytes.Equal(rawBody, tc.data) && len(tc.data) > 0 {
				t.Errorf("%s: Raw body equal to payload: %v, want %v", tc.name, !compress, !compress)
			}
			if err := s.Delete(ctx, key); err != nil {
				t.Fatalf("Delete: %v", err)
			}
			if _, err := s.Get(ctx, key); !client.IsNotFound(err) {
				t.Fatalf("Get after Delete: %v, want not found", err)
			}
			if _, err := s.Head(ctx, key); !client.IsNotFound(err) {
				t.Fatalf("Head after Delete: %v, want not found", err)
			}
		}
	}
}

func TestIntegration_PostGeneratesKey(t *testing.T) {
	srv := startServer(t)
	s := newClient(t, srv).Usecase("attachments")
	key, err := s.Put(t.Context(), "", strings.NewReader("generated"))
	if err != nil {
		t.Fatal(err)
	}
	if len(key) != 36 || strings.Count(key, "-") != 4 {
		t.Fatalf("generated key %q is not a UUID", key)
	}
	obj, err := s.Get(t.Context(), key)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(readAll(t, obj)); got != "generated" {
		t.Fatalf("Get = %q", got)
	}
}

func TestIntegration_Ranges(t *testing.T) {
	srv := startServer(t)
	s := newClient(t, srv, client.WithCompression(false)).Usecase("attachments").Scope("org", "1")
	ctx := t.Context()
	const text = "Hello, Range Requests!"
	if _, err := s.Put(ctx, "r", strings.NewReader(text)); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		opt  client.GetOption
		want string
		cr   client.ContentRange
	}{
		{client.Range(0, 4), "Hello", client.ContentRange{Start: 0, End: 4, Total: 22}},
		{client.RangeLast(9), "Requests!", client.ContentRange{Start: 13, End: 21, Total: 22}},
		{client.RangeFrom(7), "Range Requests!", client.ContentRange{Start: 7, End: 21, Total: 22}},
	} {
		obj, err := s.Get(ctx, "r", tc.opt)
		if err != nil {
			t.Fatal(err)
		}
		if got := string(readAll(t, obj)); got != tc.want || obj.Range == nil || *obj.Range != tc.cr {
			t.Errorf("range: got %q %+v, want %q %+v", got, obj.Range, tc.want, tc.cr)
		}
	}
	_, err := s.Get(ctx, "r", client.Range(100, 200))
	if !client.IsRangeNotSatisfiable(err) {
		t.Fatalf("out-of-range Get: %v, want 416", err)
	}
}

func TestIntegration_Multipart40MiB(t *testing.T) {
	srv := startServer(t)
	ctx := t.Context()
	data := randomBytes(40<<20, 3)
	want := sha256.Sum256(data)
	for _, compress := range []bool{false, true} {
		c := newClient(t, srv, client.WithCompression(compress), client.WithMultipart(8<<20, 4<<20, 4))
		s := c.Usecase("attachments").Scope("org", "17")
		var started string
		var progress int64
		// A plain io.Reader hides the length: the client must find out by reading.
		key, err := s.Put(ctx, "big/object", io.MultiReader(bytes.NewReader(data)),
			client.OnUploadStarted(func(_, id string) { started = id }),
			client.Progress(func(n int64) { progress = n }))
		if err != nil {
			t.Fatalf("compress=%v: Put: %v", compress, err)
		}
		if key != "big/object" || started == "" || progress != int64(len(data)) {
			t.Fatalf("key %q, upload id %q, progress %d", key, started, progress)
		}
		obj, err := s.Get(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		h := sha256.New()
		if _, err := io.Copy(h, obj.Body); err != nil {
			t.Fatal(err)
		}
		obj.Body.Close()
		if got := h.Sum(nil); !bytes.Equal(got, want[:]) {
			t.Fatalf("compress=%v: SHA-256 of the read object differs", compress)
		}
	}
}

func TestIntegration_ResumeUpload(t *testing.T) {
	srv := startServer(t)
	ctx := t.Context()
	data := randomBytes(10<<20, 11)
	c := newClient(t, srv, client.WithMultipart(1<<20, 1<<20, 2), client.WithRetries(1, 0, 0))
	s := c.Usecase("attachments")
	// The reader fails after 5.5 MiB: parts 1..5 reach the server, the upload is kept.
	_, err := s.Put(ctx, "resumed", &failingReader{r: bytes.NewReader(data), left: 5<<20 + 1<<19}, client.KeepFailedUpload())
	var ue *client.UploadError
	if !errors.As(err, &ue) || ue.UploadID == "" || ue.Aborted {
		t.Fatalf("Put: %v, want a kept *UploadError", err)
	}
	parts, err := s.ListParts(ctx, ue.Key, ue.UploadID)
	if err != nil {
		t.Fatal(err)
	}
	if len(parts) == 0 {
		t.Fatal("no parts survived the failed Put")
	}
	key, err := s.ResumeUpload(ctx, ue.Key, ue.UploadID, bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	obj, err := s.Get(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(readAll(t, obj), data) {
		t.Fatal("resumed object differs from the payload")
	}
}

// failingReader fails once left bytes have been read.
type failingReader struct {
	r    io.Reader
	left int
}

func (f *failingReader) Read(p []byte) (int, error) {
	if f.left <= 0 {
		return 0, errors.New("disk on fire")
	}
	if len(p) > f.left {
		p = p[:f.left]
	}
	n, err := f.r.Read(p)
	f.left -= n
	return n, err
}

func TestIntegration_Batch(t *testing.T) {
	srv := startServer(t)
	ctx := t.Context()
	s := newClient(t, srv).Usecase("attachments").Scope("org", "17")
	if _, err := s.Put(ctx, "existing/key-1", strings.NewReader("first object"), client.ContentType("text/plain")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Put(ctx, "doomed", strings.NewReader("x")); err != nil {
		t.Fatal(err)
	}
	res, err := s.Batch(ctx, []client.BatchOp{
		client.BatchGet("existing/key-1"),
		client.BatchInsert("new key", []byte("inserted"), client.Meta("k", "v")),
		client.BatchHead("missing"),
		client.BatchInsert("", []byte("generated")),
		client.BatchDelete("doomed"),
		client.BatchGet("bad//key"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 6 {
		t.Fatalf("%d results", len(res))
	}
	if r := res[0]; r.Err != nil || string(r.Body) != "first object" || r.Metadata.ContentType != "text/plain" || r.Key != "existing/key-1" {
		t.Errorf("get: %+v", r)
	}
	if r := res[1]; r.Err != nil || r.Status != 201 || r.Key != "new key" {
		t.Errorf("insert: %+v", r)
	}
	if r := res[2]; !client.IsNotFound(r.Err) {
		t.Errorf("head missing: %+v", r)
	}
	if r := res[3]; r.Err != nil || len(r.Key) != 36 {
		t.Errorf("insert without key: %+v", r)
	}
	if r := res[4]; r.Err != nil || r.Status != 204 {
		t.Errorf("delete: %+v", r)
	}
	if r := res[5]; !errors.Is(r.Err, client.ErrInvalidArgument) || r.Status != 0 {
		t.Errorf("invalid key: %+v", r)
	}
	obj, err := s.Get(ctx, "new key")
	if err != nil {
		t.Fatal(err)
	}
	if string(readAll(t, obj)) != "inserted" || obj.Metadata.Custom["k"] != "v" {
		t.Errorf("batch-inserted object: %+v", obj.Metadata)
	}
	if _, err := s.Head(ctx, "doomed"); !client.IsNotFound(err) {
		t.Errorf("batch delete did not delete: %v", err)
	}
}

func TestIntegration_PresignedGet(t *testing.T) {
	srv := startServer(t)
	ctx := t.Context()
	s := newClient(t, srv, client.WithCompression(false)).Usecase("attachments").Scope("org", "17")
	if _, err := s.Put(ctx, "with space/ü", strings.NewReader("presigned")); err != nil {
		t.Fatal(err)
	}
	u, err := s.PresignGet("with space/ü", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	res, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || string(body) != "presigned" {
		t.Fatalf("GET %s: %d %q", u, res.StatusCode, body)
	}
	// The signature covers the path: another key with the same query is refused.
	other := strings.Replace(u, "with%20space", "without", 1)
	res, err = http.Get(other)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 401 {
		t.Fatalf("tampered URL: %d, want 401", res.StatusCode)
	}
}

func TestIntegration_Auth(t *testing.T) {
	srv := startServer(t)
	ctx := t.Context()
	noAuth, err := client.New(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	// A HEAD answer has no body, so the detail that tells an auth 400 apart needs a GET.
	if _, err := noAuth.Usecase("attachments").Get(ctx, "k"); !client.IsAuth(err) || statusOf(err) != 400 {
		t.Fatalf("no token: %v, want a 400 auth error", err)
	}
	ro, err := client.New(srv.URL, client.WithSigningKey(srv.ReadOnlyKey, "read-only"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = ro.Usecase("attachments").Put(ctx, "k", strings.NewReader("x"))
	if !client.IsForbidden(err) || !client.IsAuth(err) {
		t.Fatalf("read-only key writing: %v, want 403", err)
	}
	// A token for another usecase is refused.
	tok, err := client.SignToken(srv.Key, testserver.KeyID, client.Claims{Usecase: "other", Permissions: client.AllPermissions, Expires: time.Now().Add(time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	static, err := client.New(srv.URL, client.WithToken(tok))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := static.Usecase("attachments").Head(ctx, "k"); !client.IsForbidden(err) {
		t.Fatalf("token of another usecase: %v, want 403", err)
	}
	if _, err := static.Usecase("other").Head(ctx, "k"); !client.IsNotFound(err) {
		t.Fatalf("static token of its usecase: %v, want 404", err)
	}
	// An unknown key id is 401.
	bad, err := client.New(srv.URL, client.WithSigningKey(srv.Key, "nobody"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bad.Usecase("attachments").Head(ctx, "k"); !client.IsUnauthorized(err) {
		t.Fatalf("unknown kid: %v, want 401", err)
	}
}

func statusOf(err error) int {
	var e *client.Error
	if errors.As(err, &e) {
		return e.Status
	}
	return 0
}

// contextCheck documents that every operation honours its context.
func TestIntegration_CanceledContext(t *testing.T) {
	srv := startServer(t)
	s := newClient(t, srv).Usecase("attachments")
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := s.Put(ctx, "k", strings.NewReader("x")); !errors.Is(err, context.Canceled) {
		t.Fatalf("Put with a canceled context: %v", err)
	}
	if _, err := s.Get(ctx, "k"); !errors.Is(err, context.Canceled) {
		t.Fatalf("Get with a canceled context: %v", err)
	}
}
