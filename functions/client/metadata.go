package client

import (
	"net/http"
	"strings"
	"time"

	"github.com/stratastore/strata/functions/wire"
	"github.com/stratastore/strata/tiered/object"
)

// ExpirationPolicy says when an object expires: Manual (never, the zero value), TTL (a fixed
// time after the write) or TTI (a fixed time after the last read or write). It is the
// storage library's type, so the client renders and parses exactly the server's grammar.
type ExpirationPolicy = object.ExpirationPolicy

// TTL returns a policy that expires an object d after it was written.
func TTL(d time.Duration) ExpirationPolicy { return object.TTL(d) }

// TTI returns a policy that expires an object d after it was last read or written.
func TTI(d time.Duration) ExpirationPolicy { return object.TTI(d) }

// Manual returns the policy of objects that never expire on their own.
func Manual() ExpirationPolicy { return ExpirationPolicy{} }

// ParseExpirationPolicy parses the x-sn-expiration grammar: "manual", "ttl:<duration>" or
// "tti:<duration>", with humantime durations such as "30s", "1h 30m" or "7days".
func ParseExpirationPolicy(s string) (ExpirationPolicy, error) {
	p, err := object.ParseExpirationPolicy(s)
	if err != nil {
		return p, invalid(err)
	}
	return p, nil
}

// CompressionZstd is the only compression objectstore knows.
const CompressionZstd = "zstd"

// Metadata is what the server keeps about an object besides its bytes.
type Metadata struct {
	// ContentType is the media type; the server's default is application/octet-stream.
	ContentType string
	// Compression is "zstd" when the stored bytes are zstd-compressed. After Get
	// transparently decompressed the body it is empty, describing the body received.
	Compression string
	// Expiration is the expiration policy.
	Expiration ExpirationPolicy
	// TimeCreated is when the object was written; TimeExpires when it expires (zero for
	// Manual). For TTI objects TimeExpires is the deadline before this access extended it.
	TimeCreated, TimeExpires time.Time
	// Origin and Filename are free text set by the writer.
	Origin, Filename string
	// Custom holds the x-snme-* metadata, by lower-case name.
	Custom map[string]string
}

// timeLayout parses the x-sn-time-* headers: RFC 3339 with any fraction, so it reads the
// server's wire.TimeFormat and more.
const timeLayout = time.RFC3339Nano

// metadataFrom reads the metadata headers of a response or batch part. Unparsable values
// are left zero rather than failing the read.
func metadataFrom(h http.Header) Metadata {
	md := Metadata{
		ContentType: h.Get("Content-Type"),
		Compression: h.Get("Content-Encoding"),
		Origin:      h.Get(wire.HeaderOrigin),
		Filename:    h.Get(wire.HeaderFilename),
	}
	if v := h.Get(wire.HeaderExpiration); v != "" {
		md.Expiration, _ = object.ParseExpirationPolicy(v)
	}
	md.TimeCreated, _ = time.Parse(timeLayout, h.Get(wire.HeaderTimeCreated))
	md.TimeExpires, _ = time.Parse(timeLayout, h.Get(wire.HeaderTimeExpires))
	for name, vs := range h {
		if rest, ok := cutPrefixFold(name, wire.HeaderCustomPrefix); ok && len(vs) > 0 {
			if md.Custom == nil {
				md.Custom = make(map[string]string)
			}
			md.Custom[strings.ToLower(rest)] = vs[len(vs)-1]
		}
	}
	return md
}

// cutPrefixFold is strings.CutPrefix with an ASCII case-insensitive prefix.
func cutPrefixFold(s, prefix string) (string, bool) {
	if len(s) < len(prefix) || !strings.EqualFold(s[:len(prefix)], prefix) {
		return s, false
	}
	return s[len(prefix):], true
}

// PutOption configures one upload (Put, ResumeUpload, a batch insert).
type PutOption func(*putConfig)

// putConfig is the settings of one upload.
type putConfig struct {
	contentType      string
	expiration       *ExpirationPolicy
	origin, filename string
	custom           map[string]string
	compress         *bool
	size             int64 // -1: unknown
	onUpload         func(key, uploadID string)
	keepFailed       bool
	progress         func(done int64)
}

