package gcsbackend

import (
	"maps"
	"reflect"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/storage"
	"github.com/stratastore/strata/tiered/object"
)

func TestObjectAttrs_Mapping(t *testing.T) {
	created := time.Date(2026, 1, 2, 3, 4, 5, 123456789, time.UTC)
	expires := created.Add(time.Hour)
	expiresCeil := time.Date(2026, 1, 2, 4, 4, 6, 0, time.UTC)
	tests := []struct {
		name string
		md   object.Metadata
		want storage.ObjectAttrs
	}{
		{
			name: "defaults",
			md:   object.Metadata{},
			want: storage.ObjectAttrs{Name: "p", ContentType: "application/octet-stream", Metadata: map[string]string{}},
		},
		{
			name: "everything",
			md: object.Metadata{
				ExpirationPolicy: object.TTL(90 * time.Minute), TimeCreated: created, TimeExpires: expires,
				ContentType: "text/plain", Compression: object.CompressionZstd, Origin: "10.0.0.1",
				Filename: "a.txt", Size: 99, Custom: map[string]string{"k": "v", "X-Mixed": "Case"},
			},
			want: storage.ObjectAttrs{
				Name: "p", ContentType: "text/plain", ContentEncoding: "zstd", CustomTime: expiresCeil,
				Metadata: map[string]string{
					"x-sn-expiration": "ttl:1h 30m",
					"x-sn-origin":     "10.0.0.1",
					"x-sn-filename":   "a.txt",
					"x-snme-k":        "v",
					"x-snme-X-Mixed":  "Case",
				},
			},
		},
		{
			name: "tti",
			md:   object.Metadata{ExpirationPolicy: object.TTI(30 * 24 * time.Hour), TimeExpires: expires},
			want: storage.ObjectAttrs{
				Name: "p", ContentType: "application/octet-stream", CustomTime: expiresCeil,
				Metadata: map[string]string{"x-sn-expiration": "tti:30days"},
			},
		},
		{
			name: "present but empty origin and filename",
			md:   object.Metadata{OriginSet: true, FilenameSet: true},
			want: storage.ObjectAttrs{
				Name: "p", ContentType: "application/octet-stream",
				Metadata: map[string]string{"x-sn-origin": "", "x-sn-filename": ""},
			},
		},
		{
			// customTime would make the lifecycle rule delete a Manual object.
			name: "manual with a deadline gets no customTime",
			md:   object.Metadata{TimeExpires: expires},
			want: storage.ObjectAttrs{
				Name: "p", ContentType: "application/octet-stream", Metadata: map[string]string{},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := objectAttrs("p", tt.md)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("objectAttrs:\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

// stored simulates what GCS hands back for attrs written by objectAttrs: the JSON client
// sends customTime with whole seconds, and GCS sets size and creation time.
func stored(a storage.ObjectAttrs, size int64, created time.Time) *storage.ObjectAttrs {
	a.CustomTime = a.CustomTime.Truncate(time.Second)
	a.Size = size
	a.Created = created
	a.Metadata = maps.Clone(a.Metadata)
	return &a
}

func TestDecodeMetadata_RoundTrip(t *testing.T) {
	created := time.Date(2026, 1, 2, 3, 4, 5, 123456789, time.UTC)
	gcsCreated := created.Add(42 * time.Millisecond)
	tests := []struct {
		name string
		md   object.Metadata
	}{
		{"defaults", object.Metadata{ContentType: object.DefaultContentType, TimeCreated: created}},
		{"ttl with sub-second deadline", object.Metadata{
			ExpirationPolicy: object.TTL(time.Hour), TimeCreated: created,
			TimeExpires: created.Add(time.Hour), ContentType: "image/png",
		}},
		{"tti whole-second deadline", object.Metadata{
			ExpirationPolicy: object.TTI(2 * time.Hour), TimeCreated: created,
			TimeExpires: time.Date(2026, 1, 2, 5, 0, 0, 0, time.UTC), ContentType: "text/plain",
		}},
		{"all fields", object.Metadata{
			ExpirationPolicy: object.TTI(time.Minute), TimeCreated: created, TimeExpires: created.Add(time.Minute),
			ContentType: "application/json", Compression: object.CompressionZstd, Origin: "203.0.113.9",
			Filename: "report.json", Custom: map[string]string{"a": "1", "b-c": "two words"},
		}},
		{"manual with a deadline", object.Metadata{TimeCreated: created, TimeExpires: created.Add(time.Hour), ContentType: "x/y"}},
		{"manual without a deadline", object.Metadata{TimeCreated: created, ContentType: "x/y"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decodeMetadata(stored(objectAttrs("p", tt.md), 1234, gcsCreated))
			if err != nil {
				t.Fatal(err)
			}
			// As objectstore reads it: GCS's creation time, customTime (rounded up to whole
			// seconds when written) as the deadline of a TTL/TTI object.
			want := tt.md
			want.Size = 1234
			want.TimeCreated = gcsCreated
			want.OriginSet, want.FilenameSet = want.HasOrigin(), want.HasFilename()
			want.TimeExpires = time.Time{}
			if want.ExpirationPolicy.IsTimeout() {
				want.TimeExpires = customTime(tt.md.TimeExpires)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("round trip:\n got %+v\nwant %+v", got, want)
			}
		})
	}
}

func TestDecodeMetadata_UnknownKeysIgnored(t *testing.T) {
	a := &storage.ObjectAttrs{
		Name: "p", ContentType: "text/plain", Size: 3,
		Metadata: map[string]string{
			"x-sn-origin":          "o",
			"x_emulator_upload":    "json",
			"goog-reserved-thing":  "1",
			"x-sn-future-field":    "whatever",
			"x-snme-":              "empty custom name",
			"X-Goog-Meta-Uploader": "someone",
		},
	}
	got, err := decodeMetadata(a)
	if err != nil {
		t.Fatalf("unknown keys must not fail the read: %v", err)
	}
	// "x-snme-" is the custom entry with the empty name, as objectstore reads it.
	if got.Origin != "o" || !maps.Equal(got.Custom, map[string]string{"": "empty custom name"}) || got.ContentType != "text/plain" || got.Size != 3 {
		t.Errorf("got %+v", got)
	}
}

func TestDecodeMetadata_ObjectstoreWritten(t *testing.T) {
	// An object written by objectstore: no Strata time keys, customTime is the deadline.
	gcsCreated := time.Date(2026, 3, 1, 0, 0, 0, 5e6, time.UTC)
	deadline := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	a := &storage.ObjectAttrs{
		Name: "p", ContentType: "text/plain", ContentEncoding: "zstd", Size: 10, Created: gcsCreated,
		CustomTime: deadline, Metadata: map[string]string{"x-sn-expiration": "ttl:1day", "x-snme-k": "v"},
	}
	got, err := decodeMetadata(a)
	if err != nil {
		t.Fatal(err)
	}
	want := object.Metadata{
		ExpirationPolicy: object.TTL(24 * time.Hour), TimeCreated: gcsCreated, TimeExpires: deadline,
		ContentType: "text/plain", Compression: object.CompressionZstd, Size: 10, Custom: map[string]string{"k": "v"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("\n got %+v\nwant %+v", got, want)
	}
}

func TestDecodeMetadata_Malformed(t *testing.T) {
	bad := &storage.ObjectAttrs{Name: "p", Metadata: map[string]string{"x-sn-expiration": "sometimes"}}
	if _, err := decodeMetadata(bad); err == nil {
		t.Error("a malformed x-sn-expiration must fail the read")
	}
	created := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	lenient := &storage.ObjectAttrs{Name: "p", Created: created,
		Metadata: map[string]string{"x-sn-time-created": "yesterday", "x-sn-time-expires": "soon"}}
	got, err := decodeMetadata(lenient)
	if err != nil {
		t.Fatalf("the time keys earlier Strata versions wrote must be ignored, got %v", err)
	}
	if !got.TimeCreated.Equal(created) || !got.TimeExpires.IsZero() {
		t.Errorf("fallback: got created %v expires %v", got.TimeCreated, got.TimeExpires)
	}
}

func TestCustomTime_RoundsUpToWholeSeconds(t *testing.T) {
	sec := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)
	for _, tt := range []struct{ in, want time.Time }{
		{sec, sec},
		{sec.Add(time.Nanosecond), sec.Add(time.Second)},
		{sec.Add(700 * time.Millisecond), sec.Add(time.Second)},
		{sec.Add(999999999 * time.Nanosecond), sec.Add(time.Second)},
	} {
		if got := customTime(tt.in); !got.Equal(tt.want) || got.Before(tt.in) {
			t.Errorf("customTime(%v) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestCheckMetadataSize(t *testing.T) {
	tests := []struct {
		name  string
		value int
		ok    bool
	}{
		{"small", 10, true},
		{"exactly the limit", MaxCustomMetadataBytes - len("x-snme-k"), true},
		{"one byte over", MaxCustomMetadataBytes - len("x-snme-k") + 1, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := encodeMetadata(object.Metadata{Custom: map[string]string{"k": strings.Repeat("v", tt.value)}})
			err := checkMetadataSize(m)
			if (err == nil) != tt.ok {
				t.Errorf("err = %v, want ok=%v", err, tt.ok)
			}
		})
	}
}

func TestDecodeMetadata_ManualCustomTimeNeverExpires(t *testing.T) {
	// A Manual object never gets customTime from Strata. A stray one (another writer) is read
	// as objectstore reads it, as the deadline, but a Manual object never expires by it.
	ct := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	a := &storage.ObjectAttrs{Name: "p", CustomTime: ct}
	got, err := decodeMetadata(a)
	if err != nil {
		t.Fatal(err)
	}
	if !got.TimeExpires.Equal(ct) || got.ExpirationPolicy.IsTimeout() || got.Expired(ct.Add(time.Hour)) {
		t.Errorf("manual object decoded with deadline %v policy %s", got.TimeExpires, got.ExpirationPolicy)
	}
}
