package gcsbackend

import (
	"bytes"
	"context"
	"crypto/md5"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stratastore/strata/tiered/object"
)

func TestParsePartName(t *testing.T) {
	const prefix = "~uploads/u/"
	tests := []struct {
		name string
		want int
		ok   bool
	}{
		{prefix + "00001", 1, true},
		{prefix + "00042", 42, true},
		{prefix + "10000", 10000, true},
		{prefix + "00000", 0, false},
		{prefix + "10001", 0, false},
		{prefix + "meta", 0, false},
		{prefix + "tmp-0-00001", 0, false},
		{prefix + "0001", 0, false},
		{prefix + "000001", 0, false},
		{prefix + "0000a", 0, false},
		{"~uploads/other/00001", 0, false},
	}
	for _, tt := range tests {
		n, ok := parsePartName(prefix, tt.name)
		if n != tt.want || ok != tt.ok {
			t.Errorf("parsePartName(%q) = %d, %v; want %d, %v", tt.name, n, ok, tt.want, tt.ok)
		}
	}
}

func TestPartNames_SortNumerically(t *testing.T) {
	// Listing relies on lexical order = numeric order, with meta and intermediates after the
	// parts and outside the [StartOffset, EndOffset) window.
	u := "0b5e3f2a-6c1d-4e8f-9a7b-2c4d6e8f0a1b"
	names := []string{metaName(u), tmpName(u, 0, 0), partName(u, 10000), partName(u, 2), partName(u, 999), partName(u, 1), partName(u, 10)}
	slices.Sort(names)
	want := []string{partName(u, 1), partName(u, 2), partName(u, 10), partName(u, 999), partName(u, 10000), metaName(u), tmpName(u, 0, 0)}
	if !slices.Equal(names, want) {
		t.Errorf("sorted %v, want %v", names, want)
	}
	end := uploadPrefix(u) + partEndOffset
	if !(partName(u, object.MaxPartNumber) < end && end < metaName(u) && end < tmpName(u, 0, 0)) {
		t.Errorf("end offset %q does not separate parts from meta and intermediates", end)
	}
	if !strings.HasPrefix(partName(u, 7), UploadsPrefix) || len(u) > 36 {
		t.Errorf("layout: %q", partName(u, 7))
	}
}

func TestValidUploadID(t *testing.T) {
	tests := []struct {
		id string
		ok bool
	}{
		{"0b5e3f2a-6c1d-4e8f-9a7b-2c4d6e8f0a1b", true},
		{"0B5E3F2A-6C1D-4E8F-9A7B-2C4D6E8F0A1B", false}, // not canonical
		{"{0b5e3f2a-6c1d-4e8f-9a7b-2c4d6e8f0a1b}", false},
		{"urn:uuid:0b5e3f2a-6c1d-4e8f-9a7b-2c4d6e8f0a1b", false},
		{"0b5e3f2a6c1d4e8f9a7b2c4d6e8f0a1b", false},
		{"../../etc/passwd-0000-0000-000000000", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := validUploadID(tt.id); got != tt.ok {
			t.Errorf("validUploadID(%q) = %v, want %v", tt.id, got, tt.ok)
		}
	}
}

func TestCheckOrder(t *testing.T) {
	tests := []struct {
		name  string
		parts []int
		code  string
	}{
		{"ascending", []int{1, 2, 5}, ""},
		{"single", []int{10000}, ""},
		{"empty", nil, CodeMalformed},
		{"descending", []int{2, 1}, CodeInvalidPartOrder},
		{"duplicate", []int{1, 1}, CodeInvalidPartOrder},
		{"zero", []int{0, 1}, CodeInvalidPart},
		{"too large", []int{1, 10001}, CodeInvalidPart},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ps []object.CompletedPart
			for _, n := range tt.parts {
				ps = append(ps, object.CompletedPart{PartNumber: n, ETag: `"x"`})
			}
			ce := checkOrder(ps)
			got := ""
			if ce != nil {
				got = ce.Code
			}
			if got != tt.code {
				t.Errorf("code %q, want %q (%v)", got, tt.code, ce)
			}
		})
	}
}

