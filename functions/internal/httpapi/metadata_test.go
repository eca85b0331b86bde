package httpapi

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stratastore/strata/tiered/object"
)

func TestParseMetadata(t *testing.T) {
	now := time.Date(2026, 7, 23, 10, 11, 12, 345678000, time.UTC)
	md, herr := parseMetadata(hdrs(
		"Content-Type", "text/plain; charset=utf-8",
		"Content-Encoding", "zstd",
		"X-Sn-Expiration", "ttl:1 days",
		"X-Sn-Origin", "10.0.0.1",
		"X-Sn-Filename", "report.pdf",
		"X-Snme-Color", "blue",
		"X-Snme-Repeated", "first",
		"X-Snme-Repeated", "last",
		"X-Sn-Time-Created", "garbage",
		"X-Sn-Unknown", "ignored",
	), now)
	if herr != nil {
		t.Fatal(herr)
	}
	want := object.Metadata{
		ContentType: "text/plain; charset=utf-8", Compression: "zstd",
		ExpirationPolicy: object.TTL(24 * time.Hour), TimeCreated: now, TimeExpires: now.Add(24 * time.Hour),
		Origin: "10.0.0.1", Filename: "report.pdf", Size: -1,
		Custom: map[string]string{"color": "blue", "repeated": "last"},
	}
	if md.ContentType != want.ContentType || md.Compression != want.Compression || md.ExpirationPolicy != want.ExpirationPolicy ||
		!md.TimeCreated.Equal(want.TimeCreated) || !md.TimeExpires.Equal(want.TimeExpires) || md.Origin != want.Origin ||
		md.Filename != want.Filename || md.Size != -1 || len(md.Custom) != 2 || md.Custom["color"] != "blue" || md.Custom["repeated"] != "last" {
		t.Errorf("parseMetadata = %+v\nwant %+v", md, want)
	}

	md, herr = parseMetadata(http.Header{}, now)
	if herr != nil || md.ContentType != "" || md.EffectiveContentType() != "application/octet-stream" ||
		md.ExpirationPolicy.IsTimeout() || !md.TimeExpires.IsZero() || !md.TimeCreated.Equal(now) {
		t.Errorf("defaults: %+v, %v", md, herr)
	}
}

func TestParseMetadata_Errors(t *testing.T) {
	tests := []struct {
		name, value, msg string
	}{
		{"Content-Type", "text", "invalid content type"},
		{"Content-Type", "", "invalid content type"},
		{"Content-Type", "text/", "invalid content type"},
		{"Content-Type", "/plain", "invalid content type"},
		{"Content-Type", "text/*", "invalid content type"},
		{"Content-Type", "te xt/plain", "invalid content type"},
		{"Content-Type", "text/plain; charset", "invalid content type"},
		{"Content-Type", "text/plain\u00e9", "error dealing with http headers"},
		{"Content-Encoding", "identity", "invalid compression value"},
		{"Content-Encoding", "ZSTD", "invalid compression value"},
		{"Content-Encoding", "gzip", "invalid compression value"},
		{"X-Sn-Expiration", "ttl:", "invalid expiration policy value"},
		{"X-Sn-Expiration", "garbage", "invalid expiration policy value"},
		{"X-Sn-Expiration", "ttl:5 fortnights", "invalid expiration policy value"},
		{"X-Sn-Expiration", "Manual", "invalid expiration policy value"},
		{"X-Sn-Origin", "caf\u00e9", "error dealing with http headers"},
		{"X-Sn-Filename", "r\u00e9sum\u00e9.pdf", "error dealing with http headers"},
		{"X-Snme-Key", "\u00ff", "error dealing with http headers"},
		{"X-Snme-" + strings.Repeat("k", object.MaxCustomKeyBytes+1), "v", "custom metadata key"},
		{"X-Snme-", "v", "custom metadata key must be non-empty"},
		{"X-Sn-Origin", strings.Repeat("o", object.MaxMetadataBytes+1), "metadata is"},
	}
	for _, tt := range tests {
		_, herr := parseMetadata(hdrs(tt.name, tt.value), time.Now())
		if herr == nil {
			t.Errorf("%s: %q: accepted", tt.name, tt.value)
			continue
		}
		if herr.status != 400 || herr.text || !strings.HasPrefix(herr.detail, "service error: metadata error: "+tt.msg) ||
			len(herr.causes) != 2 || herr.causes[0] != "metadata error: "+herr.causes[1] {
			t.Errorf("%s: %q: got %+v, want 400 JSON metadata error %q", tt.name, tt.value, herr, tt.msg)
		}
	}
}

func TestValidMediaType(t *testing.T) {
	for _, ok := range []string{
		"application/octet-stream", "text/plain", "text/plain; charset=utf-8", "text/plain;charset=\"utf-8\"",
		"application/vnd.api+json", "image/svg+xml", "multipart/form-data; boundary=abc", "x-custom/x.y_z-1",
		"Text/Plain",
	} {
		if !validMediaType(ok) {
			t.Errorf("validMediaType(%q) = false", ok)
		}
	}
	for _, bad := range []string{"", "text", "text/", "/x", "text/plain/x", "*/*", "text/plain; =x", "-a/b", "a/-b", "a b/c"} {
		if validMediaType(bad) {
			t.Errorf("validMediaType(%q) = true", bad)
		}
	}
}

func TestMetadataHeaders_Order(t *testing.T) {
	created := time.Date(2023, 11, 14, 22, 13, 20, 0, time.UTC)
	md := object.Metadata{
		ContentType: "text/plain", Compression: "zstd", ExpirationPolicy: object.TTI(90 * 24 * time.Hour),
		TimeCreated: created, TimeExpires: created.Add(time.Hour), Origin: "o", Filename: "f",
		Custom: map[string]string{"b": "2", "a": "1", "Z": "0"},
	}
	var got []string
	for _, h := range metadataHeaders(md) {
		got = append(got, h.Name+": "+h.Value)
	}
	want := []string{
		"content-type: text/plain",
		"content-encoding: zstd",
		"x-sn-expiration: tti:2months 29days 2h 52m 48s",
		"x-sn-time-created: 2023-11-14T22:13:20.000000Z",
		"x-sn-time-expires: 2023-11-14T23:13:20.000000Z",
		"x-sn-origin: o",
		"x-sn-filename: f",
		"x-snme-z: 0", // sorted by key bytes, name lowercased (objectstore)
		"x-snme-a: 1",
		"x-snme-b: 2",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("metadataHeaders:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	got = nil
	for _, h := range metadataHeaders(object.Metadata{}) {
		got = append(got, h.Name+": "+h.Value)
	}
	if len(got) != 1 || got[0] != "content-type: application/octet-stream" {
		t.Errorf("empty metadata headers = %q", got)
	}
}

func TestContentDisposition(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"report.pdf", `attachment; filename="report.pdf"`, true},
		{`has"quote.txt`, `attachment; filename="has\"quote.txt"`, true},
		{"path/to/file.txt", `attachment; filename="path-to-file.txt"`, true},
		{`back\slash`, `attachment; filename="back-slash"`, true},
		{".", `attachment; filename="-"`, true},
		{"..", `attachment; filename="--"`, true},
		{"...", `attachment; filename="---"`, true},
		{"a..", `attachment; filename="a.."`, true},
		{"new\nline", "", false},
		{"caf\u00e9", "", false},
	}
	for _, tt := range tests {
		got, ok := contentDisposition(tt.in)
		if ok != tt.ok || (ok && got != tt.want) {
			t.Errorf("contentDisposition(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}
