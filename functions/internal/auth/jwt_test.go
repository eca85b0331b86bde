package auth

import (
	"bytes"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"filippo.io/edwards25519"
	"github.com/stratastore/strata/tiered/object"
)

const (
	detailNoToken     = "auth error: bad request: No authorization token provided"
	detailMissingKid  = "auth error: bad request: JWT header is missing `kid` field"
	detailBadQuery    = "auth error: bad request: invalid query string"
	detailUnknownKey  = "auth error: unknown key"
	detailDecode      = "auth error: failed to decode token: "
	detailVerify      = "auth error: failed to verify token"
	detailNotAllowed  = "auth error: operation not allowed"
	detailPresignVerb = "auth error: presigned URLs are not supported for this method"
	detailPresignArgs = "auth error: bad request: presigned URL has missing or invalid parameters"
	detailPresignWeek = "auth error: bad request: presigned URL validity exceeds the maximum of 1 week"
)

var objCtx = object.Context{
	Usecase: "attachments",
	Scopes:  []object.Scope{{Name: "org", Value: "17"}, {Name: "project", Value: "42"}},
}

// authToken authenticates a request carrying tok in x-os-auth.
func authToken(v *Verifier, tok string) (*Grant, error) {
	return v.Authenticate(req("GET", "/v1/objects/attachments/org=17;project=42/key", "x-os-auth", "Bearer "+tok))
}

func TestSignToken_RoundTrip(t *testing.T) {
	pub, priv := testKey(1)
	v := mustVerifier(t, testDirectory(pub), Options{Enforce: true})
	c := validClaims()
	c.Audience, c.Issuer, c.NotBefore = "objectstore", "relay", t0
	g, err := authToken(v, mustSign(t, priv, testKid, c))
	if err != nil {
		t.Fatalf("Authenticate: %v", err)
	}
	want := &Grant{Kind: TokenGrant, KeyID: testKid, Usecase: "attachments",
		Scopes: map[string]string{"org": "17", "project": "42"}, Permissions: []Permission{Read, Write, Delete}}
	if !reflect.DeepEqual(g, want) {
		t.Fatalf("grant %#v\nwant %#v", g, want)
	}
	for _, p := range AllPermissions {
		if err := g.Authorize(objCtx, p); err != nil {
			t.Errorf("Authorize(%s): %v", p, err)
		}
	}
}

func TestSignToken_Header(t *testing.T) {
	_, priv := testKey(1)
	tok := mustSign(t, priv, "kid-1", validClaims())
	hb, err := decodeB64(strings.Split(tok, ".")[0])
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(hb), `{"alg":"EdDSA","typ":"JWT","kid":"kid-1"}`; got != want {
		t.Fatalf("header %s, want %s", got, want)
	}
}

func TestSignToken_Refuses(t *testing.T) {
	_, priv := testKey(1)
	tests := []struct {
		name string
		priv ed25519.PrivateKey
		kid  string
		edit func(*Claims)
	}{
		{"short key", priv[:10], testKid, func(*Claims) {}},
		{"no kid", priv, "", func(*Claims) {}},
		{"no usecase", priv, testKid, func(c *Claims) { c.Usecase = "" }},
		{"no expiry", priv, testKid, func(c *Claims) { c.Expires = time.Time{} }},
		{"unknown permission", priv, testKid, func(c *Claims) { c.Permissions = []Permission{"object.list"} }},
		{"reserved scope", priv, testKid, func(c *Claims) { c.Scopes = map[string]string{"os:usecase": "x"} }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := validClaims()
			tc.edit(&c)
			if tok, err := SignToken(tc.priv, tc.kid, c); err == nil {
				t.Fatalf("got token %q, want an error", tok)
			}
		})
	}
}

