package httpapi

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/stratastore/strata/tiered/backendtest/golden"
	"github.com/stratastore/strata/tiered/object"
)

// TestGolden_ResponseHeaders renders the GET/HEAD response headers for every object of
// objectstore's golden fixtures (tiered/backendtest/golden), one subtest per case, and
// compares them with the headers objectstore sends for the same stored object.
//
// The metadata is the reading's metadata_json: tiered/bigtablebackend and tiered/gcsbackend
// check that Strata's decoders produce exactly that JSON from the stored cells and
// resources, so this closes the chain from stored bytes to response headers.
func TestGolden_ResponseHeaders(t *testing.T) {
	rows, err := golden.BigtableRows()
	if err != nil {
		t.Fatal(err)
	}
	objs, err := golden.GCSObjects()
	if err != nil {
		t.Fatal(err)
	}
	type tc struct {
		name    string
		reading golden.Reading
	}
	var cases []tc
	for _, r := range rows {
		cases = append(cases, tc{"bigtable/" + r.Name, r.Reading})
	}
	for _, o := range objs {
		cases = append(cases, tc{"gcs/" + o.Name, o.Reading})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.reading.Kind != "object" {
				if c.reading.Headers != nil {
					t.Fatalf("a %s reading with headers", c.reading.Kind)
				}
				return // no object, no headers (tombstones, not found and errors)
			}
			var md object.Metadata
			if err := md.UnmarshalJSON([]byte(c.reading.MetadataJSON)); err != nil {
				t.Fatal(err)
			}
			h := http.Header{}
			setObjectHeaders(h, md)
			got := map[string][]string{}
			for name, vs := range h {
				if vs != nil && name != hdrAcceptRanges && name != hdrContentDisposition {
					got[name] = vs
				}
			}
			want := map[string][]string{}
			for _, kv := range c.reading.Headers {
				want[kv[0]] = append(want[kv[0]], kv[1])
			}
			if c.reading.HeadersError != nil {
				// objectstore cannot render a custom key that is not a header name and answers
				// 400; Strata leaves that header out and sends the rest (API.md §15).
				for k, v := range md.Custom {
					if validHeaderName("x-snme-" + k) {
						want["x-snme-"+strings.ToLower(k)] = append(want["x-snme-"+strings.ToLower(k)], v)
					}
				}
				want[hdrContentType] = []string{md.EffectiveContentType()}
				want["x-sn-time-created"] = []string{md.TimeCreated.UTC().Format("2006-01-02T15:04:05.000000Z")}
			}
			if !mapsEqual(got, want) {
				t.Errorf("headers\n got %q\nwant %q", got, want)
			}
			gotCD := h[hdrContentDisposition]
			switch wantCD := c.reading.ContentDisposition; {
			case wantCD == nil:
				if gotCD != nil {
					t.Errorf("content-disposition %q, want none", gotCD)
				}
			case !visibleASCII(*wantCD):
				// objectstore's value holds raw non-ASCII bytes; Strata leaves the header out
				// (API.md §5.3), and x-sn-filename still carries the name.
				if gotCD != nil {
					t.Errorf("content-disposition %q, want none for a non-ASCII filename", gotCD)
				}
			case !slices.Equal(gotCD, []string{*wantCD}):
				t.Errorf("content-disposition %q, want %q", gotCD, *wantCD)
			}
		})
	}
}

func mapsEqual(a, b map[string][]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if !slices.Equal(v, b[k]) {
			return false
		}
	}
	return true
}