func TestForEach_BoundsConcurrencyAndStopsOnError(t *testing.T) {
	var inFlight, peak, calls atomic.Int32
	err := forEach(100, 3, func(i int) error {
		calls.Add(1)
		n := inFlight.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		time.Sleep(time.Millisecond)
		inFlight.Add(-1)
		if i == 10 {
			return errors.New("boom")
		}
		return nil
	})
	if err == nil || err.Error() != "boom" {
		t.Errorf("err = %v", err)
	}
	if p := peak.Load(); p > 3 || p < 2 {
		t.Errorf("peak concurrency %d, want 2..3", p)
	}
	if c := calls.Load(); c >= 100 {
		t.Errorf("%d calls: no stop after the error", c)
	}
	if err := forEach(0, 4, func(int) error { t.Error("called"); return nil }); err != nil {
		t.Error(err)
	}
}

// upload is a multipart upload driven through the backend.
type upload struct {
	t  *testing.T
	b  *Backend
	id object.ID
	u  string
}

func initiate(t *testing.T, b *Backend, id object.ID, md object.Metadata) *upload {
	t.Helper()
	u, err := b.InitiateMultipart(context.Background(), id, md)
	if err != nil {
		t.Fatal(err)
	}
	return &upload{t: t, b: b, id: id, u: u}
}

func (up *upload) part(n int, data []byte) string {
	up.t.Helper()
	etag, err := up.b.UploadPart(context.Background(), up.id, up.u, n, int64(len(data)), bytes.NewReader(data))
	if err != nil {
		up.t.Fatalf("part %d: %v", n, err)
	}
	return etag
}

func (up *upload) complete(parts []object.CompletedPart) {
	up.t.Helper()
	ce, err := up.b.CompleteMultipart(context.Background(), up.id, up.u, parts)
	if err != nil || ce != nil {
		up.t.Fatalf("complete: %v %v", ce, err)
	}
}

func TestMultipart_70Parts_NestedComposeInOrder(t *testing.T) {
	f := newFake(t)
	b := f.backend(t, Options{})
	id := testID("seventy")
	up := initiate(t, b, id, object.Metadata{ContentType: "text/csv"})
	const n = 70
	data := make([][]byte, n+1)
	etags := make([]string, n+1)
	order := rand.Perm(n) // uploaded out of order, four at a time
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4)
	var mu sync.Mutex
	for _, i := range order {
		num := i + 1
		data[num] = append([]byte(fmt.Sprintf("<part %02d>", num)), payload(100+num, byte(num))...)
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			etag, err := b.UploadPart(context.Background(), id, up.u, num, int64(len(data[num])), bytes.NewReader(data[num]))
			if err != nil {
				t.Errorf("part %d: %v", num, err)
			}
			mu.Lock()
			etags[num] = etag
			mu.Unlock()
		}()
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	var parts []object.CompletedPart
	var want []byte
	for num := 1; num <= n; num++ {
		parts = append(parts, object.CompletedPart{PartNumber: num, ETag: etags[num]})
		want = append(want, data[num]...)
	}
	f.tr.reset()
	up.complete(parts)

	_, got := mustGet(t, b, id, nil)
	if !bytes.Equal(got, want) {
		t.Fatalf("assembled %d bytes, want %d; first difference at %d", len(got), len(want), firstDiff(got, want))
	}
	// 70 sources: three intermediates (32+32+6), then one final compose of 3.
	composes := f.tr.count(func(r request) bool { return strings.HasSuffix(r.Path, "/compose") })
	if composes != 4 {
		t.Errorf("%d compose requests, want 4:\n%s", composes, describe(f.tr.requests()))
	}
	// Parts, intermediates and meta are all gone.
	if left := f.names(t, UploadsPrefix); len(left) != 0 {
		t.Errorf("left under %s: %v", UploadsPrefix, left)
	}
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