// TestAuthenticate_ErrorTable walks every JWT row of the error table in functions/API.md §10.5
// (the pre-signed rows are in presign_test.go) plus the claim checks of §10.3.
func TestAuthenticate_ErrorTable(t *testing.T) {
	pub, priv := testKey(1)
	_, otherPriv := testKey(2)
	v := mustVerifier(t, testDirectory(pub), Options{Enforce: true})
	with := func(edit func(map[string]any)) map[string]any {
		p := validPayload()
		edit(p)
		return p
	}
	valid := signRaw(priv, edHeader(testKid), validPayload())
	parts := strings.Split(valid, ".")

	tests := []struct {
		name   string
		token  string
		status int
		detail string
	}{
		{"missing kid", signRaw(priv, map[string]any{"alg": "EdDSA"}, validPayload()), 400, detailMissingKid},
		{"null kid", signRaw(priv, map[string]any{"alg": "EdDSA", "kid": nil}, validPayload()), 400, detailMissingKid},
		{"missing kid with a known non-EdDSA alg", signRaw(priv, map[string]any{"alg": "HS256"}, validPayload()), 400, detailMissingKid},
		{"unknown kid", signRaw(priv, edHeader("nope"), validPayload()), 401, detailUnknownKey},
		{"unknown kid beats wrong alg", signRaw(priv, map[string]any{"alg": "RS256", "kid": "nope"}, validPayload()), 401, detailUnknownKey},
		{"kid not a string", signRaw(priv, map[string]any{"alg": "EdDSA", "kid": 7}, validPayload()), 401, detailDecode + "JSON error: invalid type for `kid`, expected a string"},
		{"alg none", signRaw(priv, map[string]any{"alg": "none", "kid": testKid}, validPayload()), 401, detailDecode + "JSON error: unknown variant `none`"},
		{"alg none unsigned", parts[0][:0] + b64.EncodeToString([]byte(`{"alg":"none","kid":"test_kid"}`)) + "." + parts[1] + ".", 401, detailDecode + "JSON error: unknown variant `none`"},
		{"alg HS256", signRaw(priv, map[string]any{"alg": "HS256", "kid": testKid}, validPayload()), 401, detailDecode + "InvalidAlgorithm"},
		{"alg eddsa lower case", signRaw(priv, map[string]any{"alg": "eddsa", "kid": testKid}, validPayload()), 401, detailDecode + "JSON error: unknown variant `eddsa`"},
		{"alg missing", signRaw(priv, map[string]any{"kid": testKid}, validPayload()), 401, detailDecode + "JSON error: missing field `alg`"},
		{"header not an object", signRaw(priv, []string{"EdDSA"}, validPayload()), 401, detailDecode + "JSON error: invalid type: sequence, expected an object"},
		{"header duplicate alg", signRaw(priv, `{"alg":"EdDSA","alg":"EdDSA","kid":"test_kid"}`, validPayload()), 401, detailDecode + "JSON error: duplicate field `alg`"},
		{"not a JWS", "abcdef", 401, detailDecode + "InvalidToken"},
		{"two segments", parts[0] + "." + parts[1], 401, detailDecode + "InvalidToken"},
		{"four segments", valid + ".x", 401, detailDecode + "InvalidToken"},
		{"empty token", "", 401, detailDecode + "InvalidToken"},
		{"header not base64", "!!." + parts[1] + "." + parts[2], 401, detailDecode + "Base64 error: invalid base64url in header"},
		{"signature padded", valid + "==", 401, detailDecode + "Base64 error: invalid base64url in signature"},
		{"signature with line break", parts[0] + "." + parts[1] + "." + parts[2][:40] + "\t" + parts[2][40:], 401, detailDecode + "Base64 error: invalid base64url in signature"},
		{"signature by another key", signRaw(otherPriv, edHeader(testKid), validPayload()), 401, detailVerify},
		{"signature truncated", parts[0] + "." + parts[1] + "." + parts[2][:40], 401, detailVerify},
		{"signature empty", parts[0] + "." + parts[1] + ".", 401, detailVerify},
		{"payload tampered", parts[0] + "." + b64.EncodeToString([]byte(`{"res":{"os:usecase":"attachments"},"permissions":["object.read"],"exp":9999999999}`)) + "." + parts[2], 401, detailVerify},
		{"header tampered", b64.EncodeToString([]byte(`{"alg":"EdDSA","kid":"test_kid"}`)) + "." + parts[1] + "." + parts[2], 401, detailVerify},
		{"expired", signRaw(priv, edHeader(testKid), with(func(p map[string]any) { p["exp"] = t0.Unix() - 61 })), 401, detailDecode + "ExpiredSignature"},
		{"exp missing", signRaw(priv, edHeader(testKid), with(func(p map[string]any) { delete(p, "exp") })), 401, detailDecode + "Missing required claim: exp"},
		{"exp null", signRaw(priv, edHeader(testKid), with(func(p map[string]any) { p["exp"] = nil })), 401, detailDecode + "Missing required claim: exp"},
		{"exp a string", signRaw(priv, edHeader(testKid), with(func(p map[string]any) { p["exp"] = "9999999999" })), 401, detailDecode + "JSON error: invalid type for `exp`, expected a NumericDate"},
		{"nbf in the future", signRaw(priv, edHeader(testKid), with(func(p map[string]any) { p["nbf"] = t0.Unix() + 61 })), 401, detailDecode + "ImmatureSignature"},
		{"nbf a string", signRaw(priv, edHeader(testKid), with(func(p map[string]any) { p["nbf"] = "0" })), 401, detailDecode + "JSON error: invalid type for `nbf`, expected a NumericDate"},
		{"iss other", signRaw(priv, edHeader(testKid), with(func(p map[string]any) { p["iss"] = "getsentry" })), 401, detailDecode + "InvalidIssuer"},
		{"iss not a string", signRaw(priv, edHeader(testKid), with(func(p map[string]any) { p["iss"] = []string{"relay"} })), 401, detailDecode + "InvalidIssuer"},
		{"aud other", signRaw(priv, edHeader(testKid), with(func(p map[string]any) { p["aud"] = "storage" })), 401, detailDecode + "InvalidAudience"},
		{"aud array without objectstore", signRaw(priv, edHeader(testKid), with(func(p map[string]any) { p["aud"] = []string{"a", "b"} })), 401, detailDecode + "InvalidAudience"},
		{"aud empty array", signRaw(priv, edHeader(testKid), with(func(p map[string]any) { p["aud"] = []string{} })), 401, detailDecode + "InvalidAudience"},
		{"res missing", signRaw(priv, edHeader(testKid), with(func(p map[string]any) { delete(p, "res") })), 401, detailDecode + "JSON error: missing field `res`"},
		{"res not an object", signRaw(priv, edHeader(testKid), with(func(p map[string]any) { p["res"] = "attachments" })), 401, detailDecode + "JSON error: res: invalid type: string \"attachments\", expected an object"},
		{"usecase missing", signRaw(priv, edHeader(testKid), with(func(p map[string]any) { p["res"] = map[string]any{"org": "17"} })), 401, detailDecode + "JSON error: missing field `os:usecase`"},
		{"usecase not a string", signRaw(priv, edHeader(testKid), with(func(p map[string]any) { p["res"] = map[string]any{"os:usecase": 1} })), 401, detailDecode + "JSON error: invalid type for `os:usecase`, expected a string"},
		{"scope value a number", signRaw(priv, edHeader(testKid), with(func(p map[string]any) { p["res"] = map[string]any{"os:usecase": "attachments", "org": 17} })), 401, detailDecode + "JSON error: invalid type for scope `org`, expected a string"},
		{"permissions missing", signRaw(priv, edHeader(testKid), with(func(p map[string]any) { delete(p, "permissions") })), 401, detailDecode + "JSON error: missing field `permissions`"},
		{"permission unknown", signRaw(priv, edHeader(testKid), with(func(p map[string]any) { p["permissions"] = []string{"object.read", "object.list"} })), 401, detailDecode + "JSON error: unknown variant `object.list`, expected one of `object.read`, `object.write`, `object.delete`"},
		{"permissions not an array", signRaw(priv, edHeader(testKid), with(func(p map[string]any) { p["permissions"] = "object.read" })), 401, detailDecode + "JSON error: invalid type for `permissions`, expected an array of strings"},
		{"claims not JSON", signRaw(priv, edHeader(testKid), "not json"), 401, detailDecode + "JSON error: invalid character 'o' in literal null (expecting 'u')"},
		{"claims invalid UTF-8", signRaw(priv, edHeader(testKid), []byte("{\"res\":\"\xff\"}")), 401, detailDecode + "JSON error: invalid UTF-8"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g, err := authToken(v, tc.token)
			if g != nil {
				t.Fatalf("got grant %#v with error %v", g, err)
			}
			wantError(t, err, tc.status, tc.detail)
		})
	}
}

