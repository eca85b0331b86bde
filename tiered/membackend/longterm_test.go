package membackend_test

import (
	"bytes"
	"errors"
	"io"
	"slices"
	"testing"
	"time"

	"github.com/stratastore/strata/tiered/backendtest"
	"github.com/stratastore/strata/tiered/membackend"
	"github.com/stratastore/strata/tiered/object"
)

func TestETag(t *testing.T) {
	for _, tc := range []struct {
		data string
		want string
	}{
		{"", `"d41d8cd98f00b204e9800998ecf8427e"`},
		{"abc", `"900150983cd24fb0d6963f7d28e17f72"`},
		{"The quick brown fox jumps over the lazy dog", `"9e107d9d372bb6826bd81d3542a419d6"`},
	} {
		if got := membackend.ETag([]byte(tc.data)); got != tc.want {
			t.Errorf("ETag(%q) = %s, want %s", tc.data, got, tc.want)
		}
	}
}

func TestLongTerm_Inspection_KeysLenUploads(t *testing.T) {
	clk := newClock()
	lt := membackend.Open(&membackend.Options{Now: clk.Now}).LongTerm()
	ctx := t.Context()
	put := func(key string, md object.Metadata) object.ID {
		id := backendtest.NewID(t, key)
		if err := lt.Put(ctx, id, md, bytes.NewReader([]byte(key))); err != nil {
			t.Fatal(err)
		}
		return id
	}
	put("b", object.Metadata{})
	put("a/rev", object.Metadata{})
	expired := put("c", object.Metadata{ExpirationPolicy: object.TTL(time.Second), TimeExpires: clk.Now().Add(time.Second)})
	clk.Advance(time.Hour)
	if _, err := lt.Head(ctx, expired); !errors.Is(err, object.ErrNotFound) {
		t.Fatalf("Head of the expired object: %v", err)
	}
	want := []string{"testing/org.1/objects/a/rev", "testing/org.1/objects/b", "testing/org.1/objects/c"}
	if got := lt.Keys(); !slices.Equal(got, want) {
		t.Errorf("Keys = %q, want %q (sorted, expired included)", got, want)
	}
	if lt.Len() != 3 {
		t.Errorf("Len = %d, want 3", lt.Len())
	}

	id := backendtest.NewID(t, "mp")
	u1, err := lt.InitiateMultipart(ctx, id, object.Metadata{})
	if err != nil {
		t.Fatal(err)
	}
	u2, _ := lt.InitiateMultipart(ctx, id, object.Metadata{})
	if lt.Uploads() != 2 {
		t.Errorf("Uploads = %d, want 2", lt.Uploads())
	}
	etag, err := lt.UploadPart(ctx, id, u1, 1, 4, bytes.NewReader([]byte("part")))
	if err != nil {
		t.Fatal(err)
	}
	// A failed complete keeps the upload.
	if ce, err := lt.CompleteMultipart(ctx, id, u1, []object.CompletedPart{{PartNumber: 2, ETag: etag}}); err != nil || ce == nil {
		t.Fatalf("complete with a missing part = %v, %v", ce, err)
	}
	if lt.Uploads() != 2 || lt.Len() != 3 {
		t.Errorf("after a failed complete: Uploads %d, Len %d; want 2, 3", lt.Uploads(), lt.Len())
	}
	// Parts are not objects; a completed upload is.
	if ce, err := lt.CompleteMultipart(ctx, id, u1, []object.CompletedPart{{PartNumber: 1, ETag: etag}}); err != nil || ce != nil {
		t.Fatalf("complete = %v, %v", ce, err)
	}
	if err := lt.AbortMultipart(ctx, id, u2); err != nil {
		t.Fatal(err)
	}
	if lt.Uploads() != 0 || lt.Len() != 4 {
		t.Errorf("after complete and abort: Uploads %d, Len %d; want 0, 4", lt.Uploads(), lt.Len())
	}
}

