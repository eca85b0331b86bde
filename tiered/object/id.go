package object

import (
	"strings"
	"unicode/utf8"
)

// KeyDelimiter is the literal storage-path segment that separates the scopes from the key.
const KeyDelimiter = "objects"

// MaxStoragePathLen bounds the storage path of a logical object, in bytes.
//
// The tightest name limit among the backends is GCS's 1024 bytes per object name. A large
// object lives at the revision path "{path}/{uuidv7}", 37 bytes longer; 960 keeps that within
// 1024 with a margin. (Multipart parts live under a short reserved prefix, not under the
// revision.) The same bound keeps every Bigtable row key far below its 4 KiB limit.
const MaxStoragePathLen = 960

// MaxUsecaseLen bounds the usecase name, in bytes.
const MaxUsecaseLen = 64

// Scope is one (name, value) pair of an object's namespace, like org=17.
type Scope struct {
	Name  string
	Value string
}

// Context is the namespace of an object: a usecase plus an ordered list of scopes.
// Scope order is significant: org=1;project=2 and project=2;org=1 are different namespaces.
type Context struct {
	Usecase string
	Scopes  []Scope
}

// ID names one logical object: its context plus a key. A key may contain '/'.
type ID struct {
	Context Context
	Key     string
}

// NewID returns the id of key within usecase and scopes. It does not validate; call
// Validate before trusting input.
func NewID(usecase string, scopes []Scope, key string) ID {
	return ID{Context: Context{Usecase: usecase, Scopes: scopes}, Key: key}
}

// ValidScopeChar reports whether c may appear in a scope name or value. The set is exactly
// A-Z a-z 0-9 _ - ( ) $ ! + ' : it excludes '.', which keeps a scope segment of a storage
// path ("name.value") unambiguous, and '/', '=', ';' which delimit paths and scope lists.
func ValidScopeChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	switch c {
	case '_', '-', '(', ')', '$', '!', '+', '\'':
		return true
	}
	return false
}

// ValidateScopePart checks a scope name or value.
func ValidateScopePart(s string) error {
	if s == "" {
		return Invalidf("scope name and value must be non-empty")
	}
	for i := 0; i < len(s); i++ {
		if !ValidScopeChar(s[i]) {
			r, _ := utf8.DecodeRuneInString(s[i:])
			return Invalidf("invalid character %q in scope", r)
		}
	}
	return nil
}

// Rule names one of the checks ID.Validate applies. Problems reports which rules an id
// breaks, so that tools (strata scan-keys) can say why Strata would refuse an object that
// another writer stored.
type Rule string

// The rules, in the order Validate checks them.
const (
	// RuleUsecaseEmpty: the usecase is empty.
	RuleUsecaseEmpty Rule = "usecase-empty"
	// RuleUsecaseLength: the usecase is longer than MaxUsecaseLen bytes.
	RuleUsecaseLength Rule = "usecase-length"
	// RuleUsecaseChar: the usecase has a character outside the scope set (ValidScopeChar),
	// such as '.'.
	RuleUsecaseChar Rule = "usecase-char"
	// RuleScope: a scope name or value is empty or has a character outside the scope set.
	RuleScope Rule = "scope"
	// RuleKeyEmpty: the key is empty.
	RuleKeyEmpty Rule = "key-empty"
	// RuleKeyUTF8: the key is not valid UTF-8.
	RuleKeyUTF8 Rule = "key-utf8"
	// RuleKeyControl: the key has a control character (below 0x20, or 0x7F).
	RuleKeyControl Rule = "key-control-char"
	// RuleKeyEmptySegment: the key starts with '/' or has "//" in it.
	RuleKeyEmptySegment Rule = "key-empty-segment"
	// RuleKeyTrailingSlash: the key ends with '/' (an empty last segment).
	RuleKeyTrailingSlash Rule = "key-trailing-slash"
	// RuleKeyDotSegment: the key has a "." or ".." segment.
	RuleKeyDotSegment Rule = "key-dot-segment"
	// RuleStoragePathLength: the storage path is longer than MaxStoragePathLen bytes.
	RuleStoragePathLength Rule = "storage-path-length"
)