// TestAuthenticate_ErrorCauses pins the JSON body of two rows against the wire format.
func TestAuthenticate_ErrorCauses(t *testing.T) {
	pub, priv := testKey(1)
	v := mustVerifier(t, testDirectory(pub), Options{Enforce: true})
	_, err := v.Authenticate(req("GET", "/v1/objects/u/_/k"))
	if got, want := string(asAuthError(t, err).Body()), `{"detail":"auth error: bad request: No authorization token provided","causes":["bad request: No authorization token provided"]}`; got != want {
		t.Fatalf("body %s\nwant %s", got, want)
	}
	p := validPayload()
	p["exp"] = t0.Unix() - 3600
	_, err = authToken(v, signRaw(priv, edHeader(testKid), p))
	if got, want := string(asAuthError(t, err).Body()), `{"detail":"auth error: failed to decode token: ExpiredSignature","causes":["failed to decode token: ExpiredSignature","ExpiredSignature"]}`; got != want {
		t.Fatalf("body %s\nwant %s", got, want)
	}
	if got := (&Error{Status: 403, Detail: "x"}).Body(); string(got) != `{"detail":"x"}` {
		t.Fatalf("empty causes not omitted: %s", got)
	}
}

func TestAuthenticate_AlgConfusionHMAC(t *testing.T) {
	// The classic attack: sign with HS256 using the public key as the HMAC secret.
	pub, _ := testKey(1)
	v := mustVerifier(t, testDirectory(pub), Options{Enforce: true})
	pubPEM, _ := MarshalPublicKeyPEM(pub)
	for _, secret := range [][]byte{pub, pubPEM} {
		in := b64.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT","kid":"test_kid"}`)) + "." +
			b64.EncodeToString([]byte(`{"res":{"os:usecase":"attachments"},"permissions":["object.read"],"exp":9999999999}`))
		m := hmac.New(sha256.New, secret)
		m.Write([]byte(in))
		_, err := authToken(v, in+"."+b64.EncodeToString(m.Sum(nil)))
		wantError(t, err, 401, detailDecode+"InvalidAlgorithm")
	}
}