func TestLongTerm_UploadID_IsUUID(t *testing.T) {
	lt := membackend.Open(nil).LongTerm()
	u, err := lt.InitiateMultipart(t.Context(), backendtest.NewID(t, "k"), object.Metadata{})
	if err != nil {
		t.Fatal(err)
	}
	if len(u) != 36 || u[8] != '-' || u[13] != '-' || u[18] != '-' || u[23] != '-' {
		t.Errorf("upload id %q is not a UUID", u)
	}
}

func TestLongTerm_Complete_UnquotedETagAccepted(t *testing.T) {
	lt := membackend.Open(nil).LongTerm()
	ctx := t.Context()
	id := backendtest.NewID(t, "k")
	u, _ := lt.InitiateMultipart(ctx, id, object.Metadata{})
	etag, err := lt.UploadPart(ctx, id, u, 1, 3, bytes.NewReader([]byte("abc")))
	if err != nil {
		t.Fatal(err)
	}
	unquoted := etag[1 : len(etag)-1]
	if ce, err := lt.CompleteMultipart(ctx, id, u, []object.CompletedPart{{PartNumber: 1, ETag: unquoted}}); err != nil || ce != nil {
		t.Errorf("complete with the unquoted ETag %s = %v, %v", unquoted, ce, err)
	}
}

func TestLongTerm_InvalidArguments(t *testing.T) {
	lt := membackend.Open(nil).LongTerm()
	ctx := t.Context()
	id := backendtest.NewID(t, "k")
	u, _ := lt.InitiateMultipart(ctx, id, object.Metadata{})
	if _, err := lt.CompleteMultipart(ctx, id, u, nil); !errors.Is(err, object.ErrInvalidArgument) {
		t.Errorf("complete with no parts: %v, want ErrInvalidArgument", err)
	}
	if _, err := lt.ListParts(ctx, id, u, -1, 0); !errors.Is(err, object.ErrInvalidArgument) {
		t.Errorf("ListParts with maxParts -1: %v, want ErrInvalidArgument", err)
	}
	if _, err := lt.UploadPart(ctx, id, u, 1, -1, bytes.NewReader(nil)); !errors.Is(err, object.ErrInvalidArgument) {
		t.Errorf("UploadPart with size -1: %v, want ErrInvalidArgument", err)
	}
	if lt.Uploads() != 1 {
		t.Errorf("Uploads = %d, want the upload kept", lt.Uploads())
	}
}

func TestLongTerm_TTIBump_ExactDeadline(t *testing.T) {
	clk := newClock()
	lt := membackend.Open(&membackend.Options{Now: clk.Now}).LongTerm()
	ctx := t.Context()
	id := backendtest.NewID(t, "k")
	deadline := clk.Now().Add(2 * time.Hour)
	md := object.Metadata{ExpirationPolicy: object.TTI(2 * time.Hour), TimeExpires: deadline}
	if err := lt.Put(ctx, id, md, bytes.NewReader([]byte("x"))); err != nil {
		t.Fatal(err)
	}
	clk.Advance(31 * time.Minute) // past the 30 min debounce of a 2 h TTI
	got, err := lt.Head(ctx, id)
	if err != nil || !got.TimeExpires.Equal(deadline) {
		t.Fatalf("Head = %s, %v; want the pre-bump %s", got.TimeExpires, err, deadline)
	}
	got, _ = lt.Head(ctx, id)
	if want := clk.Now().Add(2 * time.Hour); !got.TimeExpires.Equal(want) {
		t.Errorf("TimeExpires after the bump %s, want %s", got.TimeExpires, want)
	}
}

func TestLongTerm_Get_BodyIsACopy(t *testing.T) {
	lt := membackend.Open(nil).LongTerm()
	ctx := t.Context()
	id := backendtest.NewID(t, "k")
	src := []byte("original")
	if err := lt.Put(ctx, id, object.Metadata{}, bytes.NewReader(src)); err != nil {
		t.Fatal(err)
	}
	src[0] = 'X'
	o, err := lt.Get(ctx, id, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(o.Body)
	if string(b) != "original" {
		t.Errorf("body %q, want %q", b, "original")
	}
}
