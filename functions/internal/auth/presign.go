package auth

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/stratastore/strata/functions/wire"
)

// PresignQuery signs a GET or HEAD of rawPath?rawQuery with priv and returns the raw query to
// send: rawQuery followed by os_kid, os_timestamp (signedAt in UTC, whole seconds, its
// colons escaped as %3A the way the Python client's urlencode writes them), os_duration
// (validity in whole seconds, at most wire.MaxPresignValidity) and os_sig. rawPath and
// rawQuery must be exactly what the client will put on the wire, since the signature covers
// those bytes; rawQuery must not already carry pre-signing parameters.
func PresignQuery(priv ed25519.PrivateKey, kid, method, rawPath, rawQuery string, signedAt time.Time, validity time.Duration) (string, error) {
	if len(priv) != ed25519.PrivateKeySize {
		return "", fmt.Errorf("auth: Ed25519 private key is %d bytes, want %d", len(priv), ed25519.PrivateKeySize)
	}
	if kid == "" {
		return "", errors.New("auth: pre-signed URL needs a key id")
	}
	if wire.CanonicalMethod(method) != "GET" {
		return "", fmt.Errorf("auth: pre-signed URLs support GET and HEAD only, not %q", method)
	}
	if validity < 0 || validity > wire.MaxPresignValidity {
		return "", fmt.Errorf("auth: pre-signed URL validity %v is outside 0..%v", validity, wire.MaxPresignValidity)
	}
	if validity%time.Second != 0 {
		return "", fmt.Errorf("auth: pre-signed URL validity %v is not a whole number of seconds", validity)
	}
	if signedAt.Unix() < 0 {
		return "", errors.New("auth: pre-signed URL signing time is before 1970")
	}
	if strings.ContainsAny(rawPath, "?#") {
		return "", errors.New("auth: raw path must not contain '?' or '#'")
	}
	for piece := range strings.SplitSeq(rawQuery, "&") {
		name, _, _ := strings.Cut(piece, "=")
		switch wire.CanonicalParamName(name) {
		case wire.ParamKeyID, wire.ParamTimestamp, wire.ParamDuration, wire.ParamSignature:
			return "", fmt.Errorf("auth: query already has pre-signing parameter %q", name)
		}
	}
	q := rawQuery
	if q != "" {
		q += "&"
	}
	q += wire.ParamKeyID + "=" + wire.EscapeQueryValue(kid) +
		"&" + wire.ParamTimestamp + "=" + wire.EscapeQueryValue(signedAt.UTC().Format(wire.PresignTimestampLayout)) +
		"&" + wire.ParamDuration + "=" + strconv.FormatInt(int64(validity/time.Second), 10)
	return wire.AppendSignature(priv, method, rawPath, q), nil
}

// presignParams are the parsed pre-signing parameters.
type presignParams struct {
	kid      string
	signedAt time.Time
	duration uint64
	sig      string // still base64url; a bad encoding is a bad signature (401), not a bad param
}

// hasPresignSignature reports whether rawQuery has a parameter named exactly os_sig, which
// makes the request pre-signed.
func hasPresignSignature(rawQuery string) bool {
	for piece := range strings.SplitSeq(rawQuery, "&") {
		if name, _, _ := strings.Cut(piece, "="); name == wire.ParamSignature {
			return true
		}
	}
	return false
}

// parsePresignParams extracts the four parameters. Names match exactly; values are
// percent-decoded. A missing, repeated or malformed parameter is an error.
func parsePresignParams(rawQuery string) (presignParams, bool) {
	var p presignParams
	var seen [4]bool
	var ts, dur string
	for piece := range strings.SplitSeq(rawQuery, "&") {
		name, raw, _ := strings.Cut(piece, "=")
		var i int
		var dst *string
		switch name {
		case wire.ParamKeyID:
			i, dst = 0, &p.kid
		case wire.ParamTimestamp:
			i, dst = 1, &ts
		case wire.ParamDuration:
			i, dst = 2, &dur
		case wire.ParamSignature:
			i, dst = 3, &p.sig
		default:
			continue
		}
		if seen[i] {
			return p, false
		}
		seen[i] = true
		v, err := url.PathUnescape(raw)
		if err != nil {
			return p, false
		}
		*dst = v
	}
	if seen != [4]bool{true, true, true, true} {
		return p, false
	}
	var ok bool
	if p.signedAt, ok = parseRFC3339Weak(ts); !ok {
		return p, false
	}
	if p.duration, ok = parseUint64(dur); !ok {
		return p, false
	}
	return p, true
}

