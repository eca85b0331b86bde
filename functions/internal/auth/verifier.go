package auth

import (
	"errors"
	"log/slog"
	"net/http"
	"net/textproto"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/stratastore/strata/functions/wire"
)

// DefaultLeeway is the default tolerance for clock skew on exp and on the start of a
// pre-signed URL's window, and on nbf.
const DefaultLeeway = 60 * time.Second

// bearerPrefix is wire.BearerPrefix in lower case: a header token's start, compared without
// case.
const (
	bearerPrefix      = "bearer "
	bearerPrefixBytes = len(bearerPrefix)
)

// Options configures a Verifier. The zero value means: not enforced, wall clock, default
// leeways, slog.Default.
type Options struct {
	// Enforce makes failures errors. Without it, failures are logged and requests proceed.
	Enforce bool
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Leeway is the skew allowed on exp (expired when exp < now-Leeway) and on a pre-signed
	// URL's start (valid from os_timestamp-Leeway). Zero means DefaultLeeway; negative means
	// none.
	Leeway time.Duration
	// NotBeforeLeeway is the skew allowed on nbf (refused when nbf > now+NotBeforeLeeway).
	// Zero means DefaultLeeway; negative means none.
	NotBeforeLeeway time.Duration
	// Logger receives failures that are not enforced; nil means slog.Default().
	Logger *slog.Logger
}

// Verifier authenticates requests against a key directory. It is safe for concurrent use.
type Verifier struct {
	keys      KeyDirectory
	enforce   bool
	active    bool
	now       func() time.Time
	leeway    time.Duration
	nbfLeeway time.Duration
	logger    *slog.Logger
	cache     tokenCache
}

// NewVerifier returns a Verifier for keys. Auth is active when opts.Enforce is set or keys is
// non-empty; enforcing with no keys is an error, as is a key without versions or with an
// invalid public key or permission. keys is copied.
func NewVerifier(keys KeyDirectory, opts Options) (*Verifier, error) {
	if opts.Enforce && len(keys) == 0 {
		return nil, errors.New("auth: enforcement is on but no keys are configured")
	}
	v := &Verifier{
		keys:      make(KeyDirectory, len(keys)),
		enforce:   opts.Enforce,
		active:    opts.Enforce || len(keys) > 0,
		now:       opts.Now,
		leeway:    leewayOrDefault(opts.Leeway),
		nbfLeeway: leewayOrDefault(opts.NotBeforeLeeway),
		logger:    opts.Logger,
	}
	if v.now == nil {
		v.now = time.Now
	}
	if v.logger == nil {
		v.logger = slog.Default()
	}
	for kid, k := range keys {
		if len(k.Versions) == 0 {
			return nil, errors.New("auth: key " + quote(kid) + " has no versions")
		}
		for _, pub := range k.Versions {
			if err := checkPublicKey(pub); err != nil {
				return nil, errors.New("auth: key " + quote(kid) + ": " + err.Error())
			}
		}
		for _, p := range k.MaxPermissions {
			if !p.Valid() {
				return nil, errors.New("auth: key " + quote(kid) + ": unknown permission " + quote(string(p)))
			}
		}
		v.keys[kid] = k.clone()
	}
	return v, nil
}

func leewayOrDefault(d time.Duration) time.Duration {
	switch {
	case d == 0:
		return DefaultLeeway
	case d < 0:
		return 0
	}
	return d
}

func quote(s string) string { return `"` + s + `"` }

// Active reports whether credentials are inspected at all.
func (v *Verifier) Active() bool { return v.active }

// Enforced reports whether failures are errors.
func (v *Verifier) Enforced() bool { return v.enforce }

