package auth

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Claims is what a token grants, for SignToken.
type Claims struct {
	// Usecase is the "os:usecase" the token is valid for. Required.
	Usecase string
	// Scopes maps scope names to the value the token allows, or "*" for any value.
	Scopes map[string]string
	// Permissions the token asks for; the verifier intersects them with the key's maximum.
	Permissions []Permission
	// Expires is the exp claim, in whole seconds. Required.
	Expires time.Time
	// NotBefore is the optional nbf claim, in whole seconds; zero omits it.
	NotBefore time.Time
	// Audience and Issuer are the optional aud and iss claims; empty omits them.
	Audience, Issuer string
}

// usecaseClaim is the member of "res" that names the usecase.
const usecaseClaim = "os:usecase"

// The algorithm names of the jsonwebtoken crate's Algorithm enum. A token whose alg is none of
// these does not decode at all; one that is known but not EdDSA decodes and is refused after
// the key lookup. Only EdDSA is ever verified.
var knownAlgorithms = map[string]bool{
	"HS256": true, "HS384": true, "HS512": true,
	"ES256": true, "ES384": true,
	"RS256": true, "RS384": true, "RS512": true,
	"PS256": true, "PS384": true, "PS512": true,
	"EdDSA": true,
}

// b64 is base64url without padding, as JWS and pre-signed signatures use.
var b64 = base64.RawURLEncoding.Strict()

// decodeB64 decodes base64url without padding, strictly: only the 64 alphabet characters
// (encoding/base64 would skip CR and LF), and non-zero trailing bits are refused.
func decodeB64(s string) ([]byte, error) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return nil, fmt.Errorf("invalid byte %#02x at offset %d", c, i)
		}
	}
	return b64.DecodeString(s)
}

// SignToken returns a compact JWS (header {"alg":"EdDSA","typ":"JWT","kid":kid}) carrying c,
// signed with priv. It refuses claims the verifier could never accept: no kid, no usecase, no
// expiry, an unknown permission, or a scope named "os:usecase".
func SignToken(priv ed25519.PrivateKey, kid string, c Claims) (string, error) {
	if len(priv) != ed25519.PrivateKeySize {
		return "", fmt.Errorf("auth: Ed25519 private key is %d bytes, want %d", len(priv), ed25519.PrivateKeySize)
	}
	if kid == "" {
		return "", errors.New("auth: token needs a key id")
	}
	if c.Usecase == "" {
		return "", errors.New("auth: token needs a usecase")
	}
	if c.Expires.IsZero() {
		return "", errors.New("auth: token needs an expiry")
	}
	res := map[string]string{usecaseClaim: c.Usecase}
	for name, value := range c.Scopes {
		if name == usecaseClaim {
			return "", fmt.Errorf("auth: scope name %q is reserved", usecaseClaim)
		}
		res[name] = value
	}
	perms := make([]string, 0, len(c.Permissions))
	for _, p := range c.Permissions {
		if !p.Valid() {
			return "", fmt.Errorf("auth: unknown permission %q", p)
		}
		perms = append(perms, string(p))
	}
	payload := struct {
		Res         map[string]string `json:"res"`
		Permissions []string          `json:"permissions"`
		Exp         int64             `json:"exp"`
		Nbf         *int64            `json:"nbf,omitempty"`
		Aud         string            `json:"aud,omitempty"`
		Iss         string            `json:"iss,omitempty"`
	}{Res: res, Permissions: perms, Exp: c.Expires.Unix(), Aud: c.Audience, Iss: c.Issuer}
	if !c.NotBefore.IsZero() {
		nbf := c.NotBefore.Unix()
		payload.Nbf = &nbf
	}
	header := struct {
		Alg string `json:"alg"`
		Typ string `json:"typ"`
		Kid string `json:"kid"`
	}{"EdDSA", "JWT", kid}
	hb, err := json.Marshal(header)
	if err != nil {
		return "", err
	}
	pb, err := json.Marshal(payload)
	if err != nil {
		return "", err
	}
	signingInput := b64.EncodeToString(hb) + "." + b64.EncodeToString(pb)
	sig := ed25519.Sign(priv, []byte(signingInput))
	return signingInput + "." + b64.EncodeToString(sig), nil
}

// tokenHeader is the part of the JWS header that matters.
type tokenHeader struct {
	alg    string
	kid    string
	hasKid bool
}