// DeployedPath reports whether the rule describes a key that cannot travel the deployed HTTP
// path the way objectstore's clients send it, so that no request for the object reaches
// Strata intact; the other rules are Strata's own limits on a request that does reach it.
//
//   - An empty key has no object URL: ".../{scopes}/" is the collection route.
//   - Empty, "." and ".." segments: objectstore's clients send '/' and '.' unencoded (the
//     Rust client even drops "." and ".." segments itself), and the functions framework's
//     ServeMux answers a raw "//", "/./" or "/../" with a redirect to the cleaned path, so a
//     client that follows it reads or writes another key.
//
// A trailing '/' is different: the ServeMux keeps it, so it is Strata's own rule.
// functions/internal/runtime's TestRules_DeployedPathMatchesServeMux checks this against
// the mux the functions framework builds.
func (r Rule) DeployedPath() bool {
	switch r {
	case RuleKeyEmpty, RuleKeyEmptySegment, RuleKeyDotSegment:
		return true
	}
	return false
}

// Problem is one rule an id breaks, with the error Validate returns for it.
type Problem struct {
	Rule Rule
	Err  error
}

// Validate checks the usecase and every scope.
func (c Context) Validate() error {
	var err error
	c.check(func(p Problem) bool { err = p.Err; return false })
	return err
}

// check calls yield for each rule the context breaks, until yield returns false; it reports
// whether yield asked to go on.
func (c Context) check(yield func(Problem) bool) bool {
	switch {
	case c.Usecase == "":
		if !yield(Problem{RuleUsecaseEmpty, Invalidf("usecase must be non-empty")}) {
			return false
		}
	case len(c.Usecase) > MaxUsecaseLen:
		if !yield(Problem{RuleUsecaseLength, Invalidf("usecase is longer than %d bytes", MaxUsecaseLen)}) {
			return false
		}
	}
	for i := 0; i < len(c.Usecase); i++ {
		if !ValidScopeChar(c.Usecase[i]) {
			r, _ := utf8.DecodeRuneInString(c.Usecase[i:])
			if !yield(Problem{RuleUsecaseChar, Invalidf("invalid character %q in usecase", r)}) {
				return false
			}
			break
		}
	}
	for _, s := range c.Scopes {
		for _, part := range []string{s.Name, s.Value} {
			if err := ValidateScopePart(part); err != nil {
				return yield(Problem{RuleScope, err})
			}
		}
	}
	return true
}

// ValidateKey checks a key on its own: non-empty valid UTF-8 with no control characters and
// no empty, "." or ".." segment. Such segments would not survive the HTTP front door (Go's
// ServeMux redirects them) nor a filesystem, so they are refused everywhere; a trailing '/'
// (an empty last segment) is refused with them.
func ValidateKey(key string) error {
	var err error
	checkKey(key, func(p Problem) bool { err = p.Err; return false })
	return err
}

// checkKey calls yield for each rule the key breaks, each rule at most once, until yield
// returns false; it reports whether yield asked to go on.
func checkKey(key string, yield func(Problem) bool) bool {
	if key == "" {
		return yield(Problem{RuleKeyEmpty, Invalidf("key must be non-empty")})
	}
	if !utf8.ValidString(key) {
		if !yield(Problem{RuleKeyUTF8, Invalidf("key is not valid UTF-8")}) {
			return false
		}
	}
	for _, r := range key {
		if r < 0x20 || r == 0x7f {
			if !yield(Problem{RuleKeyControl, Invalidf("key contains control character %q", r)}) {
				return false
			}
			break
		}
	}
	var seen [3]bool // empty, trailing, dot
	rest := key
	for rest != "" || strings.HasSuffix(key, "/") {
		seg, tail, more := strings.Cut(rest, "/")
		var p Problem
		var which int
		switch {
		case seg == "" && !more:
			p, which = Problem{RuleKeyTrailingSlash, Invalidf("key has an empty path segment")}, 1
		case seg == "":
			p, which = Problem{RuleKeyEmptySegment, Invalidf("key has an empty path segment")}, 0
		case seg == "." || seg == "..":
			p, which = Problem{RuleKeyDotSegment, Invalidf("key has a %q path segment", seg)}, 2
		default:
			which = -1
		}
		if which >= 0 && !seen[which] {
			seen[which] = true
			if !yield(p) {
				return false
			}
		}
		if !more {
			break
		}
		rest = tail
	}
	return true
}

