package object

import (
	"errors"
	"fmt"
)

// Sentinel errors shared by the whole repository: backends translate native errors into these at
// their boundary, the Store returns them (wrapped in *tiered.Error), and the HTTP layer maps them
// to status codes. Test them with errors.Is.
var (
	// ErrNotFound means the object, upload or entry does not exist (or has expired).
	ErrNotFound = errors.New("not found")
	// ErrInvalidArgument means the caller's input is malformed or out of limits.
	ErrInvalidArgument = errors.New("invalid argument")
	// ErrUnimplemented means the backend lacks an optional capability.
	ErrUnimplemented = errors.New("not implemented")
	// ErrConflict means a conditional change lost to a concurrent one (for example a change-log
	// lease that another owner claimed). A lost compare-and-write is not an error: it is false.
	ErrConflict = errors.New("conflict")
	// ErrRangeNotSatisfiable means a byte range lies outside the object; see *RangeError.
	ErrRangeNotSatisfiable = errors.New("range not satisfiable")
	// ErrTooLarge means a payload, part or request exceeds a size limit.
	ErrTooLarge = errors.New("too large")
	// ErrUnavailable marks a transient backend failure worth retrying.
	ErrUnavailable = errors.New("unavailable")
)

// RangeError reports an unsatisfiable range together with the object's total size, which
// HTTP needs for "Content-Range: bytes */total". It matches ErrRangeNotSatisfiable.
type RangeError struct {
	Total int64
}

func (e *RangeError) Error() string {
	return fmt.Sprintf("range not satisfiable for %d bytes", e.Total)
}

// Is reports whether target is ErrRangeNotSatisfiable.
func (e *RangeError) Is(target error) bool { return target == ErrRangeNotSatisfiable }

// InvalidError reports input that breaks a rule: a malformed id, scope, range, metadata field
// or expiration policy, or a policy built on them (such as a usecase's expiration rules). It
// matches ErrInvalidArgument. Reason is the rule that was broken, phrased for the caller (an
// HTTP 400 body), without any prefix.
type InvalidError struct {
	Reason string
}

func (e *InvalidError) Error() string { return "invalid argument: " + e.Reason }

// Is reports whether target is ErrInvalidArgument.
func (e *InvalidError) Is(target error) bool { return target == ErrInvalidArgument }

// Invalidf returns an *InvalidError whose reason is formatted like fmt.Sprintf.
func Invalidf(format string, args ...any) error {
	return &InvalidError{Reason: fmt.Sprintf(format, args...)}
}

// Reason returns the caller-facing reason of an invalid-argument error: the Reason of an
// *InvalidError in err's chain, or err's text for any other error.
func Reason(err error) string {
	if ie, ok := errors.AsType[*InvalidError](err); ok {
		return ie.Reason
	}
	return err.Error()
}
