package backendtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/stratastore/strata/tiered/driver"
	"github.com/stratastore/strata/tiered/object"
)

// MaxUploadIDLen is the longest upload id a Multipart backend may return: a UUID's length.
// Backends use the id in object and file names (GCS keeps parts under "~uploads/{upload}/"),
// and tiered wraps it in its own upload id, so it stays short.
const MaxUploadIDLen = 36

// TestMultipart runs the conformance suite for driver.Multipart, the multipart capability of
// a LongTerm backend (run TestLongTerm on the same backend as well). open must return a
// fresh, empty, isolated backend for each call; the caller registers its cleanup on t.
//
// Each subtest checks one "must" of the driver.Multipart contract, named after it.
func TestMultipart(t *testing.T, open func(t *testing.T) driver.Multipart) {
	mpInitiate(t, open)
	mpComplete(t, open)
	mpUploadPart(t, open)
	mpListParts(t, open)
	mpCompleteErrors(t, open)
	mpAbort(t, open)
	mpNotFound(t, open)
}

type mp struct {
	t *testing.T
	b driver.Multipart
}

func (m mp) initiate(id object.ID, md object.Metadata) string {
	m.t.Helper()
	u, err := m.b.InitiateMultipart(m.t.Context(), id, md)
	if err != nil {
		m.t.Fatalf("InitiateMultipart(%s): %v", id.Key, err)
	}
	return u
}

func (m mp) upload(id object.ID, u string, n int, data []byte) string {
	m.t.Helper()
	etag, err := m.b.UploadPart(m.t.Context(), id, u, n, int64(len(data)), bytes.NewReader(data))
	if err != nil {
		m.t.Fatalf("UploadPart(%d): %v", n, err)
	}
	if etag == "" {
		m.t.Fatalf("UploadPart(%d) returned an empty ETag", n)
	}
	return etag
}

func (m mp) list(id object.ID, u string, maxParts, marker int) object.PartList {
	m.t.Helper()
	l, err := m.b.ListParts(m.t.Context(), id, u, maxParts, marker)
	if err != nil {
		m.t.Fatalf("ListParts(max %d, marker %d): %v", maxParts, marker, err)
	}
	return l
}

func (m mp) complete(id object.ID, u string, parts []object.CompletedPart) {
	m.t.Helper()
	ce, err := m.b.CompleteMultipart(m.t.Context(), id, u, parts)
	if err != nil {
		m.t.Fatalf("CompleteMultipart: %v", err)
	}
	if ce != nil {
		m.t.Fatalf("CompleteMultipart: %v", ce)
	}
}

func (m mp) lt() lt { return lt{m.t, m.b} }

