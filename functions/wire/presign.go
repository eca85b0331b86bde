package wire

import (
	"crypto/ed25519"
	"encoding/base64"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Pre-signed URL query parameters.
const (
	// ParamKeyID names the key that signed the URL.
	ParamKeyID = "os_kid"
	// ParamTimestamp is the signing time, RFC 3339 in UTC (written in
	// PresignTimestampLayout).
	ParamTimestamp = "os_timestamp"
	// ParamDuration is the validity after the signing time, in whole seconds.
	ParamDuration = "os_duration"
	// ParamSignature is the base64url (unpadded) Ed25519 signature of CanonicalRequest; its
	// presence makes a request pre-signed.
	ParamSignature = "os_sig"
)

// MaxPresignValidity is the longest validity a pre-signed URL may state.
const MaxPresignValidity = 7 * 24 * time.Hour

// PresignTimestampLayout is how signers write os_timestamp (objectstore's Python client's
// format). The server accepts more (see functions/internal/auth).
const PresignTimestampLayout = "2006-01-02T15:04:05Z"

// CanonicalMethod returns method as CanonicalRequest writes it: ASCII upper case, with HEAD
// mapped to GET so that one signature serves both. Only a method whose canonical form is GET
// can be pre-signed.
func CanonicalMethod(method string) string {
	m := asciiUpper(method)
	if m == "HEAD" {
		return "GET"
	}
	return m
}

// CanonicalParamName returns a query parameter name as CanonicalRequest writes it: ASCII
// lower case, other bytes unchanged.
func CanonicalParamName(name string) string { return asciiLower(name) }

// CanonicalRequest returns the string a pre-signed URL signs:
//
//	<METHOD>\n<rawPath>\n<canonical query>
//
// METHOD is CanonicalMethod(method). rawPath is used exactly as sent on the wire (still
// percent-encoded), without the query. The canonical query takes rawQuery's '&'-separated
// pieces, drops empty ones, lower-cases each piece's name (the part before the first '=';
// the whole piece if it has none) with CanonicalParamName while keeping the rest verbatim and
// undecoded, drops os_sig, sorts the pieces byte-wise (keeping duplicates) and joins them
// with '&'.
func CanonicalRequest(method, rawPath, rawQuery string) string {
	var pieces []string
	for piece := range strings.SplitSeq(rawQuery, "&") {
		if piece == "" {
			continue
		}
		name, value, hasValue := strings.Cut(piece, "=")
		name = CanonicalParamName(name)
		if name == ParamSignature {
			continue
		}
		if hasValue {
			piece = name + "=" + value
		} else {
			piece = name
		}
		pieces = append(pieces, piece)
	}
	slices.Sort(pieces)
	return CanonicalMethod(method) + "\n" + rawPath + "\n" + strings.Join(pieces, "&")
}

// SignatureEncoding is how os_sig is written: base64url without padding.
var SignatureEncoding = base64.RawURLEncoding

// AppendSignature signs CanonicalRequest(method, rawPath, rawQuery) with priv and returns
// rawQuery followed by "&os_sig=<signature>". rawQuery must already hold os_kid,
// os_timestamp and os_duration, and rawPath and rawQuery must be exactly what goes on the
// wire, since the signature covers those bytes.
func AppendSignature(priv ed25519.PrivateKey, method, rawPath, rawQuery string) string {
	sig := ed25519.Sign(priv, []byte(CanonicalRequest(method, rawPath, rawQuery)))
	return rawQuery + "&" + ParamSignature + "=" + SignatureEncoding.EncodeToString(sig)
}

// EscapeQueryValue percent-encodes a query value so that both form decoding and the
// verifier's plain percent-decoding (which, unlike form decoding, keeps '+') restore it: only
// unreserved characters stay literal, and a space becomes %20, not '+'.
func EscapeQueryValue(s string) string {
	return strings.ReplaceAll(url.QueryEscape(s), "+", "%20")
}

// asciiUpper upper-cases ASCII letters only, leaving every other byte (and invalid UTF-8)
// as it is, unlike strings.ToUpper.
func asciiUpper(s string) string { return mapASCII(s, 'a', 'z', 'A'-'a') }

// asciiLower lower-cases ASCII letters only, leaving every other byte as it is.
func asciiLower(s string) string { return mapASCII(s, 'A', 'Z', 'a'-'A') }

// mapASCII adds delta to every byte in lo..hi; it allocates only when a byte changes.
func mapASCII(s string, lo, hi byte, delta int) string {
	for i := 0; i < len(s); i++ {
		if lo <= s[i] && s[i] <= hi {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if lo <= b[j] && b[j] <= hi {
					b[j] = byte(int(b[j]) + delta)
				}
			}
			return string(b)
		}
	}
	return s
}