func TestMultipart_Complete_AppliesInitiateMetadata(t *testing.T) {
	f := newFake(t)
	now := time.Date(2026, 6, 1, 8, 0, 0, 987654321, time.UTC)
	b := f.backend(t, Options{Now: newClock(now).Now})
	id := testID("meta")
	md := object.Metadata{
		ExpirationPolicy: object.TTI(48 * time.Hour), TimeCreated: now, TimeExpires: now.Add(48 * time.Hour),
		ContentType: "video/mp4", Compression: object.CompressionZstd, Origin: "198.51.100.1",
		Filename: "clip.mp4", Custom: map[string]string{"camera": "front"},
	}
	up := initiate(t, b, id, md)
	e1 := up.part(1, []byte("hello "))
	e2 := up.part(2, []byte("world"))
	up.complete([]object.CompletedPart{{PartNumber: 1, ETag: e1}, {PartNumber: 2, ETag: e2}})

	a := f.attrs(t, id.StoragePath())
	if a.ContentType != "video/mp4" || a.ContentEncoding != "zstd" || !a.CustomTime.Equal(customTime(md.TimeExpires)) ||
		a.Metadata["x-sn-expiration"] != "tti:2days" || a.Metadata["x-snme-camera"] != "front" || len(a.Metadata) != 4 {
		t.Errorf("stored attrs: %q %q %v %v", a.ContentType, a.ContentEncoding, a.CustomTime, a.Metadata)
	}
	o, got := mustGet(t, b, id, nil)
	want := md
	want.Size = 11
	want.TimeCreated = o.Metadata.TimeCreated // GCS's, as objectstore reads it
	want.TimeExpires = customTime(md.TimeExpires)
	want.OriginSet, want.FilenameSet = true, true
	if string(got) != "hello world" || fmt.Sprint(o.Metadata) != fmt.Sprint(want) {
		t.Errorf("got %q\n%+v\nwant\n%+v", got, o.Metadata, want)
	}
}

func TestMultipart_UploadPart_ETagIsQuotedMD5(t *testing.T) {
	f := newFake(t)
	b := f.backend(t, Options{})
	up := initiate(t, b, testID("etag"), object.Metadata{})
	data := payload(1000, 1)
	etag := up.part(3, data)
	if want := fmt.Sprintf(`"%x"`, md5.Sum(data)); etag != want {
		t.Errorf("etag %s, want %s", etag, want)
	}
	l, err := b.ListParts(context.Background(), up.id, up.u, 0, 0)
	if err != nil || len(l.Parts) != 1 || l.Parts[0].ETag != etag || l.Parts[0].PartNumber != 3 {
		t.Errorf("listed %+v, %v", l, err)
	}
	// The part object sits in the reserved layout.
	if names := f.names(t, uploadPrefix(up.u)); !slices.Equal(names, []string{partName(up.u, 3), metaName(up.u)}) {
		t.Errorf("upload objects %v", names)
	}
	// Complete accepts the ETag with or without quotes.
	up.complete([]object.CompletedPart{{PartNumber: 3, ETag: strings.Trim(etag, `"`)}})
}

func TestMultipart_UploadPart_SmallPartUsesSmallChunk(t *testing.T) {
	f := newFake(t)
	b := f.backend(t, Options{ChunkSize: 2 << 20})
	up := initiate(t, b, testID("chunks"), object.Metadata{})
	f.tr.reset()
	up.part(1, payload(3<<20, 1)) // larger than the chunk: resumable session
	resumable := f.tr.count(func(r request) bool { return strings.Contains(r.Query, "uploadType=resumable") })
	if resumable < 3 {
		t.Errorf("3 MiB part with 2 MiB chunks: %d resumable requests, want ≥ 3:\n%s", resumable, describe(f.tr.requests()))
	}
	f.tr.reset()
	up.part(2, payload(1000, 2)) // one request
	if n := f.tr.count(func(r request) bool { return r.Method == http.MethodPost && strings.Contains(r.Path, "/upload/") }); n != 1 {
		t.Errorf("small part: %d upload requests, want 1:\n%s", n, describe(f.tr.requests()))
	}
}

func TestMultipart_ListParts_SmallPageForSmallMax(t *testing.T) {
	f := newFake(t)
	b := f.backend(t, Options{})
	up := initiate(t, b, testID("pages"), object.Metadata{})
	for n := 1; n <= 12; n++ {
		up.part(n, []byte{byte(n)})
	}
	f.tr.reset()
	l, err := b.ListParts(context.Background(), up.id, up.u, 2, 4)
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Parts) != 2 || l.Parts[0].PartNumber != 5 || l.Parts[1].PartNumber != 6 || !l.IsTruncated || l.NextPartNumberMarker != 6 {
		t.Fatalf("page %+v", l)
	}
	var list []request
	for _, r := range f.tr.requests() {
		if strings.HasSuffix(r.Path, "/o") && r.Method == http.MethodGet {
			list = append(list, r)
		}
	}
	if len(list) != 1 || !strings.Contains(list[0].Query, "maxResults=3") ||
		!strings.Contains(list[0].Query, "startOffset="+url.QueryEscape(partName(up.u, 5))) {
		t.Errorf("list requests:\n%s", describe(list))
	}
	// A marker past the last part number lists nothing, without a request.
	f.tr.reset()
	l, err = b.ListParts(context.Background(), up.id, up.u, 0, object.MaxPartNumber)
	if err != nil || len(l.Parts) != 0 || l.IsTruncated {
		t.Errorf("past the end: %+v %v", l, err)
	}
}

