package wire

import (
	"crypto/ed25519"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestCanonicalRequest(t *testing.T) {
	tests := []struct {
		name, method, path, query, want string
	}{
		{"spec example", "GET", "/v1/objects/testing/org=17;project=42/foo/bar",
			"os_kid=relay&os_timestamp=1985-04-12T23:20:50.52Z&os_duration=3600&os_sig=AAAA",
			"GET\n/v1/objects/testing/org=17;project=42/foo/bar\nos_duration=3600&os_kid=relay&os_timestamp=1985-04-12T23:20:50.52Z"},
		{"HEAD maps to GET", "HEAD", "/p", "a=1", "GET\n/p\na=1"},
		{"head maps to GET", "head", "/p", "", "GET\n/p\n"},
		{"method upper-cased", "get", "/p", "", "GET\n/p\n"},
		{"other methods kept", "delete", "/p", "", "DELETE\n/p\n"},
		{"non-ASCII method bytes kept", "gét", "/p", "", "GéT\n/p\n"},
		{"empty query keeps the newline", "GET", "/p", "", "GET\n/p\n"},
		{"empty pieces dropped", "GET", "/p", "&&b=2&&a=1&", "GET\n/p\na=1&b=2"},
		{"names lower-cased, values verbatim", "GET", "/p", "B=X%2Fy&A=Z", "GET\n/p\na=Z&b=X%2Fy"},
		{"only ASCII is lower-cased", "GET", "/p", "Ä=1&\u212A=2", "GET\n/p\nÄ=1&\u212A=2"}, // byte-wise: C3 before E2
		{"invalid UTF-8 kept", "GET", "/p", "\xff=1", "GET\n/p\n\xff=1"},
		{"only the first = splits", "GET", "/p", "K=a=B", "GET\n/p\nk=a=B"},
		{"piece without = lower-cased whole", "GET", "/p", "FLAG&a=1", "GET\n/p\na=1&flag"},
		{"duplicates kept and sorted", "GET", "/p", "a=2&a=1&a=2", "GET\n/p\na=1&a=2&a=2"},
		{"os_sig dropped in any case", "GET", "/p", "OS_SIG=x&Os_Sig&os_sig=y&a=1", "GET\n/p\na=1"},
		{"os_sig prefix is not os_sig", "GET", "/p", "os_sigx=1", "GET\n/p\nos_sigx=1"},
		{"byte-wise sort", "GET", "/p", "b=1&B=0&a~=1&a=1&_=1", "GET\n/p\n_=1&a=1&a~=1&b=0&b=1"},
		{"path verbatim", "GET", "/v1/objects/u/_/a%2fb%2F%7E", "", "GET\n/v1/objects/u/_/a%2fb%2F%7E\n"},
		{"percent-encoding in names kept", "GET", "/p", "A%2Fb=1", "GET\n/p\na%2fb=1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := CanonicalRequest(tc.method, tc.path, tc.query); got != tc.want {
				t.Fatalf("got  %q\nwant %q", got, tc.want)
			}
		})
	}
}

func TestCanonicalMethod(t *testing.T) {
	for in, want := range map[string]string{
		"GET": "GET", "get": "GET", "HEAD": "GET", "hEaD": "GET", "PUT": "PUT", "": "", "ſet": "ſET",
	} {
		if got := CanonicalMethod(in); got != want {
			t.Errorf("CanonicalMethod(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestEscapeQueryValue(t *testing.T) {
	for in, want := range map[string]string{
		"kid":                  "kid",
		"team a/b&c":           "team%20a%2Fb%26c",
		"a+b":                  "a%2Bb",
		"2026-07-23T10:00:00Z": "2026-07-23T10%3A00%3A00Z",
		"-._~":                 "-._~",
		"é":                    "%C3%A9",
	} {
		if got := EscapeQueryValue(in); got != want {
			t.Errorf("EscapeQueryValue(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestAppendSignature_Golden pins the bytes of a pre-signed query: a fixed key, time and
// path always give the same signature, which the verifier checks over CanonicalRequest.
func TestAppendSignature_Golden(t *testing.T) {
	priv := ed25519.NewKeyFromSeed([]byte(strings.Repeat("\x07", ed25519.SeedSize)))
	path := "/v1/objects/attachments/org=17;project=42/key"
	q := ParamKeyID + "=relay&" + ParamTimestamp + "=" + time.Date(2026, 7, 23, 10, 0, 0, 0, time.UTC).Format(PresignTimestampLayout) +
		"&" + ParamDuration + "=3600"
	got := AppendSignature(priv, "HEAD", path, q)
	const want = "os_kid=relay&os_timestamp=2026-07-23T10:00:00Z&os_duration=3600&os_sig="
	if !strings.HasPrefix(got, want) {
		t.Fatalf("query %q, want prefix %q", got, want)
	}
	sig, err := SignatureEncoding.DecodeString(strings.TrimPrefix(got, want))
	if err != nil {
		t.Fatal(err)
	}
	pub := priv.Public().(ed25519.PublicKey)
	if !ed25519.Verify(pub, []byte(CanonicalRequest("GET", path, got)), sig) {
		t.Error("the signature does not cover CanonicalRequest of the signed query")
	}
	if ed25519.Verify(pub, []byte(CanonicalRequest("GET", path+"x", got)), sig) {
		t.Error("the signature does not cover the path")
	}
	if again := AppendSignature(priv, "GET", path, q); again != got {
		t.Errorf("GET and HEAD sign differently: %q vs %q", again, got)
	}
}

// FuzzCanonicalRequest checks the canonical form's invariants: the method line and the path
// are verbatim, os_sig never survives, the pieces come out sorted, canonicalization is
// idempotent, and the order of the query's pieces does not matter.
func FuzzCanonicalRequest(f *testing.F) {
	f.Add("GET", "/v1/objects/u/org=1/k", "os_kid=relay&os_timestamp=1985-04-12T23:20:50.52Z&os_duration=3600&os_sig=AAAA")
	f.Add("head", "/p", "B=1&a&&OS_SIG=2&a=0")
	f.Add("PUT", "/", "")
	f.Fuzz(func(t *testing.T, method, path, query string) {
		got := CanonicalRequest(method, path, query)
		prefix := CanonicalMethod(method) + "\n" + path + "\n"
		if !strings.HasPrefix(got, prefix) {
			t.Fatalf("%q does not start with %q", got, prefix)
		}
		cq := got[len(prefix):]
		var pieces []string
		if cq != "" {
			pieces = strings.Split(cq, "&")
		}
		want := 0
		for p := range strings.SplitSeq(query, "&") {
			name, _, _ := strings.Cut(p, "=")
			if p != "" && asciiLower(name) != ParamSignature {
				want++
			}
		}
		if len(pieces) != want {
			t.Fatalf("%d pieces in %q, want %d", len(pieces), cq, want)
		}
		if !slices.IsSorted(pieces) {
			t.Fatalf("pieces not sorted: %q", cq)
		}
		for _, p := range pieces {
			name, _, _ := strings.Cut(p, "=")
			if name == ParamSignature || name != asciiLower(name) {
				t.Fatalf("piece %q survived or kept upper case", p)
			}
		}
		if again := CanonicalRequest(method, path, cq); again != got {
			t.Fatalf("not idempotent: %q then %q", got, again)
		}
		rev := strings.Split(query, "&")
		slices.Reverse(rev)
		if r := CanonicalRequest(method, path, strings.Join(rev, "&")); r != got {
			t.Fatalf("piece order matters: %q vs %q", r, got)
		}
	})
}