func parseTokenHeader(segment string) (tokenHeader, *Error) {
	var h tokenHeader
	b, err := decodeB64(segment)
	if err != nil {
		return h, errDecode(reasonBase64("header"))
	}
	m, err := decodeObject(b)
	if err != nil {
		return h, errDecode(reasonJSON(err.Error()))
	}
	if m == nil {
		return h, errDecode(reasonJSON("invalid type: null, expected a JWT header object"))
	}
	alg, ok := m["alg"]
	if !ok {
		return h, errDecode(reasonJSON("missing field `alg`"))
	}
	h.alg, ok = decodeString(alg)
	if !ok {
		return h, errDecode(reasonJSON("invalid type for `alg`, expected a string"))
	}
	if !knownAlgorithms[h.alg] {
		return h, errDecode(reasonJSON(fmt.Sprintf("unknown variant `%s`", h.alg)))
	}
	if kid, ok := m["kid"]; ok && !isNull(kid) {
		h.kid, ok = decodeString(kid)
		if !ok {
			return h, errDecode(reasonJSON("invalid type for `kid`, expected a string"))
		}
		h.hasKid = true
	}
	return h, nil
}

// verifyToken checks a compact JWS and returns the usecase, scopes and effective permissions
// it grants. See the package documentation for the order of checks.
func (v *Verifier) verifyToken(token string) (*Grant, *Error) {
	if c, ok := v.cache.get(token); ok {
		// The signature of these exact bytes was verified before; only the time claims can
		// have changed their verdict since.
		if e := v.checkTimes(c.times); e != nil {
			return nil, e
		}
		g := *c.grant
		return &g, nil
	}
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, errDecode(reasonInvalidToken)
	}
	h, e := parseTokenHeader(parts[0])
	if e != nil {
		return nil, e
	}
	if !h.hasKid {
		return nil, errMissingKid()
	}
	key, ok := v.keys[h.kid]
	if !ok {
		return nil, errUnknownKey()
	}
	if h.alg != "EdDSA" {
		return nil, errDecode(reasonInvalidAlgorithm)
	}
	sig, err := decodeB64(parts[2])
	if err != nil {
		return nil, errDecode(reasonBase64("signature"))
	}
	signingInput := []byte(token[:len(parts[0])+1+len(parts[1])])
	verified := false
	for _, pub := range key.Versions {
		if verifyStrict(pub, signingInput, sig) {
			verified = true
			break
		}
	}
	if !verified {
		return nil, errVerify()
	}
	payload, err := decodeB64(parts[1])
	if err != nil {
		return nil, errDecode(reasonBase64("claims"))
	}
	claims, err := decodeObject(payload)
	if err != nil {
		return nil, errDecode(reasonJSON(err.Error()))
	}
	if claims == nil {
		return nil, errDecode(reasonJSON("invalid type: null, expected the claims object"))
	}
	times, e := v.checkRegisteredClaims(claims)
	if e != nil {
		return nil, e
	}
	usecase, scopes, reason := parseRes(claims)
	if reason != "" {
		return nil, errDecode(reasonJSON(reason))
	}
	perms, reason := parsePermissions(claims)
	if reason != "" {
		return nil, errDecode(reasonJSON(reason))
	}
	g := &Grant{
		Kind:        TokenGrant,
		KeyID:       h.kid,
		Usecase:     usecase,
		Scopes:      scopes,
		Permissions: intersectPermissions(perms, key.MaxPermissions),
	}
	v.cache.put(token, verifiedToken{grant: g, times: times})
	out := *g
	return &out, nil
}

// verifiedToken is a token whose signature and claims passed verification: its grant and
// its decoded time claims, the only verdict that can change with the clock.
type verifiedToken struct {
	grant *Grant
	times timeClaims
}

// timeClaims are a token's decoded exp and nbf.
type timeClaims struct {
	exp, nbf float64
	hasNbf   bool
}

// checkTimes applies checkRegisteredClaims' exp and nbf checks to decoded claims, with the
// same errors, at the clock's current time: what a cached token must pass again on every
// use (iss and aud do not depend on the time, and passed when it was cached).
func (v *Verifier) checkTimes(t timeClaims) *Error {
	now := float64(v.now().Unix())
	if t.exp < now-v.leeway.Seconds() {
		return errDecode(reasonExpired)
	}
	if t.hasNbf && t.nbf > now+v.nbfLeeway.Seconds() {
		return errDecode(reasonImmature)
	}
	return nil
}

// tokenCacheSize bounds the verified-token cache.
const tokenCacheSize = 4096

// tokenCache remembers tokens whose signature verified, so that a client reusing a token
// (a static token, or one signed per minute rather than per request) costs one Ed25519
// verification instead of one per request. Entries are keyed by the whole token, so any
// changed byte misses; the time claims (decoded once, kept with the grant) are checked
// again on every hit with the server's clock. The key directory is
// fixed for a Verifier's life, so a verified signature stays verified. When full, about a
// quarter of the entries are dropped at random.
type tokenCache struct {
	mu sync.Mutex
	m  map[string]verifiedToken
}