func TestMultipart_Complete_InvalidPart_KeepsUpload(t *testing.T) {
	f := newFake(t)
	b := f.backend(t, Options{})
	up := initiate(t, b, testID("invalid"), object.Metadata{})
	e1 := up.part(1, []byte("a"))
	e2 := up.part(2, []byte("b"))
	tests := []struct {
		name  string
		parts []object.CompletedPart
		code  string
	}{
		{"missing part", []object.CompletedPart{{PartNumber: 1, ETag: e1}, {PartNumber: 3, ETag: e2}}, CodeInvalidPart},
		{"etag mismatch", []object.CompletedPart{{PartNumber: 1, ETag: e2}}, CodeInvalidPart},
		{"out of order", []object.CompletedPart{{PartNumber: 2, ETag: e2}, {PartNumber: 1, ETag: e1}}, CodeInvalidPartOrder},
		{"empty", nil, CodeMalformed},
	}
	for _, tt := range tests {
		f.tr.reset()
		ce, err := b.CompleteMultipart(context.Background(), up.id, up.u, tt.parts)
		if err != nil || ce == nil || ce.Code != tt.code {
			t.Errorf("%s: %v, %v; want code %s", tt.name, ce, err, tt.code)
		}
		if n := f.tr.count(func(r request) bool { return strings.HasSuffix(r.Path, "/compose") || r.Method == http.MethodDelete }); n != 0 {
			t.Errorf("%s: rejected complete composed or deleted:\n%s", tt.name, describe(f.tr.requests()))
		}
	}
	if names := f.names(t, uploadPrefix(up.u)); len(names) != 3 {
		t.Errorf("upload objects after rejected completes: %v", names)
	}
	up.complete([]object.CompletedPart{{PartNumber: 1, ETag: e1}, {PartNumber: 2, ETag: e2}})
}

func TestMultipart_Complete_Retry_NotFoundAndObjectIntact(t *testing.T) {
	f := newFake(t)
	b := f.backend(t, Options{})
	id := testID("retry")
	up := initiate(t, b, id, object.Metadata{})
	e1 := up.part(1, []byte("data"))
	parts := []object.CompletedPart{{PartNumber: 1, ETag: e1}}
	up.complete(parts)
	ce, err := b.CompleteMultipart(context.Background(), id, up.u, parts)
	if !errors.Is(err, object.ErrNotFound) || ce != nil {
		t.Errorf("retried complete: %v %v, want ErrNotFound", ce, err)
	}
	if _, got := mustGet(t, b, id, nil); string(got) != "data" {
		t.Errorf("object %q", got)
	}
}

func TestMultipart_Complete_MetaDeleteFails_KeepsPartsForRetry(t *testing.T) {
	f := newFake(t)
	var logs bytes.Buffer
	b := f.backend(t, Options{Logger: slogTo(&logs)})
	id := testID("meta-delete")
	up := initiate(t, b, id, object.Metadata{})
	parts := []object.CompletedPart{{PartNumber: 1, ETag: up.part(1, []byte("one"))}, {PartNumber: 2, ETag: up.part(2, []byte("two"))}}
	metaPath := "/o/" + escapeName(metaName(up.u))
	f.tr.setFail(func(r *http.Request) bool {
		return r.Method == http.MethodDelete && strings.HasSuffix(r.URL.EscapedPath(), metaPath)
	})
	up.complete(parts) // committed: a cleanup failure does not fail it
	if !strings.Contains(logs.String(), "meta delete failed") {
		t.Errorf("not logged: %s", logs.String())
	}
	if names := f.names(t, uploadPrefix(up.u)); len(names) != 3 {
		t.Fatalf("parts must survive for a retry, left: %v", names)
	}
	// A retry recomposes the same bytes and then cleans up.
	f.tr.setFail(nil)
	up.complete(parts)
	if _, got := mustGet(t, b, id, nil); string(got) != "onetwo" {
		t.Errorf("object %q", got)
	}
	if names := f.names(t, uploadPrefix(up.u)); len(names) != 0 {
		t.Errorf("left after the retry: %v", names)
	}
}

