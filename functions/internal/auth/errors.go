package auth

import (
	"bytes"
	"encoding/json"
	"net/http"
)

// Error is an authentication or authorization failure, carrying what objectstore puts on the
// wire: the HTTP status and the two parts of the JSON error body. Detail is the top-level
// message ("auth error: failed to verify token"); Causes is the chain of underlying messages,
// outermost first, without the "auth error: " prefix.
type Error struct {
	Status int
	Detail string
	Causes []string
}

// Error returns e.Detail.
func (e *Error) Error() string { return e.Detail }

// Body returns the JSON error body, {"detail":...,"causes":[...]}, with causes omitted when
// empty and without HTML escaping or a trailing newline, as objectstore writes it.
func (e *Error) Body() []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(struct {
		Detail string   `json:"detail"`
		Causes []string `json:"causes,omitempty"`
	}{e.Detail, e.Causes})
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

const detailPrefix = "auth error: "

// newError builds an Error whose first cause is msg and whose detail is msg with the auth
// prefix; more are further causes.
func newError(status int, msg string, more ...string) *Error {
	return &Error{Status: status, Detail: detailPrefix + msg, Causes: append([]string{msg}, more...)}
}

// The failure situations of objectstore's auth, one constructor each.

func errNoToken() *Error {
	return newError(http.StatusBadRequest, "bad request: No authorization token provided")
}

func errMissingKid() *Error {
	return newError(http.StatusBadRequest, "bad request: JWT header is missing `kid` field")
}

func errInvalidQuery() *Error {
	return newError(http.StatusBadRequest, "bad request: invalid query string")
}

func errUnknownKey() *Error {
	return newError(http.StatusUnauthorized, "unknown key")
}

// errDecode is a token that could not be decoded or whose claims are invalid. reason follows
// the wording of the Rust jsonwebtoken crate ("ExpiredSignature", "JSON error: ...").
func errDecode(reason string) *Error {
	return newError(http.StatusUnauthorized, "failed to decode token: "+reason, reason)
}

func errVerify() *Error {
	return newError(http.StatusUnauthorized, "failed to verify token")
}

func errNotPermitted() *Error {
	return newError(http.StatusForbidden, "operation not allowed")
}

func errPresignMethod() *Error {
	return newError(http.StatusForbidden, "presigned URLs are not supported for this method")
}

func errPresignParams() *Error {
	return newError(http.StatusBadRequest, "bad request: presigned URL has missing or invalid parameters")
}

func errPresignDuration() *Error {
	return newError(http.StatusBadRequest, "bad request: presigned URL validity exceeds the maximum of 1 week")
}

// Reasons for errDecode, worded as the jsonwebtoken crate displays them.
const (
	reasonInvalidToken     = "InvalidToken"
	reasonInvalidAlgorithm = "InvalidAlgorithm"
	reasonExpired          = "ExpiredSignature"
	reasonImmature         = "ImmatureSignature"
	reasonInvalidAudience  = "InvalidAudience"
	reasonInvalidIssuer    = "InvalidIssuer"
	reasonMissingExp       = "Missing required claim: exp"
)

func reasonBase64(what string) string { return "Base64 error: invalid base64url in " + what }

func reasonJSON(msg string) string { return "JSON error: " + msg }
