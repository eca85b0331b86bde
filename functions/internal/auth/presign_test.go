package auth

import (
	"crypto/ed25519"
	"strings"
	"testing"
	"time"

	"github.com/stratastore/strata/functions/wire"
)

func TestParseRFC3339Weak(t *testing.T) {
	ts := func(y, mo, d, h, mi, s, ns int) time.Time {
		return time.Date(y, time.Month(mo), d, h, mi, s, ns, time.UTC)
	}
	tests := []struct {
		in   string
		want time.Time
		ok   bool
	}{
		{"2026-07-23T10:00:00Z", ts(2026, 7, 23, 10, 0, 0, 0), true},
		{"2026-07-23T10:00:00", ts(2026, 7, 23, 10, 0, 0, 0), true},
		{"2026-07-23 10:00:00", ts(2026, 7, 23, 10, 0, 0, 0), true},
		{"2026-07-23T10:00:00+00:00", ts(2026, 7, 23, 10, 0, 0, 0), true},
		{"1985-04-12T23:20:50.52Z", ts(1985, 4, 12, 23, 20, 50, 520_000_000), true},
		{"1985-04-12T23:20:50.123456789Z", ts(1985, 4, 12, 23, 20, 50, 123_456_789), true},
		{"1985-04-12T23:20:50.1234567891234Z", ts(1985, 4, 12, 23, 20, 50, 123_456_789), true},
		{"1985-04-12T23:20:50.5", ts(1985, 4, 12, 23, 20, 50, 500_000_000), true},
		{"1985-04-12T23:20:50.", ts(1985, 4, 12, 23, 20, 50, 0), true},
		{"1985-04-12T23:20:50.5+00:00", ts(1985, 4, 12, 23, 20, 50, 500_000_000), true},
		{"1985-04-12T23:20:50.5+05:30", ts(1985, 4, 12, 23, 20, 50, 500_000_000), true}, // humantime quirk: zone unchecked after a fraction
		{"2026-07-23T10:00:00Zjunk", ts(2026, 7, 23, 10, 0, 0, 0), true},                // humantime quirk
		{"2016-12-31T23:59:60Z", ts(2016, 12, 31, 23, 59, 59, 0), true},                 // leap second reads as :59
		{"2024-02-29T00:00:00Z", ts(2024, 2, 29, 0, 0, 0, 0), true},
		{"2000-02-29T00:00:00Z", ts(2000, 2, 29, 0, 0, 0, 0), true},
		{"1970-01-01T00:00:00Z", ts(1970, 1, 1, 0, 0, 0, 0), true},
		{"9999-12-31T23:59:59Z", ts(9999, 12, 31, 23, 59, 59, 0), true},
		{"1969-12-31T23:59:59Z", time.Time{}, false},
		{"2023-02-29T00:00:00Z", time.Time{}, false},
		{"1900-02-29T00:00:00Z", time.Time{}, false},
		{"2026-13-01T00:00:00Z", time.Time{}, false},
		{"2026-00-01T00:00:00Z", time.Time{}, false},
		{"2026-04-31T00:00:00Z", time.Time{}, false},
		{"2026-04-00T00:00:00Z", time.Time{}, false},
		{"2026-07-23T24:00:00Z", time.Time{}, false},
		{"2026-07-23T10:60:00Z", time.Time{}, false},
		{"2026-07-23T10:00:61Z", time.Time{}, false},
		{"2026-07-23t10:00:00Z", time.Time{}, false},
		{"2026-07-23T10:00:00+01:00", time.Time{}, false},
		{"2026-07-23T10:00:00-00:00", time.Time{}, false},
		{"2026-07-23T10:00:00Zjunk12", time.Time{}, false}, // longer than 25 bytes
		{"2026-07-23T10:00:00z", time.Time{}, false},
		{"2026-07-23T10:00:00.5Zx", time.Time{}, false},
		{"2026-07-23T10:00:00.5x", time.Time{}, false},
		{"2026-07-23T10:00:00.5+00:0", time.Time{}, false},
		{"2026-07-23T10:00:0", time.Time{}, false},
		{"2026-7-23T10:00:00Z", time.Time{}, false},
		{"+026-07-23T10:00:00Z", time.Time{}, false},
		{"", time.Time{}, false},
		{"1700000000", time.Time{}, false},
	}
	for _, tc := range tests {
		got, ok := parseRFC3339Weak(tc.in)
		if ok != tc.ok || !got.Equal(tc.want) {
			t.Errorf("parseRFC3339Weak(%q) = %v, %v; want %v, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestParseUint64(t *testing.T) {
	tests := []struct {
		in   string
		want uint64
		ok   bool
	}{
		{"0", 0, true}, {"3600", 3600, true}, {"+3600", 3600, true}, {"007", 7, true},
		{"18446744073709551615", 1<<64 - 1, true}, {"18446744073709551616", 0, false},
		{"", 0, false}, {"+", 0, false}, {"++1", 0, false}, {"-1", 0, false}, {"+-1", 0, false},
		{" 1", 0, false}, {"1 ", 0, false}, {"1e3", 0, false}, {"0x10", 0, false}, {"1_000", 0, false},
	}
	for _, tc := range tests {
		got, ok := parseUint64(tc.in)
		if ok != tc.ok || got != tc.want {
			t.Errorf("parseUint64(%q) = %d, %v; want %d, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

const objPath = "/v1/objects/attachments/org=17;project=42/foo/bar"

// presigned returns a request target for path signed by priv at t0 for validity.
func presigned(t *testing.T, priv ed25519.PrivateKey, kid, method, path, query string, validity time.Duration) string {
	t.Helper()
	q, err := PresignQuery(priv, kid, method, path, query, t0, validity)
	if err != nil {
		t.Fatalf("PresignQuery: %v", err)
	}
	return path + "?" + q
}

func TestPresign_RoundTrip(t *testing.T) {
	pub, priv := testKey(1)
	v := mustVerifier(t, testDirectory(pub), Options{Enforce: true})
	for _, signed := range []string{"GET", "HEAD"} {
		target := presigned(t, priv, testKid, signed, objPath, "x=1", time.Hour)
		for _, method := range []string{"GET", "HEAD"} {
			g, err := v.Authenticate(req(method, target))
			if err != nil {
				t.Fatalf("signed %s, sent %s: %v", signed, method, err)
			}
			if g.Kind != PresignedGrant || g.KeyID != testKid {
				t.Fatalf("grant %+v", g)
			}
			if err := g.Authorize(objCtx, Read); err != nil {
				t.Fatalf("read: %v", err)
			}
			// The signed path is all that matters: any context is readable.
			if err := g.Authorize(objCtx, Write); err == nil {
				t.Fatal("pre-signed grant allowed a write")
			}
			wantError(t, g.Authorize(objCtx, Delete), 403, detailNotAllowed)
		}
	}
	target := presigned(t, priv, testKid, "GET", objPath, "", time.Hour)
	if !strings.HasPrefix(target, objPath+"?os_kid=test_kid&os_timestamp=2026-07-23T10%3A00%3A00Z&os_duration=3600&os_sig=") {
		t.Fatalf("unexpected query layout: %s", target)
	}
	// Headers are ignored for a pre-signed request, even a bad token.
	if _, err := v.Authenticate(req("GET", target, "x-os-auth", "Bearer garbage")); err != nil {
		t.Fatalf("header consulted on a pre-signed request: %v", err)
	}
}

// TestPresign_ErrorTable walks the pre-signed rows of functions/API.md §10.5 and the order of
// checks of §10.6.
func TestPresign_ErrorTable(t *testing.T) {
	pub, priv := testKey(1)
	_, otherPriv := testKey(2)
	keys := testDirectory(pub)
	keys["writer"] = Key{Versions: []ed25519.PublicKey{pub}, MaxPermissions: []Permission{Write, Delete}}
	v := mustVerifier(t, keys, Options{Enforce: true})

	// sign builds a query with the given parameter values and a signature over the result.
	sign := func(p ed25519.PrivateKey, method, path, query string) string {
		sig := ed25519.Sign(p, []byte(wire.CanonicalRequest(method, path, query)))
		return path + "?" + query + "&os_sig=" + b64.EncodeToString(sig)
	}
	q := func(kid, ts, dur string) string {
		return "os_kid=" + kid + "&os_timestamp=" + ts + "&os_duration=" + dur
	}
	ts := "2026-07-23T10:00:00Z" // t0
	good := sign(priv, "GET", objPath, q(testKid, ts, "3600"))
	goodSig := good[strings.Index(good, "os_sig=")+len("os_sig="):]

	tests := []struct {
		name   string
		method string
		target string
		status int
		detail string
	}{
		{"valid", "GET", good, 0, ""},
		{"PUT", "PUT", good, 403, detailPresignVerb},
		{"POST", "POST", good, 403, detailPresignVerb},
		{"DELETE", "DELETE", good, 403, detailPresignVerb},
		{"method checked before params", "PUT", objPath + "?os_sig=x", 403, detailPresignVerb},
		{"only os_sig", "GET", objPath + "?os_sig=" + goodSig, 400, detailPresignArgs},
		{"os_kid missing", "GET", objPath + "?os_timestamp=" + ts + "&os_duration=60&os_sig=" + goodSig, 400, detailPresignArgs},
		{"os_timestamp missing", "GET", objPath + "?os_kid=test_kid&os_duration=60&os_sig=" + goodSig, 400, detailPresignArgs},
		{"os_duration missing", "GET", objPath + "?os_kid=test_kid&os_timestamp=" + ts + "&os_sig=" + goodSig, 400, detailPresignArgs},
		{"os_timestamp unix seconds", "GET", sign(priv, "GET", objPath, q(testKid, "1784800800", "60")), 400, detailPresignArgs},
		{"os_timestamp with offset", "GET", sign(priv, "GET", objPath, q(testKid, "2026-07-23T12:00:00%2B02:00", "60")), 400, detailPresignArgs},
		{"os_duration negative", "GET", sign(priv, "GET", objPath, q(testKid, ts, "-1")), 400, detailPresignArgs},
		{"os_duration not a number", "GET", sign(priv, "GET", objPath, q(testKid, ts, "1h")), 400, detailPresignArgs},
		{"os_duration overflows u64", "GET", sign(priv, "GET", objPath, q(testKid, ts, "18446744073709551616")), 400, detailPresignArgs},
		{"bad percent escape", "GET", sign(priv, "GET", objPath, q("a%zz", ts, "60")), 400, detailPresignArgs},
		{"os_kid repeated", "GET", sign(priv, "GET", objPath, q(testKid, ts, "60")+"&os_kid=writer"), 400, detailPresignArgs},
		{"os_sig repeated", "GET", good + "&os_sig=" + goodSig, 400, detailPresignArgs},
		{"unknown os_kid", "GET", sign(priv, "GET", objPath, q("nope", ts, "60")), 401, detailUnknownKey},
		{"unknown kid checked before duration", "GET", sign(priv, "GET", objPath, q("nope", ts, "604801")), 401, detailUnknownKey},
		{"duration over a week", "GET", sign(priv, "GET", objPath, q(testKid, ts, "604801")), 400, detailPresignWeek},
		{"duration checked before the window", "GET", sign(priv, "GET", objPath, q(testKid, "2000-01-01T00:00:00Z", "604801")), 400, detailPresignWeek},
		{"duration exactly a week", "GET", sign(priv, "GET", objPath, q(testKid, ts, "604800")), 0, ""},
		{"os_duration with plus sign", "GET", sign(priv, "GET", objPath, q(testKid, ts, "%2B60")), 0, ""},
		{"signed 60 s in the future (leeway edge)", "GET", sign(priv, "GET", objPath, q(testKid, "2026-07-23T10:01:00Z", "0")), 0, ""},
		{"signed 61 s in the future", "GET", sign(priv, "GET", objPath, q(testKid, "2026-07-23T10:01:01Z", "3600")), 401, detailVerify},
		{"expires exactly now", "GET", sign(priv, "GET", objPath, q(testKid, "2026-07-23T09:00:00Z", "3600")), 0, ""},
		{"expired a second ago", "GET", sign(priv, "GET", objPath, q(testKid, "2026-07-23T08:59:59Z", "3600")), 401, detailVerify},
		{"window checked before the signature", "GET", objPath + "?" + q(testKid, "2000-01-01T00:00:00Z", "60") + "&os_sig=!!", 401, detailVerify},
		{"signature by another key", "GET", sign(otherPriv, "GET", objPath, q(testKid, ts, "3600")), 401, detailVerify},
		{"signature not base64", "GET", objPath + "?" + q(testKid, ts, "3600") + "&os_sig=!!", 401, detailVerify},
		{"signature padded", "GET", good + "%3D%3D", 401, detailVerify},
		{"signature with newline", "GET", objPath + "?" + q(testKid, ts, "3600") + "&os_sig=" + goodSig[:40] + "%0A" + goodSig[40:], 401, detailVerify},
		{"signature too short", "GET", objPath + "?" + q(testKid, ts, "3600") + "&os_sig=" + goodSig[:84], 401, detailVerify},
		{"signature empty", "GET", objPath + "?" + q(testKid, ts, "3600") + "&os_sig=", 401, detailVerify},
		{"key lacks object.read", "GET", sign(priv, "GET", objPath, q("writer", ts, "3600")), 403, detailNotAllowed},
		{"bad signature beats missing read permission", "GET", sign(otherPriv, "GET", objPath, q("writer", ts, "3600")), 401, detailVerify},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g, err := v.Authenticate(req(tc.method, tc.target))
			if tc.status == 0 {
				if err != nil || g.Kind != PresignedGrant {
					t.Fatalf("got %+v, %v; want a pre-signed grant", g, err)
				}
				return
			}
			if g != nil {
				t.Fatalf("got grant %+v", g)
			}
			wantError(t, err, tc.status, tc.detail)
		})
	}
}

// TestPresign_Tampering changes one signed byte at a time; every change must fail with 401.
func TestPresign_Tampering(t *testing.T) {
	pub, priv := testKey(1)
	v := mustVerifier(t, testDirectory(pub), Options{Enforce: true})
	path := "/v1/objects/attachments/org=17;project=42/a%2Fb"
	target := presigned(t, priv, testKid, "GET", path, "x=1&Y=two", time.Hour)
	if _, err := v.Authenticate(req("GET", target)); err != nil {
		t.Fatalf("untampered: %v", err)
	}
	sigAt := strings.Index(target, "os_sig=") + len("os_sig=")
	flipSig := []byte(target)
	if flipSig[sigAt+10] == 'A' {
		flipSig[sigAt+10] = 'B'
	} else {
		flipSig[sigAt+10] = 'A'
	}
	tampered := []struct{ name, target string }{
		{"path scope", strings.Replace(target, "org=17", "org=18", 1)},
		{"path key", strings.Replace(target, "/a%2Fb", "/a%2Fc", 1)},
		{"path hex case", strings.Replace(target, "%2F", "%2f", 1)},
		{"path decoded", strings.Replace(target, "%2F", "/", 1)},
		{"path prefix", strings.Replace(target, "/v1/", "/v2/", 1)},
		{"path trailing slash", strings.Replace(target, "/a%2Fb?", "/a%2Fb/?", 1)},
		{"query value", strings.Replace(target, "x=1", "x=2", 1)},
		{"query value case", strings.Replace(target, "Y=two", "Y=TWO", 1)},
		{"query param added", target + "&z=1"},
		{"query param removed", strings.Replace(target, "x=1&", "", 1)},
		{"query value encoded differently", strings.Replace(target, "x=1", "x=%31", 1)},
		{"duration", strings.Replace(target, "os_duration=3600", "os_duration=3601", 1)},
		{"duration shortened", strings.Replace(target, "os_duration=3600", "os_duration=60", 1)},
		{"timestamp", strings.Replace(target, "10%3A00%3A00Z", "10%3A00%3A01Z", 1)},
		{"timestamp same instant, other spelling", strings.Replace(target, "10%3A00%3A00Z", "10:00:00Z", 1)},
		{"kid", strings.Replace(target, "os_kid=test_kid", "os_kid=test%5Fkid", 1)},
		{"signature byte", string(flipSig)},
	}
	for _, tc := range tampered {
		t.Run(tc.name, func(t *testing.T) {
			if tc.target == target {
				t.Fatal("test did not change the target")
			}
			_, err := v.Authenticate(req("GET", tc.target))
			wantError(t, err, 401, detailVerify)
		})
	}
	// Case of parameter names does not matter to the signature, only to parsing: OS_SIG is not
	// the signature parameter, so the request is a plain token request without a token.
	_, err := v.Authenticate(req("GET", strings.Replace(target, "os_sig=", "OS_SIG=", 1)))
	wantError(t, err, 400, detailNoToken)
	// A signature for another method does not verify for GET.
	put := wire.CanonicalRequest("PUT", path, "os_kid=test_kid&os_timestamp=2026-07-23T10%3A00%3A00Z&os_duration=3600")
	sig := ed25519.Sign(priv, []byte(put))
	_, err = v.Authenticate(req("GET", path+"?os_kid=test_kid&os_timestamp=2026-07-23T10%3A00%3A00Z&os_duration=3600&os_sig="+b64.EncodeToString(sig)))
	wantError(t, err, 401, detailVerify)
}

func TestPresign_Rotation(t *testing.T) {
	pubOld, privOld := testKey(1)
	pubNew, _ := testKey(2)
	keys := KeyDirectory{testKid: {Versions: []ed25519.PublicKey{pubNew, pubOld}, MaxPermissions: []Permission{Read}}}
	v := mustVerifier(t, keys, Options{Enforce: true})
	if _, err := v.Authenticate(req("GET", presigned(t, privOld, testKid, "GET", objPath, "", time.Minute))); err != nil {
		t.Fatalf("old version rejected: %v", err)
	}
}

func TestPresignQuery_Refuses(t *testing.T) {
	_, priv := testKey(1)
	tests := []struct {
		name, kid, method, path, query string
		validity                       time.Duration
		priv                           ed25519.PrivateKey
	}{
		{"PUT", testKid, "PUT", objPath, "", time.Hour, priv},
		{"no kid", "", "GET", objPath, "", time.Hour, priv},
		{"over a week", testKid, "GET", objPath, "", wire.MaxPresignValidity + time.Second, priv},
		{"negative", testKid, "GET", objPath, "", -time.Second, priv},
		{"fractional seconds", testKid, "GET", objPath, "", 1500 * time.Millisecond, priv},
		{"query has os_kid", testKid, "GET", objPath, "os_kid=x", time.Hour, priv},
		{"query has OS_SIG", testKid, "GET", objPath, "a=1&OS_SIG=x", time.Hour, priv},
		{"path has a query", testKid, "GET", objPath + "?a=1", "", time.Hour, priv},
		{"short key", testKid, "GET", objPath, "", time.Hour, priv[:5]},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if q, err := PresignQuery(tc.priv, tc.kid, tc.method, tc.path, tc.query, t0, tc.validity); err == nil {
				t.Fatalf("got %q, want an error", q)
			}
		})
	}
	// A kid needing escapes round-trips.
	pub, _ := testKey(1)
	kid := "team a/b&c"
	v := mustVerifier(t, KeyDirectory{kid: {Versions: []ed25519.PublicKey{pub}, MaxPermissions: []Permission{Read}}}, Options{Enforce: true})
	target := presigned(t, priv, kid, "HEAD", objPath, "", time.Minute)
	if !strings.Contains(target, "os_kid=team%20a%2Fb%26c&") {
		t.Fatalf("kid not escaped: %s", target)
	}
	g, err := v.Authenticate(req("HEAD", target))
	if err != nil || g.KeyID != kid {
		t.Fatalf("got %+v, %v", g, err)
	}
}