func TestMultipart_Complete_SourcesPinnedToValidatedGeneration(t *testing.T) {
	f := newFake(t)
	b := f.backend(t, Options{})
	id := testID("pinned")
	up := initiate(t, b, id, object.Metadata{})
	e1 := up.part(1, []byte("one"))
	gen := f.attrs(t, partName(up.u, 1)).Generation
	f.tr.reset()
	up.complete([]object.CompletedPart{{PartNumber: 1, ETag: e1}})
	var bodies []string
	for _, r := range f.tr.requests() {
		if strings.HasSuffix(r.Path, "/compose") {
			bodies = append(bodies, r.Body)
		}
	}
	// A part re-uploaded after validation has a new generation, so the compose would fail
	// rather than take bytes whose ETag was never checked (GCS enforces it; the fake does not).
	want := fmt.Sprintf(`"generation":"%d"`, gen)
	if len(bodies) != 1 || !strings.Contains(bodies[0], want) {
		t.Errorf("compose bodies %q, want one naming %s", bodies, want)
	}
}

func TestMultipart_Complete_OverExistingObject_ReplacesAttributes(t *testing.T) {
	// fake-gcs-server merges a compose into an existing destination; composeFinal repairs it.
	f := newFake(t)
	now := time.Date(2026, 6, 1, 8, 0, 0, 0, time.UTC)
	b := f.backend(t, Options{Now: newClock(now).Now})
	id := testID("existing")
	mustPut(t, b, id, object.Metadata{ExpirationPolicy: object.TTL(time.Hour), TimeExpires: now.Add(time.Hour),
		ContentType: "old/type", Compression: object.CompressionZstd}, []byte("old"))
	up := initiate(t, b, id, object.Metadata{ContentType: "new/type"})
	up.complete([]object.CompletedPart{{PartNumber: 1, ETag: up.part(1, []byte("new"))}})
	t.Logf("%+v", f.attrs(t, id.StoragePath()))
	f.tr.reset()
	o, got := mustGet(t, b, id, nil)
	t.Logf("%q %+v", got, o.Metadata)
	t.Log(describe(f.tr.requests()))
	if string(got) != "new" || o.Metadata.ContentType != "new/type" || o.Metadata.Compression != "" ||
		o.Metadata.ExpirationPolicy.IsTimeout() || !o.Metadata.TimeExpires.IsZero() {
		t.Errorf("got %q %+v", got, o.Metadata)
	}
}

func TestMultipart_Abort_RemovesPrefix(t *testing.T) {
	f := newFake(t)
	b := f.backend(t, Options{})
	id := testID("abort")
	up := initiate(t, b, id, object.Metadata{})
	other := initiate(t, b, testID("other"), object.Metadata{})
	for n := 1; n <= 20; n++ {
		up.part(n, []byte{byte(n)})
	}
	other.part(1, []byte("keep"))
	// An intermediate left by a failed complete goes too.
	w := f.client.Bucket(testBucket).Object(tmpName(up.u, 0, 0)).NewWriter(context.Background())
	if _, err := w.Write([]byte("tmp")); err != nil || w.Close() != nil {
		t.Fatal("writing an intermediate")
	}
	// Abort through the wrong object is refused and deletes nothing.
	if err := b.AbortMultipart(context.Background(), testID("someone-else"), up.u); !errors.Is(err, object.ErrNotFound) {
		t.Errorf("abort via another id: %v", err)
	}
	if n := len(f.names(t, uploadPrefix(up.u))); n != 22 {
		t.Fatalf("%d objects before abort, want 22", n)
	}
	for i := range 2 {
		if err := b.AbortMultipart(context.Background(), id, up.u); err != nil {
			t.Fatalf("abort %d: %v", i, err)
		}
	}
	if left := f.names(t, uploadPrefix(up.u)); len(left) != 0 {
		t.Errorf("left after abort: %v", left)
	}
	if left := f.names(t, uploadPrefix(other.u)); len(left) != 2 {
		t.Errorf("other upload lost objects: %v", left)
	}
	if _, err := b.UploadPart(context.Background(), id, up.u, 1, 1, strings.NewReader("x")); !errors.Is(err, object.ErrNotFound) {
		t.Errorf("UploadPart after abort: %v", err)
	}
}