// ContentType sets the object's media type.
func ContentType(v string) PutOption { return func(p *putConfig) { p.contentType = v } }

// Expires sets the object's expiration policy.
func Expires(policy ExpirationPolicy) PutOption {
	return func(p *putConfig) { p.expiration = &policy }
}

// Origin records where the object came from (x-sn-origin).
func Origin(v string) PutOption { return func(p *putConfig) { p.origin = v } }

// Filename records a file name, which GET answers as content-disposition (x-sn-filename).
func Filename(v string) PutOption { return func(p *putConfig) { p.filename = v } }

// Meta adds one custom metadata entry (x-snme-<name>). Names are case-insensitive and
// stored lower-case.
func Meta(name, value string) PutOption {
	return func(p *putConfig) {
		if p.custom == nil {
			p.custom = make(map[string]string)
		}
		p.custom[strings.ToLower(name)] = value
	}
}

// Compress overrides the client's compression setting for this upload.
func Compress(on bool) PutOption { return func(p *putConfig) { p.compress = &on } }

// Size declares the payload's length when the reader cannot tell (it is not a seeker and
// has no Len method). Put then decides between one request and a multipart upload without
// buffering; the reader must deliver exactly n bytes.
func Size(n int64) PutOption { return func(p *putConfig) { p.size = n } }

// OnUploadStarted calls fn with the key and upload id as soon as a multipart upload has
// been initiated, before any part is sent, so that a caller can record the id and resume
// the upload after a crash.
func OnUploadStarted(fn func(key, uploadID string)) PutOption {
	return func(p *putConfig) { p.onUpload = fn }
}

// KeepFailedUpload leaves a failed multipart upload on the server instead of aborting it;
// the returned *UploadError names it for ResumeUpload.
func KeepFailedUpload() PutOption { return func(p *putConfig) { p.keepFailed = true } }

// Progress calls fn with the number of payload bytes (before compression) sent so far. It
// is called from the uploading goroutines, one call at a time.
func Progress(fn func(done int64)) PutOption { return func(p *putConfig) { p.progress = fn } }

// putSettings applies opts over the client's defaults.
func (c *Client) putSettings(opts []PutOption) *putConfig {
	p := &putConfig{size: -1}
	for _, o := range opts {
		o(p)
	}
	if p.compress == nil {
		on := c.compress
		p.compress = &on
	}
	return p
}

// customPrefix is wire.HeaderCustomPrefix as net/http spells it: "X-Snme-".
var customPrefix = http.CanonicalHeaderKey(wire.HeaderCustomPrefix)

// header returns the metadata request headers of the upload.
func (p *putConfig) header() http.Header {
	h := http.Header{}
	if p.contentType != "" {
		h.Set("Content-Type", p.contentType)
	}
	if *p.compress {
		h.Set("Content-Encoding", CompressionZstd)
	}
	if p.expiration != nil {
		h.Set(wire.HeaderExpiration, p.expiration.String())
	}
	if p.origin != "" {
		h.Set(wire.HeaderOrigin, p.origin)
	}
	if p.filename != "" {
		h.Set(wire.HeaderFilename, p.filename)
	}
	for k, v := range p.custom {
		// The canonical prefix keeps the name as before even for a name Set cannot
		// canonicalise (validate refuses those before anything is sent).
		h.Set(customPrefix+k, v)
	}
	return h
}

// validate rejects metadata the server would refuse with 400: header values must be
// visible ASCII.
func (p *putConfig) validate() error {
	check := func(what, v string) error {
		for i := 0; i < len(v); i++ {
			if c := v[i]; (c < 0x20 || c > 0x7e) && c != '\t' {
				return invalidf("%s %q: header values must be visible ASCII", what, v)
			}
		}
		return nil
	}
	for what, v := range map[string]string{"content type": p.contentType, "origin": p.origin, "filename": p.filename} {
		if err := check(what, v); err != nil {
			return err
		}
	}
	for k, v := range p.custom {
		if k == "" || strings.ContainsFunc(k, func(r rune) bool { return r <= ' ' || r >= 0x7f || strings.ContainsRune("()<>@,;:\\\"/[]?={}", r) }) {
			return invalidf("custom metadata name %q is not a header token", k)
		}
		if err := check("custom metadata "+k, v); err != nil {
			return err
		}
	}
	return nil
}