func (c *tokenCache) get(token string) (verifiedToken, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	vt, ok := c.m[token]
	return vt, ok
}

func (c *tokenCache) put(token string, vt verifiedToken) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = make(map[string]verifiedToken)
	}
	if len(c.m) >= tokenCacheSize {
		n := 0
		for k := range c.m { // map iteration order is random
			delete(c.m, k)
			if n++; n >= tokenCacheSize/4 {
				break
			}
		}
	}
	c.m[token] = vt
}

// checkRegisteredClaims validates exp, nbf, iss and aud, in the jsonwebtoken crate's order,
// and returns the decoded exp and nbf.
func (v *Verifier) checkRegisteredClaims(claims map[string]json.RawMessage) (timeClaims, *Error) {
	var t timeClaims
	expRaw, ok := claims["exp"]
	if !ok || isNull(expRaw) {
		return t, errDecode(reasonMissingExp)
	}
	if t.exp, ok = decodeNumericDate(expRaw); !ok {
		return t, errDecode(reasonJSON("invalid type for `exp`, expected a NumericDate"))
	}
	if nbfRaw, ok := claims["nbf"]; ok && !isNull(nbfRaw) {
		if t.nbf, ok = decodeNumericDate(nbfRaw); !ok {
			// An exp in the past is reported before a malformed nbf, as before.
			if e := v.checkTimes(timeClaims{exp: t.exp}); e != nil {
				return t, e
			}
			return t, errDecode(reasonJSON("invalid type for `nbf`, expected a NumericDate"))
		}
		t.hasNbf = true
	}
	if e := v.checkTimes(t); e != nil {
		return t, e
	}
	if issRaw, ok := claims["iss"]; ok && !isNull(issRaw) {
		iss, ok := decodeString(issRaw)
		if !ok || (iss != "sentry" && iss != "relay") {
			return t, errDecode(reasonInvalidIssuer)
		}
	}
	if audRaw, ok := claims["aud"]; ok && !isNull(audRaw) {
		if !audienceOK(audRaw) {
			return t, errDecode(reasonInvalidAudience)
		}
	}
	return t, nil
}

// decodeNumericDate decodes a JSON number of seconds since the epoch.
func decodeNumericDate(raw json.RawMessage) (float64, bool) {
	s := strings.TrimSpace(string(raw))
	if s == "" || !(s[0] == '-' || '0' <= s[0] && s[0] <= '9') {
		return 0, false
	}
	var n json.Number
	if err := json.Unmarshal(raw, &n); err != nil {
		return 0, false
	}
	f, err := strconv.ParseFloat(n.String(), 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return 0, false
	}
	return f, true
}

func audienceOK(raw json.RawMessage) bool {
	if s, ok := decodeString(raw); ok {
		return s == "objectstore"
	}
	if ss, ok := decodeStrings(raw); ok {
		for _, s := range ss {
			if s == "objectstore" {
				return true
			}
		}
	}
	return false
}

// parseRes decodes the res claim: a required string "os:usecase" and string scope values.
// A non-empty reason describes what is wrong.
func parseRes(claims map[string]json.RawMessage) (usecase string, scopes map[string]string, reason string) {
	raw, ok := claims["res"]
	if !ok {
		return "", nil, "missing field `res`"
	}
	m, err := decodeObject(raw)
	if err != nil {
		return "", nil, "res: " + err.Error()
	}
	if m == nil {
		return "", nil, "res: invalid type: null, expected an object"
	}
	ucRaw, ok := m[usecaseClaim]
	if !ok {
		return "", nil, "missing field `os:usecase`"
	}
	if usecase, ok = decodeString(ucRaw); !ok {
		return "", nil, "invalid type for `os:usecase`, expected a string"
	}
	scopes = make(map[string]string, len(m)-1)
	for name, v := range m {
		if name == usecaseClaim {
			continue
		}
		s, ok := decodeString(v)
		if !ok {
			return "", nil, fmt.Sprintf("invalid type for scope `%s`, expected a string", name)
		}
		scopes[name] = s
	}
	return usecase, scopes, ""
}

// parsePermissions decodes the required permissions claim: an array of known permissions.
func parsePermissions(claims map[string]json.RawMessage) ([]Permission, string) {
	raw, ok := claims["permissions"]
	if !ok {
		return nil, "missing field `permissions`"
	}
	ss, ok := decodeStrings(raw)
	if !ok {
		return nil, "invalid type for `permissions`, expected an array of strings"
	}
	perms := make([]Permission, 0, len(ss))
	for _, s := range ss {
		p := Permission(s)
		if !p.Valid() {
			return nil, fmt.Sprintf("unknown variant `%s`, expected one of `object.read`, `object.write`, `object.delete`", s)
		}
		perms = append(perms, p)
	}
	return perms, ""
}