// Validate checks the context, the key and the length of the storage path.
func (id ID) Validate() error {
	var err error
	id.check(func(p Problem) bool { err = p.Err; return false })
	return err
}

// Problems returns every rule the id breaks, in the order Validate checks them (Validate
// returns the first one's error); nil for a valid id.
func (id ID) Problems() []Problem {
	var ps []Problem
	id.check(func(p Problem) bool { ps = append(ps, p); return true })
	return ps
}

func (id ID) check(yield func(Problem) bool) {
	if !id.Context.check(yield) || !checkKey(id.Key, yield) {
		return
	}
	if n := id.storagePathLen(); n > MaxStoragePathLen {
		yield(Problem{RuleStoragePathLength, Invalidf("storage path is %d bytes, longer than the limit of %d", n, MaxStoragePathLen)})
	}
}

func (id ID) storagePathLen() int {
	n := len(id.Context.Usecase) + 1 + len(KeyDelimiter) + 1 + len(id.Key)
	for _, s := range id.Context.Scopes {
		n += len(s.Name) + 1 + len(s.Value) + 1
	}
	return n
}

// StoragePath returns the backend-independent path of the object, objectstore's format:
//
//	{usecase}/{name1}.{value1}/{name2}.{value2}/objects/{key}
//	testing/objects/foo/bar                  (no scopes)
func (id ID) StoragePath() string {
	var b strings.Builder
	b.Grow(id.storagePathLen())
	b.WriteString(id.Context.Usecase)
	b.WriteByte('/')
	for _, s := range id.Context.Scopes {
		b.WriteString(s.Name)
		b.WriteByte('.')
		b.WriteString(s.Value)
		b.WriteByte('/')
	}
	b.WriteString(KeyDelimiter)
	b.WriteByte('/')
	b.WriteString(id.Key)
	return b.String()
}

// String returns the storage path.
func (id ID) String() string { return id.StoragePath() }

// Equal reports whether two ids name the same object.
func (id ID) Equal(o ID) bool {
	if id.Key != o.Key || id.Context.Usecase != o.Context.Usecase || len(id.Context.Scopes) != len(o.Context.Scopes) {
		return false
	}
	for i, s := range id.Context.Scopes {
		if s != o.Context.Scopes[i] {
			return false
		}
	}
	return true
}

// ContextPrefix returns the storage-path prefix shared by every object of the context,
// ending in "/objects/".
func (c Context) ContextPrefix() string {
	return ID{Context: c}.StoragePath()
}

// ParseStoragePath parses a storage path back into an id. It is the inverse of StoragePath:
// the usecase is everything before the first '/', then every segment up to the first one that
// equals "objects" must be a "name.value" scope, and the rest is the key, which may contain
// '/'. A scope segment always contains a '.', so it can never be confused with the delimiter.
func ParseStoragePath(p string) (ID, error) {
	usecase, rest, ok := strings.Cut(p, "/")
	if !ok || usecase == "" {
		return ID{}, Invalidf("storage path %q has no usecase", p)
	}
	var scopes []Scope
	for {
		seg, tail, ok := strings.Cut(rest, "/")
		if !ok {
			return ID{}, Invalidf("storage path %q has no %q segment", p, KeyDelimiter)
		}
		if seg == KeyDelimiter {
			if tail == "" {
				return ID{}, Invalidf("storage path %q has an empty key", p)
			}
			return ID{Context: Context{Usecase: usecase, Scopes: scopes}, Key: tail}, nil
		}
		name, value, ok := strings.Cut(seg, ".")
		if !ok || name == "" || value == "" {
			return ID{}, Invalidf("storage path %q has a malformed scope %q", p, seg)
		}
		scopes = append(scopes, Scope{Name: name, Value: value})
		rest = tail
	}
}
