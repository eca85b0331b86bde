package auth

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"filippo.io/edwards25519"
)

// anchorTestKeyB64 is the DER of the public test key in objectstore's fixtures
// (functions/API.md §10.7).
const anchorTestKeyB64 = "MCowBQYDK2VwAyEAiVUSuYRtiKvCEMPLn6PAIAvm6gstMvH5gCEEsppTyiU="

func anchorTestKeyPEM() []byte {
	return []byte("-----BEGIN PUBLIC KEY-----\n" + anchorTestKeyB64 + "\n-----END PUBLIC KEY-----\n")
}

func TestParsePublicKeyPEM_AnchorTestKey(t *testing.T) {
	pub, err := ParsePublicKeyPEM(anchorTestKeyPEM())
	if err != nil {
		t.Fatalf("ParsePublicKeyPEM: %v", err)
	}
	der, _ := base64.StdEncoding.DecodeString(anchorTestKeyB64)
	// SPKI for Ed25519 is the fixed 12-byte prefix followed by the 32 key bytes.
	prefix := []byte{0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00}
	if !bytes.Equal(der[:12], prefix) {
		t.Fatalf("fixture DER prefix %x", der[:12])
	}
	if !bytes.Equal(pub, der[12:]) {
		t.Fatalf("key bytes %x, want %x", pub, der[12:])
	}
	out, err := MarshalPublicKeyPEM(pub)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out, anchorTestKeyPEM()) {
		t.Fatalf("re-encoded PEM differs:\n%s\nwant\n%s", out, anchorTestKeyPEM())
	}
}

func TestPEMRoundTrip_GeneratedKeys(t *testing.T) {
	for i := 0; i < 5; i++ {
		pub, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		pubPEM, err := MarshalPublicKeyPEM(pub)
		if err != nil {
			t.Fatal(err)
		}
		gotPub, err := ParsePublicKeyPEM(pubPEM)
		if err != nil {
			t.Fatalf("ParsePublicKeyPEM(%s): %v", pubPEM, err)
		}
		if !gotPub.Equal(pub) {
			t.Fatalf("public key round trip: got %x want %x", gotPub, pub)
		}
		privPEM, err := MarshalPrivateKeyPEM(priv)
		if err != nil {
			t.Fatal(err)
		}
		gotPriv, err := ParsePrivateKeyPEM(privPEM)
		if err != nil {
			t.Fatalf("ParsePrivateKeyPEM: %v", err)
		}
		if !gotPriv.Equal(priv) {
			t.Fatal("private key round trip differs")
		}
	}
}

// spkiPEM wraps raw 32 bytes as an Ed25519 SPKI PEM without any validation.
func spkiPEM(raw []byte) []byte {
	der := append([]byte{0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00}, raw...)
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// notAPoint returns a 32-byte string that does not decode to a curve point.
func notAPoint(t *testing.T) []byte {
	for y := byte(2); y < 255; y++ {
		enc := make([]byte, 32)
		enc[0] = y
		if _, err := new(edwards25519.Point).SetBytes(enc); err != nil {
			return enc
		}
	}
	t.Fatal("no invalid encoding found")
	return nil
}

func TestParsePublicKeyPEM_Errors(t *testing.T) {
	pub, priv := testKey(1)
	goodPEM, _ := MarshalPublicKeyPEM(pub)
	privPEM, _ := MarshalPrivateKeyPEM(priv)
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ecDER, _ := x509.MarshalPKIXPublicKey(&ec.PublicKey)
	ecPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: ecDER})
	identity := make([]byte, 32)
	identity[0] = 1
	orderTwo := bytes.Repeat([]byte{0xff}, 32) // y = p-1 with the top bit cleared below
	orderTwo[0], orderTwo[31] = 0xec, 0x7f

	tests := []struct {
		name string
		in   []byte
		want string
	}{
		{"empty", nil, "no PEM block"},
		{"not PEM", []byte(anchorTestKeyB64), "no PEM block"},
		{"private key block", privPEM, `want "PUBLIC KEY"`},
		{"trailing data", append(append([]byte{}, goodPEM...), "junk"...), "after the PEM block"},
		{"two blocks", append(append([]byte{}, goodPEM...), goodPEM...), "after the PEM block"},
		{"ECDSA key", ecPEM, "want Ed25519"},
		{"bad DER", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: []byte{1, 2, 3}}), "parsing SPKI"},
		{"identity point", spkiPEM(identity), "small order"},
		{"order two point", spkiPEM(orderTwo), "small order"},
		{"all zero (order four)", spkiPEM(make([]byte, 32)), "small order"},
		{"not a curve point", spkiPEM(notAPoint(t)), "not a valid curve point"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParsePublicKeyPEM(tc.in)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got error %v, want one containing %q", err, tc.want)
			}
		})
	}
	// Surrounding whitespace is fine.
	if _, err := ParsePublicKeyPEM(append([]byte("\n  "), append(goodPEM, "\n\n"...)...)); err != nil {
		t.Fatalf("whitespace around the block: %v", err)
	}
}

