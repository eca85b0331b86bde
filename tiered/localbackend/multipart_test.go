package localbackend

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stratastore/strata/tiered/backendtest"
	"github.com/stratastore/strata/tiered/object"
)

func TestMultipart_UploadPart_ETagIsQuotedMD5_FailureStoresNothing(t *testing.T) {
	b := openTest(t, nil)
	lt := b.LongTerm()
	ctx := t.Context()
	id := testID("mp/rev")
	up, err := lt.InitiateMultipart(ctx, id, object.Metadata{})
	if err != nil {
		t.Fatal(err)
	}
	sum := md5.Sum([]byte("hello"))
	etag, err := lt.UploadPart(ctx, id, up, 1, 5, strings.NewReader("hello"))
	if want := `"` + hex.EncodeToString(sum[:]) + `"`; err != nil || etag != want {
		t.Fatalf("UploadPart: %q, %v; want %q", etag, err, want)
	}
	for _, tc := range []struct {
		name string
		size int64
		body string
		want error
	}{
		{"short body", 6, "hello", object.ErrInvalidArgument},
		{"long body", 4, "hello", object.ErrInvalidArgument},
	} {
		if _, err := lt.UploadPart(ctx, id, up, 1, tc.size, strings.NewReader(tc.body)); !errors.Is(err, tc.want) {
			t.Fatalf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	if _, err := lt.UploadPart(ctx, id, up, 1, 1<<20, backendtest.FailingReader(1000, backendtest.ErrInjected)); !errors.Is(err, backendtest.ErrInjected) {
		t.Fatalf("failing body: %v", err)
	}
	pl, err := lt.ListParts(ctx, id, up, 0, 0)
	if err != nil || len(pl.Parts) != 1 || pl.Parts[0].ETag != etag || pl.Parts[0].Size != 5 {
		t.Fatalf("part 1 must be the first upload: %+v, %v", pl, err)
	}
	if names := tmpFiles(t, b.Dir()); len(names) != 0 {
		t.Fatalf("temp files left behind: %v", names)
	}
}

func TestMultipart_Complete_ValidatesList_UploadSurvives(t *testing.T) {
	lt := openTest(t, nil).LongTerm()
	ctx := t.Context()
	id := testID("mp/rev")
	up, err := lt.InitiateMultipart(ctx, id, object.Metadata{ContentType: "text/x-mp"})
	if err != nil {
		t.Fatal(err)
	}
	e1, _ := lt.UploadPart(ctx, id, up, 1, 3, strings.NewReader("one"))
	e3, _ := lt.UploadPart(ctx, id, up, 3, 5, strings.NewReader("three"))
	for _, tc := range []struct {
		name  string
		parts []object.CompletedPart
		code  string
	}{
		{"empty", nil, "InvalidRequest"},
		{"descending", []object.CompletedPart{{PartNumber: 3, ETag: e3}, {PartNumber: 1, ETag: e1}}, "InvalidPartOrder"},
		{"duplicate", []object.CompletedPart{{PartNumber: 1, ETag: e1}, {PartNumber: 1, ETag: e1}}, "InvalidPartOrder"},
		{"missing", []object.CompletedPart{{PartNumber: 1, ETag: e1}, {PartNumber: 2, ETag: e1}}, "InvalidPart"},
		{"etag mismatch", []object.CompletedPart{{PartNumber: 1, ETag: e3}}, "InvalidPart"},
	} {
		ce, err := lt.CompleteMultipart(ctx, id, up, tc.parts)
		if err != nil || ce == nil || ce.Code != tc.code {
			t.Fatalf("%s: %+v, %v; want code %s", tc.name, ce, err, tc.code)
		}
	}
	// Unquoted ETags are accepted; parts not listed are dropped.
	ce, err := lt.CompleteMultipart(ctx, id, up, []object.CompletedPart{{PartNumber: 1, ETag: strings.Trim(e1, `"`)}, {PartNumber: 3, ETag: e3}})
	if err != nil || ce != nil {
		t.Fatalf("Complete: %+v, %v", ce, err)
	}
	got, md := readAll(t, lt, id)
	if string(got) != "onethree" || md.ContentType != "text/x-mp" || md.Size != 8 {
		t.Fatalf("completed object %q %+v", got, md)
	}
	if ups, err := lt.Uploads(); err != nil || len(ups) != 0 {
		t.Fatalf("uploads after Complete: %v, %v", ups, err)
	}
	if _, err := lt.CompleteMultipart(ctx, id, up, []object.CompletedPart{{PartNumber: 1, ETag: e1}}); !errors.Is(err, object.ErrNotFound) {
		t.Fatalf("Complete retry: %v, want ErrNotFound", err)
	}
}

func TestMultipart_UnknownOrForeignUpload(t *testing.T) {
	lt := openTest(t, nil).LongTerm()
	ctx := t.Context()
	id, other := testID("mp/a"), testID("mp/b")
	up, err := lt.InitiateMultipart(ctx, id, object.Metadata{})
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"../../strata.db", "", "not-a-uuid", strings.ToUpper(up), "0190aaaa-0000-7000-8000-000000000001"} {
		if _, err := lt.UploadPart(ctx, id, bad, 1, 1, strings.NewReader("x")); !errors.Is(err, object.ErrNotFound) {
			t.Errorf("UploadPart(%q): %v, want ErrNotFound", bad, err)
		}
		if err := lt.AbortMultipart(ctx, id, bad); err != nil {
			t.Errorf("AbortMultipart(%q): %v, want nil (idempotent)", bad, err)
		}
	}
	if _, err := lt.ListParts(ctx, other, up, 0, 0); !errors.Is(err, object.ErrNotFound) {
		t.Errorf("ListParts for another object: %v, want ErrNotFound", err)
	}
	if _, err := lt.CompleteMultipart(ctx, other, up, []object.CompletedPart{{PartNumber: 1, ETag: "x"}}); !errors.Is(err, object.ErrNotFound) {
		t.Errorf("Complete for another object: %v, want ErrNotFound", err)
	}
	if err := lt.AbortMultipart(ctx, other, up); !errors.Is(err, object.ErrNotFound) {
		t.Errorf("Abort for another object: %v, want ErrNotFound", err)
	}
	if err := lt.AbortMultipart(ctx, id, up); err != nil {
		t.Fatalf("Abort: %v", err)
	}
	if _, err := os.Stat(filepath.Join(lt.b.dir, uploadsDir, up)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("upload directory still there: %v", err)
	}
	if err := lt.AbortMultipart(ctx, id, up); err != nil {
		t.Fatalf("second Abort: %v", err)
	}
	if _, err := lt.UploadPart(ctx, id, up, 1, 1, strings.NewReader("x")); !errors.Is(err, object.ErrNotFound) {
		t.Fatalf("UploadPart after Abort: %v", err)
	}
}

func TestMultipart_ListParts_Paging(t *testing.T) {
	lt := openTest(t, nil).LongTerm()
	ctx := t.Context()
	id := testID("mp/paging")
	up, err := lt.InitiateMultipart(ctx, id, object.Metadata{})
	if err != nil {
		t.Fatal(err)
	}
	nums := []int{1, 2, 5, 9, 10, 100, 10000}
	for _, n := range nums {
		if _, err := lt.UploadPart(ctx, id, up, n, int64(n%7), bytes.NewReader(make([]byte, n%7))); err != nil {
			t.Fatal(err)
		}
	}
	var got []int
	marker, pages := 0, 0
	for {
		pl, err := lt.ListParts(ctx, id, up, 3, marker)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, p := range pl.Parts {
			got = append(got, p.PartNumber)
			if p.Size != int64(p.PartNumber%7) || p.LastModified.IsZero() {
				t.Fatalf("part %+v", p)
			}
		}
		if !pl.IsTruncated {
			break
		}
		if pl.NextPartNumberMarker != got[len(got)-1] || pages > 10 {
			t.Fatalf("marker %d after %v", pl.NextPartNumberMarker, got)
		}
		marker = pl.NextPartNumberMarker
	}
	if pages != 3 || len(got) != len(nums) {
		t.Fatalf("%d pages, parts %v; want 3 pages of %v", pages, got, nums)
	}
	for i := range nums {
		if got[i] != nums[i] {
			t.Fatalf("parts %v, want %v", got, nums)
		}
	}
}
