package client

import (
	"strings"

	"github.com/stratastore/strata/tiered/object"
)

// Scope is one name=value pair of an object's namespace, like org=17. Names and values use
// the characters A-Z a-z 0-9 _ - ( ) $ ! + ' only.
type Scope struct {
	Name, Value string
}

// Session addresses the objects of one usecase and ordered list of scopes. Build it with
// Client.Usecase and Session.Scope; a Session is immutable and safe for concurrent use.
// A usecase or scope the server would refuse makes every operation of the session fail
// with an error wrapping ErrInvalidArgument.
type Session struct {
	c       *Client
	usecase string
	scopes  []Scope
	err     error
}

// Usecase returns a session for usecase with no scopes.
func (c *Client) Usecase(usecase string) *Session {
	s := &Session{c: c, usecase: usecase}
	if err := (object.Context{Usecase: usecase}).Validate(); err != nil {
		s.err = invalid(err)
	}
	return s
}

// Scope returns a copy of s with name=value appended to its scopes. Scope order matters:
// org=1;project=2 and project=2;org=1 are different namespaces.
func (s *Session) Scope(name, value string) *Session {
	n := &Session{c: s.c, usecase: s.usecase, err: s.err}
	n.scopes = append(append(make([]Scope, 0, len(s.scopes)+1), s.scopes...), Scope{name, value})
	if n.err == nil {
		if err := object.ValidateScopePart(name); err != nil {
			n.err = invalid(err)
		} else if err := object.ValidateScopePart(value); err != nil {
			n.err = invalid(err)
		}
	}
	return n
}

// Scopes returns a copy of s with every scope of scopes appended, in order.
func (s *Session) Scopes(scopes ...Scope) *Session {
	for _, sc := range scopes {
		s = s.Scope(sc.Name, sc.Value)
	}
	return s
}

// Err returns the validation error of the session's usecase or scopes, if any.
func (s *Session) Err() error { return s.err }

// invalid turns a vocabulary validation error into one wrapping ErrInvalidArgument.
func invalid(err error) error { return invalidf("%s", object.Reason(err)) }

// scopeSegment renders the scopes path segment: "_" for none, else name=value;...
func (s *Session) scopeSegment() string {
	if len(s.scopes) == 0 {
		return "_"
	}
	var b strings.Builder
	for i, sc := range s.scopes {
		if i > 0 {
			b.WriteByte(';')
		}
		b.WriteString(sc.Name)
		b.WriteByte('=')
		b.WriteString(sc.Value)
	}
	return b.String()
}

// checkKey validates a key the way the server does (non-empty UTF-8, no control
// characters, no empty, "." or ".." segment, and a storage path within the server's limit),
// so a doomed request is never sent.
func (s *Session) checkKey(key string) error {
	if s.err != nil {
		return s.err
	}
	id := object.ID{Context: s.driverContext(), Key: key}
	if err := id.Validate(); err != nil {
		return invalid(err)
	}
	return nil
}

func (s *Session) driverContext() object.Context {
	ctx := object.Context{Usecase: s.usecase}
	for _, sc := range s.scopes {
		ctx.Scopes = append(ctx.Scopes, object.Scope{Name: sc.Name, Value: sc.Value})
	}
	return ctx
}

// Endpoint prefixes of the API.
const (
	epObjects           = "/v1/objects"
	epBatch             = "/v1/objects:batch"
	epMultipart         = "/v1/objects:multipart"
	epMultipartParts    = "/v1/objects:multipart:parts"
	epMultipartComplete = "/v1/objects:multipart:complete"
)

// path returns the escaped path of key (or of the collection, for an empty key) under an
// endpoint prefix: {prefix}/{usecase}/{scopes}/{key}.
func (s *Session) path(prefix, key string) string {
	return prefix + "/" + EscapePath(s.usecase) + "/" + EscapePath(s.scopeSegment()) + "/" + EscapePath(key)
}

// tokenScope is what a token for this session must name.
func (s *Session) tokenScope() TokenScope {
	return TokenScope{Usecase: s.usecase, Scopes: s.scopes}
}

// EscapePath percent-encodes s the way objectstore's Python client encodes request paths:
// unreserved characters (A-Z a-z 0-9 - . _ ~) and / : @ ! $ & ' ( ) * + , ; = stay as
// they are, every other byte becomes %XX with upper-case hex. A '%' in s is encoded too,
// so the server decodes exactly s.
func EscapePath(s string) string {
	n := 0
	for i := 0; i < len(s); i++ {
		if !pathSafe(s[i]) {
			n++
		}
	}
	if n == 0 {
		return s
	}
	const hex = "0123456789ABCDEF"
	b := make([]byte, 0, len(s)+2*n)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if pathSafe(c) {
			b = append(b, c)
			continue
		}
		b = append(b, '%', hex[c>>4], hex[c&15])
	}
	return string(b)
}

// pathSafe reports whether c stays literal in a request path.
func pathSafe(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("-._~/:@!$&'()*+,;=", c) >= 0
}
