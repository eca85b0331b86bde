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

// Validate checks the usecase and every scope.
func (c Context) Validate() error {
	if c.Usecase == "" {
		return Invalidf("usecase must be non-empty")
	}
	if len(c.Usecase) > MaxUsecaseLen {
		return Invalidf("usecase is longer than %d bytes", MaxUsecaseLen)
	}
	for i := 0; i < len(c.Usecase); i++ {
		if !ValidScopeChar(c.Usecase[i]) {
			r, _ := utf8.DecodeRuneInString(c.Usecase[i:])
			return Invalidf("invalid character %q in usecase", r)
		}
	}
	for _, s := range c.Scopes {
		if err := ValidateScopePart(s.Name); err != nil {
			return err
		}
		if err := ValidateScopePart(s.Value); err != nil {
			return err
		}
	}
	return nil
}

// ValidateKey checks a key on its own: non-empty valid UTF-8 with no control characters and
// no empty, "." or ".." segment. Such segments would not survive the HTTP front door (Go's
// ServeMux redirects them) nor a filesystem, so they are refused everywhere.
func ValidateKey(key string) error {
	if key == "" {
		return Invalidf("key must be non-empty")
	}
	if !utf8.ValidString(key) {
		return Invalidf("key is not valid UTF-8")
	}
	for _, r := range key {
		if r < 0x20 || r == 0x7f {
			return Invalidf("key contains control character %q", r)
		}
	}
	for seg := range strings.SplitSeq(key, "/") {
		switch seg {
		case "":
			return Invalidf("key has an empty path segment")
		case ".", "..":
			return Invalidf("key has a %q path segment", seg)
		}
	}
	return nil
}

// Validate checks the context, the key and the length of the storage path.
func (id ID) Validate() error {
	if err := id.Context.Validate(); err != nil {
		return err
	}
	if err := ValidateKey(id.Key); err != nil {
		return err
	}
	if n := id.storagePathLen(); n > MaxStoragePathLen {
		return Invalidf("storage path is %d bytes, longer than the limit of %d", n, MaxStoragePathLen)
	}
	return nil
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
