package gcsbackend

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fsouza/fake-gcs-server/fakestorage"
	"github.com/stratastore/strata/tiered/object"
)

func TestBackend_PutGet_RoundTripsMetadataAndBody(t *testing.T) {
	f := newFake(t)
	now := time.Date(2026, 5, 1, 12, 0, 0, 123456789, time.UTC)
	b := f.backend(t, Options{Now: newClock(now).Now})
	id := testID("dir/file.bin")
	md := object.Metadata{
		ExpirationPolicy: object.TTL(time.Hour), TimeCreated: now, TimeExpires: now.Add(time.Hour),
		ContentType: "application/x-thing", Compression: object.CompressionZstd, Origin: "10.1.2.3",
		Filename: "file.bin", Size: 7, Custom: map[string]string{"a": "b"},
	}
	data := payload(3<<20, 9)
	mustPut(t, b, id, md, data)

	o, got := mustGet(t, b, id, nil)
	if !bytes.Equal(got, data) {
		t.Fatalf("body differs: %d bytes back, %d put", len(got), len(data))
	}
	// Read back as objectstore reads it: GCS's creation time, customTime (rounded up to a
	// whole second) as the deadline.
	want := md
	want.Size = int64(len(data))
	want.TimeCreated = o.Metadata.TimeCreated
	want.TimeExpires = customTime(md.TimeExpires)
	want.OriginSet, want.FilenameSet = true, true
	if o.Metadata.TimeCreated.IsZero() || !reflect.DeepEqual(o.Metadata, want) {
		t.Errorf("metadata:\n got %+v\nwant %+v", o.Metadata, want)
	}
	if o.Range != nil {
		t.Errorf("full read has range %v", o.Range)
	}
	head, err := b.Head(context.Background(), id)
	if err != nil || !reflect.DeepEqual(head, want) {
		t.Errorf("Head = %+v, %v", head, err)
	}
	// The stored layout is objectstore's, customTime rounded up to a whole second.
	a := f.attrs(t, id.StoragePath())
	if a.ContentEncoding != "zstd" || !a.CustomTime.Equal(now.Add(time.Hour).Truncate(time.Second).Add(time.Second)) || len(a.Metadata) != 4 ||
		a.Metadata["x-sn-expiration"] != "ttl:1h" || a.Metadata["x-snme-a"] != "b" {
		t.Errorf("stored attrs: encoding %q customTime %v metadata %v", a.ContentEncoding, a.CustomTime, a.Metadata)
	}
}

func TestBackend_Put_Overwrite_ReplacesBodyAndMetadata(t *testing.T) {
	f := newFake(t)
	b := f.backend(t, Options{})
	id := testID("k")
	mustPut(t, b, id, object.Metadata{Custom: map[string]string{"old": "1"}}, []byte("first"))
	mustPut(t, b, id, object.Metadata{Custom: map[string]string{"new": "2"}}, []byte("second!"))
	o, got := mustGet(t, b, id, nil)
	if string(got) != "second!" || !reflect.DeepEqual(o.Metadata.Custom, map[string]string{"new": "2"}) || o.Metadata.Size != 7 {
		t.Errorf("got %q %+v", got, o.Metadata)
	}
}

func TestBackend_Put_BodyError_CreatesNothingAndKeepsPrevious(t *testing.T) {
	for _, size := range []int{10, 700 << 10} { // single request, and a chunked upload
		f := newFake(t)
		b := f.backend(t, Options{ChunkSize: 256 << 10})
		fresh, existing := testID("fresh"), testID("existing")
		mustPut(t, b, existing, object.Metadata{}, []byte("previous"))

		for _, id := range []object.ID{fresh, existing} {
			err := b.Put(context.Background(), id, object.Metadata{}, &failingReader{data: payload(size, 1), err: errBody})
			if !errors.Is(err, errBody) {
				t.Fatalf("size %d: Put err = %v, want the body's error", size, err)
			}
		}
		if _, err := b.Head(context.Background(), fresh); !errors.Is(err, object.ErrNotFound) {
			t.Errorf("size %d: failed Put created an object: %v", size, err)
		}
		if _, got := mustGet(t, b, existing, nil); string(got) != "previous" {
			t.Errorf("size %d: previous object changed to %d bytes", size, len(got))
		}
	}
}

