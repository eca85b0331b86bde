package auth

import (
	"crypto/ed25519"
	"errors"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stratastore/strata/functions/wire"
)

// fuzzVerifier accepts tokens and pre-signed URLs made with testKey(1) under testKid.
func fuzzVerifier(t testing.TB) *Verifier {
	pub, _ := testKey(1)
	v, err := NewVerifier(testDirectory(pub), Options{Enforce: true, Now: fixedClock(t0)})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// FuzzVerifyToken feeds arbitrary tokens to the JWT verifier. Properties: it never panics;
// it returns a grant or a 400/401 error, never both; a grant needs a signature that verifies
// over the exact signing input; and replacing any one byte of an accepted token makes it fail
// (strict base64 makes every encoding canonical, and Ed25519 with canonical S is strongly
// unforgeable).
func FuzzVerifyToken(f *testing.F) {
	_, priv := testKey(1)
	_, other := testKey(2)
	f.Add(mustSignFuzz(priv, validClaims()), uint(5), byte('x'))
	f.Add(mustSignFuzz(other, validClaims()), uint(0), byte('e'))
	f.Add(signRaw(priv, map[string]any{"alg": "none", "kid": testKid}, validPayload()), uint(7), byte('A'))
	f.Add("abc.def.ghi", uint(1), byte('.'))
	v := fuzzVerifier(f)
	pub, _ := testKey(1)

	f.Fuzz(func(t *testing.T, token string, pos uint, b byte) {
		g, e := v.verifyToken(token)
		if (g == nil) == (e == nil) {
			t.Fatalf("grant %v and error %v", g, e)
		}
		if e != nil {
			if e.Status != 400 && e.Status != 401 {
				t.Fatalf("status %d", e.Status)
			}
			return
		}
		parts := strings.Split(token, ".")
		sig, err := decodeB64(parts[2])
		if err != nil || !verifyStrict(pub, []byte(parts[0]+"."+parts[1]), sig) {
			t.Fatalf("accepted a token whose signature does not verify: %q", token)
		}
		if g.Kind != TokenGrant || g.KeyID != testKid {
			t.Fatalf("grant %+v", g)
		}
		for _, p := range g.Permissions {
			if !p.Valid() {
				t.Fatalf("invalid permission %q granted", p)
			}
		}
		i := int(pos % uint(len(token)))
		if token[i] == b {
			return
		}
		mutated := token[:i] + string([]byte{b}) + token[i+1:]
		if g2, _ := v.verifyToken(mutated); g2 != nil {
			t.Fatalf("accepted %q after changing byte %d of %q", mutated, i, token)
		}
	})
}

func mustSignFuzz(priv ed25519.PrivateKey, c Claims) string {
	tok, err := SignToken(priv, testKid, c)
	if err != nil {
		panic(err)
	}
	return tok
}

// FuzzPresign signs arbitrary paths and queries, checks that the verifier accepts them, and
// that changing any one byte of the path or query either fails or leaves the canonical request
// and the parameters unchanged (only the case of a non-reserved parameter name may change).
func FuzzPresign(f *testing.F) {
	f.Add("/v1/objects/attachments/org=17;project=42/foo/bar", "x=1&Y=two", uint32(3600), uint(10), byte('Z'))
	f.Add("/v1/objects/u/_/a%2Fb", "", uint32(0), uint(3), byte('%'))
	f.Add("/p", "a&&b=%41", uint32(604800), uint(60), byte('0'))
	v := fuzzVerifier(f)
	_, priv := testKey(1)
	f.Fuzz(func(t *testing.T, path, query string, validity uint32, pos uint, b byte) {
		q, err := PresignQuery(priv, testKid, "GET", path, query, t0, time.Duration(validity)*time.Second)
		if err != nil {
			return
		}
		g, e := v.verifyPresigned("GET", path, q)
		if e != nil || g.Kind != PresignedGrant {
			t.Fatalf("fresh pre-signed URL %q?%q refused: %v", path, q, e)
		}
		target := path + "?" + q
		i := int(pos % uint(len(target)))
		if target[i] == b || i == len(path) {
			return
		}
		mutated := target[:i] + string([]byte{b}) + target[i+1:]
		mp, mq, ok := strings.Cut(mutated, "?")
		if !ok || strings.Contains(mp, "?") {
			return
		}
		if g2, _ := v.verifyPresigned("GET", mp, mq); g2 != nil {
			p1, _ := parsePresignParams(q)
			p2, _ := parsePresignParams(mq)
			if wire.CanonicalRequest("GET", mp, mq) != wire.CanonicalRequest("GET", path, q) || p1 != p2 {
				t.Fatalf("accepted %q after changing byte %d of %q", mutated, i, target)
			}
		}
	})
}

// FuzzPresignParams feeds arbitrary raw queries to the pre-signed parameter parser and the
// whole pre-signed check. Properties: no panic; the parser accepts only when all four
// parameters appear exactly once; the check returns a grant or an error with a status from
// the table.
func FuzzPresignParams(f *testing.F) {
	f.Add("os_kid=test_kid&os_timestamp=2026-07-23T10%3A00%3A00Z&os_duration=3600&os_sig=AAAA")
	f.Add("os_sig&os_kid=&os_timestamp=&os_duration=")
	f.Add("os_kid=a&os_kid=b&os_timestamp=2026-07-23 10:00:00&os_duration=+1&os_sig=x")
	v := fuzzVerifier(f)
	f.Fuzz(func(t *testing.T, query string) {
		p, ok := parsePresignParams(query)
		counts := map[string]int{}
		for piece := range strings.SplitSeq(query, "&") {
			name, _, _ := strings.Cut(piece, "=")
			counts[name]++
		}
		once := counts[wire.ParamKeyID] == 1 && counts[wire.ParamTimestamp] == 1 && counts[wire.ParamDuration] == 1 && counts[wire.ParamSignature] == 1
		if ok && !once {
			t.Fatalf("parsed %q without each parameter exactly once", query)
		}
		if ok && p.signedAt.Year() < 1970 {
			t.Fatalf("timestamp %v before 1970", p.signedAt)
		}
		if hasPresignSignature(query) != (counts[wire.ParamSignature] > 0) {
			t.Fatalf("os_sig detection disagrees for %q", query)
		}
		for _, method := range []string{"GET", "POST"} {
			g, e := v.verifyPresigned(method, "/p", query)
			if (g == nil) == (e == nil) {
				t.Fatalf("grant %v and error %v", g, e)
			}
			if e != nil && !slices.Contains([]int{400, 401, 403}, e.Status) {
				t.Fatalf("status %d", e.Status)
			}
		}
	})
}

var strictRFC3339 = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:[0-5]\d(\.\d{1,9})?Z$`)

// FuzzParseRFC3339Weak checks the timestamp parser: no panic, UTC results from 1970 on, a
// round trip through a canonical spelling, and agreement with time.Parse on strict RFC 3339.
func FuzzParseRFC3339Weak(f *testing.F) {
	f.Add("2026-07-23T10:00:00Z")
	f.Add("1985-04-12T23:20:50.52+00:00")
	f.Add("2016-12-31 23:59:60")
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := parseRFC3339Weak(s)
		if strictRFC3339.MatchString(s) && s[:4] >= "1970" {
			want, err := time.Parse(time.RFC3339Nano, s)
			if (err == nil) != ok || (ok && !got.Equal(want)) {
				t.Fatalf("%q: got %v, %v; time.Parse %v, %v", s, got, ok, want, err)
			}
		}
		if !ok {
			return
		}
		if s[:4] < "1970" {
			t.Fatalf("%q: year before 1970 accepted", s)
		}
		if got.Location() != time.UTC || got.Year() < 1970 || got.Year() > 9999 {
			t.Fatalf("%q parsed to %v", s, got)
		}
		again, ok := parseRFC3339Weak(got.Format("2006-01-02T15:04:05.999999999Z"))
		if !ok || !again.Equal(got) {
			t.Fatalf("%q: round trip %v -> %v, %v", s, got, again, ok)
		}
	})
}

// FuzzParseKeyDirectory feeds arbitrary STRATA_AUTH_KEYS text to the parser, over an
// in-memory file system holding one good and one bad key file. Properties: no panic; on
// success every kid is non-empty with at least one valid version and known, distinct
// permissions, and NewVerifier accepts the result.
func FuzzParseKeyDirectory(f *testing.F) {
	pub, _ := testKey(1)
	good, _ := MarshalPublicKeyPEM(pub)
	files := map[string][]byte{"good.pem": good, "bad.pem": []byte("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")}
	readFile := func(p string) ([]byte, error) {
		if b, ok := files[p]; ok {
			return b, nil
		}
		return nil, errors.New("no such file")
	}
	f.Add(`{"relay":{"key_files":["good.pem"],"max_permissions":["object.read"]}}`)
	f.Add(`{"a":{"key_files":["bad.pem"]},"b":{"public_keys":[""]}}`)
	f.Add(``)
	f.Fuzz(func(t *testing.T, text string) {
		dir, err := parseKeyDirectory(text, readFile)
		if err != nil {
			if dir != nil {
				t.Fatal("directory returned with an error")
			}
			return
		}
		for kid, k := range dir {
			if kid == "" || len(k.Versions) == 0 {
				t.Fatalf("kid %q with %d versions", kid, len(k.Versions))
			}
			for _, pub := range k.Versions {
				if err := checkPublicKey(pub); err != nil {
					t.Fatalf("kid %q: %v", kid, err)
				}
			}
			if !slices.Equal(k.MaxPermissions, normalizePermissions(k.MaxPermissions)) {
				t.Fatalf("kid %q: permissions %v not normalized", kid, k.MaxPermissions)
			}
		}
		if _, err := NewVerifier(dir, Options{Enforce: len(dir) > 0}); err != nil {
			t.Fatalf("NewVerifier refused a parsed directory: %v", err)
		}
	})
}
