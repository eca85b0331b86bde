package object

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

// canonicalSamples are metadata values whose AppendJSON the fast decoder should take, and
// some it must leave to the full decoder.
func canonicalSamples() []Metadata {
	at := time.Date(2026, 7, 23, 10, 11, 12, 345678000, time.UTC)
	return []Metadata{
		{Size: -1},
		{Size: 0},
		{TimeCreated: at, ContentType: "application/octet-stream", Size: 4096},
		{TimeCreated: at, TimeExpires: at.Add(time.Hour), ContentType: "text/plain", Compression: CompressionZstd, Size: 12},
		{TimeCreated: at, Origin: "10.0.0.1", Filename: "a.txt", Size: 1},
		{TimeCreated: at, OriginSet: true, FilenameSet: true, Size: 1},
		{TimeCreated: time.Unix(-5, 7).UTC(), Size: 1 << 40},
		{ContentType: ""},                                            // re-encodes as the default type
		{ContentType: `quote"d`, Size: 1},                            // escaped: full decoder
		{ContentType: "tab\there", Size: 1},                          // escaped: full decoder
		{ContentType: "ünï <&> \u2028", Size: 3},                     // raw UTF-8
		{ExpirationPolicy: TTL(time.Hour), TimeExpires: at, Size: 1}, // policy: full decoder
		{Custom: map[string]string{"k": "v"}, Size: 1},               // custom: full decoder
	}
}

// TestDecodeCanonical_AgreesWithFullDecoder: whatever the fast decoder accepts, the full
// decoder decodes to the same value.
func TestDecodeCanonical_AgreesWithFullDecoder(t *testing.T) {
	fast := 0
	for _, md := range canonicalSamples() {
		b := md.AppendJSON(nil)
		var full Metadata
		if err := full.unmarshalFull(b); err != nil {
			t.Fatalf("%s: %v", b, err)
		}
		got, ok := decodeCanonical(b)
		if ok {
			fast++
			if !reflect.DeepEqual(got, full) {
				t.Errorf("%s:\nfast %+v\nfull %+v", b, got, full)
			}
		}
		var viaMethod Metadata
		if err := viaMethod.UnmarshalJSON(b); err != nil || !reflect.DeepEqual(viaMethod, full) {
			t.Errorf("UnmarshalJSON(%s) = %+v, %v; want %+v", b, viaMethod, err, full)
		}
	}
	if fast < 7 {
		t.Errorf("the fast decoder took %d samples, want at least the 7 plain ones", fast)
	}
}

// TestDecodeCanonical_RefusesNonCanonical: near misses go to the full decoder.
func TestDecodeCanonical_RefusesNonCanonical(t *testing.T) {
	for _, b := range []string{
		``, `{}`, `{"content_type":"a","size":1} `, ` {"content_type":"a"}`, `{"size":1,"content_type":"a"}`,
		`{"content_type":"a","size":-1}`, `{"content_type":"a","size":01}`, `{"content_type":""}`,
		`{"content_type":"bad \xff utf8"}`, `{"content_type":"ctl ` + "\x01" + `"}`,
		`{"content_type":"a","compression":"zstd"}`, `{"content_type":"a\"}`,
		`{"time_created":{"secs_since_epoch":1,"nanos_since_epoch":2000000000},"content_type":"a"}`,
	} {
		if md, ok := decodeCanonical([]byte(b)); ok {
			t.Errorf("decodeCanonical(%q) took it: %+v", b, md)
		}
	}
}

func FuzzDecodeCanonical(f *testing.F) {
	for _, md := range canonicalSamples() {
		f.Add(md.AppendJSON(nil))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, ok := decodeCanonical(b)
		if !ok {
			return
		}
		var full Metadata
		if err := full.unmarshalFull(b); err != nil || !reflect.DeepEqual(got, full) {
			t.Errorf("%q: fast %+v, full %+v (%v)", b, got, full, err)
		}
		if strings.Contains(string(b), `\`) {
			t.Errorf("%q: the fast decoder took an escape", b)
		}
	})
}