func TestBackend_Put_ContextCancelled_CreatesNothing(t *testing.T) {
	f := newFake(t)
	b := f.backend(t, Options{ChunkSize: 256 << 10})
	id := testID("cancelled")
	ctx, cancel := context.WithCancel(context.Background())
	// Cancel after the body is fully read (EOF), before Close: the last moment it matters.
	body := &cancelAtEOF{r: bytes.NewReader(payload(600<<10, 2)), cancel: cancel}
	if err := b.Put(ctx, id, object.Metadata{}, body); !errors.Is(err, context.Canceled) {
		t.Fatalf("Put err = %v, want context.Canceled", err)
	}
	if _, err := b.Head(context.Background(), id); !errors.Is(err, object.ErrNotFound) {
		t.Errorf("cancelled Put created an object: %v", err)
	}
}

type cancelAtEOF struct {
	r      io.Reader
	cancel context.CancelFunc
}

func (c *cancelAtEOF) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if err == io.EOF {
		c.cancel()
	}
	return n, err
}

func TestBackend_Put_MetadataOverGCSLimit_InvalidArgument(t *testing.T) {
	f := newFake(t)
	b := f.backend(t, Options{})
	md := object.Metadata{Custom: map[string]string{"big": strings.Repeat("x", MaxCustomMetadataBytes)}}
	err := b.Put(context.Background(), testID("k"), md, strings.NewReader("x"))
	if !errors.Is(err, object.ErrInvalidArgument) {
		t.Fatalf("err = %v, want ErrInvalidArgument", err)
	}
	if n := len(f.tr.requests()); n != 0 {
		t.Errorf("rejected Put sent %d requests", n)
	}
}

func TestBackend_Get_Missing_NotFound(t *testing.T) {
	f := newFake(t)
	b := f.backend(t, Options{})
	if _, err := b.Get(context.Background(), testID("nope"), nil); !errors.Is(err, object.ErrNotFound) {
		t.Errorf("Get err = %v", err)
	}
	if _, err := b.Head(context.Background(), testID("nope")); !errors.Is(err, object.ErrNotFound) {
		t.Errorf("Head err = %v", err)
	}
}

func TestBackend_Get_Expired_Hidden(t *testing.T) {
	// A whole-second deadline: customTime holds it exactly.
	start := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	for _, policy := range []object.ExpirationPolicy{object.TTL(time.Hour), object.TTI(time.Hour)} {
		t.Run(policy.String(), func(t *testing.T) {
			f := newFake(t)
			clk := newClock(start)
			b := f.backend(t, Options{Now: clk.Now})
			id := testID("exp")
			md := object.Metadata{ExpirationPolicy: policy, TimeExpires: start.Add(time.Hour)}
			mustPut(t, b, id, md, []byte("data"))

			if policy.Kind == object.TimeToLive {
				// At the deadline the object is still live: expired means strictly before
				// now. (A TTI read here would bump the deadline.)
				clk.Set(start.Add(time.Hour))
				if _, err := b.Head(context.Background(), id); err != nil {
					t.Fatalf("at the deadline: %v", err)
				}
			}
			clk.Set(start.Add(time.Hour + time.Nanosecond))
			if _, err := b.Get(context.Background(), id, nil); !errors.Is(err, object.ErrNotFound) {
				t.Errorf("Get after the deadline: %v", err)
			}
			if _, err := b.Head(context.Background(), id); !errors.Is(err, object.ErrNotFound) {
				t.Errorf("Head after the deadline: %v", err)
			}
			// Hidden, not deleted: the lifecycle rule does that.
			if names := f.names(t, id.StoragePath()); len(names) != 1 {
				t.Errorf("stored objects: %v", names)
			}
		})
	}
}