func writeKeyFile(t *testing.T, dir, name string, pub ed25519.PublicKey) string {
	t.Helper()
	b, err := MarshalPublicKeyPEM(pub)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func jsonPath(p string) string { return strings.ReplaceAll(p, `\`, `\\`) }

func TestParseKeyDirectory(t *testing.T) {
	dir := t.TempDir()
	pub1, _ := testKey(1)
	pub2, _ := testKey(2)
	pub3, _ := testKey(3)
	f1 := writeKeyFile(t, dir, "v1.pem", pub1)
	f2 := writeKeyFile(t, dir, "v2.pem", pub2)
	inline, _ := MarshalPublicKeyPEM(pub3)
	inlineJSON := strings.ReplaceAll(string(inline), "\n", `\n`)

	text := `{
	  "relay": {"key_files": ["` + jsonPath(f2) + `", "` + jsonPath(f1) + `"],
	            "public_keys": ["` + inlineJSON + `"],
	            "max_permissions": ["object.write", "object.read", "object.read"]},
	  "readonly": {"key_files": ["` + jsonPath(f1) + `"]}
	}`
	got, err := ParseKeyDirectory(text)
	if err != nil {
		t.Fatalf("ParseKeyDirectory: %v", err)
	}
	want := KeyDirectory{
		"relay":    {Versions: []ed25519.PublicKey{pub2, pub1, pub3}, MaxPermissions: []Permission{Read, Write}},
		"readonly": {Versions: []ed25519.PublicKey{pub1}, MaxPermissions: []Permission{}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %#v\nwant %#v", got, want)
	}

	for _, blank := range []string{"", "  \n"} {
		got, err := ParseKeyDirectory(blank)
		if err != nil || got == nil || len(got) != 0 {
			t.Fatalf("ParseKeyDirectory(%q) = %v, %v; want empty directory", blank, got, err)
		}
	}
	if got, err := ParseKeyDirectory("{}"); err != nil || len(got) != 0 {
		t.Fatalf(`ParseKeyDirectory("{}") = %v, %v`, got, err)
	}
}

func TestParseKeyDirectory_Errors(t *testing.T) {
	dir := t.TempDir()
	pub, _ := testKey(1)
	good := jsonPath(writeKeyFile(t, dir, "good.pem", pub))
	bad := filepath.Join(dir, "bad.pem")
	if err := os.WriteFile(bad, []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing.pem")

	tests := []struct {
		name  string
		text  string
		wants []string // substrings of the error
	}{
		{"not JSON", `{"k":`, []string{"auth keys"}},
		{"array", `[]`, []string{"JSON object"}},
		{"null", `null`, []string{"null"}},
		{"trailing data", `{} {}`, []string{"trailing"}},
		{"duplicate kid", `{"k":{"key_files":["` + good + `"]},"k":{"key_files":["` + good + `"]}}`, []string{"duplicate", "k"}},
		{"empty kid", `{"":{"key_files":["` + good + `"]}}`, []string{"empty key id"}},
		{"entry not object", `{"k":["x"]}`, []string{`"k"`, "expected an object"}},
		{"entry null", `{"k":null}`, []string{`"k"`, "null"}},
		{"unknown field", `{"k":{"key_files":["` + good + `"],"max_perms":[]}}`, []string{`"k"`, `"max_perms"`}},
		{"field case differs", `{"k":{"KEY_FILES":["` + good + `"]}}`, []string{`"k"`, `"KEY_FILES"`}},
		{"key_files not strings", `{"k":{"key_files":[1]}}`, []string{`"k"`, "key_files"}},
		{"no versions", `{"k":{"max_permissions":["object.read"]}}`, []string{`"k"`, "no key_files"}},
		{"missing file", `{"k":{"key_files":["` + jsonPath(missing) + `"]}}`, []string{`"k"`, "missing.pem"}},
		{"bad file", `{"k":{"key_files":["` + jsonPath(bad) + `"]}}`, []string{`"k"`, "bad.pem", "no PEM block"}},
		{"directory as file", `{"k":{"key_files":["` + jsonPath(dir) + `"]}}`, []string{`"k"`, "regular file"}},
		{"bad inline key", `{"k":{"public_keys":["nope"]}}`, []string{`"k"`, "public_keys[0]"}},
		{"unknown permission", `{"k":{"key_files":["` + good + `"],"max_permissions":["object.list"]}}`, []string{`"k"`, "object.list"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseKeyDirectory(tc.text)
			if err == nil {
				t.Fatal("got no error")
			}
			for _, w := range tc.wants {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestReadKeyFile_TooLarge(t *testing.T) {
	p := filepath.Join(t.TempDir(), "big.pem")
	if err := os.WriteFile(p, bytes.Repeat([]byte("a"), maxKeyFileSize+1), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := readKeyFile(p); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("got %v, want a size error", err)
	}
}

func TestNewVerifier_Validation(t *testing.T) {
	pub, _ := testKey(1)
	small := make(ed25519.PublicKey, 32)
	small[0] = 1
	tests := []struct {
		name string
		keys KeyDirectory
		opts Options
		want string
	}{
		{"enforced without keys", nil, Options{Enforce: true}, "no keys"},
		{"no versions", KeyDirectory{"k": {}}, Options{}, "no versions"},
		{"short key", KeyDirectory{"k": {Versions: []ed25519.PublicKey{pub[:31]}}}, Options{}, "31 bytes"},
		{"small order key", KeyDirectory{"k": {Versions: []ed25519.PublicKey{small}}}, Options{}, "small order"},
		{"unknown permission", KeyDirectory{"k": {Versions: []ed25519.PublicKey{pub}, MaxPermissions: []Permission{"x"}}}, Options{}, "unknown permission"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewVerifier(tc.keys, tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}

	v, err := NewVerifier(nil, Options{})
	if err != nil || v.Active() || v.Enforced() {
		t.Fatalf("no keys, not enforced: %v active=%v", err, v != nil && v.Active())
	}
	v, err = NewVerifier(testDirectory(pub), Options{})
	if err != nil || !v.Active() || v.Enforced() {
		t.Fatalf("keys, not enforced: err=%v", err)
	}
	// The verifier keeps its own copy of the directory.
	orig := slices.Clone(pub)
	keys := testDirectory(pub)
	v = mustVerifier(t, keys, Options{Enforce: true})
	keys[testKid].Versions[0][0] ^= 0xff
	if !v.keys[testKid].Versions[0].Equal(orig) {
		t.Fatal("verifier shares key bytes with the caller")
	}
}

func TestParsePrivateKeyPEM_Errors(t *testing.T) {
	pub, _ := testKey(1)
	pubPEM, _ := MarshalPublicKeyPEM(pub)
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ecDER, _ := x509.MarshalPKCS8PrivateKey(ec)
	tests := []struct {
		name string
		in   []byte
		want string
	}{
		{"empty", nil, "no PEM block"},
		{"public key block", pubPEM, `want "PRIVATE KEY"`},
		{"ECDSA key", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: ecDER}), "want Ed25519"},
		{"bad DER", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{1}}), "parsing PKCS#8"},
		{"trailing data", append(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: ecDER}), 'x'), "after the PEM block"},
	}
	for _, tc := range tests {
		if _, err := ParsePrivateKeyPEM(tc.in); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error containing %q", tc.name, err, tc.want)
		}
	}
	if _, err := MarshalPrivateKeyPEM(make([]byte, 10)); err == nil {
		t.Error("MarshalPrivateKeyPEM accepted a 10-byte key")
	}
	if _, err := MarshalPublicKeyPEM(make([]byte, 32)); err == nil {
		t.Error("MarshalPublicKeyPEM accepted a small-order key")
	}
}

func TestErrorAndKindStrings(t *testing.T) {
	if got := errVerify().Error(); got != "auth error: failed to verify token" {
		t.Errorf("Error() = %q", got)
	}
	for k, want := range map[GrantKind]string{NoGrant: "none", AllowAllGrant: "allow_all", TokenGrant: "token", PresignedGrant: "presigned", 99: "none"} {
		if got := k.String(); got != want {
			t.Errorf("GrantKind(%d).String() = %q, want %q", k, got, want)
		}
	}
	if _, err := ParsePermission("object.read"); err != nil {
		t.Error(err)
	}
	if _, err := ParsePermission("Object.Read"); err == nil {
		t.Error("ParsePermission is case-insensitive")
	}
}
