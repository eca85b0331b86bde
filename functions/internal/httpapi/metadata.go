package httpapi

import (
	"mime"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/stratastore/strata/functions/wire"
	"github.com/stratastore/strata/tiered/object"
)

// Standard header names, lowercase as objectstore emits them (functions/API.md §1.3, §5). The
// protocol's own (x-sn-*, x-snme-*) are the wire package's.
const (
	hdrContentType        = "content-type"
	hdrContentEncoding    = "content-encoding"
	hdrAcceptRanges       = "accept-ranges"
	hdrContentDisposition = "content-disposition"
	hdrContentRange       = "content-range"
)

// metadataError is a 400 for a bad metadata header, in objectstore's shape:
// {"detail":"service error: metadata error: <msg>","causes":["metadata error: <msg>","<msg>"]}.
func metadataError(msg string) *httpError {
	return &httpError{
		status: http.StatusBadRequest,
		detail: "service error: metadata error: " + msg,
		causes: []string{"metadata error: " + msg, msg},
	}
}

// visibleASCII reports whether s consists of visible ASCII, space and tab only.
func visibleASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < 0x20 || c > 0x7e) && c != '\t' {
			return false
		}
	}
	return true
}

// restrictedName reports whether s is an RFC 6838 restricted-name: 1 to 127 characters, the
// first alphanumeric, the rest alphanumeric or one of ! # $ & - ^ _ . +
func restrictedName(s string) bool {
	if s == "" || len(s) > 127 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		alnum := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
		if alnum {
			continue
		}
		if i == 0 || !strings.ContainsRune("!#$&-^_.+", rune(c)) {
			return false
		}
	}
	return true
}

// validMediaType reports whether s is an RFC 6838 media type, type "/" subtype, optionally
// followed by parameters (token or quoted-string values).
func validMediaType(s string) bool {
	main, _, _ := strings.Cut(s, ";")
	typ, sub, ok := strings.Cut(strings.TrimSpace(main), "/")
	if !ok || !restrictedName(typ) || !restrictedName(sub) {
		return false
	}
	_, _, err := mime.ParseMediaType(s)
	return err == nil
}

// first returns the first value of a header, and whether it is present.
func first(h http.Header, canonicalName string) (string, bool) {
	v, ok := h[canonicalName]
	if !ok || len(v) == 0 {
		return "", false
	}
	return v[0], true
}

// parseMetadata builds the metadata of a write from request (or batch part) headers, per
// functions/API.md §5.1: time_created is now and time_expires is now plus the TTL/TTI duration.
// Unknown headers, and x-sn-time-*, are ignored.
func parseMetadata(h http.Header, now time.Time) (object.Metadata, *httpError) {
	md := object.Metadata{Size: -1, TimeCreated: now.UTC()}
	if v, ok := first(h, "Content-Type"); ok {
		if !visibleASCII(v) {
			return md, metadataError("error dealing with http headers")
		}
		if !validMediaType(v) {
			return md, metadataError("invalid content type")
		}
		md.ContentType = v
	}
	if v, ok := first(h, "Content-Encoding"); ok {
		if !visibleASCII(v) {
			return md, metadataError("error dealing with http headers")
		}
		if v != object.CompressionZstd {
			return md, metadataError("invalid compression value")
		}
		md.Compression = v
	}
	if v, ok := first(h, http.CanonicalHeaderKey(wire.HeaderExpiration)); ok {
		if !visibleASCII(v) {
			return md, metadataError("error dealing with http headers")
		}
		p, err := object.ParseExpirationPolicy(v)
		if err != nil {
			return md, metadataError("invalid expiration policy value")
		}
		md.ExpirationPolicy = p
		if p.IsTimeout() {
			md.TimeExpires = md.TimeCreated.Add(p.Duration)
		}
	}
	// A header present with an empty value is kept as present (objectstore stores "").
	for _, f := range []struct {
		name string
		dst  *string
		set  *bool
	}{
		{http.CanonicalHeaderKey(wire.HeaderOrigin), &md.Origin, &md.OriginSet},
		{http.CanonicalHeaderKey(wire.HeaderFilename), &md.Filename, &md.FilenameSet},
	} {
		if v, ok := first(h, f.name); ok {
			if !visibleASCII(v) {
				return md, metadataError("error dealing with http headers")
			}
			*f.dst, *f.set = v, true
		}
	}
	for name, values := range h {
		custom, ok := cutPrefixFold(name, wire.HeaderCustomPrefix)
		if !ok || len(values) == 0 {
			continue
		}
		v := values[len(values)-1] // a repeated header: the last value wins
		if !visibleASCII(v) {
			return md, metadataError("error dealing with http headers")
		}
		if md.Custom == nil {
			md.Custom = make(map[string]string)
		}
		md.Custom[strings.ToLower(custom)] = v
	}
	if err := md.Validate(); err != nil {
		return md, metadataError(object.Reason(err))
	}
	return md, nil
}