func TestAuthenticate_ClaimBoundaries(t *testing.T) {
	pub, priv := testKey(1)
	tests := []struct {
		name string
		opts Options
		edit func(map[string]any)
		ok   bool
	}{
		{"exp exactly now-60 (leeway edge)", Options{}, func(p map[string]any) { p["exp"] = t0.Unix() - 60 }, true},
		{"exp now-61", Options{}, func(p map[string]any) { p["exp"] = t0.Unix() - 61 }, false},
		{"exp fractional inside leeway", Options{}, func(p map[string]any) { p["exp"] = float64(t0.Unix()) - 59.5 }, true},
		{"custom leeway 10s, exp now-10", Options{Leeway: 10 * time.Second}, func(p map[string]any) { p["exp"] = t0.Unix() - 10 }, true},
		{"custom leeway 10s, exp now-11", Options{Leeway: 10 * time.Second}, func(p map[string]any) { p["exp"] = t0.Unix() - 11 }, false},
		{"no leeway, exp now", Options{Leeway: -1}, func(p map[string]any) { p["exp"] = t0.Unix() }, true},
		{"no leeway, exp now-1", Options{Leeway: -1}, func(p map[string]any) { p["exp"] = t0.Unix() - 1 }, false},
		{"nbf now+60", Options{}, func(p map[string]any) { p["nbf"] = t0.Unix() + 60 }, true},
		{"nbf now+61", Options{}, func(p map[string]any) { p["nbf"] = t0.Unix() + 61 }, false},
		{"nbf in the past", Options{}, func(p map[string]any) { p["nbf"] = t0.Unix() - 3600 }, true},
		{"nbf null", Options{}, func(p map[string]any) { p["nbf"] = nil }, true},
		{"nbf leeway 5s, nbf now+5", Options{NotBeforeLeeway: 5 * time.Second}, func(p map[string]any) { p["nbf"] = t0.Unix() + 5 }, true},
		{"nbf leeway 5s, nbf now+6", Options{NotBeforeLeeway: 5 * time.Second}, func(p map[string]any) { p["nbf"] = t0.Unix() + 6 }, false},
		{"iat ignored", Options{}, func(p map[string]any) { p["iat"] = t0.Unix() + 99999 }, true},
		{"iss sentry", Options{}, func(p map[string]any) { p["iss"] = "sentry" }, true},
		{"iss relay", Options{}, func(p map[string]any) { p["iss"] = "relay" }, true},
		{"aud objectstore", Options{}, func(p map[string]any) { p["aud"] = "objectstore" }, true},
		{"aud array containing objectstore", Options{}, func(p map[string]any) { p["aud"] = []string{"x", "objectstore"} }, true},
		{"extra claims ignored", Options{}, func(p map[string]any) { p["sub"] = 12; p["jti"] = "x" }, true},
		{"empty permissions", Options{}, func(p map[string]any) { p["permissions"] = []string{} }, true},
		{"duplicate permissions", Options{}, func(p map[string]any) { p["permissions"] = []string{"object.read", "object.read"} }, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.opts.Enforce = true
			v := mustVerifier(t, testDirectory(pub), tc.opts)
			p := validPayload()
			tc.edit(p)
			g, err := authToken(v, signRaw(priv, edHeader(testKid), p))
			if tc.ok && err != nil {
				t.Fatalf("got %v, want success", err)
			}
			if !tc.ok && (err == nil || asAuthError(t, err).Status != http.StatusUnauthorized) {
				t.Fatalf("got grant %v err %v, want 401", g, err)
			}
		})
	}
}

