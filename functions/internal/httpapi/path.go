package httpapi

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/stratastore/strata/functions/wire"
	"github.com/stratastore/strata/tiered/object"
)

// invalidURL is a path error: 400, text/plain "Invalid URL: <msg>" (functions/API.md §2, §11.2).
func invalidURL(format string, args ...any) *httpError {
	return &httpError{status: 400, text: true, detail: "Invalid URL: " + fmt.Sprintf(format, args...)}
}

// percentDecode decodes %XX escapes exactly once (wire.PercentDecode: '+' stays '+', the
// result must be valid UTF-8), with objectstore's errors. param names the path parameter in
// error messages.
func percentDecode(s, param string) (string, *httpError) {
	v, err := wire.PercentDecode(s)
	switch {
	case errors.Is(err, wire.ErrPercentEncoding):
		return "", invalidURL("invalid percent-encoding in `%s`", param)
	case err != nil:
		return "", invalidURL("Invalid UTF-8 in `%s`", param)
	}
	return v, nil
}

// parseScopes parses the decoded scopes segment: "_" for none, else "name=value;...". The
// error texts are objectstore's.
func parseScopes(s string) ([]object.Scope, *httpError) {
	if s == "_" {
		return nil, nil
	}
	var scopes []object.Scope
	for item := range strings.SplitSeq(s, ";") {
		name, value, ok := strings.Cut(item, "=")
		if !ok {
			return nil, invalidURL("scope must be 'key=value'")
		}
		if name == "" || value == "" {
			return nil, invalidURL("key and value must be non-empty")
		}
		for _, part := range [2]string{name, value} {
			for i, r := range part {
				if r >= utf8.RuneSelf || !object.ValidScopeChar(part[i]) {
					return nil, invalidURL("invalid character '%c'", r)
				}
			}
		}
		scopes = append(scopes, object.Scope{Name: name, Value: value})
	}
	return scopes, nil
}

// parseContext decodes and validates the usecase and scopes of a matched path.
func parseContext(t target) (object.Context, *httpError) {
	usecase, herr := percentDecode(t.usecase, "usecase")
	if herr != nil {
		return object.Context{}, herr
	}
	rawScopes, herr := percentDecode(t.scopes, "scopes")
	if herr != nil {
		return object.Context{}, herr
	}
	scopes, herr := parseScopes(rawScopes)
	if herr != nil {
		return object.Context{}, herr
	}
	ctx := object.Context{Usecase: usecase, Scopes: scopes}
	if err := ctx.Validate(); err != nil {
		return object.Context{}, invalidURL("%s", object.Reason(err))
	}
	return ctx, nil
}

// parseKey decodes a raw key exactly once and validates it within ctx: non-empty UTF-8
// without control characters or empty, "." and ".." segments, and a storage path within
// object.MaxStoragePathLen. Every violation is a 400 "Invalid URL" (never a 414: the limit is
// the storage's, not the URL parser's).
func parseKey(ctx object.Context, raw string) (object.ID, *httpError) {
	key, herr := percentDecode(raw, "key")
	if herr != nil {
		return object.ID{}, herr
	}
	id := object.ID{Context: ctx, Key: key}
	if err := id.Validate(); err != nil {
		return object.ID{}, invalidURL("%s", object.Reason(err))
	}
	return id, nil
}