func TestMultipart_Abort_MalformedUploadID_NotFound(t *testing.T) {
	f := newFake(t)
	b := f.backend(t, Options{})
	for _, u := range []string{"../x", "", "meta"} {
		if err := b.AbortMultipart(context.Background(), testID("k"), u); !errors.Is(err, object.ErrNotFound) {
			t.Errorf("abort %q: %v", u, err)
		}
		if _, err := b.UploadPart(context.Background(), testID("k"), u, 1, 1, strings.NewReader("x")); !errors.Is(err, object.ErrNotFound) {
			t.Errorf("upload part %q: %v", u, err)
		}
	}
	if n := len(f.tr.requests()); n != 0 {
		t.Errorf("malformed ids reached GCS: %d requests", n)
	}
}

func TestMultipart_Initiate_MetadataOverGCSLimit(t *testing.T) {
	f := newFake(t)
	b := f.backend(t, Options{})
	md := object.Metadata{Custom: map[string]string{"k": strings.Repeat("v", MaxCustomMetadataBytes)}}
	if _, err := b.InitiateMultipart(context.Background(), testID("k"), md); !errors.Is(err, object.ErrInvalidArgument) {
		t.Errorf("err = %v", err)
	}
}

// TestMultipart_CallCounts pins the GCS requests of each multipart step (doc.go, "Cost").
func TestMultipart_CallCounts(t *testing.T) {
	f := newFake(t)
	b := f.backend(t, Options{})
	id := testID("counts")
	f.tr.reset()
	up := initiate(t, b, id, object.Metadata{})
	if n := len(f.tr.requests()); n != 1 {
		t.Errorf("initiate: %d requests, want 1", n)
	}
	f.tr.reset()
	e1 := up.part(1, []byte("a"))
	if n := len(f.tr.requests()); n != 2 {
		t.Errorf("upload part: %d requests, want 2 (meta read, upload):\n%s", n, describe(f.tr.requests()))
	}
	e2 := up.part(2, []byte("b"))
	f.tr.reset()
	if _, err := b.ListParts(context.Background(), id, up.u, 0, 0); err != nil {
		t.Fatal(err)
	}
	if n := len(f.tr.requests()); n != 2 {
		t.Errorf("list parts: %d requests, want 2 (meta read, list)", n)
	}
	f.tr.reset()
	up.complete([]object.CompletedPart{{PartNumber: 1, ETag: e1}, {PartNumber: 2, ETag: e2}})
	// meta read, list, compose, delete meta, delete 2 parts.
	if n := len(f.tr.requests()); n != 6 {
		t.Errorf("complete: %d requests, want 6:\n%s", n, describe(f.tr.requests()))
	}
}

func TestMultipart_Complete_SourceGone_CompleteErrorNotNotFound(t *testing.T) {
	f := newFake(t)
	b := f.backend(t, Options{})
	id := testID("source-gone")
	up := initiate(t, b, id, object.Metadata{})
	e1 := up.part(1, []byte("one"))
	// GCS answers 404 when a pinned source generation was replaced after validation.
	f.tr.next = &notFoundOn{next: f.tr.next, match: func(r *http.Request) bool { return strings.HasSuffix(r.URL.Path, "/compose") }}
	ce, err := b.CompleteMultipart(context.Background(), id, up.u, []object.CompletedPart{{PartNumber: 1, ETag: e1}})
	if err != nil || ce == nil || ce.Code != CodeInvalidPart {
		t.Fatalf("got %v, %v; want an InvalidPart CompleteError", ce, err)
	}
	if names := f.names(t, uploadPrefix(up.u)); len(names) != 2 {
		t.Errorf("upload must survive, left: %v", names)
	}
}

// notFoundOn answers matching requests with 404.
type notFoundOn struct {
	next  http.RoundTripper
	match func(*http.Request) bool
}

func (n *notFoundOn) RoundTrip(r *http.Request) (*http.Response, error) {
	if n.match(r) {
		return &http.Response{StatusCode: 404, Status: "404 Not Found", Request: r,
			Header: http.Header{"Content-Type": {"application/json"}},
			Body:   io.NopCloser(strings.NewReader(`{"error":{"code":404,"message":"No such object"}}`))}, nil
	}
	return n.next.RoundTrip(r)
}