// verifyPresigned checks a pre-signed request in objectstore's order.
func (v *Verifier) verifyPresigned(method, rawPath, rawQuery string) (*Grant, *Error) {
	if wire.CanonicalMethod(method) != "GET" {
		return nil, errPresignMethod()
	}
	p, ok := parsePresignParams(rawQuery)
	if !ok {
		return nil, errPresignParams()
	}
	key, ok := v.keys[p.kid]
	if !ok {
		return nil, errUnknownKey()
	}
	if p.duration > uint64(wire.MaxPresignValidity/time.Second) {
		return nil, errPresignDuration()
	}
	now := v.now()
	if now.Before(p.signedAt.Add(-v.leeway)) || now.After(p.signedAt.Add(time.Duration(p.duration)*time.Second)) {
		return nil, errVerify()
	}
	sig, err := decodeB64(p.sig)
	if err != nil {
		return nil, errVerify()
	}
	msg := []byte(wire.CanonicalRequest(method, rawPath, rawQuery))
	verified := false
	for _, pub := range key.Versions {
		if verifyStrict(pub, msg, sig) {
			verified = true
			break
		}
	}
	if !verified {
		return nil, errVerify()
	}
	if !slices.Contains(key.MaxPermissions, Read) {
		return nil, errNotPermitted()
	}
	return &Grant{Kind: PresignedGrant, KeyID: p.kid, Permissions: []Permission{Read}}, nil
}

// parseUint64 parses a decimal u64 the way Rust's str::parse does: an optional '+', then
// one or more ASCII digits, no overflow.
func parseUint64(s string) (uint64, bool) {
	s = strings.TrimPrefix(s, "+")
	if s == "" || s[0] == '+' || s[0] == '-' {
		return 0, false
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, false
	}
	return n, true
}

// parseRFC3339Weak parses a UTC timestamp exactly as humantime's parse_rfc3339_weak does:
// YYYY-MM-DD, 'T' or ' ', HH:MM:SS, then optionally '.' and fraction digits (any number; only
// the first nine count), and an optional "Z" or "+00:00". Years before 1970 are refused, a
// leap second :60 reads as :59. The crate's leniencies are kept on purpose so that every URL
// objectstore accepts is accepted here: after a fraction, a '+' six bytes from the end ends
// it without the zone being checked, and without a fraction a 'Z' at offset 19 may be
// followed by up to five arbitrary bytes.
func parseRFC3339Weak(s string) (time.Time, bool) {
	b := []byte(s)
	if len(b) < 19 {
		return time.Time{}, false
	}
	if b[4] != '-' || b[7] != '-' || (b[10] != 'T' && b[10] != ' ') || b[13] != ':' || b[16] != ':' {
		return time.Time{}, false
	}
	two := func(i int) (int, bool) {
		if b[i] < '0' || b[i] > '9' || b[i+1] < '0' || b[i+1] > '9' {
			return 0, false
		}
		return int(b[i]-'0')*10 + int(b[i+1]-'0'), true
	}
	var f [7]int
	for i, off := range [...]int{0, 2, 5, 8, 11, 14, 17} {
		n, ok := two(off)
		if !ok {
			return time.Time{}, false
		}
		f[i] = n
	}
	year, month, day, hour, minute, second := f[0]*100+f[1], f[2], f[3], f[4], f[5], f[6]
	if year < 1970 || hour > 23 || minute > 59 || second > 60 {
		return time.Time{}, false
	}
	if second == 60 {
		second = 59
	}
	if month < 1 || month > 12 || day < 1 || day > daysIn(month, year) {
		return time.Time{}, false
	}
	nanos, mult := 0, 100_000_000
	if len(b) > 19 && b[19] == '.' {
		for i := 20; i < len(b); i++ {
			switch {
			case b[i] == 'Z':
				if i != len(b)-1 {
					return time.Time{}, false
				}
			case b[i] == '+':
				if i != len(b)-6 {
					return time.Time{}, false
				}
			case b[i] >= '0' && b[i] <= '9':
				nanos += mult * int(b[i]-'0')
				mult /= 10
				continue
			default:
				return time.Time{}, false
			}
			break
		}
	} else if len(b) != 19 && (len(b) > 25 || (b[19] != 'Z' && string(b[19:]) != "+00:00")) {
		return time.Time{}, false
	}
	return time.Date(year, time.Month(month), day, hour, minute, second, nanos, time.UTC), true
}

func daysIn(month, year int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}
