package object

import (
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite golden files")

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create)", err)
	}
	if string(got) != string(want) {
		t.Fatalf("%s differs:\n got %s\nwant %s", name, got, want)
	}
}

func fullMetadata() Metadata {
	return Metadata{
		ExpirationPolicy: TTI(time.Hour),
		TimeCreated:      time.Unix(1700000000, 123456789).UTC(),
		TimeExpires:      time.Unix(1700003600, 0).UTC(),
		ContentType:      "text/plain",
		Compression:      CompressionZstd,
		Origin:           "10.0.0.1",
		Filename:         "a.txt",
		Size:             12,
		Custom:           map[string]string{"k": "v"},
	}
}

func TestMetadataJSON_Golden(t *testing.T) {
	full, err := json.Marshal(fullMetadata())
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "metadata_full.json", full)
	def, _ := json.Marshal(Metadata{Size: -1})
	if string(def) != `{"content_type":"application/octet-stream"}` {
		t.Fatalf("default metadata = %s", def)
	}
	ttl, _ := json.Marshal(Metadata{ExpirationPolicy: TTL(30 * time.Second), TimeExpires: time.Unix(5, 0), Size: 0})
	golden(t, "metadata_ttl.json", ttl)
}

func TestMetadataJSON_RoundTrip(t *testing.T) {
	in := fullMetadata()
	b, _ := json.Marshal(in)
	var out Metadata
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	b2, _ := json.Marshal(out)
	if string(b) != string(b2) || !out.TimeCreated.Equal(in.TimeCreated) || out.Compression != CompressionZstd || out.Custom["k"] != "v" {
		t.Fatalf("round trip: %s vs %s", b, b2)
	}
}

func TestMetadataJSON_ReadsObjectstoreForms(t *testing.T) {
	// Unknown fields are ignored and a missing size decodes as unknown.
	var m Metadata
	if err := json.Unmarshal([]byte(`{"content_type":"a/b","future_field":1,"expiration_policy":{"TimeToLive":{"secs":60,"nanos":0}}}`), &m); err != nil {
		t.Fatal(err)
	}
	if m.Size != -1 || m.ExpirationPolicy != TTL(time.Minute) || m.ContentType != "a/b" {
		t.Fatalf("%+v", m)
	}
	for _, bad := range []string{`{"compression":"gzip"}`, `{"expiration_policy":{"Forever":{}}}`, `[]`} {
		if err := json.Unmarshal([]byte(bad), &m); err == nil {
			t.Errorf("Unmarshal(%s) succeeded", bad)
		}
	}
}

func TestMarshalPolicyJSON(t *testing.T) {
	for _, p := range []ExpirationPolicy{{}, TTL(time.Hour), TTI(1500 * time.Millisecond)} {
		got, err := UnmarshalPolicyJSON(MarshalPolicyJSON(p))
		if err != nil || got != p {
			t.Errorf("policy %v: %v %v", p, got, err)
		}
	}
	if string(MarshalPolicyJSON(TTL(time.Hour))) != `{"TimeToLive":{"secs":3600,"nanos":0}}` {
		t.Fatal(string(MarshalPolicyJSON(TTL(time.Hour))))
	}
}

func TestMetadata_Validate(t *testing.T) {
	if err := fullMetadata().Validate(); err != nil {
		t.Fatal(err)
	}
	big := map[string]string{}
	for i := range MaxCustomEntries + 1 {
		big[strings.Repeat("k", i+1)] = "v"
	}
	for name, m := range map[string]Metadata{
		"ttl without expiry": {ExpirationPolicy: TTL(time.Hour)},
		"tti without expiry": {ExpirationPolicy: TTI(time.Hour)},
		"bad compression":    {Compression: "gzip"},
		"too many custom":    {Custom: big},
		"empty custom key":   {Custom: map[string]string{"": "v"}},
		"long custom key":    {Custom: map[string]string{strings.Repeat("k", MaxCustomKeyBytes+1): "v"}},
		"too large":          {Custom: map[string]string{"k": strings.Repeat("v", MaxMetadataBytes)}},
	} {
		if err := m.Validate(); !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestMetadata_Expired(t *testing.T) {
	now := time.Now()
	if !(Metadata{ExpirationPolicy: TTL(time.Second), TimeExpires: now.Add(-time.Millisecond)}).Expired(now) {
		t.Fatal("past deadline must be expired")
	}
	if (Metadata{ExpirationPolicy: TTL(time.Second), TimeExpires: now.Add(time.Second)}).Expired(now) {
		t.Fatal("future deadline expired")
	}
	if (Metadata{TimeExpires: now.Add(-time.Hour)}).Expired(now) {
		t.Fatal("manual objects never expire")
	}
}

func TestByteRange_Resolve(t *testing.T) {
	for _, tc := range []struct {
		r          ByteRange
		total      int64
		start, end int64
		ok         bool
	}{
		{Bounded(0, 4), 22, 0, 4, true},
		{Last(9), 22, 13, 21, true},
		{From(7), 22, 7, 21, true},
		{Bounded(20, 100), 22, 20, 21, true},
		{Last(100), 22, 0, 21, true},
		{Bounded(100, 200), 22, 0, 0, false},
		{From(22), 22, 0, 0, false},
		{From(0), 0, 0, 0, false},
		{Last(1), 0, 0, 0, false},
	} {
		cr, err := tc.r.Resolve(tc.total)
		if tc.ok != (err == nil) || (tc.ok && (cr.Start != tc.start || cr.End != tc.end || cr.Total != tc.total)) {
			t.Errorf("%+v.Resolve(%d) = %+v, %v", tc.r, tc.total, cr, err)
		}
		var re *RangeError
		if !tc.ok && (!errors.As(err, &re) || re.Total != tc.total || !errors.Is(err, ErrRangeNotSatisfiable)) {
			t.Errorf("%+v: error %v is not a RangeError", tc.r, err)
		}
	}
	if s := (ContentRange{Start: 7, End: 21, Total: 22}).String(); s != "bytes 7-21/22" {
		t.Fatal(s)
	}
}
