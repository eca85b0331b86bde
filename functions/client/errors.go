package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// ErrInvalidArgument is wrapped by errors the client detects before sending anything: a
// key, usecase or scope the server would refuse, or an option out of range.
var ErrInvalidArgument = errors.New("invalid argument")

// invalidf returns an error wrapping ErrInvalidArgument.
func invalidf(format string, args ...any) error {
	return fmt.Errorf("client: %w: %s", ErrInvalidArgument, fmt.Sprintf(format, args...))
}

// Error is a failure the server reported: an error status, or the error document of a
// multipart complete (which arrives with status 200).
type Error struct {
	// Status is the HTTP status; 200 for a failed multipart complete.
	Status int
	// Code is the error code of a failed multipart complete, such as "InvalidPart".
	Code string
	// Detail is the server's message: the "detail" of a JSON error body, the message of a
	// complete error, or a plain-text body.
	Detail string
	// Body is the raw response body (at most 64 KiB of it).
	Body string
}

// Error renders the status (or complete error code) and the server's detail.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("strata: ")
	if e.Code != "" {
		b.WriteString(e.Code)
	} else {
		fmt.Fprintf(&b, "%d %s", e.Status, http.StatusText(e.Status))
	}
	if e.Detail != "" {
		b.WriteString(": ")
		b.WriteString(e.Detail)
	}
	return b.String()
}

// maxErrorBody bounds how much of an error response is read.
const maxErrorBody = 64 << 10

// errorFrom builds the *Error of a failed response and closes its body.
func errorFrom(res *http.Response) *Error {
	defer drain(res.Body)
	b, _ := io.ReadAll(io.LimitReader(res.Body, maxErrorBody))
	e := &Error{Status: res.StatusCode, Body: string(b)}
	var doc struct {
		Detail string `json:"detail"`
	}
	if json.Unmarshal(b, &doc) == nil && doc.Detail != "" {
		e.Detail = doc.Detail
	} else {
		e.Detail = strings.TrimSpace(e.Body)
	}
	return e
}

// statusOf returns the status of a server error in err's chain, or 0.
func statusOf(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.Status
	}
	return 0
}

// IsNotFound reports whether err says the object does not exist (404).
func IsNotFound(err error) bool { return statusOf(err) == http.StatusNotFound }

// IsUnauthorized reports whether the server rejected the credential itself (401): an
// unknown key, a bad signature, an expired token.
func IsUnauthorized(err error) bool { return statusOf(err) == http.StatusUnauthorized }

// IsForbidden reports whether a valid credential does not allow the operation (403), or a
// killswitch blocks it.
func IsForbidden(err error) bool { return statusOf(err) == http.StatusForbidden }

// IsAuth reports whether err is any authentication or authorization failure: 401, 403, or a
// 400 whose detail is an "auth error" (no token at all, a malformed pre-signed URL).
func IsAuth(err error) bool {
	var e *Error
	if !errors.As(err, &e) {
		return false
	}
	switch e.Status {
	case http.StatusUnauthorized, http.StatusForbidden:
		return true
	case http.StatusBadRequest:
		return strings.HasPrefix(e.Detail, "auth error")
	}
	return false
}

// IsRangeNotSatisfiable reports whether a ranged Get asked for bytes beyond the object (416).
func IsRangeNotSatisfiable(err error) bool {
	return statusOf(err) == http.StatusRequestedRangeNotSatisfiable
}

// IsRetryable reports whether err is a server status that retries are made for (429, 500,
// 502, 503, 504); the client has already retried idempotent requests when it returns one.
func IsRetryable(err error) bool {
	s := statusOf(err)
	return s != 0 && retryableStatus(s)
}

// UploadError is a failed multipart upload. When the upload was kept (KeepFailedUpload, or
// any failure of ResumeUpload), UploadID names it for ResumeUpload; otherwise the client
// aborted it and Aborted is true.
type UploadError struct {
	Key      string
	UploadID string
	Aborted  bool
	Err      error
}

// Error names the upload, its key, whether it was kept, and the cause.
func (e *UploadError) Error() string {
	state := "kept for resuming"
	if e.Aborted {
		state = "aborted"
	}
	return fmt.Sprintf("strata: multipart upload %s of key %q (%s): %v", e.UploadID, e.Key, state, e.Err)
}

// Unwrap returns the cause.
func (e *UploadError) Unwrap() error { return e.Err }