// Authenticate verifies the credential of r and returns what it grants. The credential is a
// pre-signed URL when the raw query has a parameter named exactly os_sig; otherwise a JWT
// from x-os-auth, or from Authorization only when x-os-auth is absent (either needs the
// "Bearer " prefix, compared without case), or else from the os_auth query parameter.
//
// When auth is inactive it returns an allow-all Grant without looking at r. When it is active
// and enforced, failures are returned as *Error. When active but not enforced, failures are
// logged and an allow-all Grant is returned, and a valid credential's Grant logs denials
// instead of returning them.
func (v *Verifier) Authenticate(r *http.Request) (*Grant, error) {
	if !v.active {
		return &Grant{Kind: AllowAllGrant}, nil
	}
	path, query := requestTarget(r)
	g, e := v.authenticate(r.Method, path, query, r.Header)
	if e != nil {
		if v.enforce {
			return nil, e
		}
		v.logger.Warn("auth: request not authenticated (not enforced)",
			"status", e.Status, "detail", e.Detail)
		return &Grant{Kind: AllowAllGrant}, nil
	}
	if !v.enforce {
		g.suppress = true
		g.logger = v.logger
	}
	return g, nil
}

func (v *Verifier) authenticate(method, rawPath, rawQuery string, h http.Header) (*Grant, *Error) {
	if hasPresignSignature(rawQuery) {
		return v.verifyPresigned(method, rawPath, rawQuery)
	}
	token, ok := headerToken(h)
	if !ok {
		var e *Error
		token, ok, e = queryToken(rawQuery)
		if e != nil {
			return nil, e
		}
		if !ok {
			return nil, errNoToken()
		}
	}
	return v.verifyToken(token)
}

// requestTarget returns r's path and query exactly as they were on the wire. RequestURI holds
// the unmodified request-target of a server request; URL is the fallback for requests built in
// code.
func requestTarget(r *http.Request) (path, query string) {
	if t := r.RequestURI; strings.HasPrefix(t, "/") {
		path, query, _ = strings.Cut(t, "?")
		return path, query
	}
	if r.URL == nil {
		return "", ""
	}
	return r.URL.EscapedPath(), r.URL.RawQuery
}

// headerToken returns the bearer token from x-os-auth, or from Authorization when x-os-auth
// is absent. A present header whose first value lacks the prefix or has bytes outside visible
// ASCII yields no token, and x-os-auth being present stops the fall-through.
func headerToken(h http.Header) (string, bool) {
	vals := h[textproto.CanonicalMIMEHeaderKey(wire.HeaderAuth)]
	if len(vals) == 0 {
		vals = h[textproto.CanonicalMIMEHeaderKey(wire.HeaderAuthorization)]
	}
	if len(vals) == 0 {
		return "", false
	}
	return bearerToken(vals[0])
}

func bearerToken(v string) (string, bool) {
	for i := 0; i < len(v); i++ {
		if c := v[i]; (c < 0x20 && c != '\t') || c > 0x7e {
			return "", false
		}
	}
	// EqualFold matches exactly the ASCII case variants here: no other rune folds to a letter
	// of "bearer ".
	if len(v) < bearerPrefixBytes || !strings.EqualFold(v[:bearerPrefixBytes], bearerPrefix) {
		return "", false
	}
	return v[bearerPrefixBytes:], true
}

// queryToken returns the form-decoded os_auth query parameter. The name is form-decoded too;
// a repeated os_auth makes the query invalid (400).
func queryToken(rawQuery string) (token string, ok bool, e *Error) {
	for piece := range strings.SplitSeq(rawQuery, "&") {
		if piece == "" {
			continue
		}
		name, value, _ := strings.Cut(piece, "=")
		if formDecode(name) != wire.ParamToken {
			continue
		}
		if ok {
			return "", false, errInvalidQuery()
		}
		token, ok = formDecode(value), true
	}
	return token, ok, nil
}

// formDecode decodes application/x-www-form-urlencoded text leniently, like the
// form_urlencoded crate: '+' is a space, a malformed percent escape stays as it is, and
// invalid UTF-8 becomes U+FFFD.
func formDecode(s string) string {
	if !strings.ContainsAny(s, "+%") {
		return s
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '+':
			b = append(b, ' ')
		case c == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]):
			b = append(b, unhex(s[i+1])<<4|unhex(s[i+2]))
			i += 2
		default:
			b = append(b, c)
		}
	}
	if !utf8.Valid(b) {
		return strings.ToValidUTF8(string(b), "\uFFFD")
	}
	return string(b)
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case '0' <= c && c <= '9':
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}
