package auth

import (
	"bytes"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strings"

	"filippo.io/edwards25519"
)

// Key is one configured key id: its public key versions, tried in order when verifying, and
// the most a credential signed with it may be granted.
type Key struct {
	Versions       []ed25519.PublicKey
	MaxPermissions []Permission
}

// KeyDirectory maps key ids to keys.
type KeyDirectory map[string]Key

// maxKeyFileSize bounds a key file; a PEM public key is about 113 bytes.
const maxKeyFileSize = 64 << 10

// keyEntry is the JSON form of one key id in STRATA_AUTH_KEYS.
type keyEntry struct {
	KeyFiles       []string // "key_files"
	PublicKeys     []string // "public_keys"
	MaxPermissions []string // "max_permissions"
}

// ParseKeyDirectory parses the STRATA_AUTH_KEYS JSON:
//
//	{"<kid>": {"key_files": ["/path/v2.pem", "/path/v1.pem"],
//	           "max_permissions": ["object.read", "object.write", "object.delete"]}}
//
// Each key file holds one Ed25519 public key in PEM SPKI form. Versions are the key files in
// order, followed by any PEM strings given inline in "public_keys" (handy where mounting files
// is awkward; public keys are not secret). A kid needs at least one version. max_permissions
// defaults to none, as in objectstore, so a key without it verifies but grants nothing.
// Empty or blank text is an empty directory. Unknown fields, unknown permissions and unreadable
// or malformed key files are errors that name the kid and the file.
func ParseKeyDirectory(jsonText string) (KeyDirectory, error) {
	return parseKeyDirectory(jsonText, readKeyFile)
}

func readKeyFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, errors.New("not a regular file")
	}
	b, err := io.ReadAll(io.LimitReader(f, maxKeyFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxKeyFileSize {
		return nil, fmt.Errorf("larger than %d bytes", maxKeyFileSize)
	}
	return b, nil
}

func parseKeyDirectory(jsonText string, readFile func(string) ([]byte, error)) (KeyDirectory, error) {
	if strings.TrimSpace(jsonText) == "" {
		return KeyDirectory{}, nil
	}
	raw, err := decodeObject([]byte(jsonText))
	if err != nil {
		return nil, fmt.Errorf("auth keys: want a JSON object of key ids: %w", err)
	}
	if raw == nil {
		return nil, errors.New("auth keys: want a JSON object of key ids, got null")
	}
	kids := make([]string, 0, len(raw))
	for kid := range raw {
		kids = append(kids, kid)
	}
	sort.Strings(kids) // deterministic: the first bad kid is always the same one
	dir := make(KeyDirectory, len(raw))
	for _, kid := range kids {
		if kid == "" {
			return nil, errors.New("auth keys: empty key id")
		}
		e, err := decodeKeyEntry(raw[kid])
		if err != nil {
			return nil, fmt.Errorf("auth keys: key %q: %w", kid, err)
		}
		var k Key
		for _, path := range e.KeyFiles {
			b, err := readFile(path)
			if err != nil {
				return nil, fmt.Errorf("auth keys: key %q: reading key file %q: %w", kid, path, err)
			}
			pub, err := ParsePublicKeyPEM(b)
			if err != nil {
				return nil, fmt.Errorf("auth keys: key %q: key file %q: %w", kid, path, err)
			}
			k.Versions = append(k.Versions, pub)
		}
		for i, s := range e.PublicKeys {
			pub, err := ParsePublicKeyPEM([]byte(s))
			if err != nil {
				return nil, fmt.Errorf("auth keys: key %q: public_keys[%d]: %w", kid, i, err)
			}
			k.Versions = append(k.Versions, pub)
		}
		if len(k.Versions) == 0 {
			return nil, fmt.Errorf("auth keys: key %q: no key_files or public_keys", kid)
		}
		for _, s := range e.MaxPermissions {
			p, err := ParsePermission(s)
			if err != nil {
				return nil, fmt.Errorf("auth keys: key %q: max_permissions: %w", kid, err)
			}
			k.MaxPermissions = append(k.MaxPermissions, p)
		}
		k.MaxPermissions = normalizePermissions(k.MaxPermissions)
		dir[kid] = k
	}
	return dir, nil
}

// decodeKeyEntry decodes one kid's settings, refusing unknown or repeated fields.
func decodeKeyEntry(raw json.RawMessage) (keyEntry, error) {
	var e keyEntry
	m, err := decodeObject(raw)
	if err != nil {
		return e, err
	}
	if m == nil {
		return e, errors.New("want an object, got null")
	}
	for name, v := range m {
		var dst *[]string
		switch name {
		case "key_files":
			dst = &e.KeyFiles
		case "public_keys":
			dst = &e.PublicKeys
		case "max_permissions":
			dst = &e.MaxPermissions
		default:
			return e, fmt.Errorf("unknown field %q (want key_files, public_keys, max_permissions)", name)
		}
		if isNull(v) {
			continue
		}
		ss, ok := decodeStrings(v)
		if !ok {
			return e, fmt.Errorf("%s: want an array of strings", name)
		}
		*dst = ss
	}
	return e, nil
}

// ParsePublicKeyPEM parses one Ed25519 public key in PEM SPKI form ("-----BEGIN PUBLIC
// KEY-----", as written by `openssl pkey -pubout`). Only whitespace may surround the block.
// Keys of small order are refused: any signature verifies under them.
func ParsePublicKeyPEM(b []byte) (ed25519.PublicKey, error) {
	block, rest := pem.Decode(bytes.TrimSpace(b))
	if block == nil {
		return nil, errors.New("no PEM block found (want -----BEGIN PUBLIC KEY-----)")
	}
	if block.Type != "PUBLIC KEY" {
		return nil, fmt.Errorf("PEM block is %q, want \"PUBLIC KEY\" (an Ed25519 SPKI public key)", block.Type)
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return nil, errors.New("unexpected data after the PEM block")
	}
	key, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parsing SPKI public key: %w", err)
	}
	pub, ok := key.(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("public key is %T, want Ed25519", key)
	}
	if err := checkPublicKey(pub); err != nil {
		return nil, err
	}
	return pub, nil
}

