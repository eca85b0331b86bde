package client

import (
	"context"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/stratastore/strata/functions/wire"
)

// Permission is an operation class a token grants, by its wire name.
type Permission = wire.Permission

// The permissions objectstore knows. Reads (GET, HEAD, batch get/head) need PermRead;
// inserts and every multipart operation need PermWrite; deletes need PermDelete.
const (
	// PermRead allows GET, HEAD and batch get/head.
	PermRead = wire.PermRead
	// PermWrite allows inserts and every multipart operation.
	PermWrite = wire.PermWrite
	// PermDelete allows deletes.
	PermDelete = wire.PermDelete
)

// AllPermissions lists every permission.
var AllPermissions = wire.Permissions()

// ParsePermission accepts a permission by its wire name ("object.read") or short name
// ("read", "write", "delete").
func ParsePermission(s string) (Permission, error) {
	p := Permission(s)
	if !strings.HasPrefix(s, "object.") {
		p = Permission("object." + s)
	}
	if !p.Valid() {
		return "", invalidf("unknown permission %q (want read, write or delete)", s)
	}
	return p, nil
}

// TokenScope is what the token of one request must grant: the request's usecase and
// scopes.
type TokenScope struct {
	Usecase string
	Scopes  []Scope
}

// TokenSource supplies the bearer token of each request. An empty token sends none.
type TokenSource interface {
	Token(ctx context.Context, scope TokenScope) (string, error)
}

// StaticToken is a TokenSource that returns the same token for every request.
type StaticToken string

// Token returns the token itself.
func (t StaticToken) Token(context.Context, TokenScope) (string, error) { return string(t), nil }

// DefaultTokenTTL is how long a token KeySigner signs for one request stays valid, as in
// objectstore's Python client.
const DefaultTokenTTL = time.Minute

// KeySigner is a TokenSource that signs a fresh EdDSA token for every request with an
// Ed25519 private key, naming the request's usecase and scopes. It also signs pre-signed
// URLs.
type KeySigner struct {
	key         ed25519.PrivateKey
	kid         string
	permissions []Permission
	// TTL is the lifetime of each token; zero means DefaultTokenTTL.
	TTL time.Duration
	now func() time.Time
}

// NewKeySigner returns a KeySigner for priv, known to the server as kid, whose tokens carry
// perms (every permission when none are given).
func NewKeySigner(priv ed25519.PrivateKey, kid string, perms ...Permission) (*KeySigner, error) {
	if len(priv) != ed25519.PrivateKeySize {
		return nil, invalidf("Ed25519 private key is %d bytes, want %d", len(priv), ed25519.PrivateKeySize)
	}
	if kid == "" {
		return nil, invalidf("a key id is required")
	}
	if len(perms) == 0 {
		perms = AllPermissions
	}
	for _, p := range perms {
		if !p.Valid() {
			return nil, invalidf("unknown permission %q", p)
		}
	}
	return &KeySigner{key: priv, kid: kid, permissions: slices.Clone(perms), now: time.Now}, nil
}

// KeyID returns the key id the signer names in its tokens and URLs.
func (k *KeySigner) KeyID() string { return k.kid }

// Token signs a token for scope that expires after the signer's TTL.
func (k *KeySigner) Token(_ context.Context, scope TokenScope) (string, error) {
	ttl := k.TTL
	if ttl <= 0 {
		ttl = DefaultTokenTTL
	}
	claims := Claims{Usecase: scope.Usecase, Permissions: k.permissions, Expires: k.now().Add(ttl)}
	if len(scope.Scopes) > 0 {
		claims.Scopes = make(map[string]string, len(scope.Scopes))
		for _, sc := range scope.Scopes {
			if _, dup := claims.Scopes[sc.Name]; !dup {
				claims.Scopes[sc.Name] = sc.Value
			}
		}
	}
	return SignToken(k.key, k.kid, claims)
}

// Claims is what a token grants.
type Claims struct {
	// Usecase is the "os:usecase" the token is valid for. Required.
	Usecase string
	// Scopes maps scope names to the allowed value, or "*" for any value.
	Scopes map[string]string
	// Permissions the token grants; the server intersects them with the key's maximum.
	Permissions []Permission
	// Expires is the exp claim (whole seconds, rounded up). Required.
	Expires time.Time
}

// b64 is base64url without padding, as JWS and pre-signed signatures use.
var b64 = base64.RawURLEncoding