func TestAuthenticate_KeyVersionsInOrder(t *testing.T) {
	pubOld, privOld := testKey(1)
	pubNew, privNew := testKey(2)
	_, privGone := testKey(3)
	keys := KeyDirectory{testKid: {Versions: []ed25519.PublicKey{pubNew, pubOld}, MaxPermissions: AllPermissions}}
	v := mustVerifier(t, keys, Options{Enforce: true})
	for _, priv := range []ed25519.PrivateKey{privNew, privOld} {
		if _, err := authToken(v, mustSign(t, priv, testKid, validClaims())); err != nil {
			t.Fatalf("version rejected: %v", err)
		}
	}
	_, err := authToken(v, mustSign(t, privGone, testKid, validClaims()))
	wantError(t, err, 401, detailVerify)

	// A signature that matches the second version but carries bad claims fails with the claim
	// error: only a signature mismatch moves on to the next version.
	p := validPayload()
	p["exp"] = t0.Unix() - 3600
	_, err = authToken(v, signRaw(privOld, edHeader(testKid), p))
	wantError(t, err, 401, detailDecode+"ExpiredSignature")
}

func TestAuthenticate_PermissionIntersection(t *testing.T) {
	pub, priv := testKey(1)
	tests := []struct {
		max, token, want []Permission
	}{
		{[]Permission{Read}, []Permission{Read, Write, Delete}, []Permission{Read}},
		{AllPermissions, []Permission{Delete}, []Permission{Delete}},
		{[]Permission{Write, Delete}, []Permission{Read}, []Permission{}},
		{nil, AllPermissions, []Permission{}},
		{[]Permission{Delete, Read}, []Permission{Read, Delete, Write}, []Permission{Read, Delete}},
	}
	for _, tc := range tests {
		keys := KeyDirectory{testKid: {Versions: []ed25519.PublicKey{pub}, MaxPermissions: tc.max}}
		v := mustVerifier(t, keys, Options{Enforce: true})
		c := validClaims()
		c.Permissions = tc.token
		g, err := authToken(v, mustSign(t, priv, testKid, c))
		if err != nil {
			t.Fatalf("max %v token %v: %v", tc.max, tc.token, err)
		}
		if !reflect.DeepEqual(g.Permissions, tc.want) {
			t.Fatalf("max %v token %v: got %v want %v", tc.max, tc.token, g.Permissions, tc.want)
		}
		for _, p := range AllPermissions {
			err := g.Authorize(objCtx, p)
			allowed := false
			for _, w := range tc.want {
				allowed = allowed || w == p
			}
			if allowed != (err == nil) {
				t.Fatalf("max %v token %v: Authorize(%s) = %v", tc.max, tc.token, p, err)
			}
			if err != nil {
				wantError(t, err, 403, detailNotAllowed)
			}
		}
	}
}