func partNumbers(l object.PartList) []int {
	var ns []int
	for _, p := range l.Parts {
		ns = append(ns, p.PartNumber)
	}
	return ns
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func validUploadID(u string) error {
	if u == "" || u == "." || u == ".." {
		return fmt.Errorf("upload id %q is not a path segment", u)
	}
	if len(u) > MaxUploadIDLen {
		return fmt.Errorf("upload id %q is %d bytes, more than %d", u, len(u), MaxUploadIDLen)
	}
	for i := 0; i < len(u); i++ {
		c := u[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~') {
			return fmt.Errorf("upload id %q contains %q, which is not path-safe (RFC 3986 unreserved)", u, c)
		}
	}
	return nil
}

func mpInitiate(t *testing.T, open func(t *testing.T) driver.Multipart) {
	t.Run("InitiateMultipart/UploadIDPathSafe", func(t *testing.T) {
		m := mp{t, open(t)}
		id := NewID(t, "initiate")
		seen := map[string]bool{}
		for range 5 {
			u := m.initiate(id, smallMetadata("i", 0))
			if err := validUploadID(u); err != nil {
				t.Error(err)
			}
			if seen[u] {
				t.Errorf("upload id %q returned twice", u)
			}
			seen[u] = true
		}
	})
	t.Run("InitiateMultipart/NoObjectUntilComplete", func(t *testing.T) {
		m := mp{t, open(t)}
		id := NewID(t, "pending")
		u := m.initiate(id, smallMetadata("p", 0))
		m.upload(id, u, 1, []byte("part"))
		m.lt().expectNotFound("before complete", id)
	})
}

func mpComplete(t *testing.T, open func(t *testing.T) driver.Multipart) {
	t.Run("CompleteMultipart/SinglePartKeepsInitiateMetadata", func(t *testing.T) {
		m := mp{t, open(t)}
		id := NewID(t, "single")
		md := fullMetadata(object.TTL(2*time.Hour), time.Now().Add(2*time.Hour), 0)
		u := m.initiate(id, md)
		data := RandomPayload(70000)
		etag := m.upload(id, u, 1, data)
		m.complete(id, u, []object.CompletedPart{{PartNumber: 1, ETag: etag}})
		m.lt().expectContent("assembled object", id, md, data)
	})
	t.Run("CompleteMultipart/ConcatenatesInListedOrder", func(t *testing.T) {
		m := mp{t, open(t)}
		id := NewID(t, "multi")
		md := fullMetadata(object.TTI(24*time.Hour), time.Now().Add(24*time.Hour), 0)
		u := m.initiate(id, md)
		// Parts of any size, including one byte and zero bytes.
		sizes := []int{3 << 20, 1, 0, 200 << 10}
		var parts []object.CompletedPart
		var want []byte
		for i, n := range sizes {
			data := RandomPayload(n)
			parts = append(parts, object.CompletedPart{PartNumber: i + 1, ETag: m.upload(id, u, i+1, data)})
			want = append(want, data...)
		}
		m.complete(id, u, parts)
		m.lt().expectContent("assembled object", id, md, want)
		o, got := m.lt().read(id, ptr(object.Bounded(3<<20-5, 3<<20+5)))
		if o.Range == nil || o.Range.Start != 3<<20-5 || o.Range.End != 3<<20+5 || !bytes.Equal(got, want[3<<20-5:3<<20+6]) {
			t.Errorf("ranged read across part boundaries: range %v, %d bytes", o.Range, len(got))
		}
	})
	t.Run("CompleteMultipart/OutOfOrderUpload", func(t *testing.T) {
		m := mp{t, open(t)}
		id := NewID(t, "out-of-order")
		u := m.initiate(id, smallMetadata("o", 0))
		data := map[int][]byte{1: RandomPayload(1000), 2: RandomPayload(2000), 3: RandomPayload(500)}
		etags := map[int]string{}
		for _, n := range []int{3, 2, 1} {
			etags[n] = m.upload(id, u, n, data[n])
		}
		m.complete(id, u, []object.CompletedPart{cp(1, etags[1]), cp(2, etags[2]), cp(3, etags[3])})
		want := append(append(append([]byte{}, data[1]...), data[2]...), data[3]...)
		m.lt().expectContent("assembled object", id, smallMetadata("o", 0), want)
	})
	t.Run("CompleteMultipart/SubsetWithGaps", func(t *testing.T) {
		m := mp{t, open(t)}
		id := NewID(t, "subset")
		u := m.initiate(id, smallMetadata("s", 0))
		data := map[int][]byte{1: []byte("one,"), 5: []byte("five,"), 9: []byte("nine,"), object.MaxPartNumber: []byte("last")}
		etags := map[int]string{}
		for n, d := range data {
			etags[n] = m.upload(id, u, n, d)
		}
		m.complete(id, u, []object.CompletedPart{cp(1, etags[1]), cp(9, etags[9]), cp(object.MaxPartNumber, etags[object.MaxPartNumber])})
		m.lt().expectContent("assembled object", id, smallMetadata("s", 0), []byte("one,nine,last"))
	})
	t.Run("CompleteMultipart/DropsParts", func(t *testing.T) {
		m := mp{t, open(t)}
		id := NewID(t, "drops-parts")
		u := m.initiate(id, smallMetadata("d", 0))
		etag := m.upload(id, u, 1, []byte("data"))
		m.complete(id, u, []object.CompletedPart{cp(1, etag)})
		if _, err := m.b.ListParts(t.Context(), id, u, 0, 0); !errors.Is(err, object.ErrNotFound) {
			t.Errorf("ListParts after complete: %v, want ErrNotFound", err)
		}
		if _, err := m.b.UploadPart(t.Context(), id, u, 2, 1, bytes.NewReader([]byte("x"))); !errors.Is(err, object.ErrNotFound) {
			t.Errorf("UploadPart after complete: %v, want ErrNotFound", err)
		}
		// A retried complete may fail with ErrNotFound, but must leave the object alone.
		ce, err := m.b.CompleteMultipart(t.Context(), id, u, []object.CompletedPart{cp(1, etag)})
		if err != nil && !errors.Is(err, object.ErrNotFound) {
			t.Errorf("retried complete: %v, want nil or ErrNotFound", err)
		}
		if ce != nil {
			t.Errorf("retried complete: %v", ce)
		}
		m.lt().expectContent("object after retried complete", id, smallMetadata("d", 0), []byte("data"))
	})
	t.Run("CompleteMultipart/ReplacesExistingObject", func(t *testing.T) {
		m := mp{t, open(t)}
		id := NewID(t, "replace-object")
		m.lt().put(id, fullMetadata(object.TTL(time.Hour), time.Now().Add(time.Hour), 0), RandomPayload(100))
		md := smallMetadata("new", 0)
		u := m.initiate(id, md)
		etag := m.upload(id, u, 1, []byte("new content"))
		m.complete(id, u, []object.CompletedPart{cp(1, etag)})
		m.lt().expectContent("replaced object", id, md, []byte("new content"))
	})
}

func mpUploadPart(t *testing.T, open func(t *testing.T) driver.Multipart) {
	t.Run("UploadPart/ETagFromContent", func(t *testing.T) {
		m := mp{t, open(t)}
		id := NewID(t, "etag")
		u1 := m.initiate(id, smallMetadata("e", 0))
		u2 := m.initiate(NewID(t, "etag-other"), smallMetadata("e", 0))
		data := RandomPayload(5000)
		e1 := m.upload(id, u1, 1, data)
		e2 := m.upload(id, u1, 2, data)
		e3 := m.upload(NewID(t, "etag-other"), u2, 7, cloneBytes(data))
		if e1 != e2 || e1 != e3 {
			t.Errorf("equal bytes gave ETags %s, %s, %s", e1, e2, e3)
		}
		other := cloneBytes(data)
		other[0] ^= 1
		if e4 := m.upload(id, u1, 3, other); e4 == e1 {
			t.Errorf("different bytes gave the same ETag %s", e4)
		}
		if e5 := m.upload(id, u1, 4, nil); e5 == e1 {
			t.Errorf("an empty part has the ETag %s of a full one", e5)
		}
	})
	t.Run("UploadPart/ReplacesSameNumber", func(t *testing.T) {
		m := mp{t, open(t)}
		id := NewID(t, "replace")
		u := m.initiate(id, smallMetadata("r", 0))
		old := m.upload(id, u, 1, []byte("first version"))
		etag := m.upload(id, u, 1, []byte("second"))
		l := m.list(id, u, 0, 0)
		if len(l.Parts) != 1 || l.Parts[0].ETag != etag || l.Parts[0].Size != 6 {
			t.Fatalf("parts after replacing part 1: %+v", l.Parts)
		}
		ce, err := m.b.CompleteMultipart(t.Context(), id, u, []object.CompletedPart{cp(1, old)})
		if err != nil || ce == nil {
			t.Errorf("complete with the replaced part's ETag = %v, %v; want a *CompleteError", ce, err)
		}
		m.complete(id, u, []object.CompletedPart{cp(1, etag)})
		m.lt().expectContent("object", id, smallMetadata("r", 0), []byte("second"))
	})
	t.Run("UploadPart/WrongSizeStoresNothing", func(t *testing.T) {
		m := mp{t, open(t)}
		id := NewID(t, "wrong-size")
		u := m.initiate(id, smallMetadata("w", 0))
		keep := m.upload(id, u, 2, []byte("kept"))
		for _, tc := range []struct {
			name     string
			n        int
			declared int64
			body     []byte
		}{
			{"short body", 1, 100, RandomPayload(50)},
			{"long body", 1, 100, RandomPayload(150)},
			{"empty body", 1, 10, nil},
			{"short replacement", 2, 100, RandomPayload(99)},
			{"long replacement", 2, 4, []byte("kept!")},
		} {
			_, err := m.b.UploadPart(t.Context(), id, u, tc.n, tc.declared, bytes.NewReader(tc.body))
			if !errors.Is(err, object.ErrInvalidArgument) {
				t.Errorf("%s: error %v, want ErrInvalidArgument", tc.name, err)
			}
		}
		l := m.list(id, u, 0, 0)
		if len(l.Parts) != 1 || l.Parts[0].PartNumber != 2 || l.Parts[0].ETag != keep || l.Parts[0].Size != 4 {
			t.Errorf("parts after wrong-size uploads: %+v, want only part 2 of 4 bytes", l.Parts)
		}
	})
	t.Run("UploadPart/PartNumberLimits", func(t *testing.T) {
		m := mp{t, open(t)}
		id := NewID(t, "part-numbers")
		u := m.initiate(id, smallMetadata("n", 0))
		for _, n := range []int{object.MinPartNumber - 1, -1, object.MaxPartNumber + 1} {
			if _, err := m.b.UploadPart(t.Context(), id, u, n, 1, bytes.NewReader([]byte("x"))); !errors.Is(err, object.ErrInvalidArgument) {
				t.Errorf("part %d: error %v, want ErrInvalidArgument", n, err)
			}
		}
		m.upload(id, u, object.MinPartNumber, []byte("a"))
		m.upload(id, u, object.MaxPartNumber, []byte("z"))
		if got := partNumbers(m.list(id, u, 0, 0)); !equalInts(got, []int{object.MinPartNumber, object.MaxPartNumber}) {
			t.Errorf("parts %v, want [%d %d]", got, object.MinPartNumber, object.MaxPartNumber)
		}
	})
	t.Run("UploadPart/TooLarge", func(t *testing.T) {
		m := mp{t, open(t)}
		id := NewID(t, "too-large")
		u := m.initiate(id, smallMetadata("t", 0))
		body := io.LimitReader(zeros{}, object.MaxPartSize+1)
		if _, err := m.b.UploadPart(t.Context(), id, u, 1, object.MaxPartSize+1, body); !errors.Is(err, object.ErrTooLarge) {
			t.Errorf("error %v, want ErrTooLarge", err)
		}
		if l := m.list(id, u, 0, 0); len(l.Parts) != 0 {
			t.Errorf("parts after a refused upload: %+v", l.Parts)
		}
	})
	t.Run("UploadPart/FailedBodyStoresNothing", func(t *testing.T) {
		m := mp{t, open(t)}
		id := NewID(t, "failed-part")
		u := m.initiate(id, smallMetadata("f", 0))
		keep := m.upload(id, u, 1, []byte("earlier"))
		const size = 1 << 20
		if _, err := m.b.UploadPart(t.Context(), id, u, 1, size, FailingReader(size/2, errors.New("client went away"))); err == nil {
			t.Error("UploadPart succeeded although its body failed")
		}
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		if _, err := m.b.UploadPart(ctx, id, u, 2, size, CancelReader(RandomPayload(size), size/2, cancel)); err == nil {
			t.Error("UploadPart succeeded although its context was cancelled")
		}
		l := m.list(id, u, 0, 0)
		if len(l.Parts) != 1 || l.Parts[0].PartNumber != 1 || l.Parts[0].ETag != keep {
			t.Errorf("parts after failed uploads: %+v, want only the earlier part 1", l.Parts)
		}
	})
	t.Run("UploadPart/Concurrent", func(t *testing.T) {
		m := mp{t, open(t)}
		id := NewID(t, "concurrent-parts")
		u := m.initiate(id, smallMetadata("c", 0))
		const n = 8
		data := make([][]byte, n)
		etags := make([]string, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			data[i] = RandomPayload(10000 + i)
			wg.Go(func() {
				etags[i], errs[i] = m.b.UploadPart(t.Context(), id, u, i+1, int64(len(data[i])), bytes.NewReader(data[i]))
			})
		}
		wg.Wait()
		var parts []object.CompletedPart
		var want []byte
		for i := range n {
			if errs[i] != nil {
				t.Fatalf("UploadPart(%d): %v", i+1, errs[i])
			}
			parts = append(parts, object.CompletedPart{PartNumber: i + 1, ETag: etags[i]})
			want = append(want, data[i]...)
		}
		if got := len(m.list(id, u, 0, 0).Parts); got != n {
			t.Fatalf("%d parts listed, want %d", got, n)
		}
		m.complete(id, u, parts)
		m.lt().expectContent("object", id, smallMetadata("c", 0), want)
	})
}

func mpListParts(t *testing.T, open func(t *testing.T) driver.Multipart) {
	t.Run("ListParts/AllAscending", func(t *testing.T) {
		m := mp{t, open(t)}
		id := NewID(t, "list")
		u := m.initiate(id, smallMetadata("l", 0))
		if l := m.list(id, u, 0, 0); len(l.Parts) != 0 || l.IsTruncated {
			t.Errorf("empty upload lists %+v", l)
		}
		before := time.Now().Add(-time.Second)
		etags := map[int]string{}
		sizes := map[int]int{4: 40, 1: 10, 3: 30, 2: 20, 5: 50}
		for _, n := range []int{4, 1, 3, 2, 5} {
			etags[n] = m.upload(id, u, n, RandomPayload(sizes[n]))
		}
		after := time.Now().Add(time.Second)
		l := m.list(id, u, 0, 0)
		if got := partNumbers(l); !equalInts(got, []int{1, 2, 3, 4, 5}) {
			t.Fatalf("parts %v, want [1 2 3 4 5]", got)
		}
		if l.IsTruncated {
			t.Error("a full listing is truncated")
		}
		for _, p := range l.Parts {
			if p.ETag != etags[p.PartNumber] {
				t.Errorf("part %d: ETag %s, want %s", p.PartNumber, p.ETag, etags[p.PartNumber])
			}
			if p.Size != int64(sizes[p.PartNumber]) {
				t.Errorf("part %d: size %d, want %d", p.PartNumber, p.Size, sizes[p.PartNumber])
			}
			if p.LastModified.Before(before) || p.LastModified.After(after) {
				t.Errorf("part %d: LastModified %s is not the upload time", p.PartNumber, fmtTime(p.LastModified))
			}
		}
		if got := partNumbers(m.list(id, u, 0, 3)); !equalInts(got, []int{4, 5}) {
			t.Errorf("parts after marker 3: %v, want [4 5]", got)
		}
		if l := m.list(id, u, 0, 5); len(l.Parts) != 0 || l.IsTruncated {
			t.Errorf("parts after the last marker: %+v", l)
		}
	})
	t.Run("ListParts/Paging", func(t *testing.T) {
		m := mp{t, open(t)}
		id := NewID(t, "paging")
		u := m.initiate(id, smallMetadata("p", 0))
		for _, n := range []int{1, 2, 3, 4, 5, 8, 13} {
			m.upload(id, u, n, []byte{byte(n)})
		}
		var pages [][]int
		marker := 0
		for range 10 {
			l := m.list(id, u, 2, marker)
			pages = append(pages, partNumbers(l))
			if !l.IsTruncated {
				break
			}
			if l.NextPartNumberMarker != l.Parts[len(l.Parts)-1].PartNumber {
				t.Fatalf("NextPartNumberMarker %d, want the last listed part %d", l.NextPartNumberMarker, l.Parts[len(l.Parts)-1].PartNumber)
			}
			marker = l.NextPartNumberMarker
		}
		want := [][]int{{1, 2}, {3, 4}, {5, 8}, {13}}
		if fmt.Sprint(pages) != fmt.Sprint(want) {
			t.Errorf("pages %v, want %v", pages, want)
		}
		// A page that ends exactly at the last part.
		l := m.list(id, u, 7, 0)
		if len(l.Parts) != 7 || l.IsTruncated {
			t.Errorf("maxParts = number of parts: %d parts, truncated %v; want 7, false", len(l.Parts), l.IsTruncated)
		}
	})
}

func mpCompleteErrors(t *testing.T, open func(t *testing.T) driver.Multipart) {
	for _, tc := range []struct {
		name string
		code string // "" accepts any non-empty code
		bad  func(etags []string) []object.CompletedPart
	}{
		{"MissingPart", "InvalidPart", func(e []string) []object.CompletedPart {
			return []object.CompletedPart{cp(1, e[0]), cp(2, e[1]), cp(4, e[1])}
		}},
		{"ETagMismatch", "InvalidPart", func(e []string) []object.CompletedPart {
			return []object.CompletedPart{cp(1, e[0]), cp(2, e[0]), cp(3, e[2])}
		}},
		{"NotAscending", "", func(e []string) []object.CompletedPart {
			return []object.CompletedPart{cp(2, e[1]), cp(1, e[0]), cp(3, e[2])}
		}},
		{"DuplicatePart", "", func(e []string) []object.CompletedPart {
			return []object.CompletedPart{cp(1, e[0]), cp(1, e[0]), cp(2, e[1]), cp(3, e[2])}
		}},
	} {
		t.Run("CompleteMultipart/"+tc.name+"/UploadSurvives", func(t *testing.T) {
			m := mp{t, open(t)}
			id := NewID(t, "complete-error")
			md := smallMetadata("ce", 0)
			u := m.initiate(id, md)
			data := [][]byte{RandomPayload(100), RandomPayload(200), RandomPayload(300)}
			var etags []string
			for i, d := range data {
				etags = append(etags, m.upload(id, u, i+1, d))
			}
			ce, err := m.b.CompleteMultipart(t.Context(), id, u, tc.bad(etags))
			if err != nil {
				t.Fatalf("CompleteMultipart: error %v, want a *CompleteError result", err)
			}
			if ce == nil {
				t.Fatal("CompleteMultipart accepted a bad part list")
			}
			if ce.Code == "" || ce.Message == "" {
				t.Errorf("CompleteError %+v lacks a code or message", ce)
			}
			if tc.code != "" && ce.Code != tc.code {
				t.Errorf("CompleteError code %q, want %q", ce.Code, tc.code)
			}
			m.lt().expectNotFound("after the failed complete", id)
			if got := partNumbers(m.list(id, u, 0, 0)); !equalInts(got, []int{1, 2, 3}) {
				t.Fatalf("parts after the failed complete: %v, want [1 2 3]", got)
			}
			m.complete(id, u, []object.CompletedPart{cp(1, etags[0]), cp(2, etags[1]), cp(3, etags[2])})
			m.lt().expectContent("object after the corrected retry", id, md, bytes.Join(data, nil))
		})
	}
}

func mpAbort(t *testing.T, open func(t *testing.T) driver.Multipart) {
	t.Run("AbortMultipart/DropsUploadIdempotently", func(t *testing.T) {
		m := mp{t, open(t)}
		id := NewID(t, "abort")
		u := m.initiate(id, smallMetadata("a", 0))
		etag := m.upload(id, u, 1, []byte("part"))
		for i := range 2 {
			if err := m.b.AbortMultipart(t.Context(), id, u); err != nil {
				t.Fatalf("AbortMultipart #%d: %v", i+1, err)
			}
		}
		if _, err := m.b.ListParts(t.Context(), id, u, 0, 0); !errors.Is(err, object.ErrNotFound) {
			t.Errorf("ListParts after abort: %v, want ErrNotFound", err)
		}
		if _, err := m.b.CompleteMultipart(t.Context(), id, u, []object.CompletedPart{cp(1, etag)}); !errors.Is(err, object.ErrNotFound) {
			t.Errorf("CompleteMultipart after abort: %v, want ErrNotFound", err)
		}
		m.lt().expectNotFound("after abort", id)
	})
	t.Run("AbortMultipart/UnknownUpload", func(t *testing.T) {
		m := mp{t, open(t)}
		id := NewID(t, "abort-unknown")
		// Never initiated, but well-formed: a UUID.
		if err := m.b.AbortMultipart(t.Context(), id, "0b5e3f2a-6c1d-4e8f-9a7b-2c4d6e8f0a1b"); err != nil {
			t.Errorf("AbortMultipart of an unknown upload: %v", err)
		}
	})
	t.Run("AbortMultipart/KeepsExistingObjectAndOtherUploads", func(t *testing.T) {
		m := mp{t, open(t)}
		id := NewID(t, "abort-keeps")
		md := smallMetadata("existing", 0)
		m.lt().put(id, md, []byte("existing"))
		u1 := m.initiate(id, smallMetadata("a", 0))
		u2 := m.initiate(id, smallMetadata("b", 0))
		m.upload(id, u1, 1, []byte("aborted"))
		e2 := m.upload(id, u2, 1, []byte("survivor"))
		if err := m.b.AbortMultipart(t.Context(), id, u1); err != nil {
			t.Fatalf("AbortMultipart: %v", err)
		}
		m.lt().expectContent("existing object", id, md, []byte("existing"))
		m.complete(id, u2, []object.CompletedPart{cp(1, e2)})
		m.lt().expectContent("other upload", id, smallMetadata("b", 0), []byte("survivor"))
	})
	t.Run("AbortMultipart/LeavesAnotherObjectsUpload", func(t *testing.T) {
		m := mp{t, open(t)}
		id := NewID(t, "abort-mine")
		other := NewID(t, "abort-theirs")
		u := m.initiate(other, smallMetadata("theirs", 0))
		etag := m.upload(other, u, 1, []byte("theirs"))
		// An upload id names one upload of one object: aborting it for another id must
		// leave it alone (nil, as for an unknown upload, or ErrNotFound).
		if err := m.b.AbortMultipart(t.Context(), id, u); err != nil && !errors.Is(err, object.ErrNotFound) {
			t.Errorf("AbortMultipart of another object's upload: %v, want nil or ErrNotFound", err)
		}
		m.complete(other, u, []object.CompletedPart{cp(1, etag)})
		m.lt().expectContent("the other object's upload", other, smallMetadata("theirs", 0), []byte("theirs"))
		m.lt().expectNotFound("the aborting id", id)
	})
}

func mpNotFound(t *testing.T, open func(t *testing.T) driver.Multipart) {
	t.Run("UnknownUpload/NotFound", func(t *testing.T) {
		m := mp{t, open(t)}
		id := NewID(t, "unknown")
		other := NewID(t, "unknown-other")
		real := m.initiate(other, smallMetadata("o", 0))
		for _, tc := range []struct {
			name string
			id   object.ID
			u    string
		}{
			{"never initiated", id, "0b5e3f2a-6c1d-4e8f-9a7b-2c4d6e8f0a1b"},
			{"upload of another object", id, real},
		} {
			if _, err := m.b.UploadPart(t.Context(), tc.id, tc.u, 1, 1, bytes.NewReader([]byte("x"))); !errors.Is(err, object.ErrNotFound) {
				t.Errorf("%s: UploadPart error %v, want ErrNotFound", tc.name, err)
			}
			if _, err := m.b.ListParts(t.Context(), tc.id, tc.u, 0, 0); !errors.Is(err, object.ErrNotFound) {
				t.Errorf("%s: ListParts error %v, want ErrNotFound", tc.name, err)
			}
			if _, err := m.b.CompleteMultipart(t.Context(), tc.id, tc.u, []object.CompletedPart{cp(1, `"x"`)}); !errors.Is(err, object.ErrNotFound) {
				t.Errorf("%s: CompleteMultipart error %v, want ErrNotFound", tc.name, err)
			}
		}
		// The other object's upload is untouched by the attempts.
		if l := m.list(other, real, 0, 0); len(l.Parts) != 0 {
			t.Errorf("the other upload gained parts: %+v", l.Parts)
		}
	})
}

func cp(n int, etag string) object.CompletedPart {
	return object.CompletedPart{PartNumber: n, ETag: etag}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// cloneBytes returns a copy of b.
func cloneBytes(b []byte) []byte { return append([]byte(nil), b...) }