// SignToken returns a compact JWS with header {"alg":"EdDSA","kid":kid,"typ":"JWT"} and
// claims {"res":{"os:usecase":..., scopes...},"permissions":[...],"exp":...}, signed with
// priv: the token objectstore's servers verify.
func SignToken(priv ed25519.PrivateKey, kid string, c Claims) (string, error) {
	switch {
	case len(priv) != ed25519.PrivateKeySize:
		return "", invalidf("Ed25519 private key is %d bytes, want %d", len(priv), ed25519.PrivateKeySize)
	case kid == "":
		return "", invalidf("a key id is required")
	case c.Usecase == "":
		return "", invalidf("a token needs a usecase")
	case c.Expires.IsZero():
		return "", invalidf("a token needs an expiry")
	}
	res := map[string]string{"os:usecase": c.Usecase}
	for name, value := range c.Scopes {
		if name == "os:usecase" {
			return "", invalidf("scope name %q is reserved", name)
		}
		res[name] = value
	}
	perms := make([]string, 0, len(c.Permissions))
	for _, p := range c.Permissions {
		if !p.Valid() {
			return "", invalidf("unknown permission %q", p)
		}
		perms = append(perms, string(p))
	}
	exp := c.Expires.Unix()
	if c.Expires.Nanosecond() != 0 {
		exp++
	}
	header, _ := json.Marshal(struct {
		Alg string `json:"alg"`
		Kid string `json:"kid"`
		Typ string `json:"typ"`
	}{"EdDSA", kid, "JWT"})
	payload, err := json.Marshal(struct {
		Res         map[string]string `json:"res"`
		Permissions []string          `json:"permissions"`
		Exp         int64             `json:"exp"`
	}{res, perms, exp})
	if err != nil {
		return "", err
	}
	input := b64.EncodeToString(header) + "." + b64.EncodeToString(payload)
	return input + "." + b64.EncodeToString(ed25519.Sign(priv, []byte(input))), nil
}

// MaxPresignValidity is the longest validity the server accepts for a pre-signed URL.
const MaxPresignValidity = wire.MaxPresignValidity

// PresignedQuery returns the raw query that pre-signs method (GET or HEAD) of rawPath for
// validity (rounded up to whole seconds), signed at signedAt: os_kid, os_timestamp (its
// colons literal), os_duration and os_sig. rawPath must be the path exactly as it will be
// sent.
func (k *KeySigner) PresignedQuery(method, rawPath string, signedAt time.Time, validity time.Duration) (string, error) {
	if wire.CanonicalMethod(method) != "GET" {
		return "", invalidf("pre-signed URLs support GET and HEAD only, not %q", method)
	}
	secs := int64((validity + time.Second - 1) / time.Second)
	if validity <= 0 || time.Duration(secs)*time.Second > MaxPresignValidity {
		return "", invalidf("pre-signed URL validity %v is outside (0, %v]", validity, MaxPresignValidity)
	}
	q := wire.ParamKeyID + "=" + wire.EscapeQueryValue(k.kid) +
		"&" + wire.ParamTimestamp + "=" + signedAt.UTC().Format(wire.PresignTimestampLayout) +
		"&" + wire.ParamDuration + "=" + strconv.FormatInt(secs, 10)
	return wire.AppendSignature(k.key, method, rawPath, q), nil
}

// CanonicalRequest returns the string a pre-signed URL signs (wire.CanonicalRequest, which
// the server verifies against): the method in ASCII upper case (HEAD as GET), the raw path,
// and the canonical query, separated by newlines. The canonical query is the raw query's
// non-empty '&'-separated pieces with names ASCII lower-cased, os_sig dropped, sorted
// byte-wise and joined with '&'.
func CanonicalRequest(method, rawPath, rawQuery string) string {
	return wire.CanonicalRequest(method, rawPath, rawQuery)
}

// ParsePrivateKeyPEM parses an Ed25519 private key in PEM PKCS#8 form ("-----BEGIN PRIVATE
// KEY-----", as written by MarshalKeyPairPEM or `openssl genpkey -algorithm Ed25519`).
func ParsePrivateKeyPEM(b []byte) (ed25519.PrivateKey, error) {
	block, _ := pem.Decode(b)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, errors.New("client: no PEM \"PRIVATE KEY\" block (want an Ed25519 PKCS#8 key)")
	}
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("client: parsing the private key: %w", err)
	}
	priv, ok := key.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("client: the private key is %T, want Ed25519", key)
	}
	return priv, nil
}

// MarshalKeyPairPEM encodes priv as a PEM PKCS#8 private key and its public half as a PEM
// SPKI public key, the form the server's key files use.
func MarshalKeyPairPEM(priv ed25519.PrivateKey) (privPEM, pubPEM []byte, err error) {
	if len(priv) != ed25519.PrivateKeySize {
		return nil, nil, invalidf("Ed25519 private key is %d bytes, want %d", len(priv), ed25519.PrivateKeySize)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, nil, err
	}
	pubDER, err := x509.MarshalPKIXPublicKey(priv.Public())
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER}), nil
}