// smallOrderSignature forges a signature with R = identity, which only the key holder can
// make: S = H(R || A || M)·a. Go's ed25519.Verify accepts it; strict verification must not.
func smallOrderSignature(priv ed25519.PrivateKey, msg []byte) []byte {
	h := sha512.Sum512(priv.Seed())
	a, err := new(edwards25519.Scalar).SetBytesWithClamping(h[:32])
	if err != nil {
		panic(err)
	}
	r := edwards25519.NewIdentityPoint().Bytes()
	kh := sha512.New()
	kh.Write(r)
	kh.Write(priv.Public().(ed25519.PublicKey))
	kh.Write(msg)
	k, err := new(edwards25519.Scalar).SetUniformBytes(kh.Sum(nil))
	if err != nil {
		panic(err)
	}
	s := new(edwards25519.Scalar).Multiply(k, a)
	return append(r, s.Bytes()...)
}

func TestVerifyStrict_RejectsSmallOrderR(t *testing.T) {
	pub, priv := testKey(1)
	msg := []byte("message")
	sig := smallOrderSignature(priv, msg)
	if !ed25519.Verify(pub, msg, sig) {
		t.Fatal("test setup: the forged signature should pass non-strict verification")
	}
	if verifyStrict(pub, msg, sig) {
		t.Fatal("verifyStrict accepted a small-order R")
	}
	if !verifyStrict(pub, msg, ed25519.Sign(priv, msg)) {
		t.Fatal("verifyStrict rejected a normal signature")
	}
	// Non-canonical S (S + L) is refused too.
	good := ed25519.Sign(priv, msg)
	bad := bytes.Clone(good)
	l := []byte{0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10}
	var carry uint16
	for i := 0; i < 32; i++ {
		sum := uint16(bad[32+i]) + uint16(l[i]) + carry
		bad[32+i], carry = byte(sum), sum>>8
	}
	if carry == 0 && verifyStrict(pub, msg, bad) {
		t.Fatal("verifyStrict accepted a non-canonical S")
	}

	// Through the token path.
	v := mustVerifier(t, testDirectory(pub), Options{Enforce: true})
	in := b64.EncodeToString([]byte(`{"alg":"EdDSA","kid":"test_kid"}`)) + "." + strings.Split(signRaw(priv, edHeader(testKid), validPayload()), ".")[1]
	_, err := authToken(v, in+"."+b64.EncodeToString(smallOrderSignature(priv, []byte(in))))
	wantError(t, err, 401, detailVerify)
}