// checkPublicKey refuses keys that are not points on the curve or have small order.
func checkPublicKey(pub ed25519.PublicKey) error {
	if len(pub) != ed25519.PublicKeySize {
		return fmt.Errorf("Ed25519 public key is %d bytes, want %d", len(pub), ed25519.PublicKeySize)
	}
	if _, err := new(edwards25519.Point).SetBytes(pub); err != nil {
		return errors.New("Ed25519 public key is not a valid curve point")
	}
	if isSmallOrder(pub) {
		return errors.New("Ed25519 public key has small order (it would accept forged signatures)")
	}
	return nil
}

// isSmallOrder reports whether enc encodes a point of order dividing 8. An encoding that is no
// point at all is not small order; verification rejects it anyway.
func isSmallOrder(enc []byte) bool {
	p, err := new(edwards25519.Point).SetBytes(enc)
	if err != nil {
		return false
	}
	return new(edwards25519.Point).MultByCofactor(p).Equal(edwards25519.NewIdentityPoint()) == 1
}

// verifyStrict verifies an Ed25519 signature like ed25519-dalek's verify_strict: besides the
// standard check (which already demands a canonical S), a small-order R is refused. Public keys
// were checked when they were loaded.
func verifyStrict(pub ed25519.PublicKey, msg, sig []byte) bool {
	if len(pub) != ed25519.PublicKeySize || len(sig) != ed25519.SignatureSize {
		return false
	}
	if isSmallOrder(sig[:32]) {
		return false
	}
	return ed25519.Verify(pub, msg, sig)
}

// MarshalPublicKeyPEM encodes pub in PEM SPKI form, the format ParsePublicKeyPEM reads.
func MarshalPublicKeyPEM(pub ed25519.PublicKey) ([]byte, error) {
	if err := checkPublicKey(pub); err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}

// ParsePrivateKeyPEM parses an Ed25519 private key in PEM PKCS#8 form ("-----BEGIN PRIVATE
// KEY-----", as written by `openssl genpkey -algorithm Ed25519`), for signing.
func ParsePrivateKeyPEM(b []byte) (ed25519.PrivateKey, error) {
	block, rest := pem.Decode(bytes.TrimSpace(b))
	if block == nil {
		return nil, errors.New("no PEM block found (want -----BEGIN PRIVATE KEY-----)")
	}
	if block.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("PEM block is %q, want \"PRIVATE KEY\" (an Ed25519 PKCS#8 key)", block.Type)
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return nil, errors.New("unexpected data after the PEM block")
	}
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parsing PKCS#8 private key: %w", err)
	}
	priv, ok := key.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("private key is %T, want Ed25519", key)
	}
	return priv, nil
}

// MarshalPrivateKeyPEM encodes priv in PEM PKCS#8 form, the format ParsePrivateKeyPEM reads.
func MarshalPrivateKeyPEM(priv ed25519.PrivateKey) ([]byte, error) {
	if len(priv) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("Ed25519 private key is %d bytes, want %d", len(priv), ed25519.PrivateKeySize)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// clone returns a deep copy of k with normalized permissions.
func (k Key) clone() Key {
	c := Key{MaxPermissions: normalizePermissions(k.MaxPermissions)}
	for _, v := range k.Versions {
		c.Versions = append(c.Versions, slices.Clone(v))
	}
	return c
}