// cutPrefixFold is strings.CutPrefix with an ASCII case-insensitive prefix.
func cutPrefixFold(s, prefix string) (string, bool) {
	if len(s) < len(prefix) || !strings.EqualFold(s[:len(prefix)], prefix) {
		return s, false
	}
	return s[len(prefix):], true
}

// header is one response header, in emission order; a batch part writes them as they are.
type header = wire.Field

// metadataHeaders returns the response headers of md (functions/API.md §5.2), in
// objectstore's order: content-type, content-encoding, x-sn-expiration, x-sn-time-created,
// x-sn-time-expires, x-sn-origin, x-sn-filename, then x-snme-* by name.
func metadataHeaders(md object.Metadata) []header {
	hs := []header{{Name: hdrContentType, Value: md.EffectiveContentType()}}
	if md.Compression != "" {
		hs = append(hs, header{Name: hdrContentEncoding, Value: md.Compression})
	}
	if md.ExpirationPolicy.IsTimeout() {
		hs = append(hs, header{Name: wire.HeaderExpiration, Value: md.ExpirationPolicy.String()})
	}
	if !md.TimeCreated.IsZero() {
		hs = append(hs, header{Name: wire.HeaderTimeCreated, Value: md.TimeCreated.UTC().Format(wire.TimeFormat)})
	}
	if md.ExpirationPolicy.IsTimeout() && !md.TimeExpires.IsZero() {
		hs = append(hs, header{Name: wire.HeaderTimeExpires, Value: md.TimeExpires.UTC().Format(wire.TimeFormat)})
	}
	if md.HasOrigin() {
		hs = append(hs, header{Name: wire.HeaderOrigin, Value: md.Origin})
	}
	if md.HasFilename() {
		hs = append(hs, header{Name: wire.HeaderFilename, Value: md.Filename})
	}
	names := make([]string, 0, len(md.Custom))
	for k := range md.Custom {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		// Header names are lowercase; keys that differ only in case (another writer's) become
		// several values of one header, in key order, as objectstore sends them.
		hs = append(hs, header{Name: wire.HeaderCustomPrefix + strings.ToLower(k), Value: md.Custom[k]})
	}
	return hs
}

// validHeaderName reports whether s is an RFC 9110 token, the only valid header name.
// Custom keys written by another system may not be (objectstore answers such a read with a
// 400; Strata leaves the header out).
func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}

// setHeaders stores hs in h under their lowercase names, bypassing canonicalisation: the
// Python client compares received names to lowercase literals (functions/API.md §1.3).
func setHeaders(h http.Header, hs []header) {
	for _, kv := range hs {
		if wire.ValidHeaderValue(kv.Value) && validHeaderName(kv.Name) {
			h[kv.Name] = append(h[kv.Name], kv.Value)
		}
	}
}

// contentDisposition renders objectstore's content-disposition for a filename (functions/API.md §5.3):
// '/' and '\' become '-', an all-dots name has every '.' turned into '-', and '"' is
// escaped. It returns false when the result is not a valid header value.
func contentDisposition(filename string) (string, bool) {
	name := strings.NewReplacer("/", "-", `\`, "-").Replace(filename)
	if strings.Trim(name, ".") == "" {
		name = strings.Repeat("-", len(name))
	}
	name = strings.ReplaceAll(name, `"`, `\"`)
	v := `attachment; filename="` + name + `"`
	return v, visibleASCII(v)
}

// setObjectHeaders sets the headers of a single-object GET or HEAD response: the metadata
// headers, accept-ranges and, when a filename is set, content-disposition.
func setObjectHeaders(h http.Header, md object.Metadata) {
	setHeaders(h, metadataHeaders(md))
	// A canonical Content-Type entry with no value stops net/http from sniffing one and
	// sending it next to our lowercase header.
	h["Content-Type"] = nil
	h[hdrAcceptRanges] = []string{"bytes"}
	if md.HasFilename() {
		if v, ok := contentDisposition(md.Filename); ok {
			h[hdrContentDisposition] = []string{v}
		}
	}
}