func TestAuthenticate_HeaderPrecedence(t *testing.T) {
	pub, priv := testKey(1)
	_, otherPriv := testKey(2)
	v := mustVerifier(t, testDirectory(pub), Options{Enforce: true})
	good := mustSign(t, priv, testKid, validClaims())
	c := validClaims()
	c.Usecase = "other"
	goodOther := mustSign(t, priv, testKid, c) // valid, for another usecase: tells sources apart
	bad := mustSign(t, otherPriv, testKid, validClaims())
	path := "/v1/objects/attachments/org=17;project=42/key"

	tests := []struct {
		name    string
		target  string
		headers []string
		usecase string // the grant's usecase on success
		detail  string // the error otherwise
	}{
		{"x-os-auth", path, []string{"x-os-auth", "Bearer " + good}, "attachments", ""},
		{"authorization", path, []string{"Authorization", "Bearer " + good}, "attachments", ""},
		{"query", path + "?os_auth=" + good, nil, "attachments", ""},
		{"prefix case-insensitive", path, []string{"x-os-auth", "bEARER " + good}, "attachments", ""},
		{"x-os-auth wins over authorization", path, []string{"x-os-auth", "Bearer " + good, "Authorization", "Bearer " + goodOther}, "attachments", ""},
		{"header wins over query", path + "?os_auth=" + goodOther, []string{"Authorization", "Bearer " + good}, "attachments", ""},
		{"bad x-os-auth shadows good authorization", path, []string{"x-os-auth", "Bearer " + bad, "Authorization", "Bearer " + good}, "", detailVerify},
		{"x-os-auth without Bearer does not fall back to authorization", path, []string{"x-os-auth", good, "Authorization", "Bearer " + good}, "", detailNoToken},
		{"x-os-auth without Bearer falls back to query", path + "?os_auth=" + goodOther, []string{"x-os-auth", good, "Authorization", "Bearer " + good}, "other", ""},
		{"authorization without Bearer falls back to query", path + "?os_auth=" + good, []string{"Authorization", good}, "attachments", ""},
		{"Basic auth is no token", path, []string{"Authorization", "Basic dXNlcjpwYXNz"}, "", detailNoToken},
		{"Bearer without space", path, []string{"x-os-auth", "Bearer" + good}, "", detailNoToken},
		{"two spaces keep the second in the token", path, []string{"x-os-auth", "Bearer  " + good}, "", detailDecode + "Base64 error: invalid base64url in header"},
		{"empty bearer token", path, []string{"x-os-auth", "Bearer "}, "", detailDecode + "InvalidToken"},
		{"non-ASCII value is no token", path, []string{"x-os-auth", "Bearer " + good + "\u00e9"}, "", detailNoToken},
		{"first x-os-auth value counts", path, []string{"x-os-auth", "Bearer " + good, "x-os-auth", "Bearer " + bad}, "attachments", ""},
		{"no token", path, nil, "", detailNoToken},
		{"os_auth name percent-encoded", path + "?os%5Fauth=" + good, nil, "attachments", ""},
		{"OS_AUTH is another parameter", path + "?OS_AUTH=" + good, nil, "", detailNoToken},
		{"os_auth repeated", path + "?os_auth=" + good + "&os_auth=" + good, nil, "", detailBadQuery},
		{"os_auth among other parameters", path + "?a=1&&os_auth=" + good + "&b", nil, "attachments", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g, err := v.Authenticate(req("GET", tc.target, tc.headers...))
			if tc.detail != "" {
				if err == nil {
					t.Fatalf("got grant %+v, want %q", g, tc.detail)
				}
				if got := asAuthError(t, err).Detail; got != tc.detail {
					t.Fatalf("got %q, want %q", got, tc.detail)
				}
				return
			}
			if err != nil {
				t.Fatalf("got %v, want a grant for %q", err, tc.usecase)
			}
			if g.Usecase != tc.usecase {
				t.Fatalf("grant usecase %q, want %q (wrong token source)", g.Usecase, tc.usecase)
			}
		})
	}
}

func TestFormDecode(t *testing.T) {
	tests := []struct{ in, want string }{
		{"abc", "abc"},
		{"a+b", "a b"},
		{"a%20b", "a b"},
		{"%7e%7E", "~~"},
		{"100%", "100%"},
		{"%zz", "%zz"},
		{"%4", "%4"},
		{"%e9", "\uFFFD"},
		{"%C3%A9", "é"},
	}
	for _, tc := range tests {
		if got := formDecode(tc.in); got != tc.want {
			t.Errorf("formDecode(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