func TestBackend_Get_TTIBump_PatchesCustomTime(t *testing.T) {
	f := newFake(t)
	start := time.Date(2026, 5, 1, 12, 0, 0, 250e6, time.UTC)
	clk := newClock(start)
	b := f.backend(t, Options{Now: clk.Now})
	id := testID("tti")
	md := object.Metadata{ExpirationPolicy: object.TTI(4 * time.Hour), TimeExpires: start.Add(4 * time.Hour)}
	mustPut(t, b, id, md, []byte("data"))

	// Within the debounce (4h/4 = 1h): no PATCH.
	clk.Set(start.Add(30 * time.Minute))
	f.tr.reset()
	if _, err := b.Head(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	if n := f.tr.count(func(r request) bool { return r.Method == http.MethodPatch }); n != 0 {
		t.Fatalf("fresh TTI object was patched %d times", n)
	}

	// Past the debounce: one PATCH; the read returns the pre-bump deadline.
	readAt := start.Add(90 * time.Minute)
	clk.Set(readAt)
	f.tr.reset()
	o, _ := mustGet(t, b, id, nil)
	if pre := customTime(md.TimeExpires); !o.Metadata.TimeExpires.Equal(pre) {
		t.Errorf("Get returned deadline %v, want the pre-bump %v", o.Metadata.TimeExpires, pre)
	}
	if n := f.tr.count(func(r request) bool { return isObjectPath(r, http.MethodPatch, id.StoragePath()) }); n != 1 {
		t.Errorf("PATCH count = %d, want 1:\n%s", n, describe(f.tr.requests()))
	}
	// The new deadline, rounded up to a whole second like every customTime Strata writes.
	want := customTime(readAt.Add(4 * time.Hour))
	a := f.attrs(t, id.StoragePath())
	if !a.CustomTime.Equal(want) || len(a.Metadata) != 1 {
		t.Errorf("customTime = %v, metadata %v; want %v and only x-sn-expiration", a.CustomTime, a.Metadata, want)
	}
	head, err := b.Head(context.Background(), id)
	if err != nil || !head.TimeExpires.Equal(want) {
		t.Errorf("after bump Head deadline = %v (%v), want %v", head.TimeExpires, err, want)
	}
	// The bumped object outlives its original deadline.
	clk.Set(md.TimeExpires.Add(time.Minute))
	if _, err := b.Head(context.Background(), id); err != nil {
		t.Errorf("bumped object hidden after the old deadline: %v", err)
	}
}

func TestBackend_Get_BumpFailure_DoesNotFailRead(t *testing.T) {
	f := newFake(t)
	start := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	clk := newClock(start)
	var logs bytes.Buffer
	b := f.backend(t, Options{Now: clk.Now, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	id := testID("tti")
	md := object.Metadata{ExpirationPolicy: object.TTI(time.Hour), TimeExpires: start.Add(time.Hour)}
	mustPut(t, b, id, md, []byte("payload"))

	f.tr.setFail(func(r *http.Request) bool { return r.Method == http.MethodPatch })
	clk.Set(start.Add(50 * time.Minute))
	o, got := mustGet(t, b, id, nil)
	if string(got) != "payload" || !o.Metadata.TimeExpires.Equal(md.TimeExpires) {
		t.Errorf("got %q %v", got, o.Metadata.TimeExpires)
	}
	if _, err := b.Head(context.Background(), id); err != nil {
		t.Errorf("Head with failing bump: %v", err)
	}
	if n := f.tr.count(func(r request) bool { return r.Method == http.MethodPatch }); n != 2 {
		t.Errorf("attempted bumps = %d, want 2", n)
	}
	if !strings.Contains(logs.String(), "TTI bump failed") {
		t.Errorf("bump failure not logged: %q", logs.String())
	}
	if ct := f.attrs(t, id.StoragePath()).CustomTime; !ct.Equal(md.TimeExpires) {
		t.Errorf("customTime changed to %v", ct)
	}
}

func TestBackend_Get_Ranges(t *testing.T) {
	f := newFake(t)
	b := f.backend(t, Options{})
	data := payload(1000, 3)
	id, empty := testID("r"), testID("empty")
	mustPut(t, b, id, object.Metadata{}, data)
	mustPut(t, b, empty, object.Metadata{}, nil)

	tests := []struct {
		name      string
		id        object.ID
		rng       object.ByteRange
		wantRange object.ContentRange // zero: unsatisfiable
		wantTotal int64
	}{
		{"bounded", id, object.Bounded(10, 19), object.ContentRange{Start: 10, End: 19, Total: 1000}, 0},
		{"end clamped", id, object.Bounded(990, 5000), object.ContentRange{Start: 990, End: 999, Total: 1000}, 0},
		{"open", id, object.From(998), object.ContentRange{Start: 998, End: 999, Total: 1000}, 0},
		{"suffix", id, object.Last(3), object.ContentRange{Start: 997, End: 999, Total: 1000}, 0},
		{"suffix longer than object", id, object.Last(5000), object.ContentRange{Start: 0, End: 999, Total: 1000}, 0},
		{"single first byte", id, object.Bounded(0, 0), object.ContentRange{Start: 0, End: 0, Total: 1000}, 0},
		{"start at size", id, object.From(1000), object.ContentRange{}, 1000},
		{"start beyond size", id, object.Bounded(2000, 3000), object.ContentRange{}, 1000},
		{"empty object", empty, object.Bounded(0, 10), object.ContentRange{}, 0},
		{"empty object suffix", empty, object.Last(1), object.ContentRange{}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rng := tt.rng
			o, err := b.Get(context.Background(), tt.id, &rng)
			if tt.wantRange == (object.ContentRange{}) {
				var re *object.RangeError
				if !errors.As(err, &re) || re.Total != tt.wantTotal || !errors.Is(err, object.ErrRangeNotSatisfiable) {
					t.Fatalf("err = %v, want *RangeError{Total:%d}", err, tt.wantTotal)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := readAll(t, o)
			if o.Range == nil || *o.Range != tt.wantRange {
				t.Fatalf("range = %v, want %v", o.Range, tt.wantRange)
			}
			if want := data[tt.wantRange.Start : tt.wantRange.End+1]; !bytes.Equal(got, want) {
				t.Errorf("body = %v, want %v", got, want)
			}
			if o.Metadata.Size != 1000 {
				t.Errorf("size = %d", o.Metadata.Size)
			}
		})
	}

	t.Run("empty object full read", func(t *testing.T) {
		f.tr.reset()
		o, got := mustGet(t, b, empty, nil)
		if len(got) != 0 || o.Metadata.Size != 0 || o.Range != nil {
			t.Errorf("got %d bytes, md %+v, range %v", len(got), o.Metadata, o.Range)
		}
		if n := len(f.tr.requests()); n != 1 {
			t.Errorf("empty object read cost %d requests, want 1 (no media request)", n)
		}
	})
}

// TestBackend_CallCounts pins the GCS requests per operation (doc.go, "Cost").
func TestBackend_CallCounts(t *testing.T) {
	f := newFake(t)
	start := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	clk := newClock(start)
	b := f.backend(t, Options{Now: clk.Now})
	id := testID("large")
	tti := testID("tti")
	data := payload(2<<20, 4)
	mustPut(t, b, id, object.Metadata{}, data)
	mustPut(t, b, tti, object.Metadata{ExpirationPolicy: object.TTI(time.Hour), TimeExpires: start.Add(time.Hour)}, data)
	name := id.StoragePath()

	isAttrs := func(n string) func(request) bool {
		return func(r request) bool {
			return isObjectPath(r, http.MethodGet, n) && strings.Contains(r.Query, "alt=json")
		}
	}
	isMedia := func(n string) func(request) bool {
		return func(r request) bool {
			return isObjectPath(r, http.MethodGet, n) && strings.Contains(r.Query, "alt=media")
		}
	}
	tests := []struct {
		name  string
		run   func() error
		total int
		want  map[string]func(request) bool // each must match exactly once
	}{
		{"get", func() error {
			_, _ = mustGet(t, b, id, nil)
			return nil
		}, 2, map[string]func(request) bool{"attrs": isAttrs(name), "media": isMedia(name)}},
		{"ranged get", func() error {
			r := object.Bounded(100, 200)
			_, _ = mustGet(t, b, id, &r)
			return nil
		}, 2, map[string]func(request) bool{"attrs": isAttrs(name), "media": isMedia(name)}},
		{"unsatisfiable range", func() error {
			r := object.From(int64(len(data)))
			_, err := b.Get(context.Background(), id, &r)
			if !errors.Is(err, object.ErrRangeNotSatisfiable) {
				return err
			}
			return nil
		}, 1, map[string]func(request) bool{"attrs": isAttrs(name)}},
		{"head", func() error {
			_, err := b.Head(context.Background(), id)
			return err
		}, 1, map[string]func(request) bool{"attrs": isAttrs(name)}},
		{"get with TTI bump", func() error {
			clk.Set(start.Add(30 * time.Minute))
			_, _ = mustGet(t, b, tti, nil)
			return nil
		}, 3, map[string]func(request) bool{
			"attrs": isAttrs(tti.StoragePath()), "media": isMedia(tti.StoragePath()),
			"patch": func(r request) bool { return isObjectPath(r, http.MethodPatch, tti.StoragePath()) },
		}},
		{"delete", func() error { return b.Delete(context.Background(), id) }, 1,
			map[string]func(request) bool{"delete": func(r request) bool { return isObjectPath(r, http.MethodDelete, name) }}},
		{"delete missing", func() error { return b.Delete(context.Background(), id) }, 1, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f.tr.reset()
			if err := tt.run(); err != nil {
				t.Fatal(err)
			}
			reqs := f.tr.requests()
			if len(reqs) != tt.total {
				t.Errorf("%d requests, want %d:\n%s", len(reqs), tt.total, describe(reqs))
			}
			for what, match := range tt.want {
				if n := f.tr.count(match); n != 1 {
					t.Errorf("%s requests = %d, want 1:\n%s", what, n, describe(reqs))
				}
			}
		})
	}
}

func TestBackend_Get_MediaPinnedToGenerationRead(t *testing.T) {
	f := newFake(t)
	b := f.backend(t, Options{})
	id := testID("gen")
	mustPut(t, b, id, object.Metadata{}, []byte("v1"))
	gen := f.attrs(t, id.StoragePath()).Generation
	f.tr.reset()
	_, _ = mustGet(t, b, id, nil)
	media := f.tr.count(func(r request) bool {
		return strings.Contains(r.Query, "alt=media") && strings.Contains(r.Query, "generation="+strconv.FormatInt(gen, 10))
	})
	if media != 1 {
		t.Errorf("media request not pinned to generation %d:\n%s", gen, describe(f.tr.requests()))
	}
}

func TestBackend_Get_ReplacedBetweenAttrsAndMedia_RetriesOnce(t *testing.T) {
	f := newFake(t)
	b := f.backend(t, Options{})
	id := testID("race")
	mustPut(t, b, id, object.Metadata{Custom: map[string]string{"v": "1"}}, []byte("one"))
	// Fail the first media read with a 404, as GCS answers for a generation replaced between
	// the metadata and media requests.
	var once sync.Once
	f.tr.reset()
	f.tr.next = &notFoundOnce{next: f.tr.next, once: &once}
	o, got := mustGet(t, b, id, nil)
	if string(got) != "one" || o.Metadata.Custom["v"] != "1" {
		t.Errorf("got %q %+v", got, o.Metadata)
	}
	if n := f.tr.count(func(r request) bool { return r.Method == http.MethodGet && strings.Contains(r.Query, "alt=json") }); n != 2 {
		t.Errorf("metadata requests = %d, want 2 (one retry):\n%s", n, describe(f.tr.requests()))
	}
}

// notFoundOnce answers the first media request with 404.
type notFoundOnce struct {
	next http.RoundTripper
	once *sync.Once
}

func (n *notFoundOnce) RoundTrip(r *http.Request) (*http.Response, error) {
	hit := false
	if r.URL.Query().Get("alt") == "media" {
		n.once.Do(func() { hit = true })
	}
	if hit {
		return &http.Response{StatusCode: 404, Status: "404 Not Found", Request: r,
			Header: http.Header{"Content-Type": {"application/json"}},
			Body:   io.NopCloser(strings.NewReader(`{"error":{"code":404,"message":"No such object"}}`))}, nil
	}
	return n.next.RoundTrip(r)
}

func TestBackend_Get_UnknownMetadataKeys_Ignored(t *testing.T) {
	f := newFake(t)
	b := f.backend(t, Options{})
	id := testID("foreign")
	// Another writer added keys Strata does not know.
	w := f.client.Bucket(testBucket).Object(id.StoragePath()).NewWriter(context.Background())
	w.ContentType = "text/plain"
	w.Metadata = map[string]string{"x-sn-origin": "elsewhere", "x-other-tool": "1", "x-sn-something-new": "2", "x-snme-k": "v"}
	if _, err := w.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	o, got := mustGet(t, b, id, nil)
	if string(got) != "hello" || o.Metadata.Origin != "elsewhere" || o.Metadata.Custom["k"] != "v" || len(o.Metadata.Custom) != 1 {
		t.Errorf("got %q %+v", got, o.Metadata)
	}
	// Without x-sn-time-created, TimeCreated is GCS's creation time.
	if created := f.attrs(t, id.StoragePath()).Created; !o.Metadata.TimeCreated.Equal(created) {
		t.Errorf("TimeCreated = %v, want GCS's %v", o.Metadata.TimeCreated, created)
	}
}

func TestBackend_Delete_Idempotent(t *testing.T) {
	f := newFake(t)
	b := f.backend(t, Options{})
	id := testID("del")
	mustPut(t, b, id, object.Metadata{}, []byte("x"))
	for i := range 2 {
		if err := b.Delete(context.Background(), id); err != nil {
			t.Fatalf("delete %d: %v", i, err)
		}
	}
	if _, err := b.Get(context.Background(), id, nil); !errors.Is(err, object.ErrNotFound) {
		t.Errorf("Get after delete: %v", err)
	}
}

func TestBackend_CompressedBytes_ReturnedUntouched(t *testing.T) {
	f := newFake(t)
	b := f.backend(t, Options{})
	id := testID("z")
	// A zstd frame header followed by noise: it must come back byte for byte.
	data := append([]byte{0x28, 0xb5, 0x2f, 0xfd}, payload(4096, 7)...)
	mustPut(t, b, id, object.Metadata{Compression: object.CompressionZstd}, data)
	o, got := mustGet(t, b, id, nil)
	if !bytes.Equal(got, data) || o.Metadata.Compression != object.CompressionZstd {
		t.Errorf("got %d bytes, compression %q", len(got), o.Metadata.Compression)
	}
}

func TestBackend_Errors_Translated(t *testing.T) {
	f := newFake(t)
	b := f.backend(t, Options{})
	f.tr.setFail(func(*http.Request) bool { return true })
	_, err := b.Head(context.Background(), testID("x"))
	if err == nil || errors.Is(err, object.ErrNotFound) {
		t.Fatalf("403 must be an error other than not-found, got %v", err)
	}
	if !strings.Contains(err.Error(), "injected") {
		t.Errorf("native error lost: %v", err)
	}
}

func TestOpen_Options(t *testing.T) {
	f := newFake(t)
	ctx := context.Background()
	if _, err := Open(ctx, nil, testBucket, nil); !errors.Is(err, object.ErrInvalidArgument) {
		t.Errorf("nil client: %v", err)
	}
	if _, err := Open(ctx, f.client, "", nil); !errors.Is(err, object.ErrInvalidArgument) {
		t.Errorf("missing bucket: %v", err)
	}
	if _, err := Open(ctx, f.client, testBucket, &Options{ChunkSize: -1}); !errors.Is(err, object.ErrInvalidArgument) {
		t.Errorf("negative chunk size: %v", err)
	}
	b, err := Open(ctx, f.client, testBucket, nil)
	if err != nil {
		t.Fatal(err)
	}
	if b.chunkSize != DefaultChunkSize || b.timeout != DefaultCallTimeout || b.deleteN != DefaultDeleteConcurrency || b.Name() != "gcs" {
		t.Errorf("defaults: chunk %d timeout %v delete %d", b.chunkSize, b.timeout, b.deleteN)
	}
}

// TestNewEmulatorClient runs the backend on an emulator client against fake-gcs-server on a
// real 127.0.0.1 listener, the way the end-to-end topology does.
func TestNewEmulatorClient(t *testing.T) {
	srv, err := fakestorage.NewServerWithOptions(fakestorage.Options{Scheme: "http", Host: "127.0.0.1", Port: 0})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	srv.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: testBucket})
	ctx := context.Background()
	if _, err := NewEmulatorClient(ctx, ""); !errors.Is(err, object.ErrInvalidArgument) {
		t.Errorf("empty endpoint: %v", err)
	}
	cl, err := NewEmulatorClient(ctx, srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cl.Close() })
	b, err := Open(ctx, cl, testBucket, &Options{ChunkSize: 256 << 10})
	if err != nil {
		t.Fatal(err)
	}
	id := testID("emu")
	data := payload(600<<10, 5) // chunked: exercises the resumable session URL
	mustPut(t, b, id, object.Metadata{ContentType: "text/plain"}, data)
	rng := object.Last(10)
	o, got := mustGet(t, b, id, &rng)
	if !bytes.Equal(got, data[len(data)-10:]) || o.Metadata.ContentType != "text/plain" {
		t.Errorf("got %v %+v", got, o.Metadata)
	}
	// The host:port form (STORAGE_EMULATOR_HOST's) works too.
	cl2, err := NewEmulatorClient(ctx, strings.TrimPrefix(srv.URL(), "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cl2.Close() })
	b2, err := Open(ctx, cl2, testBucket, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b2.Head(ctx, id); err != nil {
		t.Errorf("host:port endpoint: %v", err)
	}
}
